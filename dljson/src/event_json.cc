// Events as JSON with Matter names (mortise_dljson_events): what a reader of
// logs needs (the CLI, a server), without the Door Lock adapter or the engine.
#include "mortise/dljson/event_json.h"

#include "enum_names.h"

namespace mortise::dljson {

using namespace enum_names;  // NOLINT: this module's own tables

json EventToJson(const LockEvent& e) {
  json out{{"event", EventKindName(e.kind)}, {"utc", e.utc_seconds}, {"monotonicMs", e.monotonic_ms}};
  switch (e.kind) {
    case EventKind::kLockOperation:
    case EventKind::kLockOperationError:
      out["lockOperationType"] = kLockOperation.Name(e.operation);
      out["operationSource"] = kSource.Name(e.source);
      out["userIndex"] = e.user_index == 0 ? json(nullptr) : json(e.user_index);
      // Matter: Credentials, a nullable list of CredentialStruct; FabricIndex
      // and SourceNode belong to a Matter bridge and are null here.
      out["credentials"] = e.has_credential ? json::array({json{{"credentialType", kCredentialType.Name(e.credential.type)},
                                                                {"credentialIndex", e.credential.index}}})
                                            : json(nullptr);
      out["fabricIndex"] = nullptr;
      out["sourceNode"] = nullptr;
      if (e.kind == EventKind::kLockOperationError) out["operationError"] = kOperationError.Name(e.error);
      break;
    case EventKind::kLockUserChange:
      out["lockDataType"] = kLockDataType.Name(e.data_type);
      out["dataOperationType"] = kDataOperation.Name(e.data_operation);
      out["operationSource"] = kSource.Name(e.source);
      out["userIndex"] = e.user_index == 0 ? json(nullptr) : json(e.user_index);
      out["dataIndex"] = e.data_index == 0 ? json(nullptr) : json(e.data_index);
      break;
    case EventKind::kDoorStateChange: out["doorState"] = kDoorState.Name(e.door_state); break;
    case EventKind::kDoorLockAlarm:
      out["alarmCode"] = kAlarm.Name(e.alarm);
      // Codes 0x80 and up are Mortise's power alarms, not Matter AlarmCodeEnum values.
      if (static_cast<uint8_t>(e.alarm) >= 0x80) out["mortiseExtension"] = true;
      break;
    // Mortise's own kinds (core/event.h): not Matter events.
    case EventKind::kOperatingModeChange:
      out["operatingMode"] = kOperatingMode.Name(static_cast<OperatingMode>(e.data_index));
      out["operationSource"] = kSource.Name(e.source);
      out["mortiseExtension"] = true;
      break;
    case EventKind::kAccessListChange:
    case EventKind::kKeyRefused:
      out["operationSource"] = kSource.Name(e.source);
      out["credentials"] = e.has_credential ? json::array({json{{"credentialType", kCredentialType.Name(e.credential.type)},
                                                                {"credentialIndex", e.credential.index}}})
                                            : json(nullptr);
      out[e.kind == EventKind::kKeyRefused ? "unrecordedBefore" : "keysListed"] = e.data_index;
      out["mortiseExtension"] = true;
      break;
  }
  if (e.detail != EventDetail::kNone) out["detail"] = kDetail.Name(e.detail);
  return out;
}

}  // namespace mortise::dljson
