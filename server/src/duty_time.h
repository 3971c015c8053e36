// Keeping online locks' clocks right (issue 14, docs/server.md "Duties",
// docs/protocol.md section 7.1): with its time certificate (duty_keys.h,
// the time-statement right alone) the server asks a door's lock for its
// time, and when it is more than `drift_threshold_s` away from the server's
// own, sends a time statement (frame 0x07) that moves it at most
// `max_step_s` towards the server's time, never more often than the lock
// accepts (one correction per kTimeCorrectionIntervalMs). The server never
// states a time further than the step from the time the lock reported, and
// after a refusal it waits the whole interval (refused or wrong_lock: it
// stops until a new certificate is installed).
//
// The time query is a frame 0x07 of the type byte alone: the lock answers
// "malformed" with its current time at no cost (no signature, no budget;
// time_statement.h: every reply carries the lock's time). The reply is
// unsigned, like every 0x07 reply: it steers only what the server states,
// and the lock judges every statement against its own clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>

#include <nlohmann/json.hpp>

#include "clock_random.h"
#include "duty_keys.h"
#include "lock_link.h"
#include "mortise/protocol/time_statement.h"
#include "sql_repository.h"

namespace mortise::server {

struct TimeDutySettings {
  // Correct when the lock's clock is further than this from the server's.
  int64_t drift_threshold_s = 2;
  // The largest step stated: one second inside the lock's bound, for the
  // round trip and the whole seconds of the lock's answer.
  int64_t max_step_s = protocol::kTimeCorrectionMaxStepS - 1;
  // How often a door's time is asked while no correction is possible.
  int64_t probe_interval_ms = 900'000;
  // After a statement (accepted or not): the lock's refill period.
  int64_t correction_interval_ms = static_cast<int64_t>(protocol::kTimeCorrectionIntervalMs);
  int exchange_timeout_ms = 10'000;
};

enum class TimeOutcome {
  kNotDue,         // no certificate, paced, or stopped after a refusal
  kOffline,        // the door is not online: nothing sent
  kInSync,         // the lock's clock is within the threshold: nothing stated
  kTimeUnknown,    // the lock's clock is not set: only its owner sets it
  kCorrected,      // the lock answered "corrected" with the stated time
  kRefusedByLock,  // the lock answered another status
  kBadAnswer,      // an answer that does not decode or does not say what was stated
  kNoAnswer,       // no answer in time
};
std::string_view TimeOutcomeName(TimeOutcome o);

class DutyClock {
 public:
  DutyClock(SqlRepository& repo, const Clock& clock, Random& random, TimeDutySettings settings = {});
  // One step for a door. Thread-safe (one step at a time).
  TimeOutcome Step(LockLink& link, std::string_view door_id);
  // Step for every door with a time certificate; returns the statements sent.
  int StepAll(LockLink& link);
  // The door's clock as the server last saw it and its last correction
  // (GET .../duties "clock").
  nlohmann::json View(std::string_view door_id);

  // Metrics.
  uint64_t corrections() const { return corrections_.load(); }
  uint64_t refusals() const { return refusals_.load(); }
  uint64_t queries() const { return queries_.load(); }

 private:
  SqlRepository& repo_;
  const Clock& clock_;
  Random& random_;
  TimeDutySettings settings_;
  DutyKeys keys_;
  std::mutex mu_;
  std::atomic<uint64_t> corrections_{0}, refusals_{0}, queries_{0};
};

}  // namespace mortise::server
