#include "mortise/store/audit_log.h"

#include <gtest/gtest.h>

#include <vector>

#include "../src/crc.h"
#include "test_rig.h"

namespace mortise::store {
namespace {

using testing::CollectItems;
using testing::Rig;
using testing::SameEvent;
using testing::TypicalEvent;
using testing::VerifyItems;

constexpr LogChallenge kChallenge = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

struct CollectRecords : LogRecordVisitor {
  void Visit(const LogRecord& r) override { records.push_back(r); }
  std::vector<LogRecord> records;
};

std::vector<LogRecord> ReadAll(AuditLog& log, uint64_t from = 0) {
  CollectRecords c;
  EXPECT_TRUE(log.ReadFrom(from, c).ok());
  return c.records;
}

std::vector<LogItem> ExportAll(AuditLog& log, uint64_t from = 0, const LogChallenge& ch = kChallenge) {
  CollectItems c;
  EXPECT_TRUE(log.Export(from, ch, c).ok());
  return c.items;
}

TEST(LogRecordCodec, TypicalEventIsTwentyBytesAndRoundTrips) {
  const core::LockEvent e = TypicalEvent(42);
  uint8_t buf[kMaxLogRecordSize];
  EXPECT_EQ(EncodeLogEvent(e, 300, buf), 20u);
  Result<LogRecord> r = DecodeLogRecord(300, std::span<const uint8_t>(buf, 20));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(SameEvent(r->event, e));
  EXPECT_FALSE(DecodeLogRecord(301, std::span<const uint8_t>(buf, 20)).ok());  // wrong sequence number
}

TEST(LogRecordCodec, EveryFieldRoundTripsInTheLongForm) {
  core::LockEvent e;
  e.kind = core::EventKind::kLockUserChange;
  e.utc_seconds = -5;  // not representable in the short form
  e.monotonic_ms = ~0ull;
  e.source = core::OperationSource::kRemote;
  e.operation = core::LockOperationType::kUnlatch;
  e.error = core::OperationError::kInsufficientBattery;
  e.alarm = core::AlarmCode::kEmergencyPowerConnected;
  e.door_state = core::DoorState::kDoorAjar;
  e.data_type = core::LockDataType::kFace;
  e.data_operation = core::DataOperationType::kModify;
  e.data_index = 0xBEEF;
  e.user_index = 999;
  e.has_credential = true;
  e.credential = core::CredentialRef{core::CredentialType::kFace, 0xFFFE};
  e.detail = core::EventDetail::kUnlockReserve;
  uint8_t buf[kMaxLogRecordSize];
  ASSERT_EQ(EncodeLogEvent(e, 7, buf), 40u);
  Result<LogRecord> r = DecodeLogRecord(7, std::span<const uint8_t>(buf, 40));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(SameEvent(r->event, e));
}

TEST(LogRecordCodec, MortiseEventKindsRoundTripInBothFormsAndNoneBeyondThem) {
  // Mode change, access list, refused key (core/event.h): the record format
  // is MLG2's, unchanged; only the kind field's spare values are used.
  for (core::EventKind kind : {core::EventKind::kOperatingModeChange, core::EventKind::kAccessListChange,
                               core::EventKind::kKeyRefused}) {
    core::LockEvent e = TypicalEvent(9);
    e.kind = kind;
    e.detail = core::EventDetail::kKeyNotIssued;  // the highest detail: still fits 5 bits
    uint8_t buf[kMaxLogRecordSize];
    ASSERT_EQ(EncodeLogEvent(e, 12, buf), 20u);
    Result<LogRecord> r = DecodeLogRecord(12, std::span<const uint8_t>(buf, 20));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(SameEvent(r->event, e));
    e.data_index = 4;  // the mode, the keys listed, the refusals not recorded
    ASSERT_EQ(EncodeLogEvent(e, 13, buf), 40u);
    r = DecodeLogRecord(13, std::span<const uint8_t>(buf, 40));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(SameEvent(r->event, e));
  }
  core::LockEvent e = TypicalEvent(9);
  e.kind = static_cast<core::EventKind>(8);
  e.data_index = 1;
  uint8_t buf[kMaxLogRecordSize];
  ASSERT_EQ(EncodeLogEvent(e, 14, buf), 40u);
  EXPECT_FALSE(DecodeLogRecord(14, std::span<const uint8_t>(buf, 40)).ok());
}

TEST(LogRecordCodec, CorruptBytesDoNotDecode) {
  uint8_t buf[kMaxLogRecordSize];
  EncodeLogEvent(TypicalEvent(1), 1, buf);
  for (size_t byte = 0; byte < 20; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      buf[byte] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_FALSE(DecodeLogRecord(1, std::span<const uint8_t>(buf, 20)).ok()) << byte << ":" << bit;
      buf[byte] ^= static_cast<uint8_t>(1 << bit);
    }
  }
}

TEST(AuditLog, AppendsAreNumberedFromOneAndSurviveReboot) {
  Rig rig(4, 4);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 10; ++i) {
    Result<uint64_t> seq = rig.log->Append(TypicalEvent(i));
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, i + 1);
  }
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.log->next_seq(), 11u);
  const auto records = ReadAll(*rig.log);
  ASSERT_EQ(records.size(), 10u);
  for (uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(records[i].seq, i + 1);
    EXPECT_TRUE(SameEvent(records[i].event, TypicalEvent(i)));
  }
  EXPECT_TRUE(ReadAll(*rig.log, 8).size() == 3);
}

