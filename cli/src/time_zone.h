// Time zones for the lock: a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"),
// or a zone name of the host's tz database (Europe/Berlin, whose TZif file
// ends with that rule), turned into what the lock stores and applies by
// itself, offline: UtcOffset, and DstOffset/DstStart/DstEnd (core/schedule.h).
#pragma once

#include <cstdint>
#include <string>

#include "mortise/core/schedule.h"

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

}  // namespace mortise::cli
