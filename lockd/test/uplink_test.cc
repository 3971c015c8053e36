// The uplink's policies without a broker: back-off with jitter on injected
// randomness, and a bounded outgoing queue whose overflow is counted.
#include "uplink.h"

#include <gtest/gtest.h>

namespace mortise::lockd {
namespace {

TEST(lockdBackoff, DoublesUpToTheMaximumWithJitterBetweenHalfAndAllOfTheStep) {
  uint64_t pick = 0;  // 0: the least the jitter allows; ~0: the most
  Backoff b(100, 1000, [&](uint64_t n) { return pick == 0 ? 0 : n - 1; });
  EXPECT_EQ(b.Next(), 50u);
  EXPECT_EQ(b.Next(), 100u);
  EXPECT_EQ(b.Next(), 200u);
  pick = 1;
  EXPECT_EQ(b.Next(), 800u);
  EXPECT_EQ(b.Next(), 1000u);
  EXPECT_EQ(b.Next(), 1000u) << "capped";
  EXPECT_EQ(b.failures(), 6u);
  b.Reset();
  EXPECT_EQ(b.Next(), 100u) << "a success starts over";
}

TEST(lockdBackoff, ManyFailuresNeverOverflow) {
  Backoff b(1000, 60000, [](uint64_t n) { return n - 1; });
  for (int i = 0; i < 200; ++i) EXPECT_LE(b.Next(), 60000u);
}

class UplinkQueue : public ::testing::Test {
 protected:
  UplinkQueue() {
    config_.host = "127.0.0.1";
    config_.port = 1;
    config_.queue_limit = 4;
    UplinkParts parts;
    parts.username = "00112233445566778899aabbccddeeff";
    parts.state = [this] { return nlohmann::json{{"bolt", bolt_}}; };
    parts.handle_frame = [](std::span<const uint8_t>) { return std::vector<uint8_t>{0}; };
    parts.log_next_seq = [] { return uint64_t{1}; };
    parts.now_ms = [this] { return now_; };
    parts.uniform = [](uint64_t) { return uint64_t{0}; };
    // No certificate: it never connects, so everything stays queued.
    uplink_ = std::make_unique<Uplink>(config_, uplink::TlsFiles{"/nonexistent/ca", "/nonexistent/crt", "/nonexistent/key"},
                                       std::move(parts));
  }
  UplinkConfig config_;
  uint64_t now_ = 0;
  std::string bolt_ = "locked";
  std::unique_ptr<Uplink> uplink_;
};

TEST_F(UplinkQueue, AFullQueueDropsTheNewestMessageAndCountsIt) {
  uplink_->Tick();
  EXPECT_TRUE(uplink_->Status()["waitingForCertificate"].get<bool>());
  EXPECT_EQ(uplink_->Status()["queued"], 1) << "the state waits for the connection";
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(uplink_->Enqueue(uplink::Channel::kUp, {1}, {2}));
  EXPECT_FALSE(uplink_->Enqueue(uplink::Channel::kUp, {1}, {3}));
  EXPECT_EQ(uplink_->dropped(), 1u);
  EXPECT_EQ(uplink_->Status()["dropped"], 1);
  EXPECT_EQ(uplink_->Status()["queued"], 4);
}

TEST_F(UplinkQueue, TheStateIsOneMessageHoweverOftenItChanges) {
  for (const char* b : {"unlocking", "unlocked", "locking", "locked", "unlocked"}) {
    bolt_ = b;
    uplink_->Tick();
  }
  EXPECT_EQ(uplink_->Status()["queued"], 1);
  EXPECT_EQ(uplink_->dropped(), 0u);
}

TEST_F(UplinkQueue, AttemptsFollowTheBackoffOnTheInjectedClock) {
  // Defaults: 1,000 ms initial; the jitter here always picks the least (half).
  auto attempts = [&] { return uplink_->Status()["attempts"].get<int>(); };
  uplink_->Tick();
  EXPECT_EQ(attempts(), 1);
  now_ = 499;
  uplink_->Tick();
  EXPECT_EQ(attempts(), 1);
  now_ = 500;
  uplink_->Tick();
  EXPECT_EQ(attempts(), 2);
  now_ = 1499;  // the second failure waits 2,000 / 2
  uplink_->Tick();
  EXPECT_EQ(attempts(), 2);
  now_ = 1500;
  uplink_->Tick();
  EXPECT_EQ(attempts(), 3);
  EXPECT_EQ(uplink_->fd(), -1);
}

}  // namespace
}  // namespace mortise::lockd
