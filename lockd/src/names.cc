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

const char* MenuStepName(core::MenuStep s) {
  switch (s) {
    case core::MenuStep::kClosed: return "closed";
    case core::MenuStep::kChoose: return "choose";
    case core::MenuStep::kNewPin: return "new_pin";
    case core::MenuStep::kSlotToDelete: return "slot_to_delete";
  }
  return "unknown";
}

const char* MenuNoteName(core::MenuNote n) {
  switch (n) {
    case core::MenuNote::kNone: return "none";
    case core::MenuNote::kDisabled: return "disabled";
    case core::MenuNote::kLockedOut: return "locked_out";
    case core::MenuNote::kRefused: return "refused";
    case core::MenuNote::kOpened: return "opened";
    case core::MenuNote::kPinAdded: return "pin_added";
    case core::MenuNote::kPinInvalid: return "pin_invalid";
    case core::MenuNote::kPinDuplicate: return "pin_duplicate";
    case core::MenuNote::kPinsFull: return "pins_full";
    case core::MenuNote::kSlotDeleted: return "slot_deleted";
    case core::MenuNote::kSlotEmpty: return "slot_empty";
    case core::MenuNote::kNoSuchSlot: return "no_such_slot";
    case core::MenuNote::kBadChoice: return "bad_choice";
    case core::MenuNote::kFailed: return "failed";
    case core::MenuNote::kExited: return "exited";
    case core::MenuNote::kTimedOut: return "timed_out";
  }
  return "unknown";
}

std::string ProgrammingText(const core::ProgrammingMenu& menu) {
  using core::MenuNote;
  const std::string slot = std::to_string(menu.slot());
  std::string note;
  switch (menu.note()) {
    case MenuNote::kNone: break;
    case MenuNote::kDisabled:
      note = "programming at the keypad is off (EnableLocalProgramming is false): menu refused";
      break;
    case MenuNote::kLockedOut: note = "keypad locked out after wrong codes: programming menu refused"; break;
    case MenuNote::kRefused: note = "programming PIN refused"; break;
    case MenuNote::kOpened: note = "programming menu open"; break;
    case MenuNote::kPinAdded: note = "PIN added in slot " + slot; break;
    case MenuNote::kPinInvalid: note = "PIN not added: a PIN has 4 to 12 digits"; break;
    case MenuNote::kPinDuplicate: note = "PIN not added: that PIN is already in use"; break;
    case MenuNote::kPinsFull: note = "PIN not added: every PIN slot is taken"; break;
    case MenuNote::kSlotDeleted: note = "PIN slot " + slot + " deleted"; break;
    case MenuNote::kSlotEmpty: note = "PIN slot " + slot + " is empty: nothing deleted"; break;
    case MenuNote::kNoSuchSlot: note = "no such PIN slot: nothing deleted"; break;
    case MenuNote::kBadChoice: note = "choose 1, 2 or 0"; break;
    case MenuNote::kFailed: note = "not saved: the lock could not store the change"; break;
    case MenuNote::kExited: note = "programming menu closed"; break;
    case MenuNote::kTimedOut:
      note = "programming menu closed after " + std::to_string(core::ProgrammingMenu::kIdleTimeoutMs / 1000) +
             " s without a key";
      break;
  }
  const char* prompt = nullptr;
  switch (menu.step()) {
    case core::MenuStep::kClosed: break;
    case core::MenuStep::kChoose: prompt = "1# add a user PIN, 2# delete a PIN slot, 0# exit"; break;
    case core::MenuStep::kNewPin: prompt = "type the new PIN (4-12 digits), then #"; break;
    case core::MenuStep::kSlotToDelete: prompt = "type the number of the PIN slot to delete, then #"; break;
  }
  if (prompt == nullptr) return note;
  return note.empty() ? prompt : note + "; " + prompt;
}

}  // namespace mortise::lockd
