#include "time_zone.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "error.h"

namespace mortise::cli {
namespace {

Error Bad(const std::string& tz, const std::string& why) {
  return Error(ExitCode::kBadInput, "'" + tz + "' is not a time zone the lock can apply: " + why,
               "Write a zone name (Europe/Berlin), a POSIX rule such as CET-1CEST,M3.5.0,M10.5.0/3, or none.");
}

struct Cursor {
  const std::string& s;
  size_t at = 0;
  bool done() const { return at >= s.size(); }
  char peek() const { return done() ? '\0' : s[at]; }
};

// A zone abbreviation: letters, or <...> (e.g. <+03>).
bool Name(Cursor& c) {
  if (c.peek() == '<') {
    const size_t end = c.s.find('>', c.at);
    if (end == std::string::npos) return false;
    c.at = end + 1;
    return true;
  }
  const size_t start = c.at;
  while (std::isalpha(static_cast<unsigned char>(c.peek()))) ++c.at;
  return c.at - start >= 3;
}

// [+-]hh[:mm[:ss]] -> seconds; `max_h` bounds the hours.
bool Clock(Cursor& c, int max_h, int32_t& out) {
  int sign = 1;
  if (c.peek() == '+' || c.peek() == '-') sign = c.s[c.at++] == '-' ? -1 : 1;
  int parts[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (c.peek() != ':') break;
      ++c.at;
    }
    const size_t start = c.at;
    while (std::isdigit(static_cast<unsigned char>(c.peek())) && c.at - start < 2) parts[i] = parts[i] * 10 + (c.s[c.at++] - '0');
    if (c.at == start) return false;
  }
  if (parts[0] > max_h || parts[1] > 59 || parts[2] > 59) return false;
  out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

bool Transition(Cursor& c, core::DstTransition& t) {
  if (c.peek() != 'M') return false;
  ++c.at;
  int v[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (c.peek() != '.') return false;
      ++c.at;
    }
    const size_t start = c.at;
    while (std::isdigit(static_cast<unsigned char>(c.peek())) && c.at - start < 2) v[i] = v[i] * 10 + (c.s[c.at++] - '0');
    if (c.at == start) return false;
  }
  int32_t time = 2 * 3600;
  if (c.peek() == '/') {
    ++c.at;
    if (!Clock(c, 23, time) || time < 0 || time % 60 != 0) return false;
  }
  t = core::DstTransition{static_cast<uint8_t>(v[0]), static_cast<uint8_t>(v[1]), static_cast<uint8_t>(v[2]),
                          static_cast<uint16_t>(time / 60)};
  core::DstTransition check;
  return core::UnpackDstTransition(core::PackDstTransition(t), check);
}

}  // namespace

LockTimeZone ParsePosixTimeZone(const std::string& tz) {
  Cursor c{tz};
  LockTimeZone z;
  int32_t posix_std = 0;
  if (!Name(c)) throw Bad(tz, "it does not start with a zone abbreviation (3 letters or more, or <...>)");
  if (!Clock(c, 24, posix_std)) throw Bad(tz, "the standard offset is missing or not [+-]hh[:mm]");
  z.utc_offset_s = -posix_std;  // POSIX counts west of UTC
  if (c.done()) return z;
  if (!Name(c)) throw Bad(tz, "unexpected text after the standard offset");
  int32_t posix_dst = posix_std - 3600;
  if (c.peek() != ',' && !c.done() && !Clock(c, 24, posix_dst)) throw Bad(tz, "the daylight offset is not [+-]hh[:mm]");
  if (c.peek() != ',') throw Bad(tz, "daylight saving needs its rules (,Mm.w.d[/time],Mm.w.d[/time])");
  ++c.at;
  if (!Transition(c, z.dst.start))
    throw Bad(tz, "the start is not Mm.w.d[/hh:mm] (month 1-12, week 1-5 with 5 the last, day 0-6 from Sunday; "
                  "the Jn and n day forms are not supported)");
  if (c.peek() != ',') throw Bad(tz, "the end rule is missing");
  ++c.at;
  if (!Transition(c, z.dst.end)) throw Bad(tz, "the end is not Mm.w.d[/hh:mm]");
  if (!c.done()) throw Bad(tz, "unexpected text after the end rule");
  z.dst.save_s = posix_std - posix_dst;
  if (z.dst.save_s <= 0 || z.dst.save_s > 2 * 3600) throw Bad(tz, "daylight saving must add 1 s to 2 h");
  if (z.utc_offset_s < -14 * 3600 || z.utc_offset_s > 14 * 3600) throw Bad(tz, "the offset is beyond 14 h");
  return z;
}

