// The audit log read in pages over the protocol: every page fed to one
// verifier checks as a whole, whatever the page size.
#include "mortise/protocol/log_source.h"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <vector>

#include "mortise/protocol/log_key.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

namespace mortise::protocol {
namespace {

constexpr size_t kBlock = 4096;

struct Rig {
  std::vector<uint8_t> record_mem = std::vector<uint8_t>(8 * kBlock);
  std::vector<uint32_t> record_erases = std::vector<uint32_t>(8);
  std::vector<uint8_t> log_mem = std::vector<uint8_t>(8 * kBlock);
  std::vector<uint32_t> log_erases = std::vector<uint32_t>(8);
  store::FakeFlash record_flash{record_mem, record_erases};
  store::FakeFlash log_flash{log_mem, log_erases};
  std::array<store::RecordIndexEntry, 256> index{};
  store::RecordStore records{record_flash, index};
  crypto::DeterministicEntropy entropy{11};
  crypto::Drbg drbg{entropy};
  std::optional<protocol::LockAuthority> authority;
  std::optional<store::HmacLogAuthenticator> auth;
  std::optional<store::AuditLog> log;

  Rig() {
    EXPECT_TRUE(records.Mount().ok());
    EXPECT_TRUE(drbg.Seed().ok());
    authority.emplace(records, drbg);
    EXPECT_TRUE(authority->Start().ok());
    EXPECT_TRUE(MakeLogAuthenticator(*authority, auth).ok());
    log.emplace(log_flash, records, *auth);
    EXPECT_TRUE(log->Mount().ok());
  }

