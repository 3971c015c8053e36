#include "mortise/store/record_store.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <map>
#include <string>
#include <vector>

#include "../src/crc.h"
#include "mortise/store/fake_flash.h"
#include "test_rig.h"

namespace mortise::store {
namespace {

using testing::Rig;

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string ReadString(RecordStore& store, uint32_t key) {
  uint8_t buf[core::kMaxRecordSize];
  Result<size_t> r = store.Read(key, buf);
  if (!r.ok()) return std::string("<") + r.status().name() + ">";
  return std::string(buf, buf + *r);
}

struct Collect : core::RecordVisitor {
  void Visit(uint32_t key, std::span<const uint8_t> value) override {
    keys.push_back(key);
    values.emplace_back(value.begin(), value.end());
  }
  std::vector<uint32_t> keys;
  std::vector<std::string> values;
};

TEST(Crc, KnownAnswers) {
  const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  EXPECT_EQ(internal::Crc32(check), 0xCBF43926u);
  EXPECT_EQ(internal::Crc16(check), 0x29B1u);
}

TEST(FakeFlash, ProgramOnlyOnceBetweenErasesAndCountsErases) {
  std::vector<uint8_t> mem(2 * 4096);
  std::vector<uint32_t> counts(2);
  FakeFlash f(mem, counts);
  const uint8_t a[4] = {0x0F, 0xF0, 0x00, 0xFF};
  ASSERT_TRUE(f.Program(0, a).ok());
  EXPECT_EQ(f.Program(0, a).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.Program(2, a).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Program(8190, a).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Program(8192, a).code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(f.Erase(0).ok());
  EXPECT_EQ(f.EraseCount(0), 1u);
  EXPECT_EQ(mem[0], 0xFF);
  EXPECT_TRUE(f.Program(0, a).ok());
}

TEST(FakeFlash, PowerCutStopsEveryOperationUntilReboot) {
  std::vector<uint8_t> mem(4096);
  std::vector<uint32_t> counts(1);
  FakeFlash f(mem, counts);
  f.CutPowerAt(1);
  const uint8_t a[4] = {0, 0, 0, 0};
  EXPECT_TRUE(f.Program(0, a).ok());
  EXPECT_EQ(f.Program(4, a).code(), StatusCode::kUnavailable);
  EXPECT_EQ(mem[4], 0xFF);  // clean cut: nothing written
  EXPECT_EQ(f.Erase(0).code(), StatusCode::kUnavailable);
  uint8_t out[4];
  EXPECT_EQ(f.Read(0, out).code(), StatusCode::kUnavailable);
  f.Reboot();
  EXPECT_TRUE(f.Read(0, out).ok());
  EXPECT_EQ(f.operation_count(), 3u);
}

TEST(FakeFlash, TornProgramLeavesAPartialSubsetOfTransitions) {
  std::vector<uint8_t> mem(4096);
  std::vector<uint32_t> counts(1);
  FakeFlash f(mem, counts, 4096, 7);
  std::vector<uint8_t> zeros(64, 0);
  f.CutPowerAt(0, FakeFlash::CutMode::kTorn);
  EXPECT_EQ(f.Program(0, zeros).code(), StatusCode::kUnavailable);
  size_t cleared = 0, erased = 0;
  for (size_t i = 0; i < 64; ++i) {
    cleared += mem[i] == 0;
    erased += mem[i] == 0xFF;
  }
  EXPECT_LT(cleared, 64u);
  EXPECT_GT(erased, 0u);
}

TEST(RecordStore, EmptyFlashMountsEmpty) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  EXPECT_EQ(rig.store->record_count(), 0u);
  EXPECT_TRUE(rig.store->mount_report().clean());
  uint8_t buf[4];
  EXPECT_EQ(rig.store->Read(1, buf).status().code(), StatusCode::kNotFound);
}

TEST(RecordStore, UseBeforeMountIsRefused) {
  Rig rig(4, 3);
  EXPECT_EQ(rig.store->Write(1, Bytes("x")).code(), StatusCode::kFailedPrecondition);
}

TEST(RecordStore, WritesSurviveRemount) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(1, 7), Bytes("alice")).ok());
  ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(1, 8), Bytes("bob")).ok());
  ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(1, 7), Bytes("alice2")).ok());
  ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(1, 9), {}).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, core::MakeRecordKey(1, 7)), "alice2");
  EXPECT_EQ(ReadString(*rig.store, core::MakeRecordKey(1, 8)), "bob");
  EXPECT_EQ(ReadString(*rig.store, core::MakeRecordKey(1, 9)), "");
  EXPECT_TRUE(rig.store->mount_report().clean());
}

