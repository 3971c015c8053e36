#include "uplink.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include <spdlog/spdlog.h>

#include "mortise/crypto/hash.h"
#include "mortise/protocol/node.h"
#include "mortise/uplink/hex.h"
#include "mortise/uplink/topics.h"

namespace mortise::lockd {
namespace {

using uplink::Channel;
using uplink::MqttClient;

// Messages handed to libmosquitto and not yet acknowledged by the broker.
constexpr size_t kMaxInflight = 16;
constexpr size_t kMaxCorrelation = 64;
constexpr int kNoMatchingSubscribers = 0x10;  // an MQTT v5 PUBACK reason

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Frame types the down topic carries (protocol/node.h): remote envelopes,
// info, and the sessionless 0x05 signed updates, 0x06 custody
// acknowledgements and 0x07 time statements. Claims and sessions need
// proximity.
bool RelayedType(uint8_t t) { return t == 0x03 || t == 0x04 || t == 0x05 || t == 0x06 || t == 0x07; }

// The SHA-256 of a file in hex; empty when it cannot be read.
std::string FileSha256(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return {};
  return uplink::Hex(crypto::Sha256::Hash(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
}

}  // namespace

uint64_t Backoff::Next() {
  uint64_t d = initial_;
  for (uint32_t i = 0; i < failures_ && d < max_; ++i) d *= 2;
  d = std::min(d, max_);
  if (failures_ < 63) ++failures_;
  const uint64_t half = d / 2;
  return half + uniform_(d - half + 1);
}

Uplink::Uplink(const UplinkConfig& config, uplink::TlsFiles tls, UplinkParts parts)
    : config_(config),
      tls_(std::move(tls)),
      parts_(std::move(parts)),
      backoff_(config.backoff_initial_ms, config.backoff_max_ms, parts_.uniform) {
  next_attempt_ms_ = parts_.now_ms();
  if (!parts_.load_binding) return;
  const std::optional<std::string> text = parts_.load_binding();
  if (!text) return;
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_object() && j.contains("certificate_sha256") && j["certificate_sha256"].is_string() &&
      j.contains("claim_generation") && j["claim_generation"].is_number_unsigned() &&
      j["claim_generation"].get<uint64_t>() <= UINT32_MAX) {
    binding_ = Binding{j["certificate_sha256"].get<std::string>(), j["claim_generation"].get<uint32_t>()};
  } else {
    spdlog::error("uplink: uplink-binding.json is malformed; it is written again at the next connect");
  }
}

std::string Uplink::StopReason(const std::string& cert_sha256) const {
  if (!parts_.claim_generation || !binding_ || cert_sha256.empty() || binding_->cert_sha256 != cert_sha256) return {};
  const std::optional<uint32_t> now = parts_.claim_generation();
  if (now && *now == binding_->claim_generation) return {};
  return "the broker certificate was first used under claim generation " +
         std::to_string(binding_->claim_generation) + " and the lock is " +
         (now ? "now under claim generation " + std::to_string(*now) + " (ownership transferred, or reset and claimed again)"
              : std::string("no longer claimed (factory reset)")) +
         ": the certificate belongs to the previous owner's door, so nothing more is sent with it; the new owner "
         "registers the lock again, which installs a new certificate";
}

void Uplink::Stop(const std::string& why) {
  if (stopped_reason_ != why) spdlog::error("uplink: stopped: {}", why);
  stopped_reason_ = why;
  // Nothing queued for the previous owner's server goes up.
  queue_.clear();
  inflight_.clear();
  log_inflight_ = false;
  last_state_.clear();
  if (client_) {
    client_->on_closed = nullptr;
    client_->Disconnect(/*with_will=*/true);
    client_.reset();
  }
  next_attempt_ms_ = parts_.now_ms() + backoff_.Next();
}

// Checked on every pass: a transfer between two passes (a local session,
// or a relayed envelope) stops the uplink before anything more is sent.
bool Uplink::StoppedNow() {
  if (!client_) return false;
  const std::string why = StopReason(cert_sha256_);
  if (why.empty()) return false;
  Stop(why);
  return true;
}

Uplink::~Uplink() {
  if (!client_) return;
  client_->on_closed = nullptr;
  // A clean stop says so: the broker publishes the will ("offline") on
  // this DISCONNECT too.
  client_->Disconnect(/*with_will=*/true);
}

nlohmann::json Uplink::Status() const {
  nlohmann::json j;
  j["broker"] = config_.host + ":" + std::to_string(config_.port);
  j["connected"] = connected();
  j["attempts"] = attempts_;
  j["connects"] = connects_;
  j["queued"] = queue_.size();
  j["dropped"] = dropped_;
  j["refusedFrames"] = refused_frames_;
  j["logFrom"] = LogFrom();
  j["logResumeFrom"] = parts_.log_resume_from ? parts_.log_resume_from() : 0;
  j["logHeld"] = parts_.now_ms() < log_hold_until_ms_;
  j["waitingForCertificate"] = waiting_for_certificate_;
  j["lastError"] = last_error_;
  j["stoppedReason"] = stopped_reason_;
  return j;
}

bool Uplink::Enqueue(Channel channel, std::vector<uint8_t> payload, std::vector<uint8_t> correlation) {
  if (channel == Channel::kState) {
    // The state is one value: a newer one replaces a waiting one.
    for (auto& o : queue_) {
      if (o.channel == Channel::kState) {
        o.payload = std::move(payload);
        return true;
      }
    }
  }
  if (queue_.size() >= config_.queue_limit) {
    ++dropped_;
    spdlog::warn("uplink: outgoing queue full ({} messages): a {} message was dropped ({} so far)",
                 config_.queue_limit, uplink::ChannelName(channel), dropped_);
    return false;
  }
  queue_.push_back(Outgoing{channel, std::move(payload), std::move(correlation), 0, 0});
  return true;
}

void Uplink::StartAttempt() {
  ++attempts_;
  struct stat st;
  if (stat(tls_.cert_file.c_str(), &st) != 0) {
    if (!waiting_for_certificate_)
      spdlog::warn("uplink: no certificate at {} yet: registration issues it for the request in the state "
                   "directory (uplink-request.json); checking again with back-off",
                   tls_.cert_file);
    waiting_for_certificate_ = true;
    next_attempt_ms_ = parts_.now_ms() + backoff_.Next();
    return;
  }
  waiting_for_certificate_ = false;
  cert_sha256_ = FileSha256(tls_.cert_file);
  if (const std::string why = StopReason(cert_sha256_); !why.empty()) {
    Stop(why);  // checked again with back-off: a new certificate lifts it
    return;
  }
  if (!stopped_reason_.empty()) {
    spdlog::info("uplink: a new certificate is in place: the uplink starts again");
    stopped_reason_.clear();
  }
  uplink::ClientOptions o;
  o.host = config_.host;
  o.port = config_.port;
  o.tls = tls_;
  o.client_id = "lock-" + parts_.username;
  o.keepalive_s = static_cast<int>(config_.keepalive_s);
  o.will = uplink::Will{uplink::LockTopic(parts_.username, Channel::kOnline), "offline", true};
  std::string why;
  client_ = MqttClient::Create(o, why);
  if (!client_) {
    last_error_ = why;
    spdlog::error("uplink: {}", why);
    next_attempt_ms_ = parts_.now_ms() + backoff_.Next();
    return;
  }
  client_->on_connected = [this] { OnConnected(); };
  client_->on_closed = [this] { OnClosed(); };
  client_->on_message = [this](const uplink::Message& m) { OnMessage(m); };
  client_->on_published = [this](int mid, int reason) {
    auto it = inflight_.find(mid);
    if (it == inflight_.end()) return;
    if (it->second.channel == Channel::kLog) {
      log_inflight_ = false;
      if (reason == kNoMatchingSubscribers) {
        // Nobody received it (the server is away and keeps no session):
        // nothing moves, and uploads pause for the longest back-off.
        log_hold_until_ms_ = parts_.now_ms() + config_.backoff_max_ms;
      } else if (reason < 0x80) {
        // The broker has the page for the server: the next page follows in
        // this connection. Only the server's signed custody acknowledgement
        // (frame 0x06) moves where the next connection starts.
        log_sent_ = std::max(log_sent_, it->second.log_next);
        log_signed_sent_ = std::max(log_signed_sent_, it->second.log_signed);
      }
    }
    if (reason >= 0x80) spdlog::warn("uplink: the broker refused a {} message (reason {:#x})",
                                     uplink::ChannelName(it->second.channel), reason);
    inflight_.erase(it);
  };
  client_->Connect();  // a failure to start closes it: OnClosed schedules the next attempt
}

void Uplink::OnConnected() {
  ++connects_;
  backoff_.Reset();
  last_error_.clear();
  spdlog::info("uplink: connected to {}:{} as {}", config_.host, config_.port, parts_.username);
  // The first connect with a certificate binds it to the claim in force.
  const std::optional<uint32_t> generation = parts_.claim_generation ? parts_.claim_generation() : std::nullopt;
  if (generation && !cert_sha256_.empty() && parts_.save_binding &&
      (!binding_ || binding_->cert_sha256 != cert_sha256_)) {
    binding_ = Binding{cert_sha256_, *generation};
    const nlohmann::json j = {{"certificate_sha256", cert_sha256_}, {"claim_generation", *generation}};
    if (!parts_.save_binding(j.dump() + "\n"))
      spdlog::error("uplink: cannot write uplink-binding.json (kept in memory for this run)");
  }
  if (!client_->Subscribe(uplink::LockTopic(parts_.username, Channel::kDown), 1))
    spdlog::error("uplink: cannot subscribe to the down topic");
  // Online first, then the state: a reader sees both at once.
  queue_.push_front(Outgoing{Channel::kOnline, Bytes("online"), {}, 0, 0});
  last_state_.clear();
  // The log resumes from the custody cursor + 1: pages the broker took in
  // an earlier connection but the server never acknowledged go up again
  // (the server drops sequence numbers it holds).
  log_sent_ = 0;
  log_signed_sent_ = 0;
}

void Uplink::OnClosed() {
  if (!client_) return;
  last_error_ = client_->last_error();
  spdlog::warn("uplink: {}", last_error_);
  // Answers the broker may not have taken are sent again (the server
  // matches them by correlation data); the state and the online flag are
  // published afresh on the next connect; the log restarts from the
  // custody cursor + 1 (OnConnected).
  for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it)
    if (it->second.channel == Channel::kUp) queue_.push_front(std::move(it->second));
  inflight_.clear();
  log_inflight_ = false;
  std::erase_if(queue_, [](const Outgoing& o) { return o.channel == Channel::kOnline; });
  next_attempt_ms_ = parts_.now_ms() + backoff_.Next();
  // Destroyed on the next Tick, outside libmosquitto's callback.
}

void Uplink::OnMessage(const uplink::Message& m) {
  const bool ours = m.topic == uplink::LockTopic(parts_.username, Channel::kDown);
  // A retained message on the down topic would be run again at every
  // reconnect (docs/uplink.md: down is never retained): dropped.
  if (!ours || m.retained || m.payload.empty() || m.payload.size() > protocol::kMaxTransportFrameSize ||
      !RelayedType(m.payload[0]) || m.correlation.empty() || m.correlation.size() > kMaxCorrelation) {
    ++refused_frames_;
    spdlog::debug("uplink: down message refused ({} bytes on {})", m.payload.size(), m.topic);
    return;
  }
  std::vector<uint8_t> reply = parts_.handle_frame(m.payload);
  Enqueue(Channel::kUp, std::move(reply), m.correlation);
}

void Uplink::PublishState() {
  nlohmann::json state = parts_.state();
  state["uplink"] = nlohmann::json{{"dropped", dropped_}};
  std::string text = state.dump();
  if (text == last_state_) return;
  last_state_ = text;
  Enqueue(Channel::kState, Bytes(text));
}

uint64_t Uplink::LogFrom() const {
  if (!parts_.log_resume_from) return 0;
  return std::max(log_sent_, parts_.log_resume_from());
}

void Uplink::PullLog() {
  if (log_inflight_ || !parts_.log_resume_from || !parts_.read_log || queue_.size() >= config_.queue_limit ||
      parts_.now_ms() < log_hold_until_ms_)
    return;
  for (const auto& o : queue_)
    if (o.channel == Channel::kLog) return;
  uint64_t from = LogFrom();
  const uint64_t head = parts_.log_next_seq();
  // A signed head made after the records it covers went up in this
  // connection (not acknowledged: the server may hold them unsigned): the
  // page starts again at its record, which the head follows. The server
  // stores nothing twice and marks the records it holds signed.
  const uint64_t signed_through = parts_.log_signed_through ? parts_.log_signed_through() : 0;
  if (signed_through > log_signed_sent_ && signed_through < from && signed_through >= parts_.log_resume_from())
    from = signed_through;
  if (from >= head) return;
  std::optional<LogPage> page = parts_.read_log(from, config_.log_page_bytes);
  if (!page) return;
  const uint64_t next = page->next_from != 0 ? page->next_from : head;
  nlohmann::json j = {{"from", from}, {"next", next}, {"head", page->next_from == 0}, {"items", uplink::Hex(page->bytes)}};
  const std::string text = j.dump();
  // The page carries the head when it holds the head's record (a page
  // never ends between a timed head and its record: protocol::AuditLogSource).
  const uint64_t carried = from <= signed_through && signed_through < next ? signed_through : 0;
  queue_.push_back(Outgoing{Channel::kLog, Bytes(text), {}, next, carried});
  log_inflight_ = true;
}

void Uplink::Flush() {
  while (connected() && !queue_.empty() && inflight_.size() < kMaxInflight) {
    Outgoing o = std::move(queue_.front());
    queue_.pop_front();
    const bool retain = o.channel == Channel::kState || o.channel == Channel::kOnline;
    int mid = 0;
    if (!client_->Publish(uplink::LockTopic(parts_.username, o.channel), o.payload, 1, retain, o.correlation, &mid)) {
      if (o.channel == Channel::kLog) log_inflight_ = false;
      ++dropped_;
      spdlog::warn("uplink: a {} message of {} bytes could not be published; dropped ({} so far)",
                   uplink::ChannelName(o.channel), o.payload.size(), dropped_);
      continue;
    }
    inflight_.emplace(mid, std::move(o));
  }
}

void Uplink::Tick(bool readable, bool writable) {
  if (client_ && client_->state() == MqttClient::State::kClosed) client_.reset();
  if (StoppedNow()) return;
  if (!client_) {
    if (parts_.now_ms() >= next_attempt_ms_) StartAttempt();
    if (!client_) {
      PublishState();  // kept current in the queue (one message)
      return;
    }
  }
  client_->Service(readable, writable);
  if (StoppedNow()) return;
  if (client_->state() == MqttClient::State::kConnected) {
    PublishState();
    PullLog();
    Flush();
    if (client_->want_write()) client_->Service(false, true);
  } else {
    PublishState();
  }
}

}  // namespace mortise::lockd
