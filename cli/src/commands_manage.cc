// user, pin, card, finger, schedule, dl: the Door Lock cluster's management
// commands, sent as dljson lines inside the session (Command::kManagement);
// the lock authorizes each as the Matter command it is.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <string>
#include <termios.h>

#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "lock_session.h"
#include "mortise/core/offline_pin.h"

namespace mortise::cli {
namespace {

using nlohmann::json;

// The first index in [1, max] whose GetUser / GetCredentialStatus says free.
uint16_t FreeUser(LockSession& s) {
  for (uint16_t i = 1; i < 0xFFFE; ++i) {
    const json r = s.Invoke("GetUser", {{"userIndex", i}}, false);
    if (r.value("status", "") != "Success") break;
    if (r.contains("userStatus") && r["userStatus"].is_null()) return i;
    if (!r.contains("userStatus")) return i;
  }
  throw Error(ExitCode::kRefused, "the lock has no free user slot");
}

uint16_t FreeCredential(LockSession& s, const char* type) {
  for (uint16_t i = 1; i < 0xFFFE; ++i) {
    const json r = s.Invoke("GetCredentialStatus", {{"credential", {{"credentialType", type}, {"credentialIndex", i}}}},
                        false);
    if (r.value("status", "") != "Success") break;
    if (!r.value("credentialExists", true)) return i;
  }
  throw Error(ExitCode::kRefused, std::string("the lock has no free ") + type + " slot");
}

// References are checked before anything is changed: a missing user or an
// empty slot is bad input (exit 2) named in words, never a raw lock status,
// and never a "removed" for a no-op.

// The user at `index` (the GetUser answer); throws when there is none.
json RequireUser(LockSession& s, uint16_t index) {
  const json r = s.Invoke("GetUser", {{"userIndex", index}}, false);
  if (r.value("status", "") != "Success") {
    throw Error(ExitCode::kBadInput, "there is no user #" + std::to_string(index) + " (the index is past the lock's last user slot)",
                "See the users with mortise user list.");
  }
  if (!r.contains("userStatus") || r["userStatus"].is_null()) {
    throw Error(ExitCode::kBadInput, "there is no user #" + std::to_string(index),
                "See the users with mortise user list; add one with mortise user add NAME.");
  }
  return r;
}

// The GetCredentialStatus answer of a stored credential; throws when the
// slot is empty or does not exist.
json RequireCredential(LockSession& s, const char* type, uint16_t slot) {
  const json r = s.Invoke("GetCredentialStatus", {{"credential", {{"credentialType", type}, {"credentialIndex", slot}}}}, false);
  std::string list = std::string(type) == "PIN" ? "pin" : std::string(type) == "RFID" ? "card" : "finger";
  if (r.value("status", "") != "Success") {
    throw Error(ExitCode::kBadInput, std::string("there is no ") + type + " slot #" + std::to_string(slot) +
                                         " (past the lock's last one)",
                "See the stored ones with mortise " + list + " list.");
  }
  if (!r.value("credentialExists", false)) {
    throw Error(ExitCode::kBadInput, std::string(type) + " slot #" + std::to_string(slot) + " is empty; nothing to remove",
                "See the stored ones with mortise " + list + " list.");
  }
  return r;
}

// Matter's names for people: "ScheduleRestrictedUser" -> "schedule-restricted",
// "OccupiedEnabled" -> "enabled".
std::string Words(const json& value, const char* drop_suffix = "") {
  if (!value.is_string()) return "-";
  std::string v = value.get<std::string>();
  if (v.starts_with("Occupied")) v = v.substr(8);
  const std::string suffix = drop_suffix;
  if (!suffix.empty() && v.size() > suffix.size() && v.ends_with(suffix)) v.resize(v.size() - suffix.size());
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0) out += '-';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string UserLine(const json& r) {
  return "#" + std::to_string(r.value("userIndex", 0)) + " " +
         (r["userName"].is_string() ? r["userName"].get<std::string>() : std::string("(no name)")) + "  " +
         Words(r["userType"], "User") + "  " + Words(r["userStatus"]);
}

// A PIN from stdin (one line) or a silent prompt; digits only.
std::string ReadPin(bool from_stdin) {
  std::string pin;
  if (from_stdin || !isatty(STDIN_FILENO)) {
    if (!std::getline(std::cin, pin)) {
      throw Error(ExitCode::kBadInput, "no PIN on standard input", "Give it as one line: echo 246810 | mortise pin add --user N --stdin.");
    }
  } else {
    std::fprintf(stderr, "PIN (digits, not shown): ");
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, pin);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  if (!pin.empty() && pin.back() == '\r') pin.pop_back();
  if (pin.size() < 4 || pin.size() > 8 || pin.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ExitCode::kBadInput, "a PIN is 4 to 8 digits", "Type only digits, e.g. 246810.");
  }
  return pin;
}

void ListCredentials(Context& ctx, LockSession& s, const char* type) {
  json list = json::array();
  std::string text;
  for (uint16_t i = 1; i < 0xFFFE;) {
    const json r = s.Invoke("GetCredentialStatus", {{"credential", {{"credentialType", type}, {"credentialIndex", i}}}},
                        false);
    if (r.value("status", "") != "Success") break;
    if (r.value("credentialExists", false)) {
      list.push_back({{"index", i}, {"user", r.value("userIndex", json(nullptr))}});
      text += std::string("  ") + type + " #" + std::to_string(i) + " -> user " +
              (r["userIndex"].is_null() ? std::string("-") : std::to_string(r["userIndex"].get<int>())) + "\n";
    }
    if (!r.contains("nextCredentialIndex") || r["nextCredentialIndex"].is_null()) break;
    i = r["nextCredentialIndex"].get<uint16_t>();
  }
  ctx.out().Text(text.empty() ? std::string("no ") + type + " credentials\n" : text);
  ctx.out().Json({{"credentials", list}});
}

int CredentialCommand(Context& ctx, const CredentialOptions& o, const char* type, const std::string& data,
                      bool hex) {
  LockSession s(ctx);
  if (o.action == "list") {
    ListCredentials(ctx, s, type);
    return 0;
  }
  if (o.action == "remove") {
    if (o.slot == 0) throw Error(ExitCode::kUsage, "which one? Pass --slot N (see the list)");
    RequireCredential(s, type, o.slot);
    s.Invoke("ClearCredential", {{"credential", {{"credentialType", type}, {"credentialIndex", o.slot}}}});
    ctx.out().Text(std::string(type) + " #" + std::to_string(o.slot) + " removed\n");
    ctx.out().Json({{"removed", o.slot}});
    return 0;
  }
  // add / enroll
  if (o.user == 0) throw Error(ExitCode::kUsage, "whose? Pass --user N (see mortise user list)");
  RequireUser(s, o.user);
  const uint16_t slot = o.slot != 0 ? o.slot : FreeCredential(s, type);
  json args = {{"operationType", "Add"},
               {"credential", {{"credentialType", type}, {"credentialIndex", slot}}},
               {"userIndex", o.user}};
  args["credentialData"] = hex ? json{{"hex", data}} : json(data);
  const json r = s.Invoke("SetCredential", args);
  ctx.out().Text(std::string(type) + " #" + std::to_string(slot) + " added for user " + std::to_string(o.user) + "\n");
  ctx.out().Json({{"slot", slot}, {"user", o.user}});
  return 0;
}

}  // namespace

