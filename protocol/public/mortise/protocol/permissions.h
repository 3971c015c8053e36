// Roles, permissions and the command table: which permission each command
// the lock accepts over the protocol needs. The lock enforces this for every
// command after the requester's key has been verified (certificate.h); a
// command missing from the table cannot be expressed, so nothing is allowed
// by omission.
#pragma once

#include <cstdint>

#include "mortise/status.h"

namespace mortise::protocol {

// Values match the schema's Role enum (proto/mortise.proto).
enum class Role : uint8_t {
  kUnspecified = 0,  // never valid
  kOwner = 1,
  kAdmin = 2,
  kMember = 3,
  kGuest = 4,
  kInstaller = 5,
};
inline constexpr uint8_t kRoleCount = 6;
const char* RoleName(Role role);

// Permission bits of KeyCertificateTbs.permissions.
enum Permission : uint32_t {
  kPermNone = 0,
  kPermLock = 1u << 0,
  kPermUnlock = 1u << 1,
  kPermUnlatch = 1u << 2,
  kPermManageUsers = 1u << 3,  // users, credentials, schedules (Matter management commands)
  kPermReadLog = 1u << 4,
  kPermSetTime = 1u << 5,
  kPermChangeSettings = 1u << 6,
  kPermUpdateFirmware = 1u << 7,
  kPermPassageMode = 1u << 8,
  kPermDelegate = 1u << 9,  // may issue certificates for this lock (admins only)
  // May sign revalidation tokens (revalidation.h) for keys of this lock
  // (owner and admin certificates only). Meant for a revalidation service
  // key (the management server's): give it role admin with this bit alone,
  // so that even stolen it opens nothing, mints nothing and changes nothing.
  kPermRevalidate = 1u << 10,
  // Log custody (issue 9 item 2): may acknowledge that it holds the lock's
  // audit log through a sequence number, which moves the lock's upload
  // cursor (custody.h). Meant for the management server or a device that
  // stores logs: the owner gives it role admin with this bit alone. Such a
  // key opens nothing: Authorize refuses it every command, even those any
  // verified key may run (ReadAttribute, EndSession, ApplyAccessList).
  kPermLogCustody = 1u << 11,
  // May sign the group membership (group_membership.h) of this lock (admins
  // only): which of the owner's groups the door belongs to. Apart from
  // delegate because it decides where keys the admin did not issue (the
  // owner's group keys) open, or stop opening.
  kPermManageGroups = 1u << 12,
  // Time statements (issue 14, time_statement.h): may correct the lock's
  // clock by a small, rate-limited step in frame 0x07, never set it. Apart
  // from set time because that right, in a session, moves the clock
  // forward without bound. Meant for the management server: the owner gives
  // it role admin with this bit alone (`mortise key share --time`); such a
  // key is a duty key and runs no command (Authorize).
  kPermTimeStatement = 1u << 13,
};
inline constexpr uint32_t kAllPermissions = (1u << 14) - 1;
// The narrow duty rights: a key holding log custody or time statements and
// nothing beyond these is a duty key and runs no command at all (Authorize).
inline constexpr uint32_t kDutyPermissions = kPermRevalidate | kPermLogCustody | kPermTimeStatement;

// The most a role may ever hold. A certificate whose permissions exceed its
// role's mask is refused as inconsistent, so a mislabelled "guest" can
// never carry management rights, whatever an issuer's tool wrote.
//   owner      everything
//   admin      everything but firmware updates (so revalidate, log custody,
//              delegate and manage groups too)
//   member     lock, unlock, unlatch, read log, passage mode
//   guest      lock, unlock, unlatch
//   installer  lock, unlock, set time, change settings, update firmware, read log
uint32_t RoleAllowedPermissions(Role role);

// Every command the protocol carries to the lock. The numbers are the wire
// values of Request.command (docs/protocol.md section 3.1): fixed forever,
// never reused; a new command takes the next free number.
enum class Command : uint8_t {
  // Operations (DoorLock::LockDoor etc.).
  kLock = 0,
  kUnlock = 1,
  kUnlatch = 2,
  kUnbolt = 3,
  kUnlockWithTimeout = 4,
  // Matter management commands (UserDatabase).
  kSetUser = 5,
  kGetUser = 6,
  kClearUser = 7,
  kSetCredential = 8,
  kGetCredentialStatus = 9,
  kClearCredential = 10,
  kSetWeekDaySchedule = 11,
  kGetWeekDaySchedule = 12,
  kClearWeekDaySchedule = 13,
  kSetYearDaySchedule = 14,
  kGetYearDaySchedule = 15,
  kClearYearDaySchedule = 16,
  kSetHolidaySchedule = 17,
  kGetHolidaySchedule = 18,
  kClearHolidaySchedule = 19,
  // Time, settings, log, firmware.
  kSetTime = 20,
  kSetTimeBackwards = 21,
  kReadAttribute = 22,
  kWriteAttribute = 23,     // any writable attribute except the operating mode Passage and UtcOffset
  kSetPassageMode = 24,     // WriteAttribute(OperatingMode, Passage)
  kReadLog = 25,
  kUpdateFirmware = 26,
  // Keys and access lists.
  kShareKey = 27,           // register a key this holder issued (delegation)
  kRevokeKey = 28,
  kApplyAccessList = 29,    // self-authenticating: the update carries the owner's signature
  kFactoryReset = 30,       // physical input only: refused for every key
  // A carrier, not a command: a Door Lock cluster payload the integrator's
  // ManagementHandler classifies (handlers.h); the lock authorizes the
  // command it names. Authorize() refuses the carrier itself.
  kManagement = 31,
  // Ends the session and frees its slot at once (the resumption ticket
  // stays): a client done with the lock gives the slot back instead of
  // holding it until it idles out. Any verified key.
  kEndSession = 32,
  // SetHolidaySchedule whose operating mode is Passage: a holiday in
  // Passage holds the door open for everyone, so it needs passage-mode as
  // well as change-settings.
  kSetHolidayPassage = 33,
  // WriteAttribute(UtcOffset): the time zone moves every week-day schedule,
  // certificate schedule and recurring offline code by up to 14 hours, as a
  // clock set back would: the owner only. WriteAttribute cannot reach it.
  kSetUtcOffset = 34,
  // The management command TransferOwnership (docs/protocol.md section 18):
  // replaces the owner key and starts a new claim generation. The owner's
  // own key only (the executor refuses an owner certificate too).
  kTransferOwnership = 35,
};
inline constexpr uint8_t kCommandCount = static_cast<uint8_t>(Command::kTransferOwnership) + 1;
const char* CommandName(Command command);

struct CommandRule {
  uint32_t permission;  // bits that must all be held; kPermNone: any verified key
  bool owner_only;      // additionally needs the owner's own key or an owner certificate
  bool never;           // no key may run it over the protocol
};

// The table entry for a command.
CommandRule RuleFor(Command command);

// What a verified key brings to a command.
struct Grant {
  Role role = Role::kUnspecified;
  uint32_t permissions = 0;  // effective: already intersected along the chain
};

// Decides whether `grant` may run `command`.
// OK: allowed. kPermissionDenied: a permission is missing, the command is
// owner-only and the key is not the owner's, the command is never allowed
// over the protocol, or the grant is a duty key (it holds kPermLogCustody or
// kPermTimeStatement and nothing outside kDutyPermissions: it acknowledges
// log uploads through frame 0x06 or corrects the clock through frame 0x07,
// and runs no command). kInvalidArgument: a command value outside the table.
Status Authorize(const Grant& grant, Command command);

}  // namespace mortise::protocol
