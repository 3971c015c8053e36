// Door logs into the server (issue 14): pages as lockd publishes them, from
// a real AuditLog signed by the lock's identity key, ingested, verified with
// the door's lock key alone and stored with their verdicts; every record
// once; gaps and declared losses as such. Catalogue A02 (a log edited,
// reordered, cut, forged by another lock or replayed between the lock and
// the server's store is shown as such, nothing stored overwritten) and A13
// (malformed messages are counted and dropped). Run on SQLite
// (server_logs_test) and PostgreSQL (server_postgres_test).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fakes.h"
#include "log_ingest.h"
#include "log_rig.h"
#include "log_store.h"
#include "org_world.h"
#include "postgres_fixture.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::LockLogRig;

class LogIngestTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("mortise-logs-");
    repo_ = OpenRepository(testing::FreshDatabaseUrl(GetParam(), dir_.string()));
    repo_->QueryText("INSERT INTO organisations (id, name, kind, created_at) VALUES ('org_1', 'Home', 'home', 1)");
    repo_->QueryText("INSERT INTO sites (id, org_id, name, created_at) VALUES ('site_1', 'org_1', 'Home', 1)");
    AddDoor("door_1", lock_);
    store_ = std::make_unique<LogStore>(*repo_);
    ingest_ = std::make_unique<LogIngest>(*store_, clock_, [this](std::string_view org, const json& e) {
      events_.push_back({std::string(org), e});
    });
  }
  void TearDown() override {
    ingest_.reset();
    store_.reset();
    repo_.reset();
    fs::remove_all(dir_);
  }
  void AddDoor(const std::string& id, LockLogRig& rig) { repo_->QueryText(rig.DoorInsertSql(id)); }
  LogIngestResult Ingest(const std::string& payload) { return ingest_->OnLogMessage(lock_.lock_id_hex(), payload); }
  int Count(const std::string& sql) { return std::stoi(repo_->QueryText(sql)); }
  int Records() { return Count("SELECT COUNT(*) FROM log_records WHERE door_id = 'door_1'"); }
  int Pages() { return Count("SELECT COUNT(*) FROM log_pages WHERE door_id = 'door_1'"); }
  // Every stored record, in order: seq, status and summary, to show that
  // nothing changed.
  std::string Snapshot() {
    std::string out;
    for (const LogRecordRow& r : store_->Records("door_1", 0, 100000))
      out += std::to_string(r.seq) + " " + r.status + " " + r.chain + " " + r.summary + "\n";
    return out;
  }
  // Ingests every page from `from` to the head; all must be accepted.
  void IngestAll(uint64_t from, size_t page_bytes) {
    for (const std::string& p : lock_.Pages(from, page_bytes)) {
      const LogIngestResult r = Ingest(p);
      ASSERT_TRUE(r.verdict == LogVerdict::kVerified || r.verdict == LogVerdict::kUnsigned)
          << LogVerdictName(r.verdict) << ": " << r.detail;
    }
  }
  // A page of everything from `from` to the head, ending with the lock's
  // signed head, decoded for tampering.
  std::vector<store::LogItem> SignedItems(uint64_t from) {
    const std::vector<store::LogItem> items = LockLogRig::Items(lock_.PageBytes(from, 16384));
    EXPECT_EQ(items.back().type, store::LogItemType::kHead);
    EXPECT_EQ(items[items.size() - 2].type, store::LogItemType::kSignedHead);
    return items;
  }
  std::string Message(uint64_t from, const std::vector<store::LogItem>& items) {
    return LockLogRig::Message(from, lock_.head() + 1, true, LockLogRig::Encode(items));
  }

  // What a holder of the lock's broker identity (no signing key) publishes:
  // an anchor at #n with a made-up chain, then `rest`, unsigned.
  static store::LogItem ForgedAnchor(uint64_t n) {
    store::LogItem a;
    a.type = store::LogItemType::kAnchor;
    a.seq = n;
    a.chain.fill(0x5a);
    return a;
  }
  static store::LogItem LossItem(uint64_t seq, uint64_t first, uint32_t count,
                                 store::LossReason reason = store::LossReason::kLogLost) {
    store::LogItem r;
    r.type = store::LogItemType::kRecord;
    r.seq = seq;
    r.length = static_cast<uint8_t>(store::EncodeLogLoss(reason, first, count, seq, r.bytes));
    return r;
  }
  static store::LogItem VoidItem(uint64_t seq) {
    store::LogItem v;
    v.type = store::LogItemType::kVoid;
    v.seq = seq;
    return v;
  }
  static std::string Forged(const std::vector<store::LogItem>& items) {
    return LockLogRig::Message(items.front().seq, items.back().seq + 1, false, LockLogRig::Encode(items));
  }
  std::vector<LogGapRow> Shown(const std::string& door = "door_1") { return store_->Gaps(door, 0, 1000000); }
  static bool HasKind(const std::vector<LogGapRow>& gaps, std::string_view kind) {
    return std::any_of(gaps.begin(), gaps.end(), [&](const LogGapRow& g) { return g.kind == kind; });
  }

  fs::path dir_;
  std::unique_ptr<SqlRepository> repo_;
  testing::FakeClock clock_;
  LockLogRig lock_{11};
  std::unique_ptr<LogStore> store_;
  std::unique_ptr<LogIngest> ingest_;
  std::vector<std::pair<std::string, json>> events_;
};

