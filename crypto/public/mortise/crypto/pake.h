// Password-authenticated key exchange for claiming a lock with its setup code:
// SPAKE2+ on P-256 with SHA-256, HKDF-SHA256 and HMAC-SHA256 (RFC 9383, the
// ciphersuite Matter's PASE uses), with the RFC's explicit key confirmation.
//
// Why SPAKE2+ and not EC-JPAKE: mbedTLS 2.28 ships EC-JPAKE, but Debian's
// build (and many vendor builds) leave MBEDTLS_ECJPAKE_C off, and EC-JPAKE
// needs 3 passes plus zero-knowledge proofs. SPAKE2+ is built here on the
// backend's constant-time scalar multiplication; it is augmented (the lock
// stores a verifier, not the setup code) and has published test vectors.
//
// Roles. The client (prover: the owner's phone or CLI) knows the setup code
// read from the label; the server (verifier: the lock) holds the verifier
// {w0, L = w1*G} computed at manufacture. Messages (fixed sizes, no framing):
//   1. client -> server  shareP              65 bytes  PakeClient::Start
//   2. server -> client  shareV || confirmV  97 bytes  PakeServer::Respond
//   3. client -> server  confirmP            32 bytes  PakeClient::Finish
//   the server checks confirmP (PakeServer::Confirm); both then hold a
//   32-byte shared secret that neither side releases before confirmation.
// The `context` string is hashed into the transcript: put the protocol name
// and version there ("mortise-claim v1"), so a downgrade breaks the MACs.
//
// Why an eavesdropper cannot test setup codes offline: a recording holds
// shareP = x*G + w0*M, shareV = y*G + w0*N and two MACs keyed from
// Z = x*y*G and V = w1*y*G. For a guessed code w0', the attacker can compute
// shareP - w0'*M, but to check the guess against a MAC it must compute
// Z = x*y*G from x*G and y*G alone: the computational Diffie-Hellman
// problem, whatever the guess. Without x or y, a recording is consistent
// with every code. An active attacker who runs the protocol can test one
// code per attempt (the confirmation fails for a wrong one), so the lock
// limits attempts and opens the claim window only briefly. An attacker who
// reads the lock's flash gets the verifier {w0, L} and can brute-force the
// code offline from it (as with any stored password verifier), which is why
// the PBKDF2 iteration count matters and the verifier sits in protected
// storage; it still cannot impersonate the client without w1.
//
// Failure statuses shared by every step:
//   kFailedPrecondition  called out of order, or after an earlier failure
//                        (one failure ends the exchange; start a new object)
//   kInvalidArgument     a message of the wrong size, or a share that is not
//                        a valid point, or the identity element after
//                        removing the password mask
//   kUnauthenticated     the peer's confirmation MAC does not match: wrong
//                        setup code, or a modified or mixed transcript
//   kUnavailable         the DRBG failed (unseeded is kFailedPrecondition)
//   kInternal            backend failure (its allocator ran out)
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

inline constexpr size_t kPakeShareSize = 65;
inline constexpr size_t kPakeConfirmSize = 32;
inline constexpr size_t kPakeServerMessageSize = kPakeShareSize + kPakeConfirmSize;
inline constexpr size_t kPakeSharedSecretSize = 32;
// Bounds for the setup-code stretching (Matter uses 1000..100000, 16..32).
inline constexpr uint32_t kPakeMinIterations = 1000;
inline constexpr uint32_t kPakeMaxIterations = 100000;
inline constexpr size_t kPakeMinSaltSize = 16;
inline constexpr size_t kPakeMaxSaltSize = 32;

// The client's secret: the two password scalars, each in [0, n-1].
struct PakeProverSecret {
  SecretBytes<32> w0;
  SecretBytes<32> w1;
};

// What the lock stores: w0 and L = w1*G (uncompressed). L does not reveal w1.
struct PakeVerifier {
  SecretBytes<32> w0;
  std::array<uint8_t, kPakeShareSize> L{};
};

// w0s || w1s = PBKDF2-HMAC-SHA256(setup_code, salt, iterations, 80 bytes);
// w0 = w0s mod n, w1 = w1s mod n (40 bytes each, so the bias is < 2^-64).
// kInvalidArgument: empty setup code, salt length outside [16, 32], or
// iterations outside [kPakeMinIterations, kPakeMaxIterations].
Status DerivePakeProverSecret(std::span<const uint8_t> setup_code, std::span<const uint8_t> salt,
                              uint32_t iterations, PakeProverSecret& out);

