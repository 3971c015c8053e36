#include "log_key.h"

#include "mortise/crypto/secret.h"

namespace mortise::lockd {

Status MakeLogAuthenticator(const protocol::LockAuthority& authority,
                            std::optional<store::HmacLogAuthenticator>& out) {
  crypto::SecretBytes<32> key;
  MORTISE_TRY(authority.LogKey(key));
  out.emplace(std::span<const uint8_t>(key.data(), key.size()));
  return Status::Ok();
}

}  // namespace mortise::lockd
