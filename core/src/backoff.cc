#include "mortise/core/backoff.h"

namespace mortise::core {

uint64_t BackoffPolicy::LockoutSeconds(uint32_t level) const {
  if (level == 0) return 0;
  uint64_t s = base_s;
  for (uint32_t i = 1; i < level && s < cap_s; ++i) s <<= 1;
  return s < cap_s ? s : cap_s;
}

uint32_t BackoffPolicy::CapLevel() const {
  uint32_t level = 1;
  for (uint64_t s = base_s; s < cap_s; s <<= 1) ++level;
  return level;
}

uint64_t BackoffPolicy::GuessBound(uint64_t window_s) const {
  uint64_t served = 0;
  uint32_t m = 0;
  while (m < CapLevel() && served + LockoutSeconds(m + 1) <= window_s) served += LockoutSeconds(++m);
  uint64_t rise = uint64_t{limit} * (m + 1);
  if (rise > MaxScore()) rise = MaxScore();
  return rise + window_s * 1000 / LeakPeriodMs() + 1;
}

uint64_t Leak(const BackoffPolicy& policy, BackoffState& state, uint64_t now_ms) {
  if (state.score == 0) {
    state.anchor_ms = now_ms;
    state.level = 0;
    return 0;
  }
  // A clock set back leaks nothing until it passes the anchor again.
  if (now_ms < state.anchor_ms) return 0;
  const uint64_t period = policy.LeakPeriodMs();
  const uint64_t periods = (now_ms - state.anchor_ms) / period;
  const uint64_t leaked = periods < state.score ? periods : state.score;
  state.score -= leaked;
  state.anchor_ms = state.score == 0 ? now_ms : state.anchor_ms + periods * period;
  const uint64_t ceiling = state.score / policy.limit;
  if (state.level > ceiling) state.level = static_cast<uint32_t>(ceiling);
  return leaked;
}

uint32_t StepAfterFailure(const BackoffPolicy& policy, BackoffState& state) {
  const uint64_t step = state.score / policy.limit;
  if (step <= state.level) return 0;
  state.level = step > 0xFFFF ? 0xFFFF : static_cast<uint32_t>(step);
  return state.level;
}

}  // namespace mortise::core
