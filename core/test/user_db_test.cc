// The Matter Door Lock cluster's management command rules.
#include <cstring>

#include "test_util.h"

namespace mortise::core::testing {
namespace {

class UserDbTest : public LockTest {
 protected:
  DlStatus AddUser(uint16_t index, std::optional<std::string_view> name = std::nullopt, uint8_t actor = 0) {
    SetUserRequest r;
    r.operation = DataOperationType::kAdd;
    r.user_index = index;
    r.user_name = name;
    return db().SetUser(r, Actor{OperationSource::kRemote, actor});
  }
  SetCredentialResponse SetCred(CredentialRef c, const std::string& data, std::optional<uint16_t> user,
                                DataOperationType op = DataOperationType::kAdd) {
    SetCredentialRequest req;
    req.operation = op;
    req.credential = c;
    auto bytes = Bytes(data);
    req.credential_data = bytes;
    req.user_index = user;
    return db().SetCredential(req, Actor{});
  }
};

TEST_F(UserDbTest, SetUserRejectsIndexZeroAndOutOfRange) {
  EXPECT_EQ(AddUser(0), DlStatus::kInvalidField);
  EXPECT_EQ(AddUser(config::kMaxUsers + 1), DlStatus::kInvalidField);
  EXPECT_EQ(AddUser(config::kMaxUsers), DlStatus::kSuccess);
}

TEST_F(UserDbTest, SetUserAddOnOccupiedSlotIsOccupied) {
  EXPECT_EQ(AddUser(3, "alice"), DlStatus::kSuccess);
  EXPECT_EQ(AddUser(3, "bob"), DlStatus::kOccupied);
  EXPECT_EQ(db().GetUser(3).user.name_view(), "alice");
}

TEST_F(UserDbTest, SetUserAddAppliesMatterDefaults) {
  ASSERT_EQ(AddUser(2), DlStatus::kSuccess);
  auto u = db().GetUser(2);
  ASSERT_TRUE(u.occupied);
  EXPECT_EQ(u.user.status, UserStatus::kOccupiedEnabled);
  EXPECT_EQ(u.user.type, UserType::kUnrestrictedUser);
  EXPECT_EQ(u.user.rule, CredentialRule::kSingle);
  EXPECT_EQ(u.user.unique_id, 0xFFFFFFFFu);
  EXPECT_EQ(u.credential_count, 0);
}

TEST_F(UserDbTest, SetUserRejectsLongNameAndUnknownEnums) {
  EXPECT_EQ(AddUser(1, "elevenchars"), DlStatus::kInvalidField);
  SetUserRequest r;
  r.user_index = 1;
  r.user_status = static_cast<UserStatus>(2);
  EXPECT_EQ(db().SetUser(r, Actor{}), DlStatus::kInvalidField);
  r.user_status = std::nullopt;
  r.user_type = static_cast<UserType>(10);
  EXPECT_EQ(db().SetUser(r, Actor{}), DlStatus::kInvalidField);
  r.user_type = std::nullopt;
  r.credential_rule = static_cast<CredentialRule>(3);
  EXPECT_EQ(db().SetUser(r, Actor{}), DlStatus::kInvalidField);
  r.credential_rule = std::nullopt;
  r.operation = DataOperationType::kClear;
  EXPECT_EQ(db().SetUser(r, Actor{}), DlStatus::kInvalidField);
  EXPECT_FALSE(db().GetUser(1).occupied);
}

TEST_F(UserDbTest, SetUserModifyNeedsOccupiedSlotAndKeepsNullFields) {
  SetUserRequest m;
  m.operation = DataOperationType::kModify;
  m.user_index = 4;
  m.user_status = UserStatus::kOccupiedDisabled;
  EXPECT_EQ(db().SetUser(m, Actor{}), DlStatus::kInvalidField);
  ASSERT_EQ(AddUser(4, "carol"), DlStatus::kSuccess);
  EXPECT_EQ(db().SetUser(m, Actor{}), DlStatus::kSuccess);
  auto u = db().GetUser(4);
  EXPECT_EQ(u.user.status, UserStatus::kOccupiedDisabled);
  EXPECT_EQ(u.user.name_view(), "carol");
}

TEST_F(UserDbTest, OnlyTheCreatorMayRenameAUser) {
  ASSERT_EQ(AddUser(5, "dave", /*actor=*/7), DlStatus::kSuccess);
  SetUserRequest m;
  m.operation = DataOperationType::kModify;
  m.user_index = 5;
  m.user_name = "eve";
  EXPECT_EQ(db().SetUser(m, Actor{OperationSource::kRemote, 8}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetUser(m, Actor{OperationSource::kRemote, 7}), DlStatus::kSuccess);
  EXPECT_EQ(db().GetUser(5).user.name_view(), "eve");
  EXPECT_EQ(db().GetUser(5).user.creator, 7);
}

TEST_F(UserDbTest, GetUserReportsEmptySlotAndNextOccupiedIndex) {
  ASSERT_EQ(AddUser(10), DlStatus::kSuccess);
  ASSERT_EQ(AddUser(20), DlStatus::kSuccess);
  auto r = db().GetUser(1);
  EXPECT_EQ(r.status, DlStatus::kSuccess);
  EXPECT_FALSE(r.occupied);
  EXPECT_EQ(r.next_user_index, 10);
  EXPECT_EQ(db().GetUser(10).next_user_index, 20);
  EXPECT_FALSE(db().GetUser(20).next_user_index.has_value());
  EXPECT_EQ(db().GetUser(0).status, DlStatus::kInvalidField);
}

TEST_F(UserDbTest, SetCredentialWithNullUserCreatesUserAtFirstFreeIndex) {
  ASSERT_EQ(AddUser(1), DlStatus::kSuccess);
  auto r = SetCred({CredentialType::kPin, 1}, "123456", std::nullopt);
  EXPECT_EQ(r.status, DlStatus::kSuccess);
  EXPECT_EQ(r.user_index, 2);
  EXPECT_EQ(r.next_credential_index, 2);
  auto u = db().GetUser(2);
  ASSERT_EQ(u.credential_count, 1);
  EXPECT_EQ(u.credentials[0], (CredentialRef{CredentialType::kPin, 1}));
  // Events: the user, then the credential.
  ASSERT_GE(events().size(), 2u);
  auto& e1 = events()[events().size() - 2];
  auto& e2 = events().back();
  EXPECT_EQ(e1.data_type, LockDataType::kUserIndex);
  EXPECT_EQ(e1.data_operation, DataOperationType::kAdd);
  EXPECT_EQ(e2.data_type, LockDataType::kPin);
  EXPECT_EQ(e2.data_index, 1);
  EXPECT_EQ(e2.user_index, 2);
}

TEST_F(UserDbTest, SetCredentialDetectsDuplicatesAcrossUsersOfTheSameType) {
  ASSERT_EQ(SetCred({CredentialType::kPin, 1}, "246810", std::nullopt).status, DlStatus::kSuccess);
  EXPECT_EQ(SetCred({CredentialType::kPin, 2}, "246810", std::nullopt).status, DlStatus::kDuplicate);
  // Different types never collide.
  EXPECT_EQ(SetCred({CredentialType::kRfid, 1}, "246810", std::nullopt).status, DlStatus::kSuccess);
}

TEST_F(UserDbTest, SetCredentialOnOccupiedSlotIsOccupied) {
  ASSERT_EQ(SetCred({CredentialType::kPin, 3}, "111222", std::nullopt).status, DlStatus::kSuccess);
  EXPECT_EQ(SetCred({CredentialType::kPin, 3}, "333444", std::nullopt).status, DlStatus::kOccupied);
}

TEST_F(UserDbTest, SetCredentialValidatesIndexLengthAndDigits) {
  EXPECT_EQ(SetCred({CredentialType::kPin, 0}, "123456", std::nullopt).status, DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({CredentialType::kPin, uint16_t(config::kMaxPinCredentials + 1)}, "123456", std::nullopt).status,
            DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({CredentialType::kPin, 1}, "123", std::nullopt).status, DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({CredentialType::kPin, 1}, "1234567890123", std::nullopt).status, DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({CredentialType::kPin, 1}, "12a456", std::nullopt).status, DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({CredentialType::kRfid, 1}, "abc", std::nullopt).status, DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({static_cast<CredentialType>(9), 1}, "123456", std::nullopt).status, DlStatus::kInvalidField);
  EXPECT_EQ(db().GetUser(1).occupied, false);
}

TEST_F(UserDbTest, SetCredentialForMissingUserIsInvalidField) {
  EXPECT_EQ(SetCred({CredentialType::kPin, 1}, "123456", 9).status, DlStatus::kInvalidField);
}

TEST_F(UserDbTest, PerUserCredentialLimitIsResourceExhausted) {
  ASSERT_EQ(AddUser(1), DlStatus::kSuccess);
  for (uint16_t i = 1; i <= config::kMaxCredentialsPerUser; ++i)
    ASSERT_EQ(SetCred({CredentialType::kPin, i}, "10000" + std::to_string(i), 1).status, DlStatus::kSuccess);
  EXPECT_EQ(SetCred({CredentialType::kPin, 99}, "999999", 1).status, DlStatus::kResourceExhausted);
}

TEST_F(UserDbTest, CreatingAUserWhenAllAreTakenIsResourceExhausted) {
  for (uint16_t i = 1; i <= config::kMaxUsers; ++i) ASSERT_EQ(AddUser(i), DlStatus::kSuccess);
  EXPECT_EQ(SetCred({CredentialType::kPin, 1}, "123456", std::nullopt).status, DlStatus::kResourceExhausted);
}

TEST_F(UserDbTest, ModifyCredentialReplacesDataAndKeepsOwner) {
  auto r = SetCred({CredentialType::kPin, 1}, "135790", std::nullopt);
  ASSERT_EQ(r.status, DlStatus::kSuccess);
  EXPECT_EQ(SetCred({CredentialType::kPin, 1}, "135790", r.user_index, DataOperationType::kModify).status,
            DlStatus::kSuccess);
  EXPECT_EQ(SetCred({CredentialType::kPin, 1}, "975310", r.user_index, DataOperationType::kModify).status,
            DlStatus::kSuccess);
  EXPECT_FALSE(db().Find(CredentialType::kPin, Bytes("135790")).has_value());
  ASSERT_TRUE(db().Find(CredentialType::kPin, Bytes("975310")).has_value());
  EXPECT_EQ(db().Find(CredentialType::kPin, Bytes("975310"))->user_index, *r.user_index);
  // Modify of an empty slot, or naming another user, is refused.
  EXPECT_EQ(SetCred({CredentialType::kPin, 2}, "111111", r.user_index, DataOperationType::kModify).status,
            DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({CredentialType::kPin, 1}, "111111", 77, DataOperationType::kModify).status,
            DlStatus::kInvalidField);
}

TEST_F(UserDbTest, GetCredentialStatusReportsOwnerAndNextOccupied) {
  auto a = SetCred({CredentialType::kRfid, 2}, "CARD0001", std::nullopt);
  auto b = SetCred({CredentialType::kRfid, 7}, "CARD0002", std::nullopt);
  auto s = db().GetCredentialStatus({CredentialType::kRfid, 2});
  EXPECT_TRUE(s.credential_exists);
  EXPECT_EQ(s.user_index, a.user_index);
  EXPECT_EQ(s.next_credential_index, 7);
  auto empty = db().GetCredentialStatus({CredentialType::kRfid, 1});
  EXPECT_FALSE(empty.credential_exists);
  EXPECT_FALSE(empty.user_index.has_value());
  EXPECT_EQ(empty.next_credential_index, 2);
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kRfid, 7}).next_credential_index.has_value());
  (void)b;
}

