// Claiming (attack A16: enrolment spoofing) and the setup code.
#include "mortise/protocol/claim.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "mortise/protocol/records.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;

// A lock with its store, identity, provisioned setup code and claim server.
struct TestLock {
  explicit TestLock(uint64_t seed) : rng(seed), authority(store, rng.drbg), server(authority, store) {
    EXPECT_TRUE(authority.Start().ok());
    Result<ClaimLabel> l = ProvisionSetupCode(authority.identity(), store, rng.drbg, crypto::kPakeMinIterations);
    EXPECT_TRUE(l.ok());
    if (l.ok()) label = *l;
  }
  testing::SeededDrbg rng;
  sim::MemoryStore store;
  LockAuthority authority;
  ClaimServer server;
  ClaimLabel label;
};

// Carries datagrams between a client and a server; `tamper` may edit each
// datagram (index 0 = M1) in transit. Returns the client's final status.
template <typename Tamper>
Status RunClaim(ClaimClient& client, ClaimServer& server, uint64_t now_ms, Tamper tamper) {
  uint8_t a[kMaxClaimMessageSize], b[kMaxClaimMessageSize];
  Result<size_t> n = client.Start(a);
  if (!n.ok()) return n.status();
  Bytes to_lock(a, a + *n);
  for (int i = 0; i < 8; ++i) {
    tamper(2 * i, to_lock);
    Result<size_t> r = server.Handle(to_lock, now_ms, b);
    if (!r.ok()) return r.status();
    Bytes to_owner(b, b + *r);
    tamper(2 * i + 1, to_owner);
    Result<size_t> next = client.Handle(to_owner, a);
    if (!next.ok()) return next.status();
    if (*next == 0) return client.done() ? Status::Ok() : Status(StatusCode::kInternal);
    to_lock.assign(a, a + *next);
  }
  return StatusCode::kInternal;
}

Status RunClaim(ClaimClient& client, ClaimServer& server, uint64_t now_ms = 1000) {
  return RunClaim(client, server, now_ms, [](int, Bytes&) {});
}

class ClaimTest : public ::testing::Test {
 protected:
  ClaimTest() : lock_(21), owner_rng_(22), owner_(testing::NewKey(owner_rng_.drbg)) {
    EXPECT_TRUE(lock_.server.OpenWindow(0).ok());
  }
  TestLock lock_;
  testing::SeededDrbg owner_rng_;
  crypto::P256KeyPair owner_;
};

