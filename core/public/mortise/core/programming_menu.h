// The keypad programming menu, governed by the EnableLocalProgramming
// attribute: the holder of the programming PIN (Matter credential type
// ProgrammingPIN, index 0, held by a ProgrammingUser) adds and deletes
// keypad PINs at the lock itself, with no phone.
//
// Keypad entries (each ends with '#'):
//   * PIN #     opens the menu: the programming PIN, checked under the same
//               attempt counter and lockout as a user PIN (a wrong one is a
//               wrong code); refused unchecked when EnableLocalProgramming
//               is off (nothing counted, nothing compared)
//   1 #         then NEWPIN #: adds a user PIN in the first free PIN slot
//               (a new UnrestrictedUser, as SetCredential with a null user);
//               a NEWPIN already in use is a wrong code (no PIN oracle)
//   2 #         then SLOT #: deletes the PIN in that slot (its user goes
//               with its last credential, as ClearCredential)
//   0 #         closes the menu; so do kIdleTimeoutMs without an entry,
//               a factory reset, and EnableLocalProgramming turned off
// Every change goes through the user database with source Keypad, so it is
// logged (LockUserChange) like any other. The programming PIN itself never
// opens the door. One state machine of its own; the lock routes keypad
// entries here while it is open or when they begin with '*'.
#pragma once

#include <cstdint>
#include <span>

#include "mortise/core/keypad.h"
#include "mortise/core/types.h"

namespace mortise::core {

class DoorLock;

enum class MenuStep : uint8_t {
  kClosed = 0,
  kChoose,       // waits for 1, 2 or 0
  kNewPin,       // waits for the PIN to add
  kSlotToDelete  // waits for the PIN slot to delete
};

// What the last entry did (for the lock's face and the tests).
enum class MenuNote : uint8_t {
  kNone = 0,
  kDisabled,       // EnableLocalProgramming is off: refused, PIN not checked
  kLockedOut,      // the wrong-code lockout is in force
  kRefused,        // wrong programming PIN (counted), or its user disabled, or privacy mode
  kOpened,
  kPinAdded,       // slot(): where
  kPinInvalid,     // not 4-12 digits
  kPinDuplicate,   // the PIN is another user's, or the programming PIN
  kPinsFull,       // no free PIN slot or user
  kSlotDeleted,    // slot(): which
  kSlotEmpty,      // nothing deleted
  kNoSuchSlot,     // not a PIN slot number
  kBadChoice,
  kFailed,         // the store refused the change: nothing changed
  kExited,
  kTimedOut,
};

class ProgrammingMenu {
 public:
  static constexpr uint32_t kIdleTimeoutMs = 30'000;

  explicit ProgrammingMenu(DoorLock& lock) : lock_(lock) {}

  // One completed keypad entry (the lock calls this; see the top).
  void OnEntry(const PinEntry& entry, uint64_t now_ms);
  // Closes the menu after kIdleTimeoutMs without an entry.
  void Service(uint64_t now_ms);
  void Close(MenuNote why);

  bool open() const { return step_ != MenuStep::kClosed; }
  // Monotonic ms at which an open menu times out (meaningless when closed).
  uint64_t deadline_ms() const { return deadline_ms_; }
  MenuStep step() const { return step_; }
  MenuNote note() const { return note_; }
  uint16_t slot() const { return slot_; }

 private:
  // The programming PIN check: true when it names an enabled programming
  // user; a refusal is counted, logged and shown as a wrong user PIN is.
  bool Authenticate(std::span<const uint8_t> pin);
  void Choose(std::span<const uint8_t> digits);
  void AddPin(std::span<const uint8_t> pin);
  void DeleteSlot(std::span<const uint8_t> digits);
  void Note(MenuNote note, bool good);

  DoorLock& lock_;
  MenuStep step_ = MenuStep::kClosed;
  MenuNote note_ = MenuNote::kNone;
  uint16_t slot_ = 0;
  uint64_t deadline_ms_ = 0;
};

}  // namespace mortise::core
