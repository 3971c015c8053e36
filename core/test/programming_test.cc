// Programming PIN credentials (Matter CredentialType ProgrammingPIN, index 0)
// and the keypad programming menu (programming_menu.h).
#include "test_util.h"

namespace mortise::core::testing {
namespace {

class ProgrammingTest : public LockTest {
 protected:
  void SetUp() override {
    LockTest::SetUp();
    EnsureLocked();
  }
  SetCredentialResponse SetProgrammingPin(const std::string& pin, DataOperationType op = DataOperationType::kAdd,
                                          std::optional<UserType> type = std::nullopt,
                                          std::optional<uint16_t> user = std::nullopt,
                                          OperationSource source = OperationSource::kRemote) {
    SetCredentialRequest req;
    req.operation = op;
    req.credential = {CredentialType::kProgrammingPIN, 0};
    auto data = Bytes(pin);
    req.credential_data = data;
    req.user_type = type;
    req.user_index = user;
    return db().SetCredential(req, Actor{source, 1});
  }
  uint16_t ProgrammingUser() {
    for (uint16_t i = 1; i <= config::kMaxUsers; ++i) {
      auto u = db().GetUser(i);
      for (uint8_t c = 0; c < u.credential_count; ++c)
        if (u.credentials[c].type == CredentialType::kProgrammingPIN) return i;
    }
    return 0;
  }
  // Keys as typed on the lock: "*909090" is a programming entry.
  void Keys(const std::string& entry) { Type(entry, 100); }
  const ProgrammingMenu& menu() { return lock().programming_menu(); }
  const std::vector<Signal>& signals() { return sim_.indicator().signals; }
};

// --- The credential -------------------------------------------------------------------

TEST_F(ProgrammingTest, AddCreatesTheProgrammingUserAndIsLoggedAsAProgrammingCode) {
  events().clear();
  auto r = SetProgrammingPin("909090", DataOperationType::kAdd, UserType::kProgrammingUser);
  ASSERT_EQ(r.status, DlStatus::kSuccess);
  ASSERT_TRUE(r.user_index.has_value());
  EXPECT_EQ(db().GetUser(*r.user_index).user.type, UserType::kProgrammingUser);
  // No other index exists for the type, so there is never a next one.
  EXPECT_FALSE(r.next_credential_index.has_value());
  const LockEvent* e = Last(EventKind::kLockUserChange);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->data_type, LockDataType::kProgrammingCode);
  EXPECT_EQ(e->data_operation, DataOperationType::kAdd);
  EXPECT_EQ(e->data_index, 0);
  EXPECT_EQ(e->source, OperationSource::kRemote);
  // A null user type means the same; any other type is refused.
  ASSERT_EQ(db().ClearUser(*r.user_index, Actor{}), DlStatus::kSuccess);
  EXPECT_EQ(SetProgrammingPin("909090", DataOperationType::kAdd, UserType::kUnrestrictedUser).status,
            DlStatus::kInvalidField);
  EXPECT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  EXPECT_EQ(db().GetUser(ProgrammingUser()).user.type, UserType::kProgrammingUser);
}

TEST_F(ProgrammingTest, OnlyIndexZeroAndThePinRulesOfTheCluster) {
  SetCredentialRequest req;
  req.credential = {CredentialType::kProgrammingPIN, 1};
  auto data = Bytes("909090");
  req.credential_data = data;
  EXPECT_EQ(db().SetCredential(req, Actor{}).status, DlStatus::kInvalidField);  // INVALID_COMMAND
  EXPECT_EQ(SetProgrammingPin("123").status, DlStatus::kInvalidField);          // too short
  EXPECT_EQ(SetProgrammingPin("12345678901234").status, DlStatus::kInvalidField);
  EXPECT_EQ(SetProgrammingPin("12a456").status, DlStatus::kInvalidField);
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  EXPECT_EQ(SetProgrammingPin("919191").status, DlStatus::kOccupied);  // Add on the occupied slot
  // A non-programming PIN type never makes a ProgrammingUser.
  SetCredentialRequest pin;
  pin.credential = {CredentialType::kPin, 1};
  auto p = Bytes("424242");
  pin.credential_data = p;
  pin.user_type = UserType::kProgrammingUser;
  EXPECT_EQ(db().SetCredential(pin, Actor{}).status, DlStatus::kInvalidField);
  // GetCredentialStatus: exists, user null (as the specification says);
  // another index does not exist.
  auto s = db().GetCredentialStatus({CredentialType::kProgrammingPIN, 0});
  EXPECT_TRUE(s.credential_exists);
  EXPECT_FALSE(s.user_index.has_value());
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kProgrammingPIN, 1}).credential_exists);
}

