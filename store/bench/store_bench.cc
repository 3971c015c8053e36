// Google Benchmark timings of the store's hot paths on FakeFlash (host CPU
// time; flash latency is not modelled). Figures that matter on the lock
// (instructions, bytes, erases) come from store_figures and store_mount_cost.
#include <benchmark/benchmark.h>

#include <memory>
#include <optional>
#include <vector>

#include "mortise/store/audit_log.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

namespace {

using namespace mortise;
using namespace mortise::store;

constexpr uint8_t kKey[32] = {42};

struct Device {
  Device()
      : memory(80 * 4096), counts(80), flash(memory, counts), store_part(flash, 0, 64), log_part(flash, 64, 16),
        auth(kKey) {
    Remount();
  }
  void Remount() {
    log.reset();
    store = std::make_unique<StaticRecordStore<>>(store_part);
    log.emplace(log_part, store->store, auth);
    if (!store->store.Mount().ok() || !log->Mount().ok()) std::abort();
  }
  void Fill() {
    std::vector<uint8_t> user(40, 1), cred(48, 2);
    for (uint16_t i = 0; i < 1000; ++i) store->store.Write(core::MakeRecordKey(0x10, i), user).IgnoreError();
    for (uint16_t i = 0; i < 2000; ++i) store->store.Write(core::MakeRecordKey(0x11, i), cred).IgnoreError();
  }
  std::vector<uint8_t> memory;
  std::vector<uint32_t> counts;
  FakeFlash flash;
  FlashPartition store_part, log_part;
  HmacLogAuthenticator auth;
  std::unique_ptr<StaticRecordStore<>> store;
  std::optional<AuditLog> log;
};

void BM_AppendTypicalEvent(benchmark::State& state) {
  Device d;
  core::LockEvent e;
  e.user_index = 12;
  e.has_credential = true;
  uint32_t i = 0;
  for (auto _ : state) {
    e.monotonic_ms = ++i;
    Result<uint64_t> seq = d.log->Append(e);
    if (!seq.ok()) state.SkipWithError("append failed");
    if (i % 100 == 0) d.log->Acknowledge(*seq).IgnoreError();
  }
}
BENCHMARK(BM_AppendTypicalEvent);

void BM_AddUserAndCredentialToFullStore(benchmark::State& state) {
  Device d;
  d.Fill();
  std::vector<uint8_t> user(40, 7), cred(48, 8);
  uint16_t u = 0;
  for (auto _ : state) {
    d.store->store.Begin().IgnoreError();
    d.store->store.Write(core::MakeRecordKey(0x10, u), user).IgnoreError();
    d.store->store.Write(core::MakeRecordKey(0x11, u), cred).IgnoreError();
    if (!d.store->store.Commit().ok()) state.SkipWithError("commit failed");
    u = static_cast<uint16_t>((u + 1) % 1000);
  }
}
BENCHMARK(BM_AddUserAndCredentialToFullStore);

void BM_IncrementCounter(benchmark::State& state) {
  Device d;
  d.Fill();
  for (auto _ : state) {
    if (!d.store->store.IncrementCounter(core::kCounterWrongCodeAttempts).ok()) state.SkipWithError("failed");
  }
}
BENCHMARK(BM_IncrementCounter);

void BM_MountFullStoreAndLog(benchmark::State& state) {
  Device d;
  d.Fill();
  core::LockEvent e;
  for (uint32_t i = 0; i < 4000; ++i) {
    Result<uint64_t> seq = d.log->Append(e);
    if (seq.ok()) d.log->Acknowledge(*seq).IgnoreError();
  }
  for (auto _ : state) d.Remount();
}
BENCHMARK(BM_MountFullStoreAndLog);

}  // namespace

BENCHMARK_MAIN();
