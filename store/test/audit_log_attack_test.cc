// A02 (attack catalogue): whoever relays the log drops, reorders, edits or
// injects records; the verifier flags every one.
#include "mortise/store/audit_log.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "../src/crc.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/hash.h"
#include "test_rig.h"

namespace mortise::store {
namespace {

using testing::CollectItems;
using testing::Rig;
using testing::TypicalEvent;
using testing::VerifyItems;

constexpr LogChallenge kChallenge = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

std::vector<LogItem> ExportAll(AuditLog& log, uint64_t from = 0, const LogChallenge& ch = kChallenge) {
  CollectItems c;
  EXPECT_TRUE(log.Export(from, ch, c).ok());
  return c.items;
}

// ---- A02: whoever relays the log drops, reorders, edits or injects records.

class A02LogTampering : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rig_.MountAll().ok());
    for (uint32_t i = 0; i < 500; ++i) ASSERT_TRUE(rig_.log->Append(TypicalEvent(i)).ok());
    items_ = ExportAll(*rig_.log);
    ASSERT_TRUE(Verify(items_).ok());
  }
  LogFindings Verify(const std::vector<LogItem>& items, const LogChallenge& ch = kChallenge) {
    return VerifyItems(rig_.auth, items, ch, 1);
  }
  std::vector<size_t> RecordPositions() const {
    std::vector<size_t> p;
    for (size_t i = 0; i < items_.size(); ++i)
      if (items_[i].type == LogItemType::kRecord) p.push_back(i);
    return p;
  }
  Rig rig_{4, 4};
  std::vector<LogItem> items_;
};

TEST_F(A02LogTampering, A02_EveryDroppedRecordIsFlagged) {
  for (size_t pos : RecordPositions()) {
    auto t = items_;
    t.erase(t.begin() + static_cast<ptrdiff_t>(pos));
    EXPECT_FALSE(Verify(t).ok()) << pos;
  }
}

TEST_F(A02LogTampering, A02_DroppingTheTailAndHeadIsFlagged) {
  auto t = items_;
  t.resize(t.size() - 30);
  EXPECT_FALSE(Verify(t).ok());
}

TEST_F(A02LogTampering, A02_DroppingACheckpointOrAnchorIsFlagged) {
  for (size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].type == LogItemType::kRecord) continue;
    auto t = items_;
    t.erase(t.begin() + static_cast<ptrdiff_t>(i));
    // Dropping a checkpoint loses no record; it must not make tampering pass
    // either: the export still verifies only because nothing else changed.
    const LogFindings f = Verify(t);
    if (items_[i].type == LogItemType::kCheckpoint) {
      EXPECT_TRUE(f.ok());
    } else {
      EXPECT_FALSE(f.ok()) << i;
    }
  }
}

TEST_F(A02LogTampering, A02_EveryAdjacentSwapIsFlagged) {
  const auto pos = RecordPositions();
  for (size_t k = 0; k + 1 < pos.size(); ++k) {
    auto t = items_;
    std::swap(t[pos[k]], t[pos[k + 1]]);
    EXPECT_FALSE(Verify(t).ok()) << k;
  }
}

TEST_F(A02LogTampering, A02_SwappingContentsButKeepingNumbersIsFlagged) {
  const auto pos = RecordPositions();
  auto t = items_;
  std::swap(t[pos[10]].bytes, t[pos[11]].bytes);
  std::swap(t[pos[10]].length, t[pos[11]].length);
  EXPECT_FALSE(Verify(t).ok());
}

TEST_F(A02LogTampering, A02_EveryEditedByteIsFlagged) {
  const auto pos = RecordPositions();
  for (size_t k = 0; k < pos.size(); k += 7) {
    for (size_t byte = 0; byte < items_[pos[k]].length; byte += 3) {
      auto t = items_;
      t[pos[k]].bytes[byte] ^= 0x01;
      EXPECT_FALSE(Verify(t).ok()) << k << ":" << byte;
    }
  }
}

LogFindings VerifyOverChannel(const std::vector<LogItem>& items, uint64_t expected_first = 1) {
  LogVerifier v(kChallenge, expected_first);
  for (const LogItem& item : items) v.Feed(item);
  return v.Finish();
}

