#include "refusal.h"

namespace mortise::cli {
namespace {

using core::EventDetail;
using core::OperationError;

// One row of a reason table: the lock's code, and what the CLI says.
template <typename Code>
struct Row {
  Code code;
  const char* why;
  const char* hint;
};

template <typename Code, size_t N>
std::optional<Refusal> Lookup(const Row<Code> (&rows)[N], Code code) {
  for (const Row<Code>& row : rows) {
    if (row.code == code) return Refusal{ExitCode::kRefused, row.why, row.hint};
  }
  return std::nullopt;
}

// The core's reasons (core/event.h EventDetail). kModeRestricted and
// kLockedOut are completed from the context (which mode, how long).
constexpr Row<EventDetail> kDetails[] = {
    {EventDetail::kScheduleRestricted, "it is outside this user's or key's schedule",
     "Try again within the schedule (the owner sees it with `mortise schedule weekday list --user N` or `mortise key "
     "list`)."},
    {EventDetail::kTimeUnknown, "the lock does not know the time, and this right is time-limited",
     "The owner sets the lock's clock: mortise time sync."},
    {EventDetail::kPinRequired, "the lock requires a PIN with remote operations (RequirePINforRemoteOperation)",
     "Use the keypad, or the owner turns the requirement off: mortise dl write RequirePINforRemoteOperation false."},
    {EventDetail::kUserExpired, "this user has expired", "The owner can re-enable the user: mortise user enable N."},
    {EventDetail::kLockReserve,
     "the battery is too low to lock: what is left is kept so the door can still be unlocked",
     "Replace the batteries; unlocking still works."},
    {EventDetail::kUnlockReserve, "the battery is at its last reserve",
     "Replace the batteries or connect emergency power; the mechanical key always works."},
    {EventDetail::kNonAccessUser, "this is a non-access user: the lock records it and never opens",
     "The owner can change the user's type: mortise user update N --type unrestricted."},
    {EventDetail::kCredentialPartial, "this user's credential rule needs more credentials (dual or tri)",
     "Present the user's other credentials within the time the lock allows."},
    {EventDetail::kOfflinePin, "the offline PIN code was refused (wrong, used, expired or erased)",
     "Ask the owner for a new code: mortise pin offline."},
    {EventDetail::kMotorJammed, "the motor jammed before the bolt reached its end",
     "Check that nothing blocks the bolt (door closed and aligned), then try again."},
};

// Matter's OperationErrorEnum, when the lock gave no detail.
constexpr Row<OperationError> kErrors[] = {
    {OperationError::kInvalidCredential, "the lock did not accept the credential",
     "Check the credential, or ask the owner for a new one."},
    {OperationError::kDisabledUserDenied, "this user is disabled", "The owner can enable it: mortise user enable N."},
    {OperationError::kRestricted, "the lock restricts this operation now (mode, schedule or lockout)",
     "See mortise status."},
    {OperationError::kInsufficientBattery, "the battery is too low for this operation",
     "Replace the batteries or connect emergency power."},
};

Refusal ModeRefusal(const RefusalContext& c) {
  if (!c.mode.has_value()) {
    return {ExitCode::kRefused, "the lock's operating mode does not allow this", "See the mode with mortise mode."};
  }
  switch (*c.mode) {
    case core::OperatingMode::kPrivacy:
      return {ExitCode::kRefused, "the lock is in privacy mode: someone inside asked not to be disturbed",
              "It opens from inside; the owner can end it with mortise mode normal."};
    case core::OperatingMode::kVacation:
      return {ExitCode::kRefused, "the lock is in vacation mode: keypad, cards and fingerprints are off",
              "The owner ends it with mortise mode normal."};
    case core::OperatingMode::kNoRemoteLockUnlock:
      return {ExitCode::kRefused, "the lock is in no-remote mode: commands from afar are off",
              "Use a direct session at the door (without --remote), or the owner runs mortise mode normal."};
    default:
      return {ExitCode::kRefused, "the lock's operating mode does not allow this", "See the mode with mortise mode."};
  }
}

}  // namespace

Refusal ExplainStatus(StatusCode code, RefusalStage stage) {
  const bool handshake = stage == RefusalStage::kHandshake;
  switch (code) {
    case StatusCode::kPermissionDenied:
      return handshake ? Refusal{ExitCode::kRefused,
                                 "the lock refused this key: the owner revoked or disabled it (or it is for another "
                                 "lock, or it needs a revalidation token)",
                                 "Ask the lock's owner for a new key (or a token: mortise key token)."}
                       : Refusal{ExitCode::kRefused,
                                 "this key is not allowed to do that: its role or permissions do not include it, or "
                                 "it was revoked since",
                                 "See your key's terms with mortise key list; ask the owner for a key that allows it."};
    case StatusCode::kResourceExhausted:
      return handshake ? Refusal{ExitCode::kRefused, "the lock has no free session slot for this key",
                                 "Try again in a few seconds (idle sessions time out)."}
                       : Refusal{ExitCode::kRefused, "the key's uses are spent",
                                 "Ask the owner for a new key (mortise key list shows the uses it had)."};
    case StatusCode::kOutOfRange:
      return handshake ? Refusal{ExitCode::kRefused,
                                 "the key is not valid at the lock's current time: expired, not yet valid, outside its "
                                 "weekly schedule, or its revalidation token is too old",
                                 "See the key's terms with mortise key list; the owner can check the lock's clock with "
                                 "mortise time show."}
                       // The key is re-checked at every command (it may have expired or left its
                       // schedule since the handshake), and values are range-checked too.
                       : Refusal{ExitCode::kRefused,
                                 "the key is outside its validity or weekly schedule now, or a value is out of the "
                                 "range the lock accepts",
                                 "See your key's terms with mortise key list, and the command's values with mortise "
                                 "<command> --help."};
    case StatusCode::kFailedPrecondition:
      return Refusal{ExitCode::kRefused,
                     "the lock cannot accept this now: its time is unknown and the key is time-limited, or it is not "
                     "claimed",
                     "The owner sets the lock's clock: mortise time sync."};
    case StatusCode::kUnavailable:
      return Refusal{ExitCode::kRefused, "the lock is locked out after too many failed attempts",
                     "Wait until the lockout ends (mortise status shows it) and try again."};
    case StatusCode::kAborted:
      return Refusal{ExitCode::kRefused, "the lock refused the operation (it gave no reason)", "See mortise status."};
    case StatusCode::kInvalidArgument:
      return Refusal{ExitCode::kBadInput, "the lock refused the request as malformed",
                     "Check the command's values (see mortise <command> --help)."};
    case StatusCode::kNotFound:
      return Refusal{ExitCode::kBadInput, "the lock has no such entry", "List what exists first (the list command)."};
    case StatusCode::kAlreadyExists:
      return Refusal{ExitCode::kRefused, "the lock already has that", "Nothing to do."};
    case StatusCode::kUnimplemented:
      return Refusal{ExitCode::kInternal, "the lock does not support this yet", "Update the lock's firmware."};
    case StatusCode::kUnauthenticated:
      return Refusal{ExitCode::kVerification,
                     "authentication failed: the lock does not recognise this key (not issued by its owner), or the "
                     "device answering is not the lock whose key you pinned",
                     "Check that you use the right lock (mortise lock list); if the lock was factory reset, ask its "
                     "owner for a new key."};
    default:
      return Refusal{ExitCode::kRefused, std::string("the lock refused: ") + StatusCodeName(code),
                     "See mortise status."};
  }
}

Refusal ExplainOperation(uint8_t dl_status, int64_t operation_error, std::optional<EventDetail> detail,
                         const RefusalContext& context) {
  if (detail.has_value()) {
    if (*detail == EventDetail::kModeRestricted) return ModeRefusal(context);
    if (*detail == EventDetail::kLockedOut) {
      std::string why = "the lock is locked out after too many wrong codes";
      std::string hint = "Wait until the lockout ends and try again.";
      if (context.lockout_remaining_s.value_or(0) > 0) {
        why += " for " + std::to_string(*context.lockout_remaining_s) + " s more";
        hint = "Wait " + std::to_string(*context.lockout_remaining_s) + " s and try again.";
      }
      return {ExitCode::kRefused, why, hint};
    }
    if (std::optional<Refusal> r = Lookup(kDetails, *detail)) return *r;
  }
  if (operation_error >= 0 && operation_error <= 0xFF) {
    if (std::optional<Refusal> r = Lookup(kErrors, static_cast<OperationError>(operation_error))) return *r;
  }
  return {ExitCode::kRefused,
          std::string("the lock refused the operation (") + core::DlStatusName(static_cast<core::DlStatus>(dl_status)) +
              ", no reason given)",
          "See mortise status and the lock's log (mortise log)."};
}

Refusal ExplainDlStatus(const std::string& status) {
  struct Row {
    const char* status;
    ExitCode code;
    const char* why;
    const char* hint;
  };
  static constexpr Row kRows[] = {
      {"InvalidField", ExitCode::kBadInput,
       "a value is outside what the lock accepts (an index past its last slot, a name too long, a value out of range)",
       "Check the indexes and values (the list commands show what exists)."},
      {"NotFound", ExitCode::kBadInput, "there is no such entry at the lock", "List what exists first (the list command)."},
      {"Occupied", ExitCode::kRefused, "that slot is already in use", "Pick a free slot, or leave --slot out to use the next free one."},
      {"Duplicate", ExitCode::kRefused, "the lock already stores that credential (for this or another user)",
       "Use another code or card; see mortise pin list / card list."},
      {"ResourceExhausted", ExitCode::kRefused, "the lock is full", "Remove an entry first."},
      {"Failure", ExitCode::kRefused, "the lock could not do it", "See mortise status and the lock's log (mortise log)."},
  };
  for (const Row& row : kRows) {
    if (status == row.status) return {row.code, row.why, row.hint};
  }
  return {ExitCode::kRefused, "the lock answered " + status, "See mortise status and the lock's log (mortise log)."};
}

Error RefusalError(const std::string& what, const Refusal& r) { return Error(r.code, what + ": " + r.why, r.hint); }

}  // namespace mortise::cli
