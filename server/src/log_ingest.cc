#include "log_ingest.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <vector>

#include "api_error.h"
#include "door_registration.h"
#include "mortise/crypto/p256.h"
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
      d.summary["text"] = r->reason == store::LossReason::kLateSeal
                              ? "a segment's seal was re-verified by the lock (not a loss)"
                              : "the lock declares " + std::to_string(r->lost_count) + " record(s) lost (" +
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
  std::lock_guard lock(mu_);
  LogIngestResult r = Ingest(lock_id_hex, payload);
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
  return r;
}

LogIngestResult LogIngest::Ingest(std::string_view lock_id_hex, std::string_view payload) {
  LogIngestResult result;
  std::string why;
  std::optional<Message> m = Parse(payload, why);
  if (!m) {
    result.detail = why;
    return result;
  }
  const std::optional<LogDoor> door =
      FromHex(lock_id_hex, kLockIdBytes) ? store_.DoorByLockId(lock_id_hex) : std::nullopt;
  if (!door) {
    result.verdict = LogVerdict::kUnknownDoor;
    result.detail = "no door has lock id " + std::string(lock_id_hex.substr(0, 2 * kLockIdBytes));
    return result;
  }
  const auto key_bytes = FromHex(door->lock_public_key, kPublicKeyBytes);
  const auto lock_id = FromHex(door->lock_id, kLockIdBytes);
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(*key_bytes);
  if (!key.ok()) throw StorageError("door " + door->id + ": stored lock key does not import");

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
  std::vector<LogGapRow> losses;
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
      const bool numbered = l.first_lost != 0 && l.lost_count != 0;
      losses.push_back(LogGapRow{"loss", numbered ? l.first_lost : item.seq,
                                 numbered ? l.first_lost + l.lost_count - 1 : item.seq,
                                 std::string(LossReasonName(l.reason)) + ": " + std::to_string(l.lost_count) +
                                     " record(s), declared in #" + std::to_string(item.seq),
                                 0});
    }
    if (item.type == store::LogItemType::kVoid) losses.push_back(LogGapRow{"void", item.seq, item.seq, "", 0});
    records.push_back(std::move(rec));
  }
  const store::LogFindings& f = verifier.Finish();

  const LogChainState state = store_.State(door->id);
  const uint64_t page_last = records.empty() ? n : records.back().seq;
  // What is stored over the page's span (the anchor included).
  const auto stored = store_.Chains(door->id, n, std::min(page_last, state.last_seq));
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
  for (const PageRecord& rec : records) {
    auto it = stored.find(rec.seq);
    if (it == stored.end()) {
      // Below the stored end but never stored: a page of numbers already
      // passed (pages come in order from one lock); kept out.
      if (rec.seq > state.last_seq) fresh.push_back(&rec);
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

  LogPageWrite w;
  w.door_id = door->id;
  w.page = LogPageRow{0, clock_.NowMs(), m->from, m->next, m->head, "", "", 0, m->items_hex};
  const bool page_signed = f.signed_through > n && f.bad_signatures == 0;
  if (f.malformed != 0 || f.order_errors != 0 || anchors != 1 || f.bad_tags != 0) {
    result.verdict = LogVerdict::kBrokenChain;
    result.detail = f.malformed != 0    ? std::to_string(f.malformed) + " record(s) do not decode"
                    : f.order_errors != 0 ? "records out of order or repeated"
                    : anchors != 1        ? "the chain restarts inside the page"
                                          : "the head does not close the chain";
  } else if (f.bad_signatures != 0) {
    result.verdict = LogVerdict::kBadSignature;
    result.detail = std::to_string(f.bad_signatures) + " signed head(s) do not verify with the door's lock key";
  } else if (!conflict.empty() && (signed_conflict || !page_signed)) {
    result.verdict = LogVerdict::kBrokenChain;
    result.detail = conflict + (signed_conflict ? " (a record the lock signed is never overwritten)" : "");
  } else if (fresh.empty() && conflict.empty() && !(page_signed && f.signed_through > state.signed_through)) {
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
      result.detail = conflict + "; the lock's signature on this page contradicts " +
                      (anchor_conflict ? "unsigned records up to #" + std::to_string(n) + " (marked contradicted)"
                                       : std::to_string(conflicting.size()) + " unsigned record(s) (replaced)");
    }
    const uint64_t signed_through = page_signed ? f.signed_through : 0;
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
    if (!losses.empty() || !skipped.empty() || n > state.last_seq) stored_gaps = store_.Gaps(door->id, 1, kMaxSeq);
    for (const LogGapRow& g : stored_gaps)
      if (g.kind == "loss") declared_losses.push_back(g);
    auto declared = [&](uint64_t first, uint64_t last) {
      uint64_t at = first;
      for (bool progress = true; at <= last && progress;) {
        progress = false;
        for (const LogGapRow& l : declared_losses)
          if (l.kind == "loss" && l.first <= at && at <= l.last) {
            at = l.last + 1;
            progress = true;
          }
      }
      return at > last;
    };
    // Gaps stored earlier that this page's loss records declare.
    if (!losses.empty())
      for (const LogGapRow& g : stored_gaps)
        if (g.kind == "gap" && declared(g.first, g.last)) w.declared_gaps.push_back(g.first);
    if (n > state.last_seq && !declared(state.last_seq + 1, n))
      w.gaps.push_back(LogGapRow{"gap", state.last_seq + 1, n, "", 0});
    for (const Span& s : skipped)
      if (s.first > state.last_seq && !declared(s.first, s.last))
        w.gaps.push_back(LogGapRow{"gap", s.first, s.last, "", 0});
    // (A loss row already stored is kept: the insert skips it.)
    w.gaps.insert(w.gaps.end(), losses.begin(), losses.end());
    if (page_signed && signed_through > state.signed_through) {
      // The signature covers the chain back to where it continued the
      // stored records unbroken: after the newest gap before the page.
      const uint64_t from = anchor_conflict ? n + 1 : store_.LastGapBefore(door->id, n + 1) + 1;
      w.statuses.push_back({from, signed_through, kRecordSigned});
    }
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
  result.page_no = store_.WritePage(w);
  if (sink_) {
    sink_(door->org_id, json{{"type", "door.log"},
                             {"door_id", door->id},
                             {"page", result.page_no},
                             {"verdict", LogVerdictName(result.verdict)},
                             {"new_records", result.new_records},
                             {"through", accepted ? std::max(page_last, state.last_seq) : state.last_seq}});
  }
  return result;
}

}  // namespace mortise::server