TEST_F(A02LogTampering, A02_ChannelModeStillFlagsGapsReordersAndAMissingHead) {
  // Over a session the channel authenticates each page; the reader without
  // the log key still checks that nothing is missing or out of order.
  EXPECT_TRUE(VerifyOverChannel(items_).ok());
  const auto pos = RecordPositions();
  auto dropped = items_;
  dropped.erase(dropped.begin() + static_cast<ptrdiff_t>(pos[200]));
  EXPECT_FALSE(VerifyOverChannel(dropped).ok());
  auto swapped = items_;
  std::swap(swapped[pos[5]], swapped[pos[6]]);
  EXPECT_FALSE(VerifyOverChannel(swapped).ok());
  auto headless = items_;
  headless.pop_back();
  EXPECT_FALSE(VerifyOverChannel(headless).ok());
  // Pages: exports from later points, each starting with an anchor that
  // must continue the chain of what came before.
  std::vector<LogItem> paged;
  for (const LogItem& item : items_) {
    if (item.type == LogItemType::kHead) break;
    paged.push_back(item);
    if (item.type == LogItemType::kRecord && item.seq == 250) break;
  }
  const auto second = ExportAll(*rig_.log, 251);
  paged.insert(paged.end(), second.begin(), second.end());
  EXPECT_TRUE(VerifyOverChannel(paged).ok());
  auto spliced = paged;
  for (LogItem& item : spliced) {
    if (item.type == LogItemType::kAnchor && item.seq == 250) item.chain[0] ^= 1;
  }
  EXPECT_FALSE(VerifyOverChannel(spliced).ok());
}

TEST_F(A02LogTampering, A02_EditWithAValidCrcIsFlagged) {
  // The relay re-encodes a record (user 7 becomes user 1) with a correct CRC.
  const auto pos = RecordPositions();
  auto t = items_;
  LogItem& it = t[pos[100]];
  Result<LogRecord> r = DecodeLogRecord(it.seq, std::span<const uint8_t>(it.bytes.data(), it.length));
  ASSERT_TRUE(r.ok());
  core::LockEvent e = r->event;
  e.user_index = 1;
  it.length = static_cast<uint8_t>(EncodeLogEvent(e, it.seq, it.bytes));
  EXPECT_FALSE(Verify(t).ok());
}

TEST_F(A02LogTampering, A02_InjectedRecordsAreFlagged) {
  const auto pos = RecordPositions();
  for (size_t k : {size_t{0}, size_t{57}, size_t{250}, pos.size() - 1}) {
    auto t = items_;
    LogItem fake = items_[pos[k]];
    fake.length = static_cast<uint8_t>(EncodeLogEvent(TypicalEvent(9999), fake.seq + 1, fake.bytes));
    fake.seq += 1;
    t.insert(t.begin() + static_cast<ptrdiff_t>(pos[k]) + 1, fake);
    EXPECT_FALSE(Verify(t).ok()) << k;
    // Renumbering everything after the injection does not help.
    for (size_t i = pos[k] + 2; i < t.size(); ++i) {
      if (t[i].type != LogItemType::kRecord) continue;
      t[i].seq += 1;
      Result<LogRecord> r = DecodeLogRecord(t[i].seq - 1, std::span<const uint8_t>(t[i].bytes.data(), t[i].length));
      if (r.ok()) t[i].length = static_cast<uint8_t>(EncodeLogEvent(r->event, t[i].seq, t[i].bytes));
    }
    EXPECT_FALSE(Verify(t).ok()) << k;
  }
}

TEST_F(A02LogTampering, A02_ForgedLossRecordDoesNotExplainADrop) {
  const auto pos = RecordPositions();
  auto t = items_;
  LogItem& it = t[pos[20]];
  it.length = static_cast<uint8_t>(EncodeLogLoss(LossReason::kOverflow, it.seq, 1, it.seq, it.bytes));
  EXPECT_FALSE(Verify(t).ok());
}

TEST_F(A02LogTampering, A02_RecordReplacedByVoidIsFlagged) {
  const auto pos = RecordPositions();
  auto t = items_;
  t[pos[33]].type = LogItemType::kVoid;
  EXPECT_FALSE(Verify(t).ok());
}

TEST_F(A02LogTampering, A02_OldExportReplayedAgainstANewChallengeIsFlagged) {
  LogChallenge other = kChallenge;
  other[0] ^= 0xFF;
  EXPECT_FALSE(Verify(items_, other).ok());
}

TEST_F(A02LogTampering, A02_ForgedAnchorToSkipHistoryIsFlagged) {
  // Start the stream later with an anchor the relay made up.
  const auto pos = RecordPositions();
  std::vector<LogItem> t(items_.begin() + static_cast<ptrdiff_t>(pos[100]), items_.end());
  LogItem anchor;
  anchor.type = LogItemType::kAnchor;
  anchor.seq = t.front().seq - 1;
  t.insert(t.begin(), anchor);
  EXPECT_FALSE(Verify(t).ok());
}

