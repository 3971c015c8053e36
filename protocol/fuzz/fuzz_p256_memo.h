// A memo of the P-256 operations, for the protocol fuzzers: each costs
// milliseconds (mbedTLS under the fuzz preset: a verification ~2.5 ms on this
// machine), and a fuzzer that repeats a real handshake, re-verifies a fixed
// chain or re-derives a lock's identity key for every input spends its time
// there, not in the parsers (docs/performance.md, "Protocol fuzzers").
//
// How: this header defines mbedtls_ecdsa_verify, mbedtls_ecdsa_sign,
// mbedtls_ecp_mul, mbedtls_ecp_muladd and mbedtls_ecdh_compute_shared. The
// executable's definitions take precedence over libmbedcrypto.so's, so the
// crypto layer's calls (crypto/src/p256.cc, ecp_internal.cc) come here; each
// looks its exact inputs up and otherwise calls the library's function
// (dlsym RTLD_NEXT) and keeps the result. Include it in exactly one source
// file of a fuzzer (its only one). mbedTLS must be linked as a shared
// library (Debian's libmbedcrypto.so, what crypto/CMakeLists.txt finds);
// against a static one the link fails with duplicate symbols, loudly.
// Written against mbedTLS 2.28 (Debian 12): it reads the HMAC-DRBG's `V`
// and `reseed_counter`, which 3.x makes private.
//
// Why it changes nothing but time:
//   - the key of an entry is every input of the operation, byte for byte
//     (group, scalars, points, digest), compared in full: a hit returns what
//     the library returned for the same inputs;
//   - verification, ecp_muladd and ecp_mul without a generator are pure;
//   - a signature's only randomness is its own HMAC-DRBG (RFC 6979 plus
//     hedging, crypto/src/p256.cc), a local generator whose state V is part
//     of the key (a signature with another generator is not memoised);
//   - a signature the memo made verifies under its signer's public key
//     (ECDSA's correctness), so making one also records that verification
//     as passing, when the public key of that scalar is known (the memo
//     derived it: P256KeyPair::FromPrivateScalar): a signature made by one
//     end and checked by the other costs one P-256 operation, not two;
//   - ecp_mul and ECDH with the caller's generator (blinding) give the same
//     result whatever it draws, and a hit makes the same draws (the sizes a
//     miss recorded), so the caller's DRBG moves exactly as without the memo.
//     (The blinding draws are rejection-sampled: the sizes could differ, and
//     the stream with them, with a probability near 2^-32 per operation.)
// Only failures that depend on nothing but the inputs are kept (never an
// allocation failure). The table is fixed (direct-mapped, overwritten on a
// collision), so memory stays bounded however long the fuzzer runs; an
// eviction costs time only. In the corpus replays of ordinary builds, and in
// a fuzzer run with MORTISE_FUZZ_MEMO_CHECK set, every hit is computed again
// and compared, and a difference aborts (Checking() below).
#pragma once

#include <dlfcn.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/hmac_drbg.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// libFuzzer's entry point for drivers of its own: present (non-null) only in
// a libFuzzer binary, which is how the memo tells a fuzzer from a replay.
extern "C" __attribute__((weak)) int LLVMFuzzerRunDriver(int* argc, char*** argv,
                                                         int (*user_callback)(const uint8_t* data, size_t size));

// The memo's own branches are not coverage: a hit and a miss of the same
// input must look alike to the fuzzer (clang's fuzz builds; the replay
// builds have no coverage to hide).
#if defined(__clang__)
#define MORTISE_MEMO_FN __attribute__((no_sanitize("coverage")))
#else
#define MORTISE_MEMO_FN
#endif

