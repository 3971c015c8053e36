// The log's record layouts and chain/tag computations, shared by the log
// format and verifier (log_format.cc, mortise_logformat) and the flash log
// (audit_log.cc, mortise_store). Internal to the module.
#pragma once

#include <cstring>

#include "crc.h"
#include "mortise/crypto/secret.h"
#include "mortise/store/audit_log.h"

namespace mortise::store::log_detail {


using internal::AlignUp;
using internal::Crc16;
using internal::Crc32;
using internal::GetLe16;
using internal::GetLe32;
using internal::GetLe64;
using internal::PutLe16;
using internal::PutLe32;
using internal::PutLe64;

inline constexpr uint32_t kSegmentMagic = 0x32474C4D;  // "MLG2"
inline constexpr size_t kSegmentHeaderSize = 36;
inline constexpr size_t kShortSize = 20;
inline constexpr size_t kLongSize = 40;
inline constexpr size_t kLossSize = 20;
inline constexpr size_t kSealSize = 20;
inline constexpr size_t kSignedHeadSize = 84;
inline constexpr size_t kKeyIntroSize = 24;
// Room kept before the seal slot (the last kSealSize bytes of every segment)
// for the overflow loss record and one retry of it after a torn write, so a
// roll never needs space it does not have.
inline constexpr size_t kLossReserve = 2 * kLossSize;

enum : uint8_t {
  kShortEvent = 0xA1,
  kLongEvent = 0xA2,
  kLossRecord = 0xA3,
  kSeal = 0xA4,
  kSignedHead = 0xA6,
  kKeyIntro = 0xA7,
};
static_assert(kSignedHead == kLogRecordTypeSignedHead && kKeyIntro == kLogRecordTypeKeyIntro);
inline constexpr uint8_t kSignedHeadLabel[20] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o',
                                          'g', '-', 'h', 'e', 'a', 'd', '-', 'v', '1', 0};

inline constexpr uint8_t kChainLabel[4] = {'M', 'L', 'c', '1'};
inline constexpr uint8_t kVoidLabel[4] = {'M', 'L', 'v', '1'};
inline constexpr uint8_t kAnchorLabel[4] = {'M', 'L', 'a', '1'};
inline constexpr uint8_t kHeadLabel[4] = {'M', 'L', 'h', '1'};
inline constexpr uint8_t kBeforeLabel[4] = {'M', 'L', 'p', '2'};
inline constexpr size_t kHeadTagSize = 8;  // durable-head tags: checked only by the lock itself


inline size_t RecordSizeOf(uint8_t type) {
  switch (type) {
    case kShortEvent: return kShortSize;
    case kLongEvent: return kLongSize;
    case kLossRecord: return kLossSize;
    case kSeal: return kSealSize;
    case kSignedHead: return kSignedHeadSize;
    case kKeyIntro: return kKeyIntroSize;
    default: return 0;
  }
}

inline void SealCrc(uint8_t* record, size_t size) { PutLe16(record + size - 2, Crc16(std::span<const uint8_t>(record, size - 2))); }
inline bool CrcOk(const uint8_t* record, size_t size) {
  return GetLe16(record + size - 2) == Crc16(std::span<const uint8_t>(record, size - 2));
}

inline LogChain ChainNext(const LogChain& prev, uint64_t seq, std::span<const uint8_t> record) {
  crypto::Sha256 sha;
  uint8_t s[8];
  PutLe64(s, seq);
  sha.Update(kChainLabel);
  sha.Update(prev);
  sha.Update(s);
  sha.Update(record);
  uint8_t digest[crypto::kSha256Size];
  sha.Final(digest);
  LogChain out;
  std::memcpy(out.data(), digest, out.size());
  return out;
}

inline LogChain ChainVoid(const LogChain& prev, uint64_t seq) {
  crypto::Sha256 sha;
  uint8_t s[8];
  PutLe64(s, seq);
  sha.Update(kVoidLabel);
  sha.Update(prev);
  sha.Update(s);
  uint8_t digest[crypto::kSha256Size];
  sha.Final(digest);
  LogChain out;
  std::memcpy(out.data(), digest, out.size());
  return out;
}

