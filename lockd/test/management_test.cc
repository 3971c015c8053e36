// The Door Lock cluster over the protocol: what each payload is classified
// as (so the protocol authorizes the right command), and that Run executes
// exactly that through dljson.
#include "management.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/dljson/dl_json.h"
#include "test_lock.h"

namespace mortise::lockd {
namespace {

using protocol::Command;
using protocol::Role;

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

Command C(const std::string& line) {
  auto r = ClassifyLine(line);
  EXPECT_TRUE(r.ok()) << line;
  return r.ok() ? *r : Command::kFactoryReset;
}

void ExpectInvalid(const std::string& line) {
  auto r = ClassifyLine(line);
  ASSERT_FALSE(r.ok()) << line;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << line;
}

protocol::VerifiedKey KeyOf(Role role) {
  protocol::VerifiedKey k;
  k.grant.role = role;
  k.grant.permissions = protocol::RoleAllowedPermissions(role);
  k.depth = role == Role::kOwner ? 0 : 1;
  return k;
}

TEST(lockdManagement, EveryDoorLockCommandMapsToItsProtocolCommand) {
  const std::vector<std::pair<std::string, Command>> table = {
      {"LockDoor", Command::kLock},
      {"UnlockDoor", Command::kUnlock},
      {"UnboltDoor", Command::kUnbolt},
      {"UnlockWithTimeout", Command::kUnlockWithTimeout},
      {"SetUser", Command::kSetUser},
      {"GetUser", Command::kGetUser},
      {"ClearUser", Command::kClearUser},
      {"SetCredential", Command::kSetCredential},
      {"GetCredentialStatus", Command::kGetCredentialStatus},
      {"ClearCredential", Command::kClearCredential},
      {"SetWeekDaySchedule", Command::kSetWeekDaySchedule},
      {"GetWeekDaySchedule", Command::kGetWeekDaySchedule},
      {"ClearWeekDaySchedule", Command::kClearWeekDaySchedule},
      {"SetYearDaySchedule", Command::kSetYearDaySchedule},
      {"GetYearDaySchedule", Command::kGetYearDaySchedule},
      {"ClearYearDaySchedule", Command::kClearYearDaySchedule},
      {"SetHolidaySchedule", Command::kSetHolidaySchedule},
      {"GetHolidaySchedule", Command::kGetHolidaySchedule},
      {"ClearHolidaySchedule", Command::kClearHolidaySchedule},
  };
  for (const auto& [name, cmd] : table) {
    EXPECT_EQ(C(R"({"invoke": ")" + name + R"(", "args": {}})"), cmd) << name;
    EXPECT_EQ(C(R"({"invoke": ")" + name + R"("})"), cmd) << name;
  }
  // Every command dljson knows is classified (none runs unauthorized).
  for (const auto& name : dljson::DoorLockJson::CommandNames())
    EXPECT_TRUE(ClassifyLine(R"({"invoke": ")" + name + R"("})").ok()) << name;
}

TEST(lockdManagement, AttributesReadAndWrite) {
  EXPECT_EQ(C(R"({"read": "LockState"})"), Command::kReadAttribute);
  EXPECT_EQ(C(R"({"write": "AutoRelockTime", "value": 30})"), Command::kWriteAttribute);
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": "Normal"})"), Command::kWriteAttribute);
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": 0})"), Command::kWriteAttribute);
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": "Privacy"})"), Command::kWriteAttribute);
}

TEST(lockdManagement, PassageInEveryFormIsSetPassageMode) {
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": "Passage"})"), Command::kSetPassageMode);
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": 4})"), Command::kSetPassageMode);
  EXPECT_EQ(C(R"({"value": 4, "write": "OperatingMode"})"), Command::kSetPassageMode);
}

