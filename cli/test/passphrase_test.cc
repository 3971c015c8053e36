#include "passphrase.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "error.h"

namespace mortise::cli {
namespace {

// A pipe pre-filled with `text`, its write end closed.
int PipeWith(const std::string& text) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  EXPECT_EQ(::write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fds[1]);
  return fds[0];
}

class CliPassphraseTest : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("MORTISE_PASSPHRASE"); }
  void TearDown() override { ::unsetenv("MORTISE_PASSPHRASE"); }
  // No terminal in these tests: prompts go to a path that does not exist.
  PassphraseSource NoTty() {
    PassphraseSource s;
    s.tty = "/nonexistent/tty";
    return s;
  }
};

TEST_F(CliPassphraseTest, FdGivesOneLineAndLeavesTheRest) {
  const int fd = PipeWith("first line\nsecond\n");
  PassphraseSource s = NoTty();
  s.fd = fd;
  EXPECT_EQ(ReadPassphrase(s, "", false).str(), "first line");
  EXPECT_EQ(ReadLineFromFd(fd).str(), "second");  // nothing past the line was consumed
  ::close(fd);
}

TEST_F(CliPassphraseTest, FdStripsCarriageReturnAndAcceptsNoFinalNewline) {
  int fd = PipeWith("windows\r\n");
  EXPECT_EQ(ReadLineFromFd(fd).str(), "windows");
  ::close(fd);
  fd = PipeWith("no newline");
  EXPECT_EQ(ReadLineFromFd(fd).str(), "no newline");
  ::close(fd);
}

TEST_F(CliPassphraseTest, FdWinsOverTheEnvironment) {
  ::setenv("MORTISE_PASSPHRASE", "from env", 1);
  const int fd = PipeWith("from fd\n");
  PassphraseSource s = NoTty();
  s.fd = fd;
  EXPECT_EQ(ReadPassphrase(s, "", false).str(), "from fd");
  ::close(fd);
  EXPECT_EQ(ReadPassphrase(NoTty(), "", false).str(), "from env");
}

TEST_F(CliPassphraseTest, NoSourceAndNoTerminalIsAClearError) {
  try {
    ReadPassphrase(NoTty(), "Passphrase: ", false);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kKeyring);
    EXPECT_NE(std::string(e.what()).find("no terminal"), std::string::npos);
    EXPECT_NE(e.hint().find("--passphrase-fd"), std::string::npos);
  }
  // The environment can be switched off.
  ::setenv("MORTISE_PASSPHRASE", "x", 1);
  PassphraseSource s = NoTty();
  s.use_env = false;
  EXPECT_THROW(ReadPassphrase(s, "", false), Error);
}

TEST_F(CliPassphraseTest, CreatingRefusesAnEmptyPassphrase) {
  ::setenv("MORTISE_PASSPHRASE", "", 1);
  try {
    ReadPassphrase(NoTty(), "", true);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
  // Opening accepts whatever the keyring was made with.
  EXPECT_EQ(ReadPassphrase(NoTty(), "", false).str(), "");
}

TEST_F(CliPassphraseTest, BadDescriptorAndOverlongLinesAreRefused) {
  PassphraseSource s = NoTty();
  s.fd = 987;  // not open
  try {
    ReadPassphrase(s, "", false);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kKeyring);
    EXPECT_NE(std::string(e.what()).find("descriptor 987"), std::string::npos);
  }
  const int fd = PipeWith(std::string(kMaxPassphraseLength + 5, 'a') + "\n");
  EXPECT_THROW(ReadLineFromFd(fd), Error);
  ::close(fd);
  ::setenv("MORTISE_PASSPHRASE", std::string(kMaxPassphraseLength + 1, 'b').c_str(), 1);
  EXPECT_THROW(ReadPassphrase(NoTty(), "", false), Error);
}

TEST(CliSecretStringTest, MovesLeaveNothingBehind) {
  SecretString a(std::string("short"));
  SecretString b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT: the moved-from state is specified: empty
  EXPECT_EQ(b.str(), "short");
  std::string s = "a secret that is longer than the small-string buffer";
  WipeString(s);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace mortise::cli
