// Deterministic random bit generator: CTR_DRBG with AES-256 and the
// derivation function (NIST SP 800-90A), seeded through an EntropySource.
//
// mortise_crypto makes no OS call: the integrator implements EntropySource on
// the MCU's TRNG, or on getrandom() in the Linux programs, and hands it to the
// Drbg. Tests use DeterministicEntropy (deterministic_entropy.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/status.h"

namespace mortise::crypto {

// The randomness facade. Implementations must return full-entropy bytes.
// Not destroyed through a base pointer, hence the protected destructor (and
// no deleting destructor that would pull operator delete into the core).
class EntropySource {
 public:
  // Fills all of `out`, or returns a non-OK status (kUnavailable when the
  // hardware cannot deliver now). A partial fill counts as a failure.
  virtual Status Fill(std::span<uint8_t> out) = 0;

 protected:
  ~EntropySource() = default;
};

class Drbg {
 public:
  // Bytes of entropy read at instantiation (plus kNonceSize) and at reseed.
  static constexpr size_t kEntropySize = 32;
  static constexpr size_t kNonceSize = 16;
  // Longest personalization string or additional input accepted.
  static constexpr size_t kMaxInputSize = 256;
  // The generator reseeds itself from the source after this many requests.
  static constexpr uint32_t kReseedInterval = 10000;

  // `source` must outlive the Drbg. The Drbg is unusable until Seed().
  explicit Drbg(EntropySource& source);
  ~Drbg();
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;

  // Instantiates from kEntropySize + kNonceSize bytes of the source and the
  // personalization string (a device-unique value is a good choice).
  // kFailedPrecondition: already seeded. kInvalidArgument: personalization
  // longer than kMaxInputSize. kUnavailable: the source failed; the Drbg
  // stays unseeded and Seed() may be retried.
  Status Seed(std::span<const uint8_t> personalization = {});

  // Mixes kEntropySize fresh bytes from the source (and `additional`) into
  // the state. kFailedPrecondition: not seeded. kInvalidArgument: additional
  // too long. kUnavailable: the source failed; the state is unchanged.
  Status Reseed(std::span<const uint8_t> additional = {});

  // Fills `out` (any length). `additional` is mixed in before the first
  // block. kFailedPrecondition: not seeded. kInvalidArgument: additional too
  // long. kUnavailable: an automatic reseed was due and the source failed;
  // `out` is then zeroed rather than left partly filled.
  Status Generate(std::span<uint8_t> out, std::span<const uint8_t> additional = {});

  bool seeded() const { return seeded_; }

  // Adapter with the backend's f_rng signature, so other crypto code can
  // hand this Drbg to mbedTLS. Returns 0 or a negative backend error.
  static int BackendRandom(void* drbg, unsigned char* out, size_t size);

 private:
  EntropySource& source_;
  bool seeded_ = false;
  alignas(16) uint8_t ctx_[416];
};

}  // namespace mortise::crypto
