// Adjustments to mbedTLS's default configuration for a microcontroller
// build without an OS (used by the Cortex-M4 cross-build check,
// scripts/check_portable_cross, as MBEDTLS_USER_CONFIG_FILE): no threads,
// files, sockets or wall clock, and the static-pool allocator on, so
// crypto::InstallBackendPool works (crypto/public/mortise/crypto/backend.h).
// An integrator's MBEDTLS_CONFIG_FILE would say the same.
#pragma once
#undef MBEDTLS_THREADING_C
#undef MBEDTLS_THREADING_PTHREAD
#undef MBEDTLS_FS_IO
#undef MBEDTLS_NET_C
#undef MBEDTLS_TIMING_C
#undef MBEDTLS_HAVE_TIME
#undef MBEDTLS_HAVEGE_C
#undef MBEDTLS_HAVE_TIME_DATE
#undef MBEDTLS_ENTROPY_PLATFORM
#undef MBEDTLS_PSA_ITS_FILE_C
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
