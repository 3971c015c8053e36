// Time statements (issue 14): keeping a lock's clock right while it is
// online, without giving the server an unbounded set-time right.
//
// A time statement says "the time is T" for one lock and claim generation,
// signed by the owner's key or by a *time key*: a certificate of this lock's
// owner carrying kPermTimeStatement (permissions.h). The owner issues it as
// role admin with that bit alone (`mortise key share --time`); such a key
// runs no command (Authorize: a duty key), so stolen from a server it opens
// nothing and cannot set the clock in a session either. The statement
// travels in a sessionless frame, type 0x07 (node.h), that any relay may
// carry (the uplink's down topic).
//
// What a statement can do: *correct* a clock that is already set, by at
// most kTimeCorrectionMaxStepS seconds either way, never before the lock's
// durable time floor, at most kTimeCorrectionBurst + one per
// kTimeCorrectionIntervalMs of the lock's running time. It never sets an
// unknown clock (only an owner-authorised SetTime in a session does). So a
// hostile server holding the time key moves the clock at most 4 x 10 s =
// 40 s per 24 h of running time (plus 10 s after each restart of the lock),
// forwards or backwards; docs/protocol.md section 7.1 gives what A04 still
// holds.
//
// Replays: T must be strictly above the last statement this lock accepted
// since it started, and within the step of the lock's own time, so a
// recorded statement is refused once a later one was accepted or once the
// lock's clock has moved past it by more than the step.
//
// Frame 0x07, request (little-endian numbers):
//   0      1  type 0x07
//   1      1  version 1
//   2     16  lock id
//   18     4  claim generation (LE32)
//   22     8  T, UTC seconds (LE64)
//   30     2  chain length L (LE16); 0: signed by the owner's own key
//   32     L  KeyChain (as in sessions), its holder key signs
//   32+L  64  ECDSA P-256 r || s over SHA-256("mortise-time-v1\0" |
//             bytes 1..29 of the frame)
//
// Frame 0x07, reply (unsigned, advisory: a relay could write it):
//   0      1  type 0x07
//   1      1  version 1
//   2      1  TimeStatus
//   3      8  the lock's UTC time after the statement (LE64; 0: unknown)
//
// Cost control (A18's rule): form, lock id and generation, a known clock,
// T above the last accepted, T within the step and not before the floor,
// then a correction available in the budget: all without public-key work.
// Only then does a second bucket (kTimeVerifyBurst, one per
// kTimeVerifyIntervalMs) admit the signature verifications.
#pragma once

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

inline constexpr uint8_t kTimeStatementVersion = 1;
// Bytes 1..29 of the request frame: what the statement signs.
inline constexpr size_t kTimeStatementFieldsSize = 1 + kLockIdSize + 4 + 8;
inline constexpr size_t kMaxTimeStatementFrameSize = 1 + kTimeStatementFieldsSize + 2 + kMaxChainSize + 64;
inline constexpr size_t kTimeReplyFrameSize = 1 + 1 + 1 + 8;
// The largest correction, either way. A lock's crystal drifts about 2 s a
// day (20 ppm); one correction of 10 s every 6 h covers 20 times that.
inline constexpr int64_t kTimeCorrectionMaxStepS = 10;
// Corrections accepted: 1 at once, then one per 6 h of running time.
inline constexpr uint32_t kTimeCorrectionBurst = 1;
inline constexpr uint64_t kTimeCorrectionIntervalMs = 6ull * 3600 * 1000;
// Signature verification rounds (chain and statement): 4 at once, then one
// per 10 minutes, as for custody acknowledgements (at most 148 a day).
inline constexpr uint32_t kTimeVerifyBurst = 4;
inline constexpr uint64_t kTimeVerifyIntervalMs = 600'000;

// Explicit numbers: they are on the wire.
enum class TimeStatus : uint8_t {
  kCorrected = 0,    // the clock now reads T
  kMalformed = 1,    // the frame does not parse
  kWrongLock = 2,    // another lock id or claim generation, or unclaimed
  kTimeUnknown = 3,  // the clock is not set: only a session's SetTime sets it
  kStale = 4,        // T not above the last statement accepted (replays)
  kTooFar = 5,       // T more than the step from the lock's time, or before its floor
  kBusy = 6,         // no correction or verification left in the budget: later
  kRefused = 7,      // the chain or the signature fails, or the key lacks the right
  kError = 8,        // the lock could not store its time floor
};
const char* TimeStatusName(TimeStatus status);

struct TimeStatement {
  LockId lock_id{};
  uint32_t generation = 0;
  int64_t utc = 0;
};

// Holder side: the whole request frame (type byte included), signed by
// `signer`, whose certificate chain `key_chain` travels with it (empty: the
// owner's own key). Returns its length. kInvalidArgument: a negative time or
// a chain longer than kMaxChainSize. kResourceExhausted: `out` too small.
// Signing errors: P256KeyPair's.
Result<size_t> EncodeTimeStatement(const TimeStatement& statement, const crypto::P256KeyPair& signer,
                                   std::span<const uint8_t> key_chain, crypto::Drbg& drbg, std::span<uint8_t> out);

struct TimeReply {
  TimeStatus status = TimeStatus::kMalformed;
  int64_t lock_utc = 0;  // 0: the lock's time is unknown
};
// kInvalidArgument: not a time reply frame, or malformed.
Result<TimeReply> DecodeTimeReply(std::span<const uint8_t> frame);

// The lock side of frame 0x07. Rules above; docs/protocol.md section 7.1.
class TimeServer {
 public:
  TimeServer(LockAuthority& authority, core::DoorLock& lock) : authority_(authority), lock_(lock) {}
  // `body`: the frame without its type byte. Writes the reply without its
  // type byte (kTimeReplyFrameSize - 1 bytes) and returns its length.
  // kResourceExhausted: `out` too small. Every other outcome is a reply.
  Result<size_t> Handle(std::span<const uint8_t> body, uint64_t now_ms, std::span<uint8_t> out);
  // Diagnostics and tests.
  uint32_t verify_rounds() const { return verify_rounds_; }
  uint32_t corrections() const { return corrections_; }

 private:
  LockAuthority& authority_;
  core::DoorLock& lock_;
  TokenBucket correction_budget_{kTimeCorrectionBurst, kTimeCorrectionIntervalMs};
  TokenBucket verify_budget_{kTimeVerifyBurst, kTimeVerifyIntervalMs};
  int64_t last_accepted_ = 0;
  uint32_t verify_rounds_ = 0;
  uint32_t corrections_ = 0;
};

}  // namespace mortise::protocol