TEST(AuditLog, EmitGoesToTheLog) {
  Rig rig(4, 4);
  ASSERT_TRUE(rig.MountAll().ok());
  core::EventSink& sink = *rig.log;
  sink.Emit(TypicalEvent(1));
  EXPECT_EQ(ReadAll(*rig.log).size(), 1u);
}

TEST(AuditLog, SequenceNumbersContinueAcrossWrapAroundAndReboots) {
  Rig rig(4, 4);
  ASSERT_TRUE(rig.MountAll().ok());
  uint64_t last = 0;
  for (uint32_t i = 0; i < 2000; ++i) {
    Result<uint64_t> seq = rig.log->Append(TypicalEvent(i));
    ASSERT_TRUE(seq.ok());
    ASSERT_GT(*seq, last);
    last = *seq;
    ASSERT_TRUE(rig.log->Acknowledge(*seq).ok());
    if (i % 300 == 0) {
      ASSERT_TRUE(rig.Reboot().ok());
    }
  }
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.log->next_seq(), last + 1);
  EXPECT_GT(rig.log->oldest_seq(), 1000u);  // the ring did wrap
  const auto items = ExportAll(*rig.log);
  EXPECT_TRUE(VerifyItems(rig.auth, items, kChallenge, rig.log->acknowledged() + 1).ok());
}

TEST(AuditLog, OverwritingUnacknowledgedRecordsWritesALossRecord) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.MountAll().ok());
  ASSERT_TRUE(rig.log->Append(TypicalEvent(0)).ok());
  ASSERT_TRUE(rig.log->Acknowledge(1).ok());
  for (uint32_t i = 1; i < 700; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  uint64_t lost = 0, first_lost = 0;
  for (const auto& r : ReadAll(*rig.log)) {
    if (r.type == LogRecordType::kLoss) {
      EXPECT_EQ(r.reason, LossReason::kOverflow);
      first_lost = r.first_lost;  // loss records are cumulative: the newest says it all
      lost = r.lost_count;
    }
  }
  EXPECT_EQ(first_lost, 2u);  // the first unacknowledged record
  EXPECT_GE(first_lost + lost, rig.log->oldest_seq());
  // A reader that last saw record 1 finds the gap explained, not hidden.
  const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log), kChallenge, 2);
  EXPECT_TRUE(f.ok());
  EXPECT_EQ(f.explained_gaps, rig.log->oldest_seq() - 2);
}

TEST(AuditLog, AcknowledgedRecordsAreOverwrittenSilently) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 700; ++i) {
    Result<uint64_t> seq = rig.log->Append(TypicalEvent(i));
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE(rig.log->Acknowledge(*seq).ok());
  }
  for (const auto& r : ReadAll(*rig.log)) EXPECT_EQ(r.type, LogRecordType::kEvent);
}

