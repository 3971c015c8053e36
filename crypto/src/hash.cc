#include "mortise/crypto/hash.h"

#include <mbedtls/sha256.h>

#include <cstring>

namespace mortise::crypto {
namespace {

static_assert(sizeof(mbedtls_sha256_context) <= 128, "grow Sha256::ctx_");

mbedtls_sha256_context* Ctx(uint8_t* storage) {
  return reinterpret_cast<mbedtls_sha256_context*>(storage);
}
const mbedtls_sha256_context* Ctx(const uint8_t* storage) {
  return reinterpret_cast<const mbedtls_sha256_context*>(storage);
}

}  // namespace

Sha256::Sha256() {
  mbedtls_sha256_init(Ctx(ctx_));
  // With a valid context and is224 = 0 the backend cannot fail.
  (void)mbedtls_sha256_starts_ret(Ctx(ctx_), 0);
}

// mbedtls_sha256_free zeroes the whole context itself.
Sha256::~Sha256() { mbedtls_sha256_free(Ctx(ctx_)); }

Sha256::Sha256(const Sha256& other) {
  mbedtls_sha256_init(Ctx(ctx_));
  mbedtls_sha256_clone(Ctx(ctx_), Ctx(other.ctx_));
}

Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) mbedtls_sha256_clone(Ctx(ctx_), Ctx(other.ctx_));
  return *this;
}

void Sha256::Update(std::span<const uint8_t> data) {
  if (!data.empty()) (void)mbedtls_sha256_update_ret(Ctx(ctx_), data.data(), data.size());
}

void Sha256::Final(std::span<uint8_t, kSha256Size> out) {
  (void)mbedtls_sha256_finish_ret(Ctx(ctx_), out.data());
  (void)mbedtls_sha256_starts_ret(Ctx(ctx_), 0);
}

Digest Sha256::Hash(std::span<const uint8_t> data) {
  Sha256 h;
  h.Update(data);
  Digest d;
  h.Final(d);
  return d;
}

void HmacSha256::SetKey(std::span<const uint8_t> key) {
  constexpr size_t kBlock = 64;
  uint8_t k[kBlock] = {};
  if (key.size() > kBlock) {
    Digest d = Sha256::Hash(key);
    std::memcpy(k, d.data(), d.size());
    SecureZero(d.data(), d.size());
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  uint8_t pad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x36);
  inner_ = Sha256();
  inner_.Update(pad);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x5c);
  outer_ = Sha256();
  outer_.Update(pad);
  SecureZero(pad, sizeof(pad));
  SecureZero(k, sizeof(k));
}

void HmacSha256::Mac(std::span<const uint8_t> a, std::span<uint8_t, kSha256Size> out) const {
  Mac(a, {}, {}, out);
}

void HmacSha256::Mac(std::span<const uint8_t> a, std::span<const uint8_t> b,
                     std::span<const uint8_t> c, std::span<uint8_t, kSha256Size> out) const {
  Sha256 h = inner_;
  h.Update(a);
  h.Update(b);
  h.Update(c);
  uint8_t inner_digest[kSha256Size];
  h.Final(inner_digest);
  Sha256 o = outer_;
  o.Update(inner_digest);
  o.Final(out);
  SecureZero(inner_digest, sizeof(inner_digest));
}

}  // namespace mortise::crypto
