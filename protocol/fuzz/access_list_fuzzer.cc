// Fuzzes the access-list decoder and verifier.
#include <cstddef>
#include <cstdint>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/access_list.h"

using namespace mortise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static crypto::DeterministicEntropy entropy(7);
  static crypto::Drbg drbg(entropy);
  static bool seeded = drbg.Seed().ok();
  static Result<crypto::P256KeyPair> owner = crypto::P256KeyPair::Generate(drbg);
  if (!seeded || !owner.ok()) return 0;
  protocol::LockId lock_id{};
  protocol::VerifyAccessList(std::span<const uint8_t>(data, size), lock_id, /*claim_generation=*/1, owner->public_key())
      .IgnoreError();
  return 0;
}
