// Mounts a full lock's store and log once, for instruction counts:
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out
//     --toggle-collect='mortise::store::RecordStore::Mount()'
//     --toggle-collect='mortise::store::AuditLog::Mount()' build-store/store/store_mount_cost
//   callgrind_annotate /tmp/cg.out | head
// (one command line).
// The image (1000 users, 2000 credentials, 500 schedules, 100 config
// records, counters; a 64 KiB log holding ~3,000 events) is built first,
// outside the measured functions.
#include <cstdio>
#include <vector>

#include "mortise/store/audit_log.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

using namespace mortise;
using namespace mortise::store;

int main() {
  constexpr uint32_t kStoreBlocks = 64, kLogBlocks = 16;
  constexpr uint8_t kKey[32] = {42};
  std::vector<uint8_t> memory((kStoreBlocks + kLogBlocks) * 4096);
  std::vector<uint32_t> counts(kStoreBlocks + kLogBlocks);
  FakeFlash flash(memory, counts);
  FlashPartition store_part(flash, 0, kStoreBlocks), log_part(flash, kStoreBlocks, kLogBlocks);
  HmacLogAuthenticator auth(kKey);
  {
    StaticRecordStore<> s(store_part);
    AuditLog log(log_part, s.store, auth);
    if (!s.store.Mount().ok() || !log.Mount().ok()) return 1;
    std::vector<uint8_t> user(40, 1), cred(48, 2), sched(16, 3);
    for (uint16_t i = 0; i < 1000; ++i) s.store.Write(core::MakeRecordKey(0x10, i), user).IgnoreError();
    for (uint16_t i = 0; i < 2000; ++i) s.store.Write(core::MakeRecordKey(0x11, i), cred).IgnoreError();
    for (uint16_t i = 0; i < 500; ++i) s.store.Write(core::MakeRecordKey(0x12, i), sched).IgnoreError();
    for (uint16_t i = 0; i < 100; ++i) s.store.Write(core::MakeRecordKey(0x01, i), sched).IgnoreError();
    for (uint16_t i = 0; i < 3000; ++i) s.store.Write(core::MakeRecordKey(0x11, i % 2000), cred).IgnoreError();
    for (uint32_t i = 0; i < 5000; ++i) {
      core::LockEvent e;
      e.user_index = static_cast<uint16_t>(i % 1000);
      e.utc_seconds = 1767225600 + i;
      e.has_credential = true;
      Result<uint64_t> seq = log.Append(e);
      if (!seq.ok()) return 2;
      log.Acknowledge(*seq).IgnoreError();
    }
  }
  StaticRecordStore<> s(store_part);
  AuditLog log(log_part, s.store, auth);
  const Status a = s.store.Mount();
  const Status b = log.Mount();
  std::printf("store mount %s (%zu records), log mount %s (next seq %llu)\n", a.name(), s.store.record_count(),
              b.name(), static_cast<unsigned long long>(log.next_seq()));
  return a.ok() && b.ok() ? 0 : 3;
}
