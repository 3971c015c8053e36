// mortise-lockd with its uplink, as processes: a private broker (the
// uplink's harness), the daemon on a temp state dir configured for it, the
// lock claimed and registered (its certificate issued from the request it
// wrote, after the binding statement verified), and a client with the
// server's identity.
#pragma once

#include <time.h>

#include "mortise/protocol/remote.h"
#include "mortise/uplink/broker.h"
#include "mortise/uplink/topics.h"
#include "process_util.h"

namespace mortise::lockd::test {

// A bound on every wait (never reached when things work).
inline constexpr int kBoundMs = 15'000;

// A client with the server's identity that keeps what it reads.
class ServerClient {
 public:
  ServerClient(const uplink::Broker& broker, const uplink::Deployment& d) {
    std::string why;
    client_ = uplink::MqttClient::Create(broker.Client(d.server_files()), why);
    EXPECT_TRUE(client_) << why;
    client_->on_message = [this](const uplink::Message& m) { got.push_back(m); };
    client_->on_subscribed = [this](int, int) { ++subacks_; };
    EXPECT_TRUE(client_->Connect()) << client_->last_error();
    EXPECT_TRUE(client_->RunUntil([&] { return client_->state() == uplink::MqttClient::State::kConnected; }, kBoundMs))
        << client_->last_error();
    int asked = 0;
    for (const char* c : {"state", "up", "online", "log"})
      asked += client_->Subscribe(std::string("mortise/v1/locks/+/") + c, 1) ? 1 : 0;
    EXPECT_TRUE(client_->RunUntil([&] { return subacks_ == asked; }, kBoundMs));
  }
  // Waits for the first message matching `pred` among those no earlier
  // WaitFor returned (others stay for later calls), and returns it.
  std::optional<uplink::Message> WaitFor(const std::function<bool(const uplink::Message&)>& pred) {
    std::optional<uplink::Message> found;
    auto scan = [&] {
      for (size_t i = 0; i < got.size(); ++i) {
        if (taken_.size() <= i) taken_.resize(got.size(), false);
        if (taken_[i] || !pred(got[i])) continue;
        taken_[i] = true;
        found = got[i];
        return true;
      }
      return false;
    };
    if (!scan()) client_->RunUntil(scan, kBoundMs);
    return found;
  }
  bool Publish(const std::string& topic, const std::vector<uint8_t>& payload, const std::vector<uint8_t>& correlation) {
    int mid = -1;
    bool acked = false;
    client_->on_published = [&](int m, int) { acked = acked || m == mid; };
    const bool ok = client_->Publish(topic, payload, 1, false, correlation, &mid) &&
                    client_->RunUntil([&] { return acked; }, kBoundMs);
    client_->on_published = nullptr;
    return ok;
  }
  uplink::MqttClient& client() { return *client_; }

  std::vector<uplink::Message> got;

