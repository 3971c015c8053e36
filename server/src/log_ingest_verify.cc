#include "log_ingest_verify.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "door_registration.h"

namespace mortise::server {
namespace {

constexpr size_t kScalar = 32;

}  // namespace

std::unique_ptr<OpenSslSignatureCheck> OpenSslSignatureCheck::FromSec1(std::string_view key_bytes) {
  if (key_bytes.size() != kPublicKeyBytes || static_cast<uint8_t>(key_bytes[0]) != 0x04) return nullptr;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>("prime256v1"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<char*>(key_bytes.data()),
                                        key_bytes.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* pkey = nullptr;
  const bool ok = ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                  EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) {
    EVP_PKEY_free(pkey);
    return nullptr;
  }
  // fromdata decodes the point (on the curve, not at infinity); say so
  // explicitly all the same.
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
  const bool valid = check != nullptr && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  if (!valid) {
    EVP_PKEY_free(pkey);
    return nullptr;
  }
  return std::unique_ptr<OpenSslSignatureCheck>(new OpenSslSignatureCheck(pkey));
}

OpenSslSignatureCheck::~OpenSslSignatureCheck() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

bool OpenSslSignatureCheck::Check(std::span<const uint8_t, store::kSignedHeadMessageSize> message,
                                  std::span<const uint8_t, store::kLogSignatureSize> signature) const {
  // r || s to the DER form OpenSSL verifies (r or s of 0 or >= n fail there).
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(signature.data(), kScalar, nullptr);
  BIGNUM* s = BN_bin2bn(signature.data() + kScalar, kScalar, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  unsigned char der[80];
  unsigned char* at = der;
  const int der_len = i2d_ECDSA_SIG(sig, &at);
  ECDSA_SIG_free(sig);
  if (der_len <= 0 || static_cast<size_t>(der_len) > sizeof(der)) return false;
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(message.data(), message.size(), digest);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, static_cast<EVP_PKEY*>(pkey_), nullptr);
  const bool ok = ctx != nullptr && EVP_PKEY_verify_init(ctx) == 1 &&
                  EVP_PKEY_verify(ctx, der, static_cast<size_t>(der_len), digest, sizeof(digest)) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

std::shared_ptr<const OpenSslSignatureCheck> DoorKeyCache::Get(const std::string& public_key_hex) {
  std::lock_guard lock(mu_);
  if (auto it = keys_.find(public_key_hex); it != keys_.end()) return it->second;
  const auto bytes = FromHex(public_key_hex, kPublicKeyBytes);
  if (!bytes) return nullptr;
  std::shared_ptr<const OpenSslSignatureCheck> check =
      OpenSslSignatureCheck::FromSec1(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  if (!check) return nullptr;
  if (keys_.size() >= capacity_) keys_.clear();
  keys_.emplace(public_key_hex, check);
  return check;
}

}  // namespace mortise::server