TEST_F(A02LogTampering, A02_RandomMutationsAreAlwaysFlagged) {
  TestPrng prng(2026);
  for (int round = 0; round < 300; ++round) {
    auto t = items_;
    const int mutations = 1 + static_cast<int>(prng.Below(3));
    bool changed = false;
    for (int m = 0; m < mutations; ++m) {
      const size_t i = prng.Below(t.size());
      switch (prng.Below(4)) {
        case 0:
          if (t[i].type != LogItemType::kCheckpoint) {
            t.erase(t.begin() + static_cast<ptrdiff_t>(i));
            changed = true;
          }
          break;
        case 1: {
          const size_t j = prng.Below(t.size());
          if (i != j && t[i].type == LogItemType::kRecord && t[j].type == LogItemType::kRecord) {
            std::swap(t[i], t[j]);
            changed = true;
          }
          break;
        }
        case 2:
          if (t[i].type == LogItemType::kRecord) {
            t[i].bytes[prng.Below(t[i].length)] ^= static_cast<uint8_t>(1 + prng.Below(255));
            changed = true;
          }
          break;
        default:
          if (t[i].type == LogItemType::kRecord) {
            t.insert(t.begin() + static_cast<ptrdiff_t>(i), t[i]);
            changed = true;
          }
          break;
      }
    }
    if (changed) {
      EXPECT_FALSE(Verify(t).ok()) << round;
    }
  }
}


// ---- A02 at rest: someone who can write the log's flash (daemon stopped,
// image edited per docs/storage-format.md, checksums fixed) but cannot read
// the lock's keys. Every edit or removal is declared by the lock at mount,
// flagged by every reader, and no sequence number is issued twice.

// What an attacker computes from the documented format: offsets, CRCs and
// the (unkeyed) chain, never a tag.
// The log's hash chain, unkeyed: anyone can compute it from the records.
LogChain ChainNext(const LogChain& prev, uint64_t seq, const uint8_t* rec, size_t size) {
  crypto::Sha256 sha;
  static constexpr uint8_t kLabel[4] = {'M', 'L', 'c', '1'};
  uint8_t s[8];
  internal::PutLe64(s, seq);
  sha.Update(kLabel);
  sha.Update(prev);
  sha.Update(s);
  sha.Update(std::span<const uint8_t>(rec, size));
  uint8_t d[crypto::kSha256Size];
  sha.Final(d);
  LogChain out;
  std::copy(d, d + out.size(), out.begin());
  return out;
}

// A well-formed loss record anyone can write (no key needed): "lost
// [first, first + count)" at `seq`.
LogItem ForgedLoss(uint64_t seq, uint64_t first, uint32_t count) {
  LogItem loss;
  loss.type = LogItemType::kRecord;
  loss.seq = seq;
  loss.length = static_cast<uint8_t>(EncodeLogLoss(LossReason::kLogLost, first, count, seq, loss.bytes));
  return loss;
}

class A02AtRest : public ::testing::Test {
 protected:
  static constexpr uint32_t kStoreBlocks = 4;
  explicit A02AtRest(uint32_t log_blocks = 4) : log_blocks_(log_blocks), rig_{kStoreBlocks, log_blocks} {}
  static constexpr size_t kBlock = kDefaultBlockSize;
  static constexpr size_t kHeader = 36, kRecord = 20, kSeal = 20;

