#include "face.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>

#include "mortise/termqr/termqr.h"

namespace mortise::lockd {
namespace {

using nlohmann::json;

// Saved terminal state, restored from signal handlers too (tcsetattr and
// write are async-signal-safe).
struct termios g_saved;
volatile sig_atomic_t g_saved_valid = 0;
volatile sig_atomic_t g_screen_active = 0;
constexpr char kLeaveScreen[] = "\x1b[?25h\x1b[?1049l";

void RestoreTerminal() {
  if (g_saved_valid) tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved);
  if (g_screen_active) {
    ssize_t ignored = write(STDOUT_FILENO, kLeaveScreen, sizeof(kLeaveScreen) - 1);
    (void)ignored;
  }
  g_saved_valid = 0;
  g_screen_active = 0;
}

void FatalSignal(int sig) {
  RestoreTerminal();
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallFatalHandlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  std::atexit(RestoreTerminal);
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGQUIT}) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = FatalSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(sig, &sa, nullptr);
  }
}

const char* kDefaultCards[] = {"04a1b2c3", "04d5e6f7", "deadbeef"};

std::string EventLine(const json& e) {
  std::ostringstream s;
  s << "#" << e.value("seq", 0) << " " << e.value("event", std::string("?"));
  for (const char* k : {"lockOperationType", "operationSource", "alarmCode", "doorState", "lockDataType",
                        "dataOperationType", "operationError", "detail"}) {
    if (e.contains(k) && e.at(k).is_string()) s << " " << e.at(k).get<std::string>();
  }
  if (e.contains("userIndex") && e.at("userIndex").is_number()) s << " user " << e.at("userIndex").get<int>();
  if (e.contains("lostCount")) s << " lost " << e.at("lostCount").get<uint64_t>();
  return s.str();
}

}  // namespace

Face::Face(ControlHandler& control, NodeControls* node, Loop& loop, std::function<void()> quit,
           std::function<std::vector<std::string>()> log_lines)
    : control_(control), node_(node), loop_(loop), quit_(std::move(quit)), log_lines_(std::move(log_lines)) {}

bool Face::Start() {
  if (active_) return true;
  if (!isatty(STDOUT_FILENO)) return false;
  InstallFatalHandlers();
  if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &g_saved) == 0) {
    g_saved_valid = 1;
    struct termios raw = g_saved;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO | IEXTEN));
    raw.c_iflag &= static_cast<tcflag_t>(~(IXON | ICRNL));
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    // ^C still stops the daemon (SIGINT, handled by its loop); ^Z would
    // leave the terminal raw under a stopped process, so it is off.
    raw.c_cc[VSUSP] = _POSIX_VDISABLE;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) {
      keyboard_ = true;
      loop_.Add(STDIN_FILENO, POLLIN, [this](short) { OnInput(); });
    } else {
      g_saved_valid = 0;
    }
  }
  g_screen_active = 1;
  std::fputs("\x1b[?1049h\x1b[?25l\x1b[2J", stdout);
  std::fflush(stdout);
  active_ = true;
  return true;
}

void Face::Stop() {
  if (!active_) return;
  if (keyboard_) loop_.Remove(STDIN_FILENO);
  keyboard_ = false;
  std::fflush(stdout);
  RestoreTerminal();
  active_ = false;
}

void Face::OnInput() {
  char buf[64];
  const ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
  if (n <= 0) {
    // The terminal went away: stop reading it.
    loop_.Remove(STDIN_FILENO);
    keyboard_ = false;
    return;
  }
  for (ssize_t i = 0; i < n; ++i) HandleKey(buf[i]);
  last_frame_.clear();  // redraw now
}