TEST(AuditLog, AcknowledgementPersistsAndRefusesTheFuture) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  EXPECT_EQ(rig.log->Acknowledge(6).code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(rig.log->Acknowledge(3).ok());
  ASSERT_TRUE(rig.log->Acknowledge(2).ok());  // never goes back
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.log->acknowledged(), 3u);
}

// The chain hash a custody acknowledgement names (protocol/custody.h): what
// the lock computes for record N is what a reader of the export computes,
// in every segment, after a reboot, for void-free and loss records alike.
TEST(AuditLog, ChainAtMatchesWhatAReaderOfTheExportComputes) {
  Rig rig(4, 4);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 450; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  const uint64_t head = rig.log->next_seq() - 1;
  for (uint64_t n : {uint64_t{1}, uint64_t{2}, uint64_t{150}, uint64_t{199}, uint64_t{200}, uint64_t{201},
                     uint64_t{404}, head - 1, head}) {
    LogVerifier v(kChallenge, 1);
    for (const LogItem& item : ExportAll(*rig.log)) {
      if (item.seq > n || item.type == LogItemType::kHead) break;
      if (item.type == LogItemType::kCheckpoint && item.seq == n) break;
      v.Feed(item);
    }
    uint64_t end = 0;
    LogChain expected{};
    ASSERT_TRUE(v.StreamEnd(end, expected));
    ASSERT_EQ(end, n);
    Result<LogChain> got = rig.log->ChainAt(n);
    ASSERT_TRUE(got.ok()) << n;
    EXPECT_EQ(*got, expected) << n;
  }
  EXPECT_EQ(rig.log->ChainAt(0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(rig.log->ChainAt(head + 1).status().code(), StatusCode::kNotFound);
}

TEST(AuditLog, ChainAtOfAnOverwrittenRecordIsNotFound) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 700; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  ASSERT_GT(rig.log->oldest_seq(), 1u);
  EXPECT_EQ(rig.log->ChainAt(rig.log->oldest_seq() - 1).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(rig.log->ChainAt(rig.log->oldest_seq()).ok());
}

// A02: the upload cursor decides only which records the ring may reuse
// silently. Records after it stay on flash until the ring is full; then
// they are overwritten and the loss is declared from the cursor on, so a
// custody holder that acknowledged records it never stored (or a stolen
// custody key) cannot make a record vanish without a loss record, and
// before the ring is full cannot make one vanish at all.
TEST(AuditLog, A02_RecordsAfterTheCursorGoOnlyWhenTheRingIsFullAndTheLossIsDeclared) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  ASSERT_TRUE(rig.log->Acknowledge(40).ok());
  EXPECT_EQ(rig.log->upload_from(), 41u);
  EXPECT_EQ(rig.log->unacknowledged(), 60u);
  // Not full yet: every record, acknowledged or not, is still there.
  uint32_t i = 100;
  while (rig.log->oldest_seq() == 1) {
    ASSERT_EQ(ReadAll(*rig.log).front().seq, 1u);
    ASSERT_TRUE(rig.log->Append(TypicalEvent(i++)).ok());
  }
  // The ring needed the oldest segment: the loss of 41.. is declared.
  uint64_t first_lost = 0, lost = 0;
  for (const auto& r : ReadAll(*rig.log)) {
    if (r.type == LogRecordType::kLoss && r.reason == LossReason::kOverflow) {
      first_lost = r.first_lost;
      lost = r.lost_count;
    }
  }
  EXPECT_EQ(first_lost, 41u);
  EXPECT_EQ(first_lost + lost, rig.log->oldest_seq());
  // A reader resuming from the cursor sees the gap explained.
  const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log, rig.log->upload_from()), kChallenge,
                                    rig.log->upload_from());
  EXPECT_TRUE(f.ok());
  EXPECT_EQ(f.unexplained_gaps, 0u);
  EXPECT_EQ(f.explained_gaps, rig.log->oldest_seq() - 41);
}