int CmdUser(Context& ctx, const UserOptions& o) {
  LockSession s(ctx);
  if (o.action == "list") {
    json users = json::array();
    std::string text;
    for (uint16_t i = 1; i < 0xFFFE;) {
      const json r = s.Invoke("GetUser", {{"userIndex", i}}, false);
      if (r.value("status", "") != "Success") break;
      if (r.contains("userStatus") && !r["userStatus"].is_null()) {
        users.push_back(CliJsonFromLock(r));
        text += "  " + UserLine(r) + "\n";
      }
      if (!r.contains("nextUserIndex") || r["nextUserIndex"].is_null()) break;
      i = r["nextUserIndex"].get<uint16_t>();
    }
    ctx.out().Text(text.empty() ? "no users\n" : text);
    ctx.out().Json({{"users", users}});
    return 0;
  }
  if (o.action == "show") {
    if (o.index == 0) throw Error(ExitCode::kUsage, "which user? Pass --index N");
    const json r = RequireUser(s, o.index);
    std::string text = "user " + UserLine(r) + "\n  credential rule: " + Words(r["credentialRule"]) + "\n  credentials:";
    bool any = false;
    if (r.contains("credentials") && r["credentials"].is_array()) {
      for (const json& c : r["credentials"]) {
        text += std::string(any ? "," : "") + " " + c.value("credentialType", std::string("?")) + " #" +
                std::to_string(c.value("credentialIndex", 0));
        any = true;
      }
    }
    ctx.out().Text(text + (any ? "\n" : " none\n"));
    ctx.out().Json({{"user", CliJsonFromLock(r)}});
    return 0;
  }
  if (o.action == "remove") {
    if (o.index == 0) throw Error(ExitCode::kUsage, "which user? Pass --index N");
    RequireUser(s, o.index);
    s.Invoke("ClearUser", {{"userIndex", o.index}});
    ctx.out().Text("user #" + std::to_string(o.index) + " removed, with their credentials\n");
    ctx.out().Json({{"removed", o.index}});
    return 0;
  }
  if (o.action == "enable" || o.action == "disable") {
    if (o.index == 0) throw Error(ExitCode::kUsage, "which user? Pass --index N");
    RequireUser(s, o.index);
    s.Invoke("SetUser", {{"operationType", "Modify"},
                            {"userIndex", o.index},
                            {"userStatus", o.action == "enable" ? "OccupiedEnabled" : "OccupiedDisabled"}});
    ctx.out().Text("user #" + std::to_string(o.index) + " " + o.action + "d\n");
    ctx.out().Json({{"user", o.index}, {"enabled", o.action == "enable"}});
    return 0;
  }
  // add / update
  const bool add = o.action == "add";
  const uint16_t index = o.index != 0 ? o.index : (add ? FreeUser(s) : 0);
  if (index == 0) throw Error(ExitCode::kUsage, "which user? Pass --index N");
  if (!add) RequireUser(s, index);
  json args = {{"operationType", add ? "Add" : "Modify"}, {"userIndex", index}};
  if (!o.name.empty()) args["userName"] = o.name;
  auto pascal = [](std::string v, const char* suffix) {
    // "week-day-schedule" / "weekday" -> the dljson names are Matter's; accept both forms.
    std::string out;
    bool up = true;
    for (char c : v) {
      if (c == '-' || c == '_') {
        up = true;
        continue;
      }
      out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      up = false;
    }
    if (out.find(suffix) == std::string::npos) out += suffix;
    return out;
  };
  if (add || o.type != "unrestricted") {
    std::string type = o.type;
    if (type == "weekday" || type == "week-day") type = "week-day-schedule";
    if (type == "yearday" || type == "year-day") type = "year-day-schedule";
    args["userType"] = pascal(type, "User");
  }
  if (add || o.credential_rule != "single") args["credentialRule"] = pascal(o.credential_rule, "");
  if (add) args["userStatus"] = "OccupiedEnabled";
  s.Invoke("SetUser", args);
  ctx.out().Text("user #" + std::to_string(index) + (add ? " added" : " updated") + (o.name.empty() ? "" : " (" + o.name + ")") + "\n");
  ctx.out().Json({{"user", index}});
  return 0;
}

