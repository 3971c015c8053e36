// Fuzzes the access-list decoder and verifier.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_keys.h"
#include "mortise/protocol/access_list.h"
#include "fuzz_p256_memo.h"

using namespace mortise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::SeedKeys& keys = fuzz::Keys();
  if (!keys.ok()) std::abort();  // every input would do nothing
  protocol::LockId lock_id{};
  protocol::VerifyAccessList(std::span<const uint8_t>(data, size), lock_id, /*claim_generation=*/1, keys.owner->public_key())
      .IgnoreError();
  return 0;
}
