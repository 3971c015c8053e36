// The server's own HTTP request and response: what the router, the filters
// and the handlers see. Beast stays inside http_server.cc, so no other
// translation unit pays for its headers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mortise::server {

struct Request {
  std::string method;  // upper case as sent: "GET", "POST", ...
  std::string path;    // the target up to '?', not percent-decoded
  std::string query;   // after '?', raw ("" when absent)
  // Header names lower-cased; repeated headers kept in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // the peer's IP address, no port
  bool tls = false;

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
};

// The one error shape: {"error":{"code":"...","message":"..."}}. `code` is a
// stable snake_case identifier clients switch on; `message` tells a person
// what to do.
Response ErrorResponse(int status, std::string_view code, std::string_view message);

// A JSON body (already serialised) with a status.
Response JsonResponse(int status, std::string body);

}  // namespace mortise::server
