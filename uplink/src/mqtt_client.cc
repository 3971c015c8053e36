#include "mortise/uplink/mqtt_client.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mortise::uplink {
namespace {

std::once_flag g_lib_init;

MqttClient* Self(void* userdata) { return static_cast<MqttClient*>(userdata); }

}  // namespace

MqttClient::MqttClient(const ClientOptions& options) : options_(options) {}

MqttClient::~MqttClient() {
  if (mosq_ != nullptr) {
    if (state_ == State::kConnected) mosquitto_disconnect(mosq_);
    mosquitto_destroy(mosq_);
  }
}

std::unique_ptr<MqttClient> MqttClient::Create(const ClientOptions& options, std::string& why) {
  std::call_once(g_lib_init, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttClient> client(new MqttClient(options));
  client->mosq_ = mosquitto_new(options.client_id.empty() ? nullptr : options.client_id.c_str(), true, client.get());
  if (client->mosq_ == nullptr) {
    why = std::string("mosquitto_new: ") + std::strerror(errno);
    return nullptr;
  }
  mosquitto* m = client->mosq_;
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  // Small messages go out at once (no wait for a delayed ACK: docs/uplink.md).
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  const char* cert = options.tls.cert_file.empty() ? nullptr : options.tls.cert_file.c_str();
  const char* key = options.tls.key_file.empty() ? nullptr : options.tls.key_file.c_str();
  int result = mosquitto_tls_set(m, options.tls.ca_file.c_str(), nullptr, cert, key, nullptr);
  if (result == MOSQ_ERR_SUCCESS) result = mosquitto_tls_opts_set(m, 1 /* SSL_VERIFY_PEER */, "tlsv1.2", nullptr);
  // Host name checking stays on: never mosquitto_tls_insecure_set(true).
  if (result == MOSQ_ERR_SUCCESS) result = mosquitto_tls_insecure_set(m, false);
  if (result != MOSQ_ERR_SUCCESS) {
    why = std::string("TLS files refused: ") + mosquitto_strerror(result);
    return nullptr;
  }
  if (!options.username.empty()) mosquitto_username_pw_set(m, options.username.c_str(), nullptr);
  if (options.will) {
    result = mosquitto_will_set_v5(m, options.will->topic.c_str(), static_cast<int>(options.will->payload.size()),
                                   options.will->payload.data(), 1, options.will->retain, nullptr);
    if (result != MOSQ_ERR_SUCCESS) {
      why = std::string("last will refused: ") + mosquitto_strerror(result);
      return nullptr;
    }
  }
  mosquitto_connect_v5_callback_set(m, [](mosquitto*, void* self, int rc, int, const mosquitto_property*) {
    MqttClient& c = *Self(self);
    c.connack_ = rc;
    if (rc == 0) {
      c.state_ = State::kConnected;
      c.last_error_.clear();
      if (c.on_connected) c.on_connected();
    } else {
      c.Closed(std::string("the broker refused the connection: ") + mosquitto_reason_string(rc));
    }
  });
  mosquitto_disconnect_v5_callback_set(m, [](mosquitto*, void* self, int rc, const mosquitto_property*) {
    Self(self)->Closed(rc == 0 ? std::string("disconnected") : std::string("connection lost: ") + mosquitto_strerror(rc));
  });
  mosquitto_message_v5_callback_set(
      m, [](mosquitto*, void* self, const mosquitto_message* msg, const mosquitto_property* props) {
        MqttClient& c = *Self(self);
        if (!c.on_message) return;
        Message out;
        out.topic = msg->topic;
        const auto* p = static_cast<const uint8_t*>(msg->payload);
        out.payload.assign(p, p + msg->payloadlen);
        out.retained = msg->retain;
        void* value = nullptr;
        uint16_t len = 0;
        if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &value, &len, false) != nullptr &&
            value != nullptr) {
          const auto* v = static_cast<const uint8_t*>(value);
          out.correlation.assign(v, v + len);
          std::free(value);
        }
        c.on_message(out);
      });
  mosquitto_publish_v5_callback_set(m, [](mosquitto*, void* self, int mid, int reason, const mosquitto_property*) {
    MqttClient& c = *Self(self);
    if (c.on_published) c.on_published(mid, reason);
  });
  mosquitto_subscribe_v5_callback_set(
      m, [](mosquitto*, void* self, int mid, int count, const int* granted, const mosquitto_property*) {
        MqttClient& c = *Self(self);
        if (c.on_subscribed) c.on_subscribed(mid, count > 0 ? granted[0] : 0x80);
      });
  mosquitto_log_callback_set(m, [](mosquitto*, void* self, int level, const char* text) {
    if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
      MqttClient& c = *Self(self);
      if (c.tls_log_.size() < 4096) c.tls_log_ += std::string(c.tls_log_.empty() ? "" : "; ") + text;
    }
  });
  return client;
}

