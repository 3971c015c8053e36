// Attack A01: revocation evasion. The revocation reaches the lock through
// any device; an older list replayed is refused, also after a restart.
#include "mortise/protocol/access_list.h"

#include <gtest/gtest.h>

#include <vector>

#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/records.h"
#include "mortise/sim/memory_store.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using testing::Chain;
using testing::Fields;
using testing::Issue;
using testing::kNoon;

class AccessListTest : public ::testing::Test {
 protected:
  AccessListTest()
      : lock_rng_(1), owner_rng_(2), owner_(testing::NewKey(owner_rng_.drbg)),
        guest_(testing::NewKey(owner_rng_.drbg)), authority_(store_, lock_rng_.drbg) {
    EXPECT_TRUE(authority_.Start().ok());
    uint8_t pin[kOfflinePinSecretSize] = {};
    EXPECT_TRUE(authority_.InstallOwner(owner_.public_key(), pin).ok());
    lock_id_ = authority_.identity().lock_id();
  }

  std::vector<uint8_t> SignedList(const AccessListState& state, const crypto::P256KeyPair& signer) {
    std::vector<uint8_t> out(kMaxAccessListUpdateSize);
    Result<size_t> n = SignAccessList(state, lock_id_, signer, owner_rng_.drbg, out);
    EXPECT_TRUE(n.ok()) << n.status().name();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  std::vector<uint8_t> Revoking(uint64_t version, std::initializer_list<uint64_t> serials) {
    AccessListState s = testing::ListAt(version);
    for (uint64_t serial : serials) s.revoked[s.revoked_count++] = testing::By(owner_, serial);
    return SignedList(s, owner_);
  }
  std::vector<uint8_t> GuestKey(uint64_t serial) {
    CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, serial);
    f.not_before = kNoon - 86400;
    f.not_after = kNoon + 86400;
    return Chain(Issue(f, owner_, owner_rng_.drbg));
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, guest_;
  sim::MemoryStore store_;
  LockAuthority authority_;
  LockId lock_id_{};
};

TEST_F(AccessListTest, A01_RevocationCarriedByAnotherDeviceRefusesTheOfflineGuest) {
  const std::vector<uint8_t> guest_key = GuestKey(500);  // the guest's phone stays offline with this
  ASSERT_TRUE(authority_.VerifyKey(guest_key, kNoon, 0).ok());
  // The owner revokes; a member's phone (any device) carries the bytes.
  const std::vector<uint8_t> carried = Revoking(1, {500});
  ASSERT_TRUE(authority_.ApplyAccessList(carried).ok());
  EXPECT_EQ(authority_.VerifyKey(guest_key, kNoon, 0).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(AccessListTest, A01_ExpiredKeyFailsWhileTheLockIsOffline) {
  const std::vector<uint8_t> guest_key = GuestKey(501);
  EXPECT_EQ(authority_.VerifyKey(guest_key, kNoon + 86400, 0).status().code(), StatusCode::kOutOfRange);
}

TEST_F(AccessListTest, A01_OlderAccessListReplayedIsRefused) {
  const std::vector<uint8_t> v1 = Revoking(1, {});
  const std::vector<uint8_t> v2 = Revoking(2, {502});
  ASSERT_TRUE(authority_.ApplyAccessList(v2).ok());
  EXPECT_EQ(authority_.ApplyAccessList(v1).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(authority_.ApplyAccessList(v2).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(authority_.VerifyKey(GuestKey(502), kNoon, 0).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(AccessListTest, A01_OlderAccessListReplayedAfterRestartIsRefused) {
  const std::vector<uint8_t> v1 = Revoking(1, {});
  ASSERT_TRUE(authority_.ApplyAccessList(Revoking(5, {503})).ok());
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.access_list().version, 5u);
  EXPECT_EQ(rebooted.ApplyAccessList(v1).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(rebooted.VerifyKey(GuestKey(503), kNoon, 0).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(rebooted.ApplyAccessList(Revoking(6, {})).ok());
}

TEST_F(AccessListTest, A01_VersionIsAlsoADurableCounter) {
  ASSERT_TRUE(authority_.ApplyAccessList(Revoking(9, {})).ok());
  EXPECT_EQ(*store_.ReadCounter(kCounterAccessListVersion), 9u);
}

TEST_F(AccessListTest, A01_WipedListDoesNotLowerTheFloor) {
  // A factory reset forgets the list but not the counter: an old owner's
  // lists cannot be replayed to the next owner's lock.
  const std::vector<uint8_t> v3 = Revoking(3, {});
  ASSERT_TRUE(authority_.ApplyAccessList(Revoking(4, {})).ok());
  ASSERT_TRUE(authority_.Wipe().ok());
  uint8_t pin[kOfflinePinSecretSize] = {};
  ASSERT_TRUE(authority_.InstallOwner(owner_.public_key(), pin).ok());
  EXPECT_EQ(authority_.access_list_floor(), 4u);
  // The old list is of the previous claim; the same version signed for this
  // claim is below the floor.
  EXPECT_EQ(authority_.ApplyAccessList(v3).code(), StatusCode::kPermissionDenied);
  AccessListState again = testing::ListAt(3);
  again.claim_generation = authority_.claim_generation();
  EXPECT_EQ(authority_.ApplyAccessList(SignedList(again, owner_)).code(), StatusCode::kAlreadyExists);
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.access_list_floor(), 4u);
}

TEST_F(AccessListTest, ForgedOrMisdirectedListsAreRefused) {
  testing::SeededDrbg other(77);
  const crypto::P256KeyPair stranger = testing::NewKey(other.drbg);
  AccessListState s = testing::ListAt(10);
  EXPECT_EQ(authority_.ApplyAccessList(SignedList(s, stranger)).code(), StatusCode::kUnauthenticated);
  LockId saved = lock_id_;
  lock_id_[0] ^= 1;
  const std::vector<uint8_t> other_lock = SignedList(s, owner_);
  lock_id_ = saved;
  EXPECT_EQ(authority_.ApplyAccessList(other_lock).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(authority_.access_list().version, 0u);
}

TEST_F(AccessListTest, TamperedListIsRefused) {
  const std::vector<uint8_t> good = Revoking(1, {504});
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x04;
    EXPECT_FALSE(authority_.ApplyAccessList(bad).ok()) << i;
  }
  EXPECT_EQ(authority_.access_list().version, 0u);
}

TEST_F(AccessListTest, RaisingTheEpochRevokesEveryOlderKeyOfThatIssuer) {
  CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 505);
  f.issuer_epoch = 0;
  const std::vector<uint8_t> old_key = Chain(Issue(f, owner_, owner_rng_.drbg));
  f.issuer_epoch = 1;
  f.serial = 506;
  const std::vector<uint8_t> new_key = Chain(Issue(f, owner_, owner_rng_.drbg));
  AccessListState s = testing::ListAt(1);
  s.epoch_count = 1;
  s.epochs[0] = IssuerMinEpoch{KeyIdOf(owner_.public_key()), 1};
  ASSERT_TRUE(authority_.ApplyAccessList(SignedList(s, owner_)).ok());
  EXPECT_EQ(authority_.VerifyKey(old_key, std::nullopt, 0).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(authority_.VerifyKey(new_key, std::nullopt, 0).ok());
}

TEST_F(AccessListTest, DisableThenEnableAUser) {
  const std::vector<uint8_t> key = GuestKey(507);
  AccessListState s = testing::ListAt(1);
  s.disabled_count = 1;
  s.disabled[0] = testing::By(owner_, 507);
  ASSERT_TRUE(authority_.ApplyAccessList(SignedList(s, owner_)).ok());
  EXPECT_EQ(authority_.VerifyKey(key, kNoon, 0).status().code(), StatusCode::kPermissionDenied);
  AccessListState enabled = testing::ListAt(2);
  ASSERT_TRUE(authority_.ApplyAccessList(SignedList(enabled, owner_)).ok());
  EXPECT_TRUE(authority_.VerifyKey(key, kNoon, 0).ok());
}

TEST_F(AccessListTest, FailedStoreWriteChangesNothing) {
  store_.set_fail_writes(true);
  EXPECT_FALSE(authority_.ApplyAccessList(Revoking(1, {508})).ok());
  store_.set_fail_writes(false);
  EXPECT_EQ(authority_.access_list().version, 0u);
  EXPECT_TRUE(authority_.VerifyKey(GuestKey(508), kNoon, 0).ok());
  EXPECT_TRUE(authority_.ApplyAccessList(Revoking(1, {508})).ok());
}

TEST_F(AccessListTest, FullSnapshotRoundTripsThroughTheStore) {
  AccessListState s = testing::ListAt(77);
  for (size_t i = 0; i < kMaxRevokedKeys; ++i) s.revoked[s.revoked_count++] = testing::By(owner_, 0xFFFFFFFF00000000ull + i);
  for (size_t i = 0; i < kMaxIssuerEpochs; ++i) {
    s.epochs[s.epoch_count].issuer.fill(static_cast<uint8_t>(i + 1));
    s.epochs[s.epoch_count++].min_epoch = 1000 + static_cast<uint32_t>(i);
  }
  for (size_t i = 0; i < kMaxDisabledKeys; ++i) s.disabled[s.disabled_count++] = testing::By(guest_, 42 + i);
  const std::vector<uint8_t> update = SignedList(s, owner_);
  std::printf("full access-list update: %zu B\n", update.size());
  ASSERT_TRUE(authority_.ApplyAccessList(update).ok());
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  const AccessListState& r = rebooted.access_list();
  EXPECT_EQ(r.version, 77u);
  EXPECT_TRUE(r.IsRevoked(testing::By(owner_, 0xFFFFFFFF00000000ull + kMaxRevokedKeys - 1)));
  EXPECT_TRUE(r.IsDisabled(testing::By(guest_, 42 + kMaxDisabledKeys - 1)));
  EXPECT_FALSE(r.IsDisabled(testing::By(owner_, 42 + kMaxDisabledKeys - 1)));
  EXPECT_EQ(r.claim_generation, testing::kGeneration);
  KeyId k;
  k.fill(4);
  EXPECT_EQ(r.MinEpochFor(k), 1003u);
}

TEST_F(AccessListTest, OverCapacityIsRefusedWhenSigning) {
  AccessListState s = testing::ListAt(1);
  s.revoked_count = kMaxRevokedKeys + 1;
  std::vector<uint8_t> out(kMaxAccessListUpdateSize);
  EXPECT_EQ(SignAccessList(s, lock_id_, owner_, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mortise::protocol
