#include "output.h"

#include <unistd.h>

#include <ctime>

namespace mortise::cli {

void Output::Text(const std::string& text) {
  if (json_) return;
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
}

void Output::Json(const nlohmann::json& doc) {
  if (!json_) return;
  if (doc.is_object()) {
    for (auto it = doc.begin(); it != doc.end(); ++it) doc_[it.key()] = it.value();
  } else {
    doc_["result"] = doc;
  }
}

void Output::Finish() {
  if (!json_ || finished_) return;
  finished_ = true;
  nlohmann::json out = nlohmann::json::object();
  out["ok"] = true;
  for (auto it = doc_.begin(); it != doc_.end(); ++it) out[it.key()] = it.value();
  std::fputs(out.dump(2).c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void Output::PrintError(const Error& error) {
  std::fputs(error.Line().c_str(), err_);
  std::fputc('\n', err_);
  std::fflush(err_);
  if (json_ && !finished_) {
    finished_ = true;
    nlohmann::json out = {{"ok", false},
                          {"error",
                           {{"code", ToInt(error.code())}, {"message", error.what()}, {"hint", error.hint()}}}};
    // What the command established before it failed stays in the document
    // (`mortise log` on a log that does not verify: its events and
    // "verified": false).
    for (auto it = doc_.begin(); it != doc_.end(); ++it) {
      if (!out.contains(it.key())) out[it.key()] = it.value();
    }
    std::fputs(out.dump(2).c_str(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

std::string LowerWords(const std::string& name, char separator) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool upper = c >= 'A' && c <= 'Z';
    if (upper && i > 0) {
      const char prev = name[i - 1];
      const bool prev_lower = (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
      const bool next_lower = i + 1 < name.size() && name[i + 1] >= 'a' && name[i + 1] <= 'z';
      const bool prev_upper = prev >= 'A' && prev <= 'Z';
      // A word starts at an upper-case letter after a lower-case one, or at
      // the last capital of an acronym followed by lower case ("PINCode").
      if (prev_lower || (prev_upper && next_lower)) out += separator;
    }
    out += upper ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::string FormatUtc(int64_t utc) {
  if (utc <= 0) return "unknown";
  const std::time_t t = static_cast<std::time_t>(utc);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json JsonUtc(int64_t utc) { return utc > 0 ? nlohmann::json(FormatUtc(utc)) : nlohmann::json(nullptr); }

namespace {

std::string IsoTime(int64_t seconds, bool utc) {
  std::string t = FormatUtc(seconds);
  if (!utc && !t.empty() && t.back() == 'Z') t.pop_back();
  return t;
}

}  // namespace

nlohmann::json CliJsonFromLock(const nlohmann::json& answer) {
  if (answer.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : answer) out.push_back(CliJsonFromLock(item));
    return out;
  }
  if (!answer.is_object()) return answer;
  nlohmann::json out = nlohmann::json::object();
  for (auto it = answer.begin(); it != answer.end(); ++it) {
    std::string key = LowerWords(it.key(), '_');
    const nlohmann::json& v = it.value();
    if (key == "ok" || key == "status" || key.rfind("next_", 0) == 0) continue;
    if (key == "utc" && v.is_number_integer()) {
      out["time"] = v.get<int64_t>() > 0 ? nlohmann::json(IsoTime(v.get<int64_t>(), true)) : nlohmann::json(nullptr);
      continue;
    }
    if (key.rfind("local_", 0) == 0 && key.find("time") != std::string::npos && v.is_number_integer()) {
      out[key] = IsoTime(v.get<int64_t>(), false);
      continue;
    }
    if (v.is_string() && key != "user_name" && key != "credential_data" && key != "text" && key != "error") {
      out[key] = LowerWords(v.get<std::string>(), '-');
      continue;
    }
    out[key] = v.is_structured() ? CliJsonFromLock(v) : v;
  }
  return out;
}

void Output::Note(const std::string& text) {
  std::fputs(text.c_str(), err_);
  std::fflush(err_);
}

bool Progress::Enabled() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string message, std::chrono::milliseconds delay) : message_(std::move(message)) {
  if (Enabled()) thread_ = std::thread([this, delay] { Run(delay); });
}

Progress::~Progress() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Progress::Run(std::chrono::milliseconds delay) {
  static const char* const kFrames[] = {"|", "/", "-", "\\"};
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, delay, [this] { return done_; })) return;
  for (size_t i = 0;; ++i) {
    std::fprintf(stderr, "\r%s %s", kFrames[i % 4], message_.c_str());
    std::fflush(stderr);
    drew_ = true;
    if (cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return done_; })) break;
  }
  // Erase the line: carriage return, clear to end of line.
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

}  // namespace mortise::cli
