#include "sim_backend.h"

namespace mortise::lockd {

void RingIndicator::Show(core::Signal s, const core::Feedback& how) {
  recent_.push_back(Shown{s, clock_.MonotonicMs(), how});
  if (recent_.size() > kKept) recent_.pop_front();
  ++count_;
}

SimBackend::SimBackend(const SimSettings& settings) : indicator_(clock_), door_sensor_(settings.door_sensor) {
  mechanics_.set_travel_ms(settings.motor_travel_ms);
  mechanics_.set_battery_percent(settings.battery_percent);
  mechanics_.set_door(settings.door_sensor ? core::DoorContact::kClosed : core::DoorContact::kNotFitted);
}

void SimBackend::Step(uint64_t ms) {
  clock_.Advance(ms);
  rtc_.Advance(ms);
  mechanics_.Step(ms);
}

bool SimBackend::ValidKeys(std::string_view keys) {
  for (char c : keys)
    if (!((c >= '0' && c <= '9') || c == '*' || c == '#')) return false;
  return true;
}

void SimBackend::PressKeys(std::string_view keys) {
  // A keypad holds at most a PinEntry's worth of digits; further digits are
  // kept so an over-long entry reaches the core (which refuses it) rather
  // than being silently cut to a valid PIN.
  constexpr size_t kMaxEntry = sizeof(core::PinEntry{}.digits) + 1;
  for (char c : keys) {
    if (c >= '0' && c <= '9') {
      if (entry_.size() < kMaxEntry) entry_.push_back(c);
    } else if (c == '*') {
      // '*' on an empty entry starts a programming entry (the programming
      // menu, docs/lockd.md); typed after digits it clears them, as before.
      programming_ = entry_.empty();
      entry_.clear();
    } else if (c == '#') {
      if (!entry_.empty()) keypad_.Type(programming_ ? "*" + entry_ : entry_);
      entry_.clear();
      programming_ = false;
    }
  }
}

void SimBackend::TurnThumbTurn(bool lock) {
  manual_.Push(lock ? core::ManualInput::kInsideThumbTurnLock : core::ManualInput::kInsideThumbTurnUnlock);
  mechanics_.set_position(lock ? mechanics_.geometry().extended : mechanics_.geometry().retracted);
}

void SimBackend::TurnKey(bool lock) {
  manual_.Push(lock ? core::ManualInput::kMechanicalKeyLock : core::ManualInput::kMechanicalKeyUnlock);
  mechanics_.set_position(lock ? mechanics_.geometry().extended : mechanics_.geometry().retracted);
}

void SimBackend::PullHandle() {
  manual_.Push(core::ManualInput::kInsideHandle);
  mechanics_.set_position(mechanics_.geometry().retracted);
}

void SimBackend::SetDoorOpen(bool open) {
  if (!door_sensor_) return;
  mechanics_.set_door(open ? core::DoorContact::kOpen : core::DoorContact::kClosed);
}

void SimBackend::SetBatteryPresent(bool present) {
  battery_present_ = present;
  mechanics_.set_battery_present(present);
}

void SimBackend::SetEmergencyPower(bool on) {
  emergency_ = on;
  mechanics_.set_emergency_power(on);
}

void SimBackend::SetEscutcheonRemoved(bool removed) {
  escutcheon_removed_ = removed;
  mechanics_.set_escutcheon_removed(removed);
}

void SimBackend::JamForever(bool jam) {
  jam_forever_ = jam;
  mechanics_.JamForever(jam);
}

}  // namespace mortise::lockd
