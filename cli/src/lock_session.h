// What most commands need: the keyring, the selected lock, a link to it and
// a protocol client speaking with this device's key for that lock.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "commands.h"
#include "lock_client.h"

namespace mortise::cli {

class LockSession {
 public:
  // Opens the keyring just long enough to copy the selected lock (--lock)
  // and its key, connects to the lock's endpoint and prepares the session.
  // The keyring is not held while talking to the lock, so a long-running
  // command (log --follow) never blocks another. If an access-list update
  // signed earlier is still waiting to be delivered (key revoke --no-push,
  // or a lock that was unreachable), it is delivered first.
  LockSession(Context& ctx);
  // Ends the session at the lock (its slot is free at once for the next
  // client); errors there are ignored.
  ~LockSession();

  // A copy of the lock's keyring entry as it was read (or last updated).
  const LockEntry& lock() const { return lock_; }
  LockClient& client() { return *client_; }
  const crypto::P256KeyPair& key() const { return *key_; }
  // The revalidation token stored for this lock (empty: none).
  const std::vector<uint8_t>& revalidation() const { return revalidation_; }

  // Drops the link and the session and connects again (a new handshake on
  // the next command): after the lock did not answer or went away. Throws
  // Error(kUnreachable) while the lock cannot be reached.
  void Reconnect();

  // Re-opens the keyring for update, applies `change` to this lock's entry
  // and saves it atomically (Keyring::Save), then refreshes lock().
  void Update(const std::function<void(LockEntry&)>& change);

  // Runs one command; a refusal throws Error(kRefused) saying `what` failed.
  protocol::CommandResponse Run(const protocol::CommandRequest& request, const std::string& what);
  // Throws the Error for an operation the core refused (`r.status` is
  // kAborted): the reason in words (refusal.h), completed with the lock's
  // mode or lockout time when that is the reason.
  [[noreturn]] void ThrowOperationRefused(const std::string& what, const protocol::CommandResponse& r);
  int64_t ReadAttribute(core::AttributeId id);
  // A Door Lock cluster command: sends `request` (a JSON object with
  // "invoke"/"read"/"write") and returns the answer; throws Error(kRefused)
  // unless the answer says ok and, for commands, status Success.
  nlohmann::json Dl(const nlohmann::json& request, bool require_success = true);
  // Dl for {"invoke": command, "args": args}.
  nlohmann::json Invoke(const char* command, nlohmann::json args, bool require_success = true) {
    return Dl(nlohmann::json{{"invoke", command}, {"args", std::move(args)}}, require_success);
  }
  // Delivers a signed access-list update and forgets it once the lock has
  // it (or a newer one). Throws as Run.
  void DeliverAccessList(const std::vector<uint8_t>& update);

 private:
  Context& ctx_;
  LockEntry lock_;
  std::optional<crypto::P256KeyPair> key_;
  std::vector<uint8_t> revalidation_;
  std::optional<Transport> transport_;
  std::unique_ptr<LockClient> client_;
};

// "2026-11-24T08:00:00Z", "2026-11-24T08:00Z", "2026-11-24" (midnight UTC)
// or "now" (`now`). Throws Error(kBadInput) on anything else.
int64_t ParseUtc(std::string_view text, int64_t now);
// "mon-fri", "sat,sun", "daily" → Matter days mask (bit 0 Sunday).
// Throws Error(kBadInput).
uint8_t ParseDays(std::string_view text);
// The inverse, for people: "daily", "mon-fri", "sat,sun", "mon,wed-fri",
// "none".
std::string FormatDays(uint8_t mask);
// "07:00-19:00" → minutes [start, end) (end 1440 for "24:00"). With
// `overnight_ok`, an end before the start means the next day
// ("19:00-07:00": start 1140, end 420; HourRange::overnight()). Throws
// Error(kBadInput) saying what is wrong (not HH:MM, hour or minute out of
// range, start equals end, crosses midnight where it cannot).
struct HourRange {
  uint16_t start = 0;
  uint16_t end = 0;
  bool overnight() const { return end < start; }
};
HourRange ParseHours(std::string_view text, bool overnight_ok = false);

}  // namespace mortise::cli
