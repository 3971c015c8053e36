// The CLI's randomness: the kernel's getrandom() behind the crypto layer's
// EntropySource facade, feeding a CTR_DRBG (crypto/drbg.h).
#pragma once

#include "mortise/crypto/drbg.h"

namespace mortise::cli {

class GetrandomEntropy final : public crypto::EntropySource {
 public:
  // kUnavailable when getrandom fails (it blocks only before the kernel's
  // pool is initialised, at early boot).
  Status Fill(std::span<uint8_t> out) override;
};

// A seeded DRBG on getrandom, one per process. Throws Error(kInternal) if
// it cannot be seeded.
crypto::Drbg& SystemDrbg();

}  // namespace mortise::cli
