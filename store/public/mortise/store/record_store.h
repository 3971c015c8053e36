// The lock's transactional, power-loss-safe record store: configuration,
// users, credentials, schedules, protocol state and durable counters, kept as
// a log of CRC-protected records in a ring of erase blocks (format:
// docs/storage-format.md). Implements core::DurableStore.
//
// Guarantees:
//  - a Commit that returned OK survives any later power cut; a transaction cut
//    before its commit record is on flash is discarded whole at mount;
//  - compaction copies live records to the head before it erases anything, and
//    records the obsolete block's sequence in the head first, so a cut during
//    compaction (even a torn erase) neither loses nor resurrects a record;
//    two blocks stay free for it, so it can always finish;
//  - every flash byte is checked (header CRC, value CRC): corruption is
//    reported in the MountReport and a record whose value is damaged reads as
//    kDataLoss, never as a stale or wrong value.
//
// Heap-free: the index lives in caller-provided storage (8 bytes a record;
// StaticRecordStore<N> holds it inline), the transaction buffer is a member.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/core/durable_store.h"
#include "mortise/store/flash.h"

namespace mortise::store {

// What the last Mount found and did not keep. Zero everywhere after a clean
// shutdown or a clean power cut; torn writes show as skipped bytes and
// discarded transactions; bit flips as dropped records or corrupt keys.
struct MountReport {
  uint32_t records_dropped = 0;         // committed records lost (header or commit corrupt)
  uint32_t corrupt_values = 0;          // keys whose newest value failed its CRC (read: kDataLoss)
  uint32_t bytes_skipped = 0;           // bytes that did not parse as records
  uint32_t blocks_dropped = 0;          // blocks with an invalid header (reused after erase)
  uint32_t transactions_discarded = 0;  // transactions without a commit record (power cut)
  uint32_t obsolete_blocks_erased = 0;  // compaction victims whose erase a power cut interrupted
  // Counters whose newest value was unreadable: raised to the newest readable
  // value found on flash plus RecordStore::kCounterRecoveryMargin, and
  // persisted, so a counter always reads and never goes back.
  uint32_t counters_recovered = 0;
  // Counters raised to a newer value found on flash whose commit record was
  // missing (a torn commit, or a damaged one).
  uint32_t counters_raised = 0;
  // Transactions found without their commit record that a power cut does not
  // explain (no abort marker follows them and they are not the newest), and
  // committed transactions missing records: damage. Every counter is then
  // recovered upward (counters_recovered), and abort markers are written so
  // the same damage is not counted twice.
  uint32_t damaged_transactions = 0;
  bool clean() const {
    return records_dropped == 0 && corrupt_values == 0 && bytes_skipped == 0 && blocks_dropped == 0 &&
           damaged_transactions == 0;
  }
};

// One index slot: a key and where its newest committed record starts.
struct RecordIndexEntry {
  uint32_t key;
  uint32_t location;  // byte address in the partition; bit 31: value corrupt
};

class RecordStore final : public core::DurableStore {
 public:
  MORTISE_STORE_NOT_ON_HEAP
  // Limits of one transaction (RAM-buffered until Commit): "add user + all
  // their credentials + schedules" fits with room to spare.
  // The core's largest transaction is 18 records (offline-PIN secret, erase
  // record and 16 code-table entries: DoorLock::SetOfflinePinSecret and
  // FactoryReset); 24 leaves room. The aux byte on flash holds up to 255.
  static constexpr size_t kMaxTransactionRecords = 24;
  static constexpr size_t kTransactionBufferBytes = 2048;
  static constexpr size_t kMaxBlocks = 256;
  static constexpr size_t kMinBlocks = 4;
  // Kind reserved for counters: Write/Erase refuse it, ForEach hides it.
  static constexpr uint16_t kCounterKind = 0xFFFF;
  // Kind for the storage module's own small state records (the audit log's
  // durable head, AuditLog::kHeadRecordKey): ordinary records that, like
  // counter writes, may use the byte reserve, so a store full of users does
  // not stop the log. ForEach hides them.
  static constexpr uint16_t kStoreStateKind = 0xFFFE;
  // Added to the newest readable value of a counter whose newest value is
  // unreadable (mount_report().counters_recovered).
  static constexpr uint64_t kCounterRecoveryMargin = 4096;
  // Bytes that only counter writes and tombstones (erasures) may use: a store
  // filled with records still counts, acknowledges and deletes. The reserve
  // is min(kCounterReserveBytes, block size / 4): 512 B with 4 KiB blocks
  // (it holds the live counters and the audit log's durable head).
  static constexpr size_t kCounterReserveBytes = 512;
  // Lock default: ~1000 users, 2000 credentials, schedules and config.
  static constexpr size_t kDefaultCapacity = 4096;

