#include "log_text.h"

#include <initializer_list>
#include <optional>

#include "refusal.h"

namespace mortise::cli {
namespace {

using core::CredentialType;
using core::EventDetail;
using core::EventKind;
using core::LockEvent;
using core::LockOperationType;
using core::OperationSource;

const char* SourceWords(OperationSource s) {
  switch (s) {
    case OperationSource::kManual: return "by hand";
    case OperationSource::kProprietaryRemote: return "over a session";
    case OperationSource::kKeypad: return "at the keypad";
    case OperationSource::kAuto: return "automatically";
    case OperationSource::kButton: return "with the outside button";
    case OperationSource::kSchedule: return "by a schedule";
    case OperationSource::kRemote: return "by a signed remote command";
    case OperationSource::kRfid: return "at the card reader";
    case OperationSource::kBiometric: return "at the fingerprint reader";
    case OperationSource::kUnspecified: break;
  }
  return "";
}

const char* OperationVerb(LockOperationType op) {
  switch (op) {
    case LockOperationType::kLock: return "locked";
    case LockOperationType::kUnlock: return "unlocked";
    case LockOperationType::kUnlatch: return "unlatched (bolt and latch pulled: the door opens)";
    case LockOperationType::kNonAccessUserEvent: return "a non-access user's credential was shown (recorded, never opens)";
    case LockOperationType::kForcedUserEvent: return "DURESS: a forced user's credential (the door opens, silent alarm)";
  }
  return "operated";
}

const char* OperationNoun(LockOperationType op) {
  switch (op) {
    case LockOperationType::kLock: return "lock";
    case LockOperationType::kUnlatch: return "unlatch";
    default: return "unlock";
  }
}

const char* CredentialWord(CredentialType t) {
  switch (t) {
    case CredentialType::kProgrammingPIN: return "programming PIN";
    case CredentialType::kPin: return "stored PIN";
    case CredentialType::kRfid: return "card";
    case CredentialType::kFingerprint: return "fingerprint";
    case CredentialType::kFingerVein: return "finger vein";
    case CredentialType::kFace: return "face";
    default: return "key";
  }
}

bool IsKey(CredentialType t) {
  return t == CredentialType::kAliroEvictableEndpointKey || t == CredentialType::kAliroNonEvictableEndpointKey ||
         t == CredentialType::kAliroCredentialIssuerKey;
}

// "by ann (user 1) with stored PIN #1", "with key 'gus'", "with an offline PIN code".
std::string Actor(const LockEvent& e, const EventNames& n) {
  std::string who;
  if (!n.user.empty()) who = "by " + n.user;
  else if (e.user_index != 0) who = "by user " + std::to_string(e.user_index);
  std::string with;
  if (e.detail == EventDetail::kOfflinePin) {
    with = "with an offline PIN code";
  } else if (e.has_credential) {
    with = "with " + (IsKey(e.credential.type)
                          ? (n.key.empty() ? "key #" + std::to_string(e.credential.index) : n.key)
                          : std::string(CredentialWord(e.credential.type)) + " #" + std::to_string(e.credential.index));
  }
  if (who.empty()) return with;
  return with.empty() ? who : who + " " + with;
}

std::string Join(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    out += (out.empty() || p[0] == ':' ? "" : " ") + p;
  }
  return out;
}

const char* KeyRefusalWords(EventDetail d) {
  switch (d) {
    case EventDetail::kKeyRevoked: return "revoked or suspended (or for another lock, or without its revalidation token)";
    case EventDetail::kKeyNotValidNow: return "outside its validity or weekly schedule";
    case EventDetail::kKeyUsesSpent: return "its uses are spent";
    case EventDetail::kTimeUnknown: return "time-limited and the lock's time is unknown";
    case EventDetail::kKeyNotIssued: return "not issued by this lock's owner";
    default: return "refused";
  }
}

const char* DoorWords(core::DoorState s) {
  switch (s) {
    case core::DoorState::kDoorOpen: return "door opened";
    case core::DoorState::kDoorClosed: return "door closed";
    case core::DoorState::kDoorJammed: return "door jammed";
    case core::DoorState::kDoorForcedOpen: return "DOOR FORCED OPEN";
    case core::DoorState::kDoorUnspecifiedError: return "door sensor error";
    case core::DoorState::kDoorAjar: return "door left ajar";
  }
  return "door state changed";
}

const char* AlarmWords(core::AlarmCode a) {
  switch (a) {
    case core::AlarmCode::kLockJammed: return "alarm: the bolt jammed";
    case core::AlarmCode::kLockFactoryReset: return "alarm: factory reset";
    case core::AlarmCode::kLockRadioPowerCycled: return "the lock started (power cycled)";
    case core::AlarmCode::kWrongCodeEntryLimit: return "alarm: wrong-code limit reached, keypad locked out";
    case core::AlarmCode::kFrontEsceutcheonRemoved: return "ALARM: the outside unit was removed (tamper)";
    case core::AlarmCode::kDoorForcedOpen: return "ALARM: door forced open";
    case core::AlarmCode::kDoorAjar: return "alarm: door left ajar";
    case core::AlarmCode::kForcedUser: return "SILENT ALARM: a forced user (duress)";
    case core::AlarmCode::kBatteryLow: return "alarm: battery low";
    case core::AlarmCode::kBatteryCritical: return "alarm: battery critical";
    case core::AlarmCode::kEmergencyPowerConnected: return "emergency power connected";
  }
  return "alarm";
}

const char* DataWords(core::LockDataType t) {
  switch (t) {
    case core::LockDataType::kProgrammingCode: return "programming PIN";
    case core::LockDataType::kUserIndex: return "user";
    case core::LockDataType::kWeekDaySchedule: return "week-day schedule";
    case core::LockDataType::kYearDaySchedule: return "year-day schedule";
    case core::LockDataType::kHolidaySchedule: return "holiday schedule";
    case core::LockDataType::kPin: return "PIN";
    case core::LockDataType::kRfid: return "card";
    case core::LockDataType::kFingerprint: return "fingerprint";
    case core::LockDataType::kFingerVein: return "finger vein";
    case core::LockDataType::kFace: return "face";
    case core::LockDataType::kUnspecified: break;
  }
  return "setting";
}

const char* ManualWords(EventDetail d) {
  switch (d) {
    case EventDetail::kMechanicalKey: return "(mechanical key)";
    case EventDetail::kInsideThumbTurn: return "(inside thumb turn)";
    case EventDetail::kInsideHandle: return "(inside handle)";
    case EventDetail::kUnexplainedMotion: return "(!! the bolt moved with no motor and no input seen)";
    default: return "";
  }
}

}  // namespace

