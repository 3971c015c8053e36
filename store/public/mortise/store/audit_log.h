// The lock's audit log: an append-only ring of 4 KiB segments in its own
// flash partition, numbered, hash-chained and authenticated with a lock-held
// key, with an acknowledged upload cursor and explicit loss records.
// Implements core::EventSink. Format: docs/storage-format.md §4 (MLG2).
//
// Why a reader detects tampering (A02), in transit and at rest:
//  - every record has a 64-bit sequence number, never reused: it continues
//    across segments, wrap-around and reboots;
//  - chain: h(s) = first 16 bytes of SHA-256("MLc1" | h(prev) | LE64(s) |
//    record bytes). Changing, dropping, inserting or reordering any record
//    changes every later h;
//  - tag(n) = HMAC-SHA256(key, "MLa1" | LE64(n) | h(n)) truncated to 16 bytes
//    authenticates the whole history up to n. The lock stores one per
//    segment (the seal), and at export computes one over the start point and
//    one over the open tail, bound to the reader's challenge;
//  - at rest: before each record reaches the log's flash, the lock writes a
//    *durable head* to the record store (outside the log's partition):
//    {n, keyed tag of the chain before n, keyed tag of h(n)}. Mount walks
//    every segment, checks every seal and every join between segments, and
//    checks the chain's end against the durable head, so an edit, removal
//    or addition anywhere is found by the lock itself; what it cannot vouch
//    for it declares in the log with a "tampered" loss record, which every
//    reader's LogVerifier flags. Numbering never goes below the durable head;
//  - losses are records too: an overwrite of unacknowledged records, a failed
//    write or a lost log writes a loss record, authenticated like any other.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/core/durable_store.h"
#include "mortise/core/event_sink.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/p256.h"
#include "mortise/store/flash.h"

namespace mortise::store {

inline constexpr size_t kLogTagSize = 16;
inline constexpr size_t kLogChainSize = 16;
inline constexpr size_t kLogChallengeSize = 16;
inline constexpr size_t kMaxLogRecordSize = 84;  // the signed head; events are 20 or 40
inline constexpr size_t kLogLockIdSize = 16;
inline constexpr size_t kLogSignatureSize = 64;
using LogTag = std::array<uint8_t, kLogTagSize>;
using LogChain = std::array<uint8_t, kLogChainSize>;
using LogChallenge = std::array<uint8_t, kLogChallengeSize>;

// Facade: the key that authenticates the log. The protocol module provides
// the lock's real key; tests use HmacLogAuthenticator with a test key.
class LogAuthenticator {
 public:
  virtual ~LogAuthenticator() = default;
  // A 16-byte tag over label | message.
  virtual void Tag(std::span<const uint8_t> label, std::span<const uint8_t> message,
                   std::span<uint8_t, kLogTagSize> out) const = 0;
};

// Facade: the lock's identity key signs the head of its log (issue 9 item 2)
// so that any holder of the lock's public key verifies a stored stream
// offline. The integrator provides it (lockd: over protocol::LockAuthority,
// which refuses to sign anything that does not start with the log-head
// label and its own lock id); the store never depends on the protocol.
class LogHeadSigner {
 public:
  virtual std::span<const uint8_t, kLogLockIdSize> lock_id() const = 0;
  // ECDSA P-256 (r || s) over `message` as built by EncodeSignedHeadMessage.
  virtual Status Sign(std::span<const uint8_t> message, std::span<uint8_t, kLogSignatureSize> signature) = 0;

 protected:
  // Nobody deletes through the facade: a portable implementation then needs
  // no operator delete (a virtual destructor would reference one).
  ~LogHeadSigner() = default;
};

// The signed bytes of a signed head: "mortise-log-head-v1\0" (20 bytes) |
// lock id (16) | LE64(s) (the signed-head record's own sequence number) |
// h(s - 1) as the chain stands before it (16) | LE64(lock UTC seconds).
inline constexpr size_t kSignedHeadMessageSize = 20 + kLogLockIdSize + 8 + 16 + 8;
void EncodeSignedHeadMessage(std::span<const uint8_t, kLogLockIdSize> lock_id, uint64_t seq,
                             std::span<const uint8_t, 16> chain_before, int64_t utc,
                             std::span<uint8_t, kSignedHeadMessageSize> out);

class HmacLogAuthenticator final : public LogAuthenticator {
 public:
  MORTISE_STORE_NOT_ON_HEAP
  explicit HmacLogAuthenticator(std::span<const uint8_t> key) : hmac_(key) {}
  void Tag(std::span<const uint8_t> label, std::span<const uint8_t> message,
           std::span<uint8_t, kLogTagSize> out) const override;