LockTimeZone ResolveTimeZone(const std::string& spec, const std::string& zoneinfo_dir) {
  if (spec == "none" || spec == "UTC" || spec == "utc") return LockTimeZone{};
  const bool name_like = spec.find_first_of("0123456789") == std::string::npos || spec.find('/') != std::string::npos;
  if (!name_like || spec.find(',') != std::string::npos) return ParsePosixTimeZone(spec);
  if (spec.empty() || spec[0] == '/' || spec.find("..") != std::string::npos) throw Bad(spec, "not a zone name");
  std::ifstream in(zoneinfo_dir + "/" + spec, std::ios::binary);
  if (!in) {
    throw Error(ExitCode::kBadInput, "no time zone named '" + spec + "' in " + zoneinfo_dir,
                "Use a name from the tz database (Europe/Berlin, America/New_York), or a POSIX rule such as "
                "CET-1CEST,M3.5.0,M10.5.0/3.");
  }
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A TZif file (version 2 and up) ends with "\n<POSIX TZ>\n": the rule for
  // every time after its table, which is what a lock applies by itself.
  if (data.rfind("TZif", 0) != 0 || data.size() < 2 || data.back() != '\n') throw Bad(spec, "not a TZif file");
  const size_t start = data.rfind('\n', data.size() - 2);
  if (start == std::string::npos) throw Bad(spec, "the file carries no rule");
  const std::string rule = data.substr(start + 1, data.size() - start - 2);
  if (rule.empty()) throw Bad(spec, "the zone has no rule for the years ahead");
  return ParsePosixTimeZone(rule);
}

std::string PosixTransition(const core::DstTransition& t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "M%u.%u.%u/%02u:%02u", t.month, t.week, t.weekday, t.minute / 60u, t.minute % 60u);
  return buf;
}

std::string TransitionWords(const core::DstTransition& t) {
  static constexpr const char* kWeek[] = {"", "first", "second", "third", "fourth", "last"};
  static constexpr const char* kDay[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
  static constexpr const char* kMonth[] = {"",     "January", "February",  "March",   "April",    "May",     "June",
                                           "July", "August",  "September", "October", "November", "December"};
  if (t.month < 1 || t.month > 12 || t.week < 1 || t.week > 5 || t.weekday > 6) return "never";
  char buf[96];
  std::snprintf(buf, sizeof(buf), "the %s %s of %s at %02u:%02u", kWeek[t.week], kDay[t.weekday], kMonth[t.month],
                t.minute / 60u, t.minute % 60u);
  return buf;
}

LockTimeZone StoredTimeZone(const nlohmann::json& extra) {
  LockTimeZone z;
  const auto offset = extra.find("utc_offset_s");
  if (offset != extra.end() && offset->is_number_integer()) z.utc_offset_s = offset->get<int32_t>();
  const auto dst = extra.find("dst");
  if (dst == extra.end() || !dst->is_object()) return z;
  const int64_t save = dst->value("save_s", int64_t{0});
  core::DstRule rule;
  if (save > 0 && save <= 2 * 3600 && core::UnpackDstTransition(dst->value("start", int64_t{0}), rule.start) &&
      core::UnpackDstTransition(dst->value("end", int64_t{0}), rule.end) && rule.start.month != 0 &&
      rule.end.month != 0) {
    rule.save_s = static_cast<int32_t>(save);
    z.dst = rule;
  }
  return z;
}

void StoreTimeZone(nlohmann::json& extra, const LockTimeZone& z) {
  extra["utc_offset_s"] = z.utc_offset_s;
  if (z.dst.save_s == 0) {
    extra.erase("dst");
  } else {
    extra["dst"] = {{"save_s", z.dst.save_s},
                    {"start", core::PackDstTransition(z.dst.start)},
                    {"end", core::PackDstTransition(z.dst.end)}};
  }
}

int64_t LocalToUtc(int64_t local_s, const LockTimeZone& z) {
  // The offset in force at the answer: two rounds settle it (the offset
  // can change only once within the 2 h a daylight-saving rule moves).
  int64_t utc = local_s - z.utc_offset_s;
  for (int round = 0; round < 2; ++round) utc = local_s - core::UtcOffsetAt(utc, z.utc_offset_s, z.dst);
  return utc;
}

}  // namespace mortise::cli