TEST_P(LogIngestTest, StoresEveryRecordOnceWithItsSummaryAndTheLocksSignature) {
  lock_.Append(120);
  lock_.SignNow();
  IngestAll(1, 512);  // about 20 records a page, as lockd would send them
  EXPECT_EQ(Records(), static_cast<int>(lock_.head()));
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT seq) FROM log_records WHERE door_id = 'door_1'"), Records());
  // The last page carries the lock's signed head; it covers the chain back
  // to the first record, so every record is signed.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status <> 'signed'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_gaps"), 0);
  const auto first = store_->Records("door_1", 0, 1);
  ASSERT_EQ(first.size(), 1u);
  const json s = json::parse(first[0].summary);
  EXPECT_EQ(first[0].type, "event");
  EXPECT_EQ(s["event"]["event"], "LockOperation");
  EXPECT_EQ(s["event"]["userIndex"], 1);
  EXPECT_NE(s["text"].get<std::string>().find("Keypad"), std::string::npos) << s["text"];
  const LogChainState state = store_->State("door_1");
  EXPECT_EQ(state.last_seq, lock_.head());
  EXPECT_EQ(state.signed_through, lock_.head());
  EXPECT_EQ(state.chain, ToHex(*lock_.log().ChainAt(lock_.head())));
  ASSERT_FALSE(events_.empty());
  EXPECT_EQ(events_.back().first, "org_1");
  EXPECT_EQ(events_.back().second["type"], "door.log");
  EXPECT_EQ(events_.back().second["door_id"], "door_1");
  EXPECT_EQ(events_.back().second["verdict"], "verified");
  EXPECT_EQ(ingest_->counters().records.load(), lock_.head());
}

