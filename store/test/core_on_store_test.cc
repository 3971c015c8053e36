// The lock core running on the real storage: the record store and the audit
// log on a file-backed flash image, across restarts of the "device" (the
// Linux daemon's configuration).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mortise/core/door_lock.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/store/audit_log.h"
#include "mortise/store/file_flash.h"
#include "mortise/store/record_store.h"
#include "test_rig.h"

namespace mortise::store {
namespace {

constexpr LogChallenge kChallenge = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3};
// Tuesday 2026-11-24 08:00 UTC.
constexpr int64_t kMorning = 1795507200 + 8 * 3600;

struct Device {
  explicit Device(const std::string& path)
      : flash(std::move(FileFlash::Open(path, 4096, 80).value())),
        store_part(*flash, 0, 64),
        log_part(*flash, 64, 16),
        auth(testing::kTestLogKey),
        store(store_part),
        log(log_part, store.store, auth) {}
  Status Mount() {
    MORTISE_TRY(store.store.Mount());
    return log.Mount();
  }
  std::unique_ptr<FileFlash> flash;
  FlashPartition store_part, log_part;
  HmacLogAuthenticator auth;
  StaticRecordStore<> store;
  AuditLog log;
};

struct CountRecords : LogRecordVisitor {
  void Visit(const LogRecord& r) override {
    ++n;
    if (r.type == LogRecordType::kEvent && r.event.kind == core::EventKind::kDoorLockAlarm &&
        r.event.alarm == core::AlarmCode::kLockRadioPowerCycled) {
      ++restarts;
    }
  }
  int n = 0, restarts = 0;
};

TEST(CoreOnStore, UsersCountersAndLogSurviveRestartsOnTheFileImage) {
  const auto dir = std::filesystem::temp_directory_path() / ("mortise-core-on-store-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "lock.img").string();
  std::filesystem::remove(path);
  uint64_t epoch_before = 0;
  {
    Device d(path);
    ASSERT_TRUE(d.Mount().ok());
    sim::SimLock sim(&d.store.store);
    sim.events().set_forward(&d.log);
    ASSERT_TRUE(sim.Start().ok());
    ASSERT_TRUE(sim.lock().SetUtcTime(kMorning, false).ok());
    core::SetCredentialRequest req;
    req.credential = {core::CredentialType::kPin, 1};
    const std::vector<uint8_t> pin = {'2', '4', '6', '8', '1', '3'};
    req.credential_data = pin;
    ASSERT_EQ(sim.lock().users().SetCredential(req, core::Actor{}).status, core::DlStatus::kSuccess);
    sim.keypad().Type("999999");  // a wrong code: counted durably before it is checked
    sim.Run(2000);
    epoch_before = *d.store.store.ReadCounter(core::kCounterBootEpoch);
    EXPECT_GE(*d.store.store.ReadCounter(core::kCounterWrongCodeAttempts), 1u);
    EXPECT_GT(d.log.next_seq(), 1u);
  }
  {
    Device d(path);
    ASSERT_TRUE(d.Mount().ok());
    EXPECT_TRUE(d.store.store.mount_report().clean());
    sim::SimLock sim(&d.store.store);
    sim.events().set_forward(&d.log);
    ASSERT_TRUE(sim.Start().ok());
    EXPECT_GT(*d.store.store.ReadCounter(core::kCounterBootEpoch), epoch_before);
    EXPECT_TRUE(sim.lock().users().GetCredentialStatus({core::CredentialType::kPin, 1}).credential_exists);
    ASSERT_TRUE(sim.lock().SetUtcTime(kMorning + 60, false).ok());
    sim.keypad().Type("246813");
    sim.Run(3000);
    EXPECT_NE(sim.lock().bolt_state(), core::BoltState::kLocked);
    CountRecords c;
    ASSERT_TRUE(d.log.ReadFrom(0, c).ok());
    EXPECT_EQ(c.restarts, 2);  // both starts are in the log, in order
    testing::CollectItems items;
    ASSERT_TRUE(d.log.Export(0, kChallenge, items).ok());
    EXPECT_TRUE(testing::VerifyItems(d.auth, items.items, kChallenge, 1).ok());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mortise::store