inline LogTag AnchorTag(const LogAuthenticator& auth, uint64_t n, const LogChain& chain) {
  uint8_t m[8 + kLogChainSize];
  PutLe64(m, n);
  std::memcpy(m + 8, chain.data(), chain.size());
  LogTag tag;
  auth.Tag(kAnchorLabel, m, tag);
  return tag;
}

// The durable head's value: LE64 n | tag8("MLp2", LE64 n | chain before n) |
// tag8("MLa1", LE64 n | h(n)). Written before record n reaches the log, so
// mount knows the last number issued and can check the chain's end whether
// or not record n made it to flash.
inline void EncodeDurableHead(const LogAuthenticator& auth, uint64_t n, const LogChain& before, const LogChain& after,
                       uint8_t* out) {
  PutLe64(out, n);
  uint8_t m[8 + kLogChainSize];
  PutLe64(m, n);
  std::memcpy(m + 8, before.data(), before.size());
  LogTag t;
  auth.Tag(kBeforeLabel, m, t);
  std::memcpy(out + 8, t.data(), kHeadTagSize);
  t = AnchorTag(auth, n, after);
  std::memcpy(out + 8 + kHeadTagSize, t.data(), kHeadTagSize);
}

// Compares one of the durable head's tags with the one over (n, chain).
inline bool DurableTagOk(const LogAuthenticator& auth, const uint8_t* head, uint64_t n, const LogChain& chain, bool before) {
  uint8_t expect[AuditLog::kHeadRecordSize];
  EncodeDurableHead(auth, n, chain, chain, expect);
  const size_t at = before ? 8 : 8 + kHeadTagSize;
  return crypto::ConstantTimeEqual(std::span<const uint8_t>(expect + at, kHeadTagSize),
                                   std::span<const uint8_t>(head + at, kHeadTagSize));
}

inline LogTag HeadTag(const LogAuthenticator& auth, const LogChallenge& challenge, uint64_t n, const LogChain& chain) {
  uint8_t m[kLogChallengeSize + 8 + kLogChainSize];
  std::memcpy(m, challenge.data(), challenge.size());
  PutLe64(m + kLogChallengeSize, n);
  std::memcpy(m + kLogChallengeSize + 8, chain.data(), chain.size());
  LogTag tag;
  auth.Tag(kHeadLabel, m, tag);
  return tag;
}

inline bool TagEqual(const LogTag& a, const LogTag& b) { return crypto::ConstantTimeEqual(a, b); }

// Little-endian bit packer for the short event form.
struct Bits {
  uint8_t* p;
  size_t at = 0;
  void Put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i, ++at) {
      if ((v >> i) & 1) p[at / 8] |= static_cast<uint8_t>(1u << (at % 8));
    }
  }
};
struct BitsIn {
  const uint8_t* p;
  size_t at = 0;
  uint64_t Get(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i, ++at) v |= static_cast<uint64_t>((p[at / 8] >> (at % 8)) & 1) << i;
    return v;
  }
};

inline bool FitsShort(const core::LockEvent& e) {
  return static_cast<uint8_t>(e.kind) < 8 && static_cast<uint8_t>(e.source) < 16 &&
         static_cast<uint8_t>(e.operation) < 8 && static_cast<uint8_t>(e.error) < 8 &&
         static_cast<uint8_t>(e.door_state) < 8 && static_cast<uint8_t>(e.detail) < 32 &&
         static_cast<uint8_t>(e.credential.type) < 8 && static_cast<uint8_t>(e.alarm) == 0 &&
         static_cast<uint8_t>(e.data_type) == 0 && static_cast<uint8_t>(e.data_operation) == 0 &&
         e.data_index == 0 && e.utc_seconds >= 0 && e.utc_seconds <= 0xFFFFFFFFll &&
         e.monotonic_ms < (1ull << 39);
}

}  // namespace mortise::store::log_detail
