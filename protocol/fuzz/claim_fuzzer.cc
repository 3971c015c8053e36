// Fuzzes the claim decoders on both sides: the first byte picks the lock's
// state (window open, or mid-exchange after a real hello and share) or the
// owner's, the rest is the datagram. Also the label parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/lock_authority.h"
#include "fuzz_store.h"
#include "fuzz_p256_memo.h"

using namespace mortise;

namespace {

// Provisioning (PBKDF2, key generation) is done once; each input starts
// from a copy of the provisioned store with fresh objects, so runs stay
// independent and reproducible.
struct Provisioned {
  Provisioned() : entropy(11), drbg(entropy) {
    ok = drbg.Seed().ok();
    protocol::LockAuthority authority(store, drbg);
    ok = ok && authority.Start().ok();
    if (!ok) return;
    Result<protocol::ClaimLabel> l =
        protocol::ProvisionSetupCode(authority.identity(), store, drbg, crypto::kPakeMinIterations);
    Result<crypto::P256KeyPair> k = crypto::P256KeyPair::Generate(drbg);
    ok = l.ok() && k.ok();
    if (ok) {
      label = *l;
      owner.emplace(*k);
    }
  }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
  protocol::fuzzing::FuzzStore store;
  protocol::ClaimLabel label;
  std::optional<crypto::P256KeyPair> owner;
  bool ok = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Provisioned provisioned;
  if (!provisioned.ok) std::abort();  // every input would do nothing
  if (size == 0) return 0;
  crypto::DeterministicEntropy entropy(12);
  crypto::Drbg drbg(entropy);
  if (!drbg.Seed().ok()) return 0;
  protocol::fuzzing::FuzzStore store = provisioned.store;
  protocol::LockAuthority authority(store, drbg);
  if (!authority.Start().ok()) return 0;
  protocol::ClaimServer server(authority, store);
  if (!server.OpenWindow(0).ok()) return 0;
  const uint8_t mode = data[0] % 4;
  const std::span<const uint8_t> in(data + 1, size - 1);
  uint8_t reply[protocol::kMaxClaimMessageSize];
  uint8_t next[protocol::kMaxClaimMessageSize];

  protocol::ClaimClient client(provisioned.label, *provisioned.owner, drbg);
  Result<size_t> m1 = client.Start(next);
  if (!m1.ok()) return 0;
  if (mode == 0) {
    server.Handle(in, 1, reply).IgnoreError();
  } else if (mode == 1) {
    // Lock after a real hello: the fuzzed datagram arrives as M3 or M5.
    Result<size_t> r = server.Handle(std::span<const uint8_t>(next, *m1), 1, reply);
    if (!r.ok()) return 0;
    server.Handle(in, 2, reply).IgnoreError();
  } else if (mode == 2) {
    // Owner awaiting ClaimParams.
    client.Handle(in, next).IgnoreError();
  } else {
    protocol::ParseLabel(std::string_view(reinterpret_cast<const char*>(in.data()), in.size())).IgnoreError();
  }
  return 0;
}
