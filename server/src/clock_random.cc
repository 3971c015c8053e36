#include "clock_random.h"

#include <chrono>
#include <cstdio>
#include <vector>

#include <sodium.h>

namespace mortise::server {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void OsRandom::Fill(std::span<uint8_t> out) { randombytes_buf(out.data(), out.size()); }

std::string RandomBase64Url(Random& random, size_t bytes) {
  std::vector<uint8_t> buf(bytes);
  random.Fill(buf);
  std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), buf.data(), buf.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  sodium_memzero(buf.data(), buf.size());
  return out;
}

std::string RandomHex(Random& random, size_t bytes) {
  std::vector<uint8_t> buf(bytes);
  random.Fill(buf);
  std::string out(bytes * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), buf.data(), buf.size());
  out.resize(bytes * 2);
  return out;
}

std::string NewObjectId(const Clock& clock, Random& random, std::string_view prefix) {
  char time_hex[17];
  std::snprintf(time_hex, sizeof(time_hex), "%012llx", static_cast<unsigned long long>(clock.NowMs()));
  return std::string(prefix) + time_hex + RandomHex(random, 8);
}

std::string Sha256Hex(std::string_view text) {
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

bool SecretEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mortise::server
