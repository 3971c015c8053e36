// The server's log custody (issue 14, docs/server.md "Log custody"): its own
// key per door, certified by the door's owner with the log-custody right
// alone; acknowledgements (frame 0x06) of the newest verified record at the
// lock's pace, through the link to locks; the lock's receipt verified before
// the acknowledged position is stored. Catalogue A09 (a certificate for
// another door, by a stranger, for another key or with more rights is
// refused and nothing changes) and A02 (the server never acknowledges a
// record it did not verify; a forged receipt moves nothing).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api_error.h"
#include "door_registration.h"
#include "fake_lock_link.h"
#include "fakes.h"
#include "log_custody.h"
#include "log_ingest.h"
#include "log_rig.h"
#include "log_store.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/custody.h"
#include "mortise/protocol/log_source.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/text_forms.h"
#include "postgres_fixture.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FakeLockLink;
using testing::LockLogRig;

constexpr uint32_t kGeneration = 1;

class CustodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(drbg_.Seed().ok());
    owner_.emplace(*crypto::P256KeyPair::Generate(drbg_));
    stranger_.emplace(*crypto::P256KeyPair::Generate(drbg_));
    dir_ = testing::FreshTestDir("mortise-custody-");
    repo_ = OpenRepository(testing::FreshDatabaseUrl("sqlite", dir_.string()));
    repo_->QueryText("INSERT INTO organisations (id, name, kind, created_at) VALUES ('org_1', 'Home', 'home', 1)");
    repo_->QueryText("INSERT INTO sites (id, org_id, name, created_at) VALUES ('site_1', 'org_1', 'Home', 1)");
    AddDoor("door_1", lock_);
    AddDoor("door_2", other_lock_);
    store_ = std::make_unique<LogStore>(*repo_);
    ingest_ = std::make_unique<LogIngest>(*store_, clock_);
    CustodySettings settings;
    settings.batch_records = 100;
    custody_ = std::make_unique<LogCustody>(*repo_, clock_, random_, settings);
    link_.SetOnline(lock_.lock_id_hex(), true);
    link_.SetResponder([this](std::string_view, std::span<const uint8_t> frame) { return LockAnswer(frame); });
  }
  void TearDown() override {
    custody_.reset();
    ingest_.reset();
    store_.reset();
    repo_.reset();
    fs::remove_all(dir_);
  }
  void AddDoor(const std::string& id, LockLogRig& rig) {
    repo_->QueryText(rig.DoorInsertSql(id, ToHex(owner_->public_key().bytes())));
  }
  // The lock's side of frame 0x06 (protocol/src/custody.cc's order, the
  // parts a server test needs): its lock id and generation, h(N) from its
  // own log, then the cursor moved and a receipt signed with its identity.
  std::optional<std::vector<uint8_t>> LockAnswer(std::span<const uint8_t> frame) {
    ++answers_;
    std::vector<uint8_t> out = {0x06, protocol::kCustodyVersion, 0, 0};
    auto status = [&](protocol::CustodyStatus s) {
      out[2] = static_cast<uint8_t>(s);
      return out;
    };
    if (frame.size() < 48 || frame[0] != 0x06) return status(protocol::CustodyStatus::kMalformed);
    const auto lock_id = FromHex(lock_.lock_id_hex(), 16);
    uint32_t generation = 0;
    uint64_t seq = 0;
    std::memcpy(&generation, frame.data() + 18, 4);
    std::memcpy(&seq, frame.data() + 22, 8);
    if (!std::equal(lock_id->begin(), lock_id->end(), frame.begin() + 2) || generation != kGeneration) {
      return status(protocol::CustodyStatus::kWrongLock);
    }
    protocol::AuditLogCustodian custodian(lock_.log());
    auto held = custodian.ChainAt(seq);
    if (!held.ok() || std::memcmp(held->data(), frame.data() + 30, 16) != 0) {
      return status(protocol::CustodyStatus::kNoMatch);
    }
    if (seq <= custodian.cursor()) return status(protocol::CustodyStatus::kUnchanged);
    EXPECT_TRUE(custodian.Advance(seq).ok());
    protocol::LockId id{};
    std::copy(lock_id->begin(), lock_id->end(), id.begin());
    const int64_t utc = 1767300000;
    uint8_t msg[protocol::kCustodyReceiptMessageSize];
    protocol::EncodeCustodyReceiptMessage(id, kGeneration, seq, *held, utc, msg);
    crypto::P256Signature sig{};
    EXPECT_TRUE(lock_.authority().SignCustodyReceipt(msg, sig).ok());
    if (forge_receipt_) sig[5] ^= 0x01;  // a relay's edit of the receipt
    out[3] = 0x03;  // counters and receipt
    auto put64 = [&](uint64_t v) {
      for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    put64(seq);
    put64(custodian.head());
    put64(static_cast<uint64_t>(utc));
    out.insert(out.end(), held->begin(), held->end());
    out.insert(out.end(), sig.begin(), sig.end());
    return status(protocol::CustodyStatus::kAdvanced);
  }
  // The owner's (or `issuer`'s) certificate for `holder`, in the MKS1 text
  // `mortise key share --custody` prints.
  std::string Certificate(const crypto::P256PublicKey& holder, const crypto::P256KeyPair& issuer,
                          LockLogRig& rig, uint32_t permissions = protocol::kPermLogCustody) {
    protocol::CertificateFields f;
    const auto id = FromHex(rig.lock_id_hex(), 16);
    std::copy(id->begin(), id->end(), f.lock_id.begin());
    f.holder_key = holder.Compressed();
    f.role = protocol::Role::kAdmin;
    f.permissions = permissions;
    f.claim_generation = kGeneration;
    f.serial = 77;
    std::vector<uint8_t> cert(protocol::kMaxCertificateSize);
    auto n = protocol::IssueCertificate(f, issuer, drbg_, cert);
    EXPECT_TRUE(n.ok());
    cert.resize(*n);
    protocol::ShareBundle bundle;
    const auto lock_key = FromHex(rig.public_key_hex(), 65);
    std::copy(lock_key->begin(), lock_key->end(), bundle.lock_key.begin());
    auto c = protocol::EncodeChain(cert, {}, bundle.chain);
    EXPECT_TRUE(c.ok());
    bundle.chain_len = *c;
    std::vector<char> text(4096);
    auto t = protocol::ShareToText(bundle, text);
    EXPECT_TRUE(t.ok());
    return std::string(text.data(), *t);
  }
  crypto::P256PublicKey CustodyKey() {
    const json v = custody_->CreateKey("door_1");
    auto key = protocol::PublicKeyFromText(v.at("public_key").get<std::string>());
    EXPECT_TRUE(key.ok());
    return *key;
  }
  void Certify() { custody_->Install("door_1", Certificate(CustodyKey(), *owner_, lock_)); }
  void IngestAll() {
    for (const std::string& p : lock_.Pages(1, 16384)) ingest_->OnLogMessage(lock_.lock_id_hex(), p);
  }
  std::string ErrorOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const ApiError& e) {
      return e.code();
    }
    return "accepted";
  }

  crypto::DeterministicEntropy entropy_{5};
  crypto::Drbg drbg_{entropy_};
  std::optional<crypto::P256KeyPair> owner_, stranger_;
  LockLogRig lock_{11};
  LockLogRig other_lock_{12};
  fs::path dir_;
  std::unique_ptr<SqlRepository> repo_;
  testing::FakeClock clock_;
  testing::SeededRandom random_{3};
  std::unique_ptr<LogStore> store_;
  std::unique_ptr<LogIngest> ingest_;
  std::unique_ptr<LogCustody> custody_;
  FakeLockLink link_;
  int answers_ = 0;
  bool forge_receipt_ = false;
};

