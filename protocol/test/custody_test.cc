// Log custody (custody.h): the upload cursor moves only for an
// acknowledgement signed by a key holding kPermLogCustody, for this lock and
// claim, naming a record the lock holds with its exact chain hash; never
// backwards; forged frames cost a cheap check before any signature work
// (A02: hiding or dropping log records; A12: a narrow key used for more).
#include "mortise/protocol/custody.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "mortise/protocol/node.h"
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

// Records 1..head with made-up chain hashes; records below `oldest` are
// overwritten.
class FakeCustodian final : public LogCustodian {
 public:
  uint64_t cursor() const override { return cursor_; }
  uint64_t head() const override { return head_; }
  Result<CustodyChainHash> ChainAt(uint64_t seq) override {
    if (seq == 0 || seq > head_ || seq < oldest_) return StatusCode::kNotFound;
    return HashOf(seq);
  }
  Status Advance(uint64_t seq) override {
    if (fail_advance_) return StatusCode::kUnavailable;
    ++advances_;
    if (seq > cursor_) cursor_ = seq;
    return Status::Ok();
  }
  static CustodyChainHash HashOf(uint64_t seq) {
    CustodyChainHash h{};
    for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(seq * 31 + i);
    return h;
  }
  uint64_t cursor_ = 0;
  uint64_t head_ = 50;
  uint64_t oldest_ = 1;
  bool fail_advance_ = false;
  int advances_ = 0;
};

class CustodyTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kCustodySerial = 0x1111;
  CustodyTest()
      : lock_rng_(31), owner_rng_(32), owner_(testing::NewKey(owner_rng_.drbg)),
        custodian_key_(testing::NewKey(owner_rng_.drbg)), sim_(&store_), authority_(store_, lock_rng_.drbg),
        server_(authority_, sim_.lock()) {
    EXPECT_TRUE(sim_.Start().ok());
    EXPECT_TRUE(authority_.Start().ok());
    uint8_t pin[kOfflinePinSecretSize] = {1, 2, 3};
    EXPECT_TRUE(authority_.InstallOwner(owner_.public_key(), pin).ok());
    EXPECT_TRUE(sim_.lock().SetUtcTime(kNoon, false).ok());
    lock_id_ = authority_.identity().lock_id();
    custody_chain_ = CustodyChain(custodian_key_, kCustodySerial);
    server_.set_custodian(&log_);
  }

  Bytes CustodyChain(const crypto::P256KeyPair& holder, uint64_t serial, uint32_t permissions = kPermLogCustody) {
    return Chain(Issue(Fields(lock_id_, holder, Role::kAdmin, permissions, serial), owner_, owner_rng_.drbg));
  }

  CustodyAck AckOf(uint64_t seq) {
    CustodyAck a;
    a.lock_id = lock_id_;
    a.generation = authority_.claim_generation();
    a.seq = seq;
    a.chain = FakeCustodian::HashOf(seq);
    return a;
  }

  Bytes Frame(const CustodyAck& ack, const crypto::P256KeyPair& signer, const Bytes& chain) {
    Bytes out(kMaxCustodyAckFrameSize);
    Result<size_t> n = EncodeCustodyAck(ack, signer, chain, owner_rng_.drbg, out);
    EXPECT_TRUE(n.ok()) << n.status().name();
    out.resize(n.ok() ? *n : 0);
    return out;
  }

  CustodyReply Send(const Bytes& frame, uint64_t now_ms = 1000) {
    Bytes out(kMaxCustodyReplyFrameSize);
    out[0] = 0x06;
    Result<size_t> n =
        server_.Handle(std::span<const uint8_t>(frame).subspan(1), now_ms, std::span<uint8_t>(out).subspan(1));
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? 1 + *n : 0);
    Result<CustodyReply> r = DecodeCustodyReply(out);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : CustodyReply{};
  }

  void Revoke(uint64_t serial) {
    AccessListState list = testing::ListAt(1);
    list.revoked[list.revoked_count++] = testing::By(owner_, serial);
    ASSERT_TRUE(authority_.ApplyAccessList(testing::SignedList(list, lock_id_, owner_, owner_rng_.drbg)).ok());
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, custodian_key_;
  sim::MemoryStore store_;
  sim::SimLock sim_;
  LockAuthority authority_;
  CustodyServer server_;
  FakeCustodian log_;
  LockId lock_id_{};
  Bytes custody_chain_;
};

