// The log ingest's signature check (docs/server.md "Door logs",
// "Throughput"): the lock's P-256 signatures over its signed heads checked
// with OpenSSL's libcrypto (its assembly P-256 is several times faster than
// the lock's portable mbedTLS backend), behind store::LogVerifier's
// LogSignatureCheck, so the parsing and the chain logic stay the log
// format's own. Keys are parsed once per door and kept (DoorKeyCache).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "mortise/store/audit_log.h"

namespace mortise::server {

class OpenSslSignatureCheck final : public store::LogSignatureCheck {
 public:
  // A 65-byte SEC 1 uncompressed P-256 point; nullptr when it is not one
  // (not on the curve, wrong length or prefix).
  static std::unique_ptr<OpenSslSignatureCheck> FromSec1(std::string_view key_bytes);
  ~OpenSslSignatureCheck();
  OpenSslSignatureCheck(const OpenSslSignatureCheck&) = delete;
  OpenSslSignatureCheck& operator=(const OpenSslSignatureCheck&) = delete;

  // ECDSA over SHA-256(message), signature r || s (32 bytes each, big-endian).
  bool Check(std::span<const uint8_t, store::kSignedHeadMessageSize> message,
             std::span<const uint8_t, store::kLogSignatureSize> signature) const override;

 private:
  explicit OpenSslSignatureCheck(void* pkey) : pkey_(pkey) {}
  void* pkey_;  // EVP_PKEY (kept out of this header)
};

// Parsed door keys by their hex encoding, at most `capacity` (all dropped
// when full: a re-parse is cheap, the bound is what matters). Thread-safe.
class DoorKeyCache {
 public:
  explicit DoorKeyCache(size_t capacity = 4096) : capacity_(capacity) {}
  // nullptr: the stored key is not a P-256 point.
  std::shared_ptr<const OpenSslSignatureCheck> Get(const std::string& public_key_hex);

 private:
  size_t capacity_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const OpenSslSignatureCheck>> keys_;
};

}  // namespace mortise::server