// The programming PIN: Matter's ProgrammingPIN credential (index 0, user
// index null in GetCredentialStatus), held by a ProgrammingUser.
static int ProgrammingPinCommand(Context& ctx, const PinOptions& o) {
  LockSession s(ctx);
  const json ref = {{"credentialType", "ProgrammingPIN"}, {"credentialIndex", 0}};
  const bool exists = s.Invoke("GetCredentialStatus", {{"credential", ref}}).value("credentialExists", false);
  const bool local = s.ReadAttribute(core::AttributeId::kEnableLocalProgramming) != 0;
  const std::string menu_off =
      "the keypad programming menu is off (EnableLocalProgramming is false); turn it on with "
      "mortise dl write EnableLocalProgramming true";
  if (o.programming == "show") {
    ctx.out().Text(std::string(exists ? "a programming PIN is set" : "no programming PIN is set") + "\n" +
                   (local ? "the keypad programming menu is on: * PIN # at the lock\n" : menu_off + "\n"));
    ctx.out().Json({{"programming_pin_set", exists}, {"local_programming", local}});
    return 0;
  }
  if (o.programming == "set") {
    const std::string pin = ReadPin(o.pin_from_stdin);
    json args = {{"operationType", exists ? "Modify" : "Add"},
                 {"credential", ref},
                 {"credentialData", pin},
                 {"userIndex", nullptr},
                 {"userType", "ProgrammingUser"}};
    const json r = s.Invoke("SetCredential", args);
    ctx.out().Text(std::string(exists ? "programming PIN changed" : "programming PIN set") +
                   (r["userIndex"].is_number() ? " (programming user #" + std::to_string(r["userIndex"].get<int>()) + ")"
                                               : std::string()) +
                   "; at the lock, * PIN # opens the programming menu (it never opens the door)\n" +
                   (local ? std::string() : "note: " + menu_off + "\n"));
    ctx.out().Json({{"programming_pin_set", true}, {"changed", exists}, {"local_programming", local}});
    return 0;
  }
  // clear: the cluster never clears the programming PIN by ClearCredential;
  // it goes with its user, so the user is removed when it holds nothing else.
  if (!exists) throw Error(ExitCode::kBadInput, "no programming PIN is set; nothing to clear", "Set one with mortise pin programming set.");
  uint16_t holder = 0;
  json holder_answer;
  for (uint16_t i = 1; i < 0xFFFE && holder == 0;) {
    const json r = s.Invoke("GetUser", {{"userIndex", i}}, false);
    if (r.value("status", "") != "Success") break;
    if (r.contains("credentials") && r["credentials"].is_array()) {
      for (const json& c : r["credentials"])
        if (c.value("credentialType", "") == "ProgrammingPIN") holder = i;
    }
    holder_answer = r;
    if (!r.contains("nextUserIndex") || r["nextUserIndex"].is_null()) break;
    i = r["nextUserIndex"].get<uint16_t>();
  }
  if (holder == 0) throw Error(ExitCode::kRefused, "the lock reports a programming PIN but no user holding it");
  if (holder_answer["credentials"].size() > 1) {
    throw Error(ExitCode::kRefused,
                "the programming PIN's user #" + std::to_string(holder) +
                    " holds other credentials too, and the lock removes the programming PIN only with its user",
                "Remove that user's other credentials first (mortise user show " + std::to_string(holder) +
                    "), or remove the user and all its credentials: mortise user remove " + std::to_string(holder) + ".");
  }
  s.Invoke("ClearUser", {{"userIndex", holder}});
  ctx.out().Text("programming PIN cleared (programming user #" + std::to_string(holder) +
                 " removed); the keypad programming menu opens for no one\n");
  ctx.out().Json({{"programming_pin_set", false}, {"removed_user", holder}});
  return 0;
}