 private:
  std::unique_ptr<uplink::MqttClient> client_;
  int subacks_ = 0;
  std::vector<bool> taken_;
};

// Polls `done` until it holds or the bound passes (a bound on a wait for
// another process, never a timing assertion).
inline bool WaitUntil(const std::function<bool()>& done, int bound_ms = kBoundMs) {
  for (int waited = 0; waited < bound_ms; waited += 10) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

inline std::string Text(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

class UplinkProcess : public lockdProcess {
 protected:
  void SetUp() override {
    lockdProcess::SetUp();
    const fs::path broker_dir = dir_ / "broker";
    fs::create_directories(broker_dir);
    fs::permissions(broker_dir, fs::perms::owner_all);
    std::string why;
    auto d = uplink::Deployment::Create(broker_dir.string(), uplink::BrokerCert::kGood, time(nullptr), why);
    ASSERT_TRUE(d) << why;
    deployment_.emplace(*d);
    broker_ = uplink::Broker::Start(*deployment_, why);
    ASSERT_TRUE(broker_) << why;
    std::ofstream(config_, std::ios::app) << "[uplink]\nbroker = \"127.0.0.1:" << broker_->port() << "\"\n"
                                          << "ca_file = \"" << deployment_->ca_file() << "\"\n"
                                          << "backoff_initial_ms = 50\nbackoff_max_ms = 400\n";
  }
  void TearDown() override {
    if (HasFailure() && broker_) std::printf("--- broker log ---\n%s\n", broker_->log().c_str());
    broker_.reset();
    lockdProcess::TearDown();
  }

  // Starts the daemon, claims the lock for owner_ and issues its broker
  // certificate from the request the daemon wrote (registration's part).
  void StartRegistered(Process& p) {
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    control_ = std::make_unique<ControlClient>(control_path());
    link_ = std::make_unique<FrameLink>(lock_path());
    ASSERT_TRUE(control_->connected() && link_->connected());
    auto key = Claim(*control_, *link_, owner_, rng_.drbg);
    ASSERT_TRUE(key);
    lock_key_.emplace(*key);
    username_ = uplink::LockUsername(protocol::LockIdOf(*key));
    ASSERT_NO_FATAL_FAILURE(InstallCertificate());
  }

  // Issues a broker certificate (a new one at every call) for the request
  // the daemon wrote, as registration does, and puts it in place.
  void InstallCertificate() {
    std::string why;
    auto request = uplink::RequestFromJson(ReadFile(state_ / "uplink-request.json"), why);
    ASSERT_TRUE(request) << why;
    const int64_t now = time(nullptr);
    auto cert = uplink::IssueLockCertificate(deployment_->ca(), *request, *lock_key_, now - 60, now + 86400, why);
    ASSERT_TRUE(cert) << why;
    // Written beside, then renamed: the daemon never reads half a file.
    std::ofstream(state_ / "uplink.crt.tmp") << *cert;
    fs::rename(state_ / "uplink.crt.tmp", state_ / "uplink.crt");
  }

  // Sets the lock's time through an owner session, then lets 5 s of lock
  // time pass (envelopes must expire after boot + 30 s).
  void SetLockTime() {
    protocol::SessionClient s(owner_, {}, protocol::LockIdOf(*lock_key_), rng_.drbg);
    ASSERT_EQ(RunCold(*link_, s, protocol::Command::kSetTime, time(nullptr)), StatusCode::kOk);
    control_->Ask({{"cmd", "advance"}, {"ms", 5000}});
  }
  int64_t LockUtc() { return control_->Ask({{"cmd", "status"}})["utc"].get<int64_t>(); }
  std::string Bolt() { return control_->Ask({{"cmd", "status"}})["bolt"].get<std::string>(); }

  // A remote envelope frame (type byte included) for `command`, valid for
  // 30 s of lock time, signed by `holder` for the lock whose key is `key`.
  std::vector<uint8_t> Envelope(protocol::RemoteClient& client, protocol::Command command, uint32_t counter) {
    protocol::CommandRequest r;
    r.command = command;
    std::vector<uint8_t> frame(protocol::kMaxRemoteFrameSize);
    frame[0] = static_cast<uint8_t>(protocol::FrameType::kRemote);
    auto n = client.Build(r, counter, LockUtc() + protocol::kMaxRemoteLifetimeS, std::span<uint8_t>(frame).subspan(1));
    EXPECT_TRUE(n.ok()) << n.status().name();
    frame.resize(1 + (n.ok() ? *n : 0));
    return frame;
  }

  std::string Topic(uplink::Channel c) const { return uplink::LockTopic(username_, c); }

  std::optional<uplink::Deployment> deployment_;
  std::unique_ptr<uplink::Broker> broker_;
  SeededDrbg rng_{91};
  crypto::P256KeyPair owner_ = *crypto::P256KeyPair::Generate(rng_.drbg);
  std::unique_ptr<ControlClient> control_;
  std::unique_ptr<FrameLink> link_;
  std::optional<crypto::P256PublicKey> lock_key_;
  std::string username_;
};

}  // namespace mortise::lockd::test
