// The server's own HTTP request and response: what the router, the filters
// and the handlers see. Beast stays inside http_server.cc, so no other
// translation unit pays for its headers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mortise::server {

// The listener's side of one accepted WebSocket. Thread-safe; never blocks.
class WebSocketPeer {
 public:
  virtual ~WebSocketPeer() = default;
  // Queues one text message. false when the peer is closed or closing, or
  // when the message would exceed the queue bounds (http.ws_queue_*): then
  // the peer is closed with 1008 "slow consumer..." and its queue dropped.
  virtual bool Send(std::string text) = 0;
  // Closes with `code` (1000 normal, 1008 policy) and a short reason.
  virtual void Close(uint16_t code, std::string reason) = 0;
  virtual bool open() const = 0;
};

// The application's side of one accepted WebSocket; called on the
// connection's strand, one call at a time.
class WebSocketClient {
 public:
  virtual ~WebSocketClient() = default;
  virtual void OnText(std::string_view text) = 0;
  // Once, when the socket is gone (either side closed it, or it broke).
  virtual void OnClosed() = 0;
};

struct Request {
  std::string method;  // upper case as sent: "GET", "POST", ...
  std::string path;    // the target up to '?', not percent-decoded
  std::string query;   // after '?', raw ("" when absent)
  // Header names lower-cased; repeated headers kept in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // the peer's IP address, no port
  bool tls = false;
  // A WebSocket upgrade request: the peer it becomes if the Response
  // accepts it (nullptr for ordinary requests).
  std::shared_ptr<WebSocketPeer> websocket;

  // First header with this (lower-case) name.
  std::optional<std::string_view> Header(std::string_view lower_name) const;
  // A query parameter, percent-decoded ('+' is a space); nullopt if absent or
  // badly encoded.
  std::optional<std::string> QueryParam(std::string_view name) const;
  // The value of one cookie from the Cookie header(s).
  std::optional<std::string> Cookie(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length
  std::string body;
  // Accepts Request::websocket's upgrade (the other fields are then unused).
  std::shared_ptr<WebSocketClient> websocket_client;
};

// The one error shape: {"error":{"code":"...","message":"..."}}. `code` is a
// stable snake_case identifier clients switch on; `message` tells a person
// what to do.
Response ErrorResponse(int status, std::string_view code, std::string_view message);

// A JSON body (already serialised) with a status.
Response JsonResponse(int status, std::string body);

}  // namespace mortise::server
