// Offline PIN codes: the owner's device computes time-limited keypad codes
// from a secret it shares with the lock (agreed at claiming), with no network;
// the lock verifies them offline. As igloohome's AlgoPIN and TTLock's
// offline codes, but sized so that guessing stays below one in a million per
// year of continuous attack under the lockout policy (docs/offline-pins.md).
//
// Two code lengths, both longer than any regular PIN (max 12), so the lock
// knows from the length alone what it is looking at:
//
//  13 digits  value = x + 8 * mac, x = (seq << 1) | kind
//             kind 0 one-time: valid for first use in [start, start + 6 h);
//                    up to 4 a start hour (seq 0-3); never valid twice.
//             kind 1 erase-all: issued at hour h, accepted in [h, h + 24 h):
//                    every code starting at or before h (UTC) stops working,
//                    activated or not; codes starting later are untouched.
//             The lock tries every start hour that could be meant (6 for
//             one-time, 24 for erase): the code carries no time.
//  16 digits  value = x + 2^21 * mac
//             bit 0 = 0 window: bits 1-5 start hour mod 32, bits 6-19 hours - 1
//                    (1..8,760); valid in [start, start + hours), first use
//                    within 24 h of start.
//             bit 0 = 1 recurring daily: bits 1-5 daily start hour, 6-10 daily
//                    end hour (local), 11-16 weeks - 1 (1..53), 17-20 first
//                    local day mod 16; valid every day of those weeks between
//                    the hours, first use within 16 days of the first day.
//
// The MAC is AES-CMAC under a key derived from the shared secret, over the
// code's kind and full parameters, reduced modulo the space left for it
// (8 * 1.25e12 and 2^21 * 4.77e9 fill 10^13 and 10^16). Once used, a code's
// parameters are kept in a small durable table (by a digest of the code), so
// it keeps working after its activation window, and a one-time code is
// remembered as used before the door opens.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "mortise/core/backoff.h"
#include "mortise/core/schedule.h"
#include "mortise/crypto/cmac.h"
#include "mortise/status.h"

namespace mortise::core {

inline constexpr uint8_t kShortOfflineCodeDigits = 13;
inline constexpr uint8_t kLongOfflineCodeDigits = 16;
inline constexpr uint32_t kOneTimeValidityHours = 6;
inline constexpr uint8_t kOneTimeCodesPerHour = 4;
inline constexpr uint32_t kEraseAcceptHours = 24;
inline constexpr uint32_t kWindowActivationHours = 24;
inline constexpr uint32_t kMaxWindowHours = 8760;
inline constexpr uint32_t kRecurringActivationDays = 16;
inline constexpr uint8_t kMaxRecurringWeeks = 53;
inline constexpr size_t kOfflineTableSize = 16;
// A used one-time code is remembered this long past its validity, beyond the
// time floor's save interval, so winding the clock back cannot revive it.
inline constexpr uint32_t kOneTimeMemoryHours = kOneTimeValidityHours + 2;

// The offline-code failure budget: separate from the wrong-code lockout,
// fixed (no setting weakens it), and never refunded by a successful entry,
// so a guest who holds one valid code gains no guesses at forging another.
// The same leaky back-off as the lockout (backoff.h): each
// kOfflineFailureLimit failed 13/16-digit entries close offline entry for
// kOfflineLockoutBaseS doubling to kOfflineLockoutCapS, and one failure
// leaks away per cap / limit (2 days 8 hours) (docs/offline-pins.md).
inline constexpr uint8_t kOfflineFailureLimit = 3;
inline constexpr uint32_t kOfflineLockoutBaseS = 60;
inline constexpr uint32_t kOfflineLockoutCapS = 7 * 86400;
inline constexpr BackoffPolicy kOfflineBackoff{kOfflineFailureLimit, kOfflineLockoutBaseS, kOfflineLockoutCapS};

enum class OfflineCodeKind : uint8_t {
  kNone = 0,
  kOneTime = 1,
  kWindow = 2,
  kRecurring = 3,
  kEraseAll = 4,
};

// A used or activated code, kept by the lock. Times: hours since 1970 (UTC)
// for one-time and window codes, local days since 1970 for recurring ones.
struct OfflineEntry {
  OfflineCodeKind kind = OfflineCodeKind::kNone;  // kNone: free slot
  std::array<uint8_t, 8> digest{};                // identifies the code
  uint32_t from = 0;
  uint32_t until = 0;  // exclusive
  uint8_t daily_start = 0;
  uint8_t daily_end = 0;
  bool used() const { return kind != OfflineCodeKind::kNone; }
};

// Shared by the owner's side (issuing) and the lock (verifying).
class OfflinePinCodec {
 public:
  OfflinePinCodec() = default;
  explicit OfflinePinCodec(std::span<const uint8_t, 32> secret) { SetSecret(secret); }
  void SetSecret(std::span<const uint8_t, 32> secret);

