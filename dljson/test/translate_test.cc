// JSON lines translated into binary management commands: every Door Lock
// command and attribute form maps to the protocol command it is authorised
// as (translation, then protocol::ClassifyManagement), and anything else is
// refused before it is sent. (Moved from lockd's classifier tests.)
#include "mortise/dljson/translate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/protocol/management.h"
#include "mortise/protocol/permissions.h"

namespace mortise::dljson {
namespace {

using protocol::Command;
using protocol::Role;

Command C(const std::string& line) {
  const Translation t = TranslateLine(line);
  EXPECT_TRUE(t.command.has_value()) << line << " " << t.refusal.dump();
  return t.command ? protocol::ClassifyManagement(*t.command) : Command::kFactoryReset;
}

void ExpectInvalid(const std::string& line) {
  const Translation t = TranslateLine(line);
  ASSERT_FALSE(t.command.has_value()) << line;
  EXPECT_EQ(t.refusal["ok"], false) << line;
  EXPECT_FALSE(EncodeLine(line).payload.size()) << line;
}

protocol::Grant GrantOf(Role role) { return protocol::Grant{role, protocol::RoleAllowedPermissions(role)}; }

// The smallest complete request for each command.
std::string Minimal(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> args = {
      {"UnlockWithTimeout", R"({"timeout": 5})"},
      {"SetUser", R"({"operationType": "Add", "userIndex": 2})"},
      {"GetUser", R"({"userIndex": 2})"},
      {"ClearUser", R"({"userIndex": 2})"},
      {"SetCredential", R"({"operationType": "Add", "credential": {"credentialType": "PIN", "credentialIndex": 1},
                            "credentialData": "123456", "userIndex": 2})"},
      {"GetCredentialStatus", R"({"credential": {"credentialType": "PIN", "credentialIndex": 1}})"},
      {"ClearCredential", R"({"credential": null})"},
      {"SetWeekDaySchedule", R"({"weekDayIndex": 1, "userIndex": 2, "daysMask": 1, "startHour": 8,
                                 "startMinute": 0, "endHour": 9, "endMinute": 0})"},
      {"GetWeekDaySchedule", R"({"weekDayIndex": 1, "userIndex": 2})"},
      {"ClearWeekDaySchedule", R"({"weekDayIndex": 1, "userIndex": 2})"},
      {"SetYearDaySchedule", R"({"yearDayIndex": 1, "userIndex": 2, "localStartTime": 1, "localEndTime": 2})"},
      {"GetYearDaySchedule", R"({"yearDayIndex": 1, "userIndex": 2})"},
      {"ClearYearDaySchedule", R"({"yearDayIndex": 1, "userIndex": 2})"},
      {"SetHolidaySchedule", R"({"holidayIndex": 1, "localStartTime": 1, "localEndTime": 2, "operatingMode": "Vacation"})"},
      {"GetHolidaySchedule", R"({"holidayIndex": 1})"},
      {"ClearHolidaySchedule", R"({"holidayIndex": 1})"},
  };
  std::string a = "{}";
  for (const auto& [n, v] : args)
    if (n == name) a = v;
  return R"({"invoke": ")" + name + R"(", "args": )" + a + "}";
}

TEST(dljsonTranslate, EveryDoorLockCommandMapsToItsProtocolCommand) {
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
  for (const auto& [name, cmd] : table) EXPECT_EQ(C(Minimal(name)), cmd) << name;
  // Every command dljson knows translates (none runs unclassified).
  for (const auto& name : CommandNames()) EXPECT_TRUE(TranslateLine(Minimal(name)).command.has_value()) << name;
}

TEST(dljsonTranslate, AttributesReadAndWrite) {
  EXPECT_EQ(C(R"({"read": "LockState"})"), Command::kReadAttribute);
  EXPECT_EQ(C(R"({"write": "AutoRelockTime", "value": 30})"), Command::kWriteAttribute);
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": "Normal"})"), Command::kWriteAttribute);
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": 0})"), Command::kWriteAttribute);
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": "Privacy"})"), Command::kWriteAttribute);
}

TEST(dljsonTranslate, PassageInEveryFormIsSetPassageMode) {
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": "Passage"})"), Command::kSetPassageMode);
  EXPECT_EQ(C(R"({"write": "OperatingMode", "value": 4})"), Command::kSetPassageMode);
  EXPECT_EQ(C(R"({"value": 4, "write": "OperatingMode"})"), Command::kSetPassageMode);
}

TEST(dljsonTranslate, AnythingElseIsInvalid) {
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
  // Incomplete or mistyped arguments are refused before anything is sent.
  ExpectInvalid(R"({"invoke": "SetUser", "args": {}})");
  ExpectInvalid(R"({"invoke": "SetHolidaySchedule", "args": {"holidayIndex": 1, "localStartTime": 1,
      "localEndTime": 2, "operatingMode": "4"}})");
  ExpectInvalid(R"({"invoke": "SetHolidaySchedule", "args": {"holidayIndex": 1, "localStartTime": 1,
      "localEndTime": 2, "operatingMode": 4.0}})");
  ExpectInvalid(R"({"write": "OperatingMode", "value": 4.5})");
  ExpectInvalid(R"({"write": "OperatingMode", "value": "passage"})");
}

