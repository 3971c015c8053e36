// The lock engine: one object that owns the lock's state and decides, for
// every input, whether the bolt may move.
//
// Threading model: single-threaded and run-to-completion. The integrator
// calls Service() from its main loop (every 10-50 ms, and whenever an input
// interrupt fires); Service() samples the sensors, drains the input facades,
// and advances every timer. Management and remote calls are plain methods
// that return at once; motion they start completes in later Service() calls
// and is reported through the event sink.
//
// The engine never blocks, never allocates and never calls the OS. Its RAM
// is sizeof(DoorLock) (see docs/core.md for each configuration).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "mortise/core/actuator.h"
#include "mortise/core/attributes.h"
#include "mortise/core/backoff.h"
#include "mortise/core/card_reader.h"
#include "mortise/core/clock.h"
#include "mortise/core/durable_store.h"
#include "mortise/core/event_sink.h"
#include "mortise/core/fingerprint_sensor.h"
#include "mortise/core/indicator.h"
#include "mortise/core/keypad.h"
#include "mortise/core/manual_inputs.h"
#include "mortise/core/offline_pin.h"
#include "mortise/core/programming_menu.h"
#include "mortise/core/random.h"
#include "mortise/core/rtc.h"
#include "mortise/core/schedule.h"
#include "mortise/core/sensors.h"
#include "mortise/core/user_db.h"

namespace mortise::core {

// Everything outside the core, provided by the integrator.
struct Hardware {
  Clock& clock;
  Random& random;
  DurableStore& store;
  Actuator& actuator;
  Sensors& sensors;
  ManualInputs& manual;
  Keypad& keypad;
  CardReader& cards;
  FingerprintSensor& biometrics;
  Indicator& indicator;
  EventSink& events;
};

// Mechanical timings of the lock model; fixed per product, not user settings.
struct MechanicsConfig {
  uint32_t motor_travel_timeout_ms = 3000;  // no end position by then: retry
  uint8_t motor_retries = 2;                // retries before declaring a jam
  uint32_t unlatch_hold_ms = 1500;          // how long the latch is held open
  uint32_t manual_attribution_ms = 3000;    // a manual input explains bolt motion this long
  uint32_t multi_credential_window_ms = 15000;  // dual/tri credentials must arrive within this
};

// A remote operation (Matter Lock/Unlock/UnlockWithTimeout/UnboltDoor), after
// the protocol layer has authenticated the requester.
struct RemoteOperation {
  OperationSource source = OperationSource::kRemote;  // kRemote or kProprietaryRemote
  // The user the authenticated key maps to (0: none). Recorded in events.
  uint16_t user_index = 0;
  // PINCode field; required when RequirePINforRemoteOperation is set.
  std::optional<std::span<const uint8_t>> pin;
  // The protocol key that asked, recorded in the operation's events as an
  // Aliro endpoint-key credential (types.h). A PIN, when given, is recorded
  // instead: it names the user the lock checked.
  std::optional<CredentialRef> key;
};

struct OperationResult {
  DlStatus status = DlStatus::kSuccess;  // kSuccess: accepted (motion may still be under way)
  OperationError error = OperationError::kUnspecified;
  EventDetail detail = EventDetail::kNone;
  bool ok() const { return status == DlStatus::kSuccess; }
};

class DoorLock {
 public:
  DoorLock(const Hardware& hw, const MechanicsConfig& mechanics = MechanicsConfig());

  // A lock with a battery-backed real-time clock attaches it before Start():
  // Start() then takes the time from it when it reads at or after the lock's
  // durable time floor (else the time stays unknown), and SetUtcTime sets it.
  void AttachRealTimeClock(RealTimeClock& rtc) { rtc_ = &rtc; }

  // Loads settings, users and lockout state from the store (creating the
  // lock's secret on first start), takes the time from the RTC if one is
  // attached, samples the sensors and emits the LockRadioPowerCycled alarm
  // that marks a (re)start in the log.
  // Errors: the store's, when it cannot be read.
  Status Start();

  // See the threading model above.
  void Service();

  // Milliseconds until the next timer needs Service(), for low-power sleep;
  // UINT32_MAX when nothing is pending.
  uint32_t MillisUntilNextDeadline() const;

