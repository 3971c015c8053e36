// Request and response helpers shared by the route files (api.cc,
// api_groups.cc): required/optional JSON fields, 204, cursor pages.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api_error.h"
#include "message.h"
#include "router.h"

namespace mortise::server {

inline constexpr int kDefaultPage = 50;
inline constexpr int kMaxPage = 100;

inline std::string RequireString(const nlohmann::json& body, const char* field) {
  const auto it = body.find(field);
  if (it == body.end() || !it->is_string()) {
    throw ApiError(400, "invalid_field", std::string("Give \"") + field + "\" as a string.");
  }
  return it->get<std::string>();
}

inline std::optional<std::string> OptionalString(const nlohmann::json& body, const char* field) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw ApiError(400, "invalid_field", std::string("\"") + field + "\" must be a string.");
  return it->get<std::string>();
}

inline Response NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

inline int PageLimit(const Request& req) {
  const auto v = req.QueryParam("limit");
  if (!v) return kDefaultPage;
  int n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9' || n > kMaxPage) throw ApiError(400, "invalid_limit", "limit must be 1 to 100.");
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > kMaxPage) throw ApiError(400, "invalid_limit", "limit must be 1 to 100.");
  return n;
}

// One page of `fetch(after, limit + 1)` as {"items": [...], "next_cursor"}.
template <typename Fetch, typename ToJson, typename Key>
Response Page(const Context& c, Fetch fetch, ToJson to_json, Key key) {
  const int limit = PageLimit(c.request);
  auto page = fetch(c.request.QueryParam("cursor").value_or(""), limit + 1);
  const bool more = static_cast<int>(page.size()) > limit;
  if (more) page.pop_back();
  nlohmann::json items = nlohmann::json::array();
  for (const auto& row : page) items.push_back(to_json(row));
  const nlohmann::json next = more ? nlohmann::json(key(page.back())) : nlohmann::json(nullptr);
  return JsonResponse(200, nlohmann::json{{"items", items}, {"next_cursor", next}}.dump());
}

}  // namespace mortise::server
