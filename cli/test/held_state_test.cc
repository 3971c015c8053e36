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
  EXPECT_EQ(HeldStateOf(Row(5, 5, 1, "applied"), 5).state, "confirmed");
  EXPECT_EQ(HeldStateOf(Row(7, 7, 1, "applied"), 5).state, "confirmed") << "a later list the lock holds covers it";
  const HeldState refused = HeldStateOf(Row(4, 4, 1, "refused:stale_claim"), 5);
  EXPECT_EQ(refused.state, "failed");
  EXPECT_NE(refused.reason.find("stale_claim"), std::string::npos);
  // A row without numbers (a malformed answer) is never taken for held.
  EXPECT_EQ(HeldStateOf(nlohmann::json::object(), 5).state, "pending");
  nlohmann::json text = Row(0, 0, 0, "");
  text["confirmed_version"] = "9";
  EXPECT_EQ(HeldStateOf(text, 5).state, "pending");
}

}  // namespace
}  // namespace mortise::cli
