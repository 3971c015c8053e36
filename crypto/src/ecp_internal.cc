#include "ecp_internal.h"

namespace mortise::crypto::internal {

Group::Group() {
  mbedtls_ecp_group_init(&v_);
  ok_ = mbedtls_ecp_group_load(&v_, MBEDTLS_ECP_DP_SECP256R1) == 0;
}

Status FromBackend(int rc) {
  if (rc == 0) return Status::Ok();
  if (rc == MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED) return StatusCode::kUnavailable;
  return StatusCode::kInternal;
}

namespace {

// Recovers Y from X and its parity: y^2 = x^3 - 3x + b, and p = 3 mod 4 so
// y = (y^2)^((p+1)/4). Returns false if X has no square root (not a point).
bool Decompress(Group& grp, std::span<const uint8_t> encoded, Point& out) {
  mbedtls_ecp_group* g = grp.get();
  mbedtls_ecp_point* pt = out.get();
  Mpi rhs, t, e;
  if (mbedtls_mpi_read_binary(&pt->X, encoded.data() + 1, 32) != 0) return false;
  if (mbedtls_mpi_cmp_mpi(&pt->X, &g->P) >= 0) return false;
  // rhs = x^3 - 3x + b mod p
  if (mbedtls_mpi_mul_mpi(t.get(), &pt->X, &pt->X) != 0 ||
      mbedtls_mpi_mod_mpi(t.get(), t.get(), &g->P) != 0 ||
      mbedtls_mpi_sub_int(t.get(), t.get(), 3) != 0 ||
      mbedtls_mpi_mul_mpi(rhs.get(), t.get(), &pt->X) != 0 ||
      mbedtls_mpi_add_mpi(rhs.get(), rhs.get(), &g->B) != 0 ||
      mbedtls_mpi_mod_mpi(rhs.get(), rhs.get(), &g->P) != 0) {
    return false;
  }
  // e = (p + 1) / 4
  if (mbedtls_mpi_add_int(e.get(), &g->P, 1) != 0 || mbedtls_mpi_shift_r(e.get(), 2) != 0) {
    return false;
  }
  if (mbedtls_mpi_exp_mod(&pt->Y, rhs.get(), e.get(), &g->P, nullptr) != 0) return false;
  // Check the root: y^2 == rhs.
  if (mbedtls_mpi_mul_mpi(t.get(), &pt->Y, &pt->Y) != 0 ||
      mbedtls_mpi_mod_mpi(t.get(), t.get(), &g->P) != 0 ||
      mbedtls_mpi_cmp_mpi(t.get(), rhs.get()) != 0) {
    return false;
  }
  const unsigned want_odd = encoded[0] & 1;
  if (static_cast<unsigned>(mbedtls_mpi_get_bit(&pt->Y, 0)) != want_odd) {
    if (mbedtls_mpi_sub_mpi(&pt->Y, &g->P, &pt->Y) != 0) return false;
  }
  return mbedtls_mpi_lset(&pt->Z, 1) == 0;
}

}  // namespace

Status ReadPoint(Group& grp, std::span<const uint8_t> encoded, Point& out) {
  if (!grp.ok()) return StatusCode::kInternal;
  if (encoded.size() == 65 && encoded[0] == 0x04) {
    if (mbedtls_ecp_point_read_binary(grp.get(), out.get(), encoded.data(), encoded.size()) != 0) {
      return StatusCode::kInvalidArgument;
    }
  } else if (encoded.size() == 33 && (encoded[0] == 0x02 || encoded[0] == 0x03)) {
    if (!Decompress(grp, encoded, out)) return StatusCode::kInvalidArgument;
  } else {
    return StatusCode::kInvalidArgument;
  }
  // On the curve, coordinates in range, not the point at infinity.
  if (mbedtls_ecp_check_pubkey(grp.get(), out.get()) != 0) return StatusCode::kInvalidArgument;
  return Status::Ok();
}

Status WritePoint(Group& grp, const Point& p, std::span<uint8_t, 65> out) {
  size_t len = 0;
  const int rc = mbedtls_ecp_point_write_binary(grp.get(), p.get(), MBEDTLS_ECP_PF_UNCOMPRESSED,
                                                &len, out.data(), out.size());
  if (rc != 0 || len != out.size()) return StatusCode::kInternal;
  return Status::Ok();
}

Status ReadScalar(Group& grp, std::span<const uint8_t> bytes, Mpi& out) {
  if (!grp.ok()) return StatusCode::kInternal;
  if (bytes.size() != 32) return StatusCode::kInvalidArgument;
  if (mbedtls_mpi_read_binary(out.get(), bytes.data(), bytes.size()) != 0) {
    return StatusCode::kInternal;
  }
  if (mbedtls_mpi_cmp_int(out.get(), 1) < 0 || mbedtls_mpi_cmp_mpi(out.get(), &grp.get()->N) >= 0) {
    return StatusCode::kInvalidArgument;
  }
  return Status::Ok();
}

Status Mul(Group& grp, Point& r, const Mpi& m, const Point& p, Drbg& drbg) {
  MORTISE_TRY(CheckDrbg(drbg));
  return FromBackend(
      mbedtls_ecp_mul(grp.get(), r.get(), m.get(), p.get(), &Drbg::BackendRandom, &drbg));
}

Status Add(Group& grp, Point& r, const Point& p, const Point& q) {
  Mpi one;
  if (mbedtls_mpi_lset(one.get(), 1) != 0) return StatusCode::kInternal;
  return FromBackend(
      mbedtls_ecp_muladd(grp.get(), r.get(), one.get(), p.get(), one.get(), q.get()));
}

Status Negate(Group& grp, Point& p) {
  mbedtls_ecp_point* pt = p.get();
  if (mbedtls_mpi_cmp_int(&pt->Y, 0) == 0) return Status::Ok();
  return FromBackend(mbedtls_mpi_sub_mpi(&pt->Y, &grp.get()->P, &pt->Y));
}

}  // namespace mortise::crypto::internal
