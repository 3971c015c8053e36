// Time statements (time_statement.h, frame 0x07): a time key corrects a
// clock already set by a small step, a few times a day, and nothing else
// (A04: time attacks; a hostile server holding the time key moves the clock
// at most kTimeCorrectionMaxStepS per correction, one correction per
// kTimeCorrectionIntervalMs).
#include "mortise/protocol/time_statement.h"

#include <gtest/gtest.h>

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

constexpr uint64_t kHourMs = 3'600'000;

class TimeStatementTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kTimeSerial = 0x7171;
  TimeStatementTest()
      : lock_rng_(61), owner_rng_(62), owner_(testing::NewKey(owner_rng_.drbg)),
        time_key_(testing::NewKey(owner_rng_.drbg)), sim_(&store_), authority_(store_, lock_rng_.drbg),
        server_(authority_, sim_.lock()) {
    EXPECT_TRUE(sim_.Start().ok());
    EXPECT_TRUE(authority_.Start().ok());
    uint8_t pin[kOfflinePinSecretSize] = {1, 2, 3};
    EXPECT_TRUE(authority_.InstallOwner(owner_.public_key(), pin).ok());
    EXPECT_TRUE(sim_.lock().SetUtcTime(kNoon, false).ok());
    lock_id_ = authority_.identity().lock_id();
    time_chain_ = KeyChain(time_key_, kTimeSerial);
    Pass(kHourMs / 2);  // the lock runs a while: its floor is behind its clock
  }

  Bytes KeyChain(const crypto::P256KeyPair& holder, uint64_t serial, uint32_t permissions = kPermTimeStatement,
                 Role role = Role::kAdmin) {
    return Chain(Issue(Fields(lock_id_, holder, role, permissions, serial), owner_, owner_rng_.drbg));
  }
  // Lets `ms` of the lock's running time pass (one service pass).
  void Pass(uint64_t ms) { sim_.Run(ms, ms); }
  int64_t LockUtc() { return *sim_.lock().utc_now(); }

  TimeStatement At(int64_t utc) { return TimeStatement{lock_id_, authority_.claim_generation(), utc}; }
  Bytes Frame(const TimeStatement& s, const crypto::P256KeyPair& signer, const Bytes& chain) {
    Bytes out(kMaxTimeStatementFrameSize);
    Result<size_t> n = EncodeTimeStatement(s, signer, chain, owner_rng_.drbg, out);
    EXPECT_TRUE(n.ok()) << n.status().name();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  Bytes ByTimeKey(int64_t utc) { return Frame(At(utc), time_key_, time_chain_); }
  TimeReply Send(const Bytes& frame) {
    Bytes out(kTimeReplyFrameSize);
    out[0] = 0x07;
    Result<size_t> n = server_.Handle(std::span<const uint8_t>(frame).subspan(frame.empty() ? 0 : 1),
                                      sim_.clock().now_ms(), std::span<uint8_t>(out).subspan(1));
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? 1 + *n : 0);
    Result<TimeReply> r = DecodeTimeReply(out);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : TimeReply{};
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, time_key_;
  sim::MemoryStore store_;
  sim::SimLock sim_;
  LockAuthority authority_;
  TimeServer server_;
  LockId lock_id_{};
  Bytes time_chain_;
};

TEST_F(TimeStatementTest, ATimeKeyCorrectsTheClockByASmallStepEitherWay) {
  const int64_t ahead = LockUtc() + 7;
  TimeReply r = Send(ByTimeKey(ahead));
  EXPECT_EQ(r.status, TimeStatus::kCorrected);
  EXPECT_EQ(r.lock_utc, ahead);
  EXPECT_EQ(LockUtc(), ahead);
  // Six hours on (and half an hour after the lock last saved its floor),
  // the clock is pulled back by 8 s (never below the floor).
  Pass(6 * kHourMs);
  Pass(kHourMs / 2);
  const int64_t behind = LockUtc() - 8;
  ASSERT_GE(behind, sim_.lock().time_floor_s());
  r = Send(ByTimeKey(behind));
  EXPECT_EQ(r.status, TimeStatus::kCorrected);
  EXPECT_EQ(LockUtc(), behind);
  EXPECT_EQ(server_.corrections(), 2u);
}