// A whole log erased: numbers are never reused, and records the lock wrote
// (its durable head says so) that nobody acknowledged are declared altered:
// a power cut never erases a whole log.
TEST(AuditLog, ErasedLogNeverReusesSequenceNumbersAndSaysWhatWasLost) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 50; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  ASSERT_TRUE(rig.log->Acknowledge(10).ok());
  for (uint32_t b = 0; b < 3; ++b) ASSERT_TRUE(rig.log_part.Erase(b).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.log->mount_report().tampered, 40u);
  Result<uint64_t> seq = rig.log->Append(TypicalEvent(99));
  ASSERT_TRUE(seq.ok());
  EXPECT_GT(*seq, 50u);
  const auto records = ReadAll(*rig.log);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].type, LogRecordType::kLoss);
  EXPECT_EQ(records[0].reason, LossReason::kTampered);
  EXPECT_EQ(records[0].first_lost, 11u);
  EXPECT_EQ(records[0].lost_count, 40u);
  EXPECT_EQ(records[1].reason, LossReason::kLogLost);  // numbers never issued, skipped
  EXPECT_EQ(records[1].first_lost, 51u);
  const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log), kChallenge, 11);
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.tampered, 40u);
  EXPECT_EQ(f.unexplained_gaps, 0u);
}

TEST(AuditLog, FailedWritesAreDeclaredByTheNextAppend) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.MountAll().ok());
  ASSERT_TRUE(rig.log->Append(TypicalEvent(0)).ok());
  rig.flash.CutPowerAt(rig.flash.operation_count());
  rig.log->Emit(TypicalEvent(1));
  rig.log->Emit(TypicalEvent(2));
  rig.flash.Reboot();
  // Emit's attempt to persist the count hit the dead flash too: the store
  // needs its remount before the log can read its counters.
  ASSERT_TRUE(rig.store->Mount().ok());
  ASSERT_TRUE(rig.log->Mount().ok());  // same RAM: the log remembers the count
  ASSERT_TRUE(rig.log->Append(TypicalEvent(3)).ok());
  const auto records = ReadAll(*rig.log);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].type, LogRecordType::kLoss);
  EXPECT_EQ(records[1].reason, LossReason::kWriteFailure);
  EXPECT_EQ(records[1].lost_count, 2u);
}

TEST(AuditLog, BitFlipInASealedSegmentIsDetected) {
  Rig rig(4, 4);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 400; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  // Segment 1 (sealed) lives in the log's first block: flip a bit in record 10.
  const size_t at = 4 * 4096 + 36 + 9 * 20 + 7;
  rig.memory[at] ^= 0x04;
  ASSERT_TRUE(rig.Reboot().ok());
  const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log), kChallenge, 1);
  EXPECT_FALSE(f.ok() && f.voids == 0);
  EXPECT_EQ(f.voids, 1u);     // the lock says which record it cannot read
  EXPECT_GE(f.bad_tags, 1u);  // and the segment's seal no longer matches
}

TEST(AuditLog, RandomBitFlipsAreNeverSilentlyAccepted) {
  // A flip anywhere in the log's flash never yields an altered record: the
  // record is dropped and the loss shows (void, gap or bad tag), or nothing
  // readable changed.
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Rig rig(4, 3, seed);
    ASSERT_TRUE(rig.MountAll().ok());
    std::vector<core::LockEvent> events;
    for (uint32_t i = 0; i < 300; ++i) {
      events.push_back(TypicalEvent(i + static_cast<uint32_t>(seed)));
      if (i % 9 == 0) events.back().alarm = core::AlarmCode::kDoorAjar;  // some long records
      ASSERT_TRUE(rig.log->Append(events.back()).ok());
    }
    const uint32_t at = static_cast<uint32_t>(4 * 4096 + rig.flash.prng().Below(3 * 4096));
    rig.flash.FlipBit(at, static_cast<uint8_t>(rig.flash.prng().Below(8)));
    ASSERT_TRUE(rig.Reboot().ok()) << seed;
    size_t read_events = 0;
    for (const auto& r : ReadAll(*rig.log, rig.log->oldest_seq())) {
      if (r.type == LogRecordType::kLoss) {
        // Declared at mount (damage made numbering jump): after every event.
        EXPECT_GT(r.seq, events.size()) << seed;
        continue;
      }
      ASSERT_EQ(r.type, LogRecordType::kEvent) << seed;
      ASSERT_GE(r.seq, 1u);
      ASSERT_LE(r.seq, events.size());
      EXPECT_TRUE(SameEvent(r.event, events[r.seq - 1])) << "seed " << seed << " seq " << r.seq;
      ++read_events;
    }
    const size_t oldest = rig.log->oldest_seq();
    const size_t missing = oldest <= events.size() ? events.size() - (oldest - 1) - read_events : 0;
    const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log), kChallenge, rig.log->oldest_seq());
    if (missing > 0) {
      EXPECT_TRUE(!f.ok() || f.voids > 0 || f.lost_by_lock > 0) << "seed " << seed << " lost " << missing << " silently";
    }
  }
}

