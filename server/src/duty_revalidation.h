// Revalidation tokens through the server (issue 14, docs/server.md
// "Duties", docs/protocol.md section 13): a holder whose key demands
// revalidation (revalidation_max_age != 0) asks the server for a fresh
// token; the server signs one with the door's duty key, which the owner
// certified with the revalidate right alone (duty_keys.h), for a key that
// is registered with the server for this door, assigned to the caller, and
// live in the newest verified access lists the server stores (not revoked,
// disabled, below its issuer's epoch, or over). A revoked key gets no token,
// so it dies at the lock within its max age even if no device carries the
// list; and a token never outweighs the lock's own list (the lock checks
// the list before the token).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "clock_random.h"
#include "duty_keys.h"
#include "groups_service.h"
#include "sql_repository.h"

namespace mortise::server {

class DutyRevalidation {
 public:
  DutyRevalidation(SqlRepository& repo, const Clock& clock, Random& random, GroupsService& groups)
      : repo_(repo), clock_(clock), random_(random), groups_(groups), keys_(repo, clock) {}
  // A token for `chain_text` (MKS1, MK1 or hex) at the door, for the
  // caller `account_id`: {"token": "MKR1...", "issued_at", "max_age_s",
  // "valid_until"} (UTC seconds). Throws ApiError: 400 invalid_field /
  // invalid_key, 403 invalid_signature / not_permitted (not a key of this
  // door's lock and owner), 422 no_revalidation_needed (the key demands no
  // token), 409 no_revalidation_duty (the owner has not certified the
  // server's duty key for it), 403 not_registered (no such key stored for
  // this door), 403 not_your_key (stored for another person), 403
  // key_revoked (revoked, disabled or over in the stored lists).
  nlohmann::json Issue(const std::string& org_id, const std::string& door_id, const std::string& account_id,
                       std::string_view chain_text);

 private:
  SqlRepository& repo_;
  const Clock& clock_;
  Random& random_;
  GroupsService& groups_;
  DutyKeys keys_;
};

}  // namespace mortise::server