TEST_F(TimeStatementTest, TheOwnersOwnKeySignsAStatementWithoutACertificate) {
  const int64_t t = LockUtc() + 3;
  EXPECT_EQ(Send(Frame(At(t), owner_, {})).status, TimeStatus::kCorrected);
  EXPECT_EQ(LockUtc(), t);
}

TEST_F(TimeStatementTest, A04_UnsignedForgedOrMalformedStatementsChangeNothing) {
  const int64_t before = LockUtc();
  // A stranger's key claiming to be the owner (no chain).
  const crypto::P256KeyPair stranger = testing::NewKey(owner_rng_.drbg);
  EXPECT_EQ(Send(Frame(At(before + 5), stranger, {})).status, TimeStatus::kRefused);
  // The time key's statement with one bit of its time flipped after signing,
  // and one with its signature flipped.
  Bytes edited = ByTimeKey(before + 5);
  edited[22] ^= 0x02;
  EXPECT_EQ(Send(edited).status, TimeStatus::kRefused);
  Bytes bad_sig = ByTimeKey(before + 5);
  bad_sig.back() ^= 0x01;
  EXPECT_EQ(Send(bad_sig).status, TimeStatus::kRefused);
  // No signature at all, a wrong version, a chain length past the end.
  Bytes unsigned_frame = ByTimeKey(before + 5);
  unsigned_frame.resize(unsigned_frame.size() - 64);
  EXPECT_EQ(Send(unsigned_frame).status, TimeStatus::kMalformed);
  Bytes version = ByTimeKey(before + 5);
  version[1] = 2;
  EXPECT_EQ(Send(version).status, TimeStatus::kMalformed);
  Bytes long_chain = ByTimeKey(before + 5);
  long_chain[31] = 0x7f;
  EXPECT_EQ(Send(long_chain).status, TimeStatus::kMalformed);
  EXPECT_EQ(Send(Bytes{0x07}).status, TimeStatus::kMalformed);
  EXPECT_EQ(LockUtc(), before);
  EXPECT_EQ(server_.corrections(), 0u);
}

TEST_F(TimeStatementTest, A04_AKeyWithoutTheTimeRightIsRefusedAndTheTimeKeyRunsNoCommand) {
  const int64_t before = LockUtc();
  // An admin holding every right an admin may hold but time statements (set
  // time included), and an installer with set time.
  const crypto::P256KeyPair admin = testing::NewKey(owner_rng_.drbg);
  EXPECT_EQ(Send(Frame(At(before + 5), admin,
                       KeyChain(admin, 0x2222, RoleAllowedPermissions(Role::kAdmin) & ~kPermTimeStatement)))
                .status,
            TimeStatus::kRefused);
  const crypto::P256KeyPair installer = testing::NewKey(owner_rng_.drbg);
  EXPECT_EQ(Send(Frame(At(before + 5), installer,
                       KeyChain(installer, 0x2223, kPermSetTime, Role::kInstaller)))
                .status,
            TimeStatus::kRefused);
  EXPECT_EQ(LockUtc(), before);
  // The time key itself opens nothing and cannot set the time in a session.
  const Grant time_key{Role::kAdmin, kPermTimeStatement};
  for (Command c : {Command::kUnlock, Command::kLock, Command::kSetTime, Command::kSetTimeBackwards,
                    Command::kReadAttribute, Command::kEndSession, Command::kApplyAccessList}) {
    EXPECT_EQ(Authorize(time_key, c).code(), StatusCode::kPermissionDenied) << static_cast<int>(c);
  }
  // Only owners and admins may carry it.
  Bytes cert(kMaxCertificateSize);
  for (Role role : {Role::kMember, Role::kGuest, Role::kInstaller}) {
    EXPECT_EQ(IssueCertificate(Fields(lock_id_, admin, role, kPermTimeStatement, 0x2224), owner_, owner_rng_.drbg, cert)
                  .status()
                  .code(),
              StatusCode::kInvalidArgument);
  }
}

