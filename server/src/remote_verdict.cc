#include "remote_verdict.h"

#include "door_registration.h"
#include "mortise/protocol/remote.h"
#include "mortise/protocol/node.h"

namespace mortise::server {

RemoteVerdict JudgeRemoteAnswer(const DoorRow& door, std::span<const uint8_t> envelope,
                                std::span<const uint8_t> answer) {
  const auto bad = [](std::string why) { return RemoteVerdict{"bad_answer", std::move(why), {}}; };
  if (answer.empty() || answer[0] != static_cast<uint8_t>(protocol::FrameType::kRemote)) {
    return bad("the answer is not a remote result");
  }
  const auto command_hash = protocol::RemoteCommandHash(envelope);
  const auto key_bytes = FromHex(door.lock_public_key, kPublicKeyBytes);
  if (!command_hash.ok() || !key_bytes) return bad("the envelope or the door's stored key does not decode");
  const auto lock_key = crypto::P256PublicKey::Import(*key_bytes);
  if (!lock_key.ok()) return bad("the door's stored key does not decode");
  const std::span<const uint8_t> result = answer.subspan(1);
  const auto outcome = protocol::VerifyRemoteResult(result, *lock_key, *command_hash);
  if (!outcome.ok()) {
    // Signed by another key, bound to another command, or an unsigned
    // "success": nobody's word.
    return bad("the answer does not verify against this door's key and envelope");
  }
  if (!outcome->confirmed) {
    return RemoteVerdict{"unconfirmed", "an unsigned refusal: the outcome is unknown", {result.begin(), result.end()}};
  }
  const bool done = outcome->envelope == StatusCode::kOk && outcome->response.status == StatusCode::kOk &&
                    outcome->response.dl_status == 0;
  return RemoteVerdict{"confirmed", done ? "" : "the lock refused the command (signed answer)",
                       {result.begin(), result.end()}, done};
}

}  // namespace mortise::server