TEST_F(CustodyTest, CustodyKeyAdvancesTheCursorAndTheLockSignsTheReceipt) {
  const CustodyReply r = Send(Frame(AckOf(20), custodian_key_, custody_chain_));
  EXPECT_EQ(r.status, CustodyStatus::kAdvanced);
  EXPECT_EQ(log_.cursor_, 20u);
  ASSERT_TRUE(r.has_counters);
  EXPECT_EQ(r.cursor, 20u);
  EXPECT_EQ(r.head, 50u);
  ASSERT_TRUE(r.has_receipt);
  EXPECT_EQ(r.signed_utc, kNoon);
  EXPECT_EQ(r.cursor_chain, FakeCustodian::HashOf(20));
  EXPECT_TRUE(VerifyCustodyReceipt(r, authority_.identity().public_key(), lock_id_, authority_.claim_generation()).ok());
  // A receipt is bound to its lock and claim.
  EXPECT_EQ(VerifyCustodyReceipt(r, authority_.identity().public_key(), lock_id_, authority_.claim_generation() + 1)
                .code(),
            StatusCode::kUnauthenticated);
}

TEST_F(CustodyTest, TheOwnersOwnKeyAcknowledgesWithoutACertificate) {
  EXPECT_EQ(Send(Frame(AckOf(7), owner_, {})).status, CustodyStatus::kAdvanced);
  EXPECT_EQ(log_.cursor_, 7u);
}