  // --- Time -------------------------------------------------------------------
  // Sets the lock's UTC time. The caller has checked the requester's right
  // to set time. Moving backwards needs `allow_backwards` (an owner's signed
  // command). kFailedPrecondition: backwards without it. kInvalidArgument:
  // before 2020-01-01 or after 2105.
  Status SetUtcTime(int64_t utc_s, bool allow_backwards);
  // A small correction of a clock already set (time statements,
  // docs/protocol.md section 7.1; the caller checked the statement and its
  // budget): moves the time to `utc_s` only when it is within `max_step_s`
  // of the lock's time now and not before the durable time floor. The floor
  // is raised to `utc_s` when above it, never lowered. kFailedPrecondition:
  // the time is unknown (only SetUtcTime sets an unknown clock).
  // kOutOfRange: more than `max_step_s` away, or before the floor.
  // Store errors: nothing changed.
  Status CorrectUtcTime(int64_t utc_s, int64_t max_step_s);
  // The durable time floor: the latest time set or saved (hourly, and by
  // offline codes); the clock is never believed or corrected below it.
  int64_t time_floor_s() const { return time_floor_s_; }
  std::optional<int64_t> utc_now() const;
  std::optional<LocalTime> local_now() const;
  // The offset of local time from UTC at `utc_s`: UtcOffset, plus DstOffset
  // while the daylight-saving rule (DstStart..DstEnd) is in force. Every
  // local-time rule (schedules, keys' weekly windows, offline codes) uses it.
  int32_t utc_offset_at(int64_t utc_s) const;
  // The daylight-saving rule of the settings (none when DstOffset is 0).
  DstRule dst_rule() const;

  // --- Matter management commands (see user_db.h) -----------------------------
  UserDatabase& users() { return db_; }
  const UserDatabase& users() const { return db_; }

  // --- Remote operations --------------------------------------------------------
  OperationResult LockDoor(const RemoteOperation& op);
  OperationResult UnlockDoor(const RemoteOperation& op);  // unlatches too if UnlatchOnUnlock
  OperationResult UnlockWithTimeout(const RemoteOperation& op, uint16_t timeout_s);
  OperationResult UnboltDoor(const RemoteOperation& op);  // withdraws the bolt, never the latch

  // SetCredential as a management command (a session's or an envelope's;
  // the keypad programming menu calls the database itself). The database
  // answers kDuplicate alike for another user's PIN and for the
  // programming PIN, so a PIN-managing admin could test codes with it
  // (and keep the programming menu after losing their key): a PIN refused
  // as kDuplicate counts towards WrongCodeEntryLimit like a wrong PIN, and
  // while the keypad is locked out a PIN is refused with kFailure,
  // unchecked (A15, A20).
  SetCredentialResponse SetCredential(const SetCredentialRequest& req, const Actor& actor);

  // A failed authentication on the short-range link or a forged remote
  // command: counts towards WrongCodeEntryLimit like a wrong PIN.
  void ReportAuthenticationFailure(OperationSource source);

  // --- Records the protocol layer asks for (the core stamps and logs them) ----
  // A key whose holder proved possession was refused (`why`: kKeyRevoked,
  // kKeyNotValidNow, kKeyUsesSpent, kKeyNotIssued, kTimeUnknown); `key`: its
  // key-table credential when the lock knows it. Rate-limited so that a
  // copied key replayed in a loop cannot flood the log's ring: a burst of
  // kKeyRefusalBurst records, then one per kKeyRefusalRefillMs of the
  // monotonic clock; the next record carries how many were not recorded
  // (LockEvent::data_index, saturating). Not a wrong code: nothing is
  // counted towards the keypad lockout (a signature cannot be guessed).
  static constexpr uint8_t kKeyRefusalBurst = 5;
  static constexpr uint32_t kKeyRefusalRefillMs = 60'000;
  void RecordKeyRefused(OperationSource source, std::optional<CredentialRef> key, EventDetail why);
  // A signed access list was applied (`listed`: the keys it revokes or
  // suspends), carried by `key`.
  void RecordAccessListChange(OperationSource source, std::optional<CredentialRef> key, uint16_t listed);
  // The owner handed the lock to another owner key (protocol transfer.h),
  // asked by `key` (the old owner's); `users_cleared`: users went too.
  void RecordOwnershipTransfer(OperationSource source, CredentialRef key, bool users_cleared);