TEST(lockdManagement, AnythingElseIsInvalid) {
  ExpectInvalid("");
  ExpectInvalid("not json");
  ExpectInvalid("[1, 2]");
  ExpectInvalid("\"SetUser\"");
  ExpectInvalid(R"({"invoke": "FactoryReset"})");
  ExpectInvalid(R"({"invoke": "setuser"})");
  ExpectInvalid(R"({"invoke": 3})");
  ExpectInvalid(R"({"invoke": "GetUser", "args": {}, "extra": 1})");
  // A write smuggled beside an invoke is refused by dljson; it is refused here too.
  ExpectInvalid(R"({"invoke": "GetUser", "write": "OperatingMode", "value": "Passage"})");
  ExpectInvalid(R"({"read": "LockState", "extra": 1})");
  ExpectInvalid(R"({"write": "OperatingMode"})");
  ExpectInvalid(R"({"write": "OperatingMode", "value": "Passage", "read": "LockState"})");
  ExpectInvalid(R"({})");
  std::string big(protocol::kMaxRequestPayload + 1, ' ');
  big.replace(0, 21, R"({"read": "LockState"})");
  JsonManagement m(*testing::TestLock().lock);
  EXPECT_FALSE(m.Classify(Bytes(big)).ok());
}

// The classification feeds protocol::Authorize: a guest may open but not
// manage, a member may set passage mode but no other attribute.
TEST(lockdManagement, RolesAreAuthorizedForWhatThePayloadDoes) {
  auto allowed = [](Role role, const std::string& line) {
    auto c = ClassifyLine(line);
    return c.ok() && protocol::Authorize(KeyOf(role).grant, *c).ok();
  };
  EXPECT_TRUE(allowed(Role::kGuest, R"({"invoke": "UnlockDoor"})"));
  EXPECT_FALSE(allowed(Role::kGuest, R"({"invoke": "SetUser", "args": {}})"));
  EXPECT_FALSE(allowed(Role::kGuest, R"({"write": "OperatingMode", "value": "Passage"})"));
  EXPECT_TRUE(allowed(Role::kMember, R"({"write": "OperatingMode", "value": "Passage"})"));
  EXPECT_FALSE(allowed(Role::kMember, R"({"write": "OperatingMode", "value": "Normal"})"));
  EXPECT_FALSE(allowed(Role::kMember, R"({"write": "AutoRelockTime", "value": 5})"));
  EXPECT_FALSE(allowed(Role::kMember, R"({"invoke": "ClearCredential", "args": {"credential": null}})"));
  EXPECT_TRUE(allowed(Role::kAdmin, R"({"invoke": "ClearCredential", "args": {"credential": null}})"));
  EXPECT_TRUE(allowed(Role::kAdmin, R"({"write": "AutoRelockTime", "value": 5})"));
  EXPECT_TRUE(allowed(Role::kOwner, R"({"invoke": "SetHolidaySchedule", "args": {}})"));
}

// A12: a holiday in Passage holds the door open for everyone, so it needs
// the passage-mode right besides change-settings: an installer (settings,
// no passage) can set a Vacation holiday but not a Passage one.
TEST(lockdManagement, A12_PassageHolidayNeedsThePassageRight) {
  auto allowed = [](Role role, const std::string& line) {
    auto c = ClassifyLine(line);
    return c.ok() && protocol::Authorize(KeyOf(role).grant, *c).ok();
  };
  const std::string passage = R"({"invoke": "SetHolidaySchedule", "args": {"holidayIndex": 1, "localStartTime": 1,
      "localEndTime": 2, "operatingMode": "Passage"}})";
  const std::string passage4 = R"({"invoke": "SetHolidaySchedule", "args": {"holidayIndex": 1, "localStartTime": 1,
      "localEndTime": 2, "operatingMode": 4}})";
  const std::string vacation = R"({"invoke": "SetHolidaySchedule", "args": {"holidayIndex": 1, "localStartTime": 1,
      "localEndTime": 2, "operatingMode": "Vacation"}})";
  EXPECT_EQ(C(passage), Command::kSetHolidayPassage);
  EXPECT_EQ(C(passage4), Command::kSetHolidayPassage);
  EXPECT_EQ(C(vacation), Command::kSetHolidaySchedule);
  EXPECT_TRUE(allowed(Role::kInstaller, vacation));
  EXPECT_FALSE(allowed(Role::kInstaller, passage));
  EXPECT_FALSE(allowed(Role::kInstaller, passage4));
  EXPECT_FALSE(allowed(Role::kMember, passage));  // passage right, but no settings right
  EXPECT_TRUE(allowed(Role::kAdmin, passage));
  EXPECT_TRUE(allowed(Role::kOwner, passage));
}