namespace mortise::fuzzing::p256_memo {

// Room for the largest key with margin (a multiply-add's: tag, group, two
// scalars of 32 bytes and two points of 1 + 65, 201 bytes; a signature's:
// 141); an operation whose key would not fit is not memoised.
inline constexpr size_t kMaxKey = 1 + 4 + 64 + 2 * 32 + 2 * 65 + 64;
inline constexpr size_t kMaxValue = 2 * 65;
inline constexpr size_t kMaxDraws = 32;  // blinding draws recorded per operation
inline constexpr size_t kMaxDrawSize = 1024;  // mbedTLS's largest request
inline constexpr size_t kSlots = 16384;

struct Key {
  uint8_t bytes[kMaxKey];
  size_t size = 0;
  bool ok = true;
  MORTISE_MEMO_FN void Add(const void* p, size_t n) {
    if (!ok || n > kMaxKey - size) {
      ok = false;
      return;
    }
    if (n != 0) std::memcpy(bytes + size, p, n);
    size += n;
  }
  MORTISE_MEMO_FN void Add(uint8_t b) { Add(&b, 1); }
  MORTISE_MEMO_FN void Add(const mbedtls_ecp_group* grp) {
    if (grp == nullptr || grp->id != MBEDTLS_ECP_DP_SECP256R1) ok = false;
    const int32_t id = grp == nullptr ? 0 : static_cast<int32_t>(grp->id);
    Add(&id, sizeof(id));
  }
  MORTISE_MEMO_FN void Add(const mbedtls_mpi* x) {
    uint8_t b[32];
    if (x == nullptr || mbedtls_mpi_cmp_int(x, 0) < 0 || mbedtls_mpi_write_binary(x, b, sizeof(b)) != 0) {
      ok = false;
      return;
    }
    Add(b, sizeof(b));
  }
  MORTISE_MEMO_FN void Add(const mbedtls_ecp_group* grp, const mbedtls_ecp_point* p) {
    uint8_t b[65] = {};
    size_t n = 0;
    if (p == nullptr ||
        mbedtls_ecp_point_write_binary(grp, p, MBEDTLS_ECP_PF_UNCOMPRESSED, &n, b, sizeof(b)) != 0) {
      ok = false;
      return;
    }
    Add(static_cast<uint8_t>(n));
    Add(b, sizeof(b));  // fixed width: no two inputs share an encoding
  }
};

struct Entry {
  bool used = false;
  uint8_t key[kMaxKey];
  size_t key_size = 0;
  int rc = 0;
  uint8_t value[kMaxValue];
  size_t value_size = 0;
  size_t draws[kMaxDraws];
  size_t draw_count = 0;
};

MORTISE_MEMO_FN inline Entry* Slot(const Key& k) {
  static Entry table[kSlots];  // ~13 MB
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (size_t i = 0; i < k.size; ++i) h = (h ^ k.bytes[i]) * 1099511628211ull;
  return &table[h % kSlots];
}

MORTISE_MEMO_FN inline const Entry* Find(const Key& k) {
  const Entry* e = Slot(k);
  if (!e->used || e->key_size != k.size) return nullptr;
  // A loop, not memcmp: libFuzzer would take the keys for comparisons the
  // code under test made.
  for (size_t i = 0; i < k.size; ++i) {
    if (e->key[i] != k.bytes[i]) return nullptr;
  }
  return e;
}

// Errors that depend on the inputs alone are kept; others (memory) are not.
MORTISE_MEMO_FN inline bool Keepable(int rc) { return rc != MBEDTLS_ERR_MPI_ALLOC_FAILED && rc != MBEDTLS_ERR_ECP_ALLOC_FAILED; }

// The group a miss computes in: loaded once, so the fixed-base table of G
// that mbedTLS builds on first use is built once (the caller's group is a
// new copy of the same curve for every operation, crypto/src/p256.cc).
// Only P-256 is memoised (Key::Add refuses other groups).
MORTISE_MEMO_FN inline mbedtls_ecp_group* Curve() {
  static mbedtls_ecp_group* g = [] {
    static mbedtls_ecp_group grp;
    mbedtls_ecp_group_init(&grp);
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0) std::abort();
    return &grp;
  }();
  return g;
}

template <typename F>
F Real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "fuzz_p256_memo.h: %s not found in a shared library\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

using Rng = int (*)(void*, unsigned char*, size_t);

// Passes the caller's generator through, recording the sizes drawn.
struct Recorder {
  Rng f_rng;
  void* p_rng;
  size_t draws[kMaxDraws];
  size_t count = 0;
  bool unusable = false;  // too many or too large draws, or a failed one: not kept
  MORTISE_MEMO_FN static int Draw(void* self, unsigned char* out, size_t n) {
    Recorder* r = static_cast<Recorder*>(self);
    if (r->count < kMaxDraws && n <= kMaxDrawSize) {
      r->draws[r->count++] = n;
    } else {
      r->unusable = true;
    }
    const int rc = r->f_rng(r->p_rng, out, n);
    if (rc != 0) r->unusable = true;
    return rc;
  }
};

