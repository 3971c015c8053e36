#include "base64url.h"

#include "mortise/protocol/base64url.h"

namespace mortise::cli {

std::string Base64UrlEncode(std::span<const uint8_t> bytes) {
  std::string out(protocol::Base64UrlLength(bytes.size()), '\0');
  Result<size_t> n = protocol::Base64UrlEncode(bytes, std::span<char>(out.data(), out.size()));
  out.resize(n.ok() ? *n : 0);
  return out;
}

std::optional<std::vector<uint8_t>> Base64UrlDecode(std::string_view text) {
  std::vector<uint8_t> out(text.size() * 3 / 4 + 1);
  Result<size_t> n = protocol::Base64UrlDecode(text, out);
  if (!n.ok()) return std::nullopt;
  out.resize(*n);
  return out;
}

}  // namespace mortise::cli
