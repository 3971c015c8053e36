// Facade: NOR flash as the store sees it.
//
// Semantics every backend honours (and FakeFlash enforces, so a store bug that
// would corrupt real flash fails a test instead):
//  - the device is `block_count()` erase blocks of `block_size()` bytes;
//  - Erase sets a whole block to 0xFF and adds one to its erase count;
//  - Program writes whole program units (kProgramUnit bytes, aligned) and may
//    only clear bits; the store programs each unit at most once between two
//    erases, which is what internal MCU flash with ECC (STM32L4/U5, nRF) allows,
//    so the same format runs on SPI NOR and on internal flash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/status.h"

// Portable store objects live in static storage, members or the stack, never
// on the heap. Every class with a virtual destructor gets a "deleting
// destructor" that calls operator delete; giving the concrete classes their
// own (never reached) keeps the portable library free of any reference to the
// global heap (scripts/check_portable), and the deleted operator new makes an
// accidental `new` a compile error.
#define MORTISE_STORE_NOT_ON_HEAP                  \
  static void* operator new(std::size_t) = delete; \
  static void operator delete(void*) {}

namespace mortise::store {

// 4 bytes: the smallest unit common NOR parts program, and small enough that
// an audit record is 20 bytes (see docs/storage-format.md, "Figures").
inline constexpr size_t kProgramUnit = 4;
inline constexpr size_t kDefaultBlockSize = 4096;

class Flash {
 public:
  virtual ~Flash() = default;

  virtual size_t block_size() const = 0;
  virtual size_t block_count() const = 0;
  size_t size_bytes() const { return block_size() * block_count(); }

  // Copies `out.size()` bytes from `address`.
  // kOutOfRange: the range leaves the device. kUnavailable: the power is off
  // (fault injection). kDataLoss: the backend could not read (I/O error).
  virtual Status Read(uint32_t address, std::span<uint8_t> out) = 0;

  // Programs `data` at `address`; both aligned to kProgramUnit.
  // kInvalidArgument: misaligned. kOutOfRange: leaves the device.
  // kFailedPrecondition: a unit was not erased (a store bug; FakeFlash only).
  // kUnavailable: the power is off. kDataLoss: the backend failed to write.
  // After any error the range may be partly programmed.
  virtual Status Program(uint32_t address, std::span<const uint8_t> data) = 0;

  // Erases one block. kOutOfRange: no such block. kUnavailable: the power is
  // off. kDataLoss: the backend failed. After an error the block holds garbage.
  virtual Status Erase(uint32_t block) = 0;

  // Erases performed on `block` over the device's life (0 if unknown).
  virtual uint32_t EraseCount(uint32_t block) const = 0;
};

// A window of whole blocks of another Flash, so the record store, the audit
// log and anything else each own a region of one device.
class FlashPartition final : public Flash {
 public:
  MORTISE_STORE_NOT_ON_HEAP
  // Precondition: first_block + block_count <= parent.block_count().
  FlashPartition(Flash& parent, uint32_t first_block, uint32_t block_count)
      : parent_(parent), first_block_(first_block), block_count_(block_count) {}

  size_t block_size() const override { return parent_.block_size(); }
  size_t block_count() const override { return block_count_; }
  Status Read(uint32_t address, std::span<uint8_t> out) override;
  Status Program(uint32_t address, std::span<const uint8_t> data) override;
  Status Erase(uint32_t block) override;
  uint32_t EraseCount(uint32_t block) const override;

 private:
  bool InRange(uint32_t address, size_t size) const {
    return static_cast<uint64_t>(address) + size <= size_bytes();
  }
  uint32_t Base() const { return first_block_ * static_cast<uint32_t>(block_size()); }

  Flash& parent_;
  uint32_t first_block_;
  uint32_t block_count_;
};

}  // namespace mortise::store