// Makes the draws a miss recorded, so the caller's generator moves as it did.
MORTISE_MEMO_FN inline int Replay(const Entry& e, Rng f_rng, void* p_rng) {
  if (f_rng == nullptr) return 0;
  unsigned char sink[kMaxDrawSize];
  for (size_t i = 0; i < e.draw_count; ++i) {
    const int rc = f_rng(p_rng, sink, e.draws[i]);
    if (rc != 0) return rc;
  }
  return 0;
}

MORTISE_MEMO_FN inline void Store(const Key& k, int rc, const void* value, size_t value_size, const Recorder* rec) {
  if (!k.ok || !Keepable(rc) || value_size > kMaxValue || (rec != nullptr && rec->unusable)) return;
  Entry* e = Slot(k);
  e->used = true;
  std::memcpy(e->key, k.bytes, k.size);
  e->key_size = k.size;
  e->rc = rc;
  if (value_size != 0) std::memcpy(e->value, value, value_size);
  e->value_size = value_size;
  e->draw_count = rec == nullptr ? 0 : rec->count;
  if (rec != nullptr) std::memcpy(e->draws, rec->draws, rec->count * sizeof(size_t));
}

MORTISE_MEMO_FN inline bool WritePoint(const mbedtls_ecp_group* grp, const mbedtls_ecp_point* p, uint8_t* out, size_t& n) {
  return mbedtls_ecp_point_write_binary(grp, p, MBEDTLS_ECP_PF_UNCOMPRESSED, &n, out, 65) == 0;
}

// After signing `buf` with scalar `d` into (r, s): records that verifying
// it under d's public key passes, when the memo knows that key.
MORTISE_MEMO_FN inline void LearnVerification(mbedtls_ecp_group* grp, const mbedtls_mpi* d, const unsigned char* buf, size_t blen,
                              const mbedtls_mpi* r, const mbedtls_mpi* s) {
  Key pub;
  pub.Add(uint8_t{'m'});
  pub.Add(grp);
  pub.Add(d);
  pub.Add(grp, &grp->G);
  pub.Add(uint8_t{0});  // derived without a generator, as FromPrivateScalar does
  const Entry* e = pub.ok ? Find(pub) : nullptr;
  if (e == nullptr || e->rc != 0) return;
  mbedtls_ecp_point q;
  mbedtls_ecp_point_init(&q);
  if (mbedtls_ecp_point_read_binary(grp, &q, e->value, e->value_size) == 0) {
    Key v;
    v.Add(uint8_t{'v'});
    v.Add(grp);
    const uint32_t len = static_cast<uint32_t>(blen);
    v.Add(&len, sizeof(len));
    v.Add(buf, blen);
    v.Add(grp, &q);
    v.Add(r);
    v.Add(s);
    Store(v, 0, nullptr, 0, nullptr);
  }
  mbedtls_ecp_point_free(&q);
}

// Whether every hit is also computed and compared (a mismatch aborts): in
// the corpus replays of ordinary builds (no libFuzzer driver: the CTest
// `*_fuzzer_corpus` tests prove the memo exact on every seed), and in a
// fuzzer run with MORTISE_FUZZ_MEMO_CHECK set.
MORTISE_MEMO_FN inline bool Checking() {
  static const bool checking = &LLVMFuzzerRunDriver == nullptr || std::getenv("MORTISE_FUZZ_MEMO_CHECK") != nullptr;
  return checking;
}

MORTISE_MEMO_FN inline void Check(bool same, const char* what) {
  if (same) return;
  std::fprintf(stderr, "fuzz_p256_memo.h: a memoised %s differs from the library's\n", what);
  std::abort();
}

MORTISE_MEMO_FN inline bool SamePoint(const mbedtls_ecp_group* grp, const mbedtls_ecp_point* p, const Entry& e) {
  uint8_t out[65];
  size_t n = 0;
  return WritePoint(grp, p, out, n) && n == e.value_size && std::memcmp(out, e.value, n) == 0;
}

MORTISE_MEMO_FN inline bool SameMpi(const mbedtls_mpi* x, const uint8_t* bytes) {
  uint8_t out[32];
  return mbedtls_mpi_write_binary(x, out, sizeof(out)) == 0 && std::memcmp(out, bytes, sizeof(out)) == 0;
}

}  // namespace mortise::fuzzing::p256_memo

