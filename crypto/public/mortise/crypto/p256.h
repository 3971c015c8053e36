// NIST P-256 (secp256r1): key pairs, ECDSA with SHA-256, and ECDH.
//
// Encodings are fixed-size so wire formats need no ASN.1:
//   private key  32-byte big-endian scalar in [1, n-1]
//   public key   65-byte SEC 1 uncompressed point 04||X||Y, or 33-byte
//                compressed 02/03||X
//   signature    64-byte r||s, each 32-byte big-endian
//   ECDH secret  32-byte big-endian X coordinate of the shared point
//
// Every public key is validated when it is imported (on the curve, not the
// point at infinity, coordinates below p), so a P256PublicKey value is always
// a valid point and later operations never see an invalid-curve point.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/crypto/drbg.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/secret.h"
#include "mortise/status.h"

namespace mortise::crypto {

inline constexpr size_t kP256ScalarSize = 32;
inline constexpr size_t kP256PublicKeySize = 65;
inline constexpr size_t kP256CompressedKeySize = 33;
inline constexpr size_t kP256SignatureSize = 64;
inline constexpr size_t kP256SharedSecretSize = 32;

using P256Signature = std::array<uint8_t, kP256SignatureSize>;

class P256PublicKey {
 public:
  // Imports an uncompressed (65-byte) or compressed (33-byte) point.
  // kInvalidArgument: any other length, a wrong prefix byte, a coordinate
  // >= p, a point not on the curve, or (compressed) an X with no square root.
  static Result<P256PublicKey> Import(std::span<const uint8_t> encoded);

  // The 65-byte uncompressed encoding.
  const std::array<uint8_t, kP256PublicKeySize>& bytes() const { return bytes_; }
  // The 33-byte compressed encoding.
  std::array<uint8_t, kP256CompressedKeySize> Compressed() const;

  // Verifies an ECDSA signature over SHA-256(message).
  // kInvalidArgument: signature is not 64 bytes. kUnauthenticated: the
  // signature does not verify (including r or s equal to 0 or >= n).
  // kInternal: the backend failed (its allocator ran out).
  Status Verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const;
  // The same over a digest the caller computed.
  Status VerifyDigest(std::span<const uint8_t, kSha256Size> digest,
                      std::span<const uint8_t> signature) const;

  friend bool operator==(const P256PublicKey& a, const P256PublicKey& b) {
    return a.bytes_ == b.bytes_;
  }

 private:
  P256PublicKey() = default;
  friend class P256KeyPair;

  std::array<uint8_t, kP256PublicKeySize> bytes_{};
};

// A private scalar (in self-zeroing storage) and its public key.
class P256KeyPair {
 public:
  // A fresh key pair from the DRBG.
  // kFailedPrecondition: the DRBG is not seeded. kUnavailable: the DRBG
  // could not reseed. kInternal: backend failure.
  static Result<P256KeyPair> Generate(Drbg& drbg);

  // Imports a 32-byte big-endian scalar and derives its public key.
  // kInvalidArgument: not 32 bytes, or the scalar is 0 or >= n.
  // kInternal: backend failure.
  static Result<P256KeyPair> FromPrivateScalar(std::span<const uint8_t> scalar);

  const P256PublicKey& public_key() const { return public_key_; }

  // Copies the private scalar out, for sealed storage only.
  void ExportPrivateScalar(SecretBytes<kP256ScalarSize>& out) const { out = scalar_; }

  // ECDSA over SHA-256(message), with a hedged nonce: k comes from RFC 6979's
  // HMAC-DRBG seeded with the key, the digest and 32 fresh bytes from `drbg`
  // (the additional data k' of RFC 6979 section 3.6, as
  // draft-irtf-cfrg-det-sigs-with-noise does). So a weak or failed DRBG
  // cannot leak the key through a repeated k (the derivation stays
  // deterministic in the key and message), and signing the same message
  // twice uses two different nonces (a fault injected into one of two
  // identical signings cannot be compared against the other). A DRBG seeded
  // with a fixed test seed gives byte-exact signatures.
  // Signatures are not canonicalised: (r, n - s) verifies too, so never use
  // a signature as an identifier.
  // kFailedPrecondition / kUnavailable: DRBG not seeded / failed.
  // kInternal: backend failure.
  Status Sign(std::span<const uint8_t> message, P256Signature& signature, Drbg& drbg) const;
  Status SignDigest(std::span<const uint8_t, kSha256Size> digest, P256Signature& signature,
                    Drbg& drbg) const;

  // The same with the additional data k' given: empty gives plain RFC 6979
  // (its published known-answer vectors); at most 64 bytes
  // (kInvalidArgument beyond). For known-answer tests: production code
  // signs with SignDigest, which draws k' from the DRBG.
  Status SignDigestWithNonceInput(std::span<const uint8_t, kSha256Size> digest,
                                  std::span<const uint8_t> nonce_input,
                                  P256Signature& signature) const;

  // ECDH: the X coordinate of scalar * peer. The peer key is valid by
  // construction. Feed the result to HKDF, never use it as a key directly.
  // kFailedPrecondition / kUnavailable: DRBG (used for blinding) not seeded /
  // failed. kInternal: backend failure.
  Status Ecdh(const P256PublicKey& peer, SecretBytes<kP256SharedSecretSize>& shared,
              Drbg& drbg) const;

 private:
  P256KeyPair() = default;

  SecretBytes<kP256ScalarSize> scalar_;
  P256PublicKey public_key_;
};

// Running counts of the P-256 operations done in this program (all keys).
// Diagnostics, and the proof in tests that unauthenticated input costs no
// public-key work (count before, act, count after). Relaxed atomics: exact
// in a single thread, never torn.
struct P256Operations {
  uint32_t signatures = 0;     // Sign / SignDigest / SignDigestWithNonceInput
  uint32_t verifications = 0;  // Verify / VerifyDigest
  uint32_t key_agreements = 0; // Ecdh
  uint32_t generations = 0;    // Generate / FromPrivateScalar (one scalar multiplication each)
};
P256Operations P256OperationCount();

}  // namespace mortise::crypto
