// info: the lock's unauthenticated self-description (frame type 0x04).
#include <optional>

#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "mortise/protocol/node.h"

namespace mortise::cli {

int CmdInfo(Context& ctx, const InfoOptions& o) {
  std::string endpoint_text = o.endpoint;
  std::string lock_name;
  struct Pin {
    protocol::LockId lock_id;
    std::array<uint8_t, crypto::kP256PublicKeySize> lock_key;
  };
  std::optional<Pin> pinned;
  if (endpoint_text.empty()) {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    const LockEntry& lock = ctx.SelectLock(keyring);
    if (lock.endpoint.empty())
      throw Error(ExitCode::kUsage, "the keyring has no endpoint for lock \"" + lock.name + "\"",
                  "Give one with --endpoint.");
    endpoint_text = lock.endpoint;
    lock_name = lock.name;
    pinned = Pin{lock.lock_id, lock.lock_key};
  }
  const Endpoint endpoint = Endpoint::Parse(endpoint_text);
  Transport transport = ctx.Connect(endpoint);
  const uint8_t request[1] = {static_cast<uint8_t>(protocol::FrameType::kInfo)};
  std::vector<uint8_t> reply;
  {
    Progress progress("Asking " + endpoint.ToString());
    reply = transport.Exchange(request);
  }
  if (reply.size() == 1 && reply[0] == static_cast<uint8_t>(protocol::FrameType::kInvalid))
    throw Error(ExitCode::kRefused, "the lock at " + endpoint.ToString() + " does not answer info requests",
                "It may run an older protocol; update mortise-lockd.");
  if (reply.empty() || reply[0] != static_cast<uint8_t>(protocol::FrameType::kInfo))
    throw Error(ExitCode::kVerification,
                "the lock at " + endpoint.ToString() + " answered an info request with " +
                    (reply.empty() ? std::string("an empty frame") : "frame type " + std::to_string(reply[0])),
                "This is not a Mortise lock, or something is tampering with the link.");
  Result<protocol::LockInfoView> info = protocol::DecodeLockInfo(reply);
  if (!info.ok())
    throw Error(ExitCode::kVerification, "the lock at " + endpoint.ToString() + " sent a malformed LockInfo",
                "This is not a Mortise lock, or something is tampering with the link.");
  // The reply is unauthenticated: a match proves nothing (a session does),
  // but a mismatch with the key pinned in the keyring is worth stopping on.
  if (pinned) {
    Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(pinned->lock_key);
    if (info->lock_id != pinned->lock_id || !key.ok() || info->key_hash != protocol::KeyIdOf(*key))
      throw Error(ExitCode::kVerification,
                  "the lock at " + endpoint.ToString() + " is not \"" + lock_name + "\": it says lock id " +
                      ToHex(info->lock_id) + ", the keyring pins " + ToHex(pinned->lock_id),
                  "Check the endpoint; if the lock was replaced or reset, claim it or accept a key for it again.");
  }
  const std::string lock_id = ToHex(info->lock_id);
  const std::string key_hash = ToHex(info->key_hash);
  std::string text = "Endpoint      " + endpoint.ToString() + "\n";
  if (!lock_name.empty()) text += "Lock          " + lock_name + " (lock id matches the keyring)\n";
  text += "Lock id       " + lock_id + "\nKey hash      " + key_hash + "\nClaimed       " +
          (info->claimed ? "yes" : "no") + "\nClaim window  " + (info->claim_window_open ? "open" : "closed") +
          "\nProtocol      " + std::to_string(info->version) + "\n";
  ctx.out().Text(text);
  nlohmann::json j = {{"endpoint", endpoint.ToString()}, {"lock_id", lock_id},
                      {"key_hash", key_hash},            {"claimed", info->claimed},
                      {"claim_window_open", info->claim_window_open}, {"protocol_version", info->version}};
  if (!lock_name.empty()) j["lock"] = lock_name;
  ctx.out().Json(j);
  return 0;
}

}  // namespace mortise::cli
