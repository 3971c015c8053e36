// `mortise key revoke` through the server: where a door's access list
// stands, from the server's row of it (docs/server.md "What a door holds").
#include <gtest/gtest.h>

#include "commands.h"

namespace mortise::cli {
namespace {

nlohmann::json Row(uint64_t reported, uint64_t confirmed, uint64_t attempts, const std::string& last) {
  return {{"kind", "access_list"},
          {"issuer", "owner"},
          {"version", 5},
          {"reported_version", reported},
          {"confirmed_version", confirmed},
          {"delivery", {{"attempts", attempts}, {"last_status", last}}}};
}

TEST(HeldState, SaysPendingSentReportedConfirmedOrFailedForTheVersionSigned) {
  EXPECT_EQ(HeldStateOf(Row(0, 0, 0, ""), 5).state, "pending");
  EXPECT_EQ(HeldStateOf(Row(4, 4, 2, "no_answer"), 5).state, "sent");
  EXPECT_EQ(HeldStateOf(Row(5, 4, 1, "applied"), 5).state, "reported");
  EXPECT_EQ(HeldStateOf(Row(5, 4, 1, "applied"), 5).state, "reported");
  const HeldState refused = HeldStateOf(Row(4, 4, 1, "refused:stale_claim"), 5);
  EXPECT_EQ(refused.state, "failed");
  EXPECT_NE(refused.reason.find("stale_claim"), std::string::npos);
  // A row without numbers (a malformed answer) is never taken for held.
  EXPECT_EQ(HeldStateOf(nlohmann::json::object(), 5).state, "pending");
  nlohmann::json text = Row(0, 0, 0, "");
  text["confirmed_version"] = "9";
  EXPECT_EQ(HeldStateOf(text, 5).state, "pending");
}

TEST(HeldState, A09_TheServersConfirmedVersionWithoutAReceiptSignedByTheLockIsNotConfirmed) {
  // A hostile server claims the lock confirmed the revocation: without a
  // receipt the lock signed, verified here, it is only what the server says.
  for (const uint64_t confirmed : {5, 7, 100}) {
    const HeldState held = HeldStateOf(Row(confirmed, confirmed, 1, "applied"), 5);
    EXPECT_NE(held.state, "confirmed") << confirmed;
    EXPECT_NE(held.reason.find("server says"), std::string::npos) << held.reason;
  }
}

}  // namespace
}  // namespace mortise::cli
