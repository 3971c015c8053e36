#include "mortise/protocol/base64url.h"

namespace mortise::protocol {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

Result<size_t> Base64UrlEncode(std::span<const uint8_t> in, std::span<char> out) {
  if (out.size() < Base64UrlLength(in.size())) return StatusCode::kResourceExhausted;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : in) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out[o++] = kAlphabet[(acc >> bits) & 63];
    }
    acc &= (1u << bits) - 1;
  }
  if (bits > 0) out[o++] = kAlphabet[(acc << (6 - bits)) & 63];
  return o;
}

Result<size_t> Base64UrlDecode(std::string_view in, std::span<uint8_t> out) {
  if (in.size() % 4 == 1) return StatusCode::kInvalidArgument;
  const size_t len = in.size() / 4 * 3 + (in.size() % 4 == 0 ? 0 : in.size() % 4 - 1);
  if (out.size() < len) return StatusCode::kResourceExhausted;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int s = Sextet(c);
    if (s < 0) return StatusCode::kInvalidArgument;
    acc = (acc << 6) | static_cast<uint32_t>(s);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = static_cast<uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  // The unused low bits of the last character must be zero.
  if (acc != 0) return StatusCode::kInvalidArgument;
  return o;
}

}  // namespace mortise::protocol