 private:
  crypto::HmacSha256 hmac_;
};

enum class LogRecordType : uint8_t { kEvent = 0, kLoss = 1, kSignedHead = 2, kKeyIntro = 3 };
enum class LossReason : uint8_t {
  kOverflow = 1,      // unacknowledged records overwritten by the ring
  kWriteFailure = 2,  // events the flash refused (they never got a sequence number)
  kLogLost = 3,       // the log's flash was found erased or unreadable, or numbers were skipped
  // Mount found records it wrote edited, removed or added, a segment whose
  // seal does not verify and that nothing else vouches for, or a hole
  // between segments: it cannot vouch for [first_lost, first_lost + count).
  // Always tampering or flash damage, never a power cut. LogVerifier flags it.
  kTampered = 4,
  // Not a loss: the segment ending at first_lost (count 0) has a missing or
  // invalid seal (a power cut tore it, or it was erased), and the lock
  // verified that segment's chain against its durable head when it found it.
  kLateSeal = 5,
};
// Record type numbers reserved in the MLG2 format for what comes next
// (docs/storage-format.md §4.2): a signed log head (issue 9 item 2) and a
// key-introduction record naming a credential index (issue 9 item 1).
inline constexpr uint8_t kLogRecordTypeSignedHead = 0xA6;  // built: LogRecordType::kSignedHead
inline constexpr uint8_t kLogRecordTypeKeyIntro = 0xA7;    // built: LogRecordType::kKeyIntro

// A decoded record.
struct LogRecord {
  uint64_t seq = 0;
  LogRecordType type = LogRecordType::kEvent;
  core::LockEvent event;              // kEvent
  LossReason reason = LossReason::kOverflow;  // kLoss
  uint64_t first_lost = 0;            // kLoss: first lost sequence number (0: none had one)
  uint32_t lost_count = 0;            // kLoss
  // kKeyIntro: from this record on, credential index `key_index` of
  // protocol keys (events' credential.index) names the key (issuer key id,
  // serial), until another introduction reuses the index.
  uint16_t key_index = 0;
  std::array<uint8_t, 8> issuer_key_id{};
  uint64_t serial = 0;
  int64_t signed_utc = 0;             // kSignedHead: the lock's time when it signed
  std::array<uint8_t, kLogSignatureSize> signature{};  // kSignedHead
};

// Encodes an event as stored (20 bytes when every field fits the short form,
// else 40), with `seq`'s low byte and the record CRC. Returns the size.
size_t EncodeLogEvent(const core::LockEvent& event, uint64_t seq, std::span<uint8_t, kMaxLogRecordSize> out);
size_t EncodeLogLoss(LossReason reason, uint64_t first_lost, uint32_t count, uint64_t seq,
                     std::span<uint8_t, kMaxLogRecordSize> out);
// Decodes stored record bytes. kDataLoss: bad CRC, unknown type, wrong size,
// field out of range, or a low byte that does not match `seq`.
size_t EncodeLogKeyIntro(uint16_t index, std::span<const uint8_t, 8> issuer_key_id, uint64_t serial, uint64_t seq,
                         std::span<uint8_t, kMaxLogRecordSize> out);
Result<LogRecord> DecodeLogRecord(uint64_t seq, std::span<const uint8_t> bytes);

// An exported item: what the lock sends and a reader verifies.
enum class LogItemType : uint8_t {
  kAnchor = 1,      // seq = n, chain = h(n), tag = tag(n): where verification starts
  kRecord = 2,      // seq, bytes
  kVoid = 3,        // seq: the lock holds this record but cannot read it (flash damage)
  kCheckpoint = 4,  // seq = n, tag = tag(n) (a segment seal)
  kHead = 5,        // seq = n, tag over the challenge and h(n): the end of the log now
  // seq = n: the lock's newest timed signed head, held in its RAM, over
  // h(n) (message sequence n + 1); bytes: LE64 lock time | signature (72).
  kSignedHead = 6,
};
struct LogItem {
  LogItemType type = LogItemType::kRecord;
  uint64_t seq = 0;
  uint8_t length = 0;
  std::array<uint8_t, kMaxLogRecordSize> bytes{};
  LogChain chain{};
  LogTag tag{};
};
// Wire form: type(1) seq(LE64) then record: length(1) bytes; anchor: chain
// tag; checkpoint and head: tag; void: nothing. Encode returns the size
// (kResourceExhausted: `out` too small); Decode returns the bytes consumed
// (kDataLoss: truncated or malformed).
Result<size_t> EncodeLogItem(const LogItem& item, std::span<uint8_t> out);
Result<size_t> DecodeLogItem(std::span<const uint8_t> in, LogItem& item);

class LogItemSink {
 public:
  virtual void Put(const LogItem& item) = 0;

