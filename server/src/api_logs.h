// The door-log routes (docs/server.md "Door logs"): the stored records with
// their status, gaps and declared losses, and the raw pages as the lock sent
// them so an owner's tools verify them with the pinned lock key.
#pragma once

#include "repository.h"
#include "router.h"

namespace mortise::server {

// Adds GET /api/v1/orgs/{org_id}/doors/{door_id}/log and .../log/pages.
// `repo` must be the server's SqlRepository (the log store shares its
// connection); throws std::logic_error otherwise.
void AddLogRoutes(Router& router, Repository& repo);

}  // namespace mortise::server
