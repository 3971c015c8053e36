// Management commands in binary (the payload of Command::kManagement;
// schema: proto/mortise.proto, ManagementCommand; docs/protocol.md,
// "Management commands").
//
// Why one decoded value: the lock must authorise exactly the command it
// runs. A payload is decoded once, strictly (only canonical bytes: no
// duplicated or unknown fields, no second body, every enum and range
// checked), into a ManagementCommand; CommandExecutor classifies that value
// (ClassifyManagement) for Authorize() and hands the same value to the
// ManagementHandler to execute. There is no second parse that could read a
// different command out of the same bytes.
//
// Portable (no heap, no exceptions). Clients encode (dljson translates JSON
// lines into this); locks decode.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "mortise/core/attributes.h"
#include "mortise/core/types.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/permissions.h"
#include "mortise/status.h"

namespace mortise::protocol {

// The command's number: the field number of its body in ManagementCommand.
enum class ManagementOp : uint8_t {
  kLockDoor = 1,
  kUnlockDoor = 2,
  kUnboltDoor = 3,
  kUnlockWithTimeout = 4,
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
  kReadAttribute = 20,
  kWriteAttribute = 21,
  // Not a Door Lock cluster command: the owner hands the lock to another
  // owner key (docs/protocol.md section 18). Classified as
  // Command::kTransferOwnership and run by the command executor itself (the
  // owner key is the protocol's, not the integrator's).
  kTransferOwnership = 22,
};

inline constexpr size_t kMaxManagementPin = 16;
inline constexpr size_t kMaxManagementUserName = 10;
inline constexpr size_t kMaxManagementCredentialData = 64;

// One decoded command. Only the fields of `op` are meaningful (the others
// stay at their defaults); which fields each op uses is written beside them.
struct ManagementCommand {
  ManagementOp op = ManagementOp::kGetUser;

  // Lock/Unlock/Unbolt/UnlockWithTimeout: the PINCode, if any.
  std::array<uint8_t, kMaxManagementPin> pin{};
  uint8_t pin_length = 0;
  uint16_t timeout_s = 0;  // UnlockWithTimeout: 1..65535

  // Set/Get/ClearUser, SetCredential (optional), schedules with a user.
  uint16_t user_index = 0;
  bool has_user_index = false;  // SetCredential: the UserIndex field is present

  // SetUser, SetCredential.
  core::DataOperationType operation = core::DataOperationType::kAdd;
  std::array<char, kMaxManagementUserName> user_name{};
  uint8_t user_name_length = 0;
  bool has_user_name = false;
  std::optional<uint32_t> user_unique_id;
  std::optional<core::UserStatus> user_status;
  std::optional<core::UserType> user_type;
  std::optional<core::CredentialRule> credential_rule;

  // Set/GetCredentialStatus/ClearCredential. ClearCredential without a
  // credential clears every credential (the wire says so explicitly).
  std::optional<core::CredentialRef> credential;
  std::array<uint8_t, kMaxManagementCredentialData> credential_data{};
  uint8_t credential_data_length = 0;

  // Schedules: the slot index (week-day, year-day or holiday).
  uint8_t schedule_index = 0;
  // SetWeekDaySchedule.
  uint8_t days_mask = 0, start_hour = 0, start_minute = 0, end_hour = 0, end_minute = 0;
  // SetYearDaySchedule, SetHolidaySchedule.
  uint32_t local_start = 0, local_end = 0;
  // SetHolidaySchedule.
  core::OperatingMode holiday_mode = core::OperatingMode::kNormal;

  // Read/WriteAttribute.
  core::AttributeId attribute = core::AttributeId::kLockState;
  int64_t value = 0;

  // TransferOwnership: the new owner's key (a valid compressed P-256 point),
  // the claim generation the owner believes current, and whether users go.
  std::array<uint8_t, crypto::kP256CompressedKeySize> new_owner{};
  uint32_t claim_generation = 0;
  bool clear_users = false;

  std::span<const uint8_t> pin_span() const { return std::span<const uint8_t>(pin.data(), pin_length); }
  std::string_view user_name_view() const { return std::string_view(user_name.data(), user_name_length); }
  std::span<const uint8_t> credential_data_span() const {
    return std::span<const uint8_t>(credential_data.data(), credential_data_length);
  }
};

// The largest encoding of a ManagementCommand (fits kMaxRequestPayload).
inline constexpr size_t kMaxManagementCommandSize = 128;

// Encodes `command`. kInvalidArgument: a field outside what DecodeManagement
// accepts (so every encoding this produces decodes). kResourceExhausted:
// `out` is too small.
Result<size_t> EncodeManagement(const ManagementCommand& command, std::span<uint8_t> out);

// Decodes a payload. kInvalidArgument: not the canonical encoding of one
// ManagementCommand, or a field outside its range (an enum value that names
// no member, an index wider than its field, an unknown or read-only
// attribute, a value outside the attribute's range, a timeout of 0, a
// GetCredentialStatus without a credential, a ClearCredential with neither
// a credential nor `all`, or with both). Nothing is partially decoded.
Result<ManagementCommand> DecodeManagement(std::span<const uint8_t> payload);

// The protocol command a decoded management command is authorised as: the
// management-command classifier. SetHolidaySchedule in Passage needs the
// passage-mode right too (A12), as does writing OperatingMode = Passage; a
// write of UtcOffset is the owner's kSetUtcOffset (A04); TransferOwnership
// is kTransferOwnership (owner only).
Command ClassifyManagement(const ManagementCommand& command);

}  // namespace mortise::protocol
