#include "mortise/protocol/certificate.h"

#include <cstring>

#include "mortise/protocol/base64url.h"
#include "certificate_internal.h"
#include "codec.h"
#include "mortise.pb.h"
#include "mortise/crypto/hash.h"
#include "mortise/text.h"

namespace mortise::protocol {
namespace {

constexpr uint8_t kDomain[] = "mortise-cert-v1";  // the terminating zero is part of the prefix
static_assert(mortise_KeyCertificate_size <= kMaxCertificateSize);
static_assert(mortise_KeyChain_size <= kMaxChainSize);
constexpr uint16_t kMinutesPerDay = 1440;

crypto::Digest SignedDigest(std::span<const uint8_t> tbs) {
  // Domain separation: no other Mortise signature (access list, claim proof)
  // can be presented as a certificate's, even over identical bytes.
  crypto::Sha256 h;
  h.Update(std::span<const uint8_t>(kDomain, sizeof(kDomain)));
  h.Update(tbs);
  crypto::Digest d{};
  h.Final(d);
  return d;
}

bool ValidRole(uint32_t role) { return role >= 1 && role <= 5; }

// Range checks shared by issuing and decoding: a certificate that fails
// here is never issued and never accepted.
Status CheckFields(const CertificateFields& f) {
  if (!ValidRole(static_cast<uint32_t>(f.role))) return StatusCode::kInvalidArgument;
  if ((f.permissions & ~kAllPermissions) != 0) return StatusCode::kInvalidArgument;
  if (f.not_before != 0 && f.not_after != 0 && f.not_before >= f.not_after) return StatusCode::kInvalidArgument;
  if (f.schedule) {
    const WeeklyWindow& w = *f.schedule;
    if (w.days_mask == 0 || w.days_mask > 0x7F || w.start_minute >= w.end_minute || w.end_minute > kMinutesPerDay) {
      return StatusCode::kInvalidArgument;
    }
  }
  if (f.serial == 0) return StatusCode::kInvalidArgument;
  // A group key names its group and no claim generation (the membership
  // binds the lock and its claim); a lock key names no group.
  if (f.scope == Scope::kGroup) {
    if (f.group_id == 0 || f.claim_generation != 0) return StatusCode::kInvalidArgument;
  } else if (f.scope != Scope::kLock || f.group_id != 0) {
    return StatusCode::kInvalidArgument;
  }
  return Status::Ok();
}

// Day of week of a count of days since 1970-01-01 (a Thursday), 0 = Sunday.
uint8_t DayOfWeek(int64_t days) {
  int64_t d = (days + 4) % 7;
  if (d < 0) d += 7;
  return static_cast<uint8_t>(d);
}

}  // namespace

namespace internal {

Status DecodeCertificateWire(const mortise_KeyCertificate& wire, CertificateFields& f) {
  if (wire.signature.size != crypto::kP256SignatureSize) return StatusCode::kInvalidArgument;
  uint8_t scratch[kMaxCertificateSize];
  mortise_KeyCertificateTbs tbs = mortise_KeyCertificateTbs_init_zero;
  MORTISE_TRY(internal::DecodeStrict(std::span<const uint8_t>(wire.tbs.bytes, wire.tbs.size),
                                     mortise_KeyCertificateTbs_fields, &tbs, scratch));
  if (tbs.version != kCertificateVersion) return StatusCode::kInvalidArgument;
  // Scope: absent (0) is the lock scope, which names its lock; 2 is a group,
  // which names none. An explicit 1 would be a second encoding of "lock".
  if (tbs.scope == 0) {
    if (!internal::CopyExact<kLockIdSize>(tbs.lock_id, std::span<uint8_t, kLockIdSize>(f.lock_id))) {
      return StatusCode::kInvalidArgument;
    }
    f.scope = Scope::kLock;
  } else if (tbs.scope == static_cast<uint32_t>(Scope::kGroup)) {
    if (tbs.lock_id.size != 0) return StatusCode::kInvalidArgument;
    f.scope = Scope::kGroup;
  } else {
    return StatusCode::kInvalidArgument;
  }
  f.group_id = tbs.group_id;
  if (!internal::CopyExact<crypto::kP256CompressedKeySize>(
          tbs.holder_key, std::span<uint8_t, crypto::kP256CompressedKeySize>(f.holder_key)) ||
      !internal::CopyExact<kKeyIdSize>(tbs.issuer_key_id, std::span<uint8_t, kKeyIdSize>(f.issuer_key_id))) {
    return StatusCode::kInvalidArgument;
  }
  if (!ValidRole(static_cast<uint32_t>(tbs.role))) return StatusCode::kInvalidArgument;
  f.role = static_cast<Role>(tbs.role);
  f.permissions = tbs.permissions;
  f.not_before = tbs.not_before;
  f.not_after = tbs.not_after;
  if (tbs.has_schedule) {
    if (tbs.schedule.days_mask > 0xFF || tbs.schedule.start_minute > 0xFFFF || tbs.schedule.end_minute > 0xFFFF) {
      return StatusCode::kInvalidArgument;
    }
    f.schedule = WeeklyWindow{static_cast<uint8_t>(tbs.schedule.days_mask),
                              static_cast<uint16_t>(tbs.schedule.start_minute),
                              static_cast<uint16_t>(tbs.schedule.end_minute)};
  }
  f.max_uses = tbs.max_uses;
  f.remote_only = tbs.remote_only;
  f.serial = tbs.serial;
  f.issuer_epoch = tbs.issuer_epoch;
  f.revalidation_max_age = tbs.revalidation_max_age;
  f.claim_generation = tbs.claim_generation;
  f.parent_serial = tbs.parent_serial;
  MORTISE_TRY(CheckFields(f));
  // The holder key must be a valid point: a certificate for a key nobody
  // can hold is refused here rather than at first use.
  if (!crypto::P256PublicKey::Import(f.holder_key).ok()) return StatusCode::kInvalidArgument;
  return Status::Ok();
}

Status CheckCertificateSignature(const mortise_KeyCertificate& wire, const crypto::P256PublicKey& issuer) {
  const crypto::Digest d = SignedDigest(std::span<const uint8_t>(wire.tbs.bytes, wire.tbs.size));
  const Status s = issuer.VerifyDigest(d, std::span<const uint8_t>(wire.signature.bytes, wire.signature.size));
  return s.ok() ? s : Status(StatusCode::kUnauthenticated);
}

Status VerifyOwnerIssuedCertificate(std::span<const uint8_t> certificate, const crypto::P256PublicKey& owner,
                                    CertificateFields& fields, std::optional<crypto::P256PublicKey>& holder) {
  uint8_t scratch[kMaxCertificateSize];
  mortise_KeyCertificate wire = mortise_KeyCertificate_init_zero;
  MORTISE_TRY(DecodeStrict(certificate, mortise_KeyCertificate_fields, &wire, scratch));
  MORTISE_TRY(DecodeCertificateWire(wire, fields));
  if (fields.issuer_key_id != KeyIdOf(owner)) return StatusCode::kUnauthenticated;
  MORTISE_TRY(CheckCertificateSignature(wire, owner));
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(fields.holder_key);
  if (!key.ok()) return StatusCode::kInvalidArgument;
  holder.emplace(*key);
  return Status::Ok();
}

crypto::Digest DomainDigest(std::span<const uint8_t> domain, std::span<const uint8_t> tbs) {
  crypto::Sha256 h;
  h.Update(domain);
  h.Update(tbs);
  crypto::Digest d{};
  h.Final(d);
  return d;
}

KeyLimits LimitsOf(const CertificateFields& f) {
  KeyLimits l;
  l.serial = f.serial;
  l.issuer = f.issuer_key_id;
  l.epoch = f.issuer_epoch;
  l.not_before = f.not_before;
  l.not_after = f.not_after;
  l.schedule = f.schedule;
  l.claim_generation = f.claim_generation;
  l.max_uses = f.max_uses;
  l.group_id = f.scope == Scope::kGroup ? f.group_id : 0;
  return l;
}

Status CheckTime(const KeyLimits& l, const VerifyContext& ctx) {
  if (l.not_before == 0 && l.not_after == 0 && !l.schedule) return Status::Ok();
  if (!ctx.utc_now) return StatusCode::kFailedPrecondition;  // fail closed while time is unknown
  const int64_t now = *ctx.utc_now;
  if (now < 0) return StatusCode::kOutOfRange;
  if (l.not_before != 0 && static_cast<uint64_t>(now) < l.not_before) return StatusCode::kOutOfRange;
  if (l.not_after != 0 && static_cast<uint64_t>(now) >= l.not_after) return StatusCode::kOutOfRange;
  if (l.schedule) {
    const int64_t local = now + ctx.utc_offset_s;
    int64_t days = local / 86400;
    int64_t secs = local % 86400;
    if (secs < 0) {
      secs += 86400;
      days -= 1;
    }
    const uint8_t dow = DayOfWeek(days);
    const int64_t minute = secs / 60;
    if ((l.schedule->days_mask & (1u << dow)) == 0) return StatusCode::kOutOfRange;
    if (minute < l.schedule->start_minute || minute >= l.schedule->end_minute) return StatusCode::kOutOfRange;
  }
  return Status::Ok();
}

Status CheckAccessList(const KeyLimits& l, const VerifyContext& ctx) {
  if (l.group_id != 0) {
    // A group key opens only a lock whose current membership, signed for
    // this lock and claim generation, lists its group (A12).
    bool member = false;
    for (const uint64_t g : ctx.groups) member = member || g == l.group_id;
    if (!member) return StatusCode::kPermissionDenied;
  } else if (l.claim_generation != ctx.claim_generation) {
    // A certificate of an earlier claim of this lock (even by the same owner
    // key, after a factory reset) is over, whatever any list says.
    return StatusCode::kPermissionDenied;
  }
  // An admin's own list speaks for the keys its key issued, and no others.
  for (const AccessListState& admin : ctx.admin_lists) {
    if (!admin.by_admin || admin.signer != l.issuer) continue;
    if (admin.IsRevoked(l.key_ref()) || admin.IsDisabled(l.key_ref())) return StatusCode::kPermissionDenied;
    if (l.epoch < admin.MinEpochFor(l.issuer)) return StatusCode::kPermissionDenied;
  }
  if (ctx.access_list == nullptr) return Status::Ok();
  const AccessListState& list = *ctx.access_list;
  if (list.IsRevoked(l.key_ref()) || list.IsDisabled(l.key_ref())) return StatusCode::kPermissionDenied;
  if (l.epoch < list.MinEpochFor(l.issuer)) return StatusCode::kPermissionDenied;
  return Status::Ok();
}

}  // namespace internal

using internal::CheckAccessList;
using internal::CheckCertificateSignature;
using internal::CheckTime;
using internal::DecodeCertificateWire;
using internal::LimitsOf;

Result<size_t> IssueCertificate(const CertificateFields& fields, const crypto::P256KeyPair& issuer, crypto::Drbg& drbg,
                                std::span<uint8_t> out) {
  MORTISE_TRY(CheckFields(fields));
  if ((fields.permissions & ~RoleAllowedPermissions(fields.role)) != 0) return StatusCode::kInvalidArgument;
  if (!crypto::P256PublicKey::Import(fields.holder_key).ok()) return StatusCode::kInvalidArgument;

  mortise_KeyCertificateTbs tbs = mortise_KeyCertificateTbs_init_zero;
  tbs.version = kCertificateVersion;
  if (fields.scope == Scope::kGroup) {
    tbs.scope = static_cast<uint32_t>(Scope::kGroup);
    tbs.group_id = fields.group_id;
  } else {
    internal::SetBytes(tbs.lock_id, fields.lock_id);
  }
  internal::SetBytes(tbs.holder_key, fields.holder_key);
  tbs.role = static_cast<uint32_t>(fields.role);
  tbs.permissions = fields.permissions;
  tbs.not_before = fields.not_before;
  tbs.not_after = fields.not_after;
  if (fields.schedule) {
    tbs.has_schedule = true;
    tbs.schedule.days_mask = fields.schedule->days_mask;
    tbs.schedule.start_minute = fields.schedule->start_minute;
    tbs.schedule.end_minute = fields.schedule->end_minute;
  }
  tbs.max_uses = fields.max_uses;
  tbs.remote_only = fields.remote_only;
  tbs.serial = fields.serial;
  internal::SetBytes(tbs.issuer_key_id, KeyIdOf(issuer.public_key()));
  tbs.issuer_epoch = fields.issuer_epoch;
  tbs.revalidation_max_age = fields.revalidation_max_age;
  tbs.claim_generation = fields.claim_generation;
  tbs.parent_serial = fields.parent_serial;

  mortise_KeyCertificate cert = mortise_KeyCertificate_init_zero;
  Result<size_t> n = internal::Encode(mortise_KeyCertificateTbs_fields, &tbs,
                                      std::span<uint8_t>(cert.tbs.bytes, sizeof(cert.tbs.bytes)));
  if (!n.ok()) return StatusCode::kInternal;  // the schema bounds make this impossible
  cert.tbs.size = static_cast<pb_size_t>(*n);
  crypto::P256Signature sig{};
  MORTISE_TRY(issuer.SignDigest(SignedDigest(std::span<const uint8_t>(cert.tbs.bytes, cert.tbs.size)), sig, drbg));
  internal::SetBytes(cert.signature, sig);
  return internal::Encode(mortise_KeyCertificate_fields, &cert, out);
}

Result<CertificateFields> DecodeCertificate(std::span<const uint8_t> certificate) {
  uint8_t scratch[kMaxCertificateSize];
  mortise_KeyCertificate wire = mortise_KeyCertificate_init_zero;
  MORTISE_TRY(internal::DecodeStrict(certificate, mortise_KeyCertificate_fields, &wire, scratch));
  CertificateFields f;
  MORTISE_TRY(DecodeCertificateWire(wire, f));
  return f;
}

Result<size_t> EncodeChain(std::span<const uint8_t> first, std::span<const uint8_t> second, std::span<uint8_t> out) {
  mortise_KeyChain chain = mortise_KeyChain_init_zero;
  uint8_t scratch[kMaxCertificateSize];
  MORTISE_TRY(internal::DecodeStrict(first, mortise_KeyCertificate_fields, &chain.certs[0], scratch));
  chain.certs_count = 1;
  if (!second.empty()) {
    MORTISE_TRY(internal::DecodeStrict(second, mortise_KeyCertificate_fields, &chain.certs[1], scratch));
    chain.certs_count = 2;
  }
  return internal::Encode(mortise_KeyChain_fields, &chain, out);
}

VerifiedKey OwnerKey(const crypto::P256PublicKey& owner) {
  VerifiedKey k;
  k.grant = Grant{Role::kOwner, kAllPermissions};
  k.holder_key = owner.Compressed();
  k.depth = 0;
  return k;
}

Result<VerifiedKey> VerifyChain(std::span<const uint8_t> bytes, const VerifyContext& ctx) {
  return VerifyChain(bytes, {}, ctx);
}

Result<VerifiedKey> VerifyChain(std::span<const uint8_t> bytes, std::span<const uint8_t> revalidation,
                                const VerifyContext& ctx) {
  uint8_t scratch[kMaxChainSize];
  mortise_KeyChain chain = mortise_KeyChain_init_zero;
  MORTISE_TRY(internal::DecodeStrict(bytes, mortise_KeyChain_fields, &chain, scratch));
  if (chain.certs_count < 1 || chain.certs_count > 2) return StatusCode::kInvalidArgument;
  CertificateFields f[2];
  for (pb_size_t i = 0; i < chain.certs_count; ++i) MORTISE_TRY(DecodeCertificateWire(chain.certs[i], f[i]));
  if (ctx.owner == nullptr) return StatusCode::kFailedPrecondition;

  // Signatures, root first: every later check relies on authentic fields.
  if (f[0].issuer_key_id != KeyIdOf(*ctx.owner)) return StatusCode::kUnauthenticated;
  MORTISE_TRY(CheckCertificateSignature(chain.certs[0], *ctx.owner));
  if (f[0].parent_serial != 0) return StatusCode::kPermissionDenied;  // the owner issues under no certificate
  const CertificateFields& leaf = f[chain.certs_count - 1];
  if (chain.certs_count == 2) {
    const CertificateFields& admin = f[0];
    Result<crypto::P256PublicKey> admin_key = crypto::P256PublicKey::Import(admin.holder_key);
    if (!admin_key.ok()) return StatusCode::kInvalidArgument;
    if (leaf.issuer_key_id != KeyIdOf(*admin_key)) return StatusCode::kUnauthenticated;
    MORTISE_TRY(CheckCertificateSignature(chain.certs[1], *admin_key));
    // Delegation: only an admin holding the delegate right; no more than it
    // holds; never another admin or owner (chains stop at two); and no
    // longer than its own window.
    if (admin.role != Role::kAdmin || (admin.permissions & kPermDelegate) == 0) return StatusCode::kPermissionDenied;
    if ((leaf.permissions & ~admin.permissions) != 0) return StatusCode::kPermissionDenied;
    if (leaf.role == Role::kOwner || leaf.role == Role::kAdmin || (leaf.permissions & kPermDelegate) != 0) {
      return StatusCode::kPermissionDenied;
    }
    if (admin.not_after != 0 && (leaf.not_after == 0 || leaf.not_after > admin.not_after)) {
      return StatusCode::kPermissionDenied;
    }
    if (admin.not_before != 0 && leaf.not_before < admin.not_before) return StatusCode::kPermissionDenied;
    if (admin.remote_only && !leaf.remote_only) return StatusCode::kPermissionDenied;
    // Issued under this very certificate: revoking it (or letting it
    // lapse) ends the leaf, even if the admin's key holds another one.
    if (leaf.parent_serial != admin.serial) return StatusCode::kPermissionDenied;
    // No more uses than the admin has: each use of the leaf is also
    // counted against the admin's certificate (ConsumeUse), so the admin's
    // limit bounds everything issued under it.
    if (admin.max_uses != 0 && (leaf.max_uses == 0 || leaf.max_uses > admin.max_uses)) {
      return StatusCode::kPermissionDenied;
    }
    // Where it opens: exactly where the admin's certificate opens (an admin
    // of one door issues keys for that door; an admin of a group, for it).
    if (leaf.scope != admin.scope || leaf.group_id != admin.group_id) return StatusCode::kPermissionDenied;
  }
  for (pb_size_t i = 0; i < chain.certs_count; ++i) {
    // A group certificate's lock is checked through the membership
    // (CheckAccessList below); a lock certificate names this one.
    if (f[i].scope == Scope::kLock && f[i].lock_id != ctx.lock_id) return StatusCode::kPermissionDenied;
    if ((f[i].permissions & ~RoleAllowedPermissions(f[i].role)) != 0) return StatusCode::kPermissionDenied;
    MORTISE_TRY(CheckAccessList(LimitsOf(f[i]), ctx));
  }
  // Revalidation: the smallest bound of the chain wins.
  uint32_t max_age = 0;
  for (pb_size_t i = 0; i < chain.certs_count; ++i) {
    const uint32_t a = f[i].revalidation_max_age;
    if (a != 0 && (max_age == 0 || a < max_age)) max_age = a;
  }
  VerifiedKey key;
  if (max_age != 0) {
    if (revalidation.empty()) return StatusCode::kPermissionDenied;
    const std::span<const CertificateFields> certs(f, chain.certs_count);
    MORTISE_ASSIGN_OR_RETURN(const uint64_t until,
                             internal::VerifyRevalidation(revalidation, certs, max_age, ctx, key.revalidated_by));
    key.revalidated_until = until;
  }

  key.grant = Grant{leaf.role, leaf.permissions & RoleAllowedPermissions(leaf.role)};
  key.holder_key = leaf.holder_key;
  key.serial = leaf.serial;
  key.max_uses = leaf.max_uses;
  key.remote_only = f[0].remote_only || leaf.remote_only;
  key.depth = static_cast<uint8_t>(chain.certs_count);
  for (pb_size_t i = 0; i < chain.certs_count; ++i) key.limits[i] = LimitsOf(f[i]);
  MORTISE_TRY(RecheckKey(key, ctx));
  return key;
}

Status RecheckKey(const VerifiedKey& key, const VerifyContext& ctx) {
  if (key.depth > 2) return StatusCode::kInvalidArgument;
  if (key.depth == 0) return Status::Ok();
  for (uint8_t i = 0; i < key.depth; ++i) MORTISE_TRY(CheckAccessList(key.limits[i], ctx));
  if (key.revalidated_by) MORTISE_TRY(CheckAccessList(*key.revalidated_by, ctx));
  if (key.revalidated_until) {
    // Fail closed: without a clock, a token's age cannot be judged.
    if (!ctx.utc_now) return StatusCode::kFailedPrecondition;
    if (*ctx.utc_now < 0 || static_cast<uint64_t>(*ctx.utc_now) > *key.revalidated_until) {
      return StatusCode::kOutOfRange;
    }
  }
  for (uint8_t i = 0; i < key.depth; ++i) MORTISE_TRY(CheckTime(key.limits[i], ctx));
  if (key.revalidated_by) MORTISE_TRY(CheckTime(*key.revalidated_by, ctx));
  return Status::Ok();
}

// --- Text form -----------------------------------------------------------------

Result<size_t> ChainToText(std::span<const uint8_t> chain, std::span<char> out) {
  if (chain.size() > kMaxChainSize) return StatusCode::kInvalidArgument;
  if (out.size() < kKeyTextPrefix.size()) return StatusCode::kResourceExhausted;
  for (size_t i = 0; i < kKeyTextPrefix.size(); ++i) out[i] = kKeyTextPrefix[i];
  MORTISE_ASSIGN_OR_RETURN(const size_t n, Base64UrlEncode(chain, out.subspan(kKeyTextPrefix.size())));
  return kKeyTextPrefix.size() + n;
}

Result<size_t> ChainFromText(std::string_view text, std::span<uint8_t> out) {
  if (!HasPrefix(text, kKeyTextPrefix) || text.size() > kMaxChainTextSize || text.size() == kKeyTextPrefix.size()) {
    return StatusCode::kInvalidArgument;
  }
  return Base64UrlDecode(DropPrefix(text, kKeyTextPrefix.size()), out);
}

}  // namespace mortise::protocol
