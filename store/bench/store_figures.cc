// Prints the storage figures quoted in docs/storage-format.md ("Figures"):
// log capacity, wear over a simulated 10 years, RAM. Deterministic.
//   build-store/store/store_figures
// The mount-cost figure comes from store_mount_cost under callgrind (see the doc).
#include <cstdio>
#include <vector>

#include <algorithm>
#include <optional>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/store/audit_log.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

using namespace mortise;
using namespace mortise::store;

namespace {

constexpr uint8_t kKey[32] = {42};
// The core's record kinds (core/user_db.h, CoreRecordKind).
constexpr uint16_t kRecordLockout = 0x0003;
constexpr uint16_t kRecordTime = 0x0004;

core::LockEvent Typical(uint32_t i) {
  core::LockEvent e;
  e.kind = core::EventKind::kLockOperation;
  e.utc_seconds = 1767225600 + i * 4320;
  e.monotonic_ms = 86400000ull * 30 + i * 997;
  e.source = core::OperationSource::kKeypad;
  e.operation = (i % 2) ? core::LockOperationType::kUnlock : core::LockOperationType::kLock;
  e.user_index = static_cast<uint16_t>(1 + i % 1000);
  e.has_credential = true;
  e.credential = core::CredentialRef{core::CredentialType::kPin, static_cast<uint16_t>(1 + i % 2000)};
  return e;
}

struct Device {
  // The lock's reference layout: 64 x 4 KiB record store, 16 x 4 KiB log.
  static constexpr uint32_t kStoreBlocks = 64, kLogBlocks = 16;
  Device()
      : memory((kStoreBlocks + kLogBlocks) * 4096),
        counts(kStoreBlocks + kLogBlocks),
        flash(memory, counts),
        store_part(flash, 0, kStoreBlocks),
        log_part(flash, kStoreBlocks, kLogBlocks),
        auth(kKey),
        store(store_part),
        log(log_part, store.store, auth) {}
  std::vector<uint8_t> memory;
  std::vector<uint32_t> counts;
  FakeFlash flash;
  FlashPartition store_part, log_part;
  HmacLogAuthenticator auth;
  StaticRecordStore<> store;
  AuditLog log;
};

// A lock's identity key signing log heads (as lockd's, over LockAuthority).
class Signer final : public LogHeadSigner {
 public:
  Signer() : entropy_(9), drbg_(entropy_) {
    if (drbg_.Seed().ok()) {
      Result<crypto::P256KeyPair> k = crypto::P256KeyPair::Generate(drbg_);
      if (k.ok()) key_.emplace(std::move(*k));
    }
  }
  std::span<const uint8_t, kLogLockIdSize> lock_id() const override { return id_; }
  Status Sign(std::span<const uint8_t> message, std::span<uint8_t, kLogSignatureSize> signature) override {
    if (!key_.has_value()) return StatusCode::kInternal;
    crypto::P256Signature sig;
    MORTISE_TRY(key_->Sign(message, sig, drbg_));
    std::copy(sig.begin(), sig.end(), signature.begin());
    return Status::Ok();
  }

 private:
  crypto::DeterministicEntropy entropy_;
  crypto::Drbg drbg_;
  std::optional<crypto::P256KeyPair> key_;
  std::array<uint8_t, kLogLockIdSize> id_{};
};

struct Counter : LogRecordVisitor {
  void Visit(const LogRecord&) override { ++n; }
  uint64_t n = 0;
};

void Fill(RecordStore& s) {
  std::vector<uint8_t> user(40, 1), cred(48, 2), sched(16, 3);
  for (uint16_t i = 0; i < 1000; ++i) s.Write(core::MakeRecordKey(0x10, i), user).IgnoreError();
  for (uint16_t i = 0; i < 2000; ++i) s.Write(core::MakeRecordKey(0x11, i), cred).IgnoreError();
  for (uint16_t i = 0; i < 500; ++i) s.Write(core::MakeRecordKey(0x12, i), sched).IgnoreError();
  for (uint16_t i = 0; i < 100; ++i) s.Write(core::MakeRecordKey(0x01, i), sched).IgnoreError();
}

}  // namespace