 protected:
  ~LogItemSink() = default;  // as LogHeadSigner: no operator delete needed
};

// What a reader concluded. ok(): nothing was dropped, edited, reordered or
// injected between the lock and the reader, and the stream reaches the
// lock's current head. Losses the lock itself declared (loss records, voids)
// are reported apart: they are authenticated facts, not tampering.
struct LogFindings {
  uint64_t records = 0;            // records covered by a verified tag
  uint64_t unverified = 0;         // records after the last verified tag
  uint64_t unexplained_gaps = 0;   // sequence numbers missing with no loss record
  uint64_t explained_gaps = 0;     // missing and covered by a loss record
  uint64_t voids = 0;              // records the lock declared unreadable
  uint64_t order_errors = 0;       // a sequence number repeated or went back
  uint64_t bad_tags = 0;           // anchor, checkpoint or head tag wrong
  uint64_t malformed = 0;          // record bytes that do not decode
  uint64_t lost_by_lock = 0;       // events counted by loss records (kTampered excluded)
  // Sequence numbers the lock declared altered at rest (kTampered loss
  // records): the lock found its own flash edited. Never ok().
  uint64_t tampered = 0;
  uint64_t late_seals = 0;         // segments whose seal the lock re-vouched (kLateSeal)
  // Offline mode (the lock's public key): the newest signed head that
  // verified ("verified through record signed_through, signed at lock time
  // signed_at"), signatures that did not, and whether that head is older
  // than the reader's bound (a genuine old head cannot be told from a
  // stream cut back to it).
  uint64_t signed_through = 0;
  int64_t signed_at = 0;
  uint64_t bad_signatures = 0;
  // Offline mode: anchors after the first that restart the chain (it does not
  // continue into them). Nothing vouches for them (the chain is unkeyed), so
  // no signed head after one covers what came before it: never offline_ok().
  uint64_t unverified_anchors = 0;
  bool stale_head = false;
  bool head_verified = false;
  bool ok() const {
    return unverified == 0 && unexplained_gaps == 0 && order_errors == 0 && bad_tags == 0 && malformed == 0 &&
           tampered == 0 && head_verified;
  }
  // Offline mode: complete, in order and unedited through a verified signed
  // head that is not stale. Records after it are `unverified` (not yet
  // signed), which offline_ok() allows.
  bool offline_ok() const {
    return unexplained_gaps == 0 && order_errors == 0 && bad_tags == 0 && malformed == 0 && tampered == 0 &&
           bad_signatures == 0 && unverified_anchors == 0 && signed_through != 0 && !stale_head;
  }
};

// Checks a lock's ECDSA P-256 signature over a signed-head message (offline
// verification). The default is the lock's own crypto backend
// (crypto::P256PublicKey); a reader on a larger machine may give a faster
// implementation of the same check (the server uses OpenSSL's).
class LogSignatureCheck {
 public:
  virtual bool Check(std::span<const uint8_t, kSignedHeadMessageSize> message,
                     std::span<const uint8_t, kLogSignatureSize> signature) const = 0;