TEST_F(TimeStatementTest, A04_ARevokedTimeKeyOrAnotherLocksStatementIsRefused) {
  const int64_t before = LockUtc();
  TimeStatement other_lock = At(before + 5);
  other_lock.lock_id[0] ^= 1;
  EXPECT_EQ(Send(Frame(other_lock, time_key_, time_chain_)).status, TimeStatus::kWrongLock);
  TimeStatement old_claim = At(before + 5);
  old_claim.generation -= 1;
  EXPECT_EQ(Send(Frame(old_claim, time_key_, time_chain_)).status, TimeStatus::kWrongLock);
  AccessListState list = testing::ListAt(1);
  list.revoked[list.revoked_count++] = testing::By(owner_, kTimeSerial);
  ASSERT_TRUE(authority_.ApplyAccessList(testing::SignedList(list, lock_id_, owner_, owner_rng_.drbg)).ok());
  EXPECT_EQ(Send(ByTimeKey(before + 5)).status, TimeStatus::kRefused);
  EXPECT_EQ(LockUtc(), before);
}

TEST_F(TimeStatementTest, A04_AReplayedOrOlderStatementIsRefused) {
  const int64_t t = LockUtc() + 4;
  const Bytes first = ByTimeKey(t);
  const Bytes earlier = ByTimeKey(t - 1);
  ASSERT_EQ(Send(first).status, TimeStatus::kCorrected);
  Pass(6 * kHourMs);  // a correction is available again
  const int64_t now = LockUtc();
  EXPECT_EQ(Send(first).status, TimeStatus::kStale);
  EXPECT_EQ(Send(earlier).status, TimeStatus::kStale);
  EXPECT_EQ(LockUtc(), now);
  // The budget was not spent by the replays: a fresh statement is taken.
  EXPECT_EQ(Send(ByTimeKey(now + 2)).status, TimeStatus::kCorrected);
}

TEST_F(TimeStatementTest, A04_ABigJumpOrAMoveBeforeTheFloorIsRefusedBeforeAnySignatureWork) {
  const int64_t now = LockUtc();
  const uint32_t verifications = crypto::P256OperationCount().verifications;
  for (int64_t t : {now + kTimeCorrectionMaxStepS + 1, now - kTimeCorrectionMaxStepS - 1, now + 3600, now - 86400,
                    now + 365 * 86400}) {
    EXPECT_EQ(Send(ByTimeKey(t)).status, TimeStatus::kTooFar) << t - now;
  }
  EXPECT_EQ(crypto::P256OperationCount().verifications, verifications);
  EXPECT_EQ(LockUtc(), now);
  // The floor: just after the lock saved it (its hourly save), a step back
  // within the bound would still go before it.
  Pass(kHourMs);
  const int64_t floor = sim_.lock().time_floor_s();
  ASSERT_EQ(floor, LockUtc());
  EXPECT_EQ(Send(ByTimeKey(floor - 2)).status, TimeStatus::kTooFar);
  EXPECT_EQ(LockUtc(), floor);
  EXPECT_EQ(crypto::P256OperationCount().verifications, verifications);
}

TEST_F(TimeStatementTest, A04_AnUnknownClockIsNeverSetByAStatement) {
  sim::MemoryStore store;
  sim::SimLock sim(&store);
  ASSERT_TRUE(sim.Start().ok());
  LockAuthority authority(store, lock_rng_.drbg);
  ASSERT_TRUE(authority.Start().ok());
  uint8_t pin[kOfflinePinSecretSize] = {4};
  ASSERT_TRUE(authority.InstallOwner(owner_.public_key(), pin).ok());
  TimeServer server(authority, sim.lock());
  const TimeStatement s{authority.identity().lock_id(), authority.claim_generation(), kNoon};
  const Bytes frame = Frame(s, owner_, {});
  uint8_t out[kTimeReplyFrameSize];
  ASSERT_TRUE(server.Handle(std::span<const uint8_t>(frame).subspan(1), 1000, std::span<uint8_t>(out + 1, 10)).ok());
  EXPECT_EQ(out[2], static_cast<uint8_t>(TimeStatus::kTimeUnknown));
  EXPECT_FALSE(sim.lock().utc_now().has_value());
}