TEST_F(CustodyTest, TheOwnersCertificateLetsTheServerMoveTheLocksCursorToWhatItVerified) {
  EXPECT_EQ(custody_->View("door_1").at("state"), "none");
  const crypto::P256PublicKey key = CustodyKey();
  EXPECT_EQ(custody_->View("door_1").at("state"), "uncertified");
  // The key is kept: asking again returns the same one.
  EXPECT_EQ(custody_->CreateKey("door_1").at("public_key"), custody_->View("door_1").at("public_key"));
  custody_->Install("door_1", Certificate(key, *owner_, lock_));
  EXPECT_EQ(custody_->View("door_1").at("state"), "certified");
  EXPECT_EQ(custody_->View("door_1").at("claim_generation"), kGeneration);

  lock_.Append(150);
  IngestAll();
  const uint64_t signed_through = store_->State("door_1").signed_through;
  ASSERT_GE(signed_through, 100u);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kAdvanced);
  EXPECT_EQ(lock_.log().acknowledged(), signed_through);
  const json v = custody_->View("door_1");
  EXPECT_EQ(v.at("acknowledged_through"), signed_through);
  EXPECT_EQ(v.at("acknowledged_lock_time"), 1767300000);
  EXPECT_EQ(v.at("last_status"), "advanced");
  // Nothing new: nothing sent.
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kNotDue);
  EXPECT_EQ(link_.sent().size(), 1u);
}

