#include "mortise/core/programming_menu.h"

#include "mortise/core/door_lock.h"
#include "mortise/crypto/secret.h"

namespace mortise::core {
namespace {

// A decimal number of at most 5 digits, else nullopt.
std::optional<uint32_t> Number(std::span<const uint8_t> digits) {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  uint32_t n = 0;
  for (uint8_t d : digits) {
    if (d < '0' || d > '9') return std::nullopt;
    n = n * 10 + (d - '0');
  }
  return n;
}

bool Is(std::span<const uint8_t> digits, char c) { return digits.size() == 1 && digits[0] == c; }

}  // namespace

void ProgrammingMenu::OnEntry(const PinEntry& entry, uint64_t now_ms) {
  const uint8_t n = entry.length <= sizeof(entry.digits) ? entry.length : uint8_t(sizeof(entry.digits));
  const std::span<const uint8_t> digits(entry.digits, n);
  if (!lock_.settings().enable_local_programming) {
    // Refused before the PIN is looked at: nothing is compared, so nothing
    // is counted either. An open menu closes.
    step_ = MenuStep::kClosed;
    Note(MenuNote::kDisabled, false);
    return;
  }
  switch (step_) {
    case MenuStep::kClosed:
      if (!Authenticate(digits)) return;
      step_ = MenuStep::kChoose;
      Note(MenuNote::kOpened, true);
      break;
    case MenuStep::kChoose: Choose(digits); break;
    case MenuStep::kNewPin: AddPin(digits); break;
    case MenuStep::kSlotToDelete: DeleteSlot(digits); break;
  }
  if (open()) deadline_ms_ = now_ms + kIdleTimeoutMs;
}

void ProgrammingMenu::Service(uint64_t now_ms) {
  if (open() && now_ms >= deadline_ms_) Close(MenuNote::kTimedOut);
}

void ProgrammingMenu::Close(MenuNote why) {
  if (!open()) return;
  step_ = MenuStep::kClosed;
  note_ = why;
}

bool ProgrammingMenu::Authenticate(std::span<const uint8_t> pin) {
  DoorLock& l = lock_;
  DoorLock::Requester who;
  who.source = OperationSource::kKeypad;
  const LockOperationType op = LockOperationType::kUnlock;
  // The order of PresentCredential: lockout, privacy, count, then look.
  if (l.locked_out()) {
    l.Deny(op, who, OperationError::kRestricted, EventDetail::kLockedOut);
    note_ = MenuNote::kLockedOut;
    return false;
  }
  if (l.effective_mode() == OperatingMode::kPrivacy) {
    l.Deny(op, who, OperationError::kRestricted, EventDetail::kModeRestricted);
    note_ = MenuNote::kRefused;
    return false;
  }
  if (!l.RecordAttempt()) {
    l.Deny(op, who, OperationError::kUnspecified, EventDetail::kNone);
    note_ = MenuNote::kFailed;
    return false;
  }
  const auto match = l.db_.Find(CredentialType::kProgrammingPIN, pin);
  const User* user = match ? l.db_.user(match->user_index) : nullptr;
  if (user != nullptr) {
    who.user_index = match->user_index;
    who.has_credential = true;
    who.credential = match->credential;
  }
  if (user == nullptr || user->status != UserStatus::kOccupiedEnabled) {
    l.CheckFailureLimit();  // the lockout is stored before the refusal shows
    l.Deny(op, who, user == nullptr ? OperationError::kInvalidCredential : OperationError::kDisabledUserDenied,
           EventDetail::kNone);
    note_ = l.locked_out() ? MenuNote::kLockedOut : MenuNote::kRefused;
    return false;
  }
  l.RefundAttempt();
  return true;
}

void ProgrammingMenu::Choose(std::span<const uint8_t> digits) {
  if (Is(digits, '1')) {
    step_ = MenuStep::kNewPin;
    Note(MenuNote::kNone, true);
  } else if (Is(digits, '2')) {
    step_ = MenuStep::kSlotToDelete;
    Note(MenuNote::kNone, true);
  } else if (Is(digits, '0')) {
    Close(MenuNote::kExited);
    lock_.Indicate(Signal::kProgramming);
  } else {
    Note(MenuNote::kBadChoice, false);
  }
}

void ProgrammingMenu::AddPin(std::span<const uint8_t> pin) {
  step_ = MenuStep::kChoose;
  UserDatabase& db = lock_.db_;
  uint16_t index = 0;
  for (uint16_t i = 1; i <= UserDatabase::MaxIndex(CredentialType::kPin); ++i) {
    if (!db.GetCredentialStatus({CredentialType::kPin, i}).credential_exists) {
      index = i;
      break;
    }
  }
  if (index == 0) return Note(MenuNote::kPinsFull, false);
  // "Already in use" says that a PIN is someone's: each new PIN is counted
  // as an attempt first, and a duplicate stays counted as a wrong code, so
  // the menu is no faster a PIN oracle than the keypad itself (A15, A20).
  DoorLock& l = lock_;
  if (!l.RecordAttempt()) return Note(MenuNote::kFailed, false);
  SetCredentialRequest req;
  req.operation = DataOperationType::kAdd;
  req.credential = {CredentialType::kPin, index};
  req.credential_data = pin;
  const SetCredentialResponse r = db.SetCredential(req, Actor{OperationSource::kKeypad, 0});
  if (r.status == DlStatus::kDuplicate) {
    l.CheckFailureLimit();
    if (l.locked_out()) {
      Close(MenuNote::kLockedOut);
      return l.Indicate(Signal::kLockedOut);
    }
    return Note(MenuNote::kPinDuplicate, false);
  }
  l.RefundAttempt();
  switch (r.status) {
    case DlStatus::kSuccess:
      slot_ = index;
      return Note(MenuNote::kPinAdded, true);
    case DlStatus::kInvalidField: return Note(MenuNote::kPinInvalid, false);
    case DlStatus::kResourceExhausted: return Note(MenuNote::kPinsFull, false);
    default: return Note(MenuNote::kFailed, false);
  }
}

void ProgrammingMenu::DeleteSlot(std::span<const uint8_t> digits) {
  step_ = MenuStep::kChoose;
  UserDatabase& db = lock_.db_;
  const auto n = Number(digits);
  if (!n || *n < 1 || *n > UserDatabase::MaxIndex(CredentialType::kPin)) return Note(MenuNote::kNoSuchSlot, false);
  const CredentialRef ref{CredentialType::kPin, static_cast<uint16_t>(*n)};
  slot_ = ref.index;
  // Deleting an empty slot is said to be a no-op, never reported as done.
  if (!db.GetCredentialStatus(ref).credential_exists) return Note(MenuNote::kSlotEmpty, false);
  if (db.ClearCredential(ref, Actor{OperationSource::kKeypad, 0}) != DlStatus::kSuccess)
    return Note(MenuNote::kFailed, false);
  Note(MenuNote::kSlotDeleted, true);
}

void ProgrammingMenu::Note(MenuNote note, bool good) {
  note_ = note;
  lock_.Indicate(good ? Signal::kProgramming : Signal::kAccessDenied);
}

}  // namespace mortise::core
