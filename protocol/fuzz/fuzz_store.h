// A small in-memory DurableStore for the fuzzers, so they depend on nothing
// but the protocol (no simulator). Transactions apply at once: the fuzzers
// test decoding, not power loss.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "mortise/core/durable_store.h"

namespace mortise::protocol::fuzzing {

class FuzzStore final : public core::DurableStore {
 public:
  Result<size_t> Read(uint32_t key, std::span<uint8_t> out) override {
    for (const Slot& s : slots_) {
      if (s.used && s.key == key) {
        if (out.size() < s.size) return StatusCode::kResourceExhausted;
        std::memcpy(out.data(), s.value, s.size);
        return s.size;
      }
    }
    return StatusCode::kNotFound;
  }
  Status ForEach(uint32_t, uint32_t, core::RecordVisitor&) override { return StatusCode::kUnimplemented; }
  Status Begin() override { return Status::Ok(); }
  Status Commit() override { return Status::Ok(); }
  void Rollback() override {}
  Status Write(uint32_t key, std::span<const uint8_t> value) override {
    if (value.size() > core::kMaxRecordSize) return StatusCode::kInvalidArgument;
    Slot* free_slot = nullptr;
    for (Slot& s : slots_) {
      if (s.used && s.key == key) free_slot = &s;
    }
    for (Slot& s : slots_) {
      if (free_slot == nullptr && !s.used) free_slot = &s;
    }
    if (free_slot == nullptr) return StatusCode::kResourceExhausted;
    free_slot->used = true;
    free_slot->key = key;
    free_slot->size = value.size();
    std::memcpy(free_slot->value, value.data(), value.size());
    return Status::Ok();
  }
  Status Erase(uint32_t key) override {
    for (Slot& s : slots_) {
      if (s.used && s.key == key) s.used = false;
    }
    return Status::Ok();
  }
  Result<uint64_t> ReadCounter(uint16_t id) override { return id < counters_.size() ? counters_[id] : 0; }
  Result<uint64_t> IncrementCounter(uint16_t id, uint64_t by) override {
    if (id >= counters_.size()) return StatusCode::kInvalidArgument;
    return counters_[id] += by;
  }

 private:
  struct Slot {
    bool used = false;
    uint32_t key = 0;
    size_t size = 0;
    uint8_t value[core::kMaxRecordSize] = {};
  };
  std::array<Slot, 16> slots_{};
  std::array<uint64_t, 64> counters_{};
};

}  // namespace mortise::protocol::fuzzing
