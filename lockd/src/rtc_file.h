// The simulated lock's battery-backed RTC, kept across daemon restarts in the
// state directory (file `rtc`), so a restarted lock knows its time as a lock
// with an RTC does: schedules, guest keys and offline PINs work at once.
//
// File: one line "mortise-rtc-v1 UTC_MS HOST_MS\n" (UTC_MS "-" when the RTC
// holds no time; HOST_MS the host's CLOCK_REALTIME in ms when it was saved).
// Real clock: the host time that passed while the daemon was stopped is
// added on load (an RTC counts while the lock is off). Simulated clock: time
// stands still while the daemon is stopped.
// The core believes the RTC only at or after its durable time floor
// (core/rtc.h), so an edited file can stop the time (fail closed), not
// rewind it below what the lock has already reached.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "config.h"
#include "mortise/sim/sim_hardware.h"

namespace mortise::lockd {

class RtcFile {
 public:
  using Writer = std::function<bool(const std::string& text)>;
  using HostMs = std::function<int64_t()>;

  RtcFile(ClockMode mode, Writer write, HostMs host_ms)
      : mode_(mode), write_(std::move(write)), host_ms_(std::move(host_ms)) {}

  // Sets `rtc` from the file's text (nullopt: no file yet). Returns an empty
  // string, or what is wrong with the text (the RTC then holds no time).
  std::string Load(const std::optional<std::string>& text, sim::SimRtc& rtc);

  // Saves the RTC when the lock set it and, with the simulated clock, when
  // its time moved. False: the write failed (tried again at the next call).
  bool SaveIfChanged(const sim::SimRtc& rtc);

  static std::string Format(std::optional<uint64_t> utc_ms, int64_t host_ms);

 private:
  ClockMode mode_;
  Writer write_;
  HostMs host_ms_;
  uint64_t saved_writes_ = 0;
  std::optional<uint64_t> saved_utc_ms_;
};

}  // namespace mortise::lockd
