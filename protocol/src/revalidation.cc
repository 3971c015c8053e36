#include "mortise/protocol/revalidation.h"

#include <cstring>

#include "certificate_internal.h"
#include "codec.h"
#include "mortise.pb.h"
#include "mortise/crypto/hash.h"

namespace mortise::protocol {
namespace {

constexpr uint8_t kDomain[] = "mortise-revalidation-v1";  // signed with its NUL
static_assert(mortise_RevalidationToken_size <= kMaxRevalidationTokenSize);
static_assert(mortise_KeyCertificate_size <= sizeof(mortise_RevalidationTokenTbs{}.issuer_chain.bytes),
              "any certificate fits the issuer field");
static_assert(mortise_RevalidationTokenTbs_size <= sizeof(mortise_RevalidationToken{}.tbs.bytes));

template <typename BytesT>
std::span<const uint8_t> View(const BytesT& field) {
  return std::span<const uint8_t>(field.bytes, field.size);
}

// Domain separation: no certificate, access list, session or envelope
// signature can be presented as a token's, even over identical bytes.
crypto::Digest TokenDigest(std::span<const uint8_t> tbs) {
  return internal::DomainDigest(std::span<const uint8_t>(kDomain, sizeof(kDomain)), tbs);
}

struct Decoded {
  mortise_RevalidationToken wire = mortise_RevalidationToken_init_zero;
  mortise_KeyCertificate issuer_wire = mortise_KeyCertificate_init_zero;
  RevalidationTokenInfo info;
};

Status Decode(std::span<const uint8_t> token, Decoded& d) {
  if (token.empty() || token.size() > kMaxRevalidationTokenSize) return StatusCode::kInvalidArgument;
  uint8_t scratch[kMaxRevalidationTokenSize];
  MORTISE_TRY(internal::DecodeStrict(token, mortise_RevalidationToken_fields, &d.wire, scratch));
  if (d.wire.signature.size != crypto::kP256SignatureSize) return StatusCode::kInvalidArgument;
  mortise_RevalidationTokenTbs tbs = mortise_RevalidationTokenTbs_init_zero;
  MORTISE_TRY(internal::DecodeStrict(View(d.wire.tbs), mortise_RevalidationTokenTbs_fields, &tbs, scratch));
  if (tbs.version != kRevalidationVersion || tbs.serial == 0) return StatusCode::kInvalidArgument;
  RevalidationFields& f = d.info.fields;
  if (!internal::CopyExact<kLockIdSize>(tbs.lock_id, std::span<uint8_t, kLockIdSize>(f.lock_id)) ||
      !internal::CopyExact<kKeyIdSize>(tbs.holder_key_id, std::span<uint8_t, kKeyIdSize>(f.holder_key_id))) {
    return StatusCode::kInvalidArgument;
  }
  f.serial = tbs.serial;
  f.issued_at = tbs.issued_at;
  if (tbs.issuer_chain.size != 0) {
    MORTISE_TRY(internal::DecodeStrict(View(tbs.issuer_chain), mortise_KeyCertificate_fields, &d.issuer_wire, scratch));
    CertificateFields issuer;
    MORTISE_TRY(internal::DecodeCertificateWire(d.issuer_wire, issuer));
    d.info.issuer = issuer;
  }
  return Status::Ok();
}

Result<KeyId> HolderKeyIdOf(const CertificateFields& f) {
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(f.holder_key);
  if (!key.ok()) return StatusCode::kInvalidArgument;
  return KeyIdOf(*key);
}

// The decoded certificates of a chain, root-most first.
struct ParsedChain {
  CertificateFields certs[2];
  size_t count = 0;
};

Status ParseChain(std::span<const uint8_t> bytes, ParsedChain& out) {
  uint8_t scratch[kMaxChainSize];
  mortise_KeyChain chain = mortise_KeyChain_init_zero;
  MORTISE_TRY(internal::DecodeStrict(bytes, mortise_KeyChain_fields, &chain, scratch));
  if (chain.certs_count < 1 || chain.certs_count > 2) return StatusCode::kInvalidArgument;
  for (pb_size_t i = 0; i < chain.certs_count; ++i) {
    MORTISE_TRY(internal::DecodeCertificateWire(chain.certs[i], out.certs[i]));
  }
  out.count = chain.certs_count;
  return Status::Ok();
}

}  // namespace

Result<RevalidationFields> RevalidationFieldsFor(std::span<const uint8_t> chain, uint64_t issued_at) {
  ParsedChain parsed;
  MORTISE_TRY(ParseChain(chain, parsed));
  const CertificateFields& leaf = parsed.certs[parsed.count - 1];
  RevalidationFields f;
  f.lock_id = leaf.lock_id;
  f.serial = leaf.serial;
  MORTISE_ASSIGN_OR_RETURN(f.holder_key_id, HolderKeyIdOf(leaf));
  f.issued_at = issued_at;
  return f;
}

Result<uint32_t> ChainRevalidationMaxAge(std::span<const uint8_t> chain) {
  ParsedChain parsed;
  MORTISE_TRY(ParseChain(chain, parsed));
  uint32_t max_age = 0;
  for (size_t i = 0; i < parsed.count; ++i) {
    const uint32_t a = parsed.certs[i].revalidation_max_age;
    if (a != 0 && (max_age == 0 || a < max_age)) max_age = a;
  }
  return max_age;
}

Result<size_t> IssueRevalidationToken(const RevalidationFields& fields, const crypto::P256KeyPair& signer,
                                      std::span<const uint8_t> signer_chain, crypto::Drbg& drbg,
                                      std::span<uint8_t> out) {
  if (fields.serial == 0) return StatusCode::kInvalidArgument;
  mortise_RevalidationTokenTbs tbs = mortise_RevalidationTokenTbs_init_zero;
  if (!signer_chain.empty()) {
    // A token the lock would refuse is never issued: the certificate must
    // be the signer's and carry the right.
    if (signer_chain.size() > sizeof(tbs.issuer_chain.bytes)) return StatusCode::kInvalidArgument;
    MORTISE_ASSIGN_OR_RETURN(const CertificateFields issuer, DecodeCertificate(signer_chain));
    if (issuer.holder_key != signer.public_key().Compressed()) return StatusCode::kInvalidArgument;
    if ((issuer.permissions & RoleAllowedPermissions(issuer.role) & kPermRevalidate) == 0) {
      return StatusCode::kInvalidArgument;
    }
    internal::SetBytes(tbs.issuer_chain, signer_chain);
  }
  tbs.version = kRevalidationVersion;
  internal::SetBytes(tbs.lock_id, fields.lock_id);
  tbs.serial = fields.serial;
  internal::SetBytes(tbs.holder_key_id, fields.holder_key_id);
  tbs.issued_at = fields.issued_at;

  mortise_RevalidationToken token = mortise_RevalidationToken_init_zero;
  Result<size_t> n = internal::Encode(mortise_RevalidationTokenTbs_fields, &tbs,
                                      std::span<uint8_t>(token.tbs.bytes, sizeof(token.tbs.bytes)));
  if (!n.ok()) return StatusCode::kInternal;  // the schema bounds make this impossible
  token.tbs.size = static_cast<pb_size_t>(*n);
  crypto::P256Signature sig{};
  MORTISE_TRY(signer.SignDigest(TokenDigest(View(token.tbs)), sig, drbg));
  internal::SetBytes(token.signature, sig);
  return internal::Encode(mortise_RevalidationToken_fields, &token, out);
}

Result<RevalidationTokenInfo> DecodeRevalidationToken(std::span<const uint8_t> token) {
  Decoded d;
  MORTISE_TRY(Decode(token, d));
  return d.info;
}

namespace internal {

Result<uint64_t> VerifyRevalidation(std::span<const uint8_t> token, std::span<const CertificateFields> chain,
                                    uint32_t max_age_s, const VerifyContext& ctx,
                                    std::optional<KeyLimits>& revalidated_by) {
  if (chain.empty() || max_age_s == 0) return StatusCode::kInternal;
  Decoded d;
  MORTISE_TRY(Decode(token, d));
  const RevalidationFields& t = d.info.fields;

  // Bound to this key at this lock: a token for another key, another
  // certificate of the same key, or another lock is worth nothing here.
  const CertificateFields& leaf = chain.back();
  MORTISE_ASSIGN_OR_RETURN(const KeyId holder_id, HolderKeyIdOf(leaf));
  if (t.lock_id != ctx.lock_id || t.serial != leaf.serial || t.holder_key_id != holder_id) {
    return StatusCode::kPermissionDenied;
  }

  // Fresh on the lock's own clock (fail closed without one).
  if (!ctx.utc_now) return StatusCode::kFailedPrecondition;
  const int64_t now_signed = *ctx.utc_now;
  if (now_signed < 0) return StatusCode::kOutOfRange;
  const uint64_t now = static_cast<uint64_t>(now_signed);
  if (t.issued_at > now + static_cast<uint64_t>(kRevalidationMaxSkewS)) return StatusCode::kOutOfRange;
  if (t.issued_at < now && now - t.issued_at > max_age_s) return StatusCode::kOutOfRange;

  // Who signed: the owner, or a key the owner gave kPermRevalidate.
  if (ctx.owner == nullptr) return StatusCode::kFailedPrecondition;
  const crypto::Digest digest = TokenDigest(View(d.wire.tbs));
  const std::span<const uint8_t> signature = View(d.wire.signature);
  if (!d.info.issuer) {
    if (!ctx.owner->VerifyDigest(digest, signature).ok()) return StatusCode::kUnauthenticated;
    revalidated_by.reset();
    return t.issued_at + max_age_s;
  }
  const CertificateFields& issuer = *d.info.issuer;
  if (issuer.issuer_key_id != KeyIdOf(*ctx.owner)) return StatusCode::kUnauthenticated;
  MORTISE_TRY(CheckCertificateSignature(d.issuer_wire, *ctx.owner));
  Result<crypto::P256PublicKey> signer = crypto::P256PublicKey::Import(issuer.holder_key);
  if (!signer.ok()) return StatusCode::kInvalidArgument;
  if (!signer->VerifyDigest(digest, signature).ok()) return StatusCode::kUnauthenticated;

  // The revalidation key's certificate, checked like any certificate.
  if (issuer.lock_id != ctx.lock_id) return StatusCode::kPermissionDenied;
  if ((issuer.permissions & ~RoleAllowedPermissions(issuer.role)) != 0) return StatusCode::kPermissionDenied;
  if ((issuer.permissions & kPermRevalidate) == 0) return StatusCode::kPermissionDenied;
  // No token for the token: a revalidation key that itself needed
  // revalidating would make the check recursive.
  if (issuer.revalidation_max_age != 0) return StatusCode::kPermissionDenied;
  // No self-revalidation: a key (or the admin above it) vouching for itself
  // would make the bound meaningless once it is revoked.
  for (const CertificateFields& c : chain) {
    if (c.holder_key == issuer.holder_key) return StatusCode::kPermissionDenied;
  }
  const KeyLimits limits = LimitsOf(issuer);
  MORTISE_TRY(CheckAccessList(limits, ctx));
  MORTISE_TRY(CheckTime(limits, ctx));
  revalidated_by = limits;
  return t.issued_at + max_age_s;
}

}  // namespace internal
}  // namespace mortise::protocol
