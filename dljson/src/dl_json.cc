#include "mortise/dljson/dl_json.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "enum_names.h"
#include "mortise/dljson/translate.h"

namespace mortise::dljson {
namespace {

using json = nlohmann::json;
using namespace core;
using namespace enum_names;  // NOLINT: this module's own tables


json Opt(const std::optional<uint16_t>& v) { return v ? json(*v) : json(nullptr); }

json StatusJson(DlStatus s) { return json{{"ok", true}, {"status", DlStatusName(s)}}; }

json Operation(const OperationResult& r) {
  json out = StatusJson(r.status);
  if (!r.ok()) {
    out["error"] = kOperationError.Name(r.error);
    if (r.detail != EventDetail::kNone) out["detail"] = kDetail.Name(r.detail);
  }
  return out;
}

json UserJson(const GetUserResponse& r) {
  json out = StatusJson(r.status);
  out["userIndex"] = r.user_index;
  out["nextUserIndex"] = Opt(r.next_user_index);
  if (!r.occupied) {
    for (const char* f : {"userName", "userUniqueID", "userStatus", "userType", "credentialRule", "credentials",
                          "creatorFabricIndex", "lastModifiedFabricIndex"})
      out[f] = nullptr;
    return out;
  }
  const User& u = r.user;
  out["userName"] = std::string(u.name_view());
  out["userUniqueID"] = u.unique_id == 0xFFFFFFFF ? json(nullptr) : json(u.unique_id);
  out["userStatus"] = kUserStatus.Name(u.status);
  out["userType"] = kUserType.Name(u.type);
  out["credentialRule"] = kCredentialRule.Name(u.rule);
  json creds = json::array();
  for (uint8_t i = 0; i < r.credential_count; ++i)
    creds.push_back({{"credentialType", kCredentialType.Name(r.credentials[i].type)},
                     {"credentialIndex", r.credentials[i].index}});
  out["credentials"] = creds;
  out["creatorFabricIndex"] = u.creator;
  out["lastModifiedFabricIndex"] = u.last_modifier;
  return out;
}

}  // namespace

DoorLockJson::DoorLockJson(DoorLock& lock, Actor actor, uint16_t user_index)
    : lock_(lock), actor_(actor), user_index_(user_index) {}

const std::vector<std::string>& DoorLockJson::CommandNames() { return dljson::CommandNames(); }

json DoorLockJson::Invoke(std::string_view command, const json& args) {
  Translation t = TranslateInvoke(command, args);
  return t.command ? Execute(*t.command) : t.refusal;
}

json DoorLockJson::Read(std::string_view attribute) {
  Translation t = TranslateRead(attribute);
  return t.command ? Execute(*t.command) : t.refusal;
}

json DoorLockJson::Write(std::string_view attribute, const json& value) {
  Translation t = TranslateWrite(attribute, value);
  return t.command ? Execute(*t.command) : t.refusal;
}

json DoorLockJson::Execute(const protocol::ManagementCommand& c) {
  try {
    return ExecuteImpl(c);
  } catch (const std::exception& e) {
    return Refused(kFailure, std::string("internal error: ") + e.what());
  }
}

json DoorLockJson::ExecuteImpl(const protocol::ManagementCommand& c) {
  using Op = protocol::ManagementOp;
  UserDatabase& db = lock_.users();
  RemoteOperation op;
  op.source = actor_.source;
  op.user_index = user_index_;
  op.key = key_;
  if (c.pin_length != 0) op.pin = c.pin_span();
  switch (c.op) {
    case Op::kLockDoor: return Operation(lock_.LockDoor(op));
    case Op::kUnlockDoor: return Operation(lock_.UnlockDoor(op));
    case Op::kUnboltDoor: return Operation(lock_.UnboltDoor(op));
    case Op::kUnlockWithTimeout: return Operation(lock_.UnlockWithTimeout(op, c.timeout_s));
    case Op::kSetUser: {
      SetUserRequest r;
      r.operation = c.operation;
      r.user_index = c.user_index;
      if (c.has_user_name) r.user_name = c.user_name_view();
      r.user_unique_id = c.user_unique_id;
      r.user_status = c.user_status;
      r.user_type = c.user_type;
      r.credential_rule = c.credential_rule;
      return StatusJson(db.SetUser(r, actor_));
    }
    case Op::kGetUser: return UserJson(db.GetUser(c.user_index));
    case Op::kClearUser: return StatusJson(db.ClearUser(c.user_index, actor_));
    case Op::kSetCredential: {
      if (!c.credential) return Refused(kInvalidCommand, "SetCredential: field 'credential' is required");
      SetCredentialRequest r;
      r.operation = c.operation;
      r.credential = *c.credential;
      r.credential_data = c.credential_data_span();
      if (c.has_user_index) r.user_index = c.user_index;
      r.user_status = c.user_status;
      r.user_type = c.user_type;
      auto resp = lock_.SetCredential(r, actor_);  // duplicates counted (A15, A20)
      json out = StatusJson(resp.status);
      out["userIndex"] = Opt(resp.user_index);
      out["nextCredentialIndex"] = Opt(resp.next_credential_index);
      return out;
    }
    case Op::kGetCredentialStatus: {
      if (!c.credential) return Refused(kInvalidCommand, "GetCredentialStatus: field 'credential' is required");
      auto resp = db.GetCredentialStatus(*c.credential);
      json out = StatusJson(DlStatus::kSuccess);
      out["credentialExists"] = resp.credential_exists;
      out["userIndex"] = Opt(resp.user_index);
      out["creatorFabricIndex"] = resp.creator ? json(*resp.creator) : json(nullptr);
      out["lastModifiedFabricIndex"] = resp.last_modifier ? json(*resp.last_modifier) : json(nullptr);
      out["nextCredentialIndex"] = Opt(resp.next_credential_index);
      return out;
    }
    case Op::kClearCredential: return StatusJson(db.ClearCredential(c.credential, actor_));
    case Op::kSetWeekDaySchedule: {
      WeekDaySchedule s;
      s.days_mask = c.days_mask;
      s.start_hour = c.start_hour;
      s.start_minute = c.start_minute;
      s.end_hour = c.end_hour;
      s.end_minute = c.end_minute;
      return StatusJson(db.SetWeekDaySchedule(c.schedule_index, c.user_index, s, actor_));
    }
    case Op::kGetWeekDaySchedule: {
      auto r = db.GetWeekDaySchedule(c.schedule_index, c.user_index);
      json out = StatusJson(r.status);
      out["weekDayIndex"] = r.week_day_index;
      out["userIndex"] = r.user_index;
      if (r.status == DlStatus::kSuccess) {
        out["daysMask"] = r.schedule.days_mask;
        out["startHour"] = r.schedule.start_hour;
        out["startMinute"] = r.schedule.start_minute;
        out["endHour"] = r.schedule.end_hour;
        out["endMinute"] = r.schedule.end_minute;
      }
      return out;
    }
    case Op::kClearWeekDaySchedule:
      return StatusJson(db.ClearWeekDaySchedule(c.schedule_index, c.user_index, actor_));
    case Op::kSetYearDaySchedule: {
      YearDaySchedule s;
      s.local_start = c.local_start;
      s.local_end = c.local_end;
      return StatusJson(db.SetYearDaySchedule(c.schedule_index, c.user_index, s, actor_));
    }
    case Op::kGetYearDaySchedule: {
      auto r = db.GetYearDaySchedule(c.schedule_index, c.user_index);
      json out = StatusJson(r.status);
      out["yearDayIndex"] = r.year_day_index;
      out["userIndex"] = r.user_index;
      if (r.status == DlStatus::kSuccess) {
        out["localStartTime"] = r.schedule.local_start;
        out["localEndTime"] = r.schedule.local_end;
      }
      return out;
    }
    case Op::kClearYearDaySchedule:
      return StatusJson(db.ClearYearDaySchedule(c.schedule_index, c.user_index, actor_));
    case Op::kSetHolidaySchedule: {
      HolidaySchedule s;
      s.local_start = c.local_start;
      s.local_end = c.local_end;
      s.mode = c.holiday_mode;
      return StatusJson(db.SetHolidaySchedule(c.schedule_index, s, actor_));
    }
    case Op::kGetHolidaySchedule: {
      auto r = db.GetHolidaySchedule(c.schedule_index);
      json out = StatusJson(r.status);
      out["holidayIndex"] = r.holiday_index;
      if (r.status == DlStatus::kSuccess) {
        out["localStartTime"] = r.schedule.local_start;
        out["localEndTime"] = r.schedule.local_end;
        out["operatingMode"] = kOperatingMode.Name(r.schedule.mode);
      }
      return out;
    }
    case Op::kClearHolidaySchedule: return StatusJson(db.ClearHolidaySchedule(c.schedule_index, actor_));
    case Op::kReadAttribute: {
      const AttributeInfo* info = FindAttribute(c.attribute);
      if (info == nullptr) return Refused(kUnsupportedAttribute, "unknown attribute");
      auto v = lock_.ReadAttribute(info->id);
      if (!v.ok()) return Refused(kFailure, std::string("cannot read ") + info->name);
      return json{{"ok", true}, {"attribute", info->name}, {"value", *v}};
    }
    case Op::kWriteAttribute: {
      const AttributeInfo* info = FindAttribute(c.attribute);
      if (info == nullptr) return Refused(kUnsupportedAttribute, "unknown attribute");
      if (!info->writable) return Refused(kUnsupportedWrite, std::string(info->name) + " is read-only");
      const int64_t v = c.value;
      if (v < info->min || v > info->max)
        return Refused(kConstraintError, std::string(info->name) + " must be from " + std::to_string(info->min) +
                                             " to " + std::to_string(info->max));
      Status s = lock_.WriteAttribute(info->id, v, actor_.source);
      if (!s.ok()) {
        const bool state = s.code() == StatusCode::kFailedPrecondition;
        const bool range = s.code() == StatusCode::kInvalidArgument;
        std::string why = state ? "not possible in the lock's present state"
                          : range ? "not a value the lock supports, or inconsistent with the other settings"
                                  : "could not be stored";
        return Refused(state ? kInvalidInState : range ? kConstraintError : kFailure,
                       std::string(info->name) + " = " + std::to_string(v) + ": " + why);
      }
      // A write answers with a status like every command (Matter's
      // WriteResponse carries SUCCESS per attribute), in the same field.
      json out = StatusJson(DlStatus::kSuccess);
      out["attribute"] = info->name;
      out["value"] = v;
      return out;
    }
    case Op::kTransferOwnership:
      break;  // the protocol's own command (the command executor runs it), not the Door Lock cluster's
  }
  return Refused(kUnsupportedCommand, "unknown management command");
}

std::string DoorLockJson::HandleLine(std::string_view line) {
  try {
    Translation t = TranslateLine(line);
    const json resp = t.command ? Execute(*t.command) : t.refusal;
    return resp.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception& e) {
    // Nothing escapes the module edge; nothing was changed past validation.
    return Refused(kFailure, std::string("internal error: ") + e.what()).dump(
        -1, ' ', false, json::error_handler_t::replace);
  }
}

}  // namespace mortise::dljson
