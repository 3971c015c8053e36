// Translation of JSON requests into protocol::ManagementCommand
// (mortise_dljson_client): every JSON name, type and range check of the Door
// Lock adapter, on the side that wrote the JSON.
#include "mortise/dljson/translate.h"

#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>

#include "enum_names.h"

namespace mortise::dljson {
namespace {

using namespace enum_names;  // NOLINT: this module's own tables
using protocol::ManagementCommand;
using protocol::ManagementOp;

// Reads a command's arguments; every accessor refuses with a message that
// names the command, the field and what is expected. Unknown fields are
// refused too, so a typo never silently becomes "field absent".
class Args {
 public:
  Args(std::string_view command, const json& j) : command_(command), j_(j) {
    if (!j.is_object()) Fail("arguments must be a JSON object");
  }

  [[noreturn]] void Fail(const std::string& what, const char* status = kInvalidCommand) const {
    throw Refusal(std::string(command_) + ": " + what, status);
  }

  bool Has(const char* name) {
    known_.insert(name);
    return j_.contains(name) && !j_.at(name).is_null();
  }
  // Present, possibly as an explicit null.
  bool Present(const char* name) {
    known_.insert(name);
    return j_.contains(name);
  }

  int64_t Int(const char* name, int64_t min, int64_t max) {
    if (!Has(name)) Fail(std::string("field '") + name + "' is required");
    return IntValue(name, min, max);
  }
  std::optional<int64_t> OptInt(const char* name, int64_t min, int64_t max) {
    if (!Has(name)) return std::nullopt;
    return IntValue(name, min, max);
  }

  template <typename E>
  E Enum(const char* name, const EnumNames<E>& names) {
    if (!Has(name)) Fail(std::string("field '") + name + "' is required");
    return EnumValue(name, names);
  }
  template <typename E>
  std::optional<E> OptEnum(const char* name, const EnumNames<E>& names) {
    if (!Has(name)) return std::nullopt;
    return EnumValue(name, names);
  }

  std::optional<std::string> OptString(const char* name, size_t max_len) {
    if (!Has(name)) return std::nullopt;
    const json& v = j_.at(name);
    if (!v.is_string()) Fail(std::string("field '") + name + "' must be a string");
    std::string s = v.get<std::string>();
    if (s.size() > max_len)
      Fail(std::string("field '") + name + "' must be at most " + std::to_string(max_len) + " bytes", kConstraintError);
    return s;
  }

  // A string's bytes, or {"hex": "..."}.
  std::vector<uint8_t> Bytes(const char* name, size_t max_len) {
    if (!Has(name)) Fail(std::string("field '") + name + "' is required");
    const json& v = j_.at(name);
    std::vector<uint8_t> out;
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      out.assign(s.begin(), s.end());
    } else if (v.is_object() && v.size() == 1 && v.contains("hex") && v.at("hex").is_string()) {
      const std::string h = v.at("hex").get<std::string>();
      if (h.size() % 2 != 0) Fail(std::string("field '") + name + "': hex needs an even number of digits");
      for (size_t i = 0; i < h.size(); i += 2) {
        auto nib = [&](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          char shown[8];
          std::snprintf(shown, sizeof(shown), "\\x%02X", static_cast<unsigned char>(c));
          Fail(std::string("field '") + name + "': byte " + shown + " is not a hex digit");
        };
        out.push_back(static_cast<uint8_t>(nib(h[i]) << 4 | nib(h[i + 1])));
      }
    } else {
      Fail(std::string("field '") + name + "' must be a string or {\"hex\": \"...\"}");
    }
    if (out.size() > max_len)
      Fail(std::string("field '") + name + "' must be at most " + std::to_string(max_len) + " bytes", kConstraintError);
    return out;
  }

  // A CredentialStruct {"credentialType": ..., "credentialIndex": ...}.
  std::optional<CredentialRef> OptCredential(const char* name) {
    if (!Has(name)) return std::nullopt;
    Args c(std::string(command_) + "." + name, j_.at(name));
    CredentialRef r;
    r.type = c.Enum("credentialType", kCredentialType);
    r.index = static_cast<uint16_t>(c.Int("credentialIndex", 0, 0xFFFF));
    c.Done();
    return r;
  }

  // Refuses fields the command does not know.
  void Done() const {
    for (const auto& [k, v] : j_.items())
      if (!known_.count(k)) Fail("unknown field '" + k + "'");
  }

