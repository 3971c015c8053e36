// The WebSocket stream's fan-out (GET /api/v1/stream, docs/server.md
// "Events"): producers (door state, online, log and update ingest) publish an
// event for one organisation; the hub sends it to every open stream that
// subscribed to that organisation and whose account is, at that moment, a
// member whose role may see that event type (policy.h EventAction). Sending
// only queues (WebSocketPeer::Send never blocks); a client whose queue is
// full is disconnected by the listener as a slow consumer, the others go on.
// Streams are closed when their session is signed out or their API key
// revoked (the API calls CloseSession/CloseApiKey/CloseAccount).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "message.h"
#include "policy.h"

namespace mortise::server {

class EventHub {
 public:
  // The caller's current role in an organisation (nullopt: not a member).
  using RoleLookup = std::function<std::optional<Role>(std::string_view org_id, std::string_view account_id)>;
  explicit EventHub(RoleLookup role_of) : role_of_(std::move(role_of)) {}

  struct Credential {
    std::string account_id;
    std::string session_id;  // a browser session, or
    std::string api_key_id;  // an API key
    // False for an API key without `audit:read`: `door.log` events are not
    // sent to it (the log routes need that scope too).
    bool reads_logs = true;
  };
  // A new stream; the returned client handles its messages
  // ({"subscribe": ["org_..."]}) and its end. Give it to Response::websocket_client.
  std::shared_ptr<WebSocketClient> Open(Credential who, std::shared_ptr<WebSocketPeer> peer);

  // Thread-safe; never blocks on a client. Adds "org_id" to the event.
  // Returns how many streams it was queued for.
  size_t Publish(std::string_view org_id, const nlohmann::json& event);

  // Close the streams of a session, an API key, or every stream of an
  // account (code 1008, the reason says why).
  void CloseSession(const std::string& session_id);
  void CloseApiKey(const std::string& api_key_id);
  void CloseAccount(const std::string& account_id);
  // A password change: the account's other sessions end (not its API keys).
  void CloseOtherSessions(const std::string& account_id, const std::string& kept_session_id);
  // Closes the streams whose session has ended by itself (its lifetime or
  // idle timeout passed after the stream opened): `ended(account_id,
  // session_id)` says so; it runs without the hub's lock, once per session.
  // Streams of API keys are not asked. Returns the streams closed
  // (code 1008, "session expired").
  size_t CloseEndedSessions(const std::function<bool(const std::string& account_id,
                                                     const std::string& session_id)>& ended);

  // Streams open now (for /metrics).
  size_t clients() const;

 private:
  class Stream;
  friend class Stream;
  void Subscribe(Stream* stream, const std::vector<std::string>& org_ids);
  void Forget(Stream* stream);
  template <typename Match>
  void CloseWhere(Match match, const std::string& reason);

  RoleLookup role_of_;
  mutable std::mutex mu_;
  std::map<Stream*, std::weak_ptr<Stream>> streams_;
};

}  // namespace mortise::server