std::string Face::RequestForKey(char key, const json& st) {
  auto toggle_lock = [&]() {
    const std::string bolt = st.value("bolt", std::string());
    return !(bolt == "locked" || bolt == "locking");
  };
  if ((key >= '0' && key <= '9') || key == '*' || key == '#')
    return json{{"cmd", "keypad"}, {"keys", std::string(1, key)}}.dump();
  switch (key) {
    case 'c': {
      const char* uid = kDefaultCards[next_card_++ % (sizeof(kDefaultCards) / sizeof(kDefaultCards[0]))];
      return json{{"cmd", "card"}, {"uid", uid}}.dump();
    }
    case 'f': {
      const uint8_t t = next_finger_;
      next_finger_ = static_cast<uint8_t>(next_finger_ % 3 + 1);
      return json{{"cmd", "finger"}, {"template", t}}.dump();
    }
    case 'k': return json{{"cmd", "key"}, {"lock", toggle_lock()}}.dump();
    case 't': return json{{"cmd", "thumbturn"}, {"lock", toggle_lock()}}.dump();
    case 'h': return json{{"cmd", "handle"}}.dump();
    case 'o': return json{{"cmd", "door"}, {"open", st.value("doorContact", std::string()) != "open"}}.dump();
    case 'b': {
      const bool present = st.contains("battery") && st["battery"].value("present", true);
      return json{{"cmd", "battery"}, {"present", !present}}.dump();
    }
    case 'e': return json{{"cmd", "emergency_power"}, {"on", !st.value("emergencyPower", false)}}.dump();
    case 'x': return json{{"cmd", "tamper"}, {"removed", !st.value("escutcheonRemoved", false)}}.dump();
    case 'r': return json{{"cmd", "claim_button"}}.dump();
    default: return {};
  }
}

void Face::HandleKey(char key) {
  if (prompting_) {
    if (key == '\r' || key == '\n') {
      prompting_ = false;
      const json resp = json::parse(control_.HandleLine(json{{"cmd", "card"}, {"uid", prompt_}}.dump()), nullptr,
                                    false);
      message_ = resp.value("ok", false) ? "card " + prompt_ + " tapped" : resp.value("error", std::string("?"));
    } else if (key == 0x1b) {
      prompting_ = false;
      message_ = "card cancelled";
    } else if (key == 0x7f || key == 0x08) {
      if (!prompt_.empty()) prompt_.pop_back();
    } else if (std::isxdigit(static_cast<unsigned char>(key)) && prompt_.size() < 40) {
      prompt_.push_back(key);
    }
    return;
  }
  if (key == 'q' || key == 'Q') {
    quit_();
    return;
  }
  if (key == 'C') {
    prompting_ = true;
    prompt_.clear();
    return;
  }
  const std::string request = RequestForKey(key, control_.StatusJson());
  if (request.empty()) return;
  const json resp = json::parse(control_.HandleLine(request), nullptr, false);
  const json req = json::parse(request);
  if (resp.is_discarded() || !resp.value("ok", false)) {
    message_ = resp.is_discarded() ? "?" : resp.value("error", std::string("refused"));
  } else if (req["cmd"] == "keypad") {
    message_.clear();
  } else {
    message_ = req.dump();
  }
}

std::string FaceTime(const json& st) {
  if (!st["utc"].is_number_integer()) return "unknown (not set)";
  const int64_t utc = st["utc"].get<int64_t>();
  const int64_t offset = st.value("utcOffsetS", int64_t{0});
  auto format = [](int64_t seconds, const char* pattern) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof(buf), pattern, &tm);
    return std::string(buf);
  };
  const int64_t a = offset < 0 ? -offset : offset;
  char zone[24];
  std::snprintf(zone, sizeof(zone), "UTC%c%02lld:%02lld", offset < 0 ? '-' : '+', static_cast<long long>(a / 3600),
                static_cast<long long>(a % 3600 / 60));
  return format(utc + offset, "%Y-%m-%d %H:%M:%S") + " local (" + zone + "; " + format(utc, "%H:%M:%SZ") + ")";
}

