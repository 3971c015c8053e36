#include "stored_log.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "key_string.h"

namespace mortise::cli {
namespace {

std::string Num(uint64_t seq) { return "#" + std::to_string(seq); }
std::string Range(uint64_t first, uint64_t last) { return first == last ? Num(first) : Num(first) + ".." + Num(last); }

bool IsRecord(const store::LogItem& item) {
  return item.type == store::LogItemType::kRecord || item.type == store::LogItemType::kVoid;
}

}  // namespace

StoredLogVerifier::StoredLogVerifier(const crypto::P256PublicKey& lock_key, const protocol::LockId& lock_id,
                                     uint64_t expected_first, int64_t now_utc, int64_t max_head_age_s)
    : lock_key_(lock_key), expected_first_(expected_first), now_utc_(now_utc), max_head_age_s_(max_head_age_s) {
  static_assert(sizeof(lock_id) == store::kLogLockIdSize);
  std::memcpy(lock_id_.data(), lock_id.data(), lock_id_.size());
  // Signed-head staleness is reported by the caller (a server that withholds
  // pages shows an old signature; so does a lock that has been offline).
  verifier_.emplace(lock_key_, lock_id_, expected_first_, 0, 0);
}

std::optional<store::LogChain> StoredLogVerifier::ChainAt(uint64_t seq) const {
  for (auto it = fed_.rbegin(); it != fed_.rend(); ++it) {
    if ((IsRecord(it->item) || it->item.type == store::LogItemType::kAnchor) && it->item.seq == seq) return it->chain;
  }
  return std::nullopt;
}

void StoredLogVerifier::Feed(const store::LogItem& item, const store::LogChain& chain_after) {
  const uint64_t signed_before = verifier_->findings().signed_through;
  if (item.type == store::LogItemType::kAnchor && next_ != 0 &&
      (item.seq + 1 != next_ || ChainAt(item.seq) != item.chain)) {
    breaks_.push_back(entries_.size());  // the chain restarts: nothing after it vouches for what came before
  }
  verifier_->Feed(item);
  fed_.push_back(Fed{item, chain_after});
  if (IsRecord(item)) entries_.push_back(StoredLogEntry{item, false});
  if (IsRecord(item) || item.type == store::LogItemType::kAnchor) next_ = item.seq + 1;
  const store::LogFindings& f = verifier_->findings();
  if (f.signed_through != signed_before) Covered(f.signed_through, f.signed_at);
}

void StoredLogVerifier::Covered(uint64_t through, int64_t at) {
  // A signature over h(through) vouches for every record of the unbroken
  // chain that leads to it: back to the last restart before it.
  size_t end = 0;
  while (end < entries_.size() && entries_[end].item.seq <= through) ++end;
  size_t start = 0;
  for (size_t b : breaks_)
    if (b < end) start = std::max(start, b);
  for (size_t i = start; i < end; ++i) entries_[i].is_signed = true;
  if (through > signed_through_) {
    signed_through_ = through;
    signed_at_ = at;
  }
}

void StoredLogVerifier::Rewind(size_t keep) {
  std::vector<Fed> again(fed_.begin(), fed_.begin() + static_cast<std::ptrdiff_t>(keep));
  fed_.clear();
  entries_.clear();
  breaks_.clear();
  next_ = 0;
  signed_through_ = 0;
  signed_at_ = 0;
  verifier_.emplace(lock_key_, lock_id_, expected_first_, 0, 0);
  for (const Fed& f : again) Feed(f.item, f.chain);
}

void StoredLogVerifier::Add(const StoredLogPage& page) {
  const std::string& name = page.name;
  std::vector<uint8_t> bytes;
  std::vector<store::LogItem> items;
  if (page.items_hex.empty() || !FromHex(page.items_hex, bytes)) {
    problems_.push_back(name + ": its items are not the lock's export (not hex)");
    return;
  }
  for (size_t at = 0; at < bytes.size();) {
    store::LogItem item;
    Result<size_t> used = store::DecodeLogItem(std::span<const uint8_t>(bytes.data() + at, bytes.size() - at), item);
    if (!used.ok()) {
      problems_.push_back(name + ": its items do not decode at byte " + std::to_string(at) + " (not what the lock sent)");
      return;
    }
    items.push_back(item);
    at += *used;
  }
  const size_t anchors = static_cast<size_t>(std::count_if(
      items.begin(), items.end(), [](const store::LogItem& i) { return i.type == store::LogItemType::kAnchor; }));
  if (items.empty() || items.front().type != store::LogItemType::kAnchor || anchors != 1) {
    problems_.push_back(name + ": a page of the lock starts with one anchor and has no other (not what the lock sent)");
    return;
  }

  // 1. The page on its own, with the pinned key: the chain at each record
  // and the signed heads that verify.
  const store::LogItem& anchor = items.front();
  store::LogVerifier page_verifier(lock_key_, lock_id_, anchor.seq + 1, 0, 0);
  std::vector<store::LogChain> chain_after(items.size());
  struct Signature {
    uint64_t through;
    int64_t at;
  };
  std::vector<Signature> signatures;
  for (size_t i = 0; i < items.size(); ++i) {
    // The closing head's tag binds a reader's challenge and the lock's
    // log key: nothing an offline reader can check. Skipped.
    if (items[i].type == store::LogItemType::kHead) continue;
    const uint64_t before = page_verifier.findings().signed_through;
    page_verifier.Feed(items[i]);
    uint64_t end = 0;
    store::LogChain chain = items[i].chain;  // an anchor's; a record's is the page's chain after it
    if (IsRecord(items[i]) && !page_verifier.StreamEnd(end, chain)) chain = {};
    chain_after[i] = chain;
    const store::LogFindings& pf = page_verifier.findings();
    if (pf.signed_through != before) signatures.push_back(Signature{pf.signed_through, pf.signed_at});
  }
  const store::LogFindings& pf = page_verifier.Finish();
  if (pf.bad_signatures != 0) {
    problems_.push_back(name + ": " + std::to_string(pf.bad_signatures) +
                        " signed head(s) do not verify with the pinned lock key (a record edited, dropped or "
                        "inserted before it, a forged signature, or another lock's page)");
    return;
  }
  if (pf.order_errors != 0 || pf.bad_tags != 0 || pf.malformed != 0) {
    problems_.push_back(name + ": " +
                        (pf.malformed != 0 ? std::to_string(pf.malformed) + " record(s) do not decode"
                         : pf.order_errors != 0 ? std::string("records out of order or repeated")
                                                : std::string("its chain does not hold at a checkpoint")) +
                        " (not what the lock sent)");
    return;
  }
  const uint64_t page_signed = signatures.empty() ? 0 : signatures.back().through;

  // 2. Joined to the stream.
  size_t first_new = 0;  // the first item beyond what the stream holds
  if (next_ != 0 && anchor.seq + 1 <= next_) {
    // It re-sends records the stream holds (a resumed upload): each must
    // hash to the same chain, and none of the stream's may be missing.
    std::optional<uint64_t> differs;
    std::vector<uint64_t> resent;
    for (size_t i = 0; i < items.size(); ++i) {
      const store::LogItem& it = items[i];
      if (IsRecord(it) && it.seq >= next_) break;
      first_new = i + 1;
      if (!IsRecord(it) && it.type != store::LogItemType::kAnchor) continue;
      if (IsRecord(it)) resent.push_back(it.seq);
      const std::optional<store::LogChain> ours = ChainAt(it.seq);
      if (!ours) {
        problems_.push_back(name + ": records from " + Num(anchor.seq + 1) +
                            " arrive after records that follow them (pages out of the order the lock sent them)");
        return;
      }
      if (*ours != chain_after[i] && !differs) differs = it.seq;
    }
    // Over the span it re-sends, every record the stream holds.
    const uint64_t span_last = first_new < items.size() ? next_ - 1 : (resent.empty() ? anchor.seq : resent.back());
    for (const StoredLogEntry& e : entries_) {
      if (differs || e.item.seq <= anchor.seq || e.item.seq > span_last) continue;
      if (std::find(resent.begin(), resent.end(), e.item.seq) == resent.end()) differs = e.item.seq;  // dropped
    }
    if (differs) {
      // Which copy is the lock's? A signature of the lock in this page over
      // the record, against a copy no signature covered, says this one.
      bool ours_signed = false;
      for (const StoredLogEntry& e : entries_)
        if (e.item.seq >= *differs && e.is_signed) ours_signed = true;
      const bool anchor_agrees = ChainAt(anchor.seq) == anchor.chain;
      if (page_signed >= *differs && !ours_signed && anchor_agrees) {
        size_t keep = 0;
        for (size_t i = 0; i < fed_.size(); ++i)
          if ((IsRecord(fed_[i].item) || fed_[i].item.type == store::LogItemType::kAnchor) &&
              fed_[i].item.seq <= anchor.seq)
            keep = i + 1;
        problems_.push_back("records " + Range(*differs, next_ - 1) + " as the server gave them before " + name +
                            " are contradicted by the lock's signature in " + name +
                            " (forged or edited; the lock's version is shown)");
        Rewind(keep);
        first_new = 1;
      } else if (!anchor_agrees && anchor.seq + 1 == next_ && page_signed != 0) {
        problems_.push_back(name + ": does not continue the chain of the pages before it at " + Num(anchor.seq) +
                            " (a record before it was edited, dropped or inserted, or a page is another lock's); "
                            "the lock's signature covers what follows");
        first_new = 0;  // fed as a restart of the chain
      } else {
        problems_.push_back(name + ": record " + Num(*differs) +
                            " differs from the copy in an earlier page (edited, dropped or forged: not the lock's)");
        return;
      }
    } else {
      // Consistent: the signatures it carries over records the stream holds
      // cover them too.
      for (const Signature& sig : signatures)
        if (sig.through < next_) Covered(sig.through, sig.at);
    }
  }
  for (size_t i = first_new; i < items.size(); ++i) {
    if (items[i].type == store::LogItemType::kHead) continue;
    Feed(items[i], chain_after[i]);
  }
}

const store::LogFindings& StoredLogVerifier::Finish() {
  if (finished_) return verifier_->findings();
  finished_ = true;
  const store::LogFindings& f = verifier_->Finish();
  // Numbers neither received nor declared lost by a record the lock signed.
  std::vector<Gap> losses;
  for (const StoredLogEntry& e : entries_) {
    if (!e.is_signed || e.item.type != store::LogItemType::kRecord) continue;
    Result<store::LogRecord> r =
        store::DecodeLogRecord(e.item.seq, std::span<const uint8_t>(e.item.bytes.data(), e.item.length));
    if (r.ok() && r->type == store::LogRecordType::kLoss && r->reason != store::LossReason::kTampered &&
        r->first_lost != 0 && r->lost_count != 0)
      losses.push_back(Gap{r->first_lost, r->first_lost + r->lost_count - 1});
  }
  auto undeclared = [&](uint64_t first, uint64_t last) {
    // The parts of [first, last] no loss covers.
    uint64_t at = first;
    for (bool progress = true; at <= last && progress;) {
      progress = false;
      for (const Gap& l : losses)
        if (l.first <= at && at <= l.last) {
          at = l.last + 1;
          progress = true;
        }
    }
    if (at <= last) gaps_.push_back(Gap{at, last});
  };
  uint64_t expect = expected_first_;
  for (const StoredLogEntry& e : entries_) {
    if (e.item.seq > expect) undeclared(expect, e.item.seq - 1);
    expect = std::max(expect, e.item.seq + 1);
  }
  return f;
}

bool StoredLogVerifier::StreamEnd(uint64_t& seq, store::LogChain& chain) const {
  return verifier_->StreamEnd(seq, chain);
}

bool StoredLogVerifier::ok() const {
  const store::LogFindings& f = verifier_->findings();
  if (!problems_.empty() || !gaps_.empty() || f.tampered != 0 || f.malformed != 0 || f.order_errors != 0 ||
      f.bad_signatures != 0)
    return false;
  for (const StoredLogEntry& e : entries_)
    if (e.item.seq >= expected_first_ && !e.is_signed) return false;
  return true;
}

size_t FetchStoredLogPages(const ServerClient& server, const std::string& pages_path,
                           const std::vector<std::string>& headers, const std::string& lock_id_hex,
                           const std::string& lock_name, const std::string& doing,
                           const std::function<void(const StoredLogPage&)>& add, const StoredLogFetchLimits& limits) {
  std::string cursor;
  std::set<std::string> seen{cursor};
  size_t pages = 0, bytes = 0;
  const auto fail = [&](const std::string& why) {
    throw Error(ExitCode::kVerification, doing + ": " + why,
                "The server may be broken or hostile; nothing it sent was shown as the lock's log.");
  };
  for (;;) {
    const nlohmann::json body = ExpectStatus(
        server.Request("GET",
                       pages_path + "?limit=" + std::to_string(limits.page_size) +
                           (cursor.empty() ? "" : "&cursor=" + cursor),
                       nullptr, headers),
        200, doing);
    const std::string lock_id = AnswerString(body, "lock_id");
    if (lock_id != lock_id_hex) {
      throw Error(ExitCode::kVerification,
                  "the server's pages for lock '" + lock_name + "' are of another lock (" +
                      (lock_id.empty() ? std::string("none") : lock_id.substr(0, 64)) + ", not " + lock_id_hex + ")",
                  "The server has this door on the wrong lock, or is lying; nothing it stores for it was shown.");
    }
    const nlohmann::json items = AnswerArray(body, "items");
    if (items.size() > limits.page_size) {
      fail("the server sent " + std::to_string(items.size()) + " pages where " + std::to_string(limits.page_size) +
           " were asked for");
    }
    for (const nlohmann::json& page : items) {
      if (!page.is_object()) FailMalformedAnswer("a page of \"items\" is not an object");
      ++pages;
      const auto number = page.find("page");
      const std::string name =
          "page " + (number != page.end() && number->is_number_integer() ? std::to_string(number->get<int64_t>())
                                                                        : "?" + std::to_string(pages));
      std::string hex = AnswerString(page, "items");
      bytes += hex.size();
      if (pages > limits.max_pages || bytes > limits.max_bytes) {
        fail("the server's pages go on past " + std::to_string(limits.max_pages) + " pages or " +
             std::to_string(limits.max_bytes >> 20) + " MiB, more than a lock's log fills");
      }
      add(StoredLogPage{name, std::move(hex)});
    }
    const std::optional<std::string> next = AnswerOptionalString(body, "next_cursor");
    if (!next) return pages;
    if (!IsCursor(*next)) FailMalformedAnswer("\"next_cursor\" is not a cursor");
    // mortise-server names a next cursor only after a full answer (it
    // reads one page more than asked for to know): an answer with fewer
    // pages, none at all, makes no progress, and a cursor given before goes
    // round in a circle. A server that kept answering so would keep this
    // loop going (finding A09-2); with full answers, the requests number at
    // most max_pages / page_size + 1, and so do the cursors kept.
    if (items.size() != limits.page_size) {
      fail("the server's pages do not advance (a next cursor after " + std::to_string(items.size()) + " of the " +
           std::to_string(limits.page_size) + " pages asked for)");
    }
    if (!seen.insert(*next).second) fail("the server's pages do not advance (a cursor it gave before)");
    cursor = *next;
  }
}

}  // namespace mortise::cli