 protected:
  ~LogSignatureCheck() = default;  // as LogItemSink: no operator delete needed
};

// Verifies an export outside the lock (CLI, server) as well as in tests.
// `expected_first` is the first sequence number the reader has not seen yet
// (its last acknowledgement + 1); records before it may be absent.
class LogVerifier {
 public:
  LogVerifier(const LogAuthenticator& auth, const LogChallenge& challenge, uint64_t expected_first);
  // For items that arrived over a channel the lock itself authenticated (a
  // protocol session: every page sealed under keys only the lock and this
  // reader hold, bound to this session and to the reader's challenge): the
  // channel vouches for the bytes, so the tags are not checked (a reader
  // without the lock's log key cannot). Completeness still is: every
  // sequence number present or declared lost by a loss record, order, the
  // hash chain continuing across page anchors, decodable records, and a
  // stream that reaches the head. docs/storage-format.md, "Reading the log
  // over a session".
  LogVerifier(const LogChallenge& challenge, uint64_t expected_first);
  // Offline: a stored stream checked by anyone holding the lock's public key
  // and id, without a session. Tags are not checked (no key); the chain is,
  // and every signed head's signature over it. `now_utc` is the reader's
  // time; a newest signed head more than `max_head_age_s` older is stale.
  LogVerifier(const crypto::P256PublicKey& lock_key, std::span<const uint8_t, kLogLockIdSize> lock_id,
              uint64_t expected_first, int64_t now_utc, int64_t max_head_age_s);
  // The same with the signatures checked by `check` (it outlives the verifier).
  LogVerifier(const LogSignatureCheck& check, std::span<const uint8_t, kLogLockIdSize> lock_id,
              uint64_t expected_first, int64_t now_utc, int64_t max_head_age_s);
  void Feed(const LogItem& item);
  // Where the stream fed so far ends: the last sequence number and h(seq),
  // what a custody acknowledgement of it names (protocol/custody.h). False
  // before an anchor. Meaningful as proof of receipt only once the stream
  // verified (ok() / offline_ok()).
  bool StreamEnd(uint64_t& seq, LogChain& chain) const {
    if (!anchored_ || !chain_valid_ || next_ == 0) return false;
    seq = next_ - 1;
    chain = chain_;
    return true;
  }
  const LogFindings& Finish();
  const LogFindings& findings() const { return findings_; }

 private:
  struct Range {
    uint64_t first;
    uint64_t last;
  };
  static constexpr size_t kMaxRanges = 64;
  void AddGap(uint64_t first, uint64_t last);
  void Verified() {
    findings_.records += unverified_;
    unverified_ = 0;
  }
  // Offline: a signed head over the chain at `seq` verified; it covers every
  // loss record received since the chain (re)started.
  void SignedHeadVerified(uint64_t seq, int64_t utc) {
    findings_.signed_through = seq;
    findings_.signed_at = utc;
    losses_signed_ = loss_count_;
  }

  const LogAuthenticator* auth_;  // null: tags authenticated by the channel (or offline)
  // Offline mode: the lock's key, or a check given by the reader (one of them).
  bool SignatureValid(std::span<const uint8_t, kSignedHeadMessageSize> message,
                      std::span<const uint8_t, kLogSignatureSize> signature) const;
  bool offline() const { return lock_key_ != nullptr || check_ != nullptr; }
  const crypto::P256PublicKey* lock_key_ = nullptr;
  const LogSignatureCheck* check_ = nullptr;
  std::array<uint8_t, kLogLockIdSize> lock_id_{};
  int64_t now_utc_ = 0;
  int64_t max_head_age_s_ = 0;
  LogChallenge challenge_;
  uint64_t expected_first_;
  LogFindings findings_;
  bool anchored_ = false;
  bool chain_valid_ = false;
  bool ended_ = false;
  LogChain chain_{};
  uint64_t next_ = 0;  // next expected sequence number
  uint64_t unverified_ = 0;
  Range gaps_[kMaxRanges] = {};
  size_t gap_count_ = 0;
  Range losses_[kMaxRanges] = {};
  size_t loss_count_ = 0;
  size_t losses_signed_ = 0;  // offline: losses_[0, losses_signed_) are covered by a verified signed head
};

struct LogMountReport {
  uint32_t segments = 0;
  uint32_t blocks_dropped = 0;  // invalid headers: torn header writes, torn erases, damage
  uint32_t voids = 0;           // unreadable records in the head segment
  uint32_t bytes_skipped = 0;   // bytes in the head segment that did not parse
  bool roll_completed = false;  // a power cut had interrupted a segment roll
  // Sequence numbers skipped at mount (numbering restarted at the durable
  // high-water mark after damage or an interrupted roll; declared by a loss
  // record).
  uint64_t sequence_jump = 0;
  // Sequence numbers this mount declared altered (kTampered records written
  // now; ranges declared at an earlier mount are not counted again).
  uint64_t tampered = 0;
  uint32_t late_seals = 0;  // kLateSeal notes written by this mount
};

class LogRecordVisitor {
 public:
  virtual ~LogRecordVisitor() = default;
  virtual void Visit(const LogRecord& record) = 0;
};

class AuditLog final : public core::EventSink {
 public:
  MORTISE_STORE_NOT_ON_HEAP
  // Counters this log keeps in the record store (outside the core's 0-15).
  static constexpr uint16_t kCounterHighWater = 0xFF00;
  static constexpr uint16_t kCounterAcknowledged = 0xFF01;
  // Events Emit could not write, in total, and how many of them a loss record
  // has declared: the difference survives a reboot and is declared then.
  static constexpr uint16_t kCounterFailedEvents = 0xFF02;
  static constexpr uint16_t kCounterFailedDeclared = 0xFF03;
  // The durable head (record store record, kind RecordStore::kStoreStateKind):
  // LE64 n | tag8("MLp2", n, chain before n) | tag8("MLa1", n, h(n)),
  // written before record n is programmed. docs/storage-format.md §4.4.
  static constexpr uint32_t kHeadRecordKey = 0xFFFE0000u;
  static constexpr size_t kHeadRecordSize = 24;
  static constexpr size_t kMinBlocks = 3;
  static constexpr size_t kMaxBlocks = 64;

