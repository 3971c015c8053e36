// The log's wire format and its verifier (mortise_logformat): what a reader
// of exported logs needs (the CLI, a server), without the flash store.
#include "mortise/store/audit_log.h"

#include <cstring>

#include "crc.h"
#include "log_format_shared.h"
#include "mortise/crypto/secret.h"

namespace mortise::store {

using namespace log_detail;  // NOLINT: this module's own helpers


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

LogVerifier::LogVerifier(const LogSignatureCheck& check, std::span<const uint8_t, kLogLockIdSize> lock_id,
                         uint64_t expected_first, int64_t now_utc, int64_t max_head_age_s)
    : auth_(nullptr),
      check_(&check),
      now_utc_(now_utc),
      max_head_age_s_(max_head_age_s),
      challenge_{},
      expected_first_(expected_first) {
  std::memcpy(lock_id_.data(), lock_id.data(), kLogLockIdSize);
}

bool LogVerifier::SignatureValid(std::span<const uint8_t, kSignedHeadMessageSize> message,
                                 std::span<const uint8_t, kLogSignatureSize> signature) const {
  if (check_ != nullptr) return check_->Check(message, signature);
  return lock_key_->Verify(message, signature).ok();
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
      if (anchored_ && offline() && item.seq + 1 != next_) {
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
          if (offline()) {
            uint8_t m[kSignedHeadMessageSize];
            EncodeSignedHeadMessage(lock_id_, item.seq, chain_, r->signed_utc, m);
            if (chain_valid_ && anchored_ && SignatureValid(m, r->signature)) {
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
      if (!offline()) return;  // only an offline reader can check it; others skip it
      const bool in_place = anchored_ && chain_valid_ && item.seq + 1 == next_;
      uint8_t m[kSignedHeadMessageSize];
      const int64_t utc = static_cast<int64_t>(GetLe64(item.bytes.data()));
      EncodeSignedHeadMessage(lock_id_, item.seq + 1, chain_, utc, m);
      if (in_place && SignatureValid(m, std::span<const uint8_t, kLogSignatureSize>(item.bytes.data() + 8,
                                                                                  kLogSignatureSize))) {
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
  if (offline()) {
    findings_.stale_head = findings_.signed_through == 0 || now_utc_ - findings_.signed_at > max_head_age_s_;
  }
  // Offline, a loss record explains a gap only when a verified signed head
  // after it covers it: the chain alone is unkeyed, anyone can forge one.
  const size_t losses = offline() ? losses_signed_ : loss_count_;
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

}  // namespace mortise::store