// Duplicate keys: the JSON parser keeps one value, and the one command it
// yields is both what is classified and what is encoded and run.
TEST(dljsonTranslate, A12_DuplicateKeysYieldOneCommand) {
  const std::string line = R"({"write": "OperatingMode", "value": "Normal", "value": "Passage"})";
  const Translation t = TranslateLine(line);
  ASSERT_TRUE(t.command.has_value());
  const EncodedLine e = EncodeLine(line);
  ASSERT_FALSE(e.payload.empty());
  Result<protocol::ManagementCommand> d = protocol::DecodeManagement(e.payload);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->value, t.command->value);
  EXPECT_EQ(protocol::ClassifyManagement(*d), protocol::ClassifyManagement(*t.command));
  EXPECT_EQ(protocol::ClassifyManagement(*d) == Command::kSetPassageMode, d->value == 4);
}

TEST(dljsonTranslate, EncodedLinesDecodeToTheirTranslation) {
  for (const auto& name : CommandNames()) {
    const EncodedLine e = EncodeLine(Minimal(name));
    ASSERT_FALSE(e.payload.empty()) << name << e.refusal.dump();
    Result<protocol::ManagementCommand> d = protocol::DecodeManagement(e.payload);
    ASSERT_TRUE(d.ok()) << name;
    EXPECT_EQ(d->op, TranslateLine(Minimal(name)).command->op) << name;
  }
  const EncodedLine bad = EncodeLine(R"({"invoke": "Nope"})");
  EXPECT_TRUE(bad.payload.empty());
  EXPECT_EQ(bad.refusal["status"], "UnsupportedCommand");
}

// The classification feeds protocol::Authorize: a guest may open but not
// manage, a member may set passage mode but no other attribute.
TEST(dljsonTranslate, RolesAreAuthorizedForWhatThePayloadDoes) {
  auto allowed = [](Role role, const std::string& line) {
    const Translation c = TranslateLine(line);
    return c.command && protocol::Authorize(GrantOf(role), protocol::ClassifyManagement(*c.command)).ok();
  };
  EXPECT_TRUE(allowed(Role::kGuest, R"({"invoke": "UnlockDoor"})"));
  EXPECT_FALSE(allowed(Role::kGuest, Minimal("SetUser")));
  EXPECT_FALSE(allowed(Role::kGuest, R"({"write": "OperatingMode", "value": "Passage"})"));
  EXPECT_TRUE(allowed(Role::kMember, R"({"write": "OperatingMode", "value": "Passage"})"));
  EXPECT_FALSE(allowed(Role::kMember, R"({"write": "OperatingMode", "value": "Normal"})"));
  EXPECT_FALSE(allowed(Role::kMember, R"({"write": "AutoRelockTime", "value": 5})"));
  EXPECT_FALSE(allowed(Role::kMember, R"({"invoke": "ClearCredential", "args": {"credential": null}})"));
  EXPECT_TRUE(allowed(Role::kAdmin, R"({"invoke": "ClearCredential", "args": {"credential": null}})"));
  EXPECT_TRUE(allowed(Role::kAdmin, R"({"write": "AutoRelockTime", "value": 5})"));
  EXPECT_TRUE(allowed(Role::kOwner, Minimal("SetHolidaySchedule")));
}

// A12: a holiday in Passage holds the door open for everyone, so it needs
// the passage-mode right besides change-settings: an installer (settings,
// no passage) can set a Vacation holiday but not a Passage one.
TEST(dljsonTranslate, A12_PassageHolidayNeedsThePassageRight) {
  auto allowed = [](Role role, const std::string& line) {
    const Translation c = TranslateLine(line);
    return c.command && protocol::Authorize(GrantOf(role), protocol::ClassifyManagement(*c.command)).ok();
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
TEST(dljsonTranslate, A04_OnlyTheOwnerMovesTheTimeZone) {
  auto allowed = [](Role role, const std::string& line) {
    const Translation c = TranslateLine(line);
    return c.command && protocol::Authorize(GrantOf(role), protocol::ClassifyManagement(*c.command)).ok();
  };
  const std::string zone = R"({"write": "UtcOffset", "value": 50400})";
  EXPECT_EQ(C(zone), Command::kSetUtcOffset);
  EXPECT_FALSE(allowed(Role::kInstaller, zone));
  EXPECT_FALSE(allowed(Role::kAdmin, zone));
  EXPECT_TRUE(allowed(Role::kAdmin, R"({"write": "AutoRelockTime", "value": 5})"));
  EXPECT_TRUE(allowed(Role::kOwner, zone));
}

}  // namespace
}  // namespace mortise::dljson
