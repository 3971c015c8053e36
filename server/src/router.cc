#include "router.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "api_error.h"

namespace mortise::server {
namespace {

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t j = path.find('/', i);
    out.emplace_back(path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return out;
}

bool IsParam(const std::string& seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

}  // namespace

nlohmann::json Context::Json() const {
  auto j = nlohmann::json::parse(request.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw ApiError(400, "invalid_json", "The request body must be a JSON object.");
  }
  return j;
}

void AuthFilter::Before(Context& ctx, const RouteSpec& route) {
  if (route.access == Access::kPublic) return;
  const auto authorization = ctx.request.Header("authorization");
  bool by_cookie = false;
  if (authorization) {
    if (!authorization->starts_with("Bearer ")) {
      throw ApiError(401, "invalid_api_key", "Send API keys as \"Authorization: Bearer mtk_...\".");
    }
    ctx.principal = auth_.AuthenticateApiKey(authorization->substr(7));
    if (!ctx.principal) {
      throw ApiError(401, "invalid_api_key", "The API key is unknown or was revoked; create a new one.");
    }
  } else if (auto cookie = ctx.request.Cookie(kSessionCookie)) {
    ctx.principal = auth_.AuthenticateSession(*cookie);
    by_cookie = true;
  }
  if (!ctx.principal) {
    throw ApiError(401, "unauthenticated",
                   "Sign in first (POST /api/v1/sessions), or send an API key as \"Authorization: Bearer\".");
  }
  const auto& p = *ctx.principal;
  if (p.kind == Principal::Kind::kApiKey) {
    if (route.access == Access::kSessionOnly) {
      throw ApiError(403, "session_required", "This action needs a signed-in browser session; API keys cannot do it.");
    }
    if (std::find(p.scopes.begin(), p.scopes.end(), route.scope) == p.scopes.end()) {
      throw ApiError(403, "insufficient_scope", "This API key lacks the scope \"" + route.scope + "\".");
    }
  }
  const std::string& m = ctx.request.method;
  if (by_cookie && m != "GET" && m != "HEAD") {
    const auto sent = ctx.request.Header(kCsrfHeader);
    if (!sent || !SecretEquals(*sent, p.csrf_token)) {
      throw ApiError(403, "csrf_failed",
                     "Send the X-CSRF-Token header with the csrf_token you received when you signed in.");
    }
  }
}

void JsonBodyFilter::Before(Context& ctx, const RouteSpec&) {
  if (ctx.request.body.empty()) return;
  const auto type = ctx.request.Header("content-type");
  if (!type || !type->starts_with("application/json")) {
    throw ApiError(415, "unsupported_media_type", "Send the body as JSON with \"Content-Type: application/json\".");
  }
}

void OrgFilter::Before(Context& ctx, const RouteSpec& route) {
  if (route.org_action == OrgAction::kNone) return;
  const auto org = ctx.params.find("org_id");
  if (org == ctx.params.end() || !ctx.principal) {
    throw std::logic_error("organisation route without {org_id} or principal: " + route.pattern);
  }
  ctx.membership = repo_.Membership(org->second, ctx.principal->account_id);
  if (!ctx.membership) {
    throw ApiError(404, "not_found", "No such organisation, or you are not in it.");
  }
  const auto role = ParseRole(ctx.membership->role);
  if (!role) throw std::logic_error("stored role unknown: " + ctx.membership->role);
  if (route.org_action == OrgAction::kManagePeopleOrSelf) {
    const auto target = ctx.params.find("account_id");
    if (target != ctx.params.end() && target->second == ctx.principal->account_id) return;
  }
  if (!RoleAllows(*role, route.org_action)) {
    throw ApiError(403, "forbidden_role",
                   "Your role in this organisation (" + ctx.membership->role + ") does not allow this.");
  }
}

void Router::Add(std::string_view method, std::string_view pattern, RouteHandler handler) {
  const RouteSpec* rule = FindRouteRule(method, pattern);
  if (!rule) throw std::logic_error("no access rule for " + std::string(method) + " " + std::string(pattern));
  Entry e{*rule, {}, std::move(handler)};
  e.segments = Split(e.spec.pattern);
  routes_.push_back(std::move(e));
}

std::vector<RouteSpec> Router::Routes() const {
  std::vector<RouteSpec> out;
  for (const auto& e : routes_) out.push_back(e.spec);
  return out;
}

Response Router::Dispatch(const Request& request, std::string& route_name) {
  const auto segments = Split(request.path);
  std::string allow;
  for (const auto& e : routes_) {
    if (e.segments.size() != segments.size()) continue;
    std::unordered_map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      if (IsParam(e.segments[i])) {
        params[e.segments[i].substr(1, e.segments[i].size() - 2)] = segments[i];
      } else {
        match = e.segments[i] == segments[i];
      }
    }
    if (!match) continue;
    if (e.spec.method != request.method) {
      allow += (allow.empty() ? "" : ", ") + e.spec.method;
      continue;
    }
    route_name = e.spec.pattern;
    Context ctx{request, std::move(params), std::nullopt, std::nullopt};
    for (auto& f : filters_) f->Before(ctx, e.spec);
    return e.handler(ctx);
  }
  if (!allow.empty()) {
    Response r = ErrorResponse(405, "method_not_allowed", "Use one of: " + allow + ".");
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  throw ApiError(404, "not_found", "No such endpoint; see /api/v1/openapi.json for the API.");
}

Response Router::Handle(const Request& request) {
  const auto start = std::chrono::steady_clock::now();
  std::string route_name = "unmatched";
  Response r;
  try {
    r = Dispatch(request, route_name);
  } catch (const ApiError& e) {
    r = ErrorResponse(e.status(), e.code(), e.what());
    if (e.retry_after_s() > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s()));
  } catch (const StorageError&) {
    metrics_.CountDbError();
    r = ErrorResponse(503, "storage_unavailable", "The database is unavailable; retry later.");
  } catch (const std::exception&) {
    r = ErrorResponse(500, "internal", "The server failed to handle the request.");
  }
  r.headers.emplace_back("Cache-Control", "no-store");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.ObserveRequest(route_name, request.method, r.status, seconds);
  return r;
}

}  // namespace mortise::server