  // --- Local credentials (what Service() calls for the input facades) ---------
  // Exposed so that the benchmark and tests can drive one decision directly.
  OperationResult PresentCredential(OperationSource source, CredentialType type, std::span<const uint8_t> data);

  // --- Attributes ------------------------------------------------------------------
  Result<int64_t> ReadAttribute(AttributeId id) const;
  // kInvalidArgument: out of range or not writable (the Matter
  // CONSTRAINT_ERROR / UNSUPPORTED_WRITE). kUnavailable: could not persist.
  // A change of UtcOffset is logged (LockUserChange, detail
  // kUtcOffsetChanged, with `source`): it moves every local-time right.
  Status WriteAttribute(AttributeId id, int64_t value, OperationSource source = OperationSource::kUnspecified);
  const Settings& settings() const { return settings_; }

  // Installs the secret shared with the owner's device for offline PIN codes
  // (agreed at claiming) and forgets every code used or activated under the
  // previous one. Errors: the store's.
  Status SetOfflinePinSecret(std::span<const uint8_t, 32> secret);
  bool offline_pins_enabled() const { return offline_enabled_; }
  // Seconds until offline codes are accepted again (their own budget).
  uint32_t offline_blocked_s() const;

  // Wipes users, credentials, schedules and settings (a physical input:
  // the factory-reset button, or the integrator's equivalent).
  Status FactoryReset();

  // The factory-reset button must wipe more than the core (the protocol's
  // owner, keys and sessions): when a hook is set, the button calls it and
  // the hook resets everything, the core included (protocol::LockNode
  // registers itself). Without a hook the button resets the core alone.
  class FactoryResetHook {
   public:
    virtual void OnFactoryResetButton(uint64_t now_ms) = 0;

   protected:
    ~FactoryResetHook() = default;
  };
  void set_factory_reset_hook(FactoryResetHook* hook) { reset_hook_ = hook; }

  // The keypad programming menu (programming_menu.h): its step and what the
  // last entry did, for the lock's face.
  const ProgrammingMenu& programming_menu() const { return menu_; }

  // --- State -----------------------------------------------------------------------
  BoltState bolt_state() const { return bolt_; }
  LockState lock_state() const { return ToLockState(bolt_); }
  DoorState door_state() const { return door_state_; }
  OperatingMode effective_mode() const;
  bool locked_out() const;
  uint32_t lockout_remaining_s() const;
  uint8_t battery_percent() const { return power_.battery_percent; }
  bool emergency_power() const { return power_.emergency_power; }
  uint16_t battery_mv() const { return power_.battery_mv; }
  // Stored records found corrupt at start and replaced by safe defaults.
  uint32_t dropped_records() const { return db_.dropped_records() + dropped_records_; }

 private:
  // The menu checks the programming PIN under the keypad's own attempt
  // counter and lockout, and shows its steps through the indicator.
  friend class ProgrammingMenu;

  // Stamps events with the time and forwards them to the integrator's sink.
  class Stamper : public EventSink {
   public:
    explicit Stamper(DoorLock& lock) : lock_(lock) {}
    void Emit(const LockEvent& e) override;

   private:
    DoorLock& lock_;
  };

  enum class MotionTarget : uint8_t { kNone, kLock, kUnlock, kUnlatch, kReleaseLatch };

  struct Requester {
    OperationSource source = OperationSource::kUnspecified;
    uint16_t user_index = 0;
    bool has_credential = false;
    CredentialRef credential;
    EventDetail detail = EventDetail::kNone;
  };

  // Requests for the end position a motion already travels to join it
  // (each is recorded when it ends: five quick unlocks, five records); past
  // kMaxJoined the joiner is recorded at once.
  static constexpr uint8_t kMaxJoined = 4;
  struct Motion {
    MotionTarget target = MotionTarget::kNone;
    uint64_t deadline_ms = 0;
    uint8_t attempts = 0;
    Requester who;
    uint8_t joined_count = 0;
    Requester joined[kMaxJoined];
  };

  struct PendingCredentials {  // dual/tri credential rule
    uint16_t user_index = 0;
    uint8_t count = 0;
    CredentialRef seen[3];
    uint64_t deadline_ms = 0;
  };

