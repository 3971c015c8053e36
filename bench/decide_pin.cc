// decide_pin N: sets up a lock with 1,000 users (a PIN and a week-day
// schedule each) and makes N keypad PIN decisions, mixing valid, invalid and
// out-of-schedule codes. Exits 0 when every decision came out as expected.
//
// Instructions per decision (docs/core.md):
//   (callgrind Ir at N=20000 - Ir at N=0) / 20000
#include <cstdio>
#include <cstdlib>

#include "bench_lock.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: decide_pin N   (N: number of PIN decisions, 0..100000000)\n");
    return 2;
  }
  char* end = nullptr;
  const unsigned long long n = std::strtoull(argv[1], &end, 10);
  if (end == argv[1] || *end != '\0' || n > 100000000ull) {
    std::fprintf(stderr, "decide_pin: N must be a whole number from 0 to 100000000, got '%s'\n", argv[1]);
    return 2;
  }
  mortise::bench::BenchLock bench;
  auto& lock = bench.lock();
  unsigned long long granted = 0, refused = 0, wrong = 0;
  for (unsigned long long i = 0; i < n; ++i) {
    if (i % 4 == 0) bench.PassAWeek();
    const std::string& pin = bench.PinFor(i);
    auto r = lock.PresentCredential(mortise::core::OperationSource::kKeypad, mortise::core::CredentialType::kPin,
                                    std::span(reinterpret_cast<const uint8_t*>(pin.data()), pin.size()));
    const bool expect_grant = i % 4 >= 2;
    if (r.ok()) ++granted; else ++refused;
    if (r.ok() != expect_grant) ++wrong;
  }
  if (n > 0) std::printf("decisions: %llu granted: %llu refused: %llu unexpected: %llu\n", n, granted, refused, wrong);
  return wrong == 0 ? 0 : 1;
}
