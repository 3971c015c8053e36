// Simulated lock hardware: a motor with travel time, jam injection and a
// battery drain model; door contact; keypad, card reader and biometric
// sensor queues; emergency power; tamper switch; indicator and event
// recorders; a simulated clock and a seeded random source. Linux-side.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "mortise/core/actuator.h"
#include "mortise/core/card_reader.h"
#include "mortise/core/clock.h"
#include "mortise/core/event_sink.h"
#include "mortise/core/fingerprint_sensor.h"
#include "mortise/core/indicator.h"
#include "mortise/core/keypad.h"
#include "mortise/core/manual_inputs.h"
#include "mortise/core/random.h"
#include "mortise/core/rtc.h"
#include "mortise/core/sensors.h"

namespace mortise::sim {

class SimClock final : public core::Clock {
 public:
  uint64_t MonotonicMs() override { return now_ms_; }
  void Advance(uint64_t ms) { now_ms_ += ms; }
  uint64_t now_ms() const { return now_ms_; }

 private:
  uint64_t now_ms_ = 1000;
};

// A battery-backed real-time clock: it counts while it has power, whether the
// lock runs or not (tests advance it; SimLock::Run advances an attached one).
class SimRtc final : public core::RealTimeClock {
 public:
  std::optional<int64_t> ReadUtc() override {
    if (!utc_ms_) return std::nullopt;
    return static_cast<int64_t>(*utc_ms_ / 1000);
  }
  Status WriteUtc(int64_t utc_s) override {
    utc_ms_ = static_cast<uint64_t>(utc_s) * 1000;
    ++writes_;
    return Status::Ok();
  }
  void Advance(uint64_t ms) {
    if (utc_ms_) *utc_ms_ += ms;
  }
  // The coin cell died: the RTC holds no time until it is set again.
  void LosePower() { utc_ms_.reset(); }
  // Its state, for keeping it across simulator restarts: milliseconds of
  // UTC, or nullopt when it holds no time.
  std::optional<uint64_t> utc_ms() const { return utc_ms_; }
  void Restore(std::optional<uint64_t> utc_ms) { utc_ms_ = utc_ms; }
  // How many times the lock set it (so an owner of the simulator knows when
  // to persist it).
  uint64_t writes() const { return writes_; }

 private:
  std::optional<uint64_t> utc_ms_;
  uint64_t writes_ = 0;
};

// xoshiro-style deterministic generator; not for production secrets.
class SimRandom final : public core::Random {
 public:
  explicit SimRandom(uint64_t seed = 1) : state_(seed ? seed : 1) {}
  void Fill(std::span<uint8_t> out) override;
  uint64_t Next();

 private:
  uint64_t state_;
};

// The bolt's travel, in tenths of a millimetre from the latch-pulled stop.
struct BoltGeometry {
  int latch_pulled = 0;
  int retracted = 100;
  int extended = 300;
};

class SimMechanics final : public core::Actuator, public core::Sensors {
 public:
  SimMechanics() = default;

  // core::Actuator
  void Drive(core::MotorCommand command) override;
  // core::Sensors
  core::SensorSnapshot Read() override;

  // Advances the physics by `ms` (the motor moves, the battery drains).
  void Step(uint64_t ms);

  // --- Test and simulation controls ---
  void set_travel_ms(uint32_t ms) { travel_ms_ = ms; }   // retracted <-> extended
  void JamNextAttempts(int n) { jam_attempts_ = n; }      // the motor stalls n drive commands
  void JamForever(bool jam) { jam_forever_ = jam; }
  void set_position(int pos) { position_ = pos; }
  int position() const { return position_; }
  void set_door(core::DoorContact c) { door_ = c; }
  core::DoorContact door() const { return door_; }
  void set_escutcheon_removed(bool removed) { escutcheon_removed_ = removed; }
  void set_battery_percent(uint8_t p) { battery_pah_ = kCapacityPah / 100 * p; }
  void set_emergency_power(bool on) { emergency_ = on; }
  void set_battery_present(bool present) { battery_present_ = present; }
  uint8_t battery_percent() const;
  core::MotorCommand command() const { return command_; }
  const BoltGeometry& geometry() const { return geo_; }
  uint64_t motor_run_ms() const { return motor_run_ms_; }

 private:
  int TargetFor(core::MotorCommand c) const;

  BoltGeometry geo_;
  core::MotorCommand command_ = core::MotorCommand::kStop;
  int position_ = 300;  // starts locked
  uint32_t travel_ms_ = 800;
  int jam_attempts_ = 0;
  bool jam_forever_ = false;
  bool stalled_ = false;
  core::DoorContact door_ = core::DoorContact::kClosed;
  bool escutcheon_removed_ = false;
  bool emergency_ = false;
  bool battery_present_ = true;
  // Battery model in pico-amp-hours: 1500 mAh; the motor draws 300 mA
  // (83,333 pAh a millisecond), the electronics 50 uA (14 pAh a millisecond).
  static constexpr uint64_t kCapacityPah = 1500ull * 1000000000ull;
  uint64_t battery_pah_ = kCapacityPah;
  uint64_t motor_run_ms_ = 0;
};

template <typename T>
class SimQueue {
 public:
  void Push(const T& v) { q_.push_back(v); }
  bool Pop(T& out) {
    if (q_.empty()) return false;
    out = q_.front();
    q_.pop_front();
    return true;
  }
  size_t size() const { return q_.size(); }

 private:
  std::deque<T> q_;
};

class SimKeypad final : public core::Keypad {
 public:
  bool Poll(core::PinEntry& out) override { return q_.Pop(out); }
  // Digits then the enter key; a leading '*' makes a programming entry.
  void Type(const std::string& keys);

 private:
  SimQueue<core::PinEntry> q_;
};

class SimCardReader final : public core::CardReader {
 public:
  bool Poll(core::CardRead& out) override { return q_.Pop(out); }
  void Tap(const std::vector<uint8_t>& uid);

 private:
  SimQueue<core::CardRead> q_;
};

class SimFingerprint final : public core::FingerprintSensor {
 public:
  bool Poll(core::BiometricRead& out) override { return q_.Pop(out); }
  void Match(const std::vector<uint8_t>& template_id, core::CredentialType type = core::CredentialType::kFingerprint);
  void NoMatch(core::CredentialType type = core::CredentialType::kFingerprint);

 private:
  SimQueue<core::BiometricRead> q_;
};

class SimManualInputs final : public core::ManualInputs {
 public:
  bool Poll(core::ManualInput& out) override { return q_.Pop(out); }
  void Push(core::ManualInput in) { q_.Push(in); }

 private:
  SimQueue<core::ManualInput> q_;
};

class RecordingIndicator final : public core::Indicator {
 public:
  void Show(core::Signal s, const core::Feedback& how) override {
    signals.push_back(s);
    feedback.push_back(how);
  }
  std::vector<core::Signal> signals;
  std::vector<core::Feedback> feedback;
};

class RecordingEventSink final : public core::EventSink {
 public:
  void Emit(const core::LockEvent& e) override {
    events.push_back(e);
    if (forward_ != nullptr) forward_->Emit(e);
  }
  // Also hands every event to `sink` (the audit log, in integration tests).
  void set_forward(core::EventSink* sink) { forward_ = sink; }
  std::vector<core::LockEvent> events;

 private:
  core::EventSink* forward_ = nullptr;
};

}  // namespace mortise::sim
