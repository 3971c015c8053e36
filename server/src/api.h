// The API: wires the repository, the auth service, the router's filters and
// the route handlers (thin: parse the request, call the service, shape the
// JSON). Also /healthz, /readyz, /metrics and /api/v1/openapi.json.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>

#include "api_groups.h"
#include "api_json.h"
#include "audit.h"
#include "auth_service.h"
#include "event_hub.h"
#include "metrics.h"
#include "org_service.h"
#include "relay_gate.h"
#include "repository.h"
#include "router.h"
#include "sql_repository.h"

namespace mortise::uplink {
struct Credential;
}  // namespace mortise::uplink

namespace mortise::server {

class LockLink;
class DoorStateStore;
class UplinkCertificates;
class DoorTransfers;

// The lock side (api_link.cc, docs/uplink.md): what main.cc attaches when
// [uplink] is configured. Routes answer 503 uplink_off while absent.
struct LinkServices {
  LockLink* link = nullptr;              // relays frames to locks
  DoorStateStore* states = nullptr;      // the doors' stored state
  const uplink::Credential* ca = nullptr;  // issues locks' broker certificates
  UplinkCertificates* certs = nullptr;     // records and revokes them (with ca)
  DoorTransfers* transfers = nullptr;      // doors whose lock changed owner
  int64_t lock_cert_days = 825;
  int relay_timeout_ms = 10'000;
  int relay_per_minute = 30;
  // Relays (remote commands, lockdowns) in flight at once per pool, and
  // the doors' standing (RelayGate; main.cc derives the bounds from
  // http.threads and [uplink]).
  RelayLimits relays;
};

struct ApiSettings {
  AuthSettings auth;
  OrgSettings orgs;
  AuditSettings audit;
  AccessSettings access;
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
  // `link`: the link to locks (lock_link.h), nullptr when none is
  // configured (a site lockdown then answers 503 no_lock_link).
  Api(SqlRepository& repo, const Clock& clock, Random& random, ApiSettings settings, LockLink* link = nullptr);
  // Purges audit events past the retention (at most hourly), then routes.
  Response Handle(const Request& request);
  const Router& router() const { return router_; }
  Metrics& metrics() { return metrics_; }
  // Before serving.
  void AttachLink(const LinkServices& services) {
    link_ = services;
    relay_gate_.SetLimits(services.relays);
  }
  RelayGate& relay_gate() { return relay_gate_; }
  GroupsService& groups() { return groups_.service(); }
  // The WebSocket stream's fan-out: producers publish door events here.
  EventHub& events() { return events_; }
  // Closes the event streams whose session expired after they opened
  // (main.cc calls it every few seconds; returns how many).
  size_t CloseExpiredStreams();

 private:
  void AddRoutes();
  void AddOrgRoutes();
  void AddLinkRoutes();  // api_link.cc
  // Relays per account in the last minute; false: over relay_per_minute.
  bool AllowRelay(const std::string& account_id);
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
  GroupsApi groups_;
  EventHub events_;
  Metrics metrics_;
  Router router_{metrics_};
  const Clock& clock_;
  LinkServices link_;
  RelayGate relay_gate_;
  std::mutex relay_mu_;
  std::map<std::string, std::deque<int64_t>> relays_;  // account -> times (ms) in the last minute
};

}  // namespace mortise::server
