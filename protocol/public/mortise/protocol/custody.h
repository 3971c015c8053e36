// Log custody (issue 9 item 2): the lock's upload cursor, and the signed
// acknowledgement that moves it.
//
// The lock keeps its audit log until someone who stores it (the management
// server, or a device) says it holds it: the *upload cursor* is the
// sequence number through which a custody holder has acknowledged receipt.
// Records after the cursor are overwritten only when the ring is full, and
// that loss is declared in the log (store::LossReason::kOverflow), so the
// cursor decides nothing but which records the ring may reuse silently.
//
// Who may move it: a key whose chain (to the lock's owner, at the current
// claim generation, not revoked, inside its validity) holds
// kPermLogCustody (permissions.h), or the owner's own key. The owner issues
// a custody key as role admin with that bit alone; such a key runs no
// command (Authorize), so stolen from a server it opens nothing, reads
// nothing and changes nothing but the cursor.
//
// The acknowledgement names the lock, the claim generation, a sequence
// number N and the chain hash h(N) of record N (store/audit_log.h), so it
// proves its signer holds the exact stream through N. It travels in a
// sessionless frame, type 0x06 (node.h), that any relay may carry.
// docs/protocol.md, "Log custody", specifies every byte.
//
// Frame 0x06, request (little-endian numbers):
//   0      1  type 0x06
//   1      1  version 1
//   2     16  lock id
//   18     4  claim generation (LE32)
//   22     8  N (LE64), >= 1
//   30    16  h(N)
//   46     2  chain length L (LE16); 0: signed by the owner's own key
//   48     L  KeyChain (as in sessions), its holder key signs
//   48+L  64  ECDSA P-256 r || s over SHA-256("mortise-log-ack-v1\0" |
//             bytes 1..45 of the frame)
//
// Frame 0x06, reply:
//   0      1  type 0x06
//   1      1  version 1
//   2      1  CustodyStatus
//   3      1  flags: bit 0 counters follow, bit 1 a receipt follows
//   [4    16  cursor (LE64) | head (LE64): the newest record's number]
//   [..   88  receipt: lock time (LE64) | h(cursor) (16) | signature (64)
//             over "mortise-log-cursor-v1\0" | lock id | LE32 generation |
//             LE64 cursor | h(cursor) | LE64 lock time]
//
// Cost control (attack A18's rule: unauthenticated input costs no public-key
// work first). In order, the lock checks the frame's form, the lock id and
// generation, then reads record N and compares h(N) (flash reads and
// SHA-256 only). A frame whose N is beyond the head, no longer held, or
// whose hash differs gets one answer, kNoMatch, without counters: a
// stranger cannot probe how many records the lock holds. An N at or below
// the cursor with the right hash changes nothing (kUnchanged) and costs no
// signature work, so a replayed acknowledgement is harmless. Only then
// does a token bucket (kCustodyVerifyBurst, one token per
// kCustodyVerifyIntervalMs) admit the signature verifications; a frame
// that finds the bucket empty gets kBusy. The lock signs a receipt only
// when the cursor advanced: signatures are bounded by the bucket and by the
// number of records the lock wrote, never by what a relay sends.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/core/door_lock.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/token_bucket.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr uint8_t kCustodyVersion = 1;
inline constexpr size_t kCustodyChainHashSize = 16;
using CustodyChainHash = std::array<uint8_t, kCustodyChainHashSize>;
// Bytes 1..45 of the request frame: what the acknowledgement signs.
inline constexpr size_t kCustodyAckFieldsSize = 1 + kLockIdSize + 4 + 8 + kCustodyChainHashSize;
inline constexpr size_t kMaxCustodyAckFrameSize = 1 + kCustodyAckFieldsSize + 2 + kMaxChainSize + 64;
inline constexpr size_t kCustodyReceiptMessageSize = 22 + kLockIdSize + 4 + 8 + kCustodyChainHashSize + 8;
inline constexpr size_t kMaxCustodyReplyFrameSize = 4 + 16 + 8 + kCustodyChainHashSize + 64;
// Signature verification rounds admitted (each: the chain's certificates,
// the acknowledgement, and a receipt when the cursor moves, so at most 3
// verifications and 1 signature): a burst of 4, then one per 10 minutes,
// the signed heads' own period. An uplink acknowledges after its uploads;
// nothing is lost by acknowledging late (records stay until the ring is
// full). Bound: at most 148 rounds a day whatever a relay sends
// (docs/protocol.md section 16 gives the cycles).
inline constexpr uint32_t kCustodyVerifyBurst = 4;
inline constexpr uint64_t kCustodyVerifyIntervalMs = 600'000;

