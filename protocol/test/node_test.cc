// The lock's protocol endpoint (node.h): frame dispatch, the info frame,
// claim -> session -> remote through one endpoint, the integrator hooks
// (management payloads authorized by the command they name, the log read in
// pages) and factory reset.
#include "mortise/protocol/node.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::Chain;
using testing::Fields;
using testing::Issue;

// A management hook that records the commands it ran.
class FakeManagement final : public ManagementHandler {
 public:
  Result<size_t> Run(const VerifiedKey&, core::OperationSource, const ManagementCommand& command,
                     std::span<uint8_t> out) override {
    ran.push_back(command.op);
    commands.push_back(command);
    const char answer[] = "done";
    std::memcpy(out.data(), answer, 4);
    return size_t{4};
  }
  std::vector<ManagementOp> ran;
  std::vector<ManagementCommand> commands;
};

// A log of `count` one-byte items served in pages of `page` items.
class FakeLog final : public LogSource {
 public:
  Result<size_t> ReadPage(uint64_t from, std::span<const uint8_t, kLogChallengeBytes> challenge,
                          std::span<uint8_t> out, uint64_t& next_from) override {
    last_challenge.assign(challenge.begin(), challenge.end());
    size_t n = 0;
    uint64_t seq = from;
    for (; seq <= count && n < page && n < out.size(); ++seq) out[n++] = static_cast<uint8_t>(seq);
    next_from = seq <= count ? seq : 0;
    return n;
  }
  uint64_t count = 25;
  size_t page = 10;
  Bytes last_challenge;
};

class NodeTest : public ::testing::Test {
 protected:
  NodeTest() : lock_rng_(21), owner_rng_(22), owner_(testing::NewKey(owner_rng_.drbg)),
               guest_(testing::NewKey(owner_rng_.drbg)) {
    Boot();
    Result<ClaimLabel> label = node_->ProvisionedLabel();
    EXPECT_TRUE(label.ok());
    if (label.ok()) label_ = *label;
  }

  void Boot() {
    node_.reset();
    authority_.reset();
    sim_.reset();
    sim_ = std::make_unique<sim::SimLock>(&store_);
    EXPECT_TRUE(sim_->Start().ok());
    authority_ = std::make_unique<LockAuthority>(store_, lock_rng_.drbg);
    EXPECT_TRUE(authority_->Start().ok());
    node_ = std::make_unique<LockNode>(*authority_, sim_->lock(), store_);
    EXPECT_TRUE(node_->Start(now_ms_).ok());
    node_->set_management(&management_);
    node_->set_log_source(&log_);
  }

  Bytes Frame(FrameType type, std::span<const uint8_t> body) {
    Bytes f(1 + body.size());
    f[0] = static_cast<uint8_t>(type);
    if (!body.empty()) std::memcpy(f.data() + 1, body.data(), body.size());
    Bytes reply(kMaxRemoteFrameSize);
    Result<size_t> n = node_->Handle(f, now_ms_, reply);
    EXPECT_TRUE(n.ok());
    reply.resize(n.ok() ? *n : 0);
    return reply;
  }

  Status Claim(const crypto::P256KeyPair& owner) {
    ClaimClient client(label_, owner, owner_rng_.drbg);
    uint8_t out[kMaxClaimMessageSize];
    Result<size_t> n = client.Start(out);
    while (n.ok() && *n > 0) {
      const Bytes reply = Frame(FrameType::kClaim, std::span<const uint8_t>(out, *n));
      if (reply.empty() || reply[0] != static_cast<uint8_t>(FrameType::kClaim)) return StatusCode::kInternal;
      n = client.Handle(std::span<const uint8_t>(reply).subspan(1), out);
    }
    if (!n.ok()) return n.status();
    return client.done() ? Status::Ok() : Status(StatusCode::kInternal);
  }

  Result<CommandResponse> Session(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain,
                                  const CommandRequest& request) {
    SessionClient c(holder, chain, authority_->identity().lock_id(), owner_rng_.drbg);
    uint8_t out[kMaxSessionMessageSize];
    MORTISE_ASSIGN_OR_RETURN(size_t m1, c.Hello(out));
    Bytes r = Frame(FrameType::kSession, std::span<const uint8_t>(out, m1));
    MORTISE_ASSIGN_OR_RETURN(size_t m3, c.Finish(std::span<const uint8_t>(r).subspan(1), request, out));
    r = Frame(FrameType::kSession, std::span<const uint8_t>(out, m3));
    return c.Receive(std::span<const uint8_t>(r).subspan(1));
  }