 private:
  int64_t IntValue(const char* name, int64_t min, int64_t max) {
    const json& v = j_.at(name);
    // An unsigned value above INT64_MAX would wrap negative through get<int64_t>.
    const bool huge = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX);
    if (!v.is_number_integer() || huge || v.get<int64_t>() < min || v.get<int64_t>() > max)
      Fail(std::string("field '") + name + "' must be an integer from " + std::to_string(min) + " to " +
               std::to_string(max),
           v.is_number_integer() ? kConstraintError : kInvalidCommand);
    return v.get<int64_t>();
  }
  template <typename E>
  E EnumValue(const char* name, const EnumNames<E>& names) {
    const json& v = j_.at(name);
    auto e = names.Parse(v);
    // A value of the enum's kind that names no member is out of range
    // (CONSTRAINT_ERROR, as a Matter server answers for an unknown enum
    // value); anything else is not the field at all.
    if (!e)
      Fail(std::string("field '") + name + "' must be a " + names.type + ": " + names.Choices(),
           v.is_string() || v.is_number_integer() ? kConstraintError : kInvalidCommand);
    return *e;
  }

  std::string command_;
  const json& j_;
  std::set<std::string> known_;
};

Translation Refuse(const char* status, const std::string& message) {
  Translation t;
  t.refusal = Refused(status, message);
  return t;
}

Translation Accept(const ManagementCommand& c) {
  Translation t;
  t.command = c;
  return t;
}

void SetPin(Args& a, ManagementCommand& c) {
  if (!a.Has("PINCode")) return;
  const std::vector<uint8_t> pin = a.Bytes("PINCode", protocol::kMaxManagementPin);
  if (pin.empty()) a.Fail("field 'PINCode' must not be empty (leave it out for none)", kConstraintError);
  std::memcpy(c.pin.data(), pin.data(), pin.size());
  c.pin_length = static_cast<uint8_t>(pin.size());
}

// Which ManagementOp a Door Lock command name is.
const std::pair<const char*, ManagementOp> kOps[] = {
    {"LockDoor", ManagementOp::kLockDoor},
    {"UnlockDoor", ManagementOp::kUnlockDoor},
    {"UnlockWithTimeout", ManagementOp::kUnlockWithTimeout},
    {"UnboltDoor", ManagementOp::kUnboltDoor},
    {"SetUser", ManagementOp::kSetUser},
    {"GetUser", ManagementOp::kGetUser},
    {"ClearUser", ManagementOp::kClearUser},
    {"SetCredential", ManagementOp::kSetCredential},
    {"GetCredentialStatus", ManagementOp::kGetCredentialStatus},
    {"ClearCredential", ManagementOp::kClearCredential},
    {"SetWeekDaySchedule", ManagementOp::kSetWeekDaySchedule},
    {"GetWeekDaySchedule", ManagementOp::kGetWeekDaySchedule},
    {"ClearWeekDaySchedule", ManagementOp::kClearWeekDaySchedule},
    {"SetYearDaySchedule", ManagementOp::kSetYearDaySchedule},
    {"GetYearDaySchedule", ManagementOp::kGetYearDaySchedule},
    {"ClearYearDaySchedule", ManagementOp::kClearYearDaySchedule},
    {"SetHolidaySchedule", ManagementOp::kSetHolidaySchedule},
    {"GetHolidaySchedule", ManagementOp::kGetHolidaySchedule},
    {"ClearHolidaySchedule", ManagementOp::kClearHolidaySchedule},
};

