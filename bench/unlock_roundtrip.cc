// unlock_roundtrip MODE N: N unlocks of a claimed simulated lock by a guest
// key (certificate issued by the owner), both sides in one process:
//   cold     a new session each time: hello, accept, finish + unlock, response
//   resumed  one cold session first, then N resumed unlocks (ticket, 1 round trip)
//   remote   N end-to-end remote envelopes with the lock's signed answer
// Prints round trips and wall time per unlock. For instruction counts (the
// stable figure) run it under callgrind and toggle collection on the lock's
// side only, e.g.
//   valgrind --tool=callgrind --toggle-collect='mortise::protocol::SessionServer::Handle*'
//       build/bench/unlock_roundtrip cold 20
// and divide by N (docs/protocol.md, "Figures").
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/remote.h"
#include "mortise/protocol/session.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"

using namespace mortise;

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "cold") && std::strcmp(argv[1], "resumed") && std::strcmp(argv[1], "remote"))) {
    std::fprintf(stderr, "usage: unlock_roundtrip cold|resumed|remote N\n");
    return 2;
  }
  char* end = nullptr;
  const unsigned long n = std::strtoul(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || n > 100000) {
    std::fprintf(stderr, "unlock_roundtrip: N must be a whole number from 0 to 100000\n");
    return 2;
  }
  crypto::DeterministicEntropy lock_entropy(1), client_entropy(2);
  crypto::Drbg lock_drbg(lock_entropy), client_drbg(client_entropy);
  if (!lock_drbg.Seed().ok() || !client_drbg.Seed().ok()) return 1;
  sim::MemoryStore store;
  sim::SimLock sim(&store);
  if (!sim.Start().ok()) return 1;
  protocol::LockAuthority authority(store, lock_drbg);
  if (!authority.Start().ok()) return 1;
  auto owner = crypto::P256KeyPair::Generate(client_drbg);
  auto guest = crypto::P256KeyPair::Generate(client_drbg);
  uint8_t pin[protocol::kOfflinePinSecretSize] = {};
  if (!owner.ok() || !guest.ok() || !authority.InstallOwner(owner->public_key(), pin).ok()) return 1;
  if (!sim.lock().SetUtcTime(1795507140, false).ok()) return 1;
  protocol::CertificateFields f;
  f.lock_id = authority.identity().lock_id();
  f.holder_key = guest->public_key().Compressed();
  f.role = protocol::Role::kGuest;
  f.permissions = protocol::kPermLock | protocol::kPermUnlock;
  f.serial = 7;
  f.claim_generation = authority.claim_generation();
  std::vector<uint8_t> cert(protocol::kMaxCertificateSize), chain(protocol::kMaxChainSize);
  auto cn = protocol::IssueCertificate(f, *owner, client_drbg, cert);
  if (!cn.ok()) return 1;
  auto chn = protocol::EncodeChain(std::span<const uint8_t>(cert.data(), *cn), {}, chain);
  if (!chn.ok()) return 1;
  chain.resize(*chn);
  protocol::SessionServer server(authority, sim.lock(), store);
  if (!server.Start().ok()) return 1;
  protocol::RemoteServer remote(authority, sim.lock(), store);
  remote.Start(sim.clock().now_ms());
  sim.Run(31000);

  protocol::CommandRequest unlock;
  unlock.command = protocol::Command::kUnlock;
  std::vector<uint8_t> a(protocol::kMaxRemoteMessageSize), b(protocol::kMaxRemoteMessageSize);
  unsigned long ok = 0, round_trips = 0;
  const uint64_t now_ms = sim.clock().now_ms();
  const auto t0 = std::chrono::steady_clock::now();
  if (std::strcmp(argv[1], "remote") != 0) {
    const bool resumed = argv[1][0] == 'r';
    std::optional<protocol::SessionClient> holder;
    for (unsigned long i = 0; i < n + (resumed ? 1 : 0); ++i) {
      if (!resumed || i == 0) {
        holder.emplace(*guest, chain, authority.identity().lock_id(), client_drbg);
        protocol::SessionClient& client = *holder;
        auto m1 = client.Hello(a);
        auto m2 = m1.ok() ? server.Handle(std::span<const uint8_t>(a.data(), *m1), now_ms, b) : m1;
        auto m3 = m2.ok() ? client.Finish(std::span<const uint8_t>(b.data(), *m2), unlock, a) : m2;
        auto m4 = m3.ok() ? server.Handle(std::span<const uint8_t>(a.data(), *m3), now_ms, b) : m3;
        auto got = m4.ok() ? client.Receive(std::span<const uint8_t>(b.data(), *m4)) : Result<protocol::CommandResponse>(m4.status());
        round_trips += 2;
        if (got.ok() && got->status == StatusCode::kOk) ++ok;
      } else {
        protocol::SessionClient& client = *holder;
        auto m1 = client.Resume(unlock, a);
        auto m2 = m1.ok() ? server.Handle(std::span<const uint8_t>(a.data(), *m1), now_ms, b) : m1;
        auto got = m2.ok() ? client.Receive(std::span<const uint8_t>(b.data(), *m2)) : Result<protocol::CommandResponse>(m2.status());
        round_trips += 1;
        if (got.ok() && got->status == StatusCode::kOk) ++ok;
      }
    }
    if (resumed && n > 0) {  // report the resumed ones only
      --ok;
      round_trips -= 2;
    }
  } else {
    protocol::RemoteClient client(*guest, chain, authority.identity().public_key(), client_drbg);
    for (unsigned long i = 0; i < n; ++i) {
      auto env = client.Build(unlock, static_cast<uint32_t>(i + 1), *sim.lock().utc_now() + 30, a);
      auto res = env.ok() ? remote.Handle(std::span<const uint8_t>(a.data(), *env), now_ms, b) : env;
      auto got = res.ok() ? client.Verify(std::span<const uint8_t>(b.data(), *res)) : Result<protocol::RemoteOutcome>(res.status());
      round_trips += 1;
      if (got.ok() && got->envelope == StatusCode::kOk && got->response.status == StatusCode::kOk) ++ok;
    }
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  if (n > 0) {
    std::printf("%s: %lu unlocks accepted of %lu, %.1f round trips each, %.0f us each (both sides, host)\n", argv[1], ok, n,
                double(round_trips) / double(n), us / double(n));
  }
  return ok == n ? 0 : 1;
}