  void SetUp() override { ASSERT_TRUE(rig_.MountAll().ok()); }
  void Append(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      Result<uint64_t> s = rig_.log->Append(TypicalEvent(i));
      ASSERT_TRUE(s.ok());
      if (*s > issued_) issued_ = *s;
    }
  }
  uint8_t* Block(uint32_t b) { return rig_.memory.data() + (kStoreBlocks + b) * kBlock; }
  // Blocks holding segments, oldest first (by segment number).
  std::vector<uint32_t> Segments() {
    std::vector<std::pair<uint32_t, uint32_t>> v;
    for (uint32_t b = 0; b < log_blocks_; ++b) {
      if (internal::GetLe32(Block(b)) == 0x32474C4D) v.push_back({internal::GetLe32(Block(b) + 4), b});
    }
    std::sort(v.begin(), v.end());
    std::vector<uint32_t> out;
    for (auto& [n, b] : v) out.push_back(b);
    return out;
  }
  static void FixCrc16(uint8_t* r, size_t size) {
    internal::PutLe16(r + size - 2, internal::Crc16(std::span<const uint8_t>(r, size - 2)));
  }
  // Edits the user index of record k of a segment (short events only: the
  // tests' events all are) and fixes its CRC.
  void EditRecord(uint32_t block, size_t k) {
    uint8_t* r = Block(block) + kHeader + k * kRecord;
    ASSERT_EQ(r[0], 0xA1);
    r[7] ^= 0x55;   // inside the user index and time bits
    r[12] ^= 0x0F;
    FixCrc16(r, kRecord);
  }
  // Recomputes the chain over a segment's records (all 20-byte here).
  LogChain ChainOf(uint32_t block) {
    LogChain c;
    std::copy(Block(block) + 16, Block(block) + 32, c.begin());
    uint64_t seq = internal::GetLe64(Block(block) + 8);
    for (size_t off = kHeader; off + kRecord <= kBlock - kSeal && Block(block)[off] != 0xFF; off += kRecord, ++seq) {
      c = ChainNext(c, seq, Block(block) + off, kRecord);
    }
    return c;
  }
  void SetChainIn(uint32_t block, const LogChain& c) {
    std::copy(c.begin(), c.end(), Block(block) + 16);
    internal::PutLe32(Block(block) + 32, internal::Crc32(std::span<const uint8_t>(Block(block), 32)));
  }
  size_t RecordsIn(uint32_t block) {
    size_t k = 0;
    while (kHeader + (k + 1) * kRecord <= kBlock - kSeal && Block(block)[kHeader + k * kRecord] != 0xFF) ++k;
    return k;
  }
  // Erases the newest `n` records of the head segment (all 20-byte here).
  void EraseNewestRecords(size_t n) {
    const uint32_t head = Segments().back();
    const size_t k = RecordsIn(head);
    std::fill(Block(head) + kHeader + (k - n) * kRecord, Block(head) + kHeader + k * kRecord, 0xFF);
  }
  // Both readers: one holding the log key, one reading over a session.
  void ExpectFlagged(uint64_t from = 1) {
    CollectItems c;
    ASSERT_TRUE(rig_.log->Export(from, kChallenge, c).ok());
    const LogFindings keyed = VerifyItems(rig_.auth, c.items, kChallenge, from);
    EXPECT_FALSE(keyed.ok());
    EXPECT_GT(keyed.tampered, 0u);
    LogVerifier channel(kChallenge, from);
    for (const auto& i : c.items) channel.Feed(i);
    const LogFindings f = channel.Finish();
    EXPECT_FALSE(f.ok());
    EXPECT_GT(f.tampered, 0u);
  }
  // The next mount declares tampering, both readers flag it, and numbering
  // stays above everything issued.
  void RebootExpectingDeclaredTampering() {
    ASSERT_TRUE(rig_.Reboot().ok());
    EXPECT_GT(rig_.log->mount_report().tampered, 0u);
    ExpectFlagged();
    ExpectFreshNumbers();
  }
  // The lock never hands out a number twice.
  void ExpectFreshNumbers() {
    Result<uint64_t> s = rig_.log->Append(TypicalEvent(777));
    ASSERT_TRUE(s.ok());
    EXPECT_GT(*s, issued_);
  }
  uint32_t log_blocks_;
  Rig rig_;
  uint64_t issued_ = 0;
};

// Room for more separately tampered segments than one mount report holds.
class A02AtRestMany : public A02AtRest {
 protected:
  A02AtRestMany() : A02AtRest(26) {}
  // The kTampered ranges the log holds.
  std::vector<std::pair<uint64_t, uint64_t>> Declared() {
    CollectItems c;
    EXPECT_TRUE(rig_.log->Export(1, kChallenge, c).ok());
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const auto& item : c.items) {
      if (item.type != LogItemType::kRecord) continue;
      Result<LogRecord> r = DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
      if (r.ok() && r->type == LogRecordType::kLoss && r->reason == LossReason::kTampered) {
        out.push_back({r->first_lost, r->first_lost + r->lost_count - 1});
      }
    }
    return out;
  }
  // Edits record 5 of segment i; returns its sequence number.
  uint64_t Tamper(size_t i) {
    const uint32_t b = Segments()[i];
    EditRecord(b, 5);
    return internal::GetLe64(Block(b) + 8) + 5;
  }
};

