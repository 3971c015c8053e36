#include "door_state.h"

#include <chrono>

#include "sql_repository.h"

namespace mortise::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxText = 32;
constexpr size_t kMaxAlarms = 16;

bool ShortString(const json& v) { return v.is_string() && v.get_ref<const std::string&>().size() <= kMaxText; }

}  // namespace

std::optional<json> SanitiseState(std::string_view payload) {
  const json in = json::parse(payload, nullptr, false);
  if (in.is_discarded() || !in.is_object()) return std::nullopt;
  json out = json::object();
  for (const char* key : {"bolt", "door", "mode", "firmware"}) {
    const auto it = in.find(key);
    if (it == in.end()) continue;
    if (!ShortString(*it)) return std::nullopt;
    out[key] = *it;
  }
  if (const auto it = in.find("battery"); it != in.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 100) return std::nullopt;
    out["battery"] = it->get<int64_t>();
  }
  if (const auto it = in.find("alarms"); it != in.end()) {
    if (!it->is_array() || it->size() > kMaxAlarms) return std::nullopt;
    for (const auto& a : *it) {
      if (!ShortString(a)) return std::nullopt;
    }
    out["alarms"] = *it;
  }
  for (const char* key : {"timeKnown", "claimed"}) {
    const auto it = in.find(key);
    if (it == in.end()) continue;
    if (!it->is_boolean()) return std::nullopt;
    out[key] = *it;
  }
  if (const auto it = in.find("claimGeneration"); it != in.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX) return std::nullopt;
    out["claimGeneration"] = it->get<uint64_t>();
  }
  return out;
}

std::optional<DoorRef> DoorStateStore::DoorOfLock(std::string_view lock_id_hex) {
  return repo_.WithDriver([&](SqlDriver& db) -> std::optional<DoorRef> {
    const auto rows = db.Query("SELECT id, org_id FROM doors WHERE lock_id = ?", {std::string(lock_id_hex)});
    if (rows.empty()) return std::nullopt;
    return DoorRef{rows[0].at(0).value_or(""), rows[0].at(1).value_or("")};
  });
}

void DoorStateStore::Apply(const std::vector<Write>& writes, int64_t now) {
  if (writes.empty()) return;
  repo_.WithDriver([&](SqlDriver& db) {
    db.Begin();
    try {
      for (const auto& w : writes) {
        // A door deleted since the message came has no row to write.
        db.Exec(
            "INSERT INTO door_state (door_id, state, online, last_seen, updated_at) "
            "SELECT id, '{}', 0, 0, ? FROM doors WHERE id = ? "
            "ON CONFLICT (door_id) DO NOTHING",
            {now, w.door_id});
        if (w.state) {
          db.Exec("UPDATE door_state SET state = ?, last_seen = ?, updated_at = ? WHERE door_id = ?",
                  {w.state->dump(), w.last_seen, now, w.door_id});
        }
        if (w.online) {
          db.Exec("UPDATE door_state SET online = ?, last_seen = ?, updated_at = ? WHERE door_id = ?",
                  {static_cast<int64_t>(*w.online ? 1 : 0), w.last_seen, now, w.door_id});
        }
      }
      db.Commit();
    } catch (...) {
      db.Rollback();
      throw;
    }
  });
}

std::optional<StoredDoorState> DoorStateStore::Get(std::string_view door_id) {
  return repo_.WithDriver([&](SqlDriver& db) -> std::optional<StoredDoorState> {
    const auto rows =
        db.Query("SELECT state, online, last_seen FROM door_state WHERE door_id = ?", {std::string(door_id)});
    if (rows.empty()) return std::nullopt;
    StoredDoorState s;
    const json state = json::parse(rows[0].at(0).value_or("{}"), nullptr, false);
    if (state.is_object()) s.state = state;
    s.online = rows[0].at(1).value_or("0") == "1";
    s.last_seen = std::stoll(rows[0].at(2).value_or("0"));
    return s;
  });
}

DoorStateIngest::DoorStateIngest(DoorStateStore& store, const Clock& clock, EventSink sink)
    : store_(store), clock_(clock), sink_(std::move(sink)) {}

DoorStateIngest::~DoorStateIngest() { Stop(); }

void DoorStateIngest::Note(std::string_view lock_id_hex, std::optional<json> state, std::optional<bool> online) {
  const auto door = store_.DoorOfLock(lock_id_hex);
  if (!door) return;  // the link drops unregistered locks before this
  std::lock_guard lock(mu_);
  PendingDoor& p = pending_[door->door_id];
  p.org_id = door->org_id;
  if (state) p.state = std::move(state);
  if (online) p.online = online;
  p.last_seen = clock_.NowMs();
  cv_.notify_all();
}

void DoorStateIngest::OnState(std::string_view lock_id_hex, std::string_view payload) {
  auto state = SanitiseState(payload);
  {
    std::lock_guard lock(mu_);
    ++received_;
    if (!state) {
      ++malformed_;
      return;
    }
  }
  if (claim_observer_ && state->contains("claimGeneration")) {
    if (const auto door = store_.DoorOfLock(lock_id_hex))
      claim_observer_(*door, (*state)["claimGeneration"].get<int64_t>());
  }
  Note(lock_id_hex, std::move(state), std::nullopt);
}

void DoorStateIngest::OnOnline(std::string_view lock_id_hex, bool online) {
  {
    std::lock_guard lock(mu_);
    ++received_;
  }
  Note(lock_id_hex, std::nullopt, online);
}

size_t DoorStateIngest::Flush() {
  std::map<std::string, PendingDoor> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
    if (!batch.empty()) ++batches_;
  }
  if (batch.empty()) return 0;
  std::vector<DoorStateStore::Write> writes;
  for (const auto& [door_id, p] : batch) writes.push_back({door_id, p.state, p.online, p.last_seen});
  store_.Apply(writes, clock_.NowMs());
  if (sink_) {
    for (const auto& [door_id, p] : batch) {
      if (p.state) sink_(p.org_id, json{{"type", "door.state"}, {"door_id", door_id}, {"state", *p.state}});
      if (p.online) sink_(p.org_id, json{{"type", "door.online"}, {"door_id", door_id}, {"online", *p.online}});
    }
  }
  return batch.size();
}

void DoorStateIngest::Start(int flush_ms) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, flush_ms] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (stop_) break;
      // Let a burst gather for flush_ms, then write it at once.
      cv_.wait_for(lock, std::chrono::milliseconds(flush_ms), [&] { return stop_; });
      lock.unlock();
      try {
        Flush();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "mortise-server: door state not written: %s\n", e.what());
      }
      lock.lock();
    }
  });
}

void DoorStateIngest::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  try {
    Flush();
  } catch (const std::exception&) {
  }
}

uint64_t DoorStateIngest::received() const {
  std::lock_guard lock(mu_);
  return received_;
}
uint64_t DoorStateIngest::malformed() const {
  std::lock_guard lock(mu_);
  return malformed_;
}
uint64_t DoorStateIngest::batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}

}  // namespace mortise::server