TEST_P(LogIngestTest, APageReceivedTwiceOrOverlappingStoresNothingTwice) {
  lock_.Append(60);
  lock_.SignNow();
  const std::vector<std::string> pages = lock_.Pages(1, 512);
  ASSERT_GE(pages.size(), 3u);
  for (const std::string& p : pages) ASSERT_NE(Ingest(p).verdict, LogVerdict::kBrokenChain);
  const std::string before = Snapshot();
  const int pages_before = Pages();
  // The same page again (lockd re-sends after a reconnect), and a page that
  // overlaps what is stored (read from the middle of an earlier page).
  for (const std::string& p : {pages[0], pages[1], lock_.Page(7, 16384)}) {
    const LogIngestResult r = Ingest(p);
    EXPECT_EQ(r.verdict, LogVerdict::kDuplicate) << r.detail;
    EXPECT_EQ(r.new_records, 0u);
    EXPECT_GT(r.duplicate_records, 0u);
  }
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(Pages(), pages_before);  // a duplicate is counted, not stored
  EXPECT_EQ(ingest_->counters().duplicates.load(), 3u);
  // An overlapping page that also brings new records stores only those.
  lock_.Append(5, false);
  const LogIngestResult r = Ingest(lock_.Page(50, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;  // the lock's signed head at #60 is in it
  EXPECT_EQ(r.new_records, 5u);
  EXPECT_EQ(Records(), static_cast<int>(lock_.head()));
}

TEST_P(LogIngestTest, UnsignedRecordsBecomeSignedWhenALaterPageCarriesTheLocksSignature) {
  lock_.Append(5, false);
  LogIngestResult r = Ingest(lock_.Page(1, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kUnsigned) << r.detail;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status = 'unsigned'"), 5);
  lock_.Append(3, false);
  lock_.SignNow();
  r = Ingest(lock_.Page(6, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_EQ(r.new_records, 3u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status = 'signed'"), 8);
  EXPECT_EQ(store_->State("door_1").signed_through, 8u);
}

// lockd's uplink, when the lock signs a timed head after its records went
// up (docs/uplink.md, "log"): a page from the head's last record, with the
// head after it, carries no new record. Accepted: the records stored
// unsigned become signed, nothing is stored twice; the same page again
// changes nothing.
TEST_P(LogIngestTest, APageSentAgainFromATimedHeadsRecordMarksTheStoredRecordsSignedAndStoresNothingTwice) {
  lock_.Append(5, false);
  LogIngestResult r = Ingest(lock_.Page(1, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kUnsigned) << r.detail;
  const uint64_t last = lock_.head();
  lock_.SignNow();
  ASSERT_EQ(lock_.head(), last);  // a timed head is not a record
  const std::string again = lock_.Page(last, 2048);
  r = Ingest(again);
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_EQ(r.new_records, 0u);
  EXPECT_EQ(Records(), static_cast<int>(last));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status <> 'signed'"), 0);
  EXPECT_EQ(store_->State("door_1").signed_through, last);
  r = Ingest(again);
  EXPECT_EQ(r.verdict, LogVerdict::kDuplicate) << r.detail;
  EXPECT_EQ(Records(), static_cast<int>(last));
}

TEST_P(LogIngestTest, AGapIsShownAsNeverReceived) {
  lock_.Append(60);
  lock_.SignNow();
  const std::vector<std::string> pages = lock_.Pages(1, 512);
  ASSERT_GE(pages.size(), 3u);
  ASSERT_NE(Ingest(pages[0]).verdict, LogVerdict::kBrokenChain);
  const uint64_t stored = store_->State("door_1").last_seq;
  for (size_t i = 2; i < pages.size(); ++i) ASSERT_NE(Ingest(pages[i]).verdict, LogVerdict::kBrokenChain);
  const auto gaps = store_->Gaps("door_1", 0, 1000);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].kind, "gap");
  EXPECT_EQ(gaps[0].first, stored + 1);
  EXPECT_EQ(Records() + static_cast<int>(gaps[0].last - gaps[0].first + 1), static_cast<int>(lock_.head()));
  // The signature after the gap covers only what follows the gap.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status = 'signed' AND seq <= " + std::to_string(stored)), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status <> 'signed' AND seq > " + std::to_string(stored)), 0);
}

TEST_P(LogIngestTest, ALockDeclaredLossIsShownAsSuch) {
  LockLogRig small(13, store::AuditLog::kMinBlocks);
  AddDoor("door_2", small);
  // Nobody acknowledges: the ring overwrites unacknowledged records and
  // declares them lost.
  small.Append(700);
  small.SignNow();
  ASSERT_GT(small.log().oldest_seq(), 1u);
  for (const std::string& p : small.Pages(1, 2048)) {
    const LogIngestResult r = ingest_->OnLogMessage(small.lock_id_hex(), p);
    ASSERT_TRUE(r.verdict == LogVerdict::kVerified || r.verdict == LogVerdict::kUnsigned) << r.detail;
  }
  const auto gaps = store_->Gaps("door_2", 0, 100000);
  ASSERT_FALSE(gaps.empty());
  bool loss = false;
  for (const LogGapRow& g : gaps) {
    EXPECT_NE(g.kind, "gap") << g.first << ".." << g.last;  // every missing number is declared
    if (g.kind == "loss" && g.reason.rfind("overflow", 0) == 0 && g.first == 1) loss = true;
  }
  EXPECT_TRUE(loss);
  EXPECT_GT(Count("SELECT COUNT(*) FROM log_records WHERE door_id = 'door_2' AND record_type = 'loss'"), 0);
}

TEST_P(LogIngestTest, A13_MalformedMessagesAreCountedAndDroppedAndAnUnknownLockStoresNothing) {
  lock_.Append(3, false);
  const std::string good = lock_.Page(1, 16384);
  const json g = json::parse(good);
  std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      std::string(200000, '['),
      json{{"from", 1}, {"next", 4}, {"head", true}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", true}, {"items", g["items"]}, {"extra", 1}}.dump(),
      json{{"from", -1}, {"next", 4}, {"head", true}, {"items", g["items"]}}.dump(),
      json{{"from", "1"}, {"next", 4}, {"head", true}, {"items", g["items"]}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", 1}, {"items", g["items"]}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", true}, {"items", json::array({1})}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", true}, {"items", "0"}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", true}, {"items", "zz"}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", true}, {"items", ""}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", true}, {"items", g["items"].get<std::string>().substr(0, 40)}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", true}, {"items", std::string(kMaxLogMessageBytes, 'a')}}.dump(),
      json{{"from", 1}, {"next", 4}, {"head", true}, {"items", {{"deep", {{"er", 1}}}}}}.dump(),
  };
  // A page that does not start with an anchor (its first item dropped).
  auto items = LockLogRig::Items(lock_.PageBytes(1, 16384));
  items.erase(items.begin());
  bad.push_back(LockLogRig::Message(1, 4, true, LockLogRig::Encode(items)));
  for (const std::string& b : bad) {
    const LogIngestResult r = Ingest(b);
    EXPECT_EQ(r.verdict, LogVerdict::kMalformed) << b.substr(0, 80);
    EXPECT_FALSE(r.detail.empty());
  }
  EXPECT_EQ(ingest_->counters().malformed.load(), bad.size());
  LockLogRig stranger(99);
  EXPECT_EQ(ingest_->OnLogMessage(stranger.lock_id_hex(), good).verdict, LogVerdict::kUnknownDoor);
  EXPECT_EQ(ingest_->OnLogMessage("not-hex", good).verdict, LogVerdict::kUnknownDoor);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_pages"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records"), 0);
  EXPECT_TRUE(events_.empty());
  // The good page still goes in afterwards.
  EXPECT_EQ(Ingest(good).verdict, LogVerdict::kUnsigned);
}

// A02: a record edited in transit (re-encoded with a valid CRC: another
// user) — the lock's signature over the chain no longer verifies.
TEST_P(LogIngestTest, A02_AnEditedRecordIsShownAsSuchAndNothingIsStoredFromIt) {
  lock_.Append(20, false);
  lock_.SignNow();
  auto items = SignedItems(1);
  store::LogItem& victim = items[5];
  ASSERT_EQ(victim.type, store::LogItemType::kRecord);
  auto record = store::DecodeLogRecord(victim.seq, std::span<const uint8_t>(victim.bytes.data(), victim.length));
  ASSERT_TRUE(record.ok());
  record->event.user_index = 42;
  std::array<uint8_t, store::kMaxLogRecordSize> bytes{};
  victim.length = static_cast<uint8_t>(store::EncodeLogEvent(record->event, victim.seq, bytes));
  victim.bytes = bytes;
  const LogIngestResult r = Ingest(Message(1, items));
  EXPECT_EQ(r.verdict, LogVerdict::kBadSignature) << r.detail;
  EXPECT_EQ(Records(), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_pages WHERE verdict = 'bad_signature'"), 1);  // kept as evidence
  EXPECT_EQ(events_.back().second["verdict"], "bad_signature");
  // The genuine page is then stored in full.
  EXPECT_EQ(Ingest(lock_.Page(1, 16384)).verdict, LogVerdict::kVerified);
  EXPECT_EQ(Records(), static_cast<int>(lock_.head()));
}

TEST_P(LogIngestTest, A02_AReorderedRecordIsShownAsSuch) {
  lock_.Append(20, false);
  lock_.SignNow();
  auto items = SignedItems(1);
  std::swap(items[3], items[4]);
  const LogIngestResult r = Ingest(Message(1, items));
  EXPECT_EQ(r.verdict, LogVerdict::kBrokenChain) << r.detail;
  EXPECT_EQ(Records(), 0);
}

TEST_P(LogIngestTest, A02_ADroppedRecordIsShownAsSuch) {
  lock_.Append(20, false);
  lock_.SignNow();
  auto items = SignedItems(1);
  items.erase(items.begin() + 6);
  const LogIngestResult r = Ingest(Message(1, items));
  EXPECT_EQ(r.verdict, LogVerdict::kBadSignature) << r.detail;
  EXPECT_EQ(Records(), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_gaps"), 0);
}

TEST_P(LogIngestTest, A02_APageSignedByAnotherLockIsShownAsSuch) {
  LockLogRig other(12);
  other.Append(20, false);
  other.SignNow();
  const LogIngestResult r = Ingest(other.Page(1, 16384));  // published under our door's lock id
  EXPECT_EQ(r.verdict, LogVerdict::kBadSignature) << r.detail;
  EXPECT_EQ(Records(), 0);
}

// A replayed old page changes nothing; an old page replayed with an edit is
// refused against the signed records and overwrites nothing.
TEST_P(LogIngestTest, A02_AReplayedOldPageIsShownAsSuchAndOverwritesNothing) {
  lock_.Append(20, false);
  lock_.SignNow();
  const std::string original = lock_.Page(1, 16384);
  ASSERT_EQ(Ingest(original).verdict, LogVerdict::kVerified);
  lock_.Append(10, false);
  lock_.SignNow();
  ASSERT_EQ(Ingest(lock_.Page(21, 16384)).verdict, LogVerdict::kVerified);
  const std::string before = Snapshot();
  EXPECT_EQ(Ingest(original).verdict, LogVerdict::kDuplicate);
  // The same old page with an unsigned tail record edited (the edit cannot
  // be signed, so the attacker drops the signed head): refused against the
  // signed record it would replace.
  const std::string hex = json::parse(original)["items"].get<std::string>();
  auto items = LockLogRig::Items(*FromHex(hex, hex.size() / 2));
  items.erase(items.end() - 2);  // the signed head
  for (store::LogItem& item : items) {
    if (item.type != store::LogItemType::kRecord || item.seq != 4) continue;
    auto record = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
    ASSERT_TRUE(record.ok());
    record->event.operation = core::LockOperationType::kUnlock;
    record->event.user_index = 5;
    item.length = static_cast<uint8_t>(store::EncodeLogEvent(record->event, item.seq, item.bytes));
  }
  const LogIngestResult r = Ingest(Message(1, items));
  EXPECT_EQ(r.verdict, LogVerdict::kBrokenChain) << r.detail;
  EXPECT_NE(r.detail.find("never overwritten"), std::string::npos) << r.detail;
  EXPECT_EQ(Snapshot(), before);
}

// A02: records forged before the lock signed them (a hostile relay replaced
// an unsigned page) are marked contradicted by the lock's next signature.
TEST_P(LogIngestTest, A02_ForgedUnsignedRecordsAreMarkedContradictedByTheLocksNextSignature) {
  lock_.Append(10, false);
  auto items = LockLogRig::Items(lock_.PageBytes(1, 16384));
  items.pop_back();  // the head tag (in place only for the genuine chain)
  for (store::LogItem& item : items) {
    if (item.type != store::LogItemType::kRecord || item.seq != 3) continue;
    auto record = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
    ASSERT_TRUE(record.ok());
    record->event.user_index = 4;
    item.length = static_cast<uint8_t>(store::EncodeLogEvent(record->event, item.seq, item.bytes));
  }
  ASSERT_EQ(Ingest(Message(1, items)).verdict, LogVerdict::kUnsigned);  // nothing can tell yet
  lock_.Append(5, false);
  lock_.SignNow();
  const LogIngestResult r = Ingest(lock_.Page(11, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_NE(r.detail.find("contradicted"), std::string::npos) << r.detail;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status = 'contradicted'"), 10);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status = 'signed'"), 5);
}

// Review finding: records the lock sends again after a page the server
// failed to store fill the gap that page left (they were taken for
// duplicates and lost for the server).
TEST_P(LogIngestTest, APageSentAgainAfterAFailedWriteFillsTheGap) {
  lock_.Append(60);
  lock_.SignNow();
  const std::vector<std::string> pages = lock_.Pages(1, 512);
  ASSERT_GE(pages.size(), 4u);
  ASSERT_NE(Ingest(pages[0]).verdict, LogVerdict::kBrokenChain);
  const uint64_t before_gap = store_->State("door_1").last_seq;
  // pages[1] and pages[2] are lost on the way (a failed write): a gap.
  for (size_t i = 3; i < pages.size(); ++i) ASSERT_NE(Ingest(pages[i]).verdict, LogVerdict::kBrokenChain);
  auto gaps = store_->Gaps("door_1", 0, 1000);
  ASSERT_EQ(gaps.size(), 1u);
  const LogGapRow gap = gaps[0];
  EXPECT_EQ(gap.first, before_gap + 1);
  // The lock sends pages[1] again: its records are stored, the gap shrinks.
  LogIngestResult r = Ingest(pages[1]);
  ASSERT_TRUE(r.verdict == LogVerdict::kVerified || r.verdict == LogVerdict::kUnsigned) << r.detail;
  EXPECT_GT(r.new_records, 0u);
  gaps = store_->Gaps("door_1", 0, 1000);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].kind, "gap");
  EXPECT_EQ(gaps[0].first, before_gap + 1 + r.new_records);
  EXPECT_EQ(gaps[0].last, gap.last);
  // After a reconnect the lock uploads again from its cursor: everything
  // from the gap to its signed head, in one page. The gap is closed, every
  // record is stored once, and the lock's signature covers the gap's records.
  r = Ingest(lock_.Page(before_gap + 1, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_EQ(r.new_records, gap.last - gaps[0].first + 1);
  EXPECT_TRUE(store_->Gaps("door_1", 0, 1000).empty());
  EXPECT_EQ(Records(), static_cast<int>(lock_.head()));
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT seq) FROM log_records WHERE door_id = 'door_1'"), Records());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status <> 'signed' AND seq > " +
                  std::to_string(before_gap)),
            0);
  // Sent once more: a duplicate.
  EXPECT_EQ(Ingest(lock_.Page(before_gap + 1, 16384)).verdict, LogVerdict::kDuplicate);
}

