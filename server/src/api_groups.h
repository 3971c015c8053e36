// The access routes (docs/server.md "Access"): access groups, signed door
// updates and what each door holds, keys of people, "remove a person from
// every door" and "lock down a site" as jobs with per-door progress.
// Registered from Api by one call; access was decided by the filters
// (policy.h) before a handler runs; the rules are GroupsService's.
#pragma once

#include <functional>

#include "audit.h"
#include "groups_service.h"
#include "router.h"

namespace mortise::server {

class GroupsApi {
 public:
  GroupsApi(SqlRepository& repo, const Clock& clock, Random& random, AuditTrail& audit, LockLink* link,
            AccessSettings settings)
      : service_(repo, clock, random, audit, link, settings) {}
  // `actor_of`: the audit actor of a request (Api::ActorOf).
  void AddRoutes(Router& router, std::function<Actor(const Context&)> actor_of);
  GroupsService& service() { return service_; }

 private:
  GroupsService service_;
};

}  // namespace mortise::server
