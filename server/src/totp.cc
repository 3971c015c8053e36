#include "totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

#include "clock_random.h"

namespace mortise::server {
namespace {

constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const EVP_MD* Md(TotpAlgorithm alg) {
  switch (alg) {
    case TotpAlgorithm::kSha1:
      return EVP_sha1();
    case TotpAlgorithm::kSha256:
      return EVP_sha256();
    case TotpAlgorithm::kSha512:
      return EVP_sha512();
  }
  return EVP_sha1();
}

std::string UriEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

uint32_t Hotp(std::span<const uint8_t> key, uint64_t counter, int digits, TotpAlgorithm alg) {
  uint8_t msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(Md(alg), key.data(), static_cast<int>(key.size()), msg, sizeof(msg), mac, &mac_len)) {
    throw std::runtime_error("HMAC failed");
  }
  const unsigned offset = mac[mac_len - 1] & 0x0f;
  const uint32_t bin = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                       (static_cast<uint32_t>(mac[offset + 1]) << 16) | (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                       static_cast<uint32_t>(mac[offset + 3]);
  uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  return bin % mod;
}

int64_t TotpStep(int64_t unix_seconds, const TotpParams& p) { return unix_seconds / p.step_seconds; }

std::string TotpCode(std::span<const uint8_t> key, int64_t unix_seconds, const TotpParams& p) {
  std::string s = std::to_string(Hotp(key, static_cast<uint64_t>(TotpStep(unix_seconds, p)), p.digits, p.algorithm));
  return std::string(static_cast<size_t>(p.digits) - s.size(), '0') + s;
}

std::optional<int64_t> TotpMatch(std::span<const uint8_t> key, std::string_view code, int64_t unix_seconds,
                                 const TotpParams& p) {
  if (code.size() != static_cast<size_t>(p.digits)) return std::nullopt;
  for (char c : code) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const int64_t now = TotpStep(unix_seconds, p);
  std::optional<int64_t> found;
  for (int64_t step = now + p.window; step >= now - p.window; --step) {
    if (step < 0) continue;
    std::string s = std::to_string(Hotp(key, static_cast<uint64_t>(step), p.digits, p.algorithm));
    s = std::string(static_cast<size_t>(p.digits) - s.size(), '0') + s;
    if (SecretEquals(s, code) && !found) found = step;
  }
  return found;
}

std::string Base32Encode(std::span<const uint8_t> bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::vector<uint8_t>> Base32Decode(std::string_view text) {
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == ' ') continue;
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return std::nullopt;
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

std::string OtpAuthUri(std::string_view issuer, std::string_view account, std::string_view base32_secret,
                       const TotpParams& p) {
  const char* alg = p.algorithm == TotpAlgorithm::kSha1     ? "SHA1"
                    : p.algorithm == TotpAlgorithm::kSha256 ? "SHA256"
                                                            : "SHA512";
  return "otpauth://totp/" + UriEscape(issuer) + ":" + UriEscape(account) + "?secret=" + std::string(base32_secret) +
         "&issuer=" + UriEscape(issuer) + "&algorithm=" + alg + "&digits=" + std::to_string(p.digits) +
         "&period=" + std::to_string(p.step_seconds);
}

}  // namespace mortise::server
