// In-memory NOR flash with fault injection, for tests, the simulator and the
// fuzzer. Heap-free: the caller provides the memory and the erase counters.
//
// Faults:
//  - power cut at the Nth program or erase (counted from construction across
//    reboots, so a test can enumerate every cut point of a workload): that
//    operation is not applied (kClean) or applied in part (kTorn), and every
//    later operation fails with kUnavailable until Reboot();
//  - torn program: the units before a random point are written, one unit gets
//    a random subset of its 1->0 transitions, the rest stay erased;
//  - torn erase: a random prefix of the block is erased, or a random range
//    (the block header may survive with half its records gone), or a random
//    subset of its 0 bits is set back to 1 throughout the block;
//  - bit flips anywhere, on request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/store/flash.h"

namespace mortise::store {

// SplitMix64: tiny, seeded, deterministic; not for secrets.
class TestPrng {
 public:
  explicit TestPrng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound); bound > 0.
  uint64_t Below(uint64_t bound) { return Next() % bound; }

 private:
  uint64_t state_;
};

class FakeFlash final : public Flash {
 public:
  MORTISE_STORE_NOT_ON_HEAP
  enum class CutMode : uint8_t { kClean, kTorn };
  static constexpr uint64_t kNever = ~0ull;

  // `memory.size()` must be a multiple of `block_size`; `erase_counts` holds
  // one counter per block. The memory starts erased.
  FakeFlash(std::span<uint8_t> memory, std::span<uint32_t> erase_counts,
            size_t block_size = kDefaultBlockSize, uint64_t seed = 1);

  size_t block_size() const override { return block_size_; }
  size_t block_count() const override { return memory_.size() / block_size_; }
  Status Read(uint32_t address, std::span<uint8_t> out) override;
  Status Program(uint32_t address, std::span<const uint8_t> data) override;
  Status Erase(uint32_t block) override;
  uint32_t EraseCount(uint32_t block) const override;

  // Cuts the power at the operation whose index (see operation_count) is
  // `operation`. kNever disarms.
  void CutPowerAt(uint64_t operation, CutMode mode = CutMode::kClean) {
    cut_at_ = operation;
    cut_mode_ = mode;
  }
  // Powers the device back on and disarms the cut.
  void Reboot() {
    powered_ = true;
    cut_at_ = kNever;
  }
  bool powered() const { return powered_; }
  // Program and erase operations attempted so far (including failed ones).
  uint64_t operation_count() const { return operations_; }

  void FlipBit(uint32_t address, uint8_t bit) { memory_[address] ^= static_cast<uint8_t>(1u << (bit & 7)); }
  // Direct access for tests and the fuzzer (images, snapshots).
  std::span<uint8_t> memory() { return memory_; }
  std::span<const uint8_t> memory() const { return memory_; }
  TestPrng& prng() { return prng_; }

 private:
  // True when this operation must be cut; switches the power off.
  bool CutNow();

  std::span<uint8_t> memory_;
  std::span<uint32_t> erase_counts_;
  size_t block_size_;
  TestPrng prng_;
  uint64_t operations_ = 0;
  uint64_t cut_at_ = kNever;
  CutMode cut_mode_ = CutMode::kClean;
  bool powered_ = true;
};

}  // namespace mortise::store