TEST(RecordStore, EraseRemovesAndIsOkWhenAbsent) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Write(5, Bytes("v")).ok());
  ASSERT_TRUE(rig.store->Erase(5).ok());
  ASSERT_TRUE(rig.store->Erase(6).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, 5), "<NOT_FOUND>");
}

TEST(RecordStore, ReadReportsTooSmallBuffer) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Write(5, Bytes("longer")).ok());
  uint8_t small[3];
  EXPECT_EQ(rig.store->Read(5, small).status().code(), StatusCode::kResourceExhausted);
}

TEST(RecordStore, RefusesOversizedValuesAndCounterKeys) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  std::vector<uint8_t> big(core::kMaxRecordSize + 1, 1);
  EXPECT_EQ(rig.store->Write(1, big).code(), StatusCode::kInvalidArgument);
  big.pop_back();
  EXPECT_TRUE(rig.store->Write(1, big).ok());
  EXPECT_EQ(rig.store->Write(core::MakeRecordKey(RecordStore::kCounterKind, 0), Bytes("x")).code(),
            StatusCode::kInvalidArgument);
}

TEST(RecordStore, ForEachVisitsRangeInKeyOrderAndHidesCounters) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  for (uint32_t k : {30u, 10u, 20u, 40u, 5u}) ASSERT_TRUE(rig.store->Write(k, Bytes(std::to_string(k))).ok());
  ASSERT_TRUE(rig.store->IncrementCounter(3).ok());
  Collect c;
  ASSERT_TRUE(rig.store->ForEach(10, 30, c).ok());
  EXPECT_EQ(c.keys, (std::vector<uint32_t>{10, 20, 30}));
  Collect all;
  ASSERT_TRUE(rig.store->ForEach(0, 0xFFFFFFFF, all).ok());
  EXPECT_EQ(all.keys.size(), 5u);
}

TEST(RecordStore, TransactionReadsAndForEachSeeItsOwnWrites) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Write(1, Bytes("one")).ok());
  ASSERT_TRUE(rig.store->Write(3, Bytes("three")).ok());
  ASSERT_TRUE(rig.store->Begin().ok());
  ASSERT_TRUE(rig.store->Write(2, Bytes("two")).ok());
  ASSERT_TRUE(rig.store->Write(1, Bytes("uno")).ok());
  ASSERT_TRUE(rig.store->Erase(3).ok());
  EXPECT_EQ(ReadString(*rig.store, 1), "uno");
  EXPECT_EQ(ReadString(*rig.store, 2), "two");
  EXPECT_EQ(ReadString(*rig.store, 3), "<NOT_FOUND>");
  Collect c;
  ASSERT_TRUE(rig.store->ForEach(0, 10, c).ok());
  EXPECT_EQ(c.keys, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(c.values, (std::vector<std::string>{"uno", "two"}));
  ASSERT_TRUE(rig.store->Commit().ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, 1), "uno");
  EXPECT_EQ(ReadString(*rig.store, 2), "two");
  EXPECT_EQ(ReadString(*rig.store, 3), "<NOT_FOUND>");
}

TEST(RecordStore, RollbackDiscardsTheTransaction) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Begin().ok());
  ASSERT_TRUE(rig.store->Write(2, Bytes("two")).ok());
  rig.store->Rollback();
  EXPECT_EQ(ReadString(*rig.store, 2), "<NOT_FOUND>");
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, 2), "<NOT_FOUND>");
}

TEST(RecordStore, TransactionMisuseIsFailedPrecondition) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  EXPECT_EQ(rig.store->Commit().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(rig.store->Begin().ok());
  EXPECT_EQ(rig.store->Begin().code(), StatusCode::kFailedPrecondition);
}

