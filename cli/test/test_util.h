// Helpers shared by the CLI's tests: temporary directories, keys and chains
// made with a deterministic DRBG.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "error.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"

namespace mortise::cli::testing {

// Runs `fn`, which must throw Error, and returns the error (a test failure
// when it throws nothing).
template <typename Fn>
Error CatchError(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ExitCode::kOk, "none");
}

using Bytes = std::vector<uint8_t>;

inline bool Contains(const Error& e, const std::string& needle) {
  return std::string(e.what()).find(needle) != std::string::npos;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mortise-cli-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline Bytes ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::filesystem::path& p, const Bytes& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

struct SeededDrbg {
  explicit SeededDrbg(uint64_t seed) : entropy(seed), drbg(entropy) { (void)drbg.Seed().ok(); }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
};

inline crypto::P256KeyPair NewKey(crypto::Drbg& drbg) { return *crypto::P256KeyPair::Generate(drbg); }

inline protocol::CertificateFields Fields(const protocol::LockId& lock, const crypto::P256KeyPair& holder,
                                          protocol::Role role, uint32_t permissions, uint64_t serial) {
  protocol::CertificateFields f;
  f.lock_id = lock;
  f.holder_key = holder.public_key().Compressed();
  f.role = role;
  f.permissions = permissions;
  f.serial = serial;
  return f;
}

inline Bytes Issue(const protocol::CertificateFields& f, const crypto::P256KeyPair& issuer, crypto::Drbg& drbg) {
  Bytes out(protocol::kMaxCertificateSize);
  Result<size_t> n = protocol::IssueCertificate(f, issuer, drbg, out);
  if (!n.ok()) return {};
  out.resize(*n);
  return out;
}

inline Bytes Chain(const Bytes& first, const Bytes& second = {}) {
  Bytes out(protocol::kMaxChainSize);
  Result<size_t> n = protocol::EncodeChain(first, second, out);
  if (!n.ok()) return {};
  out.resize(*n);
  return out;
}

// A lock, its owner, a guest, and the guest's one-certificate chain.
struct Fixture {
  SeededDrbg rng{42};
  crypto::P256KeyPair lock = NewKey(rng.drbg);
  crypto::P256KeyPair owner = NewKey(rng.drbg);
  crypto::P256KeyPair admin = NewKey(rng.drbg);
  crypto::P256KeyPair guest = NewKey(rng.drbg);
  protocol::LockId lock_id = protocol::LockIdOf(lock.public_key());

  // Issued once: signatures are hedged (two signings of one certificate
  // differ), so every call returns the same chain.
  Bytes GuestChain() {
    if (!guest_chain_.empty()) return guest_chain_;
    protocol::CertificateFields f =
        Fields(lock_id, guest, protocol::Role::kGuest, protocol::kPermLock | protocol::kPermUnlock, 1001);
    f.not_before = 1'750'000'000;
    f.not_after = 1'760'000'000;
    f.schedule = protocol::WeeklyWindow{0x3E, 8 * 60, 18 * 60};
    f.max_uses = 10;
    guest_chain_ = Chain(Issue(f, owner, rng.drbg));
    return guest_chain_;
  }
  Bytes DelegatedChain() {
    protocol::CertificateFields a = Fields(lock_id, admin, protocol::Role::kAdmin,
                                           protocol::RoleAllowedPermissions(protocol::Role::kAdmin), 2001);
    protocol::CertificateFields g =
        Fields(lock_id, guest, protocol::Role::kGuest, protocol::kPermUnlock, 2002);
    return Chain(Issue(a, owner, rng.drbg), Issue(g, admin, rng.drbg));
  }

 private:
  Bytes guest_chain_;
};

}  // namespace mortise::cli::testing
