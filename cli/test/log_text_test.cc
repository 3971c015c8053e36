#include "log_text.h"

#include <gtest/gtest.h>

#include "output.h"

namespace mortise::cli {
namespace {

using core::CredentialType;
using core::EventDetail;
using core::EventKind;
using core::LockEvent;
using core::LockOperationType;
using core::OperationSource;

LockEvent Op(LockOperationType op, OperationSource source) {
  LockEvent e;
  e.kind = EventKind::kLockOperation;
  e.operation = op;
  e.source = source;
  return e;
}

TEST(LogText, NamesTheUserAndTellsAStoredPinFromAnOfflineCode) {
  LockEvent e = Op(LockOperationType::kUnlock, OperationSource::kKeypad);
  e.user_index = 1;
  e.has_credential = true;
  e.credential = {CredentialType::kPin, 1};
  EXPECT_EQ(DescribeEvent(e, {"alice (user 1)", ""}), "unlocked at the keypad by alice (user 1) with stored PIN #1");
  EXPECT_EQ(DescribeEvent(e, {}), "unlocked at the keypad by user 1 with stored PIN #1");
  LockEvent offline = Op(LockOperationType::kUnlock, OperationSource::kKeypad);
  offline.has_credential = true;
  offline.credential = {CredentialType::kPin, 0};
  offline.detail = EventDetail::kOfflinePin;
  EXPECT_EQ(DescribeEvent(offline, {}), "unlocked at the keypad with an offline PIN code");
}

TEST(LogText, TellsUnlatchFromUnlockAndPassageModeFromARemoteUnlock) {
  LockEvent e = Op(LockOperationType::kUnlatch, OperationSource::kProprietaryRemote);
  e.has_credential = true;
  e.credential = {CredentialType::kAliroEvictableEndpointKey, 1};
  EXPECT_EQ(DescribeEvent(e, {"", "key 'gus'"}),
            "unlatched (bolt and latch pulled: the door opens) over a session with key 'gus'");
  LockEvent passage = Op(LockOperationType::kUnlock, OperationSource::kRemote);
  passage.detail = EventDetail::kPassageMode;
  EXPECT_EQ(DescribeEvent(passage, {}), "unlocked by passage mode (held open for anyone; no one asked)");
  EXPECT_EQ(DescribeEvent(Op(LockOperationType::kUnlock, OperationSource::kRemote), {}),
            "unlocked by a signed remote command");
}

TEST(LogText, ModeChangesListsDeliveredAndRefusedKeysInWords) {
  LockEvent mode;
  mode.kind = EventKind::kOperatingModeChange;
  mode.source = OperationSource::kProprietaryRemote;
  mode.data_index = static_cast<uint16_t>(core::OperatingMode::kVacation);
  EXPECT_EQ(DescribeEvent(mode, {}), "mode changed to vacation over a session");
  LockEvent list;
  list.kind = EventKind::kAccessListChange;
  list.source = OperationSource::kProprietaryRemote;
  list.has_credential = true;
  list.credential = {CredentialType::kAliroNonEvictableEndpointKey, 0};
  list.data_index = 2;
  EXPECT_EQ(DescribeEvent(list, {"", "the owner's key"}),
            "access list delivered over a session with the owner's key (2 key(s) now revoked or suspended)");
  LockEvent refused;
  refused.kind = EventKind::kKeyRefused;
  refused.source = OperationSource::kRemote;
  refused.detail = EventDetail::kKeyUsesSpent;
  refused.data_index = 3;
  EXPECT_EQ(DescribeEvent(refused, {}),
            "key refused by a signed remote command: its uses are spent (3 more refusal(s) before this one were not "
            "recorded: rate limit)");
}

TEST(CliJson, LockAnswersFollowTheCliSchema) {
  EXPECT_EQ(LowerWords("WeekDayScheduleUser", '-'), "week-day-schedule-user");
  EXPECT_EQ(LowerWords("PIN", '-'), "pin");
  EXPECT_EQ(LowerWords("userUniqueID", '_'), "user_unique_id");
  EXPECT_EQ(LowerWords("PINCode", '_'), "pin_code");
  const nlohmann::json answer = {{"ok", true},          {"status", "Success"},       {"userIndex", 1},
                                 {"userName", "Alice"}, {"userType", "ForcedUser"},  {"nextUserIndex", 2},
                                 {"utc", 1795507200},   {"localStartTime", 1795478400},
                                 {"credentials", {{{"credentialType", "RFID"}, {"credentialIndex", 2}}}}};
  const nlohmann::json cli = CliJsonFromLock(answer);
  const nlohmann::json want = {{"user_index", 1},
                               {"user_name", "Alice"},
                               {"user_type", "forced-user"},
                               {"time", "2026-11-24T08:00:00Z"},
                               {"local_start_time", "2026-11-24T00:00:00"},
                               {"credentials", {{{"credential_type", "rfid"}, {"credential_index", 2}}}}};
  EXPECT_EQ(cli, want) << cli.dump();
  EXPECT_TRUE(CliJsonFromLock({{"utc", 0}})["time"].is_null());
}

}  // namespace
}  // namespace mortise::cli