// Review finding (A02): a signature of the lock covers the chain from where
// the server saw it continue. Numbers the lock declared lost between two
// pages leave that chain unverified across them: records stored before
// them are never shown `signed` by a signature after them.
TEST_P(LogIngestTest, A02_ALossTheLockDeclaresDoesNotLetALaterSignatureSignRecordsBeforeIt) {
  LockLogRig small(13, store::AuditLog::kMinBlocks);
  AddDoor("door_2", small);
  small.Append(10, false);
  ASSERT_EQ(ingest_->OnLogMessage(small.lock_id_hex(), small.Page(1, 16384)).verdict, LogVerdict::kUnsigned);
  // The ring overwrites what nobody acknowledged and declares it lost; the
  // pages from the oldest record held carry the lock's signatures.
  small.Append(700);
  small.SignNow();
  ASSERT_GT(small.log().oldest_seq(), 11u);
  for (const std::string& p : small.Pages(1, 2048)) {
    const LogIngestResult r = ingest_->OnLogMessage(small.lock_id_hex(), p);
    ASSERT_TRUE(r.verdict == LogVerdict::kVerified || r.verdict == LogVerdict::kUnsigned) << r.detail;
  }
  for (const LogGapRow& g : store_->Gaps("door_2", 0, 100000)) EXPECT_NE(g.kind, "gap") << g.first;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE door_id = 'door_2' AND seq <= 10 AND status = 'unsigned'"),
            10);
  // A signature later still does not reach them.
  small.Append(3, false);
  small.SignNow();
  ASSERT_EQ(ingest_->OnLogMessage(small.lock_id_hex(), small.Page(small.head() - 2, 16384)).verdict,
            LogVerdict::kVerified);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE door_id = 'door_2' AND seq <= 10 AND status = 'signed'"), 0);
  EXPECT_EQ(store_->State("door_2").signed_through, small.head());
}