  // `flash` must have kMinBlocks..kMaxBlocks blocks; `index` bounds the number
  // of live records. Call Mount() before anything else.
  RecordStore(Flash& flash, std::span<RecordIndexEntry> index);

  // Scans the flash, rebuilds the index, finishes an interrupted compaction.
  // Erased flash mounts as an empty store. Returns OK whenever a store could
  // be mounted, however much was dropped (see mount_report()).
  // kInvalidArgument: the flash geometry is unusable. kResourceExhausted: more
  // live records than the index holds: the rest are not loaded, the whole
  // flash is still scanned, and the store is mounted read-only (reads work;
  // Write, Erase, Commit and counter increments return kResourceExhausted,
  // since compaction would drop the records left out) until a Mount with a
  // larger index. kUnavailable or kDataLoss: the flash failed (from Flash).
  Status Mount();
  // Erases every block: an empty store. Errors from Flash::Erase.
  Status Format();
  const MountReport& mount_report() const { return report_; }

  // core::DurableStore. Besides the statuses documented there, every call
  // returns kFailedPrecondition before a successful Mount, and after a flash
  // write failed (a power cut in tests) until the next Mount, because the head
  // of the log is then unknown.
  Result<size_t> Read(uint32_t key, std::span<uint8_t> out) override;
  // The visitor must not modify the store. A record whose value fails its
  // CRC is skipped and ForEach returns kDataLoss after visiting the rest.
  Status ForEach(uint32_t first, uint32_t last, core::RecordVisitor& visitor) override;
  Status Begin() override;
  // kInvalidArgument also for keys of kind kCounterKind.
  Status Write(uint32_t key, std::span<const uint8_t> value) override;
  Status Erase(uint32_t key) override;
  Status Commit() override;
  void Rollback() override;
  // A counter whose newest record is corrupt is recovered upward (newest
  // readable value + kCounterRecoveryMargin, persisted) at Mount, at the read
  // that finds it corrupt, or when compaction meets it: it is never guessed
  // lower and never erased. kOutOfRange: the increment would overflow 64 bits.
  Result<uint64_t> ReadCounter(uint16_t id) override;
  Result<uint64_t> IncrementCounter(uint16_t id, uint64_t by = 1) override;

  // Raises a counter to at least `value` (no-op if already there): for
  // high-water marks and acknowledgement cursors. Same statuses as Increment.
  Result<uint64_t> RaiseCounter(uint16_t id, uint64_t value);

  size_t record_count() const { return count_; }
  // True after a Mount that returned kResourceExhausted (index too small).
  bool read_only() const { return read_only_; }
  size_t capacity() const { return index_.size(); }
  // Bytes that can still be appended before compaction must run.
  size_t FreeBytes() const;

 private:
  enum class BlockState : uint8_t { kFree, kUsed, kDirty };  // dirty: erase before use
  struct Op {
    uint32_t key;
    uint16_t length;
    uint8_t type;
    uint16_t data_offset;
  };
  struct Pending {
    uint32_t location;
    uint32_t key;
    uint8_t type;
    uint8_t index_in_txn;
    bool value_ok;
  };

