#include "log_key.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "mortise/crypto/secret.h"

namespace mortise::lockd {

Status MakeLogAuthenticator(const protocol::LockAuthority& authority,
                            std::optional<store::HmacLogAuthenticator>& out) {
  crypto::SecretBytes<32> key;
  MORTISE_TRY(authority.LogKey(key));
  out.emplace(std::span<const uint8_t>(key.data(), key.size()));
  return Status::Ok();
}

Status LogHeadSigner::Sign(std::span<const uint8_t> message,
                           std::span<uint8_t, store::kLogSignatureSize> signature) {
  crypto::P256Signature sig;
  MORTISE_TRY(authority_.SignLogHead(message, sig));
  std::copy(sig.begin(), sig.end(), signature.begin());
  return Status::Ok();
}

void LogKeyIntroducer::KeyIndexAssigned(uint16_t index, const protocol::KeyRef& key) {
  const Result<uint64_t> seq = log_.AppendKeyIntroduction(index, key.issuer, key.serial);
  if (!seq.ok())
    spdlog::warn("audit log: key #{} could not be introduced in the log ({}); its events name the index only", index,
                 seq.status().name());
}

}  // namespace mortise::lockd
