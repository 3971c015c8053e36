// Shared by the uplink tests: a deployment and broker in a temp dir, locks
// with certificates issued the way registration issues them (binding
// statement first), and clients that connect with a bound.
#pragma once

#include <time.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/uplink/broker.h"
#include "mortise/uplink/topics.h"

namespace mortise::uplink::test {

// A bound on every wait for the broker (never reached when things work).
inline constexpr int kBoundMs = 10'000;

inline int64_t Now() { return static_cast<int64_t>(time(nullptr)); }

struct SeededDrbg {
  explicit SeededDrbg(uint64_t seed) : entropy(seed), drbg(entropy) { EXPECT_TRUE(drbg.Seed().ok()); }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
};

// A lock as the broker sees it: an identity key, a TLS key, and the
// certificate the CA issued after the binding statement verified.
struct TestLock {
  crypto::P256KeyPair identity;
  std::string username;
  TlsFiles files;
};

inline std::unique_ptr<TestLock> MakeLock(const Deployment& d, const std::string& name, uint64_t seed) {
  SeededDrbg rng(seed);
  auto identity = crypto::P256KeyPair::Generate(rng.drbg);
  EXPECT_TRUE(identity.ok());
  std::string why;
  auto key = GenerateKey(why);
  EXPECT_TRUE(key) << why;
  auto request = MakeLockRequest(*key, *identity, rng.drbg, why);
  EXPECT_TRUE(request) << why;
  auto cert = IssueLockCertificate(d.ca(), *request, identity->public_key(), Now() - 60, Now() + 86400, why);
  EXPECT_TRUE(cert) << why;
  if (!identity.ok() || !key || !request || !cert) return nullptr;
  const std::string base = d.dir() + "/" + name;
  std::ofstream(base + ".key") << *key;
  std::filesystem::permissions(base + ".key", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ofstream(base + ".crt") << *cert;
  return std::unique_ptr<TestLock>(
      new TestLock{*identity, LockUsername(request->lock_id), TlsFiles{d.ca_file(), base + ".crt", base + ".key"}});
}

// A temp dir with a deployment and (unless told otherwise) its broker; the
// broker's log is printed when a test fails.
class BrokerTest : public ::testing::Test {
 protected:
  void StartDeployment(BrokerCert kind = BrokerCert::kGood) {
    std::string why;
    dir_ = MakeTempDir("mortise-uplink", why);
    ASSERT_FALSE(dir_.empty()) << why;
    auto d = Deployment::Create(dir_, kind, Now(), why);
    ASSERT_TRUE(d) << why;
    deployment_.emplace(*d);
    broker_ = Broker::Start(*deployment_, why);
    ASSERT_TRUE(broker_) << why;
  }
  void TearDown() override {
    if (broker_ && HasFailure()) std::printf("--- broker log ---\n%s\n", broker_->log().c_str());
    broker_.reset();
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }

  // A client of the broker, connected (or refused) before it returns.
  std::unique_ptr<MqttClient> Connect(const TlsFiles& tls, const std::string& username = "",
                                      const std::string& client_id = "") {
    ClientOptions o = broker_->Client(tls);
    o.username = username;
    o.client_id = client_id;
    std::string why;
    auto c = MqttClient::Create(o, why);
    EXPECT_TRUE(c) << why;
    if (!c) return nullptr;
    if (c->Connect())
      c->RunUntil([&] { return c->state() != MqttClient::State::kConnecting; }, kBoundMs);
    return c;
  }

  // Subscribes and waits for the SUBACK; returns its reason (>= 0x80: refused).
  static int SubscribeAndWait(MqttClient& c, const std::string& pattern) {
    int mid = -1, reason = -1;
    c.on_subscribed = [&](int m, int r) {
      if (m == mid) reason = r;
    };
    EXPECT_TRUE(c.Subscribe(pattern, 1, &mid)) << pattern;
    EXPECT_TRUE(c.RunUntil([&] { return reason >= 0; }, kBoundMs)) << pattern;
    c.on_subscribed = nullptr;
    return reason;
  }

  // Publishes at QoS 1 and waits for the PUBACK; returns its reason (< 0x80:
  // accepted; 0x10 says no one subscribed).
  static int PublishAndWait(MqttClient& c, const std::string& topic, const std::string& payload, bool retain = false,
                            const std::vector<uint8_t>& correlation = {}) {
    int mid = -1, reason = -1;
    c.on_published = [&](int m, int r) {
      if (m == mid) reason = r;
    };
    EXPECT_TRUE(c.Publish(topic, std::vector<uint8_t>(payload.begin(), payload.end()), 1, retain, correlation, &mid));
    EXPECT_TRUE(c.RunUntil([&] { return reason >= 0; }, kBoundMs)) << topic;
    c.on_published = nullptr;
    return reason;
  }

  std::string dir_;
  std::optional<Deployment> deployment_;
  std::unique_ptr<Broker> broker_;
};

}  // namespace mortise::uplink::test