int CmdPin(Context& ctx, const PinOptions& o) {
  if (o.action == "programming") return ProgrammingPinCommand(ctx, o);
  if (o.action == "offline") {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    LockEntry& lock = ctx.SelectLock(keyring);
    if (!lock.is_owner() || !lock.offline_pin_secret.has_value()) {
      throw Error(ExitCode::kRefused, "only the lock's owner can make offline PINs (the secret was agreed at claiming)");
    }
    core::OfflinePinCodec codec(lock.offline_pin_secret->span());
    const int64_t from = ParseUtc(o.from.empty() ? "now" : o.from, ctx.Now());
    const uint32_t from_hour = static_cast<uint32_t>(from / 3600);
    std::string code;
    std::string meaning;
    if (o.offline_kind == "one-time") {
      // A start hour carries kOneTimeCodesPerHour different codes (seq
      // 0..3); the same seq gives the same code, so a fifth would repeat one
      // already handed out (and maybe used). The keyring records, per start
      // hour, how many were issued; a code that could never open (its hours
      // are over, or an erase-all code issued since voids it) is refused.
      const int64_t now_hour = ctx.Now() / 3600;
      if (static_cast<int64_t>(from_hour) + core::kOneTimeValidityHours <= now_hour) {
        throw Error(ExitCode::kBadInput,
                    "a one-time code starting at " + FormatUtc(static_cast<int64_t>(from_hour) * 3600) +
                        " would already have expired (it is valid for " + std::to_string(core::kOneTimeValidityHours) +
                        " hours)",
                    "Leave --from out (now), or give a later start.");
      }
      const int64_t erased_at = lock.extra.value("offline_erase_hour", int64_t{-1});
      if (static_cast<int64_t>(from_hour) <= erased_at) {
        throw Error(ExitCode::kBadInput,
                    "the erase-all code issued for " + FormatUtc(erased_at * 3600) +
                        " voids codes that start then or earlier",
                    "Start it at " + FormatUtc((erased_at + 1) * 3600) + " or later (--from).");
      }
      nlohmann::json issued = lock.extra.value("offline_one_time_issued", nlohmann::json::object());
      // Forget hours whose codes have all expired: the record stays small.
      for (auto it = issued.begin(); it != issued.end();) {
        const int64_t hour = std::strtoll(it.key().c_str(), nullptr, 10);
        it = hour + core::kOneTimeValidityHours <= now_hour ? issued.erase(it) : std::next(it);
      }
      const std::string hour_key = std::to_string(from_hour);
      const uint32_t seq = issued.value(hour_key, 0u);
      if (seq >= core::kOneTimeCodesPerHour) {
        throw Error(ExitCode::kRefused,
                    "all " + std::to_string(core::kOneTimeCodesPerHour) + " one-time codes starting at " +
                        FormatUtc(static_cast<int64_t>(from_hour) * 3600) + " were already issued (a fifth would repeat one)",
                    "Start the next at the following hour: --from " + FormatUtc((static_cast<int64_t>(from_hour) + 1) * 3600) +
                        "; or give a window code: mortise pin offline window.");
      }
      issued[hour_key] = seq + 1;
      lock.extra["offline_one_time_issued"] = issued;
      std::array<char, core::kShortOfflineCodeDigits> digits{};
      if (!codec.OneTime(from_hour, static_cast<uint8_t>(seq), digits).ok()) {
        throw Error(ExitCode::kBadInput, "that start time cannot carry a one-time code", "Give another --from.");
      }
      code.assign(digits.begin(), digits.end());
      meaning = "opens once, within " + std::to_string(core::kOneTimeValidityHours) + " hours from " +
                FormatUtc(static_cast<int64_t>(from_hour) * 3600);
    } else if (o.offline_kind == "window") {
      const int64_t until = ParseUtc(o.until, ctx.Now());
      const int64_t hours = (until - static_cast<int64_t>(from_hour) * 3600 + 3599) / 3600;
      if (hours < 1 || hours > core::kMaxWindowHours) {
        throw Error(ExitCode::kBadInput, "a window is 1 hour to 1 year long", "Check --from and --until.");
      }
      std::array<char, core::kLongOfflineCodeDigits> digits{};
      if (!codec.Window(from_hour, static_cast<uint32_t>(hours), digits).ok()) {
        throw Error(ExitCode::kBadInput, "that window cannot be encoded", "Check --from and --until.");
      }
      code.assign(digits.begin(), digits.end());
      meaning = "opens any number of times from " + FormatUtc(static_cast<int64_t>(from_hour) * 3600) + " for " +
                std::to_string(hours) + " hours (first use within 24 hours of the start)";
    } else if (o.offline_kind == "recurring") {
      const auto [start, end] = ParseHours(o.hours);
      if (start % 60 != 0 || end % 60 != 0) throw Error(ExitCode::kBadInput, "recurring codes use whole hours", "Write the hours as HH:00-HH:00.");
      const int64_t until = o.until.empty() ? from + 7 * 86400 : ParseUtc(o.until, ctx.Now());
      const int64_t weeks = (until - from + 7 * 86400 - 1) / (7 * 86400);
      if (weeks < 1 || weeks > core::kMaxRecurringWeeks) throw Error(ExitCode::kBadInput, "a recurring code lasts 1 to 53 weeks", "Check --from and --until.");
      std::array<char, core::kLongOfflineCodeDigits> digits{};
      // Local days: the code's hours are the lock's local time (UtcOffset).
      if (!codec.Recurring(static_cast<uint32_t>(from / 86400), static_cast<uint8_t>(start / 60),
                           static_cast<uint8_t>(end / 60), static_cast<uint8_t>(weeks), digits)
               .ok()) {
        throw Error(ExitCode::kBadInput, "that schedule cannot be encoded", "Check --hours, --from and --until.");
      }
      code.assign(digits.begin(), digits.end());
      meaning = "opens daily " + o.hours + " (lock's local time) for " + std::to_string(weeks) + " week(s)";
    } else if (o.offline_kind == "erase-all") {
      std::array<char, core::kShortOfflineCodeDigits> digits{};
      if (!codec.EraseAll(from_hour, digits).ok()) {
        throw Error(ExitCode::kBadInput, "cannot encode an erase code", "Give another --from.");
      }
      // Codes starting at or before this hour are void once it is typed:
      // never hand one out again.
      lock.extra["offline_erase_hour"] = std::max<int64_t>(lock.extra.value("offline_erase_hour", int64_t{-1}), from_hour);
      code.assign(digits.begin(), digits.end());
      meaning = "typed at the lock within 24 hours, it cancels every offline code issued so far";
    } else {
      throw Error(ExitCode::kUsage, "unknown offline PIN kind '" + o.offline_kind + "'",
                  "Use one-time, window, recurring or erase-all.");
    }
    keyring.Save();
    ctx.out().Text(code + "\n  " + meaning + "; type it on the keypad followed by #.\n");
    ctx.out().Json({{"pin", code}, {"kind", o.offline_kind}, {"meaning", meaning}});
    return 0;
  }
  CredentialOptions c;
  c.action = o.action;
  c.user = o.user;
  c.slot = o.slot;
  const std::string pin = o.action == "add" ? ReadPin(o.pin_from_stdin) : std::string();
  return CredentialCommand(ctx, c, "PIN", pin, false);
}

