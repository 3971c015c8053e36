#include "rtc_file.h"

#include <charconv>
#include <string_view>

namespace mortise::lockd {
namespace {

constexpr std::string_view kMagic = "mortise-rtc-v1";

template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string RtcFile::Format(std::optional<uint64_t> utc_ms, int64_t host_ms) {
  return std::string(kMagic) + " " + (utc_ms ? std::to_string(*utc_ms) : "-") + " " + std::to_string(host_ms) + "\n";
}

std::string RtcFile::Load(const std::optional<std::string>& text, sim::SimRtc& rtc) {
  rtc.Restore(std::nullopt);
  saved_writes_ = rtc.writes();
  saved_utc_ms_.reset();
  if (!text) return "";
  std::string_view line(*text);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const size_t a = line.find(' ');
  const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  if (b == std::string_view::npos || line.substr(0, a) != kMagic)
    return "not a '" + std::string(kMagic) + " UTC_MS HOST_MS' line";
  const std::string_view utc_text = line.substr(a + 1, b - a - 1);
  int64_t host_at_save = 0;
  if (!ParseNumber(line.substr(b + 1), host_at_save)) return "the host time is not a number";
  if (utc_text == "-") return "";
  uint64_t utc_ms = 0;
  if (!ParseNumber(utc_text, utc_ms)) return "the RTC time is not a number";
  if (mode_ == ClockMode::kReal) {
    // A host clock that went back while the daemon was stopped adds nothing.
    const int64_t off_for = host_ms_() - host_at_save;
    if (off_for > 0) utc_ms += static_cast<uint64_t>(off_for);
  }
  rtc.Restore(utc_ms);
  saved_utc_ms_ = utc_ms;
  return "";
}

bool RtcFile::SaveIfChanged(const sim::SimRtc& rtc) {
  const bool set_by_lock = rtc.writes() != saved_writes_;
  const bool moved = mode_ == ClockMode::kSimulated && rtc.utc_ms() != saved_utc_ms_;
  if (!set_by_lock && !moved) return true;
  if (!write_(Format(rtc.utc_ms(), host_ms_()))) return false;
  saved_writes_ = rtc.writes();
  saved_utc_ms_ = rtc.utc_ms();
  return true;
}

}  // namespace mortise::lockd
