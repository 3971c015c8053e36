// End-to-end remote commands (remote.h) and the A09 hostile relay: a
// harness that holds everything a management server holds — every envelope
// it ever relayed, every certificate and access list, the lock's public key,
// its own signing keys — tries to make the lock act.
#include "mortise/protocol/remote.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pb_decode.h>
#include <pb_encode.h>

#include "mortise.pb.h"
#include "mortise/core/attributes.h"
#include "mortise/protocol/access_list.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::Chain;
using testing::Fields;
using testing::Issue;
using testing::kNoon;

CommandRequest Cmd(Command c, int64_t value = 0) {
  CommandRequest r;
  r.command = c;
  r.value = value;
  return r;
}

class RemoteTest : public ::testing::Test {
 protected:
  RemoteTest()
      : lock_rng_(11), owner_rng_(12), relay_rng_(13), owner_(testing::NewKey(owner_rng_.drbg)),
        guest_(testing::NewKey(owner_rng_.drbg)), relay_key_(testing::NewKey(relay_rng_.drbg)) {
    Boot();
    uint8_t pin[kOfflinePinSecretSize] = {};
    EXPECT_TRUE(authority_->InstallOwner(owner_.public_key(), pin).ok());
    EXPECT_TRUE(sim_->lock().SetUtcTime(kNoon, false).ok());
    server_->Start(sim_->clock().now_ms());
    // Envelopes whose lifetime began before the boot are refused; the tests
    // start a little later.
    sim_->Run(31000);
    lock_id_ = authority_->identity().lock_id();
    lock_key_ = authority_->identity().public_key();
    guest_chain_ = Chain(Issue(Fields(lock_id_, guest_, Role::kGuest, kPermLock | kPermUnlock, 41), owner_,
                               owner_rng_.drbg));
  }

  void Boot() {
    server_.reset();
    authority_.reset();
    sim_.reset();
    sim_ = std::make_unique<sim::SimLock>(&store_);
    EXPECT_TRUE(sim_->Start().ok());
    authority_ = std::make_unique<LockAuthority>(store_, lock_rng_.drbg);
    EXPECT_TRUE(authority_->Start().ok());
    server_ = std::make_unique<RemoteServer>(*authority_, sim_->lock(), store_);
    server_->Start(sim_->clock().now_ms());
  }

  int64_t Now() const { return *sim_->lock().utc_now(); }