  // `flash` is the log's own partition; `store` keeps its counters; `auth`
  // holds the lock's log key. All must outlive the log.
  AuditLog(Flash& flash, core::DurableStore& store, const LogAuthenticator& auth);

  // Reads the segment headers and the head segment, and finishes a segment
  // roll a power cut interrupted. Mount the record store first (the log's
  // counters live there). kInvalidArgument: unusable geometry. Errors from
  // Flash and from the store's counters.
  Status Mount();
  const LogMountReport& mount_report() const { return report_; }

  // core::EventSink: appends; a failure is counted (in RAM and, when the
  // store allows, in counter kCounterFailedEvents) and written as a loss
  // record by the next successful append, also after a reboot.
  void Emit(const core::LockEvent& event) override;
  // Signed heads (issue 9 item 2): with a signer, the log signs its head at
  // every roll (a 0xA6 record before the seal, kept with the segment) and,
  // through SignHeadIfDue, every `interval_s` while records wait unsigned;
  // never on a reader's request. Timed heads are kept in RAM and exported
  // at their place (LogItemType::kSignedHead), not written to the ring: at
  // 84 bytes each they would cost most of its capacity when events are
  // sparse (docs/storage-format.md §5). After a reboot the next tick signs.
  // The signer must outlive the log. Call before Mount or after.
  void set_head_signer(LogHeadSigner* signer, uint32_t interval_s) {
    signer_ = signer;
    sign_interval_s_ = interval_s;
  }
  // The integrator's timer: appends a signed head when records wait unsigned
  // and the last signed head is `interval_s` old (or none was written since
  // mount). OK and nothing written otherwise. kFailedPrecondition: not
  // mounted. Errors from the signer, Flash and the store.
  Status SignHeadIfDue(int64_t utc_now);
  uint64_t last_signed_seq() const { return last_signed_seq_; }

  // Appends and returns the event's sequence number once it is on flash.
  // kFailedPrecondition: not mounted, or a write failed since the last mount.
  // Errors from Flash and the store.
  Result<uint64_t> Append(const core::LockEvent& event);

  // Introduces a key (issue 9 item 1): a 24-byte record saying that from
  // now on the 16-bit credential index the lock assigned names the key
  // (issuer key id, 64-bit serial), so a reader of later events names the
  // exact key. Returns its sequence number. Errors as Append.
  Result<uint64_t> AppendKeyIntroduction(uint16_t index, std::span<const uint8_t, 8> issuer_key_id, uint64_t serial);

  // The upload cursor (issue 9 item 2): records up to `seq` reached a
  // custody holder; they may now be overwritten without a loss record.
  // Records after the cursor are erased only when the ring needs their
  // segment, and that loss is declared first (LossReason::kOverflow).
  // Durable (counter kCounterAcknowledged) before it returns; never moves
  // back (an older `seq` is OK and changes nothing). The lock moves it
  // only for a custody acknowledgement (protocol/custody.h).
  // kOutOfRange: `seq` was never issued. Store errors.
  Status Acknowledge(uint64_t seq);
  uint64_t acknowledged() const { return acknowledged_; }
  // Where an uploader resumes: the first record after the cursor.
  uint64_t upload_from() const { return acknowledged_ + 1; }
  // Records written after the cursor (on flash or already lost to overflow).
  uint64_t unacknowledged() const { return next_seq_ - 1 > acknowledged_ ? next_seq_ - 1 - acknowledged_ : 0; }
  // h(seq), the chain hash after record `seq` as an export carries it (a
  // custody acknowledgement names it). kNotFound: 0, beyond the head, or
  // no longer on flash. kFailedPrecondition: not mounted. Flash errors.
  Result<LogChain> ChainAt(uint64_t seq);
  uint64_t next_seq() const { return next_seq_; }
  uint64_t oldest_seq() const;  // oldest record still on flash (next_seq() if none)