  void Append(int n) {
    for (int i = 0; i < n; ++i) {
      core::LockEvent e;
      e.kind = i % 3 == 0 ? core::EventKind::kLockOperation : core::EventKind::kDoorStateChange;
      e.monotonic_ms = 1000 + static_cast<uint64_t>(i) * 10;
      e.utc_seconds = i % 2 ? 1767225600 + i : 0;  // some long-form records
      e.user_index = static_cast<uint16_t>(i % 7);
      log->Emit(e);
    }
  }
};

struct PageResult {
  store::LogFindings findings;
  int pages = 0;
  uint64_t records_seen = 0;
};

PageResult ReadAllPages(AuditLogSource& source, const store::LogAuthenticator& auth, uint64_t from, size_t page) {
  const std::array<uint8_t, 16> challenge = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
  store::LogChallenge c;
  std::copy(challenge.begin(), challenge.end(), c.begin());
  store::LogVerifier verifier(auth, c, from == 0 ? 1 : from);
  PageResult r;
  std::vector<uint8_t> buf(page);
  uint64_t next = from;
  do {
    uint64_t next_from = 12345;
    auto n = source.ReadPage(next, challenge, buf, next_from);
    EXPECT_TRUE(n.ok());
    if (!n.ok()) break;
    EXPECT_LE(*n, page);
    ++r.pages;
    // Whole items only: the page decodes exactly.
    size_t at = 0;
    bool first = true;
    while (at < *n) {
      store::LogItem item;
      auto used = store::DecodeLogItem(std::span<const uint8_t>(buf.data() + at, *n - at), item);
      EXPECT_TRUE(used.ok());
      if (!used.ok()) return r;
      if (first) {
        EXPECT_EQ(item.type, store::LogItemType::kAnchor) << "every page starts with an anchor";
      }
      first = false;
      if (item.type == store::LogItemType::kRecord) ++r.records_seen;
      verifier.Feed(item);
      at += *used;
    }
    if (next_from != 0) {
      EXPECT_GT(next_from, next) << "each page makes progress";
    }
    next = next_from;
    if (r.pages > 10000) break;
  } while (next != 0);
  r.findings = verifier.Finish();
  return r;
}

TEST(LogSource, OnePageWhenItFits) {
  Rig rig;
  rig.Append(5);
  AuditLogSource source(*rig.log);
  auto r = ReadAllPages(source, *rig.auth, 1, 4096);
  EXPECT_EQ(r.pages, 1);
  EXPECT_TRUE(r.findings.ok());
  EXPECT_EQ(r.records_seen, 5u);
}

TEST(LogSource, ManyPagesVerifyAsOneExportAtEverySize) {
  Rig rig;
  rig.Append(400);  // several segments, with their seals (checkpoints)
  AuditLogSource source(*rig.log);
  for (size_t page : {size_t{100}, size_t{128}, size_t{200}, size_t{333}, protocol::kMaxResponsePayload}) {
    auto r = ReadAllPages(source, *rig.auth, 1, page);
    EXPECT_TRUE(r.findings.ok()) << "page " << page << ": unverified " << r.findings.unverified << " gaps "
                                 << r.findings.unexplained_gaps << " bad tags " << r.findings.bad_tags << " order "
                                 << r.findings.order_errors << " head " << r.findings.head_verified;
    EXPECT_GT(r.pages, 1) << page;
    EXPECT_EQ(r.findings.records + r.findings.unverified, rig.log->next_seq() - rig.log->oldest_seq()) << page;
  }
}

TEST(LogSource, StartsWhereTheReaderLeftOff) {
  Rig rig;
  rig.Append(60);
  AuditLogSource source(*rig.log);
  auto r = ReadAllPages(source, *rig.auth, 41, 160);
  EXPECT_TRUE(r.findings.ok());
  EXPECT_EQ(r.records_seen, rig.log->next_seq() - 41);
}

TEST(LogSource, EmptyLogIsAnAnchorAndAHead) {
  Rig rig;
  AuditLogSource source(*rig.log);
  auto r = ReadAllPages(source, *rig.auth, 1, 128);
  EXPECT_EQ(r.pages, 1);
  EXPECT_TRUE(r.findings.ok());
}

TEST(LogSource, PageTooSmallForProgressIsRefused) {
  Rig rig;
  rig.Append(3);
  AuditLogSource source(*rig.log);
  std::array<uint8_t, 16> challenge{};
  std::vector<uint8_t> buf(45);  // an anchor (41 bytes) and nothing more
  uint64_t next = 0;
  auto n = source.ReadPage(1, challenge, buf, next);
  EXPECT_EQ(n.status().code(), StatusCode::kResourceExhausted);
}

TEST(LogSource, AnotherKeyDoesNotVerify) {
  Rig rig;
  rig.Append(10);
  AuditLogSource source(*rig.log);
  const std::vector<uint8_t> wrong(32, 0x5A);
  store::HmacLogAuthenticator other(wrong);
  auto r = ReadAllPages(source, other, 1, 200);
  EXPECT_FALSE(r.findings.ok());
}

// Every item of every page from record 1 to the head, pages of `page`
// bytes read with an all-zero challenge (as the uplink reads them).
void ForEachItem(AuditLogSource& source, size_t page, const std::function<void(const store::LogItem&)>& each) {
  std::array<uint8_t, 16> challenge{};
  std::vector<uint8_t> buf(page);
  uint64_t next = 1;
  for (int pages = 0; pages < 10000; ++pages) {
    uint64_t next_from = 0;
    auto n = source.ReadPage(next, challenge, buf, next_from);
    ASSERT_TRUE(n.ok()) << page;
    for (size_t at = 0; at < *n;) {
      store::LogItem item;
      auto used = store::DecodeLogItem(std::span<const uint8_t>(buf.data() + at, *n - at), item);
      ASSERT_TRUE(used.ok());
      each(item);
      at += *used;
    }
    if (next_from == 0) return;
    ASSERT_GT(next_from, next) << page;  // progress
    next = next_from;
  }
  ADD_FAILURE() << "the log does not end";
}

// Issue 9 item 2: the daemon's head signer (the lock's identity key through
// LockAuthority) signs at rolls and on its timer; pages read at any size
// verify offline with nothing but the lock's public key and id.
TEST(LogSource, A02_SignedHeadsVerifyOfflineWithTheLocksPublicKey) {
  Rig rig;
  LogHeadSigner signer(*rig.authority);
  rig.log->set_head_signer(&signer, kLogHeadSignIntervalS);
  for (int i = 0; i < 400; ++i) {
    rig.Append(1);
    ASSERT_TRUE(rig.log->SignHeadIfDue(1767225600 + i * 60).ok());
  }
  AuditLogSource source(*rig.log);
  const crypto::P256PublicKey& key = rig.authority->identity().key().public_key();
  for (size_t page : {size_t{200}, protocol::kMaxResponsePayload}) {
    store::LogVerifier offline(key, rig.authority->identity().lock_id(), 1, 1767225600 + 400 * 60, 1200);
    ForEachItem(source, page, [&](const store::LogItem& item) { offline.Feed(item); });
    const store::LogFindings& f = offline.Finish();
    EXPECT_TRUE(f.offline_ok()) << page << " bad signatures " << f.bad_signatures << " stale " << f.stale_head;
    EXPECT_GE(f.signed_through + 12, rig.log->next_seq() - 1) << page;
  }
}

// A timed signed head is exported after its record; a page that fills just
// before the head ends before that record, so the next page carries the
// record with the head: at every page size the lock's signature reaches a
// reader that has only its public key (the uplink's server), and no record
// comes twice (one verifier takes every page).
TEST(LogSource, ATimedSignedHeadIsNeverLostAtAPageBoundary) {
  Rig rig;
  LogHeadSigner signer(*rig.authority);
  rig.log->set_head_signer(&signer, kLogHeadSignIntervalS);
  rig.Append(30);
  ASSERT_TRUE(rig.log->SignHeadIfDue(1767225600).ok());
  const uint64_t head = rig.log->next_seq() - 1;
  ASSERT_EQ(rig.log->last_signed_seq(), head);
  AuditLogSource source(*rig.log);
  const crypto::P256PublicKey& key = rig.authority->identity().key().public_key();
  for (size_t page = 180; page <= 420; ++page) {  // lockd sends 256 and up
    store::LogVerifier offline(key, rig.authority->identity().lock_id(), 1, 0, 0);
    uint64_t seen = 0;
    ForEachItem(source, page, [&](const store::LogItem& item) {
      if (item.type == store::LogItemType::kRecord) {
        EXPECT_GT(item.seq, seen) << "page of " << page << " bytes";
        seen = item.seq;
      }
      offline.Feed(item);
    });
    const store::LogFindings& f = offline.Finish();
    EXPECT_EQ(f.signed_through, head) << "page of " << page << " bytes";
    EXPECT_TRUE(f.offline_ok()) << page;
  }
}

// The uplink resumes from the upload cursor (issue 9 item 2): the records
// a custody holder has not acknowledged, and the custodian answers h(N) as
// the verifier of that stream computes it, and moves the cursor durably.
TEST(lockdLogSource, ReadsFromTheUploadCursorAndTheCustodianVouchesForTheSameChain) {
  Rig rig;
  rig.Append(120);
  AuditLogSource source(*rig.log);
  AuditLogCustodian custodian(*rig.log);
  ASSERT_TRUE(custodian.Advance(70).ok());
  EXPECT_EQ(custodian.cursor(), 70u);
  EXPECT_EQ(source.upload_cursor(), 70u);
  EXPECT_EQ(custodian.head(), rig.log->next_seq() - 1);
  const std::array<uint8_t, 16> challenge = {1};
  std::vector<uint8_t> buf(protocol::kMaxResponsePayload);
  uint64_t next_from = 0;
  auto n = source.ReadUnacknowledged(challenge, buf, next_from);
  ASSERT_TRUE(n.ok());
  store::LogChallenge c;
  std::copy(challenge.begin(), challenge.end(), c.begin());
  store::LogVerifier verifier(*rig.auth, c, 71);
  uint64_t first_record = 0;
  for (size_t at = 0; at < *n;) {
    store::LogItem item;
    auto used = store::DecodeLogItem(std::span<const uint8_t>(buf.data() + at, *n - at), item);
    ASSERT_TRUE(used.ok());
    if (item.type == store::LogItemType::kRecord && first_record == 0) first_record = item.seq;
    if (item.type != store::LogItemType::kHead) verifier.Feed(item);
    at += *used;
  }
  EXPECT_EQ(first_record, 71u);
  uint64_t end = 0;
  store::LogChain chain{};
  ASSERT_TRUE(verifier.StreamEnd(end, chain));
  auto held = custodian.ChainAt(end);
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(std::equal(chain.begin(), chain.end(), held->begin()));
  EXPECT_EQ(custodian.ChainAt(custodian.head() + 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(custodian.ChainAt(0).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace mortise::protocol
