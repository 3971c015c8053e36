// Fuzzes the lock's offline PIN decoder: arbitrary keypad entries against an
// arbitrary table of activated codes, time, zone and erase mark. No input may
// crash it, and a grant must always fall inside the entry it reports.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mortise/core/offline_pin.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mortise::core;
  static OfflinePinCodec codec = [] {
    std::array<uint8_t, 32> secret;
    secret.fill(0x11);
    return OfflinePinCodec(secret);
  }();
  if (size < 16) return 0;
  uint32_t now_h, erased;
  int32_t offset;
  std::memcpy(&now_h, data, 4);
  std::memcpy(&erased, data + 4, 4);
  std::memcpy(&offset, data + 8, 4);
  offset %= 14 * 3600;
  const uint8_t table_len = data[12] % (kOfflineTableSize + 1);
  data += 16;
  size -= 16;
  std::array<OfflineEntry, kOfflineTableSize> table{};
  for (uint8_t i = 0; i < table_len && size >= 18; ++i) {
    OfflineEntry& e = table[i];
    e.kind = static_cast<OfflineCodeKind>(data[0] % 5);
    std::memcpy(e.digest.data(), data + 1, 8);
    std::memcpy(&e.from, data + 9, 4);
    std::memcpy(&e.until, data + 13, 4);
    e.daily_start = data[17] % 25;
    e.daily_end = static_cast<uint8_t>(e.daily_start + 1);
    data += 18;
    size -= 18;
  }
  const int64_t utc = int64_t(now_h % 2000000) * 3600 + 1800;
  const auto v = codec.Check(std::span<const uint8_t>(data, size), utc, offset, table, erased);
  if (v.outcome == OfflinePinCodec::Outcome::kGrant && v.store) {
    const uint32_t h = static_cast<uint32_t>(utc / 3600);
    if (v.entry.kind == OfflineCodeKind::kWindow && !(v.entry.from <= h && h < v.entry.until)) __builtin_trap();
    if (v.slot < 0 || v.slot >= int(kOfflineTableSize)) __builtin_trap();
  }
  return 0;
}
