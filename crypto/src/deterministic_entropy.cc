#include "mortise/crypto/deterministic_entropy.h"

#include <algorithm>
#include <cstring>

#include "mortise/crypto/hash.h"

namespace mortise::crypto {

DeterministicEntropy::DeterministicEntropy(uint64_t seed) : seed_(seed) {}

DeterministicEntropy DeterministicEntropy::Replaying(std::span<const uint8_t> bytes) {
  DeterministicEntropy source;
  source.replay_ = bytes;
  source.replaying_ = true;
  return source;
}

Status DeterministicEntropy::Fill(std::span<uint8_t> out) {
  if (failing_) return StatusCode::kUnavailable;
  if (replaying_) {
    if (out.size() > replay_.size()) return StatusCode::kResourceExhausted;
    std::memcpy(out.data(), replay_.data(), out.size());
    replay_ = replay_.subspan(out.size());
    return Status::Ok();
  }
  size_t done = 0;
  while (done < out.size()) {
    if (block_used_ == sizeof(block_)) {
      uint8_t input[16];
      for (int i = 0; i < 8; ++i) {
        input[i] = static_cast<uint8_t>(seed_ >> (8 * i));
        input[8 + i] = static_cast<uint8_t>(counter_ >> (8 * i));
      }
      ++counter_;
      Digest d = Sha256::Hash(input);
      std::memcpy(block_, d.data(), sizeof(block_));
      block_used_ = 0;
    }
    const size_t n = std::min(out.size() - done, sizeof(block_) - block_used_);
    std::memcpy(out.data() + done, block_ + block_used_, n);
    block_used_ += n;
    done += n;
  }
  return Status::Ok();
}

}  // namespace mortise::crypto
