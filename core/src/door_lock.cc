#include "mortise/core/door_lock.h"

#include <algorithm>
#include <cstring>

#include "codec.h"
#include "mortise/crypto/secret.h"

namespace mortise::core {
namespace {

using internal::Reader;
using internal::Writer;

// Settings record: version 1 (issue 5); version 2 adds LEDSettings,
// SoundVolume and the daylight-saving rule (DstOffset, DstStart, DstEnd).
// Both load (a version-1 record with the new settings' defaults).
constexpr uint8_t kRecordVersion = 2;
constexpr uint8_t kOfflineBudgetVersion = 2;  // the leaky score (backoff.h)
constexpr int64_t kMinValidUtc = 1577836800;  // 2020-01-01
constexpr int64_t kMaxValidUtc = 4294967295;  // schedules hold uint32 seconds
constexpr uint64_t kExpirySweepMs = 60'000;

LockOperationType OpFor(bool lock, bool unlatch) {
  return lock ? LockOperationType::kLock : (unlatch ? LockOperationType::kUnlatch : LockOperationType::kUnlock);
}

}  // namespace

void DoorLock::Stamper::Emit(const LockEvent& e) {
  LockEvent stamped = e;
  stamped.monotonic_ms = lock_.now_ms_;
  auto utc = lock_.utc_now();
  stamped.utc_seconds = utc ? *utc : 0;
  lock_.hw_.events.Emit(stamped);
  ++lock_.emitted_;
}

DoorLock::DoorLock(const Hardware& hw, const MechanicsConfig& mechanics)
    : hw_(hw), mech_(mechanics), stamper_(*this), db_(hw.store, stamper_) {}

// --- Start-up and persistence -----------------------------------------------------

// A setting is valid when it is inside its attribute's range and the
// orderings hold (unlock reserve < critical <= low; the lockout cap at least
// the base disable time). Stored settings are held to the same rules.
static bool ValidSettings(const Settings& s) {
  DstTransition unused;
  auto in_range = [](AttributeId id, int64_t v) {
    const AttributeInfo* a = FindAttribute(id);
    return a != nullptr && v >= a->min && v <= a->max;
  };
  return in_range(AttributeId::kAutoRelockTime, s.auto_relock_time_s) &&
         static_cast<uint8_t>(s.operating_mode) < kOperatingModeCount &&
         in_range(AttributeId::kWrongCodeEntryLimit, s.wrong_code_entry_limit) &&
         in_range(AttributeId::kUserCodeTemporaryDisableTime, s.user_code_temporary_disable_time_s) &&
         in_range(AttributeId::kExpiringUserTimeout, s.expiring_user_timeout_min) &&
         in_range(AttributeId::kMaxLockoutTime, s.max_lockout_time_s) &&
         in_range(AttributeId::kDoorAjarTime, s.door_ajar_time_s) &&
         in_range(AttributeId::kBatteryLowThreshold, s.battery_low_percent) &&
         in_range(AttributeId::kBatteryCriticalThreshold, s.battery_critical_percent) &&
         in_range(AttributeId::kUnlockReserveThreshold, s.unlock_reserve_percent) &&
         in_range(AttributeId::kUtcOffset, s.utc_offset_s) &&
         in_range(AttributeId::kDstOffset, s.dst_save_s) && UnpackDstTransition(s.dst_start, unused) &&
         UnpackDstTransition(s.dst_end, unused) &&
         in_range(AttributeId::kLEDSettings, static_cast<uint8_t>(s.led_settings)) &&
         in_range(AttributeId::kSoundVolume, static_cast<uint8_t>(s.sound_volume)) &&
         s.unlock_reserve_percent < s.battery_critical_percent &&
         s.battery_critical_percent <= s.battery_low_percent &&
         s.max_lockout_time_s >= s.user_code_temporary_disable_time_s;
}

Status DoorLock::LoadSettings() {
  uint8_t buf[kMaxRecordSize];
  auto got = hw_.store.Read(MakeRecordKey(kRecordSettings, 0), buf);
  if (!got.ok()) {
    const StatusCode c = got.status().code();
    if (c == StatusCode::kNotFound) return Status::Ok();
    if (c != StatusCode::kResourceExhausted && c != StatusCode::kDataLoss) return got.status();
    ++dropped_records_;
    return Status::Ok();  // keep the safe defaults
  }
  Reader r(std::span<const uint8_t>(buf, *got));
  Settings s;
  const uint8_t version = r.U8();
  s.auto_relock_time_s = r.U32();
  s.operating_mode = static_cast<OperatingMode>(r.U8());
  s.enable_local_programming = r.U8() != 0;
  s.enable_one_touch_locking = r.U8() != 0;
  s.enable_privacy_mode_button = r.U8() != 0;
  s.wrong_code_entry_limit = r.U8();
  s.user_code_temporary_disable_time_s = r.U8();
  s.require_pin_for_remote_operation = r.U8() != 0;
  s.expiring_user_timeout_min = r.U16();
  s.max_lockout_time_s = r.U32();
  s.door_ajar_time_s = r.U16();
  s.unlatch_on_unlock = r.U8() != 0;
  s.battery_low_percent = r.U8();
  s.battery_critical_percent = r.U8();
  s.unlock_reserve_percent = r.U8();
  s.utc_offset_s = static_cast<int32_t>(r.U32());
  if (version == kRecordVersion) {
    s.led_settings = static_cast<LedSetting>(r.U8());
    s.sound_volume = static_cast<SoundVolume>(r.U8());
    s.dst_save_s = static_cast<int32_t>(r.U32());
    s.dst_start = r.U32();
    s.dst_end = r.U32();
  }
  if ((version != kRecordVersion && version != 1) || !r.done() || !ValidSettings(s)) {
    // Keep the safe defaults rather than a setting we cannot trust.
    ++dropped_records_;
    return Status::Ok();
  }
  settings_ = s;
  return Status::Ok();
}

Status DoorLock::PersistSettings(const Settings& s) {
  uint8_t buf[64];
  Writer w(buf);
  w.U8(kRecordVersion);
  w.U32(s.auto_relock_time_s);
  w.U8(static_cast<uint8_t>(s.operating_mode));
  w.U8(s.enable_local_programming);
  w.U8(s.enable_one_touch_locking);
  w.U8(s.enable_privacy_mode_button);
  w.U8(s.wrong_code_entry_limit);
  w.U8(s.user_code_temporary_disable_time_s);
  w.U8(s.require_pin_for_remote_operation);
  w.U16(s.expiring_user_timeout_min);
  w.U32(s.max_lockout_time_s);
  w.U16(s.door_ajar_time_s);
  w.U8(s.unlatch_on_unlock);
  w.U8(s.battery_low_percent);
  w.U8(s.battery_critical_percent);
  w.U8(s.unlock_reserve_percent);
  w.U32(static_cast<uint32_t>(s.utc_offset_s));
  w.U8(static_cast<uint8_t>(s.led_settings));
  w.U8(static_cast<uint8_t>(s.sound_volume));
  w.U32(static_cast<uint32_t>(s.dst_save_s));
  w.U32(static_cast<uint32_t>(s.dst_start));
  w.U32(static_cast<uint32_t>(s.dst_end));
  return hw_.store.Write(MakeRecordKey(kRecordSettings, 0), w.written());
}

Status DoorLock::SetConfiguredMode(OperatingMode mode) {
  Settings s = settings_;
  s.operating_mode = mode;
  MORTISE_TRY(PersistSettings(s));
  settings_ = s;
  return Status::Ok();
}

Status DoorLock::PersistLockout() {
  uint8_t buf[16];
  Writer w(buf);
  w.U8(kRecordVersion);
  w.U64(attempts_mark_);
  w.U8(lockout_level_);
  w.U8(lockout_active_ ? 1 : 0);
  return hw_.store.Write(MakeRecordKey(kRecordLockout, 0), w.written());
}

Status DoorLock::PersistTime() {
  uint8_t buf[16];
  Writer w(buf);
  w.U8(kRecordVersion);
  w.U64(static_cast<uint64_t>(time_floor_s_));
  return hw_.store.Write(MakeRecordKey(kRecordTime, 0), w.written());
}

Status DoorLock::Start() {
  now_ms();
  Status settings = LoadSettings();
  if (!settings.ok() && settings.code() != StatusCode::kDataLoss) return settings;

  crypto::SecretBytes<32> secret;
  hw_.random.Fill(secret.span());
  MORTISE_TRY(db_.Load(secret.span()));

  MORTISE_ASSIGN_OR_RETURN(attempts_, hw_.store.ReadCounter(kCounterWrongCodeAttempts));
  uint8_t buf[kMaxRecordSize];
  // No record: no success and no lockout was ever recorded, so every attempt
  // counted so far was a failure. A corrupt record is treated the same way.
  attempts_mark_ = 0;
  bool was_active = false;
  auto got = hw_.store.Read(MakeRecordKey(kRecordLockout, 0), buf);
  if (got.ok()) {
    Reader r(std::span<const uint8_t>(buf, *got));
    const uint8_t version = r.U8();
    const uint64_t mark = r.U64();
    const uint8_t level = r.U8();
    const bool active = r.U8() != 0;
    if (version == kRecordVersion && r.done() && mark <= attempts_ && level <= 31) {
      attempts_mark_ = mark;
      lockout_level_ = level;
      was_active = active;
    } else {
      ++dropped_records_;
    }
  } else if (got.status().code() == StatusCode::kResourceExhausted || got.status().code() == StatusCode::kDataLoss) {
    ++dropped_records_;
  } else if (got.status().code() != StatusCode::kNotFound) {
    return got.status();
  }
  const uint8_t stored_level = lockout_level_;
  leak_anchor_ms_ = now_ms_;  // time spent off forgives nothing
  LeakFailures();
  if (was_active && stored_level > 0) {
    // A lockout interrupted by a power cut restarts in full: pulling the
    // battery never shortens it.
    StartLockout(stored_level);
  } else {
    // Attempts are counted before they are examined, so failures whose
    // lockout never reached the store (power cut) still lock out now.
    CheckFailureLimit();
  }

  got = hw_.store.Read(MakeRecordKey(kRecordTime, 0), buf);
  if (got.ok()) {
    Reader r(std::span<const uint8_t>(buf, *got));
    if (r.U8() == kRecordVersion) time_floor_s_ = static_cast<int64_t>(r.U64());
  }
  TakeTimeFromRtc();

  MORTISE_TRY(LoadOfflinePins());

  (void)hw_.store.IncrementCounter(kCounterBootEpoch);

  const SensorSnapshot snap = hw_.sensors.Read();
  last_bolt_ = snap.bolt;
  switch (snap.bolt) {
    case BoltPosition::kExtended: bolt_ = BoltState::kLocked; break;
    case BoltPosition::kRetracted: bolt_ = BoltState::kUnlocked; break;
    case BoltPosition::kLatchPulled: bolt_ = BoltState::kUnlatched; break;
    default: bolt_ = BoltState::kNotFullyLocked; break;
  }
  door_contact_ = snap.door;
  door_state_ = snap.door == DoorContact::kOpen ? DoorState::kDoorOpen : DoorState::kDoorClosed;
  door_opened_ms_ = now_ms_;
  tamper_ = snap.escutcheon_removed;
  EmitAlarm(AlarmCode::kLockRadioPowerCycled);
  HandlePower(snap.power);
  next_expiry_sweep_ms_ = now_ms_ + kExpirySweepMs;
  last_mode_ = effective_mode();
  return Status::Ok();
}

Status DoorLock::FactoryReset() {
  // The offline-PIN secret goes first, in one transaction: a power cut during
  // the reset must never leave the previous owner able to mint codes for a
  // lock that lost its users. The failure budget is kept (it is not a right).
  Status s = hw_.store.Begin();
  if (s.ok()) s = hw_.store.Erase(MakeRecordKey(kRecordOfflineSecret, 0));
  if (s.ok()) s = hw_.store.Erase(MakeRecordKey(kRecordOfflineErase, 0));
  for (size_t i = 0; s.ok() && i < kOfflineTableSize; ++i)
    s = hw_.store.Erase(MakeRecordKey(kRecordOfflineEntry, static_cast<uint16_t>(i)));
  if (s.ok()) s = hw_.store.Commit();
  if (!s.ok()) {
    hw_.store.Rollback();
    return s;
  }
  offline_enabled_ = false;
  offline_erased_through_ = 0;
  for (auto& e : offline_table_) e = OfflineEntry();
  crypto::SecretBytes<32> secret;
  hw_.random.Fill(secret.span());
  menu_.Close(MenuNote::kExited);
  MORTISE_TRY(db_.Wipe(secret.span()));
  const Settings fresh;
  MORTISE_TRY(PersistSettings(fresh));
  settings_ = fresh;
  pending_ = PendingCredentials();
  EmitAlarm(AlarmCode::kLockFactoryReset);
  return Status::Ok();
}

// --- Time -----------------------------------------------------------------------------

DstRule DoorLock::dst_rule() const {
  DstRule rule;
  rule.save_s = settings_.dst_save_s;
  if (!UnpackDstTransition(settings_.dst_start, rule.start) || !UnpackDstTransition(settings_.dst_end, rule.end))
    return DstRule();  // not reached: stored settings are validated
  return rule;
}

int32_t DoorLock::utc_offset_at(int64_t utc_s) const {
  return UtcOffsetAt(utc_s, settings_.utc_offset_s, dst_rule());
}

std::optional<int64_t> DoorLock::utc_now() const {
  if (!time_known_) return std::nullopt;
  return utc_anchor_s_ + static_cast<int64_t>((now_ms_ - mono_anchor_ms_) / 1000);
}

std::optional<LocalTime> DoorLock::local_now() const {
  auto utc = utc_now();
  if (!utc) return std::nullopt;
  return ToLocalTime(*utc, utc_offset_at(*utc));
}

Status DoorLock::SetUtcTime(int64_t utc_s, bool allow_backwards) {
  now_ms();
  if (utc_s < kMinValidUtc || utc_s > kMaxValidUtc) return StatusCode::kInvalidArgument;
  auto current = utc_now();
  int64_t floor = current ? (*current > time_floor_s_ ? *current : time_floor_s_) : time_floor_s_;
  if (utc_s < floor && !allow_backwards) return StatusCode::kFailedPrecondition;
  // Set by an authorised key: the floor follows, backwards too (the owner's).
  return SetClock(utc_s, /*floor=*/utc_s);
}

Status DoorLock::CorrectUtcTime(int64_t utc_s, int64_t max_step_s) {
  now_ms();
  const std::optional<int64_t> current = utc_now();
  if (!current) return StatusCode::kFailedPrecondition;
  if (utc_s < kMinValidUtc || utc_s > kMaxValidUtc) return StatusCode::kOutOfRange;
  const int64_t step = utc_s > *current ? utc_s - *current : *current - utc_s;
  if (step > max_step_s || utc_s < time_floor_s_) return StatusCode::kOutOfRange;
  // A correction raises the floor, never lowers it.
  return SetClock(utc_s, utc_s > time_floor_s_ ? utc_s : time_floor_s_);
}

Status DoorLock::SetClock(int64_t utc_s, int64_t floor_s) {
  if (floor_s != time_floor_s_) {
    const int64_t old_floor = time_floor_s_;
    time_floor_s_ = floor_s;
    Status s = PersistTime();
    if (!s.ok()) {
      time_floor_s_ = old_floor;
      return s;
    }
  }
  time_known_ = true;
  utc_anchor_s_ = utc_s;
  mono_anchor_ms_ = now_ms_;
  // The time in RAM is right whether or not the RTC takes it; an RTC that
  // failed reads behind the floor at the next start and is not believed.
  if (rtc_ != nullptr) (void)rtc_->WriteUtc(utc_s);
  return Status::Ok();
}

void DoorLock::TakeTimeFromRtc() {
  if (rtc_ == nullptr) return;
  const std::optional<int64_t> utc = rtc_->ReadUtc();
  // Behind the floor: the RTC lost power or was moved back. Believing it
  // would revive expired keys (A04), so the time stays unknown until an
  // authorised SetUtcTime.
  if (!utc || *utc < kMinValidUtc || *utc > kMaxValidUtc || *utc < time_floor_s_) return;
  time_known_ = true;
  utc_anchor_s_ = *utc;
  mono_anchor_ms_ = now_ms_;
}

// --- Modes, lockout ---------------------------------------------------------------------

OperatingMode DoorLock::effective_mode() const {
  // The occupant's privacy and an administrator's no-remote setting are never
  // relaxed by a holiday schedule; otherwise an active holiday imposes its mode.
  const OperatingMode configured = settings_.operating_mode;
  if (configured == OperatingMode::kPrivacy || configured == OperatingMode::kNoRemoteLockUnlock) return configured;
  if (auto holiday = HolidayMode(db_, local_now())) return *holiday;
  return configured;
}

void DoorLock::ApplyModeChange(OperationSource source) {
  const OperatingMode mode = effective_mode();
  if (mode == last_mode_) return;
  const OperatingMode old = last_mode_;
  last_mode_ = mode;
  LockEvent e;
  e.kind = EventKind::kOperatingModeChange;
  e.source = source;
  e.data_index = static_cast<uint16_t>(mode);
  stamper_.Emit(e);
  Requester who;
  who.source = source;
  who.detail = EventDetail::kPassageMode;  // the mode opened the door, not a person
  if (mode == OperatingMode::kPassage &&
      (bolt_ == BoltState::kLocked || bolt_ == BoltState::kNotFullyLocked || bolt_ == BoltState::kLocking)) {
    BeginMotion(MotionTarget::kUnlock, who);  // passage: the door is held open to anyone
  } else if (old == OperatingMode::kPassage && (bolt_ == BoltState::kUnlocked || bolt_ == BoltState::kUnlatched)) {
    ArmRelock(std::nullopt);  // passage over: the normal relock rules apply again
  }
}

bool DoorLock::locked_out() const { return lockout_active_ && now_ms_ < lockout_until_ms_; }

uint32_t DoorLock::lockout_remaining_s() const {
  if (!locked_out()) return 0;
  return static_cast<uint32_t>((lockout_until_ms_ - now_ms_ + 999) / 1000);
}

BackoffPolicy DoorLock::KeypadPolicy() const {
  return BackoffPolicy{settings_.wrong_code_entry_limit, settings_.user_code_temporary_disable_time_s,
                       settings_.max_lockout_time_s};
}

void DoorLock::LeakFailures() {
  const BackoffPolicy policy = KeypadPolicy();
  BackoffState st{attempts_ - attempts_mark_, lockout_level_, leak_anchor_ms_};
  // A score above the highest a guesser can reach (a corrupt record, a
  // setting lowered) is cut to it: one full-cap lockout, not years of them.
  if (st.score > policy.MaxScore()) st.score = policy.MaxScore();
  const uint64_t before = attempts_mark_;
  Leak(policy, st, now_ms_);
  attempts_mark_ = attempts_ - st.score;
  lockout_level_ = static_cast<uint8_t>(st.level);
  leak_anchor_ms_ = st.anchor_ms;
  // A failed write only means a later restart may count leaked failures: safe.
  if (attempts_mark_ != before) PersistLockout().IgnoreError();
}

bool DoorLock::RecordAttempt() {
  LeakFailures();  // first, so that time with a score of 0 banks nothing
  auto r = hw_.store.IncrementCounter(kCounterWrongCodeAttempts);
  if (!r.ok()) return false;
  attempts_ = *r;
  return true;
}

void DoorLock::CheckFailureLimit() {
  const BackoffPolicy policy = KeypadPolicy();
  BackoffState st{attempts_ - attempts_mark_, lockout_level_, leak_anchor_ms_};
  if (const uint32_t step = StepAfterFailure(policy, st)) StartLockout(step);
}

void DoorLock::RefundAttempt() {
  // Only the attempt that proved valid: the failures before it stay, so a
  // person with a code of their own cannot use it to wipe their guesses.
  if (attempts_mark_ >= attempts_) return;
  ++attempts_mark_;
  PersistLockout().IgnoreError();
}

void DoorLock::StartLockout(uint32_t level) {
  const BackoffPolicy policy = KeypadPolicy();
  if (level > policy.CapLevel()) level = policy.CapLevel();
  lockout_level_ = static_cast<uint8_t>(level);
  lockout_active_ = true;
  lockout_until_ms_ = now_ms_ + policy.LockoutSeconds(level) * 1000;
  PersistLockout().IgnoreError();
  pending_ = PendingCredentials();
  EmitAlarm(AlarmCode::kWrongCodeEntryLimit);
  Indicate(Signal::kLockedOut);
}

SetCredentialResponse DoorLock::SetCredential(const SetCredentialRequest& req, const Actor& actor) {
  now_ms();
  const bool pin = req.credential.type == CredentialType::kPin || req.credential.type == CredentialType::kProgrammingPIN;
  if (pin && locked_out()) {
    SetCredentialResponse refused;
    refused.status = DlStatus::kFailure;
    return refused;
  }
  SetCredentialResponse r = db_.SetCredential(req, actor);
  if (pin && r.status == DlStatus::kDuplicate && RecordAttempt()) CheckFailureLimit();
  return r;
}

void DoorLock::ReportAuthenticationFailure(OperationSource /*source*/) {
  now_ms();
  if (locked_out()) return;
  if (RecordAttempt()) CheckFailureLimit();
}

void DoorLock::RecordKeyRefused(OperationSource source, std::optional<CredentialRef> key, EventDetail why) {
  now_ms();
  // A token bucket on the monotonic clock: the budget refills while the
  // lock runs, whatever its UTC clock says.
  if (refusal_tokens_ < kKeyRefusalBurst) {
    const uint64_t refills = (now_ms_ - refusal_refill_ms_) / kKeyRefusalRefillMs;
    if (refills >= static_cast<uint64_t>(kKeyRefusalBurst - refusal_tokens_)) {
      refusal_tokens_ = kKeyRefusalBurst;
    } else {
      refusal_tokens_ = static_cast<uint8_t>(refusal_tokens_ + refills);
      refusal_refill_ms_ += refills * kKeyRefusalRefillMs;
    }
  }
  if (refusal_tokens_ == 0) {
    if (refusals_unrecorded_ < UINT16_MAX) ++refusals_unrecorded_;
    return;
  }
  if (refusal_tokens_ == kKeyRefusalBurst) refusal_refill_ms_ = now_ms_;
  --refusal_tokens_;
  EmitKeyEvent(EventKind::kKeyRefused, source, key, why, refusals_unrecorded_);
  refusals_unrecorded_ = 0;
}

void DoorLock::RecordAccessListChange(OperationSource source, std::optional<CredentialRef> key, uint16_t listed) {
  now_ms();
  EmitKeyEvent(EventKind::kAccessListChange, source, key, EventDetail::kNone, listed);
}

void DoorLock::RecordOwnershipTransfer(OperationSource source, CredentialRef key, bool users_cleared) {
  now_ms();
  LockEvent e;
  e.kind = EventKind::kLockUserChange;
  e.data_type = LockDataType::kUnspecified;
  e.data_operation = DataOperationType::kModify;
  e.data_index = users_cleared ? 1 : 0;
  e.source = source;
  e.has_credential = true;
  e.credential = key;
  e.detail = EventDetail::kOwnershipTransferred;
  stamper_.Emit(e);
}

void DoorLock::EmitKeyEvent(EventKind kind, OperationSource source, std::optional<CredentialRef> key,
                            EventDetail detail, uint16_t data_index) {
  LockEvent e;
  e.kind = kind;
  e.source = source;
  e.has_credential = key.has_value();
  if (key) e.credential = *key;
  e.detail = detail;
  e.data_index = data_index;
  stamper_.Emit(e);
}

// --- Decisions ------------------------------------------------------------------------------

OperationResult DoorLock::Deny(LockOperationType op, const Requester& who, OperationError error, EventDetail detail) {
  EmitError(op, who, error, detail);
  Indicate(detail == EventDetail::kLockedOut ? Signal::kLockedOut : Signal::kAccessDenied);
  OperationResult r;
  r.status = DlStatus::kFailure;
  r.error = error;
  r.detail = detail;
  return r;
}

std::optional<OperationResult> DoorLock::CheckPower(MotionTarget target, const Requester& who) {
  if (power_.emergency_power) return std::nullopt;
  const bool lock = target == MotionTarget::kLock;
  // Locking stops first, at the critical level, so the energy left is kept
  // for unlocking; unlocking stops only at the last reserve.
  const bool refused = lock ? power_.battery_percent <= settings_.battery_critical_percent
                            : power_.battery_percent <= settings_.unlock_reserve_percent;
  if (!refused) return std::nullopt;
  const EventDetail detail = lock ? EventDetail::kLockReserve : EventDetail::kUnlockReserve;
  Indicate(Signal::kBatteryCritical);
  EmitError(OpFor(lock, target == MotionTarget::kUnlatch), who, OperationError::kInsufficientBattery, detail);
  return OperationResult{DlStatus::kFailure, OperationError::kInsufficientBattery, detail};
}

bool DoorLock::CountsAsFailure(const OperationResult& r) {
  // A recognised credential that is refused counts like a wrong one, so a
  // stale or restricted credential cannot be used to reset the counter; a
  // non-access user and a first credential of a dual/tri rule do not.
  return r.detail != EventDetail::kCredentialPartial && r.detail != EventDetail::kNonAccessUser &&
         r.error != OperationError::kInsufficientBattery;
}

std::optional<OperationResult> DoorLock::AuthorizeUser(Requester& who, MotionTarget target, bool local) {
  const LockOperationType op = OpFor(target == MotionTarget::kLock, target == MotionTarget::kUnlatch);
  const User* u = db_.user(who.user_index);
  if (u == nullptr) return Deny(op, who, OperationError::kInvalidCredential, EventDetail::kNone);
  if (u->status == UserStatus::kOccupiedDisabled)
    return Deny(op, who, OperationError::kDisabledUserDenied, EventDetail::kNone);
  if (u->type == UserType::kNonAccessUser) {
    // Recognised, recorded, never opens.
    EmitOperation(LockOperationType::kNonAccessUserEvent, who);
    Indicate(Signal::kAccessDenied);
    return OperationResult{DlStatus::kFailure, OperationError::kRestricted, EventDetail::kNonAccessUser};
  }
  if (local && u->type == UserType::kRemoteOnlyUser)
    return Deny(op, who, OperationError::kRestricted, EventDetail::kModeRestricted);
  if (local && effective_mode() == OperatingMode::kVacation && u->type != UserType::kProgrammingUser)
    return Deny(op, who, OperationError::kRestricted, EventDetail::kModeRestricted);

  switch (CheckSchedules(*u, local_now())) {
    case ScheduleVerdict::kAllowed: break;
    case ScheduleVerdict::kOutsideSchedule:
      return Deny(op, who, OperationError::kRestricted, EventDetail::kScheduleRestricted);
    case ScheduleVerdict::kTimeUnknown:
      return Deny(op, who, OperationError::kRestricted, EventDetail::kTimeUnknown);
  }

  if (u->type == UserType::kExpiringUser) {
    auto utc = utc_now();
    if (!utc) return Deny(op, who, OperationError::kRestricted, EventDetail::kTimeUnknown);
    if (u->expires_at_utc != 0 && *utc >= static_cast<int64_t>(u->expires_at_utc)) {
      db_.UpdateUserState(who.user_index, UserStatus::kOccupiedDisabled, u->expires_at_utc, OperationSource::kAuto)
          .IgnoreError();
      return Deny(op, who, OperationError::kDisabledUserDenied, EventDetail::kUserExpired);
    }
  }

  // Dual / tri credential rule: collect distinct credentials of one user.
  const uint8_t needed = u->rule == CredentialRule::kTri ? 3 : (u->rule == CredentialRule::kDual ? 2 : 1);
  if (local && needed > 1) {
    const bool same_user = pending_.user_index == who.user_index && now_ms_ < pending_.deadline_ms;
    if (!same_user) {
      pending_ = PendingCredentials();
      pending_.user_index = who.user_index;
      pending_.deadline_ms = now_ms_ + mech_.multi_credential_window_ms;
    }
    bool seen = false;
    for (uint8_t i = 0; i < pending_.count; ++i) seen = seen || pending_.seen[i] == who.credential;
    if (!seen && pending_.count < 3) pending_.seen[pending_.count++] = who.credential;
    if (pending_.count < needed) {
      Indicate(Signal::kMoreCredentialsNeeded);
      return OperationResult{DlStatus::kFailure, OperationError::kUnspecified, EventDetail::kCredentialPartial};
    }
    pending_ = PendingCredentials();
  }

  if (target != MotionTarget::kLock) {
    // One-use and first-use changes are persisted before the door opens (a
    // power cut cannot give a disposable user a second entry), and only once
    // the door can really open (the battery reserve is checked first).
    const bool consumes = u->type == UserType::kDisposableUser ||
                          (u->type == UserType::kExpiringUser && u->expires_at_utc == 0);
    if (consumes) {
      if (auto refused = CheckPower(target, who)) return refused;
      const Status persisted =
          u->type == UserType::kDisposableUser
              ? db_.UpdateUserState(who.user_index, UserStatus::kOccupiedDisabled, u->expires_at_utc, who.source)
              : db_.UpdateUserState(
                    who.user_index, u->status,
                    static_cast<uint32_t>(*utc_now() + static_cast<int64_t>(settings_.expiring_user_timeout_min) * 60),
                    who.source);
      if (!persisted.ok()) return Deny(op, who, OperationError::kUnspecified, EventDetail::kNone);
    }
    if (u->type == UserType::kForcedUser) {
      // Duress: open as usual and raise a silent alarm. The indicator shows an
      // ordinary grant so that whoever forces the user learns nothing.
      EmitOperation(LockOperationType::kForcedUserEvent, who);
      EmitAlarm(AlarmCode::kForcedUser);
    }
  }
  return std::nullopt;
}

OperationResult DoorLock::Decide(Requester& who, MotionTarget target, bool local) {
  if (auto refused = AuthorizeUser(who, target, local)) {
    if (CountsAsFailure(*refused)) CheckFailureLimit();
    else RefundAttempt();
    return *refused;
  }
  if (local) Indicate(Signal::kAccessGranted);
  // A valid credential: its own attempt is refunded (whether the battery
  // lets the door open or not), never the failures before it.
  RefundAttempt();
  return BeginMotion(target, who);
}

static bool OpensTheDoor(CredentialType type) {
  switch (type) {
    case CredentialType::kPin:
    case CredentialType::kRfid:
    case CredentialType::kFingerprint:
    case CredentialType::kFingerVein:
    case CredentialType::kFace: return true;
    default: return false;
  }
}

OperationResult DoorLock::PresentCredential(OperationSource source, CredentialType type,
                                            std::span<const uint8_t> data) {
  now_ms();
  Requester who;
  who.source = source;
  const MotionTarget target = settings_.unlatch_on_unlock ? MotionTarget::kUnlatch : MotionTarget::kUnlock;
  const LockOperationType op = OpFor(false, settings_.unlatch_on_unlock);
  if (locked_out()) return Deny(op, who, OperationError::kRestricted, EventDetail::kLockedOut);
  if (effective_mode() == OperatingMode::kPrivacy)
    return Deny(op, who, OperationError::kRestricted, EventDetail::kModeRestricted);
  // Persist the attempt before looking at the credential: cutting the power
  // on seeing a refusal must not give a free guess.
  if (!RecordAttempt()) return Deny(op, who, OperationError::kUnspecified, EventDetail::kNone);
  // Only what a reader presents opens: never the programming PIN (it opens
  // the keypad's programming menu only) nor a key type.
  if (!OpensTheDoor(type)) {
    CheckFailureLimit();
    return Deny(op, who, OperationError::kInvalidCredential, EventDetail::kNone);
  }

  if (type == CredentialType::kPin && offline_enabled_ &&
      (data.size() == kShortOfflineCodeDigits || data.size() == kLongOfflineCodeDigits))
    return OfflineDecision(who, data);

  auto match = db_.Find(type, data);
  if (!match) {
    CheckFailureLimit();  // the lockout is stored before the refusal shows
    return Deny(op, who, OperationError::kInvalidCredential, EventDetail::kNone);
  }
  who.user_index = match->user_index;
  who.has_credential = true;
  who.credential = match->credential;
  return Decide(who, target, /*local=*/true);
}

// --- Offline PIN codes ----------------------------------------------------------------------

Status DoorLock::LoadOfflinePins() {
  offline_leak_anchor_mono_ms_ = now_ms_;  // time spent off forgives nothing
  uint8_t buf[kMaxRecordSize];
  offline_enabled_ = false;
  auto got = hw_.store.Read(MakeRecordKey(kRecordOfflineSecret, 0), buf);
  if (got.ok() && *got == 33 && buf[0] == kRecordVersion) {
    offline_.SetSecret(std::span<const uint8_t, 32>(buf + 1, 32));
    offline_enabled_ = true;
  } else if (got.ok()) {
    ++dropped_records_;
  } else if (got.status().code() != StatusCode::kNotFound && got.status().code() != StatusCode::kResourceExhausted &&
             got.status().code() != StatusCode::kDataLoss) {
    return got.status();
  }
  crypto::SecureZero(buf, sizeof(buf));
  got = hw_.store.Read(MakeRecordKey(kRecordOfflineErase, 0), buf);
  if (got.ok()) {
    Reader r(std::span<const uint8_t>(buf, *got));
    const uint8_t version = r.U8();
    const uint32_t h = r.U32();
    if (version == kRecordVersion && r.done()) offline_erased_through_ = h;
    else ++dropped_records_;
  }
  for (size_t i = 0; i < kOfflineTableSize; ++i) {
    offline_table_[i] = OfflineEntry();
    got = hw_.store.Read(MakeRecordKey(kRecordOfflineEntry, static_cast<uint16_t>(i)), buf);
    if (!got.ok()) continue;
    Reader r(std::span<const uint8_t>(buf, *got));
    OfflineEntry e;
    const uint8_t version = r.U8();
    e.kind = static_cast<OfflineCodeKind>(r.U8());
    r.Bytes(e.digest.data(), e.digest.size());
    e.from = r.U32();
    e.until = r.U32();
    e.daily_start = r.U8();
    e.daily_end = r.U8();
    const bool valid_kind = e.kind == OfflineCodeKind::kOneTime || e.kind == OfflineCodeKind::kWindow ||
                            e.kind == OfflineCodeKind::kRecurring;
    if (version == kRecordVersion && r.done() && valid_kind && e.until > e.from) offline_table_[i] = e;
    else ++dropped_records_;
  }
  got = hw_.store.Read(MakeRecordKey(kRecordOfflineBudget, 0), buf);
  if (got.ok()) {
    Reader r(std::span<const uint8_t>(buf, *got));
    const uint8_t version = r.U8();
    // Version 1 kept the failures since the last closing (u8); version 2
    // keeps the leaky score (u16).
    const uint16_t score = version == kOfflineBudgetVersion ? r.U16() : r.U8();
    const uint8_t level = r.U8();
    const uint32_t until = r.U32();
    const uint32_t anchor = r.U32();
    if ((version == kOfflineBudgetVersion || version == kRecordVersion) && r.done() && level <= 31) {
      offline_score_ = version == kOfflineBudgetVersion ? score : static_cast<uint16_t>(level * kOfflineFailureLimit + score);
      offline_level_ = level;
      offline_blocked_until_ = until;
      offline_leak_anchor_ = anchor;
    } else {
      // Unreadable budget: assume the worst (the highest score a guesser can
      // reach; a full back-off at the first offline entry).
      ++dropped_records_;
      offline_score_ = static_cast<uint16_t>(kOfflineBackoff.MaxScore());
      offline_level_ = 0;
    }
  }
  return Status::Ok();
}

Status DoorLock::PersistOfflineBudget() {
  uint8_t buf[16];
  Writer w(buf);
  w.U8(kOfflineBudgetVersion);
  w.U16(offline_score_);
  w.U8(offline_level_);
  w.U32(offline_blocked_until_);
  w.U32(offline_leak_anchor_);
  return hw_.store.Write(MakeRecordKey(kRecordOfflineBudget, 0), w.written());
}

void DoorLock::LeakOfflineFailures(uint32_t now_utc) {
  // The score leaks with the lock's UTC, but never by more than the real
  // (monotonic) time since the anchor: moving the clock forward drains
  // nothing it would not have drained anyway.
  const uint64_t real_s = (now_ms_ - offline_leak_anchor_mono_ms_) / 1000;
  const uint64_t leak_to_s = std::min<uint64_t>(now_utc, uint64_t{offline_leak_anchor_} + real_s);
  BackoffState st{offline_score_, offline_level_, uint64_t{offline_leak_anchor_} * 1000};
  if (st.score > kOfflineBackoff.MaxScore()) st.score = kOfflineBackoff.MaxScore();
  Leak(kOfflineBackoff, st, leak_to_s * 1000);
  const uint32_t anchor = static_cast<uint32_t>(st.anchor_ms / 1000);
  offline_leak_anchor_mono_ms_ = anchor >= offline_leak_anchor_
                                     ? offline_leak_anchor_mono_ms_ + uint64_t{anchor - offline_leak_anchor_} * 1000
                                     : now_ms_;  // the clock was set back with an empty score: restart here
  offline_score_ = static_cast<uint16_t>(st.score);
  offline_level_ = static_cast<uint8_t>(st.level);
  offline_leak_anchor_ = anchor;
}

uint32_t DoorLock::offline_blocked_s() const {
  const uint64_t mono = offline_blocked_until_mono_ms_ > now_ms_ ? (offline_blocked_until_mono_ms_ - now_ms_ + 999) / 1000 : 0;
  auto utc = utc_now();
  const uint64_t by_utc = utc && *utc < int64_t(offline_blocked_until_) ? offline_blocked_until_ - *utc : 0;
  return static_cast<uint32_t>(std::max(mono, by_utc));
}

Status DoorLock::EraseOfflineCodes(uint32_t through_hour) {
  // The mark and every entry it voids change together, or not at all.
  uint8_t buf[8];
  Writer w(buf);
  w.U8(kRecordVersion);
  w.U32(through_hour);
  Status s = hw_.store.Begin();
  if (s.ok()) s = hw_.store.Write(MakeRecordKey(kRecordOfflineErase, 0), w.written());
  for (size_t i = 0; s.ok() && i < kOfflineTableSize; ++i) {
    const OfflineEntry& e = offline_table_[i];
    if (e.used() && OfflinePinCodec::StartHourUtc(e, settings_.utc_offset_s, dst_rule()) <= int64_t(through_hour))
      s = hw_.store.Erase(MakeRecordKey(kRecordOfflineEntry, static_cast<uint16_t>(i)));
  }
  if (s.ok()) s = hw_.store.Commit();
  if (!s.ok()) {
    hw_.store.Rollback();
    return s;
  }
  offline_erased_through_ = through_hour;
  for (auto& e : offline_table_)
    if (e.used() && OfflinePinCodec::StartHourUtc(e, settings_.utc_offset_s, dst_rule()) <= int64_t(through_hour))
      e = OfflineEntry();
  return Status::Ok();
}

Status DoorLock::PersistOfflineEntry(size_t slot, const OfflineEntry& e) {
  const uint32_t key = MakeRecordKey(kRecordOfflineEntry, static_cast<uint16_t>(slot));
  if (!e.used()) return hw_.store.Erase(key);
  uint8_t buf[32];
  Writer w(buf);
  w.U8(kRecordVersion);
  w.U8(static_cast<uint8_t>(e.kind));
  w.Bytes(e.digest.data(), e.digest.size());
  w.U32(e.from);
  w.U32(e.until);
  w.U8(e.daily_start);
  w.U8(e.daily_end);
  return hw_.store.Write(key, w.written());
}

Status DoorLock::SetOfflinePinSecret(std::span<const uint8_t, 32> secret) {
  uint8_t current[kMaxRecordSize];
  auto got = hw_.store.Read(MakeRecordKey(kRecordOfflineSecret, 0), current);
  const bool same = got.ok() && *got == 33 && current[0] == kRecordVersion &&
                    crypto::ConstantTimeEqual(std::span<const uint8_t>(current + 1, 32), secret);
  crypto::SecureZero(current, sizeof(current));
  // Installing the same secret again (a retried claim step) must not forget
  // which codes were used or erased.
  if (same) return Status::Ok();
  uint8_t rec[33];
  rec[0] = kRecordVersion;
  std::memcpy(rec + 1, secret.data(), 32);
  Status s = hw_.store.Begin();
  if (s.ok()) s = hw_.store.Write(MakeRecordKey(kRecordOfflineSecret, 0), rec);
  if (s.ok()) s = hw_.store.Erase(MakeRecordKey(kRecordOfflineErase, 0));
  for (size_t i = 0; s.ok() && i < kOfflineTableSize; ++i)
    s = hw_.store.Erase(MakeRecordKey(kRecordOfflineEntry, static_cast<uint16_t>(i)));
  if (s.ok()) s = hw_.store.Commit();
  crypto::SecureZero(rec, sizeof(rec));
  if (!s.ok()) {
    hw_.store.Rollback();
    return s;
  }
  offline_.SetSecret(secret);
  offline_enabled_ = true;
  offline_erased_through_ = 0;
  for (auto& e : offline_table_) e = OfflineEntry();
  return Status::Ok();
}

OperationResult DoorLock::OfflineDecision(Requester& who, std::span<const uint8_t> digits) {
  who.detail = EventDetail::kOfflinePin;
  const MotionTarget target = settings_.unlatch_on_unlock ? MotionTarget::kUnlatch : MotionTarget::kUnlock;
  const LockOperationType op = OpFor(false, settings_.unlatch_on_unlock);
  auto utc = utc_now();
  if (!utc) {
    // Every offline code is time-limited: fail closed without a clock.
    CheckFailureLimit();
    return Deny(op, who, OperationError::kRestricted, EventDetail::kTimeUnknown);
  }
  const uint32_t now = static_cast<uint32_t>(*utc);
  if (now < offline_blocked_until_ || now_ms_ < offline_blocked_until_mono_ms_) {
    CheckFailureLimit();  // the attempt was counted: it still feeds the wrong-code lockout
    return Deny(op, who, OperationError::kRestricted, EventDetail::kLockedOut);
  }
  LeakOfflineFailures(now);
  // The budget is charged before the code is examined (persist before use)
  // and refunded only if the code turns out valid.
  if (offline_score_ < 0xFFFF) ++offline_score_;
  if (!PersistOfflineBudget().ok()) return Deny(op, who, OperationError::kUnspecified, EventDetail::kOfflinePin);

  const OfflinePinCodec::Verdict v =
      offline_.Check(digits, *utc, settings_.utc_offset_s, offline_table_, offline_erased_through_, dst_rule());
  auto refuse = [&](OperationError error, EventDetail detail) {
    BackoffState st{offline_score_, offline_level_, uint64_t{offline_leak_anchor_} * 1000};
    if (const uint32_t step = StepAfterFailure(kOfflineBackoff, st)) {
      offline_level_ = static_cast<uint8_t>(step);
      offline_blocked_until_ = now + static_cast<uint32_t>(kOfflineBackoff.LockoutSeconds(step));
      offline_blocked_until_mono_ms_ = now_ms_ + kOfflineBackoff.LockoutSeconds(step) * 1000;
      PersistOfflineBudget().IgnoreError();
    }
    CheckFailureLimit();
    return Deny(op, who, error, detail);
  };
  auto refund = [&]() {
    if (offline_score_ > 0) --offline_score_;
    PersistOfflineBudget().IgnoreError();
  };
  switch (v.outcome) {
    case OfflinePinCodec::Outcome::kInvalid:
      return refuse(OperationError::kInvalidCredential, EventDetail::kOfflinePin);
    case OfflinePinCodec::Outcome::kAlreadyUsed:
      return refuse(OperationError::kDisabledUserDenied, EventDetail::kOfflinePin);
    case OfflinePinCodec::Outcome::kNotNow:
      return refuse(OperationError::kRestricted, EventDetail::kScheduleRestricted);
    case OfflinePinCodec::Outcome::kTableFull:
      refund();
      RefundAttempt();
      return Deny(op, who, OperationError::kRestricted, EventDetail::kOfflinePin);
    case OfflinePinCodec::Outcome::kErase: {
      refund();
      if (!EraseOfflineCodes(v.erase_through_hour).ok())
        return Deny(op, who, OperationError::kUnspecified, EventDetail::kOfflinePin);
      RefundAttempt();
      LockEvent ev;
      ev.kind = EventKind::kLockUserChange;
      ev.data_type = LockDataType::kPin;
      ev.data_operation = DataOperationType::kClear;
      ev.data_index = kClearAllIndex16;
      ev.source = who.source;
      ev.detail = EventDetail::kOfflinePin;
      stamper_.Emit(ev);
      Indicate(Signal::kAccessGranted);
      return OperationResult{};
    }
    case OfflinePinCodec::Outcome::kGrant: break;
  }
  refund();
  if (effective_mode() == OperatingMode::kVacation) {
    CheckFailureLimit();
    return Deny(op, who, OperationError::kRestricted, EventDetail::kModeRestricted);
  }
  RefundAttempt();  // a valid code: its own attempt only
  // The log names the code by its table slot (credential index 1-16).
  for (size_t i = 0; i < kOfflineTableSize; ++i)
    if (offline_table_[i].used() && offline_table_[i].digest == v.entry.digest) who.credential.index = uint16_t(i + 1);
  if (v.store) {
    // A one-time code is spent, and a window activated, before the door
    // opens — and only when the battery lets it open. The time floor is
    // raised to now in the same breath, so winding the clock back cannot
    // make a spent one-time code valid again.
    if (auto refused = CheckPower(target, who)) return *refused;
    if (!PersistOfflineEntry(static_cast<size_t>(v.slot), v.entry).ok())
      return Deny(op, who, OperationError::kUnspecified, EventDetail::kOfflinePin);
    offline_table_[v.slot] = v.entry;
    who.credential.index = static_cast<uint16_t>(v.slot + 1);
    if (*utc > time_floor_s_) {
      const int64_t old = time_floor_s_;
      time_floor_s_ = *utc;
      if (!PersistTime().ok()) time_floor_s_ = old;
    }
  }
  who.has_credential = true;
  who.credential.type = CredentialType::kPin;
  Indicate(Signal::kAccessGranted);
  return BeginMotion(target, who);
}

OperationResult DoorLock::Remote(const RemoteOperation& op, MotionTarget target, std::optional<uint16_t> relock_s) {
  now_ms();
  Requester who;
  who.source = op.source;
  who.user_index = op.user_index;
  if (op.key.has_value()) {
    who.has_credential = true;
    who.credential = *op.key;
  }
  const LockOperationType lop = OpFor(target == MotionTarget::kLock, target == MotionTarget::kUnlatch);
  const OperatingMode mode = effective_mode();
  if (mode == OperatingMode::kPrivacy ||
      (mode == OperatingMode::kNoRemoteLockUnlock && op.source == OperationSource::kRemote))
    return Deny(lop, who, OperationError::kUnspecified, EventDetail::kModeRestricted);

  relock_override_s_ = relock_s.value_or(0);
  OperationResult r;
  if (op.pin.has_value() || settings_.require_pin_for_remote_operation) {
    if (locked_out()) {
      r = Deny(lop, who, OperationError::kRestricted, EventDetail::kLockedOut);
    } else if (!RecordAttempt()) {
      r = Deny(lop, who, OperationError::kUnspecified, EventDetail::kNone);
    } else if (!op.pin.has_value()) {
      CheckFailureLimit();
      r = Deny(lop, who, OperationError::kInvalidCredential, EventDetail::kPinRequired);
    } else if (auto match = db_.Find(CredentialType::kPin, *op.pin)) {
      // The PIN names the user the lock checks and records.
      who.user_index = match->user_index;
      who.has_credential = true;
      who.credential = match->credential;
      r = Decide(who, target, /*local=*/false);
    } else {
      CheckFailureLimit();
      r = Deny(lop, who, OperationError::kInvalidCredential, EventDetail::kNone);
    }
  } else if (op.user_index != 0) {
    // The authenticated key maps to a user: that user's status, type and
    // schedules apply as for any credential. Not a guess: nothing is counted.
    if (auto refused = AuthorizeUser(who, target, /*local=*/false)) r = *refused;
    else r = BeginMotion(target, who);
  } else {
    r = BeginMotion(target, who);
  }
  if (!r.ok()) relock_override_s_ = 0;
  return r;
}

OperationResult DoorLock::LockDoor(const RemoteOperation& op) { return Remote(op, MotionTarget::kLock, std::nullopt); }

OperationResult DoorLock::UnlockDoor(const RemoteOperation& op) {
  return Remote(op, settings_.unlatch_on_unlock ? MotionTarget::kUnlatch : MotionTarget::kUnlock, std::nullopt);
}

OperationResult DoorLock::UnlockWithTimeout(const RemoteOperation& op, uint16_t timeout_s) {
  return Remote(op, settings_.unlatch_on_unlock ? MotionTarget::kUnlatch : MotionTarget::kUnlock, timeout_s);
}

OperationResult DoorLock::UnboltDoor(const RemoteOperation& op) {
  return Remote(op, MotionTarget::kUnlock, std::nullopt);
}

// --- Motion --------------------------------------------------------------------------------------

OperationResult DoorLock::BeginMotion(MotionTarget target, const Requester& who) {
  const bool lock = target == MotionTarget::kLock;
  const LockOperationType op = OpFor(lock, target == MotionTarget::kUnlatch);
  if (auto refused = CheckPower(target, who)) return *refused;

  if (motion_.target == MotionTarget::kNone) {
    // Already where the requester wants the bolt: record who asked, no motion.
    if ((lock && bolt_ == BoltState::kLocked) ||
        (target == MotionTarget::kUnlock && (bolt_ == BoltState::kUnlocked || bolt_ == BoltState::kUnlatched))) {
      EmitOperation(op, who);
      if (!lock) ArmRelock(std::nullopt);
      return OperationResult{};
    }
    if (target == MotionTarget::kUnlatch && bolt_ == BoltState::kUnlatched) {
      EmitOperation(op, who);
      latch_release_ms_ = now_ms_ + mech_.unlatch_hold_ms;
      return OperationResult{};
    }
  } else if (motion_.target == target) {
    // Already travelling there: this request joins the motion and is
    // recorded with it (a request never vanishes from the log).
    if (motion_.joined_count < kMaxJoined) {
      motion_.joined[motion_.joined_count++] = who;
    } else {
      EmitOperation(op, who);
    }
    return OperationResult{};
  } else if (motion_.target != MotionTarget::kReleaseLatch) {
    // Another end position takes the motor over: whoever asked for the
    // motion given up is told so in the log.
    const LockOperationType old_op =
        OpFor(motion_.target == MotionTarget::kLock, motion_.target == MotionTarget::kUnlatch);
    EmitError(old_op, motion_.who, OperationError::kUnspecified, EventDetail::kSuperseded);
    for (uint8_t i = 0; i < motion_.joined_count; ++i)
      EmitError(old_op, motion_.joined[i], OperationError::kUnspecified, EventDetail::kSuperseded);
  }

  relock_at_ms_ = 0;
  relock_pending_ = false;
  latch_release_ms_ = 0;
  motion_ = Motion();
  motion_.target = target;
  motion_.who = who;
  motion_.deadline_ms = now_ms_ + mech_.motor_travel_timeout_ms;
  bolt_ = lock ? BoltState::kLocking : BoltState::kUnlocking;
  DriveFor(target);
  return OperationResult{};
}

void DoorLock::DriveFor(MotionTarget target) {
  switch (target) {
    case MotionTarget::kLock: hw_.actuator.Drive(MotorCommand::kExtend); break;
    case MotionTarget::kUnlock:
    case MotionTarget::kReleaseLatch: hw_.actuator.Drive(MotorCommand::kRetract); break;
    case MotionTarget::kUnlatch: hw_.actuator.Drive(MotorCommand::kPullLatch); break;
    case MotionTarget::kNone: hw_.actuator.Drive(MotorCommand::kStop); break;
  }
}

void DoorLock::FinishMotion(BoltState reached) {
  const MotionTarget target = motion_.target;
  const Requester who = motion_.who;
  const Motion finished = motion_;
  motion_ = Motion();
  // Those who joined the motion got what they asked for too.
  const auto record_joined = [&](LockOperationType op) {
    for (uint8_t i = 0; i < finished.joined_count; ++i) EmitOperation(op, finished.joined[i]);
  };
  hw_.actuator.Drive(MotorCommand::kStop);
  bolt_ = reached;
  switch (target) {
    case MotionTarget::kLock:
      EmitOperation(LockOperationType::kLock, who);
      record_joined(LockOperationType::kLock);
      Indicate(Signal::kLocked);
      relock_override_s_ = 0;
      break;
    case MotionTarget::kUnlock:
    case MotionTarget::kReleaseLatch:
      EmitOperation(LockOperationType::kUnlock, who);
      record_joined(LockOperationType::kUnlock);
      Indicate(Signal::kUnlocked);
      ArmRelock(std::nullopt);
      break;
    case MotionTarget::kUnlatch:
      EmitOperation(LockOperationType::kUnlatch, who);
      record_joined(LockOperationType::kUnlatch);
      Indicate(Signal::kUnlocked);
      latch_who_ = who;
      latch_release_ms_ = now_ms_ + mech_.unlatch_hold_ms;
      break;
    case MotionTarget::kNone: break;
  }
  if (target != MotionTarget::kLock &&
      (who.source == OperationSource::kManual || who.source == OperationSource::kButton))
    LeavePrivacyFromInside();
}

void DoorLock::LeavePrivacyFromInside() {
  if (settings_.operating_mode != OperatingMode::kPrivacy) return;
  // Unlocking from inside ends privacy mode (Matter's rule). If the store
  // refuses, privacy comes back after a restart: the occupant's side is safe.
  if (!SetConfiguredMode(OperatingMode::kNormal).ok()) settings_.operating_mode = OperatingMode::kNormal;
  ApplyModeChange(OperationSource::kManual);
}

void DoorLock::MotorTimeout() {
  if (++motion_.attempts <= mech_.motor_retries) {
    // Stop, then try the same travel again with a fresh deadline.
    hw_.actuator.Drive(MotorCommand::kStop);
    motion_.deadline_ms = now_ms_ + mech_.motor_travel_timeout_ms;
    DriveFor(motion_.target);
    return;
  }
  const Motion jammed = motion_;
  const MotionTarget target = motion_.target;
  motion_ = Motion();
  hw_.actuator.Drive(MotorCommand::kStop);
  bolt_ = BoltState::kJammed;
  const LockOperationType op = OpFor(target == MotionTarget::kLock, target == MotionTarget::kUnlatch);
  EmitError(op, jammed.who, OperationError::kUnspecified, EventDetail::kMotorJammed);
  for (uint8_t i = 0; i < jammed.joined_count; ++i)
    EmitError(op, jammed.joined[i], OperationError::kUnspecified, EventDetail::kMotorJammed);
  EmitAlarm(AlarmCode::kLockJammed);
  Indicate(Signal::kJammed);
}

void DoorLock::ArmRelock(std::optional<uint16_t> seconds) {
  uint32_t s = seconds ? *seconds : (relock_override_s_ ? relock_override_s_ : settings_.auto_relock_time_s);
  relock_override_s_ = 0;
  relock_at_ms_ = 0;
  relock_pending_ = false;
  if (s == 0 || effective_mode() == OperatingMode::kPassage) return;
  relock_seconds_ = s;
  if (door_contact_ == DoorContact::kOpen) {
    relock_pending_ = true;
  } else {
    relock_at_ms_ = now_ms_ + static_cast<uint64_t>(s) * 1000;
  }
}

// --- Service loop ------------------------------------------------------------------------------------

void DoorLock::Service() {
  now_ms();
  ManualInput input;
  while (hw_.manual.Poll(input)) HandleManual(input);
  HandleSensors(hw_.sensors.Read());

  menu_.Service(now_ms_);
  PinEntry pin;
  while (hw_.keypad.Poll(pin)) {
    const uint8_t n = pin.length <= sizeof(pin.digits) ? pin.length : static_cast<uint8_t>(sizeof(pin.digits));
    if (pin.programming || menu_.open()) menu_.OnEntry(pin, now_ms_);
    else PresentCredential(OperationSource::kKeypad, CredentialType::kPin, std::span<const uint8_t>(pin.digits, n));
    crypto::SecureZero(&pin, sizeof(pin));
  }
  CardRead card;
  while (hw_.cards.Poll(card)) {
    const uint8_t n = card.length <= sizeof(card.uid) ? card.length : static_cast<uint8_t>(sizeof(card.uid));
    PresentCredential(OperationSource::kRfid, CredentialType::kRfid, std::span<const uint8_t>(card.uid, n));
  }
  BiometricRead bio;
  while (hw_.biometrics.Poll(bio)) {
    if (bio.matched) {
      const uint8_t n = bio.length <= sizeof(bio.template_id) ? bio.length : uint8_t(sizeof(bio.template_id));
      PresentCredential(OperationSource::kBiometric, bio.type, std::span<const uint8_t>(bio.template_id, n));
    } else {
      // An unknown finger is a failed attempt like a wrong PIN.
      Requester who;
      who.source = OperationSource::kBiometric;
      if (locked_out()) {
        Deny(LockOperationType::kUnlock, who, OperationError::kRestricted, EventDetail::kLockedOut);
      } else {
        // Counted (and any lockout stored) before the refusal shows.
        if (RecordAttempt()) CheckFailureLimit();
        Deny(LockOperationType::kUnlock, who, OperationError::kInvalidCredential, EventDetail::kNone);
      }
    }
  }
  HandleTimers();
}

void DoorLock::HandleManual(ManualInput input) {
  Requester who;
  switch (input) {
    case ManualInput::kInsideThumbTurnLock:
    case ManualInput::kInsideThumbTurnUnlock:
    case ManualInput::kInsideHandle:
    case ManualInput::kMechanicalKeyLock:
    case ManualInput::kMechanicalKeyUnlock:
      // A person is moving the bolt by hand: never fight them.
      if (motion_.target != MotionTarget::kNone) {
        motion_ = Motion();
        hw_.actuator.Drive(MotorCommand::kStop);
        bolt_ = BoltState::kNotFullyLocked;
      }
      last_manual_ = input == ManualInput::kInsideHandle ? EventDetail::kInsideHandle
                     : (input == ManualInput::kMechanicalKeyLock || input == ManualInput::kMechanicalKeyUnlock)
                         ? EventDetail::kMechanicalKey
                         : EventDetail::kInsideThumbTurn;
      last_manual_ms_ = now_ms_;
      break;
    case ManualInput::kInsideUnlockButton:
      // Leaving from inside is never blocked by lockout or mode.
      who.source = OperationSource::kButton;
      BeginMotion(settings_.unlatch_on_unlock ? MotionTarget::kUnlatch : MotionTarget::kUnlock, who);
      break;
    case ManualInput::kInsideLockButton:
      who.source = OperationSource::kButton;
      BeginMotion(MotionTarget::kLock, who);
      break;
    case ManualInput::kOutsideLockButton:
      if (settings_.enable_one_touch_locking) {
        who.source = OperationSource::kButton;
        who.detail = EventDetail::kOutsideButton;
        BeginMotion(MotionTarget::kLock, who);
      }
      break;
    case ManualInput::kPrivacyButton:
      if (!settings_.enable_privacy_mode_button) break;
      // Persisted before it takes effect; privacy is only possible while locked.
      if (settings_.operating_mode == OperatingMode::kPrivacy) {
        SetConfiguredMode(OperatingMode::kNormal).IgnoreError();
      } else if (bolt_ == BoltState::kLocked) {
        SetConfiguredMode(OperatingMode::kPrivacy).IgnoreError();
      }
      ApplyModeChange(OperationSource::kManual);
      break;
    case ManualInput::kFactoryResetButton:
      if (reset_hook_ != nullptr) {
        reset_hook_->OnFactoryResetButton(now_ms());
      } else {
        FactoryReset().IgnoreError();
      }
      break;
  }
}

void DoorLock::HandleSensors(const SensorSnapshot& s) {
  HandlePower(s.power);
  if (s.escutcheon_removed && !tamper_) {
    EmitAlarm(AlarmCode::kFrontEsceutcheonRemoved);
    Indicate(Signal::kAlarm);
  }
  tamper_ = s.escutcheon_removed;
  // The bolt first: a door that opens as the bolt retracts is not forced.
  HandleBolt(s.bolt);
  HandleDoor(s.door);
}

void DoorLock::HandleBolt(BoltPosition p) {
  if (motion_.target != MotionTarget::kNone) {
    const MotionTarget t = motion_.target;
    if (t == MotionTarget::kLock && p == BoltPosition::kExtended) {
      FinishMotion(BoltState::kLocked);
    } else if ((t == MotionTarget::kUnlock || t == MotionTarget::kReleaseLatch) && p == BoltPosition::kRetracted) {
      FinishMotion(BoltState::kUnlocked);
    } else if (t == MotionTarget::kUnlatch && p == BoltPosition::kLatchPulled) {
      FinishMotion(BoltState::kUnlatched);
    }
    last_bolt_ = p;
    return;
  }
  if (p == last_bolt_ || p == BoltPosition::kUnknown) return;
  last_bolt_ = p;
  Requester who;
  who.source = OperationSource::kManual;
  who.detail = (last_manual_ != EventDetail::kNone && now_ms_ - last_manual_ms_ <= mech_.manual_attribution_ms)
                   ? last_manual_
                   : EventDetail::kUnexplainedMotion;
  const BoltState before = bolt_;
  switch (p) {
    case BoltPosition::kExtended:
      bolt_ = BoltState::kLocked;
      relock_at_ms_ = 0;
      relock_pending_ = false;
      EmitOperation(LockOperationType::kLock, who);
      break;
    case BoltPosition::kRetracted:
      bolt_ = BoltState::kUnlocked;
      if (before == BoltState::kUnlatched) break;  // the latch was let go
      EmitOperation(LockOperationType::kUnlock, who);
      LeavePrivacyFromInside();
      ArmRelock(std::nullopt);
      break;
    case BoltPosition::kLatchPulled:
      bolt_ = BoltState::kUnlatched;
      EmitOperation(LockOperationType::kUnlatch, who);
      LeavePrivacyFromInside();
      break;
    case BoltPosition::kBetween:
      bolt_ = BoltState::kNotFullyLocked;
      break;
    case BoltPosition::kUnknown: break;
  }
  last_manual_ = EventDetail::kNone;
}

void DoorLock::HandleDoor(DoorContact c) {
  if (c == door_contact_) return;
  door_contact_ = c;
  if (c == DoorContact::kOpen) {
    door_opened_ms_ = now_ms_;
    ajar_reported_ = false;
    if (bolt_ == BoltState::kLocked) {
      door_state_ = DoorState::kDoorForcedOpen;
      EmitDoor(door_state_);
      EmitAlarm(AlarmCode::kDoorForcedOpen);
      Indicate(Signal::kAlarm);
    } else {
      door_state_ = DoorState::kDoorOpen;
      EmitDoor(door_state_);
    }
    if (relock_at_ms_ != 0) {
      relock_at_ms_ = 0;
      relock_pending_ = true;
    }
  } else {
    door_state_ = DoorState::kDoorClosed;
    EmitDoor(door_state_);
    if (relock_pending_) {
      relock_pending_ = false;
      relock_at_ms_ = now_ms_ + static_cast<uint64_t>(relock_seconds_) * 1000;
    }
  }
}

void DoorLock::HandlePower(const PowerReading& p) {
  const bool was_emergency = power_.emergency_power;
  power_ = p;
  if (p.emergency_power && !was_emergency) EmitAlarm(AlarmCode::kEmergencyPowerConnected);
  if (p.battery_percent <= settings_.battery_low_percent) {
    if (!low_reported_) {
      low_reported_ = true;
      EmitAlarm(AlarmCode::kBatteryLow);
      Indicate(Signal::kBatteryLow);
    }
  } else if (p.battery_percent >= settings_.battery_low_percent + 5) {
    low_reported_ = false;  // hysteresis: a new battery re-arms the alarm
  }
  if (p.battery_percent <= settings_.battery_critical_percent) {
    if (!critical_reported_) {
      critical_reported_ = true;
      EmitAlarm(AlarmCode::kBatteryCritical);
      Indicate(Signal::kBatteryCritical);
    }
  } else if (p.battery_percent >= settings_.battery_critical_percent + 5) {
    critical_reported_ = false;
  }
}

void DoorLock::HandleTimers() {
  if (motion_.target != MotionTarget::kNone && now_ms_ >= motion_.deadline_ms) MotorTimeout();

  if (latch_release_ms_ != 0 && now_ms_ >= latch_release_ms_ && motion_.target == MotionTarget::kNone) {
    latch_release_ms_ = 0;
    motion_ = Motion();
    motion_.target = MotionTarget::kReleaseLatch;
    motion_.who = latch_who_;
    motion_.deadline_ms = now_ms_ + mech_.motor_travel_timeout_ms;
    DriveFor(MotionTarget::kReleaseLatch);
  }

  if (relock_at_ms_ != 0 && now_ms_ >= relock_at_ms_) {
    relock_at_ms_ = 0;
    if ((bolt_ == BoltState::kUnlocked || bolt_ == BoltState::kUnlatched) && door_contact_ != DoorContact::kOpen &&
        effective_mode() != OperatingMode::kPassage) {
      Requester who;
      who.source = OperationSource::kAuto;
      BeginMotion(MotionTarget::kLock, who);
    }
  }

  if (door_contact_ == DoorContact::kOpen && !ajar_reported_ &&
      now_ms_ - door_opened_ms_ >= static_cast<uint64_t>(settings_.door_ajar_time_s) * 1000) {
    ajar_reported_ = true;
    door_state_ = DoorState::kDoorAjar;
    EmitDoor(door_state_);
    EmitAlarm(AlarmCode::kDoorAjar);
    Indicate(Signal::kAlarm);
  }

  if (lockout_active_ && now_ms_ >= lockout_until_ms_) {
    lockout_active_ = false;
    PersistLockout().IgnoreError();
  }

  if (pending_.user_index != 0 && now_ms_ >= pending_.deadline_ms) pending_ = PendingCredentials();

  ApplyModeChange(OperationSource::kSchedule);

  if (time_known_ && now_ms_ >= next_time_floor_save_ms_) {
    // The latest time the lock has reached is the floor a later SetUtcTime
    // may not go below: saved hourly, so a restart cannot rewind the clock
    // by more than an hour without an owner's command.
    next_time_floor_save_ms_ = now_ms_ + 3'600'000;
    const int64_t now = *utc_now();
    if (now > time_floor_s_) {
      const int64_t old = time_floor_s_;
      time_floor_s_ = now;
      if (!PersistTime().ok()) time_floor_s_ = old;
    }
  }

  if (now_ms_ >= next_expiry_sweep_ms_) {
    next_expiry_sweep_ms_ = now_ms_ + kExpirySweepMs;
    if (auto utc = utc_now()) {
      for (uint16_t i = 1; i <= config::kMaxUsers; ++i) {
        const User* u = db_.user(i);
        if (u != nullptr && u->type == UserType::kExpiringUser && u->status == UserStatus::kOccupiedEnabled &&
            u->expires_at_utc != 0 && *utc >= static_cast<int64_t>(u->expires_at_utc))
          db_.UpdateUserState(i, UserStatus::kOccupiedDisabled, u->expires_at_utc, OperationSource::kAuto)
              .IgnoreError();
      }
    }
  }
}

uint32_t DoorLock::MillisUntilNextDeadline() const {
  uint64_t next = UINT64_MAX;
  auto consider = [&next](bool active, uint64_t at) {
    if (active && at < next) next = at;
  };
  consider(motion_.target != MotionTarget::kNone, motion_.deadline_ms);
  consider(latch_release_ms_ != 0, latch_release_ms_);
  consider(relock_at_ms_ != 0, relock_at_ms_);
  consider(door_contact_ == DoorContact::kOpen && !ajar_reported_,
           door_opened_ms_ + static_cast<uint64_t>(settings_.door_ajar_time_s) * 1000);
  consider(lockout_active_, lockout_until_ms_);
  consider(pending_.user_index != 0, pending_.deadline_ms);
  consider(menu_.open(), menu_.deadline_ms());
  consider(true, next_expiry_sweep_ms_);
  if (next == UINT64_MAX) return UINT32_MAX;
  if (next <= now_ms_) return 0;
  uint64_t d = next - now_ms_;
  return d > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(d);
}

// --- Events ----------------------------------------------------------------------------------------------

void DoorLock::EmitOperation(LockOperationType op, const Requester& who) {
  LockEvent e;
  e.kind = EventKind::kLockOperation;
  e.operation = op;
  e.source = who.source;
  e.user_index = who.user_index;
  e.has_credential = who.has_credential;
  e.credential = who.credential;
  e.detail = who.detail;
  stamper_.Emit(e);
}

void DoorLock::EmitError(LockOperationType op, const Requester& who, OperationError error, EventDetail detail) {
  LockEvent e;
  e.kind = EventKind::kLockOperationError;
  e.operation = op;
  e.error = error;
  e.source = who.source;
  e.user_index = who.user_index;
  e.has_credential = who.has_credential;
  e.credential = who.credential;
  e.detail = detail;
  stamper_.Emit(e);
}

void DoorLock::Indicate(Signal signal) {
  const bool alarm = signal == Signal::kAlarm || signal == Signal::kJammed || signal == Signal::kBatteryCritical;
  const bool allowed = signal == Signal::kAccessGranted || signal == Signal::kUnlocked || signal == Signal::kLocked;
  Feedback how;
  how.led = alarm || settings_.led_settings == LedSetting::kAll ||
            (settings_.led_settings == LedSetting::kNoneWhenAccessAllowed && !allowed);
  how.volume = alarm && settings_.sound_volume == SoundVolume::kSilent ? SoundVolume::kHigh : settings_.sound_volume;
  hw_.indicator.Show(signal, how);
}

void DoorLock::EmitAlarm(AlarmCode code) {
  LockEvent e;
  e.kind = EventKind::kDoorLockAlarm;
  e.alarm = code;
  stamper_.Emit(e);
}

void DoorLock::EmitDoor(DoorState s) {
  LockEvent e;
  e.kind = EventKind::kDoorStateChange;
  e.door_state = s;
  stamper_.Emit(e);
}

// --- Attributes -----------------------------------------------------------------------------------------------

Result<int64_t> DoorLock::ReadAttribute(AttributeId id) const {
  const Settings& s = settings_;
  switch (id) {
    case AttributeId::kLockState: return static_cast<int64_t>(lock_state());
    case AttributeId::kLockType: return int64_t{0};  // DeadBolt
    case AttributeId::kActuatorEnabled: return int64_t{1};
    case AttributeId::kDoorState: return static_cast<int64_t>(door_state_);
    case AttributeId::kNumberOfTotalUsersSupported: return int64_t{config::kMaxUsers};
    case AttributeId::kNumberOfPINUsersSupported: return int64_t{config::kMaxPinCredentials};
    case AttributeId::kNumberOfRFIDUsersSupported: return int64_t{config::kMaxRfidCredentials};
    case AttributeId::kNumberOfWeekDaySchedulesSupportedPerUser: return int64_t{config::kWeekDaySchedulesPerUser};
    case AttributeId::kNumberOfYearDaySchedulesSupportedPerUser: return int64_t{config::kYearDaySchedulesPerUser};
    case AttributeId::kNumberOfHolidaySchedulesSupported: return int64_t{config::kHolidaySchedules};
    case AttributeId::kMaxPINCodeLength: return int64_t{config::kMaxPinLength};
    case AttributeId::kMinPINCodeLength: return int64_t{config::kMinPinLength};
    case AttributeId::kMaxRFIDCodeLength: return int64_t{config::kMaxRfidLength};
    case AttributeId::kMinRFIDCodeLength: return int64_t{config::kMinRfidLength};
    case AttributeId::kCredentialRulesSupport: return int64_t{0x07};
    case AttributeId::kNumberOfCredentialsSupportedPerUser: return int64_t{config::kMaxCredentialsPerUser};
    case AttributeId::kAutoRelockTime: return int64_t{s.auto_relock_time_s};
    case AttributeId::kOperatingMode: return static_cast<int64_t>(s.operating_mode);
    case AttributeId::kSupportedOperatingModes: return int64_t{kSupportedOperatingModesBitmap};
    case AttributeId::kEnableLocalProgramming: return int64_t{s.enable_local_programming};
    case AttributeId::kEnableOneTouchLocking: return int64_t{s.enable_one_touch_locking};
    case AttributeId::kEnablePrivacyModeButton: return int64_t{s.enable_privacy_mode_button};
    case AttributeId::kWrongCodeEntryLimit: return int64_t{s.wrong_code_entry_limit};
    case AttributeId::kUserCodeTemporaryDisableTime: return int64_t{s.user_code_temporary_disable_time_s};
    case AttributeId::kRequirePINforRemoteOperation: return int64_t{s.require_pin_for_remote_operation};
    case AttributeId::kExpiringUserTimeout: return int64_t{s.expiring_user_timeout_min};
    case AttributeId::kMaxLockoutTime: return int64_t{s.max_lockout_time_s};
    case AttributeId::kDoorAjarTime: return int64_t{s.door_ajar_time_s};
    case AttributeId::kUnlatchOnUnlock: return int64_t{s.unlatch_on_unlock};
    case AttributeId::kBatteryLowThreshold: return int64_t{s.battery_low_percent};
    case AttributeId::kBatteryCriticalThreshold: return int64_t{s.battery_critical_percent};
    case AttributeId::kUnlockReserveThreshold: return int64_t{s.unlock_reserve_percent};
    case AttributeId::kUtcOffset: return int64_t{s.utc_offset_s};
    case AttributeId::kLEDSettings: return int64_t{static_cast<uint8_t>(s.led_settings)};
    case AttributeId::kDstOffset: return int64_t{s.dst_save_s};
    case AttributeId::kDstStart: return s.dst_start;
    case AttributeId::kDstEnd: return s.dst_end;
    case AttributeId::kSoundVolume: return int64_t{static_cast<uint8_t>(s.sound_volume)};
    case AttributeId::kBatteryPercent: return int64_t{power_.battery_percent};
    case AttributeId::kEmergencyPower: return int64_t{power_.emergency_power};
    case AttributeId::kBoltState: return static_cast<int64_t>(bolt_);
    case AttributeId::kLockoutRemaining: return int64_t{lockout_remaining_s()};
    case AttributeId::kUtcTime: return utc_now().value_or(0);
  }
  return StatusCode::kNotFound;
}

Status DoorLock::WriteAttribute(AttributeId id, int64_t value, OperationSource source) {
  now_ms();
  const AttributeInfo* info = FindAttribute(id);
  if (info == nullptr) return StatusCode::kNotFound;
  if (!info->writable || value < info->min || value > info->max) return StatusCode::kInvalidArgument;
  LeakFailures();  // failures already forgiven under the old lockout settings stay forgiven
  Settings s = settings_;
  switch (id) {
    case AttributeId::kAutoRelockTime: s.auto_relock_time_s = static_cast<uint32_t>(value); break;
    case AttributeId::kOperatingMode: {
      auto mode = static_cast<OperatingMode>(value);
      // Privacy is only possible while locked (Matter's rule).
      if (mode == OperatingMode::kPrivacy && bolt_ != BoltState::kLocked) return StatusCode::kFailedPrecondition;
      s.operating_mode = mode;
      break;
    }
    case AttributeId::kEnableLocalProgramming: s.enable_local_programming = value != 0; break;
    case AttributeId::kEnableOneTouchLocking: s.enable_one_touch_locking = value != 0; break;
    case AttributeId::kEnablePrivacyModeButton: s.enable_privacy_mode_button = value != 0; break;
    case AttributeId::kWrongCodeEntryLimit: s.wrong_code_entry_limit = static_cast<uint8_t>(value); break;
    case AttributeId::kUserCodeTemporaryDisableTime:
      s.user_code_temporary_disable_time_s = static_cast<uint8_t>(value);
      break;
    case AttributeId::kRequirePINforRemoteOperation: s.require_pin_for_remote_operation = value != 0; break;
    case AttributeId::kExpiringUserTimeout: s.expiring_user_timeout_min = static_cast<uint16_t>(value); break;
    case AttributeId::kMaxLockoutTime: s.max_lockout_time_s = static_cast<uint32_t>(value); break;
    case AttributeId::kDoorAjarTime: s.door_ajar_time_s = static_cast<uint16_t>(value); break;
    case AttributeId::kUnlatchOnUnlock: s.unlatch_on_unlock = value != 0; break;
    case AttributeId::kBatteryLowThreshold: s.battery_low_percent = static_cast<uint8_t>(value); break;
    case AttributeId::kBatteryCriticalThreshold: s.battery_critical_percent = static_cast<uint8_t>(value); break;
    case AttributeId::kUnlockReserveThreshold: s.unlock_reserve_percent = static_cast<uint8_t>(value); break;
    case AttributeId::kUtcOffset: s.utc_offset_s = static_cast<int32_t>(value); break;
    case AttributeId::kLEDSettings: s.led_settings = static_cast<LedSetting>(value); break;
    case AttributeId::kDstOffset: s.dst_save_s = static_cast<int32_t>(value); break;
    case AttributeId::kDstStart: s.dst_start = value; break;
    case AttributeId::kDstEnd: s.dst_end = value; break;
    case AttributeId::kSoundVolume: s.sound_volume = static_cast<SoundVolume>(value); break;
    default: return StatusCode::kInvalidArgument;
  }
  // Ranges and orderings (thresholds, lockout cap) hold for the whole set.
  if (!ValidSettings(s)) return StatusCode::kInvalidArgument;
  if (!PersistSettings(s).ok()) return StatusCode::kUnavailable;
  const bool zone_moved = s.utc_offset_s != settings_.utc_offset_s || s.dst_save_s != settings_.dst_save_s ||
                          s.dst_start != settings_.dst_start || s.dst_end != settings_.dst_end;
  settings_ = s;
  if (zone_moved) {
    const bool continues = emitted_ == zone_record_at_ && source == zone_record_source_ &&
                           now_ms_ - zone_write_ms_ <= kZoneWriteBurstMs;
    if (!continues) {
      LockEvent ev;
      ev.kind = EventKind::kLockUserChange;
      ev.data_type = LockDataType::kUnspecified;
      ev.data_operation = DataOperationType::kModify;
      ev.source = source;
      ev.detail = EventDetail::kUtcOffsetChanged;
      stamper_.Emit(ev);
      zone_record_at_ = emitted_;
      zone_record_source_ = source;
    }
    zone_write_ms_ = now_ms_;
  }
  ApplyModeChange(source == OperationSource::kUnspecified ? OperationSource::kRemote : source);
  return Status::Ok();
}

}  // namespace mortise::core
