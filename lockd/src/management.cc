#include "management.h"

#include <cstring>
#include <exception>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "mortise/dljson/dl_json.h"

namespace mortise::lockd {
namespace {

using nlohmann::json;
using protocol::Command;

const std::pair<const char*, Command> kInvokeCommands[] = {
    {"LockDoor", Command::kLock},
    {"UnlockDoor", Command::kUnlock},
    {"UnboltDoor", Command::kUnbolt},
    {"UnlockWithTimeout", Command::kUnlockWithTimeout},
    {"SetUser", Command::kSetUser},
    {"GetUser", Command::kGetUser},
    {"ClearUser", Command::kClearUser},
    {"SetCredential", Command::kSetCredential},
    {"GetCredentialStatus", Command::kGetCredentialStatus},
    {"ClearCredential", Command::kClearCredential},
    {"SetWeekDaySchedule", Command::kSetWeekDaySchedule},
    {"GetWeekDaySchedule", Command::kGetWeekDaySchedule},
    {"ClearWeekDaySchedule", Command::kClearWeekDaySchedule},
    {"SetYearDaySchedule", Command::kSetYearDaySchedule},
    {"GetYearDaySchedule", Command::kGetYearDaySchedule},
    {"ClearYearDaySchedule", Command::kClearYearDaySchedule},
    {"SetHolidaySchedule", Command::kSetHolidaySchedule},
    {"GetHolidaySchedule", Command::kGetHolidaySchedule},
    {"ClearHolidaySchedule", Command::kClearHolidaySchedule},
};

// True when a write of OperatingMode asks for Passage in any form dljson
// accepts (its name or its number).
bool IsPassage(const json& value) {
  if (value.is_string()) return value.get<std::string>() == "Passage";
  if (value.is_number_integer() && !value.is_number_unsigned())
    return value.get<int64_t>() == static_cast<int64_t>(core::OperatingMode::kPassage);
  if (value.is_number_unsigned()) return value.get<uint64_t>() == static_cast<uint64_t>(core::OperatingMode::kPassage);
  return false;
}

Result<Command> ClassifyImpl(std::string_view line) {
  const json req = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (req.is_discarded() || !req.is_object()) return StatusCode::kInvalidArgument;
  // The same order and shape tests as DoorLockJson::HandleLine.
  if (req.contains("invoke") && req.at("invoke").is_string()) {
    for (const auto& [k, v] : req.items())
      if (k != "invoke" && k != "args") return StatusCode::kInvalidArgument;
    const std::string name = req.at("invoke").get<std::string>();
    // A holiday in Passage holds the door open for everyone: it needs the
    // passage-mode right too (A12), whatever form the mode is written in.
    if (name == "SetHolidaySchedule" && req.contains("args") && req.at("args").is_object() &&
        req.at("args").contains("operatingMode") && IsPassage(req.at("args").at("operatingMode"))) {
      return Command::kSetHolidayPassage;
    }
    for (const auto& [n, c] : kInvokeCommands)
      if (name == n) return c;
    return StatusCode::kInvalidArgument;
  }
  if (req.contains("read") && req.at("read").is_string() && req.size() == 1) return Command::kReadAttribute;
  if (req.contains("write") && req.at("write").is_string() && req.contains("value") && req.size() == 2) {
    if (req.at("write").get<std::string>() == "OperatingMode" && IsPassage(req.at("value")))
      return Command::kSetPassageMode;
    // The time zone shifts every local-time right: the owner's command.
    const std::string name = req.at("write").get<std::string>();
    if (name == "UtcOffset" || name == "DstOffset" || name == "DstStart" || name == "DstEnd")
      return Command::kSetUtcOffset;
    return Command::kWriteAttribute;
  }
  return StatusCode::kInvalidArgument;
}

std::string_view AsText(std::span<const uint8_t> payload) {
  return std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size());
}

}  // namespace

Result<Command> ClassifyLine(std::string_view line) {
  try {
    return ClassifyImpl(line);
  } catch (const std::exception&) {
    return StatusCode::kInvalidArgument;
  }
}

uint8_t JsonManagement::ActorId(const protocol::VerifiedKey& key) { return static_cast<uint8_t>(key.grant.role); }

Result<Command> JsonManagement::Classify(std::span<const uint8_t> payload) {
  if (payload.size() > protocol::kMaxRequestPayload) return StatusCode::kInvalidArgument;
  return ClassifyLine(AsText(payload));
}

Result<size_t> JsonManagement::Run(const protocol::VerifiedKey& key, core::OperationSource source,
                                   std::span<const uint8_t> payload, std::span<uint8_t> out) {
  if (!Classify(payload).ok()) return StatusCode::kInvalidArgument;
  std::string answer;
  try {
    dljson::DoorLockJson adapter(lock_, core::Actor{source, ActorId(key)}, /*user_index=*/0);
    // Who asked, as the protocol records its own operations (executor.cc).
    adapter.set_key(protocol::KeyCredential(key));
    answer = adapter.HandleLine(AsText(payload));
  } catch (const std::exception&) {
    return StatusCode::kInternal;
  }
  if (answer.size() > out.size()) return StatusCode::kResourceExhausted;
  std::memcpy(out.data(), answer.data(), answer.size());
  return answer.size();
}

}  // namespace mortise::lockd
