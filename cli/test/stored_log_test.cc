// `mortise log --server`'s verifier: the pages a (possibly hostile)
// mortise-server stores, checked on the owner's device with the pinned lock
// key. Pages come from the real store::AuditLog with the lock's head signer,
// read exactly as lockd's uplink publishes them (server/test/log_rig.h).
#include "stored_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "key_string.h"
#include "log_rig.h"

namespace mortise::cli {
namespace {

using server::testing::LockLogRig;

std::vector<StoredLogPage> Served(const std::vector<std::string>& messages) {
  std::vector<StoredLogPage> out;
  for (const std::string& m : messages)
    out.push_back(StoredLogPage{"page " + std::to_string(out.size() + 1), nlohmann::json::parse(m)["items"]});
  return out;
}

struct Read {
  std::vector<StoredLogEntry> entries;
  std::vector<std::string> problems;
  std::vector<StoredLogVerifier::Gap> gaps;
  store::LogFindings findings;
  uint64_t signed_through = 0;
  bool ok = false;
};

Read Verify(LockLogRig& rig, const std::vector<StoredLogPage>& pages, uint64_t from = 1) {
  const auto key = crypto::P256PublicKey::Import(rig.authority().identity().key().public_key().bytes()).value();
  StoredLogVerifier v(key, rig.authority().identity().lock_id(), from, 0, 0);
  for (const StoredLogPage& p : pages) v.Add(p);
  Read r;
  r.findings = v.Finish();
  r.entries = v.entries();
  r.problems = v.problems();
  r.gaps = v.gaps();
  r.signed_through = v.signed_through();
  r.ok = v.ok();
  return r;
}

std::string Problems(const Read& r) {
  std::string s;
  for (const auto& p : r.problems) s += p + "\n";
  return s;
}

// The items of a page, to edit them as a hostile server would.
std::vector<store::LogItem> ItemsOf(const StoredLogPage& p) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(FromHex(p.items_hex, bytes));
  return LockLogRig::Items(bytes);
}
StoredLogPage WithItems(const StoredLogPage& p, const std::vector<store::LogItem>& items) {
  return StoredLogPage{p.name, ToHex(LockLogRig::Encode(items))};
}
// The index of the first event record in a page's items.
size_t FirstEvent(const std::vector<store::LogItem>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].type != store::LogItemType::kRecord) continue;
    auto r = store::DecodeLogRecord(items[i].seq, std::span<const uint8_t>(items[i].bytes.data(), items[i].length));
    if (r.ok() && r->type == store::LogRecordType::kEvent) return i;
  }
  ADD_FAILURE() << "no event in the page";
  return 0;
}
// A hostile server's edit: the page's first event now names user 77.
// Returns that record's number.
uint64_t EditFirstEvent(StoredLogPage& page) {
  auto items = ItemsOf(page);
  const size_t at = FirstEvent(items);
  auto record = store::DecodeLogRecord(items[at].seq, std::span<const uint8_t>(items[at].bytes.data(), items[at].length));
  EXPECT_TRUE(record.ok());
  record->event.user_index = 77;  // someone else opened the door
  items[at].length = static_cast<uint8_t>(store::EncodeLogEvent(record->event, items[at].seq, items[at].bytes));
  page = WithItems(page, items);
  return items[at].seq;
}
bool AllSigned(const Read& r) {
  for (const auto& e : r.entries)
    if (!e.is_signed) return false;
  return !r.entries.empty();
}

TEST(StoredLog, EveryPageOfASignedLogVerifiesAndEveryRecordIsShownOnceSigned) {
  LockLogRig rig;
  rig.Append(40);
  rig.SignNow();
  const auto pages = Served(rig.Pages(1, 256));
  ASSERT_GE(pages.size(), 4u);
  const Read r = Verify(rig, pages);
  EXPECT_TRUE(r.ok) << Problems(r);
  EXPECT_TRUE(r.problems.empty() && r.gaps.empty());
  ASSERT_EQ(r.entries.size(), rig.head());
  for (size_t i = 0; i < r.entries.size(); ++i) EXPECT_EQ(r.entries[i].item.seq, i + 1);
  EXPECT_TRUE(AllSigned(r));
  EXPECT_EQ(r.signed_through, rig.head());
}

