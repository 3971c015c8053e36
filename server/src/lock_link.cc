#include "lock_link.h"

#include <cstdio>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "clock_random.h"
#include "config.h"
#include "mortise/uplink/hex.h"
#include "mortise/uplink/mqtt_client.h"
#include "mortise/uplink/pki.h"
#include "mortise/uplink/topics.h"

namespace mortise::server {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kCorrelationBytes = 16;
constexpr size_t kLockHexDigits = 32;

// "mortise/v1/locks/<lock hex>/<channel>" -> lock hex and channel; false
// for anything else (a lock id that is not 32 lowercase hex digits too).
bool ParseTopic(const std::string& topic, std::string& lock, std::string& channel) {
  const std::string_view root = uplink::kTopicRoot;
  if (topic.compare(0, root.size(), root) != 0) return false;
  const size_t slash = topic.find('/', root.size());
  if (slash == std::string::npos || slash - root.size() != kLockHexDigits) return false;
  lock = topic.substr(root.size(), kLockHexDigits);
  for (char c : lock) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  channel = topic.substr(slash + 1);
  return true;
}

}  // namespace

MqttLockLink::MqttLockLink(UplinkSettings settings, LockLinkHandlers handlers, Random& random)
    : settings_(std::move(settings)), handlers_(std::move(handlers)), random_(random) {
  if (!SplitHostPort(settings_.broker, host_, port_) || port_ == 0) {
    throw std::runtime_error("uplink.broker must be HOST:PORT");
  }
  uplink::ClientOptions o;
  o.host = host_;
  o.port = port_;
  o.tls = uplink::TlsFiles{settings_.ca_file, settings_.cert_file, settings_.key_file};
  o.client_id = uplink::kServerUsername;
  std::string why;
  client_ = uplink::MqttClient::Create(o, why);
  if (!client_) throw std::runtime_error("uplink: " + why);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("uplink: eventfd failed");
  client_->on_message = [this](const uplink::Message& m) { OnMessage(m); };
  client_->on_closed = [this] {
    connected_ = false;
    std::lock_guard lock(mu_);
    // Retained `online` messages come again on the next subscription;
    // until then no lock counts as reachable.
    online_.clear();
  };
}

MqttLockLink::~MqttLockLink() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void MqttLockLink::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void MqttLockLink::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    answered_.notify_all();
  }
  Wake();
  if (thread_.joinable()) thread_.join();
}

void MqttLockLink::Wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

int MqttLockLink::NextBackoffMs() {
  int64_t d = settings_.backoff_initial_ms;
  for (int i = 0; i < failures_ && d < settings_.backoff_max_ms; ++i) d *= 2;
  if (d > settings_.backoff_max_ms) d = settings_.backoff_max_ms;
  uint8_t r[4];
  {
    std::lock_guard lock(random_mu_);
    random_.Fill(r);
  }
  const uint32_t x = static_cast<uint32_t>(r[0]) | r[1] << 8 | r[2] << 16 | static_cast<uint32_t>(r[3]) << 24;
  // Uniform in [d/2, d]: locks and servers restarting together spread out.
  return static_cast<int>(d / 2 + static_cast<int64_t>(x % static_cast<uint32_t>(d / 2 + 1)));
}

bool MqttLockLink::ConnectOnce() { return client_->Connect(); }

void MqttLockLink::Run() {
  Steady::time_point next_attempt = Steady::now();
  bool subscribed_all = false;
  int acks_wanted = 0;
  client_->on_connected = [&] {
    ++connections_;
    failures_ = 0;
    subscribed_all = false;
    acks_wanted = 0;
    for (auto c : {uplink::Channel::kState, uplink::Channel::kOnline, uplink::Channel::kUp, uplink::Channel::kLog}) {
      if (client_->Subscribe(uplink::LockTopic("+", c), 1)) ++acks_wanted;
    }
  };
  client_->on_subscribed = [&](int, int reason) {
    if (reason < 0x80 && --acks_wanted == 0) {
      subscribed_all = true;
      connected_ = true;
    }
  };
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    const auto state = client_->state();
    if (state == uplink::MqttClient::State::kIdle || state == uplink::MqttClient::State::kClosed) {
      connected_ = false;
      if (Steady::now() >= next_attempt) {
        if (!ConnectOnce()) {
          ++failures_;
          next_attempt = Steady::now() + std::chrono::milliseconds(NextBackoffMs());
        }
      }
    }
    // Queued frames go out once connected and subscribed (an answer could
    // otherwise arrive before the `up` subscription).
    if (client_->state() == uplink::MqttClient::State::kConnected && subscribed_all) {
      std::vector<Outgoing> out;
      {
        std::lock_guard lock(mu_);
        out.swap(outgoing_);
      }
      for (const auto& o : out) {
        {
          // A caller that stopped waiting has its frame dropped, not sent late.
          std::lock_guard lock(mu_);
          if (!pending_.count(uplink::Hex(o.correlation))) continue;
        }
        if (!client_->Publish(o.topic, o.payload, 1, false, o.correlation)) {
          std::lock_guard lock(mu_);
          const auto it = pending_.find(uplink::Hex(o.correlation));
          if (it != pending_.end()) {
            it->second->failed = true;
            answered_.notify_all();
          }
        }
      }
    }
    pollfd p[2] = {{wake_fd_, POLLIN, 0}, {client_->fd(), 0, 0}};
    int n = 1;
    if (p[1].fd >= 0) {
      p[1].events = static_cast<short>(POLLIN | (client_->want_write() ? POLLOUT : 0));
      n = 2;
    }
    int wait_ms = 1000;
    if (client_->state() != uplink::MqttClient::State::kConnected &&
        client_->state() != uplink::MqttClient::State::kConnecting) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt - Steady::now()).count();
      wait_ms = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left, 1000)));
    }
    ::poll(p, static_cast<nfds_t>(n), wait_ms);
    if (p[0].revents & POLLIN) {
      uint64_t v = 0;
      (void)!::read(wake_fd_, &v, sizeof v);
    }
    const auto before = client_->state();
    if (n == 2) {
      client_->Service((p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0, (p[1].revents & POLLOUT) != 0);
    } else if (before == uplink::MqttClient::State::kConnecting || before == uplink::MqttClient::State::kConnected) {
      client_->Service(false, false);
    }
    if ((before == uplink::MqttClient::State::kConnecting || before == uplink::MqttClient::State::kConnected) &&
        client_->state() == uplink::MqttClient::State::kClosed) {
      connected_ = false;
      subscribed_all = false;
      ++failures_;
      next_attempt = Steady::now() + std::chrono::milliseconds(NextBackoffMs());
      std::fprintf(stderr, "mortise-server: uplink: %s; reconnecting\n", client_->last_error().c_str());
    }
  }
  if (client_->state() == uplink::MqttClient::State::kConnected) client_->Disconnect();
  connected_ = false;
  client_->on_connected = nullptr;
  client_->on_subscribed = nullptr;
}

