// Access groups (issue 9 item 3): group-scoped certificates, the lock's
// signed and versioned group membership, and frame 0x05, which carries
// access lists and memberships without a session (item 4). Attacks A03
// (replay), A06 (downgrade), A12 (privilege escalation), A18 (floods).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <pb_encode.h>

#include "mortise.pb.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/records.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::By;
using testing::Chain;
using testing::Fields;
using testing::Issue;
using testing::kNoon;

constexpr uint64_t kFrontDoors = 0x0123456789ABCDEFull;
constexpr uint64_t kBackDoors = 0x00000000000000B0ull;
constexpr uint64_t kGroupSerial = 0x7700000000000001ull;

// A group-scoped certificate: no lock, no claim generation, a group.
CertificateFields GroupFields(const crypto::P256KeyPair& holder, Role role, uint32_t permissions, uint64_t serial,
                              uint64_t group) {
  CertificateFields f;
  f.scope = Scope::kGroup;
  f.group_id = group;
  f.holder_key = holder.public_key().Compressed();
  f.role = role;
  f.permissions = permissions;
  f.serial = serial;
  return f;
}

GroupMembershipState Membership(uint64_t version, std::initializer_list<uint64_t> groups) {
  GroupMembershipState s;
  s.version = version;
  s.claim_generation = testing::kGeneration;
  for (const uint64_t g : groups) s.groups[s.count++] = g;
  return s;
}

class GroupTest : public ::testing::Test {
 protected:
  GroupTest()
      : lock_rng_(31), owner_rng_(32), owner_(testing::NewKey(owner_rng_.drbg)), admin_(testing::NewKey(owner_rng_.drbg)),
        guest_(testing::NewKey(owner_rng_.drbg)), stranger_(testing::NewKey(owner_rng_.drbg)),
        authority_(store_, lock_rng_.drbg) {
    EXPECT_TRUE(authority_.Start().ok());
    uint8_t pin[kOfflinePinSecretSize] = {};
    EXPECT_TRUE(authority_.InstallOwner(owner_.public_key(), pin).ok());
    lock_id_ = authority_.identity().lock_id();
  }

  Bytes GroupKey(uint64_t group = kFrontDoors, uint32_t max_uses = 0, const crypto::P256KeyPair* issuer = nullptr) {
    CertificateFields f = GroupFields(guest_, Role::kGuest, kPermLock | kPermUnlock, kGroupSerial, group);
    f.max_uses = max_uses;
    return Chain(Issue(f, issuer ? *issuer : owner_, owner_rng_.drbg));
  }
  Bytes Signed(const GroupMembershipState& s, const crypto::P256KeyPair& signer, const Bytes& cert = {}) {
    Bytes out(kMaxGroupMembershipUpdateSize);
    Result<size_t> n = SignGroupMembership(s, lock_id_, signer, owner_rng_.drbg, out, cert);
    EXPECT_TRUE(n.ok()) << n.status().name();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  Status Apply(const Bytes& update) { return authority_.ApplyGroupMembership(update, kNoon, 0); }
  Result<VerifiedKey> Verify(const Bytes& chain) { return authority_.VerifyKey(chain, kNoon, 0); }
  // `list` signed by the owner.
  Bytes OwnerList(const AccessListState& list) {
    Bytes out(kMaxAccessListUpdateSize);
    Result<size_t> n = SignAccessList(list, lock_id_, owner_, owner_rng_.drbg, out);
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  Bytes AdminCert(uint32_t permissions) {
    return Issue(Fields(lock_id_, admin_, Role::kAdmin, permissions, 90), owner_, owner_rng_.drbg);
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, admin_, guest_, stranger_;
  sim::MemoryStore store_;
  LockAuthority authority_;
  LockId lock_id_{};
};

TEST_F(GroupTest, GroupCertificateNamesItsGroupAndNoLock) {
  const Bytes cert = Issue(GroupFields(guest_, Role::kGuest, kPermUnlock, 5, kFrontDoors), owner_, owner_rng_.drbg);
  Result<CertificateFields> f = DecodeCertificate(cert);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->scope, Scope::kGroup);
  EXPECT_EQ(f->group_id, kFrontDoors);
  EXPECT_EQ(f->lock_id, LockId{});
  // A lock certificate decodes as scope 1 with no group.
  Result<CertificateFields> l = DecodeCertificate(Issue(Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 6), owner_, owner_rng_.drbg));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->scope, Scope::kLock);
  EXPECT_EQ(l->group_id, 0u);
}

