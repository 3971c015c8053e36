#include "mortise/sim/sim_lock.h"

namespace mortise::sim {

SimLock::SimLock(core::DurableStore* store, uint64_t seed, const core::MechanicsConfig& mechanics)
    : random_(seed) {
  if (store == nullptr) {
    own_store_ = std::make_unique<MemoryStore>();
    store = own_store_.get();
  }
  store_ = store;
  core::Hardware hw{clock_,      random_, *store_,   mechanics_, mechanics_, manual_,
                    keypad_,     cards_,  biometrics_, indicator_, events_};
  lock_ = std::make_unique<core::DoorLock>(hw, mechanics);
}

void SimLock::Run(uint64_t ms, uint64_t tick_ms) {
  for (uint64_t t = 0; t < ms; t += tick_ms) {
    clock_.Advance(tick_ms);
    if (rtc_ != nullptr) rtc_->Advance(tick_ms);
    mechanics_.Step(tick_ms);
    lock_->Service();
  }
}

void SimLock::TurnThumbTurn(bool lock) {
  manual_.Push(lock ? core::ManualInput::kInsideThumbTurnLock : core::ManualInput::kInsideThumbTurnUnlock);
  mechanics_.set_position(lock ? mechanics_.geometry().extended : mechanics_.geometry().retracted);
}

void SimLock::TurnMechanicalKey(bool lock) {
  manual_.Push(lock ? core::ManualInput::kMechanicalKeyLock : core::ManualInput::kMechanicalKeyUnlock);
  mechanics_.set_position(lock ? mechanics_.geometry().extended : mechanics_.geometry().retracted);
}

void SimLock::PullInsideHandle() {
  manual_.Push(core::ManualInput::kInsideHandle);
  mechanics_.set_position(mechanics_.geometry().retracted);
}

}  // namespace mortise::sim
