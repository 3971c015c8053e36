// Fuzzes the session decoders on both sides. The first byte picks the
// target: 0 the lock (claimed, no session), 1 the lock after a real guest
// hello (the input is a third message: the cookie must open first), 2 the
// lock with an established guest session, 3 the client awaiting
// SessionAccept, 4 the client awaiting a response (to a real third message),
// 5 the revalidation token sealed in a real third message from a guest
// whose certificate (serial 6) demands one, at a lock whose time is known
// (the rest of the input is the token; the session then runs one command),
// 6 the identity sealed in a real third message (the rest of the input is
// the SessionIdentity plaintext: the lock decodes it, checks the signature
// and the chain), 7 an owner session (cold handshake, a read as its first
// command) then one request whose fields come from the input
// (fuzz_request.h), sealed by the harness with the session's key, 8 the same
// for the guest (serial 5: unlock only), 9 the same request on the owner's
// resumption ticket instead (ResumeRequest: HMAC and AES only). Otherwise
// the rest is the datagram.
// The cheap seam: the simulated lock's first start (it installs the user
// database: thousands of erases) ran once, and every input starts a lock
// again over a copy of that store, with a new DRBG of the same seed, so runs
// stay independent and reproducible (mode 3 needs no lock and starts none). P-256 operations are memoised
// (fuzz_p256_memo.h): the handshakes repeat for every input and cost
// nothing after the first; only what the input changes is computed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/session.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "fuzz_p256_memo.h"
#include "fuzz_request.h"

using namespace mortise;

namespace {

constexpr int64_t kNow = 1749988800;  // the lock's time in mode 5

struct Provisioned {
  Provisioned() : entropy(21), drbg(entropy) {
    ok = drbg.Seed().ok();
    Result<crypto::P256KeyPair> o = crypto::P256KeyPair::Generate(drbg);
    Result<crypto::P256KeyPair> g = crypto::P256KeyPair::Generate(drbg);
    if (!ok || !o.ok() || !g.ok()) return;
    owner.emplace(*o);
    guest.emplace(*g);
    protocol::LockAuthority authority(store, drbg);
    uint8_t pin[protocol::kOfflinePinSecretSize] = {};
    ok = authority.Start().ok() && authority.InstallOwner(owner->public_key(), pin).ok();
    if (!ok) return;
    lock_id = authority.identity().lock_id();
    protocol::CertificateFields f;
    f.lock_id = lock_id;
    f.holder_key = guest->public_key().Compressed();
    f.role = protocol::Role::kGuest;
    f.permissions = protocol::kPermUnlock;
    f.serial = 5;
    f.claim_generation = authority.claim_generation();
    uint8_t cert[protocol::kMaxCertificateSize];
    Result<size_t> n = protocol::IssueCertificate(f, *owner, drbg, cert);
    ok = n.ok();
    if (!ok) return;
    chain.resize(protocol::kMaxChainSize);
    Result<size_t> c = protocol::EncodeChain(std::span<const uint8_t>(cert, *n), {}, chain);
    ok = c.ok();
    if (!ok) return;
    chain.resize(*c);
    f.serial = 6;
    f.revalidation_max_age = 3600;
    n = protocol::IssueCertificate(f, *owner, drbg, cert);
    ok = n.ok();
    if (!ok) return;
    revalidated_chain.resize(protocol::kMaxChainSize);
    c = protocol::EncodeChain(std::span<const uint8_t>(cert, *n), {}, revalidated_chain);
    ok = c.ok();
    if (!ok) return;
    revalidated_chain.resize(*c);
    sim::SimLock first(&store);  // the first start, once
    ok = first.Start().ok();
    ready = store;
  }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
  sim::MemoryStore store;
  sim::MemoryStore ready;  // the claimed lock's store after its first start
  std::optional<crypto::P256KeyPair> owner, guest;
  protocol::LockId lock_id{};
  std::vector<uint8_t> chain, revalidated_chain;
  bool ok = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Provisioned p;
  if (!p.ok) std::abort();  // every input would do nothing
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 10;
  const std::span<const uint8_t> in(data + 1, size - 1);
  crypto::DeterministicEntropy entropy(22);
  crypto::Drbg drbg(entropy);
  if (!drbg.Seed().ok()) return 0;
  protocol::SessionClient client(*p.guest, p.chain, p.lock_id, drbg);
  uint8_t a[protocol::kMaxSessionMessageSize], b[protocol::kMaxSessionMessageSize];
  protocol::CommandRequest unlock;
  unlock.command = protocol::Command::kUnlock;
  if (mode == 3) {  // the client alone: no lock to start
    if (!client.Hello(a).ok()) return 0;
    client.Finish(in, unlock, b).IgnoreError();
    return 0;
  }

