#include "mortise/protocol/permissions.h"

namespace mortise::protocol {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kUnspecified: return "unspecified";
    case Role::kOwner: return "owner";
    case Role::kAdmin: return "admin";
    case Role::kMember: return "member";
    case Role::kGuest: return "guest";
    case Role::kInstaller: return "installer";
  }
  return "unknown";
}

uint32_t RoleAllowedPermissions(Role role) {
  switch (role) {
    case Role::kOwner: return kAllPermissions;
    case Role::kAdmin: return kAllPermissions & ~kPermUpdateFirmware;
    case Role::kMember: return kPermLock | kPermUnlock | kPermUnlatch | kPermReadLog | kPermPassageMode;
    case Role::kGuest: return kPermLock | kPermUnlock | kPermUnlatch;
    case Role::kInstaller:
      return kPermLock | kPermUnlock | kPermSetTime | kPermChangeSettings | kPermUpdateFirmware | kPermReadLog;
    case Role::kUnspecified: return 0;
  }
  return 0;
}

namespace {

struct Entry {
  Command command;
  const char* name;
  CommandRule rule;
};

// One row per command, in enum order (checked by a test).
constexpr Entry kTable[] = {
    {Command::kLock, "Lock", {kPermLock, false, false}},
    {Command::kUnlock, "Unlock", {kPermUnlock, false, false}},
    {Command::kUnlatch, "Unlatch", {kPermUnlatch, false, false}},
    // Unbolting withdraws the bolt like an unlock; it never pulls the latch.
    {Command::kUnbolt, "Unbolt", {kPermUnlock, false, false}},
    {Command::kUnlockWithTimeout, "UnlockWithTimeout", {kPermUnlock, false, false}},
    // Reading users and schedules reveals who may enter and when: as
    // sensitive as changing them, so the same right.
    {Command::kSetUser, "SetUser", {kPermManageUsers, false, false}},
    {Command::kGetUser, "GetUser", {kPermManageUsers, false, false}},
    {Command::kClearUser, "ClearUser", {kPermManageUsers, false, false}},
    {Command::kSetCredential, "SetCredential", {kPermManageUsers, false, false}},
    {Command::kGetCredentialStatus, "GetCredentialStatus", {kPermManageUsers, false, false}},
    {Command::kClearCredential, "ClearCredential", {kPermManageUsers, false, false}},
    {Command::kSetWeekDaySchedule, "SetWeekDaySchedule", {kPermManageUsers, false, false}},
    {Command::kGetWeekDaySchedule, "GetWeekDaySchedule", {kPermManageUsers, false, false}},
    {Command::kClearWeekDaySchedule, "ClearWeekDaySchedule", {kPermManageUsers, false, false}},
    {Command::kSetYearDaySchedule, "SetYearDaySchedule", {kPermManageUsers, false, false}},
    {Command::kGetYearDaySchedule, "GetYearDaySchedule", {kPermManageUsers, false, false}},
    {Command::kClearYearDaySchedule, "ClearYearDaySchedule", {kPermManageUsers, false, false}},
    // Holiday schedules impose an operating mode on everyone: a setting.
    {Command::kSetHolidaySchedule, "SetHolidaySchedule", {kPermChangeSettings, false, false}},
    {Command::kGetHolidaySchedule, "GetHolidaySchedule", {kPermChangeSettings, false, false}},
    {Command::kClearHolidaySchedule, "ClearHolidaySchedule", {kPermChangeSettings, false, false}},
    {Command::kSetTime, "SetTime", {kPermSetTime, false, false}},
    // Moving the clock back re-opens expired windows: only the owner.
    {Command::kSetTimeBackwards, "SetTimeBackwards", {kPermSetTime, true, false}},
    // Lock state, door state and battery are what any key holder's app shows.
    {Command::kReadAttribute, "ReadAttribute", {kPermNone, false, false}},
    {Command::kWriteAttribute, "WriteAttribute", {kPermChangeSettings, false, false}},
    {Command::kSetPassageMode, "SetPassageMode", {kPermPassageMode, false, false}},
    {Command::kReadLog, "ReadLog", {kPermReadLog, false, false}},
    {Command::kUpdateFirmware, "UpdateFirmware", {kPermUpdateFirmware, false, false}},
    {Command::kShareKey, "ShareKey", {kPermDelegate, false, false}},
    // Revocation takes effect through the owner's signed access list; a
    // session command can only ask for it, and only the owner may.
    {Command::kRevokeKey, "RevokeKey", {kPermManageUsers, true, false}},
    {Command::kApplyAccessList, "ApplyAccessList", {kPermNone, false, false}},
    {Command::kFactoryReset, "FactoryReset", {kPermNone, false, true}},
    {Command::kManagement, "Management", {kPermNone, false, true}},
    {Command::kEndSession, "EndSession", {kPermNone, false, false}},
    {Command::kSetHolidayPassage, "SetHolidayPassage", {kPermChangeSettings | kPermPassageMode, false, false}},
    // Moving the time zone shifts every local-time right like moving the clock: only the owner.
    {Command::kSetUtcOffset, "SetUtcOffset", {kPermSetTime | kPermChangeSettings, true, false}},
    // Handing the lock to another owner: the owner (and the executor asks
    // for the owner's own key, not an owner certificate).
    {Command::kTransferOwnership, "TransferOwnership", {kPermNone, true, false}},
};
static_assert(sizeof(kTable) / sizeof(kTable[0]) == kCommandCount, "one row per command");

constexpr bool TableInOrder() {
  for (uint8_t i = 0; i < kCommandCount; ++i) {
    if (static_cast<uint8_t>(kTable[i].command) != i) return false;
  }
  return true;
}
static_assert(TableInOrder(), "rows in enum order");

}  // namespace

const char* CommandName(Command command) {
  const auto i = static_cast<uint8_t>(command);
  return i < kCommandCount ? kTable[i].name : "unknown";
}

CommandRule RuleFor(Command command) {
  const auto i = static_cast<uint8_t>(command);
  if (i >= kCommandCount) return {kPermNone, false, true};
  return kTable[i].rule;
}

Status Authorize(const Grant& grant, Command command) {
  if (static_cast<uint8_t>(command) >= kCommandCount) return StatusCode::kInvalidArgument;
  const CommandRule rule = RuleFor(command);
  if (rule.never) return StatusCode::kPermissionDenied;
  if (grant.role == Role::kUnspecified) return StatusCode::kPermissionDenied;
  if (rule.owner_only && grant.role != Role::kOwner) return StatusCode::kPermissionDenied;
  // The role's mask is applied again here, so a grant built by mistake with
  // more than its role allows still gets no more than the role.
  const uint32_t held = grant.permissions & RoleAllowedPermissions(grant.role);
  // A custody or time key opens nothing, not even what any verified key may
  // do: stolen from a server, it reads no state and holds no session command.
  if ((held & (kPermLogCustody | kPermTimeStatement)) != 0 && (held & ~kDutyPermissions) == 0) {
    return StatusCode::kPermissionDenied;
  }
  if ((held & rule.permission) != rule.permission) return StatusCode::kPermissionDenied;
  return Status::Ok();
}

}  // namespace mortise::protocol
