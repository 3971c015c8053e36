// Base64url without padding (RFC 4648 section 5), strict decoding: the one
// implementation behind every Mortise text form (docs/protocol.md section
// 16; the CLI wraps it for std::string).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr size_t Base64UrlLength(size_t bytes) { return (bytes * 4 + 2) / 3; }

// Returns the number of characters written. kResourceExhausted: `out` too small.
Result<size_t> Base64UrlEncode(std::span<const uint8_t> in, std::span<char> out);
// Only the 64 alphabet characters, no padding, no whitespace, a length that
// is not 1 mod 4, and zero unused trailing bits (one text per byte string).
// Empty text decodes to no bytes. kInvalidArgument otherwise;
// kResourceExhausted: `out` too small.
Result<size_t> Base64UrlDecode(std::string_view in, std::span<uint8_t> out);

}  // namespace mortise::protocol
