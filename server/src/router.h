// Routing and the filters every request passes before its handler: the
// access rule of each route from the policy (public, signed-in account with
// an API-key scope, or a browser session only; the role an organisation
// route needs), CSRF for cookie-authenticated writes, and the JSON content
// type. Handlers hold no policy: by the time one runs,
// Context::principal is set exactly when its rule demands it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "auth_service.h"
#include "message.h"
#include "metrics.h"
#include "policy.h"
#include "repository.h"

namespace mortise::server {

struct Context {
  const Request& request;
  std::unordered_map<std::string, std::string> params;  // from {name} segments
  std::optional<Principal> principal;
  // Organisation routes: the caller's membership of {org_id}, checked
  // against the route's OrgAction by OrgFilter.
  std::optional<MembershipRow> membership;

  // The body as a JSON object; 400 invalid_json otherwise.
  nlohmann::json Json() const;
};

using RouteHandler = std::function<Response(Context&)>;

class Filter {
 public:
  virtual ~Filter() = default;
  // Throws ApiError to refuse.
  virtual void Before(Context& ctx, const RouteSpec& route) = 0;
};

// Sets the principal from `Authorization: Bearer mtk_...` or the session
// cookie and enforces the route's Access and scope; requires X-CSRF-Token for
// cookie-authenticated methods other than GET/HEAD.
class AuthFilter final : public Filter {
 public:
  explicit AuthFilter(AuthService& auth) : auth_(auth) {}
  void Before(Context& ctx, const RouteSpec& route) override;

 private:
  AuthService& auth_;
};

// Organisation routes (RouteSpec::org_action): the caller must be a member
// of {org_id} (404 not_found otherwise, the same answer as for an
// organisation that does not exist, so ids of other tenants reveal nothing)
// whose role allows the action (403 forbidden_role); kManagePeopleOrSelf
// also lets a person remove themself. Runs after AuthFilter.
class OrgFilter final : public Filter {
 public:
  explicit OrgFilter(Repository& repo) : repo_(repo) {}
  void Before(Context& ctx, const RouteSpec& route) override;

 private:
  Repository& repo_;
};

// A request with a body must say Content-Type: application/json (415).
class JsonBodyFilter final : public Filter {
 public:
  void Before(Context& ctx, const RouteSpec& route) override;
};

inline constexpr std::string_view kSessionCookie = "mortise_session";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";

class Router {
 public:
  explicit Router(Metrics& metrics) : metrics_(metrics) {}
  // Adds the route with its rule from the policy (policy.h); throws
  // std::logic_error for a route the policy has no rule for.
  void Add(std::string_view method, std::string_view pattern, RouteHandler handler);
  void AddFilter(std::unique_ptr<Filter> filter) { filters_.push_back(std::move(filter)); }

  // Never throws: ApiError becomes its JSON error, StorageError 503
  // storage_unavailable, anything else 500 internal. Unknown path: 404
  // not_found; known path, other method: 405 method_not_allowed (Allow).
  Response Handle(const Request& request);

  std::vector<RouteSpec> Routes() const;

 private:
  struct Entry {
    RouteSpec spec;
    std::vector<std::string> segments;
    RouteHandler handler;
  };
  Response Dispatch(const Request& request, std::string& route_name);

  Metrics& metrics_;
  std::vector<Entry> routes_;
  std::vector<std::unique_ptr<Filter>> filters_;
};

}  // namespace mortise::server
