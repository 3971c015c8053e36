// The API: wires the repository, the auth service, the router's filters and
// the route handlers (thin: parse the request, call the service, shape the
// JSON). Also /healthz, /readyz, /metrics and /api/v1/openapi.json.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "audit.h"
#include "auth_service.h"
#include "event_hub.h"
#include "metrics.h"
#include "org_service.h"
#include "repository.h"
#include "router.h"

namespace mortise::server {

struct ApiSettings {
  AuthSettings auth;
  OrgSettings orgs;
  AuditSettings audit;
  // Mark the session cookie Secure even on plain HTTP (behind a TLS
  // reverse proxy). Requests that arrived over TLS always get Secure.
  bool cookie_secure = false;
  // The origin browsers load the console from ("https://locks.example.org").
  // A WebSocket authenticated by the session cookie must carry this Origin;
  // empty: the request's own scheme://Host (same origin only).
  std::string public_origin;
};

// The embedded server/openapi.json.
std::string_view OpenApiDocument();

class Api {
 public:
  Api(Repository& repo, const Clock& clock, Random& random, ApiSettings settings);
  // Purges audit events past the retention (at most hourly), then routes.
  Response Handle(const Request& request);
  const Router& router() const { return router_; }
  Metrics& metrics() { return metrics_; }
  // The WebSocket stream's fan-out: producers publish door events here.
  EventHub& events() { return events_; }

 private:
  void AddRoutes();
  void AddOrgRoutes();
  void AddStreamRoute();
  Actor ActorOf(const Context& c) const;
  // An account's own change (sign-up, sign-in, password, keys...) in the
  // audit trail, without an organisation.
  void RecordAccountEvent(const Context& c, const Principal& who, std::string action, std::string object_type,
                          std::string object_id);
  std::string SessionCookie(const Request& request, const std::string& token, int64_t max_age_s) const;

  Repository& repo_;
  ApiSettings settings_;
  AuthService auth_;
  AuditTrail audit_;
  OrgService orgs_;
  EventHub events_;
  Metrics metrics_;
  Router router_{metrics_};
};

}  // namespace mortise::server
