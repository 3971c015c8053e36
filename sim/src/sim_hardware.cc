#include "mortise/sim/sim_hardware.h"

#include <algorithm>

namespace mortise::sim {

uint64_t SimRandom::Next() {
  // splitmix64: full period, good enough for deterministic tests.
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void SimRandom::Fill(std::span<uint8_t> out) {
  for (auto& b : out) b = static_cast<uint8_t>(Next());
}

int SimMechanics::TargetFor(core::MotorCommand c) const {
  switch (c) {
    case core::MotorCommand::kExtend: return geo_.extended;
    case core::MotorCommand::kRetract: return geo_.retracted;
    case core::MotorCommand::kPullLatch: return geo_.latch_pulled;
    case core::MotorCommand::kStop: return position_;
  }
  return position_;
}

uint8_t SimMechanics::battery_percent() const {
  if (!battery_present_) return 0;
  return static_cast<uint8_t>(std::min<uint64_t>(100, (battery_pah_ + kCapacityPah / 200) * 100 / kCapacityPah));
}

void SimMechanics::Drive(core::MotorCommand command) {
  command_ = command;
  // Each drive command is one attempt; an injected jam stalls whole attempts.
  stalled_ = false;
  if (command != core::MotorCommand::kStop && jam_attempts_ > 0) {
    --jam_attempts_;
    stalled_ = true;
  }
}

void SimMechanics::Step(uint64_t ms) {
  const bool powered = emergency_ || (battery_present_ && battery_pah_ > 0);
  uint64_t drain = ms * 14;
  if (command_ != core::MotorCommand::kStop && powered) {
    motor_run_ms_ += ms;
    drain += ms * 83333;
    if (!stalled_ && !jam_forever_) {
      const int target = TargetFor(command_);
      const int speed_per_ms_x1000 = (geo_.extended - geo_.retracted) * 1000 / static_cast<int>(travel_ms_);
      // 64-bit: a test may step the clock by days while the motor runs.
      const int64_t step64 = static_cast<int64_t>(ms) * speed_per_ms_x1000 / 1000;
      const int step = static_cast<int>(std::min<int64_t>(step64, geo_.extended - geo_.retracted + 1));
      if (position_ < target) position_ = std::min(target, position_ + std::max(1, step));
      else if (position_ > target) position_ = std::max(target, position_ - std::max(1, step));
    }
  }
  if (!emergency_) battery_pah_ = battery_pah_ > drain ? battery_pah_ - drain : 0;
}

core::SensorSnapshot SimMechanics::Read() {
  core::SensorSnapshot s;
  if (position_ >= geo_.extended) s.bolt = core::BoltPosition::kExtended;
  else if (position_ == geo_.retracted) s.bolt = core::BoltPosition::kRetracted;
  else if (position_ <= geo_.latch_pulled) s.bolt = core::BoltPosition::kLatchPulled;
  else s.bolt = core::BoltPosition::kBetween;
  s.door = door_;
  s.escutcheon_removed = escutcheon_removed_;
  s.power.battery_percent = battery_percent();
  // A 4xAA pack: 4.4 V empty .. 6.4 V full, linear enough for the model.
  s.power.battery_mv = battery_present_ ? static_cast<uint16_t>(4400 + 20 * s.power.battery_percent) : 0;
  s.power.emergency_power = emergency_;
  return s;
}

void SimKeypad::Type(const std::string& keys) {
  core::PinEntry e;
  // A leading '*' marks a programming entry (keypad.h).
  e.programming = !keys.empty() && keys[0] == '*';
  const std::string digits = e.programming ? keys.substr(1) : keys;
  e.length = static_cast<uint8_t>(std::min(digits.size(), sizeof(e.digits)));
  for (size_t i = 0; i < e.length; ++i) e.digits[i] = static_cast<uint8_t>(digits[i]);
  if (digits.size() > sizeof(e.digits)) e.length = static_cast<uint8_t>(sizeof(e.digits));
  q_.Push(e);
}

void SimCardReader::Tap(const std::vector<uint8_t>& uid) {
  core::CardRead c;
  c.length = static_cast<uint8_t>(std::min(uid.size(), sizeof(c.uid)));
  std::copy_n(uid.begin(), c.length, c.uid);
  q_.Push(c);
}

void SimFingerprint::Match(const std::vector<uint8_t>& id, core::CredentialType type) {
  core::BiometricRead r;
  r.type = type;
  r.matched = true;
  r.length = static_cast<uint8_t>(std::min(id.size(), sizeof(r.template_id)));
  std::copy_n(id.begin(), r.length, r.template_id);
  q_.Push(r);
}

void SimFingerprint::NoMatch(core::CredentialType type) {
  core::BiometricRead r;
  r.type = type;
  r.matched = false;
  q_.Push(r);
}

}  // namespace mortise::sim
