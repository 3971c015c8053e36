// A claimed lock's store for the fuzzers of sessionless frames (custody.h,
// time_statement.h): made once per fuzzer, copied for every input.
#pragma once

#include <optional>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"

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

// A ClaimedStore whose expensive starts ran once, over a working copy: the
// lock authority's (it derives the lock's public key, a scalar
// multiplication) and the simulated lock's first (it installs the user
// database: thousands of erases). For every input: `store = ready`, then a
// new SimLock over `store` and a new server over `authority` (which only
// reads what the reset restores).
struct StartedLock {
  StartedLock(uint64_t claim_seed, uint64_t drbg_seed)
      : p(claim_seed), entropy(drbg_seed), drbg(entropy), store(p.store), authority(store, drbg) {
    ok = p.ok && drbg.Seed().ok() && authority.Start().ok();
    sim::SimLock first(&store);
    ok = ok && first.Start().ok();
    ready = store;
  }
  ClaimedStore p;
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
  sim::MemoryStore store;
  LockAuthority authority;
  sim::MemoryStore ready;  // `store` after the starts
  bool ok = false;
};

}  // namespace mortise::protocol::fuzzing