TEST(RecordStore, OversizedTransactionIsResourceExhausted) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Begin().ok());
  for (uint32_t k = 0; k < RecordStore::kMaxTransactionRecords; ++k) ASSERT_TRUE(rig.store->Write(k, Bytes("v")).ok());
  EXPECT_EQ(rig.store->Write(99, Bytes("v")).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(rig.store->Write(3, Bytes("again")).ok());  // same key: replaces in place
}

TEST(RecordStore, PowerCutBeforeCommitRecordLeavesPreviousState) {
  // Cut at every operation of a three-record transaction: the store holds
  // either all of it or none of it.
  for (uint64_t cut = 0; cut < 8; ++cut) {
    Rig rig(4, 3);
    ASSERT_TRUE(rig.store->Mount().ok());
    ASSERT_TRUE(rig.store->Write(1, Bytes("old1")).ok());
    rig.flash.CutPowerAt(rig.flash.operation_count() + cut, FakeFlash::CutMode::kTorn);
    ASSERT_TRUE(rig.store->Begin().ok());
    ASSERT_TRUE(rig.store->Write(1, Bytes("new1")).ok());
    ASSERT_TRUE(rig.store->Write(2, Bytes("new2")).ok());
    ASSERT_TRUE(rig.store->Write(3, Bytes("new3")).ok());
    const bool committed = rig.store->Commit().ok();
    ASSERT_TRUE(rig.Reboot().ok());
    const std::string v1 = ReadString(*rig.store, 1), v2 = ReadString(*rig.store, 2), v3 = ReadString(*rig.store, 3);
    if (committed) {
      EXPECT_EQ(v1 + v2 + v3, "new1new2new3") << cut;
    } else {
      const bool none = v1 == "old1" && v2 == "<NOT_FOUND>" && v3 == "<NOT_FOUND>";
      const bool all = v1 == "new1" && v2 == "new2" && v3 == "new3";
      EXPECT_TRUE(none || all) << cut << " " << v1 << v2 << v3;
    }
  }
}

TEST(RecordStore, CompactionKeepsLiveDataUnderChurn) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  std::map<uint32_t, std::string> model;
  TestPrng prng(3);
  for (int i = 0; i < 5000; ++i) {
    const uint32_t key = static_cast<uint32_t>(prng.Below(40));
    if (prng.Below(5) == 0) {
      ASSERT_TRUE(rig.store->Erase(key).ok());
      model.erase(key);
    } else {
      const std::string v = std::string(prng.Below(60), 'a' + i % 26) + std::to_string(i);
      ASSERT_TRUE(rig.store->Write(key, Bytes(v)).ok()) << i;
      model[key] = v;
    }
  }
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_TRUE(rig.store->mount_report().clean());
  EXPECT_EQ(rig.store->record_count(), model.size());
  for (const auto& [k, v] : model) EXPECT_EQ(ReadString(*rig.store, k), v);
  uint32_t min_erases = ~0u, max_erases = 0;
  for (uint32_t b = 0; b < 4; ++b) {
    min_erases = std::min(min_erases, rig.flash.EraseCount(b));
    max_erases = std::max(max_erases, rig.flash.EraseCount(b));
  }
  EXPECT_LE(max_erases - min_erases, 2u);  // the ring spreads wear evenly
}

TEST(RecordStore, HalfErasedCompactionVictimNeverResurrectsAnErasedKey) {
  // Key 7 is written and erased within one block. When that block is
  // compacted its erase is torn: the header and the old value survive, the
  // tombstone does not. The low-water mark in the head must keep the block
  // from being replayed.
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Write(7, Bytes("secret-pin-hash")).ok());
  ASSERT_TRUE(rig.store->Write(8, Bytes("keep")).ok());
  ASSERT_TRUE(rig.store->Erase(7).ok());
  const std::vector<uint8_t> before = rig.memory;
  std::vector<uint32_t> erases(rig.counts.begin(), rig.counts.begin() + 4);
  // Churn other keys until the first block is compacted.
  uint32_t victim = 99;
  for (uint32_t i = 0; i < 2000 && victim == 99; ++i) {
    ASSERT_TRUE(rig.store->Write(100 + i % 5, std::vector<uint8_t>(100, static_cast<uint8_t>(i))).ok());
    for (uint32_t b = 0; b < 4; ++b)
      if (rig.counts[b] != erases[b] && std::search(before.begin() + b * 4096, before.begin() + (b + 1) * 4096,
                                                    std::begin("secret-pin-hash"), std::end("secret-pin-hash") - 1) !=
                                            before.begin() + (b + 1) * 4096)
        victim = b;
  }
  ASSERT_NE(victim, 99u);
  // Restore the victim as a torn erase could leave it: everything up to the
  // tombstone (type 0xE2, key 7) is back, the rest erased.
  size_t tomb = 0;
  for (size_t off = 16; off + 16 <= 4096; off += 4) {
    const uint8_t* h = before.data() + victim * 4096 + off;
    if (h[0] == 0xE2 && h[4] == 7 && h[5] == 0 && h[6] == 0 && h[7] == 0) {
      tomb = off;
      break;
    }
  }
  ASSERT_NE(tomb, 0u);
  for (size_t i = 0; i < 4096; ++i) rig.memory[victim * 4096 + i] = i < tomb ? before[victim * 4096 + i] : 0xFF;
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, 7), "<NOT_FOUND>");
  EXPECT_EQ(ReadString(*rig.store, 8), "keep");
  EXPECT_EQ(rig.store->mount_report().obsolete_blocks_erased, 1u);
}

