#include "mortise/crypto/backend.h"

// The configuration comes through an mbedTLS header, never <mbedtls/config.h>
// itself: mbedTLS's own headers honour MBEDTLS_CONFIG_FILE (an MCU build's
// configuration, which turns the static pool on); including config.h
// directly would read Debian's default and silently leave the pool off.
// scripts/check_portable refuses a direct include in portable sources.
#include <mbedtls/platform.h>

#if defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C) && defined(MBEDTLS_PLATFORM_MEMORY)
#include <mbedtls/memory_buffer_alloc.h>
#define MORTISE_CRYPTO_STATIC_POOL 1
#else
#define MORTISE_CRYPTO_STATIC_POOL 0
#endif

namespace mortise::crypto {

bool BackendSupportsStaticPool() { return MORTISE_CRYPTO_STATIC_POOL != 0; }

Status InstallBackendPool(std::span<uint8_t> pool) {
#if MORTISE_CRYPTO_STATIC_POOL
  if (pool.size() < 1024) return StatusCode::kInvalidArgument;
  mbedtls_memory_buffer_alloc_init(pool.data(), pool.size());
  return Status::Ok();
#else
  (void)pool;
  return StatusCode::kUnimplemented;
#endif
}

}  // namespace mortise::crypto
