// Where the crypto backend's working memory comes from.
//
// mortise_crypto's own code never allocates. mbedTLS's bignum and ECP code
// does (through mbedtls_calloc/mbedtls_free), as do its CCM and HMAC_DRBG
// contexts. Measured peak on this backend: about 4 KB across the
// operations of this module (valgrind massif on crypto_cost).
//
// On Linux (Debian's libmbedcrypto) that memory comes from the C library's
// calloc; Debian builds mbedTLS without MBEDTLS_MEMORY_BUFFER_ALLOC_C and
// without MBEDTLS_PLATFORM_MEMORY, so there is no hook to redirect it.
//
// On a microcontroller the integrator builds mbedTLS with
// MBEDTLS_PLATFORM_MEMORY and MBEDTLS_MEMORY_BUFFER_ALLOC_C and calls
// InstallBackendPool once at start-up with a static buffer (8 KB leaves room
// for the allocator's block headers and fragmentation); from then on the
// backend allocates only from that pool and never touches a heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/status.h"

namespace mortise::crypto {

// True when the backend was built with a static-pool allocator.
bool BackendSupportsStaticPool();

// Points the backend's allocator at `pool` (which must outlive all crypto
// use). Call once, before any other crypto call.
// kUnimplemented: the backend was built without the static-pool allocator
//   (Debian's build); the platform allocator stays in use.
// kInvalidArgument: pool smaller than 1 KB.
Status InstallBackendPool(std::span<uint8_t> pool);

}  // namespace mortise::crypto