  // A management request for `op` (user 1 where it names a user); the
  // payload lives in the fixture until the next call.
  CommandRequest Manage(ManagementOp op) {
    ManagementCommand c;
    c.op = op;
    c.user_index = 1;
    payload_.resize(kMaxManagementCommandSize);
    Result<size_t> n = EncodeManagement(c, payload_);
    EXPECT_TRUE(n.ok());
    payload_.resize(n.ok() ? *n : 0);
    return Manage(payload_);
  }
  static CommandRequest Manage(std::span<const uint8_t> payload) {
    CommandRequest r;
    r.command = Command::kManagement;
    r.payload = payload;
    return r;
  }
  Bytes payload_;

  Bytes GuestChain() {
    return Chain(Issue(Fields(authority_->identity().lock_id(), guest_, Role::kGuest, kPermLock | kPermUnlock, 51),
                       owner_, owner_rng_.drbg));
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, guest_;
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<LockAuthority> authority_;
  std::unique_ptr<LockNode> node_;
  FakeManagement management_;
  FakeLog log_;
  ClaimLabel label_;
  uint64_t now_ms_ = 1000;
};

TEST_F(NodeTest, InfoTellsWhichLockAnswersAndWhetherItIsClaimed) {
  Result<LockInfoView> info = DecodeLockInfo(Frame(FrameType::kInfo, {}));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->lock_id, authority_->identity().lock_id());
  EXPECT_EQ(info->key_hash, authority_->identity().key_hash());
  EXPECT_FALSE(info->claimed);
  EXPECT_TRUE(info->claim_window_open);
  ASSERT_TRUE(Claim(owner_).ok());
  info = DecodeLockInfo(Frame(FrameType::kInfo, {}));
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->claimed);
  EXPECT_FALSE(info->claim_window_open);
}

TEST_F(NodeTest, UnknownEmptyAndOversizedFramesAreAnsweredWithZeroAndChangeNothing) {
  Bytes reply(kMaxRemoteFrameSize);
  Result<size_t> n = node_->Handle({}, now_ms_, reply);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(reply[0], 0);
  const uint8_t unknown[] = {0x77, 1, 2, 3};
  EXPECT_EQ(Frame(static_cast<FrameType>(0x77), std::span<const uint8_t>(unknown).subspan(1)), Bytes{0});
  const Bytes big(kMaxSessionMessageSize + 1, 0x0A);
  EXPECT_EQ(Frame(FrameType::kSession, big), Bytes{0});
  const uint8_t info_with_body[] = {1};
  EXPECT_EQ(Frame(FrameType::kInfo, info_with_body), Bytes{0});
  // A reply buffer too small for the largest reply.
  uint8_t small[8];
  EXPECT_EQ(node_->Handle(Bytes{4}, now_ms_, small).status().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(authority_->claimed());
}

TEST_F(NodeTest, ClaimThenSessionThenRemoteThroughOneEndpoint) {
  ASSERT_TRUE(Claim(owner_).ok());
  // A second claim fails (A16).
  testing::SeededDrbg thief_rng(77);
  EXPECT_FALSE(Claim(testing::NewKey(thief_rng.drbg)).ok());
  CommandRequest set_time;
  set_time.command = Command::kSetTime;
  set_time.value = testing::kNoon;
  Result<CommandResponse> r = Session(owner_, {}, set_time);
  ASSERT_TRUE(r.ok()) << r.status().name();
  EXPECT_EQ(r->status, StatusCode::kOk);
  sim_->Run(31000);
  now_ms_ = sim_->clock().now_ms();
  RemoteClient remote(owner_, {}, authority_->identity().public_key(), owner_rng_.drbg);
  CommandRequest unlock;
  unlock.command = Command::kUnlock;
  Bytes env(kMaxRemoteMessageSize);
  Result<size_t> n = remote.Build(unlock, 1, *sim_->lock().utc_now() + 30, env);
  ASSERT_TRUE(n.ok());
  env.resize(*n);
  const Bytes reply = Frame(FrameType::kRemote, env);
  ASSERT_EQ(reply[0], static_cast<uint8_t>(FrameType::kRemote));
  Result<RemoteOutcome> outcome = remote.Verify(std::span<const uint8_t>(reply).subspan(1));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->envelope, StatusCode::kOk);
  EXPECT_EQ(outcome->response.status, StatusCode::kOk);
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kUnlocked);
}

