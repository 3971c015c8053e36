#include "mortise/dljson/dl_json.h"

#include <gtest/gtest.h>

#include "mortise/sim/sim_lock.h"

namespace mortise::dljson {
namespace {

using json = nlohmann::json;

class DlJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sim_.Start().ok());
    ASSERT_TRUE(sim_.lock().SetUtcTime(core::DaysFromCivil(2026, 11, 24) * 86400 + 8 * 3600, false).ok());
  }
  json Line(const std::string& line) { return json::parse(adapter_.HandleLine(line)); }

  sim::SimLock sim_;
  DoorLockJson adapter_{sim_.lock(), core::Actor{core::OperationSource::kProprietaryRemote, 1}};
};

TEST_F(DlJsonTest, SetUserAndGetUserUseMatterNames) {
  auto r = Line(R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":3,"userName":"ann","userType":"WeekDayScheduleUser"}})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["status"], "Success");
  auto g = Line(R"({"invoke":"GetUser","args":{"userIndex":3}})");
  EXPECT_EQ(g["userName"], "ann");
  EXPECT_EQ(g["userStatus"], "OccupiedEnabled");
  EXPECT_EQ(g["userType"], "WeekDayScheduleUser");
  EXPECT_EQ(g["credentialRule"], "Single");
  EXPECT_TRUE(g["userUniqueID"].is_null());
  EXPECT_EQ(g["creatorFabricIndex"], 1);
  auto empty = Line(R"({"invoke":"GetUser","args":{"userIndex":4}})");
  EXPECT_TRUE(empty["userStatus"].is_null());
  EXPECT_TRUE(empty["nextUserIndex"].is_null());
  // Enum numbers work as well as names; the cluster's status comes back.
  EXPECT_EQ(Line(R"({"invoke":"SetUser","args":{"operationType":0,"userIndex":3}})")["status"], "Occupied");
}

TEST_F(DlJsonTest, SetCredentialCreatesAUserAndThePinOpens) {
  auto r = Line(R"({"invoke":"SetCredential","args":{"operationType":"Add","credential":{"credentialType":"PIN","credentialIndex":1},"credentialData":"482916","userIndex":null}})");
  EXPECT_EQ(r["status"], "Success");
  EXPECT_EQ(r["userIndex"], 1);
  EXPECT_EQ(r["nextCredentialIndex"], 2);
  auto s = Line(R"({"invoke":"GetCredentialStatus","args":{"credential":{"credentialType":"PIN","credentialIndex":1}}})");
  EXPECT_EQ(s["credentialExists"], true);
  EXPECT_EQ(s["userIndex"], 1);
  auto card = Line(R"({"invoke":"SetCredential","args":{"operationType":"Add","credential":{"credentialType":"RFID","credentialIndex":1},"credentialData":{"hex":"DEADBEEF"},"userIndex":1}})");
  EXPECT_EQ(card["status"], "Success");
  sim_.keypad().Type("482916");
  sim_.Run(1500);
  EXPECT_EQ(sim_.lock().bolt_state(), core::BoltState::kUnlocked);
}

TEST_F(DlJsonTest, SchedulesRoundTrip) {
  Line(R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1}})");
  EXPECT_EQ(Line(R"({"invoke":"SetWeekDaySchedule","args":{"weekDayIndex":1,"userIndex":1,"daysMask":62,"startHour":7,"startMinute":0,"endHour":19,"endMinute":0}})")["status"], "Success");
  auto g = Line(R"({"invoke":"GetWeekDaySchedule","args":{"weekDayIndex":1,"userIndex":1}})");
  EXPECT_EQ(g["daysMask"], 62);
  EXPECT_EQ(g["endHour"], 19);
  EXPECT_EQ(Line(R"({"invoke":"GetWeekDaySchedule","args":{"weekDayIndex":2,"userIndex":1}})")["status"], "NotFound");
  EXPECT_EQ(Line(R"({"invoke":"SetYearDaySchedule","args":{"yearDayIndex":1,"userIndex":1,"localStartTime":10,"localEndTime":5}})")["status"], "InvalidField");
  EXPECT_EQ(Line(R"({"invoke":"SetHolidaySchedule","args":{"holidayIndex":1,"localStartTime":10,"localEndTime":50,"operatingMode":"Vacation"}})")["status"], "Success");
  EXPECT_EQ(Line(R"({"invoke":"GetHolidaySchedule","args":{"holidayIndex":1}})")["operatingMode"], "Vacation");
}

