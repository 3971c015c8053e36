// Test helpers: a FakeFlash split into a record-store and an audit-log
// partition, mounted together as the lock mounts them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "mortise/store/audit_log.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

namespace mortise::store::testing {

inline constexpr uint8_t kTestLogKey[32] = {0x4d, 0x6f, 0x72, 0x74, 0x69, 0x73, 0x65, 0x20, 0x74, 0x65, 0x73,
                                            0x74, 0x20, 0x6c, 0x6f, 0x67, 0x20, 0x6b, 0x65, 0x79, 0x20, 0x6f,
                                            0x6e, 0x6c, 0x79, 0x21, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05};

struct Rig {
  Rig(uint32_t store_blocks, uint32_t log_blocks, uint64_t seed = 1, size_t block_size = kDefaultBlockSize)
      : memory((store_blocks + log_blocks) * block_size),
        counts(store_blocks + log_blocks),
        flash(memory, counts, block_size, seed),
        store_part(flash, 0, store_blocks),
        log_part(flash, store_blocks, log_blocks),
        auth(kTestLogKey) {
    Remake();
  }
  // New RAM state, as after a reboot (flash untouched).
  void Remake() {
    log.reset();
    store_holder = std::make_unique<StaticRecordStore<>>(store_part);
    store = &store_holder->store;
    log.emplace(log_part, *store, auth);
  }
  Status MountAll() {
    const Status s = store->Mount();
    if (!s.ok()) return s;
    return log->Mount();
  }
  Status Reboot() {
    flash.Reboot();
    Remake();
    return MountAll();
  }

  std::vector<uint8_t> memory;
  std::vector<uint32_t> counts;
  FakeFlash flash;
  FlashPartition store_part;
  FlashPartition log_part;
  HmacLogAuthenticator auth;
  std::unique_ptr<StaticRecordStore<>> store_holder;
  RecordStore* store = nullptr;
  std::optional<AuditLog> log;
};

struct CollectItems : LogItemSink {
  void Put(const LogItem& item) override { items.push_back(item); }
  std::vector<LogItem> items;
};

inline LogFindings VerifyItems(const LogAuthenticator& auth, const std::vector<LogItem>& items,
                               const LogChallenge& challenge, uint64_t expected_first) {
  LogVerifier v(auth, challenge, expected_first);
  for (const auto& i : items) v.Feed(i);
  return v.Finish();
}

inline core::LockEvent TypicalEvent(uint32_t i) {
  core::LockEvent e;
  e.kind = core::EventKind::kLockOperation;
  e.utc_seconds = 1767225600 + i * 37;
  e.monotonic_ms = 1000ull * i + 17;
  e.source = core::OperationSource::kKeypad;
  e.operation = (i % 2) ? core::LockOperationType::kUnlock : core::LockOperationType::kLock;
  e.user_index = static_cast<uint16_t>(1 + i % 1000);
  e.has_credential = true;
  e.credential = core::CredentialRef{core::CredentialType::kPin, static_cast<uint16_t>(1 + i % 2000)};
  return e;
}

inline bool SameEvent(const core::LockEvent& a, const core::LockEvent& b) {
  return a.kind == b.kind && a.utc_seconds == b.utc_seconds && a.monotonic_ms == b.monotonic_ms &&
         a.source == b.source && a.operation == b.operation && a.error == b.error && a.alarm == b.alarm &&
         a.door_state == b.door_state && a.data_type == b.data_type && a.data_operation == b.data_operation &&
         a.data_index == b.data_index && a.user_index == b.user_index && a.has_credential == b.has_credential &&
         a.credential == b.credential && a.detail == b.detail;
}

}  // namespace mortise::store::testing
