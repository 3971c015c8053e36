#include "output.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace mortise::cli {
namespace {

std::string Contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

TEST(CliErrorTest, LineSaysWhatWentWrongAndWhatToDo) {
  EXPECT_EQ(Error(ExitCode::kKeyring, "wrong passphrase or damaged keyring", "Try again.").Line(),
            "mortise: wrong passphrase or damaged keyring. Try again.");
  EXPECT_EQ(Error(ExitCode::kInternal, "the lock does not support this").Line(),
            "mortise: the lock does not support this.");
}

TEST(CliOutputTest, HumanModePrintsTextAndErrorsOnStderr) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Output o(false, out, err);
  o.Text("hello\n");
  o.Json({{"ignored", true}});
  o.PrintError(Error(ExitCode::kUnreachable, "cannot reach the lock", "Check it."));
  o.Finish();
  EXPECT_EQ(Contents(out), "hello\n");
  EXPECT_EQ(Contents(err), "mortise: cannot reach the lock. Check it.\n");
  std::fclose(out);
  std::fclose(err);
}

TEST(CliOutputTest, JsonModePrintsOneDocument) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Output o(true, out, err);
  o.Text("not shown\n");
  o.Json({{"a", 1}});
  o.Json({{"b", "two"}});
  o.Finish();
  o.Finish();
  const nlohmann::json doc = nlohmann::json::parse(Contents(out));
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["a"], 1);
  EXPECT_EQ(doc["b"], "two");
  EXPECT_EQ(Contents(err), "");
  std::fclose(out);
  std::fclose(err);
}

TEST(CliOutputTest, JsonModeErrorIsAlsoADocument) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Output o(true, out, err);
  o.PrintError(Error(ExitCode::kRefused, "the lock refused", "Ask the owner."));
  const nlohmann::json doc = nlohmann::json::parse(Contents(out));
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["error"]["code"], 3);
  EXPECT_EQ(doc["error"]["message"], "the lock refused");
  EXPECT_EQ(Contents(err), "mortise: the lock refused. Ask the owner.\n");
  std::fclose(out);
  std::fclose(err);
}

// `mortise log` on a log that does not verify: the document that reports the
// error still carries what was read and "verified": false (issue 10 f. 11).
TEST(CliOutputTest, JsonErrorKeepsWhatTheCommandEstablished) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Output o(true, out, err);
  o.Json({{"events", nlohmann::json::array({1, 2})}, {"verified", false}, {"ok", true}});
  o.PrintError(Error(ExitCode::kVerification, "the lock's log did not verify", "Keep this output."));
  const nlohmann::json doc = nlohmann::json::parse(Contents(out));
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["error"]["code"], 6);
  EXPECT_EQ(doc["verified"], false);
  EXPECT_EQ(doc["events"].size(), 2u);
  std::fclose(out);
  std::fclose(err);
}

TEST(CliProgressTest, DrawsNothingWithoutATerminalAndStopsPromptly) {
  const auto start = std::chrono::steady_clock::now();
  { Progress p("Working", std::chrono::milliseconds(10)); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace mortise::cli
