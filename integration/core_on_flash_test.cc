// The lock core on the storage module: management commands and the lockout
// counter persist in the flash record store, events go to the authenticated
// audit log, and a file-backed image survives restarts and a simulated
// kill (objects dropped without any shutdown).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mortise/core/schedule.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/store/audit_log.h"
#include "mortise/store/file_flash.h"
#include "mortise/store/record_store.h"

namespace mortise {
namespace {

using namespace core;

const std::vector<uint8_t> kTestLogKey(32, 0x5A);  // the protocol issue supplies the lock's real key

// One boot of a lock on two file-backed flash images.
class Device {
 public:
  explicit Device(const std::filesystem::path& dir, uint64_t seed) {
    records_flash_ = Open(dir / "records.img", 32);
    log_flash_ = Open(dir / "log.img", 16);
    records_ = std::make_unique<store::StaticRecordStore<store::RecordStore::kDefaultCapacity>>(*records_flash_);
    EXPECT_TRUE(records_->store.Mount().ok());
    log_.emplace(*log_flash_, records_->store, auth_);
    EXPECT_TRUE(log_->Mount().ok());
    sim_ = std::make_unique<sim::SimLock>(&records_->store, seed);
    sim_->events().set_forward(&*log_);
    EXPECT_TRUE(sim_->Start().ok());
  }

  sim::SimLock& sim() { return *sim_; }
  DoorLock& lock() { return sim_->lock(); }
  store::AuditLog& log() { return *log_; }
  const store::HmacLogAuthenticator& auth() const { return auth_; }
  const store::MountReport& mount_report() { return records_->store.mount_report(); }

 private:
  static std::unique_ptr<store::FileFlash> Open(const std::filesystem::path& p, size_t blocks) {
    auto f = store::FileFlash::Open(p.string(), 4096, blocks);
    EXPECT_TRUE(f.ok());
    return std::move(f.value());
  }

  std::unique_ptr<store::FileFlash> records_flash_;
  std::unique_ptr<store::FileFlash> log_flash_;
  std::unique_ptr<store::StaticRecordStore<store::RecordStore::kDefaultCapacity>> records_;
  store::HmacLogAuthenticator auth_{kTestLogKey};
  std::optional<store::AuditLog> log_;  // the log refuses the heap (no operator new)
  std::unique_ptr<sim::SimLock> sim_;
};

class Collect final : public store::LogRecordVisitor {
 public:
  void Visit(const store::LogRecord& r) override { records.push_back(r); }
  std::vector<store::LogRecord> records;
};

class Items final : public store::LogItemSink {
 public:
  void Put(const store::LogItem& item) override { items.push_back(item); }
  std::vector<store::LogItem> items;
};

class CoreOnFlash : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mortise-core-on-flash-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

const int64_t kTuesday0800 = DaysFromCivil(2026, 11, 24) * 86400 + 8 * 3600;

TEST_F(CoreOnFlash, UsersCountersAndLogSurviveAKill) {
  uint16_t user = 0;
  {
    Device d(dir_, 1);
    ASSERT_TRUE(d.lock().SetUtcTime(kTuesday0800, false).ok());
    SetCredentialRequest req;
    const std::vector<uint8_t> pin = {'2', '4', '6', '8', '1', '3'};
    req.credential = {CredentialType::kPin, 1};
    req.credential_data = pin;
    auto r = d.lock().users().SetCredential(req, Actor{});
    ASSERT_EQ(r.status, DlStatus::kSuccess);
    user = *r.user_index;
    ASSERT_EQ(d.lock().users().SetWeekDaySchedule(1, user, WeekDaySchedule{kTuesday, 7, 0, 19, 0}, Actor{}),
              DlStatus::kSuccess);
    ASSERT_TRUE(d.lock().WriteAttribute(AttributeId::kAutoRelockTime, 30).ok());
    d.sim().keypad().Type("246813");
    d.sim().Run(1500);
    EXPECT_EQ(d.lock().bolt_state(), BoltState::kUnlocked);
    for (int i = 0; i < 4; ++i) {
      d.sim().keypad().Type("999999");
      d.sim().Run(100);
    }
    EXPECT_FALSE(d.lock().locked_out());
    // Dropped here with no shutdown: the kill.
  }
  {
    Device d(dir_, 2);
    EXPECT_TRUE(d.mount_report().clean());
    EXPECT_EQ(d.lock().dropped_records(), 0u);
    EXPECT_EQ(*d.lock().ReadAttribute(AttributeId::kAutoRelockTime), 30);
    EXPECT_EQ(d.lock().users().GetWeekDaySchedule(1, user).status, DlStatus::kSuccess);
    // The four failures before the kill count: one more locks out.
    d.sim().keypad().Type("999999");
    d.sim().Run(100);
    EXPECT_TRUE(d.lock().locked_out());
    d.sim().Run(31000);
    ASSERT_TRUE(d.lock().SetUtcTime(kTuesday0800 + 3600, false).ok());
    d.sim().keypad().Type("246813");
    d.sim().Run(1500);
    EXPECT_EQ(d.lock().bolt_state(), BoltState::kUnlocked);
  }
  {
    Device d(dir_, 3);
    // The log holds both boots, chained and authenticated end to end.
    Collect c;
    ASSERT_TRUE(d.log().ReadFrom(1, c).ok());
    int boots = 0, keypad_opens = 0, lockouts = 0;
    for (const auto& rec : c.records) {
      if (rec.type != store::LogRecordType::kEvent) continue;
      const LockEvent& e = rec.event;
      boots += e.kind == EventKind::kDoorLockAlarm && e.alarm == AlarmCode::kLockRadioPowerCycled;
      lockouts += e.kind == EventKind::kDoorLockAlarm && e.alarm == AlarmCode::kWrongCodeEntryLimit;
      keypad_opens += e.kind == EventKind::kLockOperation && e.operation == LockOperationType::kUnlock &&
                      e.source == OperationSource::kKeypad && e.user_index == user;
    }
    EXPECT_EQ(boots, 3);
    EXPECT_EQ(lockouts, 1);
    EXPECT_EQ(keypad_opens, 2);
    store::LogChallenge challenge{};
    challenge[0] = 42;
    Items export_items;
    ASSERT_TRUE(d.log().Export(1, challenge, export_items).ok());
    store::LogVerifier verifier(d.auth(), challenge, 1);
    for (const auto& item : export_items.items) verifier.Feed(item);
    EXPECT_TRUE(verifier.Finish().ok());
    EXPECT_GT(verifier.findings().records, 10u);
  }
}

}  // namespace
}  // namespace mortise
