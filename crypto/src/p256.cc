#include "mortise/crypto/p256.h"

#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/hmac_drbg.h>

#include <atomic>

#include <cstring>

#include "ecp_internal.h"

namespace mortise::crypto {

using internal::Group;
using internal::Mpi;
using internal::Point;

namespace {

std::atomic<uint32_t> g_signatures{0};
std::atomic<uint32_t> g_verifications{0};
std::atomic<uint32_t> g_key_agreements{0};
std::atomic<uint32_t> g_generations{0};

void Count(std::atomic<uint32_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

constexpr size_t kHedgeSize = 32;          // k' drawn from the DRBG per signature
constexpr size_t kMaxNonceInputSize = 64;  // the largest k' accepted

// RFC 6979's HMAC-DRBG state, freed (and zeroed) on every path.
class HmacDrbg {
 public:
  HmacDrbg() { mbedtls_hmac_drbg_init(&v_); }
  ~HmacDrbg() { mbedtls_hmac_drbg_free(&v_); }
  HmacDrbg(const HmacDrbg&) = delete;
  HmacDrbg& operator=(const HmacDrbg&) = delete;
  mbedtls_hmac_drbg_context* get() { return &v_; }

 private:
  mbedtls_hmac_drbg_context v_;
};

}  // namespace

P256Operations P256OperationCount() {
  P256Operations out;
  out.signatures = g_signatures.load(std::memory_order_relaxed);
  out.verifications = g_verifications.load(std::memory_order_relaxed);
  out.key_agreements = g_key_agreements.load(std::memory_order_relaxed);
  out.generations = g_generations.load(std::memory_order_relaxed);
  return out;
}

Result<P256PublicKey> P256PublicKey::Import(std::span<const uint8_t> encoded) {
  Group grp;
  Point q;
  MORTISE_TRY(internal::ReadPoint(grp, encoded, q));
  P256PublicKey key;
  MORTISE_TRY(internal::WritePoint(grp, q, key.bytes_));
  return key;
}

std::array<uint8_t, kP256CompressedKeySize> P256PublicKey::Compressed() const {
  std::array<uint8_t, kP256CompressedKeySize> out{};
  out[0] = static_cast<uint8_t>(0x02 | (bytes_[64] & 1));
  std::memcpy(out.data() + 1, bytes_.data() + 1, 32);
  return out;
}

Status P256PublicKey::Verify(std::span<const uint8_t> message,
                             std::span<const uint8_t> signature) const {
  const Digest digest = Sha256::Hash(message);
  return VerifyDigest(digest, signature);
}

Status P256PublicKey::VerifyDigest(std::span<const uint8_t, kSha256Size> digest,
                                   std::span<const uint8_t> signature) const {
  if (signature.size() != kP256SignatureSize) return StatusCode::kInvalidArgument;
  Count(g_verifications);
  Group grp;
  Point q;
  Mpi r, s;
  if (!grp.ok()) return StatusCode::kInternal;
  if (mbedtls_ecp_point_read_binary(grp.get(), q.get(), bytes_.data(), bytes_.size()) != 0 ||
      mbedtls_mpi_read_binary(r.get(), signature.data(), 32) != 0 ||
      mbedtls_mpi_read_binary(s.get(), signature.data() + 32, 32) != 0) {
    return StatusCode::kInternal;
  }
  // The backend rejects r, s outside [1, n-1] as a verification failure.
  const int rc = mbedtls_ecdsa_verify(grp.get(), digest.data(), digest.size(), q.get(), r.get(),
                                      s.get());
  if (rc == 0) return Status::Ok();
  if (rc == MBEDTLS_ERR_ECP_VERIFY_FAILED || rc == MBEDTLS_ERR_ECP_BAD_INPUT_DATA) {
    return StatusCode::kUnauthenticated;
  }
  return StatusCode::kInternal;
}

Result<P256KeyPair> P256KeyPair::Generate(Drbg& drbg) {
  MORTISE_TRY(internal::CheckDrbg(drbg));
  Group grp;
  if (!grp.ok()) return StatusCode::kInternal;
  Mpi d;
  MORTISE_TRY(internal::FromBackend(
      mbedtls_ecp_gen_privkey(grp.get(), d.get(), &Drbg::BackendRandom, &drbg)));
  SecretBytes<kP256ScalarSize> scalar;
  if (mbedtls_mpi_write_binary(d.get(), scalar.data(), scalar.size()) != 0) {
    return StatusCode::kInternal;
  }
  return FromPrivateScalar(scalar.span());
}

Result<P256KeyPair> P256KeyPair::FromPrivateScalar(std::span<const uint8_t> scalar) {
  Group grp;
  Mpi d;
  MORTISE_TRY(internal::ReadScalar(grp, scalar, d));
  Count(g_generations);
  Point q;
  // The public key is public: no blinding needed, so no DRBG. With a null RNG
  // the backend blinds with an internal generator seeded from the scalar.
  MORTISE_TRY(internal::FromBackend(
      mbedtls_ecp_mul(grp.get(), q.get(), d.get(), &grp.get()->G, nullptr, nullptr)));
  P256KeyPair pair;
  std::memcpy(pair.scalar_.data(), scalar.data(), kP256ScalarSize);
  MORTISE_TRY(internal::WritePoint(grp, q, pair.public_key_.bytes_));
  return pair;
}

Status P256KeyPair::Sign(std::span<const uint8_t> message, P256Signature& signature,
                         Drbg& drbg) const {
  const Digest digest = Sha256::Hash(message);
  return SignDigest(digest, signature, drbg);
}

Status P256KeyPair::SignDigest(std::span<const uint8_t, kSha256Size> digest,
                               P256Signature& signature, Drbg& drbg) const {
  MORTISE_TRY(internal::CheckDrbg(drbg));
  SecretBytes<kHedgeSize> hedge;
  MORTISE_TRY(drbg.Generate(hedge.span()));
  return SignDigestWithNonceInput(digest, hedge.span(), signature);
}

Status P256KeyPair::SignDigestWithNonceInput(std::span<const uint8_t, kSha256Size> digest,
                                             std::span<const uint8_t> nonce_input,
                                             P256Signature& signature) const {
  if (nonce_input.size() > kMaxNonceInputSize) return StatusCode::kInvalidArgument;
  Group grp;
  Mpi d, h, r, s;
  MORTISE_TRY(internal::ReadScalar(grp, scalar_.span(), d));
  // RFC 6979 section 3.2 with 3.6's k': the HMAC-DRBG is seeded with
  // int2octets(x) || bits2octets(h1) || k'. For P-256 and SHA-256,
  // bits2int(h1) is h1 itself, reduced once below n.
  if (mbedtls_mpi_read_binary(h.get(), digest.data(), digest.size()) != 0) return StatusCode::kInternal;
  if (mbedtls_mpi_cmp_mpi(h.get(), &grp.get()->N) >= 0 &&
      mbedtls_mpi_sub_mpi(h.get(), h.get(), &grp.get()->N) != 0) {
    return StatusCode::kInternal;
  }
  SecretBytes<2 * kP256ScalarSize + kMaxNonceInputSize> seed;
  std::memcpy(seed.data(), scalar_.data(), kP256ScalarSize);
  if (mbedtls_mpi_write_binary(h.get(), seed.data() + kP256ScalarSize, kP256ScalarSize) != 0) {
    return StatusCode::kInternal;
  }
  if (!nonce_input.empty()) std::memcpy(seed.data() + 2 * kP256ScalarSize, nonce_input.data(), nonce_input.size());
  HmacDrbg k_source;
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (md == nullptr ||
      mbedtls_hmac_drbg_seed_buf(k_source.get(), md, seed.data(), 2 * kP256ScalarSize + nonce_input.size()) != 0) {
    return StatusCode::kInternal;
  }
  Count(g_signatures);
  // The backend draws k first from this generator (RFC 6979's rejection
  // loop), then its blinding values, which are therefore secret too.
  MORTISE_TRY(internal::FromBackend(mbedtls_ecdsa_sign(grp.get(), r.get(), s.get(), d.get(), digest.data(),
                                                       digest.size(), &mbedtls_hmac_drbg_random, k_source.get())));
  if (mbedtls_mpi_write_binary(r.get(), signature.data(), 32) != 0 ||
      mbedtls_mpi_write_binary(s.get(), signature.data() + 32, 32) != 0) {
    return StatusCode::kInternal;
  }
  return Status::Ok();
}

Status P256KeyPair::Ecdh(const P256PublicKey& peer, SecretBytes<kP256SharedSecretSize>& shared,
                         Drbg& drbg) const {
  MORTISE_TRY(internal::CheckDrbg(drbg));
  Group grp;
  Mpi d, z;
  Point q;
  MORTISE_TRY(internal::ReadScalar(grp, scalar_.span(), d));
  MORTISE_TRY(internal::ReadPoint(grp, peer.bytes(), q));
  Count(g_key_agreements);
  MORTISE_TRY(internal::FromBackend(mbedtls_ecdh_compute_shared(
      grp.get(), z.get(), q.get(), d.get(), &Drbg::BackendRandom, &drbg)));
  if (mbedtls_mpi_write_binary(z.get(), shared.data(), shared.size()) != 0) {
    return StatusCode::kInternal;
  }
  return Status::Ok();
}

}  // namespace mortise::crypto