void MqttClient::Closed(const std::string& why) {
  if (state_ == State::kClosed) return;
  const bool was_open = state_ != State::kIdle;
  state_ = State::kClosed;
  last_error_ = why;
  if (!tls_log_.empty()) last_error_ += " (" + tls_log_ + ")";
  tls_log_.clear();
  if (was_open && on_closed) on_closed();
}

bool MqttClient::Connect() {
  tls_log_.clear();
  connack_ = -1;
  state_ = State::kConnecting;
  const int rc = mosquitto_connect_async(mosq_, options_.host.c_str(), options_.port, options_.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) {
    Closed(std::string("cannot connect to ") + options_.host + ":" + std::to_string(options_.port) + ": " +
           (rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc)));
    return false;
  }
  return true;
}

void MqttClient::Disconnect(bool with_will) {
  if (state_ == State::kConnected || state_ == State::kConnecting) {
    mosquitto_disconnect_v5(mosq_, with_will ? MQTT_RC_DISCONNECT_WITH_WILL_MSG : MQTT_RC_NORMAL_DISCONNECTION,
                            nullptr);
    // Let the DISCONNECT reach the socket before it closes.
    mosquitto_loop_write(mosq_, 1);
  }
  Closed("disconnected");
}

int MqttClient::fd() const { return state_ == State::kClosed ? -1 : mosquitto_socket(mosq_); }
bool MqttClient::want_write() const { return mosquitto_want_write(mosq_); }

void MqttClient::Service(bool readable, bool writable) {
  if (state_ != State::kConnecting && state_ != State::kConnected) return;
  int rc = MOSQ_ERR_SUCCESS;
  if (readable) rc = mosquitto_loop_read(mosq_, 1);
  if (rc == MOSQ_ERR_SUCCESS && state_ != State::kClosed && (writable || mosquitto_want_write(mosq_)))
    rc = mosquitto_loop_write(mosq_, 1);
  if (rc == MOSQ_ERR_SUCCESS && state_ != State::kClosed) rc = mosquitto_loop_misc(mosq_);
  if (rc != MOSQ_ERR_SUCCESS)
    Closed(rc == MOSQ_ERR_ERRNO ? std::string("connection failed: ") + std::strerror(errno)
                                : std::string("connection failed: ") + mosquitto_strerror(rc));
}

bool MqttClient::Publish(const std::string& topic, const std::vector<uint8_t>& payload, int qos, bool retain,
                         const std::vector<uint8_t>& correlation, int* mid) {
  if (state_ != State::kConnected) return false;
  mosquitto_property* props = nullptr;
  if (!correlation.empty() &&
      mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, correlation.data(),
                                    static_cast<uint16_t>(correlation.size())) != MOSQ_ERR_SUCCESS) {
    mosquitto_property_free_all(&props);
    return false;
  }
  const int rc = mosquitto_publish_v5(mosq_, mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos,
                                      retain, props);
  mosquitto_property_free_all(&props);
  return rc == MOSQ_ERR_SUCCESS;
}

bool MqttClient::Subscribe(const std::string& pattern, int qos, int* mid) {
  if (state_ != State::kConnected) return false;
  return mosquitto_subscribe_v5(mosq_, mid, pattern.c_str(), qos, 0, nullptr) == MOSQ_ERR_SUCCESS;
}

bool MqttClient::RunUntil(const std::function<bool()>& done, int bound_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms);
  while (!done()) {
    if (state_ == State::kClosed || state_ == State::kIdle) return done();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return done();
    pollfd p{fd(), static_cast<short>(POLLIN | (want_write() ? POLLOUT : 0)), 0};
    if (p.fd < 0) return done();  // no socket: nothing more will come
    const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    Service(n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)), n > 0 && (p.revents & POLLOUT));
  }
  return true;
}

}  // namespace mortise::uplink
