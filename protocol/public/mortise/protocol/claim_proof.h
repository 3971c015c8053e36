// The lock's signed claim proof (docs/protocol.md section 8.2, M6): the
// lock's identity key signs "mortise-claim-proof-v1\0" || T5 || owner public
// key || access-list floor (8 LE) || claim generation (4 LE). The owner's
// device keeps it after claiming; anyone who knows the lock's public key can
// check that this lock installed this owner key (mortise-server checks it
// when a door is registered, docs/server.md "Registering a door").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "mortise/crypto/hash.h"
#include "mortise/crypto/p256.h"
#include "mortise/status.h"

namespace mortise::protocol {

struct ClaimProof {
  crypto::Digest transcript_hash{};  // T5: the claim's transcript through M5
  crypto::P256Signature signature{};  // the lock's, over ClaimProofMessage
  uint64_t access_list_floor = 0;
  uint32_t claim_generation = 0;
};

inline constexpr size_t kClaimProofMessageSize = 23 + crypto::kSha256Size + crypto::kP256PublicKeySize + 8 + 4;

// The bytes the lock signs.
std::array<uint8_t, kClaimProofMessageSize> ClaimProofMessage(const crypto::Digest& transcript_hash,
                                                              const crypto::P256PublicKey& owner,
                                                              uint64_t access_list_floor, uint32_t claim_generation);

// Ok when `lock_key` signed `proof` for `owner`; kUnauthenticated otherwise.
Status VerifyClaimProof(const crypto::P256PublicKey& lock_key, const crypto::P256PublicKey& owner,
                        const ClaimProof& proof);

}  // namespace mortise::protocol