// Attacker report (A02): with the lock's broker identity and no signing
// key, one unsigned page (an anchor at #40 with a made-up chain, a loss
// record #41 saying #6..#40 were lost) made the server drop the lock's
// genuine, signed #6..#12 (verdict `verified`, new_records 0) and show the
// loss as declared by the lock. A claim no signature of the lock covers is
// provisional: the lock's signed records are stored, the loss is no row.
TEST_P(LogIngestTest, A02_AForgedUnsignedLossNeverHidesTheLocksSignedRecords) {
  lock_.Append(5);
  lock_.SignNow();
  IngestAll(1, 16384);
  ASSERT_EQ(store_->State("door_1").signed_through, 5u);
  LogIngestResult r = Ingest(Forged({ForgedAnchor(40), LossItem(41, 6, 35)}));
  EXPECT_EQ(r.verdict, LogVerdict::kUnsigned) << r.detail;
  EXPECT_FALSE(HasKind(Shown(), "loss"));  // never shown as declared by the lock
  // The lock comes back with #6..#12, signed.
  lock_.Append(7, false);
  lock_.SignNow();
  r = Ingest(lock_.Page(6, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_EQ(r.new_records, 7u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status = 'signed' AND seq <= 12"), 12);
  EXPECT_EQ(store_->State("door_1").signed_through, 12u);
  EXPECT_FALSE(HasKind(Shown(), "loss"));
  // The lock goes on past the forged numbers: its #41 replaces the forged
  // one, everything is stored once and signed, nothing is shown missing.
  lock_.Append(35, false);
  lock_.SignNow();
  r = Ingest(lock_.Page(13, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_NE(r.detail.find("replaced"), std::string::npos) << r.detail;
  EXPECT_EQ(Records(), static_cast<int>(lock_.head()));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status <> 'signed'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE record_type = 'loss'"), 0);
  EXPECT_TRUE(Shown().empty());
  EXPECT_EQ(store_->State("door_1").chain, ToHex(*lock_.log().ChainAt(lock_.head())));
}

// Attacker report (A02, mqtt_log_jump.py): one forged page jumping ahead
// with a void item (or an anchor alone) left genuine records unstored or
// unsigned for good and #54 shown as void. The lock's own pages, unsigned
// ones too, take the numbers back; its signature covers them all.
TEST_P(LogIngestTest, A02_AForgedVoidOrJumpNeverHidesTheLocksRecords) {
  for (const bool with_void : {true, false}) {
    SCOPED_TRACE(with_void ? "void" : "anchor alone");
    LockLogRig rig(with_void ? 21 : 22);
    const std::string door = with_void ? "door_v" : "door_a";
    AddDoor(door, rig);
    rig.Append(3);
    rig.SignNow();
    for (const std::string& p : rig.Pages(1, 16384)) ASSERT_EQ(ingest_->OnLogMessage(rig.lock_id_hex(), p).verdict, LogVerdict::kVerified);
    std::vector<store::LogItem> forged{ForgedAnchor(53)};
    if (with_void) forged.push_back(VoidItem(54));
    const LogIngestResult f = ingest_->OnLogMessage(rig.lock_id_hex(), Forged(forged));
    EXPECT_TRUE(f.verdict == LogVerdict::kUnsigned || f.verdict == LogVerdict::kDuplicate) << f.detail;
    EXPECT_FALSE(HasKind(Shown(door), "void"));
    // The lock's next pages, about 20 records each, the last one signed.
    rig.Append(80, false);
    rig.SignNow();
    for (const std::string& p : rig.Pages(4, 512)) {
      const LogIngestResult r = ingest_->OnLogMessage(rig.lock_id_hex(), p);
      ASSERT_TRUE(r.verdict == LogVerdict::kVerified || r.verdict == LogVerdict::kUnsigned)
          << LogVerdictName(r.verdict) << ": " << r.detail;
    }
    const std::string where = " FROM log_records WHERE door_id = '" + door + "'";
    EXPECT_EQ(Count("SELECT COUNT(*)" + where), static_cast<int>(rig.head()));
    EXPECT_EQ(Count("SELECT COUNT(*)" + where + " AND status <> 'signed'"), 0);
    EXPECT_EQ(Count("SELECT COUNT(*)" + where + " AND record_type = 'void'"), 0);
    EXPECT_TRUE(Shown(door).empty());
    EXPECT_EQ(store_->State(door).signed_through, rig.head());
  }
}

// Attacker report (A02/A13, mqtt_log_loss_overflow.py): a loss record's
// numbers were not range-checked (first 2^64-10 count 20 stored as a loss
// #18446744073709551606..#9; count 2^32-1 as a loss over #3..#4294967297).
// A loss must end before the record that declares it: anything else is no
// lock's record and the page is refused as malformed, storing nothing.
TEST_P(LogIngestTest, A02_ALossRecordWhoseNumbersAreOutOfRangeIsRefusedAsMalformed) {
  lock_.Append(2);
  lock_.SignNow();
  IngestAll(1, 16384);
  const std::string before = Snapshot();
  const int pages = Pages();
  struct Bad {
    uint64_t first;
    uint32_t count;
  };
  for (const Bad b : {Bad{~uint64_t{0} - 9, 20}, Bad{3, 0xFFFFFFFFu}, Bad{3, 7}, Bad{9, 1}, Bad{0, 4}, Bad{10, 0}}) {
    SCOPED_TRACE(std::to_string(b.first) + "+" + std::to_string(b.count));
    const LogIngestResult r = Ingest(Forged({ForgedAnchor(8), LossItem(9, b.first, b.count)}));
    EXPECT_EQ(r.verdict, LogVerdict::kMalformed) << r.detail;
    EXPECT_EQ(r.page_no, 0);
  }
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(Pages(), pages);
  EXPECT_TRUE(Shown().empty());
  EXPECT_EQ(ingest_->counters().malformed.load(), 6u);
  // In range (#3..#8, declared in #9): accepted, unsigned, and still no
  // row until a signature of the lock covers it.
  const LogIngestResult r = Ingest(Forged({ForgedAnchor(8), LossItem(9, 3, 6)}));
  EXPECT_EQ(r.verdict, LogVerdict::kUnsigned) << r.detail;
  EXPECT_FALSE(HasKind(Shown(), "loss"));
}

// A loss the lock declares in a record its next signature covers: the
// claim waits unsigned (shown as numbers never received), and becomes the
// lock's declared loss once a verified signature covers its record.
TEST_P(LogIngestTest, ALossInARecordStoredUnsignedIsShownDeclaredOnceTheLocksSignatureCoversIt) {
  LockLogRig small(13, store::AuditLog::kMinBlocks);
  AddDoor("door_2", small);
  small.Append(700);  // nobody acknowledges: overwritten and declared lost
  ASSERT_GT(small.log().oldest_seq(), 1u);
  // The newest loss record (the page that carries it, and where it starts).
  uint64_t loss_seq = 0, loss_page = 0;
  for (uint64_t next = 1, at = 1; next != 0; at = next)
    for (const store::LogItem& item : LockLogRig::Items(small.PageBytes(at, 2048, &next))) {
      if (item.type != store::LogItemType::kRecord) continue;
      auto rec = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
      if (rec.ok() && rec->type == store::LogRecordType::kLoss && rec->reason == store::LossReason::kOverflow) {
        loss_seq = item.seq;
        loss_page = at;
      }
    }
  ASSERT_NE(loss_seq, 0u);
  // Everything before that page, then the page cut right after the loss
  // record: the record is stored, no signature covers it yet.
  for (uint64_t next = 1, at = 1; at < loss_page; at = next)
    ASSERT_NE(ingest_->OnLogMessage(small.lock_id_hex(), small.Page(at, 2048, &next)).verdict, LogVerdict::kBrokenChain);
  auto items = LockLogRig::Items(small.PageBytes(loss_page, 2048));
  while (items.back().type != store::LogItemType::kRecord || items.back().seq != loss_seq) items.pop_back();
  ASSERT_EQ(ingest_->OnLogMessage(small.lock_id_hex(),
                                  LockLogRig::Message(loss_page, loss_seq + 1, false, LockLogRig::Encode(items)))
                .verdict,
            LogVerdict::kUnsigned);
  const std::string declared_in = "declared in #" + std::to_string(loss_seq);
  auto shown_declared = [&] {
    for (const LogGapRow& g : Shown("door_2"))
      if (g.kind == "loss" && g.reason.find(declared_in) != std::string::npos) return true;
    return false;
  };
  EXPECT_FALSE(shown_declared());
  // The lock's pages after it carry its signature over the record.
  for (const std::string& p : small.Pages(loss_seq + 1, 2048))
    ASSERT_NE(ingest_->OnLogMessage(small.lock_id_hex(), p).verdict, LogVerdict::kBrokenChain);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE door_id = 'door_2' AND status = 'signed' AND seq = " +
                  std::to_string(loss_seq)),
            1);
  EXPECT_TRUE(shown_declared());
  for (const LogGapRow& g : Shown("door_2")) EXPECT_NE(g.kind, "gap") << g.first << ".." << g.last;
}

// An unsigned page may replace unsigned records (so that a forged one never
// blocks the lock's own), but the lock's later signature over the records
// after it never reaches back to mark the replacements signed; the lock's
// own page, sent again, replaces them and signs them.
TEST_P(LogIngestTest, A02_RecordsAnUnsignedPageReplacedAreNeverSignedByALaterSignatureAfterThem) {
  lock_.Append(20, false);
  ASSERT_EQ(Ingest(lock_.Page(1, 16384)).verdict, LogVerdict::kUnsigned);
  auto items = LockLogRig::Items(lock_.PageBytes(1, 16384));
  while (items.back().type != store::LogItemType::kRecord || items.back().seq > 10) items.pop_back();
  for (store::LogItem& item : items) {
    if (item.type != store::LogItemType::kRecord || item.seq != 3) continue;
    auto record = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
    ASSERT_TRUE(record.ok());
    record->event.user_index = 4;
    item.length = static_cast<uint8_t>(store::EncodeLogEvent(record->event, item.seq, item.bytes));
  }
  LogIngestResult r = Ingest(LockLogRig::Message(1, 11, false, LockLogRig::Encode(items)));
  EXPECT_EQ(r.verdict, LogVerdict::kUnsigned) << r.detail;
  EXPECT_NE(r.detail.find("replaces 8 unsigned record(s)"), std::string::npos) << r.detail;
  lock_.Append(5, false);
  lock_.SignNow();
  r = Ingest(lock_.Page(21, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status = 'signed' AND seq <= 10"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status = 'signed' AND seq > 10"), 15);
  // The lock uploads again from its cursor (a reconnect): its own records.
  r = Ingest(lock_.Page(1, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status <> 'signed'"), 0);
  EXPECT_EQ(Records(), 25);
  const auto third = store_->Records("door_1", 2, 1);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].chain, ToHex(*lock_.log().ChainAt(3)));
}

// The lock's own unsigned pages take back, in order, what a forged page
// replaced; once a page of the lock continues from a record it took back,
// its signature reaches back over them all.
TEST_P(LogIngestTest, A02_TheLocksOwnPagesTakeBackWhatAForgedPageReplacedAndItsSignatureCoversThem) {
  lock_.Append(20, false);
  const auto genuine = LockLogRig::Items(lock_.PageBytes(1, 16384));
  auto upto = [&](std::vector<store::LogItem> items, uint64_t last) {
    while (items.back().type != store::LogItemType::kRecord || items.back().seq > last) items.pop_back();
    return items;
  };
  auto forged = upto(genuine, 10);
  for (store::LogItem& item : forged) {
    if (item.type != store::LogItemType::kRecord || item.seq != 3) continue;
    auto record = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
    ASSERT_TRUE(record.ok());
    record->event.user_index = 4;
    item.length = static_cast<uint8_t>(store::EncodeLogEvent(record->event, item.seq, item.bytes));
  }
  ASSERT_EQ(Ingest(LockLogRig::Message(1, 11, false, LockLogRig::Encode(forged))).verdict, LogVerdict::kUnsigned);
  // The lock's page of #1..#6, then its next page from #7 with its signature.
  LogIngestResult r = Ingest(LockLogRig::Message(1, 7, false, LockLogRig::Encode(upto(genuine, 6))));
  EXPECT_EQ(r.verdict, LogVerdict::kUnsigned) << r.detail;
  lock_.Append(5, false);
  lock_.SignNow();
  r = Ingest(lock_.Page(7, 16384));
  EXPECT_EQ(r.verdict, LogVerdict::kVerified) << r.detail;
  EXPECT_EQ(Records(), 25);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status <> 'signed'"), 0);
  const auto third = store_->Records("door_1", 2, 1);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].chain, ToHex(*lock_.log().ChainAt(3)));
}

// Review finding: refused pages are kept as evidence, the newest
// kMaxRefusedPages per door; older ones are deleted and counted.
TEST_P(LogIngestTest, RefusedPagesAreKeptAsEvidenceUpToABoundPerDoor) {
  LockLogRig other(12);
  other.Append(3, false);
  other.SignNow();
  const std::string forged = other.Page(1, 16384);  // another lock's page under our lock id
  const int extra = 5;
  for (int i = 0; i < kMaxRefusedPages + extra; ++i) ASSERT_EQ(Ingest(forged).verdict, LogVerdict::kBadSignature);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_pages WHERE door_id = 'door_1'"), kMaxRefusedPages);
  EXPECT_EQ(Count("SELECT MAX(page_no) FROM log_pages WHERE door_id = 'door_1'"), kMaxRefusedPages + extra);
  EXPECT_EQ(Count("SELECT MIN(page_no) FROM log_pages WHERE door_id = 'door_1'"), extra + 1);
  EXPECT_EQ(ingest_->counters().refused_dropped.load(), static_cast<uint64_t>(extra));
  // Accepted pages are never deleted by the bound.
  lock_.Append(5);
  lock_.SignNow();
  ASSERT_EQ(Ingest(lock_.Page(1, 16384)).verdict, LogVerdict::kVerified);
  ASSERT_EQ(Ingest(forged).verdict, LogVerdict::kBadSignature);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_pages WHERE door_id = 'door_1' AND verdict = 'verified'"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_pages WHERE door_id = 'door_1'"), kMaxRefusedPages + 1);
}

