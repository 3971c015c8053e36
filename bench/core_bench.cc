// Google Benchmark suite for the core's hot paths. Wall-clock figures on a
// shared machine are indicative only; the published figure is callgrind's
// instruction count of decide_pin (docs/core.md).
#include <benchmark/benchmark.h>

#include "bench_lock.h"

namespace {

using namespace mortise;

bench::BenchLock& Shared() {
  static bench::BenchLock lock;
  return lock;
}

void BM_PinDecisionMix(benchmark::State& state) {
  auto& b = Shared();
  uint64_t i = 0;
  for (auto _ : state) {
    if (i % 4 == 0) b.PassAWeek();
    const std::string& pin = b.PinFor(i++);
    auto r = b.lock().PresentCredential(core::OperationSource::kKeypad, core::CredentialType::kPin,
                                        std::span(reinterpret_cast<const uint8_t*>(pin.data()), pin.size()));
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_PinDecisionMix);

void BM_CredentialLookup(benchmark::State& state) {
  auto& b = Shared();
  uint64_t i = 0;
  for (auto _ : state) {
    const std::string& pin = b.PinFor(i++);
    auto m = b.lock().users().Find(core::CredentialType::kPin,
                                   std::span(reinterpret_cast<const uint8_t*>(pin.data()), pin.size()));
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_CredentialLookup);

void BM_IdleService(benchmark::State& state) {
  auto& b = Shared();
  for (auto _ : state) b.lock().Service();
}
BENCHMARK(BM_IdleService);

}  // namespace

BENCHMARK_MAIN();
