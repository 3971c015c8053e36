// Internal: the digest every protocol signature covers, SHA-256(domain ||
// message). The domain (a label with its terminating zero) separates the
// signatures: none can be presented as another kind's, even over identical
// bytes.
#pragma once

#include <cstdint>
#include <span>

#include "mortise/crypto/hash.h"

namespace mortise::protocol::internal {

inline crypto::Digest DomainDigest(std::span<const uint8_t> domain, std::span<const uint8_t> message) {
  crypto::Sha256 h;
  h.Update(domain);
  h.Update(message);
  crypto::Digest d{};
  h.Final(d);
  return d;
}

}  // namespace mortise::protocol::internal
