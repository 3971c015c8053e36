#include "control.h"

#include <exception>
#include <set>
#include <stdexcept>
#include <vector>

#include "mortise/dljson/dl_json.h"
#include "names.h"

namespace mortise::lockd {
namespace {

using nlohmann::json;

// A refusal of the request; its text is the answer's "error".
class Refusal : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Typed access to a request's fields that refuses unknown ones.
class Fields {
 public:
  Fields(const std::string& cmd, const json& req, std::set<std::string> allowed) : cmd_(cmd), req_(req) {
    allowed.insert("cmd");
    for (const auto& [k, v] : req.items())
      if (!allowed.count(k)) throw Refusal(cmd + ": unknown field '" + k + "'");
  }
  bool Has(const char* name) const { return req_.contains(name); }
  bool Bool(const char* name) const {
    const json* v = Get(name);
    if (!v->is_boolean()) throw Refusal(cmd_ + ": field '" + name + "' must be true or false");
    return v->get<bool>();
  }
  bool OptBool(const char* name, bool fallback) const { return Has(name) ? Bool(name) : fallback; }
  uint64_t Uint(const char* name, uint64_t min, uint64_t max) const {
    const json* v = Get(name);
    const bool negative = v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() < 0;
    if (!v->is_number_integer() || negative || v->get<uint64_t>() < min || v->get<uint64_t>() > max)
      throw Refusal(cmd_ + ": field '" + name + "' must be an integer from " + std::to_string(min) + " to " +
                    std::to_string(max));
    return v->get<uint64_t>();
  }
  std::string String(const char* name, size_t min_len, size_t max_len) const {
    const json* v = Get(name);
    if (!v->is_string()) throw Refusal(cmd_ + ": field '" + name + "' must be a string");
    const std::string s = v->get<std::string>();
    if (s.size() < min_len || s.size() > max_len)
      throw Refusal(cmd_ + ": field '" + name + "' must be " + std::to_string(min_len) + " to " +
                    std::to_string(max_len) + " characters");
    return s;
  }
  std::vector<uint8_t> Hex(const char* name, size_t min_bytes, size_t max_bytes) const {
    const std::string s = String(name, 0, 2 * max_bytes + 2);
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    std::vector<uint8_t> out;
    bool ok = s.size() % 2 == 0;
    for (size_t i = 0; ok && i + 1 < s.size(); i += 2) {
      const int hi = nibble(s[i]), lo = nibble(s[i + 1]);
      if (hi < 0 || lo < 0) ok = false;
      else out.push_back(static_cast<uint8_t>(hi << 4 | lo));
    }
    if (!ok || out.size() < min_bytes || out.size() > max_bytes)
      throw Refusal(cmd_ + ": field '" + name + "' must be " + std::to_string(min_bytes) + " to " +
                    std::to_string(max_bytes) + " bytes of hex");
    return out;
  }