TEST_F(A02AtRestMany, A02_MoreTamperedRangesThanAMountReportHoldsAreAllDeclaredOnce) {
  Append(199 * 23);  // 23 segments
  ASSERT_GE(Segments().size(), 23u);
  std::vector<uint64_t> edited;
  // Eight separate ranges (every other segment): declared at the next mount.
  for (size_t i = 6; i <= 20; i += 2) edited.push_back(Tamper(i));
  RebootExpectingDeclaredTampering();
  // Three more: eleven ranges found at this mount, more than a report holds.
  for (size_t i = 0; i <= 4; i += 2) edited.push_back(Tamper(i));
  RebootExpectingDeclaredTampering();
  const auto declared = Declared();
  for (uint64_t seq : edited) {
    bool covered = false;
    for (const auto& [first, last] : declared) covered |= first <= seq && seq <= last;
    EXPECT_TRUE(covered) << seq;
  }
  // More than eight declarations in the log: none is declared again.
  ASSERT_GT(declared.size(), 8u);
  for (int boot = 0; boot < 2; ++boot) {
    ASSERT_TRUE(rig_.Reboot().ok());
    EXPECT_EQ(rig_.log->mount_report().tampered, 0u) << boot;
  }
  EXPECT_EQ(Declared().size(), declared.size());
  ExpectFlagged();
}

TEST_F(A02AtRest, A02_EditInTheUnsealedHeadWithCrcFixedIsDeclared) {
  Append(30);
  const auto segs = Segments();
  ASSERT_EQ(segs.size(), 1u);
  EditRecord(segs.back(), 10);
  RebootExpectingDeclaredTampering();
  // Declared once: a second mount finds the declaration and adds nothing.
  ASSERT_TRUE(rig_.Reboot().ok());
  EXPECT_EQ(rig_.log->mount_report().tampered, 0u);
  ExpectFlagged();
}

TEST_F(A02AtRest, A02_ErasingTheNewestRecordNeverReissuesItsNumberAndIsDeclared) {
  Append(30);
  EraseNewestRecords(1);
  ASSERT_TRUE(rig_.Reboot().ok());
  // Indistinguishable from a power cut between the durable head and the
  // record: declared lost (never silent), and its number is not reused.
  CollectItems c;
  ASSERT_TRUE(rig_.log->Export(1, kChallenge, c).ok());
  const LogFindings f = VerifyItems(rig_.auth, c.items, kChallenge, 1);
  EXPECT_GE(f.explained_gaps, 1u);
  EXPECT_EQ(f.unexplained_gaps, 0u);
  bool declared = false;
  for (const auto& item : c.items) {
    if (item.type != LogItemType::kRecord) continue;
    Result<LogRecord> r = DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
    ASSERT_TRUE(r.ok());
    if (r->type == LogRecordType::kLoss && r->first_lost <= issued_ && issued_ < r->first_lost + r->lost_count) {
      declared = true;
    }
  }
  EXPECT_TRUE(declared);
  ExpectFreshNumbers();
}

TEST_F(A02AtRest, A02_ErasingTheTwoNewestRecordsIsTampering) {
  Append(30);
  EraseNewestRecords(2);
  RebootExpectingDeclaredTampering();
}

TEST_F(A02AtRest, A02_RecordAppendedToTheImageIsTampering) {
  Append(30);
  const uint32_t head = Segments().back();
  const size_t k = RecordsIn(head);
  // A copy of the newest record with the next number's low byte and a
  // valid CRC: a well-formed record the lock never wrote.
  uint8_t* last = Block(head) + kHeader + (k - 1) * kRecord;
  std::copy(last, last + kRecord, last + kRecord);
  last[kRecord + 1] = static_cast<uint8_t>(last[1] + 1);
  FixCrc16(last + kRecord, kRecord);
  RebootExpectingDeclaredTampering();
}

TEST_F(A02AtRest, A02_OlderSegmentRewrittenWithItsSealErasedAndLaterHeadersRecomputedIsDeclared) {
  Append(450);  // three segments of ~200: two sealed, the head open
  auto segs = Segments();
  ASSERT_GE(segs.size(), 3u);
  // Rewrite the oldest segment, erase its seal, and recompute every later
  // header's chain value so the segments join up again.
  EditRecord(segs[0], 5);
  std::fill(Block(segs[0]) + kBlock - kSeal, Block(segs[0]) + kBlock, 0xFF);
  for (size_t i = 1; i < segs.size(); ++i) SetChainIn(segs[i], ChainOf(segs[i - 1]));
  ASSERT_TRUE(rig_.Reboot().ok());
  EXPECT_GT(rig_.log->mount_report().tampered, 0u);
  EXPECT_EQ(rig_.log->mount_report().late_seals, 0u);
  ExpectFlagged();
  ExpectFreshNumbers();
}