TEST_F(CustodyTest, AcknowledgementsFollowTheLocksPace) {
  Certify();
  lock_.Append(20);
  IngestAll();
  // Fewer than batch_records unacknowledged and the wait not over: not due.
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kNotDue);
  clock_.Advance(CustodySettings{}.max_wait_ms);
  // Offline: nothing sent, nothing counted.
  link_.SetOnline(lock_.lock_id_hex(), false);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kOffline);
  EXPECT_TRUE(link_.sent().empty());
  link_.SetOnline(lock_.lock_id_hex(), true);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kAdvanced);
  // Due again by count, but never twice inside the lock's refill period.
  lock_.Append(150);
  IngestAll();
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kNotDue);
  clock_.Advance(CustodySettings{}.min_interval_ms);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kAdvanced);
  EXPECT_EQ(lock_.log().acknowledged(), store_->State("door_1").signed_through);
  EXPECT_EQ(custody_->StepAll(link_), 0);
}

TEST_F(CustodyTest, A09_ACustodyCertificateForAnotherDoorByAStrangerOrWithMoreRightsIsRefused) {
  const crypto::P256PublicKey key = CustodyKey();
  // Before the server has a key: nothing to certify.
  EXPECT_EQ(ErrorOf([&] { custody_->Install("door_2", Certificate(key, *owner_, other_lock_)); }), "no_custody_key");
  // The bundle of another door's lock.
  EXPECT_EQ(ErrorOf([&] { custody_->Install("door_1", Certificate(key, *owner_, other_lock_)); }), "wrong_door");
  // Signed by someone who is not the door's owner.
  EXPECT_EQ(ErrorOf([&] { custody_->Install("door_1", Certificate(key, *stranger_, lock_)); }), "invalid_signature");
  // For another key than the server's.
  EXPECT_EQ(ErrorOf([&] { custody_->Install("door_1", Certificate(stranger_->public_key(), *owner_, lock_)); }),
            "wrong_holder");
  // More than the log-custody right.
  EXPECT_EQ(ErrorOf([&] {
              custody_->Install("door_1", Certificate(key, *owner_, lock_,
                                                      protocol::kPermLogCustody | protocol::kPermUnlock));
            }),
            "wrong_permissions");
  EXPECT_EQ(ErrorOf([&] { custody_->Install("door_1", "MK1.not-a-chain"); }), "invalid_key");
  EXPECT_EQ(custody_->View("door_1").at("state"), "uncertified");
  lock_.Append(150);
  IngestAll();
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kNotDue);
  EXPECT_TRUE(link_.sent().empty());
}