 private:
  const json* Get(const char* name) const {
    if (!req_.contains(name)) throw Refusal(cmd_ + ": field '" + std::string(name) + "' is required");
    return &req_.at(name);
  }
  std::string cmd_;
  const json& req_;
};

json Ok() { return json{{"ok", true}}; }

const std::vector<std::string>& CommandList() {
  static const std::vector<std::string> names = {
      "status", "keypad", "card", "finger", "thumbturn", "key", "handle", "button", "door", "battery",
      "emergency_power", "tamper", "jam", "advance", "claim_button", "factory_reset", "events", "label"};
  return names;
}

}  // namespace

json EntryToJson(const EventHistory::Entry& e) {
  json j;
  if (e.loss) {
    j = json{{"event", "Loss"}, {"lostCount", e.lost_count}};
  } else {
    j = dljson::EventToJson(e.event);
  }
  j["seq"] = e.seq;
  return j;
}

ControlHandler::ControlHandler(SimBackend& sim, core::DoorLock& lock, EventHistory& history, NodeControls* node,
                               ClockMode clock)
    : sim_(sim), lock_(lock), history_(history), node_(node), clock_(clock) {}

void ControlHandler::Run(Backend& backend, core::DoorLock& lock, uint64_t ms) {
  while (ms > 0) {
    const uint64_t tick = ms < kTickMs ? ms : kTickMs;
    backend.Step(tick);
    lock.Service();
    ms -= tick;
  }
}

std::string ControlHandler::HandleLine(std::string_view line) {
  json resp;
  try {
    if (line.size() > kMaxControlLine) {
      resp = json{{"ok", false}, {"error", "request line too long"}};
    } else {
      // A key given twice is refused: which of its values would count is
      // not what whoever wrote the line can know (the parser keeps the last).
      std::vector<std::set<std::string>> keys;
      std::string duplicate;
      const json::parser_callback_t note_keys = [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
          keys.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
          if (!keys.empty()) keys.pop_back();
        } else if (event == json::parse_event_t::key && !keys.empty() && parsed.is_string() &&
                   !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        return true;
      };
      json req = json::parse(line.begin(), line.end(), note_keys, /*allow_exceptions=*/false);
      if (req.is_discarded()) resp = json{{"ok", false}, {"error", "malformed JSON: expected one object per line"}};
      else if (!duplicate.empty())
        resp = json{{"ok", false}, {"error", "the key \"" + duplicate + "\" is given twice; give each key once"}};
      else resp = Handle(req);
    }
  } catch (const std::exception& e) {
    resp = json{{"ok", false}, {"error", std::string("internal error: ") + e.what()}};
  }
  try {
    return resp.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (...) {
    return R"({"ok":false,"error":"internal error"})";
  }
}

json ControlHandler::StatusJson() {
  const uint64_t now = sim_.now_ms();
  json j = Ok();
  j["bolt"] = core::BoltStateName(lock_.bolt_state());
  j["lockState"] = LockStateName(lock_.lock_state());
  j["door"] = DoorStateName(lock_.door_state());
  const core::DoorContact contact = sim_.mechanics().door();
  j["doorContact"] = contact == core::DoorContact::kNotFitted ? "not-fitted"
                     : contact == core::DoorContact::kOpen    ? "open"
                                                              : "closed";
  j["battery"] = json{{"percent", lock_.battery_percent()},
                      {"mv", lock_.battery_mv()},
                      {"present", sim_.battery_present()}};
  j["emergencyPower"] = lock_.emergency_power();
  j["escutcheonRemoved"] = sim_.escutcheon_removed();
  json recent = json::array();
  const auto& shown = sim_.ring_indicator().recent();
  static constexpr const char* kVolume[] = {"silent", "low", "high", "medium"};
  for (const auto& s : shown)
    recent.push_back(json{{"signal", SignalName(s.signal)},
                          {"atMs", s.at_ms},
                          {"led", s.how.led},
                          {"sound", kVolume[static_cast<uint8_t>(s.how.volume) & 3]}});
  j["indicator"] = json{{"last", shown.empty() ? json(nullptr) : json(SignalName(shown.back().signal))},
                        {"recent", recent}};
  j["operatingMode"] = OperatingModeName(lock_.effective_mode());
  j["configuredMode"] = OperatingModeName(lock_.settings().operating_mode);
  j["lockedOut"] = lock_.locked_out();
  j["lockoutRemainingS"] = lock_.lockout_remaining_s();
  j["keypadEntry"] = sim_.pending_keys().size();
  j["keypadProgrammingEntry"] = sim_.pending_programming();
  const core::ProgrammingMenu& menu = lock_.programming_menu();
  j["programming"] = json{{"step", MenuStepName(menu.step())},
                          {"note", MenuNoteName(menu.note())},
                          {"slot", menu.slot()},
                          {"text", ProgrammingText(menu)}};
  if (node_ != nullptr) {
    j["claimed"] = node_->claimed();
    j["claimWindowOpen"] = node_->claim_window_open(now);
    j["lockId"] = node_->lock_id_hex();
    if (const auto up = node_->log_upload()) {
      j["log"] = json{{"head", up->head}, {"uploadCursor", up->cursor}, {"unacknowledged", up->unacknowledged}};
    }
  } else {
    j["claimed"] = false;
    j["claimWindowOpen"] = false;
    j["lockId"] = nullptr;
  }
  j["clock"] = clock_ == ClockMode::kSimulated ? "simulated" : "real";
  j["monotonicMs"] = now;
  const auto utc = lock_.utc_now();
  j["utc"] = utc ? json(*utc) : json(nullptr);
  j["utcOffsetS"] = utc ? lock_.utc_offset_at(*utc) : lock_.settings().utc_offset_s;  // daylight saving included
  json events = json::array();
  for (const auto& e : history_.Recent(8)) events.push_back(EntryToJson(e));
  j["events"] = events;
  if (uplink_status_) j["uplink"] = uplink_status_();
  return j;
}

json ControlHandler::Handle(const json& req) {
  if (!req.is_object()) return json{{"ok", false}, {"error", "a request is a JSON object with \"cmd\""}};
  if (!req.contains("cmd") || !req.at("cmd").is_string())
    return json{{"ok", false}, {"error", "field 'cmd' (a string) is required"}};
  const std::string cmd = req.at("cmd").get<std::string>();
  const uint64_t now = sim_.now_ms();
  try {
    if (cmd == "status") {
      Fields f(cmd, req, {});
      return StatusJson();
    }
    if (cmd == "keypad") {
      Fields f(cmd, req, {"keys"});
      const std::string keys = f.String("keys", 1, 64);
      if (!SimBackend::ValidKeys(keys)) throw Refusal("keypad: field 'keys' takes only 0-9, * and #");
      sim_.PressKeys(keys);
      lock_.Service();
      json j = Ok();
      j["pending"] = sim_.pending_keys().size();
      return j;
    }
    if (cmd == "card") {
      Fields f(cmd, req, {"uid"});
      const auto uid = f.Hex("uid", 1, sizeof(core::CardRead{}.uid));
      sim_.TapCard(uid);
      lock_.Service();
      return Ok();
    }
    if (cmd == "finger") {
      Fields f(cmd, req, {"template", "template_hex", "match", "type"});
      core::CredentialType type = core::CredentialType::kFingerprint;
      if (f.Has("type")) {
        const std::string t = f.String("type", 1, 16);
        if (t == "Fingerprint") type = core::CredentialType::kFingerprint;
        else if (t == "FingerVein") type = core::CredentialType::kFingerVein;
        else if (t == "Face") type = core::CredentialType::kFace;
        else throw Refusal("finger: field 'type' must be Fingerprint, FingerVein or Face");
      }
      const bool match = f.OptBool("match", true);
      if (!match) {
        if (f.Has("template") || f.Has("template_hex"))
          throw Refusal("finger: a non-matching finger has no template");
        sim_.FingerNoMatch(type);
      } else {
        std::vector<uint8_t> id;
        if (f.Has("template") == f.Has("template_hex"))
          throw Refusal("finger: exactly one of 'template' (0-255) or 'template_hex' is required");
        if (f.Has("template")) id.push_back(static_cast<uint8_t>(f.Uint("template", 0, 255)));
        else id = f.Hex("template_hex", 1, sizeof(core::BiometricRead{}.template_id));
        sim_.Finger(id, type);
      }
      lock_.Service();
      return Ok();
    }
    if (cmd == "thumbturn" || cmd == "key") {
      Fields f(cmd, req, {"lock"});
      const bool lock = f.Bool("lock");
      if (cmd == "key") sim_.TurnKey(lock);
      else sim_.TurnThumbTurn(lock);
      lock_.Service();
      return Ok();
    }
    if (cmd == "handle") {
      Fields f(cmd, req, {});
      sim_.PullHandle();
      lock_.Service();
      return Ok();
    }
    if (cmd == "button") {
      Fields f(cmd, req, {"name"});
      const std::string name = f.String("name", 1, 32);
      core::ManualInput in;
      if (name == "inside_lock") in = core::ManualInput::kInsideLockButton;
      else if (name == "inside_unlock") in = core::ManualInput::kInsideUnlockButton;
      else if (name == "privacy") in = core::ManualInput::kPrivacyButton;
      else if (name == "outside_lock") in = core::ManualInput::kOutsideLockButton;
      else throw Refusal("button: field 'name' must be inside_lock, inside_unlock, privacy or outside_lock");
      sim_.PressButton(in);
      lock_.Service();
      return Ok();
    }
    if (cmd == "door") {
      Fields f(cmd, req, {"open"});
      const bool open = f.Bool("open");
      if (!sim_.door_sensor()) throw Refusal("door: this lock has no door sensor ([sim] door_sensor = false)");
      sim_.SetDoorOpen(open);
      lock_.Service();
      return Ok();
    }
    if (cmd == "battery") {
      Fields f(cmd, req, {"percent", "present"});
      if (!f.Has("percent") && !f.Has("present")) throw Refusal("battery: give 'percent' (0-100) or 'present'");
      std::optional<uint8_t> percent;
      if (f.Has("percent")) percent = static_cast<uint8_t>(f.Uint("percent", 0, 100));
      std::optional<bool> present;
      if (f.Has("present")) present = f.Bool("present");
      if (percent) sim_.SetBatteryPercent(*percent);
      if (present) sim_.SetBatteryPresent(*present);
      lock_.Service();
      return Ok();
    }
    if (cmd == "emergency_power") {
      Fields f(cmd, req, {"on"});
      sim_.SetEmergencyPower(f.Bool("on"));
      lock_.Service();
      return Ok();
    }
    if (cmd == "tamper") {
      Fields f(cmd, req, {"removed"});
      sim_.SetEscutcheonRemoved(f.OptBool("removed", true));
      lock_.Service();
      return Ok();
    }
    if (cmd == "jam") {
      Fields f(cmd, req, {"attempts", "forever"});
      if (f.Has("attempts") == f.Has("forever")) throw Refusal("jam: exactly one of 'attempts' or 'forever'");
      if (f.Has("attempts")) sim_.Jam(static_cast<int>(f.Uint("attempts", 0, 10)));
      else sim_.JamForever(f.Bool("forever"));
      return Ok();
    }
    if (cmd == "advance") {
      Fields f(cmd, req, {"ms"});
      const uint64_t ms = f.Uint("ms", 1, max_advance_ms_);
      if (clock_ != ClockMode::kSimulated)
        throw Refusal("advance: this daemon runs on the real clock; set [sim] clock = \"simulated\" to advance time");
      Run(sim_, lock_, ms);
      json j = Ok();
      j["monotonicMs"] = sim_.now_ms();
      return j;
    }
    if (cmd == "claim_button") {
      Fields f(cmd, req, {});
      if (node_ == nullptr) throw Refusal("claim_button: no protocol node");
      const mortise::Status s = node_->PressClaimButton(now);
      if (s.code() == StatusCode::kAlreadyExists) throw Refusal("claim_button: the lock is claimed");
      if (!s.ok()) throw Refusal(std::string("claim_button: ") + s.name());
      json j = Ok();
      j["claimWindowOpen"] = node_->claim_window_open(now);
      return j;
    }
    if (cmd == "factory_reset") {
      Fields f(cmd, req, {});
      const mortise::Status s = node_ != nullptr ? node_->FactoryReset(now) : lock_.FactoryReset();
      if (!s.ok()) throw Refusal(std::string("factory_reset: ") + s.name());
      lock_.Service();
      return Ok();
    }
    if (cmd == "events") {
      Fields f(cmd, req, {"since", "limit"});
      const uint64_t since = f.Has("since") ? f.Uint("since", 0, UINT64_MAX) : 0;
      const size_t limit = f.Has("limit") ? static_cast<size_t>(f.Uint("limit", 1, 500)) : 100;
      json events = json::array();
      uint64_t last = since;
      for (const auto& e : history_.Since(since, limit)) {
        events.push_back(EntryToJson(e));
        last = e.seq;
      }
      json j = Ok();
      j["events"] = events;
      j["last"] = last;
      return j;
    }
    if (cmd == "label") {
      Fields f(cmd, req, {});
      if (node_ == nullptr) throw Refusal("label: no protocol node");
      auto label = node_->label();
      if (!label) throw Refusal("label: the lock is claimed; the label is shown only while it is unclaimed");
      json j = Ok();
      j["setupCode"] = label->setup_code;
      j["payload"] = label->payload;
      j["keyHash"] = label->key_hash;
      j["lockId"] = node_->lock_id_hex();
      j["claimWindowOpen"] = node_->claim_window_open(now);
      return j;
    }
    std::string known;
    for (const auto& n : CommandList()) known += (known.empty() ? "" : ", ") + n;
    return json{{"ok", false}, {"error", "unknown command '" + cmd + "'; commands: " + known}};
  } catch (const Refusal& r) {
    return json{{"ok", false}, {"error", r.what()}};
  } catch (const json::exception& e) {
    return json{{"ok", false}, {"error", cmd + ": " + e.what()}};
  }
}

}  // namespace mortise::lockd
