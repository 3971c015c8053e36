// Fuzzes the lock's endpoint (node.h) and the remote-command decoders on
// both sides. The first byte picks the target:
//   0  a raw frame to a claimed lock with a known time (every frame type:
//      info, claim, session, remote envelope)
//   1  the holder's check of a lock's answer (RemoteClient::Verify)
//   2  the client's LockInfo decoder
//   3  a correctly signed owner envelope whose fields come from the input
//      (command, value, attribute, counter, lifetime, payload), so the
//      fuzzer reaches the executor and the core behind the signature
//   4  a correctly signed unlock envelope from a guest whose certificate
//      (serial 7) demands revalidation, carrying the input as its token
//   5  an owner session opened through the endpoint's session frames, then
//      one request whose fields come from the input (fuzz_request.h) sealed
//      in it: the executor and the core through a session, behind AES only
// The cheap seam: the expensive starts ran once (the simulated lock's first
// start installs the user database, the node's provisions the setup code:
// PBKDF2); every input starts a lock again over a copy of that store, with
// a new DRBG of the same seed, so runs stay independent and reproducible.
// P-256 operations are memoised (fuzz_p256_memo.h): the handshake of mode 5
// and the key derivations repeat for every input and cost nothing after the
// first; only what the input changes is computed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/node.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "fuzz_p256_memo.h"
#include "fuzz_request.h"

using namespace mortise;