TEST(StoredLog, AResumedUploadThatSendsRecordsAgainIsJoinedWithNothingTwice) {
  LockLogRig rig;
  rig.Append(30);
  auto messages = rig.Pages(1, 256);
  rig.Append(10);
  rig.SignNow();
  // The lock reconnected and resumed from its custody cursor (#5).
  for (const std::string& m : rig.Pages(5, 256)) messages.push_back(m);
  const Read r = Verify(rig, Served(messages));
  EXPECT_TRUE(r.ok) << Problems(r);
  ASSERT_EQ(r.entries.size(), rig.head());
  for (size_t i = 0; i < r.entries.size(); ++i) EXPECT_EQ(r.entries[i].item.seq, i + 1);
  EXPECT_TRUE(AllSigned(r));
}

TEST(StoredLog, A02_RecordsTheLockHasNotSignedYetAreNeverShownSignedAndTheReadDoesNotVerify) {
  LockLogRig rig;
  rig.Append(30);
  rig.SignNow();
  const uint64_t signed_through = rig.head();
  rig.Append(4, false);
  const Read r = Verify(rig, Served(rig.Pages(1, 256)));
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.problems.empty()) << Problems(r);
  EXPECT_TRUE(r.gaps.empty());
  EXPECT_EQ(r.signed_through, signed_through);
  ASSERT_EQ(r.entries.size(), rig.head());
  for (const auto& e : r.entries) EXPECT_EQ(e.is_signed, e.item.seq <= signed_through) << e.item.seq;
  // Read again after the lock's next signature: everything verifies.
  rig.SignNow();
  const Read later = Verify(rig, Served(rig.Pages(1, 256)));
  EXPECT_TRUE(later.ok) << Problems(later);
}

TEST(StoredLog, RecordsBeforeFromMayBeAbsentAndALockDeclaredLossIsNoGap) {
  LockLogRig rig(11, 3);  // a small ring: unacknowledged records are overwritten and declared lost
  rig.Append(700);
  rig.SignNow();
  const Read r = Verify(rig, Served(rig.Pages(1, 2048)));
  EXPECT_GT(r.findings.lost_by_lock + r.findings.explained_gaps, 0u);
  EXPECT_TRUE(r.gaps.empty()) << r.gaps.front().first << ".." << r.gaps.front().last;
  EXPECT_TRUE(r.ok) << Problems(r);
  // From a later point, earlier pages may be missing.
  const Read tail = Verify(rig, Served(rig.Pages(rig.head() - 20, 2048)), rig.head() - 20);
  EXPECT_TRUE(tail.ok) << Problems(tail);
}

TEST(StoredLog, A02_AnEditedRecordIsReportedAndNeverShownSigned) {
  LockLogRig rig;
  rig.Append(40);
  rig.SignNow();
  auto pages = Served(rig.Pages(1, 256));
  const uint64_t edited = EditFirstEvent(pages[1]);
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.problems.empty());
  for (const auto& e : r.entries) {
    if (e.item.seq != edited) continue;
    auto shown = store::DecodeLogRecord(e.item.seq, std::span<const uint8_t>(e.item.bytes.data(), e.item.length));
    EXPECT_FALSE(e.is_signed && shown->event.user_index == 77) << "an edited record shown as the lock's";
  }
}

TEST(StoredLog, A02_AnEditedRecordInAPageWithoutASignatureIsCaughtByTheNextPage) {
  LockLogRig rig;
  rig.Append(12, false);
  uint64_t next = 0;
  std::vector<StoredLogPage> pages = Served({rig.Page(1, 4096, &next)});  // no signed head yet
  rig.SignNow();
  rig.Append(3, false);
  rig.SignNow();
  pages.push_back(Served({rig.Page(rig.head() - 4, 4096)})[0]);  // the next upload, signed
  EditFirstEvent(pages[0]);
  const uint64_t last = ItemsOf(pages[0]).back().seq;
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  ASSERT_FALSE(r.problems.empty());
  for (const auto& e : r.entries) {
    if (e.item.seq <= last) {
      EXPECT_FALSE(e.is_signed) << e.item.seq;
    }
  }
}

TEST(StoredLog, A02_ARecordDeletedInTheMiddleIsReported) {
  LockLogRig rig;
  rig.Append(40);
  rig.SignNow();
  auto pages = Served(rig.Pages(1, 256));
  auto items = ItemsOf(pages[1]);
  const size_t at = FirstEvent(items);
  const uint64_t gone = items[at].seq;
  items.erase(items.begin() + static_cast<std::ptrdiff_t>(at));
  pages[1] = WithItems(pages[1], items);
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.problems.empty() && r.gaps.empty());
  for (const auto& e : r.entries) EXPECT_NE(e.item.seq, gone);
}

