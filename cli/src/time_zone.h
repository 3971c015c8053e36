// Time zones for the lock: a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"),
// or a zone name of the host's tz database (Europe/Berlin, whose TZif file
// ends with that rule), turned into what the lock stores and applies by
// itself, offline: UtcOffset, and DstOffset/DstStart/DstEnd (core/schedule.h).
#pragma once

#include <cstdint>
#include <string>

#include "mortise/core/schedule.h"
#include "nlohmann/json.hpp"

namespace mortise::cli {

struct LockTimeZone {
  int32_t utc_offset_s = 0;  // standard time, east of UTC positive
  core::DstRule dst;         // dst.save_s 0: no daylight saving
};

// Parses a POSIX TZ string with only the forms a lock can apply every year:
// std offset [dst [offset] ,Mm.w.d[/time],Mm.w.d[/time]] (POSIX offsets
// count west of UTC; times 00:00..23:59, default 02:00). Throws
// Error(kBadInput) saying what is wrong (Jn/n day forms, out-of-range
// fields, a DST name without rules).
LockTimeZone ParsePosixTimeZone(const std::string& tz);

// `spec`: "none"/"UTC" (no offset, no DST), a POSIX rule, or a zone name
// read from `zoneinfo_dir` (default /usr/share/zoneinfo; the name may not
// leave it). Throws Error(kBadInput) for an unknown zone or a file without a
// rule.
LockTimeZone ResolveTimeZone(const std::string& spec, const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

// "M3.5.0/02:00" (the POSIX form of a transition) and, in words, "the last
// Sunday of March at 02:00".
std::string PosixTransition(const core::DstTransition& t);
std::string TransitionWords(const core::DstTransition& t);

// The lock's zone as this keyring last saw it (`settings set timezone`,
// `status`, `settings show`), kept in a lock entry's extra members
// "utc_offset_s" and "dst" ({"save_s", "start", "end"}, the attribute forms)
// so offline work (`key share --until DATE`) uses the lock's own day,
// summer time included. Missing or damaged members read as no offset / no
// daylight saving.
LockTimeZone StoredTimeZone(const nlohmann::json& extra);
void StoreTimeZone(nlohmann::json& extra, const LockTimeZone& z);

// The UTC instant of the local wall time `local_s` (seconds since the epoch
// as if local time were UTC) in zone `z`, daylight saving included. A wall
// time in the hour skipped in spring is taken an hour later; one repeated
// in autumn, in standard time (its second occurrence).
int64_t LocalToUtc(int64_t local_s, const LockTimeZone& z);

}  // namespace mortise::cli
