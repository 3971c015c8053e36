// Internal: base64url without padding (RFC 4648 section 5), strict decoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "mortise/status.h"

namespace mortise::protocol::internal {

inline constexpr size_t Base64UrlLength(size_t bytes) { return (bytes * 4 + 2) / 3; }

// Returns the number of characters written. kResourceExhausted: `out` too small.
Result<size_t> Base64UrlEncode(std::span<const uint8_t> in, std::span<char> out);
// Only the 64 alphabet characters, no padding, no whitespace, and zero
// unused trailing bits (one text per byte string). kInvalidArgument
// otherwise; kResourceExhausted: `out` too small.
Result<size_t> Base64UrlDecode(std::string_view in, std::span<uint8_t> out);

}  // namespace mortise::protocol::internal
