#include "mortise/store/audit_log.h"

#include <cstring>

#include "crc.h"
#include "mortise/crypto/secret.h"

namespace mortise::store {
namespace {

using internal::AlignUp;
using internal::Crc16;
using internal::Crc32;
using internal::GetLe16;
using internal::GetLe32;
using internal::GetLe64;
using internal::PutLe16;
using internal::PutLe32;
using internal::PutLe64;

constexpr uint32_t kSegmentMagic = 0x32474C4D;  // "MLG2"
constexpr size_t kSegmentHeaderSize = 36;
constexpr size_t kShortSize = 20;
constexpr size_t kLongSize = 40;
constexpr size_t kLossSize = 20;
constexpr size_t kSealSize = 20;
constexpr size_t kSignedHeadSize = 84;
constexpr size_t kKeyIntroSize = 24;
// Room kept before the seal slot (the last kSealSize bytes of every segment)
// for the overflow loss record and one retry of it after a torn write, so a
// roll never needs space it does not have.
constexpr size_t kLossReserve = 2 * kLossSize;

enum : uint8_t {
  kShortEvent = 0xA1,
  kLongEvent = 0xA2,
  kLossRecord = 0xA3,
  kSeal = 0xA4,
  kSignedHead = 0xA6,
  kKeyIntro = 0xA7,
};
static_assert(kSignedHead == kLogRecordTypeSignedHead && kKeyIntro == kLogRecordTypeKeyIntro);
constexpr uint8_t kSignedHeadLabel[20] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o',
                                          'g', '-', 'h', 'e', 'a', 'd', '-', 'v', '1', 0};

constexpr uint8_t kChainLabel[4] = {'M', 'L', 'c', '1'};
constexpr uint8_t kVoidLabel[4] = {'M', 'L', 'v', '1'};
constexpr uint8_t kAnchorLabel[4] = {'M', 'L', 'a', '1'};
constexpr uint8_t kHeadLabel[4] = {'M', 'L', 'h', '1'};
constexpr uint8_t kBeforeLabel[4] = {'M', 'L', 'p', '2'};
constexpr size_t kHeadTagSize = 8;  // durable-head tags: checked only by the lock itself


size_t RecordSizeOf(uint8_t type) {
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

void SealCrc(uint8_t* record, size_t size) { PutLe16(record + size - 2, Crc16(std::span<const uint8_t>(record, size - 2))); }
bool CrcOk(const uint8_t* record, size_t size) {
  return GetLe16(record + size - 2) == Crc16(std::span<const uint8_t>(record, size - 2));
}

LogChain ChainNext(const LogChain& prev, uint64_t seq, std::span<const uint8_t> record) {
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

LogChain ChainVoid(const LogChain& prev, uint64_t seq) {
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

LogTag AnchorTag(const LogAuthenticator& auth, uint64_t n, const LogChain& chain) {
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
void EncodeDurableHead(const LogAuthenticator& auth, uint64_t n, const LogChain& before, const LogChain& after,
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
bool DurableTagOk(const LogAuthenticator& auth, const uint8_t* head, uint64_t n, const LogChain& chain, bool before) {
  uint8_t expect[AuditLog::kHeadRecordSize];
  EncodeDurableHead(auth, n, chain, chain, expect);
  const size_t at = before ? 8 : 8 + kHeadTagSize;
  return crypto::ConstantTimeEqual(std::span<const uint8_t>(expect + at, kHeadTagSize),
                                   std::span<const uint8_t>(head + at, kHeadTagSize));
}

LogTag HeadTag(const LogAuthenticator& auth, const LogChallenge& challenge, uint64_t n, const LogChain& chain) {
  uint8_t m[kLogChallengeSize + 8 + kLogChainSize];
  std::memcpy(m, challenge.data(), challenge.size());
  PutLe64(m + kLogChallengeSize, n);
  std::memcpy(m + kLogChallengeSize + 8, chain.data(), chain.size());
  LogTag tag;
  auth.Tag(kHeadLabel, m, tag);
  return tag;
}

bool TagEqual(const LogTag& a, const LogTag& b) { return crypto::ConstantTimeEqual(a, b); }

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

bool FitsShort(const core::LockEvent& e) {
  return static_cast<uint8_t>(e.kind) < 8 && static_cast<uint8_t>(e.source) < 16 &&
         static_cast<uint8_t>(e.operation) < 8 && static_cast<uint8_t>(e.error) < 8 &&
         static_cast<uint8_t>(e.door_state) < 8 && static_cast<uint8_t>(e.detail) < 32 &&
         static_cast<uint8_t>(e.credential.type) < 8 && static_cast<uint8_t>(e.alarm) == 0 &&
         static_cast<uint8_t>(e.data_type) == 0 && static_cast<uint8_t>(e.data_operation) == 0 &&
         e.data_index == 0 && e.utc_seconds >= 0 && e.utc_seconds <= 0xFFFFFFFFll &&
         e.monotonic_ms < (1ull << 39);
}

}  // namespace

void HmacLogAuthenticator::Tag(std::span<const uint8_t> label, std::span<const uint8_t> message,
                               std::span<uint8_t, kLogTagSize> out) const {
  uint8_t full[crypto::kSha256Size];
  hmac_.Mac(label, message, {}, full);
  std::memcpy(out.data(), full, kLogTagSize);
  crypto::SecureZero(full, sizeof(full));
}

size_t EncodeLogEvent(const core::LockEvent& e, uint64_t seq, std::span<uint8_t, kMaxLogRecordSize> out) {
  for (auto& b : out) b = 0;
  out[1] = static_cast<uint8_t>(seq);
  if (FitsShort(e)) {
    out[0] = kShortEvent;
    Bits bits{out.data() + 2};
    bits.Put(static_cast<uint8_t>(e.kind), 3);
    bits.Put(static_cast<uint8_t>(e.source), 4);
    bits.Put(static_cast<uint8_t>(e.operation), 3);
    bits.Put(static_cast<uint8_t>(e.error), 3);
    bits.Put(static_cast<uint8_t>(e.door_state), 3);
    bits.Put(static_cast<uint8_t>(e.detail), 5);
    bits.Put(e.has_credential ? 1 : 0, 1);
    bits.Put(static_cast<uint8_t>(e.credential.type), 3);
    bits.Put(e.user_index, 16);
    bits.Put(e.credential.index, 16);
    bits.Put(static_cast<uint64_t>(e.utc_seconds), 32);
    bits.Put(e.monotonic_ms, 39);
    SealCrc(out.data(), kShortSize);
    return kShortSize;
  }
  out[0] = kLongEvent;
  uint8_t* p = out.data();
  p[2] = static_cast<uint8_t>(e.kind);
  p[3] = static_cast<uint8_t>(e.source);
  p[4] = static_cast<uint8_t>(e.operation);
  p[5] = static_cast<uint8_t>(e.error);
  p[6] = static_cast<uint8_t>(e.alarm);
  p[7] = static_cast<uint8_t>(e.door_state);
  p[8] = static_cast<uint8_t>(e.data_type);
  p[9] = static_cast<uint8_t>(e.data_operation);
  PutLe16(p + 10, e.data_index);
  PutLe16(p + 12, e.user_index);
  p[14] = e.has_credential ? 1 : 0;
  p[15] = static_cast<uint8_t>(e.credential.type);
  PutLe16(p + 16, e.credential.index);
  p[18] = static_cast<uint8_t>(e.detail);
  PutLe64(p + 20, static_cast<uint64_t>(e.utc_seconds));
  PutLe64(p + 28, e.monotonic_ms);
  SealCrc(p, kLongSize);
  return kLongSize;
}

size_t EncodeLogLoss(LossReason reason, uint64_t first_lost, uint32_t count, uint64_t seq,
                     std::span<uint8_t, kMaxLogRecordSize> out) {
  for (auto& b : out) b = 0;
  out[0] = kLossRecord;
  out[1] = static_cast<uint8_t>(seq);
  out[2] = static_cast<uint8_t>(reason);
  PutLe64(out.data() + 4, first_lost);
  PutLe32(out.data() + 12, count);
  SealCrc(out.data(), kLossSize);
  return kLossSize;
}

size_t EncodeLogKeyIntro(uint16_t index, std::span<const uint8_t, 8> issuer_key_id, uint64_t serial, uint64_t seq,
                         std::span<uint8_t, kMaxLogRecordSize> out) {
  for (auto& b : out) b = 0;
  out[0] = kKeyIntro;
  out[1] = static_cast<uint8_t>(seq);
  PutLe16(out.data() + 2, index);
  std::memcpy(out.data() + 4, issuer_key_id.data(), 8);
  PutLe64(out.data() + 12, serial);
  SealCrc(out.data(), kKeyIntroSize);
  return kKeyIntroSize;
}

void EncodeSignedHeadMessage(std::span<const uint8_t, kLogLockIdSize> lock_id, uint64_t seq,
                             std::span<const uint8_t, 16> chain_before, int64_t utc,
                             std::span<uint8_t, kSignedHeadMessageSize> out) {
  uint8_t* p = out.data();
  std::memcpy(p, kSignedHeadLabel, sizeof(kSignedHeadLabel));
  p += sizeof(kSignedHeadLabel);
  std::memcpy(p, lock_id.data(), kLogLockIdSize);
  p += kLogLockIdSize;
  PutLe64(p, seq);
  std::memcpy(p + 8, chain_before.data(), 16);
  PutLe64(p + 24, static_cast<uint64_t>(utc));
}

Result<LogRecord> DecodeLogRecord(uint64_t seq, std::span<const uint8_t> b) {
  if (b.size() < 2) return StatusCode::kDataLoss;
  const size_t size = RecordSizeOf(b[0]);
  if (size == 0 || b[0] == kSeal || b.size() != size || !CrcOk(b.data(), size) ||
      b[1] != static_cast<uint8_t>(seq)) {
    return StatusCode::kDataLoss;
  }
  LogRecord r;
  r.seq = seq;
  core::LockEvent& e = r.event;
  if (b[0] == kKeyIntro) {
    if (b[20] != 0 || b[21] != 0) return StatusCode::kDataLoss;
    r.type = LogRecordType::kKeyIntro;
    r.key_index = GetLe16(b.data() + 2);
    std::memcpy(r.issuer_key_id.data(), b.data() + 4, 8);
    r.serial = GetLe64(b.data() + 12);
    return r;
  }
  if (b[0] == kSignedHead) {
    r.type = LogRecordType::kSignedHead;
    for (size_t i : {size_t{2}, size_t{3}, size_t{76}, size_t{77}, size_t{78}, size_t{79}, size_t{80}, size_t{81}}) {
      if (b[i] != 0) return StatusCode::kDataLoss;
    }
    r.signed_utc = static_cast<int64_t>(GetLe64(b.data() + 4));
    std::memcpy(r.signature.data(), b.data() + 12, kLogSignatureSize);
    return r;
  }
  if (b[0] == kLossRecord) {
    r.type = LogRecordType::kLoss;
    if (b[2] < 1 || b[2] > 5) return StatusCode::kDataLoss;
    r.reason = static_cast<LossReason>(b[2]);
    r.first_lost = GetLe64(b.data() + 4);
    r.lost_count = GetLe32(b.data() + 12);
    return r;
  }
  if (b[0] == kShortEvent) {
    BitsIn bits{b.data() + 2};
    e.kind = static_cast<core::EventKind>(bits.Get(3));
    e.source = static_cast<core::OperationSource>(bits.Get(4));
    e.operation = static_cast<core::LockOperationType>(bits.Get(3));
    e.error = static_cast<core::OperationError>(bits.Get(3));
    e.door_state = static_cast<core::DoorState>(bits.Get(3));
    e.detail = static_cast<core::EventDetail>(bits.Get(5));
    e.has_credential = bits.Get(1) != 0;
    e.credential.type = static_cast<core::CredentialType>(bits.Get(3));
    e.user_index = static_cast<uint16_t>(bits.Get(16));
    e.credential.index = static_cast<uint16_t>(bits.Get(16));
    e.utc_seconds = static_cast<int64_t>(bits.Get(32));
    e.monotonic_ms = bits.Get(39);
    e.alarm = static_cast<core::AlarmCode>(0);
    e.data_type = static_cast<core::LockDataType>(0);
    e.data_operation = static_cast<core::DataOperationType>(0);
    e.data_index = 0;
  } else {
    const uint8_t* p = b.data();
    e.kind = static_cast<core::EventKind>(p[2]);
    e.source = static_cast<core::OperationSource>(p[3]);
    e.operation = static_cast<core::LockOperationType>(p[4]);
    e.error = static_cast<core::OperationError>(p[5]);
    e.alarm = static_cast<core::AlarmCode>(p[6]);
    e.door_state = static_cast<core::DoorState>(p[7]);
    e.data_type = static_cast<core::LockDataType>(p[8]);
    e.data_operation = static_cast<core::DataOperationType>(p[9]);
    e.data_index = GetLe16(p + 10);
    e.user_index = GetLe16(p + 12);
    if (p[14] > 1) return StatusCode::kDataLoss;
    e.has_credential = p[14] == 1;
    e.credential.type = static_cast<core::CredentialType>(p[15]);
    e.credential.index = GetLe16(p + 16);
    e.detail = static_cast<core::EventDetail>(p[18]);
    e.utc_seconds = static_cast<int64_t>(GetLe64(p + 20));
    e.monotonic_ms = GetLe64(p + 28);
  }
  if (static_cast<uint8_t>(e.kind) > static_cast<uint8_t>(core::EventKind::kKeyRefused)) return StatusCode::kDataLoss;
  r.type = LogRecordType::kEvent;
  return r;
}

Result<size_t> EncodeLogItem(const LogItem& item, std::span<uint8_t> out) {
  size_t size = 9;
  switch (item.type) {
    case LogItemType::kRecord: size += 1 + item.length; break;
    case LogItemType::kAnchor: size += kLogChainSize + kLogTagSize; break;
    case LogItemType::kCheckpoint:
    case LogItemType::kHead: size += kLogTagSize; break;
    case LogItemType::kSignedHead: size += 8 + kLogSignatureSize; break;
    case LogItemType::kVoid: break;
    default: return StatusCode::kInvalidArgument;
  }
  if (item.length > kMaxLogRecordSize) return StatusCode::kInvalidArgument;
  if (out.size() < size) return StatusCode::kResourceExhausted;
  out[0] = static_cast<uint8_t>(item.type);
  PutLe64(out.data() + 1, item.seq);
  uint8_t* p = out.data() + 9;
  switch (item.type) {
    case LogItemType::kRecord:
      *p++ = item.length;
      std::memcpy(p, item.bytes.data(), item.length);
      break;
    case LogItemType::kAnchor:
      std::memcpy(p, item.chain.data(), kLogChainSize);
      std::memcpy(p + kLogChainSize, item.tag.data(), kLogTagSize);
      break;
    case LogItemType::kCheckpoint:
    case LogItemType::kHead: std::memcpy(p, item.tag.data(), kLogTagSize); break;
    case LogItemType::kSignedHead: std::memcpy(p, item.bytes.data(), 8 + kLogSignatureSize); break;
    default: break;
  }
  return size;
}

Result<size_t> DecodeLogItem(std::span<const uint8_t> in, LogItem& item) {
  if (in.size() < 9) return StatusCode::kDataLoss;
  item = LogItem{};
  item.type = static_cast<LogItemType>(in[0]);
  item.seq = GetLe64(in.data() + 1);
  const uint8_t* p = in.data() + 9;
  const size_t rest = in.size() - 9;
  switch (item.type) {
    case LogItemType::kRecord:
      if (rest < 1 || p[0] > kMaxLogRecordSize || rest < 1u + p[0]) return StatusCode::kDataLoss;
      item.length = p[0];
      std::memcpy(item.bytes.data(), p + 1, item.length);
      return size_t{10} + item.length;
    case LogItemType::kAnchor:
      if (rest < kLogChainSize + kLogTagSize) return StatusCode::kDataLoss;
      std::memcpy(item.chain.data(), p, kLogChainSize);
      std::memcpy(item.tag.data(), p + kLogChainSize, kLogTagSize);
      return 9 + kLogChainSize + kLogTagSize;
    case LogItemType::kCheckpoint:
    case LogItemType::kHead:
      if (rest < kLogTagSize) return StatusCode::kDataLoss;
      std::memcpy(item.tag.data(), p, kLogTagSize);
      return 9 + kLogTagSize;
    case LogItemType::kVoid: return size_t{9};
    case LogItemType::kSignedHead:
      if (rest < 8 + kLogSignatureSize) return StatusCode::kDataLoss;
      item.length = 8 + kLogSignatureSize;
      std::memcpy(item.bytes.data(), p, item.length);
      return 9 + size_t{item.length};
  }
  return StatusCode::kDataLoss;
}

// ---------------------------------------------------------------- verifier

LogVerifier::LogVerifier(const LogAuthenticator& auth, const LogChallenge& challenge, uint64_t expected_first)
    : auth_(&auth), challenge_(challenge), expected_first_(expected_first) {}

LogVerifier::LogVerifier(const LogChallenge& challenge, uint64_t expected_first)
    : auth_(nullptr), challenge_(challenge), expected_first_(expected_first) {}

LogVerifier::LogVerifier(const crypto::P256PublicKey& lock_key, std::span<const uint8_t, kLogLockIdSize> lock_id,
                         uint64_t expected_first, int64_t now_utc, int64_t max_head_age_s)
    : auth_(nullptr),
      lock_key_(&lock_key),
      now_utc_(now_utc),
      max_head_age_s_(max_head_age_s),
      challenge_{},
      expected_first_(expected_first) {
  std::memcpy(lock_id_.data(), lock_id.data(), kLogLockIdSize);
}

void LogVerifier::AddGap(uint64_t first, uint64_t last) {
  if (first > last) return;
  if (gap_count_ < kMaxRanges) {
    gaps_[gap_count_++] = Range{first, last};
  } else {
    findings_.unexplained_gaps += last - first + 1;  // too many to explain: count them all as tampering
  }
}

void LogVerifier::Feed(const LogItem& item) {
  if (ended_) {
    ++findings_.order_errors;  // nothing may follow the head
    return;
  }
  switch (item.type) {
    case LogItemType::kAnchor: {
      if ((auth_ != nullptr && !TagEqual(AnchorTag(*auth_, item.seq, item.chain), item.tag)) || item.seq == ~0ull) {
        ++findings_.bad_tags;
        return;
      }
      if (!anchored_) {
        if (item.seq + 1 > expected_first_) AddGap(expected_first_, item.seq);
      } else if (item.seq + 1 < next_) {
        ++findings_.order_errors;
      } else if (item.seq + 1 == next_) {
        if (chain_valid_ && chain_ == item.chain) {
          Verified();
        } else {
          ++findings_.bad_tags;  // what we received does not hash to what the lock holds
        }
      } else {
        AddGap(next_, item.seq);
      }
      if (anchored_ && lock_key_ != nullptr && item.seq + 1 != next_) {
        // Offline, nothing vouches for an anchor that restarts the chain (the
        // chain is unkeyed: anyone can compute a true h(n)). A later signed
        // head covers only what follows it, and loss records before it that
        // no signed head covered can no longer be, so they explain nothing.
        ++findings_.unverified_anchors;
        loss_count_ = losses_signed_;
      }
      // Records received before this point that no tag covered stay unverified.
      findings_.unverified += unverified_;
      unverified_ = 0;
      anchored_ = true;
      chain_valid_ = true;
      chain_ = item.chain;
      next_ = item.seq + 1;
      return;
    }
    case LogItemType::kRecord:
    case LogItemType::kVoid: {
      if (!anchored_) {
        ++findings_.unverified;
        return;
      }
      if (item.seq < next_) {
        ++findings_.order_errors;
        return;
      }
      if (item.seq > next_) {
        // The chain links records, not numbers: across numbers the lock
        // skipped (and declared) it continues; a record dropped in transit
        // breaks it, and the next tag fails.
        AddGap(next_, item.seq - 1);
      }
      if (item.type == LogItemType::kVoid) {
        ++findings_.voids;
        chain_ = ChainVoid(chain_, item.seq);
      } else {
        const std::span<const uint8_t> bytes(item.bytes.data(), item.length);
        Result<LogRecord> r = DecodeLogRecord(item.seq, bytes);
        if (!r.ok()) {
          ++findings_.malformed;
        } else if (r->type == LogRecordType::kSignedHead) {
          // Anyone with the lock's public key: the signature covers the
          // chain before this record, so every record since the anchor.
          if (lock_key_ != nullptr) {
            uint8_t m[kSignedHeadMessageSize];
            EncodeSignedHeadMessage(lock_id_, item.seq, chain_, r->signed_utc, m);
            if (chain_valid_ && anchored_ && lock_key_->Verify(m, r->signature).ok()) {
              SignedHeadVerified(item.seq, r->signed_utc);
              chain_ = ChainNext(chain_, item.seq, bytes);
              next_ = item.seq + 1;
              ++unverified_;
              Verified();
              return;
            }
            ++findings_.bad_signatures;
          }
        } else if (r->type == LogRecordType::kLoss && r->reason == LossReason::kLateSeal) {
          ++findings_.late_seals;
        } else if (r->type == LogRecordType::kLoss) {
          // The lock found its own flash altered: the declaration is
          // authenticated like any record, and it is never ok.
          if (r->reason == LossReason::kTampered) {
            findings_.tampered += r->lost_count == 0 ? 1 : r->lost_count;
          } else {
            findings_.lost_by_lock += r->lost_count;
          }
          if (r->first_lost != 0 && r->lost_count != 0 && loss_count_ < kMaxRanges) {
            losses_[loss_count_++] = Range{r->first_lost, r->first_lost + r->lost_count - 1};
          }
        }
        chain_ = ChainNext(chain_, item.seq, bytes);
      }
      next_ = item.seq + 1;
      ++unverified_;
      return;
    }
    case LogItemType::kSignedHead: {
      // A timed head: signs h(seq) at its place in the stream.
      if (lock_key_ == nullptr) return;  // only an offline reader can check it; others skip it
      const bool in_place = anchored_ && chain_valid_ && item.seq + 1 == next_;
      uint8_t m[kSignedHeadMessageSize];
      const int64_t utc = static_cast<int64_t>(GetLe64(item.bytes.data()));
      EncodeSignedHeadMessage(lock_id_, item.seq + 1, chain_, utc, m);
      if (in_place && lock_key_->Verify(m, std::span<const uint8_t>(item.bytes.data() + 8, kLogSignatureSize)).ok()) {
        SignedHeadVerified(item.seq, utc);
        Verified();
      } else {
        ++findings_.bad_signatures;
      }
      return;
    }
    case LogItemType::kCheckpoint:
    case LogItemType::kHead: {
      const bool head = item.type == LogItemType::kHead;
      const bool in_place = anchored_ && chain_valid_ && item.seq + 1 == next_;
      bool tag_ok = true;
      if (auth_ != nullptr) {
        const LogTag expected =
            head ? HeadTag(*auth_, challenge_, item.seq, chain_) : AnchorTag(*auth_, item.seq, chain_);
        tag_ok = TagEqual(expected, item.tag);
      }
      if (!in_place || !tag_ok) {
        ++findings_.bad_tags;
        return;
      }
      Verified();
      if (head) {
        findings_.head_verified = true;
        ended_ = true;
      }
      return;
    }
  }
  ++findings_.malformed;
}

const LogFindings& LogVerifier::Finish() {
  findings_.unverified += unverified_;
  unverified_ = 0;
  if (lock_key_ != nullptr) {
    findings_.stale_head = findings_.signed_through == 0 || now_utc_ - findings_.signed_at > max_head_age_s_;
  }
  // Offline, a loss record explains a gap only when a verified signed head
  // after it covers it: the chain alone is unkeyed, anyone can forge one.
  const size_t losses = lock_key_ != nullptr ? losses_signed_ : loss_count_;
  for (size_t g = 0; g < gap_count_; ++g) {
    // Covered when the union of the lock's loss records spans the whole gap.
    uint64_t at = gaps_[g].first;
    bool progress = true;
    while (at <= gaps_[g].last && progress) {
      progress = false;
      for (size_t l = 0; l < losses; ++l) {
        if (losses_[l].first <= at && at <= losses_[l].last) {
          at = losses_[l].last + 1;
          progress = true;
          if (at == 0) at = ~0ull;  // wrapped: covered to the end
        }
      }
    }
    if (at > gaps_[g].last) {
      findings_.explained_gaps += gaps_[g].last - gaps_[g].first + 1;
    } else {
      findings_.explained_gaps += at - gaps_[g].first;
      findings_.unexplained_gaps += gaps_[g].last - at + 1;
    }
  }
  gap_count_ = 0;
  return findings_;
}

// --------------------------------------------------------------- audit log

namespace {

// Result of walking one segment.
struct SegmentWalk {
  LogChain chain{};
  uint64_t next_seq = 0;
  uint32_t end = 0;  // first byte after the last programmed unit of the record area
  bool sealed = false;       // a valid seal in the seal slot
  bool seal_slot_used = false;  // the seal slot is not erased (valid or torn seal)
  bool last_is_loss = false;
  uint64_t loss_first = 0;
  uint64_t loss_count = 0;
  uint32_t voids = 0;
  uint32_t skipped = 0;
  uint32_t trailing = 0;  // unparsed bytes after the last good record (torn or damaged)
};

enum class WalkItem { kRecord, kVoid, kSeal };

// The seal's fixed slot: the last 20 bytes of the block. Records live in
// [kSegmentHeaderSize, SealSlot(block_size)).
constexpr uint32_t SealSlot(size_t block_size) { return static_cast<uint32_t>(block_size - kSealSize); }

// Walks a segment's records in order, resynchronising after damage by the
// sequence number's low byte, and calls on(kind, seq, bytes, size, chain
// before the item).
template <typename F>
Status WalkSegment(Flash& flash, uint32_t block, size_t block_size, uint64_t first_seq, const LogChain& chain_in,
                   SegmentWalk& w, F&& on) {
  const uint32_t base = block * static_cast<uint32_t>(block_size);
  const uint32_t seal_slot = SealSlot(block_size);
  uint32_t end = seal_slot;
  {
    uint8_t chunk[64];
    bool found = false;
    while (end > kSegmentHeaderSize && !found) {
      const uint32_t from = end >= kSegmentHeaderSize + sizeof(chunk) ? end - static_cast<uint32_t>(sizeof(chunk))
                                                                      : static_cast<uint32_t>(kSegmentHeaderSize);
      const std::span<uint8_t> c(chunk, end - from);
      MORTISE_TRY(flash.Read(base + from, c));
      for (size_t i = c.size(); i >= kProgramUnit; i -= kProgramUnit) {
        bool erased = true;
        for (size_t k = i - kProgramUnit; k < i; ++k) erased &= c[k] == 0xFF;
        if (!erased) {
          end = from + static_cast<uint32_t>(i);
          found = true;
          break;
        }
      }
      if (!found) end = from;
    }
  }
  w = SegmentWalk{};
  w.chain = chain_in;
  w.next_seq = first_seq;
  w.end = end;
  uint32_t offset = kSegmentHeaderSize;
  uint32_t run = 0;  // bytes skipped since the last good record
  uint8_t b[kMaxLogRecordSize];
  while (offset + kShortSize <= end) {
    const size_t avail = end - offset < kMaxLogRecordSize ? end - offset : kMaxLogRecordSize;
    MORTISE_TRY(flash.Read(base + offset, std::span<uint8_t>(b, avail)));
    const size_t size = RecordSizeOf(b[0]);
    // A seal is only valid in its slot; in the record area it is noise.
    bool good = size != 0 && b[0] != kSeal && size <= avail && CrcOk(b, size);
    uint64_t voids = 0;
    if (good) {
      voids = static_cast<uint8_t>(b[1] - static_cast<uint8_t>(w.next_seq));
      // More missing records than the damaged bytes could have held: this
      // "record" is itself noise that happened to pass the CRC.
      if (voids * kShortSize > run) good = false;
    }
    if (!good) {
      offset += kProgramUnit;
      run += kProgramUnit;
      w.skipped += kProgramUnit;
      continue;
    }
    run = 0;
    for (uint64_t v = 0; v < voids; ++v) {
      on(WalkItem::kVoid, w.next_seq, b, 0, w.chain);
      w.chain = ChainVoid(w.chain, w.next_seq++);
      ++w.voids;
    }
    on(WalkItem::kRecord, w.next_seq, b, size, w.chain);
    w.chain = ChainNext(w.chain, w.next_seq, std::span<const uint8_t>(b, size));
    w.last_is_loss = b[0] == kLossRecord;
    if (w.last_is_loss) {
      w.loss_first = GetLe64(b + 4);
      w.loss_count = GetLe32(b + 12);
    }
    ++w.next_seq;
    offset += static_cast<uint32_t>(size);
  }
  if (end > offset) {
    w.skipped += end - offset;
    run += end - offset;
  }
  w.trailing = run;
  uint8_t seal[kSealSize];
  MORTISE_TRY(flash.Read(base + seal_slot, seal));
  for (uint8_t x : seal) w.seal_slot_used |= x != 0xFF;
  if (w.seal_slot_used && seal[0] == kSeal && CrcOk(seal, kSealSize) &&
      seal[1] == static_cast<uint8_t>(w.next_seq - 1)) {
    w.sealed = true;
    on(WalkItem::kSeal, w.next_seq, seal, kSealSize, w.chain);
  }
  return Status::Ok();
}

}  // namespace

AuditLog::AuditLog(Flash& flash, core::DurableStore& store, const LogAuthenticator& auth)
    : flash_(flash), store_(store), auth_(auth) {}

Status AuditLog::CheckUsable() const {
  if (!mounted_ || broken_) return StatusCode::kFailedPrecondition;
  return Status::Ok();
}

uint64_t AuditLog::oldest_seq() const { return segment_count_ ? segments_[0].first_seq : next_seq_; }

Result<uint64_t> AuditLog::RaiseCounter(uint16_t id, uint64_t value) {
  MORTISE_ASSIGN_OR_RETURN(const uint64_t current, store_.ReadCounter(id));
  if (value <= current) return current;
  return store_.IncrementCounter(id, value - current);
}

void AuditLog::SortSegments() {
  for (size_t i = 1; i < segment_count_; ++i) {
    const Segment s = segments_[i];
    size_t j = i;
    while (j > 0 && segments_[j - 1].number > s.number) {
      segments_[j] = segments_[j - 1];
      --j;
    }
    segments_[j] = s;
  }
}

Status AuditLog::Mount() {
  mounted_ = false;
  broken_ = false;
  report_ = LogMountReport{};
  segment_count_ = 0;
  block_size_ = flash_.block_size();
  block_count_ = flash_.block_count();
  if (block_count_ < kMinBlocks || block_count_ > kMaxBlocks || block_size_ < 512 ||
      block_size_ % kProgramUnit != 0 || block_size_ * block_count_ > 0x7FFFFFFF) {
    return StatusCode::kInvalidArgument;
  }
  for (uint32_t b = 0; b < block_count_; ++b) {
    uint8_t h[kSegmentHeaderSize];
    MORTISE_TRY(flash_.Read(b * static_cast<uint32_t>(block_size_), h));
    bool erased = true;
    for (uint8_t x : h) erased &= x == 0xFF;
    dirty_[b] = false;
    if (erased) continue;
    if (GetLe32(h) == kSegmentMagic && GetLe32(h + 32) == Crc32(std::span<const uint8_t>(h, 32))) {
      Segment& s = segments_[segment_count_++];
      s.block = b;
      s.number = GetLe32(h + 4);
      s.first_seq = GetLe64(h + 8);
      std::memcpy(s.chain_in.data(), h + 16, kLogChainSize);
    } else {
      dirty_[b] = true;
      ++report_.blocks_dropped;
    }
  }
  SortSegments();
  report_.segments = static_cast<uint32_t>(segment_count_);
  MORTISE_ASSIGN_OR_RETURN(acknowledged_, store_.ReadCounter(kCounterAcknowledged));
  MORTISE_ASSIGN_OR_RETURN(high_water_, store_.ReadCounter(kCounterHighWater));
  {
    // Events that failed before a reboot and were never declared.
    MORTISE_ASSIGN_OR_RETURN(const uint64_t failed, store_.ReadCounter(kCounterFailedEvents));
    MORTISE_ASSIGN_OR_RETURN(const uint64_t declared, store_.ReadCounter(kCounterFailedDeclared));
    if (failed > declared && failed - declared > failed_events_) {
      failed_events_ = static_cast<uint32_t>(failed - declared > 0xFFFFFFFFu ? 0xFFFFFFFFu : failed - declared);
    }
  }
  {
    // The durable head: the last number issued and tags over the chain
    // around it. Absent on a new lock; unreadable counts as absent (then
    // mount cannot vouch for any record on flash and says so).
    has_durable_head_ = false;
    Result<size_t> n = store_.Read(kHeadRecordKey, durable_raw_);
    if (n.ok() && *n == kHeadRecordSize) {
      has_durable_head_ = true;
      durable_head_ = GetLe64(durable_raw_);
    } else if (!n.ok() && n.status().code() != StatusCode::kNotFound &&
               n.status().code() != StatusCode::kDataLoss && n.status().code() != StatusCode::kResourceExhausted) {
      return n.status();
    }
  }
  if (segment_count_ == 0) {
    next_seq_ = high_water_ > 1 ? high_water_ : 1;
    head_offset_ = 0;
    mounted_ = true;
    if (next_seq_ > acknowledged_ + 1) {
      // A log existed and is gone: declare it now, not at the next event.
      const Status s = OpenFirstSegment();
      if (!s.ok()) mounted_ = false;
      return s;
    }
    return Status::Ok();
  }
  MORTISE_TRY(LoadHead());
  mounted_ = true;
  // Sequence numbers the walk cannot vouch for. A dropped segment header
  // (maybe the newest segment's), a sealed head (the newest segment may be
  // the one lost) or unreadable bytes after the head's last good record
  // (torn or damaged records whose numbers may have been handed out) all
  // mean the walk's next number may already have been issued. Numbering
  // then restarts at the durable high-water mark, which is above every
  // number ever issued, in a new segment, and a loss record declares the
  // skipped range, so nothing is reused and nothing is silent.
  // The durable head's record missing from flash (a power cut between the
  // two writes, or erased) or a chain that does not end where the durable
  // head says: the walk cannot vouch for n either.
  MountFindings found;
  {
    const Status s = CheckAtRest(found);
    if (!s.ok()) {
      mounted_ = false;
      return s;
    }
  }
  const bool suspect = report_.blocks_dropped > 0 || head_sealed_ || head_trailing_ > 0 || !found.head_ok ||
                       found.record_missing;
  const bool jump = suspect && high_water_ > next_seq_;
  // A hole before the oldest surviving segment (a torn erase of the ring's
  // victim; holes between survivors are tampering, CheckAtRest): declared
  // too, with a range that covers it.
  struct Hole {
    uint64_t first;
    uint64_t count;
  };
  Hole holes[4] = {};
  size_t hole_count = 0;
  if (report_.blocks_dropped > 0) {
    if (segments_[0].first_seq > acknowledged_ + 1) {
      holes[hole_count++] = Hole{acknowledged_ + 1, segments_[0].first_seq - acknowledged_ - 1};
    }
  }
  // A head with no readable record may be a segment whose numbering jumped
  // and whose loss record never reached flash (power cut): compare with
  // where the previous segment ended and declare the difference.
  uint64_t undeclared_from = 0;  // 0: none
  {
    const Segment& head = segments_[segment_count_ - 1];
    if (next_seq_ == head.first_seq) {
      uint64_t before = acknowledged_ + 1;
      if (segment_count_ >= 2) {
        const Segment& prev = segments_[segment_count_ - 2];
        SegmentWalk pw;
        MORTISE_TRY(WalkSegment(flash_, prev.block, block_size_, prev.first_seq, prev.chain_in, pw,
                                [](WalkItem, uint64_t, const uint8_t*, size_t, const LogChain&) {}));
        before = pw.next_seq;
      }
      if (before < head.first_seq) undeclared_from = before;
    }
  }
  if (head_sealed_ || jump) {
    // A power cut fell between sealing the head and opening the next
    // segment, or numbering must jump: open a new segment.
    report_.roll_completed = head_sealed_;
    Status s = Roll(jump ? high_water_ : 0);
    if (s.ok() && (jump || undeclared_from != 0)) {
      uint64_t from = roll_from_;
      if (undeclared_from != 0 && undeclared_from < from) from = undeclared_from;
      report_.sequence_jump = next_seq_ - from;
      s = AppendLoss(LossReason::kLogLost, from, next_seq_ - from);
    }
    for (size_t i = 0; i < hole_count && s.ok(); ++i) {
      s = AppendLoss(LossReason::kLogLost, holes[i].first, holes[i].count);
    }
    if (!s.ok()) {
      mounted_ = false;
      return s;
    }
  } else if (hole_count > 0 || undeclared_from != 0) {
    if (undeclared_from != 0) {
      report_.sequence_jump = next_seq_ - undeclared_from;
      const Status s = AppendLoss(LossReason::kLogLost, undeclared_from, next_seq_ - undeclared_from);
      if (!s.ok()) {
        mounted_ = false;
        return s;
      }
    }
    for (size_t i = 0; i < hole_count; ++i) {
      const Status s = AppendLoss(LossReason::kLogLost, holes[i].first, holes[i].count);
      if (!s.ok()) {
        mounted_ = false;
        return s;
      }
    }
  }
  const Status s = DeclareFindings(found);
  if (!s.ok()) mounted_ = false;
  return s;
}

// Adds a range nothing vouches for. When the list is full the last slot
// grows to cover the new range too: over-declared, never under-declared.
void AuditLog::AddTampered(MountFindings& f, Range r) {
  if (f.tampered_count < MountFindings::kMax) {
    f.tampered[f.tampered_count++] = r;
    return;
  }
  Range& last = f.tampered[MountFindings::kMax - 1];
  if (r.first < last.first) last.first = r.first;
  if (r.last > last.last) last.last = r.last;
}

Status AuditLog::CheckAtRest(MountFindings& f) {
  // Everything the lock wrote is vouched for by one of: the durable head
  // (the chain's end), a segment's own seal, or the next segment that
  // continues its chain and is itself vouched for. Whatever nothing vouches
  // for was altered (or the flash is damaged): declared, never skipped.
  const size_t newest = segment_count_ - 1;
  uint64_t next_of[kMaxBlocks];
  uint64_t seal_ok = 0;   // bit i: segment i's seal verifies
  uint64_t joined = 0;    // bit i: segment i continues segment i - 1 (number, chain, numbering)
  Range declared[MountFindings::kMax] = {};  // kTampered ranges already in the log
  size_t declared_count = 0;
  uint64_t noted[MountFindings::kMax] = {};  // kLateSeal notes already in the log
  size_t noted_count = 0;
  bool more_declared = false;  // the log holds more declarations than these lists: look again below
  const uint64_t n = durable_head_;
  bool found_n = false, n_ok = false;
  size_t n_segment = 0;
  uint64_t last_on_flash = 0;
  bool any_records = false;
  bool newest_slot_used = false;
  LogChain newest_end{};
  LogChain prev_end{};
  SegmentWalk w;
  for (size_t i = 0; i < segment_count_; ++i) {
    const Segment& seg = segments_[i];
    bool tag_ok = false;
    MORTISE_TRY(WalkSegment(
        flash_, seg.block, block_size_, seg.first_seq, seg.chain_in, w,
        [&](WalkItem kind, uint64_t seq, const uint8_t* b, size_t size, const LogChain& before) {
          if (kind == WalkItem::kSeal) {
            LogTag stored;
            std::memcpy(stored.data(), b + 2, kLogTagSize);
            tag_ok = TagEqual(AnchorTag(auth_, seq - 1, before), stored);
            return;
          }
          if (kind != WalkItem::kRecord) return;
          if (has_durable_head_ && seq == n) {
            found_n = true;
            n_segment = i;
            n_ok = DurableTagOk(auth_, durable_raw_, n, ChainNext(before, seq, std::span<const uint8_t>(b, size)),
                                false);
          }
          if (b[0] == kLossRecord && b[2] == static_cast<uint8_t>(LossReason::kTampered)) {
            const uint64_t first = GetLe64(b + 4);
            const uint64_t count = GetLe32(b + 12);
            if (count != 0 && declared_count < MountFindings::kMax) {
              declared[declared_count++] = Range{first, first + count - 1};
            } else if (count != 0) {
              more_declared = true;
            }
          }
          if (b[0] == kLossRecord && b[2] == static_cast<uint8_t>(LossReason::kLateSeal)) {
            if (noted_count < MountFindings::kMax) {
              noted[noted_count++] = GetLe64(b + 4);
            } else {
              more_declared = true;
            }
          }
        }));
    next_of[i] = w.next_seq;
    if (w.next_seq > seg.first_seq) {
      any_records = true;
      last_on_flash = w.next_seq - 1;
    }
    if (tag_ok) seal_ok |= uint64_t{1} << i;
    if (i > 0) {
      const Segment& prev = segments_[i - 1];
      if (seg.number == prev.number + 1 && seg.chain_in == prev_end && seg.first_seq >= next_of[i - 1]) {
        joined |= uint64_t{1} << i;
      } else if (seg.number != prev.number + 1 && seg.first_seq > next_of[i - 1]) {
        // Segments missing between survivors: a power cut only ever loses
        // the ring's oldest segment or an unwritten newest one.
        AddTampered(f, Range{next_of[i - 1], seg.first_seq - 1});
      }
    }
    prev_end = w.chain;
    if (i == newest) {
      newest_slot_used = w.seal_slot_used;
      newest_end = w.chain;
    }
  }
  // Where the durable head anchors the chain (npos: nowhere).
  constexpr size_t npos = ~size_t{0};
  size_t anchor = npos;
  if (!has_durable_head_) {
    f.head_ok = !any_records;
    if (f.head_ok) anchor = newest;
  } else if (found_n && n_ok) {
    anchor = n_segment;
    if (last_on_flash > n) {
      // Records after the last number the lock issued: not the lock's.
      AddTampered(f, Range{n + 1, last_on_flash});
      f.head_ok = false;
    }
  } else if (!found_n && n == next_of[newest] && DurableTagOk(auth_, durable_raw_, n, newest_end, true)) {
    // Record n never reached flash: a power cut between the durable head and
    // the record (or the newest record was erased: indistinguishable, and
    // declared the same way). Numbering continues above n.
    anchor = newest;
    f.record_missing = true;
  } else {
    f.head_ok = false;
  }
  // A roll a power cut interrupted (the newest segment's seal slot is
  // programmed) may have been erasing its victim, the oldest segment, when
  // no other block was free: a torn erase leaves any bytes there. Its records
  // were acknowledged or declared by the overflow record written before the
  // erase, and this mount's roll erases it: it is not judged.
  const bool victim_torn = newest_slot_used && segment_count_ == block_count_ && segment_count_ > 1;
  bool vouched_next = false;
  for (size_t k = segment_count_; k-- > 0;) {
    const Segment& seg = segments_[k];
    bool v;
    if (victim_torn && k == 0) {
      continue;
    } else if (anchor != npos && k >= anchor) {
      v = true;  // the anchor itself; records after n were declared above
    } else {
      v = ((seal_ok >> k) & 1) != 0 || (k < newest && ((joined >> (k + 1)) & 1) != 0 && vouched_next);
    }
    uint64_t last = next_of[k] - 1;
    if (k == newest && anchor == npos && has_durable_head_ && n > last) last = n;
    if (!v && last >= seg.first_seq) {
      AddTampered(f, Range{seg.first_seq, last});
    }
    const bool torn_or_bad_seal = k == newest ? (newest_slot_used && !((seal_ok >> k) & 1)) : !((seal_ok >> k) & 1);
    if (v && torn_or_bad_seal && next_of[k] > seg.first_seq && f.late_seal_count < MountFindings::kMax) {
      // A seal a power cut tore (or someone erased) over content the lock
      // has just verified: say so, once, and vouch for it.
      f.late_seal[f.late_seal_count++] = next_of[k] - 1;
    }
    vouched_next = v;
  }
  // What an earlier mount already declared is not declared again.
  bool tampered_done[MountFindings::kMax] = {};
  bool late_done[MountFindings::kMax] = {};
  auto note = [&](LossReason reason, uint64_t first, uint64_t last) {
    for (size_t t = 0; t < f.tampered_count; ++t) {
      tampered_done[t] |= reason == LossReason::kTampered && first <= f.tampered[t].first && f.tampered[t].last <= last;
    }
    for (size_t l = 0; l < f.late_seal_count; ++l) {
      late_done[l] |= (reason == LossReason::kTampered && first <= f.late_seal[l] && f.late_seal[l] <= last) ||
                      (reason == LossReason::kLateSeal && first == f.late_seal[l]);
    }
  };
  for (size_t d = 0; d < declared_count; ++d) note(LossReason::kTampered, declared[d].first, declared[d].last);
  for (size_t d = 0; d < noted_count; ++d) note(LossReason::kLateSeal, noted[d], noted[d]);
  for (size_t i = 0; more_declared && i < segment_count_; ++i) {
    // More declarations than the lists hold (rare): read them all again,
    // so what was declared once is never declared on every boot.
    const Segment& seg = segments_[i];
    MORTISE_TRY(WalkSegment(flash_, seg.block, block_size_, seg.first_seq, seg.chain_in, w,
                            [&](WalkItem kind, uint64_t, const uint8_t* b, size_t, const LogChain&) {
                              if (kind != WalkItem::kRecord || b[0] != kLossRecord) return;
                              const uint64_t first = GetLe64(b + 4);
                              const uint64_t count = GetLe32(b + 12);
                              if (b[2] == static_cast<uint8_t>(LossReason::kTampered) && count != 0) {
                                note(LossReason::kTampered, first, first + count - 1);
                              } else if (b[2] == static_cast<uint8_t>(LossReason::kLateSeal)) {
                                note(LossReason::kLateSeal, first, first);
                              }
                            }));
  }
  size_t kept = 0;
  for (size_t t = 0; t < f.tampered_count; ++t) {
    if (!tampered_done[t]) f.tampered[kept++] = f.tampered[t];
  }
  f.tampered_count = kept;
  kept = 0;
  for (size_t l = 0; l < f.late_seal_count; ++l) {
    if (!late_done[l]) f.late_seal[kept++] = f.late_seal[l];
  }
  f.late_seal_count = kept;
  return Status::Ok();
}

Status AuditLog::DeclareFindings(const MountFindings& f) {
  for (size_t t = 0; t < f.tampered_count; ++t) {
    const uint64_t count = f.tampered[t].last - f.tampered[t].first + 1;
    MORTISE_TRY(AppendLoss(LossReason::kTampered, f.tampered[t].first, count));
    report_.tampered += count;
  }
  for (size_t l = 0; l < f.late_seal_count; ++l) {
    MORTISE_TRY(AppendLoss(LossReason::kLateSeal, f.late_seal[l], 0));
    ++report_.late_seals;
  }
  return Status::Ok();
}

Status AuditLog::LoadHead() {
  const Segment& head = segments_[segment_count_ - 1];
  SegmentWalk w;
  MORTISE_TRY(WalkSegment(flash_, head.block, block_size_, head.first_seq, head.chain_in, w,
                          [](WalkItem, uint64_t, const uint8_t*, size_t, const LogChain&) {}));
  head_chain_ = w.chain;
  next_seq_ = w.next_seq;
  head_offset_ = static_cast<uint32_t>(AlignUp(w.end, kProgramUnit));
  head_sealed_ = w.seal_slot_used;
  head_trailing_ = w.trailing;
  last_is_loss_ = w.last_is_loss;
  last_loss_first_ = w.loss_first;
  last_loss_count_ = w.loss_count;
  report_.voids = w.voids;
  report_.bytes_skipped = w.skipped;
  return Status::Ok();
}

Status AuditLog::WriteNumbered(std::span<const uint8_t> bytes) {
  const uint32_t seal_slot = SealSlot(block_size_);
  // No write ever passes the record area: refuse rather than spill into the
  // seal slot or the next block.
  if (segment_count_ == 0 || head_offset_ + bytes.size() > seal_slot) return StatusCode::kResourceExhausted;
  // The durable high-water mark stays above every sequence number on flash,
  // so even a log erased whole never hands out a number twice. Raised a
  // segment's worth at a time: one counter write per ~200 records.
  if (next_seq_ >= high_water_) {
    MORTISE_ASSIGN_OR_RETURN(high_water_, RaiseCounter(kCounterHighWater, next_seq_ + block_size_ / kShortSize + 1));
  }
  // The durable head first: once it is in the record store, n counts as
  // issued whatever happens to the log's flash, and mount can check the
  // chain's end against it. A power cut between the two leaves record n
  // missing, which mount declares (never reuses); the other order would let
  // a record appended to the image by someone else pass as the lock's.
  const LogChain after = ChainNext(head_chain_, next_seq_, bytes);
  uint8_t head[kHeadRecordSize];
  EncodeDurableHead(auth_, next_seq_, head_chain_, after, head);
  MORTISE_TRY(store_.Write(kHeadRecordKey, head));
  has_durable_head_ = true;
  durable_head_ = next_seq_;
  const Segment& seg = segments_[segment_count_ - 1];
  if (Status s = flash_.Program(seg.block * static_cast<uint32_t>(block_size_) + head_offset_, bytes); !s.ok()) {
    broken_ = true;
    return s;
  }
  head_offset_ += static_cast<uint32_t>(bytes.size());
  head_chain_ = after;
  ++next_seq_;
  return Status::Ok();
}

Status AuditLog::WriteSeal(std::span<const uint8_t> seal) {
  if (segment_count_ == 0 || seal.size() != kSealSize) return StatusCode::kResourceExhausted;
  const Segment& seg = segments_[segment_count_ - 1];
  if (Status s = flash_.Program(seg.block * static_cast<uint32_t>(block_size_) + SealSlot(block_size_), seal);
      !s.ok()) {
    broken_ = true;
    return s;
  }
  return Status::Ok();
}

size_t AuditLog::RollReserve() const { return kLossReserve + (signer_ != nullptr ? kSignedHeadSize : 0); }

Status AuditLog::AppendSignedHead(int64_t utc) {
  uint8_t message[kSignedHeadMessageSize];
  EncodeSignedHeadMessage(signer_->lock_id(), next_seq_, head_chain_, utc, message);
  uint8_t r[kSignedHeadSize] = {};
  r[0] = kSignedHead;
  r[1] = static_cast<uint8_t>(next_seq_);
  PutLe64(r + 4, static_cast<uint64_t>(utc));
  // A signer that fails (no randomness for blinding, say) costs the
  // signature, never the log: the next roll or tick signs again.
  if (!signer_->Sign(message, std::span<uint8_t, kLogSignatureSize>(r + 12, kLogSignatureSize)).ok()) {
    return Status::Ok();
  }
  SealCrc(r, kSignedHeadSize);
  const uint64_t seq = next_seq_;
  MORTISE_TRY(WriteNumbered(r));
  last_signed_seq_ = seq;
  last_signed_utc_ = utc;
  signed_since_mount_ = true;
  last_is_loss_ = false;
  return Status::Ok();
}

Status AuditLog::SignHeadIfDue(int64_t utc_now) {
  MORTISE_TRY(CheckUsable());
  if (utc_now > latest_utc_) latest_utc_ = utc_now;
  if (signer_ == nullptr || segment_count_ == 0 || next_seq_ - 1 <= last_signed_seq_) return Status::Ok();
  if (signed_since_mount_ && utc_now - last_signed_utc_ < static_cast<int64_t>(sign_interval_s_)) return Status::Ok();
  uint8_t message[kSignedHeadMessageSize];
  EncodeSignedHeadMessage(signer_->lock_id(), next_seq_, head_chain_, utc_now, message);
  MORTISE_TRY(signer_->Sign(message, timed_sig_));
  timed_valid_ = true;
  timed_n_ = next_seq_ - 1;
  timed_utc_ = utc_now;
  last_signed_seq_ = next_seq_ - 1;
  last_signed_utc_ = utc_now;
  signed_since_mount_ = true;
  return Status::Ok();
}

Status AuditLog::AppendLoss(LossReason reason, uint64_t first, uint64_t count) {
  if (count > 0xFFFFFFFFull) count = 0xFFFFFFFFull;
  if (head_sealed_ || head_offset_ + kLossSize + RollReserve() > SealSlot(block_size_)) MORTISE_TRY(Roll());
  uint8_t buf[kMaxLogRecordSize];
  const size_t size = EncodeLogLoss(reason, first, static_cast<uint32_t>(count), next_seq_, buf);
  MORTISE_TRY(WriteNumbered(std::span<const uint8_t>(buf, size)));
  last_is_loss_ = true;
  last_loss_first_ = first;
  last_loss_count_ = count;
  return Status::Ok();
}

Status AuditLog::OpenFirstSegment() {
  // No segment on flash: a new lock, or a log that was erased or destroyed.
  // The high-water mark keeps sequence numbers ahead of anything ever issued.
  MORTISE_ASSIGN_OR_RETURN(const uint64_t high_water, store_.ReadCounter(kCounterHighWater));
  const uint64_t first = high_water > next_seq_ ? high_water : next_seq_;
  high_water_ = high_water;
  uint32_t block = 0;
  if (Status s = flash_.Erase(block); !s.ok()) {
    broken_ = true;
    return s;
  }
  dirty_[block] = false;
  uint8_t h[kSegmentHeaderSize];
  PutLe32(h, kSegmentMagic);
  PutLe32(h + 4, 1);
  PutLe64(h + 8, first);
  std::memset(h + 16, 0, kLogChainSize);
  PutLe32(h + 32, Crc32(std::span<const uint8_t>(h, 32)));
  if (Status s = flash_.Program(block * static_cast<uint32_t>(block_size_), h); !s.ok()) {
    broken_ = true;
    return s;
  }
  Segment& seg = segments_[0];
  seg = Segment{block, 1, first, LogChain{}};
  segment_count_ = 1;
  head_chain_ = LogChain{};
  next_seq_ = first;
  head_offset_ = kSegmentHeaderSize;
  head_sealed_ = false;
  last_is_loss_ = false;
  if (first > acknowledged_ + 1 && first > 1) {
    // Records the reader never acknowledged were on a log that is gone.
    const uint64_t lost_first = acknowledged_ + 1;
    const uint64_t issued = has_durable_head_ ? durable_head_ : 0;
    if (issued >= lost_first) {
      // The lock wrote them (its durable head says so) and a power cut never
      // erases a whole log: altered at rest.
      MORTISE_TRY(AppendLoss(LossReason::kTampered, lost_first, issued - lost_first + 1));
      report_.tampered += issued - lost_first + 1;
      if (first > issued + 1) MORTISE_TRY(AppendLoss(LossReason::kLogLost, issued + 1, first - issued - 1));
    } else {
      MORTISE_TRY(AppendLoss(LossReason::kLogLost, lost_first, first - lost_first));
    }
  }
  return Status::Ok();
}

Status AuditLog::Roll(uint64_t jump_to) {
  // Victim: a block holding no segment if there is one, else the oldest
  // segment (never the head: there are at least three blocks).
  int victim = -1;
  for (uint32_t b = 0; b < block_count_ && victim < 0; ++b) {
    bool used = false;
    for (size_t i = 0; i < segment_count_; ++i) used |= segments_[i].block == b;
    if (!used) victim = static_cast<int>(b);
  }
  const bool victim_is_segment = victim < 0;
  if (victim_is_segment) {
    if (segment_count_ < 2) return StatusCode::kInternal;
    victim = static_cast<int>(segments_[0].block);
  }
  bool loss_in_new = false;  // no room left for the loss record in the head
  uint64_t loss_first = 0;
  uint64_t loss_count = 0;
  if (!head_sealed_) {
    if (victim_is_segment) {
      // Cumulative: everything unacknowledged up to the victim's end, so the
      // newest loss record alone explains the whole hole even after older
      // loss records have themselves been overwritten.
      const uint64_t lost_first = acknowledged_ + 1;
      const uint64_t lost_last = segments_[1].first_seq - 1;
      if (lost_first <= lost_last && lost_last < next_seq_) {
        const uint64_t count = lost_last - lost_first + 1;
        if (!(last_is_loss_ && last_loss_first_ == lost_first && last_loss_count_ == count)) {
          if (head_offset_ + kLossSize <= SealSlot(block_size_)) {
            // Written before the erase, so the loss is on flash before it happens.
            uint8_t buf[kMaxLogRecordSize];
            const size_t size =
                EncodeLogLoss(LossReason::kOverflow, lost_first, static_cast<uint32_t>(count), next_seq_, buf);
            MORTISE_TRY(WriteNumbered(std::span<const uint8_t>(buf, size)));
            last_is_loss_ = true;
            last_loss_first_ = lost_first;
            last_loss_count_ = count;
          } else {
            // Torn loss records used up the reserve (two power cuts inside
            // this very roll): the loss record opens the new segment.
            loss_in_new = true;
            loss_first = lost_first;
            loss_count = count;
          }
        }
      }
    }
    // The roll signs the head it seals (records waiting unsigned), so a
    // stored stream is verifiable offline through every full segment.
    if (signer_ != nullptr && next_seq_ - 1 > last_signed_seq_ && head_offset_ + kSignedHeadSize <= SealSlot(block_size_)) {
      MORTISE_TRY(AppendSignedHead(latest_utc_));
    }
    uint8_t seal[kSealSize] = {};
    seal[0] = kSeal;
    seal[1] = static_cast<uint8_t>(next_seq_ - 1);
    const LogTag tag = AnchorTag(auth_, next_seq_ - 1, head_chain_);
    std::memcpy(seal + 2, tag.data(), kLogTagSize);
    SealCrc(seal, kSealSize);
    MORTISE_TRY(WriteSeal(seal));
    head_sealed_ = true;
  }
  if (Status s = flash_.Erase(static_cast<uint32_t>(victim)); !s.ok()) {
    broken_ = true;
    return s;
  }
  dirty_[victim] = false;
  const uint32_t number = segments_[segment_count_ - 1].number + 1;
  if (victim_is_segment) {
    for (size_t i = 1; i < segment_count_; ++i) segments_[i - 1] = segments_[i];
    --segment_count_;
  }
  roll_from_ = next_seq_;
  if (jump_to > next_seq_) next_seq_ = jump_to;
  uint8_t h[kSegmentHeaderSize];
  PutLe32(h, kSegmentMagic);
  PutLe32(h + 4, number);
  PutLe64(h + 8, next_seq_);
  std::memcpy(h + 16, head_chain_.data(), kLogChainSize);
  PutLe32(h + 32, Crc32(std::span<const uint8_t>(h, 32)));
  if (Status s = flash_.Program(static_cast<uint32_t>(victim) * static_cast<uint32_t>(block_size_), h); !s.ok()) {
    broken_ = true;
    return s;
  }
  segments_[segment_count_++] = Segment{static_cast<uint32_t>(victim), number, next_seq_, head_chain_};
  head_offset_ = kSegmentHeaderSize;
  head_sealed_ = false;
  last_is_loss_ = false;
  if (loss_in_new) MORTISE_TRY(AppendLoss(LossReason::kOverflow, loss_first, loss_count));
  return Status::Ok();
}

Result<uint64_t> AuditLog::Append(const core::LockEvent& event) {
  MORTISE_TRY(CheckUsable());
  if (segment_count_ == 0) MORTISE_TRY(OpenFirstSegment());
  // Events the flash refused earlier are declared before the next one.
  if (failed_events_ != 0) {
    MORTISE_TRY(AppendLoss(LossReason::kWriteFailure, 0, failed_events_));
    failed_events_ = 0;
    // Declared: a reboot must not declare them again. (A cut before this
    // counter write declares them twice: over-declared, never silent.)
    Result<uint64_t> failed = store_.ReadCounter(kCounterFailedEvents);
    if (failed.ok()) MORTISE_TRY(RaiseCounter(kCounterFailedDeclared, *failed).status());
  }
  uint8_t buf[kMaxLogRecordSize];
  const size_t size = EncodeLogEvent(event, 0, buf);
  if (head_sealed_ || head_offset_ + size + RollReserve() > SealSlot(block_size_)) MORTISE_TRY(Roll());
  if (event.utc_seconds > latest_utc_) latest_utc_ = event.utc_seconds;
  const uint64_t seq = next_seq_;
  EncodeLogEvent(event, seq, buf);
  MORTISE_TRY(WriteNumbered(std::span<const uint8_t>(buf, size)));
  last_is_loss_ = false;
  return seq;
}

Result<uint64_t> AuditLog::AppendKeyIntroduction(uint16_t index, std::span<const uint8_t, 8> issuer_key_id,
                                                 uint64_t serial) {
  MORTISE_TRY(CheckUsable());
  if (segment_count_ == 0) MORTISE_TRY(OpenFirstSegment());
  if (head_sealed_ || head_offset_ + kKeyIntroSize + RollReserve() > SealSlot(block_size_)) MORTISE_TRY(Roll());
  uint8_t buf[kMaxLogRecordSize];
  const uint64_t seq = next_seq_;
  EncodeLogKeyIntro(index, issuer_key_id, serial, seq, buf);
  MORTISE_TRY(WriteNumbered(std::span<const uint8_t>(buf, kKeyIntroSize)));
  last_is_loss_ = false;
  return seq;
}

void AuditLog::Emit(const core::LockEvent& event) {
  if (Append(event).ok()) return;
  ++failed_events_;
  // Persisted when the store still takes counter writes (its byte reserve is
  // kept for them), so a reboot does not forget the loss.
  store_.IncrementCounter(kCounterFailedEvents).IgnoreError();
}

Status AuditLog::Acknowledge(uint64_t seq) {
  MORTISE_TRY(CheckUsable());
  if (seq >= next_seq_) return StatusCode::kOutOfRange;
  if (seq <= acknowledged_) return Status::Ok();
  MORTISE_TRY(RaiseCounter(kCounterAcknowledged, seq).status());
  acknowledged_ = seq;
  return Status::Ok();
}

Status AuditLog::ReadFrom(uint64_t from, LogRecordVisitor& visitor) {
  MORTISE_TRY(CheckUsable());
  for (size_t i = 0; i < segment_count_; ++i) {
    const Segment& s = segments_[i];
    if (i + 1 < segment_count_ && segments_[i + 1].first_seq <= from) continue;
    SegmentWalk w;
    MORTISE_TRY(WalkSegment(flash_, s.block, block_size_, s.first_seq, s.chain_in, w,
                            [&](WalkItem kind, uint64_t seq, const uint8_t* b, size_t size, const LogChain&) {
                              if (kind != WalkItem::kRecord || seq < from) return;
                              Result<LogRecord> r = DecodeLogRecord(seq, std::span<const uint8_t>(b, size));
                              if (r.ok()) visitor.Visit(*r);
                            }));
  }
  return Status::Ok();
}

Status AuditLog::Export(uint64_t from, const LogChallenge& challenge, LogItemSink& sink) {
  MORTISE_TRY(CheckUsable());
  if (from < oldest_seq()) from = oldest_seq();
  if (from > next_seq_) from = next_seq_;
  bool anchored = false;
  LogChain chain{};
  auto anchor = [&](uint64_t n, const LogChain& h) {
    LogItem a;
    a.type = LogItemType::kAnchor;
    a.seq = n;
    a.chain = h;
    a.tag = AnchorTag(auth_, n, h);
    sink.Put(a);
    anchored = true;
  };
  for (size_t i = 0; i < segment_count_; ++i) {
    const Segment& s = segments_[i];
    if (i + 1 < segment_count_ && segments_[i + 1].first_seq <= from) continue;
    if (anchored && s.chain_in != chain) {
      // The chain breaks here (segments missing or altered; mount declared
      // it): say where it resumes. Nothing is vouched for over what precedes
      // the break; only seals the lock wrote at the time do that. (Numbers
      // skipped at mount do not break the chain: the reader sees the gap and
      // the loss record that declares it.)
      anchor(s.first_seq - 1, s.chain_in);
    }
    SegmentWalk w;
    MORTISE_TRY(WalkSegment(flash_, s.block, block_size_, s.first_seq, s.chain_in, w,
                            [&](WalkItem kind, uint64_t seq, const uint8_t* b, size_t size, const LogChain& before) {
                              if (seq < from) return;
                              if (!anchored) anchor(seq - 1, before);
                              LogItem item;
                              item.seq = seq;
                              if (kind == WalkItem::kSeal) {
                                item.type = LogItemType::kCheckpoint;
                                item.seq = seq - 1;
                                std::memcpy(item.tag.data(), b + 2, kLogTagSize);
                              } else if (kind == WalkItem::kVoid) {
                                item.type = LogItemType::kVoid;
                              } else {
                                item.type = LogItemType::kRecord;
                                item.length = static_cast<uint8_t>(size);
                                std::memcpy(item.bytes.data(), b, size);
                              }
                              sink.Put(item);
                              if (timed_valid_ && kind != WalkItem::kSeal && seq == timed_n_) {
                                LogItem t;
                                t.type = LogItemType::kSignedHead;
                                t.seq = timed_n_;
                                t.length = 8 + kLogSignatureSize;
                                PutLe64(t.bytes.data(), static_cast<uint64_t>(timed_utc_));
                                std::memcpy(t.bytes.data() + 8, timed_sig_.data(), kLogSignatureSize);
                                sink.Put(t);
                              }
                            }));
    chain = w.chain;
  }
  if (!anchored) anchor(next_seq_ - 1, head_chain_);
  LogItem head;
  head.type = LogItemType::kHead;
  head.seq = next_seq_ - 1;
  head.tag = HeadTag(auth_, challenge, next_seq_ - 1, head_chain_);
  sink.Put(head);
  return Status::Ok();
}

}  // namespace mortise::store
