#include "log_ingest.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <optional>
#include <vector>

#include "api_error.h"
#include "door_registration.h"
#include "mortise/dljson/event_json.h"
#include "mortise/store/audit_log.h"

namespace mortise::server {
namespace {

using nlohmann::json;

// Sequence numbers are stored as BIGINT: a number at or above 2^63 is no
// lock's (a lock writing one record a second needs 2.9e11 years).
constexpr uint64_t kMaxSeq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

const char* LossReasonName(store::LossReason r) {
  switch (r) {
    case store::LossReason::kOverflow: return "overflow";
    case store::LossReason::kWriteFailure: return "write_failure";
    case store::LossReason::kLogLost: return "log_lost";
    case store::LossReason::kTampered: return "tampered";
    case store::LossReason::kLateSeal: return "late_seal";
  }
  return "unknown";
}

// A line a person reads, from the event's Matter names (the exact values
// stay in "event").
std::string EventText(const json& e) {
  std::string text = e.value("event", "");
  auto add = [&](const char* key, const char* prefix = "") {
    if (e.contains(key) && e[key].is_string()) text += std::string(", ") + prefix + e[key].get<std::string>();
  };
  add("lockOperationType");
  add("doorState");
  add("alarmCode");
  add("operatingMode", "mode ");
  add("operationSource", "source ");
  if (e.contains("userIndex") && e["userIndex"].is_number()) text += ", user " + e["userIndex"].dump();
  if (e.contains("credentials") && e["credentials"].is_array() && !e["credentials"].empty()) {
    const json& c = e["credentials"][0];
    text += ", " + c.value("credentialType", std::string("credential")) + " #" + c["credentialIndex"].dump();
  }
  add("operationError", "error ");
  add("detail", "detail ");
  return text;
}

struct Decoded {
  std::string type;
  json summary;
  std::optional<store::LogRecord> record;
};

Decoded Summarise(const store::LogItem& item) {
  Decoded d;
  if (item.type == store::LogItemType::kVoid) {
    d.type = "void";
    d.summary = {{"text", "the lock cannot read this record (flash damage)"}};
    return d;
  }
  Result<store::LogRecord> r = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
  if (!r.ok()) return d;  // the verifier counts it as malformed
  d.record = *r;
  switch (r->type) {
    case store::LogRecordType::kEvent: {
      d.type = "event";
      json e = dljson::EventToJson(r->event);
      d.summary = {{"event", e}, {"text", EventText(e)}};
      break;
    }
    case store::LogRecordType::kLoss: {
      d.type = "loss";
      d.summary = {{"loss", {{"reason", LossReasonName(r->reason)}, {"first", r->first_lost}, {"count", r->lost_count}}}};
      // Said of the record, not of the lock: a record no signature of the
      // lock covers may be anyone's (its status says which; the loss row
      // exists only once a signature covers it).
      d.summary["text"] = r->reason == store::LossReason::kLateSeal
                              ? "a late-seal note: a segment's seal re-verified (not a loss)"
                              : "loss record: " + std::to_string(r->lost_count) + " record(s) lost (" +
                                    LossReasonName(r->reason) + ")";
      break;
    }
    case store::LogRecordType::kSignedHead:
      d.type = "signed_head";
      d.summary = {{"signed_head", {{"utc", r->signed_utc}}}, {"text", "the lock signed its log"}};
      break;
    case store::LogRecordType::kKeyIntro:
      d.type = "key_intro";
      d.summary = {{"key", {{"index", r->key_index}, {"issuer", ToHex(r->issuer_key_id)}, {"serial", r->serial}}},
                   {"text", "credential index " + std::to_string(r->key_index) + " names key " +
                                std::to_string(r->serial) + " of issuer " + ToHex(r->issuer_key_id)}};
      break;
  }
  return d;
}

// A loss record's numbers (not a late-seal note): a count of 0 (the record
// stands for itself; its first number, if any, not after it), or a range
// from number 1 on that ends before the record declaring it, as the lock
// writes them (store::AuditLog::AppendLoss). Anything else (a range past the
// record, wrapping past 2^64, from number 0) is no lock's: the page is
// refused as malformed.
bool LossNumbersValid(uint64_t first, uint64_t count, uint64_t seq) {
  if (count == 0) return first <= seq;
  return first != 0 && first < seq && count <= seq - first;
}
bool LossFieldsValid(const store::LogRecord& l, uint64_t seq) {
  return LossNumbersValid(l.first_lost, l.lost_count, seq);
}

LogGapRow LossRowOf(uint64_t seq, std::string_view reason, uint64_t first_lost, uint64_t lost_count) {
  const bool numbered = first_lost != 0 && lost_count != 0;
  return LogGapRow{"loss", numbered ? first_lost : seq, numbered ? first_lost + lost_count - 1 : seq,
                   std::string(reason) + ": " + std::to_string(lost_count) + " record(s), declared in #" +
                       std::to_string(seq),
                   0};
}

LogGapRow LossRow(const store::LogRecord& l, uint64_t seq) {
  return LossRowOf(seq, LossReasonName(l.reason), l.first_lost, l.lost_count);
}

// The loss or void row of a stored record (its summary, as Summarise wrote
// it), for a record a later signature of the lock covers; nullopt for a
// late-seal note or a summary that is not one.
std::optional<LogGapRow> ClaimOfStored(const LogRecordRow& r) {
  if (r.type == "void") return LogGapRow{"void", r.seq, r.seq, "", 0};
  const json s = json::parse(r.summary, nullptr, false);
  if (!s.is_object() || !s.contains("loss") || !s["loss"].is_object()) return std::nullopt;
  const json& l = s["loss"];
  if (!l.contains("reason") || !l["reason"].is_string() || !l.contains("first") || !l["first"].is_number_unsigned() ||
      !l.contains("count") || !l["count"].is_number_unsigned())
    return std::nullopt;
  const std::string reason = l["reason"].get<std::string>();
  const uint64_t first = l["first"].get<uint64_t>(), count = l["count"].get<uint64_t>();
  if (reason == "late_seal") return std::nullopt;
  if (!LossNumbersValid(first, count, r.seq)) return std::nullopt;
  return LossRowOf(r.seq, reason, first, count);
}

// Whether the 'loss' rows in `losses` together cover every number of [first, last].
bool Covered(const std::vector<LogGapRow>& losses, uint64_t first, uint64_t last) {
  uint64_t at = first;
  for (bool progress = true; at <= last && progress;) {
    progress = false;
    for (const LogGapRow& l : losses)
      if (l.kind == "loss" && l.first <= at && at <= l.last) {
        at = l.last + 1;
        progress = true;
      }
  }
  return at > last;
}

// The message's fields, exactly these four.
struct Message {
  uint64_t from = 0;
  uint64_t next = 0;
  bool head = false;
  std::string items_hex;
  std::vector<store::LogItem> items;
};

std::optional<Message> Parse(std::string_view payload, std::string& why) {
  if (payload.size() > kMaxLogMessageBytes) {
    why = "longer than " + std::to_string(kMaxLogMessageBytes) + " bytes";
    return std::nullopt;
  }
  // A flat object: anything nested deeper is refused by the callback
  // before it is built.
  bool too_deep = false;
  json j = json::parse(
      payload.begin(), payload.end(),
      [&](int depth, json::parse_event_t, json&) {
        if (depth > 1) too_deep = true;
        return !too_deep;
      },
      false);
  if (too_deep || j.is_discarded() || !j.is_object() || j.size() != 4) {
    why = "not a JSON object of exactly from, next, head and items";
    return std::nullopt;
  }
  Message m;
  if (!j.contains("from") || !j["from"].is_number_unsigned() || !j.contains("next") ||
      !j["next"].is_number_unsigned() || !j.contains("head") || !j["head"].is_boolean() || !j.contains("items") ||
      !j["items"].is_string()) {
    why = "from and next must be unsigned integers, head a boolean, items a string";
    return std::nullopt;
  }
  m.from = j["from"].get<uint64_t>();
  m.next = j["next"].get<uint64_t>();
  m.head = j["head"].get<bool>();
  m.items_hex = j["items"].get<std::string>();
  if (m.from > kMaxSeq || m.next > kMaxSeq || m.items_hex.empty() || m.items_hex.size() % 2 != 0) {
    why = "sequence numbers out of range or items not whole bytes";
    return std::nullopt;
  }
  const auto bytes = FromHex(m.items_hex, m.items_hex.size() / 2);
  if (!bytes) {
    why = "items is not hex";
    return std::nullopt;
  }
  std::transform(m.items_hex.begin(), m.items_hex.end(), m.items_hex.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (size_t at = 0; at < bytes->size();) {
    store::LogItem item;
    Result<size_t> used = store::DecodeLogItem(std::span<const uint8_t>(bytes->data() + at, bytes->size() - at), item);
    if (!used.ok() || item.seq > kMaxSeq) {
      why = "log item at byte " + std::to_string(at) + " does not decode";
      return std::nullopt;
    }
    m.items.push_back(item);
    at += *used;
  }
  if (m.items.front().type != store::LogItemType::kAnchor) {
    why = "a page starts with an anchor";
    return std::nullopt;
  }
  return m;
}

// A record of the page as the verifier saw it.
struct PageRecord {
  uint64_t seq;
  std::string chain;  // h(seq), hex
  Decoded decoded;
};

}  // namespace

std::string_view LogVerdictName(LogVerdict v) {
  switch (v) {
    case LogVerdict::kVerified: return "verified";
    case LogVerdict::kUnsigned: return "unsigned";
    case LogVerdict::kDuplicate: return "duplicate";
    case LogVerdict::kBrokenChain: return "broken_chain";
    case LogVerdict::kBadSignature: return "bad_signature";
    case LogVerdict::kUnknownDoor: return "unknown_door";
    case LogVerdict::kMalformed: return "malformed";
  }
  return "malformed";
}

LogIngest::LogIngest(LogStore& store, const Clock& clock, EventSink sink)
    : store_(store), clock_(clock), sink_(std::move(sink)) {}

LogIngestResult LogIngest::OnLogMessage(std::string_view lock_id_hex, std::string_view payload) {
  const LogMessageIn m{std::string(lock_id_hex), std::string(payload)};
  return OnLogMessages(std::span<const LogMessageIn>(&m, 1)).front();
}

void LogIngest::Count(const LogIngestResult& r) {
  if (!r.error.empty()) {
    ++counters_.errors;
    return;
  }
  switch (r.verdict) {
    case LogVerdict::kMalformed: ++counters_.malformed; break;
    case LogVerdict::kUnknownDoor: ++counters_.unknown_door; break;
    case LogVerdict::kDuplicate: ++counters_.duplicates; break;
    case LogVerdict::kBrokenChain: ++counters_.broken; break;
    case LogVerdict::kBadSignature: ++counters_.bad_signature; break;
    case LogVerdict::kVerified:
    case LogVerdict::kUnsigned: break;
  }
  if (r.page_no != 0) ++counters_.pages;
  counters_.records += r.new_records;
  counters_.refused_dropped += r.refused_dropped;
}

std::vector<LogIngestResult> LogIngest::OnLogMessages(std::span<const LogMessageIn> messages) {
  std::lock_guard lock(mu_);
  using Event = std::pair<std::string, json>;
  std::vector<LogIngestResult> results;
  std::vector<Event> events;
  auto run = [&](std::span<const LogMessageIn> part) {
    return store_.InTransaction([&](LogStore::Tx& tx) {
      std::vector<LogIngestResult> out;
      std::vector<Event> ev;
      for (const LogMessageIn& m : part) {
        Event e;
        out.push_back(Ingest(tx, m.lock_id_hex, m.payload, e));
        if (!e.first.empty()) ev.push_back(std::move(e));
      }
      return std::make_pair(std::move(out), std::move(ev));
    });
  };
  try {
    auto [out, ev] = run(messages);
    ++counters_.commits;
    results = std::move(out);
    events = std::move(ev);
  } catch (const std::exception& batch_error) {
    // One message at a time: only the one the database refuses is lost.
    results.clear();
    for (size_t i = 0; i < messages.size(); ++i) {
      try {
        auto [out, ev] = run(messages.subspan(i, 1));
        ++counters_.commits;
        results.push_back(std::move(out.front()));
        for (Event& e : ev) events.push_back(std::move(e));
      } catch (const std::exception& e) {
        LogIngestResult r;
        r.error = e.what();
        r.detail = std::string("not stored: ") + e.what();
        results.push_back(std::move(r));
      }
    }
  }
  for (const LogIngestResult& r : results) Count(r);
  if (sink_)
    for (const Event& e : events) sink_(e.first, e.second);
  return results;
}

void LogIngest::Start(size_t max_batch, size_t max_queue) {
  std::lock_guard lock(queue_mu_);
  if (thread_.joinable()) return;
  max_batch_ = std::max<size_t>(1, max_batch);
  max_queue_ = std::max<size_t>(1, max_queue);
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LogIngest::Enqueue(std::string_view lock_id_hex, std::string_view payload) {
  std::unique_lock lock(queue_mu_);
  if (!thread_.joinable()) {
    // Not started (tests, or after Stop): taken at once.
    lock.unlock();
    (void)OnLogMessage(lock_id_hex, payload);
    return;
  }
  room_cv_.wait(lock, [&] { return queue_.size() < max_queue_ || stopping_; });
  queue_.push_back(LogMessageIn{std::string(lock_id_hex), std::string(payload)});
  queue_cv_.notify_one();
}

void LogIngest::Run() {
  std::vector<LogMessageIn> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, nothing left
      batch.clear();
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      room_cv_.notify_all();
    }
    for (const LogIngestResult& r : OnLogMessages(batch))
      if (!r.error.empty()) std::fprintf(stderr, "mortise-server: log page not stored: %s\n", r.error.c_str());
  }
}

void LogIngest::Stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  room_cv_.notify_all();
  thread_.join();
  std::vector<LogMessageIn> left;  // handed on while the thread was ending
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = false;
    left.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
  }
  if (!left.empty()) (void)OnLogMessages(left);
}