TEST_F(ProgrammingTest, ModifyIsTheClustersProgrammingPinChange) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  events().clear();
  // Matter's use case: user index and status null, user type ProgrammingUser.
  EXPECT_EQ(SetProgrammingPin("808080", DataOperationType::kModify, UserType::kProgrammingUser).status,
            DlStatus::kSuccess);
  EXPECT_EQ(Last(EventKind::kLockUserChange)->data_type, LockDataType::kProgrammingCode);
  EXPECT_EQ(Last(EventKind::kLockUserChange)->data_operation, DataOperationType::kModify);
  EXPECT_FALSE(db().Find(CredentialType::kProgrammingPIN, Bytes("909090")).has_value());
  EXPECT_TRUE(db().Find(CredentialType::kProgrammingPIN, Bytes("808080")).has_value());
  EXPECT_EQ(SetProgrammingPin("707070", DataOperationType::kModify, UserType::kUnrestrictedUser).status,
            DlStatus::kInvalidField);
  EXPECT_EQ(SetProgrammingPin("707070", DataOperationType::kModify, std::nullopt, uint16_t{5}).status,
            DlStatus::kInvalidField);
}

TEST_F(ProgrammingTest, ClearCredentialNeverNamesTheProgrammingPinButClearUserTakesIt) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  events().clear();
  EXPECT_EQ(db().ClearCredential(CredentialRef{CredentialType::kProgrammingPIN, 0}, Actor{}), DlStatus::kInvalidField);
  // "All of the type" is no exception, and no longer a silent success.
  EXPECT_EQ(db().ClearCredential(CredentialRef{CredentialType::kProgrammingPIN, kClearAllIndex16}, Actor{}),
            DlStatus::kInvalidField);
  EXPECT_EQ(db().ClearCredential(std::nullopt, Actor{}), DlStatus::kSuccess);  // all others
  EXPECT_TRUE(db().GetCredentialStatus({CredentialType::kProgrammingPIN, 0}).credential_exists);
  EXPECT_EQ(Last(EventKind::kLockUserChange)->data_type, LockDataType::kFace);  // nothing of the programming PIN
  ASSERT_EQ(db().ClearUser(ProgrammingUser(), Actor{}), DlStatus::kSuccess);
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kProgrammingPIN, 0}).credential_exists);
}

TEST_F(ProgrammingTest, AUserPinNeverEqualsTheProgrammingPin) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  SetCredentialRequest req;
  req.credential = {CredentialType::kPin, 1};
  auto data = Bytes("909090");
  req.credential_data = data;
  EXPECT_EQ(db().SetCredential(req, Actor{}).status, DlStatus::kDuplicate);
  AddPinUser("515151");
  EXPECT_EQ(SetProgrammingPin("515151", DataOperationType::kModify).status, DlStatus::kDuplicate);
}

// Reviewer finding: SetCredential's duplicate answer told a PIN-managing
// admin, uncounted, whether a code was the programming PIN.
TEST_F(ProgrammingTest, A20_AManagementPinThatClashesIsCountedLikeAWrongPin) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  AddPinUser("515151");
  SetCredentialRequest req;
  req.credential = {CredentialType::kPin, 5};
  std::vector<uint8_t> data;
  auto set = [&](const std::string& pin) {
    data = Bytes(pin);
    req.credential_data = data;
    return lock().SetCredential(req, Actor{OperationSource::kRemote, 1}).status;
  };
  // The programming PIN and another user's PIN answer alike, and count.
  EXPECT_EQ(set("909090"), DlStatus::kDuplicate);
  EXPECT_EQ(set("515151"), DlStatus::kDuplicate);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(set("909090"), DlStatus::kDuplicate);
  EXPECT_FALSE(lock().locked_out());
  EXPECT_EQ(set("515151"), DlStatus::kDuplicate);  // the fifth: limit 5
  EXPECT_TRUE(lock().locked_out());
  // Locked out: every PIN is refused unchecked, the clash says nothing more.
  EXPECT_EQ(set("909090"), DlStatus::kFailure);
  EXPECT_EQ(set("123456"), DlStatus::kFailure);
  // When the lockout has passed, a PIN nobody holds is taken.
  sim_.Run(3'600'000, 1000);
  EXPECT_FALSE(lock().locked_out());
  EXPECT_EQ(set("123456"), DlStatus::kSuccess);
}