int CmdCard(Context& ctx, const CredentialOptions& o) {
  if (o.action == "add" && o.uid.empty()) throw Error(ExitCode::kUsage, "which card? Pass --uid HEX");
  std::vector<uint8_t> bytes;
  if (!o.uid.empty() && (!FromHex(o.uid, bytes) || bytes.empty())) {
    throw Error(ExitCode::kBadInput, "--uid must be the card's UID in hex (e.g. 04a1b2c3)");
  }
  return CredentialCommand(ctx, o, "RFID", o.uid, true);
}

int CmdFinger(Context& ctx, const CredentialOptions& o) {
  if ((o.action == "add" || o.action == "enroll") && o.uid.empty()) {
    throw Error(ExitCode::kUsage, "which template? Pass --uid HEX (the sensor's template id)");
  }
  CredentialOptions c = o;
  if (c.action == "enroll") c.action = "add";
  return CredentialCommand(ctx, c, "Fingerprint", o.uid, true);
}

int CmdSchedule(Context& ctx, const ScheduleOptions& o) {
  struct Kind {
    const char* name;
    const char* get;
    const char* set;
    const char* clear;
    const char* index;
    bool per_user;
  };
  static const Kind kKinds[] = {
      {"weekday", "GetWeekDaySchedule", "SetWeekDaySchedule", "ClearWeekDaySchedule", "weekDayIndex", true},
      {"yearday", "GetYearDaySchedule", "SetYearDaySchedule", "ClearYearDaySchedule", "yearDayIndex", true},
      {"holiday", "GetHolidaySchedule", "SetHolidaySchedule", "ClearHolidaySchedule", "holidayIndex", false}};
  const Kind* kind = nullptr;
  for (const Kind& k : kKinds) {
    if (o.kind == k.name) kind = &k;
  }
  if (kind == nullptr) {
    throw Error(ExitCode::kUsage, "unknown schedule kind '" + o.kind + "'", "Use weekday, yearday or holiday.");
  }
  if (kind->per_user && o.user == 0) throw Error(ExitCode::kUsage, "whose schedule? Pass --user N");
  // Values are checked before the lock is contacted: bad input changes nothing.
  uint8_t days = 0;
  HourRange hours;
  int64_t from = 0, until = 0;
  if (o.action == "add") {
    if (kind == &kKinds[0]) {
      days = ParseDays(o.days.empty() ? "daily" : o.days);
      hours = ParseHours(o.hours.empty() ? "00:00-24:00" : o.hours, /*overnight_ok=*/true);
    } else {
      from = ParseUtc(o.from, ctx.Now());
      until = ParseUtc(o.until, ctx.Now());
      if (until <= from) throw Error(ExitCode::kBadInput, "--until must be after --from");
    }
  }
  LockSession s(ctx);
  if (kind->per_user) RequireUser(s, o.user);
  auto key = [&](uint8_t index) {
    json args = {{kind->index, index}};
    if (kind->per_user) args["userIndex"] = o.user;
    return args;
  };
  // Slots answer Success when set, NotFound when free, InvalidField past the last.
  if (o.action == "list") {
    json list = json::array();
    std::string text;
    for (uint16_t i = 1; i < 0xFE; ++i) {
      const json r = s.Invoke(kind->get, key(static_cast<uint8_t>(i)), false);
      const std::string status = r.value("status", "");
      if (status != "Success" && status != "NotFound") break;
      if (status == "Success") {
        list.push_back(CliJsonFromLock(r));
        if (kind == &kKinds[0]) {
          // Matter's end minute is inclusive: 23:59 is the end of the day.
          const bool whole = r.value("endHour", 0) == 23 && r.value("endMinute", 0) == 59;
          char line[96];
          std::snprintf(line, sizeof(line), "  #%u %s %02d:%02d-%02d:%02d\n", i,
                        FormatDays(static_cast<uint8_t>(r.value("daysMask", 0))).c_str(), r.value("startHour", 0),
                        r.value("startMinute", 0), whole ? 24 : r.value("endHour", 0), whole ? 0 : r.value("endMinute", 0));
          text += line;
        } else {
          text += "  #" + std::to_string(i) + " " + FormatUtc(r.value("localStartTime", int64_t{0})) + " .. " +
                  FormatUtc(r.value("localEndTime", int64_t{0})) +
                  (r.contains("operatingMode") ? " " + r["operatingMode"].get<std::string>() : std::string()) + "\n";
        }
      }
    }
    ctx.out().Text(text.empty() ? "no " + o.kind + " schedules\n" : text);
    ctx.out().Json({{"schedules", list}});
    return 0;
  }
  uint8_t slot = o.slot;
  if (o.action == "remove") {
    if (slot == 0) throw Error(ExitCode::kUsage, "which one? Pass --slot N (see the list)");
    const std::string status = s.Invoke(kind->get, key(slot), false).value("status", "");
    if (status != "Success") {
      const std::string whose = kind->per_user ? " of user #" + std::to_string(o.user) : std::string();
      throw Error(ExitCode::kBadInput,
                  o.kind + " schedule #" + std::to_string(slot) + whose +
                      (status == "NotFound" ? " is not set; nothing to remove" : " does not exist (past the last slot)"),
                  "See them with mortise schedule " + o.kind + " list" + (kind->per_user ? " --user N." : "."));
    }
    s.Invoke(kind->clear, key(slot));
    ctx.out().Text(o.kind + " schedule #" + std::to_string(slot) + " removed\n");
    ctx.out().Json({{"kind", o.kind}, {"slot", slot}, {"action", o.action}});
    return 0;
  }
  // Free slots, the given one first.
  auto free_slot = [&](uint8_t not_this) -> uint8_t {
    for (uint16_t i = 1; i < 0xFE; ++i) {
      if (i == not_this) continue;
      const json r = s.Invoke(kind->get, key(static_cast<uint8_t>(i)), false);
      const std::string status = r.value("status", "");
      if (status == "NotFound") return static_cast<uint8_t>(i);
      if (status != "Success") break;
    }
    throw Error(ExitCode::kRefused, "every " + o.kind + " schedule slot is in use", "Remove one first.");
  };
  std::vector<json> entries;  // the schedules to set, without their index
  std::string text;
  if (kind == &kKinds[0]) {
    auto weekday = [&](uint8_t mask, uint16_t start, uint16_t end) {
      const uint16_t last = end == 1440 ? 1439 : end;  // Matter's end minute is inclusive
      entries.push_back({{"daysMask", mask},
                         {"startHour", start / 60},
                         {"startMinute", start % 60},
                         {"endHour", last / 60},
                         {"endMinute", last % 60}});
    };
    if (!hours.overnight()) {
      weekday(days, hours.start, hours.end);
    } else {
      // An overnight window is two week-day schedules, as Matter's cannot
      // cross midnight: the evening on the given days, the morning on the
      // day after each (Saturday's night ends on Sunday).
      const uint8_t next_days = static_cast<uint8_t>(((days << 1) | (days >> 6)) & 0x7F);
      weekday(days, hours.start, 1440);
      weekday(next_days, 0, hours.end);
    }
  } else {
    json args = {{"localStartTime", from}, {"localEndTime", until}};
    if (kind == &kKinds[2]) {
      std::string mode = o.mode.empty() ? "Vacation" : o.mode;
      mode[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(mode[0])));
      if (mode == "No-remote") mode = "NoRemoteLockUnlock";
      args["operatingMode"] = mode;
    }
    entries.push_back(args);
  }
  json slots = json::array();
  uint8_t previous = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint8_t at = i == 0 && slot != 0 ? slot : free_slot(i == 0 ? 0 : previous);
    json args = key(at);
    args.update(entries[i]);
    s.Invoke(kind->set, args);
    previous = at;
    slots.push_back(at);
    text += o.kind + " schedule #" + std::to_string(at) + " set";
    if (kind == &kKinds[0]) {
      char range[32];
      const int eh = entries[i]["endHour"].get<int>(), em = entries[i]["endMinute"].get<int>();
      const bool whole = eh == 23 && em == 59;
      std::snprintf(range, sizeof(range), "%02d:%02d-%02d:%02d", entries[i]["startHour"].get<int>(),
                    entries[i]["startMinute"].get<int>(), whole ? 24 : eh, whole ? 0 : em);
      text += ": " + FormatDays(entries[i]["daysMask"].get<uint8_t>()) + " " + range;
    }
    text += "\n";
  }
  if (entries.size() == 2) text += "(an overnight window is two week-day schedules: the lock's cannot cross midnight)\n";
  ctx.out().Text(text);
  ctx.out().Json({{"kind", o.kind}, {"slot", slots[0]}, {"slots", slots}, {"action", o.action}});
  return 0;
}