std::string Face::Render(const json& st) {
  std::ostringstream o;
  auto yes = [](bool b) { return b ? "yes" : "no"; };
  o << "\x1b[1m Mortise lock (simulated)\x1b[0m   lock id " << (st["lockId"].is_string() ? st["lockId"].get<std::string>() : "-")
    << "\n\n";
  o << "  Bolt       " << st.value("bolt", std::string("?")) << " (" << st.value("lockState", std::string("?")) << ")\n";
  o << "  Door       " << st.value("door", std::string("?")) << " (contact " << st.value("doorContact", std::string("?"))
    << ")\n";
  const json& b = st["battery"];
  o << "  Battery    " << (b.value("present", true) ? std::to_string(b.value("percent", 0)) + " %  " +
                                                           std::to_string(b.value("mv", 0)) + " mV"
                                                     : std::string("removed"))
    << "   emergency power " << (st.value("emergencyPower", false) ? "on" : "off") << "\n";
  o << "  Mode       " << st.value("operatingMode", std::string("?")) << "   locked out "
    << yes(st.value("lockedOut", false)) << "   escutcheon " << (st.value("escutcheonRemoved", false) ? "REMOVED" : "on")
    << "\n";
  std::string led = st["indicator"]["last"].is_string() ? st["indicator"]["last"].get<std::string>() : "-";
  o << "  Indicator  " << led << "\n";
  // A programming entry starts with '*' (programming menu); digits show as '*'.
  o << "  Keypad     " << (st.value("keypadProgrammingEntry", false) ? "* " : "")
    << std::string(st.value("keypadEntry", size_t{0}), '*') << "_\n";
  if (st.contains("programming") && st["programming"].value("text", std::string()) != "")
    o << "  Programming " << st["programming"]["text"].get<std::string>() << "\n";
  o << "  Time       " << FaceTime(st) << "   monotonic " << st.value("monotonicMs", uint64_t{0}) << " ms (" << st.value("clock", std::string()) << ")\n";
  o << "  Claimed    " << yes(st.value("claimed", false));
  if (!st.value("claimed", false)) o << "   claim window " << (st.value("claimWindowOpen", false) ? "open" : "closed");
  o << "\n";
  if (node_ != nullptr && !st.value("claimed", false)) {
    if (auto label = node_->label()) {
      o << "\n  Setup code " << label->setup_code.substr(0, 3) << " " << label->setup_code.substr(3, 3) << " "
        << label->setup_code.substr(6) << "   " << label->payload << "\n";
      auto qr = termqr::Render(label->payload);
      if (qr.ok()) o << *qr;
    }
  }
  o << "\n  Last events\n";
  for (const auto& e : st["events"]) o << "   " << EventLine(e) << "\n";
  if (log_lines_) {
    auto lines = log_lines_();
    if (!lines.empty()) o << "\n  Log\n";
    for (const auto& l : lines) o << "   " << l << "\n";
  }
  o << "\n";
  if (prompting_) o << "  Card uid (hex, Enter to tap, Esc to cancel): " << prompt_ << "_\n";
  else if (!message_.empty()) o << "  > " << message_ << "\n";
  o << "  keys: 0-9 * # keypad (*PIN# programming menu)  c card  C card uid  f finger  k key  t thumb-turn  h handle  o door\n"
    << "        b battery  e emergency power  x escutcheon  r claim button  q quit\n";
  return o.str();
}

void Face::Tick(uint64_t wall_ms) {
  if (!active_) return;
  const std::string frame = Render(control_.StatusJson());
  if (frame == last_frame_ && wall_ms - last_draw_ms_ < 1000) return;
  last_frame_ = frame;
  last_draw_ms_ = wall_ms;
  winsize ws{};
  const size_t width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 200;
  std::string out = "\x1b[H";
  std::istringstream lines(frame);
  std::string line;
  while (std::getline(lines, line)) {
    // Cut long lines (ANSI sequences and multi-byte blocks count loosely;
    // only plain text lines are long enough to matter).
    if (line.size() > width * 4) line.resize(width * 4);
    out += line + "\x1b[K\r\n";
  }
  out += "\x1b[J";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace mortise::lockd
