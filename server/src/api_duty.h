// The duty routes (docs/server.md "Duties"): the owner's certificates for
// the server's duty key (time statements, revalidation tokens), the door's
// clock as the server keeps it, and revalidation tokens for holders.
// Registered from Api by one call.
#pragma once

#include "clock_random.h"
#include "groups_service.h"
#include "metrics.h"
#include "router.h"
#include "sql_repository.h"

namespace mortise::server {

// GET .../doors/{door_id}/duties, POST .../doors/{door_id}/duties/{duty},
// POST .../doors/{door_id}/revalidation.
void AddDutyRoutes(Router& router, Repository& repo, const Clock& clock, Random& random, GroupsService& groups,
                   Metrics& metrics);

}  // namespace mortise::server
