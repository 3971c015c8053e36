// A02 (attack catalogue): whoever relays the log drops, reorders, edits or
// injects records; the verifier flags every one.
#include "mortise/store/audit_log.h"

#include <gtest/gtest.h>

#include <vector>

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

}  // namespace
}  // namespace mortise::store