TEST_F(CustodyTest, A02_TheServerNeverAcknowledgesARecordItDidNotVerify) {
  Certify();
  // Records the lock has not signed yet: stored unsigned, never acknowledged.
  lock_.Append(150, /*sign=*/false);
  IngestAll();
  ASSERT_EQ(store_->State("door_1").signed_through, 0u);
  clock_.Advance(CustodySettings{}.max_wait_ms);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kNotDue);
  EXPECT_TRUE(link_.sent().empty());
  // Once signed, only through the lock's signature.
  lock_.SignNow();
  IngestAll();
  const uint64_t signed_through = store_->State("door_1").signed_through;
  ASSERT_GT(signed_through, 0u);
  lock_.Append(5, /*sign=*/false);
  IngestAll();
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kAdvanced);
  EXPECT_EQ(lock_.log().acknowledged(), signed_through);
  EXPECT_LT(lock_.log().acknowledged(), lock_.head());
}

// Attacker report (A02, mqtt_log_loss_custody.py): with a forged unsigned
// loss for #4..#9 stored, and the lock's pages for those numbers withheld,
// the server acknowledged the newest signed record (so the lock may
// overwrite #4..#9, which the server never held). It acknowledges only up
// to the first number it does not hold under the lock's signature; the
// lock sends the rest again from its cursor, and then everything is.
TEST_F(CustodyTest, A02_CustodyNeverAcknowledgesPastANumberTheServerDoesNotHoldSigned) {
  Certify();
  lock_.Append(3);
  lock_.SignNow();
  IngestAll();
  // The forged page: an anchor at #9 with a made-up chain, a loss record #10
  // saying #4..#9 were lost.
  store::LogItem anchor;
  anchor.type = store::LogItemType::kAnchor;
  anchor.seq = 9;
  anchor.chain.fill(0x5a);
  store::LogItem loss;
  loss.seq = 10;
  loss.length = static_cast<uint8_t>(store::EncodeLogLoss(store::LossReason::kLogLost, 4, 6, 10, loss.bytes));
  ingest_->OnLogMessage(lock_.lock_id_hex(), LockLogRig::Message(9, 11, false, LockLogRig::Encode({anchor, loss})));
  // The lock's records from #12 on arrive; those before are withheld.
  lock_.Append(150);
  lock_.SignNow();
  ASSERT_EQ(ingest_->OnLogMessage(lock_.lock_id_hex(), lock_.Page(12, 16384)).verdict, LogVerdict::kVerified);
  ASSERT_EQ(store_->State("door_1").signed_through, lock_.head());
  clock_.Advance(CustodySettings{}.max_wait_ms);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kAdvanced);
  EXPECT_EQ(lock_.log().acknowledged(), 3u);
  EXPECT_EQ(custody_->View("door_1").at("acknowledged_through"), 3);
  // The lock uploads again from its cursor: everything held, all acknowledged.
  ASSERT_EQ(ingest_->OnLogMessage(lock_.lock_id_hex(), lock_.Page(4, 16384)).verdict, LogVerdict::kVerified);
  clock_.Advance(CustodySettings{}.min_interval_ms);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kAdvanced);
  EXPECT_EQ(lock_.log().acknowledged(), lock_.head());
}

TEST_F(CustodyTest, A02_AReceiptTheLockDidNotSignStoresNoPosition) {
  Certify();
  lock_.Append(150);
  IngestAll();
  forge_receipt_ = true;  // a relay (or another lock) answers for the door
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kBadReceipt);
  EXPECT_EQ(custody_->View("door_1").at("acknowledged_through"), 0);
  EXPECT_EQ(custody_->View("door_1").at("last_status"), "bad_receipt");
  // No answer: nothing stored either, and the next try waits for the pace.
  link_.SetResponder([](std::string_view, std::span<const uint8_t>) { return std::nullopt; });
  clock_.Advance(CustodySettings{}.min_interval_ms);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kNoAnswer);
  EXPECT_EQ(custody_->Step(link_, "door_1"), CustodyOutcome::kNotDue);
  EXPECT_EQ(custody_->View("door_1").at("acknowledged_through"), 0);
}

}  // namespace
}  // namespace mortise::server
