// Shared fixtures for the protocol tests: seeded DRBGs, keys, certificates.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/session.h"

namespace mortise::protocol::testing {

// A DRBG seeded from a deterministic source: reproducible tests.
struct SeededDrbg {
  explicit SeededDrbg(uint64_t seed) : entropy(seed), drbg(entropy) { EXPECT_TRUE(drbg.Seed().ok()); }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
};

inline crypto::P256KeyPair NewKey(crypto::Drbg& drbg) {
  Result<crypto::P256KeyPair> k = crypto::P256KeyPair::Generate(drbg);
  EXPECT_TRUE(k.ok());
  return *k;
}

// The claim generation of a lock claimed once (LockAuthority::InstallOwner
// on a fresh store); Fields() issues at it.
inline constexpr uint32_t kGeneration = 1;

inline CertificateFields Fields(const LockId& lock, const crypto::P256KeyPair& holder, Role role, uint32_t permissions,
                                uint64_t serial) {
  CertificateFields f;
  f.claim_generation = kGeneration;
  f.lock_id = lock;
  f.holder_key = holder.public_key().Compressed();
  f.role = role;
  f.permissions = permissions;
  f.serial = serial;
  return f;
}

inline std::vector<uint8_t> Issue(const CertificateFields& f, const crypto::P256KeyPair& issuer, crypto::Drbg& drbg) {
  std::vector<uint8_t> out(kMaxCertificateSize);
  Result<size_t> n = IssueCertificate(f, issuer, drbg, out);
  EXPECT_TRUE(n.ok()) << n.status().name();
  out.resize(n.ok() ? *n : 0);
  return out;
}

// Signs `tbs` as the protocol does, over SHA-256(domain, its terminating
// zero included, || tbs): for tests that hand-encode objects the issuing
// code refuses to make.
template <size_t N>
inline crypto::P256Signature DomainSign(const char (&domain)[N], std::span<const uint8_t> tbs,
                                        const crypto::P256KeyPair& key, crypto::Drbg& drbg) {
  crypto::Sha256 h;
  h.Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(domain), N));
  h.Update(tbs);
  crypto::Digest d{};
  h.Final(d);
  crypto::P256Signature sig{};
  EXPECT_TRUE(key.SignDigest(d, sig, drbg).ok());
  return sig;
}

// The identity of the key `issuer` signed with `serial`.
inline KeyRef By(const crypto::P256KeyPair& issuer, uint64_t serial) {
  return KeyRef{KeyIdOf(issuer.public_key()), serial};
}

// An empty access list of this claim, at `version`.
inline AccessListState ListAt(uint64_t version) {
  AccessListState s;
  s.version = version;
  s.claim_generation = kGeneration;
  return s;
}

// `state` signed by `signer` for `lock`, as a device carries it.
inline std::vector<uint8_t> SignedList(const AccessListState& state, const LockId& lock,
                                       const crypto::P256KeyPair& signer, crypto::Drbg& drbg) {
  std::vector<uint8_t> update(kMaxAccessListUpdateSize);
  Result<size_t> n = SignAccessList(state, lock, signer, drbg, update);
  EXPECT_TRUE(n.ok()) << n.status().name();
  update.resize(n.ok() ? *n : 0);
  return update;
}

// `f` as an admin issues it under its certificate of serial `parent`.
inline CertificateFields Under(CertificateFields f, uint64_t parent) {
  f.parent_serial = parent;
  return f;
}

inline std::vector<uint8_t> Chain(const std::vector<uint8_t>& first, const std::vector<uint8_t>& second = {}) {
  std::vector<uint8_t> out(kMaxChainSize);
  Result<size_t> n = EncodeChain(first, second, out);
  EXPECT_TRUE(n.ok()) << n.status().name();
  out.resize(n.ok() ? *n : 0);
  return out;
}

// 2025-06-15 12:00:00 UTC, a Sunday.
inline constexpr int64_t kNoon = 1749988800;

// A client's datagram link to a SessionServer (tests): every datagram sent
// is kept in `sent`, so a test can replay it.
class SessionLink {
 public:
  SessionLink(SessionServer& server, const uint64_t& now_ms) : server_(server), now_ms_(now_ms) {}

  std::vector<uint8_t> ToLock(std::span<const uint8_t> datagram) {
    uint8_t reply[kMaxSessionMessageSize];
    Result<size_t> n = server_.Handle(datagram, now_ms_, reply);
    EXPECT_TRUE(n.ok());
    return n.ok() ? std::vector<uint8_t>(reply, reply + *n) : std::vector<uint8_t>();
  }
  // A cold session whose first command is `first`.
  Result<CommandResponse> Cold(SessionClient& client, const CommandRequest& first) {
    uint8_t out[kMaxSessionMessageSize];
    Result<size_t> m1 = client.Hello(out);
    if (!m1.ok()) return m1.status();
    sent.assign(1, std::vector<uint8_t>(out, out + *m1));
    const std::vector<uint8_t> m2 = ToLock(sent[0]);
    Result<size_t> m3 = client.Finish(m2, first, out);
    if (!m3.ok()) return m3.status();
    sent.emplace_back(out, out + *m3);
    return client.Receive(ToLock(sent[1]));
  }
  // The next command in the session.
  Result<CommandResponse> Again(SessionClient& client, const CommandRequest& request) {
    uint8_t out[kMaxSessionMessageSize];
    Result<size_t> m = client.Send(request, out);
    if (!m.ok()) return m.status();
    sent.emplace_back(out, out + *m);
    return client.Receive(ToLock(sent.back()));
  }

  std::vector<std::vector<uint8_t>> sent;

 private:
  SessionServer& server_;
  const uint64_t& now_ms_;
};

}  // namespace mortise::protocol::testing
