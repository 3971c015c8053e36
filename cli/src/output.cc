#include "output.h"

#include <unistd.h>

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
