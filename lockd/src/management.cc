#include "management.h"

#include <cstring>
#include <exception>
#include <string>

#include "mortise/dljson/dl_json.h"

namespace mortise::lockd {

uint8_t JsonManagement::ActorId(const protocol::VerifiedKey& key) { return static_cast<uint8_t>(key.grant.role); }

Result<size_t> JsonManagement::Run(const protocol::VerifiedKey& key, core::OperationSource source,
                                   const protocol::ManagementCommand& command, std::span<uint8_t> out) {
  std::string answer;
  try {
    dljson::DoorLockJson adapter(lock_, core::Actor{source, ActorId(key)}, /*user_index=*/0);
    // Who asked, as the protocol records its own operations (executor.cc).
    adapter.set_key(protocol::KeyCredential(key));
    answer = adapter.Execute(command).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception&) {
    return StatusCode::kInternal;
  }
  if (answer.size() > out.size()) return StatusCode::kResourceExhausted;
  std::memcpy(out.data(), answer.data(), answer.size());
  return answer.size();
}

}  // namespace mortise::lockd
