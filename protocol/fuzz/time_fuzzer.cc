// Fuzzes time statements (time_statement.h, frame 0x07) at the lock and the
// holder's decoder of the lock's answer. The first byte picks the target:
//   0  a raw frame-0x07 body to a claimed lock whose clock is set
//   1  the same, with the lock id, claim generation and a time within a few
//      seconds of the lock's (its offset from the input) filled in, so the
//      input reaches the budgets, the chain and the signature checks
//   2  the holder's decoder of an answer
// State is rebuilt for every input from a provisioned store, cheaply
// (fuzzing::StartedLock: the expensive starts ran once); the simulated lock
// and the TimeServer are new for every input. A statement the lock refused is
// not sent again (the same bytes get the same answer): each input costs at
// most one signature verification, the checks before it none.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/time_statement.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "fuzz_claimed.h"
#include "fuzz_p256_memo.h"

using namespace mortise;

namespace {

constexpr int64_t kNow = 1749988800;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static protocol::fuzzing::StartedLock started(51, 52);
  const protocol::fuzzing::ClaimedStore& p = started.p;
  if (!started.ok) std::abort();  // every input would do nothing
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 3;
  const std::span<const uint8_t> in(data + 1, size - 1);
  if (mode == 2) {
    protocol::DecodeTimeReply(in).IgnoreError();
    return 0;
  }
  sim::MemoryStore& store = started.store;
  store = started.ready;
  sim::SimLock sim(&store);
  if (!sim.Start().ok()) return 0;
  sim.lock().SetUtcTime(kNow, false).IgnoreError();
  sim.Run(1000, 1000);
  protocol::TimeServer server(started.authority, sim.lock());
  std::vector<uint8_t> body(in.begin(), in.end());
  if (mode == 1) {
    // version | lock id | generation | T = now + (int8 from the input) | the rest.
    const int64_t t = kNow + 1 + (in.empty() ? 0 : static_cast<int8_t>(in[0]) % 16);
    body.assign(protocol::kTimeStatementFieldsSize, 0);
    body[0] = protocol::kTimeStatementVersion;
    std::memcpy(body.data() + 1, p.lock_id.data(), p.lock_id.size());
    for (int i = 0; i < 4; ++i) body[17 + i] = static_cast<uint8_t>(p.generation >> (8 * i));
    for (int i = 0; i < 8; ++i) body[21 + i] = static_cast<uint8_t>(static_cast<uint64_t>(t) >> (8 * i));
    if (in.size() > 1) body.insert(body.end(), in.begin() + 1, in.end());
  }
  uint8_t out[protocol::kTimeReplyFrameSize];
  for (uint64_t ms = 0; ms < 3; ++ms) {
    if (!server.Handle(body, 2000 + ms * 1000, std::span<uint8_t>(out + 1, sizeof(out) - 1)).ok()) break;
    if (out[2] == static_cast<uint8_t>(protocol::TimeStatus::kRefused)) break;
  }
  return 0;
}
