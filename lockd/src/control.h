// The simulation control socket's request handler: one JSON line in, one
// JSON line out (docs/lockd.md, "Control socket"). What a person could do
// at a simulated door (type on the keypad, tap a card, turn the thumb-turn,
// open the door, pull the battery...), plus reading the lock's state and,
// with a simulated clock, advancing time.
//
// The handler is a pure function of the line and the objects it drives, so
// it is tested and fuzzed without sockets. A line that is not understood,
// an unknown command or a field of the wrong type is answered
// {"ok":false,"error":...} and changes nothing; nothing thrown inside
// escapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config.h"
#include "events.h"
#include "mortise/core/door_lock.h"
#include "mortise/status.h"
#include "sim_backend.h"

namespace mortise::lockd {

struct LabelText {
  std::string setup_code;  // 9 digits
  std::string payload;     // protocol::EncodeLabel's text (the QR code's content)
  std::string key_hash;    // 16 hex digits, printed for `mortise claim CODE --key-hash`
};

// The audit log's upload state (issue 9 item 2): the newest record, the
// upload cursor a custody holder moved, and the records written after it.
struct LogUploadStatus {
  uint64_t head = 0;
  uint64_t cursor = 0;
  uint64_t unacknowledged = 0;
};

// What the control socket needs from the protocol node (protocol::LockNode
// in the daemon; a fake in tests and the fuzzer).
class NodeControls {
 public:
  virtual ~NodeControls() = default;
  virtual bool claimed() const = 0;
  virtual bool claim_window_open(uint64_t now_ms) const = 0;
  virtual std::string lock_id_hex() const = 0;
  // The label while unclaimed; nullopt when claimed.
  virtual std::optional<LabelText> label() const = 0;
  virtual Status PressClaimButton(uint64_t now_ms) = 0;
  virtual Status FactoryReset(uint64_t now_ms) = 0;
  // nullopt: no audit log.
  virtual std::optional<LogUploadStatus> log_upload() const { return std::nullopt; }
};

// The longest request line accepted (the socket closes a client that sends
// a longer one).
inline constexpr size_t kMaxControlLine = 4096;
// Longest "advance" in one request: an hour of simulated time.
inline constexpr uint64_t kMaxAdvanceMs = 3600 * 1000;
inline constexpr uint64_t kTickMs = 10;

class ControlHandler {
 public:
  // All must outlive the handler. `node` may be null (no protocol: the
  // claim commands are refused and factory_reset resets the core only).
  ControlHandler(SimBackend& sim, core::DoorLock& lock, EventHistory& history, NodeControls* node,
                 ClockMode clock);

  // One request line (without its newline) to one response line (without
  // its newline). Never throws.
  std::string HandleLine(std::string_view line);

  // Bounds "advance" (kMaxAdvanceMs by default; the fuzzer lowers it).
  void set_max_advance_ms(uint64_t ms) { max_advance_ms_ = ms; }

  // The state as "status" reports it (also what the face draws).
  nlohmann::json StatusJson();
  // The uplink's status, shown as "uplink" in "status" (absent: no uplink).
  void set_uplink_status(std::function<nlohmann::json()> status) { uplink_status_ = std::move(status); }

  // Runs the simulated lock for `ms` in kTickMs ticks (physics, then the
  // core's Service()). The daemon's real-time loop uses it too.
  static void Run(Backend& backend, core::DoorLock& lock, uint64_t ms);

 private:
  nlohmann::json Handle(const nlohmann::json& request);

  SimBackend& sim_;
  core::DoorLock& lock_;
  EventHistory& history_;
  NodeControls* node_;
  ClockMode clock_;
  uint64_t max_advance_ms_ = kMaxAdvanceMs;
  std::function<nlohmann::json()> uplink_status_;
};

// An event as the control socket and the face show it: dljson's Matter
// names plus the audit-log sequence number.
nlohmann::json EntryToJson(const EventHistory::Entry& entry);

}  // namespace mortise::lockd
