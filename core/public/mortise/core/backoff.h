// The guessing back-off shared by the wrong-code lockout (every credential a
// person can guess: keypad, card, finger, remote PIN) and the offline-code
// budget: a leaky failure score.
//
//  * Every failure adds 1 to the score; the score is charged before the
//    credential is examined and refunded only for that attempt if it proves
//    valid. A success never refunds the failures made before it.
//  * The score leaks away with time: one failure per leak period
//    (cap / limit), never with successes. Time with a score of 0 banks
//    nothing.
//  * Each time a failure lifts the score to a multiple k * limit above the
//    current level, the inputs close for min(base * 2^(k-1), cap).
//
// So a guesser gets `limit` guesses per step of a doubling back-off until
// it reaches the cap, then exactly one guess per leak period. Any window of
// T seconds admits at most GuessBound(T) failures, whatever the strategy
// (pauses, interleaved valid credentials, power cuts): see GuessBound.
#pragma once

#include <cstdint>

namespace mortise::core {

struct BackoffPolicy {
  uint32_t limit = 5;      // failures per step (WrongCodeEntryLimit)
  uint32_t base_s = 30;    // the first closing (UserCodeTemporaryDisableTime)
  uint32_t cap_s = 86400;  // the longest closing (MaxLockoutTime)

  // One failure leaks away per this many milliseconds.
  uint64_t LeakPeriodMs() const { return uint64_t{cap_s} * 1000 / limit; }
  // The closing a failure lifting the score to level * limit starts.
  uint64_t LockoutSeconds(uint32_t level) const;
  // The first level whose closing is the cap.
  uint32_t CapLevel() const;
  // The highest score a guesser can reach: limit * CapLevel().
  uint64_t MaxScore() const { return uint64_t{limit} * CapLevel(); }
  // The most failures admitted in any window of `window_s` seconds:
  //   min(limit * (m + 1), MaxScore()) + floor(window / leak) + 1,
  // with m the number of distinct levels whose closings fit in the window.
  // Proof: failures = (score rise) + (leaks); leaks in a window are at most
  // floor(window / leak) + 1; the score rises by at most `limit` per step
  // and a rise past a step needs that step's closing served, so the rise is
  // at most limit * (m + 1), and never past MaxScore() (at the cap a closing
  // lasts cap = limit leak periods, so the score cannot climb higher).
  uint64_t GuessBound(uint64_t window_s) const;
};

struct BackoffState {
  uint64_t score = 0;      // failures not yet leaked away
  uint32_t level = 0;      // the step of the last closing, <= score / limit
  uint64_t anchor_ms = 0;  // when the current leak period started
};

// Forgives the failures whose leak periods have passed by `now_ms`; returns
// how many. With the score at 0 the anchor follows `now_ms`.
uint64_t Leak(const BackoffPolicy& policy, BackoffState& state, uint64_t now_ms);

// After a failure was added to `state.score`: the step of the closing to
// start now (and records it as the level), or 0 for none.
uint32_t StepAfterFailure(const BackoffPolicy& policy, BackoffState& state);

}  // namespace mortise::core
