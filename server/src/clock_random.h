// Time and randomness, injected into the auth library so its tests are
// deterministic (a FakeClock and a SeededRandom in test/).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace mortise::server {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds.
  virtual int64_t NowMs() const = 0;
};

class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(std::span<uint8_t> out) = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
};

// libsodium's randombytes_buf (the kernel's CSPRNG).
class OsRandom final : public Random {
 public:
  void Fill(std::span<uint8_t> out) override;
};

// `bytes` random bytes as unpadded base64url (tokens) or lower-case hex.
std::string RandomBase64Url(Random& random, size_t bytes);
std::string RandomHex(Random& random, size_t bytes);
// An object id: `prefix`, the creation time (12 hex digits of Unix ms, so
// list order = creation order for cursor paging), then 64 random bits.
std::string NewObjectId(const Clock& clock, Random& random, std::string_view prefix);
// SHA-256 of `text` in lower-case hex (how tokens are stored).
std::string Sha256Hex(std::string_view text);
// Constant-time equality of two secrets (length is not secret).
bool SecretEquals(std::string_view a, std::string_view b);

}  // namespace mortise::server