  sim::MemoryStore store = p.ready;
  sim::SimLock sim(&store);
  if (!sim.Start().ok()) return 0;
  protocol::LockAuthority authority(store, drbg);
  if (!authority.Start().ok()) return 0;
  protocol::SessionServer server(authority, sim.lock(), store);
  if (!server.Start().ok()) return 0;
  if (mode == 5) {
    if (!sim.lock().SetUtcTime(kNow, false).ok()) return 0;
    protocol::SessionClient holder(*p.guest, p.revalidated_chain, p.lock_id, drbg);
    if (!holder.set_revalidation(in).ok()) return 0;
    Result<size_t> h1 = holder.Hello(a);
    if (!h1.ok()) return 0;
    Result<size_t> h2 = server.Handle(std::span<const uint8_t>(a, *h1), 1, b);
    if (!h2.ok()) return 0;
    Result<size_t> h3 = holder.Finish(std::span<const uint8_t>(b, *h2), unlock, a);
    if (!h3.ok()) return 0;
    Result<size_t> h4 = server.Handle(std::span<const uint8_t>(a, *h3), 2, b);
    if (h4.ok()) holder.Receive(std::span<const uint8_t>(b, *h4)).IgnoreError();
    return 0;
  }
  if (mode == 6) {
    protocol::SessionClient holder(*p.guest, p.chain, p.lock_id, drbg);
    holder.set_identity_for_testing(in);
    Result<size_t> h1 = holder.Hello(a);
    if (!h1.ok()) return 0;
    Result<size_t> h2 = server.Handle(std::span<const uint8_t>(a, *h1), 1, b);
    if (!h2.ok()) return 0;
    Result<size_t> h3 = holder.Finish(std::span<const uint8_t>(b, *h2), unlock, a);
    if (!h3.ok()) return 0;
    Result<size_t> h4 = server.Handle(std::span<const uint8_t>(a, *h3), 2, b);
    if (h4.ok()) holder.Receive(std::span<const uint8_t>(b, *h4)).IgnoreError();
    return 0;
  }
  if (mode >= 7) {
    protocol::CommandRequest request;
    if (!protocol::fuzzing::RequestFrom(in, request)) return 0;
    const bool owner = mode != 8;
    protocol::SessionClient holder(owner ? *p.owner : *p.guest, owner ? std::span<const uint8_t>() : p.chain,
                                   p.lock_id, drbg);
    protocol::CommandRequest first;  // a read: changes nothing, allowed to every key
    first.command = protocol::Command::kReadAttribute;
    Result<size_t> h1 = holder.Hello(a);
    if (!h1.ok()) return 0;
    Result<size_t> h2 = server.Handle(std::span<const uint8_t>(a, *h1), 1, b);
    if (!h2.ok()) return 0;
    Result<size_t> h3 = holder.Finish(std::span<const uint8_t>(b, *h2), first, a);
    if (!h3.ok()) return 0;
    Result<size_t> h4 = server.Handle(std::span<const uint8_t>(a, *h3), 2, b);
    if (!h4.ok() || !holder.Receive(std::span<const uint8_t>(b, *h4)).ok()) return 0;
    Result<size_t> h5 = mode == 9 ? holder.Resume(request, a) : holder.Send(request, a);
    if (!h5.ok()) return 0;
    Result<size_t> h6 = server.Handle(std::span<const uint8_t>(a, *h5), 3, b);
    if (h6.ok()) holder.Receive(std::span<const uint8_t>(b, *h6)).IgnoreError();
    sim.Run(100);
    return 0;
  }
  if (mode == 0) {
    server.Handle(in, 1, a).IgnoreError();
    return 0;
  }
  Result<size_t> m1 = client.Hello(a);
  if (!m1.ok()) return 0;
  Result<size_t> m2 = server.Handle(std::span<const uint8_t>(a, *m1), 1, b);
  if (!m2.ok()) return 0;
  if (mode == 1) {
    server.Handle(in, 2, a).IgnoreError();
    return 0;
  }
  Result<size_t> m3 = client.Finish(std::span<const uint8_t>(b, *m2), unlock, a);
  if (!m3.ok()) return 0;
  if (mode == 4) {
    client.Receive(in).IgnoreError();
    return 0;
  }
  Result<size_t> m4 = server.Handle(std::span<const uint8_t>(a, *m3), 2, b);
  if (!m4.ok()) return 0;
  server.Handle(in, 3, a).IgnoreError();
  return 0;
}