TEST_F(ProgrammingTest, TheProgrammingPinSurvivesARestart) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  sim::SimLock rebooted(&sim_.store(), 21);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_TRUE(rebooted.lock().users().GetCredentialStatus({CredentialType::kProgrammingPIN, 0}).credential_exists);
  EXPECT_TRUE(rebooted.lock().users().Find(CredentialType::kProgrammingPIN, Bytes("909090")).has_value());
  EXPECT_EQ(rebooted.lock().dropped_records(), 0u);
}

TEST_F(ProgrammingTest, ThePinNeverOpensTheDoor) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  Type("909090");  // as a user PIN
  EXPECT_TRUE(Locked());
  EXPECT_EQ(Last(EventKind::kLockOperationError)->error, OperationError::kInvalidCredential);
  // Presented as its own type, by any source: refused, counted.
  auto r = lock().PresentCredential(OperationSource::kKeypad, CredentialType::kProgrammingPIN, Bytes("909090"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, OperationError::kInvalidCredential);
  sim_.Run(1500);
  EXPECT_TRUE(Locked());
  // Opening the menu moves nothing either.
  Keys("*909090");
  EXPECT_TRUE(menu().open());
  sim_.Run(1500);
  EXPECT_TRUE(Locked());
  EXPECT_EQ(Count(EventKind::kLockOperation), 0u);
}

// --- The keypad programming menu ---------------------------------------------------------

TEST_F(ProgrammingTest, TheMenuAddsAndDeletesKeypadPinsLoggedWithSourceKeypad) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  AddPinUser("111111");  // slot 1
  events().clear();
  Keys("*909090");
  ASSERT_EQ(menu().step(), MenuStep::kChoose);
  EXPECT_EQ(signals().back(), Signal::kProgramming);
  Keys("1");
  EXPECT_EQ(menu().step(), MenuStep::kNewPin);
  Keys("246802");
  EXPECT_EQ(menu().note(), MenuNote::kPinAdded);
  EXPECT_EQ(menu().slot(), 2);
  EXPECT_EQ(menu().step(), MenuStep::kChoose);
  const LockEvent* e = Last(EventKind::kLockUserChange);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->data_type, LockDataType::kPin);
  EXPECT_EQ(e->data_operation, DataOperationType::kAdd);
  EXPECT_EQ(e->data_index, 2);
  EXPECT_EQ(e->source, OperationSource::kKeypad);
  // Delete slot 1; deleting it again is said to be empty, never "deleted".
  Keys("2");
  Keys("1");
  EXPECT_EQ(menu().note(), MenuNote::kSlotDeleted);
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kPin, 1}).credential_exists);
  EXPECT_EQ(Last(EventKind::kLockUserChange)->source, OperationSource::kKeypad);
  events().clear();
  Keys("2");
  Keys("1");
  EXPECT_EQ(menu().note(), MenuNote::kSlotEmpty);
  EXPECT_EQ(Last(EventKind::kLockUserChange), nullptr);
  Keys("2");
  Keys("99999");
  EXPECT_EQ(menu().note(), MenuNote::kNoSuchSlot);
  // Bad PINs and choices are said, and change nothing.
  Keys("1");
  Keys("12");
  EXPECT_EQ(menu().note(), MenuNote::kPinInvalid);
  Keys("1");
  Keys("909090");
  EXPECT_EQ(menu().note(), MenuNote::kPinDuplicate);
  Keys("7");
  EXPECT_EQ(menu().note(), MenuNote::kBadChoice);
  EXPECT_EQ(Last(EventKind::kLockUserChange), nullptr);
  Keys("0");
  EXPECT_FALSE(menu().open());
  EXPECT_EQ(menu().note(), MenuNote::kExited);
  // Closed, digits are a PIN again: the PIN added at the keypad opens.
  Type("246802");
  EXPECT_TRUE(Open());
}

TEST_F(ProgrammingTest, TheMenuClosesAfterItsIdleTimeout) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  Keys("*909090");
  ASSERT_TRUE(menu().open());
  EXPECT_LE(lock().MillisUntilNextDeadline(), ProgrammingMenu::kIdleTimeoutMs);
  sim_.Run(ProgrammingMenu::kIdleTimeoutMs);
  EXPECT_FALSE(menu().open());
  EXPECT_EQ(menu().note(), MenuNote::kTimedOut);
  Keys("1");  // a PIN entry now, not a menu choice
  EXPECT_FALSE(menu().open());
}

