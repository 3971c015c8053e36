#include "names.h"

namespace mortise::lockd {

const char* SignalName(core::Signal s) {
  switch (s) {
    case core::Signal::kAccessGranted: return "AccessGranted";
    case core::Signal::kAccessDenied: return "AccessDenied";
    case core::Signal::kMoreCredentialsNeeded: return "MoreCredentialsNeeded";
    case core::Signal::kLockedOut: return "LockedOut";
    case core::Signal::kLocked: return "Locked";
    case core::Signal::kUnlocked: return "Unlocked";
    case core::Signal::kJammed: return "Jammed";
    case core::Signal::kBatteryLow: return "BatteryLow";
    case core::Signal::kBatteryCritical: return "BatteryCritical";
    case core::Signal::kAlarm: return "Alarm";
    case core::Signal::kProgramming: return "Programming";
  }
  return "Unknown";
}

const char* DoorStateName(core::DoorState s) {
  switch (s) {
    case core::DoorState::kDoorOpen: return "DoorOpen";
    case core::DoorState::kDoorClosed: return "DoorClosed";
    case core::DoorState::kDoorJammed: return "DoorJammed";
    case core::DoorState::kDoorForcedOpen: return "DoorForcedOpen";
    case core::DoorState::kDoorUnspecifiedError: return "DoorUnspecifiedError";
    case core::DoorState::kDoorAjar: return "DoorAjar";
  }
  return "Unknown";
}

const char* LockStateName(core::LockState s) {
  switch (s) {
    case core::LockState::kNotFullyLocked: return "NotFullyLocked";
    case core::LockState::kLocked: return "Locked";
    case core::LockState::kUnlocked: return "Unlocked";
    case core::LockState::kUnlatched: return "Unlatched";
  }
  return "Unknown";
}

const char* OperatingModeName(core::OperatingMode m) {
  switch (m) {
    case core::OperatingMode::kNormal: return "Normal";
    case core::OperatingMode::kVacation: return "Vacation";
    case core::OperatingMode::kPrivacy: return "Privacy";
    case core::OperatingMode::kNoRemoteLockUnlock: return "NoRemoteLockUnlock";
    case core::OperatingMode::kPassage: return "Passage";
  }
  return "Unknown";
}

}  // namespace mortise::lockd
