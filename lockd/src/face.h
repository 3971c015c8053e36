// The lock face: the simulated lock drawn in the terminal (ANSI, full-screen
// redraw, no curses) with the keyboard as its inputs. Every key becomes a
// control-socket request, so the face can do nothing the control socket
// cannot, and refusals show the same messages.
//
// The terminal is restored on every way out: a normal stop, SIGTERM/SIGINT
// (handled by the daemon's loop), and fatal signals (a handler restores it
// before the default action runs).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "control.h"
#include "loop.h"

namespace mortise::lockd {

// The lock's time as the face shows it: local date and time in the offset
// in force (status "utcOffsetS", daylight saving included) and the UTC time,
// "2026-07-01 08:30:00 local (UTC+02:00; 06:30:00Z)"; "unknown (not set)"
// while the lock's time is unknown. Never raw epoch seconds.
std::string FaceTime(const nlohmann::json& status);

class Face {
 public:
  // `log_lines` returns the last log lines to show (may be empty).
  Face(ControlHandler& control, NodeControls* node, Loop& loop, std::function<void()> quit,
       std::function<std::vector<std::string>()> log_lines);
  ~Face() { Stop(); }

  // Enters the alternate screen and raw keyboard mode (when stdin is a
  // terminal). False: stdout is not a terminal.
  bool Start();
  void Stop();
  // Redraws when the picture changed, or at least once a second.
  void Tick(uint64_t wall_ms);

  // The pure parts, for tests: the request a key makes (empty: none).
  std::string RequestForKey(char key, const nlohmann::json& status);
  // The picture for a status.
  std::string Render(const nlohmann::json& status);

 private:
  void OnInput();
  void HandleKey(char key);

  ControlHandler& control_;
  NodeControls* node_;
  Loop& loop_;
  std::function<void()> quit_;
  std::function<std::vector<std::string>()> log_lines_;
  bool active_ = false;
  bool keyboard_ = false;
  std::string last_frame_;
  uint64_t last_draw_ms_ = 0;
  std::string message_;       // the last action's outcome
  bool prompting_ = false;    // typing a card uid
  std::string prompt_;
  size_t next_card_ = 0;
  uint8_t next_finger_ = 1;
};

}  // namespace mortise::lockd
