// Doors whose lock changed owner (docs/server.md "Doors of transferred
// locks"). A door is registered under the claim generation its claim
// proof names; a lock handed to a new owner (mortise lock transfer, or a
// factory reset and a new claim) is under a higher one, which its uplink
// state names (`claimGeneration`). When the server sees a generation above
// the registered one for a door, the door is marked transferred: the relay
// refuses it (409 door_transferred, nothing sent), GET .../state says so,
// and a `door.transferred` event goes to the console. The old
// organisation's admin then removes the door (which revokes its broker
// certificates), and the new owner can register the lock.
//
// The state is unsigned but published under the lock's own broker
// identity: only whoever holds the lock's TLS key can mark its door
// transferred, and all that does is stop the server relaying to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "door_state.h"
#include "sql_repository.h"

namespace mortise::server {

class DoorTransfers {
 public:
  DoorTransfers(SqlRepository& repo, const Clock& clock) : repo_(repo), clock_(clock) {}

  // The door was registered under `generation` (its verified claim proof).
  void Registered(std::string_view door_id, int64_t generation);
  // The lock of `door` names `generation` in its state. A door registered
  // before this was recorded takes the first generation seen as its own.
  // True when this marks the door transferred (then `sink` got a
  // door.transferred event).
  bool Observe(const DoorRef& door, int64_t generation, const EventSink& sink);
  // {"claim_generation": seen, "registered_generation": ..., "at": ms} for a
  // transferred door; nullopt otherwise.
  std::optional<nlohmann::json> Transferred(std::string_view door_id);

 private:
  SqlRepository& repo_;
  const Clock& clock_;
};

}  // namespace mortise::server
