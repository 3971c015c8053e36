#include "log_print.h"

#include <utility>

#include "key_string.h"
#include "log_text.h"
#include "mortise/dljson/event_json.h"
#include "output.h"

namespace mortise::cli {

using nlohmann::json;

LogPrinter::LogPrinter(const LockEntry& lock, std::string my_key_id, UserName user_name)
    : lock_(lock), my_key_id_(std::move(my_key_id)), user_name_(std::move(user_name)) {
  log_keys_ = lock.extra.contains("log_keys") && lock.extra["log_keys"].is_object() ? lock.extra["log_keys"]
                                                                                      : json::object();
}

json LogPrinter::KeyJson(uint16_t index) const {
  json k = {{"index", index}};
  if (index == 0) {
    k["name"] = "the owner's key";
    return k;
  }
  const std::string at = std::to_string(index);
  if (!log_keys_.contains(at)) return k;
  k["issuer"] = log_keys_[at]["issuer"];
  k["serial"] = log_keys_[at]["serial"];
  if (k["issuer"] == my_key_id_) {
    for (const IssuedKey& issued : lock_.issued)
      if (issued.serial == k["serial"].get<uint64_t>()) k["name"] = "key '" + issued.holder_name + "'";
  }
  if (!k.contains("name"))
    k["name"] = "key " + std::to_string(k["serial"].get<uint64_t>()) + " of issuer " + k["issuer"].get<std::string>();
  return k;
}

void LogPrinter::Learn(const store::LogItem& item) {
  if (item.type != store::LogItemType::kRecord) return;
  Result<store::LogRecord> r = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
  if (r.ok() && r->type == store::LogRecordType::kKeyIntro)
    log_keys_[std::to_string(r->key_index)] = {{"issuer", ToHex(r->issuer_key_id)}, {"serial", r->serial}};
}

bool LogPrinter::Print(const store::LogItem& item, std::string& text, json& events) {
  if (item.type == store::LogItemType::kVoid) {
    text += "  #" + std::to_string(item.seq) + "  !! the lock cannot read this record (flash damage)\n";
    return false;
  }
  if (item.type != store::LogItemType::kRecord) return false;
  Result<store::LogRecord> r = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
  if (!r.ok()) return false;  // counted by the verifier as malformed
  if (r->type == store::LogRecordType::kSignedHead) return false;  // not an event
  json e;
  if (r->type == store::LogRecordType::kKeyIntro) {
    // From here on, credential index key_index of protocol keys names
    // this exact key (issuer key id, serial).
    Learn(item);
    e = {{"seq", r->seq}, {"key", KeyJson(r->key_index)}};
    const std::string sentence = "the lock names " + e["key"]["name"].get<std::string>() + " #" +
                                 std::to_string(r->key_index) + " (issuer " + ToHex(r->issuer_key_id) + ", serial " +
                                 std::to_string(r->serial) + ")";
    e["text"] = sentence;  // every entry of log --json has its sentence
    text += "  #" + std::to_string(r->seq) + "  " + sentence + "\n";
    events.push_back(e);
    return true;
  }
  if (r->type == store::LogRecordType::kLoss) {
    const char* reason = r->reason == store::LossReason::kOverflow       ? "overflow"
                         : r->reason == store::LossReason::kWriteFailure ? "write-failure"
                         : r->reason == store::LossReason::kLogLost      ? "log-lost"
                         : r->reason == store::LossReason::kTampered     ? "tampered"
                                                                         : "late-seal";
    e = {{"seq", r->seq}, {"loss", {{"reason", reason}, {"first", r->first_lost}, {"count", r->lost_count}}}};
    const std::string range = "#" + std::to_string(r->first_lost) + ".." +
                              std::to_string(r->first_lost + (r->lost_count == 0 ? 0 : r->lost_count - 1));
    std::string sentence;
    if (r->reason == store::LossReason::kTampered) {
      sentence = "!! TAMPERING: the lock found its stored log altered (" + range +
                 ": records edited, removed or added while it was off, or flash damage); it cannot vouch for them";
    } else if (r->reason == store::LossReason::kLateSeal) {
      sentence = "note: the segment ending at #" + std::to_string(r->first_lost) +
                 " had lost its seal (a power cut or an erasure); the lock re-verified it";
    } else {
      sentence = "!! the lock declares " + std::to_string(r->lost_count) + " event(s) lost (" +
                 (r->reason == store::LossReason::kOverflow       ? "overwritten before being read"
                  : r->reason == store::LossReason::kWriteFailure ? "flash write failed"
                                                                  : "log lost") +
                 ")";
    }
    e["text"] = sentence;
    text += "  #" + std::to_string(r->seq) + "  " + sentence + "\n";
  } else {
    e = CliJsonFromLock(dljson::EventToJson(r->event));
    e["seq"] = r->seq;
    const core::LockEvent& ev = r->event;
    EventNames names;
    if (ev.user_index != 0 && ev.user_index != 0xFFFE) {
      names.user = user_name_ ? user_name_(ev.user_index) : std::string();
      if (!names.user.empty()) e["user_name"] = names.user;
      names.user = names.user.empty() ? std::string() : names.user + " (user " + std::to_string(ev.user_index) + ")";
    }
    const bool by_key = ev.has_credential && (ev.credential.type == core::CredentialType::kAliroEvictableEndpointKey ||
                                               ev.credential.type == core::CredentialType::kAliroNonEvictableEndpointKey);
    if (by_key) {
      // A protocol key: named exactly through the lock's key introductions.
      e["key"] = KeyJson(ev.credential.index);
      names.key = e["key"]["name"].get<std::string>();
    }
    const std::string sentence = DescribeEvent(ev, names);
    e["text"] = sentence;
    text += "  #" + std::to_string(r->seq) + "  " + FormatUtc(ev.utc_seconds) + "  " + sentence + "\n";
  }
  events.push_back(e);
  return true;
}

}  // namespace mortise::cli
