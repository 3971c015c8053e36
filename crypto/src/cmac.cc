#include "mortise/crypto/cmac.h"

#include <mbedtls/aes.h>

#include <cstring>

#include "mortise/crypto/secret.h"

namespace mortise::crypto {
namespace {

static_assert(sizeof(mbedtls_aes_context) <= 288, "grow AesCmac::ctx_");

// Doubling in GF(2^128) with the CMAC polynomial x^128 + x^7 + x^2 + x + 1.
void Double(const uint8_t in[16], uint8_t out[16]) {
  const uint8_t carry = in[0] >> 7;
  for (int i = 0; i < 15; ++i) out[i] = static_cast<uint8_t>((in[i] << 1) | (in[i + 1] >> 7));
  out[15] = static_cast<uint8_t>((in[15] << 1) ^ (carry ? 0x87 : 0x00));
}

}  // namespace

AesCmac::~AesCmac() {
  if (keyed_) mbedtls_aes_free(reinterpret_cast<mbedtls_aes_context*>(ctx_));
  SecureZero(ctx_, sizeof(ctx_));
  SecureZero(k1_, sizeof(k1_));
  SecureZero(k2_, sizeof(k2_));
}

void AesCmac::SetKey(std::span<const uint8_t, 16> key) {
  auto* ctx = reinterpret_cast<mbedtls_aes_context*>(ctx_);
  if (keyed_) mbedtls_aes_free(ctx);
  mbedtls_aes_init(ctx);
  // A 128-bit key cannot be rejected by the backend.
  (void)mbedtls_aes_setkey_enc(ctx, key.data(), 128);
  keyed_ = true;
  uint8_t zero[16] = {};
  uint8_t l[16];
  Encrypt(zero, l);
  Double(l, k1_);
  Double(k1_, k2_);
  SecureZero(l, sizeof(l));
}

void AesCmac::Encrypt(const uint8_t in[16], uint8_t out[16]) const {
  // mbedtls_aes_crypt_ecb does not modify the context for encryption.
  (void)mbedtls_aes_crypt_ecb(const_cast<mbedtls_aes_context*>(reinterpret_cast<const mbedtls_aes_context*>(ctx_)),
                              MBEDTLS_AES_ENCRYPT, in, out);
}

void AesCmac::Mac(std::span<const uint8_t> a, std::span<const uint8_t> b, std::span<uint8_t, kCmacSize> out) const {
  const size_t total = a.size() + b.size();
  auto byte_at = [&](size_t i) -> uint8_t { return i < a.size() ? a[i] : b[i - a.size()]; };
  uint8_t x[16] = {};
  uint8_t block[16];
  // Every block but the last is chained plainly; the last is masked with K1
  // (complete) or padded and masked with K2 (partial or empty message).
  const size_t last_start = total == 0 ? 0 : ((total - 1) / 16) * 16;
  for (size_t start = 0; start < last_start; start += 16) {
    for (size_t i = 0; i < 16; ++i) block[i] = static_cast<uint8_t>(x[i] ^ byte_at(start + i));
    Encrypt(block, x);
  }
  const size_t rem = total - last_start;
  for (size_t i = 0; i < 16; ++i) {
    uint8_t m;
    if (i < rem) m = byte_at(last_start + i);
    else m = (i == rem) ? 0x80 : 0x00;
    const uint8_t k = (rem == 16) ? k1_[i] : k2_[i];
    block[i] = static_cast<uint8_t>(x[i] ^ m ^ k);
  }
  Encrypt(block, out.data());
  SecureZero(block, sizeof(block));
  SecureZero(x, sizeof(x));
}

}  // namespace mortise::crypto