  Status CheckUsable() const;
  Status MountImpl();
  Status ScanBlock(uint32_t block, bool apply, uint32_t* low_water);
  Status ApplyRecord(uint32_t key, uint8_t type, uint32_t location, bool value_ok);
  Status CommitOps(const Op* ops, size_t op_count, const uint8_t* data);
  Status EnsureSpace(const Op* ops, size_t op_count);
  bool Fits(const uint16_t* sizes, size_t n, size_t reserve_blocks, size_t reserve_bytes = 0) const;
  Status CompactOldest(bool* progressed);
  Status AppendRecord(uint8_t type, uint32_t key, std::span<const uint8_t> value, uint32_t txn,
                      uint8_t index_in_txn, uint32_t* location);
  Status OpenNewBlock();
  Status ReadValue(uint32_t location, std::span<uint8_t> out, size_t* length);
  void NoteCounter(uint32_t key, const uint8_t* value);
  uint64_t CounterSeen(uint32_t key) const;
  uint64_t RecoveredCounterValue(uint32_t key, uint32_t location);
  Status RecoverCounters(bool damage);
  Status WriteAbortMarkers();
  void NoteUnresolved(uint32_t txn);
  void Resolve(uint32_t txn);
  size_t LowerBound(uint32_t key) const;  // first index position with a key >= key
  int Find(uint32_t key) const;  // index position or -1
  Status IndexPut(uint32_t key, uint32_t location);
  void IndexRemove(uint32_t key);
  const Op* FindOp(uint32_t key) const;
  uint32_t BlockOf(uint32_t location) const { return (location & 0x7FFFFFFF) / static_cast<uint32_t>(block_size_); }
  size_t FreeBlockCount() const;

  Flash& flash_;
  std::span<RecordIndexEntry> index_;
  size_t count_ = 0;
  size_t block_size_ = 0;
  size_t block_count_ = 0;
  BlockState state_[kMaxBlocks] = {};
  uint32_t seq_[kMaxBlocks] = {};
  uint32_t head_block_ = 0;
  uint32_t head_offset_ = 0;  // next free byte in the head block
  uint32_t next_block_seq_ = 1;
  uint32_t next_txn_ = 1;
  bool mounted_ = false;
  bool broken_ = false;
  bool index_overflow_ = false;  // Mount met more live records than the index holds
  bool read_only_ = false;       // after such a mount: every write is refused
  bool in_txn_ = false;
  MountReport report_;

  Op ops_[kMaxTransactionRecords] = {};
  size_t op_count_ = 0;
  uint8_t txn_data_[kTransactionBufferBytes] = {};
  size_t txn_data_used_ = 0;

  Pending pending_[kMaxTransactionRecords] = {};
  size_t pending_count_ = 0;
  uint32_t pending_txn_ = 0;
  bool pending_active_ = false;
  // Newest readable value of each counter seen at mount (committed or not).
  struct SeenCounter {
    uint32_t key;
    uint64_t max;
  };
  static constexpr size_t kMaxSeenCounters = 32;
  SeenCounter seen_[kMaxSeenCounters] = {};
  size_t seen_count_ = 0;
  // Transactions (numbers) left without a commit, or committed with records
  // missing, and not yet followed by an abort marker; the newest discarded
  // one (a power cut's) is kept apart.
  static constexpr size_t kMaxUnresolved = 16;
  uint32_t unresolved_[kMaxUnresolved] = {};
  size_t unresolved_count_ = 0;
  bool unresolved_overflow_ = false;
  uint32_t tail_txn_ = 0;
  bool tail_pending_ = false;
};

// A store with its index inline: RAM = N * 8 bytes + sizeof(RecordStore).
// (Composition, not inheritance: the portable library is built without RTTI,
// so a class deriving from RecordStore in a program built with RTTI would not
// link; RecordStore is final for the same reason.)
template <size_t N = RecordStore::kDefaultCapacity>
struct StaticRecordStore {
  explicit StaticRecordStore(Flash& flash) : store(flash, std::span<RecordIndexEntry>(index, N)) {}
  RecordIndexEntry index[N];
  RecordStore store;
};

}  // namespace mortise::store
