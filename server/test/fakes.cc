#include "fakes.h"

#include <cstring>

#include <sodium.h>

namespace mortise::server::testing {

void SeededRandom::Fill(std::span<uint8_t> out) {
  uint8_t seed[randombytes_SEEDBYTES] = {};
  std::memcpy(seed, &seed_, sizeof(seed_));
  ++calls_;
  std::memcpy(seed + 8, &calls_, sizeof(calls_));
  randombytes_buf_deterministic(out.data(), out.size(), seed);
}

}  // namespace mortise::server::testing
