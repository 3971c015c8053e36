#include "mortise/crypto/aead.h"

#include <mbedtls/ccm.h>

#include <cstring>

namespace mortise::crypto {
namespace {

bool LengthsValid(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, size_t in_size,
                  size_t out_size, size_t tag_size) {
  return nonce.size() == kCcmNonceSize && tag_size == kCcmTagSize && in_size == out_size &&
         in_size <= kCcmMaxMessageSize && aad.size() <= kCcmMaxAadSize;
}

// Owns a backend CCM context for the duration of one call.
class CcmContext {
 public:
  CcmContext() { mbedtls_ccm_init(&ctx_); }
  ~CcmContext() { mbedtls_ccm_free(&ctx_); }
  CcmContext(const CcmContext&) = delete;
  CcmContext& operator=(const CcmContext&) = delete;

  bool SetKey(const uint8_t* key) {
    return mbedtls_ccm_setkey(&ctx_, MBEDTLS_CIPHER_ID_AES, key, kAes128KeySize * 8) == 0;
  }
  mbedtls_ccm_context* get() { return &ctx_; }

 private:
  mbedtls_ccm_context ctx_;
};

}  // namespace

AesCcm128::AesCcm128(std::span<const uint8_t, kAes128KeySize> key) {
  std::memcpy(key_.data(), key.data(), kAes128KeySize);
}

Status AesCcm128::Encrypt(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                          std::span<const uint8_t> plaintext, std::span<uint8_t> ciphertext,
                          std::span<uint8_t> tag) const {
  if (!LengthsValid(nonce, aad, plaintext.size(), ciphertext.size(), tag.size())) {
    return StatusCode::kInvalidArgument;
  }
  CcmContext ctx;
  if (!ctx.SetKey(key_.data())) return StatusCode::kInternal;
  const int rc = mbedtls_ccm_encrypt_and_tag(ctx.get(), plaintext.size(), nonce.data(), nonce.size(),
                                             aad.data(), aad.size(), plaintext.data(),
                                             ciphertext.data(), tag.data(), tag.size());
  if (rc != 0) {
    SecureZero(ciphertext.data(), ciphertext.size());
    SecureZero(tag.data(), tag.size());
    return StatusCode::kInternal;
  }
  return Status::Ok();
}

Status AesCcm128::Decrypt(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                          std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                          std::span<uint8_t> plaintext) const {
  if (!LengthsValid(nonce, aad, ciphertext.size(), plaintext.size(), tag.size())) {
    return StatusCode::kInvalidArgument;
  }
  CcmContext ctx;
  if (!ctx.SetKey(key_.data())) return StatusCode::kInternal;
  // The backend decrypts into `plaintext`, compares the tag in constant time
  // and wipes the output when it does not match; we wipe again on any error
  // so no caller can read unauthenticated plaintext.
  const int rc = mbedtls_ccm_auth_decrypt(ctx.get(), ciphertext.size(), nonce.data(), nonce.size(),
                                          aad.data(), aad.size(), ciphertext.data(),
                                          plaintext.data(), tag.data(), tag.size());
  if (rc == 0) return Status::Ok();
  SecureZero(plaintext.data(), plaintext.size());
  return rc == MBEDTLS_ERR_CCM_AUTH_FAILED ? StatusCode::kUnauthenticated : StatusCode::kInternal;
}

Status AesCcm128::Seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                       std::span<const uint8_t> plaintext, std::span<uint8_t> out) const {
  if (out.size() != plaintext.size() + kCcmTagSize) return StatusCode::kInvalidArgument;
  return Encrypt(nonce, aad, plaintext, out.first(plaintext.size()),
                 out.subspan(plaintext.size()));
}

Status AesCcm128::Open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                       std::span<const uint8_t> sealed, std::span<uint8_t> plaintext) const {
  if (sealed.size() < kCcmTagSize || plaintext.size() != sealed.size() - kCcmTagSize) {
    SecureZero(plaintext.data(), plaintext.size());
    return StatusCode::kInvalidArgument;
  }
  const size_t body = sealed.size() - kCcmTagSize;
  return Decrypt(nonce, aad, sealed.first(body), sealed.subspan(body), plaintext);
}

}  // namespace mortise::crypto
