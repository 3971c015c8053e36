#include "mortise/sim/memory_store.h"

#include <cstring>

namespace mortise::sim {

Result<size_t> MemoryStore::Read(uint32_t key, std::span<uint8_t> out) {
  const std::vector<uint8_t>* v = nullptr;
  if (in_txn_) {
    auto t = txn_.find(key);
    if (t != txn_.end()) {
      if (!t->second) return StatusCode::kNotFound;
      v = &*t->second;
    }
  }
  if (v == nullptr) {
    auto it = records_.find(key);
    if (it == records_.end()) return StatusCode::kNotFound;
    v = &it->second;
  }
  if (v->size() > out.size()) return StatusCode::kResourceExhausted;
  if (!v->empty()) std::memcpy(out.data(), v->data(), v->size());
  return v->size();
}

Status MemoryStore::ForEach(uint32_t first, uint32_t last, core::RecordVisitor& visitor) {
  std::map<uint32_t, std::vector<uint8_t>> view(records_.lower_bound(first), records_.upper_bound(last));
  if (in_txn_) {
    for (auto& [k, v] : txn_) {
      if (k < first || k > last) continue;
      if (v) view[k] = *v; else view.erase(k);
    }
  }
  for (auto& [k, v] : view) visitor.Visit(k, v);
  return Status::Ok();
}

Status MemoryStore::Begin() {
  if (in_txn_) return StatusCode::kFailedPrecondition;
  in_txn_ = true;
  txn_.clear();
  return Status::Ok();
}

Status MemoryStore::Write(uint32_t key, std::span<const uint8_t> value) {
  if (value.size() > core::kMaxRecordSize) return StatusCode::kInvalidArgument;
  if (fail_writes_ || fail_records_) return StatusCode::kUnavailable;
  // The same transaction bound as the flash store (store::RecordStore::
  // kMaxTransactionRecords), so tests on the simulator catch a transaction
  // the real store would refuse.
  if (in_txn_ && txn_.size() >= kMaxTransactionRecords && txn_.count(key) == 0) return StatusCode::kResourceExhausted;
  ++writes_;
  std::vector<uint8_t> v(value.begin(), value.end());
  if (in_txn_) txn_[key] = std::move(v); else records_[key] = std::move(v);
  return Status::Ok();
}

Status MemoryStore::Erase(uint32_t key) {
  if (fail_writes_ || fail_records_) return StatusCode::kUnavailable;
  if (in_txn_ && txn_.size() >= kMaxTransactionRecords && txn_.count(key) == 0) return StatusCode::kResourceExhausted;
  if (in_txn_) txn_[key] = std::nullopt; else records_.erase(key);
  return Status::Ok();
}

Status MemoryStore::Commit() {
  if (!in_txn_) return StatusCode::kFailedPrecondition;
  if (fail_writes_ || fail_records_) return StatusCode::kUnavailable;
  for (auto& [k, v] : txn_) {
    if (v) records_[k] = std::move(*v); else records_.erase(k);
  }
  txn_.clear();
  in_txn_ = false;
  return Status::Ok();
}

void MemoryStore::Rollback() {
  txn_.clear();
  in_txn_ = false;
}

Result<uint64_t> MemoryStore::ReadCounter(uint16_t id) {
  auto it = counters_.find(id);
  return it == counters_.end() ? uint64_t{0} : it->second;
}

Result<uint64_t> MemoryStore::IncrementCounter(uint16_t id, uint64_t by) {
  if (fail_writes_) return StatusCode::kUnavailable;
  return counters_[id] += by;
}

}  // namespace mortise::sim