int CmdDl(Context& ctx, const DlOptions& o) {
  const std::vector<std::string>& w = o.words;
  auto parse_value = [](const std::string& text) {
    // A JSON value (number, true, null, "text", {...}) or, failing that, a bare string.
    json v = json::parse(text, nullptr, false);
    return v.is_discarded() ? json(text) : v;
  };
  std::vector<std::string> lines;
  if (w.size() == 1 && w[0] == "-") {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty()) lines.push_back(line);
    }
  } else if (!w.empty() && !w[0].empty() && w[0][0] == '{') {
    if (w.size() != 1) throw Error(ExitCode::kUsage, "give a whole JSON line as one argument (quote it)");
    lines.push_back(w[0]);
  } else if (w.size() == 2 && w[0] == "read") {
    lines.push_back(json{{"read", w[1]}}.dump());
  } else if (w.size() == 3 && w[0] == "write") {
    lines.push_back(json{{"write", w[1]}, {"value", parse_value(w[2])}}.dump());
  } else if (w.size() == 1 || w.size() == 2) {
    json args = json::object();
    if (w.size() == 2) {
      args = json::parse(w[1], nullptr, false);
      if (args.is_discarded() || !args.is_object()) {
        throw Error(ExitCode::kBadInput, "the arguments of " + w[0] + " are not a JSON object",
                    R"(Write them as '{"userIndex": 1}'.)");
      }
    }
    lines.push_back(json{{"invoke", w[0]}, {"args", args}}.dump());
  } else {
    throw Error(ExitCode::kUsage, "dl takes <Command> [JSON args], read <Attribute>, write <Attribute> <value>, a JSON line, or -");
  }
  LockSession s(ctx);
  bool all_ok = true;
  json answers = json::array();
  for (const std::string& line : lines) {
    const json request = json::parse(line, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      throw Error(ExitCode::kBadInput, "not a JSON object: " + line,
                  R"(Write e.g. '{"invoke":"GetUser","args":{"userIndex":1}}' or '{"read":"LockState"}'.)");
    }
    const std::string answer = s.client().Manage(request.dump());
    ctx.out().Text(answer + "\n");
    const json doc = json::parse(answer, nullptr, false);
    answers.push_back(doc);
    all_ok = all_ok && doc.is_object() && doc.value("ok", false) &&
             (!doc.contains("status") || doc["status"] == "Success");
  }
  ctx.out().Json({{"answers", answers}});
  return all_ok ? 0 : ToInt(ExitCode::kRefused);
}

}  // namespace mortise::cli
