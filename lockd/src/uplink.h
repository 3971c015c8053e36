// mortise-lockd's uplink (docs/uplink.md): the lock online through an MQTT
// v5 broker, with its own TLS identity.
//
//   state   published retained whenever it changes, and on every connect
//   online  "online" retained on connect; the broker publishes the last
//           will "offline" (retained) when the connection dies
//   down    protocol frames from the server, handed to the same frame
//           handler as the local sockets (LockNode::Handle); only remote
//           envelopes, info, and the sessionless frame types 0x05/0x06
//           are taken (claims and sessions need proximity: dropped)
//   up      the answer to each down frame, with its correlation data
//   log     the audit log as verifiable export pages, from the custody
//           cursor + 1 after every (re)connect, then onward from what the
//           broker took in this connection (docs/uplink.md, "Log upload
//           position")
//
// Nothing here decides anything: a frame from the server gets exactly the
// answer a frame from a phone would get, and the lock signs what it signs.
//
// Reconnecting: exponential back-off with jitter (Backoff), on an injected
// clock and randomness. Outgoing messages wait in a bounded queue; when it
// is full the newest message is dropped and counted (status "dropped", a
// warning in the daemon's log, and the count in the next state message), never
// silently.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config.h"
#include "mortise/uplink/mqtt_client.h"
#include "mortise/uplink/topics.h"

namespace mortise::lockd {

// Delays between connection attempts: the n-th consecutive failure waits a
// uniformly drawn time in [d/2, d], d = min(max, initial * 2^n) ("equal
// jitter": never less than half the step, so a fleet that lost its broker
// at once spreads out and still backs off).
class Backoff {
 public:
  // `uniform(n)` returns a value in [0, n) (n >= 1).
  Backoff(uint64_t initial_ms, uint64_t max_ms, std::function<uint64_t(uint64_t)> uniform)
      : initial_(initial_ms), max_(max_ms), uniform_(std::move(uniform)) {}
  // The delay before the next attempt; counts a failure.
  uint64_t Next();
  void Reset() { failures_ = 0; }
  uint32_t failures() const { return failures_; }

 private:
  uint64_t initial_, max_;
  std::function<uint64_t(uint64_t)> uniform_;
  uint32_t failures_ = 0;
};

// One log message's worth of the export: the page and where the next one
// starts (0: this page reached the log's head).
struct LogPage {
  std::vector<uint8_t> bytes;
  uint64_t next_from = 0;
};

struct UplinkParts {
  std::string username;  // the lock id in hex (the certificate's CN)
  std::function<nlohmann::json()> state;  // the lock's state now
  std::function<std::vector<uint8_t>(std::span<const uint8_t>)> handle_frame;
  // The log's next sequence number (records below it exist) and a page
  // reader; nullopt: the log cannot be read now.
  std::function<uint64_t()> log_next_seq;
  std::function<std::optional<LogPage>(uint64_t from, size_t max_bytes)> read_log;
  // The last record the lock's newest signed head covers (0: none since
  // the daemon started; store::AuditLog::last_signed_seq). A page from that
  // record carries the head (a timed head is exported right after its
  // record). Unset: pages go up only for new records.
  std::function<uint64_t()> log_signed_through;
  // Where an upload resumes after any (re)connect, daemon start included:
  // the first record after the log-custody cursor (store 0xFF01, moved
  // only by a verified frame 0x06), or the oldest record still held when
  // the ring has overwritten records after the cursor. Unset: no log
  // upload.
  std::function<uint64_t()> log_resume_from;
  // The certificate's claim (docs/uplink.md, "After an ownership
  // transfer"): the lock's claim generation now (nullopt while unclaimed),
  // and the state directory's uplink-binding.json read and written whole.
  // At the first connect with a certificate, its SHA-256 and the claim
  // generation are kept there; while the generation differs from the one
  // kept for the certificate in place, the uplink stops (no connect, no
  // upload): the lock changed hands, and the certificate (825 days) names
  // a door of the previous owner's organisation. A new certificate
  // (registration by the new owner) lifts it. Unset: no such check.
  std::function<std::optional<uint32_t>()> claim_generation;
  std::function<std::optional<std::string>()> load_binding;
  std::function<bool(const std::string&)> save_binding;
  std::function<uint64_t()> now_ms;  // monotonic, real time
  std::function<uint64_t(uint64_t)> uniform;  // jitter randomness
};

class Uplink {
 public:
  Uplink(const UplinkConfig& config, uplink::TlsFiles tls, UplinkParts parts);
  ~Uplink();

