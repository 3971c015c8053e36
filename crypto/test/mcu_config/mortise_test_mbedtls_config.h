// An MCU-style mbedTLS configuration for backend_config_test: the default
// configuration plus the static-pool allocator, selected through
// MBEDTLS_CONFIG_FILE as an integrator's build would.
#pragma once
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#include <mbedtls/config.h>
