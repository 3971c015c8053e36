// CRCs and little-endian helpers shared by the store's formats. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mortise::store::internal {

// CRC-32 (IEEE 802.3): reflected polynomial 0xEDB88320, init 0xFFFFFFFF,
// final XOR 0xFFFFFFFF; Crc32("123456789") == 0xCBF43926. Chain calls by
// passing the previous result as `crc`.
uint32_t Crc32(std::span<const uint8_t> data, uint32_t crc = 0);

// CRC-16/CCITT-FALSE: polynomial 0x1021, init 0xFFFF, no reflection, no final
// XOR; Crc16("123456789") == 0x29B1. Detects every 1-, 2- and 3-bit error in
// an audit record.
uint16_t Crc16(std::span<const uint8_t> data, uint16_t crc = 0xFFFF);

inline void PutLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint16_t GetLe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t GetLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t GetLe64(const uint8_t* p) {
  return static_cast<uint64_t>(GetLe32(p)) | (static_cast<uint64_t>(GetLe32(p + 4)) << 32);
}

constexpr size_t AlignUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

}  // namespace mortise::store::internal