const char* ModeWord(core::OperatingMode mode) {
  switch (mode) {
    case core::OperatingMode::kNormal: return "normal";
    case core::OperatingMode::kVacation: return "vacation";
    case core::OperatingMode::kPrivacy: return "privacy";
    case core::OperatingMode::kNoRemoteLockUnlock: return "no-remote";
    case core::OperatingMode::kPassage: return "passage";
  }
  return "unknown";
}

std::string DescribeEvent(const LockEvent& e, const EventNames& n) {
  const std::string source = SourceWords(e.source);
  switch (e.kind) {
    case EventKind::kLockOperation:
      if (e.detail == EventDetail::kPassageMode) return "unlocked by passage mode (held open for anyone; no one asked)";
      return Join({OperationVerb(e.operation), source, Actor(e, n), ManualWords(e.detail)});
    case EventKind::kLockOperationError: {
      std::string why;
      if (e.detail == EventDetail::kSuperseded) {
        why = "not completed: a newer request for the other position took the motor over";
      } else {
        const Refusal r = ExplainOperation(1, static_cast<int64_t>(e.error),
                                           e.detail == EventDetail::kNone ? std::nullopt : std::optional(e.detail), {});
        why = "refused: " + r.why;
      }
      return Join({OperationNoun(e.operation), source, Actor(e, n), why});
    }
    case EventKind::kLockUserChange: {
      if (e.detail == EventDetail::kUtcOffsetChanged) return Join({"time zone changed", source});
      if (e.detail == EventDetail::kOwnershipTransferred) {
        return Join({"lock handed over to a new owner", source, Actor(e, n),
                     e.data_index == 1 ? "(users and their credentials cleared; every key of the old owner ended)"
                                       : "(users kept; every key of the old owner ended)"});
      }
      const char* op = e.data_operation == core::DataOperationType::kAdd     ? "added"
                       : e.data_operation == core::DataOperationType::kClear ? "removed"
                                                                              : "changed";
      const bool all = e.data_index == 0xFFFE;
      const bool user = e.data_type == core::LockDataType::kUserIndex;
      const std::string what = std::string(DataWords(e.data_type)) +
                               (all ? " (all)" : e.data_index != 0 && !user ? " #" + std::to_string(e.data_index) : "");
      std::string whose;
      if (e.user_index != 0 && e.user_index != 0xFFFE) {
        const std::string name = n.user.empty() ? "user " + std::to_string(e.user_index) : n.user;
        whose = user ? (n.user.empty() ? "#" + std::to_string(e.user_index) : n.user) : "of " + name;
      }
      return Join({what, whose, op, source});
    }
    case EventKind::kDoorStateChange: return DoorWords(e.door_state);
    case EventKind::kDoorLockAlarm: return AlarmWords(e.alarm);
    case EventKind::kOperatingModeChange:
      return Join({"mode changed to", ModeWord(static_cast<core::OperatingMode>(e.data_index)), source,
                   e.source == OperationSource::kSchedule ? "(holiday schedule)" : ""});
    case EventKind::kAccessListChange:
      return Join({"access list delivered", source, Actor(e, n),
                   "(" + std::to_string(e.data_index) + " key(s) now revoked or suspended)"});
    case EventKind::kKeyRefused:
      return Join({"key refused", source, Actor(e, n), std::string(": ") + KeyRefusalWords(e.detail),
                   e.data_index != 0 ? "(" + std::to_string(e.data_index) +
                                           " more refusal(s) before this one were not recorded: rate limit)"
                                     : ""});
  }
  return "event";
}

}  // namespace mortise::cli
