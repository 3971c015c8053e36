#include "mortise/core/offline_pin.h"

#include <cstring>

#include "mortise/crypto/hash.h"
#include "mortise/crypto/secret.h"

namespace mortise::core {
namespace {

constexpr char kKeyLabel[] = "mortise-offline-pin-v1";
constexpr uint64_t kShortSpace = 10'000'000'000'000ull;      // 10^13
constexpr uint64_t kLongSpace = 10'000'000'000'000'000ull;   // 10^16
constexpr uint64_t kShortMacSpace = kShortSpace / 8;          // 1.25e12: 40.2 bits
constexpr uint64_t kLongParamSpace = uint64_t{1} << 21;
constexpr uint64_t kLongMacSpace = kLongSpace / kLongParamSpace;  // 4,768,371,582: 32.15 bits

// MAC labels: one per kind, and one for the table digest.
constexpr uint8_t kLabelOneTime = 'O';
constexpr uint8_t kLabelErase = 'E';
constexpr uint8_t kLabelWindow = 'W';
constexpr uint8_t kLabelRecurring = 'R';
constexpr uint8_t kLabelDigest = 'D';

template <size_t N>
void WriteDigits(uint64_t value, std::span<char, N> out) {
  for (size_t i = N; i-- > 0;) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

bool ParseDigits(std::span<const uint8_t> digits, uint64_t& value) {
  value = 0;
  for (uint8_t d : digits) {
    if (d < '0' || d > '9') return false;
    value = value * 10 + (d - '0');
  }
  return true;
}

// The most recent value <= now congruent to `residue` modulo `modulus`.
uint32_t LatestWithResidue(uint32_t now, uint32_t residue, uint32_t modulus) {
  return now - ((now - residue) % modulus);
}

}  // namespace

void OfflinePinCodec::SetSecret(std::span<const uint8_t, 32> secret) {
  crypto::HmacSha256 kdf(secret);
  crypto::Digest key;
  kdf.Mac(std::span(reinterpret_cast<const uint8_t*>(kKeyLabel), sizeof(kKeyLabel) - 1), key);
  cmac_.SetKey(std::span<const uint8_t, 16>(key.data(), 16));
  crypto::SecureZero(key.data(), key.size());
  keyed_ = true;
}

uint64_t OfflinePinCodec::Mac(uint8_t label, uint32_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t e) const {
  const uint8_t msg[10] = {label, uint8_t(a), uint8_t(a >> 8), uint8_t(a >> 16), uint8_t(a >> 24),
                           b,     c,          d,          uint8_t(e), uint8_t(e >> 8)};
  crypto::CmacTag tag;
  cmac_.Mac(msg, {}, tag);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | tag[i];
  return v;
}

std::array<uint8_t, 8> OfflinePinCodec::CodeDigest(std::span<const uint8_t> digits) const {
  const uint8_t label = kLabelDigest;
  crypto::CmacTag tag;
  cmac_.Mac(std::span(&label, 1), digits, tag);
  std::array<uint8_t, 8> d;
  std::memcpy(d.data(), tag.data(), 8);
  return d;
}

// --- Issuing ---------------------------------------------------------------------

Status OfflinePinCodec::OneTime(uint32_t start_hour, uint8_t seq, std::span<char, kShortOfflineCodeDigits> out) const {
  if (!keyed_ || seq >= kOneTimeCodesPerHour) return StatusCode::kInvalidArgument;
  const uint64_t mac = Mac(kLabelOneTime, start_hour, seq, 0, 0, 0) % kShortMacSpace;
  WriteDigits(uint64_t(seq << 1 | 0) + 8 * mac, out);
  return Status::Ok();
}

Status OfflinePinCodec::EraseAll(uint32_t issue_hour, std::span<char, kShortOfflineCodeDigits> out) const {
  if (!keyed_) return StatusCode::kInvalidArgument;
  const uint64_t mac = Mac(kLabelErase, issue_hour, 0, 0, 0, 0) % kShortMacSpace;
  WriteDigits(uint64_t{1} + 8 * mac, out);
  return Status::Ok();
}

Status OfflinePinCodec::Window(uint32_t start_hour, uint32_t hours, std::span<char, kLongOfflineCodeDigits> out) const {
  if (!keyed_ || hours < 1 || hours > kMaxWindowHours) return StatusCode::kInvalidArgument;
  const uint64_t x = (uint64_t(start_hour % 32) << 1) | (uint64_t(hours - 1) << 6);
  const uint64_t mac = Mac(kLabelWindow, start_hour, 0, 0, 0, static_cast<uint16_t>(hours)) % kLongMacSpace;
  WriteDigits(x + kLongParamSpace * mac, out);
  return Status::Ok();
}

Status OfflinePinCodec::Recurring(uint32_t first_local_day, uint8_t daily_start_hour, uint8_t daily_end_hour,
                                  uint8_t weeks, std::span<char, kLongOfflineCodeDigits> out) const {
  if (!keyed_ || daily_start_hour > 23 || daily_end_hour > 24 || daily_end_hour <= daily_start_hour || weeks < 1 ||
      weeks > kMaxRecurringWeeks)
    return StatusCode::kInvalidArgument;
  const uint64_t x = 1 | (uint64_t(daily_start_hour) << 1) | (uint64_t(daily_end_hour) << 6) |
                     (uint64_t(weeks - 1) << 11) | (uint64_t(first_local_day % 16) << 17);
  const uint64_t mac =
      Mac(kLabelRecurring, first_local_day, daily_start_hour, daily_end_hour, weeks, 0) % kLongMacSpace;
  WriteDigits(x + kLongParamSpace * mac, out);
  return Status::Ok();
}

int64_t OfflinePinCodec::StartHourUtc(const OfflineEntry& e, int32_t utc_offset_s, const DstRule& dst) {
  if (e.kind != OfflineCodeKind::kRecurring) return e.from;
  // The offset at the day's local midnight (judged at its standard-time
  // instant: a rule moves the clock at 01:00..03:00, never at midnight).
  const int64_t midnight = int64_t(e.from) * 86400;
  return int64_t(e.from) * 24 - UtcOffsetAt(midnight - utc_offset_s, utc_offset_s, dst) / 3600;
}

// --- Verifying -------------------------------------------------------------------

OfflinePinCodec::Verdict OfflinePinCodec::Check(std::span<const uint8_t> digits, int64_t utc_s, int32_t utc_offset_s,
                                                std::span<const OfflineEntry, kOfflineTableSize> table,
                                                uint32_t erased_through_hour, const DstRule& dst) const {
  Verdict v;
  uint64_t value;
  if (!keyed_ || utc_s < 0 || !ParseDigits(digits, value)) return v;
  if (digits.size() != kShortOfflineCodeDigits && digits.size() != kLongOfflineCodeDigits) return v;
  const uint32_t now_h = static_cast<uint32_t>(utc_s / 3600);
  const int64_t local = utc_s + UtcOffsetAt(utc_s, utc_offset_s, dst);
  const uint32_t today = static_cast<uint32_t>(local / 86400);
  const uint8_t local_hour = static_cast<uint8_t>((local % 86400) / 3600);

  auto free_slot = [&]() -> int {
    for (size_t i = 0; i < kOfflineTableSize; ++i) {
      const OfflineEntry& e = table[i];
      const uint32_t now = e.kind == OfflineCodeKind::kRecurring ? today : now_h;
      if (!e.used() || e.until <= now) return static_cast<int>(i);
    }
    return -1;
  };
  auto grant_new = [&](OfflineCodeKind kind, std::array<uint8_t, 8> digest, uint32_t from, uint32_t until,
                       uint8_t ds, uint8_t de) {
    v.entry = OfflineEntry{kind, digest, from, until, ds, de};
    v.slot = free_slot();
    if (v.slot < 0) {
      v.outcome = Outcome::kTableFull;
      return;
    }
    v.outcome = Outcome::kGrant;
    v.store = true;
  };

  if (digits.size() == kShortOfflineCodeDigits) {
    const uint8_t x = static_cast<uint8_t>(value % 8);
    const uint64_t mac = value / 8;
    const uint8_t seq = x >> 1;
    if ((x & 1) == 0) {
      for (uint32_t back = 0; back < kOneTimeValidityHours; ++back) {
        const uint32_t hs = now_h - back;
        if (hs <= erased_through_hour || Mac(kLabelOneTime, hs, seq, 0, 0, 0) % kShortMacSpace != mac) continue;
        const auto digest = CodeDigest(digits);
        for (const auto& e : table)
          if (e.kind == OfflineCodeKind::kOneTime && e.digest == digest) {
            v.outcome = Outcome::kAlreadyUsed;
            return v;
          }
        // Remembered until the code could no longer be valid anyway.
        grant_new(OfflineCodeKind::kOneTime, digest, hs, hs + kOneTimeMemoryHours, 0, 0);
        return v;
      }
      return v;
    }
    if (seq != 0) return v;
    for (uint32_t back = 0; back < kEraseAcceptHours; ++back) {
      const uint32_t h = now_h - back;
      if (h <= erased_through_hour || Mac(kLabelErase, h, 0, 0, 0, 0) % kShortMacSpace != mac) continue;
      v.outcome = Outcome::kErase;
      v.erase_through_hour = h;
      return v;
    }
    return v;
  }

  // 16 digits.
  const uint64_t x = value % kLongParamSpace;
  const uint64_t mac = value / kLongParamSpace;
  if (mac >= kLongMacSpace) return v;
  const auto digest = CodeDigest(digits);
  for (const auto& e : table) {
    if (!e.used() || e.digest != digest) continue;
    // An erase-all voids activated codes too, even if a power cut kept their
    // entry on flash.
    if (StartHourUtc(e, utc_offset_s, dst) <= int64_t(erased_through_hour)) return v;
    // An activated code: its stored parameters decide.
    const bool in_window = e.kind == OfflineCodeKind::kRecurring
                               ? (today >= e.from && today < e.until && local_hour >= e.daily_start &&
                                  local_hour < e.daily_end)
                               : (now_h >= e.from && now_h < e.until);
    v.outcome = in_window ? Outcome::kGrant : Outcome::kNotNow;
    v.entry = e;
    return v;
  }
  if ((x & 1) == 0) {
    const uint32_t residue = static_cast<uint32_t>((x >> 1) & 31);
    const uint32_t hours = static_cast<uint32_t>((x >> 6) & 0x3FFF) + 1;
    if ((x >> 20) != 0 || hours > kMaxWindowHours) return v;
    const uint32_t hs = LatestWithResidue(now_h, residue, 32);
    if (Mac(kLabelWindow, hs, 0, 0, 0, static_cast<uint16_t>(hours)) % kLongMacSpace != mac) return v;
    if (hs <= erased_through_hour) return v;
    if (now_h - hs >= kWindowActivationHours || now_h >= hs + hours) {
      v.outcome = Outcome::kNotNow;
      return v;
    }
    grant_new(OfflineCodeKind::kWindow, digest, hs, hs + hours, 0, 0);
    return v;
  }
  const uint8_t ds = static_cast<uint8_t>((x >> 1) & 31);
  const uint8_t de = static_cast<uint8_t>((x >> 6) & 31);
  const uint8_t weeks = static_cast<uint8_t>(((x >> 11) & 63) + 1);
  const uint32_t residue = static_cast<uint32_t>((x >> 17) & 15);
  if (ds > 23 || de > 24 || de <= ds || weeks > kMaxRecurringWeeks) return v;
  const uint32_t d0 = LatestWithResidue(today, residue, kRecurringActivationDays);
  if (Mac(kLabelRecurring, d0, ds, de, weeks, 0) % kLongMacSpace != mac) return v;
  OfflineEntry start;
  start.kind = OfflineCodeKind::kRecurring;
  start.from = d0;
  if (StartHourUtc(start, utc_offset_s, dst) <= int64_t(erased_through_hour)) return v;
  if (today >= d0 + 7u * weeks || local_hour < ds || local_hour >= de) {
    v.outcome = Outcome::kNotNow;
    return v;
  }
  grant_new(OfflineCodeKind::kRecurring, digest, d0, d0 + 7u * weeks, ds, de);
  return v;
}

}  // namespace mortise::core