TEST(RecordStore, FormatEmptiesTheStore) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Write(1, Bytes("x")).ok());
  ASSERT_TRUE(rig.store->Format().ok());
  EXPECT_EQ(rig.store->record_count(), 0u);
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, 1), "<NOT_FOUND>");
}

TEST(RecordStore, FullStoreIsResourceExhaustedAndStaysConsistent) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  std::vector<uint8_t> v(200, 0x5A);
  uint32_t written = 0;
  Status s;
  while ((s = rig.store->Write(written, v)).ok()) ++written;
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_GT(written, 20u);
  ASSERT_TRUE(rig.store->Erase(0).ok());
  EXPECT_TRUE(rig.store->Write(written, v).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.store->record_count(), written);
}

TEST(RecordStore, IndexCapacityIsResourceExhausted) {
  Rig rig(4, 3);
  std::vector<RecordIndexEntry> index(10);
  RecordStore small(rig.store_part, index);
  ASSERT_TRUE(small.Mount().ok());
  for (uint32_t k = 0; k < 10; ++k) ASSERT_TRUE(small.Write(k, Bytes("v")).ok());
  EXPECT_EQ(small.Write(10, Bytes("v")).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(small.Write(3, Bytes("update")).ok());
}

TEST(RecordStore, HoldsALockFullOfUsersAndCredentials) {
  // 1000 users (40 B), 2000 credentials (48 B), 500 schedules, 100 config:
  // the default capacity and a 64-block (256 KiB) partition take it.
  Rig rig(64, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  std::vector<uint8_t> user(40, 1), cred(48, 2), sched(16, 3);
  for (uint16_t i = 0; i < 1000; ++i) ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(0x10, i), user).ok());
  for (uint16_t i = 0; i < 2000; ++i) ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(0x11, i), cred).ok());
  for (uint16_t i = 0; i < 500; ++i) ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(0x12, i), sched).ok());
  for (uint16_t i = 0; i < 100; ++i) ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(0x01, i), sched).ok());
  // Churn forces compaction of a nearly full store.
  for (uint16_t i = 0; i < 3000; ++i) ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(0x11, i % 2000), cred).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.store->record_count(), 3600u);
  EXPECT_TRUE(rig.store->mount_report().clean());
}

TEST(RecordStore, CountersPersistBeforeReturnAndNeverGoBack) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  EXPECT_EQ(*rig.store->ReadCounter(core::kCounterBootEpoch), 0u);
  EXPECT_EQ(*rig.store->IncrementCounter(core::kCounterBootEpoch), 1u);
  EXPECT_EQ(*rig.store->IncrementCounter(core::kCounterBootEpoch, 5), 6u);
  EXPECT_EQ(*rig.store->RaiseCounter(core::kCounterBootEpoch, 3), 6u);
  // Inside a transaction the counter still commits on its own.
  ASSERT_TRUE(rig.store->Begin().ok());
  EXPECT_EQ(*rig.store->IncrementCounter(core::kCounterWrongCodeAttempts), 1u);
  rig.store->Rollback();
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(*rig.store->ReadCounter(core::kCounterBootEpoch), 6u);
  EXPECT_EQ(*rig.store->ReadCounter(core::kCounterWrongCodeAttempts), 1u);
  EXPECT_EQ(rig.store->IncrementCounter(core::kCounterBootEpoch, ~0ull).status().code(), StatusCode::kOutOfRange);
}

