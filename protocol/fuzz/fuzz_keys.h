// The keys of the protocol fuzzers' seed corpora: a DRBG seeded with 7,
// then owner, admin and guest drawn in that order, as
// SeedCorpusTest.GenerateSeeds draws them, so seeds that pass parsing reach
// the signature and policy checks.
#pragma once

#include <optional>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"

namespace mortise::fuzz {

struct SeedKeys {
  std::optional<crypto::P256KeyPair> owner, admin, guest;
  bool ok() const { return owner && admin && guest; }
};

inline const SeedKeys& Keys() {
  static const SeedKeys keys = [] {
    static crypto::DeterministicEntropy entropy(7);
    static crypto::Drbg drbg(entropy);
    SeedKeys k;
    if (!drbg.Seed().ok()) return k;
    Result<crypto::P256KeyPair> owner = crypto::P256KeyPair::Generate(drbg);
    Result<crypto::P256KeyPair> admin = crypto::P256KeyPair::Generate(drbg);
    Result<crypto::P256KeyPair> guest = crypto::P256KeyPair::Generate(drbg);
    if (owner.ok() && admin.ok() && guest.ok()) {
      k.owner.emplace(*owner);
      k.admin.emplace(*admin);
      k.guest.emplace(*guest);
    }
    return k;
  }();
  return keys;
}

}  // namespace mortise::fuzz
