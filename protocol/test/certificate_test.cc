#include "mortise/protocol/certificate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "test_util.h"

namespace mortise::protocol {
namespace {

using testing::Chain;
using testing::Fields;
using testing::Issue;
using testing::kNoon;
using testing::Under;

class CertificateTest : public ::testing::Test {
 protected:
  CertificateTest()
      : rng_(42),
        owner_(testing::NewKey(rng_.drbg)),
        admin_(testing::NewKey(rng_.drbg)),
        guest_(testing::NewKey(rng_.drbg)),
        stranger_(testing::NewKey(rng_.drbg)) {
    lock_id_.fill(0x5A);
    ctx_.lock_id = lock_id_;
    ctx_.owner = &owner_.public_key();
    ctx_.utc_now = kNoon;
    ctx_.claim_generation = testing::kGeneration;
  }

  CertificateFields GuestFields(uint64_t serial = 100) {
    CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermLock | kPermUnlock, serial);
    f.not_before = kNoon - 3600;
    f.not_after = kNoon + 3600;
    return f;
  }
  CertificateFields AdminFields(uint32_t permissions = RoleAllowedPermissions(Role::kAdmin)) {
    return Fields(lock_id_, admin_, Role::kAdmin, permissions, 7);
  }
  Result<VerifiedKey> Verify(const std::vector<uint8_t>& chain) { return VerifyChain(chain, ctx_); }

  testing::SeededDrbg rng_;
  crypto::P256KeyPair owner_, admin_, guest_, stranger_;
  LockId lock_id_{};
  VerifyContext ctx_;
};

TEST_F(CertificateTest, OwnerIssuedGuestKeyVerifies) {
  Result<VerifiedKey> k = Verify(Chain(Issue(GuestFields(), owner_, rng_.drbg)));
  ASSERT_TRUE(k.ok()) << k.status().name();
  EXPECT_EQ(k->grant.role, Role::kGuest);
  EXPECT_EQ(k->grant.permissions, kPermLock | kPermUnlock);
  EXPECT_EQ(k->serial, 100u);
  EXPECT_EQ(k->depth, 1);
  EXPECT_EQ(k->holder_key, guest_.public_key().Compressed());
}

TEST_F(CertificateTest, DecodeGivesBackTheFields) {
  CertificateFields f = GuestFields();
  f.schedule = WeeklyWindow{0x3E, 8 * 60, 18 * 60};
  f.max_uses = 5;
  f.issuer_epoch = 3;
  Result<CertificateFields> d = DecodeCertificate(Issue(f, owner_, rng_.drbg));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->serial, f.serial);
  EXPECT_EQ(d->schedule->days_mask, 0x3E);
  EXPECT_EQ(d->max_uses, 5u);
  EXPECT_EQ(d->issuer_epoch, 3u);
  EXPECT_EQ(d->issuer_key_id, KeyIdOf(owner_.public_key()));
}

TEST_F(CertificateTest, AnyFlippedBitIsRefused) {
  const std::vector<uint8_t> chain = Chain(Issue(GuestFields(), owner_, rng_.drbg));
  for (size_t i = 0; i < chain.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      std::vector<uint8_t> bad = chain;
      bad[i] ^= bit;
      EXPECT_FALSE(Verify(bad).ok()) << "byte " << i;
    }
  }
}

TEST_F(CertificateTest, TrailingOrTruncatedBytesAreRefused) {
  std::vector<uint8_t> chain = Chain(Issue(GuestFields(), owner_, rng_.drbg));
  std::vector<uint8_t> longer = chain;
  longer.push_back(0);
  EXPECT_EQ(Verify(longer).status().code(), StatusCode::kInvalidArgument);
  for (size_t n = 0; n < chain.size(); ++n) {
    EXPECT_FALSE(Verify(std::vector<uint8_t>(chain.begin(), chain.begin() + n)).ok());
  }
}

