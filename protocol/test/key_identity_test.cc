// Key identities, the key table, use limits along a chain and the checks of
// a two-link chain (attacks A01 revocation, A12 delegation; issue 9 item 1,
// protocol review findings 6 and 11).
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include <pb_encode.h>

#include "mortise.pb.h"
#include "mortise/protocol/handlers.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/records.h"
#include "mortise/sim/memory_store.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::By;
using testing::Chain;
using testing::Fields;
using testing::Issue;
using testing::kNoon;
using testing::Under;

constexpr uint64_t kSerial = 0x5E5E5E5E5E5E5E5Eull;  // drawn by both issuers
constexpr uint64_t kAdminSerial = 70;

class KeyIdentityTest : public ::testing::Test {
 protected:
  KeyIdentityTest()
      : lock_rng_(5), owner_rng_(6), owner_(testing::NewKey(owner_rng_.drbg)), admin_(testing::NewKey(owner_rng_.drbg)),
        guest_(testing::NewKey(owner_rng_.drbg)), other_guest_(testing::NewKey(owner_rng_.drbg)),
        authority_(store_, lock_rng_.drbg) {
    EXPECT_TRUE(authority_.Start().ok());
    uint8_t pin[kOfflinePinSecretSize] = {};
    EXPECT_TRUE(authority_.InstallOwner(owner_.public_key(), pin).ok());
    EXPECT_EQ(authority_.claim_generation(), testing::kGeneration);
    lock_id_ = authority_.identity().lock_id();
  }

