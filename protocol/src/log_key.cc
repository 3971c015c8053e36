#include "mortise/protocol/log_key.h"

#include <algorithm>

#include "mortise/crypto/secret.h"

namespace mortise::protocol {

Status MakeLogAuthenticator(const LockAuthority& authority,
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

}  // namespace mortise::protocol