TEST_F(NodeTest, ManagementPayloadsAreAuthorizedAsTheCommandTheyName) {
  ASSERT_TRUE(Claim(owner_).ok());
  Result<CommandResponse> r = Session(owner_, {}, Manage(ManagementOp::kSetUser));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  EXPECT_EQ(std::string(r->payload.begin(), r->payload.begin() + r->payload_len), "done");
  // A guest may not manage users, however the payload is wrapped.
  const Bytes chain = GuestChain();
  r = Session(guest_, chain, Manage(ManagementOp::kSetUser));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
  // But may unlock through the cluster command.
  r = Session(guest_, chain, Manage(ManagementOp::kUnlockDoor));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  // Payloads that are no management command are refused before anything runs.
  const Bytes garbage = {'?', '?', '?'};
  const Bytes no_body = {};
  const Bytes json = {'{', '}'};
  for (const Bytes& bad : {garbage, no_body, json}) {
    r = Session(owner_, {}, Manage(bad));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(management_.ran, (std::vector<ManagementOp>{ManagementOp::kSetUser, ManagementOp::kUnlockDoor}));
}

// A12: what runs is exactly what was authorised. Thousands of mutations of
// valid payloads (bytes flipped, inserted, dropped: duplicated fields, second
// bodies, type confusion) go through the executor for an installer (settings
// but no passage right); every command the handler ran must be one the
// installer is allowed, so no payload is authorised as one command and run
// as another (a Passage holiday read as Vacation, say).
TEST_F(NodeTest, A12_WhatRunsIsWhatWasAuthorizedForEveryMutatedPayload) {
  ASSERT_TRUE(Claim(owner_).ok());
  const Bytes chain = Chain(Issue(Fields(authority_->identity().lock_id(), guest_, Role::kInstaller,
                                         RoleAllowedPermissions(Role::kInstaller), 53),
                                  owner_, owner_rng_.drbg));
  Result<VerifiedKey> key = authority_->VerifyKey(chain, sim_->lock());
  ASSERT_TRUE(key.ok());
  CommandExecutor executor{*authority_, sim_->lock(), &management_, nullptr};
  std::vector<Bytes> seeds;
  for (int mode : {1, 4}) {  // a Vacation and a Passage holiday
    ManagementCommand c;
    c.op = ManagementOp::kSetHolidaySchedule;
    c.schedule_index = 1;
    c.local_start = 1;
    c.local_end = 2;
    c.holiday_mode = static_cast<core::OperatingMode>(mode);
    seeds.push_back(Bytes(kMaxManagementCommandSize));
    seeds.back().resize(*EncodeManagement(c, seeds.back()));
  }
  for (int64_t v : {0, 4}) {  // OperatingMode Normal and Passage
    ManagementCommand c;
    c.op = ManagementOp::kWriteAttribute;
    c.attribute = core::AttributeId::kOperatingMode;
    c.value = v;
    seeds.push_back(Bytes(kMaxManagementCommandSize));
    seeds.back().resize(*EncodeManagement(c, seeds.back()));
  }
  uint32_t x = 12345;  // xorshift: deterministic
  auto next = [&x] { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x; };
  size_t allowed = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = seeds[next() % seeds.size()];
    for (uint32_t m = 1 + next() % 3; m > 0; --m) {
      const uint32_t r = next();
      const size_t at = b.empty() ? 0 : r % b.size();
      switch ((r >> 16) % 4) {
        case 0: if (!b.empty()) b[at] = static_cast<uint8_t>(next()); break;
        case 1: b.insert(b.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(next())); break;
        case 2: if (!b.empty()) b.erase(b.begin() + static_cast<ptrdiff_t>(at)); break;
        default: b.insert(b.end(), b.begin(), b.begin() + static_cast<ptrdiff_t>(at)); break;  // repeat a prefix
      }
    }
    CommandResponse r = executor.Run(*key, Manage(b), core::OperationSource::kProprietaryRemote);
    if (r.status == StatusCode::kOk) ++allowed;
  }
  ASSERT_EQ(management_.commands.size(), allowed);
  EXPECT_GT(allowed, 0u);  // the mutations do reach the handler
  for (const ManagementCommand& c : management_.commands) {
    EXPECT_TRUE(Authorize(key->grant, ClassifyManagement(c)).ok()) << static_cast<int>(c.op);
    EXPECT_FALSE(c.op == ManagementOp::kSetHolidaySchedule && c.holiday_mode == core::OperatingMode::kPassage);
    EXPECT_FALSE(c.op == ManagementOp::kWriteAttribute && c.attribute == core::AttributeId::kOperatingMode &&
                 c.value == 4);
  }
}

