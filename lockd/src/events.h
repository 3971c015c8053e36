// Where the core's events go in the daemon: the audit log first (the
// record that counts), then a small in-memory ring of recent events for the
// status line and the face.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "mortise/core/event_sink.h"

namespace mortise::store {
class AuditLog;
}

namespace mortise::lockd {

// Events by sequence number, for the control socket's "events" command.
class EventHistory {
 public:
  virtual ~EventHistory() = default;
  struct Entry {
    uint64_t seq = 0;          // audit-log sequence number (0: not logged)
    core::LockEvent event;
    bool loss = false;         // a loss record the log wrote (event unset)
    uint32_t lost_count = 0;
  };
  // Entries with seq > `since`, oldest first, at most `limit` (the newest
  // ones when there are more). Returns the entries.
  virtual std::vector<Entry> Since(uint64_t since, size_t limit) = 0;
  // The last `n` events seen since start, oldest first.
  virtual std::vector<Entry> Recent(size_t n) const = 0;
};

class EventFanout final : public core::EventSink, public EventHistory {
 public:
  static constexpr size_t kKept = 64;
  // `log` may be null (tests): events are then only kept in RAM, numbered
  // from 1.
  explicit EventFanout(store::AuditLog* log) : log_(log) {}

  void Emit(const core::LockEvent& event) override;
  std::vector<Entry> Since(uint64_t since, size_t limit) override;
  std::vector<Entry> Recent(size_t n) const override;
  uint64_t emitted() const { return emitted_; }

 private:
  store::AuditLog* log_;
  std::deque<Entry> recent_;
  uint64_t emitted_ = 0;
};

}  // namespace mortise::lockd