  Bytes Build(RemoteClient& client, const CommandRequest& request, uint32_t counter, int64_t expires) {
    Bytes out(kMaxRemoteMessageSize);
    Result<size_t> n = client.Build(request, counter, expires, out);
    EXPECT_TRUE(n.ok()) << n.status().name();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  Bytes ToLock(std::span<const uint8_t> envelope) {
    Bytes reply(kMaxRemoteMessageSize);
    Result<size_t> n = server_->Handle(envelope, sim_->clock().now_ms(), reply);
    EXPECT_TRUE(n.ok());
    reply.resize(n.ok() ? *n : 0);
    return reply;
  }
  // Sends through the lock and verifies the answer as the holder would.
  RemoteOutcome Send(RemoteClient& client, const CommandRequest& request, uint32_t counter, int64_t expires) {
    const Bytes env = Build(client, request, counter, expires);
    relayed_.push_back(env);
    Result<RemoteOutcome> r = client.Verify(ToLock(env));
    EXPECT_TRUE(r.ok()) << r.status().name();
    return r.ok() ? *r : RemoteOutcome{StatusCode::kInternal, {}, 0};
  }

  RemoteClient Owner() { return RemoteClient(owner_, {}, *lock_key_, owner_rng_.drbg); }
  RemoteClient Guest() { return RemoteClient(guest_, guest_chain_, *lock_key_, owner_rng_.drbg); }

  // An answer as a relay would write it: about `command_hash`, with
  // `envelope_status` (and a response when `has_response`), signed by
  // `signer` when given, else unsigned.
  Bytes RelayAnswer(std::span<const uint8_t> command_hash, StatusCode envelope_status, bool has_response,
                    const crypto::P256KeyPair* signer = nullptr) {
    mortise_RemoteResultTbs tbs = mortise_RemoteResultTbs_init_zero;
    tbs.lock_id.size = kLockIdSize;
    std::memcpy(tbs.lock_id.bytes, lock_id_.data(), kLockIdSize);
    tbs.command_hash.size = 32;
    std::memcpy(tbs.command_hash.bytes, command_hash.data(), 32);
    tbs.envelope_status = static_cast<uint32_t>(envelope_status);
    tbs.has_response = has_response;
    mortise_RemoteResult fake = mortise_RemoteResult_init_zero;
    pb_ostream_t t = pb_ostream_from_buffer(fake.tbs.bytes, sizeof(fake.tbs.bytes));
    EXPECT_TRUE(pb_encode(&t, mortise_RemoteResultTbs_fields, &tbs));
    fake.tbs.size = static_cast<pb_size_t>(t.bytes_written);
    if (signer != nullptr) {
      crypto::P256Signature sig{};
      EXPECT_TRUE(signer->Sign(std::span<const uint8_t>(fake.tbs.bytes, fake.tbs.size), sig, relay_rng_.drbg).ok());
      fake.signature.size = 64;
      std::memcpy(fake.signature.bytes, sig.data(), 64);
    }
    Bytes out(kMaxRemoteMessageSize);
    pb_ostream_t o = pb_ostream_from_buffer(out.data(), out.size());
    EXPECT_TRUE(pb_encode(&o, mortise_RemoteResult_fields, &fake));
    out.resize(o.bytes_written);
    return out;
  }

  // Whether the lock signed its answer.
  static bool Signed(const Bytes& reply) {
    mortise_RemoteResult r = mortise_RemoteResult_init_zero;
    pb_istream_t in = pb_istream_from_buffer(reply.data(), reply.size());
    EXPECT_TRUE(pb_decode(&in, mortise_RemoteResult_fields, &r));
    return r.signature.size != 0;
  }

  bool Opened() {
    sim_->Run(5000);
    return sim_->lock().lock_state() == core::LockState::kUnlocked;
  }

  testing::SeededDrbg lock_rng_, owner_rng_, relay_rng_;
  crypto::P256KeyPair owner_, guest_, relay_key_;
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<LockAuthority> authority_;
  std::unique_ptr<RemoteServer> server_;
  LockId lock_id_{};
  std::optional<crypto::P256PublicKey> lock_key_;
  Bytes guest_chain_;
  std::vector<Bytes> relayed_;  // what the relay keeps
};

TEST_F(RemoteTest, SignedEnvelopeUnlocksAndTheAnswerIsSignedByTheLock) {
  RemoteClient guest = Guest();
  const RemoteOutcome r = Send(guest, Cmd(Command::kUnlock), 1, Now() + 20);
  EXPECT_EQ(r.envelope, StatusCode::kOk);
  EXPECT_EQ(r.response.status, StatusCode::kOk);
  EXPECT_EQ(r.lock_time, Now());
  EXPECT_TRUE(Opened());
  // The log names the key that asked: the index the lock's key table gave
  // (owner key id, the guest certificate's serial).
  Result<uint16_t> index = authority_->KeyIndexOf(testing::By(owner_, 41));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 1);
  EXPECT_EQ(*authority_->KeyAt(*index), testing::By(owner_, 41));
  bool found = false;
  for (const core::LockEvent& e : sim_->events().events) {
    if (e.kind == core::EventKind::kLockOperation && e.operation == core::LockOperationType::kUnlock) {
      found = true;
      EXPECT_EQ(e.source, core::OperationSource::kRemote);
      EXPECT_TRUE(e.has_credential);
      EXPECT_EQ(e.credential, (core::CredentialRef{core::CredentialType::kAliroEvictableEndpointKey, *index}));
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(RemoteTest, A09_RelayCannotReplayAnEnvelope) {
  RemoteClient owner = Owner();
  ASSERT_EQ(Send(owner, Cmd(Command::kUnlock), 1, Now() + 30).envelope, StatusCode::kOk);
  ASSERT_TRUE(Opened());
  ASSERT_EQ(Send(owner, Cmd(Command::kLock), 2, Now() + 30).envelope, StatusCode::kOk);
  sim_->Run(5000);
  // The relay sends the recorded unlock again, within its lifetime.
  ToLock(relayed_[0]);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(Opened());
}

TEST_F(RemoteTest, A09_RelayCannotReplayAfterExpiryOrAcrossAReboot) {
  RemoteClient owner = Owner();
  ASSERT_EQ(Send(owner, Cmd(Command::kLock), 1, Now() + 30).envelope, StatusCode::kOk);
  const Bytes kept = Build(owner, Cmd(Command::kUnlock), 2, Now() + 30);  // withheld by the relay
  // After expiry.
  sim_->Run(31000);
  ToLock(kept);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kOutOfRange);
  // A fresh envelope, held across a reboot that wipes the RAM replay cache:
  // refused because it could have been accepted before the reboot.
  const Bytes before = Build(owner, Cmd(Command::kUnlock), 3, Now() + 30);
  const int64_t t = Now();
  Boot();
  ASSERT_TRUE(sim_->lock().SetUtcTime(t + 2, false).ok());  // time restored after the boot
  ToLock(before);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(Opened());
}

TEST_F(RemoteTest, A03_ReplayAfterTheClockIsSetBackIsRefused) {
  RemoteClient owner = Owner();
  const int64_t t = Now();
  const Bytes kept = Build(owner, Cmd(Command::kUnlock), 1, t + 30);
  ASSERT_TRUE(owner.Verify(ToLock(kept)).ok());
  ASSERT_TRUE(server_->last_status().ok());
  sim_->Run(5000);
  ASSERT_EQ(Send(owner, Cmd(Command::kLock), 2, Now() + 30).envelope, StatusCode::kOk);
  sim_->Run(40000);  // the unlock has expired and left the replay cache
  ASSERT_EQ(Send(owner, Cmd(Command::kLock), 3, Now() + 20).envelope, StatusCode::kOk);
  sim_->Run(5000);
  // The owner corrects the clock back; the kept envelope is "fresh" again
  // on the lock's clock, but expires before what the lock already accepted.
  ASSERT_TRUE(sim_->lock().SetUtcTime(t + 5, /*allow_backwards=*/true).ok());
  ToLock(kept);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(Opened());
  // The same across a restart with the time set lower than before it, the
  // lock having run longer than an envelope's life before its time was set:
  // the boot-start floor then lies before the kept envelope's expiry, so
  // only the durable high-water read at boot refuses it.
  Boot();
  sim_->Run(2 * kMaxRemoteLifetimeS * 1000);
  ASSERT_TRUE(sim_->lock().SetUtcTime(t + 5, true).ok());
  ASSERT_LT(Now(), t + 30);  // "fresh" on the lock's clock
  ToLock(kept);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(Opened());
  // Fresh envelopes work again once the clock passes what was accepted.
  sim_->Run(60000);
  EXPECT_EQ(Send(owner, Cmd(Command::kUnlock), 4, Now() + 30).envelope, StatusCode::kOk);
}

TEST_F(RemoteTest, A09_RelayCannotGetASignedRefusalOfAGenuineCommand) {
  RemoteClient owner = Owner();
  const Bytes env = Build(owner, Cmd(Command::kUnlock), 1, Now() + 20);
  // The relay mangles the signature to get a lock-signed refusal, then
  // delivers the real envelope.
  Bytes mangled = env;
  mangled[mangled.size() - 1] ^= 1;
  const Bytes refusal = ToLock(mangled);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kUnauthenticated);
  // The lock signs nothing before the holder's signature verifies: the
  // holder sees the refusal as unconfirmed, not as the lock's word.
  EXPECT_FALSE(Signed(refusal));
  Result<RemoteOutcome> unconfirmed = owner.Verify(refusal);
  ASSERT_TRUE(unconfirmed.ok());
  EXPECT_FALSE(unconfirmed->confirmed);
  EXPECT_EQ(unconfirmed->envelope, StatusCode::kUnauthenticated);
  // An unconfirmed answer leaves the envelope pending: its signed answer
  // still verifies.
  Result<RemoteOutcome> real = owner.Verify(ToLock(env));
  ASSERT_TRUE(real.ok());
  EXPECT_TRUE(real->confirmed);
  EXPECT_EQ(real->envelope, StatusCode::kOk);
  EXPECT_TRUE(Opened());
}

TEST_F(RemoteTest, A09_UnauthenticatedInputCostsNoPublicKeyWork) {
  RemoteClient owner = Owner();
  ASSERT_EQ(Send(owner, Cmd(Command::kLock), 1, Now() + 30).envelope, StatusCode::kOk);
  const Bytes kept = Build(owner, Cmd(Command::kUnlock), 2, Now() + 5);  // withheld until it expires
  testing::SeededDrbg other_rng(99);
  const crypto::P256KeyPair other_lock = testing::NewKey(other_rng.drbg);
  RemoteClient misdirected(owner_, {}, other_lock.public_key(), owner_rng_.drbg);
  const Bytes elsewhere = Build(misdirected, Cmd(Command::kUnlock), 3, Now() + 10);
  Bytes garbage(300, 0xA5);
  sim_->Run(6000);
  const Bytes too_long = Build(owner, Cmd(Command::kUnlock), 4, Now() + 31);

  const std::vector<std::pair<std::string, Bytes>> cheap = {
      {"undecodable", garbage},        {"empty", Bytes{}},
      {"truncated", Bytes(relayed_[0].begin(), relayed_[0].end() - 10)},
      {"another lock's", elsewhere},   {"expired", kept},
      {"lifetime too long", too_long}, {"replayed", relayed_[0]},
  };
  for (const auto& [name, bytes] : cheap) {
    const crypto::P256Operations before = crypto::P256OperationCount();
    const Bytes reply = ToLock(bytes);
    const crypto::P256Operations after = crypto::P256OperationCount();
    EXPECT_FALSE(server_->last_status().ok()) << name;
    EXPECT_EQ(after.signatures, before.signatures) << name;
    EXPECT_EQ(after.verifications, before.verifications) << name;
    EXPECT_EQ(after.key_agreements, before.key_agreements) << name;
    EXPECT_FALSE(Signed(reply)) << name;
  }
  // A bad holder signature costs exactly that one verification, and is
  // still answered unsigned.
  Bytes forged = Build(owner, Cmd(Command::kUnlock), 5, Now() + 10);
  forged[forged.size() - 1] ^= 1;
  const crypto::P256Operations before = crypto::P256OperationCount();
  const Bytes reply = ToLock(forged);
  const crypto::P256Operations after = crypto::P256OperationCount();
  EXPECT_EQ(server_->last_status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(after.verifications - before.verifications, 1u);
  EXPECT_EQ(after.signatures, before.signatures);
  EXPECT_FALSE(Signed(reply));
  EXPECT_FALSE(Opened());
}

TEST_F(RemoteTest, A18_AFloodOfForgedEnvelopesMakesTheLockSignNothing) {
  // Anyone in reach of a relay may send frames as fast as it likes: the
  // lock's answers cost it no signature until a holder's signature and chain
  // verify (a self-made key pair: A18_ASelfSignedStrangersEnvelopes...).
  RemoteClient owner = Owner();
  const Bytes genuine = Build(owner, Cmd(Command::kUnlock), 1, Now() + 30);
  const crypto::P256Operations before = crypto::P256OperationCount();
  for (size_t i = 0; i < 200; ++i) {
    Bytes forged = genuine;
    forged[forged.size() - 1 - (i % 64)] ^= static_cast<uint8_t>(1 + i / 64);
    ToLock(forged);
    ASSERT_EQ(server_->last_status().code(), StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(crypto::P256OperationCount().signatures, before.signatures);
  // The genuine envelope still goes through (the forgeries recorded nothing).
  Result<RemoteOutcome> r = owner.Verify(ToLock(genuine));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->confirmed);
  EXPECT_EQ(r->envelope, StatusCode::kOk);
}

TEST_F(RemoteTest, A18_ASelfSignedStrangersEnvelopesMakeTheLockSignNothing) {
  // A stranger's own key pair signs envelopes that verify: without a chain
  // to this lock's owner (none, or one it issued itself) the lock answers
  // unsigned, so a flood of fresh envelopes costs it no signature.
  testing::SeededDrbg stranger_rng(77);
  const crypto::P256KeyPair stranger = testing::NewKey(stranger_rng.drbg);
  CertificateFields f = testing::Fields(lock_id_, stranger, Role::kGuest, kPermLock | kPermUnlock, 9);
  const Bytes self_made = testing::Chain(testing::Issue(f, stranger, stranger_rng.drbg));
  RemoteClient bare(stranger, {}, *lock_key_, stranger_rng.drbg);
  RemoteClient chained(stranger, self_made, *lock_key_, stranger_rng.drbg);
  std::vector<Bytes> flood;  // signed by the stranger before the count starts
  for (uint32_t i = 1; i <= 20; ++i) {
    flood.push_back(Build(bare, Cmd(Command::kUnlock), i, Now() + 20));
    flood.push_back(Build(chained, Cmd(Command::kUnlock), 100 + i, Now() + 20));
  }
  const crypto::P256Operations before = crypto::P256OperationCount();
  for (size_t i = 0; i < flood.size(); ++i) {
    const Bytes reply = ToLock(flood[i]);
    EXPECT_FALSE(server_->last_status().ok());
    EXPECT_FALSE(Signed(reply));
  }
  EXPECT_EQ(crypto::P256OperationCount().signatures, before.signatures);
  EXPECT_FALSE(Opened());
}

TEST_F(RemoteTest, A09_AnUnsignedAnswerIsNeverASuccess) {
  // A relay swallows the envelope and writes an unsigned "done" bound to it.
  RemoteClient owner = Owner();
  const Bytes env = Build(owner, Cmd(Command::kUnlock), 1, Now() + 10);
  mortise_RemoteCommand cmd = mortise_RemoteCommand_init_zero;
  pb_istream_t in = pb_istream_from_buffer(env.data(), env.size());
  ASSERT_TRUE(pb_decode(&in, mortise_RemoteCommand_fields, &cmd));
  const crypto::Digest h = crypto::Sha256::Hash(std::span<const uint8_t>(cmd.tbs.bytes, cmd.tbs.size));
  EXPECT_EQ(owner.Verify(RelayAnswer(h, StatusCode::kOk, true)).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(owner.Verify(RelayAnswer(h, StatusCode::kPermissionDenied, true)).status().code(),
            StatusCode::kUnauthenticated);
  Result<RemoteOutcome> refusal = owner.Verify(RelayAnswer(h, StatusCode::kPermissionDenied, false));
  ASSERT_TRUE(refusal.ok());
  EXPECT_FALSE(refusal->confirmed);
}

TEST_F(RemoteTest, A09_RelayCannotExtendChangeOrRetargetAnEnvelope) {
  RemoteClient owner = Owner();
  // Extend: an expiry beyond 30 s is refused even with a valid signature...
  Build(owner, Cmd(Command::kUnlock), 1, Now() + 31);
  ToLock(Build(owner, Cmd(Command::kUnlock), 1, Now() + 31));
  EXPECT_EQ(server_->last_status().code(), StatusCode::kOutOfRange);
  // ...and any edit of the signed bytes (expiry, command, lock id) breaks
  // the signature or the encoding.
  const Bytes env = Build(owner, Cmd(Command::kLock), 2, Now() + 10);
  size_t refused = 0;
  for (size_t i = 0; i < env.size(); ++i) {
    Bytes edited = env;
    edited[i] ^= 0x01;
    ToLock(edited);
    if (!server_->last_status().ok()) ++refused;
  }
  EXPECT_EQ(refused, env.size());
  // Retarget: an envelope for another lock.
  testing::SeededDrbg other_rng(99);
  const crypto::P256KeyPair other_lock = testing::NewKey(other_rng.drbg);
  RemoteClient misdirected(owner_, {}, other_lock.public_key(), owner_rng_.drbg);
  ToLock(Build(misdirected, Cmd(Command::kUnlock), 3, Now() + 10));
  EXPECT_EQ(server_->last_status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(Opened());
}

TEST_F(RemoteTest, A09_HostileRelayWithEveryServerSecretCannotProduceAnAcceptedCommand) {
  // What a compromised server holds: the lock's public key and id, the
  // guest's certificate chain, signed access lists, every envelope relayed,
  // and keys of its own (it may even claim to be an admin).
  RemoteClient guest = Guest();
  ASSERT_EQ(Send(guest, Cmd(Command::kLock), 1, Now() + 30).envelope, StatusCode::kOk);
  sim_->Run(5000);
  Bytes update(kMaxAccessListUpdateSize);
  AccessListState state = testing::ListAt(1);
  Result<size_t> un = SignAccessList(state, lock_id_, owner_, owner_rng_.drbg, update);
  ASSERT_TRUE(un.ok());
  update.resize(*un);

  std::vector<std::pair<std::string, Bytes>> attempts;
  // 1. Its own key, no certificate (pretending to be the owner).
  {
    RemoteClient c(relay_key_, {}, *lock_key_, relay_rng_.drbg);
    attempts.emplace_back("own key as owner", Build(c, Cmd(Command::kUnlock), 1, Now() + 10));
  }
  // 2. Its own key with the guest's chain (the chain names another holder).
  {
    RemoteClient c(relay_key_, guest_chain_, *lock_key_, relay_rng_.drbg);
    attempts.emplace_back("guest chain, relay key", Build(c, Cmd(Command::kUnlock), 2, Now() + 10));
  }
  // 3. A certificate it issued itself, for itself, as "owner" or admin.
  {
    const Bytes self = Chain(Issue(Fields(lock_id_, relay_key_, Role::kAdmin, kPermUnlock | kPermDelegate, 7),
                                   relay_key_, relay_rng_.drbg));
    RemoteClient c(relay_key_, self, *lock_key_, relay_rng_.drbg);
    attempts.emplace_back("self-issued admin", Build(c, Cmd(Command::kUnlock), 3, Now() + 10));
  }
  // 4. The guest's recorded lock envelope, replayed and spliced: its tbs
  //    with the command changed, re-signed by the relay.
  {
    mortise_RemoteCommand cmd = mortise_RemoteCommand_init_zero;
    pb_istream_t in = pb_istream_from_buffer(relayed_[0].data(), relayed_[0].size());
    ASSERT_TRUE(pb_decode(&in, mortise_RemoteCommand_fields, &cmd));
    mortise_RemoteCommandTbs tbs = mortise_RemoteCommandTbs_init_zero;
    pb_istream_t tin = pb_istream_from_buffer(cmd.tbs.bytes, cmd.tbs.size);
    ASSERT_TRUE(pb_decode(&tin, mortise_RemoteCommandTbs_fields, &tbs));
    tbs.request.command = static_cast<uint32_t>(Command::kUnlock);
    tbs.counter += 1;
    pb_ostream_t tout = pb_ostream_from_buffer(cmd.tbs.bytes, sizeof(cmd.tbs.bytes));
    ASSERT_TRUE(pb_encode(&tout, mortise_RemoteCommandTbs_fields, &tbs));
    cmd.tbs.size = static_cast<pb_size_t>(tout.bytes_written);
    Bytes out(kMaxRemoteMessageSize);
    pb_ostream_t o = pb_ostream_from_buffer(out.data(), out.size());
    ASSERT_TRUE(pb_encode(&o, mortise_RemoteCommand_fields, &cmd));
    out.resize(o.bytes_written);
    attempts.emplace_back("spliced guest envelope", out);
    attempts.emplace_back("replayed guest envelope", relayed_[0]);
  }
  // 5. The owner's signed access list, sent as if it were a command.
  attempts.emplace_back("access list as envelope", update);

  for (const auto& [name, bytes] : attempts) {
    Bytes reply = ToLock(bytes);
    EXPECT_FALSE(server_->last_status().ok()) << name;
    // The relay cannot even make the holder believe it worked: the answer
    // is a refusal bound to the bytes sent (signed when the relay's own key
    // signed them, unsigned before that).
    RemoteClient check = Guest();
    Build(check, Cmd(Command::kUnlock), 100, Now() + 10);
    EXPECT_EQ(check.Verify(reply).status().code(), StatusCode::kUnauthenticated) << name;
  }
  EXPECT_FALSE(Opened());
}

TEST_F(RemoteTest, A09_ForgedOrMisboundAnswersAreRefusedByTheHolder) {
  RemoteClient owner = Owner();
  const Bytes env = Build(owner, Cmd(Command::kUnlock), 1, Now() + 10);
  // The relay swallows the envelope and answers "done" itself, signing with
  // its own key: the holder's pinned lock key refuses it.
  const crypto::Digest h = crypto::Sha256::Hash(env);  // any binding it can guess
  EXPECT_EQ(owner.Verify(RelayAnswer(h, StatusCode::kOk, true, &relay_key_)).status().code(),
            StatusCode::kUnauthenticated);

  // A genuine lock answer to an earlier command, replayed to the holder.
  RemoteClient owner2 = Owner();
  const Bytes first = Build(owner2, Cmd(Command::kLock), 2, Now() + 10);
  const Bytes answer = ToLock(first);
  ASSERT_TRUE(owner2.Verify(answer).ok());
  Build(owner2, Cmd(Command::kUnlock), 3, Now() + 10);
  EXPECT_EQ(owner2.Verify(answer).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(RemoteTest, NoRemoteModeAndRemoteRulesApplyToEnvelopes) {
  ASSERT_TRUE(sim_->lock()
                  .WriteAttribute(core::AttributeId::kOperatingMode,
                                  static_cast<int64_t>(core::OperatingMode::kNoRemoteLockUnlock))
                  .ok());
  RemoteClient owner = Owner();
  const RemoteOutcome r = Send(owner, Cmd(Command::kUnlock), 1, Now() + 10);
  EXPECT_EQ(r.envelope, StatusCode::kOk);            // the envelope was genuine...
  EXPECT_EQ(r.response.status, StatusCode::kAborted);  // ...and the lock said no
  // ...and said why, in the signed answer: the mode forbids it.
  ASSERT_EQ(r.response.payload_len, 1u);
  EXPECT_EQ(r.response.payload[0], static_cast<uint8_t>(core::EventDetail::kModeRestricted));
  EXPECT_FALSE(Opened());
}

TEST_F(RemoteTest, RequirePinForRemoteOperationWithThePinSealedToTheLock) {
  // A user with a PIN, and the setting on.
  core::SetUserRequest u;
  u.operation = core::DataOperationType::kAdd;
  u.user_index = 1;
  ASSERT_EQ(sim_->lock().users().SetUser(u, core::Actor{}), core::DlStatus::kSuccess);
  core::SetCredentialRequest c;
  c.operation = core::DataOperationType::kAdd;
  c.credential = {core::CredentialType::kPin, 1};
  const uint8_t pin[] = {'4', '8', '1', '5', '1', '6'};
  c.credential_data = pin;
  c.user_index = 1;
  ASSERT_EQ(sim_->lock().users().SetCredential(c, core::Actor{}).status, core::DlStatus::kSuccess);
  ASSERT_TRUE(sim_->lock().WriteAttribute(core::AttributeId::kRequirePINforRemoteOperation, 1).ok());

  RemoteClient owner = Owner();
  EXPECT_EQ(Send(owner, Cmd(Command::kUnlock), 1, Now() + 10).response.status, StatusCode::kAborted);
  EXPECT_FALSE(Opened());
  CommandRequest with_pin = Cmd(Command::kUnlock);
  with_pin.pin = pin;
  const Bytes env = Build(owner, with_pin, 2, Now() + 10);
  // The relay never sees the PIN in the envelope.
  EXPECT_EQ(std::search(env.begin(), env.end(), std::begin(pin), std::end(pin)), env.end());
  Result<RemoteOutcome> r = owner.Verify(ToLock(env));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->response.status, StatusCode::kOk);
  EXPECT_TRUE(Opened());
}

TEST_F(RemoteTest, RemoteCommandsFailClosedWhileTheLockTimeIsUnknown) {
  store_ = sim::MemoryStore();
  Boot();
  uint8_t pin[kOfflinePinSecretSize] = {};
  ASSERT_TRUE(authority_->InstallOwner(owner_.public_key(), pin).ok());
  RemoteClient owner(owner_, {}, authority_->identity().public_key(), owner_rng_.drbg);
  ToLock(Build(owner, Cmd(Command::kUnlock), 1, kNoon + 10));
  EXPECT_EQ(server_->last_status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(RemoteTest, A12_GuestEnvelopeCannotManageOrSetTime) {
  RemoteClient guest = Guest();
  EXPECT_EQ(Send(guest, Cmd(Command::kSetTime, Now() + 100), 1, Now() + 10).response.status,
            StatusCode::kPermissionDenied);
  EXPECT_EQ(Send(guest, Cmd(Command::kWriteAttribute, 5), 2, Now() + 10).response.status,
            StatusCode::kPermissionDenied);
}

TEST_F(RemoteTest, A01_RevokedGuestEnvelopeIsRefused) {
  AccessListState state = testing::ListAt(1);
  state.revoked_count = 1;
  state.revoked[0] = testing::By(owner_, 41);
  Bytes update(kMaxAccessListUpdateSize);
  Result<size_t> n = SignAccessList(state, lock_id_, owner_, owner_rng_.drbg, update);
  ASSERT_TRUE(n.ok());
  update.resize(*n);
  ASSERT_TRUE(authority_->ApplyAccessList(update).ok());
  RemoteClient guest = Guest();
  Send(guest, Cmd(Command::kUnlock), 1, Now() + 10);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(Opened());
}

TEST_F(RemoteTest, ReplayCacheFullFailsClosedUntilEnvelopesExpire) {
  RemoteClient owner = Owner();
  for (uint32_t i = 1; i <= kRemoteReplaySlots; ++i) {
    ASSERT_EQ(Send(owner, Cmd(Command::kLock), i, Now() + 30).envelope, StatusCode::kOk);
  }
  ToLock(Build(owner, Cmd(Command::kLock), 100, Now() + 30));
  EXPECT_EQ(server_->last_status().code(), StatusCode::kResourceExhausted);
  sim_->Run(31000);
  ToLock(Build(owner, Cmd(Command::kLock), 101, Now() + 30));
  EXPECT_TRUE(server_->last_status().ok());
}

}  // namespace
}  // namespace mortise::protocol