TEST(RecordStore, CounterIncrementsUseLittleFlashAndSurviveCompaction) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(rig.store->IncrementCounter(2).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(*rig.store->ReadCounter(2), 2000u);
}

TEST(RecordStore, BitFlipInAValueIsDataLossNeverAStaleValue) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Write(1, Bytes("first-version")).ok());
  ASSERT_TRUE(rig.store->Write(1, Bytes("second-version")).ok());
  ASSERT_TRUE(rig.store->Write(2, Bytes("other")).ok());
  // Find "second-version" on flash and flip a bit in it.
  const std::string needle = "second-version";
  auto it = std::search(rig.memory.begin(), rig.memory.end(), needle.begin(), needle.end());
  ASSERT_NE(it, rig.memory.end());
  *(it + 3) ^= 0x10;
  EXPECT_EQ(ReadString(*rig.store, 1), "<DATA_LOSS>");  // caught on read, too
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, 1), "<DATA_LOSS>");
  EXPECT_EQ(ReadString(*rig.store, 2), "other");
  EXPECT_EQ(rig.store->mount_report().corrupt_values, 1u);
  EXPECT_FALSE(rig.store->mount_report().clean());
}

TEST(RecordStore, BitFlipInAHeaderDropsOnlyThatRecordAndIsReported) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.store->Write(1, Bytes("aaaa")).ok());
  ASSERT_TRUE(rig.store->Write(2, Bytes("bbbb")).ok());
  ASSERT_TRUE(rig.store->Write(3, Bytes("cccc")).ok());
  const std::string needle = "bbbb";
  auto it = std::search(rig.memory.begin(), rig.memory.end(), needle.begin(), needle.end());
  ASSERT_NE(it, rig.memory.end());
  *(it - 16 + 4) ^= 0x01;  // the key in its header
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, 1), "aaaa");
  EXPECT_EQ(ReadString(*rig.store, 3), "cccc");
  EXPECT_NE(ReadString(*rig.store, 2), "bbbb");
  EXPECT_GE(rig.store->mount_report().records_dropped, 1u);
  EXPECT_GE(rig.store->mount_report().bytes_skipped, 24u);
}

TEST(RecordStore, RandomBitFlipsAreNeverSilentlyAccepted) {
  // Every flip either leaves every value intact or shows in the mount report
  // or as kDataLoss; no key ever reads back a value it did not hold.
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Rig rig(4, 3, seed);
    ASSERT_TRUE(rig.store->Mount().ok());
    std::map<uint32_t, std::string> model;
    std::map<uint32_t, std::vector<std::string>> history;
    for (uint32_t i = 0; i < 60; ++i) {
      const uint32_t key = i % 13;
      const std::string v = "v" + std::to_string(i) + std::string(i % 7, 'x');
      ASSERT_TRUE(rig.store->Write(key, Bytes(v)).ok());
      model[key] = v;
      history[key].push_back(v);
    }
    // Flip a bit inside the written area of block 0.
    const uint32_t at = static_cast<uint32_t>(rig.flash.prng().Below(2048));
    rig.flash.FlipBit(at, static_cast<uint8_t>(rig.flash.prng().Below(8)));
    rig.Remake();
    ASSERT_TRUE(rig.store->Mount().ok());
    const MountReport& rep = rig.store->mount_report();
    for (const auto& [k, v] : model) {
      const std::string got = ReadString(*rig.store, k);
      if (got == v) continue;
      // A stale version may come back only when the mount says it dropped something.
      EXPECT_TRUE(got == "<DATA_LOSS>" || !rep.clean()) << "seed " << seed << " key " << k << " got " << got;
    }
  }
}

