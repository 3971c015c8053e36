// The Door Lock cluster over the protocol: Run executes the decoded command
// through dljson with the key's role. (What each command is classified as is
// protocol/test/management_test.cc and dljson/test/translate_test.cc.)
#include "management.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/dljson/dl_json.h"
#include "mortise/dljson/translate.h"
#include "test_lock.h"

namespace mortise::lockd {
namespace {

using protocol::Command;
using protocol::Role;

// The decoded command a JSON line is, as the protocol hands it to Run.
protocol::ManagementCommand Decoded(const std::string& line) {
  const dljson::Translation t = dljson::TranslateLine(line);
  EXPECT_TRUE(t.command.has_value()) << line;
  return t.command.value_or(protocol::ManagementCommand{});
}

protocol::VerifiedKey KeyOf(Role role) {
  protocol::VerifiedKey k;
  k.grant.role = role;
  k.grant.permissions = protocol::RoleAllowedPermissions(role);
  k.depth = role == Role::kOwner ? 0 : 1;
  return k;
}

TEST(lockdManagement, RunExecutesThroughDoorLockJsonWithTheKeysRole) {
  testing::TestLock t;
  JsonManagement m(*t.lock);
  std::vector<uint8_t> out(protocol::kMaxResponsePayload);
  const std::string set = R"({"invoke": "SetUser", "args": {"operationType": "Add", "userIndex": 2, "userName": "ann"}})";
  auto n = m.Run(KeyOf(Role::kAdmin), Decoded(set), out);
  ASSERT_TRUE(n.ok());
  auto resp = nlohmann::json::parse(std::string(out.begin(), out.begin() + static_cast<ptrdiff_t>(*n)));
  EXPECT_EQ(resp["status"], "Success") << resp.dump();

  const std::string get = R"({"invoke": "GetUser", "args": {"userIndex": 2}})";
  n = m.Run(KeyOf(Role::kAdmin), Decoded(get), out);
  ASSERT_TRUE(n.ok());
  resp = nlohmann::json::parse(std::string(out.begin(), out.begin() + static_cast<ptrdiff_t>(*n)));
  EXPECT_EQ(resp["userName"], "ann");
  EXPECT_EQ(resp["creatorFabricIndex"], static_cast<int>(Role::kAdmin));

  // Events name the protocol source.
  bool seen = false;
  for (const auto& e : t.events.Recent(8))
    if (e.event.kind == core::EventKind::kLockUserChange) seen = e.event.source == core::OperationSource::kRemote;
  EXPECT_TRUE(seen);
}

TEST(lockdManagement, AnswerTooLongForTheBufferIsResourceExhausted) {
  testing::TestLock t;
  JsonManagement m(*t.lock);
  std::vector<uint8_t> out(8);
  auto n = m.Run(KeyOf(Role::kOwner), Decoded(R"({"read": "LockState"})"), out);
  EXPECT_EQ(n.status().code(), StatusCode::kResourceExhausted);
}

TEST(lockdManagement, OperationsRunAsRemoteSoNoRemoteModeHolds) {
  testing::TestLock t;
  JsonManagement m(*t.lock);
  std::vector<uint8_t> out(protocol::kMaxResponsePayload);
  ASSERT_TRUE(t.lock->WriteAttribute(core::AttributeId::kOperatingMode,
                                     static_cast<int64_t>(core::OperatingMode::kNoRemoteLockUnlock))
                  .ok());
  auto n = m.Run(KeyOf(Role::kOwner), Decoded(R"({"invoke": "UnlockDoor"})"), out);
  ASSERT_TRUE(n.ok());
  auto resp = nlohmann::json::parse(std::string(out.begin(), out.begin() + static_cast<ptrdiff_t>(*n)));
  EXPECT_NE(resp["status"], "Success") << resp.dump();
  EXPECT_EQ(t.lock->bolt_state(), core::BoltState::kLocked);
}

}  // namespace
}  // namespace mortise::lockd
