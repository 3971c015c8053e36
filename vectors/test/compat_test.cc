// Storage compatibility (issue 9 item 6): the images and the log stream this
// version wrote (store/testdata/compat/v1, made once by `mortise-vectors
// --compat-images`) mount, read and verify with today's code. Every later
// version must keep these tests passing, or migrate the images and test the
// migration here (store/testdata/compat/README.md).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "mortise/core/user_db.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/store/audit_log.h"
#include "mortise/store/file_flash.h"
#include "mortise/store/record_store.h"
#include "vectors.h"

namespace mortise::vectors {
namespace {

namespace fs = std::filesystem;

const fs::path kCompat = fs::path(MORTISE_COMPAT_DIR);

Bytes ReadBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Json Manifest(const fs::path& dir) {
  std::ifstream in(dir / "manifest.json");
  std::stringstream s;
  s << in.rdbuf();
  return Json::parse(s.str());
}

class CountRecords final : public store::LogRecordVisitor {
 public:
  void Visit(const store::LogRecord& r) override {
    ++records;
    intros += r.type == store::LogRecordType::kKeyIntro;
    events += r.type == store::LogRecordType::kEvent;
  }
  uint64_t records = 0, intros = 0, events = 0;
};

class Collect final : public store::LogItemSink {
 public:
  void Put(const store::LogItem& item) override { items.push_back(item); }
  std::vector<store::LogItem> items;
};

// One version's images, copied to a fresh directory (mounting may write).
class CompatV1 : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = kCompat / "v1";
    char tmpl[] = "/tmp/mortise-compat-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* f : {"records.img", "log.img"}) fs::copy_file(src_ / f, dir_ / f);
    manifest_ = Manifest(src_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Opens the images as mortise-lockd does, at its default geometry.
  void Open() {
    auto rf = store::FileFlash::Open((dir_ / "records.img").string(), kCompatBlockSize, kCompatRecordBlocks);
    auto lf = store::FileFlash::Open((dir_ / "log.img").string(), kCompatBlockSize, kCompatLogBlocks);
    ASSERT_TRUE(rf.ok() && lf.ok());
    records_flash_ = std::move(*rf);
    log_flash_ = std::move(*lf);
    records_ = std::make_unique<store::StaticRecordStore<store::RecordStore::kDefaultCapacity>>(*records_flash_);
    ASSERT_TRUE(records_->store.Mount().ok());
    EXPECT_TRUE(records_->store.mount_report().clean());
  }

  fs::path src_, dir_;
  Json manifest_;
  std::unique_ptr<store::FileFlash> records_flash_, log_flash_;
  std::unique_ptr<store::StaticRecordStore<store::RecordStore::kDefaultCapacity>> records_;
};

TEST_F(CompatV1, RecordStoreMountsAndTheLockKnowsItsIdentityOwnerListsUsersAndKeys) {
  Open();
  core::DurableStore& st = records_->store;
  SeededDrbg rng(1);
  protocol::LockAuthority authority(st, rng.drbg());
  ASSERT_TRUE(authority.Start().ok());
  EXPECT_EQ(Hex(authority.identity().lock_id()), manifest_["lock_id"]);
  EXPECT_EQ(Hex(authority.identity().public_key().bytes()), manifest_["lock_key"]);
  ASSERT_TRUE(authority.claimed());
  EXPECT_EQ(Hex(authority.owner()->bytes()), manifest_["owner_key"]);
  EXPECT_EQ(authority.claim_generation(), manifest_["claim_generation"]);
  EXPECT_EQ(std::to_string(authority.access_list().version), manifest_["access_list_version"]);
  Result<bool> provisioned = protocol::SetupCodeProvisioned(st);
  ASSERT_TRUE(provisioned.ok());
  EXPECT_TRUE(*provisioned);
  // Key table and use counts.
  const Json& m = manifest_["member"];
  Result<protocol::KeyRef> at = authority.KeyAt(m["key_index"].get<uint16_t>());
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(Hex(at->issuer), m["issuer_key_id"]);
  EXPECT_EQ(std::to_string(at->serial), m["serial"]);
  const Json& g = manifest_["guest"];
  protocol::KeyRef guest{};
  const Bytes issuer = FromHex(g["issuer_key_id"].get<std::string>());
  std::copy(issuer.begin(), issuer.end(), guest.issuer.begin());
  guest.serial = std::stoull(g["serial"].get<std::string>());
  Result<uint32_t> uses = authority.UsesOf(guest);
  ASSERT_TRUE(uses.ok());
  EXPECT_EQ(*uses, g["uses"]);
  // The user database: user 1 and the PIN that opens for them.
  sim::SimLock sim(&st);
  ASSERT_TRUE(sim.Start().ok());
  const core::GetUserResponse user = sim.lock().users().GetUser(manifest_["user"]["index"]);
  EXPECT_TRUE(user.occupied);
  EXPECT_EQ(user.credential_count, 1);
  const std::string pin = manifest_["user"]["pin"];
  const auto match = sim.lock().users().Find(
      core::CredentialType::kPin, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(pin.data()), pin.size()));
  ASSERT_TRUE(match.has_value());
}

TEST_F(CompatV1, AuditLogMountsWithoutFindingsReadsEveryRecordAndItsExportVerifies) {
  Open();
  core::DurableStore& st = records_->store;
  SeededDrbg rng(2);
  protocol::LockAuthority authority(st, rng.drbg());
  ASSERT_TRUE(authority.Start().ok());
  crypto::SecretBytes<32> key;
  ASSERT_TRUE(authority.LogKey(key).ok());
  const store::HmacLogAuthenticator auth(key.span());
  store::AuditLog log(*log_flash_, st, auth);
  ASSERT_TRUE(log.Mount().ok());
  const store::LogMountReport& r = log.mount_report();
  EXPECT_EQ(r.blocks_dropped, 0u);
  EXPECT_EQ(r.voids, 0u);
  EXPECT_EQ(r.sequence_jump, 0u);
  EXPECT_EQ(r.tampered, 0u);
  const Json& l = manifest_["log"];
  EXPECT_EQ(log.next_seq(), l["next_seq"]);
  EXPECT_EQ(log.oldest_seq(), l["oldest_seq"]);
  EXPECT_EQ(log.acknowledged(), l["acknowledged"]);
  CountRecords count;
  ASSERT_TRUE(log.ReadFrom(log.oldest_seq(), count).ok());
  EXPECT_EQ(count.records, log.next_seq() - log.oldest_seq());
  EXPECT_EQ(count.intros, 2u);
  // The lock's own export verifies with its key, and today's code appends
  // after the old records.
  store::LogChallenge challenge{};
  challenge.fill(0x33);
  Collect sink;
  ASSERT_TRUE(log.Export(log.oldest_seq(), challenge, sink).ok());
  store::LogVerifier keyed(auth, challenge, log.oldest_seq());
  for (const store::LogItem& item : sink.items) keyed.Feed(item);
  EXPECT_TRUE(keyed.Finish().ok());
  core::LockEvent e;
  e.utc_seconds = l["stream_now_utc"].get<int64_t>() + 60;
  Result<uint64_t> seq = log.Append(e);
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, l["next_seq"].get<uint64_t>());
}

