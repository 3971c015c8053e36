#include "api.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include <limits>

#include "api_error.h"
#include "api_logs.h"
#include "log_custody.h"
#include "api_duty.h"
#include "uplink_certs.h"
#include "door_transfers.h"
#include "api_json.h"

namespace mortise::server {
namespace embedded {
extern const std::string_view kOpenApi;
}  // namespace embedded

std::string_view OpenApiDocument() { return embedded::kOpenApi; }

namespace {

using nlohmann::json;

SecondFactor FactorFrom(const json& body) {
  return SecondFactor{OptionalString(body, "totp_code"), OptionalString(body, "recovery_code")};
}

// The actor of an event before a session exists (sign-up, sign-in).
Principal SessionPrincipal(std::string account_id, std::string email) {
  Principal p;
  p.account_id = std::move(account_id);
  p.email = std::move(email);
  return p;
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


json OrgJson(const OrganisationRow& o) {
  return {{"id", o.id}, {"name", o.name}, {"kind", o.kind}, {"created_at", o.created_at}};
}

json SiteJson(const SiteRow& s) {
  return {{"id", s.id}, {"org_id", s.org_id}, {"name", s.name}, {"created_at", s.created_at}};
}

json DoorJson(const DoorRow& d) {
  return {{"id", d.id},
          {"org_id", d.org_id},
          {"site_id", d.site_id},
          {"name", d.name},
          {"lock_id", d.lock_id},
          {"lock_public_key", d.lock_public_key},
          {"owner_public_key", d.owner_public_key},
          {"registered_by", d.registered_by},
          {"created_at", d.created_at}};
}

json PersonJson(const MembershipRow& m) {
  return {{"account_id", m.account_id}, {"email", m.email}, {"role", m.role}, {"since", m.created_at}};
}

json InvitationJson(const InvitationRow& i) {
  return {{"id", i.id},
          {"org_id", i.org_id},
          {"role", i.role},
          {"note", i.note},
          {"created_by", i.created_by},
          {"created_at", i.created_at},
          {"expires_at", i.expires_at},
          {"accepted_by", i.accepted_by ? json(*i.accepted_by) : json(nullptr)},
          {"accepted_at", TimeOrNull(i.accepted_at)}};
}

json AuditJson(const AuditEvent& e) {
  auto detail = json::parse(e.detail, nullptr, false);
  return {{"seq", e.seq},
          {"at", e.at},
          {"org_id", e.org_id ? json(*e.org_id) : json(nullptr)},
          {"actor", {{"account_id", e.actor_account_id}, {"email", e.actor_email}, {"credential", e.actor_credential}}},
          {"action", e.action},
          {"object", {{"type", e.object_type}, {"id", e.object_id}}},
          {"address", e.address},
          {"user_agent", e.user_agent},
          {"detail", detail.is_discarded() ? json::object() : detail}};
}


std::optional<int64_t> TimeParam(const Request& req, const char* name) {
  const auto v = req.QueryParam(name);
  if (!v) return std::nullopt;
  if (v->empty() || v->size() > 15 || v->find_first_not_of("0123456789") != std::string::npos) {
    throw ApiError(400, "invalid_query", std::string(name) + " must be a whole number (times: Unix milliseconds).");
  }
  return std::stoll(*v);
}

// The audit filters of the query string: actor, action, object, from, to, cursor.
AuditQuery AuditQueryOf(const Request& req, std::optional<std::string> org_id, int limit) {
  AuditQuery q;
  q.org_id = std::move(org_id);
  q.actor = req.QueryParam("actor");
  q.action = req.QueryParam("action");
  q.object_id = req.QueryParam("object");
  q.from = TimeParam(req, "from");
  q.to = TimeParam(req, "to");
  q.before_seq = TimeParam(req, "cursor");
  q.limit = limit;
  return q;
}

Response AuditPage(AuditTrail& audit, const Context& c, AuditQuery q) {
  const int limit = q.limit;
  q.limit = limit + 1;
  auto events = audit.Search(q);
  const bool more = static_cast<int>(events.size()) > limit;
  if (more) events.pop_back();
  json items = json::array();
  for (const auto& e : events) items.push_back(AuditJson(e));
  (void)c;
  return JsonResponse(
      200,
      json{{"items", items}, {"next_cursor", more ? json(std::to_string(events.back().seq)) : json(nullptr)}}.dump());
}

constexpr int kCsvMaxRows = 100000;

}  // namespace

Api::Api(SqlRepository& repo, const Clock& clock, Random& random, ApiSettings settings, LockLink* link)
    : repo_(repo),
      settings_(std::move(settings)),
      auth_(repo, clock, random, settings_.auth),
      audit_(repo, clock, settings_.audit),
      orgs_(repo, clock, random, audit_, settings_.orgs),
      groups_(repo, clock, random, audit_, link, settings_.access),
      events_([&repo](std::string_view org_id, std::string_view account_id) -> std::optional<Role> {
        const auto m = repo.Membership(org_id, account_id);
        if (!m) return std::nullopt;
        return ParseRole(m->role);
      }),
      clock_(clock) {
  groups_.service().SetRelayGate(&relay_gate_);
  router_.AddFilter(std::make_unique<JsonBodyFilter>());
  router_.AddFilter(std::make_unique<AuthFilter>(auth_));
  router_.AddFilter(std::make_unique<OrgFilter>(repo_));
  audit_.MaybePurge();
  metrics_.AddGauge("mortise_server_websocket_clients", "Event streams (GET /api/v1/stream WebSockets) open.",
                    [this] { return static_cast<double>(events_.clients()); });
  metrics_.AddGauge("mortise_server_relays_in_flight", "Relays to locks waiting for their answers.",
                    [this] { return static_cast<double>(relay_gate_.in_flight()); });
  metrics_.AddGauge("mortise_server_relays_refused_total", "Relays refused as relay_busy (too many in flight).",
                    [this] { return static_cast<double>(relay_gate_.refused()); });
  metrics_.AddGauge("mortise_server_relays_in_flight_main", "Remote commands in flight to doors in good standing.",
                    [this] { return static_cast<double>(relay_gate_.in_flight(RelayPool::kMain)); });
  metrics_.AddGauge("mortise_server_relays_in_flight_probation",
                    "Remote commands in flight to doors on probation (an earlier relay unanswered or slow).",
                    [this] { return static_cast<double>(relay_gate_.in_flight(RelayPool::kProbation)); });
  metrics_.AddGauge("mortise_server_relays_in_flight_lockdown", "Site lockdowns waiting for their doors' answers.",
                    [this] { return static_cast<double>(relay_gate_.in_flight(RelayPool::kLockdown)); });
  metrics_.AddGauge("mortise_server_relay_locks_on_probation", "Locks whose relays go through the probation pool.",
                    [this] { return static_cast<double>(relay_gate_.locks_on_probation()); });
  metrics_.AddCounter("mortise_server_lockdowns_unawaited_total",
                      "Site lockdowns sent without waiting for answers (every lockdown slot in use).",
                      [this] { return static_cast<double>(relay_gate_.unawaited_lockdowns()); });
  metrics_.AddGauge("mortise_server_db_pool_size", "Database connections the server holds.", [] { return 1.0; });
  // The one connection is shared under the repository's mutex: in use or
  // not, callers waiting for it, how often and how long they waited.
  const CountingMutex& db = repo.connection_use();
  metrics_.AddGauge("mortise_server_db_connections_in_use", "Database connections running a call now.",
                    [&db] { return static_cast<double>(db.in_use()); });
  metrics_.AddGauge("mortise_server_db_waiting", "Calls waiting now for a database connection.",
                    [&db] { return static_cast<double>(db.waiting()); });
  metrics_.AddCounter("mortise_server_db_waits_total", "Calls that had to wait for a database connection.",
                      [&db] { return static_cast<double>(db.waits()); });
  metrics_.AddCounter("mortise_server_db_wait_seconds_total", "Time calls spent waiting for a database connection.",
                      [&db] { return db.wait_seconds(); });
  AddRoutes();
  AddOrgRoutes();
  AddLinkRoutes();
  AddLogRoutes(router_, repo_);
  AddCustodyRoutes(router_, repo_, clock_, random);
  groups_.AddRoutes(router_, [this](const Context& c) { return ActorOf(c); });
  AddDutyRoutes(router_, repo_, clock_, random, groups_.service(), metrics_);
  AddStreamRoute();
}

// GET /api/v1/stream: the WebSocket of door events (docs/server.md
// "Events"). The filters have authenticated the caller (a session, or an API
// key with orgs:read); a browser's cookie is only taken with the console's
// Origin (a page elsewhere cannot open a stream with the user's cookie: the
// WebSocket equivalent of the CSRF token).
void Api::AddStreamRoute() {
  router_.Add("GET", "/api/v1/stream", [this](Context& c) {
    if (!c.request.websocket) {
      Response r = ErrorResponse(426, "upgrade_required",
                                 "Open this endpoint as a WebSocket (GET with Upgrade: websocket).");
      r.headers.emplace_back("Upgrade", "websocket");
      return r;
    }
    const Principal& p = *c.principal;
    if (p.kind == Principal::Kind::kSession) {
      std::string expected = settings_.public_origin;
      if (expected.empty()) {
        expected = std::string(c.request.tls ? "https://" : "http://") +
                   std::string(c.request.Header("host").value_or(""));
      }
      const auto origin = c.request.Header("origin");
      if (!origin || *origin != expected) {
        throw ApiError(403, "origin_refused",
                       "A stream signed in with a session cookie must come from " + expected +
                           " (the Origin header); scripts use an API key instead.");
      }
    }
    Response r;
    r.status = 101;
    // An API key sees door logs only with the scope the log routes need.
    const bool reads_logs = p.kind != Principal::Kind::kApiKey ||
                            std::find(p.scopes.begin(), p.scopes.end(), "audit:read") != p.scopes.end();
    r.websocket_client = events_.Open({p.account_id, p.session_id, p.api_key_id, reads_logs}, c.request.websocket);
    return r;
  });
}

size_t Api::CloseExpiredStreams() {
  return events_.CloseEndedSessions(
      [this](const std::string& account, const std::string& session) { return !auth_.SessionLive(account, session); });
}

Response Api::Handle(const Request& request) {
  try {
    audit_.MaybePurge();
  } catch (const StorageError&) {
    // The request itself will meet the database's failure and say so.
  }
  return router_.Handle(request);
}

void Api::RecordAccountEvent(const Context& c, const Principal& who, std::string action, std::string object_type,
                             std::string object_id) {
  const Actor actor{who, std::nullopt, c.request.remote_address,
                    std::string(c.request.Header("user-agent").value_or(""))};
  audit_.Record(audit_.Event(actor, std::nullopt, std::move(action), std::move(object_type), std::move(object_id),
                             nullptr));
}

Actor Api::ActorOf(const Context& c) const {
  return Actor{*c.principal, c.membership, c.request.remote_address,
               std::string(c.request.Header("user-agent").value_or(""))};
}

std::string Api::SessionCookie(const Request& request, const std::string& token, int64_t max_age_s) const {
  std::string c = std::string(kSessionCookie) + "=" + token + "; Path=/; Max-Age=" + std::to_string(max_age_s) +
                  "; HttpOnly; SameSite=Strict";
  if (request.tls || settings_.cookie_secure) c += "; Secure";
  return c;
}

void Api::AddRoutes() {
  auto& r = router_;

  r.Add("GET", "/healthz", [](Context&) { return JsonResponse(200, R"({"status":"ok"})"); });

  r.Add("GET", "/readyz", [this](Context&) {
    try {
      repo_.Ping();
    } catch (const StorageError&) {
      throw ApiError(503, "not_ready", "The database does not answer.");
    }
    return JsonResponse(200, R"({"status":"ready"})");
  });

  r.Add("GET", "/metrics", [this](Context&) {
    Response res;
    res.content_type = "text/plain; version=0.0.4";
    res.body = metrics_.Render();
    return res;
  });

  r.Add("GET", "/api/v1/openapi.json",
        [](Context&) { return JsonResponse(200, std::string(OpenApiDocument())); });

  r.Add("POST", "/api/v1/accounts", [this](Context& c) {
    const json body = c.Json();
    const AccountRow a = auth_.SignUp(RequireString(body, "email"), RequireString(body, "password"));
    RecordAccountEvent(c, SessionPrincipal(a.id, a.email), "account.create", "account", a.id);
    return JsonResponse(201, json{{"account", AccountJson(a)}}.dump());
  });

  r.Add("POST", "/api/v1/sessions", [this](Context& c) {
    const json body = c.Json();
    const NewSession s = auth_.SignIn(RequireString(body, "email"), RequireString(body, "password"),
                                      FactorFrom(body), c.request.remote_address);
    RecordAccountEvent(c,
                       SessionPrincipal(s.row.account_id,
                                        AuthService::NormaliseEmail(RequireString(body, "email")).value_or("")),
                       "session.create", "session", s.row.id);
    Response res = JsonResponse(
        201, json{{"session", SessionJson(s.row)}, {"csrf_token", s.row.csrf_token}, {"account_id", s.row.account_id}}
                 .dump());
    res.headers.emplace_back("Set-Cookie",
                             SessionCookie(c.request, s.token, auth_.settings().session_lifetime_s));
    return res;
  });

  r.Add("DELETE", "/api/v1/sessions/current", [this](Context& c) {
    auth_.SignOut(c.principal->session_id);
    events_.CloseSession(c.principal->session_id);
    RecordAccountEvent(c, *c.principal, "session.delete", "session", c.principal->session_id);
    Response res = NoContent();
    res.headers.emplace_back("Set-Cookie", SessionCookie(c.request, "", 0));
    return res;
  });

  r.Add("DELETE", "/api/v1/sessions", [this](Context& c) {
    auth_.SignOutEverywhere(c.principal->account_id);
    events_.CloseAccount(c.principal->account_id);
    RecordAccountEvent(c, *c.principal, "session.delete_all", "account", c.principal->account_id);
    Response res = NoContent();
    res.headers.emplace_back("Set-Cookie", SessionCookie(c.request, "", 0));
    return res;
  });

  r.Add("GET", "/api/v1/me", [this](Context& c) {
    const auto a = repo_.AccountById(c.principal->account_id);
    if (!a) throw ApiError(401, "unauthenticated", "Sign in again.");
    return JsonResponse(200, json{{"account", AccountJson(*a)}}.dump());
  });

  r.Add("DELETE", "/api/v1/me", [this](Context& c) {
    const json body = c.Json();
    // The lock is the authority: deleting the account cannot end a key the
    // person holds, and deleting it would drop the key rows an admin sees
    // and revokes from (door_keys goes with the account). So the account
    // stays, a member with its keys in view, until no key is live.
    auth_.DeleteAccount(*c.principal, RequireString(body, "password"), FactorFrom(body),
                        [this](const std::string& account_id) {
                          std::string live;
                          for (const auto& [org, role] : repo_.OrganisationsOf(account_id, "", 1000)) {
                            const json access = groups_.service().PersonAccess(org.id, account_id);
                            for (const json& d : access["doors"])
                              live += (live.empty() ? "" : ", ") + d["name"].get<std::string>() + " (" + org.name + ")";
                          }
                          if (!live.empty()) {
                            throw ApiError(409, "keys_live",
                                           "Your keys still open doors: " + live +
                                               ". An admin of each organisation removes you everywhere first "
                                               "(their signed access lists end the keys); then delete your account.");
                          }
                        });
    events_.CloseAccount(c.principal->account_id);
    RecordAccountEvent(c, *c.principal, "account.delete", "account", c.principal->account_id);
    Response res = NoContent();
    res.headers.emplace_back("Set-Cookie", SessionCookie(c.request, "", 0));
    return res;
  });

  r.Add("GET", "/api/v1/me/export", [this](Context& c) {
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

  r.Add("POST", "/api/v1/me/password", [this](Context& c) {
    const json body = c.Json();
    auth_.ChangePassword(*c.principal, RequireString(body, "current_password"), RequireString(body, "new_password"),
                         FactorFrom(body));
    // The other sessions ended with the old password; so do their streams.
    events_.CloseOtherSessions(c.principal->account_id, c.principal->session_id);
    RecordAccountEvent(c, *c.principal, "account.password", "account", c.principal->account_id);
    return NoContent();
  });

  r.Add("POST", "/api/v1/me/totp", [this](Context& c) {
    const TotpEnrolment e = auth_.BeginTotp(c.principal->account_id);
    return JsonResponse(201, json{{"secret", e.secret}, {"otpauth_uri", e.uri}}.dump());
  });

  r.Add("POST", "/api/v1/me/totp/confirm", [this](Context& c) {
    const json body = c.Json();
    const auto codes = auth_.ConfirmTotp(c.principal->account_id, RequireString(body, "code"));
    RecordAccountEvent(c, *c.principal, "account.totp_enable", "account", c.principal->account_id);
    return JsonResponse(200, json{{"recovery_codes", codes}}.dump());
  });

  r.Add("GET", "/api/v1/me/api-keys", [this](Context& c) {
    return Page(
        c, [&](const std::string& after, int n) { return repo_.ApiKeys(c.principal->account_id, after, n); },
        ApiKeyJson, [](const ApiKeyRow& k) { return k.id; });
  });

  r.Add("POST", "/api/v1/me/api-keys", [this](Context& c) {
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
    RecordAccountEvent(c, *c.principal, "api_key.create", "api_key", k.row.id);
    return JsonResponse(201, json{{"api_key", ApiKeyJson(k.row)}, {"token", k.token}}.dump());
  });

  r.Add("DELETE", "/api/v1/me/api-keys/{key_id}", [this](Context& c) {
    if (!repo_.DeleteApiKey(c.principal->account_id, c.params.at("key_id"))) {
      throw ApiError(404, "not_found", "You have no API key with this id.");
    }
    events_.CloseApiKey(c.params.at("key_id"));
    RecordAccountEvent(c, *c.principal, "api_key.delete", "api_key", c.params.at("key_id"));
    return NoContent();
  });
}

}  // namespace mortise::server

// ---------------------------------------------------------------------------
// Organisations, sites, doors, people, invitations, the audit trail. Access
// was decided by the filters (policy.h) before a handler runs; the object
// rules are OrgService's.

namespace mortise::server {


void Api::AddOrgRoutes() {
  auto& r = router_;

  r.Add("GET", "/api/v1/me/audit", [this](Context& c) {
    AuditQuery q = AuditQueryOf(c.request, std::nullopt, PageLimit(c.request));
    q.actor = c.principal->account_id;  // only my own account events
    return AuditPage(audit_, c, q);
  });

  r.Add("GET", "/api/v1/orgs", [this](Context& c) {
    return Page(
        c, [&](const std::string& after, int n) { return repo_.OrganisationsOf(c.principal->account_id, after, n); },
        [](const auto& p) {
          json j = OrgJson(p.first);
          j["role"] = p.second;
          return j;
        },
        [](const auto& p) { return p.first.id; });
  });

  r.Add("POST", "/api/v1/orgs", [this](Context& c) {
    const json body = c.Json();
    const auto org = orgs_.Create(ActorOf(c), RequireString(body, "name"), OptionalString(body, "kind").value_or("home"));
    json j = OrgJson(org);
    j["role"] = "owner";
    return JsonResponse(201, json{{"organisation", j}}.dump());
  });

  r.Add("POST", "/api/v1/invitations/accept", [this](Context& c) {
    const json body = c.Json();
    const auto m = orgs_.AcceptInvitation(ActorOf(c), RequireString(body, "token"));
    return JsonResponse(200, json{{"org_id", m.org_id}, {"role", m.role}}.dump());
  });

  r.Add("GET", "/api/v1/orgs/{org_id}", [this](Context& c) {
    const auto org = repo_.Organisation(c.params.at("org_id"));
    if (!org) throw ApiError(404, "not_found", "No such organisation, or you are not in it.");
    json j = OrgJson(*org);
    j["role"] = c.membership->role;
    return JsonResponse(200, json{{"organisation", j}}.dump());
  });

  r.Add("DELETE", "/api/v1/orgs/{org_id}", [this](Context& c) {
    orgs_.Delete(ActorOf(c), c.params.at("org_id"));
    if (link_.certs != nullptr) link_.certs->RevokeRemovedDoors();
    return NoContent();
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/sites", [this](Context& c) {
    const std::string& org = c.params.at("org_id");
    return Page(
        c, [&](const std::string& after, int n) { return repo_.Sites(org, after, n); }, SiteJson,
        [](const SiteRow& s) { return s.id; });
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/sites", [this](Context& c) {
    const json body = c.Json();
    const auto site = orgs_.CreateSite(ActorOf(c), c.params.at("org_id"), RequireString(body, "name"));
    return JsonResponse(201, json{{"site", SiteJson(site)}}.dump());
  });

  r.Add("DELETE", "/api/v1/orgs/{org_id}/sites/{site_id}", [this](Context& c) {
    orgs_.DeleteSite(ActorOf(c), c.params.at("org_id"), c.params.at("site_id"));
    if (link_.certs != nullptr) link_.certs->RevokeRemovedDoors();
    return NoContent();
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/doors", [this](Context& c) {
    const std::string& org = c.params.at("org_id");
    return Page(
        c, [&](const std::string& after, int n) { return repo_.Doors(org, after, n); }, DoorJson,
        [](const DoorRow& d) { return d.id; });
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/doors/{door_id}", [this](Context& c) {
    const auto door = repo_.Door(c.params.at("org_id"), c.params.at("door_id"));
    if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
    return JsonResponse(200, json{{"door", DoorJson(*door)}}.dump());
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/door-challenges", [this](Context& c) {
    const auto ch = orgs_.NewDoorChallenge(ActorOf(c), c.params.at("org_id"));
    return JsonResponse(
        201, json{{"challenge_id", ch.id}, {"challenge", ch.challenge}, {"expires_at", ch.expires_at}}.dump());
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/doors", [this](Context& c) {
    const json body = c.Json();
    DoorRegistration reg{RequireString(body, "challenge_id"),    RequireString(body, "site_id"),
                         RequireString(body, "name"),            RequireString(body, "lock_id"),
                         RequireString(body, "lock_public_key"), RequireString(body, "owner_public_key"),
                         RequireString(body, "signature"),       "", "", 0, 0};
    // The lock's signed claim proof naming owner_public_key (docs/server.md).
    const auto proof = body.find("claim_proof");
    if (proof == body.end() || !proof->is_object()) {
      throw ApiError(400, "claim_proof_required",
                     "claim_proof is required: the lock's signed proof that it installed owner_public_key "
                     "(kept by the owner's device at claiming).");
    }
    const auto uint_field = [&](const char* name, uint64_t max) -> uint64_t {
      const auto f = proof->find(name);
      if (f == proof->end() || !f->is_number_unsigned() || f->get<uint64_t>() > max) {
        throw ApiError(400, "invalid_claim_proof", std::string("claim_proof.") + name + " must be an unsigned integer.");
      }
      return f->get<uint64_t>();
    };
    reg.proof_transcript_hash = RequireString(*proof, "transcript_hash");
    reg.proof_signature = RequireString(*proof, "signature");
    reg.proof_access_list_floor = uint_field("access_list_floor", std::numeric_limits<uint64_t>::max());
    reg.proof_claim_generation = static_cast<uint32_t>(uint_field("claim_generation", std::numeric_limits<uint32_t>::max()));
    const auto door = orgs_.RegisterDoor(ActorOf(c), c.params.at("org_id"), reg);
    // The generation the verified claim proof names: a higher one from the
    // lock later means it changed owner (door_transfers.h).
    if (link_.transfers != nullptr) link_.transfers->Registered(door.id, reg.proof_claim_generation);
    return JsonResponse(201, json{{"door", DoorJson(door)}}.dump());
  });

  r.Add("DELETE", "/api/v1/orgs/{org_id}/doors/{door_id}", [this](Context& c) {
    orgs_.DeleteDoor(ActorOf(c), c.params.at("org_id"), c.params.at("door_id"));
    // The removed door's broker certificates are revoked (docs/uplink.md
    // "Revocation"); so after a site or an organisation goes.
    if (link_.certs != nullptr) link_.certs->RevokeRemovedDoors();
    return NoContent();
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/people", [this](Context& c) {
    const std::string& org = c.params.at("org_id");
    return Page(
        c, [&](const std::string& after, int n) { return repo_.Memberships(org, after, n); }, PersonJson,
        [](const MembershipRow& m) { return m.account_id; });
  });

  r.Add("PATCH", "/api/v1/orgs/{org_id}/people/{account_id}", [this](Context& c) {
    const json body = c.Json();
    const auto m =
        orgs_.SetRole(ActorOf(c), c.params.at("org_id"), c.params.at("account_id"), RequireString(body, "role"));
    return JsonResponse(200, json{{"person", PersonJson(m)}}.dump());
  });

  r.Add("DELETE", "/api/v1/orgs/{org_id}/people/{account_id}", [this](Context& c) {
    orgs_.RemovePerson(ActorOf(c), c.params.at("org_id"), c.params.at("account_id"));
    return NoContent();
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/invitations", [this](Context& c) {
    const std::string& org = c.params.at("org_id");
    return Page(
        c, [&](const std::string& after, int n) { return repo_.Invitations(org, after, n); }, InvitationJson,
        [](const InvitationRow& i) { return i.id; });
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/invitations", [this](Context& c) {
    const json body = c.Json();
    const auto inv = orgs_.Invite(ActorOf(c), c.params.at("org_id"), RequireString(body, "role"),
                                  OptionalString(body, "note").value_or(""));
    return JsonResponse(201, json{{"invitation", InvitationJson(inv.row)}, {"token", inv.token}}.dump());
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/invitations/import", [this](Context& c) {
    const json body = c.Json();
    json items = json::array();
    for (const auto& [email, inv] : orgs_.ImportPeople(ActorOf(c), c.params.at("org_id"), RequireString(body, "csv"))) {
      items.push_back({{"email", email}, {"invitation", InvitationJson(inv.row)}, {"token", inv.token}});
    }
    return JsonResponse(201, json{{"invitations", items}}.dump());
  });

  r.Add("DELETE", "/api/v1/orgs/{org_id}/invitations/{invitation_id}", [this](Context& c) {
    orgs_.RevokeInvitation(ActorOf(c), c.params.at("org_id"), c.params.at("invitation_id"));
    return NoContent();
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/audit", [this](Context& c) {
    return AuditPage(audit_, c, AuditQueryOf(c.request, c.params.at("org_id"), PageLimit(c.request)));
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/audit.csv", [this](Context& c) {
    AuditQuery q = AuditQueryOf(c.request, c.params.at("org_id"), kCsvMaxRows);
    Response res;
    res.content_type = "text/csv; charset=utf-8; header=present";
    res.body = AuditTrail::Csv(audit_.Search(q));
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"mortise-audit.csv\"");
    return res;
  });
}

}  // namespace mortise::server