ManagementCommand InvokeCommand(std::string_view command, const json& args_json) {
  ManagementCommand c;
  const ManagementOp* op = nullptr;
  for (const auto& [n, o] : kOps)
    if (command == n) op = &o;
  if (op == nullptr) {
    std::string known;
    for (const auto& n : CommandNames()) known += (known.empty() ? "" : ", ") + n;
    throw Refusal("unknown command '" + std::string(command) + "'; Door Lock commands: " + known,
                  kUnsupportedCommand);
  }
  c.op = *op;
  Args a(command, args_json);
  using Op = ManagementOp;
  switch (c.op) {
    case Op::kLockDoor:
    case Op::kUnlockDoor:
    case Op::kUnboltDoor:
      SetPin(a, c);
      break;
    case Op::kUnlockWithTimeout:
      c.timeout_s = static_cast<uint16_t>(a.Int("timeout", 1, 0xFFFF));
      SetPin(a, c);
      break;
    case Op::kSetUser: {
      c.operation = a.Enum("operationType", kDataOperation);
      c.user_index = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      if (auto name = a.OptString("userName", protocol::kMaxManagementUserName)) {
        c.has_user_name = true;
        c.user_name_length = static_cast<uint8_t>(name->size());
        std::memcpy(c.user_name.data(), name->data(), name->size());
      }
      if (auto id = a.OptInt("userUniqueID", 0, 0xFFFFFFFF)) c.user_unique_id = static_cast<uint32_t>(*id);
      c.user_status = a.OptEnum("userStatus", kUserStatus);
      c.user_type = a.OptEnum("userType", kUserType);
      c.credential_rule = a.OptEnum("credentialRule", kCredentialRule);
      break;
    }
    case Op::kGetUser:
    case Op::kClearUser:
      c.user_index = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      break;
    case Op::kSetCredential: {
      c.operation = a.Enum("operationType", kDataOperation);
      c.credential = a.OptCredential("credential");
      if (!c.credential) a.Fail("field 'credential' is required");
      const std::vector<uint8_t> data = a.Bytes("credentialData", protocol::kMaxManagementCredentialData);
      if (!data.empty()) std::memcpy(c.credential_data.data(), data.data(), data.size());
      c.credential_data_length = static_cast<uint8_t>(data.size());
      if (auto u = a.OptInt("userIndex", 0, 0xFFFF)) {
        c.has_user_index = true;
        c.user_index = static_cast<uint16_t>(*u);
      }
      c.user_status = a.OptEnum("userStatus", kUserStatus);
      c.user_type = a.OptEnum("userType", kUserType);
      break;
    }
    case Op::kGetCredentialStatus:
      c.credential = a.OptCredential("credential");
      if (!c.credential) a.Fail("field 'credential' is required");
      break;
    case Op::kClearCredential:
      // Clearing everything needs an explicit "credential": null; a missing
      // field is a mistake, not the most destructive request there is.
      if (!a.Present("credential")) a.Fail("field 'credential' is required (null clears every credential)");
      c.credential = a.OptCredential("credential");
      break;
    case Op::kSetWeekDaySchedule:
    case Op::kGetWeekDaySchedule:
    case Op::kClearWeekDaySchedule:
      c.schedule_index = static_cast<uint8_t>(a.Int("weekDayIndex", 0, 0xFF));
      c.user_index = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      if (c.op == Op::kSetWeekDaySchedule) {
        c.days_mask = static_cast<uint8_t>(a.Int("daysMask", 0, 0xFF));
        c.start_hour = static_cast<uint8_t>(a.Int("startHour", 0, 0xFF));
        c.start_minute = static_cast<uint8_t>(a.Int("startMinute", 0, 0xFF));
        c.end_hour = static_cast<uint8_t>(a.Int("endHour", 0, 0xFF));
        c.end_minute = static_cast<uint8_t>(a.Int("endMinute", 0, 0xFF));
      }
      break;
    case Op::kSetYearDaySchedule:
    case Op::kGetYearDaySchedule:
    case Op::kClearYearDaySchedule:
      c.schedule_index = static_cast<uint8_t>(a.Int("yearDayIndex", 0, 0xFF));
      c.user_index = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      if (c.op == Op::kSetYearDaySchedule) {
        c.local_start = static_cast<uint32_t>(a.Int("localStartTime", 0, 0xFFFFFFFF));
        c.local_end = static_cast<uint32_t>(a.Int("localEndTime", 0, 0xFFFFFFFF));
      }
      break;
    case Op::kSetHolidaySchedule:
    case Op::kGetHolidaySchedule:
    case Op::kClearHolidaySchedule:
      c.schedule_index = static_cast<uint8_t>(a.Int("holidayIndex", 0, 0xFF));
      if (c.op == Op::kSetHolidaySchedule) {
        c.local_start = static_cast<uint32_t>(a.Int("localStartTime", 0, 0xFFFFFFFF));
        c.local_end = static_cast<uint32_t>(a.Int("localEndTime", 0, 0xFFFFFFFF));
        c.holiday_mode = a.Enum("operatingMode", kOperatingMode);
      }
      break;
    case Op::kReadAttribute:
    case Op::kWriteAttribute:
    case Op::kTransferOwnership:  // the protocol's, not a Door Lock command
      break;  // not invoked by name
  }
  a.Done();
  return c;
}

}  // namespace

const std::vector<std::string>& CommandNames() {
  static const std::vector<std::string> names = {
      "LockDoor", "UnlockDoor", "UnlockWithTimeout", "UnboltDoor",
      "SetUser", "GetUser", "ClearUser",
      "SetCredential", "GetCredentialStatus", "ClearCredential",
      "SetWeekDaySchedule", "GetWeekDaySchedule", "ClearWeekDaySchedule",
      "SetYearDaySchedule", "GetYearDaySchedule", "ClearYearDaySchedule",
      "SetHolidaySchedule", "GetHolidaySchedule", "ClearHolidaySchedule"};
  return names;
}