TEST_F(CertificateTest, SignedByAStrangerIsUnauthenticated) {
  EXPECT_EQ(Verify(Chain(Issue(GuestFields(), stranger_, rng_.drbg))).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(CertificateTest, AnotherLocksKeyIsRefused) {
  CertificateFields f = GuestFields();
  f.lock_id[0] ^= 1;
  EXPECT_EQ(Verify(Chain(Issue(f, owner_, rng_.drbg))).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, UnclaimedLockVerifiesNothing) {
  ctx_.owner = nullptr;
  EXPECT_EQ(Verify(Chain(Issue(GuestFields(), owner_, rng_.drbg))).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(CertificateTest, A01_ExpiredKeyFailsOffline) {
  const std::vector<uint8_t> chain = Chain(Issue(GuestFields(), owner_, rng_.drbg));
  ctx_.utc_now = kNoon + 3600;  // not_after is exclusive
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kOutOfRange);
  ctx_.utc_now = kNoon - 3601;
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kOutOfRange);
}

TEST_F(CertificateTest, A04_TimeLimitedKeyFailsClosedWhileTimeIsUnknown) {
  ctx_.utc_now.reset();
  EXPECT_EQ(Verify(Chain(Issue(GuestFields(), owner_, rng_.drbg))).status().code(), StatusCode::kFailedPrecondition);
  CertificateFields scheduled = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 101);
  scheduled.schedule = WeeklyWindow{0x7F, 0, 1440};
  EXPECT_EQ(Verify(Chain(Issue(scheduled, owner_, rng_.drbg))).status().code(), StatusCode::kFailedPrecondition);
  // A key with no time limit still works: the owner is never locked out by
  // a lost clock.
  CertificateFields unlimited = Fields(lock_id_, guest_, Role::kMember, kPermUnlock, 102);
  EXPECT_TRUE(Verify(Chain(Issue(unlimited, owner_, rng_.drbg))).ok());
}

TEST_F(CertificateTest, WeeklyScheduleUsesLocalTime) {
  CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 103);
  f.schedule = WeeklyWindow{0x01 /* Sunday */, 11 * 60, 13 * 60};  // Sundays 11:00-13:00
  const std::vector<uint8_t> chain = Chain(Issue(f, owner_, rng_.drbg));
  EXPECT_TRUE(Verify(chain).ok());  // Sunday 12:00 UTC
  ctx_.utc_offset_s = 2 * 3600;     // 14:00 local
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kOutOfRange);
  ctx_.utc_offset_s = 0;
  ctx_.utc_now = kNoon + 86400;  // Monday
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kOutOfRange);
  ctx_.utc_now = kNoon + 3600;  // 13:00 is outside [11:00, 13:00)
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kOutOfRange);
}

TEST_F(CertificateTest, AdminWithDelegateIssuesGuestKey) {
  const std::vector<uint8_t> admin_cert = Issue(AdminFields(), owner_, rng_.drbg);
  Result<VerifiedKey> k = Verify(Chain(admin_cert, Issue(Under(GuestFields(), 7), admin_, rng_.drbg)));
  ASSERT_TRUE(k.ok()) << k.status().name();
  EXPECT_EQ(k->depth, 2);
  EXPECT_EQ(k->grant.role, Role::kGuest);
}