TEST(StoredLog, A02_ARecordDuplicatedInAPageIsReported) {
  LockLogRig rig;
  rig.Append(20);
  rig.SignNow();
  auto pages = Served(rig.Pages(1, 256));
  auto items = ItemsOf(pages[0]);
  const size_t at = FirstEvent(items);
  items.insert(items.begin() + static_cast<std::ptrdiff_t>(at) + 1, items[at]);
  pages[0] = WithItems(pages[0], items);
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.problems.empty());
}

TEST(StoredLog, A02_PagesReorderedByTheServerAreReported) {
  LockLogRig rig;
  rig.Append(40);
  rig.SignNow();
  auto pages = Served(rig.Pages(1, 256));
  ASSERT_GE(pages.size(), 4u);
  std::swap(pages[1], pages[2]);
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.gaps.empty());
  ASSERT_FALSE(r.problems.empty());
  EXPECT_NE(Problems(r).find("out of the order"), std::string::npos) << Problems(r);
}

TEST(StoredLog, A02_AWithheldPageIsAGap) {
  LockLogRig rig;
  rig.Append(40);
  rig.SignNow();
  auto pages = Served(rig.Pages(1, 256));
  pages.erase(pages.begin() + 1);
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.gaps.size(), 1u);
}

TEST(StoredLog, A02_APageOfAnotherLockIsReported) {
  LockLogRig rig;
  LockLogRig other(99);
  rig.Append(40);
  rig.SignNow();
  other.Append(3);  // not the same events at the same numbers
  other.Append(40);
  other.SignNow();
  auto pages = Served(rig.Pages(1, 4096));
  ASSERT_EQ(pages.size(), 1u);
  const auto foreign = Served(other.Pages(1, 4096));
  // Its signatures are not the pinned lock's.
  pages.push_back(StoredLogPage{"page 2", foreign[0].items_hex});
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(Problems(r).find("do not verify with the pinned lock key"), std::string::npos) << Problems(r);
  EXPECT_EQ(r.entries.size(), rig.head());
  // Only pages of another lock: nothing of it is shown signed.
  const Read all = Verify(rig, foreign);
  EXPECT_FALSE(all.ok);
  for (const auto& e : all.entries) EXPECT_FALSE(e.is_signed);
}

TEST(StoredLog, A02_AForgedSignedHeadIsReported) {
  LockLogRig rig;
  rig.Append(40);
  rig.SignNow();
  auto pages = Served(rig.Pages(1, 4096));
  auto items = ItemsOf(pages.back());
  bool forged = false;
  for (auto& item : items) {
    if (item.type != store::LogItemType::kSignedHead) continue;
    item.bytes[20] ^= 0x01;  // a byte of the signature
    forged = true;
  }
  ASSERT_TRUE(forged);
  pages.back() = WithItems(pages.back(), items);
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(Problems(r).find("do not verify"), std::string::npos) << Problems(r);
}

TEST(StoredLog, A02_RecordsForgedBeforeTheLockSignedAreReplacedByItsSignedVersionAndReported) {
  LockLogRig rig;
  rig.Append(6, false);
  auto first = Served({rig.Page(1, 4096)});
  // A relay replaced the unsigned page with records of its own choosing.
  EditFirstEvent(first[0]);
  std::vector<StoredLogPage> pages = {first[0]};
  rig.SignNow();
  pages.push_back(Served({rig.Page(1, 4096)})[0]);  // the lock sends them again, signed
  pages.back().name = "page 2";
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(Problems(r).find("contradicted by the lock's signature"), std::string::npos) << Problems(r);
  ASSERT_EQ(r.entries.size(), rig.head());
  EXPECT_TRUE(AllSigned(r));
  for (const auto& e : r.entries) {
    auto shown = store::DecodeLogRecord(e.item.seq, std::span<const uint8_t>(e.item.bytes.data(), e.item.length));
    EXPECT_NE(shown->event.user_index, 77);
  }
}

TEST(StoredLog, A13_PagesThatAreNotTheLocksExportAreReported) {
  LockLogRig rig;
  rig.Append(10);
  rig.SignNow();
  auto pages = Served(rig.Pages(1, 4096));
  pages.push_back(StoredLogPage{"page x", "zz"});
  pages.push_back(StoredLogPage{"page y", "0102"});
  pages.push_back(StoredLogPage{"page z", ""});
  const Read r = Verify(rig, pages);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problems.size(), 3u) << Problems(r);
  EXPECT_EQ(r.entries.size(), rig.head());
}

}  // namespace
}  // namespace mortise::cli
