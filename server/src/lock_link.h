// The server's link to locks (docs/uplink.md "The server's side"): what the
// relay API, the log ingest and the signed-update sender code against
// (`LockLink`, faked in their tests), and its implementation over the MQTT
// broker (`MqttLockLink`, identity `mortise-server`).
//
// The link relays and never decides: a frame it carries down is one the
// lock verifies as if a phone had carried it, and what comes up is checked
// by whoever asked (the relay API verifies a remote result against the
// door's public key; the log ingest verifies pages).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "relay_gate.h"

namespace mortise::uplink {
class MqttClient;
struct Message;
}  // namespace mortise::uplink

namespace mortise::server {

class Random;

class LockLink {
 public:
  virtual ~LockLink() = default;
  // True while the lock's retained `online` topic says online.
  virtual bool Online(std::string_view lock_id_hex) const = 0;
  // Sends one protocol frame down to the lock (topic .../down, fresh correlation data)
  // and waits up to timeout_ms for its answer frame on .../up. nullopt: offline, not
  // delivered, or no answer in time. Thread-safe; blocks the caller only.
  virtual std::optional<std::vector<uint8_t>> Exchange(std::string_view lock_id_hex,
      std::span<const uint8_t> frame, int timeout_ms) = 0;
};

// `[uplink]` in the server's configuration (docs/server.md). Off when
// `broker` is empty.
struct UplinkSettings {
  std::string broker;     // HOST:PORT of the MQTT broker (TLS)
  std::string ca_file;    // the deployment's CA certificate (PEM): verifies the broker
  std::string cert_file;  // the server's client certificate (CN mortise-server)
  std::string key_file;   // its key
  std::string ca_key_file;  // the deployment CA's key: issues locks' broker certificates
  // The revocation list the server writes for the broker (docs/uplink.md
  // "Revocation"); empty: crl.pem beside ca_key_file (the layout of a
  // mortise-broker deployment directory).
  std::string crl_file;
  int64_t lock_cert_days = 825;  // validity of a lock's broker certificate
  int backoff_initial_ms = 500;  // reconnect back-off: uniform in [d/2, d], d doubling
  int backoff_max_ms = 30'000;
  int state_flush_ms = 250;  // door state writes: at most one batch per this period
  int relay_timeout_ms = 10'000;  // the relay API's wait for a lock's answer
  int relay_per_minute = 30;      // relayed commands per account per minute
  // The relay pools' knobs (probation, lockdown slots, timeouts); the
  // main pool's bounds come from http.threads (RelayGate::LimitsFor).
  RelayLimits relays;
  bool enabled() const { return !broker.empty(); }
};

// What the link hands on. Called on the link's thread; keep them short.
struct LockLinkHandlers {
  // Is this lock id (lowercase hex) a registered door? Messages from any
  // other are dropped and counted (ignored_messages).
  std::function<bool(std::string_view lock_id_hex)> registered;
  std::function<void(std::string_view lock_id_hex, std::string_view payload)> on_state;
  std::function<void(std::string_view lock_id_hex, bool online)> on_online;
  std::function<void(std::string_view lock_id_hex, std::string_view payload)> on_log;
};

// The link over MQTT: one thread owns the MqttClient (libmosquitto is driven
// from one poll loop), callers talk to it through a queue and a wake-up fd.
class MqttLockLink final : public LockLink {
 public:
  // Throws ConfigError-like std::runtime_error when the settings are unusable.
  MqttLockLink(UplinkSettings settings, LockLinkHandlers handlers, Random& random);
  ~MqttLockLink() override;
  MqttLockLink(const MqttLockLink&) = delete;
  MqttLockLink& operator=(const MqttLockLink&) = delete;

  // Starts the link's thread (connects, subscribes, reconnects on back-off).
  void Start();
  // Disconnects and joins the thread; pending exchanges answer nullopt.
  void Stop();

  bool Online(std::string_view lock_id_hex) const override;
  std::optional<std::vector<uint8_t>> Exchange(std::string_view lock_id_hex, std::span<const uint8_t> frame,
                                               int timeout_ms) override;

  // Connected to the broker with every subscription granted.
  bool connected() const { return connected_.load(); }
  // Counters (metrics): messages from lock ids that are not registered
  // doors; answers nobody waits for (late, duplicate, unknown correlation);
  // connections made.
  uint64_t ignored_messages() const { return ignored_.load(); }
  uint64_t dropped_answers() const { return dropped_answers_.load(); }
  uint64_t connections() const { return connections_.load(); }
  // Messages a handler failed on (threw, e.g. a database error): dropped.
  uint64_t failed_messages() const { return failed_messages_.load(); }
  // Locks whose retained `online` the link keeps (registered or not).
  static constexpr size_t kMaxOnlineLocks = 100000;

 private:
  struct Pending {
    std::string lock;
    std::optional<std::vector<uint8_t>> answer;
    bool failed = false;  // the publish could not be queued
  };
  struct Outgoing {
    std::string topic;
    std::vector<uint8_t> payload;
    std::vector<uint8_t> correlation;
  };
  void Run();
  void Wake();
  bool ConnectOnce();
  void OnMessage(const uplink::Message& m);
  int NextBackoffMs();

  UplinkSettings settings_;
  LockLinkHandlers handlers_;
  Random& random_;
  std::mutex random_mu_;  // random_ is used by the link's thread and callers
  std::string host_;
  uint16_t port_ = 0;

  mutable std::mutex mu_;
  std::condition_variable answered_;
  std::map<std::string, bool> online_;                       // lock hex -> retained online
  std::map<std::string, std::shared_ptr<Pending>> pending_;  // correlation hex -> waiter
  std::vector<Outgoing> outgoing_;
  bool stop_ = false;

  std::unique_ptr<uplink::MqttClient> client_;  // the link thread's alone
  int wake_fd_ = -1;
  int failures_ = 0;
  std::thread thread_;
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> ignored_{0}, dropped_answers_{0}, connections_{0}, failed_messages_{0};
};

}  // namespace mortise::server