TEST_F(A02AtRest, A02_OlderSegmentRewrittenWithItsSealCorruptedIsDeclared) {
  Append(450);
  auto segs = Segments();
  ASSERT_GE(segs.size(), 3u);
  EditRecord(segs[1], 7);
  Block(segs[1])[kBlock - kSeal + 5] ^= 0x01;  // a bad tag, CRC fixed
  FixCrc16(Block(segs[1]) + kBlock - kSeal, kSeal);
  RebootExpectingDeclaredTampering();
}

TEST_F(A02AtRest, A02_MiddleSegmentErasedIsDeclared) {
  Append(650);
  auto segs = Segments();
  ASSERT_GE(segs.size(), 4u);
  std::fill(Block(segs[1]), Block(segs[1]) + kBlock, 0xFF);
  RebootExpectingDeclaredTampering();
}

// A seal erased over content that is intact: reported (a late seal the lock
// writes after verifying that segment's chain against its durable head),
// not called tampering, and reported once.
TEST_F(A02AtRest, A02_ErasedSealOverIntactContentIsReportedOnce) {
  Append(450);
  auto segs = Segments();
  ASSERT_GE(segs.size(), 3u);
  std::fill(Block(segs[0]) + kBlock - kSeal, Block(segs[0]) + kBlock, 0xFF);
  ASSERT_TRUE(rig_.Reboot().ok());
  EXPECT_EQ(rig_.log->mount_report().tampered, 0u);
  EXPECT_EQ(rig_.log->mount_report().late_seals, 1u);
  CollectItems c;
  ASSERT_TRUE(rig_.log->Export(1, kChallenge, c).ok());
  const LogFindings f = VerifyItems(rig_.auth, c.items, kChallenge, 1);
  EXPECT_TRUE(f.ok());
  EXPECT_EQ(f.late_seals, 1u);
  ASSERT_TRUE(rig_.Reboot().ok());
  EXPECT_EQ(rig_.log->mount_report().late_seals, 0u);
}

// Issue 10 finding 11: an edited checkpoint tag in an authenticated export.
TEST_F(A02LogTampering, A02_EditedCheckpointTagIsFlagged) {
  size_t checkpoints = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].type != LogItemType::kCheckpoint) continue;
    ++checkpoints;
    for (size_t byte = 0; byte < kLogTagSize; byte += 5) {
      auto t = items_;
      t[i].tag[byte] ^= 0x01;
      const LogFindings f = Verify(t);
      EXPECT_FALSE(f.ok()) << i << " " << byte;
      EXPECT_GT(f.bad_tags, 0u);
    }
  }
  EXPECT_GE(checkpoints, 1u);
}

// ---- Signed log heads (issue 9 item 2): anyone holding the lock's public
// key checks a stored stream offline, without a session or the log key.

class TestSigner final : public LogHeadSigner {
 public:
  TestSigner(uint64_t seed, uint8_t id) : entropy_(seed), drbg_(entropy_) {
    EXPECT_TRUE(drbg_.Seed().ok());
    Result<crypto::P256KeyPair> k = crypto::P256KeyPair::Generate(drbg_);
    EXPECT_TRUE(k.ok());
    key_.emplace(std::move(*k));
    id_.fill(id);
  }
  std::span<const uint8_t, kLogLockIdSize> lock_id() const override { return id_; }
  Status Sign(std::span<const uint8_t> message, std::span<uint8_t, kLogSignatureSize> signature) override {
    crypto::P256Signature sig;
    MORTISE_TRY(key_->Sign(message, sig, drbg_));
    std::copy(sig.begin(), sig.end(), signature.begin());
    ++signatures;
    return Status::Ok();
  }
  const crypto::P256PublicKey& public_key() const { return key_->public_key(); }
  const std::array<uint8_t, kLogLockIdSize>& id() const { return id_; }
  int signatures = 0;

 private:
  crypto::DeterministicEntropy entropy_;
  crypto::Drbg drbg_;
  std::optional<crypto::P256KeyPair> key_;
  std::array<uint8_t, kLogLockIdSize> id_{};
};

