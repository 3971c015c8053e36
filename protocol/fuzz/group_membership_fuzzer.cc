// Fuzzes the group-membership decoder and verifier (and the cheap header
// peek frame 0x05 runs before any signature).
#include <cstddef>
#include <cstdint>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/group_membership.h"

using namespace mortise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static crypto::DeterministicEntropy entropy(7);
  static crypto::Drbg drbg(entropy);
  static bool seeded = drbg.Seed().ok();
  static Result<crypto::P256KeyPair> owner = crypto::P256KeyPair::Generate(drbg);
  if (!seeded || !owner.ok()) return 0;
  const std::span<const uint8_t> in(data, size);
  protocol::PeekGroupMembership(in).IgnoreError();
  protocol::LockId lock_id{};
  protocol::VerifyGroupMembership(in, lock_id, /*claim_generation=*/1, owner->public_key()).IgnoreError();
  return 0;
}
