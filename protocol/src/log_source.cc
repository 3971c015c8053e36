#include "mortise/protocol/log_source.h"

#include <algorithm>

namespace mortise::protocol {
namespace {

static_assert(protocol::kLogChallengeBytes == store::kLogChallengeSize);
static_assert(protocol::kCustodyChainHashSize == store::kLogChainSize);

// Encodes items while they fit; remembers where the first one that did not
// fit would have started the next page.
class PageSink final : public store::LogItemSink {
 public:
  explicit PageSink(std::span<uint8_t> out) : out_(out) {}
  void Put(const store::LogItem& item) override {
    if (full_ || failed_) return;
    Result<size_t> n = store::EncodeLogItem(item, out_.subspan(used_));
    if (!n.ok()) {
      full_ = true;
      // The item that did not fit: records and voids are re-sent from their
      // own number; an anchor, checkpoint or head names the last record it
      // covers, so the next page starts just after it (and begins with an
      // anchor over the same point). A timed signed head follows its record
      // directly: that record is taken back out of this page so the next
      // one carries both (starting after it would lose the lock's signature
      // for a reader that has only the public key), unless it is the page's
      // only record (no progress otherwise).
      const bool is_record = item.type == store::LogItemType::kRecord || item.type == store::LogItemType::kVoid;
      next_from_ = is_record ? item.seq : item.seq + 1;
      if (item.type == store::LogItemType::kSignedHead && records_ > 1 && last_record_seq_ == item.seq) {
        used_ = before_last_record_;
        --items_;
        next_from_ = item.seq;
      }
      return;
    }
    if (item.type == store::LogItemType::kRecord || item.type == store::LogItemType::kVoid) {
      before_last_record_ = used_;
      last_record_seq_ = item.seq;
      ++records_;
    }
    used_ += *n;
    ++items_;
  }
  bool full() const { return full_; }
  size_t used() const { return used_; }
  size_t items() const { return items_; }
  uint64_t next_from() const { return next_from_; }

 private:
  std::span<uint8_t> out_;
  size_t used_ = 0;
  size_t items_ = 0;
  bool full_ = false;
  bool failed_ = false;
  uint64_t next_from_ = 0;
  size_t records_ = 0;             // records and voids in the page
  size_t before_last_record_ = 0;  // used_ before the newest record
  uint64_t last_record_seq_ = 0;
};

}  // namespace

Result<size_t> AuditLogSource::ReadPage(uint64_t from, std::span<const uint8_t, protocol::kLogChallengeBytes> challenge,
                                        std::span<uint8_t> out, uint64_t& next_from) {
  store::LogChallenge c;
  std::copy(challenge.begin(), challenge.end(), c.begin());
  PageSink sink(out);
  MORTISE_TRY(log_.Export(from, c, sink));
  if (!sink.full()) {
    next_from = 0;  // the head is in this page
    return sink.used();
  }
  // A page must carry something besides its leading anchor, or the reader
  // would ask for the same page forever.
  if (sink.items() < 2) return StatusCode::kResourceExhausted;
  next_from = sink.next_from();
  return sink.used();
}

Result<protocol::CustodyChainHash> AuditLogCustodian::ChainAt(uint64_t seq) {
  MORTISE_ASSIGN_OR_RETURN(const store::LogChain chain, log_.ChainAt(seq));
  protocol::CustodyChainHash out{};
  std::copy(chain.begin(), chain.end(), out.begin());
  return out;
}

}  // namespace mortise::protocol