// What a hostile server holding the time key achieves: it sends a +10 s
// statement every 10 minutes for two days. The clock gains at most 10 s per
// correction, one correction at once and one per 6 h of running time.
TEST_F(TimeStatementTest, A04_CorrectionsAreRateLimitedSoAHostileServerGainsAtMost40SecondsADay) {
  const int64_t start = LockUtc();
  const uint64_t start_ms = sim_.clock().now_ms();
  const uint32_t verifications = crypto::P256OperationCount().verifications;
  int corrected = 0, busy = 0;
  for (uint64_t elapsed = 0; elapsed < 48 * kHourMs; elapsed += 600'000) {
    const TimeStatus s = Send(ByTimeKey(LockUtc() + kTimeCorrectionMaxStepS)).status;
    if (s == TimeStatus::kCorrected) ++corrected;
    if (s == TimeStatus::kBusy) ++busy;
    Pass(600'000);
  }
  const int64_t natural = static_cast<int64_t>((sim_.clock().now_ms() - start_ms) / 1000);
  const int64_t gained = LockUtc() - start - natural;
  // 48 h: the first at once, then one per 6 h: 1 + 7 = 8 (the 8th at 42 h).
  EXPECT_EQ(corrected, 8);
  EXPECT_EQ(busy, 288 - 8);
  EXPECT_LE(gained, 8 * kTimeCorrectionMaxStepS);
  EXPECT_GE(gained, 8 * kTimeCorrectionMaxStepS - 8);  // the lock keeps whole seconds at each correction
  // A statement refused by the budget costs no signature work: one round
  // (chain and statement) per correction.
  EXPECT_EQ(server_.verify_rounds(), 8u);
  EXPECT_LE(crypto::P256OperationCount().verifications - verifications, 8u * 3);
}

TEST_F(TimeStatementTest, A18_ForgeriesSpendOnlyTheVerificationBudget) {
  const crypto::P256KeyPair stranger = testing::NewKey(owner_rng_.drbg);
  const int64_t now = LockUtc();
  int refused = 0, busy = 0;
  for (int i = 0; i < 10; ++i) {
    const TimeStatus s = Send(Frame(At(now + 1 + i % 5), stranger, {})).status;
    refused += s == TimeStatus::kRefused;
    busy += s == TimeStatus::kBusy;
  }
  EXPECT_EQ(refused, static_cast<int>(kTimeVerifyBurst));
  EXPECT_EQ(busy, 10 - static_cast<int>(kTimeVerifyBurst));
  EXPECT_EQ(server_.verify_rounds(), kTimeVerifyBurst);
  // Ten minutes on, one more verification: the genuine statement gets it.
  Pass(kTimeVerifyIntervalMs);
  EXPECT_EQ(Send(ByTimeKey(LockUtc() + 1)).status, TimeStatus::kCorrected);
}

TEST_F(TimeStatementTest, TheLockNodeAnswersFrame7) {
  LockNode node(authority_, sim_.lock(), store_);
  ASSERT_TRUE(node.Start(sim_.clock().now_ms()).ok());
  const int64_t t = LockUtc() + 2;
  const Bytes frame = ByTimeKey(t);
  Bytes reply(kMaxFrameSize);
  Result<size_t> n = node.Handle(frame, sim_.clock().now_ms(), reply);
  ASSERT_TRUE(n.ok());
  reply.resize(*n);
  Result<TimeReply> r = DecodeTimeReply(reply);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, TimeStatus::kCorrected);
  EXPECT_EQ(LockUtc(), t);
  // A reply that is not a time reply is refused by the holder's decoder.
  reply[0] = 0x06;
  EXPECT_FALSE(DecodeTimeReply(reply).ok());
}

}  // namespace
}  // namespace mortise::protocol