TEST(RecordStore, MountOfGarbageIsOkAndReportsDroppedBlocks) {
  Rig rig(4, 3);
  TestPrng prng(9);
  for (auto& b : rig.memory) b = static_cast<uint8_t>(prng.Next());
  ASSERT_TRUE(rig.store->Mount().ok());
  EXPECT_EQ(rig.store->mount_report().blocks_dropped, 4u);
  EXPECT_TRUE(rig.store->Write(1, Bytes("fresh")).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(ReadString(*rig.store, 1), "fresh");
}

// Review 3, finding 5: a corrupt counter must stay readable and never go
// back, neither at mount nor after compaction (which used to tombstone it).
TEST(RecordStore, CorruptCounterRecoversUpwardAndSurvivesCompaction) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.store->Mount().ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(rig.store->IncrementCounter(5).ok());
  uint8_t needle[8] = {50, 0, 0, 0, 0, 0, 0, 0};
  auto it = std::search(rig.memory.begin(), rig.memory.end(), needle, needle + 8);
  ASSERT_NE(it, rig.memory.end());
  *(it + 1) ^= 0x01;
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.store->mount_report().counters_recovered, 1u);
  auto c = rig.store->ReadCounter(5);
  ASSERT_TRUE(c.ok());
  EXPECT_GE(*c, 50u);
  EXPECT_GE(*c, 49u + RecordStore::kCounterRecoveryMargin);  // newest readable (49) + margin
  std::vector<uint8_t> v(100, 0xAB);
  for (int i = 0; i < 400; ++i) {
    v[0] = static_cast<uint8_t>(i);
    ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(1, static_cast<uint16_t>(i % 3)), v).ok());
  }
  auto after = rig.store->ReadCounter(5);
  ASSERT_TRUE(after.ok());
  EXPECT_GE(*after, *c);
  ASSERT_TRUE(rig.Reboot().ok());
  after = rig.store->ReadCounter(5);
  ASSERT_TRUE(after.ok());
  EXPECT_GE(*after, *c);
  auto inc = rig.store->IncrementCounter(5);
  ASSERT_TRUE(inc.ok());
  EXPECT_GT(*inc, *c);
}

// Review 3, finding 5: a counter damaged after mount (read-time CRC failure)
// and a damaged only-copy left by compaction both recover upward.
TEST(RecordStore, CounterDamagedAfterMountRecoversAtTheRead) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.store->Mount().ok());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(rig.store->IncrementCounter(2).ok());
  uint8_t needle[8] = {7, 0, 0, 0, 0, 0, 0, 0};
  auto it = std::search(rig.memory.begin(), rig.memory.end(), needle, needle + 8);
  ASSERT_NE(it, rig.memory.end());
  *(it + 7) ^= 0x80;  // the value's last CRC-covered byte: now reads as a huge value
  auto c = rig.store->ReadCounter(2);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 7u + RecordStore::kCounterRecoveryMargin);  // last value written + margin
  EXPECT_GT(rig.store->mount_report().counters_recovered, 0u);
  ASSERT_TRUE(rig.Reboot().ok());
  auto again = rig.store->ReadCounter(2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *c);
}

// Review 3, finding 8: a mount whose index is too small scans everything,
// is read-only, and so cannot lose the records it left out.
TEST(RecordStore, IndexTooSmallMountsReadOnlyAndLosesNothing) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.store->Mount().ok());
  std::vector<uint8_t> v(40, 0x33);
  for (int k = 0; k < 20; ++k) ASSERT_TRUE(rig.store->Write(core::MakeRecordKey(3, static_cast<uint16_t>(k)), v).ok());
  {
    RecordIndexEntry small[10];
    RecordStore s(rig.store_part, small);
    EXPECT_EQ(s.Mount().code(), StatusCode::kResourceExhausted);
    EXPECT_TRUE(s.read_only());
    uint8_t out[64];
    EXPECT_TRUE(s.Read(small[0].key, out).ok());
    for (int i = 0; i < 200; ++i) {
      v[0] = static_cast<uint8_t>(i);
      EXPECT_EQ(s.Write(small[i % 10].key, v).code(), StatusCode::kResourceExhausted);
    }
    EXPECT_EQ(s.Erase(small[0].key).code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(s.IncrementCounter(1).status().code(), StatusCode::kResourceExhausted);
  }
  rig.Remake();
  ASSERT_TRUE(rig.store->Mount().ok());
  EXPECT_FALSE(rig.store->read_only());
  EXPECT_EQ(rig.store->record_count(), 20u);
}