int main() {
  // Capacity: keep appending acknowledged typical events; the fewest the
  // 64 KiB log ever holds is its guaranteed capacity.
  {
    Device d;
    if (!d.store.store.Mount().ok() || !d.log.Mount().ok()) return 1;
    uint64_t min_held = ~0ull, max_held = 0;
    for (uint32_t i = 0; i < 20000; ++i) {
      Result<uint64_t> seq = d.log.Append(Typical(i));
      if (!seq.ok()) return 2;
      d.log.Acknowledge(*seq).IgnoreError();
      if (i > 6000) {
        const uint64_t held = d.log.next_seq() - d.log.oldest_seq();
        if (held < min_held) min_held = held;
        if (held > max_held) max_held = held;
      }
    }
    Counter c;
    d.log.ReadFrom(0, c).IgnoreError();
    std::printf("log capacity (64 KiB, typical events): at least %llu events, up to %llu; %.1f bytes of flash per event "
                "(record 20 B)\n",
                static_cast<unsigned long long>(min_held), static_cast<unsigned long long>(max_held),
                65536.0 / static_cast<double>(min_held));
  }
  // Capacity with signed heads: the lock signs at each roll (a record kept
  // with the segment) and every T while records wait (kept in RAM); typical
  // events 20 a day (4,320 s apart), the daemon's timer ticking every minute.
  {
    const uint32_t interval = 600;
    Device d;
    Signer signer;
    d.log.set_head_signer(&signer, interval);
    if (!d.store.store.Mount().ok() || !d.log.Mount().ok()) return 1;
    uint64_t min_events = ~0ull;
    for (uint32_t i = 0; i < 8000; ++i) {
      const core::LockEvent e = Typical(i);
      Result<uint64_t> seq = d.log.Append(e);
      if (!seq.ok()) return 2;
      for (int64_t t = e.utc_seconds; t < e.utc_seconds + 4320; t += 60) {
        if (!d.log.SignHeadIfDue(t).ok()) return 2;
      }
      d.log.Acknowledge(d.log.next_seq() - 1).IgnoreError();
      if (i > 5000 && i % 50 == 0) {
        struct Events : LogRecordVisitor {
          void Visit(const LogRecord& r) override { n += r.type == LogRecordType::kEvent; }
          uint64_t n = 0;
        } events;
        d.log.ReadFrom(0, events).IgnoreError();
        min_events = std::min(min_events, events.n);
      }
    }
    std::printf("log capacity with signed heads (at each roll; timed heads every T = %u s are kept in RAM): at least "
                "%llu events\n", interval, static_cast<unsigned long long>(min_events));
  }
  // Capacity for the mix issue 9 names, with exact key attribution: half
  // keypad PINs and cards, 40 % certificate keys (100 keys, each introduced
  // by a key-introduction record when the lock first assigns its index),
  // 10 % the owner's key (a long record: its credential type does not fit
  // the short one); heads signed at each roll as above.
  {
    const uint32_t interval = 600;
    Device d;
    Signer signer;
    d.log.set_head_signer(&signer, interval);
    if (!d.store.store.Mount().ok() || !d.log.Mount().ok()) return 1;
    std::vector<bool> introduced(100, false);
    uint64_t min_events = ~0ull;
    for (uint32_t i = 0; i < 8000; ++i) {
      core::LockEvent e = Typical(i);
      const uint32_t slot = i % 10;
      if (slot == 1) e.credential.type = core::CredentialType::kRfid;
      if (slot >= 5 && slot <= 8) {
        const uint16_t key = static_cast<uint16_t>((i * 7) % 100);
        if (!introduced[key]) {
          const uint8_t issuer[8] = {1, 2, 3, 4, 5, 6, 7, static_cast<uint8_t>(key)};
          if (!d.log.AppendKeyIntroduction(static_cast<uint16_t>(1 + key), issuer, 0x1234567800000000ull + key).ok()) return 2;
          introduced[key] = true;
        }
        e.source = core::OperationSource::kRemote;
        e.user_index = 0;
        e.credential = core::CredentialRef{core::CredentialType::kAliroEvictableEndpointKey, static_cast<uint16_t>(1 + key)};
      }
      if (slot == 9) {
        e.source = core::OperationSource::kRemote;
        e.user_index = 0;
        e.credential = core::CredentialRef{core::CredentialType::kAliroNonEvictableEndpointKey, 0};
      }
      Result<uint64_t> seq = d.log.Append(e);
      if (!seq.ok()) return 2;
      for (int64_t t = e.utc_seconds; t < e.utc_seconds + 4320; t += 60) {
        if (!d.log.SignHeadIfDue(t).ok()) return 2;
      }
      d.log.Acknowledge(d.log.next_seq() - 1).IgnoreError();
      if (i > 5000 && i % 50 == 0) {
        struct Events : LogRecordVisitor {
          void Visit(const LogRecord& r) override { n += r.type == LogRecordType::kEvent; }
          uint64_t n = 0;
        } events;
        d.log.ReadFrom(0, events).IgnoreError();
        min_events = std::min(min_events, events.n);
      }
    }
    std::printf("log capacity with signed heads, mix (50 %% keypad and card, 40 %% certificate keys named exactly, "
                "10 %% owner key): at least %llu events\n", static_cast<unsigned long long>(min_events));
  }
  // Wear: a full lock (1000 users, 2000 credentials, 500 schedules, 100
  // config records), then 10 years of 20 events a day and what the core
  // really writes for each: a credential attempt is one durable counter
  // increment, the lockout record (11 B) rewritten because the attempt
  // succeeded, and one log record; plus the time-floor record (9 B) every
  // hour, 10 configuration changes a week (user + credential transaction), a
  // boot a week, an upload acknowledgement a day.
  {
    Device d;
    if (!d.store.store.Mount().ok() || !d.log.Mount().ok()) return 1;
    Fill(d.store.store);
    uint32_t base_store[Device::kStoreBlocks], base_log[Device::kLogBlocks];
    for (uint32_t b = 0; b < Device::kStoreBlocks; ++b) base_store[b] = d.store_part.EraseCount(b);
    for (uint32_t b = 0; b < Device::kLogBlocks; ++b) base_log[b] = d.log_part.EraseCount(b);
    std::vector<uint8_t> user(40, 5), cred(48, 6), lockout(11, 7), time_floor(9, 8);
    uint32_t event = 0;
    for (int day = 0; day < 3650; ++day) {
      for (int k = 0; k < 20; ++k) {
        if (!d.store.store.IncrementCounter(core::kCounterWrongCodeAttempts).ok()) return 3;
        lockout[1] = static_cast<uint8_t>(event);
        if (!d.store.store.Write(core::MakeRecordKey(kRecordLockout, 0), lockout).ok()) return 6;
        if (!d.log.Append(Typical(event++)).ok()) return 4;
      }
      for (int h = 0; h < 24; ++h) {
        time_floor[1] = static_cast<uint8_t>(h);
        if (!d.store.store.Write(core::MakeRecordKey(kRecordTime, 0), time_floor).ok()) return 7;
      }
      const int changes = (day % 7 < 3) ? 2 : 1;  // 10 a week
      for (int c = 0; c < changes; ++c) {
        const uint16_t u = static_cast<uint16_t>((day * 3 + c) % 1000);
        d.store.store.Begin().IgnoreError();
        d.store.store.Write(core::MakeRecordKey(0x10, u), user).IgnoreError();
        d.store.store.Write(core::MakeRecordKey(0x11, u), cred).IgnoreError();
        if (!d.store.store.Commit().ok()) return 5;
      }
      if (day % 7 == 0) d.store.store.IncrementCounter(core::kCounterBootEpoch).IgnoreError();
      d.log.Acknowledge(d.log.next_seq() - 1).IgnoreError();
    }
    uint32_t store_max = 0, log_max = 0, store_min = ~0u;
    for (uint32_t b = 0; b < Device::kStoreBlocks; ++b) {
      const uint32_t n = d.store_part.EraseCount(b) - base_store[b];
      store_max = n > store_max ? n : store_max;
      store_min = n < store_min ? n : store_min;
    }
    for (uint32_t b = 0; b < Device::kLogBlocks; ++b) {
      const uint32_t n = d.log_part.EraseCount(b) - base_log[b];
      log_max = n > log_max ? n : log_max;
    }
    const uint32_t busiest = store_max > log_max ? store_max : log_max;
    std::printf("wear over 10 years: busiest store block %u erases (least %u), busiest log block %u erases; "
                "busiest block uses %.2f%% of 10,000 cycles\n",
                store_max, store_min, log_max, 100.0 * busiest / 10000.0);
  }
  std::printf("RAM: RecordStore %zu B + index %zu B (%zu records x %zu B) ; AuditLog %zu B\n", sizeof(RecordStore),
              RecordStore::kDefaultCapacity * sizeof(RecordIndexEntry), RecordStore::kDefaultCapacity,
              sizeof(RecordIndexEntry), sizeof(AuditLog));
  return 0;
}
