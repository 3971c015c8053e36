// offline_pin_check KIND N: N lock-side checks of wrong offline codes of one
// kind, the worst case for each length (a wrong code runs every candidate):
//   erase13  13 digits decoding as erase-all: 24 candidate hours
//   once13   13 digits decoding as one-time: 6 candidate hours
//   long16   16 digits: the table digest and one MAC
// Instructions per check: (Ir(N=20000) - Ir(N=0)) / 20000 (docs/offline-pins.md).
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mortise/core/offline_pin.h"

int main(int argc, char** argv) {
  using namespace mortise::core;
  if (argc != 3 || (std::strcmp(argv[1], "erase13") && std::strcmp(argv[1], "once13") && std::strcmp(argv[1], "long16"))) {
    std::fprintf(stderr, "usage: offline_pin_check erase13|once13|long16 N\n");
    return 2;
  }
  char* end = nullptr;
  const unsigned long n = std::strtoul(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || n > 10000000) {
    std::fprintf(stderr, "offline_pin_check: N must be a whole number from 0 to 10000000\n");
    return 2;
  }
  std::array<uint8_t, 32> secret;
  secret.fill(0x42);
  OfflinePinCodec codec(secret);
  std::array<OfflineEntry, kOfflineTableSize> table{};
  for (size_t i = 0; i < table.size(); ++i) table[i] = OfflineEntry{OfflineCodeKind::kWindow, {uint8_t(i)}, 1, 2, 0, 0};
  const bool long_code = argv[1][0] == 'l';
  const unsigned base = argv[1][0] == 'e' ? 1 : 0;  // x = 1: erase kind, seq 0
  unsigned long grants = 0;
  for (unsigned long i = 0; i < n; ++i) {
    std::string code = std::to_string(long_code ? 1000000000000000ull + i * 2097152ull * 7 : 1000000000000ull + (i * 8) + base);
    auto v = codec.Check(std::span(reinterpret_cast<const uint8_t*>(code.data()), code.size()), 1795600000, 0, table, 0);
    grants += v.outcome == OfflinePinCodec::Outcome::kGrant;
  }
  if (n > 0) std::printf("checks: %lu grants: %lu\n", n, grants);
  return 0;
}