  // --- Issuing (the owner's device). Each writes the code's ASCII digits to
  // `out` (13 or 16 bytes, no terminator). kInvalidArgument: parameters out
  // of range (named in the header above).
  Status OneTime(uint32_t start_hour, uint8_t seq, std::span<char, kShortOfflineCodeDigits> out) const;
  Status EraseAll(uint32_t issue_hour, std::span<char, kShortOfflineCodeDigits> out) const;
  Status Window(uint32_t start_hour, uint32_t hours, std::span<char, kLongOfflineCodeDigits> out) const;
  Status Recurring(uint32_t first_local_day, uint8_t daily_start_hour, uint8_t daily_end_hour, uint8_t weeks,
                   std::span<char, kLongOfflineCodeDigits> out) const;

  // --- Verifying (the lock).
  enum class Outcome : uint8_t {
    kInvalid,        // not a code of this lock (counts as a wrong code)
    kGrant,          // opens now; `entry` describes it, `store` says whether to persist it first
    kAlreadyUsed,    // a one-time code used before
    kNotNow,         // a real code, outside its validity (or activation) window
    kErase,          // an erase-all code: `erase_through_hour` tells how far back
    kTableFull,      // a real code that cannot be activated: no free slot
  };
  struct Verdict {
    Outcome outcome = Outcome::kInvalid;
    OfflineEntry entry;
    bool store = false;
    int slot = -1;  // table slot to store `entry` in
    uint32_t erase_through_hour = 0;
  };
  // `digits` as typed; `table` the lock's entries; codes starting at or
  // before `erased_through_hour` (UTC) are refused, activated or not (0:
  // nothing erased).
  // Work: at most 24 CMACs for a 13-digit code (6 + 1 for a one-time one), 2
  // for a 16-digit one, plus a scan of the table.
  // `utc_offset_s` is the lock's standard offset and `dst` its
  // daylight-saving rule (none by default): local days and hours, and the
  // start of a recurring code for erase-all, follow summer time.
  Verdict Check(std::span<const uint8_t> digits, int64_t utc_s, int32_t utc_offset_s,
                std::span<const OfflineEntry, kOfflineTableSize> table, uint32_t erased_through_hour,
                const DstRule& dst = {}) const;

 private:
  uint64_t Mac(uint8_t label, uint32_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t e) const;
  std::array<uint8_t, 8> CodeDigest(std::span<const uint8_t> digits) const;

 public:
  // The UTC hour an entry's validity starts at (a recurring code's first
  // local day converted with the offset in force at its local midnight:
  // the standard offset `utc_offset_s`, plus `dst`'s saving in summer), for
  // erase-all.
  static int64_t StartHourUtc(const OfflineEntry& e, int32_t utc_offset_s, const DstRule& dst = {});

 private:

  crypto::AesCmac cmac_;
  bool keyed_ = false;
};

}  // namespace mortise::core
