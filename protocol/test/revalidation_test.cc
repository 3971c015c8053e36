// Revalidation tokens (revalidation.h): keys that demand a fresh token from
// the owner or a revalidation key the owner delegated to, so a revocation
// takes effect within a bound even when no device carries the access list
// (attack A01), at the lock, in sessions and in remote envelopes.
#include "mortise/protocol/revalidation.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <pb_encode.h>

#include "mortise.pb.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/remote.h"
#include "mortise/protocol/session.h"
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

constexpr uint32_t kMaxAge = 3600;
constexpr uint64_t kGuestSerial = 71;
constexpr uint64_t kServiceSerial = 72;

CommandRequest Cmd(Command c) {
  CommandRequest r;
  r.command = c;
  return r;
}

// A token encoded by hand, so tests can build what IssueRevalidationToken
// refuses to (a signer without the right, foreign fields).
Bytes RawToken(const RevalidationFields& f, const crypto::P256KeyPair& signer, const Bytes& issuer_cert,
               crypto::Drbg& drbg) {
  mortise_RevalidationTokenTbs tbs = mortise_RevalidationTokenTbs_init_zero;
  tbs.version = kRevalidationVersion;
  tbs.lock_id.size = kLockIdSize;
  std::memcpy(tbs.lock_id.bytes, f.lock_id.data(), kLockIdSize);
  tbs.serial = f.serial;
  tbs.holder_key_id.size = kKeyIdSize;
  std::memcpy(tbs.holder_key_id.bytes, f.holder_key_id.data(), kKeyIdSize);
  tbs.issued_at = f.issued_at;
  tbs.issuer_chain.size = static_cast<pb_size_t>(issuer_cert.size());
  if (!issuer_cert.empty()) std::memcpy(tbs.issuer_chain.bytes, issuer_cert.data(), issuer_cert.size());
  mortise_RevalidationToken token = mortise_RevalidationToken_init_zero;
  pb_ostream_t s = pb_ostream_from_buffer(token.tbs.bytes, sizeof(token.tbs.bytes));
  EXPECT_TRUE(pb_encode(&s, mortise_RevalidationTokenTbs_fields, &tbs));
  token.tbs.size = static_cast<pb_size_t>(s.bytes_written);
  const crypto::P256Signature sig = testing::DomainSign(
      "mortise-revalidation-v1", std::span<const uint8_t>(token.tbs.bytes, token.tbs.size), signer, drbg);
  token.signature.size = crypto::kP256SignatureSize;
  std::memcpy(token.signature.bytes, sig.data(), sig.size());
  Bytes out(kMaxRevalidationTokenSize);
  pb_ostream_t o = pb_ostream_from_buffer(out.data(), out.size());
  EXPECT_TRUE(pb_encode(&o, mortise_RevalidationToken_fields, &token));
  out.resize(o.bytes_written);
  return out;
}

class RevalidationTest : public ::testing::Test {
 protected:
  RevalidationTest()
      : lock_rng_(81), owner_rng_(82), owner_(testing::NewKey(owner_rng_.drbg)),
        guest_(testing::NewKey(owner_rng_.drbg)), service_(testing::NewKey(owner_rng_.drbg)),
        admin_(testing::NewKey(owner_rng_.drbg)), stranger_(testing::NewKey(owner_rng_.drbg)) {
    sim_ = std::make_unique<sim::SimLock>(&store_);
    EXPECT_TRUE(sim_->Start().ok());
    authority_ = std::make_unique<LockAuthority>(store_, lock_rng_.drbg);
    EXPECT_TRUE(authority_->Start().ok());
    uint8_t pin[kOfflinePinSecretSize] = {};
    EXPECT_TRUE(authority_->InstallOwner(owner_.public_key(), pin).ok());
    EXPECT_TRUE(sim_->lock().SetUtcTime(kNoon, false).ok());
    lock_id_ = authority_->identity().lock_id();
    guest_chain_ = Chain(Issue(GuestFields(), owner_, owner_rng_.drbg));
    // The revalidation service: role admin, the one right, nothing else.
    service_cert_ = Issue(Fields(lock_id_, service_, Role::kAdmin, kPermRevalidate, kServiceSerial), owner_,
                          owner_rng_.drbg);
  }

