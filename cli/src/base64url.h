// Base64url (RFC 4648 section 5) without padding, strict: the protocol
// library's one implementation (mortise/protocol/base64url.h) for
// std::string and std::vector.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mortise::cli {

std::string Base64UrlEncode(std::span<const uint8_t> bytes);

// Strict inverse: only the 64 alphabet characters, no '=', no whitespace, a
// length that is not 1 mod 4, and zero unused trailing bits, so each byte
// string has exactly one accepted text. nullopt on anything else.
std::optional<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);

}  // namespace mortise::cli
