// An in-memory DurableStore with the final interface, for tests, the
// simulator and benchmarks. Linux-side: it allocates. It can be told to fail
// writes, to check that callers change nothing when the store refuses.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "mortise/core/durable_store.h"

namespace mortise::sim {

class MemoryStore final : public core::DurableStore {
 public:
  // Records per transaction, as store::RecordStore allows.
  static constexpr size_t kMaxTransactionRecords = 24;
  Result<size_t> Read(uint32_t key, std::span<uint8_t> out) override;
  Status ForEach(uint32_t first, uint32_t last, core::RecordVisitor& visitor) override;
  Status Begin() override;
  Status Write(uint32_t key, std::span<const uint8_t> value) override;
  Status Erase(uint32_t key) override;
  Status Commit() override;
  void Rollback() override;
  Result<uint64_t> ReadCounter(uint16_t id) override;
  Result<uint64_t> IncrementCounter(uint16_t id, uint64_t by) override;

  // Every write, erase, commit and increment fails with kUnavailable while set.
  void set_fail_writes(bool fail) { fail_writes_ = fail; }
  // Record writes, erases and commits fail while counters still work: the
  // state a power cut leaves between a counter increment and a record write.
  void set_fail_record_writes(bool fail) { fail_records_ = fail; }
  size_t record_count() const { return records_.size(); }
  uint64_t write_count() const { return writes_; }

 private:
  using Value = std::optional<std::vector<uint8_t>>;  // nullopt: erased in the transaction
  std::map<uint32_t, std::vector<uint8_t>> records_;
  std::map<uint16_t, uint64_t> counters_;
  bool in_txn_ = false;
  std::map<uint32_t, Value> txn_;
  bool fail_writes_ = false;
  bool fail_records_ = false;
  uint64_t writes_ = 0;
};

}  // namespace mortise::sim