class SignedHeads : public ::testing::Test {
 protected:
  static constexpr int64_t kInterval = 600;  // T: a signed head every 10 minutes while records wait
  // The same workload on a lock: 450 events 37 s apart, the timer ticking
  // after each; a stored stream of everything.
  static std::vector<LogItem> Stream(TestSigner& signer, int64_t& last_utc) {
    Rig rig(4, 4);
    rig.log->set_head_signer(&signer, kInterval);
    EXPECT_TRUE(rig.MountAll().ok());
    for (uint32_t i = 0; i < 450; ++i) {
      const core::LockEvent e = TypicalEvent(i);
      EXPECT_TRUE(rig.log->Append(e).ok());
      EXPECT_TRUE(rig.log->SignHeadIfDue(e.utc_seconds).ok());
      last_utc = e.utc_seconds;
    }
    CollectItems c;
    EXPECT_TRUE(rig.log->Export(1, kChallenge, c).ok());
    // With the key the usual checks still hold: signed heads are records.
    EXPECT_TRUE(VerifyItems(rig.auth, c.items, kChallenge, 1).ok());
    return c.items;
  }
  void SetUp() override { items_ = Stream(signer_, last_utc_); }
  LogFindings Offline(const std::vector<LogItem>& items, const TestSigner& as, int64_t now) const {
    LogVerifier v(as.public_key(), as.id(), 1, now, kInterval);
    for (const auto& i : items) v.Feed(i);
    return v.Finish();
  }
  LogFindings Offline(const std::vector<LogItem>& items) const { return Offline(items, signer_, last_utc_ + 60); }
  static bool IsSignedHead(const LogItem& i) {
    return i.type == LogItemType::kRecord && i.length > 0 && i.bytes[0] == kLogRecordTypeSignedHead;
  }
  TestSigner signer_{11, 0xA1};
  int64_t last_utc_ = 0;
  std::vector<LogItem> items_;
};

TEST_F(SignedHeads, A02_AStoredStreamVerifiesOfflineThroughItsNewestSignedHead) {
  const LogFindings f = Offline(items_);
  EXPECT_TRUE(f.offline_ok());
  EXPECT_EQ(f.bad_signatures, 0u);
  // Signed at each roll and every T while records waited: the newest head is
  // at most T (16 events of 37 s) behind the last record.
  uint64_t last_record = 0;
  for (const auto& i : items_) {
    if (i.type == LogItemType::kRecord) last_record = i.seq;
  }
  EXPECT_GE(f.signed_through + 17, last_record);
  EXPECT_GE(f.signed_at + kInterval, last_utc_);
  EXPECT_GT(signer_.signatures, 20);  // 450 events over 4.6 hours: about one per 10 minutes, plus rolls
  EXPECT_LT(signer_.signatures, 40);
}

TEST_F(SignedHeads, A02_EditedRecordInAStoredStreamIsFlagged) {
  for (size_t i = 0; i < items_.size(); i += 37) {
    if (items_[i].type != LogItemType::kRecord || IsSignedHead(items_[i])) continue;
    auto t = items_;
    t[i].bytes[7] ^= 0x01;
    internal::PutLe16(t[i].bytes.data() + t[i].length - 2,
                      internal::Crc16(std::span<const uint8_t>(t[i].bytes.data(), t[i].length - 2u)));
    EXPECT_FALSE(Offline(t).offline_ok()) << i;
    EXPECT_GT(Offline(t).bad_signatures, 0u) << i;
  }
}

TEST_F(SignedHeads, A02_ReorderedStoredStreamIsFlagged) {
  for (size_t i = 10; i + 1 < items_.size(); i += 41) {
    auto t = items_;
    std::swap(t[i], t[i + 1]);
    EXPECT_FALSE(Offline(t).offline_ok()) << i;
  }
}

TEST_F(SignedHeads, A02_TruncatedStoredStreamIsFlaggedAsStale) {
  auto t = items_;
  t.resize(t.size() - 150);  // the newest ~150 records (and their heads) withheld
  const LogFindings f = Offline(t);
  EXPECT_TRUE(f.stale_head);
  EXPECT_FALSE(f.offline_ok());
  EXPECT_LT(f.signed_at + kInterval, last_utc_ + 60);
}

TEST_F(SignedHeads, A02_StreamCutBackToAnOlderSignedHeadIsFlaggedAsStale) {
  // Cut exactly after an older signed head: everything verifies, but only
  // through that head, which is older than T: a reader must not take it for
  // the lock's current state.
  size_t cut = 0;
  for (size_t i = 0; i < items_.size() / 2; ++i) {
    if (IsSignedHead(items_[i])) cut = i + 1;
  }
  ASSERT_GT(cut, 0u);
  auto t = items_;
  t.resize(cut);
  const LogFindings f = Offline(t);
  EXPECT_EQ(f.signed_through, items_[cut - 1].seq);
  EXPECT_EQ(f.bad_signatures, 0u);
  EXPECT_TRUE(f.stale_head);
  EXPECT_FALSE(f.offline_ok());
  // The same stream, read when that head was fresh, passes: staleness is
  // the only thing that tells it from a cut.
  EXPECT_TRUE(Offline(t, signer_, f.signed_at + 60).offline_ok());
}

