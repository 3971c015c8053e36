// backend.cc compiled with MBEDTLS_CONFIG_FILE naming an MCU-style
// configuration (mcu_config/): the static pool must be on. It stays off if
// backend.cc reads <mbedtls/config.h> directly instead of going through the
// configured file (issue 9 item 7). Debian's libmbedcrypto has no
// memory_buffer_alloc, so the allocator's entry point is recorded here.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "mortise/crypto/backend.h"

namespace {
unsigned char* g_pool = nullptr;
size_t g_pool_size = 0;
}  // namespace

extern "C" void mbedtls_memory_buffer_alloc_init(unsigned char* buf, size_t len) {
  g_pool = buf;
  g_pool_size = len;
}

namespace mortise::crypto {
namespace {

TEST(CryptoBackendConfig, TheConfiguredFileTurnsTheStaticPoolOn) {
  EXPECT_TRUE(BackendSupportsStaticPool());
  std::array<uint8_t, 8192> pool{};
  ASSERT_TRUE(InstallBackendPool(pool).ok());
  EXPECT_EQ(g_pool, pool.data());
  EXPECT_EQ(g_pool_size, pool.size());
}

}  // namespace
}  // namespace mortise::crypto