TEST_F(DlJsonTest, RemoteOperationsReportTheirOutcome) {
  EXPECT_EQ(Line(R"({"invoke":"UnlockDoor"})")["status"], "Success");
  sim_.Run(1500);
  EXPECT_EQ(sim_.lock().bolt_state(), core::BoltState::kUnlocked);
  EXPECT_EQ(Line(R"({"write":"RequirePINforRemoteOperation","value":true})")["ok"], true);
  auto r = Line(R"({"invoke":"LockDoor","args":{}})");
  EXPECT_EQ(r["status"], "Failure");
  EXPECT_EQ(r["error"], "InvalidCredential");
  EXPECT_EQ(r["detail"], "PinRequired");
}

TEST_F(DlJsonTest, AttributesByMatterName) {
  EXPECT_EQ(Line(R"({"read":"WrongCodeEntryLimit"})")["value"], 5);
  EXPECT_EQ(Line(R"({"write":"WrongCodeEntryLimit","value":3})")["ok"], true);
  // Success is a status too, in the field every refusal uses (issue 12).
  EXPECT_EQ(Line(R"({"write":"WrongCodeEntryLimit","value":4})")["status"], "Success");
  EXPECT_EQ(Line(R"({"read":"WrongCodeEntryLimit"})")["value"], 4);
  EXPECT_EQ(Line(R"({"write":"OperatingMode","value":"Vacation"})")["ok"], true);
  EXPECT_EQ(sim_.lock().settings().operating_mode, core::OperatingMode::kVacation);
}

// Values inside the field's type but outside what the cluster accepts (a
// reserved DaysMask bit, a user status Available for SetUser, clearing the
// programming PIN) get the cluster's own status, INVALID_COMMAND (0x85,
// DlStatus InvalidField), in the same "status" field.
TEST_F(DlJsonTest, ClusterRefusalsOfFieldValuesAnswerInvalidFieldInTheStatusField) {
  ASSERT_EQ(Line(R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1}})")["status"], "Success");
  const char* lines[] = {
      R"({"invoke":"SetWeekDaySchedule","args":{"weekDayIndex":1,"userIndex":1,"daysMask":128,"startHour":7,"startMinute":0,"endHour":19,"endMinute":0}})",
      R"({"invoke":"SetWeekDaySchedule","args":{"weekDayIndex":1,"userIndex":1,"daysMask":2,"startHour":24,"startMinute":0,"endHour":19,"endMinute":0}})",
      R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":2,"userStatus":"Available"}})",
      R"({"invoke":"ClearCredential","args":{"credential":{"credentialType":"ProgrammingPIN","credentialIndex":0}}})",
      R"({"invoke":"ClearCredential","args":{"credential":{"credentialType":"ProgrammingPIN","credentialIndex":65534}}})",
      R"({"invoke":"SetCredential","args":{"operationType":"Add","credential":{"credentialType":"ProgrammingPIN","credentialIndex":1},"credentialData":"909090"}})",
  };
  for (const char* l : lines) EXPECT_EQ(Line(l)["status"], "InvalidField") << l;
  EXPECT_FALSE(sim_.lock().users().GetUser(2).occupied);
  EXPECT_FALSE(sim_.lock().users().GetWeekDaySchedule(1, 1).status == core::DlStatus::kSuccess);
}

