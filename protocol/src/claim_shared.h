// Claiming: constants, records and derivations shared by the lock side
// (claim.cc) and the owner side (claim_client.cc). Internal to the module.
#pragma once

#include "mortise/protocol/claim.h"
#include <cstring>
#include "mortise/protocol/base64url.h"
#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/records.h"
#include "mortise/text.h"

namespace mortise::protocol::claim_detail {


static_assert(mortise_ClaimMessage_size <= kMaxClaimMessageSize);

inline constexpr uint8_t kTranscriptDomain[] = "mortise-claim-v1";  // the zero terminator is included
inline constexpr char kPakeContextLabel[] = "mortise-claim v1";
inline constexpr uint8_t kProverId[] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'o', 'w', 'n', 'e', 'r'};
inline constexpr uint8_t kProofDomain[] = "mortise-claim-proof-v1";
inline constexpr uint8_t kInfoC2L[] = {'c', 'l', 'a', 'i', 'm', ' ', 'c', '2', 'l'};
inline constexpr uint8_t kInfoL2C[] = {'c', 'l', 'a', 'i', 'm', ' ', 'l', '2', 'c'};
// Each sealing key seals exactly one message, so a fixed nonce is unique
// under its key.
inline constexpr uint8_t kNonce[crypto::kCcmNonceSize] = {};

inline constexpr size_t kOwnerSealedSize = crypto::kP256PublicKeySize + crypto::kCcmTagSize;
// Lock key || proof signature || offline-PIN secret || access-list floor (8
// LE) || claim generation (4 LE).
inline constexpr size_t kResultFloorAt = crypto::kP256PublicKeySize + crypto::kP256SignatureSize + kOfflinePinSecretSize;
inline constexpr size_t kResultPlainSize = kResultFloorAt + 8 + 4;
inline constexpr size_t kResultSealedSize = kResultPlainSize + crypto::kCcmTagSize;
static_assert(sizeof(mortise_ClaimFinish{}.sealed_owner.bytes) == kOwnerSealedSize);
static_assert(sizeof(mortise_ClaimResult{}.sealed.bytes) == kResultSealedSize);

// Verifier record: format 1 || iterations (4, LE) || salt length (1) ||
// salt (32, zero-padded) || w0 (32) || L (65).
inline constexpr uint8_t kVerifierFormat = 1;
inline constexpr uint32_t kVerifierKey = core::MakeRecordKey(kRecordPakeVerifier, 0);
inline constexpr size_t kVerifierRecordSize = 1 + 4 + 1 + crypto::kPakeMaxSaltSize + 32 + crypto::kPakeShareSize;

struct StoredVerifier {
  uint32_t iterations = 0;
  uint8_t salt_len = 0;
  uint8_t salt[crypto::kPakeMaxSaltSize] = {};
  crypto::PakeVerifier verifier;
};

inline Status LoadVerifier(core::DurableStore& store, StoredVerifier& out) {
  crypto::SecretBytes<kVerifierRecordSize + 1> record;
  MORTISE_ASSIGN_OR_RETURN(const size_t n, store.Read(kVerifierKey, record.span()));
  const uint8_t* r = record.data();
  if (n != kVerifierRecordSize || r[0] != kVerifierFormat) return StatusCode::kDataLoss;
  out.iterations = internal::GetU32(r + 1);
  out.salt_len = r[5];
  if (out.salt_len < crypto::kPakeMinSaltSize || out.salt_len > crypto::kPakeMaxSaltSize) return StatusCode::kDataLoss;
  std::memcpy(out.salt, r + 6, crypto::kPakeMaxSaltSize);
  std::memcpy(out.verifier.w0.data(), r + 6 + crypto::kPakeMaxSaltSize, 32);
  std::memcpy(out.verifier.L.data(), r + 6 + crypto::kPakeMaxSaltSize + 32, crypto::kPakeShareSize);
  return Status::Ok();
}

inline crypto::Digest Snapshot(const crypto::Sha256& transcript) {
  crypto::Sha256 copy(transcript);
  crypto::Digest d{};
  copy.Final(d);
  return d;
}

// The PAKE context binds the protocol version and M1..M2 (lock id, salt,
// iterations): an attacker who edits them breaks the confirmation MACs.
struct PakeContext {
  uint8_t bytes[sizeof(kPakeContextLabel) - 1 + crypto::kSha256Size];
  explicit PakeContext(const crypto::Digest& th) {
    std::memcpy(bytes, kPakeContextLabel, sizeof(kPakeContextLabel) - 1);
    std::memcpy(bytes + sizeof(kPakeContextLabel) - 1, th.data(), th.size());
  }
};

inline Status DeriveKeys(const crypto::SecretBytes<crypto::kPakeSharedSecretSize>& shared, const crypto::Digest& th4,
                  crypto::SecretBytes<16>& c2l, crypto::SecretBytes<16>& l2c) {
  MORTISE_TRY(crypto::HkdfSha256(th4, shared.span(), kInfoC2L, c2l.span()));
  return crypto::HkdfSha256(th4, shared.span(), kInfoL2C, l2c.span());
}

// What the lock signs: the whole transcript through M5, the owner key it
// installed, the access-list floor and the claim generation it reports.
struct Proof {
  uint8_t bytes[sizeof(kProofDomain) + crypto::kSha256Size + crypto::kP256PublicKeySize + 8 + 4];
  Proof(const crypto::Digest& th5, const crypto::P256PublicKey& owner, uint64_t floor, uint32_t generation) {
    uint8_t* p = bytes;
    std::memcpy(p, kProofDomain, sizeof(kProofDomain));
    p += sizeof(kProofDomain);
    std::memcpy(p, th5.data(), th5.size());
    p += th5.size();
    std::memcpy(p, owner.bytes().data(), crypto::kP256PublicKeySize);
    p += crypto::kP256PublicKeySize;
    internal::PutU64(p, floor);
    internal::PutU32(p + 8, generation);
  }
};

inline Result<size_t> EncodeMessage(const mortise_ClaimMessage& m, std::span<uint8_t> out) {
  return internal::Encode(mortise_ClaimMessage_fields, &m, out);
}

inline Status DecodeMessage(std::span<const uint8_t> in, mortise_ClaimMessage& m) {
  uint8_t scratch[kMaxClaimMessageSize];
  m = mortise_ClaimMessage_init_zero;
  return internal::DecodeStrict(in, mortise_ClaimMessage_fields, &m, scratch);
}

inline uint8_t Digit(uint32_t code, size_t i) {  // i = 0 is the most significant of 9
  uint32_t div = 1;
  for (size_t k = i + 1; k < kSetupCodeDigits; ++k) div *= 10;
  return static_cast<uint8_t>((code / div) % 10);
}

}  // namespace mortise::protocol::claim_detail
