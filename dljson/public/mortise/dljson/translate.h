// JSON lines to binary management commands (protocol::ManagementCommand):
// what a client runs before sending a Door Lock command to a lock, and what
// DoorLockJson::HandleLine runs before executing one. The lock decodes the
// binary once and authorises and executes that one value (management.h);
// JSON is parsed only here, on the side that wrote it.
//
// The JSON forms, statuses and messages are DoorLockJson's (dl_json.h): a
// request this refuses gets the same answer the adapter gives, so a client
// shows it exactly as if the lock had answered. Linux-side (uses exceptions
// internally, never lets one escape). Needs no lock engine.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/protocol/management.h"

namespace mortise::dljson {

// The command, or the refusal object ({"ok": false, "status": ..., "error":
// ...}) when the request is not one the lock could run.
struct Translation {
  std::optional<protocol::ManagementCommand> command;
  nlohmann::json refusal;
};

// {"invoke": name, "args": {...}}, {"read": name} or {"write": name, "value": v}.
Translation TranslateLine(std::string_view line);
Translation TranslateInvoke(std::string_view command, const nlohmann::json& args);
Translation TranslateRead(std::string_view attribute);
Translation TranslateWrite(std::string_view attribute, const nlohmann::json& value);

// The line's binary encoding (protocol::EncodeManagement), or the refusal.
struct EncodedLine {
  std::vector<uint8_t> payload;  // empty when refused
  nlohmann::json refusal;
};
EncodedLine EncodeLine(std::string_view line);

// The Door Lock commands TranslateInvoke knows, by their Matter names.
const std::vector<std::string>& CommandNames();

}  // namespace mortise::dljson