TEST(AuditLog, ExportFromTheMiddleVerifies) {
  Rig rig(4, 4);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 450; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  for (uint64_t from : {1ull, 2ull, 150ull, 201ull, 202ull, 449ull, 450ull, 451ull}) {
    const auto items = ExportAll(*rig.log, from);
    const LogFindings f = VerifyItems(rig.auth, items, kChallenge, from);
    EXPECT_TRUE(f.ok()) << from;
    EXPECT_EQ(f.records, 451 - from) << from;
  }
}

TEST(AuditLog, ExportItemsSurviveTheirWireForm) {
  Rig rig(4, 4);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 250; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  std::vector<uint8_t> wire;
  for (const auto& item : ExportAll(*rig.log)) {
    uint8_t buf[128];
    Result<size_t> n = EncodeLogItem(item, buf);
    ASSERT_TRUE(n.ok());
    wire.insert(wire.end(), buf, buf + *n);
  }
  LogVerifier v(rig.auth, kChallenge, 1);
  size_t at = 0;
  while (at < wire.size()) {
    LogItem item;
    Result<size_t> n = DecodeLogItem(std::span<const uint8_t>(wire).subspan(at), item);
    ASSERT_TRUE(n.ok());
    v.Feed(item);
    at += *n;
  }
  EXPECT_TRUE(v.Finish().ok());
}

// Review 3, finding 1: a torn overflow loss record or seal during a roll must
// not make the next roll write past the end of the block (after which the
// log refused every event forever). Power cut at every operation of a run
// that rolls with unacknowledged records, clean and torn, then 200 appends
// with the power on must all succeed and the log must verify.
TEST(AuditLog, TornLossRecordOrSealDuringRollNeverBlocksTheLog) {
  int failures = 0, cuts = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    for (uint64_t cut = 0; cut < 400; ++cut) {
      for (const auto mode : {FakeFlash::CutMode::kTorn, FakeFlash::CutMode::kClean}) {
        Rig rig(4, 3, seed * 1000 + cut, 1024);
        ASSERT_TRUE(rig.MountAll().ok());
        rig.flash.CutPowerAt(rig.flash.operation_count() + cut, mode);
        bool cut_happened = false;
        for (uint32_t i = 0; i < 400 && !cut_happened; ++i) cut_happened = !rig.log->Append(TypicalEvent(i)).ok();
        if (!cut_happened) break;
        ++cuts;
        // A second cut inside the roll's retry (the next few operations).
        if (cut % 3 == 0) {
          rig.flash.Reboot();
          rig.Remake();
          rig.flash.CutPowerAt(rig.flash.operation_count() + (cut / 3) % 4, FakeFlash::CutMode::kTorn);
          if (rig.MountAll().ok()) {
            for (uint32_t i = 0; i < 60 && rig.flash.powered(); ++i) rig.log->Append(TypicalEvent(500 + i)).IgnoreError();
          }
          rig.flash.CutPowerAt(FakeFlash::kNever);
        }
        if (!rig.Reboot().ok()) {
          ++failures;
          continue;
        }
        uint64_t last = 0;
        for (uint32_t i = 0; i < 200; ++i) {
          auto r = rig.log->Append(TypicalEvent(1000 + i));
          if (!r.ok() || *r <= last) {
            ADD_FAILURE() << "seed " << seed << " cut " << cut << ": append " << i << " failed with power on";
            ++failures;
            break;
          }
          last = *r;
        }
        const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log), kChallenge, rig.log->oldest_seq());
        if (!f.ok()) {
          ADD_FAILURE() << "seed " << seed << " cut " << cut << ": log does not verify";
          ++failures;
        }
      }
    }
  }
  EXPECT_GT(cuts, 100);
  EXPECT_EQ(failures, 0);
}

