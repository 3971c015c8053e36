// Facade: durable storage for the lock's configuration, users, credentials,
// schedules and counters. The storage module provides the power-loss-safe
// flash backend; the simulator provides an in-memory one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/status.h"

namespace mortise::core {

// Record keys are 32 bits: the high 16 bits name a record kind, the low 16 an
// index. Kinds below 0x0100 belong to the core; the protocol module uses
// 0x0100-0x01FF; the rest is free for integrators.
constexpr uint32_t MakeRecordKey(uint16_t kind, uint16_t index) {
  return (static_cast<uint32_t>(kind) << 16) | index;
}
constexpr uint16_t RecordKind(uint32_t key) { return static_cast<uint16_t>(key >> 16); }
constexpr uint16_t RecordIndex(uint32_t key) { return static_cast<uint16_t>(key & 0xFFFF); }

// The largest value a record may hold.
inline constexpr size_t kMaxRecordSize = 256;

class RecordVisitor {
 public:
  virtual void Visit(uint32_t key, std::span<const uint8_t> value) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~RecordVisitor() = default;
};

class DurableStore {
 public:

  // Copies the record's value into `out` and returns its length.
  // kNotFound: no such record. kResourceExhausted: `out` is too small.
  // kDataLoss: the record is corrupt.
  virtual Result<size_t> Read(uint32_t key, std::span<uint8_t> out) = 0;

  // Calls `visitor` for every record with first <= key <= last, in key order.
  virtual Status ForEach(uint32_t first, uint32_t last, RecordVisitor& visitor) = 0;

  // Transactions: Write and Erase between Begin and Commit become durable
  // together when Commit returns OK, or not at all (a power cut before then
  // leaves the previous state). Reads inside a transaction see its writes.
  // Write/Erase outside a transaction commit on their own.
  // kFailedPrecondition: Begin inside a transaction, or Commit outside one.
  // kResourceExhausted: the transaction or the store is full.
  // kInvalidArgument: value larger than kMaxRecordSize.
  virtual Status Begin() = 0;
  virtual Status Write(uint32_t key, std::span<const uint8_t> value) = 0;
  virtual Status Erase(uint32_t key) = 0;  // OK also when absent
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;

  // Durable monotonic counters. IncrementCounter persists the new value
  // before it returns it, so a caller that uses the value after the call can
  // never see it again after a power cut ("persist before use").
  virtual Result<uint64_t> ReadCounter(uint16_t id) = 0;
  virtual Result<uint64_t> IncrementCounter(uint16_t id, uint64_t by = 1) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~DurableStore() = default;
};

// Counter ids: 0-15 the core's, 16-63 the protocol module's, 0xFF00-0xFFFF
// the storage module's (the audit log's high-water mark 0xFF00 and its
// acknowledgement 0xFF01). The store keeps counters under record kind 0xFFFF,
// which Write and Erase refuse and ForEach hides.
enum CoreCounter : uint16_t {
  kCounterWrongCodeAttempts = 0,  // every credential attempt, counted before it is checked
  kCounterBootEpoch = 1,          // incremented at each start
};

}  // namespace mortise::core