// Explicit numbers: they are on the wire.
enum class CustodyStatus : uint8_t {
  kAdvanced = 0,   // the cursor moved to N (receipt signed)
  kUnchanged = 1,  // N at or below the cursor: nothing changed (replays land here)
  kNoMatch = 2,    // N beyond the head, no longer held, or h(N) differs
  kWrongLock = 3,  // another lock id or claim generation, or the lock is unclaimed
  kRefused = 4,    // the chain or the signature fails, or the key lacks kPermLogCustody
  kBusy = 5,       // the verification budget is spent: retry later
  kMalformed = 6,  // the frame does not parse
  kError = 7,      // the lock could not read its log or store the cursor
};
const char* CustodyStatusName(CustodyStatus status);

// The lock's audit log as custody sees it (lockd: over store::AuditLog).
class LogCustodian {
 public:
  // The upload cursor (0: nothing acknowledged) and the newest record's
  // sequence number (0: none yet).
  virtual uint64_t cursor() const = 0;
  virtual uint64_t head() const = 0;
  // h(seq) of record `seq`. kNotFound: beyond the head or no longer held.
  // Other errors: the flash's.
  virtual Result<CustodyChainHash> ChainAt(uint64_t seq) = 0;
  // Moves the cursor to `seq` durably (never backwards). Store errors.
  virtual Status Advance(uint64_t seq) = 0;

 protected:
  ~LogCustodian() = default;
};

// What an acknowledgement states.
struct CustodyAck {
  LockId lock_id{};
  uint32_t generation = 0;
  uint64_t seq = 0;
  CustodyChainHash chain{};
};

// Holder side: the whole request frame (type byte included), signed by
// `signer`, whose certificate chain `key_chain` travels with it (empty: the
// owner's own key). Returns its length. kInvalidArgument: seq 0 or a chain
// longer than kMaxChainSize. kResourceExhausted: `out` too small. Signing
// errors: P256KeyPair's.
Result<size_t> EncodeCustodyAck(const CustodyAck& ack, const crypto::P256KeyPair& signer,
                                std::span<const uint8_t> key_chain, crypto::Drbg& drbg, std::span<uint8_t> out);

// The lock's answer, decoded.
struct CustodyReply {
  CustodyStatus status = CustodyStatus::kMalformed;
  bool has_counters = false;
  uint64_t cursor = 0;
  uint64_t head = 0;
  bool has_receipt = false;
  int64_t signed_utc = 0;
  CustodyChainHash cursor_chain{};
  crypto::P256Signature signature{};
};
// kInvalidArgument: not a custody reply frame, or malformed.
Result<CustodyReply> DecodeCustodyReply(std::span<const uint8_t> frame);
// Checks a reply's receipt: signed by `lock_key` for this lock and claim
// generation. kFailedPrecondition: the reply carries no receipt.
// kUnauthenticated: the signature does not verify.
Status VerifyCustodyReceipt(const CustodyReply& reply, const crypto::P256PublicKey& lock_key, const LockId& lock_id,
                            uint32_t generation);
// The receipt's signed bytes (LockAuthority::SignCustodyReceipt signs them).
void EncodeCustodyReceiptMessage(const LockId& lock_id, uint32_t generation, uint64_t cursor,
                                 const CustodyChainHash& chain, int64_t utc,
                                 std::span<uint8_t, kCustodyReceiptMessageSize> out);

// The lock side of frame 0x06. Rules above; docs/protocol.md, "Log custody".
class CustodyServer {
 public:
  CustodyServer(LockAuthority& authority, core::DoorLock& lock) : authority_(authority), lock_(lock) {}
  // May be null: frame 0x06 is then answered with the invalid frame 0x00.
  void set_custodian(LogCustodian* custodian) { custodian_ = custodian; }
  bool enabled() const { return custodian_ != nullptr; }
  // `body`: the frame without its type byte. Writes the reply without its
  // type byte (at least kMaxCustodyReplyFrameSize - 1 bytes) and returns
  // its length. kFailedPrecondition: no custodian. kResourceExhausted:
  // `out` too small. Every other outcome is a reply with its status.
  Result<size_t> Handle(std::span<const uint8_t> body, uint64_t now_ms, std::span<uint8_t> out);
  // Signature verification rounds admitted so far (diagnostics and tests).
  uint32_t verify_rounds() const { return verify_rounds_; }

 private:
  LockAuthority& authority_;
  core::DoorLock& lock_;
  LogCustodian* custodian_ = nullptr;
  TokenBucket verify_budget_{kCustodyVerifyBurst, kCustodyVerifyIntervalMs};
  uint32_t verify_rounds_ = 0;
};

}  // namespace mortise::protocol
