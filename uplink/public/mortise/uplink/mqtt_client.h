// One MQTT v5 client over TLS (libmosquitto), for the lock's uplink and the
// server's side alike, driven by its owner's poll loop: no thread of its
// own, so the lock daemon stays single-threaded and tests stay
// deterministic.
//
// TLS is not optional: a client has the deployment's CA file, its own
// certificate and key, and verifies the broker's certificate chain and its
// host name (an IP address is matched against the certificate's IP SANs).
// A broker certificate that is self-signed, expired, for another host or
// from another CA is refused (A11), and last_error() says why.
//
// Reconnecting is the owner's decision (lockd: backoff.h), never
// libmosquitto's own retry loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct mosquitto;

namespace mortise::uplink {

struct TlsFiles {
  std::string ca_file;    // the deployment's CA (PEM)
  std::string cert_file;  // this client's certificate (PEM); empty: none
                          // (only tests do that: every broker refuses it)
  std::string key_file;   // its private key (PEM)
};

struct Will {
  std::string topic;
  std::string payload;
  bool retain = true;
};

struct ClientOptions {
  std::string host;  // connect to, and verify the certificate for, this name
  uint16_t port = 8883;
  TlsFiles tls;
  std::string client_id;   // empty: the broker assigns one
  // Sent as the MQTT username. Brokers of this project take the username
  // from the certificate (use_identity_as_username) and ignore this; tests
  // set it to show that claiming a name gets nothing.
  std::string username;
  int keepalive_s = 30;
  std::optional<Will> will;
};

struct Message {
  std::string topic;
  std::vector<uint8_t> payload;
  std::vector<uint8_t> correlation;  // MQTT v5 correlation data (may be empty)
  bool retained = false;
};

class MqttClient {
 public:
  enum class State { kIdle, kConnecting, kConnected, kClosed };

  // nullptr with why: libmosquitto refused an option or a TLS file.
  static std::unique_ptr<MqttClient> Create(const ClientOptions& options, std::string& why);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Starts connecting (TCP connect; the TLS handshake and CONNECT follow in
  // Service). False with last_error(): could not even start (no route,
  // refused). State becomes kConnecting.
  bool Connect();
  // Closes the connection with a DISCONNECT: without the will, or with it
  // (MQTT v5 reason 0x04, "disconnect with will message": the broker
  // publishes the will as if the connection had died).
  void Disconnect(bool with_will = false);

  // The socket to poll (-1 when none) and whether to poll it for writing.
  int fd() const;
  bool want_write() const;
  // Reads, writes and keeps alive. Call when fd() is ready and at least
  // every second. A failure (TLS refused, broker gone) moves to kClosed,
  // with last_error().
  void Service(bool readable, bool writable);

  State state() const { return state_; }
  // The CONNACK's reason code (MQTT v5; 0 accepted), or -1 before one.
  int connack_reason() const { return connack_; }
  // Why the last connection attempt or connection ended (TLS and
  // libmosquitto messages included).
  const std::string& last_error() const { return last_error_; }

  // Queue a PUBLISH (QoS 0 or 1). False: not connected, or libmosquitto
  // refused it (too large). `mid` receives the message id.
  bool Publish(const std::string& topic, const std::vector<uint8_t>& payload, int qos, bool retain,
               const std::vector<uint8_t>& correlation = {}, int* mid = nullptr);
  bool Subscribe(const std::string& pattern, int qos, int* mid = nullptr);

  // Events (called from Service).
  std::function<void()> on_connected;
  std::function<void(const Message&)> on_message;
  // QoS 1 acknowledged: the message id and the PUBACK's reason code.
  std::function<void(int mid, int reason)> on_published;
  // SUBACK: the message id and the granted QoS or reason code (>= 0x80: refused).
  std::function<void(int mid, int reason)> on_subscribed;
  std::function<void()> on_closed;

  // For tests and tools: polls fd() and services until `done()` or the
  // connection closes or `bound_ms` of real time passes (a bound on a wait,
  // not a timing assertion). Returns done().
  bool RunUntil(const std::function<bool()>& done, int bound_ms);

 private:
  explicit MqttClient(const ClientOptions& options);
  void Closed(const std::string& why);

  ClientOptions options_;
  mosquitto* mosq_ = nullptr;
  State state_ = State::kIdle;
  int connack_ = -1;
  std::string last_error_;
  std::string tls_log_;  // libmosquitto's log lines of the current attempt
};

}  // namespace mortise::uplink