  // Connects when due, services the socket, publishes what changed and
  // drains the queue. Call on every pass of the daemon's loop (and when
  // fd() is readable or writable).
  void Tick(bool readable = false, bool writable = false);
  // The socket to watch (-1: none) and whether for writing too.
  int fd() const { return client_ ? client_->fd() : -1; }
  bool want_write() const { return client_ && client_->want_write(); }

  bool connected() const { return client_ && client_->state() == uplink::MqttClient::State::kConnected; }
  // For the control socket's status and sd_notify.
  nlohmann::json Status() const;
  uint64_t dropped() const { return dropped_; }

  // Queues a message (tests and the daemon). False: the queue was full and
  // the message was dropped (counted).
  bool Enqueue(uplink::Channel channel, std::vector<uint8_t> payload, std::vector<uint8_t> correlation = {});

 private:
  struct Outgoing {
    uplink::Channel channel;
    std::vector<uint8_t> payload;
    std::vector<uint8_t> correlation;
    uint64_t log_next = 0;  // kLog: where the next page starts once the broker has it
    uint64_t log_signed = 0;  // kLog: the signed head the page carries (the last record it covers; 0: none)
  };
  void StartAttempt();
  // Why the certificate with this SHA-256 may not be used now (empty: it
  // may), and stopping for that reason.
  std::string StopReason(const std::string& cert_sha256) const;
  void Stop(const std::string& why);
  bool StoppedNow();
  void OnConnected();
  void OnClosed();
  void OnMessage(const uplink::Message& m);
  void PublishState();
  void PullLog();
  void Flush();

  UplinkConfig config_;
  uplink::TlsFiles tls_;
  UplinkParts parts_;
  Backoff backoff_;
  std::unique_ptr<uplink::MqttClient> client_;
  uint64_t next_attempt_ms_ = 0;
  std::deque<Outgoing> queue_;
  std::map<int, Outgoing> inflight_;  // by message id, until the PUBACK
  bool log_inflight_ = false;
  // Within one connection: the page boundary the broker has taken up to
  // (PUBACK), so pages go up once per connection, not on every tick. 0
  // after every (re)connect: the upload restarts from log_resume_from().
  uint64_t log_sent_ = 0;
  uint64_t LogFrom() const;
  // Within one connection: the newest signed head (the last record it
  // covers) in a page the broker has taken. A head the lock signs after
  // its records went up (a timed head on a quiet lock) is above it: the
  // upload steps back to the head's record, so the server gets the
  // signature without waiting for a reconnect (docs/uplink.md).
  uint64_t log_signed_sent_ = 0;
  // A page the broker delivered to nobody (PUBACK 0x10: no server
  // subscribed) moved nothing; uploads wait until then and resume from it.
  uint64_t log_hold_until_ms_ = 0;
  std::string last_state_;
  uint64_t dropped_ = 0;
  uint64_t refused_frames_ = 0;
  uint64_t connects_ = 0;
  uint64_t attempts_ = 0;
  std::string last_error_;
  bool waiting_for_certificate_ = false;
  // The certificate's claim: what uplink-binding.json holds, the digest of
  // the certificate the current connection uses, and why the uplink is
  // stopped (empty: it is not).
  struct Binding {
    std::string cert_sha256;
    uint32_t claim_generation = 0;
  };
  std::optional<Binding> binding_;
  std::string cert_sha256_;
  std::string stopped_reason_;
};

}  // namespace mortise::lockd