// Review 3, finding 4: damage to the last record of the head segment must not
// hand its sequence number out again.
TEST(AuditLog, DamagedTailRecordsAreNeverRenumbered) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  rig.memory[4 * 1024 + 36 + 9 * 20 + 5] ^= 0x10;  // record 10 (the last one)
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_GT(rig.log->mount_report().sequence_jump, 0u);
  auto r = rig.log->Append(TypicalEvent(99));
  ASSERT_TRUE(r.ok());
  EXPECT_GT(*r, 10u);
  // A reader who had 1..10 sees the skipped range declared, not silence.
  const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log, 11), kChallenge, 11);
  EXPECT_TRUE(f.ok());
  EXPECT_EQ(f.unexplained_gaps, 0u);
  EXPECT_GT(f.lost_by_lock, 0u);
}

// Review 3, finding 3: a damaged header on the newest segment loses its
// records; their numbers must not be reused and the loss must be declared.
TEST(AuditLog, DamagedHeadSegmentHeaderNeverReusesNumbersAndIsDeclared) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.MountAll().ok());
  uint64_t last = 0;
  for (uint32_t i = 0; i < 60; ++i) {
    auto r = rig.log->Append(TypicalEvent(i));
    ASSERT_TRUE(r.ok());
    last = *r;
  }
  rig.memory[4 * 1024 + 1024 + 10] ^= 0x01;  // segment 2 (block 1) is the head
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.log->mount_report().blocks_dropped, 1u);
  EXPECT_GT(rig.log->next_seq(), last);
  auto r = rig.log->Append(TypicalEvent(99));
  ASSERT_TRUE(r.ok());
  EXPECT_GT(*r, last);
  const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log, 1), kChallenge, 1);
  EXPECT_EQ(f.unexplained_gaps, 0u);
  EXPECT_TRUE(f.ok());
  EXPECT_GT(f.explained_gaps, 0u);
}

// Review 3, finding 3: a sealed newest segment (its successor lost, or a roll
// cut after the seal) restarts numbering above everything issued.
TEST(AuditLog, SealedHeadRestartsAtTheHighWaterMark) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.MountAll().ok());
  uint64_t last = 0;
  for (uint32_t i = 0; i < 60; ++i) last = *rig.log->Append(TypicalEvent(i));
  // Wipe the head segment (block 1) as a torn erase would: header gone.
  for (size_t k = 0; k < 36; ++k) rig.memory[4 * 1024 + 1024 + k] = 0x00;
  ASSERT_TRUE(rig.Reboot().ok());
  auto r = rig.log->Append(TypicalEvent(99));
  ASSERT_TRUE(r.ok());
  EXPECT_GT(*r, last);
  const LogFindings f = VerifyItems(rig.auth, ExportAll(*rig.log, 1), kChallenge, 1);
  EXPECT_TRUE(f.ok());
}

// Review 3, finding 1: no write ever passes the end of a segment; the seal
// has its fixed slot in the block's last 20 bytes.
TEST(AuditLog, SealSitsInItsFixedSlotAndNothingPassesTheBlockEnd) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.MountAll().ok());
  for (uint32_t i = 0; i < 300; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
  // Every sealed block has the seal type at offset 1024 - 20.
  int seals = 0;
  for (size_t b = 0; b < 3; ++b) seals += rig.memory[(4 + b) * 1024 + 1024 - 20] == 0xA4;
  EXPECT_GE(seals, 2);
}