TEST_F(NodeTest, ManagementUnlockCountsAUseOfAUseLimitedKey) {
  ASSERT_TRUE(Claim(owner_).ok());
  CertificateFields f = Fields(authority_->identity().lock_id(), guest_, Role::kGuest, kPermUnlock, 52);
  f.max_uses = 1;
  const Bytes chain = Chain(Issue(f, owner_, owner_rng_.drbg));
  Result<CommandResponse> r = Session(guest_, chain, Manage(ManagementOp::kUnlockDoor));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  r = Session(guest_, chain, Manage(ManagementOp::kUnlockDoor));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kResourceExhausted);
}

TEST_F(NodeTest, LogIsReadInPagesWithTheReadersChallenge) {
  ASSERT_TRUE(Claim(owner_).ok());
  const uint8_t challenge[kLogChallengeBytes] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
  CommandRequest read;
  read.command = Command::kReadLog;
  read.payload = challenge;
  read.value = 1;
  Bytes all;
  for (int page = 0; page < 10; ++page) {
    Result<CommandResponse> r = Session(owner_, {}, read);
    ASSERT_TRUE(r.ok()) << r.status().name() << " page " << page;
    ASSERT_EQ(r->status, StatusCode::kOk);
    all.insert(all.end(), r->payload.begin(), r->payload.begin() + r->payload_len);
    if (r->next == 0) break;
    read.value = static_cast<int64_t>(r->next);
  }
  ASSERT_EQ(all.size(), 25u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
  EXPECT_EQ(log_.last_challenge, Bytes(std::begin(challenge), std::end(challenge)));
  // A short challenge is refused; a guest has no right to the log.
  read.payload = std::span<const uint8_t>(challenge, 8);
  Result<CommandResponse> r = Session(owner_, {}, read);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kInvalidArgument);
  read.payload = challenge;
  now_ms_ += kSessionIdleMs + 1;  // the owner's idle sessions give way
  r = Session(guest_, GuestChain(), read);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
}

TEST_F(NodeTest, A16_FactoryResetForgetsOwnerKeysAndUsersAndReopensClaiming) {
  ASSERT_TRUE(Claim(owner_).ok());
  const Bytes chain = GuestChain();
  CommandRequest read;
  read.command = Command::kReadAttribute;
  read.attribute = static_cast<uint16_t>(core::AttributeId::kLockState);
  ASSERT_EQ(Session(guest_, chain, read)->status, StatusCode::kOk);
  core::SetUserRequest u;
  u.user_index = 3;
  ASSERT_EQ(sim_->lock().users().SetUser(u, core::Actor{}), core::DlStatus::kSuccess);

  ASSERT_TRUE(node_->FactoryReset(now_ms_).ok());
  EXPECT_FALSE(authority_->claimed());
  EXPECT_FALSE(sim_->lock().users().GetUser(3).occupied);
  // The old owner and its guest are strangers now.
  EXPECT_FALSE(Session(owner_, {}, read).ok());
  EXPECT_FALSE(Session(guest_, chain, read).ok());
  // The same label claims the lock again, for a new owner.
  testing::SeededDrbg new_rng(78);
  const crypto::P256KeyPair new_owner = testing::NewKey(new_rng.drbg);
  ASSERT_TRUE(Claim(new_owner).ok());
  EXPECT_TRUE(Session(new_owner, {}, read).ok());
  EXPECT_FALSE(Session(guest_, chain, read).ok());
}