TEST_F(CertificateTest, AdminWithoutDelegateCannotIssue) {
  const std::vector<uint8_t> admin_cert =
      Issue(AdminFields(RoleAllowedPermissions(Role::kAdmin) & ~kPermDelegate), owner_, rng_.drbg);
  EXPECT_EQ(Verify(Chain(admin_cert, Issue(Under(GuestFields(), 7), admin_, rng_.drbg))).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, AdminCannotGrantMoreThanItHolds) {
  const std::vector<uint8_t> admin_cert = Issue(AdminFields(kPermLock | kPermDelegate), owner_, rng_.drbg);
  EXPECT_EQ(Verify(Chain(admin_cert, Issue(Under(GuestFields(), 7), admin_, rng_.drbg))).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, AdminCannotGrantLongerThanItsOwnWindow) {
  CertificateFields admin = AdminFields();
  admin.not_after = kNoon + 60;
  const std::vector<uint8_t> admin_cert = Issue(admin, owner_, rng_.drbg);
  EXPECT_EQ(Verify(Chain(admin_cert, Issue(Under(GuestFields(), 7), admin_, rng_.drbg))).status().code(),
            StatusCode::kPermissionDenied);
  CertificateFields unlimited_guest = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 104);
  EXPECT_EQ(Verify(Chain(admin_cert, Issue(Under(unlimited_guest, 7), admin_, rng_.drbg))).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, ChainsStopAtTwo) {
  const std::vector<uint8_t> admin_cert = Issue(AdminFields(), owner_, rng_.drbg);
  // An admin cannot make another admin.
  CertificateFields sub = Fields(lock_id_, guest_, Role::kAdmin, kPermUnlock | kPermDelegate, 105);
  EXPECT_EQ(Verify(Chain(admin_cert, Issue(Under(sub, 7), admin_, rng_.drbg))).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, MemberCannotDelegate) {
  const std::vector<uint8_t> member_cert =
      Issue(Fields(lock_id_, admin_, Role::kMember, kPermUnlock, 8), owner_, rng_.drbg);
  EXPECT_EQ(Verify(Chain(member_cert, Issue(Under(GuestFields(), 7), admin_, rng_.drbg))).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, AdminIssuedKeyAloneIsUnauthenticated) {
  EXPECT_EQ(Verify(Chain(Issue(Under(GuestFields(), 7), admin_, rng_.drbg))).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(CertificateTest, IssuerRefusesInconsistentRoleAndPermissions) {
  std::vector<uint8_t> out(kMaxCertificateSize);
  CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock | kPermManageUsers, 106);
  EXPECT_EQ(IssueCertificate(f, owner_, rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  f = Fields(lock_id_, guest_, Role::kUnspecified, kPermUnlock, 106);
  EXPECT_EQ(IssueCertificate(f, owner_, rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  f = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 0);
  EXPECT_EQ(IssueCertificate(f, owner_, rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  f = GuestFields();
  f.not_after = f.not_before;
  EXPECT_EQ(IssueCertificate(f, owner_, rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  f = GuestFields();
  f.schedule = WeeklyWindow{0, 0, 10};
  EXPECT_EQ(IssueCertificate(f, owner_, rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CertificateTest, AccessListRevokesDisablesAndRaisesEpochs) {
  CertificateFields f = GuestFields(200);
  f.issuer_epoch = 1;
  const std::vector<uint8_t> chain = Chain(Issue(f, owner_, rng_.drbg));
  AccessListState list;
  ctx_.access_list = &list;
  EXPECT_TRUE(Verify(chain).ok());
  list.revoked_count = 1;
  list.revoked[0] = KeyRef{KeyIdOf(owner_.public_key()), 200};
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kPermissionDenied);
  list = AccessListState();
  list.disabled_count = 1;
  list.disabled[0] = KeyRef{KeyIdOf(owner_.public_key()), 200};
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kPermissionDenied);
  list = AccessListState();
  list.epoch_count = 1;
  list.epochs[0] = IssuerMinEpoch{KeyIdOf(owner_.public_key()), 2};
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, RevokingTheAdminRevokesItsGuests) {
  const std::vector<uint8_t> chain =
      Chain(Issue(AdminFields(), owner_, rng_.drbg), Issue(Under(GuestFields(), 7), admin_, rng_.drbg));
  AccessListState list;
  list.revoked_count = 1;
  list.revoked[0] = KeyRef{KeyIdOf(owner_.public_key()), 7};  // the admin certificate
  ctx_.access_list = &list;
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, A01_KeysDemandingRevalidationWithoutATokenAreRefused) {
  // Tokens themselves: revalidation_test.cc.
  CertificateFields f = GuestFields();
  f.revalidation_max_age = 3600;
  const std::vector<uint8_t> chain = Chain(Issue(f, owner_, rng_.drbg));
  EXPECT_EQ(Verify(chain).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyChain(chain, {}, ctx_).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(CertificateTest, TextFormRoundTripsAndIsStrict) {
  const std::vector<uint8_t> chain = Chain(Issue(GuestFields(), owner_, rng_.drbg));
  char text[kMaxChainTextSize];
  Result<size_t> n = ChainToText(chain, text);
  ASSERT_TRUE(n.ok());
  const std::string s(text, *n);
  EXPECT_EQ(s.substr(0, 4), "MK1.");
  uint8_t back[kMaxChainSize];
  Result<size_t> m = ChainFromText(s, back);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::vector<uint8_t>(back, back + *m), chain);
  for (const std::string& bad : {std::string("MK2.") + s.substr(4), s + "=", s + " ", " " + s, s + "*",
                                 std::string("MK1."), s.substr(0, s.size() - 1) + "/", std::string("mk1.") + s.substr(4)}) {
    EXPECT_FALSE(ChainFromText(bad, back).ok()) << bad;
  }
}

TEST_F(CertificateTest, TextRefusesNonCanonicalTrailingBits) {
  const uint8_t one[1] = {0xFF};
  char text[16];
  Result<size_t> n = ChainToText(one, text);
  ASSERT_TRUE(n.ok());
  std::string s(text, *n);  // "MK1./w"
  s.back() = 'x';           // same byte, non-zero unused bits
  uint8_t back[4];
  EXPECT_EQ(ChainFromText(s, back).status().code(), StatusCode::kInvalidArgument);
}

// Sizes for the QR code budget (docs/protocol.md quotes them).
TEST_F(CertificateTest, EncodedSizesFitAQrCode) {
  CertificateFields guest = GuestFields(0x1234567890ABCDEFull);  // random serials are full 64-bit
  guest.schedule = WeeklyWindow{0x7F, 8 * 60, 20 * 60};
  guest.max_uses = 10;
  guest.not_before = 1767225600;
  guest.not_after = 1767225600 + 7 * 86400;
  const std::vector<uint8_t> guest_cert = Issue(guest, owner_, rng_.drbg);
  const std::vector<uint8_t> single = Chain(guest_cert);
  CertificateFields admin = AdminFields();
  admin.serial = 0xFEDCBA0987654321ull;
  admin.not_after = 1767225600 + 365 * 86400;
  const std::vector<uint8_t> delegated = Chain(Issue(admin, owner_, rng_.drbg), Issue(Under(guest, admin.serial), admin_, rng_.drbg));
  char text[kMaxChainTextSize];
  const size_t single_text = *ChainToText(single, text);
  const size_t delegated_text = *ChainToText(delegated, text);
  std::printf("guest certificate %zu B, guest chain %zu B (%zu chars as MK1. text); "
              "admin-delegated chain %zu B (%zu chars)\n",
              guest_cert.size(), single.size(), single_text, delegated.size(), delegated_text);
  // QR version 10 (57x57) holds 395 alphanumeric-mode bytes in byte mode at
  // level L; version 15 holds 520 at M. Keep margins.
  EXPECT_LE(single_text, 260u);
  EXPECT_LE(delegated_text, 520u);
}

}  // namespace
}  // namespace mortise::protocol
