// settings show|set and lock rename: what a new owner looks for first,
// over the lock's Door Lock attributes (the lock checks every value and its
// ranges; the CLI only names the settings in words).
#include <cstdio>
#include <iterator>
#include <string>

#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "lock_session.h"
#include "mortise/core/attributes.h"
#include "time_zone.h"

namespace mortise::cli {
namespace {

using A = core::AttributeId;

enum class Unit : uint8_t { kSeconds, kMinutes, kCount, kOnOff, kOffset, kPercent, kChoice };

struct Setting {
  const char* name;
  A attribute;
  Unit unit;
  const char* what;
  // kChoice: the words for values 0, 1, ... (the Matter enum's, in words).
  const char* const* choices = nullptr;
  size_t choice_count = 0;
};

// Matter LEDSettingEnum and SoundVolumeEnum, by value.
constexpr const char* kLedChoices[] = {"off", "denials-only", "all"};
constexpr const char* kSoundChoices[] = {"silent", "low", "high", "medium"};

// One row per setting; `settings show` prints them in this order.
constexpr Setting kSettings[] = {
    {"auto-relock", A::kAutoRelockTime, Unit::kSeconds, "relock this many seconds after an unlock (0: never)"},
    {"wrong-code-limit", A::kWrongCodeEntryLimit, Unit::kCount, "wrong codes before the keypad locks out"},
    {"lockout-time", A::kUserCodeTemporaryDisableTime, Unit::kSeconds, "first keypad lockout, seconds"},
    {"max-lockout-time", A::kMaxLockoutTime, Unit::kSeconds, "the lockout doubles up to this, seconds"},
    {"one-touch-locking", A::kEnableOneTouchLocking, Unit::kOnOff, "the outside button locks the door"},
    {"privacy-button", A::kEnablePrivacyModeButton, Unit::kOnOff, "the inside privacy button works"},
    {"require-pin-remote", A::kRequirePINforRemoteOperation, Unit::kOnOff, "remote operations need a PIN"},
    {"unlatch-on-unlock", A::kUnlatchOnUnlock, Unit::kOnOff, "unlocking also pulls the latch"},
    {"door-ajar-time", A::kDoorAjarTime, Unit::kSeconds, "seconds open before the door-ajar alarm"},
    {"battery-low", A::kBatteryLowThreshold, Unit::kPercent, "low-battery warning at or below"},
    {"utc-offset", A::kUtcOffset, Unit::kOffset, "local time = UTC + this (schedules, offline codes)"},
    {"led", A::kLEDSettings, Unit::kChoice, "LED signals: off, denials-only (none when access is allowed), all",
     kLedChoices, std::size(kLedChoices)},
    {"sound", A::kSoundVolume, Unit::kChoice, "buzzer: silent, low, medium, high (alarms always sound)", kSoundChoices,
     std::size(kSoundChoices)},
};

// The setting's key in --json: snake_case, durations and shares with their
// unit ("auto_relock_s", "battery_low_percent").
std::string JsonKey(const Setting& s) {
  std::string key = s.name;
  for (char& c : key) c = c == '-' ? '_' : c;
  switch (s.unit) {
    case Unit::kSeconds:
    case Unit::kOffset: return key + "_s";
    case Unit::kMinutes: return key + "_min";
    case Unit::kPercent: return key + "_percent";
    default: return key;
  }
}

std::string SettingNames() {
  std::string all;
  for (const Setting& s : kSettings) all += (all.empty() ? "" : ", ") + std::string(s.name);
  all += ", timezone";
  return all;
}

const Setting& FindSetting(const std::string& name) {
  for (const Setting& s : kSettings) {
    if (name == s.name) return s;
  }
  throw Error(ExitCode::kBadInput, "'" + name + "' is not a setting", "The settings are: " + SettingNames() + ".");
}

std::string ValueText(const Setting& s, int64_t v) {
  switch (s.unit) {
    case Unit::kSeconds: return v == 0 && s.attribute == A::kAutoRelockTime ? "off" : std::to_string(v) + " s";
    case Unit::kMinutes: return std::to_string(v) + " min";
    case Unit::kCount: return std::to_string(v);
    case Unit::kOnOff: return v != 0 ? "on" : "off";
    case Unit::kPercent: return std::to_string(v) + "%";
    case Unit::kChoice: return v >= 0 && static_cast<size_t>(v) < s.choice_count ? s.choices[v] : std::to_string(v);
    case Unit::kOffset: {
      char buf[48];
      const int64_t a = v < 0 ? -v : v;
      std::snprintf(buf, sizeof(buf), "%c%02lld:%02lld", v < 0 ? '-' : '+', static_cast<long long>(a / 3600),
                    static_cast<long long>(a % 3600 / 60));
      return std::string("UTC") + buf;
    }
  }
  return std::to_string(v);
}

// "30", "on"/"off", "+01:00"/"-05:30" (or seconds) for utc-offset.
int64_t ParseValue(const Setting& s, const std::string& text) {
  auto bad = [&](const std::string& want) {
    return Error(ExitCode::kBadInput, "'" + text + "' is not a value for " + s.name, "Write " + want + ".");
  };
  if (s.unit == Unit::kChoice) {
    std::string all;
    for (size_t i = 0; i < s.choice_count; ++i) {
      if (text == s.choices[i]) return static_cast<int64_t>(i);
      all += std::string(i == 0 ? "" : i + 1 == s.choice_count ? " or " : ", ") + s.choices[i];
    }
    throw bad(all);
  }
  if (s.unit == Unit::kOnOff) {
    if (text == "on" || text == "true" || text == "1") return 1;
    if (text == "off" || text == "false" || text == "0") return 0;
    throw bad("on or off");
  }
  if (s.unit == Unit::kOffset && (text.starts_with('+') || text.starts_with('-')) && text.find(':') != std::string::npos) {
    int h = -1, m = -1;
    char tail = 0;
    if (std::sscanf(text.c_str() + 1, "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 14 || m < 0 || m > 59) {
      throw bad("+HH:MM or -HH:MM, e.g. +01:00");
    }
    return (text[0] == '-' ? -1 : 1) * static_cast<int64_t>(h * 3600 + m * 60);
  }
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || (v < 0 && s.unit != Unit::kOffset)) {
    throw bad(s.unit == Unit::kOffset ? "+HH:MM, -HH:MM or seconds" : "a whole number");
  }
  return v;
}

}  // namespace

namespace {

// Writes one time-zone attribute (only the owner may: SetUtcOffset).
void WriteZone(LockSession& s, A attribute, int64_t value) {
  protocol::CommandRequest write;
  write.command = protocol::Command::kSetUtcOffset;
  write.attribute = static_cast<uint16_t>(attribute);
  write.value = value;
  const protocol::CommandResponse r = s.client().Call(write);
  if (r.status != StatusCode::kOk) ThrowRefusal("the lock refused the time zone", r.status);
}

std::string ZoneText(const LockTimeZone& z) {
  const Setting& offset = FindSetting("utc-offset");
  std::string t = ValueText(offset, z.utc_offset_s);
  if (z.dst.save_s == 0) return t + ", no daylight saving";
  return t + ", +" + std::to_string(z.dst.save_s / 60) + " min from " + TransitionWords(z.dst.start) + " to " +
         TransitionWords(z.dst.end);
}

nlohmann::json ZoneJson(const LockTimeZone& z) {
  auto transition = [](const core::DstTransition& t) {
    return t.month == 0 ? nlohmann::json(nullptr)
                        : nlohmann::json{{"month", t.month}, {"week", t.week}, {"weekday", t.weekday}, {"minute", t.minute}};
  };
  return {{"utc_offset_s", z.utc_offset_s},
          {"dst_offset_s", z.dst.save_s},
          {"dst_start", transition(z.dst.start)},
          {"dst_end", transition(z.dst.end)}};
}

// `settings set timezone ...`: the standard offset and the rule, written so
// that no moment holds a half-written rule (saving off first, on last).
int SetTimeZone(Context& ctx, const std::string& spec) {
  const LockTimeZone z = ResolveTimeZone(spec);
  LockSession s(ctx);
  WriteZone(s, A::kDstOffset, 0);
  WriteZone(s, A::kUtcOffset, z.utc_offset_s);
  WriteZone(s, A::kDstStart, core::PackDstTransition(z.dst.start));
  WriteZone(s, A::kDstEnd, core::PackDstTransition(z.dst.end));
  WriteZone(s, A::kDstOffset, z.dst.save_s);
  s.Update([&z](LockEntry& l) { StoreTimeZone(l.extra, z); });
  ctx.out().Text("timezone: " + ZoneText(z) + " (the lock applies it by itself, every year)\n");
  ctx.out().Json({{"setting", "timezone"}, {"value", ZoneJson(z)}});
  return 0;
}

}  // namespace

int CmdSettings(Context& ctx, const SettingsOptions& o) {
  if (o.action == "set" && o.name == "timezone") return SetTimeZone(ctx, o.value);
  // The value is checked before the lock is contacted.
  const Setting* chosen = o.action == "set" ? &FindSetting(o.name) : nullptr;
  const int64_t value = chosen != nullptr ? ParseValue(*chosen, o.value) : 0;
  LockSession s(ctx);
  if (chosen == nullptr) {
    std::string text = "settings of lock '" + s.lock().name + "'\n";
    nlohmann::json doc = nlohmann::json::object();
    for (const Setting& row : kSettings) {
      const int64_t v = s.ReadAttribute(row.attribute);
      char line[160];
      std::snprintf(line, sizeof(line), "  %-20s %-10s %s\n", row.name, ValueText(row, v).c_str(), row.what);
      text += line;
      doc[JsonKey(row)] = row.unit == Unit::kOnOff    ? nlohmann::json(v != 0)
                          : row.unit == Unit::kChoice ? nlohmann::json(ValueText(row, v))
                                                      : nlohmann::json(v);
    }
    LockTimeZone zone;
    zone.utc_offset_s = static_cast<int32_t>(s.ReadAttribute(A::kUtcOffset));
    zone.dst.save_s = static_cast<int32_t>(s.ReadAttribute(A::kDstOffset));
    if (!core::UnpackDstTransition(s.ReadAttribute(A::kDstStart), zone.dst.start) ||
        !core::UnpackDstTransition(s.ReadAttribute(A::kDstEnd), zone.dst.end)) {
      throw Error(ExitCode::kVerification, "the lock reports a daylight-saving rule it could not hold");
    }
    char line[256];
    std::snprintf(line, sizeof(line), "  %-20s %s\n", "timezone", ZoneText(zone).c_str());
    text += line;
    doc["timezone"] = ZoneJson(zone);
    // Kept for offline work (key share --until DATE: the lock's day).
    nlohmann::json probe = s.lock().extra;
    StoreTimeZone(probe, zone);
    if (probe != s.lock().extra) s.Update([&zone](LockEntry& l) { StoreTimeZone(l.extra, zone); });
    text += "Change one with: mortise settings set NAME VALUE (timezone: Europe/Berlin, a POSIX rule, or none)\n";
    ctx.out().Text(text);
    ctx.out().Json({{"settings", doc}});
    return 0;
  }
  protocol::CommandRequest write;
  // The time zone has its own command (only the owner moves it: it shifts
  // every schedule and recurring offline code); the lock refuses it as a
  // plain attribute write.
  write.command = chosen->attribute == A::kUtcOffset ? protocol::Command::kSetUtcOffset
                                                     : protocol::Command::kWriteAttribute;
  write.attribute = static_cast<uint16_t>(chosen->attribute);
  write.value = value;
  const protocol::CommandResponse r = s.client().Call(write);
  if (r.status == StatusCode::kInvalidArgument || r.status == StatusCode::kOutOfRange) {
    // The lock holds the bounds (and orderings, e.g. the first lockout not
    // above the longest); it refuses a value outside them.
    throw Error(ExitCode::kBadInput,
                "the lock does not accept " + o.value + " for " + chosen->name + ": it is out of the range the lock allows",
                "See the current values with mortise settings show, and pick a value near them.");
  }
  if (r.status != StatusCode::kOk) ThrowRefusal(std::string("the lock refused to set ") + chosen->name, r.status);
  if (chosen->attribute == A::kUtcOffset) s.Update([value](LockEntry& l) { l.extra["utc_offset_s"] = value; });
  ctx.out().Text(std::string(chosen->name) + ": " + ValueText(*chosen, value) + "\n");
  ctx.out().Json({{"setting", chosen->name},
                  {"value", chosen->unit == Unit::kOnOff    ? nlohmann::json(value != 0)
                            : chosen->unit == Unit::kChoice ? nlohmann::json(ValueText(*chosen, value))
                                                            : nlohmann::json(value)}});
  return 0;
}

int CmdLockRename(Context& ctx, const LockRenameOptions& o) {
  if (!IsValidName(o.new_name)) {
    throw Error(ExitCode::kBadInput, "'" + o.new_name + "' is not a valid lock name",
                "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
  }
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry* lock = keyring.content().FindLock(o.name);
  if (lock == nullptr)
    throw Error(ExitCode::kUsage, "no lock named \"" + o.name + "\" in the keyring", "See `mortise lock list`.");
  if (o.new_name != o.name && keyring.content().FindLock(o.new_name) != nullptr) {
    throw Error(ExitCode::kUsage, "a lock named \"" + o.new_name + "\" already exists", "Pick another name.");
  }
  lock->name = o.new_name;
  keyring.Save();
  ctx.out().Text("lock \"" + o.name + "\" is now \"" + o.new_name + "\"\n");
  ctx.out().Json({{"lock", o.new_name}, {"previous", o.name}});
  return 0;
}

}  // namespace mortise::cli
