#include "mortise/protocol/management.h"

#include <cstring>

#include "codec.h"
#include "mortise.pb.h"
#include "mortise/protocol/handlers.h"

namespace mortise::protocol {
namespace {

static_assert(mortise_ManagementCommand_size <= kMaxManagementCommandSize);
static_assert(kMaxManagementCommandSize <= kMaxRequestPayload);
static_assert(sizeof(mortise_DlOperation{}.pin.bytes) == kMaxManagementPin);
static_assert(sizeof(mortise_DlSetUser{}.user_name) == kMaxManagementUserName + 1);
static_assert(sizeof(mortise_DlSetCredential{}.data.bytes) == kMaxManagementCredentialData);

// The body tags are the ManagementOp numbers (checked for every op below).
static_assert(mortise_ManagementCommand_lock_door_tag == static_cast<int>(ManagementOp::kLockDoor));
static_assert(mortise_ManagementCommand_unlock_with_timeout_tag == static_cast<int>(ManagementOp::kUnlockWithTimeout));
static_assert(mortise_ManagementCommand_set_holiday_schedule_tag == static_cast<int>(ManagementOp::kSetHolidaySchedule));
static_assert(mortise_ManagementCommand_write_attribute_tag == static_cast<int>(ManagementOp::kWriteAttribute));
static_assert(mortise_ManagementCommand_transfer_ownership_tag == static_cast<int>(ManagementOp::kTransferOwnership));
static_assert(sizeof(mortise_DlTransferOwnership{}.new_owner.bytes) == crypto::kP256CompressedKeySize);

// Members of the Matter enums the commands carry (an unknown number is
// refused, never cast into the C++ enum).
bool IsDataOperation(uint32_t v) { return v <= 2; }
bool IsUserStatus(uint32_t v) { return v == 0 || v == 1 || v == 3; }
bool IsUserType(uint32_t v) { return v < core::kUserTypeCount; }
bool IsCredentialRule(uint32_t v) { return v <= 2; }
bool IsCredentialType(uint32_t v) { return v <= 8; }
bool IsOperatingMode(uint32_t v) { return v < core::kOperatingModeCount; }

Status Credential(const mortise_DlCredential& in, core::CredentialRef& out) {
  if (!IsCredentialType(in.type) || in.index > 0xFFFF) return StatusCode::kInvalidArgument;
  out.type = static_cast<core::CredentialType>(in.type);
  out.index = static_cast<uint16_t>(in.index);
  return Status::Ok();
}

Status ScheduleRef(const mortise_DlScheduleRef& in, bool with_user, ManagementCommand& out) {
  if (in.index > 0xFF || in.user_index > 0xFFFF || (!with_user && in.user_index != 0)) {
    return StatusCode::kInvalidArgument;
  }
  out.schedule_index = static_cast<uint8_t>(in.index);
  out.user_index = static_cast<uint16_t>(in.user_index);
  return Status::Ok();
}

Status Operation(const mortise_DlOperation& in, bool with_timeout, ManagementCommand& out) {
  if (with_timeout ? (in.timeout == 0 || in.timeout > 0xFFFF) : in.timeout != 0) return StatusCode::kInvalidArgument;
  out.timeout_s = static_cast<uint16_t>(in.timeout);
  out.pin_length = static_cast<uint8_t>(in.pin.size);
  if (in.pin.size != 0) std::memcpy(out.pin.data(), in.pin.bytes, in.pin.size);
  return Status::Ok();
}

Status FromWire(const mortise_ManagementCommand& m, ManagementCommand& out) {
  using Op = ManagementOp;
  if (m.which_body < static_cast<pb_size_t>(Op::kLockDoor) || m.which_body > static_cast<pb_size_t>(Op::kTransferOwnership)) {
    return StatusCode::kInvalidArgument;
  }
  out.op = static_cast<Op>(m.which_body);
  switch (out.op) {
    case Op::kLockDoor: return Operation(m.body.lock_door, false, out);
    case Op::kUnlockDoor: return Operation(m.body.unlock_door, false, out);
    case Op::kUnboltDoor: return Operation(m.body.unbolt_door, false, out);
    case Op::kUnlockWithTimeout: return Operation(m.body.unlock_with_timeout, true, out);
    case Op::kSetUser: {
      const mortise_DlSetUser& u = m.body.set_user;
      if (!IsDataOperation(u.operation) || u.user_index > 0xFFFF) return StatusCode::kInvalidArgument;
      if ((u.has_user_status && !IsUserStatus(u.user_status)) || (u.has_user_type && !IsUserType(u.user_type)) ||
          (u.has_credential_rule && !IsCredentialRule(u.credential_rule))) {
        return StatusCode::kInvalidArgument;
      }
      out.operation = static_cast<core::DataOperationType>(u.operation);
      out.user_index = static_cast<uint16_t>(u.user_index);
      if (u.has_user_name) {
        size_t n = 0;  // (strnlen is POSIX, not C++)
        while (n < sizeof(u.user_name) && u.user_name[n] != '\0') ++n;
        if (n > kMaxManagementUserName) return StatusCode::kInvalidArgument;
        out.has_user_name = true;
        out.user_name_length = static_cast<uint8_t>(n);
        std::memcpy(out.user_name.data(), u.user_name, n);
      }
      if (u.has_user_unique_id) out.user_unique_id = u.user_unique_id;
      if (u.has_user_status) out.user_status = static_cast<core::UserStatus>(u.user_status);
      if (u.has_user_type) out.user_type = static_cast<core::UserType>(u.user_type);
      if (u.has_credential_rule) out.credential_rule = static_cast<core::CredentialRule>(u.credential_rule);
      return Status::Ok();
    }
    case Op::kGetUser:
    case Op::kClearUser: {
      const mortise_DlUserRef& u = out.op == Op::kGetUser ? m.body.get_user : m.body.clear_user;
      if (u.user_index > 0xFFFF) return StatusCode::kInvalidArgument;
      out.user_index = static_cast<uint16_t>(u.user_index);
      return Status::Ok();
    }
    case Op::kSetCredential: {
      const mortise_DlSetCredential& c = m.body.set_credential;
      if (!c.has_credential || !IsDataOperation(c.operation)) return StatusCode::kInvalidArgument;
      core::CredentialRef ref;
      MORTISE_TRY(Credential(c.credential, ref));
      out.credential = ref;
      out.operation = static_cast<core::DataOperationType>(c.operation);
      out.credential_data_length = static_cast<uint8_t>(c.data.size);
      if (c.data.size != 0) std::memcpy(out.credential_data.data(), c.data.bytes, c.data.size);
      if (c.has_user_index) {
        if (c.user_index > 0xFFFF) return StatusCode::kInvalidArgument;
        out.has_user_index = true;
        out.user_index = static_cast<uint16_t>(c.user_index);
      }
      if ((c.has_user_status && !IsUserStatus(c.user_status)) || (c.has_user_type && !IsUserType(c.user_type))) {
        return StatusCode::kInvalidArgument;
      }
      if (c.has_user_status) out.user_status = static_cast<core::UserStatus>(c.user_status);
      if (c.has_user_type) out.user_type = static_cast<core::UserType>(c.user_type);
      return Status::Ok();
    }
    case Op::kGetCredentialStatus:
    case Op::kClearCredential: {
      const mortise_DlCredentialRef& c =
          out.op == Op::kGetCredentialStatus ? m.body.get_credential_status : m.body.clear_credential;
      // Exactly one of a credential and "all", and "all" only to clear:
      // clearing everything is never what an absent field means.
      if (c.has_credential == c.all || (c.all && out.op != Op::kClearCredential)) return StatusCode::kInvalidArgument;
      if (c.has_credential) {
        core::CredentialRef ref;
        MORTISE_TRY(Credential(c.credential, ref));
        out.credential = ref;
      }
      return Status::Ok();
    }
    case Op::kSetWeekDaySchedule: {
      const mortise_DlWeekDaySchedule& s = m.body.set_week_day_schedule;
      if (s.index > 0xFF || s.user_index > 0xFFFF || s.days_mask > 0xFF || s.start_hour > 0xFF ||
          s.start_minute > 0xFF || s.end_hour > 0xFF || s.end_minute > 0xFF) {
        return StatusCode::kInvalidArgument;
      }
      out.schedule_index = static_cast<uint8_t>(s.index);
      out.user_index = static_cast<uint16_t>(s.user_index);
      out.days_mask = static_cast<uint8_t>(s.days_mask);
      out.start_hour = static_cast<uint8_t>(s.start_hour);
      out.start_minute = static_cast<uint8_t>(s.start_minute);
      out.end_hour = static_cast<uint8_t>(s.end_hour);
      out.end_minute = static_cast<uint8_t>(s.end_minute);
      return Status::Ok();
    }
    case Op::kGetWeekDaySchedule: return ScheduleRef(m.body.get_week_day_schedule, true, out);
    case Op::kClearWeekDaySchedule: return ScheduleRef(m.body.clear_week_day_schedule, true, out);
    case Op::kSetYearDaySchedule: {
      const mortise_DlYearDaySchedule& s = m.body.set_year_day_schedule;
      if (s.index > 0xFF || s.user_index > 0xFFFF) return StatusCode::kInvalidArgument;
      out.schedule_index = static_cast<uint8_t>(s.index);
      out.user_index = static_cast<uint16_t>(s.user_index);
      out.local_start = s.local_start;
      out.local_end = s.local_end;
      return Status::Ok();
    }
    case Op::kGetYearDaySchedule: return ScheduleRef(m.body.get_year_day_schedule, true, out);
    case Op::kClearYearDaySchedule: return ScheduleRef(m.body.clear_year_day_schedule, true, out);
    case Op::kSetHolidaySchedule: {
      const mortise_DlHolidaySchedule& s = m.body.set_holiday_schedule;
      if (s.index > 0xFF || !IsOperatingMode(s.operating_mode)) return StatusCode::kInvalidArgument;
      out.schedule_index = static_cast<uint8_t>(s.index);
      out.local_start = s.local_start;
      out.local_end = s.local_end;
      out.holiday_mode = static_cast<core::OperatingMode>(s.operating_mode);
      return Status::Ok();
    }
    case Op::kGetHolidaySchedule: return ScheduleRef(m.body.get_holiday_schedule, false, out);
    case Op::kClearHolidaySchedule: return ScheduleRef(m.body.clear_holiday_schedule, false, out);
    case Op::kReadAttribute: {
      const uint32_t id = m.body.read_attribute.attribute;
      if (id > 0xFFFF || core::FindAttribute(static_cast<core::AttributeId>(id)) == nullptr) {
        return StatusCode::kInvalidArgument;
      }
      out.attribute = static_cast<core::AttributeId>(id);
      return Status::Ok();
    }
    case Op::kWriteAttribute: {
      const uint32_t id = m.body.write_attribute.attribute;
      if (id > 0xFFFF) return StatusCode::kInvalidArgument;
      const core::AttributeInfo* info = core::FindAttribute(static_cast<core::AttributeId>(id));
      const int64_t v = m.body.write_attribute.value;
      if (info == nullptr || !info->writable || v < info->min || v > info->max) return StatusCode::kInvalidArgument;
      out.attribute = info->id;
      out.value = v;
      return Status::Ok();
    }
    case Op::kTransferOwnership: {
      const mortise_DlTransferOwnership& t = m.body.transfer_ownership;
      // A key the lock could never verify against is refused here, before
      // any rule or store is consulted.
      if (t.new_owner.size != crypto::kP256CompressedKeySize ||
          !crypto::P256PublicKey::Import(std::span<const uint8_t>(t.new_owner.bytes, t.new_owner.size)).ok()) {
        return StatusCode::kInvalidArgument;
      }
      std::memcpy(out.new_owner.data(), t.new_owner.bytes, crypto::kP256CompressedKeySize);
      out.claim_generation = t.claim_generation;
      out.clear_users = t.clear_users;
      return Status::Ok();
    }
  }
  return StatusCode::kInvalidArgument;
}

void ToWireCredential(const core::CredentialRef& c, mortise_DlCredential& out) {
  out.type = static_cast<uint32_t>(c.type);
  out.index = c.index;
}

void ToWireOperation(const ManagementCommand& c, mortise_DlOperation& out) {
  internal::SetBytes(out.pin, c.pin_span());
  out.timeout = c.op == ManagementOp::kUnlockWithTimeout ? c.timeout_s : 0;
}

void ToWireScheduleRef(const ManagementCommand& c, mortise_DlScheduleRef& out) {
  out.index = c.schedule_index;
  out.user_index = c.user_index;
}

Status ToWire(const ManagementCommand& c, mortise_ManagementCommand& m) {
  using Op = ManagementOp;
  m = mortise_ManagementCommand_init_zero;
  if (c.pin_length > kMaxManagementPin || c.user_name_length > kMaxManagementUserName ||
      c.credential_data_length > kMaxManagementCredentialData) {
    return StatusCode::kInvalidArgument;
  }
  m.which_body = static_cast<pb_size_t>(c.op);
  switch (c.op) {
    case Op::kLockDoor: ToWireOperation(c, m.body.lock_door); return Status::Ok();
    case Op::kUnlockDoor: ToWireOperation(c, m.body.unlock_door); return Status::Ok();
    case Op::kUnboltDoor: ToWireOperation(c, m.body.unbolt_door); return Status::Ok();
    case Op::kUnlockWithTimeout: ToWireOperation(c, m.body.unlock_with_timeout); return Status::Ok();
    case Op::kSetUser: {
      mortise_DlSetUser& u = m.body.set_user;
      u.operation = static_cast<uint32_t>(c.operation);
      u.user_index = c.user_index;
      if (c.has_user_name) {
        u.has_user_name = true;
        std::memcpy(u.user_name, c.user_name.data(), c.user_name_length);
        u.user_name[c.user_name_length] = '\0';
      }
      u.has_user_unique_id = c.user_unique_id.has_value();
      u.user_unique_id = c.user_unique_id.value_or(0);
      u.has_user_status = c.user_status.has_value();
      u.user_status = c.user_status ? static_cast<uint32_t>(*c.user_status) : 0;
      u.has_user_type = c.user_type.has_value();
      u.user_type = c.user_type ? static_cast<uint32_t>(*c.user_type) : 0;
      u.has_credential_rule = c.credential_rule.has_value();
      u.credential_rule = c.credential_rule ? static_cast<uint32_t>(*c.credential_rule) : 0;
      return Status::Ok();
    }
    case Op::kGetUser: m.body.get_user.user_index = c.user_index; return Status::Ok();
    case Op::kClearUser: m.body.clear_user.user_index = c.user_index; return Status::Ok();
    case Op::kSetCredential: {
      mortise_DlSetCredential& s = m.body.set_credential;
      if (!c.credential) return StatusCode::kInvalidArgument;
      s.operation = static_cast<uint32_t>(c.operation);
      s.has_credential = true;
      ToWireCredential(*c.credential, s.credential);
      internal::SetBytes(s.data, c.credential_data_span());
      s.has_user_index = c.has_user_index;
      s.user_index = c.has_user_index ? c.user_index : 0;
      s.has_user_status = c.user_status.has_value();
      s.user_status = c.user_status ? static_cast<uint32_t>(*c.user_status) : 0;
      s.has_user_type = c.user_type.has_value();
      s.user_type = c.user_type ? static_cast<uint32_t>(*c.user_type) : 0;
      return Status::Ok();
    }
    case Op::kGetCredentialStatus:
    case Op::kClearCredential: {
      mortise_DlCredentialRef& r = c.op == Op::kGetCredentialStatus ? m.body.get_credential_status : m.body.clear_credential;
      r.has_credential = c.credential.has_value();
      if (c.credential) ToWireCredential(*c.credential, r.credential);
      r.all = !c.credential.has_value();
      return Status::Ok();
    }
    case Op::kSetWeekDaySchedule: {
      mortise_DlWeekDaySchedule& s = m.body.set_week_day_schedule;
      s.index = c.schedule_index;
      s.user_index = c.user_index;
      s.days_mask = c.days_mask;
      s.start_hour = c.start_hour;
      s.start_minute = c.start_minute;
      s.end_hour = c.end_hour;
      s.end_minute = c.end_minute;
      return Status::Ok();
    }
    case Op::kGetWeekDaySchedule: ToWireScheduleRef(c, m.body.get_week_day_schedule); return Status::Ok();
    case Op::kClearWeekDaySchedule: ToWireScheduleRef(c, m.body.clear_week_day_schedule); return Status::Ok();
    case Op::kSetYearDaySchedule: {
      mortise_DlYearDaySchedule& s = m.body.set_year_day_schedule;
      s.index = c.schedule_index;
      s.user_index = c.user_index;
      s.local_start = c.local_start;
      s.local_end = c.local_end;
      return Status::Ok();
    }
    case Op::kGetYearDaySchedule: ToWireScheduleRef(c, m.body.get_year_day_schedule); return Status::Ok();
    case Op::kClearYearDaySchedule: ToWireScheduleRef(c, m.body.clear_year_day_schedule); return Status::Ok();
    case Op::kSetHolidaySchedule: {
      mortise_DlHolidaySchedule& s = m.body.set_holiday_schedule;
      s.index = c.schedule_index;
      s.local_start = c.local_start;
      s.local_end = c.local_end;
      s.operating_mode = static_cast<uint32_t>(c.holiday_mode);
      return Status::Ok();
    }
    case Op::kGetHolidaySchedule: ToWireScheduleRef(c, m.body.get_holiday_schedule); return Status::Ok();
    case Op::kClearHolidaySchedule: ToWireScheduleRef(c, m.body.clear_holiday_schedule); return Status::Ok();
    case Op::kReadAttribute: m.body.read_attribute.attribute = static_cast<uint32_t>(c.attribute); return Status::Ok();
    case Op::kWriteAttribute:
      m.body.write_attribute.attribute = static_cast<uint32_t>(c.attribute);
      m.body.write_attribute.value = c.value;
      return Status::Ok();
    case Op::kTransferOwnership:
      internal::SetBytes(m.body.transfer_ownership.new_owner, std::span<const uint8_t>(c.new_owner));
      m.body.transfer_ownership.claim_generation = c.claim_generation;
      m.body.transfer_ownership.clear_users = c.clear_users;
      return Status::Ok();
  }
  return StatusCode::kInvalidArgument;
}

}  // namespace

Result<size_t> EncodeManagement(const ManagementCommand& command, std::span<uint8_t> out) {
  mortise_ManagementCommand m;
  MORTISE_TRY(ToWire(command, m));
  uint8_t buf[kMaxManagementCommandSize];
  MORTISE_ASSIGN_OR_RETURN(const size_t n, internal::Encode(mortise_ManagementCommand_fields, &m, buf));
  // What the lock would refuse is refused here, so a client learns it
  // before sending anything.
  MORTISE_TRY(DecodeManagement(std::span<const uint8_t>(buf, n)).status());
  if (n > out.size()) return StatusCode::kResourceExhausted;
  std::memcpy(out.data(), buf, n);
  return n;
}

Result<ManagementCommand> DecodeManagement(std::span<const uint8_t> payload) {
  uint8_t scratch[kMaxManagementCommandSize];
  mortise_ManagementCommand m = mortise_ManagementCommand_init_zero;
  MORTISE_TRY(internal::DecodeStrict(payload, mortise_ManagementCommand_fields, &m, scratch));
  ManagementCommand out;
  MORTISE_TRY(FromWire(m, out));
  return out;
}

Command ClassifyManagement(const ManagementCommand& c) {
  using Op = ManagementOp;
  switch (c.op) {
    case Op::kLockDoor: return Command::kLock;
    case Op::kUnlockDoor: return Command::kUnlock;
    case Op::kUnboltDoor: return Command::kUnbolt;
    case Op::kUnlockWithTimeout: return Command::kUnlockWithTimeout;
    case Op::kSetUser: return Command::kSetUser;
    case Op::kGetUser: return Command::kGetUser;
    case Op::kClearUser: return Command::kClearUser;
    case Op::kSetCredential: return Command::kSetCredential;
    case Op::kGetCredentialStatus: return Command::kGetCredentialStatus;
    case Op::kClearCredential: return Command::kClearCredential;
    case Op::kSetWeekDaySchedule: return Command::kSetWeekDaySchedule;
    case Op::kGetWeekDaySchedule: return Command::kGetWeekDaySchedule;
    case Op::kClearWeekDaySchedule: return Command::kClearWeekDaySchedule;
    case Op::kSetYearDaySchedule: return Command::kSetYearDaySchedule;
    case Op::kGetYearDaySchedule: return Command::kGetYearDaySchedule;
    case Op::kClearYearDaySchedule: return Command::kClearYearDaySchedule;
    // A holiday in Passage holds the door open for everyone: it needs the
    // passage-mode right too (A12).
    case Op::kSetHolidaySchedule:
      return c.holiday_mode == core::OperatingMode::kPassage ? Command::kSetHolidayPassage
                                                             : Command::kSetHolidaySchedule;
    case Op::kGetHolidaySchedule: return Command::kGetHolidaySchedule;
    case Op::kClearHolidaySchedule: return Command::kClearHolidaySchedule;
    case Op::kReadAttribute: return Command::kReadAttribute;
    case Op::kWriteAttribute:
      if (c.attribute == core::AttributeId::kOperatingMode &&
          c.value == static_cast<int64_t>(core::OperatingMode::kPassage)) {
        return Command::kSetPassageMode;
      }
      // The time zone shifts every local-time right: the owner's command (A04).
      if (c.attribute == core::AttributeId::kUtcOffset || c.attribute == core::AttributeId::kDstOffset ||
          c.attribute == core::AttributeId::kDstStart || c.attribute == core::AttributeId::kDstEnd) {
        return Command::kSetUtcOffset;
      }
      return Command::kWriteAttribute;
    case Op::kTransferOwnership: return Command::kTransferOwnership;
  }
  return Command::kManagement;  // unreachable for a decoded value; the executor refuses a carrier
}

}  // namespace mortise::protocol
