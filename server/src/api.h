// The API: wires the repository, the auth service, the router's filters and
// the route handlers (thin: parse the request, call the service, shape the
// JSON). Also /healthz, /readyz, /metrics and /api/v1/openapi.json.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "auth_service.h"
#include "metrics.h"
#include "repository.h"
#include "router.h"

namespace mortise::server {

struct ApiSettings {
  AuthSettings auth;
  // Mark the session cookie Secure even on plain HTTP (behind a TLS
  // reverse proxy). Requests that arrived over TLS always get Secure.
  bool cookie_secure = false;
};

// The embedded server/openapi.json.
std::string_view OpenApiDocument();

class Api {
 public:
  Api(Repository& repo, const Clock& clock, Random& random, ApiSettings settings);
  Response Handle(const Request& request) { return router_.Handle(request); }
  const Router& router() const { return router_; }
  Metrics& metrics() { return metrics_; }

 private:
  void AddRoutes();
  std::string SessionCookie(const Request& request, const std::string& token, int64_t max_age_s) const;

  Repository& repo_;
  ApiSettings settings_;
  AuthService auth_;
  Metrics metrics_;
  Router router_{metrics_};
};

}  // namespace mortise::server