TEST_F(ProgrammingTest, DisabledLocalProgrammingRefusesTheMenuWithoutCheckingThePin) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kEnableLocalProgramming, 0).ok());
  events().clear();
  for (int i = 0; i < 10; ++i) Keys("*909090");
  EXPECT_FALSE(menu().open());
  EXPECT_EQ(menu().note(), MenuNote::kDisabled);
  EXPECT_EQ(signals().back(), Signal::kAccessDenied);
  // Nothing was compared, so nothing was counted.
  EXPECT_FALSE(lock().locked_out());
  EXPECT_EQ(Count(EventKind::kLockOperationError), 0u);
  // Turned off while the menu is open: the next entry closes it.
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kEnableLocalProgramming, 1).ok());
  Keys("*909090");
  ASSERT_TRUE(menu().open());
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kEnableLocalProgramming, 0).ok());
  Keys("1");
  EXPECT_FALSE(menu().open());
  EXPECT_EQ(menu().note(), MenuNote::kDisabled);
}

TEST_F(ProgrammingTest, A15_WrongProgrammingPinsCountTowardsTheKeypadLockout) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  AddPinUser("515151");
  // Limit 5: four wrong programming PINs and one wrong user PIN share one count.
  for (int i = 0; i < 4; ++i) Keys("*000000");
  EXPECT_FALSE(lock().locked_out());
  EXPECT_EQ(menu().note(), MenuNote::kRefused);
  EXPECT_EQ(Last(EventKind::kLockOperationError)->error, OperationError::kInvalidCredential);
  EXPECT_EQ(Last(EventKind::kLockOperationError)->source, OperationSource::kKeypad);
  Keys("000000");
  EXPECT_TRUE(lock().locked_out());
  EXPECT_TRUE(HasAlarm(AlarmCode::kWrongCodeEntryLimit));
  // Locked out: the right programming PIN is refused unchecked, like a PIN.
  Keys("*909090");
  EXPECT_FALSE(menu().open());
  EXPECT_EQ(menu().note(), MenuNote::kLockedOut);
  Type("515151");
  EXPECT_TRUE(Locked());
}

TEST_F(ProgrammingTest, A15_FiveWrongProgrammingPinsAloneLockTheKeypadOutAndTheRightOneRefundsOnlyItself) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  for (int i = 0; i < 4; ++i) Keys("*000000");
  Keys("*909090");  // valid: refunds itself only (A20)
  ASSERT_TRUE(menu().open());
  Keys("0");
  Keys("*000000");
  EXPECT_TRUE(lock().locked_out());
}

TEST_F(ProgrammingTest, A15_ADisabledProgrammingUserIsRefusedAndCounted) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  SetUserRequest m;
  m.operation = DataOperationType::kModify;
  m.user_index = ProgrammingUser();
  m.user_status = UserStatus::kOccupiedDisabled;
  ASSERT_EQ(db().SetUser(m, Actor{}), DlStatus::kSuccess);
  for (int i = 0; i < 4; ++i) Keys("*000000");
  Keys("*909090");
  EXPECT_FALSE(menu().open());
  EXPECT_TRUE(lock().locked_out());
}

TEST_F(ProgrammingTest, A20_TheMenuIsNoFasterAPinOracleThanTheKeypad) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  AddPinUser("515151");
  Keys("*909090");
  ASSERT_TRUE(menu().open());
  // Adding PINs that succeed or are malformed costs nothing ...
  Keys("1");
  Keys("246802");
  ASSERT_EQ(menu().note(), MenuNote::kPinAdded);
  Keys("1");
  Keys("12");
  ASSERT_EQ(menu().note(), MenuNote::kPinInvalid);
  // ... but "already in use" is a wrong code: the fifth closes the menu
  // in a lockout.
  for (int i = 0; i < 5; ++i) {
    Keys("1");
    Keys("515151");
  }
  EXPECT_TRUE(lock().locked_out());
  EXPECT_FALSE(menu().open());
  EXPECT_EQ(menu().note(), MenuNote::kLockedOut);
  EXPECT_TRUE(HasAlarm(AlarmCode::kWrongCodeEntryLimit));
}

TEST_F(ProgrammingTest, PrivacyModeKeepsTheMenuShut) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, static_cast<int64_t>(OperatingMode::kPrivacy)).ok());
  Keys("*909090");
  EXPECT_FALSE(menu().open());
  EXPECT_EQ(menu().note(), MenuNote::kRefused);
}

TEST_F(ProgrammingTest, AFactoryResetClosesTheMenuAndForgetsTheProgrammingPin) {
  ASSERT_EQ(SetProgrammingPin("909090").status, DlStatus::kSuccess);
  Keys("*909090");
  ASSERT_TRUE(menu().open());
  ASSERT_TRUE(lock().FactoryReset().ok());
  EXPECT_FALSE(menu().open());
  EXPECT_FALSE(db().GetCredentialStatus({CredentialType::kProgrammingPIN, 0}).credential_exists);
}

}  // namespace
}  // namespace mortise::core::testing
