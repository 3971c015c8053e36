// Internal: certificate checks shared by certificate.cc and revalidation.cc
// (a revalidation key's certificate is checked like any other).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "mortise.pb.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"
#include "mortise/status.h"

namespace mortise::protocol::internal {

// Decodes one certificate's tbs (strictly) and range-checks its fields.
// kInvalidArgument on any failure.
Status DecodeCertificateWire(const mortise_KeyCertificate& wire, CertificateFields& fields);
// kUnauthenticated unless `issuer` signed the certificate's exact tbs.
Status CheckCertificateSignature(const mortise_KeyCertificate& wire, const crypto::P256PublicKey& issuer);
KeyLimits LimitsOf(const CertificateFields& fields);
// An admin's certificate carried inside a signed update (access list, group
// membership): decodes it, checks the owner signed it, and returns its
// fields and holder key (which must sign the update).
// kInvalidArgument: malformed. kUnauthenticated: not the owner's.
Status VerifyOwnerIssuedCertificate(std::span<const uint8_t> certificate, const crypto::P256PublicKey& owner,
                                    CertificateFields& fields, std::optional<crypto::P256PublicKey>& holder);
// SHA-256(domain || tbs), `domain` including its terminating zero: every
// Mortise signature kind has its own, so none passes as another.
crypto::Digest DomainDigest(std::span<const uint8_t> domain, std::span<const uint8_t> tbs);
// kPermissionDenied: revoked, disabled or below its issuer's minimum epoch.
Status CheckAccessList(const KeyLimits& limits, const VerifyContext& context);
// kFailedPrecondition: time-limited while the time is unknown.
// kOutOfRange: outside the window or the schedule.
Status CheckTime(const KeyLimits& limits, const VerifyContext& context);

// Verifies a revalidation token for `chain` (its decoded certificates,
// root-most first, whose smallest non-zero bound is `max_age_s`), as
// VerifyChain documents. Returns the key's revalidated_until; fills
// `revalidated_by` when a delegated key signed.
Result<uint64_t> VerifyRevalidation(std::span<const uint8_t> token, std::span<const CertificateFields> chain,
                                    uint32_t max_age_s, const VerifyContext& context,
                                    std::optional<KeyLimits>& revalidated_by);

}  // namespace mortise::protocol::internal
