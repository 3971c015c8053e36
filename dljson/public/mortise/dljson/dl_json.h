// The Door Lock cluster as JSON lines: any Matter command or attribute, by
// its Matter name, answered as JSON with the cluster's status. This is the
// management surface that mortise-lockd's sockets and the CLI's `dl` verb
// carry; authorisation (which role may call what) is the protocol layer's,
// decided before a line reaches this adapter.
//
// One request line, one response line:
//   {"invoke": "SetUser", "args": {"operationType": "Add", "userIndex": 3, "userName": "ann"}}
//   {"read": "AutoRelockTime"}
//   {"write": "AutoRelockTime", "value": 30}
// Responses carry "ok" (the line was understood and executed) and, for
// commands and attribute writes, the cluster's "status" ("Success",
// "Occupied", "InvalidField", ...; a read answers its value):
//   {"ok": true, "status": "Success"}
//   {"ok": true, "status": "Success", "attribute": "AutoRelockTime", "value": 30}
// A line the adapter refuses changes nothing and answers with the status a
// Matter server gives before the cluster sees the request, in the same
// field, and a message a person can act on:
//   {"ok": false, "status": "ConstraintError",
//    "error": "SetUser: field 'userIndex' must be an integer from 0 to 65535"}
// InvalidCommand: a field missing, unknown or of the wrong kind;
// ConstraintError: a value outside its range, or an enum value that names no
// member (a user status of 2, an operating mode of 5), in command fields and
// attribute writes alike; UnsupportedCommand / UnsupportedAttribute: no such
// name; UnsupportedWrite: a read-only attribute; InvalidInState: a write the
// lock's present state forbids; InvalidAction: not a request at all;
// Failure: the lock could not store or read it.
//
// Field names are the Matter specification's, in the camelCase chip-tool
// uses; enum fields take the Matter name ("OccupiedEnabled") or its number.
// Credential data is a string (its bytes, e.g. PIN digits) or {"hex": "..."}.
// Linux-side (uses exceptions internally, never lets one escape).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/core/door_lock.h"
#include "mortise/dljson/event_json.h"
#include "mortise/dljson/translate.h"

namespace mortise::dljson {

class DoorLockJson {
 public:
  // `actor` is recorded as the source and creator of every change;
  // `user_index` is the user the requester's key maps to (0: none).
  DoorLockJson(core::DoorLock& lock, core::Actor actor, uint16_t user_index = 0);

  // The protocol key that asked, recorded in the events of Lock/Unlock/
  // Unbolt/UnlockWithTimeout (core::RemoteOperation::key).
  void set_key(std::optional<core::CredentialRef> key) { key_ = key; }

  // Translates the line (translate.h) and executes it: the control socket's
  // and the tests' entry point.
  std::string HandleLine(std::string_view line);

  nlohmann::json Invoke(std::string_view command, const nlohmann::json& args);
  nlohmann::json Read(std::string_view attribute);
  nlohmann::json Write(std::string_view attribute, const nlohmann::json& value);

  // Runs a decoded management command (the lock's side: the protocol decoded
  // and authorised it; see protocol/management.h) and answers as JSON.
  nlohmann::json Execute(const protocol::ManagementCommand& command);

  static const std::vector<std::string>& CommandNames();

 private:
  nlohmann::json ExecuteImpl(const protocol::ManagementCommand& command);
  core::DoorLock& lock_;
  core::Actor actor_;
  uint16_t user_index_;
  std::optional<core::CredentialRef> key_;
};

}  // namespace mortise::dljson