TEST_F(GroupTest, IssuingRefusesAGroupWithoutIdOrWithAClaimGenerationAndALockKeyWithAGroup) {
  Bytes out(kMaxCertificateSize);
  CertificateFields f = GroupFields(guest_, Role::kGuest, kPermUnlock, 5, 0);
  EXPECT_EQ(IssueCertificate(f, owner_, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  f.group_id = kFrontDoors;
  f.claim_generation = 1;
  EXPECT_EQ(IssueCertificate(f, owner_, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  CertificateFields l = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 6);
  l.group_id = kFrontDoors;
  EXPECT_EQ(IssueCertificate(l, owner_, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
}

// A hand-made tbs with an explicit scope 1, or scope 2 with a lock id: one
// encoding per meaning, so both are refused.
// Variants: an explicit lock scope; a group key naming a lock; an unknown
// scope; a group key without a group id (it would pass for a lock key of
// every door); a group key naming a claim generation; a lock key naming a
// group.
TEST_F(GroupTest, ExplicitLockScopeAndAGroupCertificateNamingALockAreRefused) {
  for (int variant = 0; variant < 6; ++variant) {
    mortise_KeyCertificateTbs tbs = mortise_KeyCertificateTbs_init_zero;
    tbs.version = kCertificateVersion;
    const CompressedKey holder = guest_.public_key().Compressed();
    tbs.holder_key.size = holder.size();
    std::memcpy(tbs.holder_key.bytes, holder.data(), holder.size());
    tbs.role = static_cast<uint32_t>(Role::kGuest);
    tbs.permissions = kPermUnlock;
    tbs.serial = 9;
    const KeyId issuer = KeyIdOf(owner_.public_key());
    tbs.issuer_key_id.size = issuer.size();
    std::memcpy(tbs.issuer_key_id.bytes, issuer.data(), issuer.size());
    tbs.lock_id.size = kLockIdSize;
    std::memcpy(tbs.lock_id.bytes, lock_id_.data(), kLockIdSize);
    tbs.claim_generation = testing::kGeneration;
    if (variant == 0) tbs.scope = 1;
    if (variant == 1) {
      tbs.scope = 2;
      tbs.group_id = kFrontDoors;
      tbs.claim_generation = 0;
    }
    if (variant == 2) tbs.scope = 3;
    if (variant >= 3 && variant <= 4) {
      tbs.scope = 2;
      tbs.lock_id.size = 0;
      tbs.group_id = variant == 3 ? 0 : kFrontDoors;
      tbs.claim_generation = variant == 3 ? 0 : testing::kGeneration;
    }
    if (variant == 5) tbs.group_id = kFrontDoors;
    mortise_KeyCertificate cert = mortise_KeyCertificate_init_zero;
    pb_ostream_t os = pb_ostream_from_buffer(cert.tbs.bytes, sizeof(cert.tbs.bytes));
    ASSERT_TRUE(pb_encode(&os, mortise_KeyCertificateTbs_fields, &tbs));
    cert.tbs.size = static_cast<pb_size_t>(os.bytes_written);
    const crypto::P256Signature sig =
        testing::DomainSign("mortise-cert-v1", std::span<const uint8_t>(cert.tbs.bytes, cert.tbs.size), owner_, owner_rng_.drbg);
    cert.signature.size = sig.size();
    std::memcpy(cert.signature.bytes, sig.data(), sig.size());
    Bytes wire(kMaxCertificateSize);
    pb_ostream_t ws = pb_ostream_from_buffer(wire.data(), wire.size());
    ASSERT_TRUE(pb_encode(&ws, mortise_KeyCertificate_fields, &cert));
    wire.resize(ws.bytes_written);
    EXPECT_EQ(DecodeCertificate(wire).status().code(), StatusCode::kInvalidArgument) << variant;
  }
}

TEST_F(GroupTest, A12_GroupKeyAtALockOutsideTheGroupIsRefused) {
  const Bytes key = GroupKey();
  EXPECT_EQ(Verify(key).status().code(), StatusCode::kPermissionDenied);  // no membership yet
  ASSERT_TRUE(Apply(Signed(Membership(1, {kBackDoors}), owner_)).ok());
  EXPECT_EQ(Verify(key).status().code(), StatusCode::kPermissionDenied);  // another group
  ASSERT_TRUE(Apply(Signed(Membership(2, {kBackDoors, kFrontDoors}), owner_)).ok());
  Result<VerifiedKey> v = Verify(key);
  ASSERT_TRUE(v.ok()) << v.status().name();
  EXPECT_EQ(v->grant.role, Role::kGuest);
}

TEST_F(GroupTest, A12_TakingTheDoorOutOfTheGroupEndsTheKeyInsideAnOpenSession) {
  const Bytes key = GroupKey();
  ASSERT_TRUE(Apply(Signed(Membership(1, {kFrontDoors}), owner_)).ok());
  Result<VerifiedKey> v = Verify(key);
  ASSERT_TRUE(v.ok());
  sim::SimLock sim(&store_);
  ASSERT_TRUE(sim.Start().ok());
  EXPECT_TRUE(authority_.Recheck(*v, sim.lock()).ok());
  ASSERT_TRUE(Apply(Signed(Membership(2, {}), owner_)).ok());
  EXPECT_EQ(authority_.Recheck(*v, sim.lock()).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(key).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(GroupTest, A12_GroupKeyOfAnotherOwnerIsRefused) {
  ASSERT_TRUE(Apply(Signed(Membership(1, {kFrontDoors}), owner_)).ok());
  // The same group id, signed by another organisation's owner key.
  EXPECT_EQ(Verify(GroupKey(kFrontDoors, 0, &stranger_)).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(GroupTest, A12_ForgedOrTamperedMembershipIsRefused) {
  const Bytes key = GroupKey();
  EXPECT_EQ(Apply(Signed(Membership(1, {kFrontDoors}), stranger_)).code(), StatusCode::kUnauthenticated);
  const Bytes good = Signed(Membership(1, {kFrontDoors}), owner_);
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes bad = good;
    bad[i] ^= 0x10;
    EXPECT_FALSE(Apply(bad).ok()) << i;
  }
  EXPECT_EQ(authority_.group_membership().version, 0u);
  EXPECT_EQ(Verify(key).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(GroupTest, A12_MembershipForAnotherLockOrAnEarlierClaimIsRefused) {
  GroupMembershipState s = Membership(1, {kFrontDoors});
  Bytes out(kMaxGroupMembershipUpdateSize);
  LockId other = lock_id_;
  other[0] ^= 1;
  Result<size_t> n = SignGroupMembership(s, other, owner_, owner_rng_.drbg, out);
  ASSERT_TRUE(n.ok());
  out.resize(*n);
  EXPECT_EQ(Apply(out).code(), StatusCode::kPermissionDenied);
  s.claim_generation = testing::kGeneration + 1;
  EXPECT_EQ(Apply(Signed(s, owner_)).code(), StatusCode::kPermissionDenied);
}

TEST_F(GroupTest, A06_DowngradedMembershipIsRefused) {
  ASSERT_TRUE(Apply(Signed(Membership(5, {kFrontDoors}), owner_)).ok());
  // A lower version (an older, wider membership) is not taken back.
  EXPECT_EQ(Apply(Signed(Membership(4, {kFrontDoors, kBackDoors}), owner_)).code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(authority_.group_membership().Contains(kBackDoors));
}

TEST_F(GroupTest, A03_OldMembershipReplayedBeforeOrAfterARestartIsRefused) {
  const Bytes v1 = Signed(Membership(1, {kFrontDoors}), owner_);
  const Bytes v2 = Signed(Membership(2, {}), owner_);
  ASSERT_TRUE(Apply(v1).ok());
  ASSERT_TRUE(Apply(v2).ok());
  EXPECT_EQ(Apply(v1).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Apply(v2).code(), StatusCode::kAlreadyExists);
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.group_membership().version, 2u);
  EXPECT_EQ(rebooted.ApplyGroupMembership(v1, kNoon, 0).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(rebooted.VerifyKey(GroupKey(), kNoon, 0).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(GroupTest, A12_MembershipSignedByAnAdminWithoutTheRightIsRefused) {
  const Bytes without = AdminCert(kPermLock | kPermUnlock | kPermDelegate);
  EXPECT_EQ(Apply(Signed(Membership(1, {kFrontDoors}), admin_, without)).code(), StatusCode::kPermissionDenied);
  const Bytes with = AdminCert(kPermLock | kPermManageGroups);
  ASSERT_TRUE(Apply(Signed(Membership(1, {kFrontDoors}), admin_, with)).ok());
  EXPECT_TRUE(authority_.group_membership().by_admin);
  EXPECT_TRUE(Verify(GroupKey()).ok());
  // The admin's certificate, signed over by another key: not the admin's.
  EXPECT_EQ(Apply(Signed(Membership(2, {}), stranger_, with)).code(), StatusCode::kUnauthenticated);
}

TEST_F(GroupTest, A12_ARevokedAdminChangesNoMembership) {
  const Bytes with = AdminCert(kPermLock | kPermManageGroups);
  AccessListState list = testing::ListAt(1);
  list.revoked[list.revoked_count++] = By(owner_, 90);
  ASSERT_TRUE(authority_.ApplyAccessList(OwnerList(list)).ok());
  EXPECT_EQ(Apply(Signed(Membership(1, {kFrontDoors}), admin_, with)).code(), StatusCode::kPermissionDenied);
}

// Review of issue 9 item 3: one version sequence for the owner and its
// admins; an admin signing version 2^64-1 would leave the owner no version
// above it, ever (the floor survives a factory reset). Each step is bounded.
TEST_F(GroupTest, A12_AVersionTooFarAboveTheHighestAcceptedIsRefusedSoNoSignerPinsTheDoor) {
  const Bytes with = AdminCert(kPermLock | kPermManageGroups);
  EXPECT_EQ(Apply(Signed(Membership(UINT64_MAX, {kFrontDoors}), admin_, with)).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(Apply(Signed(Membership(kMaxGroupMembershipVersionStep + 1, {kFrontDoors}), owner_)).code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(authority_.group_membership().version, 0u);
  ASSERT_TRUE(Apply(Signed(Membership(kMaxGroupMembershipVersionStep, {kFrontDoors}), admin_, with)).ok());
  // The owner still has a version above it.
  ASSERT_TRUE(Apply(Signed(Membership(kMaxGroupMembershipVersionStep + 1, {}), owner_)).ok());
  EXPECT_EQ(Apply(Signed(Membership(3 * kMaxGroupMembershipVersionStep, {}), admin_, with)).code(),
            StatusCode::kOutOfRange);
}

// A membership an admin signed lasts only while the owner would still accept
// that admin: revoking or disabling it, or its certificate's end, empties
// the membership, also after a restart (the admin's identity is stored).
TEST_F(GroupTest, A12_AMembershipSignedByAnAdminRevokedOrDisabledLaterCountsAsEmpty) {
  for (const bool disable : {false, true}) {
    sim::MemoryStore store;
    LockAuthority authority(store, lock_rng_.drbg);
    ASSERT_TRUE(authority.Start().ok());
    uint8_t pin[kOfflinePinSecretSize] = {};
    ASSERT_TRUE(authority.InstallOwner(owner_.public_key(), pin).ok());
    lock_id_ = authority.identity().lock_id();
    const Bytes with = AdminCert(kPermLock | kPermManageGroups);
    ASSERT_TRUE(authority.ApplyGroupMembership(Signed(Membership(1, {kFrontDoors}), admin_, with), kNoon, 0).ok());
    ASSERT_TRUE(authority.VerifyKey(GroupKey(), kNoon, 0).ok());
    AccessListState list = testing::ListAt(1);
    if (disable) {
      list.disabled[list.disabled_count++] = By(owner_, 90);
    } else {
      list.revoked[list.revoked_count++] = By(owner_, 90);
    }
    ASSERT_TRUE(authority.ApplyAccessList(OwnerList(list)).ok());
    EXPECT_EQ(authority.VerifyKey(GroupKey(), kNoon, 0).status().code(), StatusCode::kPermissionDenied) << disable;
    LockAuthority rebooted(store, lock_rng_.drbg);
    ASSERT_TRUE(rebooted.Start().ok());
    EXPECT_TRUE(rebooted.group_membership().by_admin);
    EXPECT_EQ(rebooted.VerifyKey(GroupKey(), kNoon, 0).status().code(), StatusCode::kPermissionDenied) << disable;
  }
}

TEST_F(GroupTest, A12_AMembershipSignedByAnAdminCountsAsEmptyOnceItsCertificateEnds) {
  CertificateFields f = testing::Fields(lock_id_, admin_, Role::kAdmin, kPermLock | kPermManageGroups, 90);
  f.not_after = kNoon + 3600;
  const Bytes with = Issue(f, owner_, owner_rng_.drbg);
  ASSERT_TRUE(Apply(Signed(Membership(1, {kFrontDoors}), admin_, with)).ok());
  EXPECT_TRUE(authority_.VerifyKey(GroupKey(), kNoon + 3599, 0).ok());
  EXPECT_EQ(authority_.VerifyKey(GroupKey(), kNoon + 3600, 0).status().code(), StatusCode::kPermissionDenied);
  // The owner's membership does not depend on any admin.
  ASSERT_TRUE(Apply(Signed(Membership(2, {kFrontDoors}), owner_)).ok());
  EXPECT_TRUE(authority_.VerifyKey(GroupKey(), kNoon + 3600, 0).ok());
}

TEST_F(GroupTest, GroupKeysAreRevokedLikeLockKeys) {
  ASSERT_TRUE(Apply(Signed(Membership(1, {kFrontDoors}), owner_)).ok());
  const Bytes key = GroupKey();
  ASSERT_TRUE(Verify(key).ok());
  AccessListState list = testing::ListAt(1);
  list.revoked[list.revoked_count++] = By(owner_, kGroupSerial);
  ASSERT_TRUE(authority_.ApplyAccessList(OwnerList(list)).ok());
  EXPECT_EQ(Verify(key).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(GroupTest, GroupKeyUsesAreCountedLikeALockKeys) {
  ASSERT_TRUE(Apply(Signed(Membership(1, {kFrontDoors}), owner_)).ok());
  Result<VerifiedKey> v = Verify(GroupKey(kFrontDoors, 2));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(authority_.ConsumeUse(*v, kNoon).ok());
  EXPECT_TRUE(authority_.ConsumeUse(*v, kNoon).ok());
  EXPECT_EQ(authority_.ConsumeUse(*v, kNoon).code(), StatusCode::kResourceExhausted);
  Result<uint32_t> uses = authority_.UsesOf(By(owner_, kGroupSerial));
  ASSERT_TRUE(uses.ok());
  EXPECT_EQ(*uses, 2u);
}

TEST_F(GroupTest, DelegatedGroupKeysStayInTheAdminsScope) {
  ASSERT_TRUE(Apply(Signed(Membership(1, {kFrontDoors, kBackDoors}), owner_)).ok());
  CertificateFields admin = GroupFields(admin_, Role::kAdmin, kPermLock | kPermUnlock | kPermDelegate, 91, kFrontDoors);
  const Bytes admin_cert = Issue(admin, owner_, owner_rng_.drbg);
  CertificateFields leaf = GroupFields(guest_, Role::kGuest, kPermUnlock, 92, kFrontDoors);
  leaf.parent_serial = 91;
  EXPECT_TRUE(Verify(Chain(admin_cert, Issue(leaf, admin_, owner_rng_.drbg))).ok());
  leaf.group_id = kBackDoors;  // another group than the admin's
  EXPECT_EQ(Verify(Chain(admin_cert, Issue(leaf, admin_, owner_rng_.drbg))).status().code(),
            StatusCode::kPermissionDenied);
  CertificateFields lock_leaf = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 93);
  lock_leaf.parent_serial = 91;  // a lock key under a group admin
  EXPECT_EQ(Verify(Chain(admin_cert, Issue(lock_leaf, admin_, owner_rng_.drbg))).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(GroupTest, FactoryResetForgetsTheMembershipButNotItsFloor) {
  ASSERT_TRUE(Apply(Signed(Membership(3, {kFrontDoors}), owner_)).ok());
  ASSERT_TRUE(authority_.Wipe().ok());
  EXPECT_EQ(authority_.group_membership().version, 0u);
  EXPECT_EQ(authority_.group_membership_floor(), 3u);
  // After a restart too: the floor is the durable counter, not the record.
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.group_membership_floor(), 3u);
  uint8_t pin[kOfflinePinSecretSize] = {};
  ASSERT_TRUE(rebooted.InstallOwner(owner_.public_key(), pin).ok());
  EXPECT_EQ(rebooted.VerifyKey(GroupKey(), kNoon, 0).status().code(), StatusCode::kPermissionDenied);
  // The new claim's memberships continue above the floor.
  GroupMembershipState next = Membership(3, {kFrontDoors});
  next.claim_generation = rebooted.claim_generation();
  EXPECT_EQ(rebooted.ApplyGroupMembership(Signed(next, owner_), kNoon, 0).code(), StatusCode::kAlreadyExists);
  next.version = 4;
  EXPECT_TRUE(rebooted.ApplyGroupMembership(Signed(next, owner_), kNoon, 0).ok());
  EXPECT_TRUE(rebooted.VerifyKey(GroupKey(), kNoon, 0).ok());
}

// A wipe cut short by power (the owner erased, the membership record not
// yet): the next claim must not inherit the earlier claim's membership.
TEST_F(GroupTest, A12_AMembershipOfAnEarlierClaimLeftInTheStoreIsNotUsed) {
  ASSERT_TRUE(Apply(Signed(Membership(1, {kFrontDoors}), owner_)).ok());
  const uint32_t key = core::MakeRecordKey(kRecordGroupMembership, 0);
  uint8_t record[core::kMaxRecordSize];
  Result<size_t> n = store_.Read(key, record);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(authority_.Wipe().ok());
  ASSERT_TRUE(store_.Write(key, std::span<const uint8_t>(record, *n)).ok());  // left behind
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  uint8_t pin[kOfflinePinSecretSize] = {};
  ASSERT_TRUE(rebooted.InstallOwner(owner_.public_key(), pin).ok());
  EXPECT_EQ(rebooted.group_membership().version, 1u);  // the stale record
  EXPECT_EQ(rebooted.VerifyKey(GroupKey(), kNoon, 0).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(GroupTest, MembershipsOfSixteenGroupsRoundTripAndSeventeenAreRefused) {
  GroupMembershipState s = Membership(1, {});
  for (uint64_t g = 16; g >= 1; --g) s.groups[s.count++] = g * 1000;  // any order: signing sorts
  const Bytes update = Signed(s, owner_);
  std::printf("group membership of 16 groups: %zu B\n", update.size());
  ASSERT_TRUE(Apply(update).ok());
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.group_membership().count, 16);
  EXPECT_TRUE(rebooted.group_membership().Contains(16000));
  EXPECT_EQ(rebooted.group_membership().groups[0], 1000u);
  const Bytes by_admin = Signed(s, admin_, AdminCert(kPermLock | kPermUnlock | kPermDelegate | kPermManageGroups));
  std::printf("group membership of 16 groups signed by an admin: %zu B\n", by_admin.size());
  EXPECT_LE(by_admin.size(), kMaxGroupMembershipUpdateSize);
  CertificateFields g = GroupFields(guest_, Role::kGuest, kPermLock | kPermUnlock, 0xFFFFFFFFFFFFFFF0ull, kFrontDoors);
  g.not_before = 1750000000;
  g.not_after = 1790000000;
  g.schedule = WeeklyWindow{0x3E, 420, 1140};
  g.max_uses = 1000;
  const Bytes group_cert = Issue(g, owner_, owner_rng_.drbg);
  std::printf("group certificate (window, schedule, uses): %zu B; chain %zu B\n", group_cert.size(), Chain(group_cert).size());
  s.count = kMaxGroupsPerLock + 1;
  Bytes out(kMaxGroupMembershipUpdateSize);
  EXPECT_EQ(SignGroupMembership(s, lock_id_, owner_, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  s = Membership(2, {7, 7});
  EXPECT_EQ(SignGroupMembership(s, lock_id_, owner_, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GroupTest, AFailedStoreWriteChangesNothing) {
  store_.set_fail_record_writes(true);
  EXPECT_FALSE(Apply(Signed(Membership(1, {kFrontDoors}), owner_)).ok());
  store_.set_fail_record_writes(false);
  EXPECT_EQ(authority_.group_membership().version, 0u);
  EXPECT_EQ(authority_.group_membership_floor(), 0u);
  EXPECT_TRUE(Apply(Signed(Membership(1, {kFrontDoors}), owner_)).ok());
}

// --- Power cuts: the membership on a real record store over flash -----------------

// A power cut at every flash operation of accepting a membership: after
// the reboot the lock holds the old or the new membership, whole, and its
// floor covers the one it holds, so neither can be replayed above it.
TEST(GroupPowerCutTest, MembershipSurvivesAPowerCutAtEveryFlashOperation) {
  testing::SeededDrbg owner_rng(41);
  const crypto::P256KeyPair owner = testing::NewKey(owner_rng.drbg);
  uint64_t cuts = 0;
  for (uint64_t cut = 0;; ++cut) {
    constexpr size_t kBlock = 1024;
    std::vector<uint8_t> memory(8 * kBlock);
    std::vector<uint32_t> counts(8);
    store::FakeFlash flash(memory, counts, kBlock, 7);
    store::FlashPartition part(flash, 0, 8);
    auto holder = std::make_unique<store::StaticRecordStore<>>(part);
    ASSERT_TRUE(holder->store.Mount().ok());
    testing::SeededDrbg lock_rng(42);
    Bytes v1, v2;
    uint64_t start_ops = 0;
    {
      LockAuthority authority(holder->store, lock_rng.drbg);
      ASSERT_TRUE(authority.Start().ok());
      uint8_t pin[kOfflinePinSecretSize] = {};
      ASSERT_TRUE(authority.InstallOwner(owner.public_key(), pin).ok());
      const LockId lock_id = authority.identity().lock_id();
      for (int i = 0; i < 2; ++i) {
        Bytes out(kMaxGroupMembershipUpdateSize);
        Result<size_t> n = SignGroupMembership(Membership(i + 1, {i == 0 ? kFrontDoors : kBackDoors}), lock_id, owner,
                                               owner_rng.drbg, out);
        ASSERT_TRUE(n.ok());
        out.resize(*n);
        (i == 0 ? v1 : v2) = out;
      }
      ASSERT_TRUE(authority.ApplyGroupMembership(v1, kNoon, 0).ok());
      start_ops = flash.operation_count();
      flash.CutPowerAt(start_ops + cut);
      const Status s = authority.ApplyGroupMembership(v2, kNoon, 0);
      if (flash.powered()) {
        ASSERT_TRUE(s.ok());
        break;  // no operation left to cut
      }
    }
    ++cuts;
    flash.Reboot();
    holder = std::make_unique<store::StaticRecordStore<>>(part);
    ASSERT_TRUE(holder->store.Mount().ok()) << cut;
    LockAuthority after(holder->store, lock_rng.drbg);
    ASSERT_TRUE(after.Start().ok()) << cut;
    const GroupMembershipState m = after.group_membership();  // a copy: the retry below changes it
    ASSERT_TRUE(m.version == 1 || m.version == 2) << cut;
    EXPECT_EQ(m.count, 1) << cut;
    EXPECT_EQ(m.groups[0], m.version == 1 ? kFrontDoors : kBackDoors) << cut;
    EXPECT_GE(after.group_membership_floor(), m.version) << cut;
    EXPECT_EQ(after.ApplyGroupMembership(v1, kNoon, 0).code(), StatusCode::kAlreadyExists) << cut;
    // The new one: refused again once held, accepted when the cut lost it.
    const StatusCode retried = after.ApplyGroupMembership(v2, kNoon, 0).code();
    EXPECT_EQ(retried, m.version == 2 ? StatusCode::kAlreadyExists : StatusCode::kOk) << cut;
  }
  EXPECT_GT(cuts, 0u);
}

// --- Frame 0x05: signed updates without a session -----------------------------------

class SignedUpdateFrameTest : public ::testing::Test {
 protected:
  SignedUpdateFrameTest() : lock_rng_(51), owner_rng_(52), owner_(testing::NewKey(owner_rng_.drbg)),
                            guest_(testing::NewKey(owner_rng_.drbg)), stranger_(testing::NewKey(owner_rng_.drbg)) {
    sim_ = std::make_unique<sim::SimLock>(&store_);
    EXPECT_TRUE(sim_->Start().ok());
    authority_ = std::make_unique<LockAuthority>(store_, lock_rng_.drbg);
    EXPECT_TRUE(authority_->Start().ok());
    node_ = std::make_unique<LockNode>(*authority_, sim_->lock(), store_);
    EXPECT_TRUE(node_->Start(now_ms_).ok());
    uint8_t pin[kOfflinePinSecretSize] = {};
    EXPECT_TRUE(authority_->InstallOwner(owner_.public_key(), pin).ok());
    lock_id_ = authority_->identity().lock_id();
  }
  Bytes Send(SignedUpdateKind kind, const Bytes& update) {
    Bytes frame(2 + update.size());
    Result<size_t> n = EncodeSignedUpdateFrame(kind, update, frame);
    EXPECT_TRUE(n.ok());
    Bytes reply(kMaxRemoteFrameSize);
    Result<size_t> r = node_->Handle(frame, now_ms_, reply);
    EXPECT_TRUE(r.ok());
    reply.resize(r.ok() ? *r : 0);
    return reply;
  }
  SignedUpdateReply Reply(SignedUpdateKind kind, const Bytes& update) {
    Result<SignedUpdateReply> r = DecodeSignedUpdateReply(Send(kind, update));
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : SignedUpdateReply{};
  }
  Bytes Acl(uint64_t version, uint64_t revoked_serial, const crypto::P256KeyPair& signer) {
    AccessListState s = testing::ListAt(version);
    s.revoked[s.revoked_count++] = By(owner_, revoked_serial);
    Bytes out(kMaxAccessListUpdateSize);
    Result<size_t> n = SignAccessList(s, lock_id_, signer, owner_rng_.drbg, out);
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  Bytes Groups(uint64_t version, std::initializer_list<uint64_t> groups, const crypto::P256KeyPair& signer) {
    Bytes out(kMaxGroupMembershipUpdateSize);
    Result<size_t> n = SignGroupMembership(Membership(version, groups), lock_id_, signer, owner_rng_.drbg, out);
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? *n : 0);
    return out;
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, guest_, stranger_;
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<LockAuthority> authority_;
  std::unique_ptr<LockNode> node_;
  LockId lock_id_{};
  uint64_t now_ms_ = 1000;
};

TEST_F(SignedUpdateFrameTest, A01_AnAccessListArrivesWithoutASessionAndTheAnswerSaysTheVersionHeld) {
  const Bytes key = Chain(Issue(Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 61), owner_, owner_rng_.drbg));
  ASSERT_TRUE(authority_->VerifyKey(key, kNoon, 0).ok());
  const SignedUpdateReply r = Reply(SignedUpdateKind::kAccessList, Acl(1, 61, owner_));
  EXPECT_EQ(r.kind, SignedUpdateKind::kAccessList);
  EXPECT_EQ(r.status, StatusCode::kOk);
  EXPECT_EQ(r.held_version, 1u);
  EXPECT_EQ(authority_->VerifyKey(key, kNoon, 0).status().code(), StatusCode::kPermissionDenied);
  // Sent again (any device may carry it twice): not above, and it says so.
  const SignedUpdateReply again = Reply(SignedUpdateKind::kAccessList, Acl(1, 61, owner_));
  EXPECT_EQ(again.status, StatusCode::kAlreadyExists);
  EXPECT_EQ(again.held_version, 1u);
}

// Review of issue 9 item 3: a list applied through frame 0x05 is logged as
// one applied in a session is (kAccessListChange, no key carried it), once
// per new version; one refused or delivered again is not.
TEST_F(SignedUpdateFrameTest, AnAccessListAppliedThroughTheFrameIsLogged) {
  const auto changes = [&] {
    std::vector<core::LockEvent> out;
    for (const core::LockEvent& e : sim_->events().events)
      if (e.kind == core::EventKind::kAccessListChange) out.push_back(e);
    return out;
  };
  ASSERT_EQ(Reply(SignedUpdateKind::kAccessList, Acl(1, 61, owner_)).status, StatusCode::kOk);
  std::vector<core::LockEvent> logged = changes();
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].data_index, 1u);  // the keys it revokes or suspends
  EXPECT_FALSE(logged[0].has_credential);
  EXPECT_EQ(logged[0].source, core::OperationSource::kProprietaryRemote);
  EXPECT_EQ(Reply(SignedUpdateKind::kAccessList, Acl(1, 61, owner_)).status, StatusCode::kAlreadyExists);
  EXPECT_EQ(Reply(SignedUpdateKind::kAccessList, Acl(2, 61, stranger_)).status, StatusCode::kUnauthenticated);
  EXPECT_EQ(changes().size(), 1u);
}

TEST_F(SignedUpdateFrameTest, AMembershipArrivesWithoutASession) {
  const SignedUpdateReply r = Reply(SignedUpdateKind::kGroupMembership, Groups(4, {kFrontDoors}, owner_));
  EXPECT_EQ(r.kind, SignedUpdateKind::kGroupMembership);
  EXPECT_EQ(r.status, StatusCode::kOk);
  EXPECT_EQ(r.held_version, 4u);
  EXPECT_TRUE(authority_->group_membership().Contains(kFrontDoors));
}

TEST_F(SignedUpdateFrameTest, ForgeriesAreAnsweredWithAStatusAndChangeNothing) {
  EXPECT_EQ(Reply(SignedUpdateKind::kAccessList, Acl(1, 61, stranger_)).status, StatusCode::kUnauthenticated);
  EXPECT_EQ(Reply(SignedUpdateKind::kGroupMembership, Groups(1, {kFrontDoors}, stranger_)).status,
            StatusCode::kUnauthenticated);
  EXPECT_EQ(authority_->access_list().version, 0u);
  EXPECT_EQ(authority_->group_membership().version, 0u);
}

TEST_F(SignedUpdateFrameTest, UnparseableUpdatesAreAnsweredWithZero) {
  const Bytes good = Groups(1, {kFrontDoors}, owner_);
  Bytes reply(kMaxRemoteFrameSize);
  const Bytes no_kind = {0x05};
  const Bytes bad_kind = {0x05, 0x09, 0x0A, 0x00};
  Bytes truncated = {0x05, 0x02};
  truncated.insert(truncated.end(), good.begin(), good.end() - 1);
  Bytes wrong_kind = {0x05, 0x01};  // a membership announced as an access list
  wrong_kind.insert(wrong_kind.end(), good.begin(), good.end());
  for (const Bytes& f : {no_kind, bad_kind, truncated, wrong_kind}) {
    Result<size_t> n = node_->Handle(f, now_ms_, reply);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1u);
    EXPECT_EQ(reply[0], 0x00);
  }
  EXPECT_EQ(authority_->group_membership().version, 0u);
}

// Cheap checks run before any signature: a forged update for another lock,
// another claim or a version not above the held one costs a decode and is
// never verified (one not above is answered with a receipt while the budget
// lasts: UpdateReceiptTest).
TEST_F(SignedUpdateFrameTest, A18_CheapChecksRefuseBeforeTheSignatureAndFloodsAreBudgeted) {
  ASSERT_EQ(Reply(SignedUpdateKind::kGroupMembership, Groups(10, {kFrontDoors}, owner_)).status, StatusCode::kOk);
  // Not above the held version, even signed by a stranger: refused unverified.
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Reply(SignedUpdateKind::kGroupMembership, Groups(10, {}, stranger_)).status, StatusCode::kAlreadyExists);
  }
  // (Their receipts spent the signature budget; it refills with time.)
  now_ms_ += kSignedUpdateBurst * kSignedUpdateCostMs;
  // Well-formed forgeries above the floor: at most the burst is verified at
  // once, the rest answered kUnavailable until time passes.
  int unauthenticated = 0, unavailable = 0;
  for (int i = 0; i < 20; ++i) {
    const StatusCode s = Reply(SignedUpdateKind::kGroupMembership, Groups(11 + i, {}, stranger_)).status;
    if (s == StatusCode::kUnauthenticated) ++unauthenticated;
    if (s == StatusCode::kUnavailable) ++unavailable;
  }
  EXPECT_EQ(unauthenticated, static_cast<int>(kSignedUpdateBurst));
  EXPECT_EQ(unavailable, 20 - unauthenticated);
  // The owner's genuine update waits out the flood, then goes through.
  EXPECT_EQ(Reply(SignedUpdateKind::kGroupMembership, Groups(12, {}, owner_)).status, StatusCode::kUnavailable);
  now_ms_ += kSignedUpdateBurst * kSignedUpdateCostMs;
  EXPECT_EQ(Reply(SignedUpdateKind::kGroupMembership, Groups(12, {}, owner_)).status, StatusCode::kOk);
  EXPECT_EQ(authority_->group_membership().count, 0);
}

TEST_F(SignedUpdateFrameTest, AnUnclaimedLockRefusesUpdates) {
  ASSERT_TRUE(node_->FactoryReset(now_ms_).ok());
  const SignedUpdateReply r = Reply(SignedUpdateKind::kGroupMembership, Groups(1, {kFrontDoors}, owner_));
  EXPECT_EQ(r.status, StatusCode::kFailedPrecondition);
  EXPECT_FALSE(r.signature.has_value());
}

// --- Frame 0x05 receipts: the lock signs what it holds for exactly these bytes ---

class UpdateReceiptTest : public SignedUpdateFrameTest {
 protected:
  Result<uint64_t> Verify(const SignedUpdateReply& r, SignedUpdateKind kind, const Bytes& update) {
    return VerifySignedUpdateReceipt(r, authority_->identity().public_key(), lock_id_,
                                     authority_->claim_generation(), kind, update);
  }
};

TEST_F(UpdateReceiptTest, AnAppliedUpdateAndOneAlreadyHeldAreAnsweredWithAReceiptThatVerifies) {
  const Bytes acl = Acl(3, 61, owner_);
  const Bytes frame = Send(SignedUpdateKind::kAccessList, acl);
  EXPECT_EQ(frame.size(), kSignedUpdateReceiptReplySize);
  const Result<SignedUpdateReply> r = DecodeSignedUpdateReply(frame);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  ASSERT_TRUE(r->signature.has_value());
  const Result<uint64_t> held = Verify(*r, SignedUpdateKind::kAccessList, acl);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(*held, 3u);
  // The same bytes again: kAlreadyExists, signed too (the server's resend
  // after an unsigned answer is confirmed so).
  const SignedUpdateReply again = Reply(SignedUpdateKind::kAccessList, acl);
  EXPECT_EQ(again.status, StatusCode::kAlreadyExists);
  ASSERT_TRUE(Verify(again, SignedUpdateKind::kAccessList, acl).ok());
  EXPECT_EQ(*Verify(again, SignedUpdateKind::kAccessList, acl), 3u);
  // A membership too.
  const Bytes groups = Groups(2, {kFrontDoors}, owner_);
  const SignedUpdateReply m = Reply(SignedUpdateKind::kGroupMembership, groups);
  ASSERT_EQ(m.status, StatusCode::kOk);
  ASSERT_TRUE(Verify(m, SignedUpdateKind::kGroupMembership, groups).ok());
  EXPECT_EQ(*Verify(m, SignedUpdateKind::kGroupMembership, groups), 2u);
}

TEST_F(UpdateReceiptTest, A09_AReceiptForAnotherUpdateLockClaimOrKindOrWithAnEditedByteDoesNotVerify) {
  const Bytes acl = Acl(3, 61, owner_);
  const Bytes frame = Send(SignedUpdateKind::kAccessList, acl);
  const Result<SignedUpdateReply> r = DecodeSignedUpdateReply(frame);
  ASSERT_TRUE(r.ok() && r->signature.has_value());
  const crypto::P256PublicKey& lock_key = authority_->identity().public_key();
  const uint32_t gen = authority_->claim_generation();
  ASSERT_TRUE(VerifySignedUpdateReceipt(*r, lock_key, lock_id_, gen, SignedUpdateKind::kAccessList, acl).ok());
  // Another update: a later version, the same list re-signed, one byte edited.
  const Bytes later = Acl(4, 61, owner_);
  const Bytes resigned = Acl(3, 61, owner_);
  ASSERT_NE(resigned, acl);
  Bytes edited = acl;
  edited[edited.size() / 2] ^= 0x01;
  for (const Bytes& other : {later, resigned, edited}) {
    EXPECT_EQ(VerifySignedUpdateReceipt(*r, lock_key, lock_id_, gen, SignedUpdateKind::kAccessList, other).status().code(),
              StatusCode::kUnauthenticated);
  }
  // Another lock (its id; its key), another claim.
  LockId other_lock = lock_id_;
  other_lock[0] ^= 0x01;
  EXPECT_FALSE(VerifySignedUpdateReceipt(*r, lock_key, other_lock, gen, SignedUpdateKind::kAccessList, acl).ok());
  EXPECT_FALSE(
      VerifySignedUpdateReceipt(*r, stranger_.public_key(), lock_id_, gen, SignedUpdateKind::kAccessList, acl).ok());
  EXPECT_FALSE(VerifySignedUpdateReceipt(*r, lock_key, lock_id_, gen + 1, SignedUpdateKind::kAccessList, acl).ok());
  // Another kind: asked for, or the reply's kind byte edited.
  EXPECT_FALSE(VerifySignedUpdateReceipt(*r, lock_key, lock_id_, gen, SignedUpdateKind::kGroupMembership, acl).ok());
  SignedUpdateReply as_membership = *r;
  as_membership.kind = SignedUpdateKind::kGroupMembership;
  EXPECT_FALSE(
      VerifySignedUpdateReceipt(as_membership, lock_key, lock_id_, gen, SignedUpdateKind::kGroupMembership, acl).ok());
  // Any byte of the reply edited (kind, status, held version, signature).
  for (size_t at = 1; at < frame.size(); ++at) {
    Bytes f = frame;
    f[at] ^= 0x01;
    const Result<SignedUpdateReply> e = DecodeSignedUpdateReply(f);
    if (!e.ok()) continue;
    EXPECT_FALSE(VerifySignedUpdateReceipt(*e, lock_key, lock_id_, gen, SignedUpdateKind::kAccessList, acl).ok()) << at;
  }
  // Cut to the unsigned form: nothing to verify.
  const Bytes cut(frame.begin(), frame.begin() + kSignedUpdateReplySize);
  const Result<SignedUpdateReply> u = DecodeSignedUpdateReply(cut);
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->signature.has_value());
  EXPECT_EQ(VerifySignedUpdateReceipt(*u, lock_key, lock_id_, gen, SignedUpdateKind::kAccessList, acl).status().code(),
            StatusCode::kUnauthenticated);
  // Neither length nor any other is decoded.
  EXPECT_FALSE(DecodeSignedUpdateReply(Bytes(frame.begin(), frame.end() - 1)).ok());
}

TEST_F(UpdateReceiptTest, A18_AReplayedUpdateIsSignedOnlyWhileTheBudgetLastsThenAnsweredUnsigned) {
  const Bytes acl = Acl(1, 61, owner_);
  ASSERT_TRUE(Reply(SignedUpdateKind::kAccessList, acl).signature.has_value());  // check + receipt: 2 spent
  int signed_replies = 0, unsigned_replies = 0;
  for (int i = 0; i < 30; ++i) {
    const Bytes frame = Send(SignedUpdateKind::kAccessList, acl);
    const Result<SignedUpdateReply> r = DecodeSignedUpdateReply(frame);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, StatusCode::kAlreadyExists);
    EXPECT_EQ(r->held_version, 1u);
    if (r->signature) {
      ++signed_replies;
      EXPECT_TRUE(Verify(*r, SignedUpdateKind::kAccessList, acl).ok());
    } else {
      ++unsigned_replies;
      EXPECT_EQ(frame.size(), kSignedUpdateReplySize);
    }
  }
  EXPECT_EQ(signed_replies, static_cast<int>(kSignedUpdateBurst) - 2);
  EXPECT_EQ(unsigned_replies, 30 - signed_replies);
  // Time refills it: one receipt per kSignedUpdateCostMs.
  now_ms_ += kSignedUpdateCostMs;
  EXPECT_TRUE(Reply(SignedUpdateKind::kAccessList, acl).signature.has_value());
  EXPECT_FALSE(Reply(SignedUpdateKind::kAccessList, acl).signature.has_value());
  // A valid new update whose check spent the last share is applied, and
  // answered unsigned; sent again later, it is confirmed signed.
  now_ms_ += kSignedUpdateCostMs;
  const Bytes next = Acl(2, 61, owner_);
  const SignedUpdateReply applied = Reply(SignedUpdateKind::kAccessList, next);
  EXPECT_EQ(applied.status, StatusCode::kOk);
  EXPECT_FALSE(applied.signature.has_value());
  now_ms_ += kSignedUpdateCostMs;
  const SignedUpdateReply later = Reply(SignedUpdateKind::kAccessList, next);
  EXPECT_EQ(later.status, StatusCode::kAlreadyExists);
  ASSERT_TRUE(Verify(later, SignedUpdateKind::kAccessList, next).ok());
  EXPECT_EQ(*Verify(later, SignedUpdateKind::kAccessList, next), 2u);
}

// Lists are whole snapshots: holding version V says nothing about another
// list signed at V or below (a second device of the owner that had not seen
// the first's list). "Already held" is receipted only for the exact bytes
// this node applied; for any other it stays unsigned, so its signer is never
// told the lock holds what it did not apply.
TEST_F(UpdateReceiptTest, A09_AnotherListAtTheHeldVersionOrBelowGetsNoReceipt) {
  const Bytes first = Acl(3, 61, owner_);
  ASSERT_EQ(Reply(SignedUpdateKind::kAccessList, first).status, StatusCode::kOk);
  const Bytes other_device = Acl(3, 62, owner_);  // the same version, another revocation
  const Bytes older = Acl(2, 62, owner_);
  for (const Bytes& other : {other_device, older}) {
    const Bytes frame = Send(SignedUpdateKind::kAccessList, other);
    const Result<SignedUpdateReply> r = DecodeSignedUpdateReply(frame);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, StatusCode::kAlreadyExists);
    EXPECT_EQ(r->held_version, 3u);
    EXPECT_FALSE(r->signature.has_value());
    EXPECT_EQ(frame.size(), kSignedUpdateReplySize);
  }
  // The bytes it applied: receipted.
  EXPECT_TRUE(Verify(Reply(SignedUpdateKind::kAccessList, first), SignedUpdateKind::kAccessList, first).ok());
  // A membership held but not applied through this node (another kind's
  // digest does not count either).
  const Bytes groups = Groups(2, {kFrontDoors}, owner_);
  ASSERT_EQ(Reply(SignedUpdateKind::kGroupMembership, groups).status, StatusCode::kOk);
  EXPECT_FALSE(Reply(SignedUpdateKind::kGroupMembership, Groups(2, {}, owner_)).signature.has_value());
  EXPECT_TRUE(Reply(SignedUpdateKind::kGroupMembership, groups).signature.has_value());
}

TEST_F(UpdateReceiptTest, RefusalsAreNeverSigned) {
  // Forged (kUnauthenticated), another lock (kPermissionDenied), the
  // budget spent (kUnavailable): the 11-byte form.
  EXPECT_EQ(Send(SignedUpdateKind::kAccessList, Acl(1, 61, stranger_)).size(), kSignedUpdateReplySize);
  Bytes other(kMaxAccessListUpdateSize);
  LockId other_lock = lock_id_;
  other_lock[0] ^= 0x01;
  AccessListState s = testing::ListAt(1);
  const Result<size_t> n = SignAccessList(s, other_lock, owner_, owner_rng_.drbg, other);
  ASSERT_TRUE(n.ok());
  other.resize(*n);
  const Bytes denied = Send(SignedUpdateKind::kAccessList, other);
  ASSERT_TRUE(DecodeSignedUpdateReply(denied).ok());
  EXPECT_EQ(DecodeSignedUpdateReply(denied)->status, StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.size(), kSignedUpdateReplySize);
  for (uint64_t v = 2; v < 2 + kSignedUpdateBurst; ++v) Send(SignedUpdateKind::kAccessList, Acl(v, 61, stranger_));
  const Bytes busy = Send(SignedUpdateKind::kAccessList, Acl(20, 61, owner_));
  ASSERT_TRUE(DecodeSignedUpdateReply(busy).ok());
  EXPECT_EQ(DecodeSignedUpdateReply(busy)->status, StatusCode::kUnavailable);
  EXPECT_EQ(busy.size(), kSignedUpdateReplySize);
}

}  // namespace
}  // namespace mortise::protocol