namespace {

constexpr int64_t kNow = 1749988800;

struct Provisioned {
  Provisioned() : entropy(31), drbg(entropy), start_entropy(33), start_drbg(start_entropy) {
    ok = drbg.Seed().ok() && start_drbg.Seed().ok();
    Result<crypto::P256KeyPair> o = crypto::P256KeyPair::Generate(drbg);
    if (!ok || !o.ok()) return;
    owner.emplace(*o);
    protocol::LockAuthority authority(store, drbg);
    uint8_t pin[protocol::kOfflinePinSecretSize] = {};
    ok = authority.Start().ok() && authority.InstallOwner(owner->public_key(), pin).ok();
    if (!ok) return;
    lock_key.emplace(authority.identity().public_key());
    lock_id = authority.identity().lock_id();
    Result<crypto::P256KeyPair> g = crypto::P256KeyPair::Generate(drbg);
    ok = g.ok();
    if (!ok) return;
    guest.emplace(*g);
    protocol::CertificateFields f;
    f.lock_id = authority.identity().lock_id();
    f.holder_key = guest->public_key().Compressed();
    f.role = protocol::Role::kGuest;
    f.permissions = protocol::kPermUnlock;
    f.serial = 7;
    f.claim_generation = authority.claim_generation();
    f.revalidation_max_age = 3600;
    uint8_t cert[protocol::kMaxCertificateSize];
    Result<size_t> n = protocol::IssueCertificate(f, *owner, drbg, cert);
    ok = n.ok();
    if (!ok) return;
    Result<size_t> c = protocol::EncodeChain(std::span<const uint8_t>(cert, *n), {}, guest_chain);
    ok = c.ok();
    if (!ok) return;
    guest_chain_len = *c;
    // The first starts, once.
    sim::SimLock first(&store);
    protocol::LockAuthority started(store, start_drbg);
    ok = first.Start().ok() && started.Start().ok();
    if (!ok) return;
    protocol::LockNode node(started, first.lock(), store);
    ok = node.Start(first.clock().now_ms()).ok();
    ready = store;
  }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
  crypto::DeterministicEntropy start_entropy;
  crypto::Drbg start_drbg;
  sim::MemoryStore store;
  sim::MemoryStore ready;  // the claimed lock's store after the first starts
  std::optional<crypto::P256KeyPair> owner, guest;
  std::optional<crypto::P256PublicKey> lock_key;
  protocol::LockId lock_id{};
  uint8_t guest_chain[protocol::kMaxChainSize] = {};
  size_t guest_chain_len = 0;
  bool ok = false;
};

// Sends `body` as a frame of `type` and returns the reply's body (empty when
// the reply is not of that type).
std::span<const uint8_t> Exchange(protocol::LockNode& node, protocol::FrameType type, std::span<const uint8_t> body,
                                  uint64_t now_ms, std::span<uint8_t> frame, std::span<uint8_t> reply) {
  if (body.size() + 1 > frame.size()) return {};
  frame[0] = static_cast<uint8_t>(type);
  std::memcpy(frame.data() + 1, body.data(), body.size());
  Result<size_t> r = node.Handle(frame.first(body.size() + 1), now_ms, reply);
  if (!r.ok() || *r < 1 || reply[0] != static_cast<uint8_t>(type)) return {};
  return reply.subspan(1, *r - 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Provisioned p;
  if (!p.ok) std::abort();  // every input would do nothing
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 6;
  const std::span<const uint8_t> in(data + 1, size - 1);
  crypto::DeterministicEntropy entropy(32);
  crypto::Drbg drbg(entropy);
  if (!drbg.Seed().ok()) return 0;

  if (mode == 2) {
    (void)protocol::DecodeLockInfo(in);
    return 0;
  }
  protocol::RemoteClient client(*p.owner, {}, *p.lock_key, drbg);
  static uint8_t out[protocol::kMaxRemoteFrameSize];
  if (mode == 1) {
    protocol::CommandRequest lock;
    lock.command = protocol::Command::kLock;
    if (!client.Build(lock, 1, kNow + 10, out).ok()) return 0;
    (void)client.Verify(in);
    return 0;
  }

  sim::MemoryStore store = p.ready;
  sim::SimLock sim(&store);
  if (!sim.Start().ok()) return 0;
  protocol::LockAuthority authority(store, drbg);
  if (!authority.Start().ok()) return 0;
  protocol::LockNode node(authority, sim.lock(), store);
  if (!node.Start(sim.clock().now_ms()).ok()) return 0;
  if (!sim.lock().SetUtcTime(kNow, false).ok()) return 0;
  // 31 s with nothing moving: one tick a second is enough.
  sim.Run(31000, 1000);
  const uint64_t now_ms = sim.clock().now_ms();

  if (mode == 0) {
    (void)node.Handle(in, now_ms, out);
    return 0;
  }
  static uint8_t envelope[protocol::kMaxRemoteFrameSize];
  envelope[0] = static_cast<uint8_t>(protocol::FrameType::kRemote);
  if (mode == 4) {
    protocol::RemoteClient holder(*p.guest, std::span<const uint8_t>(p.guest_chain, p.guest_chain_len), *p.lock_key,
                                  drbg);
    if (!holder.set_revalidation(in).ok()) return 0;
    protocol::CommandRequest unlock;
    unlock.command = protocol::Command::kUnlock;
    Result<size_t> n = holder.Build(unlock, 1, *sim.lock().utc_now() + 10,
                                    std::span<uint8_t>(envelope + 1, sizeof(envelope) - 1));
    if (!n.ok()) return 0;
    Result<size_t> r = node.Handle(std::span<const uint8_t>(envelope, 1 + *n), now_ms, out);
    if (r.ok() && *r > 1) (void)holder.Verify(std::span<const uint8_t>(out + 1, *r - 1));
    return 0;
  }
  if (mode == 5) {
    protocol::CommandRequest request;
    if (!protocol::fuzzing::RequestFrom(in, request)) return 0;
    protocol::SessionClient session(*p.owner, {}, p.lock_id, drbg);
    uint8_t msg[protocol::kMaxSessionMessageSize];
    Result<size_t> hello = session.Hello(msg);
    if (!hello.ok()) return 0;
    std::span<const uint8_t> accept =
        Exchange(node, protocol::FrameType::kSession, std::span<const uint8_t>(msg, *hello), now_ms, envelope, out);
    protocol::CommandRequest first;  // a read: changes nothing
    first.command = protocol::Command::kReadAttribute;
    Result<size_t> finish = session.Finish(accept, first, msg);
    if (!finish.ok()) return 0;
    std::span<const uint8_t> answer =
        Exchange(node, protocol::FrameType::kSession, std::span<const uint8_t>(msg, *finish), now_ms, envelope, out);
    if (!session.Receive(answer).ok()) return 0;
    Result<size_t> sent = session.Send(request, msg);
    if (!sent.ok()) return 0;
    answer =
        Exchange(node, protocol::FrameType::kSession, std::span<const uint8_t>(msg, *sent), now_ms, envelope, out);
    session.Receive(answer).IgnoreError();
    sim.Run(100);
    return 0;
  }
  // mode 3: command(1) value(8) attribute(2) counter(1) lifetime(1) payload...
  if (in.size() < 13) return 0;
  protocol::CommandRequest request;
  request.command = static_cast<protocol::Command>(in[0] % protocol::kCommandCount);
  int64_t value = 0;
  std::memcpy(&value, in.data() + 1, 8);
  request.value = value;
  request.attribute = static_cast<uint16_t>(in[9] | (in[10] << 8));
  const uint32_t counter = in[11];
  const int64_t lifetime = static_cast<int8_t>(in[12]);
  request.payload = in.subspan(13, in.size() - 13 > 512 ? 512 : in.size() - 13);
  Result<size_t> n = client.Build(request, counter, *sim.lock().utc_now() + lifetime,
                                  std::span<uint8_t>(envelope + 1, sizeof(envelope) - 1));
  if (!n.ok()) return 0;
  Result<size_t> r = node.Handle(std::span<const uint8_t>(envelope, 1 + *n), now_ms, out);
  if (r.ok() && *r > 1) (void)client.Verify(std::span<const uint8_t>(out + 1, *r - 1));
  sim.Run(100);
  return 0;
}