void MqttLockLink::OnMessage(const uplink::Message& m) {
  std::string lock, channel;
  if (!ParseTopic(m.topic, lock, channel)) {
    ++ignored_;
    return;
  }
  const std::string_view payload(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
  if (channel == uplink::ChannelName(uplink::Channel::kUp)) {
    // Answers are matched by correlation data and lock; anything else (late,
    // duplicate, from another lock, never asked) is dropped.
    std::lock_guard guard(mu_);
    const auto it = m.correlation.size() == kCorrelationBytes ? pending_.find(uplink::Hex(m.correlation))
                                                             : pending_.end();
    if (it == pending_.end() || it->second->lock != lock || it->second->answer) {
      ++dropped_answers_;
      return;
    }
    it->second->answer = m.payload;
    answered_.notify_all();
    return;
  }
  const bool online_channel = channel == uplink::ChannelName(uplink::Channel::kOnline);
  const bool online = payload == "online";
  if (online_channel) {
    // Kept for every well-formed lock id (bounded), registered or not: a
    // door registered while its lock is connected is online at once.
    std::lock_guard guard(mu_);
    if (online_.count(lock) != 0 || online_.size() < kMaxOnlineLocks) online_[lock] = online;
  }
  // The handlers query the database: a failure there is this message's,
  // never the link thread's (an exception must not unwind through the MQTT
  // library's C callback).
  try {
    if (handlers_.registered && !handlers_.registered(lock)) {
      ++ignored_;
      return;
    }
    if (online_channel) {
      if (handlers_.on_online) handlers_.on_online(lock, online);
    } else if (channel == uplink::ChannelName(uplink::Channel::kState)) {
      if (handlers_.on_state) handlers_.on_state(lock, payload);
    } else if (channel == uplink::ChannelName(uplink::Channel::kLog)) {
      if (handlers_.on_log) handlers_.on_log(lock, payload);
    } else {
      ++ignored_;
    }
  } catch (const std::exception& e) {
    ++failed_messages_;
    std::fprintf(stderr, "mortise-server: message on %s dropped: %s\n", m.topic.c_str(), e.what());
  } catch (...) {
    ++failed_messages_;
    std::fprintf(stderr, "mortise-server: message on %s dropped\n", m.topic.c_str());
  }
}

bool MqttLockLink::Online(std::string_view lock_id_hex) const {
  if (!connected_) return false;
  std::lock_guard lock(mu_);
  const auto it = online_.find(std::string(lock_id_hex));
  return it != online_.end() && it->second;
}

std::optional<std::vector<uint8_t>> MqttLockLink::Exchange(std::string_view lock_id_hex,
                                                            std::span<const uint8_t> frame, int timeout_ms) {
  if (lock_id_hex.size() != kLockHexDigits || !Online(lock_id_hex)) return std::nullopt;
  std::vector<uint8_t> correlation(kCorrelationBytes);
  {
    std::lock_guard lock(random_mu_);
    random_.Fill(correlation);
  }
  const std::string key = uplink::Hex(correlation);
  auto waiter = std::make_shared<Pending>();
  waiter->lock = std::string(lock_id_hex);
  std::unique_lock lock(mu_);
  if (stop_) return std::nullopt;
  pending_[key] = waiter;
  outgoing_.push_back(Outgoing{uplink::LockTopic(lock_id_hex, uplink::Channel::kDown),
                               std::vector<uint8_t>(frame.begin(), frame.end()), correlation});
  lock.unlock();
  Wake();
  lock.lock();
  answered_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                     [&] { return waiter->answer.has_value() || waiter->failed || stop_; });
  pending_.erase(key);
  return waiter->answer;
}

}  // namespace mortise::server