TEST_F(UserDbTest, ClearingTheLastCredentialClearsTheUser) {
  auto r = SetCred({CredentialType::kPin, 1}, "112233", std::nullopt);
  ASSERT_TRUE(r.user_index);
  ASSERT_EQ(SetCred({CredentialType::kRfid, 1}, "CARDCARD", r.user_index).status, DlStatus::kSuccess);
  EXPECT_EQ(db().ClearCredential(CredentialRef{CredentialType::kPin, 1}, Actor{}), DlStatus::kSuccess);
  EXPECT_TRUE(db().GetUser(*r.user_index).occupied);
  EXPECT_EQ(db().ClearCredential(CredentialRef{CredentialType::kRfid, 1}, Actor{}), DlStatus::kSuccess);
  EXPECT_FALSE(db().GetUser(*r.user_index).occupied);
  EXPECT_EQ(events().back().data_type, LockDataType::kUserIndex);
  EXPECT_EQ(events().back().data_operation, DataOperationType::kClear);
}

TEST_F(UserDbTest, ClearAllOfATypeClearsEverySlotIncludingTheLast) {
  const uint16_t last = config::kMaxPinCredentials;
  ASSERT_EQ(SetCred({CredentialType::kPin, 1}, "100001", std::nullopt).status, DlStatus::kSuccess);
  ASSERT_EQ(SetCred({CredentialType::kPin, last}, "100002", std::nullopt).status, DlStatus::kSuccess);
  ASSERT_EQ(SetCred({CredentialType::kRfid, 1}, "CARDCARD", std::nullopt).status, DlStatus::kSuccess);
  EXPECT_EQ(db().ClearCredential(CredentialRef{CredentialType::kPin, kClearAllIndex16}, Actor{}), DlStatus::kSuccess);
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kPin, 1}).credential_exists);
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kPin, last}).credential_exists);
  EXPECT_TRUE(db().GetCredentialStatus({CredentialType::kRfid, 1}).credential_exists);
  EXPECT_EQ(db().ClearCredential(std::nullopt, Actor{}), DlStatus::kSuccess);
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kRfid, 1}).credential_exists);
}

