// A token bucket on the lock's monotonic clock: the budgets that bound the
// work (signature verifications) or the effect (clock corrections) an
// unauthenticated relay can cause. Portable: no heap, no OS.
#pragma once

#include <cstdint>

namespace mortise::protocol {

class TokenBucket {
 public:
  // `burst` tokens at most, one more every `interval_ms`. The bucket starts
  // full at the first call (the lock's first frame of this kind).
  constexpr TokenBucket(uint32_t burst, uint64_t interval_ms)
      : burst_(burst), interval_ms_(interval_ms), tokens_(burst) {}
  // Refills up to `now_ms`; true when a token is there (none is taken).
  bool Ready(uint64_t now_ms) {
    if (!started_) {
      started_ = true;
      refill_ms_ = now_ms;
    }
    if (now_ms > refill_ms_) {
      const uint64_t earned = (now_ms - refill_ms_) / interval_ms_;
      if (tokens_ + earned >= burst_) {
        tokens_ = burst_;  // a full bucket banks nothing while idle
        refill_ms_ = now_ms;
      } else {
        tokens_ += static_cast<uint32_t>(earned);
        refill_ms_ += earned * interval_ms_;
      }
    }
    return tokens_ > 0;
  }
  // Takes a token when one is there.
  bool Take(uint64_t now_ms) {
    if (!Ready(now_ms)) return false;
    --tokens_;
    return true;
  }

 private:
  uint32_t burst_;
  uint64_t interval_ms_;
  uint32_t tokens_;
  uint64_t refill_ms_ = 0;
  bool started_ = false;
};

}  // namespace mortise::protocol
