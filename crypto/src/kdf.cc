#include "mortise/crypto/kdf.h"

#include <algorithm>
#include <cstring>

#include "mortise/crypto/secret.h"

namespace mortise::crypto {

void HkdfSha256Extract(std::span<const uint8_t> salt, std::span<const uint8_t> ikm,
                       std::span<uint8_t, kSha256Size> prk) {
  // An empty HMAC key is zero-padded to a block, which is the same key as the
  // RFC's default salt of HashLen zero bytes.
  HmacSha256 h(salt);
  h.Mac(ikm, prk);
}

Status HkdfSha256Expand(std::span<const uint8_t> prk, std::span<const uint8_t> info,
                        std::span<uint8_t> out) {
  if (prk.size() < kSha256Size || out.empty() || out.size() > kHkdfSha256MaxOutput) {
    return StatusCode::kInvalidArgument;
  }
  HmacSha256 h(prk);
  Digest t{};
  size_t t_size = 0;  // T(0) is empty
  size_t written = 0;
  for (uint8_t counter = 1; written < out.size(); ++counter) {
    const uint8_t c[1] = {counter};
    h.Mac(std::span<const uint8_t>(t.data(), t_size), info, c, t);
    t_size = t.size();
    const size_t n = std::min(t.size(), out.size() - written);
    std::memcpy(out.data() + written, t.data(), n);
    written += n;
  }
  SecureZero(t.data(), t.size());
  return Status::Ok();
}

Status HkdfSha256(std::span<const uint8_t> salt, std::span<const uint8_t> ikm,
                  std::span<const uint8_t> info, std::span<uint8_t> out) {
  if (out.empty() || out.size() > kHkdfSha256MaxOutput) return StatusCode::kInvalidArgument;
  SecretBytes<kSha256Size> prk;
  HkdfSha256Extract(salt, ikm, prk.span());
  return HkdfSha256Expand(prk.span(), info, out);
}

Status Pbkdf2HmacSha256(std::span<const uint8_t> password, std::span<const uint8_t> salt,
                        uint32_t iterations, std::span<uint8_t> out) {
  if (iterations == 0 || salt.empty() || out.empty()) return StatusCode::kInvalidArgument;
  HmacSha256 h(password);
  Digest u{}, t{};
  size_t written = 0;
  for (uint32_t block = 1; written < out.size(); ++block) {
    const uint8_t index[4] = {static_cast<uint8_t>(block >> 24), static_cast<uint8_t>(block >> 16),
                              static_cast<uint8_t>(block >> 8), static_cast<uint8_t>(block)};
    h.Mac(salt, index, {}, u);
    t = u;
    for (uint32_t i = 1; i < iterations; ++i) {
      h.Mac(u, u);
      for (size_t k = 0; k < t.size(); ++k) t[k] = static_cast<uint8_t>(t[k] ^ u[k]);
    }
    const size_t n = std::min(t.size(), out.size() - written);
    std::memcpy(out.data() + written, t.data(), n);
    written += n;
  }
  SecureZero(u.data(), u.size());
  SecureZero(t.data(), t.size());
  return Status::Ok();
}

}  // namespace mortise::crypto