  CertificateFields GuestFields(uint32_t max_age = kMaxAge) {
    CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermLock | kPermUnlock, kGuestSerial);
    f.revalidation_max_age = max_age;
    return f;
  }

  int64_t Now() const { return *sim_->lock().utc_now(); }

  RevalidationFields For(const Bytes& chain, int64_t issued_at) {
    Result<RevalidationFields> f = RevalidationFieldsFor(chain, static_cast<uint64_t>(issued_at));
    EXPECT_TRUE(f.ok()) << f.status().name();
    return f.ok() ? *f : RevalidationFields{};
  }
  Bytes Token(const RevalidationFields& f, const crypto::P256KeyPair& signer, const Bytes& signer_cert = {}) {
    Bytes out(kMaxRevalidationTokenSize);
    Result<size_t> n = IssueRevalidationToken(f, signer, signer_cert, owner_rng_.drbg, out);
    EXPECT_TRUE(n.ok()) << n.status().name();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  Bytes OwnerToken(int64_t issued_at) { return Token(For(guest_chain_, issued_at), owner_); }
  Bytes ServiceToken(int64_t issued_at) { return Token(For(guest_chain_, issued_at), service_, service_cert_); }

  Result<VerifiedKey> Verify(const Bytes& chain, const Bytes& token) {
    return authority_->VerifyKey(chain, token, sim_->lock());
  }

  void Revoke(std::initializer_list<uint64_t> serials) {
    AccessListState list = testing::ListAt(++acl_version_);
    for (uint64_t s : serials) list.revoked[list.revoked_count++] = testing::By(owner_, s);
    Bytes update(kMaxAccessListUpdateSize);
    Result<size_t> n = SignAccessList(list, lock_id_, owner_, owner_rng_.drbg, update);
    ASSERT_TRUE(n.ok());
    update.resize(*n);
    ASSERT_TRUE(authority_->ApplyAccessList(update).ok());
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, guest_, service_, admin_, stranger_;
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<LockAuthority> authority_;
  LockId lock_id_{};
  Bytes guest_chain_, service_cert_;
  uint64_t acl_version_ = 0;
};

// --- At the lock (LockAuthority::VerifyKey) ----------------------------------

TEST_F(RevalidationTest, OwnerTokenIsAcceptedAndBoundsTheKey) {
  const int64_t issued = Now() - 100;
  Result<VerifiedKey> k = Verify(guest_chain_, OwnerToken(issued));
  ASSERT_TRUE(k.ok()) << k.status().name();
  ASSERT_TRUE(k->revalidated_until.has_value());
  EXPECT_EQ(*k->revalidated_until, static_cast<uint64_t>(issued) + kMaxAge);
  EXPECT_FALSE(k->revalidated_by.has_value());
  EXPECT_TRUE(authority_->Recheck(*k, sim_->lock()).ok());
}

TEST_F(RevalidationTest, DelegatedRevalidationKeyTokenIsAccepted) {
  Result<VerifiedKey> k = Verify(guest_chain_, ServiceToken(Now()));
  ASSERT_TRUE(k.ok()) << k.status().name();
  ASSERT_TRUE(k->revalidated_by.has_value());
  EXPECT_EQ(k->revalidated_by->serial, kServiceSerial);
  EXPECT_EQ(*k->revalidated_until, static_cast<uint64_t>(Now()) + kMaxAge);
  // The service's certificate opens nothing by itself.
  Result<VerifiedKey> service = authority_->VerifyKey(Chain(service_cert_), sim_->lock());
  ASSERT_TRUE(service.ok());
  EXPECT_EQ(authority_->Authorize(*service, Command::kUnlock, core::OperationSource::kRemote).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(authority_->Authorize(*service, Command::kShareKey, core::OperationSource::kRemote).code(),
            StatusCode::kPermissionDenied);
}

TEST_F(RevalidationTest, A01_KeyDemandingRevalidationWithoutATokenIsRefused) {
  EXPECT_EQ(Verify(guest_chain_, {}).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(authority_->VerifyKey(guest_chain_, sim_->lock()).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(RevalidationTest, A01_TokenFromAKeyWithoutTheRevalidateRightIsRefused) {
  // An admin with every right but kPermRevalidate.
  const Bytes admin_cert =
      Issue(Fields(lock_id_, admin_, Role::kAdmin, RoleAllowedPermissions(Role::kAdmin) & ~kPermRevalidate, 90),
            owner_, owner_rng_.drbg);
  // The issuing tool refuses to make it...
  Bytes out(kMaxRevalidationTokenSize);
  EXPECT_EQ(IssueRevalidationToken(For(guest_chain_, Now()), admin_, admin_cert, owner_rng_.drbg, out).status().code(),
            StatusCode::kInvalidArgument);
  // ...and the lock refuses it when made by hand.
  EXPECT_EQ(Verify(guest_chain_, RawToken(For(guest_chain_, Now()), admin_, admin_cert, owner_rng_.drbg))
                .status()
                .code(),
            StatusCode::kPermissionDenied);
  // Roles other than owner and admin can never hold the right.
  CertificateFields member = Fields(lock_id_, admin_, Role::kMember, kPermRevalidate, 91);
  EXPECT_EQ(IssueCertificate(member, owner_, owner_rng_.drbg, out).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RoleAllowedPermissions(Role::kInstaller) & kPermRevalidate, 0u);
  EXPECT_NE(RoleAllowedPermissions(Role::kOwner) & kPermRevalidate, 0u);
}

TEST_F(RevalidationTest, A01_TokenFromARevokedRevalidationKeyIsRefused) {
  const Bytes token = ServiceToken(Now());
  Result<VerifiedKey> k = Verify(guest_chain_, token);
  ASSERT_TRUE(k.ok());
  Revoke({kServiceSerial});
  EXPECT_EQ(Verify(guest_chain_, token).status().code(), StatusCode::kPermissionDenied);
  // A key verified earlier with its token stops at the next command too.
  EXPECT_EQ(authority_->Recheck(*k, sim_->lock()).code(), StatusCode::kPermissionDenied);
  // The owner's own tokens still work: revoking a service never locks anyone out.
  EXPECT_TRUE(Verify(guest_chain_, OwnerToken(Now())).ok());
}

TEST_F(RevalidationTest, A01_RevokedKeyWithAFreshTokenIsStillRefused) {
  Revoke({kGuestSerial});
  EXPECT_EQ(Verify(guest_chain_, OwnerToken(Now())).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(RevalidationTest, A01_StaleTokenIsRefused) {
  EXPECT_TRUE(Verify(guest_chain_, OwnerToken(Now() - kMaxAge)).ok());
  EXPECT_EQ(Verify(guest_chain_, OwnerToken(Now() - kMaxAge - 1)).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(Verify(guest_chain_, ServiceToken(Now() - 86400)).status().code(), StatusCode::kOutOfRange);
}

TEST_F(RevalidationTest, A01_TokenFromTheFutureBeyondTheSkewIsRefused) {
  EXPECT_TRUE(Verify(guest_chain_, OwnerToken(Now() + kRevalidationMaxSkewS)).ok());
  EXPECT_EQ(Verify(guest_chain_, OwnerToken(Now() + kRevalidationMaxSkewS + 1)).status().code(),
            StatusCode::kOutOfRange);
  // A token stamped far ahead cannot stretch a key's life.
  EXPECT_EQ(Verify(guest_chain_, OwnerToken(Now() + 10 * 86400)).status().code(), StatusCode::kOutOfRange);
}

TEST_F(RevalidationTest, A01_TokenForAnotherSerialHolderOrLockIsRefused) {
  RevalidationFields other_serial = For(guest_chain_, Now());
  other_serial.serial = kGuestSerial + 1;
  RevalidationFields other_holder = For(guest_chain_, Now());
  other_holder.holder_key_id = KeyIdOf(stranger_.public_key());
  RevalidationFields other_lock = For(guest_chain_, Now());
  other_lock.lock_id[0] ^= 1;
  for (const RevalidationFields& f : {other_serial, other_holder, other_lock}) {
    EXPECT_EQ(Verify(guest_chain_, Token(f, owner_)).status().code(), StatusCode::kPermissionDenied);
  }
  // A token for the same key's other certificate does not carry over.
  CertificateFields second = GuestFields();
  second.serial = kGuestSerial + 1;
  const Bytes second_chain = Chain(Issue(second, owner_, owner_rng_.drbg));
  EXPECT_EQ(Verify(second_chain, OwnerToken(Now())).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(RevalidationTest, A04_UnknownLockTimeFailsClosed) {
  const Bytes token = OwnerToken(kNoon);
  EXPECT_EQ(authority_->VerifyKey(guest_chain_, token, std::nullopt, 0).status().code(),
            StatusCode::kFailedPrecondition);
  Result<VerifiedKey> k = authority_->VerifyKey(guest_chain_, token, kNoon, 0);
  ASSERT_TRUE(k.ok());
  VerifyContext ctx;
  ctx.claim_generation = testing::kGeneration;
  ctx.lock_id = lock_id_;
  ctx.owner = &owner_.public_key();
  ctx.utc_now = std::nullopt;
  EXPECT_EQ(RecheckKey(*k, ctx).code(), StatusCode::kFailedPrecondition);
  ctx.utc_now = kNoon;
  EXPECT_TRUE(RecheckKey(*k, ctx).ok());
}

TEST_F(RevalidationTest, A09_TokensNotSignedByTheOwnerOrItsRevalidationKeyAreUnauthenticated) {
  // A stranger claiming to be the owner.
  EXPECT_EQ(Verify(guest_chain_, Token(For(guest_chain_, Now()), stranger_)).status().code(),
            StatusCode::kUnauthenticated);
  // A stranger's self-made revalidation certificate.
  const Bytes forged_cert =
      Issue(Fields(lock_id_, stranger_, Role::kAdmin, kPermRevalidate, 93), stranger_, owner_rng_.drbg);
  EXPECT_EQ(Verify(guest_chain_, RawToken(For(guest_chain_, Now()), stranger_, forged_cert, owner_rng_.drbg))
                .status()
                .code(),
            StatusCode::kUnauthenticated);
  // The real service certificate, signed by someone else.
  EXPECT_EQ(Verify(guest_chain_, RawToken(For(guest_chain_, Now()), stranger_, service_cert_, owner_rng_.drbg))
                .status()
                .code(),
            StatusCode::kUnauthenticated);
  // Any flipped bit of a good token: refused (encoding, binding or signature).
  const Bytes token = OwnerToken(Now());
  for (size_t i = 0; i < token.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes t = token;
      t[i] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(Verify(guest_chain_, t).ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(RevalidationTest, MalformedTokensAreRefusedStrictly) {
  const Bytes token = OwnerToken(Now());
  Bytes longer = token;
  longer.push_back(0);
  EXPECT_EQ(Verify(guest_chain_, longer).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(guest_chain_, Bytes(token.begin(), token.end() - 1)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(guest_chain_, Bytes(kMaxRevalidationTokenSize + 1, 0)).status().code(),
            StatusCode::kInvalidArgument);
  Result<RevalidationTokenInfo> info = DecodeRevalidationToken(token);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->fields.serial, kGuestSerial);
  EXPECT_EQ(info->fields.holder_key_id, KeyIdOf(guest_.public_key()));
  EXPECT_FALSE(info->issuer.has_value());
  Result<RevalidationTokenInfo> delegated = DecodeRevalidationToken(ServiceToken(Now()));
  ASSERT_TRUE(delegated.ok());
  ASSERT_TRUE(delegated->issuer.has_value());
  EXPECT_EQ(delegated->issuer->serial, kServiceSerial);
}

TEST_F(RevalidationTest, SmallestBoundOfTheChainWins) {
  // The admin's own certificate demands 600 s; its guest demands 3600 s.
  CertificateFields admin = Fields(lock_id_, admin_, Role::kAdmin, kPermDelegate | kPermLock | kPermUnlock, 94);
  admin.revalidation_max_age = 600;
  CertificateFields guest = GuestFields(3600);
  const Bytes chain = Chain(Issue(admin, owner_, owner_rng_.drbg), Issue(testing::Under(guest, admin.serial), admin_, owner_rng_.drbg));
  EXPECT_EQ(ChainRevalidationMaxAge(chain).value_or(0), 600u);
  EXPECT_EQ(Verify(chain, Token(For(chain, Now() - 601), owner_)).status().code(), StatusCode::kOutOfRange);
  Result<VerifiedKey> k = Verify(chain, Token(For(chain, Now() - 500), owner_));
  ASSERT_TRUE(k.ok()) << k.status().name();
  EXPECT_EQ(*k->revalidated_until, static_cast<uint64_t>(Now() - 500 + 600));
  // Only the admin demands: its guest is still bound by it.
  const Bytes chain2 = Chain(Issue(admin, owner_, owner_rng_.drbg), Issue(testing::Under(GuestFields(0), admin.serial), admin_, owner_rng_.drbg));
  EXPECT_EQ(Verify(chain2, {}).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Verify(chain2, Token(For(chain2, Now()), owner_)).ok());
}

TEST_F(RevalidationTest, A01_KeysCannotRevalidateThemselves) {
  // An admin holding the right may not vouch for a chain it is part of
  // (here: the guest it issued), or a revoked admin could keep itself and
  // its guests alive.
  CertificateFields admin =
      Fields(lock_id_, admin_, Role::kAdmin, kPermRevalidate | kPermDelegate | kPermLock | kPermUnlock, 95);
  const Bytes admin_cert = Issue(admin, owner_, owner_rng_.drbg);
  const Bytes chain = Chain(admin_cert, Issue(testing::Under(GuestFields(), 95), admin_, owner_rng_.drbg));
  EXPECT_EQ(Verify(chain, Token(For(chain, Now()), admin_, admin_cert)).status().code(),
            StatusCode::kPermissionDenied);
  // The service may, and a revalidation key whose own certificate demands
  // revalidation may not sign for anyone.
  EXPECT_TRUE(Verify(chain, Token(For(chain, Now()), service_, service_cert_)).ok());
  CertificateFields needy = Fields(lock_id_, stranger_, Role::kAdmin, kPermRevalidate, 96);
  needy.revalidation_max_age = 60;
  const Bytes needy_cert = Issue(needy, owner_, owner_rng_.drbg);
  EXPECT_EQ(Verify(guest_chain_, Token(For(guest_chain_, Now()), stranger_, needy_cert)).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(RevalidationTest, RevalidationKeyOutsideItsWindowOrForAnotherLockIsRefused) {
  CertificateFields expired = Fields(lock_id_, stranger_, Role::kAdmin, kPermRevalidate, 97);
  expired.not_before = static_cast<uint64_t>(kNoon - 86400);
  expired.not_after = static_cast<uint64_t>(kNoon - 1);
  const Bytes expired_cert = Issue(expired, owner_, owner_rng_.drbg);
  EXPECT_EQ(Verify(guest_chain_, Token(For(guest_chain_, Now()), stranger_, expired_cert)).status().code(),
            StatusCode::kOutOfRange);
  LockId other = lock_id_;
  other[0] ^= 1;
  const Bytes foreign_cert =
      Issue(Fields(other, stranger_, Role::kAdmin, kPermRevalidate, 98), owner_, owner_rng_.drbg);
  EXPECT_EQ(Verify(guest_chain_, Token(For(guest_chain_, Now()), stranger_, foreign_cert)).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(RevalidationTest, KeysWithoutTheFieldAreUnaffected) {
  const Bytes plain = Chain(Issue(GuestFields(0), owner_, owner_rng_.drbg));
  EXPECT_EQ(ChainRevalidationMaxAge(plain).value_or(1), 0u);
  for (const Bytes& token : {Bytes{}, Bytes{0x01, 0x02}, OwnerToken(Now() - 86400)}) {
    Result<VerifiedKey> k = Verify(plain, token);
    ASSERT_TRUE(k.ok()) << k.status().name();
    EXPECT_FALSE(k->revalidated_until.has_value());
  }
  Result<VerifiedKey> k = authority_->VerifyKey(plain, sim_->lock());
  ASSERT_TRUE(k.ok());
  // Time moving on changes nothing for it.
  ASSERT_TRUE(sim_->lock().SetUtcTime(kNoon + 30 * 86400, false).ok());
  EXPECT_TRUE(authority_->Recheck(*k, sim_->lock()).ok());
}

TEST_F(RevalidationTest, IssuerRefusesTokensTheLockWouldRefuse) {
  Bytes out(kMaxRevalidationTokenSize);
  RevalidationFields zero = For(guest_chain_, Now());
  zero.serial = 0;
  EXPECT_EQ(IssueRevalidationToken(zero, owner_, {}, owner_rng_.drbg, out).status().code(),
            StatusCode::kInvalidArgument);
  // The certificate must be the signer's.
  EXPECT_EQ(IssueRevalidationToken(For(guest_chain_, Now()), stranger_, service_cert_, owner_rng_.drbg, out)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueRevalidationToken(For(guest_chain_, Now()), service_, Bytes{1, 2, 3}, owner_rng_.drbg, out)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  uint8_t small[16];
  EXPECT_EQ(IssueRevalidationToken(For(guest_chain_, Now()), owner_, {}, owner_rng_.drbg, small).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(RevalidationFieldsFor(Bytes{1, 2, 3}, 0).status().code(), StatusCode::kInvalidArgument);
}

// --- Sessions -----------------------------------------------------------------

class RevalidationSessionTest : public RevalidationTest {
 protected:
  RevalidationSessionTest() : server_(*authority_, sim_->lock(), store_) { EXPECT_TRUE(server_.Start().ok()); }

  Bytes ToLock(std::span<const uint8_t> datagram) {
    uint8_t reply[kMaxSessionMessageSize];
    Result<size_t> n = server_.Handle(datagram, now_ms_, reply);
    EXPECT_TRUE(n.ok());
    return n.ok() ? Bytes(reply, reply + *n) : Bytes();
  }
  Result<CommandResponse> Cold(SessionClient& client, const CommandRequest& first) {
    uint8_t out[kMaxSessionMessageSize];
    Result<size_t> m1 = client.Hello(out);
    if (!m1.ok()) return m1.status();
    hello_size_ = *m1;
    const Bytes m2 = ToLock(std::span<const uint8_t>(out, *m1));
    Result<size_t> m3 = client.Finish(m2, first, out);
    if (!m3.ok()) return m3.status();
    return client.Receive(ToLock(std::span<const uint8_t>(out, *m3)));
  }
  Result<CommandResponse> Again(SessionClient& client, const CommandRequest& request, bool resume = false) {
    uint8_t out[kMaxSessionMessageSize];
    Result<size_t> m = resume ? client.Resume(request, out) : client.Send(request, out);
    if (!m.ok()) return m.status();
    return client.Receive(ToLock(std::span<const uint8_t>(out, *m)));
  }
  SessionClient Guest(const Bytes& token) {
    SessionClient c(guest_, guest_chain_, lock_id_, owner_rng_.drbg);
    EXPECT_TRUE(c.set_revalidation(token).ok());
    return c;
  }

  SessionServer server_;
  uint64_t now_ms_ = 1000;
  size_t hello_size_ = 0;
};

TEST_F(RevalidationSessionTest, SessionWithATokenOpensAndWithoutOneIsRefused) {
  SessionClient without = Guest({});
  EXPECT_EQ(Cold(without, Cmd(Command::kUnlock)).status().code(), StatusCode::kPermissionDenied);
  SessionClient with = Guest(ServiceToken(Now()));
  Result<CommandResponse> r = Cold(with, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok()) << r.status().name();
  EXPECT_EQ(r->status, StatusCode::kOk);
  SessionClient stale = Guest(OwnerToken(Now() - kMaxAge - 1));
  EXPECT_EQ(Cold(stale, Cmd(Command::kUnlock)).status().code(), StatusCode::kOutOfRange);
  // Oversized tokens are refused by the client, nothing changed.
  SessionClient c(guest_, guest_chain_, lock_id_, owner_rng_.drbg);
  EXPECT_EQ(c.set_revalidation(Bytes(kMaxRevalidationTokenSize + 1, 0)).code(), StatusCode::kInvalidArgument);
}

TEST_F(RevalidationSessionTest, A01_SessionCannotOutliveItsToken) {
  const int64_t issued = Now();
  SessionClient guest = Guest(OwnerToken(issued));
  ASSERT_TRUE(Cold(guest, Cmd(Command::kReadAttribute)).ok());
  // Just before the bound: still good, in the session and on the ticket.
  ASSERT_TRUE(sim_->lock().SetUtcTime(issued + kMaxAge, false).ok());
  Result<CommandResponse> r = Again(guest, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  // Past it: every command is refused until a new token opens a new session.
  ASSERT_TRUE(sim_->lock().SetUtcTime(issued + kMaxAge + 1, false).ok());
  r = Again(guest, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOutOfRange);
  r = Again(guest, Cmd(Command::kUnlock), /*resume=*/true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOutOfRange);
  ASSERT_TRUE(guest.set_revalidation(ServiceToken(Now())).ok());
  r = Cold(guest, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok()) << r.status().name();
  EXPECT_EQ(r->status, StatusCode::kOk);
}

TEST_F(RevalidationSessionTest, A01_RevokingTheRevalidationKeyEndsItsSessions) {
  SessionClient guest = Guest(ServiceToken(Now()));
  ASSERT_TRUE(Cold(guest, Cmd(Command::kReadAttribute)).ok());
  Revoke({kServiceSerial});
  Result<CommandResponse> r = Again(guest, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
}

TEST_F(RevalidationSessionTest, OwnerSessionsNeverNeedATokenAndUnaffectedKeysIgnoreIt) {
  SessionClient owner(owner_, {}, lock_id_, owner_rng_.drbg);
  ASSERT_TRUE(owner.set_revalidation(Bytes{0x01}).ok());  // ignored
  Result<CommandResponse> r = Cold(owner, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok()) << r.status().name();
  EXPECT_EQ(r->status, StatusCode::kOk);
  const Bytes plain = Chain(Issue(GuestFields(0), owner_, owner_rng_.drbg));
  SessionClient guest(guest_, plain, lock_id_, owner_rng_.drbg);
  r = Cold(guest, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok()) << r.status().name();
  EXPECT_EQ(r->status, StatusCode::kOk);
}

TEST_F(RevalidationSessionTest, EncodedSizesOfTokensAndThirdMessages) {
  // Realistic worst case: an admin-delegated guest chain with a window, a
  // schedule and a use limit, and a token from a delegated service key.
  CertificateFields admin = Fields(lock_id_, admin_, Role::kAdmin, RoleAllowedPermissions(Role::kAdmin),
                                   0xF123456789ABCDEFull);
  admin.not_before = static_cast<uint64_t>(kNoon - 86400);
  admin.not_after = static_cast<uint64_t>(kNoon + 365 * 86400);
  CertificateFields g = GuestFields();
  g.serial = 0xE123456789ABCDEFull;
  g.not_before = static_cast<uint64_t>(kNoon - 3600);
  g.not_after = static_cast<uint64_t>(kNoon + 86400);
  g.schedule = WeeklyWindow{0x7F, 0, 1440};
  g.max_uses = 10;
  const Bytes chain = Chain(Issue(admin, owner_, owner_rng_.drbg), Issue(testing::Under(g, admin.serial), admin_, owner_rng_.drbg));
  const Bytes service_cert =
      Issue(Fields(lock_id_, service_, Role::kAdmin, kPermRevalidate, 0xD123456789ABCDEFull), owner_, owner_rng_.drbg);
  const Bytes owner_token = Token(For(chain, Now()), owner_);
  const Bytes service_token = Token(For(chain, Now()), service_, service_cert);
  // The identity travels in message 3 (version 2): measure that, with an
  // unlock as its first request.
  const auto finish_size = [&](const Bytes& token) -> size_t {
    SessionClient c(guest_, chain, lock_id_, owner_rng_.drbg);
    EXPECT_TRUE(c.set_revalidation(token).ok());
    uint8_t out[kMaxSessionMessageSize];
    Result<size_t> m1 = c.Hello(out);
    EXPECT_TRUE(m1.ok());
    const Bytes m2 = ToLock(std::span<const uint8_t>(out, *m1));
    Result<size_t> m3 = c.Finish(m2, Cmd(Command::kUnlock), out);
    EXPECT_TRUE(m3.ok());
    return m3.ok() ? *m3 : 0;
  };
  const size_t bare = finish_size({});
  const size_t with_owner = finish_size(owner_token);
  const size_t with_service = finish_size(service_token);
  std::printf("token: owner-signed %zu, service-signed %zu bytes; delegated message 3: %zu bare, %zu / %zu with token\n",
              owner_token.size(), service_token.size(), bare, with_owner, with_service);
  EXPECT_LE(service_token.size(), kMaxRevalidationTokenSize);
  // Every realistic message 3, token included, fits the 1,024-byte buffer
  // of a BLE-sized transport; only the schema's extremes need more.
  EXPECT_LE(with_service, 1024u);
  Result<VerifiedKey> k = Verify(chain, service_token);
  EXPECT_TRUE(k.ok()) << k.status().name();
}

// --- Remote envelopes --------------------------------------------------------------

class RevalidationRemoteTest : public RevalidationTest {
 protected:
  RevalidationRemoteTest() : server_(*authority_, sim_->lock(), store_) {
    server_.Start(sim_->clock().now_ms());
    sim_->Run(31000);  // envelopes must be made after the boot began
  }
  RemoteOutcome Send(RemoteClient& client, const CommandRequest& request, uint32_t counter) {
    Bytes env(kMaxRemoteMessageSize);
    Result<size_t> n = client.Build(request, counter, Now() + 20, env);
    EXPECT_TRUE(n.ok()) << n.status().name();
    env.resize(n.ok() ? *n : 0);
    Bytes reply(kMaxRemoteMessageSize);
    Result<size_t> m = server_.Handle(env, sim_->clock().now_ms(), reply);
    EXPECT_TRUE(m.ok());
    reply.resize(m.ok() ? *m : 0);
    Result<RemoteOutcome> r = client.Verify(reply);
    EXPECT_TRUE(r.ok()) << r.status().name();
    return r.ok() ? *r : RemoteOutcome{StatusCode::kInternal, {}, 0};
  }
  RemoteClient Guest(const Bytes& chain) {
    return RemoteClient(guest_, chain, authority_->identity().public_key(), owner_rng_.drbg);
  }
  RemoteServer server_;
};

TEST_F(RevalidationRemoteTest, A01_EnvelopeWithATokenRunsAndWithoutOneIsRefused) {
  RemoteClient guest = Guest(guest_chain_);
  EXPECT_EQ(Send(guest, Cmd(Command::kUnlock), 1).envelope, StatusCode::kPermissionDenied);
  ASSERT_TRUE(guest.set_revalidation(OwnerToken(Now() - kMaxAge - 1)).ok());
  EXPECT_EQ(Send(guest, Cmd(Command::kUnlock), 2).envelope, StatusCode::kOutOfRange);
  ASSERT_TRUE(guest.set_revalidation(ServiceToken(Now())).ok());
  const RemoteOutcome r = Send(guest, Cmd(Command::kUnlock), 3);
  EXPECT_EQ(r.envelope, StatusCode::kOk);
  EXPECT_EQ(r.response.status, StatusCode::kOk);
  // A token for another key, carried in a validly signed envelope.
  RevalidationFields other = For(guest_chain_, Now());
  other.serial += 1;
  ASSERT_TRUE(guest.set_revalidation(Token(other, owner_)).ok());
  EXPECT_EQ(Send(guest, Cmd(Command::kLock), 4).envelope, StatusCode::kPermissionDenied);
}

TEST_F(RevalidationRemoteTest, EnvelopesOfKeysWithoutTheFieldAreUnaffected) {
  RemoteClient guest = Guest(Chain(Issue(GuestFields(0), owner_, owner_rng_.drbg)));
  const RemoteOutcome r = Send(guest, Cmd(Command::kUnlock), 1);
  EXPECT_EQ(r.envelope, StatusCode::kOk);
  EXPECT_EQ(r.response.status, StatusCode::kOk);
  RemoteClient owner(owner_, {}, authority_->identity().public_key(), owner_rng_.drbg);
  EXPECT_EQ(Send(owner, Cmd(Command::kLock), 1).envelope, StatusCode::kOk);
}

}  // namespace
}  // namespace mortise::protocol
