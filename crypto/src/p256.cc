#include "mortise/crypto/p256.h"

#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>

#include <cstring>

#include "ecp_internal.h"

namespace mortise::crypto {

using internal::Group;
using internal::Mpi;
using internal::Point;

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
  Group grp;
  Mpi d, r, s;
  MORTISE_TRY(internal::ReadScalar(grp, scalar_.span(), d));
  MORTISE_TRY(internal::FromBackend(mbedtls_ecdsa_sign_det_ext(
      grp.get(), r.get(), s.get(), d.get(), digest.data(), digest.size(), MBEDTLS_MD_SHA256,
      &Drbg::BackendRandom, &drbg)));
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
  MORTISE_TRY(internal::FromBackend(mbedtls_ecdh_compute_shared(
      grp.get(), z.get(), q.get(), d.get(), &Drbg::BackendRandom, &drbg)));
  if (mbedtls_mpi_write_binary(z.get(), shared.data(), shared.size()) != 0) {
    return StatusCode::kInternal;
  }
  return Status::Ok();
}

}  // namespace mortise::crypto