TEST_F(DlJsonTest, BadInputGetsAClearErrorAndChangesNothing) {
  struct Case { const char* line; const char* error_part; const char* status; };
  const Case cases[] = {
      {"not json", "malformed JSON", "InvalidAction"},
      {"[1,2,3]", "a request is a JSON object", "InvalidAction"},
      {R"({"invoke":"SetUsr","args":{}})", "unknown command 'SetUsr'", "UnsupportedCommand"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add"}})", "field 'userIndex' is required", "InvalidCommand"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":70000}})", "from 0 to 65535", "ConstraintError"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1,"usrName":"x"}})", "unknown field 'usrName'", "InvalidCommand"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1,"userType":"Boss"}})", "must be a UserType", "ConstraintError"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1,"userName":"far too long a name"}})", "at most 10 bytes", "ConstraintError"},
      {R"({"invoke":"SetCredential","args":{"operationType":"Add","credential":{"credentialType":"PIN","credentialIndex":1},"credentialData":{"hex":"zz"}}})", "not a hex digit", "InvalidCommand"},
      {R"({"invoke":"SetCredential","args":{"operationType":"Add","credentialData":"1234"}})", "'credential' is required", "InvalidCommand"},
      {R"({"read":"NoSuchAttribute"})", "unknown attribute", "UnsupportedAttribute"},
      {R"({"write":"LockState","value":1})", "read-only", "UnsupportedWrite"},
      {R"({"write":"WrongCodeEntryLimit","value":0})", "must be from 1 to 10", "ConstraintError"},
      {R"({"write":"AutoRelockTime","value":"soon"})", "takes an integer", "InvalidCommand"},
      {R"({"invoke":"GetUser","args":{"userIndex":1},"extra":1})", "unknown request field 'extra'", "InvalidAction"},
      {R"({"invoke":"ClearCredential"})", "field 'credential' is required", "InvalidCommand"},
      {R"({"invoke":"ClearUser","args":{}})", "field 'userIndex' is required", "InvalidCommand"},
      {R"({"write":"UtcOffset","value":18446744073709547616})", "takes an integer", "ConstraintError"},
      {R"({"write":"AutoRelockTime","value":true})", "takes an integer", "InvalidCommand"},
      {R"({"write":"AutoRelockTime","value":1.5})", "takes an integer", "InvalidCommand"},
      {R"({"write":"AutoRelockTime","value":-1})", "must be from 0", "ConstraintError"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":18446744073709551615}})", "from 0 to 65535", "ConstraintError"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1.0}})", "from 0 to 65535", "InvalidCommand"},
      {"{\"invoke\":\"SetCredential\",\"args\":{\"operationType\":\"Add\",\"credential\":{\"credentialType\":\"RFID\",\"credentialIndex\":1},\"credentialData\":{\"hex\":\"\xc3\xa9\"}}}", "is not a hex digit", "InvalidCommand"},
      // Out-of-range enum values in command fields and attribute writes:
      // CONSTRAINT_ERROR, as a Matter server answers (issue 12).
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1,"userStatus":2}})", "must be a UserStatus", "ConstraintError"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1,"userType":10}})", "must be a UserType", "ConstraintError"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1,"userType":[1]}})", "must be a UserType", "InvalidCommand"},
      {R"({"invoke":"SetHolidaySchedule","args":{"holidayIndex":1,"localStartTime":1,"localEndTime":2,"operatingMode":5}})", "must be a OperatingMode", "ConstraintError"},
      {R"({"write":"OperatingMode","value":5})", "must be from 0 to", "ConstraintError"},
      {R"({"write":"OperatingMode","value":"Party"})", "takes an integer or one of Normal", "ConstraintError"},
      {R"({"invoke":"SetCredential","args":{"operationType":"Add","credential":{"credentialType":99,"credentialIndex":1},"credentialData":"1234"}})", "must be a CredentialType", "ConstraintError"},
      {R"({"invoke":"SetUser","args":{"operationType":3,"userIndex":1}})", "must be a DataOperationType", "ConstraintError"},
      {R"({"invoke":"SetUser","args":{"operationType":"Add","userIndex":1,"credentialRule":3}})", "must be a CredentialRule", "ConstraintError"},
      {R"({"invoke":"GetCredentialStatus","args":{"credential":{"credentialType":9,"credentialIndex":0}}})", "must be a CredentialType", "ConstraintError"},
      {R"({"write":"LEDSettings","value":3})", "must be from 0 to 2", "ConstraintError"},
      {R"({"write":"EnableLocalProgramming","value":2})", "must be from 0 to 1", "ConstraintError"},
  };
  for (const auto& c : cases) {
    auto r = Line(c.line);
    EXPECT_EQ(r["ok"], false) << c.line;
    EXPECT_NE(r["error"].get<std::string>().find(c.error_part), std::string::npos) << r.dump();
    EXPECT_EQ(r["status"], c.status) << c.line;
  }
  EXPECT_FALSE(sim_.lock().users().GetUser(1).occupied);
  // Nothing changed anywhere: every writable setting is still its default.
  const core::Settings defaults;
  const core::Settings& now = sim_.lock().settings();
  EXPECT_EQ(now.auto_relock_time_s, defaults.auto_relock_time_s);
  EXPECT_EQ(now.utc_offset_s, defaults.utc_offset_s);
  EXPECT_EQ(now.wrong_code_entry_limit, defaults.wrong_code_entry_limit);
  EXPECT_EQ(sim_.lock().users().GetCredentialStatus({core::CredentialType::kRfid, 1}).credential_exists, false);
}