  CertificateFields AdminFields(uint64_t serial = kAdminSerial, uint32_t max_uses = 0) {
    CertificateFields f = Fields(lock_id_, admin_, Role::kAdmin, kPermLock | kPermUnlock | kPermDelegate, serial);
    f.max_uses = max_uses;
    return f;
  }
  CertificateFields GuestFields(const crypto::P256KeyPair& holder, uint64_t serial, uint32_t max_uses = 0) {
    CertificateFields f = Fields(lock_id_, holder, Role::kGuest, kPermLock | kPermUnlock, serial);
    f.max_uses = max_uses;
    return f;
  }
  // The owner's guest and the admin's guest, both with serial kSerial.
  Bytes OwnersGuest(uint32_t max_uses = 0) { return Chain(Issue(GuestFields(guest_, kSerial, max_uses), owner_, owner_rng_.drbg)); }
  Bytes AdminsGuest(uint32_t max_uses = 0, uint32_t admin_uses = 0) {
    return Chain(Issue(AdminFields(kAdminSerial, admin_uses), owner_, owner_rng_.drbg),
                 Issue(Under(GuestFields(other_guest_, kSerial, max_uses), kAdminSerial), admin_, owner_rng_.drbg));
  }
  Result<VerifiedKey> Verify(const Bytes& chain) { return authority_.VerifyKey(chain, kNoon, 0); }
  void Apply(AccessListState list) {
    Bytes update(kMaxAccessListUpdateSize);
    Result<size_t> n = SignAccessList(list, lock_id_, owner_, owner_rng_.drbg, update);
    ASSERT_TRUE(n.ok());
    update.resize(*n);
    ASSERT_TRUE(authority_.ApplyAccessList(update).ok());
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, admin_, guest_, other_guest_;
  sim::MemoryStore store_;
  LockAuthority authority_;
  LockId lock_id_{};
};

// --- Issue 9 item 1: a key is (issuer key id, serial) -----------------------------

TEST_F(KeyIdentityTest, A01_CollidingSerialsOfTwoIssuersAreRevokedApart) {
  const Bytes owners = OwnersGuest();
  const Bytes admins = AdminsGuest();
  ASSERT_TRUE(Verify(owners).ok());
  ASSERT_TRUE(Verify(admins).ok());
  AccessListState list = testing::ListAt(1);
  list.revoked[list.revoked_count++] = By(owner_, kSerial);
  Apply(list);
  EXPECT_EQ(Verify(owners).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Verify(admins).ok());
  list = testing::ListAt(2);
  list.revoked[list.revoked_count++] = By(admin_, kSerial);
  Apply(list);
  EXPECT_TRUE(Verify(owners).ok());
  EXPECT_EQ(Verify(admins).status().code(), StatusCode::kPermissionDenied);
  list = testing::ListAt(3);
  list.disabled[list.disabled_count++] = By(admin_, kSerial);
  Apply(list);
  EXPECT_TRUE(Verify(owners).ok());
  EXPECT_EQ(Verify(admins).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(KeyIdentityTest, A12_CollidingSerialsOfTwoIssuersCountUsesApart) {
  Result<VerifiedKey> owners = Verify(OwnersGuest(2));
  Result<VerifiedKey> admins = Verify(AdminsGuest(2));
  ASSERT_TRUE(owners.ok() && admins.ok());
  EXPECT_TRUE(authority_.ConsumeUse(*owners, kNoon).ok());
  EXPECT_TRUE(authority_.ConsumeUse(*owners, kNoon).ok());
  EXPECT_EQ(authority_.ConsumeUse(*owners, kNoon).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(*authority_.UsesOf(By(owner_, kSerial)), 2u);
  EXPECT_EQ(*authority_.UsesOf(By(admin_, kSerial)), 0u);
  EXPECT_TRUE(authority_.ConsumeUse(*admins, kNoon).ok());
  EXPECT_EQ(*authority_.UsesOf(By(admin_, kSerial)), 1u);
}

TEST_F(KeyIdentityTest, A12_CollidingSerialsOfTwoIssuersAreNamedApartInTheLog) {
  Result<VerifiedKey> owners = Verify(OwnersGuest());
  Result<VerifiedKey> admins = Verify(AdminsGuest());
  ASSERT_TRUE(owners.ok() && admins.ok());
  EXPECT_EQ(owners->key_ref(), By(owner_, kSerial));
  EXPECT_EQ(admins->key_ref(), By(admin_, kSerial));
  Result<uint16_t> a = authority_.KeyIndexOf(*owners);
  Result<uint16_t> b = authority_.KeyIndexOf(*admins);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*authority_.KeyIndexOf(*owners), *a);  // stable
  EXPECT_EQ(*authority_.KeyAt(*a), By(owner_, kSerial));
  EXPECT_EQ(*authority_.KeyAt(*b), By(admin_, kSerial));
  EXPECT_EQ(*authority_.KeyIndexOf(OwnerKey(owner_.public_key())), 0);
  VerifiedKey attributed = *admins;
  attributed.key_index = *b;
  EXPECT_EQ(KeyCredential(attributed), (core::CredentialRef{core::CredentialType::kAliroEvictableEndpointKey, *b}));
}

// The integrator hears of every assignment once, after it is stored and
// before the key acts, so the log can introduce the index (lockd's
// LogKeyIntroducer appends the key-introduction record).
TEST_F(KeyIdentityTest, EveryNewIndexIsAnnouncedOnceBeforeTheKeyActs) {
  struct Recorder final : KeyTableObserver {
    std::vector<std::pair<uint16_t, KeyRef>> seen;
    void KeyIndexAssigned(uint16_t index, const KeyRef& key) override { seen.emplace_back(index, key); }
  } recorder;
  authority_.set_key_table_observer(&recorder);
  Result<VerifiedKey> owners = Verify(OwnersGuest());
  Result<VerifiedKey> admins = Verify(AdminsGuest(3));
  ASSERT_TRUE(owners.ok() && admins.ok());
  const uint16_t a = *authority_.KeyIndexOf(*owners);
  EXPECT_EQ(*authority_.KeyIndexOf(*owners), a);  // known: not announced again
  EXPECT_EQ(*authority_.KeyIndexOf(OwnerKey(owner_.public_key())), 0);  // the owner's key has no entry
  ASSERT_TRUE(authority_.ConsumeUse(*admins, kNoon).ok());  // a use-limited chain gets its indexes while counted
  ASSERT_GE(recorder.seen.size(), 2u);
  EXPECT_EQ(recorder.seen[0], (std::pair<uint16_t, KeyRef>{a, By(owner_, kSerial)}));
  for (const auto& [index, key] : recorder.seen) EXPECT_EQ(*authority_.KeyAt(index), key);
  const size_t after_first_use = recorder.seen.size();
  ASSERT_TRUE(authority_.ConsumeUse(*admins, kNoon).ok());
  EXPECT_EQ(recorder.seen.size(), after_first_use);
  authority_.set_key_table_observer(nullptr);
}

TEST_F(KeyIdentityTest, KeyTableSurvivesRestartAndResetAndSaysWhenItIsFull) {
  for (uint16_t i = 1; i <= kMaxKeyIndex; ++i) {
    Result<uint16_t> index = authority_.KeyIndexOf(KeyRef{KeyIdOf(owner_.public_key()), 1000u + i});
    ASSERT_TRUE(index.ok());
    ASSERT_EQ(*index, i);
  }
  ASSERT_TRUE(authority_.Wipe().ok());
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(*rebooted.KeyIndexOf(KeyRef{KeyIdOf(owner_.public_key()), 1000u + 17}), 17);
  EXPECT_EQ(*rebooted.KeyAt(kMaxKeyIndex), (KeyRef{KeyIdOf(owner_.public_key()), 1000u + kMaxKeyIndex}));
  // Full: a new key gets no index; a use-limited one cannot be counted and
  // is refused (fail closed); one without a limit still acts.
  EXPECT_EQ(*rebooted.KeyIndexOf(By(owner_, 1)), kNoKeyIndex);
  EXPECT_EQ(rebooted.KeyAt(kMaxKeyIndex + 1).status().code(), StatusCode::kInvalidArgument);
  uint8_t pin[kOfflinePinSecretSize] = {};
  ASSERT_TRUE(rebooted.InstallOwner(owner_.public_key(), pin).ok());
  CertificateFields f = GuestFields(guest_, 1, 3);
  f.claim_generation = rebooted.claim_generation();
  Result<VerifiedKey> limited = rebooted.VerifyKey(Chain(Issue(f, owner_, owner_rng_.drbg)), kNoon, 0);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(rebooted.ConsumeUse(*limited, kNoon).code(), StatusCode::kResourceExhausted);
}

// --- Issue 9 item 4: admins revoke what they issued --------------------------------------

TEST_F(KeyIdentityTest, A01_AdminRevokesTheKeysItIssuedAndNothingElse) {
  const Bytes admin_cert = Issue(AdminFields(), owner_, owner_rng_.drbg);
  const Bytes owners = OwnersGuest();
  const Bytes admins = AdminsGuest();
  auto admin_list = [&](const AccessListState& list, const crypto::P256KeyPair& signer, const Bytes& cert) {
    Bytes update(kMaxAccessListUpdateSize);
    Result<size_t> n = SignAccessList(list, lock_id_, signer, owner_rng_.drbg, update, cert);
    EXPECT_TRUE(n.ok()) << n.status().name();
    update.resize(n.ok() ? *n : 0);
    return update;
  };
  AccessListState mine = testing::ListAt(1);
  mine.revoked[mine.revoked_count++] = By(admin_, kSerial);
  ASSERT_TRUE(authority_.ApplyAccessList(admin_list(mine, admin_, admin_cert)).ok());
  EXPECT_EQ(Verify(admins).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Verify(owners).ok());  // the same serial, the owner's key
  // Nothing else: not the owner's keys, not another issuer's epoch.
  AccessListState theirs = testing::ListAt(2);
  theirs.revoked[theirs.revoked_count++] = By(owner_, kSerial);
  EXPECT_EQ(authority_.ApplyAccessList(admin_list(theirs, admin_, admin_cert)).code(), StatusCode::kPermissionDenied);
  theirs = testing::ListAt(2);
  theirs.epochs[theirs.epoch_count++] = IssuerMinEpoch{KeyIdOf(owner_.public_key()), 5};
  EXPECT_EQ(authority_.ApplyAccessList(admin_list(theirs, admin_, admin_cert)).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Verify(owners).ok());
  // Only an admin with the delegate right, certified by the owner, signing
  // with its own key.
  const Bytes no_delegate =
      Issue(Fields(lock_id_, admin_, Role::kAdmin, kPermLock | kPermUnlock, kAdminSerial + 2), owner_, owner_rng_.drbg);
  EXPECT_EQ(authority_.ApplyAccessList(admin_list(testing::ListAt(3), admin_, no_delegate)).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(authority_.ApplyAccessList(admin_list(testing::ListAt(3), guest_, admin_cert)).code(),
            StatusCode::kUnauthenticated);
  const Bytes self_made = Issue(AdminFields(), guest_, owner_rng_.drbg);
  EXPECT_EQ(authority_.ApplyAccessList(admin_list(testing::ListAt(3), admin_, self_made)).code(),
            StatusCode::kUnauthenticated);
}

TEST_F(KeyIdentityTest, A01_OwnerAndAdminListsKeepTheirOwnVersions) {
  const Bytes admin_cert = Issue(AdminFields(), owner_, owner_rng_.drbg);
  const Bytes owners = OwnersGuest();
  const Bytes admins = AdminsGuest();
  AccessListState mine = testing::ListAt(1);
  mine.revoked[mine.revoked_count++] = By(admin_, kSerial);
  Bytes admin_update(kMaxAccessListUpdateSize);
  Result<size_t> n = SignAccessList(mine, lock_id_, admin_, owner_rng_.drbg, admin_update, admin_cert);
  ASSERT_TRUE(n.ok());
  admin_update.resize(*n);
  ASSERT_TRUE(authority_.ApplyAccessList(admin_update).ok());
  // The owner's list at version 1, and later 2, does not overwrite the admin's.
  AccessListState owner_list = testing::ListAt(1);
  owner_list.revoked[owner_list.revoked_count++] = By(owner_, kSerial);
  Apply(owner_list);
  Apply(testing::ListAt(2));
  EXPECT_TRUE(Verify(owners).ok());
  EXPECT_EQ(Verify(admins).status().code(), StatusCode::kPermissionDenied);
  // Replays of the admin's list are refused; a restart keeps both.
  EXPECT_EQ(authority_.ApplyAccessList(admin_update).code(), StatusCode::kAlreadyExists);
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.access_list().version, 2u);
  ASSERT_EQ(rebooted.admin_access_lists().size(), 1u);
  EXPECT_EQ(rebooted.admin_access_lists()[0].version, 1u);
  EXPECT_EQ(rebooted.VerifyKey(admins, kNoon, 0).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(rebooted.ApplyAccessList(admin_update).code(), StatusCode::kAlreadyExists);
  // A factory reset forgets it with the claim.
  ASSERT_TRUE(rebooted.Wipe().ok());
  EXPECT_TRUE(rebooted.admin_access_lists().empty());
}

// --- Finding 6: delegation inherits limits and names its parent ----------------------

TEST_F(KeyIdentityTest, A12_AdminCannotIssueMoreUsesThanItHas) {
  // An admin certificate with 5 uses and the delegate right used to issue
  // an unlimited key to itself.
  const Bytes admin_cert = Issue(AdminFields(kAdminSerial, 5), owner_, owner_rng_.drbg);
  auto leaf = [&](uint64_t serial, uint32_t uses, const crypto::P256KeyPair& holder) {
    return Chain(admin_cert, Issue(Under(GuestFields(holder, serial, uses), kAdminSerial), admin_, owner_rng_.drbg));
  };
  EXPECT_EQ(Verify(leaf(1, 0, admin_)).status().code(), StatusCode::kPermissionDenied);  // unlimited
  EXPECT_EQ(Verify(leaf(2, 6, admin_)).status().code(), StatusCode::kPermissionDenied);  // more than 5
  // Within the limit, every use also spends one of the admin's: a second
  // leaf cannot add uses.
  Result<VerifiedKey> first = Verify(leaf(3, 5, admin_));
  Result<VerifiedKey> second = Verify(leaf(4, 5, guest_));
  ASSERT_TRUE(first.ok() && second.ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(authority_.ConsumeUse(*first, kNoon).ok());
  EXPECT_TRUE(authority_.ConsumeUse(*second, kNoon).ok());
  EXPECT_TRUE(authority_.ConsumeUse(*second, kNoon).ok());
  EXPECT_EQ(authority_.ConsumeUse(*second, kNoon).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(authority_.ConsumeUse(*first, kNoon).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(*authority_.UsesOf(By(owner_, kAdminSerial)), 5u);
  EXPECT_EQ(*authority_.UsesOf(By(admin_, 4)), 2u);
}

TEST_F(KeyIdentityTest, A12_AnAdminsUseCountSurvivesTheExpiryOfALeafItWasFirstCountedThrough) {
  // The admin's 2 uses are spent through a leaf that expires in an hour.
  const Bytes admin_cert = Issue(AdminFields(kAdminSerial, 2), owner_, owner_rng_.drbg);
  CertificateFields short_leaf = Under(GuestFields(guest_, 1, 2), kAdminSerial);
  short_leaf.not_after = static_cast<uint64_t>(kNoon + 3600);
  Result<VerifiedKey> first = authority_.VerifyKey(Chain(admin_cert, Issue(short_leaf, admin_, owner_rng_.drbg)), kNoon, 0);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(authority_.ConsumeUse(*first, kNoon).ok());
  EXPECT_TRUE(authority_.ConsumeUse(*first, kNoon).ok());
  // After the leaf expired, another use-limited key is counted for the
  // first time (which drops the entries of dead certificates)...
  const int64_t later = kNoon + 7200;
  Result<VerifiedKey> other = authority_.VerifyKey(OwnersGuest(1), later, 0);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(authority_.ConsumeUse(*other, later).ok());
  EXPECT_EQ(*authority_.UsesOf(By(owner_, kAdminSerial)), 2u);
  // ...and a fresh leaf does not give the admin its uses back.
  Result<VerifiedKey> second = authority_.VerifyKey(
      Chain(admin_cert, Issue(Under(GuestFields(guest_, 2, 2), kAdminSerial), admin_, owner_rng_.drbg)), later, 0);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(authority_.ConsumeUse(*second, later).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(*authority_.UsesOf(By(owner_, kAdminSerial)), 2u);
}

TEST_F(KeyIdentityTest, A12_DelegatedKeyHonoursTheAdminsScheduleAndWindow) {
  CertificateFields admin = AdminFields();
  admin.schedule = WeeklyWindow{0x7F, 9 * 60, 17 * 60};
  const Bytes chain = Chain(Issue(admin, owner_, owner_rng_.drbg),
                            Issue(Under(GuestFields(guest_, 5), kAdminSerial), admin_, owner_rng_.drbg));
  EXPECT_TRUE(authority_.VerifyKey(chain, kNoon, 0).ok());
  EXPECT_EQ(authority_.VerifyKey(chain, kNoon + 6 * 3600, 0).status().code(), StatusCode::kOutOfRange);  // 18:00
}

TEST_F(KeyIdentityTest, A12_RevokingTheParentCertificateRevokesKeysIssuedUnderIt) {
  // The admin's key holds two certificates; a leaf issued under the first
  // is refused with the second, so revoking the first ends it.
  const Bytes cert_a = Issue(AdminFields(kAdminSerial), owner_, owner_rng_.drbg);
  const Bytes cert_b = Issue(AdminFields(kAdminSerial + 1), owner_, owner_rng_.drbg);
  const Bytes leaf = Issue(Under(GuestFields(guest_, 9), kAdminSerial), admin_, owner_rng_.drbg);
  EXPECT_TRUE(Verify(Chain(cert_a, leaf)).ok());
  EXPECT_EQ(Verify(Chain(cert_b, leaf)).status().code(), StatusCode::kPermissionDenied);
  AccessListState list = testing::ListAt(1);
  list.revoked[list.revoked_count++] = By(owner_, kAdminSerial);
  Apply(list);
  EXPECT_EQ(Verify(Chain(cert_a, leaf)).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(Chain(cert_b, leaf)).status().code(), StatusCode::kPermissionDenied);
  // Keys issued under the certificate that stands still work.
  EXPECT_TRUE(Verify(Chain(cert_b, Issue(Under(GuestFields(guest_, 10), kAdminSerial + 1), admin_, owner_rng_.drbg))).ok());
  // An owner-signed certificate names no parent.
  EXPECT_EQ(Verify(Chain(Issue(Under(GuestFields(guest_, 11), kAdminSerial + 1), owner_, owner_rng_.drbg)))
                .status()
                .code(),
            StatusCode::kPermissionDenied);
}

// --- Finding 11: checks of a chain that no test noticed --------------------------------

TEST_F(KeyIdentityTest, A12_SecondCertificateOfATwoLinkChainMustCarryTheAdminsSignature) {
  // Anyone who knows an admin's public key could otherwise mint keys up to
  // the admin's rights: the leaf's signature is the last 64 bytes of the chain.
  const Bytes chain = AdminsGuest();
  ASSERT_TRUE(Verify(chain).ok());
  for (size_t i = chain.size() - crypto::kP256SignatureSize; i < chain.size(); i += 7) {
    Bytes forged = chain;
    forged[i] ^= 0x01;
    EXPECT_EQ(Verify(forged).status().code(), StatusCode::kUnauthenticated) << i;
  }
}

// Hand-encodes and signs a certificate the issuer refuses to make.
Bytes HandSigned(const CertificateFields& f, const crypto::P256KeyPair& issuer, crypto::Drbg& drbg) {
  mortise_KeyCertificateTbs tbs = mortise_KeyCertificateTbs_init_zero;
  tbs.version = kCertificateVersion;
  tbs.lock_id.size = kLockIdSize;
  std::copy(f.lock_id.begin(), f.lock_id.end(), tbs.lock_id.bytes);
  tbs.holder_key.size = crypto::kP256CompressedKeySize;
  std::copy(f.holder_key.begin(), f.holder_key.end(), tbs.holder_key.bytes);
  tbs.role = static_cast<uint32_t>(f.role);
  tbs.permissions = f.permissions;
  tbs.serial = f.serial;
  const KeyId id = KeyIdOf(issuer.public_key());
  tbs.issuer_key_id.size = kKeyIdSize;
  std::copy(id.begin(), id.end(), tbs.issuer_key_id.bytes);
  tbs.claim_generation = f.claim_generation;
  mortise_KeyCertificate cert = mortise_KeyCertificate_init_zero;
  pb_ostream_t s = pb_ostream_from_buffer(cert.tbs.bytes, sizeof(cert.tbs.bytes));
  EXPECT_TRUE(pb_encode(&s, mortise_KeyCertificateTbs_fields, &tbs));
  cert.tbs.size = static_cast<pb_size_t>(s.bytes_written);
  const crypto::P256Signature sig =
      testing::DomainSign("mortise-cert-v1", std::span<const uint8_t>(cert.tbs.bytes, cert.tbs.size), issuer, drbg);
  cert.signature.size = crypto::kP256SignatureSize;
  std::copy(sig.begin(), sig.end(), cert.signature.bytes);
  Bytes out(kMaxCertificateSize);
  pb_ostream_t o = pb_ostream_from_buffer(out.data(), out.size());
  EXPECT_TRUE(pb_encode(&o, mortise_KeyCertificate_fields, &cert));
  out.resize(o.bytes_written);
  return out;
}

TEST_F(KeyIdentityTest, A12_OwnerSignedCertificateWithPermissionsBeyondItsRoleIsRefused) {
  CertificateFields f = GuestFields(guest_, 12);
  f.permissions |= kPermManageUsers;  // a "guest" who manages users
  Bytes out(kMaxCertificateSize);
  EXPECT_EQ(IssueCertificate(f, owner_, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  const Bytes chain = Chain(HandSigned(f, owner_, owner_rng_.drbg));
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kPermissionDenied);
  // The same hand-encoded certificate within the role verifies: the encoding
  // is sound, only the permissions are refused.
  EXPECT_TRUE(Verify(Chain(HandSigned(GuestFields(guest_, 13), owner_, owner_rng_.drbg))).ok());
}

}  // namespace
}  // namespace mortise::protocol