// A04: the time zone moves every local-time right, as a clock set back
// would: only the owner, whatever the other rights a key holds.
TEST(lockdManagement, A04_OnlyTheOwnerMovesTheTimeZone) {
  auto allowed = [](Role role, const std::string& line) {
    auto c = ClassifyLine(line);
    return c.ok() && protocol::Authorize(KeyOf(role).grant, *c).ok();
  };
  const std::string zone = R"({"write": "UtcOffset", "value": 50400})";
  EXPECT_EQ(C(zone), Command::kSetUtcOffset);
  EXPECT_FALSE(allowed(Role::kInstaller, zone));
  EXPECT_FALSE(allowed(Role::kAdmin, zone));
  EXPECT_TRUE(allowed(Role::kAdmin, R"({"write": "AutoRelockTime", "value": 5})"));
  EXPECT_TRUE(allowed(Role::kOwner, zone));
}

TEST(lockdManagement, RunExecutesThroughDoorLockJsonWithTheKeysRole) {
  testing::TestLock t;
  JsonManagement m(*t.lock);
  std::vector<uint8_t> out(protocol::kMaxResponsePayload);
  const std::string set = R"({"invoke": "SetUser", "args": {"operationType": "Add", "userIndex": 2, "userName": "ann"}})";
  auto n = m.Run(KeyOf(Role::kAdmin), Bytes(set), out);
  ASSERT_TRUE(n.ok());
  auto resp = nlohmann::json::parse(std::string(out.begin(), out.begin() + static_cast<ptrdiff_t>(*n)));
  EXPECT_EQ(resp["status"], "Success") << resp.dump();

  const std::string get = R"({"invoke": "GetUser", "args": {"userIndex": 2}})";
  n = m.Run(KeyOf(Role::kAdmin), Bytes(get), out);
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

TEST(lockdManagement, RunRefusesWhatClassifyRefusesAndChangesNothing) {
  testing::TestLock t;
  JsonManagement m(*t.lock);
  std::vector<uint8_t> out(protocol::kMaxResponsePayload);
  const size_t writes = t.store.write_count();
  auto n = m.Run(KeyOf(Role::kOwner),
                 Bytes(R"({"invoke": "SetUser", "args": {"operationType": "Add", "userIndex": 2}, "x": 1})"), out);
  EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.store.write_count(), writes);
}

TEST(lockdManagement, AnswerTooLongForTheBufferIsResourceExhausted) {
  testing::TestLock t;
  JsonManagement m(*t.lock);
  std::vector<uint8_t> out(8);
  auto n = m.Run(KeyOf(Role::kOwner), Bytes(R"({"read": "LockState"})"), out);
  EXPECT_EQ(n.status().code(), StatusCode::kResourceExhausted);
}

TEST(lockdManagement, OperationsRunAsRemoteSoNoRemoteModeHolds) {
  testing::TestLock t;
  JsonManagement m(*t.lock);
  std::vector<uint8_t> out(protocol::kMaxResponsePayload);
  ASSERT_TRUE(t.lock->WriteAttribute(core::AttributeId::kOperatingMode,
                                     static_cast<int64_t>(core::OperatingMode::kNoRemoteLockUnlock))
                  .ok());
  auto n = m.Run(KeyOf(Role::kOwner), Bytes(R"({"invoke": "UnlockDoor"})"), out);
  ASSERT_TRUE(n.ok());
  auto resp = nlohmann::json::parse(std::string(out.begin(), out.begin() + static_cast<ptrdiff_t>(*n)));
  EXPECT_NE(resp["status"], "Success") << resp.dump();
  EXPECT_EQ(t.lock->bolt_state(), core::BoltState::kLocked);
}

}  // namespace
}  // namespace mortise::lockd
