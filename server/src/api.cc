#include "api.h"

#include <nlohmann/json.hpp>

#include "api_error.h"

namespace mortise::server {
namespace embedded {
extern const std::string_view kOpenApi;
}  // namespace embedded

std::string_view OpenApiDocument() { return embedded::kOpenApi; }

namespace {

using nlohmann::json;

constexpr int kDefaultPage = 50;
constexpr int kMaxPage = 100;

std::string RequireString(const json& body, const char* field) {
  const auto it = body.find(field);
  if (it == body.end() || !it->is_string()) {
    throw ApiError(400, "invalid_field", std::string("Give \"") + field + "\" as a string.");
  }
  return it->get<std::string>();
}

std::optional<std::string> OptionalString(const json& body, const char* field) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw ApiError(400, "invalid_field", std::string("\"") + field + "\" must be a string.");
  return it->get<std::string>();
}

SecondFactor FactorFrom(const json& body) {
  return SecondFactor{OptionalString(body, "totp_code"), OptionalString(body, "recovery_code")};
}

json TimeOrNull(const std::optional<int64_t>& ms) { return ms ? json(*ms) : json(nullptr); }

json AccountJson(const AccountRow& a) {
  return {{"id", a.id}, {"email", a.email}, {"created_at", a.created_at},
          {"password_changed_at", a.password_changed_at}, {"totp_enabled", a.totp_enabled}};
}

json ApiKeyJson(const ApiKeyRow& k) {
  return {{"id", k.id},         {"name", k.name},          {"prefix", k.prefix},
          {"scopes", k.scopes}, {"created_at", k.created_at}, {"last_used_at", TimeOrNull(k.last_used_at)}};
}

json SessionJson(const SessionRow& s) {
  return {{"id", s.id},
          {"created_at", s.created_at},
          {"last_seen_at", s.last_seen_at},
          {"expires_at", s.expires_at},
          {"created_from", s.created_from}};
}

Response NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

int PageLimit(const Request& req) {
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

}  // namespace

Api::Api(Repository& repo, const Clock& clock, Random& random, ApiSettings settings)
    : repo_(repo), settings_(std::move(settings)), auth_(repo, clock, random, settings_.auth) {
  router_.AddFilter(std::make_unique<JsonBodyFilter>());
  router_.AddFilter(std::make_unique<AuthFilter>(auth_));
  metrics_.AddGauge("mortise_server_websocket_clients", "WebSocket clients connected (the console stream; none yet).",
                    [] { return 0.0; });
  metrics_.AddGauge("mortise_server_db_pool_size", "Database connections the server holds.", [] { return 1.0; });
  AddRoutes();
}

std::string Api::SessionCookie(const Request& request, const std::string& token, int64_t max_age_s) const {
  std::string c = std::string(kSessionCookie) + "=" + token + "; Path=/; Max-Age=" + std::to_string(max_age_s) +
                  "; HttpOnly; SameSite=Strict";
  if (request.tls || settings_.cookie_secure) c += "; Secure";
  return c;
}

void Api::AddRoutes() {
  auto& r = router_;

  r.Add({"GET", "/healthz", Access::kPublic, ""}, [](Context&) { return JsonResponse(200, R"({"status":"ok"})"); });

  r.Add({"GET", "/readyz", Access::kPublic, ""}, [this](Context&) {
    try {
      repo_.Ping();
    } catch (const StorageError&) {
      throw ApiError(503, "not_ready", "The database does not answer.");
    }
    return JsonResponse(200, R"({"status":"ready"})");
  });

  r.Add({"GET", "/metrics", Access::kPublic, ""}, [this](Context&) {
    Response res;
    res.content_type = "text/plain; version=0.0.4";
    res.body = metrics_.Render();
    return res;
  });

  r.Add({"GET", "/api/v1/openapi.json", Access::kPublic, ""},
        [](Context&) { return JsonResponse(200, std::string(OpenApiDocument())); });

  r.Add({"POST", "/api/v1/accounts", Access::kPublic, ""}, [this](Context& c) {
    const json body = c.Json();
    const AccountRow a = auth_.SignUp(RequireString(body, "email"), RequireString(body, "password"));
    return JsonResponse(201, json{{"account", AccountJson(a)}}.dump());
  });

  r.Add({"POST", "/api/v1/sessions", Access::kPublic, ""}, [this](Context& c) {
    const json body = c.Json();
    const NewSession s = auth_.SignIn(RequireString(body, "email"), RequireString(body, "password"),
                                      FactorFrom(body), c.request.remote_address);
    Response res = JsonResponse(
        201, json{{"session", SessionJson(s.row)}, {"csrf_token", s.row.csrf_token}, {"account_id", s.row.account_id}}
                 .dump());
    res.headers.emplace_back("Set-Cookie",
                             SessionCookie(c.request, s.token, auth_.settings().session_lifetime_s));
    return res;
  });

  r.Add({"DELETE", "/api/v1/sessions/current", Access::kSessionOnly, ""}, [this](Context& c) {
    auth_.SignOut(c.principal->session_id);
    Response res = NoContent();
    res.headers.emplace_back("Set-Cookie", SessionCookie(c.request, "", 0));
    return res;
  });

  r.Add({"DELETE", "/api/v1/sessions", Access::kSessionOnly, ""}, [this](Context& c) {
    auth_.SignOutEverywhere(c.principal->account_id);
    Response res = NoContent();
    res.headers.emplace_back("Set-Cookie", SessionCookie(c.request, "", 0));
    return res;
  });

  r.Add({"GET", "/api/v1/me", Access::kAccount, std::string(kScopeAccountRead)}, [this](Context& c) {
    const auto a = repo_.AccountById(c.principal->account_id);
    if (!a) throw ApiError(401, "unauthenticated", "Sign in again.");
    return JsonResponse(200, json{{"account", AccountJson(*a)}}.dump());
  });

  r.Add({"DELETE", "/api/v1/me", Access::kSessionOnly, ""}, [this](Context& c) {
    const json body = c.Json();
    auth_.DeleteAccount(*c.principal, RequireString(body, "password"), FactorFrom(body));
    Response res = NoContent();
    res.headers.emplace_back("Set-Cookie", SessionCookie(c.request, "", 0));
    return res;
  });

  r.Add({"GET", "/api/v1/me/export", Access::kAccount, std::string(kScopeAccountRead)}, [this](Context& c) {
    const auto a = repo_.AccountById(c.principal->account_id);
    if (!a) throw ApiError(401, "unauthenticated", "Sign in again.");
    json sessions = json::array(), keys = json::array();
    for (const auto& s : repo_.Sessions(a->id)) sessions.push_back(SessionJson(s));
    for (std::string after;;) {
      const auto page = repo_.ApiKeys(a->id, after, kMaxPage);
      for (const auto& k : page) keys.push_back(ApiKeyJson(k));
      if (static_cast<int>(page.size()) < kMaxPage) break;
      after = page.back().id;
    }
    json out = {{"format", "mortise-account-export/1"},
                {"account", AccountJson(*a)},
                {"recovery_codes_left", repo_.CountRecoveryCodes(a->id)},
                {"sessions", sessions},
                {"api_keys", keys}};
    Response res = JsonResponse(200, out.dump(2));
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"mortise-account.json\"");
    return res;
  });

