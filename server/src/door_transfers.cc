#include "door_transfers.h"

#include "sql_values.h"

namespace mortise::server {

using nlohmann::json;
using sql::V;

void DoorTransfers::Registered(std::string_view door_id, int64_t generation) {
  repo_.WriteTransaction([&](SqlDriver& db, const SqlRepository::AuditAppend&) {
    db.Exec("DELETE FROM door_claims WHERE door_id = ?", {V(door_id)});
    db.Exec("INSERT INTO door_claims (door_id, registered_generation) VALUES (?, ?)", {V(door_id), V(generation)});
  });
}

bool DoorTransfers::Observe(const DoorRef& door, int64_t generation, const EventSink& sink) {
  // The common case (the generation it was registered under) reads only:
  // state messages are frequent and their writes are batched elsewhere.
  const auto known = repo_.Read("SELECT registered_generation, transferred_at FROM door_claims WHERE door_id = ?",
                                {V(door.door_id)});
  if (!known.empty() && (known[0][1] || generation <= sql::Int(known[0], 0))) return false;
  bool marked = false;
  int64_t registered = 0;
  repo_.WriteTransaction([&](SqlDriver& db, const SqlRepository::AuditAppend&) {
    const auto rows = db.Query("SELECT registered_generation, transferred_at FROM door_claims WHERE door_id = ?",
                               {V(door.door_id)});
    if (rows.empty()) {
      // Registered before the generation was recorded: what the lock says
      // first is the baseline (a door still relayed to, as before).
      db.Exec("INSERT INTO door_claims (door_id, registered_generation) VALUES (?, ?)", {V(door.door_id), V(generation)});
      return;
    }
    registered = sql::Int(rows[0], 0);
    if (rows[0][1] || generation <= registered) return;
    marked = db.Exec("UPDATE door_claims SET seen_generation = ?, transferred_at = ? "
                     "WHERE door_id = ? AND transferred_at IS NULL",
                     {V(generation), V(clock_.NowMs()), V(door.door_id)}) > 0;
  });
  if (marked && sink) {
    sink(door.org_id, json{{"type", "door.transferred"},
                           {"door_id", door.door_id},
                           {"claim_generation", generation},
                           {"registered_generation", registered}});
  }
  return marked;
}

std::optional<json> DoorTransfers::Transferred(std::string_view door_id) {
  const auto rows = repo_.Read(
      "SELECT registered_generation, seen_generation, transferred_at FROM door_claims "
      "WHERE door_id = ? AND transferred_at IS NOT NULL",
      {V(door_id)});
  if (rows.empty()) return std::nullopt;
  return json{{"registered_generation", sql::Int(rows[0], 0)},
              {"claim_generation", sql::Int(rows[0], 1)},
              {"at", sql::Int(rows[0], 2)}};
}

}  // namespace mortise::server