  uint64_t now_ms() { return now_ms_ = hw_.clock.MonotonicMs(); }
  FactoryResetHook* reset_hook_ = nullptr;

  // Inputs.
  void HandleManual(ManualInput input);
  void HandleSensors(const SensorSnapshot& s);
  void HandleBolt(BoltPosition p);
  void HandleDoor(DoorContact c);
  void HandlePower(const PowerReading& p);
  void HandleTimers();

  // Decisions.
  OperationResult Remote(const RemoteOperation& op, MotionTarget target, std::optional<uint16_t> relock_s);
  // Applies the user's status, type, schedule and mode rules to an
  // identified credential. Returns nullopt to proceed (after persisting any
  // one-use / expiry change), or the refusal, already evented.
  std::optional<OperationResult> AuthorizeUser(Requester& who, MotionTarget target, bool local);
  // AuthorizeUser, then motion; counts a refusal as a failure and resets the
  // failure count only when the bolt is really set in motion.
  OperationResult Decide(Requester& who, MotionTarget target, bool local);
  // A 13- or 16-digit keypad entry, once counted as an attempt.
  OperationResult OfflineDecision(Requester& who, std::span<const uint8_t> digits);
  Status LoadOfflinePins();
  Status PersistOfflineEntry(size_t slot, const OfflineEntry& e);
  Status PersistOfflineBudget();
  Status EraseOfflineCodes(uint32_t through_hour);
  static bool CountsAsFailure(const OperationResult& r);
  // The battery refusal for a motion, evented, or nullopt when power allows it.
  std::optional<OperationResult> CheckPower(MotionTarget target, const Requester& who);
  // Acts on a change of the effective mode (attribute write or a holiday
  // starting or ending): entering passage opens, leaving it re-arms relock.
  void ApplyModeChange(OperationSource source);
  void LeavePrivacyFromInside();
  Status SetConfiguredMode(OperatingMode mode);
  // The protocol's key records (kKeyRefused, kAccessListChange).
  void EmitKeyEvent(EventKind kind, OperationSource source, std::optional<CredentialRef> key, EventDetail detail,
                    uint16_t data_index);
  // Shows `signal` as LEDSettings and SoundVolume allow (indicator.h).
  void Indicate(Signal signal);
  OperationResult Deny(LockOperationType op, const Requester& who, OperationError error, EventDetail detail);
  // The wrong-code lockout (backoff.h): the failure score is the attempts
  // counter minus the mark.
  BackoffPolicy KeypadPolicy() const;
  void LeakFailures();    // forgives the failures whose leak periods have passed
  bool RecordAttempt();   // persist-before-use; false: could not persist (fail closed)
  void CheckFailureLimit();
  void RefundAttempt();   // the attempt just counted proved valid: it alone is refunded
  void StartLockout(uint32_t level);
  Status PersistLockout();
  // The offline-code budget's leak, on the lock's UTC time.
  void LeakOfflineFailures(uint32_t now_utc);

  // Motion.
  OperationResult BeginMotion(MotionTarget target, const Requester& who);
  void DriveFor(MotionTarget target);
  void FinishMotion(BoltState reached);
  void MotorTimeout();
  void ArmRelock(std::optional<uint16_t> seconds);

  // Events.
  void EmitOperation(LockOperationType op, const Requester& who);
  void EmitError(LockOperationType op, const Requester& who, OperationError error, EventDetail detail);
  void EmitAlarm(AlarmCode code);
  void EmitDoor(DoorState s);

  Status PersistSettings(const Settings& s);
  Status LoadSettings();
  Status PersistTime();
  void TakeTimeFromRtc();

  Hardware hw_;
  MechanicsConfig mech_;
  Stamper stamper_;
  UserDatabase db_;
  Settings settings_;
  ProgrammingMenu menu_{*this};

  uint64_t now_ms_ = 0;
  // Time: UTC known once set; kept as an anchor against the monotonic clock.
  bool time_known_ = false;
  RealTimeClock* rtc_ = nullptr;  // optional; see AttachRealTimeClock
  int64_t utc_anchor_s_ = 0;
  uint64_t mono_anchor_ms_ = 0;