// Computes the verifier {w0, L = w1*G} from a prover secret.
// kInvalidArgument: w1 is zero (probability 2^-256 from the derivation).
// kInternal: backend failure.
Status ComputePakeVerifier(const PakeProverSecret& secret, PakeVerifier& out);

// The two roles share the transcript and key schedule.
class PakeSession {
 public:
  // The shared secret, available once this side has verified the peer's
  // confirmation. kFailedPrecondition before that.
  Status SharedSecret(SecretBytes<kPakeSharedSecretSize>& out) const;

 protected:
  PakeSession(std::span<const uint8_t> context, std::span<const uint8_t> prover_id,
              std::span<const uint8_t> verifier_id);
  ~PakeSession();
  PakeSession(const PakeSession&) = delete;
  PakeSession& operator=(const PakeSession&) = delete;

  // Finishes the transcript with shareP, shareV, Z, V, w0 and derives the
  // confirmation keys and the shared secret.
  void DeriveKeys(std::span<const uint8_t, kPakeShareSize> share_p,
                  std::span<const uint8_t, kPakeShareSize> share_v,
                  std::span<const uint8_t, kPakeShareSize> z,
                  std::span<const uint8_t, kPakeShareSize> v, std::span<const uint8_t, 32> w0);
  Status Fail(Status status);
  void WipeKeys();

  enum class State : uint8_t { kInit, kStarted, kAwaitConfirm, kDone, kFailed };
  State state_ = State::kInit;
  Sha256 transcript_;
  SecretBytes<32> confirm_key_prover_;
  SecretBytes<32> confirm_key_verifier_;
  SecretBytes<kPakeSharedSecretSize> shared_;
  std::array<uint8_t, kPakeShareSize> share_p_{};
  std::array<uint8_t, kPakeShareSize> share_v_{};
};

// The owner's side.
class PakeClient : public PakeSession {
 public:
  // Identities and context are hashed at once; the spans need not outlive
  // the call. `secret` is copied.
  PakeClient(const PakeProverSecret& secret, std::span<const uint8_t> context,
             std::span<const uint8_t> prover_id, std::span<const uint8_t> verifier_id);
  ~PakeClient();

  // Message 1: draws the ephemeral x from the DRBG and writes shareP.
  Status Start(Drbg& drbg, std::span<uint8_t, kPakeShareSize> share_p);
  // The same with a given ephemeral scalar, for known-answer tests only:
  // x must be secret, uniform and never reused. kInvalidArgument: x is 0 or
  // >= n. The DRBG only blinds the multiplications.
  Status StartWithEphemeral(std::span<const uint8_t, 32> x, Drbg& drbg,
                            std::span<uint8_t, kPakeShareSize> share_p);

  // Message 2 in, message 3 out: checks shareV, derives the keys, verifies
  // confirmV and only then writes confirmP. On success SharedSecret() is
  // available (the server learns it once it checks confirmP).
  Status Finish(std::span<const uint8_t> server_message, Drbg& drbg,
                std::span<uint8_t, kPakeConfirmSize> confirm_p);

 private:
  PakeProverSecret secret_;
  SecretBytes<32> x_;
};

// The lock's side.
class PakeServer : public PakeSession {
 public:
  PakeServer(const PakeVerifier& verifier, std::span<const uint8_t> context,
             std::span<const uint8_t> prover_id, std::span<const uint8_t> verifier_id);
  ~PakeServer();

  // Message 1 in, message 2 out (shareV || confirmV).
  Status Respond(std::span<const uint8_t> client_share, Drbg& drbg,
                 std::span<uint8_t, kPakeServerMessageSize> out);
  // Known-answer-test variant with a given ephemeral y (see StartWithEphemeral).
  Status RespondWithEphemeral(std::span<const uint8_t> client_share,
                              std::span<const uint8_t, 32> y, Drbg& drbg,
                              std::span<uint8_t, kPakeServerMessageSize> out);

  // Message 3 in: verifies confirmP in constant time. kUnauthenticated for a
  // wrong setup code. On success SharedSecret() is available.
  Status Confirm(std::span<const uint8_t> confirm_p);

 private:
  PakeVerifier verifier_;
};

}  // namespace mortise::crypto
