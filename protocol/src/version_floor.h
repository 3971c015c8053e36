// Internal: the durable version floor of a signed, versioned record (the
// access list, counter 16; the group membership, counter 42). A record is
// stored before its counter is raised, so at start the counter may lag the
// stored version (a power cut between the two) but never lead it while a
// record is stored.
#pragma once

#include <cstdint>

#include "mortise/core/durable_store.h"
#include "mortise/status.h"

namespace mortise::protocol::internal {

// Sets `floor` to the highest version accepted: the counter, raised to
// `stored_version` first when it lags. kDataLoss: the counter is above a
// stored version (a store rolled back under it; `floor` is still set, so
// versions up to the counter stay refused). Store errors.
inline Status ReconcileVersionFloor(core::DurableStore& store, uint16_t counter_id, uint64_t stored_version,
                                    uint64_t& floor) {
  MORTISE_ASSIGN_OR_RETURN(const uint64_t counter, store.ReadCounter(counter_id));
  if (counter < stored_version) {
    MORTISE_ASSIGN_OR_RETURN(const uint64_t raised, store.IncrementCounter(counter_id, stored_version - counter));
    (void)raised;
    floor = stored_version;
    return Status::Ok();
  }
  floor = counter;
  if (counter > stored_version && stored_version != 0) return StatusCode::kDataLoss;
  return Status::Ok();
}

// After the record of `version` is stored (never before: a power cut
// between the two leaves the counter lagging, which the next start repairs):
// raises the counter from `counter`, its value read before, to `version`.
inline Status RaiseVersionFloor(core::DurableStore& store, uint16_t counter_id, uint64_t counter, uint64_t version) {
  MORTISE_ASSIGN_OR_RETURN(const uint64_t raised, store.IncrementCounter(counter_id, version - counter));
  (void)raised;
  return Status::Ok();
}

}  // namespace mortise::protocol::internal
