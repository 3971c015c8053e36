// Events the lock emits, in the Matter vocabulary: LockOperation,
// LockOperationError, LockUserChange, DoorStateChange and DoorLockAlarm, each
// with its source, user and credential and a timestamp.
#pragma once

#include <cstdint>

#include "mortise/core/types.h"

namespace mortise::core {

enum class EventKind : uint8_t {
  kLockOperation = 0,
  kLockOperationError = 1,
  kLockUserChange = 2,
  kDoorStateChange = 3,
  kDoorLockAlarm = 4,
  // Mortise kinds (not Matter events; the MLG2 record's kind field has room
  // for 8, docs/storage-format.md section 4.3).
  // The effective operating mode changed (an owner's command, a holiday
  // schedule, privacy ended from inside): data_index = the new mode
  // (OperatingMode), source = who or what changed it.
  kOperatingModeChange = 5,
  // A signed access list (revocations, suspensions, issuer epochs) was
  // delivered and applied: data_index = the keys it revokes or suspends,
  // credential = the key that carried it.
  kAccessListChange = 6,
  // A key whose holder proved possession was refused (revoked, outside its
  // validity, uses spent, time unknown): detail = why. Rate-limited
  // (DoorLock::kKeyRefusalBurst): data_index = refusals not recorded since
  // the previous record of this kind.
  kKeyRefused = 7,
};

// Mortise detail for manual operations and errors, carried in LockEvent::detail.
enum class EventDetail : uint8_t {
  kNone = 0,
  kInsideThumbTurn = 1,
  kInsideHandle = 2,
  kMechanicalKey = 3,      // the key cylinder override was used
  kOutsideButton = 4,      // one-touch locking
  kUnexplainedMotion = 5,  // the bolt moved with no motor and no manual input seen
  kLockedOut = 6,          // refused: wrong-code lockout in force
  kModeRestricted = 7,     // refused: the operating mode forbids this source
  kScheduleRestricted = 8, // refused: outside the user's schedules
  kTimeUnknown = 9,        // refused: a time-limited right and the lock's time is unknown
  kMotorJammed = 10,       // the motor failed to reach its end position
  kCredentialPartial = 11, // a dual/tri credential rule still waits for more credentials
  kPinRequired = 12,       // remote operation without the PIN the lock requires
  kUserExpired = 13,
  kPrivacyButton = 14,
  kEmergencyPower = 15,
  kLockReserve = 16,       // refused: battery below the locking threshold (unlock still allowed)
  kUnlockReserve = 17,     // refused: battery below the last unlock reserve
  kNonAccessUser = 18,     // a non-access user's credential: recorded, never opens
  kOfflinePin = 19,        // an offline PIN code (offline_pin.h)
  kUtcOffsetChanged = 20,  // LockUserChange: the time zone (UtcOffset) moved; every local-time right moved with it
  kPassageMode = 21,       // LockOperation: the unlock that entering passage mode made (not a person's request)
  kSuperseded = 22,        // LockOperationError: a newer request for another end position took over the motor
  kKeyRevoked = 23,        // kKeyRefused: revoked or suspended by the owner or an admin (or for another lock)
  kKeyNotValidNow = 24,    // kKeyRefused: expired, not yet valid, outside its weekly schedule, or its token too old
  kKeyUsesSpent = 25,      // kKeyRefused: a use-limited key with no use left
  kKeyNotIssued = 26,      // kKeyRefused: a chain the owner did not sign (a stranger's or a forged key)
  kOwnershipTransferred = 27,  // LockUserChange: the owner handed the lock to another owner key (data_index 1: users cleared too)
};

struct LockEvent {
  EventKind kind = EventKind::kLockOperation;
  // Wall-clock UTC seconds, or 0 while the lock's time is unknown.
  int64_t utc_seconds = 0;
  // Milliseconds since this boot; orders events when the time is unknown.
  uint64_t monotonic_ms = 0;

  OperationSource source = OperationSource::kUnspecified;
  LockOperationType operation = LockOperationType::kLock;  // LockOperation(Error)
  OperationError error = OperationError::kUnspecified;     // LockOperationError
  AlarmCode alarm = AlarmCode::kLockJammed;                 // DoorLockAlarm
  DoorState door_state = DoorState::kDoorClosed;            // DoorStateChange
  // LockUserChange.
  LockDataType data_type = LockDataType::kUnspecified;
  DataOperationType data_operation = DataOperationType::kAdd;
  uint16_t data_index = 0;

  uint16_t user_index = 0;  // 0: no user
  bool has_credential = false;
  CredentialRef credential;
  EventDetail detail = EventDetail::kNone;
};

const char* EventKindName(EventKind k);

}  // namespace mortise::core
