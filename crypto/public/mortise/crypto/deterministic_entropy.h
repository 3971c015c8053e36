// An EntropySource for tests and simulations: reproducible, and therefore
// never to be linked into a product's randomness path. It lives in its own
// library, mortise_crypto_testing, which is built with RTTI (not portable):
// tests built with RTTI and UBSan's vptr check need the class's typeinfo,
// which a -fno-rtti library does not emit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/crypto/drbg.h"
#include "mortise/status.h"

namespace mortise::crypto {

class DeterministicEntropy final : public EntropySource {
 public:
  // An endless stream: block i is SHA-256(seed as 8 bytes LE || i as 8 bytes
  // LE). Two sources with the same seed yield the same bytes.
  explicit DeterministicEntropy(uint64_t seed);

  // Replays exactly `bytes` (which must outlive the source), then fails with
  // kResourceExhausted. Used to feed published DRBG test vectors.
  static DeterministicEntropy Replaying(std::span<const uint8_t> bytes);

  // kResourceExhausted: a replaying source has fewer bytes left than asked
  // (nothing is consumed). kUnavailable: set_failing(true) was called.
  Status Fill(std::span<uint8_t> out) override;

  // Makes every later Fill fail with kUnavailable, to test failure paths.
  void set_failing(bool failing) { failing_ = failing; }

 private:
  DeterministicEntropy() = default;

  uint64_t seed_ = 0;
  uint64_t counter_ = 0;
  uint8_t block_[32] = {};
  size_t block_used_ = 32;
  std::span<const uint8_t> replay_;
  bool replaying_ = false;
  bool failing_ = false;
};

}  // namespace mortise::crypto
