// Power-cut reliability (CTest label powercut).
//
// A lock-like workload — "add user + credential" transactions, config
// writes, user removals, counter increments, log appends and
// acknowledgements — runs against the record store and the audit log on one
// FakeFlash. The power is cut (1) at every single program and erase of a
// scripted run, cleanly and torn, and (2) at random points of one long run
// (default 10,000 cuts, half of them torn; MORTISE_POWERCUT_RANDOM_CUTS
// overrides, e.g. for sanitizer builds). After every cut the flash reboots
// and an oracle checks: the store and log mount; every change that returned
// OK is intact; the interrupted change is all there or not at all; no
// counter went back; the exported log verifies (every gap explained by a
// loss record); no sequence number is ever issued twice (each new one is
// above every one issued before, including any found on flash). Cuts also
// land inside the next mount's own repairs (completing a segment roll,
// erasing a half-erased block, loss records, abort markers). Every other 400
// steps nobody acknowledges the log, so the ring overflows and cuts land in
// overflow loss records, seals and rolls; a quarter of the events are long
// (40-byte) records. The expected acknowledgement is the workload's own,
// never read back from the lock.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <vector>

#include "test_rig.h"

namespace mortise::store {
namespace {

using testing::CollectItems;
using testing::Rig;
using testing::SameEvent;
using testing::TypicalEvent;
using testing::VerifyItems;

constexpr size_t kBlock = 1024;  // small blocks: compaction and log rolls every few dozen operations
constexpr uint32_t kStoreBlocks = 8;
constexpr uint32_t kLogBlocks = 4;
constexpr LogChallenge kChallenge = {9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

struct Tally {
  uint64_t cut_points = 0;
  uint64_t lost_committed = 0;
  uint64_t half_applied = 0;
  uint64_t counter_regressions = 0;
  uint64_t corrupt_mounts = 0;
  uint64_t unexpected_errors = 0;
  uint64_t overflow_checks = 0;  // checks that saw an overflow loss record on flash
  uint64_t false_tamper = 0;     // a power cut reported as tampering (A02 at rest)
  uint64_t late_seals = 0;       // torn seals re-vouched by the mount that found them
};

using Value = std::optional<std::vector<uint8_t>>;

struct Oracle {
  std::map<uint32_t, std::vector<uint8_t>> records;
  std::map<uint16_t, uint64_t> counters;
  std::map<uint64_t, core::LockEvent> log;
  uint64_t acknowledged = 0;  // as the workload acknowledged it, never read back from the lock
  uint64_t max_seq = 0;       // highest sequence number ever issued (returned, or found on flash)
};

struct InFlight {
  enum Kind { kNone, kTransaction, kCounter, kLog, kAck } kind = kNone;
  std::vector<std::pair<uint32_t, Value>> changes;
  uint16_t counter = 0;
  uint64_t by = 0;
  core::LockEvent event;
  uint64_t ack = 0;
};

struct Visitor : core::RecordVisitor {
  void Visit(uint32_t key, std::span<const uint8_t> value) override {
    got[key] = std::vector<uint8_t>(value.begin(), value.end());
  }
  std::map<uint32_t, std::vector<uint8_t>> got;
};

struct LogVisitor : LogRecordVisitor {
  void Visit(const LogRecord& r) override { got[r.seq] = r; }
  std::map<uint64_t, LogRecord> got;
};

class Workload {
 public:
  explicit Workload(uint64_t seed) : prng_(seed) {}

  // One lock operation. Returns false when it failed (the power went off).
  bool Step(Rig& rig, Oracle& oracle, InFlight& f, Tally& tally) {
    f = InFlight{};
    const uint64_t pick = prng_.Below(100);
    ++step_;
    if (pick < 30) {  // add or replace a user with a credential (and sometimes a schedule)
      const uint16_t u = static_cast<uint16_t>(prng_.Below(16));
      f.kind = InFlight::kTransaction;
      f.changes.push_back({core::MakeRecordKey(0x10, u), RandomValue(16, 40)});
      f.changes.push_back({core::MakeRecordKey(0x11, u), RandomValue(24, 48)});
      if (prng_.Below(3) == 0) f.changes.push_back({core::MakeRecordKey(0x12, u), RandomValue(8, 16)});
    } else if (pick < 45) {  // a configuration write
      f.kind = InFlight::kTransaction;
      f.changes.push_back({core::MakeRecordKey(0x01, static_cast<uint16_t>(prng_.Below(8))), RandomValue(1, 32)});
    } else if (pick < 55) {  // remove a user and their credential and schedule
      const uint16_t u = static_cast<uint16_t>(prng_.Below(16));
      f.kind = InFlight::kTransaction;
      f.changes.push_back({core::MakeRecordKey(0x10, u), std::nullopt});
      f.changes.push_back({core::MakeRecordKey(0x11, u), std::nullopt});
      f.changes.push_back({core::MakeRecordKey(0x12, u), std::nullopt});
    } else if (pick < 75) {
      f.kind = InFlight::kCounter;
      f.counter = static_cast<uint16_t>(prng_.Below(4));
      f.by = 1 + prng_.Below(3);
    } else if (pick < 96 || !AckPhase()) {
      // Outside acknowledgement phases nobody uploads: the ring overflows
      // and overwrites unacknowledged records (loss records, cut too).
      f.kind = InFlight::kLog;
      f.event = TypicalEvent(static_cast<uint32_t>(step_));
      if (prng_.Below(4) == 0) {  // a long (40-byte) record
        f.event.alarm = core::AlarmCode::kDoorAjar;
        f.event.kind = core::EventKind::kDoorLockAlarm;
      }
    } else {
      f.kind = InFlight::kAck;
      // Acknowledge most of what the workload was told was written, but not
      // always all of it. The acknowledgement comes from the workload's own
      // record of issued numbers, never from the lock.
      const uint64_t back = prng_.Below(60);
      f.ack = oracle.max_seq > back ? oracle.max_seq - back : 0;
    }

    Status s;
    switch (f.kind) {
      case InFlight::kTransaction: {
        const bool single = f.changes.size() == 1;
        if (!single) s = rig.store->Begin();
        for (const auto& [key, value] : f.changes) {
          if (!s.ok()) break;
          s = value ? rig.store->Write(key, *value) : rig.store->Erase(key);
        }
        if (!single && s.ok()) s = rig.store->Commit();
        if (!single && !s.ok()) rig.store->Rollback();
        if (s.ok()) {
          for (const auto& [key, value] : f.changes) {
            if (value) {
              oracle.records[key] = *value;
            } else {
              oracle.records.erase(key);
            }
          }
        }
        break;
      }
      case InFlight::kCounter: {
        Result<uint64_t> r = rig.store->IncrementCounter(f.counter, f.by);
        s = r.status();
        if (r.ok()) {
          if (*r != oracle.counters[f.counter] + f.by) ++tally.lost_committed;
          oracle.counters[f.counter] = *r;
        }
        break;
      }
      case InFlight::kLog: {
        Result<uint64_t> r = rig.log->Append(f.event);
        s = r.status();
        if (r.ok()) {
          if (*r <= oracle.max_seq || oracle.log.count(*r)) {
            ++tally.lost_committed;  // a sequence number handed out twice
            ADD_FAILURE() << "sequence number " << *r << " reused (highest issued " << oracle.max_seq << ")";
          }
          oracle.max_seq = *r;
          oracle.log[*r] = f.event;
        }
        break;
      }
      case InFlight::kAck:
        s = rig.log->Acknowledge(f.ack);
        if (s.ok() && f.ack > oracle.acknowledged) oracle.acknowledged = f.ack;
        break;
      case InFlight::kNone: break;
    }
    if (s.ok()) {
      f.kind = InFlight::kNone;
      return true;
    }
    if (rig.flash.powered()) {
      ++tally.unexpected_errors;  // a real failure, not the cut
      ADD_FAILURE() << "step " << step_ << " kind " << f.kind << " failed with power on: " << s.name()
                    << " records " << rig.store->record_count() << " free " << rig.store->FreeBytes();
      if (tally.unexpected_errors == 1) {
        for (uint32_t b = 0; b < kStoreBlocks; ++b) {
          std::fprintf(stderr, "block %u:", b);
          for (int i = 0; i < 16; ++i) std::fprintf(stderr, " %02x", rig.memory[b * kBlock + i]);
          std::fprintf(stderr, "\n");
        }
      }
      if (tally.unexpected_errors > 20) std::abort();
      f.kind = InFlight::kNone;
      return true;
    }
    return false;
  }

 private:
  // Steps 400-799 of every 800: no acknowledgements at all, and more events.
  bool AckPhase() const { return (step_ / 400) % 2 == 0; }

  std::vector<uint8_t> RandomValue(size_t min, size_t max) {
    std::vector<uint8_t> v(min + prng_.Below(max - min + 1));
    for (auto& b : v) b = static_cast<uint8_t>(prng_.Next());
    return v;
  }

  TestPrng prng_;
  uint64_t step_ = 0;
};

// Reboots until the store and log mount with the power on.
bool RebootAndMount(Rig& rig, Tally& tally) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    rig.flash.Reboot();
    rig.Remake();
    const Status s = rig.MountAll();
    if (s.ok()) return true;
    if (rig.flash.powered()) {
      ++tally.corrupt_mounts;
      ADD_FAILURE() << "mount failed: " << s.name();
      return false;
    }
  }
  return false;
}

// Compares flash with the oracle, resolves the interrupted change into it.
void Check(Rig& rig, Oracle& oracle, const InFlight& f, Tally& tally) {
  // A power cut is never taken for damage (abort markers), so counters are
  // never raised by the recovery margin.
  if (rig.store->mount_report().damaged_transactions != 0 || rig.store->mount_report().counters_recovered != 0) {
    ++tally.corrupt_mounts;
    ADD_FAILURE() << "power cut reported as damage";
  }
  // A power cut is never taken for tampering with the log.
  if (rig.log->mount_report().tampered != 0) {
    ++tally.false_tamper;
    ADD_FAILURE() << "power cut reported as tampering: " << rig.log->mount_report().tampered;
  }
  tally.late_seals += rig.log->mount_report().late_seals;
  // Records.
  Visitor v;
  if (!rig.store->ForEach(0, 0xFFFFFFFF, v).ok()) ++tally.lost_committed;
  if (f.kind == InFlight::kTransaction) {
    size_t as_new = 0, as_old = 0;
    for (const auto& [key, value] : f.changes) {
      const auto got = v.got.find(key);
      const std::vector<uint8_t>* actual = got == v.got.end() ? nullptr : &got->second;
      const auto before = oracle.records.find(key);
      const std::vector<uint8_t>* old = before == oracle.records.end() ? nullptr : &before->second;
      const std::vector<uint8_t>* want = value ? &*value : nullptr;
      auto same = [](const std::vector<uint8_t>* a, const std::vector<uint8_t>* b) {
        return (a == nullptr && b == nullptr) || (a && b && *a == *b);
      };
      as_new += same(actual, want);
      as_old += same(actual, old);
    }
    const size_t n = f.changes.size();
    if (as_new == n) {
      for (const auto& [key, value] : f.changes) {
        if (value) {
          oracle.records[key] = *value;
        } else {
          oracle.records.erase(key);
        }
      }
    } else if (as_old != n) {
      ++tally.half_applied;
      ADD_FAILURE() << "half-applied transaction";
      for (const auto& [key, value] : f.changes) {
        const auto got = v.got.find(key);
        if (got == v.got.end()) {
          oracle.records.erase(key);
        } else {
          oracle.records[key] = got->second;
        }
      }
    }
  }
  for (const auto& [key, value] : oracle.records) {
    const auto got = v.got.find(key);
    if (got == v.got.end() || got->second != value) {
      ++tally.lost_committed;
      ADD_FAILURE() << "lost record " << std::hex << key;
    }
  }
  for (const auto& [key, value] : v.got) {
    if (!oracle.records.count(key)) {
      ++tally.lost_committed;  // a removed record came back
      ADD_FAILURE() << "resurrected record " << std::hex << key;
      oracle.records[key] = value;
    }
  }
  // Counters.
  for (uint16_t id = 0; id < 4; ++id) {
    Result<uint64_t> r = rig.store->ReadCounter(id);
    if (!r.ok()) {
      ++tally.lost_committed;
      continue;
    }
    const uint64_t expected = oracle.counters[id];
    const uint64_t extra = (f.kind == InFlight::kCounter && f.counter == id) ? f.by : 0;
    if (*r < expected) {
      ++tally.counter_regressions;
      ADD_FAILURE() << "counter " << id << " went back";
    } else if (*r != expected && *r != expected + extra) {
      ++tally.lost_committed;
    }
    oracle.counters[id] = *r;
  }
  // Log: acknowledgement, records, chain.
  {
    // The acknowledgement is the workload's: only an interrupted
    // Acknowledge may have moved it further.
    const uint64_t got = rig.log->acknowledged();
    const bool inflight = f.kind == InFlight::kAck && f.ack > oracle.acknowledged;
    if (got != oracle.acknowledged && !(inflight && got == f.ack)) {
      ++tally.lost_committed;
      ADD_FAILURE() << "acknowledged " << got << ", expected " << oracle.acknowledged;
    }
    if (inflight && got == f.ack) oracle.acknowledged = f.ack;
  }
  LogVisitor lv;
  if (!rig.log->ReadFrom(0, lv).ok()) ++tally.lost_committed;
  const uint64_t oldest = rig.log->oldest_seq();
  for (auto it = oracle.log.begin(); it != oracle.log.end();) {
    if (it->first < oldest) {
      it = oracle.log.erase(it);  // overwritten by the ring (acknowledged or declared lost)
      continue;
    }
    const auto got = lv.got.find(it->first);
    if (got == lv.got.end() || got->second.type != LogRecordType::kEvent || !SameEvent(got->second.event, it->second)) {
      ++tally.lost_committed;
      ADD_FAILURE() << "lost log record " << it->first;
    }
    ++it;
  }
  if (f.kind == InFlight::kLog) {
    for (const auto& [seq, r] : lv.got) {
      if (r.type == LogRecordType::kEvent && !oracle.log.count(seq) && SameEvent(r.event, f.event)) {
        if (seq <= oracle.max_seq) {
          ++tally.lost_committed;
          ADD_FAILURE() << "interrupted event got reused sequence number " << seq;
        }
        oracle.log[seq] = f.event;
      }
    }
  }
  for (const auto& [seq, r] : lv.got) {
    if (r.type == LogRecordType::kLoss && r.reason == LossReason::kOverflow) {
      ++tally.overflow_checks;
      break;
    }
  }
  // Every number on flash now counts as issued: the next one must be higher.
  for (const auto& [seq, r] : lv.got) {
    if (seq > oracle.max_seq) oracle.max_seq = seq;
  }
  if (rig.log->next_seq() <= oracle.max_seq) {
    ++tally.lost_committed;
    ADD_FAILURE() << "next sequence number " << rig.log->next_seq() << " not above " << oracle.max_seq;
  }
  CollectItems items;
  if (!rig.log->Export(oracle.acknowledged + 1, kChallenge, items).ok()) {
    ++tally.corrupt_mounts;
    return;
  }
  const LogFindings findings = VerifyItems(rig.auth, items.items, kChallenge, oracle.acknowledged + 1);
  if (findings.tampered != 0) ++tally.false_tamper;
  if (!findings.ok() || findings.voids != 0) {
    ++tally.corrupt_mounts;
    ADD_FAILURE() << "log does not verify: gaps " << findings.unexplained_gaps << " bad tags " << findings.bad_tags
                  << " order " << findings.order_errors << " malformed " << findings.malformed << " voids "
                  << findings.voids << " tampered " << findings.tampered << " unverified " << findings.unverified
                  << " head " << findings.head_verified << " mount: tampered " << rig.log->mount_report().tampered
                  << " late seals " << rig.log->mount_report().late_seals << " jump "
                  << rig.log->mount_report().sequence_jump << " roll " << rig.log->mount_report().roll_completed;
  }
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Runs `steps` workload steps with no cut and returns the flash operations used.
uint64_t CountOperations(uint64_t seed, int steps) {
  Rig rig(kStoreBlocks, kLogBlocks, seed, kBlock);
  EXPECT_TRUE(rig.MountAll().ok());
  Oracle oracle;
  Workload w(seed);
  Tally t;
  InFlight f;
  for (int i = 0; i < steps; ++i) w.Step(rig, oracle, f, t);
  return rig.flash.operation_count();
}

void ScriptedCuts(Tally& tally) {
  const uint64_t seed = 77;
  const int steps = static_cast<int>(EnvOr("MORTISE_POWERCUT_SCRIPT_STEPS", 1000));
  const uint64_t total = CountOperations(seed, steps);
  for (uint64_t cut = 0; cut < total; ++cut) {
    for (const auto mode : {FakeFlash::CutMode::kClean, FakeFlash::CutMode::kTorn}) {
      Rig rig(kStoreBlocks, kLogBlocks, seed ^ cut, kBlock);
      if (!rig.MountAll().ok()) {
        ++tally.corrupt_mounts;
        continue;
      }
      Oracle oracle;
      Workload w(seed);
      InFlight f;
      rig.flash.CutPowerAt(cut, mode);
      bool cut_happened = false;
      for (int i = 0; i < steps && !cut_happened; ++i) cut_happened = !w.Step(rig, oracle, f, tally);
      if (!cut_happened) continue;
      ++tally.cut_points;
      if (!RebootAndMount(rig, tally)) return;
      const Tally before = tally;
      Check(rig, oracle, f, tally);
      if (tally.lost_committed != before.lost_committed || tally.corrupt_mounts != before.corrupt_mounts ||
          tally.counter_regressions != before.counter_regressions || tally.half_applied != before.half_applied) {
        ADD_FAILURE() << "at scripted cut " << cut << (mode == FakeFlash::CutMode::kTorn ? " torn" : " clean")
                      << " in-flight kind " << f.kind;
      }
      // The store keeps working after the cut: a few more steps, checked again.
      for (int i = 0; i < 10; ++i) w.Step(rig, oracle, f, tally);
      rig.Remake();
      if (!rig.MountAll().ok()) {
        ++tally.corrupt_mounts;
        continue;
      }
      Check(rig, oracle, InFlight{}, tally);
    }
  }
}

void RandomCuts(Tally& tally) {
  const uint64_t cuts = EnvOr("MORTISE_POWERCUT_RANDOM_CUTS", 10000);
  Rig rig(kStoreBlocks, kLogBlocks, 4242, kBlock);
  ASSERT_TRUE(rig.MountAll().ok());
  Oracle oracle;
  Workload w(4242);
  TestPrng prng(99);
  InFlight f;
  uint64_t done = 0;
  while (done < cuts) {
    const auto mode = prng.Below(2) ? FakeFlash::CutMode::kTorn : FakeFlash::CutMode::kClean;
    rig.flash.CutPowerAt(rig.flash.operation_count() + prng.Below(40), mode);
    bool cut_happened = false;
    for (int i = 0; i < 1000 && !cut_happened; ++i) cut_happened = !w.Step(rig, oracle, f, tally);
    if (!cut_happened) continue;
    ++done;
    ++tally.cut_points;
    // Sometimes cut again during the mount's own repairs.
    rig.flash.Reboot();
    if (prng.Below(4) == 0) {
      rig.flash.CutPowerAt(rig.flash.operation_count() + prng.Below(3), FakeFlash::CutMode::kTorn);
      rig.Remake();
      if (!rig.MountAll().ok() && rig.flash.powered()) ++tally.corrupt_mounts;
      if (!rig.flash.powered()) ++tally.cut_points;
    }
    if (!RebootAndMount(rig, tally)) return;
    const Tally before = tally;
    Check(rig, oracle, f, tally);
    if (tally.lost_committed != before.lost_committed || tally.corrupt_mounts != before.corrupt_mounts ||
        tally.counter_regressions != before.counter_regressions || tally.half_applied != before.half_applied) {
      ADD_FAILURE() << "at random cut " << done << " in-flight kind " << f.kind << " store report: dropped "
                    << rig.store->mount_report().records_dropped << " corrupt " << rig.store->mount_report().corrupt_values
                    << " skipped " << rig.store->mount_report().bytes_skipped << " blocks "
                    << rig.store->mount_report().blocks_dropped << " obsolete "
                    << rig.store->mount_report().obsolete_blocks_erased;
      if (tally.lost_committed > 50) std::abort();
    }
  }
}

TEST(PowerCut, EveryOperationAndRandomCutsKeepEveryCommittedChange) {
  Tally tally;
  ScriptedCuts(tally);
  RandomCuts(tally);
  std::printf("cut points: %llu, lost committed: %llu, half-applied: %llu, counter regressions: %llu, corrupt mounts: "
              "%llu, false tamper reports: %llu (torn seals re-vouched: %llu)\n",
              static_cast<unsigned long long>(tally.cut_points), static_cast<unsigned long long>(tally.lost_committed),
              static_cast<unsigned long long>(tally.half_applied),
              static_cast<unsigned long long>(tally.counter_regressions),
              static_cast<unsigned long long>(tally.corrupt_mounts), static_cast<unsigned long long>(tally.false_tamper),
              static_cast<unsigned long long>(tally.late_seals));
  EXPECT_EQ(tally.false_tamper, 0u);
  EXPECT_GT(tally.late_seals, 0u);  // cuts tore seals, and mount re-vouched them without a tamper report
  EXPECT_EQ(tally.lost_committed, 0u);
  EXPECT_EQ(tally.half_applied, 0u);
  EXPECT_EQ(tally.counter_regressions, 0u);
  EXPECT_EQ(tally.corrupt_mounts, 0u);
  EXPECT_EQ(tally.unexpected_errors, 0u);
  EXPECT_GT(tally.overflow_checks, 1000u);  // the ring really overflowed, cuts landed around it
  EXPECT_GE(tally.cut_points, EnvOr("MORTISE_POWERCUT_RANDOM_CUTS", 10000));
}

// The upload cursor (AuditLog::Acknowledge, moved by custody
// acknowledgements) across a power cut at each of its writes, clean and
// torn: after the reboot it holds the old value or the new one, never
// another and never less; once Acknowledge returned OK, the new one. The
// log mounts with nothing declared tampered.
TEST(PowerCut, UploadCursorSurvivesACutAtEachWrite) {
  for (FakeFlash::CutMode mode : {FakeFlash::CutMode::kClean, FakeFlash::CutMode::kTorn}) {
    Rig rig(4, 4, 7);
    ASSERT_TRUE(rig.MountAll().ok());
    for (uint32_t i = 0; i < 300; ++i) ASSERT_TRUE(rig.log->Append(TypicalEvent(i)).ok());
    uint64_t cuts = 0;
    for (uint64_t t = 2; t <= 300; t += 2) {
      const uint64_t before = rig.log->acknowledged();
      for (uint64_t k = 0;; ++k) {
        rig.flash.CutPowerAt(rig.flash.operation_count() + k, mode);
        const Status s = rig.log->Acknowledge(t);
        const bool cut = !rig.flash.powered();
        ASSERT_TRUE(rig.Reboot().ok());
        const uint64_t now = rig.log->acknowledged();
        ASSERT_TRUE(now == before || now == t) << "t " << t << " k " << k << " cursor " << now;
        if (s.ok()) {
          ASSERT_EQ(now, t) << "reported durable, then lost";
        }
        ASSERT_EQ(rig.log->mount_report().tampered, 0u);
        if (!cut) break;
        ++cuts;
      }
      ASSERT_EQ(rig.log->acknowledged(), t);
    }
    EXPECT_GE(cuts, 150u);
    EXPECT_EQ(rig.log->next_seq(), 301u);
  }
}

}  // namespace
}  // namespace mortise::store
