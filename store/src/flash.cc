#include "mortise/store/fake_flash.h"
#include "mortise/store/flash.h"

namespace mortise::store {

Status FlashPartition::Read(uint32_t address, std::span<uint8_t> out) {
  if (!InRange(address, out.size())) return StatusCode::kOutOfRange;
  return parent_.Read(Base() + address, out);
}

Status FlashPartition::Program(uint32_t address, std::span<const uint8_t> data) {
  if (!InRange(address, data.size())) return StatusCode::kOutOfRange;
  return parent_.Program(Base() + address, data);
}

Status FlashPartition::Erase(uint32_t block) {
  if (block >= block_count_) return StatusCode::kOutOfRange;
  return parent_.Erase(first_block_ + block);
}

uint32_t FlashPartition::EraseCount(uint32_t block) const {
  if (block >= block_count_) return 0;
  return parent_.EraseCount(first_block_ + block);
}

FakeFlash::FakeFlash(std::span<uint8_t> memory, std::span<uint32_t> erase_counts,
                     size_t block_size, uint64_t seed)
    : memory_(memory), erase_counts_(erase_counts), block_size_(block_size), prng_(seed) {
  for (auto& b : memory_) b = 0xFF;
  for (auto& c : erase_counts_) c = 0;
}

bool FakeFlash::CutNow() {
  const uint64_t op = operations_++;
  if (op == cut_at_) {
    powered_ = false;
    return true;
  }
  return false;
}

Status FakeFlash::Read(uint32_t address, std::span<uint8_t> out) {
  if (static_cast<uint64_t>(address) + out.size() > memory_.size()) return StatusCode::kOutOfRange;
  if (!powered_) return StatusCode::kUnavailable;
  for (size_t i = 0; i < out.size(); ++i) out[i] = memory_[address + i];
  return Status::Ok();
}

Status FakeFlash::Program(uint32_t address, std::span<const uint8_t> data) {
  if (address % kProgramUnit != 0 || data.size() % kProgramUnit != 0) return StatusCode::kInvalidArgument;
  if (static_cast<uint64_t>(address) + data.size() > memory_.size()) return StatusCode::kOutOfRange;
  if (!powered_) {
    ++operations_;
    return StatusCode::kUnavailable;
  }
  // Write-once units: programming a unit that is not erased is a store bug.
  for (size_t i = 0; i < data.size(); ++i) {
    if (memory_[address + i] != 0xFF) {
      bool unit_erased = true;
      const size_t unit = (i / kProgramUnit) * kProgramUnit;
      for (size_t j = 0; j < kProgramUnit; ++j) unit_erased &= memory_[address + unit + j] == 0xFF;
      if (!unit_erased) {
        ++operations_;
        return StatusCode::kFailedPrecondition;
      }
    }
  }
  if (CutNow()) {
    if (cut_mode_ == CutMode::kTorn) {
      const size_t units = data.size() / kProgramUnit;
      const size_t torn_unit = prng_.Below(units);
      for (size_t i = 0; i < torn_unit * kProgramUnit; ++i) memory_[address + i] &= data[i];
      for (size_t i = torn_unit * kProgramUnit; i < (torn_unit + 1) * kProgramUnit; ++i) {
        // A random subset of this unit's 1->0 transitions.
        const uint8_t transitions = static_cast<uint8_t>(~data[i]);
        memory_[address + i] &= static_cast<uint8_t>(~(transitions & prng_.Next()));
      }
    }
    return StatusCode::kUnavailable;
  }
  for (size_t i = 0; i < data.size(); ++i) memory_[address + i] &= data[i];
  return Status::Ok();
}

Status FakeFlash::Erase(uint32_t block) {
  if (block >= block_count()) return StatusCode::kOutOfRange;
  if (!powered_) {
    ++operations_;
    return StatusCode::kUnavailable;
  }
  uint8_t* b = memory_.data() + static_cast<size_t>(block) * block_size_;
  if (CutNow()) {
    if (cut_mode_ == CutMode::kTorn) {
      ++erase_counts_[block];
      switch (prng_.Below(3)) {
        case 0: {  // erased from the start up to a random point
          const size_t prefix = prng_.Below(block_size_);
          for (size_t i = 0; i < prefix; ++i) b[i] = 0xFF;
          break;
        }
        case 1: {  // a random range erased: the header may survive
          const size_t from = prng_.Below(block_size_);
          const size_t to = from + prng_.Below(block_size_ - from + 1);
          for (size_t i = from; i < to; ++i) b[i] = 0xFF;
          break;
        }
        default:  // a random subset of bits back to 1 all over
          for (size_t i = 0; i < block_size_; ++i) b[i] |= static_cast<uint8_t>(prng_.Next() & prng_.Next());
      }
    }
    return StatusCode::kUnavailable;
  }
  ++erase_counts_[block];
  for (size_t i = 0; i < block_size_; ++i) b[i] = 0xFF;
  return Status::Ok();
}

uint32_t FakeFlash::EraseCount(uint32_t block) const {
  return block < erase_counts_.size() ? erase_counts_[block] : 0;
}

}  // namespace mortise::store