  r.Add({"POST", "/api/v1/me/password", Access::kSessionOnly, ""}, [this](Context& c) {
    const json body = c.Json();
    auth_.ChangePassword(*c.principal, RequireString(body, "current_password"), RequireString(body, "new_password"),
                         FactorFrom(body));
    return NoContent();
  });

  r.Add({"POST", "/api/v1/me/totp", Access::kSessionOnly, ""}, [this](Context& c) {
    const TotpEnrolment e = auth_.BeginTotp(c.principal->account_id);
    return JsonResponse(201, json{{"secret", e.secret}, {"otpauth_uri", e.uri}}.dump());
  });

  r.Add({"POST", "/api/v1/me/totp/confirm", Access::kSessionOnly, ""}, [this](Context& c) {
    const json body = c.Json();
    const auto codes = auth_.ConfirmTotp(c.principal->account_id, RequireString(body, "code"));
    return JsonResponse(200, json{{"recovery_codes", codes}}.dump());
  });

  r.Add({"GET", "/api/v1/me/api-keys", Access::kSessionOnly, ""}, [this](Context& c) {
    const int limit = PageLimit(c.request);
    const std::string after = c.request.QueryParam("cursor").value_or("");
    auto page = repo_.ApiKeys(c.principal->account_id, after, limit + 1);
    json items = json::array();
    const bool more = static_cast<int>(page.size()) > limit;
    if (more) page.pop_back();
    for (const auto& k : page) items.push_back(ApiKeyJson(k));
    json out = {{"items", items}, {"next_cursor", more ? json(page.back().id) : json(nullptr)}};
    return JsonResponse(200, out.dump());
  });

  r.Add({"POST", "/api/v1/me/api-keys", Access::kSessionOnly, ""}, [this](Context& c) {
    const json body = c.Json();
    std::vector<std::string> scopes;
    const auto it = body.find("scopes");
    if (it == body.end() || !it->is_array()) {
      throw ApiError(400, "invalid_field", "Give \"scopes\" as an array of strings.");
    }
    for (const auto& s : *it) {
      if (!s.is_string()) throw ApiError(400, "invalid_field", "Give \"scopes\" as an array of strings.");
      scopes.push_back(s.get<std::string>());
    }
    const NewApiKey k = auth_.CreateApiKey(c.principal->account_id, RequireString(body, "name"), scopes);
    return JsonResponse(201, json{{"api_key", ApiKeyJson(k.row)}, {"token", k.token}}.dump());
  });

  r.Add({"DELETE", "/api/v1/me/api-keys/{key_id}", Access::kSessionOnly, ""}, [this](Context& c) {
    if (!repo_.DeleteApiKey(c.principal->account_id, c.params.at("key_id"))) {
      throw ApiError(404, "not_found", "You have no API key with this id.");
    }
    return NoContent();
  });
}

}  // namespace mortise::server