TEST(NodeStartTest, AnIntegratorDrawnCodeIsProvisionedAndClaims) {
  testing::SeededDrbg lock_rng(31), owner_rng(32);
  sim::MemoryStore store;
  sim::SimLock sim(&store);
  ASSERT_TRUE(sim.Start().ok());
  LockAuthority authority(store, lock_rng.drbg);
  ASSERT_TRUE(authority.Start().ok());
  LockNode node(authority, sim.lock(), store);
  EXPECT_EQ(node.Start(1000, 123456789u).code(), StatusCode::kInvalidArgument);  // trivial
  Result<uint32_t> code = GenerateSetupCode(lock_rng.drbg);
  ASSERT_TRUE(code.ok());
  ASSERT_TRUE(node.Start(1000, *code).ok());
  ASSERT_TRUE(node.ProvisionedLabel().ok());
  EXPECT_EQ(node.ProvisionedLabel()->setup_code, *code);
}

TEST_F(NodeTest, A16_TheResetButtonWipesTheOwnerToo) {
  ASSERT_TRUE(Claim(owner_).ok());
  sim_->manual().Push(core::ManualInput::kFactoryResetButton);
  sim_->Run(100);
  EXPECT_FALSE(authority_->claimed());
  CommandRequest read;
  read.command = Command::kReadAttribute;
  EXPECT_FALSE(Session(owner_, {}, read).ok());
  testing::SeededDrbg new_rng(79);
  EXPECT_TRUE(Claim(testing::NewKey(new_rng.drbg)).ok());
}

TEST_F(NodeTest, TheSetupCodeIsMadeOnceAndNeverStoredInClear) {
  Boot();
  EXPECT_EQ(node_->ProvisionedLabel().status().code(), StatusCode::kNotFound);
  // Still claimable with the label from the first start.
  EXPECT_TRUE(Claim(owner_).ok());
}

TEST(LogKeyTest, A02_LogKeyIsPerLockStableAndNotAConstant) {
  testing::SeededDrbg a_rng(1), b_rng(2);
  sim::MemoryStore a_store, b_store;
  LockAuthority a(a_store, a_rng.drbg), b(b_store, b_rng.drbg);
  crypto::SecretBytes<32> ka, kb, ka2;
  EXPECT_EQ(a.LogKey(ka).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  ASSERT_TRUE(a.LogKey(ka).ok());
  ASSERT_TRUE(b.LogKey(kb).ok());
  EXPECT_NE(std::memcmp(ka.data(), kb.data(), 32), 0);
  LockAuthority a_again(a_store, a_rng.drbg);
  ASSERT_TRUE(a_again.Start().ok());
  ASSERT_TRUE(a_again.LogKey(ka2).ok());
  EXPECT_EQ(std::memcmp(ka.data(), ka2.data(), 32), 0);
}

// Issue 9 item 2: the identity key signs log heads, and nothing else through
// this door (not another lock's id, not another label, not another length).
TEST(LogKeyTest, A02_LogHeadsAreSignedOnlyInTheirOwnDomain) {
  testing::SeededDrbg rng(3);
  sim::MemoryStore store;
  LockAuthority a(store, rng.drbg);
  std::array<uint8_t, LockAuthority::kLogHeadMessageSize> m{};
  static constexpr char kLabel[] = "mortise-log-head-v1";  // with its NUL: 20 bytes
  std::memcpy(m.data(), kLabel, sizeof(kLabel));
  crypto::P256Signature sig{};
  EXPECT_EQ(a.SignLogHead(m, sig).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(a.Start().ok());
  const LockId& id = a.identity().lock_id();
  std::memcpy(m.data() + sizeof(kLabel), id.data(), id.size());
  m[40] = 7;  // some sequence number, chain and time
  ASSERT_TRUE(a.SignLogHead(m, sig).ok());
  EXPECT_TRUE(a.identity().key().public_key().Verify(m, sig).ok());
  auto other_id = m;
  other_id[sizeof(kLabel)] ^= 1;
  EXPECT_EQ(a.SignLogHead(other_id, sig).code(), StatusCode::kInvalidArgument);
  auto other_label = m;
  other_label[0] = 'M';
  EXPECT_EQ(a.SignLogHead(other_label, sig).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.SignLogHead(std::span<const uint8_t>(m.data(), m.size() - 1), sig).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mortise::protocol