// Group commit: several pages of several doors in one transaction decide
// exactly as one at a time (each sees the pages before it), and the intake's
// thread stores everything enqueued before Stop().
TEST_P(LogIngestTest, PagesCommittedTogetherAreDecidedAsOneAtATime) {
  LockLogRig second(14);
  AddDoor("door_2", second);
  lock_.Append(40);
  lock_.SignNow();
  second.Append(40);
  second.SignNow();
  std::vector<LogMessageIn> batch;
  const auto a = lock_.Pages(1, 512);
  const auto b = second.Pages(1, 512);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) batch.push_back({lock_.lock_id_hex(), a[i]});
    if (i < b.size()) batch.push_back({second.lock_id_hex(), b[i]});
  }
  batch.push_back({lock_.lock_id_hex(), a[0]});  // a duplicate inside the batch
  const std::vector<LogIngestResult> results = ingest_->OnLogMessages(batch);
  ASSERT_EQ(results.size(), batch.size());
  for (size_t i = 0; i + 1 < results.size(); ++i)
    EXPECT_TRUE(results[i].verdict == LogVerdict::kVerified || results[i].verdict == LogVerdict::kUnsigned)
        << i << ": " << results[i].detail;
  EXPECT_EQ(results.back().verdict, LogVerdict::kDuplicate);
  EXPECT_EQ(ingest_->counters().commits.load(), 1u);
  EXPECT_EQ(Records(), static_cast<int>(lock_.head()));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE door_id = 'door_2'"), static_cast<int>(second.head()));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_records WHERE status <> 'signed'"), 0);
  EXPECT_EQ(events_.size(), batch.size() - 1);  // after the commit, one per stored page
  // Through the intake's thread.
  lock_.Append(30);
  lock_.SignNow();
  ingest_->Start(4, 2);
  for (const std::string& p : lock_.Pages(41, 512)) ingest_->Enqueue(lock_.lock_id_hex(), p);
  ingest_->Stop();
  EXPECT_EQ(Records(), static_cast<int>(lock_.head()));
  EXPECT_EQ(store_->State("door_1").signed_through, lock_.head());
}