TEST_F(DlJsonTest, ClearingEveryCredentialNeedsAnExplicitNull) {
  Line(R"({"invoke":"SetCredential","args":{"operationType":"Add","credential":{"credentialType":"PIN","credentialIndex":1},"credentialData":"135790","userIndex":null}})");
  EXPECT_EQ(Line(R"({"invoke":"ClearCredential","args":{}})")["ok"], false);
  EXPECT_TRUE(sim_.lock().users().GetCredentialStatus({core::CredentialType::kPin, 1}).credential_exists);
  EXPECT_EQ(Line(R"({"invoke":"ClearCredential","args":{"credential":null}})")["status"], "Success");
  EXPECT_FALSE(sim_.lock().users().GetCredentialStatus({core::CredentialType::kPin, 1}).credential_exists);
}

TEST_F(DlJsonTest, EveryEnumValueHasAName) {
  for (int d = 0; d <= int(core::EventDetail::kOfflinePin); ++d) {
    core::LockEvent e;
    e.kind = core::EventKind::kLockOperationError;
    e.detail = static_cast<core::EventDetail>(d);
    json j = EventToJson(e);
    if (d != 0) {
      EXPECT_NE(j["detail"], "Unknown") << d;
    }
  }
  for (uint8_t a : {0, 1, 3, 4, 5, 6, 7, 8, 0x80, 0x81, 0x82}) {
    core::LockEvent e;
    e.kind = core::EventKind::kDoorLockAlarm;
    e.alarm = static_cast<core::AlarmCode>(a);
    EXPECT_NE(EventToJson(e)["alarmCode"], "Unknown") << int(a);
  }
  for (int s = 0; s <= 9; ++s) {
    core::LockEvent e;
    e.source = static_cast<core::OperationSource>(s);
    EXPECT_NE(EventToJson(e)["operationSource"], "Unknown") << s;
  }
}

TEST_F(DlJsonTest, EventsBecomeJsonWithMatterNames) {
  Line(R"({"invoke":"UnlockDoor"})");
  sim_.Run(1500);
  const auto& ev = sim_.events().events;
  ASSERT_FALSE(ev.empty());
  json j = EventToJson(ev.back());
  EXPECT_EQ(j["event"], "LockOperation");
  EXPECT_EQ(j["lockOperationType"], "Unlock");
  EXPECT_EQ(j["operationSource"], "ProprietaryRemote");
  EXPECT_TRUE(j["credentials"].is_null());
  EXPECT_TRUE(j.contains("fabricIndex"));
  EXPECT_TRUE(j["utc"].get<int64_t>() > 0);
}

}  // namespace
}  // namespace mortise::dljson
