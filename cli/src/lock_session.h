// What most commands need: the keyring, the selected lock, a link to it and
// a protocol client speaking with this device's key for that lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "commands.h"
#include "lock_client.h"

namespace mortise::cli {

class LockSession {
 public:
  // Opens the keyring, selects the lock (--lock), connects to its endpoint
  // and prepares the session with the lock's identity and chain.
  LockSession(Context& ctx, Keyring::Access access);

  Keyring& keyring() { return keyring_; }
  LockEntry& lock() { return *lock_; }
  LockClient& client() { return *client_; }
  crypto::P256KeyPair key() const { return keyring_.content().GetIdentity(lock_->identity).KeyPair(); }

  // Runs one command; a refusal throws Error(kRefused) saying `what` failed.
  protocol::CommandResponse Run(const protocol::CommandRequest& request, const std::string& what);
  int64_t ReadAttribute(core::AttributeId id);
  // A Door Lock cluster command: sends `request` (a JSON object with
  // "invoke"/"read"/"write") and returns the answer; throws Error(kRefused)
  // unless the answer says ok and, for commands, status Success.
  nlohmann::json Dl(const nlohmann::json& request, bool require_success = true);

 private:
  Keyring keyring_;
  LockEntry* lock_;
  std::optional<Transport> transport_;
  std::unique_ptr<LockClient> client_;
};

// "2026-11-24T08:00:00Z", "2026-11-24T08:00Z", "2026-11-24" (midnight UTC)
// or "now" (`now`). Throws Error(kUsage) on anything else.
int64_t ParseUtc(std::string_view text, int64_t now);
std::string FormatUtc(int64_t utc);
// "mon-fri", "sat,sun", "daily" → Matter days mask (bit 0 Sunday).
// Throws Error(kUsage).
uint8_t ParseDays(std::string_view text);
// "07:00-19:00" → minutes [start, end). Throws Error(kUsage).
std::pair<uint16_t, uint16_t> ParseHours(std::string_view text);

}  // namespace mortise::cli