Translation TranslateInvoke(std::string_view command, const json& args) {
  try {
    return Accept(InvokeCommand(command, args));
  } catch (const Refusal& r) {
    return Refuse(r.status, r.what());
  } catch (const json::exception& e) {
    return Refuse(kInvalidCommand, std::string(command) + ": " + e.what());
  } catch (const std::exception& e) {
    return Refuse(kFailure, std::string(command) + ": internal error: " + e.what());
  }
}

Translation TranslateRead(std::string_view attribute) {
  const core::AttributeInfo* info = core::FindAttribute(attribute);
  if (info == nullptr) return Refuse(kUnsupportedAttribute, "unknown attribute '" + std::string(attribute) + "'");
  ManagementCommand c;
  c.op = ManagementOp::kReadAttribute;
  c.attribute = info->id;
  return Accept(c);
}

Translation TranslateWrite(std::string_view attribute, const json& value) {
  const core::AttributeInfo* info = core::FindAttribute(attribute);
  if (info == nullptr) return Refuse(kUnsupportedAttribute, "unknown attribute '" + std::string(attribute) + "'");
  if (!info->writable) return Refuse(kUnsupportedWrite, std::string(info->name) + " is read-only");
  int64_t v;
  if (value.is_boolean() && info->min == 0 && info->max == 1) {
    v = value.get<bool>() ? 1 : 0;
  } else if (value.is_number_integer() &&
             !(value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(INT64_MAX))) {
    v = value.get<int64_t>();
  } else if (info->id == core::AttributeId::kOperatingMode && kOperatingMode.Parse(value)) {
    v = static_cast<int64_t>(*kOperatingMode.Parse(value));
  } else {
    // An integer beyond 64 bits, or an OperatingMode name that is no mode,
    // is out of range; any other value of the wrong kind is not a value of
    // this attribute.
    const bool out_of_range =
        value.is_number_integer() || (value.is_string() && info->id == core::AttributeId::kOperatingMode);
    return Refuse(out_of_range ? kConstraintError : kInvalidCommand,
                  std::string(info->name) + (info->max == 1 ? " takes true, false, 0 or 1"
                                             : info->id == core::AttributeId::kOperatingMode
                                                 ? " takes an integer or one of " + kOperatingMode.Choices()
                                                 : " takes an integer"));
  }
  if (v < info->min || v > info->max)
    return Refuse(kConstraintError, std::string(info->name) + " must be from " + std::to_string(info->min) + " to " +
                                        std::to_string(info->max));
  ManagementCommand c;
  c.op = ManagementOp::kWriteAttribute;
  c.attribute = info->id;
  c.value = v;
  return Accept(c);
}

Translation TranslateLine(std::string_view line) {
  try {
    const json req = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded()) return Refuse(kInvalidAction, "malformed JSON: expected one object per line");
    if (!req.is_object()) {
      return Refuse(kInvalidAction, "a request is a JSON object with \"invoke\", \"read\" or \"write\"");
    }
    if (req.contains("invoke") && req.at("invoke").is_string()) {
      for (const auto& [k, v] : req.items())
        if (k != "invoke" && k != "args") return Refuse(kInvalidAction, "unknown request field '" + k + "'");
      return TranslateInvoke(req.at("invoke").get<std::string>(), req.contains("args") ? req.at("args") : json::object());
    }
    if (req.contains("read") && req.at("read").is_string() && req.size() == 1) {
      return TranslateRead(req.at("read").get<std::string>());
    }
    if (req.contains("write") && req.at("write").is_string() && req.contains("value") && req.size() == 2) {
      return TranslateWrite(req.at("write").get<std::string>(), req.at("value"));
    }
    return Refuse(kInvalidAction,
                  "a request is {\"invoke\": name, \"args\": {...}}, {\"read\": name} or "
                  "{\"write\": name, \"value\": v}");
  } catch (const std::exception& e) {
    return Refuse(kFailure, std::string("internal error: ") + e.what());
  }
}

EncodedLine EncodeLine(std::string_view line) {
  EncodedLine out;
  Translation t = TranslateLine(line);
  if (!t.command) {
    out.refusal = std::move(t.refusal);
    return out;
  }
  out.payload.resize(protocol::kMaxManagementCommandSize);
  const Result<size_t> n = protocol::EncodeManagement(*t.command, out.payload);
  if (!n.ok()) {
    // Translation checks everything the encoder does: this is a bug, and
    // nothing is sent.
    out.payload.clear();
    out.refusal = Refused(kFailure, std::string("internal error: the command does not encode (") + n.status().name() + ")");
    return out;
  }
  out.payload.resize(*n);
  return out;
}

}  // namespace mortise::dljson
