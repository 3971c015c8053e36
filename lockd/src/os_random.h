// Randomness from the OS (getrandom) for the daemon: the entropy source of
// the protocol's DRBG and the core's Random facade (the lock's own
// secrets, such as the credential-digest key made at first start and at a
// factory reset).
#pragma once

#include <cstdint>
#include <span>

#include "mortise/core/random.h"
#include "mortise/crypto/drbg.h"

namespace mortise::lockd {

class OsEntropy final : public crypto::EntropySource {
 public:
  // kUnavailable: getrandom failed (other than EINTR, which is retried).
  Status Fill(std::span<uint8_t> out) override;
};

// core::Random cannot fail; if the OS cannot deliver, the daemon aborts
// rather than hand the lock predictable secrets.
class OsRandom final : public core::Random {
 public:
  void Fill(std::span<uint8_t> out) override;
};

}  // namespace mortise::lockd
