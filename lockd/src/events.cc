#include "events.h"

#include "mortise/store/audit_log.h"

namespace mortise::lockd {

void EventFanout::Emit(const core::LockEvent& event) {
  Entry e;
  e.event = event;
  ++emitted_;
  if (log_ != nullptr) {
    const uint64_t before = log_->next_seq();
    log_->Emit(event);
    // A loss record may precede the event; the event is the newest record.
    if (log_->next_seq() != before) e.seq = log_->next_seq() - 1;
  } else {
    e.seq = emitted_;
  }
  recent_.push_back(e);
  if (recent_.size() > kKept) recent_.pop_front();
}

namespace {

class Collect final : public store::LogRecordVisitor {
 public:
  explicit Collect(size_t limit) : limit_(limit) {}
  void Visit(const store::LogRecord& r) override {
    EventHistory::Entry e;
    e.seq = r.seq;
    if (r.type == store::LogRecordType::kEvent) {
      e.event = r.event;
    } else {
      e.loss = true;
      e.lost_count = r.lost_count;
    }
    out.push_back(e);
    if (out.size() > limit_) out.pop_front();
  }
  std::deque<EventHistory::Entry> out;

 private:
  size_t limit_;
};

}  // namespace

std::vector<EventHistory::Entry> EventFanout::Since(uint64_t since, size_t limit) {
  std::vector<Entry> result;
  if (limit == 0) return result;
  if (log_ != nullptr) {
    Collect c(limit);
    if (since < UINT64_MAX && log_->ReadFrom(since + 1, c).ok()) result.assign(c.out.begin(), c.out.end());
    return result;
  }
  for (const Entry& e : recent_)
    if (e.seq > since) result.push_back(e);
  if (result.size() > limit) result.erase(result.begin(), result.end() - static_cast<ptrdiff_t>(limit));
  return result;
}

std::vector<EventHistory::Entry> EventFanout::Recent(size_t n) const {
  const size_t first = recent_.size() > n ? recent_.size() - n : 0;
  return std::vector<Entry>(recent_.begin() + static_cast<ptrdiff_t>(first), recent_.end());
}

}  // namespace mortise::lockd
