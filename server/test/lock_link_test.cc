// MqttLockLink (the server's side of the uplink) against a private
// Mosquitto with the deployment's PKI: answers matched by correlation data
// (late, duplicate, foreign and unknown answers dropped), offline locks get
// nothing, locks that are not registered doors are ignored and counted, and
// the link comes back after the broker restarts.
#include "lock_link.h"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "fakes.h"
#include "uplink_test_util.h"

namespace mortise::server {
namespace {

using uplink::Channel;
using uplink::LockTopic;
using uplink::Message;
using uplink::MqttClient;
using uplink::test::kBoundMs;
using Bytes = std::vector<uint8_t>;

// Waits (bounded) for `done`, servicing `clients` meanwhile.
bool WaitFor(const std::function<bool()>& done, std::initializer_list<MqttClient*> clients) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBoundMs);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    for (MqttClient* c : clients) c->RunUntil([] { return false; }, 10);
    if (clients.size() == 0) std::this_thread::yield();
  }
  return true;
}

class LockLinkTest : public uplink::test::BrokerTest {
 protected:
  void SetUp() override {
    StartDeployment();
    lock_ = uplink::test::MakeLock(*deployment_, "lock-a", 11);
    stranger_ = uplink::test::MakeLock(*deployment_, "lock-b", 12);
    ASSERT_TRUE(lock_ && stranger_);
  }
  void TearDown() override {
    if (link_) link_->Stop();
    link_.reset();
    BrokerTest::TearDown();
  }

  void StartLink() {
    UplinkSettings s;
    s.broker = "127.0.0.1:" + std::to_string(broker_->port());
    const auto f = deployment_->server_files();
    s.ca_file = f.ca_file;
    s.cert_file = f.cert_file;
    s.key_file = f.key_file;
    s.backoff_initial_ms = 50;
    s.backoff_max_ms = 400;
    LockLinkHandlers h;
    h.registered = [this](std::string_view lock) { return lock == lock_->username; };
    h.on_state = [this](std::string_view lock, std::string_view payload) {
      // A handler's failure (e.g. the database's), for the test below.
      if (payload == "throw") throw std::runtime_error("database is locked");
      std::lock_guard l(mu_);
      states_.emplace_back(std::string(lock), std::string(payload));
    };
    link_ = std::make_unique<MqttLockLink>(s, h, random_);
    link_->Start();
    ASSERT_TRUE(WaitFor([&] { return link_->connected(); }, {})) << broker_->log();
  }

  // The lock's client: online (retained, with its will), subscribed to its
  // down topic, collecting what comes down.
  std::unique_ptr<MqttClient> LockOnline(const uplink::test::TestLock& lock) {
    auto o = broker_->Client(lock.files);
    o.will = uplink::Will{LockTopic(lock.username, Channel::kOnline), "offline", true};
    std::string why;
    auto c = MqttClient::Create(o, why);
    EXPECT_TRUE(c) << why;
    EXPECT_TRUE(c->Connect());
    EXPECT_TRUE(c->RunUntil([&] { return c->state() == MqttClient::State::kConnected; }, kBoundMs));
    EXPECT_EQ(SubscribeAndWait(*c, LockTopic(lock.username, Channel::kDown)), 1);
    c->on_message = [this](const Message& m) {
      std::lock_guard l(mu_);
      down_.push_back(m);
    };
    EXPECT_LT(PublishAndWait(*c, LockTopic(lock.username, Channel::kOnline), "online", true), 0x80);
    return c;
  }

  size_t DownCount() {
    std::lock_guard l(mu_);
    return down_.size();
  }

  testing::SeededRandom random_{5};
  std::unique_ptr<uplink::test::TestLock> lock_, stranger_;
  std::unique_ptr<MqttLockLink> link_;
  std::mutex mu_;
  std::vector<Message> down_;
  std::vector<std::pair<std::string, std::string>> states_;
};

TEST_F(LockLinkTest, AnExchangeGetsTheAnswerWithItsCorrelationDataAndNothingElse) {
  StartLink();
  auto lock = LockOnline(*lock_);
  ASSERT_TRUE(WaitFor([&] { return link_->Online(lock_->username); }, {lock.get()}));

  std::optional<Bytes> answer;
  std::atomic<bool> done{false};
  std::thread caller([&] {
    answer = link_->Exchange(lock_->username, Bytes{0x04}, kBoundMs);
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return DownCount() == 1; }, {lock.get()}));
  const Message m = down_[0];
  EXPECT_EQ(m.payload, Bytes{0x04});
  ASSERT_EQ(m.correlation.size(), 16u);
  const std::string up = LockTopic(lock_->username, Channel::kUp);
  // An answer with other correlation data is not this exchange's.
  Bytes other = m.correlation;
  other[0] ^= 1;
  EXPECT_LT(PublishAndWait(*lock, up, "wrong", false, other), 0x80);
  EXPECT_LT(PublishAndWait(*lock, up, "right", false, m.correlation), 0x80);
  EXPECT_LT(PublishAndWait(*lock, up, "again", false, m.correlation), 0x80);  // a duplicate
  ASSERT_TRUE(WaitFor([&] { return done.load(); }, {lock.get()}));
  caller.join();
  ASSERT_TRUE(answer);
  EXPECT_EQ(std::string(answer->begin(), answer->end()), "right");
  EXPECT_TRUE(WaitFor([&] { return link_->dropped_answers() == 2; }, {lock.get()}));
}