  BoltState bolt_ = BoltState::kNotFullyLocked;
  BoltPosition last_bolt_ = BoltPosition::kUnknown;
  Motion motion_;
  uint64_t latch_release_ms_ = 0;  // 0: not holding the latch
  uint64_t relock_at_ms_ = 0;      // 0: no relock armed
  bool relock_pending_ = false;    // armed but waiting for the door to close
  uint16_t relock_override_s_ = 0; // UnlockWithTimeout's timeout for the next relock (0: AutoRelockTime)
  uint32_t relock_seconds_ = 0;    // the relock delay armed for the current unlock
  Requester latch_who_;            // who unlatched, for the Unlock event when the latch is released

  DoorContact door_contact_ = DoorContact::kNotFitted;
  DoorState door_state_ = DoorState::kDoorClosed;
  uint64_t door_opened_ms_ = 0;
  bool ajar_reported_ = false;
  bool tamper_ = false;

  PowerReading power_;
  bool low_reported_ = false;
  bool critical_reported_ = false;

  // Manual attribution of bolt motion.
  EventDetail last_manual_ = EventDetail::kNone;
  uint64_t last_manual_ms_ = 0;

  // Wrong-code lockout. The failure score is the attempts counter minus the
  // mark (refunded valid attempts and leaked failures); both survive power
  // loss. The leak runs on the monotonic clock from the start: time the
  // lock spent off forgives nothing.
  uint64_t attempts_ = 0;
  uint64_t attempts_mark_ = 0;
  uint64_t leak_anchor_ms_ = 0;
  int64_t time_floor_s_ = 0;  // the latest time ever set; earlier needs allow_backwards
  // Durable floor `floor_s` first (when it changes), then the clock reads
  // `utc_s` from now on (and the RTC, if any). Store errors: nothing changed.
  Status SetClock(int64_t utc_s, int64_t floor_s);
  uint8_t lockout_level_ = 0;  // the step of the last lockout (backoff.h)
  bool lockout_active_ = false;
  uint64_t lockout_until_ms_ = 0;

  PendingCredentials pending_;

  // Offline PIN codes: the codec keyed with the shared secret, the table of
  // used / activated codes and the erase-all mark, all persisted.
  OfflinePinCodec offline_;
  bool offline_enabled_ = false;
  OfflineEntry offline_table_[kOfflineTableSize];
  uint32_t offline_erased_through_ = 0;
  // The offline-code failure budget (offline_pin.h, backoff.h): the score,
  // the step of the last closing, and times in UTC seconds.
  uint16_t offline_score_ = 0;
  uint8_t offline_level_ = 0;
  uint32_t offline_blocked_until_ = 0;
  uint32_t offline_leak_anchor_ = 0;
  // The same on the monotonic clock (RAM only; at start-up the start, so
  // time spent off forgives nothing): the score never leaks, and a closing
  // never ends, faster than real time passes, whatever the UTC clock is set
  // to (A15: a holder of the set-time right moving it forward).
  uint64_t offline_leak_anchor_mono_ms_ = 0;
  uint64_t offline_blocked_until_mono_ms_ = 0;
  uint64_t next_expiry_sweep_ms_ = 0;
  uint64_t next_time_floor_save_ms_ = 0;
  OperatingMode last_mode_ = OperatingMode::kNormal;
  // The key-refusal record budget (RecordKeyRefused), RAM only: a restart
  // refills it, and only the lock's owner can restart it.
  uint8_t refusal_tokens_ = kKeyRefusalBurst;
  uint64_t refusal_refill_ms_ = 0;
  uint16_t refusals_unrecorded_ = 0;
  // One change of time zone is one record (WriteAttribute): a client sets
  // a zone with up to five writes (offset, rule start and end, saving). A
  // write that moves the zone right after the zone record, from the same
  // source, with no record between and within kZoneWriteBurstMs of the
  // previous one, continues that change. RAM only.
  static constexpr uint64_t kZoneWriteBurstMs = 2000;
  uint32_t emitted_ = 0;                 // events stamped so far
  uint32_t zone_record_at_ = UINT32_MAX; // emitted_ right after the last zone record
  uint64_t zone_write_ms_ = 0;
  OperationSource zone_record_source_ = OperationSource::kUnspecified;
  uint32_t dropped_records_ = 0;  // settings and lockout records found corrupt
};

}  // namespace mortise::core
