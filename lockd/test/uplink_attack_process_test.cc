// A10 through the real daemon: what comes down the lock's topic is only a
// carrier. The lock answers what is not signed for it with an unsigned
// refusal (which no one can mistake for its word) and acts on nothing;
// frames the uplink does not relay (claims, sessions, anything without
// correlation data) get no answer at all.
#include <nlohmann/json.hpp>

#include "mortise/protocol/certificate.h"
#include "mortise/protocol/time_statement.h"
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

// A04 through the real daemon: a time statement comes down the uplink like
// any frame. Signed by the owner's time key it corrects the clock by a few
// seconds; a stranger's is refused, a jump is refused, and a second
// correction waits for the budget (docs/protocol.md 7.1).
TEST_F(UplinkProcess, A04_ATimeStatementDownTheUplinkCorrectsTheClockByASmallStepOnly) {
  Process p(dir_, Args(), "a04");
  ASSERT_NO_FATAL_FAILURE(StartRegistered(p));
  ASSERT_NO_FATAL_FAILURE(SetLockTime());
  ServerClient server(*broker_, *deployment_);
  ASSERT_TRUE(server.WaitFor([&](const uplink::Message& m) {
    return m.topic == Topic(uplink::Channel::kOnline) && Text(m.payload) == "online";
  })) << p.stderr_text();
  const protocol::LockId lock_id = protocol::LockIdOf(*lock_key_);
  // The owner issues the server its time key: role admin, the right alone.
  const crypto::P256KeyPair time_key = *crypto::P256KeyPair::Generate(rng_.drbg);
  protocol::CertificateFields f;
  f.claim_generation = 1;  // the first claim of a fresh lock
  f.lock_id = lock_id;
  f.holder_key = time_key.public_key().Compressed();
  f.role = protocol::Role::kAdmin;
  f.permissions = protocol::kPermTimeStatement;
  f.serial = 0x7171;
  std::vector<uint8_t> cert(protocol::kMaxCertificateSize), chain(protocol::kMaxChainSize);
  auto c = protocol::IssueCertificate(f, owner_, rng_.drbg, cert);
  ASSERT_TRUE(c.ok());
  cert.resize(*c);
  auto n = protocol::EncodeChain(cert, {}, chain);
  ASSERT_TRUE(n.ok());
  chain.resize(*n);

  int sent = 0;
  auto send = [&](const crypto::P256KeyPair& signer, std::span<const uint8_t> key_chain, int64_t utc) {
    std::vector<uint8_t> frame(protocol::kMaxTimeStatementFrameSize);
    auto len = protocol::EncodeTimeStatement({lock_id, 1, utc}, signer, key_chain, rng_.drbg, frame);
    EXPECT_TRUE(len.ok());
    frame.resize(len.ok() ? *len : 0);
    const std::string tag = "time-" + std::to_string(++sent);
    const std::vector<uint8_t> correlation(tag.begin(), tag.end());
    EXPECT_TRUE(server.Publish(Topic(uplink::Channel::kDown), frame, correlation));
    auto answer = server.WaitFor([&](const uplink::Message& m) {
      return m.topic == Topic(uplink::Channel::kUp) && m.correlation == correlation;
    });
    EXPECT_TRUE(answer) << p.stderr_text();
    auto reply = answer ? protocol::DecodeTimeReply(answer->payload) : Result<protocol::TimeReply>(StatusCode::kNotFound);
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? *reply : protocol::TimeReply{};
  };

  const int64_t start = LockUtc();
  const crypto::P256KeyPair stranger = *crypto::P256KeyPair::Generate(rng_.drbg);
  EXPECT_EQ(send(stranger, {}, start + 5).status, protocol::TimeStatus::kRefused);
  EXPECT_EQ(send(time_key, chain, start + 3600).status, protocol::TimeStatus::kTooFar);
  EXPECT_EQ(LockUtc(), start);
  const protocol::TimeReply corrected = send(time_key, chain, start + 6);
  EXPECT_EQ(corrected.status, protocol::TimeStatus::kCorrected);
  EXPECT_EQ(corrected.lock_utc, start + 6);
  EXPECT_EQ(LockUtc(), start + 6);
  // One correction per 6 h of the lock's running time.
  EXPECT_EQ(send(time_key, chain, start + 12).status, protocol::TimeStatus::kBusy);
  EXPECT_EQ(LockUtc(), start + 6);
  EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
}

}  // namespace
}  // namespace mortise::lockd::test