TEST_F(CustodyTest, A02_AckByAKeyWithoutTheCustodyRightIsRefused) {
  // An admin holding every right but custody, and a member.
  const crypto::P256KeyPair admin = testing::NewKey(owner_rng_.drbg);
  const Bytes admin_chain =
      CustodyChain(admin, 0x2222, RoleAllowedPermissions(Role::kAdmin) & ~kPermLogCustody);
  EXPECT_EQ(Send(Frame(AckOf(20), admin, admin_chain)).status, CustodyStatus::kRefused);
  const crypto::P256KeyPair member = testing::NewKey(owner_rng_.drbg);
  const Bytes member_chain = Chain(
      Issue(Fields(lock_id_, member, Role::kMember, RoleAllowedPermissions(Role::kMember), 0x2223), owner_,
            owner_rng_.drbg));
  EXPECT_EQ(Send(Frame(AckOf(20), member, member_chain)).status, CustodyStatus::kRefused);
  // A member certificate claiming custody is inconsistent with its role:
  // not even issued.
  Bytes cert(kMaxCertificateSize);
  EXPECT_EQ(IssueCertificate(Fields(lock_id_, member, Role::kMember, kPermLogCustody, 0x2224), owner_,
                             owner_rng_.drbg, cert)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(log_.cursor_, 0u);
  EXPECT_EQ(log_.advances_, 0);
}

TEST_F(CustodyTest, A02_AckByARevokedCustodyKeyIsRefused) {
  ASSERT_EQ(Send(Frame(AckOf(5), custodian_key_, custody_chain_)).status, CustodyStatus::kAdvanced);
  Revoke(kCustodySerial);
  EXPECT_EQ(Send(Frame(AckOf(20), custodian_key_, custody_chain_), 10'000).status, CustodyStatus::kRefused);
  EXPECT_EQ(log_.cursor_, 5u);
}

TEST_F(CustodyTest, A02_AckForAnotherLockOrClaimGenerationChangesNothing) {
  CustodyAck other_lock = AckOf(20);
  other_lock.lock_id[0] ^= 1;
  EXPECT_EQ(Send(Frame(other_lock, custodian_key_, custody_chain_)).status, CustodyStatus::kWrongLock);
  CustodyAck old_claim = AckOf(20);
  old_claim.generation = authority_.claim_generation() - 1;
  EXPECT_EQ(Send(Frame(old_claim, custodian_key_, custody_chain_)).status, CustodyStatus::kWrongLock);
  // A custody certificate of an earlier claim generation: refused by its chain.
  CertificateFields f = Fields(lock_id_, custodian_key_, Role::kAdmin, kPermLogCustody, 0x3333);
  f.claim_generation = authority_.claim_generation() + 1;
  EXPECT_EQ(Send(Frame(AckOf(20), custodian_key_, Chain(Issue(f, owner_, owner_rng_.drbg)))).status,
            CustodyStatus::kRefused);
  EXPECT_EQ(log_.cursor_, 0u);
}

TEST_F(CustodyTest, A02_AckWithAWrongChainHashOrBeyondTheHeadIsOneAnswerWithoutCounters) {
  const uint32_t verifications = crypto::P256OperationCount().verifications;
  CustodyAck wrong = AckOf(20);
  wrong.chain[3] ^= 0x40;
  CustodyReply r = Send(Frame(wrong, custodian_key_, custody_chain_));
  EXPECT_EQ(r.status, CustodyStatus::kNoMatch);
  EXPECT_FALSE(r.has_counters);  // a stranger learns neither the head nor the cursor
  CustodyAck beyond = AckOf(51);  // the head is 50
  r = Send(Frame(beyond, custodian_key_, custody_chain_));
  EXPECT_EQ(r.status, CustodyStatus::kNoMatch);
  EXPECT_FALSE(r.has_counters);
  // Overwritten records cannot be vouched for either.
  log_.oldest_ = 10;
  EXPECT_EQ(Send(Frame(AckOf(9), custodian_key_, custody_chain_)).status, CustodyStatus::kNoMatch);
  EXPECT_EQ(log_.cursor_, 0u);
  EXPECT_EQ(server_.verify_rounds(), 0u);
  EXPECT_EQ(crypto::P256OperationCount().verifications, verifications);
}

TEST_F(CustodyTest, A02_ReplayedOlderAckLeavesTheCursorWhereItIs) {
  const Bytes old_ack = Frame(AckOf(10), custodian_key_, custody_chain_);
  ASSERT_EQ(Send(old_ack).status, CustodyStatus::kAdvanced);
  ASSERT_EQ(Send(Frame(AckOf(30), custodian_key_, custody_chain_)).status, CustodyStatus::kAdvanced);
  const int advances = log_.advances_;
  const uint32_t verifications = crypto::P256OperationCount().verifications;
  const uint32_t signatures = crypto::P256OperationCount().signatures;
  for (int i = 0; i < 3; ++i) {
    const CustodyReply r = Send(old_ack, 5000 + i);
    EXPECT_EQ(r.status, CustodyStatus::kUnchanged);
    EXPECT_EQ(r.cursor, 30u);
    EXPECT_FALSE(r.has_receipt);
  }
  // The same acknowledgement again: unchanged too.
  EXPECT_EQ(Send(Frame(AckOf(30), custodian_key_, custody_chain_)).status, CustodyStatus::kUnchanged);
  EXPECT_EQ(log_.cursor_, 30u);
  EXPECT_EQ(log_.advances_, advances);
  // No public-key work for a replay (the frame above was signed by the test).
  EXPECT_EQ(crypto::P256OperationCount().verifications, verifications);
  EXPECT_EQ(crypto::P256OperationCount().signatures, signatures + 1);
}

TEST_F(CustodyTest, A02_ForgedSignaturesAreRefusedAndTheirVerificationIsBudgeted) {
  // A forger that holds the stream (the hash is right) but not the key.
  testing::SeededDrbg attacker_rng(77);
  const crypto::P256KeyPair attacker = testing::NewKey(attacker_rng.drbg);
  EXPECT_EQ(Send(Frame(AckOf(20), attacker, custody_chain_)).status, CustodyStatus::kRefused);
  EXPECT_EQ(Send(Frame(AckOf(20), attacker, {})).status, CustodyStatus::kRefused);  // posing as the owner
  // A flood in the same instant: the bucket admits its burst, the rest
  // cost no signature verification at all.
  const Bytes forged = Frame(AckOf(21), attacker, custody_chain_);
  const uint32_t before = crypto::P256OperationCount().verifications;
  int busy = 0;
  for (int i = 0; i < 20; ++i) busy += Send(forged, 1000).status == CustodyStatus::kBusy ? 1 : 0;
  EXPECT_EQ(busy, 20 - static_cast<int>(kCustodyVerifyBurst) + 2);
  EXPECT_EQ(server_.verify_rounds(), kCustodyVerifyBurst);
  EXPECT_LE(crypto::P256OperationCount().verifications - before, 2u * (kCustodyVerifyBurst - 2));
  EXPECT_EQ(log_.cursor_, 0u);
  // The genuine holder gets through once the bucket refills.
  EXPECT_EQ(Send(Frame(AckOf(20), custodian_key_, custody_chain_), 1000).status, CustodyStatus::kBusy);
  EXPECT_EQ(Send(Frame(AckOf(20), custodian_key_, custody_chain_), 1000 + kCustodyVerifyIntervalMs).status,
            CustodyStatus::kAdvanced);
  EXPECT_EQ(log_.cursor_, 20u);
}

TEST_F(CustodyTest, MalformedFramesAreRefusedWithoutCost) {
  Bytes frame = Frame(AckOf(20), custodian_key_, custody_chain_);
  for (size_t cut : {size_t{1}, size_t{10}, frame.size() - 1}) {
    Bytes shorter(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(cut));
    shorter.resize(std::max<size_t>(shorter.size(), 1));
    EXPECT_EQ(Send(shorter).status, CustodyStatus::kMalformed) << cut;
  }
  Bytes longer = frame;
  longer.push_back(0);
  EXPECT_EQ(Send(longer).status, CustodyStatus::kMalformed);
  Bytes version = frame;
  version[1] = 2;
  EXPECT_EQ(Send(version).status, CustodyStatus::kMalformed);
  CustodyAck zero = AckOf(1);
  zero.seq = 0;
  Bytes out(kMaxCustodyAckFrameSize);
  EXPECT_EQ(EncodeCustodyAck(zero, owner_, {}, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.verify_rounds(), 0u);
  EXPECT_EQ(log_.cursor_, 0u);
}

TEST_F(CustodyTest, ACursorTheStoreCouldNotWriteIsReportedAndNotClaimed) {
  log_.fail_advance_ = true;
  const CustodyReply r = Send(Frame(AckOf(20), custodian_key_, custody_chain_));
  EXPECT_EQ(r.status, CustodyStatus::kError);
  EXPECT_FALSE(r.has_receipt);
  EXPECT_EQ(log_.cursor_, 0u);
}

TEST_F(CustodyTest, A12_CustodyKeyCannotOpenASessionCommand) {
  Result<VerifiedKey> key = authority_.VerifyKey(custody_chain_, sim_.lock());
  ASSERT_TRUE(key.ok()) << key.status().name();
  for (uint8_t c = 0; c < kCommandCount; ++c) {
    EXPECT_EQ(authority_.Authorize(*key, static_cast<Command>(c), core::OperationSource::kProprietaryRemote).code(),
              StatusCode::kPermissionDenied)
        << CommandName(static_cast<Command>(c));
  }
}

TEST(CustodyNodeTest, FrameSixReachesTheCustodyServerOnlyWithACustodian) {
  testing::SeededDrbg lock_rng(41), owner_rng(42);
  const crypto::P256KeyPair owner = testing::NewKey(owner_rng.drbg);
  sim::MemoryStore store;
  sim::SimLock sim(&store);
  ASSERT_TRUE(sim.Start().ok());
  LockAuthority authority(store, lock_rng.drbg);
  ASSERT_TRUE(authority.Start().ok());
  uint8_t pin[kOfflinePinSecretSize] = {1};
  ASSERT_TRUE(authority.InstallOwner(owner.public_key(), pin).ok());
  LockNode node(authority, sim.lock(), store);
  ASSERT_TRUE(node.Start(0).ok());
  CustodyAck ack;
  ack.lock_id = authority.identity().lock_id();
  ack.generation = authority.claim_generation();
  ack.seq = 3;
  ack.chain = FakeCustodian::HashOf(3);
  Bytes frame(kMaxCustodyAckFrameSize);
  Result<size_t> n = EncodeCustodyAck(ack, owner, {}, owner_rng.drbg, frame);
  ASSERT_TRUE(n.ok());
  frame.resize(*n);
  Bytes reply(kMaxRemoteFrameSize);
  Result<size_t> r = node.Handle(frame, 0, reply);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1u);
  EXPECT_EQ(reply[0], 0x00);  // no custodian: an unknown frame
  FakeCustodian log;
  node.set_log_custodian(&log);
  r = node.Handle(frame, 0, reply);
  ASSERT_TRUE(r.ok());
  Result<CustodyReply> decoded = DecodeCustodyReply(std::span<const uint8_t>(reply.data(), *r));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->status, CustodyStatus::kAdvanced);
  EXPECT_EQ(log.cursor_, 3u);
}

}  // namespace
}  // namespace mortise::protocol
