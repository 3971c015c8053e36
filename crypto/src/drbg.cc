#include "mortise/crypto/drbg.h"

#include <mbedtls/ctr_drbg.h>

#include <algorithm>
#include <new>

#include "mortise/crypto/secret.h"

namespace mortise::crypto {
namespace {

static_assert(sizeof(mbedtls_ctr_drbg_context) <= 416, "grow Drbg::ctx_");
static_assert(alignof(mbedtls_ctr_drbg_context) <= 16, "raise Drbg::ctx_ alignment");
static_assert(Drbg::kReseedInterval == MBEDTLS_CTR_DRBG_RESEED_INTERVAL);
static_assert(Drbg::kMaxInputSize <= MBEDTLS_CTR_DRBG_MAX_INPUT);

mbedtls_ctr_drbg_context* Ctx(uint8_t* storage) {
  return std::launder(reinterpret_cast<mbedtls_ctr_drbg_context*>(storage));
}

// The backend's entropy callback: forwards to the integrator's source.
int EntropyCallback(void* source, unsigned char* out, size_t size) {
  Status s = static_cast<EntropySource*>(source)->Fill(std::span<uint8_t>(out, size));
  return s.ok() ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

Status FromBackend(int rc) {
  if (rc == 0) return Status::Ok();
  if (rc == MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED) return StatusCode::kUnavailable;
  if (rc == MBEDTLS_ERR_CTR_DRBG_INPUT_TOO_BIG || rc == MBEDTLS_ERR_CTR_DRBG_REQUEST_TOO_BIG) {
    return StatusCode::kInvalidArgument;
  }
  return StatusCode::kInternal;
}

}  // namespace

Drbg::Drbg(EntropySource& source) : source_(source) {
  new (ctx_) mbedtls_ctr_drbg_context;
  mbedtls_ctr_drbg_init(Ctx(ctx_));
}

Drbg::~Drbg() {
  mbedtls_ctr_drbg_free(Ctx(ctx_));  // also zeroes the key and counter
  SecureZero(ctx_, sizeof(ctx_));
}

Status Drbg::Seed(std::span<const uint8_t> personalization) {
  if (seeded_) return StatusCode::kFailedPrecondition;
  if (personalization.size() > kMaxInputSize) return StatusCode::kInvalidArgument;
  mbedtls_ctr_drbg_context* ctx = Ctx(ctx_);
  mbedtls_ctr_drbg_set_entropy_len(ctx, kEntropySize);
  if (mbedtls_ctr_drbg_set_nonce_len(ctx, kNonceSize) != 0) return StatusCode::kInternal;
  const int rc = mbedtls_ctr_drbg_seed(ctx, &EntropyCallback, &source_, personalization.data(),
                                       personalization.size());
  if (rc != 0) {
    // The backend requires a free + init after a failed seed.
    mbedtls_ctr_drbg_free(ctx);
    mbedtls_ctr_drbg_init(ctx);
    return FromBackend(rc);
  }
  seeded_ = true;
  return Status::Ok();
}

Status Drbg::Reseed(std::span<const uint8_t> additional) {
  if (!seeded_) return StatusCode::kFailedPrecondition;
  if (additional.size() > kMaxInputSize) return StatusCode::kInvalidArgument;
  return FromBackend(mbedtls_ctr_drbg_reseed(Ctx(ctx_), additional.data(), additional.size()));
}

Status Drbg::Generate(std::span<uint8_t> out, std::span<const uint8_t> additional) {
  if (!seeded_) return StatusCode::kFailedPrecondition;
  if (additional.size() > kMaxInputSize) return StatusCode::kInvalidArgument;
  size_t done = 0;
  while (done < out.size()) {
    const size_t n = std::min<size_t>(out.size() - done, MBEDTLS_CTR_DRBG_MAX_REQUEST);
    const bool first = done == 0;
    const int rc = mbedtls_ctr_drbg_random_with_add(Ctx(ctx_), out.data() + done, n,
                                                    first ? additional.data() : nullptr,
                                                    first ? additional.size() : 0);
    if (rc != 0) {
      SecureZero(out.data(), out.size());
      return FromBackend(rc);
    }
    done += n;
  }
  return Status::Ok();
}

int Drbg::BackendRandom(void* drbg, unsigned char* out, size_t size) {
  Status s = static_cast<Drbg*>(drbg)->Generate(std::span<uint8_t>(out, size));
  return s.ok() ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

}  // namespace mortise::crypto