TEST_F(ClaimTest, ClaimInstallsTheOwnerAndPinsTheLock) {
  ClaimClient client(lock_.label, owner_, owner_rng_.drbg);
  ASSERT_TRUE(RunClaim(client, lock_.server).ok());
  ASSERT_TRUE(client.lock_key().has_value());
  EXPECT_TRUE(*client.lock_key() == lock_.authority.identity().public_key());
  ASSERT_TRUE(lock_.authority.claimed());
  EXPECT_TRUE(*lock_.authority.owner() == owner_.public_key());
  crypto::SecretBytes<kOfflinePinSecretSize> pin;
  ASSERT_TRUE(lock_.authority.OfflinePinSecret(pin).ok());
  EXPECT_TRUE(crypto::ConstantTimeEqual(pin.span(), client.offline_pin_secret().span()));
  EXPECT_FALSE(std::all_of(pin.data(), pin.data() + pin.size(), [](uint8_t b) { return b == 0; }));
  // Durable: a restarted lock still has its owner.
  LockAuthority rebooted(lock_.store, lock_.rng.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  ASSERT_TRUE(rebooted.claimed());
  EXPECT_TRUE(*rebooted.owner() == owner_.public_key());
}

TEST_F(ClaimTest, A16_SecondClaimFails) {
  ClaimClient first(lock_.label, owner_, owner_rng_.drbg);
  ASSERT_TRUE(RunClaim(first, lock_.server).ok());
  EXPECT_EQ(lock_.server.OpenWindow(2000).code(), StatusCode::kAlreadyExists);
  testing::SeededDrbg thief_rng(23);
  ClaimClient second(lock_.label, testing::NewKey(thief_rng.drbg), thief_rng.drbg);
  EXPECT_EQ(RunClaim(second, lock_.server, 3000).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(*lock_.authority.owner() == owner_.public_key());
}

TEST_F(ClaimTest, A16_WrongSetupCodeFailsAndClaimsNothing) {
  ClaimLabel wrong = lock_.label;
  wrong.setup_code = wrong.setup_code == 314159265 ? 271828182 : 314159265;
  ClaimClient client(wrong, owner_, owner_rng_.drbg);
  EXPECT_EQ(RunClaim(client, lock_.server).code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(lock_.authority.claimed());
  // The right code still works afterwards (within the attempt budget), once
  // the abandoned exchange has stalled.
  ClaimClient right(lock_.label, owner_, owner_rng_.drbg);
  EXPECT_TRUE(RunClaim(right, lock_.server, 1000 + kClaimStepTimeoutMs).ok());
}

TEST_F(ClaimTest, A16_SpoofedLockWithTheWrongKeyForTheLabelIsRefused) {
  // The owner holds a label whose key hash does not match the device that
  // answers: the PAKE succeeds (the device knows the code), the pin fails.
  ClaimLabel label = lock_.label;
  label.key_hash[0] ^= 1;
  ClaimClient client(label, owner_, owner_rng_.drbg);
  EXPECT_EQ(RunClaim(client, lock_.server).code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(client.done());
  EXPECT_FALSE(client.lock_key().has_value());
}

TEST_F(ClaimTest, A16_FakeDeviceThatKnowsTheSetupCodeIsRefused) {
  // An attacker's device with its own identity and the genuine lock's
  // verifier (it read the label): it cannot present the genuine lock's id.
  TestLock fake(31);
  uint8_t record[256];
  const uint32_t key = core::MakeRecordKey(kRecordPakeVerifier, 0);
  Result<size_t> n = lock_.store.Read(key, record);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(fake.store.Write(key, std::span<const uint8_t>(record, *n)).ok());
  ASSERT_TRUE(fake.server.OpenWindow(0).ok());
  ClaimClient client(lock_.label, owner_, owner_rng_.drbg);
  EXPECT_EQ(RunClaim(client, fake.server).code(), StatusCode::kUnauthenticated);

  // The same device, with a relay that rewrites its lock id into the
  // genuine one: the edit breaks the PAKE transcript.
  const LockId fake_id = fake.authority.identity().lock_id();
  const LockId real_id = lock_.label.lock_id;
  ClaimClient relayed(lock_.label, owner_, owner_rng_.drbg);
  const Status s = RunClaim(relayed, fake.server, 1000 + kClaimStepTimeoutMs, [&](int index, Bytes& m) {
    if (index != 1) return;
    auto it = std::search(m.begin(), m.end(), fake_id.begin(), fake_id.end());
    if (it != m.end()) std::copy(real_id.begin(), real_id.end(), it);
  });
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(relayed.done());
}

TEST_F(ClaimTest, A16_TamperedOwnerKeyInTransitIsRefused) {
  ClaimClient client(lock_.label, owner_, owner_rng_.drbg);
  const Status s = RunClaim(client, lock_.server, 1000, [](int index, Bytes& m) {
    if (index == 4) m[m.size() - 20] ^= 1;  // inside the sealed owner key of M5
  });
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(lock_.authority.claimed());
}

TEST_F(ClaimTest, A16_WindowClosesAfterTenMinutes) {
  ClaimClient client(lock_.label, owner_, owner_rng_.drbg);
  EXPECT_EQ(RunClaim(client, lock_.server, kClaimWindowMs).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(lock_.authority.claimed());
}

TEST(ClaimWindowTest, A16_WindowIsClosedUntilAPhysicalActionOpensIt) {
  TestLock lock(41);
  testing::SeededDrbg rng(42);
  ClaimClient client(lock.label, testing::NewKey(rng.drbg), rng.drbg);
  EXPECT_EQ(RunClaim(client, lock.server).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(lock.server.OpenWindow(5000).ok());
  ClaimClient again(lock.label, testing::NewKey(rng.drbg), rng.drbg);
  EXPECT_TRUE(RunClaim(again, lock.server, 6000).ok());
}

TEST_F(ClaimTest, A16_PakeRunsPerWindowAreLimited) {
  ClaimLabel wrong = lock_.label;
  wrong.setup_code = wrong.setup_code == 314159265 ? 271828182 : 314159265;
  uint64_t t = 1000;
  for (int i = 0; i < kMaxClaimAttempts; ++i, t += kClaimStepTimeoutMs) {
    ClaimClient guess(wrong, owner_, owner_rng_.drbg);
    EXPECT_EQ(RunClaim(guess, lock_.server, t).code(), StatusCode::kUnauthenticated);
  }
  ClaimClient right(lock_.label, owner_, owner_rng_.drbg);
  EXPECT_EQ(RunClaim(right, lock_.server, t).code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(lock_.server.window_open(t));
  // A new press of the button opens a new window.
  ASSERT_TRUE(lock_.server.OpenWindow(t + 1000).ok());
  ClaimClient later(lock_.label, owner_, owner_rng_.drbg);
  EXPECT_TRUE(RunClaim(later, lock_.server, t + 2000).ok());
}

TEST(ClaimWindowTest, A16_RestartingTheLockGivesNoMorePakeRuns) {
  // The runs are counted durably: a lock restarted (battery pulled) reopens
  // its window with what is left of the budget, not a new one.
  TestLock lock(61);
  testing::SeededDrbg rng(62);
  const crypto::P256KeyPair owner = testing::NewKey(rng.drbg);
  ClaimLabel wrong = lock.label;
  wrong.setup_code = wrong.setup_code == 314159265 ? 271828182 : 314159265;
  ASSERT_TRUE(lock.server.OpenWindow(0).ok());
  uint64_t t = 1000;
  for (int i = 0; i < kMaxClaimAttempts - 2; ++i, t += kClaimStepTimeoutMs) {
    ClaimClient guess(wrong, owner, rng.drbg);
    ASSERT_EQ(RunClaim(guess, lock.server, t).code(), StatusCode::kUnauthenticated);
  }
  // Restart: a new server over the same store, as LockNode::Start does.
  ClaimServer rebooted(lock.authority, lock.store);
  ASSERT_TRUE(rebooted.ResumeWindow(0).ok());
  EXPECT_EQ(rebooted.attempts(), kMaxClaimAttempts - 2);
  t = 1000;
  for (int i = 0; i < 2; ++i, t += kClaimStepTimeoutMs) {
    ClaimClient guess(wrong, owner, rng.drbg);
    ASSERT_EQ(RunClaim(guess, rebooted, t).code(), StatusCode::kUnauthenticated);
  }
  ClaimClient right(lock.label, owner, rng.drbg);
  EXPECT_EQ(RunClaim(right, rebooted, t).code(), StatusCode::kResourceExhausted);
  // Restarted again with the budget spent: the window stays closed.
  ClaimServer again(lock.authority, lock.store);
  ASSERT_TRUE(again.ResumeWindow(t).ok());
  EXPECT_FALSE(again.window_open(t));
  ClaimClient still(lock.label, owner, rng.drbg);
  EXPECT_EQ(RunClaim(still, again, t).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(lock.authority.claimed());
  // A physical action gives a fresh budget, durably too.
  ASSERT_TRUE(again.OpenWindow(t).ok());
  ClaimServer after_press(lock.authority, lock.store);
  ASSERT_TRUE(after_press.ResumeWindow(t).ok());
  EXPECT_EQ(after_press.attempts(), 0);
  ClaimClient owner_claim(lock.label, owner, rng.drbg);
  EXPECT_TRUE(RunClaim(owner_claim, after_press, t + 1000).ok());
}

TEST_F(ClaimTest, A16_AStrayHelloCannotAbortAClaimInProgress) {
  // The owner's exchange is between M4 and M5 when someone in reach sends a
  // hello (or garbage, or an out-of-order datagram): refused, and the
  // owner's claim completes.
  ClaimClient client(lock_.label, owner_, owner_rng_.drbg);
  testing::SeededDrbg stranger_rng(24);
  ClaimClient stranger(lock_.label, testing::NewKey(stranger_rng.drbg), stranger_rng.drbg);
  uint8_t hello[kMaxClaimMessageSize];
  Result<size_t> hello_len = stranger.Start(hello);
  ASSERT_TRUE(hello_len.ok());
  uint8_t reply[kMaxClaimMessageSize];
  const uint8_t garbage[] = {0xFF, 0x01, 0x02};
  int strays = 0;
  const Status s = RunClaim(client, lock_.server, 1000, [&](int index, Bytes&) {
    if (index != 2 && index != 4) return;  // before M3 and before M5
    ASSERT_TRUE(lock_.server.Handle(std::span<const uint8_t>(hello, *hello_len), 1000, reply).ok());
    EXPECT_EQ(lock_.server.last_status().code(), StatusCode::kUnavailable);
    ASSERT_TRUE(lock_.server.Handle(garbage, 1000, reply).ok());
    EXPECT_EQ(lock_.server.last_status().code(), StatusCode::kInvalidArgument);
    ++strays;
  });
  EXPECT_EQ(strays, 2);
  ASSERT_TRUE(s.ok()) << s.name();
  EXPECT_TRUE(*lock_.authority.owner() == owner_.public_key());
}

TEST_F(ClaimTest, A18_AStalledClaimHoldsTheWindowOnlyBriefly) {
  // A client sends a hello and vanishes: others wait at most
  // kClaimStepTimeoutMs, then a hello takes the window over.
  testing::SeededDrbg stuck_rng(25);
  ClaimClient stuck(lock_.label, testing::NewKey(stuck_rng.drbg), stuck_rng.drbg);
  uint8_t m1[kMaxClaimMessageSize], reply[kMaxClaimMessageSize];
  Result<size_t> n = stuck.Start(m1);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(lock_.server.Handle(std::span<const uint8_t>(m1, *n), 1000, reply).ok());
  ASSERT_TRUE(lock_.server.last_status().ok());
  ClaimClient early(lock_.label, owner_, owner_rng_.drbg);
  EXPECT_EQ(RunClaim(early, lock_.server, 1000 + kClaimStepTimeoutMs - 1).code(), StatusCode::kUnavailable);
  ClaimClient owner(lock_.label, owner_, owner_rng_.drbg);
  EXPECT_TRUE(RunClaim(owner, lock_.server, 1000 + kClaimStepTimeoutMs).ok());
}

TEST_F(ClaimTest, A18_HoldingTheWindowWithHellosSpendsItsRuns) {
  // An attacker in reach re-sends a hello each time the last one stalls, to
  // hold the exchange: each hello is a run, so it cannot hold the window for
  // free; after kMaxClaimAttempts the window stays closed to everyone until
  // a physical action reopens it (the documented residual), never longer.
  testing::SeededDrbg rng(26);
  const crypto::P256KeyPair key = testing::NewKey(rng.drbg);
  uint8_t m1[kMaxClaimMessageSize], reply[kMaxClaimMessageSize];
  uint64_t now = 1000;
  for (uint32_t i = 0; i < kMaxClaimAttempts; ++i, now += kClaimStepTimeoutMs) {
    ClaimClient holder(lock_.label, key, rng.drbg);
    Result<size_t> n = holder.Start(m1);
    ASSERT_TRUE(n.ok());
    ASSERT_TRUE(lock_.server.Handle(std::span<const uint8_t>(m1, *n), now, reply).ok());
    ASSERT_TRUE(lock_.server.last_status().ok()) << i;
  }
  ClaimClient last(lock_.label, key, rng.drbg);
  Result<size_t> n = last.Start(m1);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(lock_.server.Handle(std::span<const uint8_t>(m1, *n), now, reply).ok());
  EXPECT_EQ(lock_.server.last_status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(*lock_.store.ReadCounter(kCounterClaimRuns), kMaxClaimAttempts);
}

TEST_F(ClaimTest, OutOfOrderAndMalformedDatagramsAreRefused) {
  uint8_t reply[kMaxClaimMessageSize];
  const uint8_t garbage[] = {0xFF, 0x01, 0x02};
  ASSERT_TRUE(lock_.server.Handle(garbage, 10, reply).ok());
  EXPECT_EQ(lock_.server.last_status().code(), StatusCode::kInvalidArgument);
  // A ClaimFinish with no exchange before it.
  ClaimClient client(lock_.label, owner_, owner_rng_.drbg);
  Bytes finish;
  RunClaim(client, lock_.server, 10, [&](int index, Bytes& m) {
    if (index == 4) finish = m;
  }).IgnoreError();
  TestLock other(51);
  ASSERT_TRUE(other.server.OpenWindow(0).ok());
  ASSERT_TRUE(other.server.Handle(finish, 10, reply).ok());
  EXPECT_EQ(other.server.last_status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(other.authority.claimed());
}

TEST(SetupCodeTest, A16_TrivialCodesAreRefused) {
  for (uint32_t c : {0u, 111111111u, 999999999u, 123456789u, 987654321u, 12345678u, 890123456u, 876543210u,
                     121212121u, 123123123u, 123412341u, 101010101u, 1000000000u, 4294967295u}) {
    EXPECT_TRUE(IsTrivialSetupCode(c)) << c;
  }
  for (uint32_t c : {314159265u, 271828182u, 100000007u, 20482611u}) EXPECT_FALSE(IsTrivialSetupCode(c)) << c;
}

TEST(SetupCodeTest, A16_GeneratedCodesAreNonTrivialAndSpread) {
  testing::SeededDrbg rng(61);
  std::set<uint32_t> seen;
  uint32_t high_digit_counts[10] = {};
  for (int i = 0; i < 2000; ++i) {
    Result<uint32_t> c = GenerateSetupCode(rng.drbg);
    ASSERT_TRUE(c.ok());
    EXPECT_LT(*c, kSetupCodeModulus);
    EXPECT_FALSE(IsTrivialSetupCode(*c));
    seen.insert(*c);
    ++high_digit_counts[*c / 100000000];
  }
  EXPECT_EQ(seen.size(), 2000u);
  for (uint32_t n : high_digit_counts) EXPECT_GT(n, 120u);  // about 200 each if uniform
}

TEST(SetupCodeTest, LabelRoundTripsAndParsingIsStrict) {
  ClaimLabel label;
  label.lock_id.fill(0xA5);
  label.key_hash.fill(0x3C);
  label.setup_code = 20482611;
  char text[kLabelTextSize];
  Result<size_t> n = EncodeLabel(label, text);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, kLabelTextSize);
  const std::string s(text, *n);
  std::printf("label: %s (%zu chars); setup code %.9s\n", s.c_str(), s.size(), SetupCodeDigits(label.setup_code).data());
  Result<ClaimLabel> back = ParseLabel(s);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->lock_id, label.lock_id);
  EXPECT_EQ(back->key_hash, label.key_hash);
  EXPECT_EQ(back->setup_code, label.setup_code);
  EXPECT_EQ(std::string(SetupCodeDigits(20482611).data(), 9), "020482611");
  for (const std::string& bad : {s.substr(0, s.size() - 1), s + "A", "MC2." + s.substr(4), s.substr(0, 10) + "=" + s.substr(11)}) {
    EXPECT_FALSE(ParseLabel(bad).ok()) << bad;
  }
  label.setup_code = 123456789;
  EXPECT_EQ(EncodeLabel(label, text).status().code(), StatusCode::kInvalidArgument);
}

TEST(ClaimCoreTest, ClaimInstallsTheOfflinePinSecretInTheCore) {
  sim::MemoryStore store;
  sim::SimLock sim(&store);
  ASSERT_TRUE(sim.Start().ok());
  EXPECT_FALSE(sim.lock().offline_pins_enabled());
  testing::SeededDrbg rng(71);
  LockAuthority authority(store, rng.drbg);
  ASSERT_TRUE(authority.Start().ok());
  Result<ClaimLabel> label = ProvisionSetupCode(authority.identity(), store, rng.drbg, crypto::kPakeMinIterations);
  ASSERT_TRUE(label.ok());
  ClaimServer server(authority, store, &sim.lock());
  ASSERT_TRUE(server.OpenWindow(0).ok());
  testing::SeededDrbg owner_rng(72);
  ClaimClient client(*label, testing::NewKey(owner_rng.drbg), owner_rng.drbg);
  ASSERT_TRUE(RunClaim(client, server).ok());
  EXPECT_TRUE(sim.lock().offline_pins_enabled());
}


// Finding 1 of the protocol review: a factory reset and a re-claim by the
// same owner key used to revive every unexpired certificate, revoked ones
// included (certificates named only the lock id and the issuer's key id,
// which both survive a reset). Each claim now has its own generation.
TEST_F(ClaimTest, A01_FactoryResetAndReclaimDoesNotReviveRevokedKeys) {
  ClaimClient first(lock_.label, owner_, owner_rng_.drbg);
  ASSERT_TRUE(RunClaim(first, lock_.server).ok());
  const uint32_t generation = first.claim_generation();
  EXPECT_EQ(generation, lock_.authority.claim_generation());
  EXPECT_NE(generation, 0u);
  const LockId lock_id = lock_.authority.identity().lock_id();
  auto issue = [&](const crypto::P256KeyPair& holder, Role role, uint64_t serial, uint32_t gen) {
    CertificateFields f = testing::Fields(lock_id, holder, role, RoleAllowedPermissions(role) & ~kPermDelegate, serial);
    f.claim_generation = gen;
    return testing::Chain(testing::Issue(f, owner_, owner_rng_.drbg));
  };
  const crypto::P256KeyPair guest = testing::NewKey(owner_rng_.drbg);
  const crypto::P256KeyPair admin = testing::NewKey(owner_rng_.drbg);
  const Bytes revoked_guest = issue(guest, Role::kGuest, 0x1111, generation);
  const Bytes older_guest = issue(guest, Role::kGuest, 0x2222, generation);  // never revoked, never re-issued
  const Bytes revoked_admin = issue(admin, Role::kAdmin, 0x3333, generation);
  AccessListState list = testing::ListAt(1);
  list.claim_generation = generation;
  list.revoked[list.revoked_count++] = testing::By(owner_, 0x1111);
  list.revoked[list.revoked_count++] = testing::By(owner_, 0x3333);
  Bytes update(kMaxAccessListUpdateSize);
  Result<size_t> n = SignAccessList(list, lock_id, owner_, owner_rng_.drbg, update);
  ASSERT_TRUE(n.ok());
  update.resize(*n);
  ASSERT_TRUE(lock_.authority.ApplyAccessList(update).ok());
  EXPECT_EQ(lock_.authority.VerifyKey(revoked_guest, std::nullopt, 0).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(lock_.authority.VerifyKey(older_guest, std::nullopt, 0).ok());

  // Factory reset (the list goes with it), then the same owner claims again.
  ASSERT_TRUE(lock_.authority.Wipe().ok());
  ASSERT_TRUE(lock_.server.OpenWindow(5000).ok());
  ClaimClient again(lock_.label, owner_, owner_rng_.drbg);
  ASSERT_TRUE(RunClaim(again, lock_.server, 6000).ok());
  EXPECT_GT(again.claim_generation(), generation);
  // A new offline-PIN secret: codes of the first claim are over too.
  EXPECT_FALSE(crypto::ConstantTimeEqual(again.offline_pin_secret().span(), first.offline_pin_secret().span()));
  for (const Bytes* chain : {&revoked_guest, &older_guest, &revoked_admin}) {
    EXPECT_EQ(lock_.authority.VerifyKey(*chain, std::nullopt, 0).status().code(), StatusCode::kPermissionDenied);
  }
  // The old list cannot come back either (nor a copy re-signed at its version).
  EXPECT_EQ(lock_.authority.ApplyAccessList(update).code(), StatusCode::kPermissionDenied);
  // A restart keeps the generation; keys issued for it work.
  LockAuthority rebooted(lock_.store, lock_.rng.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.claim_generation(), again.claim_generation());
  EXPECT_EQ(rebooted.VerifyKey(older_guest, std::nullopt, 0).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(rebooted.VerifyKey(issue(guest, Role::kGuest, 0x4444, again.claim_generation()), std::nullopt, 0).ok());
}

TEST_F(ClaimTest, A01_ClaimGenerationNeverRepeatsAcrossPowerCutsAndResets) {
  // The counter is raised before the owner is stored: a failed store write
  // skips a generation, never reuses one.
  lock_.store.set_fail_record_writes(true);  // counters still work, records fail
  ClaimClient failed(lock_.label, owner_, owner_rng_.drbg);
  EXPECT_FALSE(RunClaim(failed, lock_.server).ok());
  lock_.store.set_fail_record_writes(false);
  EXPECT_EQ(*lock_.store.ReadCounter(kCounterClaimGeneration), 1u);
  EXPECT_FALSE(lock_.authority.claimed());
  ASSERT_TRUE(lock_.server.OpenWindow(2000).ok());
  ClaimClient ok(lock_.label, owner_, owner_rng_.drbg);
  ASSERT_TRUE(RunClaim(ok, lock_.server, 3000).ok());
  const uint64_t counter = *lock_.store.ReadCounter(kCounterClaimGeneration);
  EXPECT_EQ(counter, 2u);  // generation 1 was skipped, not reused
  EXPECT_EQ(ok.claim_generation(), counter);
  ASSERT_TRUE(lock_.authority.Wipe().ok());
  EXPECT_EQ(*lock_.store.ReadCounter(kCounterClaimGeneration), counter);  // a reset never lowers it
}

}  // namespace
}  // namespace mortise::protocol