INSTANTIATE_TEST_SUITE_P(Backend, LogIngestTest, ::testing::Values(testing::TestBackend()));

// The API over the stored log: records with their status and gaps, paged;
// the raw pages, which the owner's tools verify with the pinned lock key
// (and so catch a server that edited what it stored).
class LogApiTest : public testing::OrgWorldFixture {
 protected:
  void SetUp() override {
    OrgWorldFixture::SetUp();
    owner_ = NewAccount("owner");
    org_ = NewOrg(owner_, "home", &site_);
    DoorRow d{"door_log", org_, site_, "Front", lock_.lock_id_hex(), lock_.public_key_hex(), std::string(130, 'b'),
              "seed", clock_.NowMs()};
    ASSERT_TRUE(repo_->CreateDoor(d, SeedEvent(org_)));
    store_ = std::make_unique<LogStore>(*repo_);
    ingest_ = std::make_unique<LogIngest>(*store_, clock_);
    base_ = "/api/v1/orgs/" + org_ + "/doors/door_log/log";
  }
  void TearDown() override {
    ingest_.reset();
    store_.reset();
    OrgWorldFixture::TearDown();
  }
  LockLogRig lock_{21};
  testing::Caller owner_;
  std::string org_, site_, base_;
  std::unique_ptr<LogStore> store_;
  std::unique_ptr<LogIngest> ingest_;
};