  // Decoded records with seq >= `from`, oldest first (unreadable ones skipped).
  Status ReadFrom(uint64_t from, LogRecordVisitor& visitor);
  // The verifiable export from max(from, oldest_seq()): an anchor, records,
  // voids and checkpoints, then a head tag over `challenge`.
  Status Export(uint64_t from, const LogChallenge& challenge, LogItemSink& sink);

 private:
  struct Segment {
    uint32_t block;
    uint32_t number;
    uint64_t first_seq;
    LogChain chain_in;
  };
  struct Range {
    uint64_t first;
    uint64_t last;
  };
  // What mount found that it must declare (docs/storage-format.md §4.5).
  struct MountFindings {
    static constexpr size_t kMax = 8;
    Range tampered[kMax] = {};
    size_t tampered_count = 0;
    uint64_t late_seal[kMax] = {};
    size_t late_seal_count = 0;
    bool head_ok = true;        // the chain's end matches the durable head
    bool record_missing = false;  // the durable head's record n is not on flash (a cut before it was programmed)
  };
  Status CheckUsable() const;
  Status LoadHead();
  // Seals the head and opens a new segment; numbering continues at
  // max(next_seq_, jump_to).
  Status Roll(uint64_t jump_to = 0);
  Status AppendLoss(LossReason reason, uint64_t first, uint64_t count);
  Status OpenFirstSegment();
  // Checks every segment, every seal, every join and the durable head.
  Status CheckAtRest(MountFindings& found);
  static void AddTampered(MountFindings& found, Range r);
  Status DeclareFindings(const MountFindings& found);
  // Writes the durable head for next_seq_, then the record; advances the chain.
  Status WriteNumbered(std::span<const uint8_t> bytes);
  Status WriteSeal(std::span<const uint8_t> seal);
  Status AppendSignedHead(int64_t utc);
  // Bytes kept before the seal slot for what a roll writes.
  size_t RollReserve() const;
  Result<uint64_t> RaiseCounter(uint16_t id, uint64_t value);
  void SortSegments();

  Flash& flash_;
  core::DurableStore& store_;
  const LogAuthenticator& auth_;
  size_t block_size_ = 0;
  size_t block_count_ = 0;
  Segment segments_[kMaxBlocks] = {};  // oldest first
  size_t segment_count_ = 0;
  bool dirty_[kMaxBlocks] = {};  // invalid header: erase before use
  uint64_t next_seq_ = 1;
  uint64_t acknowledged_ = 0;
  uint64_t high_water_ = 0;
  bool has_durable_head_ = false;
  uint64_t durable_head_ = 0;  // n of the durable head (valid if has_durable_head_)
  uint8_t durable_raw_[kHeadRecordSize] = {};  // as read at mount
  LogChain head_chain_{};
  uint32_t head_offset_ = 0;
  bool head_sealed_ = false;  // the head's seal slot is programmed (valid or torn)
  uint32_t head_trailing_ = 0;
  uint64_t roll_from_ = 0;  // the sequence number the last roll's old head ended at
  uint64_t last_loss_first_ = 0;   // the head's last record, if a loss record
  uint64_t last_loss_count_ = 0;
  bool last_is_loss_ = false;
  uint32_t failed_events_ = 0;
  LogHeadSigner* signer_ = nullptr;
  uint32_t sign_interval_s_ = 0;
  uint64_t last_signed_seq_ = 0;   // last record covered by a signed head since mount
  // The newest timed signed head (RAM): covers records up to timed_n_.
  bool timed_valid_ = false;
  uint64_t timed_n_ = 0;
  int64_t timed_utc_ = 0;
  std::array<uint8_t, kLogSignatureSize> timed_sig_{};
  bool signed_since_mount_ = false;
  int64_t last_signed_utc_ = 0;
  int64_t latest_utc_ = 0;         // the newest time the log has seen (events, SignHeadIfDue)
  bool mounted_ = false;
  bool broken_ = false;
  LogMountReport report_;
};

}  // namespace mortise::store