TEST_F(SignedHeads, A02_StreamSplicedFromTwoLocksIsFlagged) {
  TestSigner other(12, 0xB2);
  int64_t other_last = 0;
  const std::vector<LogItem> theirs = Stream(other, other_last);
  // Same events, so the same unkeyed chain: only the signatures tell the
  // locks apart. Our first half, their second half.
  ASSERT_EQ(theirs.size(), items_.size());
  auto t = items_;
  std::copy(theirs.begin() + static_cast<ptrdiff_t>(t.size() / 2), theirs.end(), t.begin() + static_cast<ptrdiff_t>(t.size() / 2));
  const LogFindings f = Offline(t);
  EXPECT_GT(f.bad_signatures, 0u);
  EXPECT_FALSE(f.offline_ok());
  // And a whole stream of another lock never verifies as ours.
  const LogFindings g = Offline(theirs);
  EXPECT_EQ(g.signed_through, 0u);
  EXPECT_FALSE(g.offline_ok());
}

TEST_F(SignedHeads, A02_AForgedAnchorAndLossRecordCannotHideRecordsBeforeASignedHead) {
  ASSERT_EQ(items_[0].type, LogItemType::kAnchor);
  LogChain h = items_[0].chain;
  LogChain h60{};
  for (const auto& i : items_) {
    if (i.type != LogItemType::kRecord || i.seq > 60) continue;
    h = ChainNext(h, i.seq, i.bytes.data(), i.length);  // unkeyed: anyone can compute h(n)
    if (i.seq == 60) h60 = h;
  }
  // Delete records 40..60 (and any item numbered among them), put a forged
  // "lost 41..60" at #40 and an anchor at #60 carrying the true h(60).
  const LogItem loss = ForgedLoss(40, 41, 20);
  LogItem anchor;
  anchor.type = LogItemType::kAnchor;
  anchor.seq = 60;
  anchor.chain = h60;
  std::vector<LogItem> t;
  bool inserted = false;
  bool head_after = false;
  for (const auto& i : items_) {
    const uint64_t n = i.type == LogItemType::kRecord || i.type == LogItemType::kVoid ? i.seq : i.seq + 1;
    if (i.type != LogItemType::kAnchor && n >= 40 && n <= 60) {
      if (!inserted) {
        t.push_back(loss);
        t.push_back(anchor);
        inserted = true;
      }
      continue;
    }
    if (inserted && i.seq > 60 && (IsSignedHead(i) || i.type == LogItemType::kSignedHead)) head_after = true;
    t.push_back(i);
  }
  ASSERT_TRUE(inserted);
  ASSERT_TRUE(head_after);  // a genuine signed head after the splice still verifies
  const LogFindings f = Offline(t);
  EXPECT_EQ(f.bad_signatures, 0u);
  EXPECT_EQ(f.unverified_anchors, 1u);
  EXPECT_GT(f.unexplained_gaps, 0u);  // the forged loss record is covered by no signed head
  EXPECT_FALSE(f.offline_ok());
  // The honest stream still verifies.
  EXPECT_TRUE(Offline(items_).offline_ok());
  EXPECT_EQ(Offline(items_).unverified_anchors, 0u);
}

TEST_F(SignedHeads, A02_ALossRecordNoSignedHeadCoversExplainsNoGap) {
  // After the newest signed head: replace record a+1 with a forged "lost
  // a+2" and drop a+2. No signature covers the loss record, so the gap stays
  // unexplained (a reader cannot tell it from records removed in transit).
  size_t last_head = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    if (IsSignedHead(items_[i]) || items_[i].type == LogItemType::kSignedHead) last_head = i;
  }
  size_t a = last_head + 1;
  while (a < items_.size() && items_[a].type != LogItemType::kRecord) ++a;
  ASSERT_LT(a + 3, items_.size());
  ASSERT_EQ(items_[a + 2].type, LogItemType::kRecord);
  const uint64_t seq = items_[a].seq + 1;
  auto t = items_;
  t[a + 1] = ForgedLoss(seq, seq + 1, 1);
  t.erase(t.begin() + static_cast<ptrdiff_t>(a + 2));
  const LogFindings f = Offline(t);
  EXPECT_EQ(f.bad_signatures, 0u);
  EXPECT_EQ(f.explained_gaps, 0u);
  EXPECT_EQ(f.unexplained_gaps, 1u);
  EXPECT_FALSE(f.offline_ok());
}

}  // namespace
}  // namespace mortise::store