TEST_F(UserDbTest, ClearCredentialValidatesIndex) {
  EXPECT_EQ(db().ClearCredential(CredentialRef{CredentialType::kPin, 0}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().ClearCredential(CredentialRef{CredentialType::kPin, 5}, Actor{}), DlStatus::kSuccess);  // empty
}

TEST_F(UserDbTest, ProgrammingPinBelongsToAProgrammingUserAndCannotBeCleared) {
  SetUserRequest u;
  u.user_index = 1;
  u.user_type = UserType::kProgrammingUser;
  ASSERT_EQ(db().SetUser(u, Actor{}), DlStatus::kSuccess);
  ASSERT_EQ(AddUser(2), DlStatus::kSuccess);
  EXPECT_EQ(SetCred({CredentialType::kProgrammingPIN, 0}, "909090", 2).status, DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({CredentialType::kProgrammingPIN, 1}, "909090", 1).status, DlStatus::kInvalidField);
  EXPECT_EQ(SetCred({CredentialType::kProgrammingPIN, 0}, "909090", 1).status, DlStatus::kSuccess);
  EXPECT_EQ(db().ClearCredential(CredentialRef{CredentialType::kProgrammingPIN, 0}, Actor{}), DlStatus::kInvalidField);
  auto s = db().GetCredentialStatus({CredentialType::kProgrammingPIN, 0});
  EXPECT_TRUE(s.credential_exists);
  EXPECT_FALSE(s.user_index.has_value());
  EXPECT_EQ(SetCred({CredentialType::kProgrammingPIN, 0}, "808080", std::nullopt, DataOperationType::kModify).status,
            DlStatus::kSuccess);
}

TEST_F(UserDbTest, ClearUserRemovesItsCredentialsAndClearAllRemovesEveryone) {
  auto r = SetCred({CredentialType::kPin, 1}, "556677", std::nullopt);
  ASSERT_EQ(AddUser(9), DlStatus::kSuccess);
  EXPECT_EQ(db().ClearUser(*r.user_index, Actor{}), DlStatus::kSuccess);
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kPin, 1}).credential_exists);
  EXPECT_FALSE(db().Find(CredentialType::kPin, Bytes("556677")).has_value());
  EXPECT_EQ(db().ClearUser(0, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().ClearUser(kClearAllIndex16, Actor{}), DlStatus::kSuccess);
  EXPECT_FALSE(db().GetUser(9).occupied);
  EXPECT_EQ(events().back().user_index, kClearAllIndex16);
}

