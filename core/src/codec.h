// Little-endian record encoding for the core's stored records. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace mortise::core::internal {

class Writer {
 public:
  explicit Writer(std::span<uint8_t> out) : out_(out) {}
  void U8(uint8_t v) { Put(&v, 1); }
  void U16(uint16_t v) { uint8_t b[2] = {uint8_t(v), uint8_t(v >> 8)}; Put(b, 2); }
  void U32(uint32_t v) {
    uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    Put(b, 4);
  }
  void U64(uint64_t v) { U32(uint32_t(v)); U32(uint32_t(v >> 32)); }
  void Bytes(const void* p, size_t n) { Put(static_cast<const uint8_t*>(p), n); }
  bool ok() const { return ok_; }
  size_t size() const { return pos_; }
  std::span<const uint8_t> written() const { return out_.first(pos_); }

 private:
  void Put(const uint8_t* p, size_t n) {
    if (!ok_ || pos_ + n > out_.size()) { ok_ = false; return; }
    std::memcpy(out_.data() + pos_, p, n);
    pos_ += n;
  }
  std::span<uint8_t> out_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Reads fields; any read past the end sets !ok() and yields zeros, so a
// decoder checks ok() (and done()) once at the end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  uint8_t U8() { uint8_t b[1] = {}; Get(b, 1); return b[0]; }
  uint16_t U16() { uint8_t b[2] = {}; Get(b, 2); return uint16_t(b[0] | (b[1] << 8)); }
  uint32_t U32() {
    uint8_t b[4] = {};
    Get(b, 4);
    return uint32_t(b[0]) | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16) | (uint32_t(b[3]) << 24);
  }
  uint64_t U64() { uint64_t lo = U32(); return lo | (uint64_t(U32()) << 32); }
  void Bytes(void* p, size_t n) { Get(static_cast<uint8_t*>(p), n); }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == in_.size(); }

 private:
  void Get(uint8_t* p, size_t n) {
    if (!ok_ || pos_ + n > in_.size()) { ok_ = false; std::memset(p, 0, n); return; }
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace mortise::core::internal
