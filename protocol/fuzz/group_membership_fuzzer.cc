// Fuzzes the group-membership decoder and verifier (and the cheap header
// peek frame 0x05 runs before any signature).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_keys.h"
#include "mortise/protocol/group_membership.h"
#include "fuzz_p256_memo.h"

using namespace mortise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::SeedKeys& keys = fuzz::Keys();
  if (!keys.ok()) std::abort();  // every input would do nothing
  const std::span<const uint8_t> in(data, size);
  protocol::PeekGroupMembership(in).IgnoreError();
  protocol::LockId lock_id{};
  protocol::VerifyGroupMembership(in, lock_id, /*claim_generation=*/1, keys.owner->public_key()).IgnoreError();
  return 0;
}