extern "C" {

MORTISE_MEMO_FN int mbedtls_ecdsa_verify(mbedtls_ecp_group* grp, const unsigned char* buf, size_t blen,
                                         const mbedtls_ecp_point* Q, const mbedtls_mpi* r, const mbedtls_mpi* s) {
  namespace m = mortise::fuzzing::p256_memo;
  static const auto real = m::Real<decltype(&mbedtls_ecdsa_verify)>("mbedtls_ecdsa_verify");
  m::Key k;
  k.Add(uint8_t{'v'});
  k.Add(grp);
  const uint32_t len = static_cast<uint32_t>(blen);
  k.Add(&len, sizeof(len));
  k.Add(buf, blen);
  k.Add(grp, Q);
  k.Add(r);
  k.Add(s);
  if (!k.ok) return real(grp, buf, blen, Q, r, s);
  if (const m::Entry* e = m::Find(k)) {
    if (m::Checking()) m::Check(real(m::Curve(), buf, blen, Q, r, s) == e->rc, "verification");
    return e->rc;
  }
  const int rc = real(m::Curve(), buf, blen, Q, r, s);
  m::Store(k, rc, nullptr, 0, nullptr);
  return rc;
}

MORTISE_MEMO_FN int mbedtls_ecdsa_sign(mbedtls_ecp_group* grp, mbedtls_mpi* r, mbedtls_mpi* s, const mbedtls_mpi* d,
                                       const unsigned char* buf, size_t blen,
                                       int (*f_rng)(void*, unsigned char*, size_t), void* p_rng) {
  namespace m = mortise::fuzzing::p256_memo;
  static const auto real = m::Real<decltype(&mbedtls_ecdsa_sign)>("mbedtls_ecdsa_sign");
  m::Key k;
  k.Add(uint8_t{'s'});
  k.Add(grp);
  const uint32_t len = static_cast<uint32_t>(blen);
  k.Add(&len, sizeof(len));
  k.Add(buf, blen);
  k.Add(d);
  // Only a signature whose randomness is a local HMAC-DRBG is memoised: its
  // state is part of the key, and nothing else draws from it afterwards.
  if (f_rng == &mbedtls_hmac_drbg_random && p_rng != nullptr) {
    const mbedtls_hmac_drbg_context* hmac = static_cast<const mbedtls_hmac_drbg_context*>(p_rng);
    k.Add(hmac->V, sizeof(hmac->V));
    k.Add(&hmac->reseed_counter, sizeof(hmac->reseed_counter));
  } else {
    k.ok = false;
  }
  if (!k.ok) return real(grp, r, s, d, buf, blen, f_rng, p_rng);
  if (const m::Entry* e = m::Find(k)) {
    if (m::Checking()) {
      const int rc = real(m::Curve(), r, s, d, buf, blen, f_rng, p_rng);
      m::Check(rc == e->rc && (rc != 0 || (m::SameMpi(r, e->value) && m::SameMpi(s, e->value + 32))), "signature");
    }
    if (e->rc != 0) return e->rc;
    if (mbedtls_mpi_read_binary(r, e->value, 32) != 0 || mbedtls_mpi_read_binary(s, e->value + 32, 32) != 0) {
      return MBEDTLS_ERR_MPI_ALLOC_FAILED;
    }
    return 0;
  }
  const int rc = real(m::Curve(), r, s, d, buf, blen, f_rng, p_rng);
  if (rc != 0) {
    m::Store(k, rc, nullptr, 0, nullptr);
    return rc;
  }
  uint8_t rs[64];
  if (mbedtls_mpi_write_binary(r, rs, 32) == 0 && mbedtls_mpi_write_binary(s, rs + 32, 32) == 0) {
    m::Store(k, rc, rs, sizeof(rs), nullptr);
    m::LearnVerification(grp, d, buf, blen, r, s);
  }
  return rc;
}

MORTISE_MEMO_FN int mbedtls_ecp_mul(mbedtls_ecp_group* grp, mbedtls_ecp_point* R, const mbedtls_mpi* m_,
                                    const mbedtls_ecp_point* P, int (*f_rng)(void*, unsigned char*, size_t),
                                    void* p_rng) {
  namespace m = mortise::fuzzing::p256_memo;
  static const auto real = m::Real<decltype(&mbedtls_ecp_mul)>("mbedtls_ecp_mul");
  m::Key k;
  k.Add(uint8_t{'m'});
  k.Add(grp);
  k.Add(m_);
  k.Add(grp, P);
  k.Add(static_cast<uint8_t>(f_rng != nullptr));
  if (!k.ok) return real(grp, R, m_, P, f_rng, p_rng);
  if (const m::Entry* e = m::Find(k)) {
    const int drawn = m::Replay(*e, f_rng, p_rng);
    if (drawn != 0) return drawn;
    if (m::Checking()) {
      const int rc = real(m::Curve(), R, m_, P, nullptr, nullptr);
      m::Check(rc == e->rc && (rc != 0 || m::SamePoint(grp, R, *e)), "scalar multiplication");
    }
    if (e->rc != 0) return e->rc;
    return mbedtls_ecp_point_read_binary(grp, R, e->value, e->value_size);
  }
  m::Recorder rec{f_rng, p_rng, {}, 0, false};
  const int rc = f_rng == nullptr ? real(m::Curve(), R, m_, P, nullptr, nullptr)
                                  : real(m::Curve(), R, m_, P, &m::Recorder::Draw, &rec);
  uint8_t out[65];
  size_t n = 0;
  if (rc != 0) {
    m::Store(k, rc, nullptr, 0, &rec);
  } else if (m::WritePoint(grp, R, out, n)) {
    m::Store(k, rc, out, n, &rec);
  }
  return rc;
}

MORTISE_MEMO_FN int mbedtls_ecp_muladd(mbedtls_ecp_group* grp, mbedtls_ecp_point* R, const mbedtls_mpi* m_,
                                       const mbedtls_ecp_point* P, const mbedtls_mpi* n_, const mbedtls_ecp_point* Q) {
  namespace m = mortise::fuzzing::p256_memo;
  static const auto real = m::Real<decltype(&mbedtls_ecp_muladd)>("mbedtls_ecp_muladd");
  m::Key k;
  k.Add(uint8_t{'a'});
  k.Add(grp);
  k.Add(m_);
  k.Add(grp, P);
  k.Add(n_);
  k.Add(grp, Q);
  if (!k.ok) return real(grp, R, m_, P, n_, Q);
  if (const m::Entry* e = m::Find(k)) {
    if (m::Checking()) {
      const int rc = real(m::Curve(), R, m_, P, n_, Q);
      m::Check(rc == e->rc && (rc != 0 || m::SamePoint(grp, R, *e)), "multiply-add");
    }
    if (e->rc != 0) return e->rc;
    return mbedtls_ecp_point_read_binary(grp, R, e->value, e->value_size);
  }
  const int rc = real(m::Curve(), R, m_, P, n_, Q);
  uint8_t out[65];
  size_t n = 0;
  if (rc != 0) {
    m::Store(k, rc, nullptr, 0, nullptr);
  } else if (m::WritePoint(grp, R, out, n)) {
    m::Store(k, rc, out, n, nullptr);
  }
  return rc;
}

MORTISE_MEMO_FN int mbedtls_ecdh_compute_shared(mbedtls_ecp_group* grp, mbedtls_mpi* z, const mbedtls_ecp_point* Q,
                                                const mbedtls_mpi* d, int (*f_rng)(void*, unsigned char*, size_t),
                                                void* p_rng) {
  namespace m = mortise::fuzzing::p256_memo;
  static const auto real = m::Real<decltype(&mbedtls_ecdh_compute_shared)>("mbedtls_ecdh_compute_shared");
  m::Key k;
  k.Add(uint8_t{'e'});
  k.Add(grp);
  k.Add(grp, Q);
  k.Add(d);
  k.Add(static_cast<uint8_t>(f_rng != nullptr));
  if (!k.ok) return real(grp, z, Q, d, f_rng, p_rng);
  if (const m::Entry* e = m::Find(k)) {
    const int drawn = m::Replay(*e, f_rng, p_rng);
    if (drawn != 0) return drawn;
    if (m::Checking()) {
      const int rc = real(m::Curve(), z, Q, d, nullptr, nullptr);
      m::Check(rc == e->rc && (rc != 0 || m::SameMpi(z, e->value)), "key agreement");
    }
    if (e->rc != 0) return e->rc;
    return mbedtls_mpi_read_binary(z, e->value, e->value_size);
  }
  m::Recorder rec{f_rng, p_rng, {}, 0, false};
  const int rc = f_rng == nullptr ? real(m::Curve(), z, Q, d, nullptr, nullptr)
                                  : real(m::Curve(), z, Q, d, &m::Recorder::Draw, &rec);
  uint8_t out[32];
  if (rc != 0) {
    m::Store(k, rc, nullptr, 0, &rec);
  } else if (mbedtls_mpi_write_binary(z, out, sizeof(out)) == 0) {
    m::Store(k, rc, out, sizeof(out), &rec);
  }
  return rc;
}

}  // extern "C"