TEST_F(LockLinkTest, AnotherLockCannotAnswerForTheLockAsked) {
  StartLink();
  auto lock = LockOnline(*lock_);
  ASSERT_TRUE(WaitFor([&] { return link_->Online(lock_->username); }, {lock.get()}));
  auto stranger = LockOnline(*stranger_);
  std::optional<Bytes> answer;
  std::atomic<bool> done{false};
  std::thread caller([&] {
    answer = link_->Exchange(lock_->username, Bytes{0x04}, 2000);
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return DownCount() == 1; }, {lock.get()}));
  const Bytes correlation = down_[0].correlation;
  // The stranger learned the correlation data somehow: its own up topic
  // still names it, so the answer is not taken.
  EXPECT_LT(PublishAndWait(*stranger, LockTopic(stranger_->username, Channel::kUp), "forged", false, correlation),
            0x80);
  ASSERT_TRUE(WaitFor([&] { return done.load(); }, {lock.get(), stranger.get()}));
  caller.join();
  EXPECT_FALSE(answer);
  EXPECT_GE(link_->dropped_answers(), 1u);
}

TEST_F(LockLinkTest, AnOfflineLockGetsNothingAndASilentOneTimesOut) {
  StartLink();
  // Never online: nothing is sent.
  EXPECT_FALSE(link_->Exchange(lock_->username, Bytes{0x04}, kBoundMs));
  auto lock = LockOnline(*lock_);
  ASSERT_TRUE(WaitFor([&] { return link_->Online(lock_->username); }, {lock.get()}));
  EXPECT_EQ(DownCount(), 0u);
  // Online but silent: nullopt after the timeout; the late answer is dropped.
  std::atomic<bool> done{false};
  std::optional<Bytes> answer;
  std::thread caller([&] {
    answer = link_->Exchange(lock_->username, Bytes{0x04}, 300);
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return done.load(); }, {lock.get()}));
  caller.join();
  EXPECT_FALSE(answer);
  ASSERT_EQ(DownCount(), 1u);
  EXPECT_LT(PublishAndWait(*lock, LockTopic(lock_->username, Channel::kUp), "late", false, down_[0].correlation),
            0x80);
  EXPECT_TRUE(WaitFor([&] { return link_->dropped_answers() == 1; }, {lock.get()}));
  // The lock's will: offline again.
  shutdown(lock->fd(), SHUT_RDWR);
  EXPECT_TRUE(WaitFor([&] { return !link_->Online(lock_->username); }, {}));
}

TEST_F(LockLinkTest, LocksThatAreNotRegisteredDoorsAreIgnoredAndCounted) {
  StartLink();
  auto stranger = LockOnline(*stranger_);
  EXPECT_LT(PublishAndWait(*stranger, LockTopic(stranger_->username, Channel::kState), "{\"bolt\":\"x\"}", true), 0x80);
  auto lock = LockOnline(*lock_);
  EXPECT_LT(PublishAndWait(*lock, LockTopic(lock_->username, Channel::kState), "{\"bolt\":\"locked\"}", true), 0x80);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard l(mu_);
        return !states_.empty();
      },
      {lock.get(), stranger.get()}));
  EXPECT_TRUE(WaitFor([&] { return link_->ignored_messages() >= 2; }, {}));
  std::lock_guard l(mu_);
  ASSERT_EQ(states_.size(), 1u);
  EXPECT_EQ(states_[0].first, lock_->username);
  EXPECT_EQ(states_[0].second, "{\"bolt\":\"locked\"}");
  // Its retained `online` is kept all the same: registered while connected,
  // the door is online at once, not at the lock's next reconnection.
  EXPECT_TRUE(link_->Online(stranger_->username));
}

// A handler that throws (a database error on the link thread) costs that
// message only: counted, dropped, and the link goes on.
TEST_F(LockLinkTest, AHandlerThatThrowsDropsItsMessageAndTheLinkSurvives) {
  StartLink();
  auto lock = LockOnline(*lock_);
  EXPECT_LT(PublishAndWait(*lock, LockTopic(lock_->username, Channel::kState), "throw", false), 0x80);
  ASSERT_TRUE(WaitFor([&] { return link_->failed_messages() == 1; }, {lock.get()}));
  EXPECT_LT(PublishAndWait(*lock, LockTopic(lock_->username, Channel::kState), "{\"bolt\":\"locked\"}", false),
            0x80);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard l(mu_);
        return !states_.empty();
      },
      {lock.get()}));
  EXPECT_TRUE(link_->connected());
  EXPECT_TRUE(link_->Online(lock_->username));
}

TEST_F(LockLinkTest, TheLinkComesBackAfterTheBrokerRestarts) {
  StartLink();
  EXPECT_EQ(link_->connections(), 1u);
  std::string why;
  ASSERT_TRUE(broker_->Restart(why)) << why;
  ASSERT_TRUE(WaitFor([&] { return link_->connections() == 2 && link_->connected(); }, {})) << broker_->log();
  auto lock = LockOnline(*lock_);
  ASSERT_TRUE(WaitFor([&] { return link_->Online(lock_->username); }, {lock.get()}));
  std::atomic<bool> done{false};
  std::optional<Bytes> answer;
  std::thread caller([&] {
    answer = link_->Exchange(lock_->username, Bytes{0x04}, kBoundMs);
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return DownCount() == 1; }, {lock.get()}));
  EXPECT_LT(PublishAndWait(*lock, LockTopic(lock_->username, Channel::kUp), "ok", false, down_[0].correlation), 0x80);
  ASSERT_TRUE(WaitFor([&] { return done.load(); }, {lock.get()}));
  caller.join();
  ASSERT_TRUE(answer);
}

}  // namespace
}  // namespace mortise::server
