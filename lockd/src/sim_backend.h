// The simulated lock body (backend "sim"): sim/'s motor, battery, door,
// keypad, readers and clock, plus the person-like actions the control
// socket and the face expose. Only hardware the simulator has is offered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "backend.h"
#include "mortise/sim/sim_hardware.h"

namespace mortise::lockd {

// Keeps the last signals the core showed, with when (the LEDs and buzzer of
// a simulated lock). Bounded, unlike sim::RecordingIndicator, since the
// daemon runs for months.
class RingIndicator final : public core::Indicator {
 public:
  static constexpr size_t kKept = 16;
  struct Shown {
    core::Signal signal;
    uint64_t at_ms;
    core::Feedback how;
  };
  explicit RingIndicator(core::Clock& clock) : clock_(clock) {}
  void Show(core::Signal s, const core::Feedback& how) override;
  const std::deque<Shown>& recent() const { return recent_; }
  uint64_t count() const { return count_; }

 private:
  core::Clock& clock_;
  std::deque<Shown> recent_;
  uint64_t count_ = 0;
};

struct SimSettings {
  uint32_t motor_travel_ms = 800;
  uint8_t battery_percent = 100;
  bool door_sensor = true;
};

class SimBackend final : public Backend {
 public:
  explicit SimBackend(const SimSettings& settings = SimSettings());

  const char* name() const override { return "sim"; }
  core::Clock& clock() override { return clock_; }
  core::Actuator& actuator() override { return mechanics_; }
  core::Sensors& sensors() override { return mechanics_; }
  core::ManualInputs& manual() override { return manual_; }
  core::Keypad& keypad() override { return keypad_; }
  core::CardReader& cards() override { return cards_; }
  core::FingerprintSensor& biometrics() override { return biometrics_; }
  core::Indicator& indicator() override { return indicator_; }
  void Step(uint64_t ms) override;
  SimBackend* sim() override { return this; }

  // --- Person-like actions -------------------------------------------------
  // Keys as on the keypad: digits add to the entry, '*' clears it, '#'
  // submits it (an empty entry is not submitted). Other characters are the
  // caller's to refuse (ValidKeys).
  static bool ValidKeys(std::string_view keys);
  void PressKeys(std::string_view keys);
  const std::string& pending_keys() const { return entry_; }
  bool pending_programming() const { return programming_; }
  void TapCard(const std::vector<uint8_t>& uid) { cards_.Tap(uid); }
  void Finger(const std::vector<uint8_t>& template_id, core::CredentialType type) {
    biometrics_.Match(template_id, type);
  }
  void FingerNoMatch(core::CredentialType type) { biometrics_.NoMatch(type); }
  // The bolt moves by hand at once, and the core sees the manual input.
  void TurnThumbTurn(bool lock);
  void TurnKey(bool lock);
  void PullHandle();
  void PressButton(core::ManualInput button) { manual_.Push(button); }
  void SetDoorOpen(bool open);
  bool door_sensor() const { return door_sensor_; }
  void SetBatteryPercent(uint8_t percent) { mechanics_.set_battery_percent(percent); }
  void SetBatteryPresent(bool present);
  bool battery_present() const { return battery_present_; }
  void SetEmergencyPower(bool on);
  bool emergency_power() const { return emergency_; }
  void SetEscutcheonRemoved(bool removed);
  bool escutcheon_removed() const { return escutcheon_removed_; }
  void Jam(int attempts) { mechanics_.JamNextAttempts(attempts); }
  void JamForever(bool jam);
  bool jammed_forever() const { return jam_forever_; }

  sim::SimClock& sim_clock() { return clock_; }
  // The lock's battery-backed RTC; it counts with the simulated clock.
  sim::SimRtc& rtc() { return rtc_; }
  sim::SimMechanics& mechanics() { return mechanics_; }
  const RingIndicator& ring_indicator() const { return indicator_; }

 private:
  sim::SimClock clock_;
  sim::SimRtc rtc_;
  sim::SimMechanics mechanics_;
  sim::SimKeypad keypad_;
  sim::SimCardReader cards_;
  sim::SimFingerprint biometrics_;
  sim::SimManualInputs manual_;
  RingIndicator indicator_;
  std::string entry_;
  bool programming_ = false;  // the entry began with '*'
  bool door_sensor_ = true;
  bool battery_present_ = true;
  bool emergency_ = false;
  bool escutcheon_removed_ = false;
  bool jam_forever_ = false;
};

}  // namespace mortise::lockd
