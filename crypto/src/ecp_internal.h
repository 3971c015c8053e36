// Scoped wrappers around the backend's P-256 objects. Private to mortise_crypto.
#pragma once

#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/crypto/drbg.h"
#include "mortise/status.h"

namespace mortise::crypto::internal {

// Big numbers free (and zero) their limbs on destruction.
class Mpi {
 public:
  Mpi() { mbedtls_mpi_init(&v_); }
  ~Mpi() { mbedtls_mpi_free(&v_); }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;
  mbedtls_mpi* get() { return &v_; }
  const mbedtls_mpi* get() const { return &v_; }

 private:
  mbedtls_mpi v_;
};

class Point {
 public:
  Point() { mbedtls_ecp_point_init(&v_); }
  ~Point() { mbedtls_ecp_point_free(&v_); }
  Point(const Point&) = delete;
  Point& operator=(const Point&) = delete;
  mbedtls_ecp_point* get() { return &v_; }
  const mbedtls_ecp_point* get() const { return &v_; }

 private:
  mbedtls_ecp_point v_;
};

// The P-256 group. Loading points at the backend's static tables.
class Group {
 public:
  Group();
  ~Group() { mbedtls_ecp_group_free(&v_); }
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;
  bool ok() const { return ok_; }
  mbedtls_ecp_group* get() { return &v_; }

 private:
  mbedtls_ecp_group v_;
  bool ok_ = false;
};

// Maps a backend return code: DRBG failure -> kUnavailable, else kInternal.
Status FromBackend(int rc);

// Checks the DRBG can be used for blinding before handing it to the backend.
inline Status CheckDrbg(const Drbg& drbg) {
  return drbg.seeded() ? Status::Ok() : Status(StatusCode::kFailedPrecondition);
}

// Reads a 65-byte uncompressed or 33-byte compressed point and checks it is a
// valid public key. kInvalidArgument otherwise.
Status ReadPoint(Group& grp, std::span<const uint8_t> encoded, Point& out);

// Writes the 65-byte uncompressed encoding. kInternal on failure (including
// the point at infinity, which has no such encoding).
Status WritePoint(Group& grp, const Point& p, std::span<uint8_t, 65> out);

// Reads a 32-byte scalar; kInvalidArgument unless 1 <= d < n.
Status ReadScalar(Group& grp, std::span<const uint8_t> bytes, Mpi& out);

// R = m*P with the backend's constant-time, blinded multiplication.
Status Mul(Group& grp, Point& r, const Mpi& m, const Point& p, Drbg& drbg);

// R = P + Q (public inputs; not constant-time).
Status Add(Group& grp, Point& r, const Point& p, const Point& q);

// P = -P.
Status Negate(Group& grp, Point& p);

}  // namespace mortise::crypto::internal
