// A claimed lock's store for the fuzzers of sessionless frames (custody.h,
// time_statement.h): made once per fuzzer, copied for every input.
#pragma once

#include <optional>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/sim/memory_store.h"

namespace mortise::protocol::fuzzing {

struct ClaimedStore {
  explicit ClaimedStore(uint64_t seed) : entropy(seed), drbg(entropy) {
    ok = drbg.Seed().ok();
    Result<crypto::P256KeyPair> owner = crypto::P256KeyPair::Generate(drbg);
    if (!ok || !owner.ok()) return;
    LockAuthority authority(store, drbg);
    uint8_t pin[kOfflinePinSecretSize] = {};
    ok = authority.Start().ok() && authority.InstallOwner(owner->public_key(), pin).ok();
    if (!ok) return;
    lock_id = authority.identity().lock_id();
    generation = authority.claim_generation();
    lock_key.emplace(authority.identity().public_key());
  }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
  sim::MemoryStore store;
  std::optional<crypto::P256PublicKey> lock_key;
  LockId lock_id{};
  uint32_t generation = 0;
  bool ok = false;
};

}  // namespace mortise::protocol::fuzzing
