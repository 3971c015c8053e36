#include "mortise/store/record_store.h"

#include <cstring>

#include "crc.h"

namespace mortise::store {
namespace {

using internal::AlignUp;
using internal::Crc32;
using internal::GetLe16;
using internal::GetLe32;
using internal::GetLe64;
using internal::PutLe16;
using internal::PutLe32;
using internal::PutLe64;

constexpr uint32_t kBlockMagic = 0x31564B4D;  // "MKV1"
constexpr size_t kBlockHeaderSize = 16;
constexpr size_t kRecordHeaderSize = 16;
constexpr size_t kValueCrcSize = 4;
constexpr uint32_t kCorruptFlag = 0x80000000u;

enum RecordType : uint8_t {
  kData = 0xD1,
  kTombstone = 0xE2,
  kCommitRecord = 0xC3,
  kLowWater = 0xB4,
  // Compaction copies: the key's current value (or its loss), applied at
  // replay without a commit record, because a copy only repeats what is
  // already committed and anything newer is written after it.
  kCopy = 0xD5,
  kCopyTombstone = 0xE6,
  // Written at mount after a transaction without a commit record (key: its
  // transaction number): "discarded here, by a power cut". A discarded
  // transaction no marker follows is damage, not a power cut.
  kAbortMarker = 0xA7,
};

// Blocks a user write must leave free: one for compaction to copy into, one
// so that compactions cut short by power failures (each can waste a torn
// record) can always be finished.
constexpr size_t kReserveBlocks = 2;

constexpr bool HasValue(uint8_t type) { return type == kData || type == kCopy; }

constexpr size_t RecordSize(uint8_t type, size_t length) {
  return HasValue(type) ? kRecordHeaderSize + AlignUp(length, kProgramUnit) + kValueCrcSize : kRecordHeaderSize;
}

// The header CRC also covers where the header sits, so a valid-looking header
// copied elsewhere (or spelled out inside a value) does not parse there.
uint32_t HeaderCrc(uint32_t block_seq, uint32_t offset, const uint8_t* header) {
  uint8_t where[8];
  PutLe32(where, block_seq);
  PutLe32(where + 4, offset);
  return Crc32(std::span<const uint8_t>(header, 12), Crc32(where));
}

bool AllErased(std::span<const uint8_t> bytes) {
  for (uint8_t b : bytes)
    if (b != 0xFF) return false;
  return true;
}

uint32_t CounterKey(uint16_t id) { return core::MakeRecordKey(RecordStore::kCounterKind, id); }

}  // namespace

RecordStore::RecordStore(Flash& flash, std::span<RecordIndexEntry> index) : flash_(flash), index_(index) {}

Status RecordStore::CheckUsable() const {
  if (!mounted_ || broken_) return StatusCode::kFailedPrecondition;
  return Status::Ok();
}

Status RecordStore::Format() {
  mounted_ = false;
  for (uint32_t b = 0; b < flash_.block_count(); ++b) MORTISE_TRY(flash_.Erase(b));
  return Mount();
}

Status RecordStore::Mount() {
  mounted_ = false;
  broken_ = false;
  in_txn_ = false;
  op_count_ = 0;
  txn_data_used_ = 0;
  count_ = 0;
  report_ = MountReport{};
  pending_active_ = false;
  pending_count_ = 0;
  seen_count_ = 0;
  index_overflow_ = false;
  read_only_ = false;
  unresolved_count_ = 0;
  unresolved_overflow_ = false;
  tail_pending_ = false;
  block_size_ = flash_.block_size();
  block_count_ = flash_.block_count();
  if (block_count_ < kMinBlocks || block_count_ > kMaxBlocks || block_size_ % kProgramUnit != 0 ||
      block_size_ < 1024 || block_size_ * block_count_ > 0x7FFFFFFF) {
    return StatusCode::kInvalidArgument;
  }
  const Status status = MountImpl();
  if (!status.ok() && status.code() != StatusCode::kResourceExhausted) return status;
  mounted_ = true;
  // The index could not hold every live record: writing (or compacting)
  // would lose the records left out, so the store is read-only until it is
  // mounted with a larger index.
  read_only_ = !status.ok();
  if (status.ok()) {
    // Best effort: a counter left corrupt is recovered again by the read
    // that finds it.
    const bool damage = unresolved_count_ > 0 || unresolved_overflow_;
    report_.damaged_transactions = static_cast<uint32_t>(unresolved_count_ + (unresolved_overflow_ ? 1 : 0));
    // After damage: counters first, markers after, so a cut between them
    // recovers again rather than not at all. After a power cut alone: the
    // marker first, so the discarded transaction is never followed by
    // another write without its marker (which would read as damage).
    if (damage) {
      if (RecoverCounters(true).ok()) WriteAbortMarkers().IgnoreError();
    } else if (WriteAbortMarkers().ok()) {
      RecoverCounters(false).IgnoreError();
    }
    if (broken_) return StatusCode::kUnavailable;
  }
  return status;
}

Status RecordStore::MountImpl() {
  uint32_t max_seq = 0;
  bool any_used = false;
  for (uint32_t b = 0; b < block_count_; ++b) {
    uint8_t h[kBlockHeaderSize];
    MORTISE_TRY(flash_.Read(b * static_cast<uint32_t>(block_size_), h));
    if (AllErased(h)) {
      state_[b] = BlockState::kFree;
    } else if (GetLe32(h) == kBlockMagic && GetLe32(h + 12) == Crc32(std::span<const uint8_t>(h, 12))) {
      state_[b] = BlockState::kUsed;
      seq_[b] = GetLe32(h + 4);
      if (!any_used || seq_[b] > max_seq) {
        max_seq = seq_[b];
        head_block_ = b;
      }
      any_used = true;
    } else {
      state_[b] = BlockState::kDirty;
      ++report_.blocks_dropped;
    }
  }
  next_block_seq_ = max_seq + 1;
  next_txn_ = 1;
  if (!any_used) {
    head_offset_ = static_cast<uint32_t>(block_size_);  // no head: the first append opens a block
    head_block_ = 0;
    return Status::Ok();
  }

  // Pass 1: the head holds the latest low-water mark; blocks below it are
  // compaction victims whose erase was interrupted and must not be replayed.
  uint32_t low_water = 0;
  MORTISE_TRY(ScanBlock(head_block_, false, &low_water));
  for (uint32_t b = 0; b < block_count_; ++b) {
    if (state_[b] == BlockState::kUsed && seq_[b] < low_water) {
      MORTISE_TRY(flash_.Erase(b));
      state_[b] = BlockState::kFree;
      ++report_.obsolete_blocks_erased;
    }
  }

  // Pass 2: replay the used blocks oldest first.
  uint16_t order[kMaxBlocks];
  size_t n = 0;
  for (uint32_t b = 0; b < block_count_; ++b) {
    if (state_[b] != BlockState::kUsed) continue;
    size_t i = n++;
    while (i > 0 && seq_[order[i - 1]] > seq_[b]) {
      order[i] = order[i - 1];
      --i;
    }
    order[i] = static_cast<uint16_t>(b);
  }
  for (size_t i = 0; i < n; ++i) MORTISE_TRY(ScanBlock(order[i], true, &low_water));
  if (pending_active_) {
    ++report_.transactions_discarded;
    tail_pending_ = true;  // the newest: a power cut's, or a damaged last commit (indistinguishable)
    tail_txn_ = pending_txn_;
  }
  pending_active_ = false;
  return index_overflow_ ? Status(StatusCode::kResourceExhausted) : Status::Ok();
}

// Parses one block. With `apply`, feeds records into the transaction replay
// and sets head_offset_ when the block is the head; always raises
// *low_water from low-water records. Unparseable bytes are skipped a program
// unit at a time so one damaged record does not hide the ones after it.
Status RecordStore::ScanBlock(uint32_t block, bool apply, uint32_t* low_water) {
  const uint32_t base = block * static_cast<uint32_t>(block_size_);
  // The end of the written area: the last program unit that is not erased.
  uint32_t end = static_cast<uint32_t>(block_size_);
  {
    uint8_t chunk[64];
    bool found = false;
    while (end > kBlockHeaderSize && !found) {
      const uint32_t from = end >= kBlockHeaderSize + sizeof(chunk) ? end - sizeof(chunk) : kBlockHeaderSize;
      const std::span<uint8_t> c(chunk, end - from);
      MORTISE_TRY(flash_.Read(base + from, c));
      for (size_t i = c.size(); i >= kProgramUnit; i -= kProgramUnit) {
        if (!AllErased(c.subspan(i - kProgramUnit, kProgramUnit))) {
          end = from + static_cast<uint32_t>(i);
          found = true;
          break;
        }
      }
      if (!found) end = from;
    }
  }
  uint32_t offset = kBlockHeaderSize;
  uint8_t buf[kRecordHeaderSize + core::kMaxRecordSize + kValueCrcSize];
  while (offset + kRecordHeaderSize <= end) {
    uint8_t* h = buf;
    MORTISE_TRY(flash_.Read(base + offset, std::span<uint8_t>(h, kRecordHeaderSize)));
    const uint8_t type = h[0];
    const uint16_t length = GetLe16(h + 2);
    const bool known = type == kData || type == kTombstone || type == kCommitRecord || type == kLowWater ||
                       type == kCopy || type == kCopyTombstone || type == kAbortMarker;
    const size_t size = known ? RecordSize(type, length) : 0;
    if (!known || (HasValue(type) && length > core::kMaxRecordSize) || offset + size > block_size_ ||
        GetLe32(h + 12) != HeaderCrc(seq_[block], offset, h)) {
      if (apply) report_.bytes_skipped += kProgramUnit;
      offset += kProgramUnit;
      continue;
    }
    const uint32_t key = GetLe32(h + 4);
    const uint32_t txn = GetLe32(h + 8);
    const uint32_t location = base + offset;
    if (type == kLowWater) {
      if (key > *low_water) *low_water = key;
      offset += static_cast<uint32_t>(size);
      continue;
    }
    if (!apply) {
      offset += static_cast<uint32_t>(size);
      continue;
    }
    if (txn >= next_txn_) next_txn_ = txn + 1;
    if (type == kAbortMarker) {
      Resolve(key);
      if (pending_active_ && pending_txn_ == key) {
        pending_active_ = false;  // declared at an earlier mount
        pending_count_ = 0;
      }
      offset += static_cast<uint32_t>(size);
      continue;
    }
    if (type == kCopy || type == kCopyTombstone) {
      bool value_ok = true;
      if (type == kCopy) {
        const size_t body = AlignUp(length, kProgramUnit) + kValueCrcSize;
        MORTISE_TRY(flash_.Read(location + kRecordHeaderSize, std::span<uint8_t>(buf + kRecordHeaderSize, body)));
        value_ok = GetLe32(buf + kRecordHeaderSize + AlignUp(length, kProgramUnit)) ==
                   Crc32(std::span<const uint8_t>(buf + kRecordHeaderSize, length));
      }
      if (value_ok && type == kCopy && length == 8) NoteCounter(key, buf + kRecordHeaderSize);
      if (value_ok) {
        const Status s = ApplyRecord(key, type == kCopy ? kData : kTombstone, location, true);
        if (s.code() == StatusCode::kResourceExhausted) {
          index_overflow_ = true;  // keep scanning: the head must still be found
        } else if (!s.ok()) {
          return s;
        }
      } else {
        // A torn copy (its original is still live) or a damaged one.
        report_.bytes_skipped += static_cast<uint32_t>(size);
      }
    } else if (type == kData || type == kTombstone) {
      bool value_ok = true;
      if (type == kData) {
        const size_t body = AlignUp(length, kProgramUnit) + kValueCrcSize;
        MORTISE_TRY(flash_.Read(location + kRecordHeaderSize, std::span<uint8_t>(buf + kRecordHeaderSize, body)));
        value_ok = GetLe32(buf + kRecordHeaderSize + AlignUp(length, kProgramUnit)) ==
                   Crc32(std::span<const uint8_t>(buf + kRecordHeaderSize, length));
      }
      if (type == kData && value_ok && length == 8) NoteCounter(key, buf + kRecordHeaderSize);
      if (!pending_active_ || pending_txn_ != txn) {
        if (pending_active_) {
          ++report_.transactions_discarded;
          NoteUnresolved(pending_txn_);
        }
        pending_active_ = true;
        pending_txn_ = txn;
        pending_count_ = 0;
      }
      if (pending_count_ < kMaxTransactionRecords) {
        pending_[pending_count_++] = Pending{location, key, type, h[1], value_ok};
      } else {
        ++report_.records_dropped;  // cannot happen with this writer
      }
    } else {  // commit
      const uint32_t expected = length;
      uint32_t found = 0;
      bool starts_at_block = offset == kBlockHeaderSize;
      if (pending_active_ && pending_txn_ == txn) {
        found = static_cast<uint32_t>(pending_count_);
        starts_at_block = (pending_[0].location % block_size_) == kBlockHeaderSize && pending_[0].index_in_txn != 0;
        Status overall = Status::Ok();
        for (size_t i = 0; i < pending_count_; ++i) {
          const Pending& p = pending_[i];
          if (!p.value_ok) ++report_.corrupt_values;
          const Status s = ApplyRecord(p.key, p.type, p.location, p.value_ok);
          if (s.code() == StatusCode::kResourceExhausted) {
            index_overflow_ = true;  // keep scanning: the head must still be found
          } else if (!s.ok()) {
            overall = s;
          }
        }
        pending_active_ = false;
        pending_count_ = 0;
        if (!overall.ok()) return overall;
      }
      // Records missing from a committed transaction were damaged, unless
      // they were the head of a transaction that started in a block since
      // compacted (its live records were copied before that erase).
      if (found < expected && !starts_at_block) {
        report_.records_dropped += expected - found;
        NoteUnresolved(txn);
      }
    }
    offset += static_cast<uint32_t>(size);
  }
  if (apply) {
    report_.bytes_skipped += (end > offset ? end - offset : 0);
    // A torn record whose header made it to flash claims bytes past `end`;
    // appending inside that claim would hide the new records from the next
    // scan, so the head continues after it.
    if (block == head_block_) head_offset_ = static_cast<uint32_t>(AlignUp(end > offset ? end : offset, kProgramUnit));
  }
  return Status::Ok();
}

Status RecordStore::ApplyRecord(uint32_t key, uint8_t type, uint32_t location, bool value_ok) {
  if (type == kTombstone) {
    IndexRemove(key);
    return Status::Ok();
  }
  return IndexPut(key, location | (value_ok ? 0 : kCorruptFlag));
}

size_t RecordStore::LowerBound(uint32_t key) const {
  size_t lo = 0, hi = count_;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (index_[mid].key < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

int RecordStore::Find(uint32_t key) const {
  const size_t lo = LowerBound(key);
  return (lo < count_ && index_[lo].key == key) ? static_cast<int>(lo) : -1;
}

Status RecordStore::IndexPut(uint32_t key, uint32_t location) {
  const size_t lo = LowerBound(key);
  if (lo < count_ && index_[lo].key == key) {
    index_[lo].location = location;
    return Status::Ok();
  }
  if (count_ == index_.size()) return StatusCode::kResourceExhausted;
  for (size_t i = count_; i > lo; --i) index_[i] = index_[i - 1];
  index_[lo] = RecordIndexEntry{key, location};
  ++count_;
  return Status::Ok();
}

void RecordStore::IndexRemove(uint32_t key) {
  const int at = Find(key);
  if (at < 0) return;
  for (size_t i = static_cast<size_t>(at); i + 1 < count_; ++i) index_[i] = index_[i + 1];
  --count_;
}

size_t RecordStore::FreeBlockCount() const {
  size_t n = 0;
  for (size_t b = 0; b < block_count_; ++b) n += state_[b] != BlockState::kUsed;
  return n;
}

size_t RecordStore::FreeBytes() const {
  const size_t blocks = FreeBlockCount();
  const size_t spare = blocks > kReserveBlocks ? (blocks - kReserveBlocks) * (block_size_ - kBlockHeaderSize) : 0;
  return spare + (head_offset_ < block_size_ ? block_size_ - head_offset_ : 0);
}

bool RecordStore::Fits(const uint16_t* sizes, size_t n, size_t reserve_blocks, size_t reserve_bytes) const {
  size_t offset = head_offset_;
  size_t blocks = 0;
  for (size_t i = 0; i < n; ++i) {
    if (offset + sizes[i] > block_size_) {
      ++blocks;
      offset = kBlockHeaderSize;
    }
    offset += sizes[i];
  }
  if (blocks + reserve_blocks > FreeBlockCount()) return false;
  if (reserve_bytes == 0) return true;
  // Bytes left after the write, outside the reserved blocks.
  const size_t spare_blocks = FreeBlockCount() - blocks - reserve_blocks;
  const size_t left = (offset < block_size_ ? block_size_ - offset : 0) + spare_blocks * (block_size_ - kBlockHeaderSize);
  return left >= reserve_bytes;
}

Status RecordStore::EnsureSpace(const Op* ops, size_t op_count) {
  uint16_t sizes[kMaxTransactionRecords + 1];
  for (size_t i = 0; i < op_count; ++i) sizes[i] = static_cast<uint16_t>(RecordSize(ops[i].type, ops[i].length));
  sizes[op_count] = kRecordHeaderSize;
  // Counter writes and erasures may use the byte reserve; new data may not.
  size_t reserve_bytes = 0;
  for (size_t i = 0; i < op_count; ++i) {
    if (ops[i].type == kData && core::RecordKind(ops[i].key) != kCounterKind &&
        core::RecordKind(ops[i].key) != kStoreStateKind) {
      reserve_bytes = block_size_ / 4 < kCounterReserveBytes ? block_size_ / 4 : kCounterReserveBytes;
    }
  }
  // One whole block stays free for compaction, so a full store can always
  // make room by copying its oldest block's live records.
  for (size_t attempt = 0; attempt <= block_count_; ++attempt) {
    if (Fits(sizes, op_count + 1, kReserveBlocks, reserve_bytes)) return Status::Ok();
    bool progressed = false;
    MORTISE_TRY(CompactOldest(&progressed));
    if (!progressed) break;
  }
  return StatusCode::kResourceExhausted;
}

Status RecordStore::CompactOldest(bool* progressed) {
  *progressed = false;
  uint32_t oldest = 0;
  bool found = false;
  size_t used = 0;
  for (uint32_t b = 0; b < block_count_; ++b) {
    if (state_[b] != BlockState::kUsed) continue;
    ++used;
    if (!found || seq_[b] < seq_[oldest]) {
      oldest = b;
      found = true;
    }
  }
  if (!found || used < 2 || oldest == head_block_) return Status::Ok();

  // Room for the copies and the low-water record, allowed to use the
  // reserved blocks.
  {
    size_t offset = head_offset_, blocks = 0;
    auto place = [&](size_t size) {
      if (offset + size > block_size_) {
        ++blocks;
        offset = kBlockHeaderSize;
      }
      offset += size;
    };
    for (size_t i = 0; i < count_; ++i) {
      if (BlockOf(index_[i].location) != oldest) continue;
      uint8_t h[kRecordHeaderSize];
      MORTISE_TRY(flash_.Read(index_[i].location & ~kCorruptFlag, h));
      const bool corrupt = (index_[i].location & kCorruptFlag) != 0 || GetLe16(h + 2) > core::kMaxRecordSize;
      place(corrupt ? kRecordHeaderSize : RecordSize(kCopy, GetLe16(h + 2)));
    }
    place(kRecordHeaderSize);  // low-water
    if (blocks > FreeBlockCount()) return Status::Ok();
  }

  uint8_t value[core::kMaxRecordSize];
  size_t i = 0;
  while (i < count_) {
    if (BlockOf(index_[i].location) != oldest) {
      ++i;
      continue;
    }
    const uint32_t key = index_[i].key;
    size_t length = 0;
    const Status s = ReadValue(index_[i].location, value, &length);
    uint32_t location = 0;
    if (s.code() == StatusCode::kDataLoss && core::RecordKind(key) == kCounterKind) {
      // A counter is never erased (it would read 0): recovered upward.
      uint8_t v[8];
      PutLe64(v, RecoveredCounterValue(key, index_[i].location));
      MORTISE_TRY(AppendRecord(kCopy, key, v, 0, 0, &location));
      ++report_.counters_recovered;
      index_[i].location = location;
      ++i;
      continue;
    }
    if (s.code() == StatusCode::kDataLoss) {
      // The value is gone; a tombstone makes that final instead of letting
      // an older version reappear.
      MORTISE_TRY(AppendRecord(kCopyTombstone, key, {}, 0, 0, &location));
      IndexRemove(key);
      continue;  // the entry at i is now the next one
    }
    MORTISE_TRY(s);
    MORTISE_TRY(AppendRecord(kCopy, key, std::span<const uint8_t>(value, length), 0, 0, &location));
    index_[i].location = location;
    ++i;
  }
  uint32_t unused;
  MORTISE_TRY(AppendRecord(kLowWater, seq_[oldest] + 1, {}, 0, 0, &unused));
  if (Status s = flash_.Erase(oldest); !s.ok()) {
    broken_ = true;
    return s;
  }
  state_[oldest] = BlockState::kFree;
  *progressed = true;
  return Status::Ok();
}

Status RecordStore::OpenNewBlock() {
  uint32_t chosen = 0;
  bool found = false;
  // Round-robin from the head spreads erases evenly over the partition.
  for (size_t i = 1; i <= block_count_ && !found; ++i) {
    const uint32_t b = static_cast<uint32_t>((head_block_ + i) % block_count_);
    if (state_[b] != BlockState::kUsed) {
      chosen = b;
      found = true;
    }
  }
  if (!found) return StatusCode::kResourceExhausted;
  const uint32_t base = chosen * static_cast<uint32_t>(block_size_);
  bool blank = state_[chosen] == BlockState::kFree;
  if (blank) {
    uint8_t chunk[64];
    for (size_t off = 0; off < block_size_ && blank; off += sizeof(chunk)) {
      if (Status s = flash_.Read(base + static_cast<uint32_t>(off), chunk); !s.ok()) {
        broken_ = true;
        return s;
      }
      blank = AllErased(chunk);
    }
  }
  if (!blank) {
    if (Status s = flash_.Erase(chosen); !s.ok()) {
      broken_ = true;
      return s;
    }
    state_[chosen] = BlockState::kFree;
  }
  uint8_t h[kBlockHeaderSize];
  PutLe32(h, kBlockMagic);
  PutLe32(h + 4, next_block_seq_);
  PutLe32(h + 8, 0xFFFFFFFF);
  PutLe32(h + 12, Crc32(std::span<const uint8_t>(h, 12)));
  if (Status s = flash_.Program(base, h); !s.ok()) {
    broken_ = true;
    state_[chosen] = BlockState::kDirty;
    return s;
  }
  seq_[chosen] = next_block_seq_++;
  state_[chosen] = BlockState::kUsed;
  head_block_ = chosen;
  head_offset_ = kBlockHeaderSize;
  return Status::Ok();
}

Status RecordStore::AppendRecord(uint8_t type, uint32_t key, std::span<const uint8_t> value, uint32_t txn,
                                 uint8_t index_in_txn, uint32_t* location) {
  const size_t size = RecordSize(type, value.size());
  if (head_offset_ + size > block_size_ || state_[head_block_] != BlockState::kUsed) MORTISE_TRY(OpenNewBlock());
  uint8_t buf[kRecordHeaderSize + core::kMaxRecordSize + kValueCrcSize];
  buf[0] = type;
  buf[1] = index_in_txn;
  // Commit records carry their transaction's record count in the length field.
  PutLe16(buf + 2, static_cast<uint16_t>(type == kCommitRecord ? index_in_txn : value.size()));
  PutLe32(buf + 4, key);
  PutLe32(buf + 8, txn);
  PutLe32(buf + 12, HeaderCrc(seq_[head_block_], head_offset_, buf));
  if (HasValue(type)) {
    const size_t padded = AlignUp(value.size(), kProgramUnit);
    if (!value.empty()) std::memcpy(buf + kRecordHeaderSize, value.data(), value.size());
    for (size_t i = value.size(); i < padded; ++i) buf[kRecordHeaderSize + i] = 0xFF;
    PutLe32(buf + kRecordHeaderSize + padded, Crc32(value));
  }
  const uint32_t address = head_block_ * static_cast<uint32_t>(block_size_) + head_offset_;
  if (Status s = flash_.Program(address, std::span<const uint8_t>(buf, size)); !s.ok()) {
    broken_ = true;
    return s;
  }
  head_offset_ += static_cast<uint32_t>(size);
  *location = address;
  return Status::Ok();
}

Status RecordStore::ReadValue(uint32_t location, std::span<uint8_t> out, size_t* length) {
  if (location & kCorruptFlag) return StatusCode::kDataLoss;
  uint8_t h[kRecordHeaderSize];
  MORTISE_TRY(flash_.Read(location, h));
  const uint16_t len = GetLe16(h + 2);
  if (!HasValue(h[0]) || len > core::kMaxRecordSize) return StatusCode::kDataLoss;
  *length = len;
  if (len > out.size()) return StatusCode::kResourceExhausted;
  uint8_t crc[4];
  MORTISE_TRY(flash_.Read(location + kRecordHeaderSize, out.first(len)));
  MORTISE_TRY(flash_.Read(location + kRecordHeaderSize + static_cast<uint32_t>(AlignUp(len, kProgramUnit)), crc));
  // Checked on every read: a bit that flipped after mount is never returned.
  if (GetLe32(crc) != Crc32(out.first(len))) return StatusCode::kDataLoss;
  return Status::Ok();
}

const RecordStore::Op* RecordStore::FindOp(uint32_t key) const {
  for (size_t i = 0; i < op_count_; ++i)
    if (ops_[i].key == key) return &ops_[i];
  return nullptr;
}

Result<size_t> RecordStore::Read(uint32_t key, std::span<uint8_t> out) {
  MORTISE_TRY(CheckUsable());
  if (in_txn_) {
    if (const Op* op = FindOp(key)) {
      if (op->type == kTombstone) return StatusCode::kNotFound;
      if (op->length > out.size()) return StatusCode::kResourceExhausted;
      if (op->length) std::memcpy(out.data(), txn_data_ + op->data_offset, op->length);
      return static_cast<size_t>(op->length);
    }
  }
  const int at = Find(key);
  if (at < 0) return StatusCode::kNotFound;
  size_t length = 0;
  MORTISE_TRY(ReadValue(index_[at].location, out, &length));
  return length;
}

Status RecordStore::ForEach(uint32_t first, uint32_t last, core::RecordVisitor& visitor) {
  MORTISE_TRY(CheckUsable());
  // The transaction's own changes in range, sorted by key, merged with the index.
  const Op* ops[kMaxTransactionRecords];
  size_t n_ops = 0;
  if (in_txn_) {
    for (size_t i = 0; i < op_count_; ++i) {
      if (ops_[i].key < first || ops_[i].key > last) continue;
      size_t j = n_ops++;
      while (j > 0 && ops[j - 1]->key > ops_[i].key) {
        ops[j] = ops[j - 1];
        --j;
      }
      ops[j] = &ops_[i];
    }
  }
  size_t i = 0;
  {
    size_t lo = 0, hi = count_;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (index_[mid].key < first) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    i = lo;
  }
  size_t j = 0;
  Status overall = Status::Ok();
  uint8_t value[core::kMaxRecordSize];
  for (;;) {
    const bool has_index = i < count_ && index_[i].key <= last;
    const bool has_op = j < n_ops;
    if (!has_index && !has_op) break;
    if (has_op && (!has_index || ops[j]->key <= index_[i].key)) {
      const Op* op = ops[j++];
      if (has_index && index_[i].key == op->key) ++i;
      if (op->type == kData) visitor.Visit(op->key, std::span<const uint8_t>(txn_data_ + op->data_offset, op->length));
      continue;
    }
    const RecordIndexEntry e = index_[i++];
    if (core::RecordKind(e.key) == kCounterKind || core::RecordKind(e.key) == kStoreStateKind) continue;
    size_t length = 0;
    const Status s = ReadValue(e.location, value, &length);
    if (!s.ok()) {
      overall = s;  // visit the rest; report the damage
      continue;
    }
    visitor.Visit(e.key, std::span<const uint8_t>(value, length));
  }
  return overall;
}

Status RecordStore::Begin() {
  MORTISE_TRY(CheckUsable());
  if (in_txn_) return StatusCode::kFailedPrecondition;
  in_txn_ = true;
  op_count_ = 0;
  txn_data_used_ = 0;
  return Status::Ok();
}

Status RecordStore::Write(uint32_t key, std::span<const uint8_t> value) {
  MORTISE_TRY(CheckUsable());
  if (value.size() > core::kMaxRecordSize || core::RecordKind(key) == kCounterKind) {
    return StatusCode::kInvalidArgument;
  }
  if (!in_txn_) {
    const Op op{key, static_cast<uint16_t>(value.size()), kData, 0};
    return CommitOps(&op, 1, value.data());
  }
  Op* existing = const_cast<Op*>(FindOp(key));
  if (!existing && op_count_ == kMaxTransactionRecords) return StatusCode::kResourceExhausted;
  if (txn_data_used_ + value.size() > kTransactionBufferBytes) return StatusCode::kResourceExhausted;
  Op* op = existing ? existing : &ops_[op_count_++];
  *op = Op{key, static_cast<uint16_t>(value.size()), kData, static_cast<uint16_t>(txn_data_used_)};
  if (!value.empty()) std::memcpy(txn_data_ + txn_data_used_, value.data(), value.size());
  txn_data_used_ += value.size();
  return Status::Ok();
}

Status RecordStore::Erase(uint32_t key) {
  MORTISE_TRY(CheckUsable());
  if (core::RecordKind(key) == kCounterKind) return StatusCode::kInvalidArgument;
  if (!in_txn_) {
    if (Find(key) < 0) return Status::Ok();  // nothing to erase, nothing to write
    const Op op{key, 0, kTombstone, 0};
    return CommitOps(&op, 1, nullptr);
  }
  Op* existing = const_cast<Op*>(FindOp(key));
  if (!existing && op_count_ == kMaxTransactionRecords) return StatusCode::kResourceExhausted;
  Op* op = existing ? existing : &ops_[op_count_++];
  *op = Op{key, 0, kTombstone, 0};
  return Status::Ok();
}

Status RecordStore::Commit() {
  MORTISE_TRY(CheckUsable());
  if (!in_txn_) return StatusCode::kFailedPrecondition;
  in_txn_ = false;
  const Status s = op_count_ ? CommitOps(ops_, op_count_, txn_data_) : Status::Ok();
  op_count_ = 0;
  txn_data_used_ = 0;
  return s;
}

void RecordStore::Rollback() {
  in_txn_ = false;
  op_count_ = 0;
  txn_data_used_ = 0;
}

Status RecordStore::CommitOps(const Op* ops, size_t op_count, const uint8_t* data) {
  if (read_only_) return StatusCode::kResourceExhausted;
  // Refuse before writing anything if the index could not take the result.
  size_t new_keys = 0;
  for (size_t i = 0; i < op_count; ++i) new_keys += ops[i].type == kData && Find(ops[i].key) < 0;
  if (count_ + new_keys > index_.size()) return StatusCode::kResourceExhausted;
  MORTISE_TRY(EnsureSpace(ops, op_count));
  const uint32_t txn = next_txn_++;
  uint32_t locations[kMaxTransactionRecords];
  for (size_t i = 0; i < op_count; ++i) {
    const std::span<const uint8_t> value =
        ops[i].type == kData ? std::span<const uint8_t>(data + ops[i].data_offset, ops[i].length)
                             : std::span<const uint8_t>();
    MORTISE_TRY(AppendRecord(ops[i].type, ops[i].key, value, txn, static_cast<uint8_t>(i), &locations[i]));
  }
  uint32_t unused;
  MORTISE_TRY(AppendRecord(kCommitRecord, 0xFFFFFFFF, {}, txn, static_cast<uint8_t>(op_count), &unused));
  for (size_t i = 0; i < op_count; ++i) MORTISE_TRY(ApplyRecord(ops[i].key, ops[i].type, locations[i], true));
  return Status::Ok();
}

Result<uint64_t> RecordStore::ReadCounter(uint16_t id) {
  MORTISE_TRY(CheckUsable());
  const int at = Find(CounterKey(id));
  if (at < 0) return uint64_t{0};
  uint8_t v[8];
  size_t length = 0;
  const Status s = ReadValue(index_[at].location, v, &length);
  if (s.ok() && length == 8) return GetLe64(v);
  if (!s.ok() && s.code() != StatusCode::kDataLoss && s.code() != StatusCode::kResourceExhausted) return s;
  // Damaged since mount: recover upward now rather than fail forever.
  const uint64_t value = RecoveredCounterValue(CounterKey(id), index_[at].location);
  PutLe64(v, value);
  const Op op{CounterKey(id), 8, kData, 0};
  MORTISE_TRY(CommitOps(&op, 1, v));
  NoteCounter(CounterKey(id), v);
  ++report_.counters_recovered;
  return value;
}

void RecordStore::NoteCounter(uint32_t key, const uint8_t* value) {
  if (core::RecordKind(key) != kCounterKind) return;
  const uint64_t v = GetLe64(value);
  for (size_t i = 0; i < seen_count_; ++i) {
    if (seen_[i].key == key) {
      if (v > seen_[i].max) seen_[i].max = v;
      return;
    }
  }
  if (seen_count_ < kMaxSeenCounters) seen_[seen_count_++] = SeenCounter{key, v};
}

uint64_t RecordStore::CounterSeen(uint32_t key) const {
  for (size_t i = 0; i < seen_count_; ++i)
    if (seen_[i].key == key) return seen_[i].max;
  return 0;
}

// The newest readable value (seen at mount) or the damaged value's own bytes
// when plausible, whichever is higher, plus the margin.
uint64_t RecordStore::RecoveredCounterValue(uint32_t key, uint32_t location) {
  uint64_t base = CounterSeen(key);
  uint8_t h[kRecordHeaderSize + 8];
  if (flash_.Read(location & ~kCorruptFlag, h).ok() && GetLe16(h + 2) == 8) {
    const uint64_t raw = GetLe64(h + kRecordHeaderSize);
    // A flip that set a high bit would make it absurd: not taken.
    if (raw > base && raw < (uint64_t{1} << 48)) base = raw;
  }
  return base + kCounterRecoveryMargin;
}

void RecordStore::NoteUnresolved(uint32_t txn) {
  for (size_t i = 0; i < unresolved_count_; ++i)
    if (unresolved_[i] == txn) return;
  if (unresolved_count_ < kMaxUnresolved) {
    unresolved_[unresolved_count_++] = txn;
  } else {
    unresolved_overflow_ = true;
  }
}

void RecordStore::Resolve(uint32_t txn) {
  for (size_t i = 0; i < unresolved_count_; ++i) {
    if (unresolved_[i] == txn) {
      unresolved_[i] = unresolved_[--unresolved_count_];
      return;
    }
  }
}

Status RecordStore::WriteAbortMarkers() {
  uint32_t txns[kMaxUnresolved + 1];
  size_t n = 0;
  for (size_t i = 0; i < unresolved_count_; ++i) txns[n++] = unresolved_[i];
  if (tail_pending_) txns[n++] = tail_txn_;
  for (size_t i = 0; i < n; ++i) {
    MORTISE_TRY(EnsureSpace(nullptr, 0));
    uint32_t unused;
    MORTISE_TRY(AppendRecord(kAbortMarker, txns[i], {}, 0, 0, &unused));
  }
  unresolved_count_ = 0;
  tail_pending_ = false;
  return Status::Ok();
}

Status RecordStore::RecoverCounters(bool damage) {
  // Counters to write, collected first: writing changes the index.
  uint32_t keys[kMaxSeenCounters];
  uint64_t values[kMaxSeenCounters];
  bool recovered[kMaxSeenCounters];
  size_t n = 0;
  const int first = [&] {
    size_t lo = 0, hi = count_;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (index_[mid].key < CounterKey(0)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return static_cast<int>(lo);
  }();
  for (size_t i = static_cast<size_t>(first); i < count_ && n < kMaxSeenCounters; ++i) {
    const uint32_t key = index_[i].key;
    uint8_t v[8];
    size_t length = 0;
    const Status s = ReadValue(index_[i].location, v, &length);
    if (!s.ok() || length != 8) {
      keys[n] = key;
      values[n] = RecoveredCounterValue(key, index_[i].location);
      recovered[n++] = true;
    } else if (damage) {
      // A committed value of this counter may be among the damaged records.
      const uint64_t base = CounterSeen(key) > GetLe64(v) ? CounterSeen(key) : GetLe64(v);
      keys[n] = key;
      values[n] = base + kCounterRecoveryMargin;
      recovered[n++] = true;
    } else if (CounterSeen(key) > GetLe64(v)) {
      // A newer value reached flash but its commit did not (or was damaged):
      // never read less than what flash shows.
      keys[n] = key;
      values[n] = CounterSeen(key);
      recovered[n++] = false;
    }
  }
  // Counters with readable values on flash but none committed.
  for (size_t j = 0; j < seen_count_ && n < kMaxSeenCounters; ++j) {
    if (Find(seen_[j].key) < 0 && (seen_[j].max > 0 || damage)) {
      keys[n] = seen_[j].key;
      values[n] = seen_[j].max + (damage ? kCounterRecoveryMargin : 0);
      recovered[n++] = damage;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    uint8_t v[8];
    PutLe64(v, values[i]);
    const Op op{keys[i], 8, kData, 0};
    MORTISE_TRY(CommitOps(&op, 1, v));
    NoteCounter(keys[i], v);
    if (recovered[i]) {
      ++report_.counters_recovered;
    } else {
      ++report_.counters_raised;
    }
  }
  return Status::Ok();
}

Result<uint64_t> RecordStore::RaiseCounter(uint16_t id, uint64_t value) {
  MORTISE_ASSIGN_OR_RETURN(const uint64_t current, ReadCounter(id));
  if (value <= current) return current;
  uint8_t v[8];
  PutLe64(v, value);
  // Committed on its own even inside a transaction: persist before use.
  const Op op{CounterKey(id), 8, kData, 0};
  MORTISE_TRY(CommitOps(&op, 1, v));
  NoteCounter(CounterKey(id), v);  // the newest known-good value, for recovery
  return value;
}

Result<uint64_t> RecordStore::IncrementCounter(uint16_t id, uint64_t by) {
  MORTISE_ASSIGN_OR_RETURN(const uint64_t current, ReadCounter(id));
  if (current + by < current) return StatusCode::kOutOfRange;
  return RaiseCounter(id, current + by);
}

}  // namespace mortise::store
