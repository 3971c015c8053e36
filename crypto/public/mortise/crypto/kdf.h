// Key derivation: HKDF-SHA256 (RFC 5869) and PBKDF2-HMAC-SHA256 (RFC 8018).
//
// Both are built on HmacSha256 (hash.h) rather than on the backend's generic
// message-digest layer, which allocates a context on the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/crypto/hash.h"
#include "mortise/status.h"

namespace mortise::crypto {

// RFC 5869 caps the output at 255 hash blocks.
inline constexpr size_t kHkdfSha256MaxOutput = 255 * kSha256Size;

// HKDF-Extract: PRK = HMAC-SHA256(salt, ikm). An empty salt means a salt of
// 32 zero bytes, as the RFC specifies. Cannot fail.
void HkdfSha256Extract(std::span<const uint8_t> salt, std::span<const uint8_t> ikm,
                       std::span<uint8_t, kSha256Size> prk);

// HKDF-Expand: fills `out` (its whole length) from a PRK and an info string.
// Returns kInvalidArgument if `prk` is shorter than 32 bytes or `out` is
// empty or longer than kHkdfSha256MaxOutput; `out` is then untouched.
Status HkdfSha256Expand(std::span<const uint8_t> prk, std::span<const uint8_t> info,
                        std::span<uint8_t> out);

// Extract then Expand. The intermediate PRK is wiped.
// Returns kInvalidArgument as HkdfSha256Expand does.
Status HkdfSha256(std::span<const uint8_t> salt, std::span<const uint8_t> ikm,
                  std::span<const uint8_t> info, std::span<uint8_t> out);

// PBKDF2 with HMAC-SHA256 as the PRF. Used to stretch a short setup code into
// the PAKE's password scalars (pake.h), as Matter's PASE does.
// Returns kInvalidArgument if `iterations` is 0, `salt` is empty or `out` is
// empty; `out` is then untouched. The cost is 2 * iterations SHA-256
// compressions per 32 bytes of output.
Status Pbkdf2HmacSha256(std::span<const uint8_t> password, std::span<const uint8_t> salt,
                        uint32_t iterations, std::span<uint8_t> out);

}  // namespace mortise::crypto