TEST_P(LogApiTest, RecordsArePagedWithTheirStatusAndGapsAreShown) {
  lock_.Append(30, false);
  lock_.SignNow();
  const std::vector<std::string> pages = lock_.Pages(1, 256);
  ASSERT_GE(pages.size(), 4u);
  for (size_t i = 0; i < pages.size(); ++i) {
    if (i == 1) continue;  // page 2 lost
    ASSERT_NE(ingest_->OnLogMessage(lock_.lock_id_hex(), pages[i]).page_no, 0);
  }
  std::vector<json> records;
  json gaps = json::array();
  std::string cursor;
  for (int round = 0; round < 10; ++round) {
    const auto r = Call("GET", base_ + "?limit=7" + (cursor.empty() ? "" : "&cursor=" + cursor), nullptr, owner_.headers);
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = r.Json();
    for (const json& item : j["items"]) records.push_back(item);
    for (const json& g : j["gaps"]) gaps.push_back(g);
    EXPECT_EQ(j["chain"]["last_seq"], lock_.head());
    EXPECT_EQ(j["chain"]["signed_through"], lock_.head());
    if (j["next_cursor"].is_null()) break;
    cursor = j["next_cursor"].get<std::string>();
  }
  ASSERT_EQ(gaps.size(), 1u) << gaps.dump();
  EXPECT_EQ(gaps[0]["kind"], "gap");
  const uint64_t gap = gaps[0]["last"].get<uint64_t>() - gaps[0]["first"].get<uint64_t>() + 1;
  EXPECT_EQ(records.size() + gap, lock_.head());
  for (size_t i = 1; i < records.size(); ++i) EXPECT_LT(records[i - 1]["seq"], records[i]["seq"]);
  EXPECT_EQ(records.front()["type"], "event");
  EXPECT_EQ(records.front()["status"], "unsigned");  // before the gap: no signature reaches it
  EXPECT_EQ(records.back()["status"], "signed");
  EXPECT_FALSE(records.back()["text"].get<std::string>().empty());
  EXPECT_EQ(Call("GET", base_ + "?cursor=x", nullptr, owner_.headers).ErrorCode(), "invalid_cursor");
  EXPECT_EQ(Call("GET", "/api/v1/orgs/" + org_ + "/doors/door_nope/log", nullptr, owner_.headers).status, 404);
}

// What `mortise log --server` does: fetch the raw pages and verify them
// with the lock key pinned at the claim. A server that edited a stored page
// is caught; the server's own verdicts are only advisory.
TEST_P(LogApiTest, A02_TheRawPagesVerifyWithThePinnedLockKeyAndAServersEditIsCaught) {
  lock_.Append(40, false);
  lock_.SignNow();
  for (const std::string& p : lock_.Pages(1, 512)) ASSERT_NE(ingest_->OnLogMessage(lock_.lock_id_hex(), p).page_no, 0);
  auto verify = [&]() {
    const auto key = crypto::P256PublicKey::Import(*FromHex(lock_.public_key_hex(), kPublicKeyBytes)).value();
    std::array<uint8_t, store::kLogLockIdSize> id{};
    const auto raw_id = *FromHex(lock_.lock_id_hex(), kLockIdBytes);
    std::copy(raw_id.begin(), raw_id.end(), id.begin());
    store::LogVerifier v(key, id, 1, 0, 0);
    std::string cursor;
    uint64_t next = 1;  // the pages of the stream the lock sent, in order
    for (int round = 0; round < 20; ++round) {
      const auto r = Call("GET", base_ + "/pages?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), nullptr,
                          owner_.headers);
      EXPECT_EQ(r.status, 200) << r.body;
      const json j = r.Json();
      EXPECT_EQ(j["lock_id"], lock_.lock_id_hex());
      for (const json& page : j["items"]) {
        const std::string hex = page["items"].get<std::string>();
        const auto items = LockLogRig::Items(*FromHex(hex, hex.size() / 2));
        // Pages after the first continue at their anchor; the verifier
        // checks the anchor continues the chain.
        for (const store::LogItem& item : items) {
          if (item.type == store::LogItemType::kHead && !page["head"].get<bool>()) continue;
          if (item.type == store::LogItemType::kAnchor && item.seq + 1 != next && next != 1) continue;
          if ((item.type == store::LogItemType::kRecord || item.type == store::LogItemType::kVoid) && item.seq < next)
            continue;
          v.Feed(item);
          if (item.type == store::LogItemType::kRecord) next = item.seq + 1;
        }
      }
      if (j["next_cursor"].is_null()) break;
      cursor = j["next_cursor"].get<std::string>();
    }
    return v.Finish();
  };
  const store::LogFindings good = verify();
  EXPECT_TRUE(good.offline_ok()) << good.bad_signatures << " " << good.unexplained_gaps;
  EXPECT_EQ(good.signed_through, lock_.head());
  // The hostile server edits a stored page (one byte of a record's event).
  const std::string items = repo_->QueryText("SELECT items FROM log_pages WHERE door_id = 'door_log' AND page_no = 1");
  auto bytes = *FromHex(items, items.size() / 2);
  auto decoded = LockLogRig::Items(bytes);
  auto record = store::DecodeLogRecord(decoded[3].seq, std::span<const uint8_t>(decoded[3].bytes.data(), decoded[3].length));
  ASSERT_TRUE(record.ok());
  record->event.user_index = 77;
  decoded[3].length = static_cast<uint8_t>(store::EncodeLogEvent(record->event, decoded[3].seq, decoded[3].bytes));
  repo_->QueryText("UPDATE log_pages SET items = '" + ToHex(LockLogRig::Encode(decoded)) +
                   "' WHERE door_id = 'door_log' AND page_no = 1");
  const store::LogFindings bad = verify();
  EXPECT_FALSE(bad.offline_ok());
  EXPECT_GT(bad.bad_tags + bad.bad_signatures, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backend, LogApiTest, ::testing::Values(testing::TestBackend()));

}  // namespace
}  // namespace mortise::server
