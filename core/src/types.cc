#include "mortise/core/event.h"
#include "mortise/core/types.h"

namespace mortise::core {

const char* DlStatusName(DlStatus s) {
  switch (s) {
    case DlStatus::kSuccess: return "Success";
    case DlStatus::kFailure: return "Failure";
    case DlStatus::kDuplicate: return "Duplicate";
    case DlStatus::kOccupied: return "Occupied";
    case DlStatus::kInvalidField: return "InvalidField";
    case DlStatus::kResourceExhausted: return "ResourceExhausted";
    case DlStatus::kNotFound: return "NotFound";
  }
  return "Unknown";
}

const char* BoltStateName(BoltState s) {
  switch (s) {
    case BoltState::kLocked: return "locked";
    case BoltState::kLocking: return "locking";
    case BoltState::kUnlocked: return "unlocked";
    case BoltState::kUnlocking: return "unlocking";
    case BoltState::kUnlatched: return "unlatched";
    case BoltState::kNotFullyLocked: return "not-fully-locked";
    case BoltState::kJammed: return "jammed";
  }
  return "unknown";
}

LockState ToLockState(BoltState s) {
  switch (s) {
    case BoltState::kLocked: return LockState::kLocked;
    case BoltState::kUnlocked: return LockState::kUnlocked;
    case BoltState::kUnlatched: return LockState::kUnlatched;
    // While moving, the state being left is still the truth about the door.
    case BoltState::kLocking: return LockState::kUnlocked;
    case BoltState::kUnlocking: return LockState::kLocked;
    case BoltState::kNotFullyLocked:
    case BoltState::kJammed: return LockState::kNotFullyLocked;
  }
  return LockState::kNotFullyLocked;
}

const char* EventKindName(EventKind k) {
  switch (k) {
    case EventKind::kLockOperation: return "LockOperation";
    case EventKind::kLockOperationError: return "LockOperationError";
    case EventKind::kLockUserChange: return "LockUserChange";
    case EventKind::kDoorStateChange: return "DoorStateChange";
    case EventKind::kDoorLockAlarm: return "DoorLockAlarm";
    case EventKind::kOperatingModeChange: return "OperatingModeChange";
    case EventKind::kAccessListChange: return "AccessListChange";
    case EventKind::kKeyRefused: return "KeyRefused";
  }
  return "Unknown";
}

}  // namespace mortise::core