TEST_F(CompatV1, StoredLogStreamVerifiesOfflineWithTheLocksPublicKey) {
  const Bytes stream = ReadBytes(src_ / "log-stream.bin");
  std::vector<store::LogItem> items;
  std::span<const uint8_t> rest(stream);
  while (!rest.empty()) {
    store::LogItem item;
    Result<size_t> n = store::DecodeLogItem(rest, item);
    ASSERT_TRUE(n.ok());
    items.push_back(item);
    rest = rest.subspan(*n);
  }
  const Bytes key_bytes = FromHex(manifest_["lock_key"].get<std::string>());
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(key_bytes);
  ASSERT_TRUE(key.ok());
  const Bytes id = FromHex(manifest_["lock_id"].get<std::string>());
  const Json& l = manifest_["log"];
  store::LogVerifier v(*key, std::span<const uint8_t, store::kLogLockIdSize>(id.data(), store::kLogLockIdSize), 1,
                       l["stream_now_utc"], 1200);
  for (const store::LogItem& item : items) v.Feed(item);
  const store::LogFindings& f = v.Finish();
  EXPECT_TRUE(f.offline_ok());
  EXPECT_EQ(f.signed_through, l["stream_signed_through"]);
  EXPECT_EQ(f.signed_at, l["stream_signed_at"]);
}

}  // namespace
}  // namespace mortise::vectors