TEST_F(UserDbTest, WeekDayScheduleRules) {
  WeekDaySchedule s{kMonday | kTuesday, 7, 0, 19, 0};
  EXPECT_EQ(db().SetWeekDaySchedule(1, 1, s, Actor{}), DlStatus::kFailure);  // no such user
  ASSERT_EQ(AddUser(1), DlStatus::kSuccess);
  EXPECT_EQ(db().SetWeekDaySchedule(0, 1, s, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetWeekDaySchedule(config::kWeekDaySchedulesPerUser + 1, 1, s, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetWeekDaySchedule(1, 0, s, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetWeekDaySchedule(1, 1, WeekDaySchedule{0, 7, 0, 19, 0}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetWeekDaySchedule(1, 1, WeekDaySchedule{0x80, 7, 0, 19, 0}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetWeekDaySchedule(1, 1, WeekDaySchedule{kMonday, 19, 0, 7, 0}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetWeekDaySchedule(1, 1, WeekDaySchedule{kMonday, 24, 0, 25, 0}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetWeekDaySchedule(1, 1, WeekDaySchedule{kMonday, 7, 60, 8, 0}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().GetWeekDaySchedule(1, 1).status, DlStatus::kNotFound);
  EXPECT_EQ(db().SetWeekDaySchedule(1, 1, s, Actor{}), DlStatus::kSuccess);
  // Setting a schedule restricts an unrestricted user.
  EXPECT_EQ(db().GetUser(1).user.type, UserType::kScheduleRestrictedUser);
  auto g = db().GetWeekDaySchedule(1, 1);
  EXPECT_EQ(g.status, DlStatus::kSuccess);
  EXPECT_EQ(g.schedule.days_mask, kMonday | kTuesday);
  EXPECT_EQ(g.schedule.end_hour, 19);
  EXPECT_EQ(db().GetWeekDaySchedule(0, 1).status, DlStatus::kInvalidField);
  EXPECT_EQ(db().ClearWeekDaySchedule(kClearAllIndex8, 1, Actor{}), DlStatus::kSuccess);
  EXPECT_EQ(db().GetWeekDaySchedule(1, 1).status, DlStatus::kNotFound);
  EXPECT_EQ(db().ClearWeekDaySchedule(0, 1, Actor{}), DlStatus::kInvalidField);
}

TEST_F(UserDbTest, YearDayAndHolidayScheduleRules) {
  ASSERT_EQ(AddUser(1), DlStatus::kSuccess);
  EXPECT_EQ(db().SetYearDaySchedule(1, 1, YearDaySchedule{2000, 1000}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetYearDaySchedule(1, 1, YearDaySchedule{1000, 1000}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetYearDaySchedule(1, 1, YearDaySchedule{1000, 2000}, Actor{}), DlStatus::kSuccess);
  EXPECT_EQ(db().GetYearDaySchedule(1, 1).schedule.local_end, 2000u);
  EXPECT_EQ(db().GetYearDaySchedule(2, 1).status, DlStatus::kNotFound);
  EXPECT_EQ(db().ClearYearDaySchedule(1, 1, Actor{}), DlStatus::kSuccess);
  EXPECT_EQ(db().GetYearDaySchedule(1, 1).status, DlStatus::kNotFound);

  EXPECT_EQ(db().SetHolidaySchedule(0, HolidaySchedule{1000, 2000, OperatingMode::kVacation}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetHolidaySchedule(1, HolidaySchedule{2000, 1000, OperatingMode::kVacation}, Actor{}), DlStatus::kInvalidField);
  EXPECT_EQ(db().SetHolidaySchedule(1, HolidaySchedule{1000, 2000, static_cast<OperatingMode>(5)}, Actor{}),
            DlStatus::kInvalidField);
  EXPECT_EQ(db().SetHolidaySchedule(1, HolidaySchedule{1000, 2000, OperatingMode::kVacation}, Actor{}), DlStatus::kSuccess);
  EXPECT_EQ(db().GetHolidaySchedule(1).schedule.mode, OperatingMode::kVacation);
  EXPECT_EQ(db().GetHolidaySchedule(2).status, DlStatus::kNotFound);
  EXPECT_EQ(db().ClearHolidaySchedule(kClearAllIndex8, Actor{}), DlStatus::kSuccess);
  EXPECT_EQ(db().GetHolidaySchedule(1).status, DlStatus::kNotFound);
}

TEST_F(UserDbTest, PinsAreStoredOnlyAsKeyedDigests) {
  ASSERT_EQ(SetCred({CredentialType::kPin, 1}, "73917391", std::nullopt).status, DlStatus::kSuccess);
  struct Scan : RecordVisitor {
    bool found = false;
    void Visit(uint32_t, std::span<const uint8_t> v) override {
      const char* pin = "73917391";
      if (v.size() >= 8)
        for (size_t i = 0; i + 8 <= v.size(); ++i) found = found || std::memcmp(v.data() + i, pin, 8) == 0;
    }
  } scan;
  ASSERT_TRUE(sim_.store().ForEach(0, 0xFFFFFFFF, scan).ok());
  EXPECT_FALSE(scan.found);
  for (const auto& e : events()) EXPECT_FALSE(e.has_credential && e.credential.index == 0 && e.user_index == 0);
}

TEST_F(UserDbTest, TwoLocksDigestTheSamePinDifferently) {
  sim::SimLock other(nullptr, /*seed=*/99);
  ASSERT_TRUE(other.Start().ok());
  struct Grab : RecordVisitor {
    std::vector<uint8_t> value;
    void Visit(uint32_t, std::span<const uint8_t> v) override { value.assign(v.begin(), v.end()); }
  } a, b;
  auto data = Bytes("121212");
  SetCredentialRequest req;
  req.credential = {CredentialType::kPin, 1};
  req.credential_data = data;
  ASSERT_EQ(db().SetCredential(req, Actor{}).status, DlStatus::kSuccess);
  ASSERT_EQ(other.lock().users().SetCredential(req, Actor{}).status, DlStatus::kSuccess);
  const uint32_t key = MakeRecordKey(kRecordCredential, 1);
  ASSERT_TRUE(sim_.store().ForEach(key, key, a).ok());
  ASSERT_TRUE(other.store().ForEach(key, key, b).ok());
  ASSERT_FALSE(a.value.empty());
  EXPECT_NE(a.value, b.value);
}

TEST_F(UserDbTest, ChangesSurviveARestartOnTheSameStore) {
  auto r = SetCred({CredentialType::kPin, 1}, "484848", std::nullopt);
  ASSERT_EQ(db().SetWeekDaySchedule(1, *r.user_index, WeekDaySchedule{kTuesday, 6, 0, 20, 0}, Actor{}),
            DlStatus::kSuccess);
  ASSERT_EQ(db().SetHolidaySchedule(2, HolidaySchedule{1000, 2000, OperatingMode::kPrivacy}, Actor{}), DlStatus::kSuccess);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 42).ok());

  sim::SimLock rebooted(&sim_.store(), /*seed=*/5);
  ASSERT_TRUE(rebooted.Start().ok());
  auto& db2 = rebooted.lock().users();
  EXPECT_EQ(db2.GetUser(*r.user_index).user.type, UserType::kScheduleRestrictedUser);
  EXPECT_EQ(db2.GetWeekDaySchedule(1, *r.user_index).schedule.end_hour, 20);
  EXPECT_EQ(db2.GetHolidaySchedule(2).schedule.mode, OperatingMode::kPrivacy);
  ASSERT_TRUE(db2.Find(CredentialType::kPin, Bytes("484848")).has_value());
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kAutoRelockTime), 42);
  EXPECT_EQ(rebooted.lock().dropped_records(), 0u);
}

TEST_F(UserDbTest, AStoreThatRefusesWritesChangesNothing) {
  auto ok = SetCred({CredentialType::kPin, 1}, "202020", std::nullopt);
  ASSERT_EQ(ok.status, DlStatus::kSuccess);
  auto* store = dynamic_cast<sim::MemoryStore*>(&sim_.store());
  ASSERT_NE(store, nullptr);
  store->set_fail_writes(true);
  const size_t before = events().size();
  EXPECT_EQ(AddUser(50), DlStatus::kFailure);
  EXPECT_EQ(SetCred({CredentialType::kPin, 2}, "303030", std::nullopt).status, DlStatus::kFailure);
  EXPECT_EQ(db().ClearUser(*ok.user_index, Actor{}), DlStatus::kFailure);
  EXPECT_EQ(db().SetWeekDaySchedule(1, *ok.user_index, WeekDaySchedule{kMonday, 1, 0, 2, 0}, Actor{}),
            DlStatus::kFailure);
  EXPECT_FALSE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 9).ok());
  store->set_fail_writes(false);
  EXPECT_EQ(events().size(), before);
  EXPECT_FALSE(db().GetUser(50).occupied);
  EXPECT_FALSE(db().Find(CredentialType::kPin, Bytes("303030")).has_value());
  EXPECT_TRUE(db().Find(CredentialType::kPin, Bytes("202020")).has_value());
  EXPECT_EQ(db().GetUser(*ok.user_index).user.type, UserType::kUnrestrictedUser);
  EXPECT_EQ(*lock().ReadAttribute(AttributeId::kAutoRelockTime), 0);
}

TEST_F(UserDbTest, IndexSurvivesHeavyChurn) {
  // Insert and delete many credentials; every remaining one is still found.
  std::vector<std::string> live;
  for (int round = 0; round < 3; ++round) {
    for (uint16_t i = 1; i <= 300; ++i) {
      std::string pin = std::to_string(100000 + round * 1000 + i);
      if (SetCred({CredentialType::kPin, i}, pin, std::nullopt).status == DlStatus::kSuccess) live.push_back(pin);
    }
    for (uint16_t i = 1; i <= 300; i += 2)
      ASSERT_EQ(db().ClearCredential(CredentialRef{CredentialType::kPin, i}, Actor{}), DlStatus::kSuccess);
  }
  size_t found = 0;
  for (const auto& pin : live) found += db().Find(CredentialType::kPin, Bytes(pin)).has_value();
  size_t occupied = 0;
  for (uint16_t i = 1; i <= 300; ++i) occupied += db().GetCredentialStatus({CredentialType::kPin, i}).credential_exists;
  EXPECT_EQ(found, occupied);
  EXPECT_EQ(occupied, 150u);
}

}  // namespace
}  // namespace mortise::core::testing
