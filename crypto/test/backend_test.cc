#include "mortise/crypto/backend.h"

#include <gtest/gtest.h>

namespace mortise::crypto {
namespace {

// Debian's mbedTLS has no static-pool allocator; the call must say so rather
// than pretend the pool is in use.
TEST(Backend, StaticPoolReportsWhetherTheBackendSupportsIt) {
  static uint8_t pool[8192];
  const Status s = InstallBackendPool(pool);
  if (BackendSupportsStaticPool()) {
    EXPECT_TRUE(s.ok());
  } else {
    EXPECT_EQ(s, StatusCode::kUnimplemented);
  }
}

}  // namespace
}  // namespace mortise::crypto