LogIngestResult LogIngest::Ingest(LogStore::Tx& tx, std::string_view lock_id_hex, std::string_view payload,
                                  std::pair<std::string, json>& event) {
  LogIngestResult result;
  std::string why;
  std::optional<Message> m = Parse(payload, why);
  if (!m) {
    result.detail = why;
    return result;
  }
  const std::optional<LogDoor> door =
      FromHex(lock_id_hex, kLockIdBytes) ? tx.DoorByLockId(lock_id_hex) : std::nullopt;
  if (!door) {
    result.verdict = LogVerdict::kUnknownDoor;
    result.detail = "no door has lock id " + std::string(lock_id_hex.substr(0, 2 * kLockIdBytes));
    return result;
  }
  const auto lock_id = FromHex(door->lock_id, kLockIdBytes);
  const std::shared_ptr<const OpenSslSignatureCheck> key = keys_.Get(door->lock_public_key);
  if (!key) throw StorageError("door " + door->id + ": stored lock key does not import");

  // Verify the page with the lock's public key alone.
  const store::LogItem& anchor = m->items.front();
  const uint64_t n = anchor.seq;
  std::array<uint8_t, store::kLogLockIdSize> id{};
  std::copy(lock_id->begin(), lock_id->end(), id.begin());
  store::LogVerifier verifier(*key, id, n + 1, 0, 0);
  std::vector<PageRecord> records;
  struct Span {
    uint64_t first, last;
  };
  std::vector<Span> skipped;  // numbers the page skips between records
  // Loss and void claims of the page's records, with the record's number:
  // only those a verified signature of the lock covers become loss and void
  // rows (A02: an unsigned page's claims are provisional, they never hide
  // records; a later signature that covers the record makes them rows).
  std::vector<std::pair<uint64_t, LogGapRow>> claims;
  uint64_t prev = n;
  size_t anchors = 0;
  for (const store::LogItem& item : m->items) {
    verifier.Feed(item);
    if (item.type == store::LogItemType::kAnchor) ++anchors;
    if (item.type != store::LogItemType::kRecord && item.type != store::LogItemType::kVoid) continue;
    if (item.seq > prev + 1) skipped.push_back({prev + 1, item.seq - 1});
    prev = std::max(prev, item.seq);
    uint64_t end = 0;
    store::LogChain chain{};
    PageRecord rec{item.seq, "", Summarise(item)};
    if (verifier.StreamEnd(end, chain) && end == item.seq) rec.chain = ToHex(chain);
    if (rec.decoded.record && rec.decoded.record->type == store::LogRecordType::kLoss &&
        rec.decoded.record->reason != store::LossReason::kLateSeal) {
      const store::LogRecord& l = *rec.decoded.record;
      if (!LossFieldsValid(l, item.seq)) {
        result.verdict = LogVerdict::kMalformed;
        result.detail = "loss record #" + std::to_string(item.seq) + " declares numbers out of range (first " +
                        std::to_string(l.first_lost) + ", count " + std::to_string(l.lost_count) + ")";
        return result;
      }
      claims.emplace_back(item.seq, LossRow(l, item.seq));
    }
    if (item.type == store::LogItemType::kVoid) claims.emplace_back(item.seq, LogGapRow{"void", item.seq, item.seq, "", 0});
    records.push_back(std::move(rec));
  }
  const store::LogFindings& f = verifier.Finish();
  const bool page_signed = f.signed_through > n && f.bad_signatures == 0;
  // Records through here are covered by a verified signature of the lock (0: none).
  const uint64_t sig_through = page_signed ? f.signed_through : 0;

  const LogChainState state = tx.State(door->id);
  const uint64_t page_last = records.empty() ? n : records.back().seq;
  // What is stored over the page's span (the anchor included).
  const auto stored = tx.Chains(door->id, n, std::min(page_last, state.last_seq));
  std::string conflict;
  std::vector<uint64_t> conflicting;  // stored records the page contradicts
  bool signed_conflict = false;
  bool anchor_conflict = false;
  if (n != 0 && n <= state.last_seq) {
    if (auto it = stored.find(n); it != stored.end() && it->second.first != ToHex(anchor.chain)) {
      anchor_conflict = true;
      signed_conflict = it->second.second == kRecordSigned;
      conflict = "its anchor's chain at #" + std::to_string(n) + " differs from the stored record's";
    }
  }
  uint64_t duplicates = 0;
  std::vector<const PageRecord*> fresh;
  // Stored gaps (numbers never received) the page's span reaches into: a
  // page the lock sends again after a failed write fills them.
  std::vector<LogGapRow> open_gaps;
  if (n < state.last_seq)
    for (LogGapRow& g : tx.Gaps(door->id, n + 1, std::min(page_last, state.last_seq)))
      if (g.kind == "gap") open_gaps.push_back(std::move(g));
  auto in_open_gap = [&](uint64_t seq) {
    return std::any_of(open_gaps.begin(), open_gaps.end(),
                       [&](const LogGapRow& g) { return g.first <= seq && seq <= g.last; });
  };
  std::vector<uint64_t> filled;  // numbers of stored gaps this page fills
  for (const PageRecord& rec : records) {
    auto it = stored.find(rec.seq);
    if (it == stored.end()) {
      // Below the stored end and never stored: inside a gap, the page fills
      // it; otherwise numbers already passed (pages come in order from one
      // lock), kept out.
      if (rec.seq > state.last_seq) {
        fresh.push_back(&rec);
      } else if (in_open_gap(rec.seq)) {
        fresh.push_back(&rec);
        filled.push_back(rec.seq);
      } else if (rec.seq <= sig_through) {
        // A record the lock signed where the server holds none (under a
        // number passed by another page): stored. What an unsigned page
        // claimed never hides what the lock signed (A02).
        fresh.push_back(&rec);
      }
      continue;
    }
    if (it->second.first == rec.chain) {
      ++duplicates;
      continue;
    }
    conflicting.push_back(rec.seq);
    if (it->second.second == kRecordSigned) signed_conflict = true;
    if (conflict.empty()) conflict = "record #" + std::to_string(rec.seq) + " differs from the stored one";
  }

  // Stored unsigned records this page repeats under a signature of the
  // lock that verified (sent again after a gap was filled unsigned, or
  // with records it replaces).
  bool signs_stored = false;
  if (page_signed && !signed_conflict && !anchor_conflict)
    for (const PageRecord& rec : records) {
      auto it = stored.find(rec.seq);
      if (rec.seq <= f.signed_through && it != stored.end() && it->second.first == rec.chain &&
          it->second.second == kRecordUnsigned)
        signs_stored = true;
    }

  LogPageWrite w;
  w.door_id = door->id;
  w.page = LogPageRow{0, clock_.NowMs(), m->from, m->next, m->head, "", "", 0, m->items_hex};
  if (f.malformed != 0 || f.order_errors != 0 || anchors != 1 || f.bad_tags != 0) {
    result.verdict = LogVerdict::kBrokenChain;
    result.detail = f.malformed != 0    ? std::to_string(f.malformed) + " record(s) do not decode"
                    : f.order_errors != 0 ? "records out of order or repeated"
                    : anchors != 1        ? "the chain restarts inside the page"
                                          : "the head does not close the chain";
  } else if (f.bad_signatures != 0) {
    result.verdict = LogVerdict::kBadSignature;
    result.detail = std::to_string(f.bad_signatures) + " signed head(s) do not verify with the door's lock key";
  } else if (!conflict.empty() && (signed_conflict || (!page_signed && anchor_conflict))) {
    result.verdict = LogVerdict::kBrokenChain;
    result.detail = conflict + (signed_conflict ? " (a record the lock signed is never overwritten)" : "");
  } else if (fresh.empty() && conflict.empty() && !(page_signed && f.signed_through > state.signed_through) &&
             !signs_stored) {
    result.verdict = LogVerdict::kDuplicate;
    result.detail = "every record is stored already";
    result.duplicate_records = duplicates;
    return result;
  } else if (page_signed) {
    result.verdict = LogVerdict::kVerified;
    result.detail = "signed by the lock through #" + std::to_string(f.signed_through) + " at lock time " +
                    std::to_string(f.signed_at);
  } else {
    result.verdict = LogVerdict::kUnsigned;
    result.detail = "no signed head in this page: its records wait for the lock's next signature";
  }

  const bool accepted = result.verdict == LogVerdict::kVerified || result.verdict == LogVerdict::kUnsigned;
  if (accepted) {
    // The lock's signature shows unsigned records stored earlier are not
    // what it wrote: replaced where the page has them, marked where not.
    if (!conflict.empty()) {
      w.replace = conflicting;
      for (uint64_t seq : conflicting) {
        for (const PageRecord& rec : records)
          if (rec.seq == seq) fresh.push_back(&rec);
      }
      if (anchor_conflict)
        w.statuses.push_back({state.signed_through + 1, n, kRecordContradicted});
      if (page_signed) {
        result.detail = conflict + "; the lock's signature on this page contradicts " +
                        (anchor_conflict ? "unsigned records up to #" + std::to_string(n) + " (marked contradicted)"
                                         : std::to_string(conflicting.size()) + " unsigned record(s) (replaced)");
      } else {
        // Neither is signed: the newest page is kept, so a forged unsigned
        // record never blocks the lock's own (it sends them again from its
        // custody cursor); the lock's next signature decides.
        result.detail = conflict + "; replaces " + std::to_string(conflicting.size()) +
                        " unsigned record(s) no signature of the lock covers (its next signature decides)";
      }
    }
    const uint64_t signed_through = sig_through;
    // The signature covers the chain back to where it continued the stored
    // records unbroken: after the newest gap before the page. (Only a page
    // whose anchor is a stored record, same chain, continues it; any
    // other's signature covers from its anchor on.)
    const bool signs = page_signed && (signed_through > state.signed_through || signs_stored);
    const bool continues = n == 0 || (stored.count(n) != 0 && !anchor_conflict);
    // Whether the page carries record `seq` as it is stored after the page:
    // new here, repeated identically, or replaced here.
    auto carried = [&](uint64_t seq) {
      for (const PageRecord& rec : records) {
        if (rec.seq != seq) continue;
        auto it = stored.find(seq);
        if (it == stored.end() || it->second.first == rec.chain) return true;
        return std::find(conflicting.begin(), conflicting.end(), seq) != conflicting.end();
      }
      return false;
    };
    // A page that continues the stored chain from its anchor into the next
    // record joins them: a break left at the anchor's number (records after
    // it replaced, a filled gap's end) no longer stands.
    if (continues && n != 0 && n < state.last_seq && carried(n + 1)) w.joined_break = n;
    const uint64_t signs_from =
        !signs ? 0 : continues ? tx.LastGapBefore(door->id, n + 1, w.joined_break) + 1 : n + 1;
    // Losses and voids the lock declared under a verified signature: this
    // page's, and those of loss and void records stored unsigned (marked by
    // 'claim' rows) that this signature now covers. Claims no signature
    // covers are no rows, only a 'claim' mark (A02).
    std::vector<LogGapRow> losses;
    for (const auto& [seq, row] : claims) {
      if (seq <= signed_through) {
        losses.push_back(row);
      } else if (std::any_of(fresh.begin(), fresh.end(), [&](const PageRecord* r) { return r->seq == seq; })) {
        w.gaps.push_back(LogGapRow{"claim", seq, seq, "", 0});
      }
    }
    if (signs)
      for (const LogRecordRow& r : tx.MarkedClaims(door->id, signs_from, signed_through)) {
        w.cleared_claims.push_back(r.seq);
        if (r.status != kRecordUnsigned ||
            std::find(conflicting.begin(), conflicting.end(), r.seq) != conflicting.end())
          continue;  // signed before, or replaced by this page (its own claims are above)
        if (std::optional<LogGapRow> row = ClaimOfStored(r)) losses.push_back(*row);
      }
    for (const PageRecord* rec : fresh) {
      w.records.push_back(LogRecordRow{rec->seq, 0, rec->decoded.type, rec->chain,
                                       std::string(rec->seq <= signed_through ? kRecordSigned : kRecordUnsigned),
                                       rec->decoded.summary.dump()});
    }
    // Numbers never received: between the stored end and the anchor, and
    // numbers the page skips without a loss record of the lock covering them.
    // Losses the lock declared, stored and in this page: a gap they cover
    // (together) is a declared loss, not a gap.
    std::vector<LogGapRow> declared_losses = losses;
    std::vector<LogGapRow> stored_gaps;
    if (!losses.empty() || !skipped.empty() || n > state.last_seq) stored_gaps = tx.Gaps(door->id, 1, kMaxSeq);
    for (const LogGapRow& g : stored_gaps)
      if (g.kind == "loss") declared_losses.push_back(g);
    auto declared = [&](uint64_t first, uint64_t last) { return Covered(declared_losses, first, last); };
    // Gaps stored earlier that this page's loss records declare.
    if (!losses.empty())
      for (const LogGapRow& g : stored_gaps)
        if (g.kind == "gap" && declared(g.first, g.last)) w.declared_gaps.push_back(g.first);
    // Gaps this page fills (records the lock sent again): what stays
    // unreceived stays a gap (or, declared lost, a break). The chain is
    // known to run through what the page fills only where the page carries
    // it: from its anchor when that is a stored record with the same chain,
    // and on into the stored record after the gap when the page carries
    // that one too (stored identically, or stored by this page). At any
    // other junction a break stays, so no later signature marks records
    // before it signed. (A break over the whole filled gap would keep
    // records the lock sent again unsigned for good after an unsigned page
    // had claimed their numbers.)
    if (!filled.empty()) {
      for (const LogGapRow& g : open_gaps) {
        std::vector<LogGapRow> rest;
        uint64_t at = g.first;
        bool touched = false;
        for (uint64_t seq : filled) {
          if (seq < g.first || seq > g.last) continue;
          touched = true;
          if (seq > at) rest.push_back(LogGapRow{"gap", at, seq - 1, "", 0});
          at = seq + 1;
        }
        if (!touched) continue;
        if (at <= g.last) rest.push_back(LogGapRow{"gap", at, g.last, "", 0});
        w.filled_gaps.push_back(g.first);
        for (const LogGapRow& r : rest)
          w.gaps.push_back(declared(r.first, r.last)
                               ? LogGapRow{"break", r.first, r.last, "declared lost: chain not verified across", 0}
                               : r);
        if (!continues && n < g.first)
          w.gaps.push_back(LogGapRow{"break", n, n, "page anchored off the stored chain", 0});
        if (at > g.last && !carried(g.last + 1))
          w.gaps.push_back(LogGapRow{"break", g.last, g.last, "filled by page; chain not verified past it", 0});
      }
    }
    // Records of this page replaced stored ones that no signature covered:
    // stored records after the page were chained from those, so the chain
    // is not known to run on from the page's last record.
    if (!conflicting.empty() && page_last < state.last_seq)
      w.gaps.push_back(LogGapRow{"break", page_last, page_last, "records replaced up to here", 0});
    // A page starting after the stored end does not continue the stored
    // chain: a gap, or (numbers the lock declared lost) a break. A page of
    // an anchor alone stores nothing after it, so no gap either (one would
    // stand over numbers the next page stores above the stored end).
    if (n > state.last_seq && !records.empty())
      w.gaps.push_back(declared(state.last_seq + 1, n)
                           ? LogGapRow{"break", state.last_seq + 1, n, "declared lost: chain not verified across", 0}
                           : LogGapRow{"gap", state.last_seq + 1, n, "", 0});
    for (const Span& s : skipped)
      if (s.first > state.last_seq && !declared(s.first, s.last))
        w.gaps.push_back(LogGapRow{"gap", s.first, s.last, "", 0});
    // (A loss row already stored is kept: the insert skips it.)
    w.gaps.insert(w.gaps.end(), losses.begin(), losses.end());
    if (signs) w.statuses.push_back({signs_from, signed_through, kRecordSigned});
    LogChainState next = state;
    if (!records.empty() && page_last >= state.last_seq) {
      next.last_seq = page_last;
      next.chain = records.back().chain;
    }
    if (page_signed && signed_through > state.signed_through) {
      next.signed_through = signed_through;
      next.signed_at = f.signed_at;
    }
    w.chain = next;
    result.new_records = w.records.size() - w.replace.size();
    result.duplicate_records = duplicates;
  }
  w.page.verdict = std::string(LogVerdictName(result.verdict));
  w.page.detail = result.detail;
  w.page.new_records = static_cast<int64_t>(result.new_records);
  const int64_t dropped_before = tx.dropped_refused();
  result.page_no = tx.WritePage(w);
  result.refused_dropped = static_cast<uint64_t>(tx.dropped_refused() - dropped_before);
  if (sink_) {
    event = {door->org_id, json{{"type", "door.log"},
                             {"door_id", door->id},
                             {"page", result.page_no},
                             {"verdict", LogVerdictName(result.verdict)},
                             {"new_records", result.new_records},
                             {"through", accepted ? std::max(page_last, state.last_seq) : state.last_seq}}};
  }
  return result;
}

}  // namespace mortise::server