// Review 3, finding 7: a store full of records can still count and delete.
TEST(RecordStore, FullStoreCanStillEraseAndCount) {
  Rig rig(8, 3, 1, 1024);
  ASSERT_TRUE(rig.store->Mount().ok());
  std::vector<uint8_t> v(200, 0x5A);
  int n = 0;
  for (; n < 1000; ++n) {
    v[0] = static_cast<uint8_t>(n);
    if (!rig.store->Write(core::MakeRecordKey(2, static_cast<uint16_t>(n)), v).ok()) break;
  }
  ASSERT_LT(n, 1000);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(rig.store->IncrementCounter(0).ok()) << i;
  EXPECT_TRUE(rig.store->Erase(core::MakeRecordKey(2, 0)).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  auto c = rig.store->ReadCounter(0);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 500u);
}

// Review 3, finding 6: a flipped bit in a counter record's header must not
// silently roll the counter back (it is reported and recovered upward).
TEST(RecordStore, CounterHeaderFlipDoesNotRollTheCounterBack) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.store->Mount().ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(rig.store->IncrementCounter(5).ok());
  ASSERT_TRUE(rig.store->Write(9, std::vector<uint8_t>(4, 1)).ok());  // the counter's is not the last commit
  uint8_t needle[8] = {10, 0, 0, 0, 0, 0, 0, 0};
  auto it = std::search(rig.memory.begin(), rig.memory.end(), needle, needle + 8);
  ASSERT_NE(it, rig.memory.end());
  *(it - 16 + 8) ^= 0x01;  // transaction number in the header
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_FALSE(rig.store->mount_report().clean());
  auto c = rig.store->ReadCounter(5);
  ASSERT_TRUE(c.ok());
  EXPECT_GE(*c, 10u);
  // Recovered once: the next mount does not raise it again.
  ASSERT_TRUE(rig.Reboot().ok());
  auto again = rig.store->ReadCounter(5);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *c);
  EXPECT_EQ(rig.store->mount_report().counters_recovered, 0u);
}

// Review 3, finding 6: a flipped commit record (not the newest) is reported
// as damage, not taken for a power cut; a real power cut is not damage.
TEST(RecordStore, CommitFlipIsDamageButAPowerCutIsNot) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.store->Mount().ok());
  std::vector<uint8_t> a(8, 0x11), b(8, 0x22);
  ASSERT_TRUE(rig.store->Write(7, a).ok());
  ASSERT_TRUE(rig.store->Write(7, b).ok());
  ASSERT_TRUE(rig.store->Write(8, a).ok());
  int seen = 0;
  size_t at = 0;
  for (size_t i = 16; i < 4096; i += 4) {
    if (rig.memory[i] == 0xC3 && rig.memory[i + 4] == 0xFF && rig.memory[i + 7] == 0xFF && ++seen == 2) {
      at = i;
      break;
    }
  }
  ASSERT_NE(at, 0u);
  rig.memory[at + 9] ^= 0x01;
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.store->mount_report().damaged_transactions, 1u);
  EXPECT_FALSE(rig.store->mount_report().clean());

  // A power cut in the middle of a transaction: discarded, not damage, also
  // after more writes and another reboot (the abort marker says so).
  Rig cut(4, 3, 1, 1024);
  ASSERT_TRUE(cut.store->Mount().ok());
  ASSERT_TRUE(cut.store->Write(1, a).ok());
  ASSERT_TRUE(cut.store->Begin().ok());
  ASSERT_TRUE(cut.store->Write(2, a).ok());
  ASSERT_TRUE(cut.store->Write(3, b).ok());
  cut.flash.CutPowerAt(cut.flash.operation_count() + 1);  // after the first record
  EXPECT_FALSE(cut.store->Commit().ok());
  ASSERT_TRUE(cut.Reboot().ok());
  EXPECT_EQ(cut.store->mount_report().transactions_discarded, 1u);
  EXPECT_EQ(cut.store->mount_report().damaged_transactions, 0u);
  ASSERT_TRUE(cut.store->Write(4, b).ok());
  ASSERT_TRUE(cut.Reboot().ok());
  EXPECT_EQ(cut.store->mount_report().damaged_transactions, 0u);
  EXPECT_EQ(cut.store->mount_report().counters_recovered, 0u);
}

}  // namespace
}  // namespace mortise::store
