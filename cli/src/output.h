// What the CLI prints. Results go to stdout: human text, or with --json
// exactly one JSON document. Errors go to stderr as one line,
// "mortise: <what went wrong>. <what to do>" (and with --json also as the
// stdout document {"ok": false, "error": {...}}, so a script always gets
// one document). Progress (a spinner) goes to stderr, only when stderr is a
// terminal and only for work that lasts longer than ~300 ms.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "error.h"

namespace mortise::cli {

class Output {
 public:
  Output(bool json, std::FILE* out = stdout, std::FILE* err = stderr) : json_(json), out_(out), err_(err) {}

  bool json() const { return json_; }

  // Human mode: writes `text` as it is. JSON mode: ignored.
  void Text(const std::string& text);
  // JSON mode: stores `doc` (members merged into one object) to print at
  // Finish(). Human mode: ignored.
  void Json(const nlohmann::json& doc);
  // Prints the JSON document, if any ({"ok": true, ...}). Call once, at the end.
  void Finish();
  // Prints `error` to stderr, and in JSON mode {"ok": false, "error":
  // {"code": <exit code>, "message": ..., "hint": ...}} to stdout, with the
  // members stored by Json() before the error beside them.
  void PrintError(const Error& error);
  // A note for the user on stderr (human mode and JSON mode alike).
  void Note(const std::string& text);

 private:
  bool json_;
  std::FILE* out_;
  std::FILE* err_;
  nlohmann::json doc_ = nlohmann::json::object();
  bool finished_ = false;
};

// The CLI's JSON schema (docs/cli.md, "JSON output"): snake_case keys;
// times as ISO-8601 UTC strings ("2026-11-24T08:00:00Z", null while
// unknown), a lock's local times as ISO-8601 without a zone; durations as
// numbers whose key names the unit (`_s`, `_ms`); enum values as lowercase
// words joined by '-' ("week-day-schedule-user", "no-remote"); lists as
// arrays of plain objects (no per-item ok/status); the document itself
// carries "ok" and, on failure, "error".
//
// A Door Lock answer or event (dljson: Matter names in camelCase,
// PascalCase enums, epoch seconds) in that schema: keys and enum values
// converted, "utc" epoch seconds as "time", local_*_time epoch seconds as
// local ISO-8601, and the answer's own ok/status and paging (next_*)
// dropped. Free text (user_name) is kept as it is.
nlohmann::json CliJsonFromLock(const nlohmann::json& answer);
// "2026-11-24T08:00:00Z"; "unknown" for 0 or less (the lock's time unknown).
std::string FormatUtc(int64_t utc);
// FormatUtc for the JSON schema: null for 0 or less.
nlohmann::json JsonUtc(int64_t utc);
// "WeekDayScheduleUser" -> "week_day_schedule_user" (separator '_') or
// "week-day-schedule-user" ('-'); "PIN" -> "pin", "userUniqueID" ->
// "user_unique_id".
std::string LowerWords(const std::string& name, char separator);

// A spinner with a message on stderr while a slow step runs. Draws nothing
// for the first `delay` and nothing at all when stderr is not a terminal;
// erases its line when it ends.
class Progress {
 public:
  explicit Progress(std::string message, std::chrono::milliseconds delay = std::chrono::milliseconds(300));
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // True when this process would draw (stderr is a terminal).
  static bool Enabled();

 private:
  void Run(std::chrono::milliseconds delay);

  std::string message_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool drew_ = false;
  std::thread thread_;
};

}  // namespace mortise::cli
