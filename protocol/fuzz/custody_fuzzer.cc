// Fuzzes the log-custody acknowledgement (custody.h) at the lock and the
// holder's decoder of the lock's answer. The first byte picks the target:
//   0  a raw frame-0x06 body to a claimed lock whose log holds records
//      1..50 (hash of record n: a function of n)
//   1  the same, with the lock id, claim generation and the right hash of
//      the N the input names filled in, so the input reaches the budget,
//      the chain and the signature checks
//   2  the holder's decoder and receipt check of an answer
// State is rebuilt for every input from a provisioned store, cheaply
// (fuzzing::StartedLock: the expensive starts ran once); the simulated lock,
// the log and the CustodyServer are new for every input. An acknowledgement
// the lock refused is not sent again (the same bytes get the same answer):
// each input costs at most one round of verification, the checks before it
// none.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/custody.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "fuzz_claimed.h"
#include "fuzz_p256_memo.h"

using namespace mortise;

namespace {

class Log final : public protocol::LogCustodian {
 public:
  uint64_t cursor() const override { return cursor_; }
  uint64_t head() const override { return 50; }
  Result<protocol::CustodyChainHash> ChainAt(uint64_t seq) override {
    if (seq == 0 || seq > 50) return StatusCode::kNotFound;
    return HashOf(seq);
  }
  Status Advance(uint64_t seq) override {
    if (seq > cursor_) cursor_ = seq;
    return Status::Ok();
  }
  static protocol::CustodyChainHash HashOf(uint64_t seq) {
    protocol::CustodyChainHash h{};
    for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(seq * 31 + i);
    return h;
  }
  uint64_t cursor_ = 10;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static protocol::fuzzing::StartedLock started(41, 42);
  const protocol::fuzzing::ClaimedStore& p = started.p;
  if (!started.ok) std::abort();  // every input would do nothing
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 3;
  const std::span<const uint8_t> in(data + 1, size - 1);
  if (mode == 2) {
    Result<protocol::CustodyReply> r = protocol::DecodeCustodyReply(in);
    if (r.ok()) protocol::VerifyCustodyReceipt(*r, *p.lock_key, p.lock_id, p.generation).IgnoreError();
    return 0;
  }
  sim::MemoryStore& store = started.store;
  store = started.ready;
  sim::SimLock sim(&store);
  if (!sim.Start().ok()) return 0;
  sim.lock().SetUtcTime(1749988800, false).IgnoreError();
  protocol::CustodyServer server(started.authority, sim.lock());
  Log log;
  server.set_custodian(&log);
  std::vector<uint8_t> body(in.begin(), in.end());
  if (mode == 1) {
    // version | lock id | generation | N (from the input) | h(N) | the rest.
    uint64_t n = 0;
    for (size_t i = 0; i < 8 && i < in.size(); ++i) n |= static_cast<uint64_t>(in[i]) << (8 * i);
    body.assign(protocol::kCustodyAckFieldsSize, 0);
    body[0] = protocol::kCustodyVersion;
    std::memcpy(body.data() + 1, p.lock_id.data(), p.lock_id.size());
    for (int i = 0; i < 4; ++i) body[17 + i] = static_cast<uint8_t>(p.generation >> (8 * i));
    for (int i = 0; i < 8; ++i) body[21 + i] = static_cast<uint8_t>(n >> (8 * i));
    const protocol::CustodyChainHash h = Log::HashOf(n);
    std::memcpy(body.data() + 29, h.data(), h.size());
    if (in.size() > 8) body.insert(body.end(), in.begin() + 8, in.end());
  }
  uint8_t out[protocol::kMaxCustodyReplyFrameSize];
  for (uint64_t t = 0; t < 3; ++t) {
    if (!server.Handle(body, t * 1000, std::span<uint8_t>(out + 1, sizeof(out) - 1)).ok()) break;
    if (out[2] == static_cast<uint8_t>(protocol::CustodyStatus::kRefused)) break;
  }
  return 0;
}