// Review 3, finding 7: a record store full of users still takes counter
// writes (byte reserve), so the log keeps working and can still delete.
TEST(AuditLog, FullRecordStoreDoesNotStopTheLog) {
  Rig rig(8, 3, 1, 1024);
  ASSERT_TRUE(rig.MountAll().ok());
  std::vector<uint8_t> v(4, 0x5A);
  int n = 0;
  for (; n < 5000; ++n) {
    if (!rig.store->Write(core::MakeRecordKey(2, static_cast<uint16_t>(n)), v).ok()) break;
  }
  ASSERT_LT(n, 5000);
  ASSERT_TRUE(rig.store->IncrementCounter(0).ok());
  for (uint32_t i = 0; i < 300; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok()) << i;
  ASSERT_TRUE(rig.log->Acknowledge(250).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_TRUE(rig.store->Erase(core::MakeRecordKey(2, 0)).ok());
  EXPECT_TRUE(rig.store->IncrementCounter(0).ok());
  EXPECT_TRUE(rig.log->Append(TypicalEvent(999)).ok());
}

// Review 3, finding 7: events that could not be written are declared even
// when a reboot comes before the next successful append.
TEST(AuditLog, FailedEventsAreDeclaredAfterAReboot) {
  Rig rig(4, 3, 1, 1024);
  ASSERT_TRUE(rig.store->Mount().ok());
  // The log is not mounted: every Emit fails.
  for (uint32_t i = 0; i < 3; ++i) rig.log->Emit(TypicalEvent(i));
  ASSERT_TRUE(rig.Reboot().ok());
  ASSERT_TRUE(rig.log->Append(TypicalEvent(10)).ok());
  uint32_t declared = 0;
  for (const auto& r : ReadAll(*rig.log)) {
    if (r.type == LogRecordType::kLoss && r.reason == LossReason::kWriteFailure) declared += r.lost_count;
  }
  EXPECT_EQ(declared, 3u);
  // Declared once: another reboot does not repeat it.
  ASSERT_TRUE(rig.Reboot().ok());
  ASSERT_TRUE(rig.log->Append(TypicalEvent(11)).ok());
  declared = 0;
  for (const auto& r : ReadAll(*rig.log)) {
    if (r.type == LogRecordType::kLoss && r.reason == LossReason::kWriteFailure) declared += r.lost_count;
  }
  EXPECT_EQ(declared, 3u);
}

// Issue 9 item 1 (the log's part): a key introduction names the credential
// index later events carry as (issuer key id, 64-bit serial); it is a
// numbered, chained record like any other and survives a reboot.
TEST(AuditLog, KeyIntroductionNamesAnIndexAndIsAuthenticatedLikeAnyRecord) {
  Rig rig(4, 3);
  ASSERT_TRUE(rig.MountAll().ok());
  ASSERT_TRUE(rig.log->Append(TypicalEvent(0)).ok());
  const std::array<uint8_t, 8> issuer = {1, 2, 3, 4, 5, 6, 7, 8};
  Result<uint64_t> seq = rig.log->AppendKeyIntroduction(7, issuer, 0x1122334455667788ull);
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 2u);
  ASSERT_TRUE(rig.log->Append(TypicalEvent(1)).ok());
  ASSERT_TRUE(rig.Reboot().ok());
  EXPECT_EQ(rig.log->mount_report().tampered, 0u);
  const auto records = ReadAll(*rig.log);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].type, LogRecordType::kKeyIntro);
  EXPECT_EQ(records[1].key_index, 7u);
  EXPECT_EQ(records[1].issuer_key_id, issuer);
  EXPECT_EQ(records[1].serial, 0x1122334455667788ull);
  EXPECT_TRUE(VerifyItems(rig.auth, ExportAll(*rig.log), kChallenge, 1).ok());
  // Malformed: padding must be zero.
  uint8_t buf[kMaxLogRecordSize];
  const size_t n = EncodeLogKeyIntro(7, issuer, 1, 5, buf);
  EXPECT_EQ(n, 24u);
  EXPECT_TRUE(DecodeLogRecord(5, std::span<const uint8_t>(buf, n)).ok());
  buf[20] = 1;
  internal::PutLe16(buf + 22, internal::Crc16(std::span<const uint8_t>(buf, 22)));  // a well-formed CRC
  EXPECT_EQ(DecodeLogRecord(5, std::span<const uint8_t>(buf, n)).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mortise::store
