// Revalidation tokens: fresh, signed statements that one key is still good,
// for keys whose certificates demand them (revalidation_max_age != 0).
//
// Why: revocation reaches a lock only when some device carries the newest
// access list to it (access_list.h). A key that demands revalidation must
// also present a token younger than its bound, so a revocation takes effect
// within that bound even when no device carries the list: the issuer of
// tokens (the owner's device, or a revalidation service the owner
// delegated to, typically the management server) simply stops issuing
// tokens for a revoked key. docs/protocol.md, "Revalidation tokens", states
// the trade-off against a compromised token issuer.
//
// Wire form (proto/mortise.proto):
//   RevalidationToken { tbs, signature }
//   RevalidationTokenTbs { version 1, lock_id (16), serial (the holder
//     certificate's), holder_key_id (8, KeyIdOf the holder key), issued_at
//     (UTC s), issuer_chain (empty: signed by the owner's key; else one
//     KeyCertificate issued by the owner carrying kPermRevalidate, whose
//     holder key signs) }
//   signature: ECDSA P-256 r||s over SHA-256("mortise-revalidation-v1\0" || tbs)
// Decoding is strict (canonical encodings only, every size checked).
//
// The lock checks a token inside VerifyChain (certificate.h) and
// LockAuthority::VerifyKey (lock_authority.h), only for chains that demand
// one; the resulting VerifiedKey carries `revalidated_until`, and
// RecheckKey (run before every command of a session, a resumed session or
// an envelope) refuses the key once that moment has passed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/identity.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr uint32_t kRevalidationVersion = 1;
// Clock difference tolerated between a token's issuer and the lock: a token
// may claim to be issued at most this far in the lock's future.
inline constexpr int64_t kRevalidationMaxSkewS = 300;
// Bound of an encoded RevalidationToken (checked against the schema).
inline constexpr size_t kMaxRevalidationTokenSize = 360;

// What a token states.
struct RevalidationFields {
  LockId lock_id{};
  uint64_t serial = 0;      // the holder certificate's serial (the last of its chain)
  KeyId holder_key_id{};    // KeyIdOf(holder key)
  uint64_t issued_at = 0;   // UTC seconds
};

// The fields a token for `chain` (an encoded KeyChain) must state, issued
// at `issued_at`. kInvalidArgument: the chain does not parse.
Result<RevalidationFields> RevalidationFieldsFor(std::span<const uint8_t> chain, uint64_t issued_at);

// The smallest non-zero revalidation_max_age of the chain's certificates, in
// seconds; 0 when the chain demands no token. kInvalidArgument: the chain
// does not parse. (A holder's app uses it to know how often to fetch.)
Result<uint32_t> ChainRevalidationMaxAge(std::span<const uint8_t> chain);

// Owner / revalidation-service side: encodes `fields`, signs them with
// `signer`, and writes the RevalidationToken to `out`. `signer_chain` is
// empty when `signer` is the owner's own key; otherwise the one encoded
// KeyCertificate the owner issued to `signer` (it travels in the token).
// Returns the encoded length.
// kInvalidArgument: serial 0; a signer_chain that does not parse, is not
//   for `signer`'s key, or lacks kPermRevalidate.
// kResourceExhausted: `out` too small. Signing errors: as P256KeyPair::Sign.
Result<size_t> IssueRevalidationToken(const RevalidationFields& fields, const crypto::P256KeyPair& signer,
                                      std::span<const uint8_t> signer_chain, crypto::Drbg& drbg,
                                      std::span<uint8_t> out);

// A token parsed without checking any signature.
struct RevalidationTokenInfo {
  RevalidationFields fields;
  std::optional<CertificateFields> issuer;  // nullopt: claims to be signed by the owner
};
// kInvalidArgument: malformed or non-canonical encoding, wrong version,
// wrong sizes, serial 0, or an issuer certificate that does not parse.
Result<RevalidationTokenInfo> DecodeRevalidationToken(std::span<const uint8_t> token);

}  // namespace mortise::protocol
