// Doors' state as their locks publish it on the uplink (docs/uplink.md
// "state", "online"): stored for the console (table door_state, migration
// 0006) and announced as events. Informative only: nothing the server or a
// holder decides rests on it (a decision rests on what the lock signed).
//
// Writes are batched: DoorStateIngest keeps the latest state per door in
// memory and writes the whole batch in one transaction at most once per
// `flush_ms` (a burst of messages from one door becomes one row write).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "clock_random.h"

namespace mortise::server {

class SqlRepository;

// Events for the console's stream: {"type": "door.state" | "door.online",
// "door_id": ..., ...}. main.cc wires it to the API's EventHub.
using EventSink = std::function<void(std::string_view org_id, const nlohmann::json& event)>;

struct DoorRef {
  std::string door_id;
  std::string org_id;
};

struct StoredDoorState {
  nlohmann::json state = nlohmann::json::object();  // the sanitised fields
  bool online = false;
  int64_t last_seen = 0;  // Unix ms
};

class DoorStateStore {
 public:
  explicit DoorStateStore(SqlRepository& repo) : repo_(repo) {}
  // The door registered for this lock id (lowercase hex), if any.
  std::optional<DoorRef> DoorOfLock(std::string_view lock_id_hex);
  struct Write {
    std::string door_id;
    std::optional<nlohmann::json> state;  // nullopt: keep the stored one
    std::optional<bool> online;           // nullopt: keep
    int64_t last_seen = 0;
  };
  // One transaction for the whole batch; rows of doors deleted meanwhile
  // are skipped.
  void Apply(const std::vector<Write>& writes, int64_t now);
  std::optional<StoredDoorState> Get(std::string_view door_id);

 private:
  SqlRepository& repo_;
};

// The state message's fields the server keeps, each checked (type, range,
// length); nullopt: not a JSON object or a field of the wrong type.
std::optional<nlohmann::json> SanitiseState(std::string_view payload);

class DoorStateIngest {
 public:
  DoorStateIngest(DoorStateStore& store, const Clock& clock, EventSink sink = nullptr);
  ~DoorStateIngest();

  // Called (on the link's thread, before the state is queued) with the
  // claim generation a state message names (door_transfers.h). Set before
  // Start.
  void SetClaimObserver(std::function<void(const DoorRef& door, int64_t generation)> observer) {
    claim_observer_ = std::move(observer);
  }
  // From the lock link's thread.
  void OnState(std::string_view lock_id_hex, std::string_view payload);
  void OnOnline(std::string_view lock_id_hex, bool online);

  // Writes what came since the last flush (one row per door) and announces
  // it. Returns the number of doors written.
  size_t Flush();
  // A thread flushing every `flush_ms` (0: after every message) until Stop.
  void Start(int flush_ms);
  void Stop();

  uint64_t received() const;
  uint64_t malformed() const;
  uint64_t batches() const;

 private:
  struct PendingDoor {
    std::string org_id;
    std::optional<nlohmann::json> state;
    std::optional<bool> online;
    int64_t last_seen = 0;
  };
  void Note(std::string_view lock_id_hex, std::optional<nlohmann::json> state, std::optional<bool> online);

  DoorStateStore& store_;
  const Clock& clock_;
  EventSink sink_;
  std::function<void(const DoorRef&, int64_t)> claim_observer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, PendingDoor> pending_;  // door id -> latest
  uint64_t received_ = 0, malformed_ = 0, batches_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mortise::server
