// A10 through the real daemon: what comes down the lock's topic is only a
// carrier. The lock answers what is not signed for it with an unsigned
// refusal (which no one can mistake for its word) and acts on nothing;
// frames the uplink does not relay (claims, sessions, anything without
// correlation data) get no answer at all.
#include <nlohmann/json.hpp>

#include "uplink_process_util.h"

namespace mortise::lockd::test {
namespace {

TEST_F(UplinkProcess, A10_LockdActsOnNothingNotSignedForItOnItsDownTopic) {
  Process p(dir_, Args(), "a10");
  ASSERT_NO_FATAL_FAILURE(StartRegistered(p));
  ASSERT_NO_FATAL_FAILURE(SetLockTime());
  ServerClient server(*broker_, *deployment_);
  ASSERT_TRUE(server.WaitFor([&](const uplink::Message& m) {
    return m.topic == Topic(uplink::Channel::kOnline) && Text(m.payload) == "online";
  })) << p.stderr_text();
  const std::string down = Topic(uplink::Channel::kDown);
  auto answer_to = [&](const std::vector<uint8_t>& correlation) {
    return server.WaitFor([&](const uplink::Message& m) {
      return m.topic == Topic(uplink::Channel::kUp) && m.correlation == correlation;
    });
  };
  // Each forgery: its answer must be no signed word of the lock.
  auto expect_unsigned_refusal = [&](protocol::RemoteClient& sender, const std::vector<uint8_t>& frame,
                                     const char* what) {
    const std::vector<uint8_t> correlation(what, what + std::strlen(what));
    ASSERT_TRUE(server.Publish(down, frame, correlation)) << what;
    auto a = answer_to(correlation);
    ASSERT_TRUE(a) << what << ": no answer; " << p.stderr_text();
    ASSERT_GE(a->payload.size(), 1u);
    if (a->payload.size() == 1) return;  // 0x00: refused outright
    auto outcome = sender.Verify(std::span<const uint8_t>(a->payload).subspan(1));
    EXPECT_TRUE(!outcome.ok() || !outcome->confirmed) << what << ": the lock signed an answer";
  };

  SeededDrbg other(92);
  const crypto::P256KeyPair stranger = *crypto::P256KeyPair::Generate(other.drbg);
  const crypto::P256KeyPair another_lock = *crypto::P256KeyPair::Generate(other.drbg);
  // A key the lock never certified.
  protocol::RemoteClient by_stranger(stranger, {}, *lock_key_, other.drbg);
  expect_unsigned_refusal(by_stranger, Envelope(by_stranger, protocol::Command::kUnlock, 1), "stranger");
  // The owner's genuine envelope, for another lock.
  protocol::RemoteClient for_other(owner_, {}, another_lock.public_key(), rng_.drbg);
  expect_unsigned_refusal(for_other, Envelope(for_other, protocol::Command::kUnlock, 2), "other-lock");
  // The owner's envelope with one bit of its signature flipped.
  protocol::RemoteClient owner(owner_, {}, *lock_key_, rng_.drbg);
  std::vector<uint8_t> flipped = Envelope(owner, protocol::Command::kUnlock, 3);
  flipped.back() ^= 1;
  expect_unsigned_refusal(owner, flipped, "flipped");

  // Frames the uplink does not carry: a claim, a session hello, an
  // envelope without correlation data. No answer; counted.
  const int refused_before = control_->Ask({{"cmd", "status"}})["uplink"]["refusedFrames"].get<int>();
  ASSERT_TRUE(server.Publish(down, {0x01, 0x00}, {'c', 'l'}));
  ASSERT_TRUE(server.Publish(down, {0x02, 0x00}, {'s', 'e'}));
  ASSERT_TRUE(server.Publish(down, Envelope(owner, protocol::Command::kUnlock, 4), {}));
  // A sentinel (an info request) answered after them, in order: any answer
  // to those three would have come first.
  ASSERT_TRUE(server.Publish(down, {0x04}, {'i', 'n'}));
  auto first = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kUp); });
  ASSERT_TRUE(first);
  EXPECT_EQ(first->correlation, (std::vector<uint8_t>{'i', 'n'}));
  EXPECT_EQ(control_->Ask({{"cmd", "status"}})["uplink"]["refusedFrames"].get<int>(), refused_before + 3);

  // Nothing moved.
  control_->Ask({{"cmd", "advance"}, {"ms", 2000}});
  EXPECT_EQ(Bolt(), "locked");
  EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
}

}  // namespace
}  // namespace mortise::lockd::test
