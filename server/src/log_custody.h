// The server's log custody (issue 14, docs/server.md "Log custody"): one
// P-256 key per door that the server generates and keeps, which the door's
// owner certifies with the log-custody right alone (mortise key share
// --custody); with it the server acknowledges, in frame 0x06
// (docs/protocol.md section 16), the newest record N of the door's log such
// that every number from the last acknowledgement through N is held under a
// verified lock signature (or declared lost by a signed loss record of the
// lock), so the lock's upload cursor follows what the server holds. The lock's signed receipt is verified with the door's
// lock key before the acknowledged position is stored.
//
// The key opens nothing: a lock refuses it every command; stolen, it can
// only move the cursor over records the lock still holds with the same
// chain hash (docs/threat-model.md A23 row).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "clock_random.h"
#include "lock_link.h"
#include "router.h"
#include "sql_repository.h"

namespace mortise::server {

struct CustodySettings {
  // Acknowledge when at least this many verified records are unacknowledged...
  uint64_t batch_records = 500;
  // ...or when the oldest unacknowledged one waited this long (the last
  // acknowledgement, or the certificate's installation, is older).
  int64_t max_wait_ms = 3'600'000;
  // Never more often than the lock refills its verification budget
  // (protocol::kCustodyVerifyIntervalMs, 10 min): the server never spends
  // the burst that other holders (the owner's phone) may need.
  int64_t min_interval_ms = 600'000;
  int exchange_timeout_ms = 10'000;
};

// What one step did for a door (docs/server.md lists them; also stored as
// last_status).
enum class CustodyOutcome {
  kNotDue,        // no certificate, nothing verified to acknowledge, or paced
  kOffline,       // the door is not online: nothing sent
  kAdvanced,      // the lock's receipt verified: acknowledged position stored
  kUnchanged,     // the lock's cursor is already there (no receipt)
  kRefusedByLock, // the lock answered another status (no-match, refused, busy, ...)
  kBadReceipt,    // the answer does not decode or its receipt does not verify
  kNoAnswer,      // no answer in time
};
std::string_view CustodyOutcomeName(CustodyOutcome o);

// The door's custody state as the API shows it (GET .../custody, and
// "custody" in GET .../log): {"state": "none"} before a key exists.
nlohmann::json CustodyView(SqlRepository& repo, std::string_view door_id);

class LogCustody {
 public:
  LogCustody(SqlRepository& repo, const Clock& clock, Random& random, CustodySettings settings = {});

  nlohmann::json View(std::string_view door_id) { return CustodyView(repo_, door_id); }
  // Generates the door's key if it has none; returns the view.
  nlohmann::json CreateKey(std::string_view door_id);
  // Accepts the owner's certificate for the door's custody key: `text` an
  // MKS1 share bundle (what `mortise key share --custody` prints) or an MK1
  // key chain. Throws ApiError, storing nothing: 409 no_custody_key, 400
  // invalid_key, 422 wrong_door (the bundle's lock key is another door's),
  // 403 invalid_signature / not_permitted (not the door's owner's, another
  // lock or claim), 422 wrong_holder (certifies another key than the
  // server's), 422 wrong_permissions (not the log-custody right alone).
  nlohmann::json Install(std::string_view door_id, std::string_view text);

  // One custody step for a door: acknowledges the newest signed record
  // with no hole before it back to the last acknowledgement
  // (LogStore::SignedThroughWithoutHoles) when due (settings), through
  // `link`. Thread-safe (one step at a time).
  CustodyOutcome Step(LockLink& link, std::string_view door_id);
  // Step for every door with a certificate; returns the acknowledgements sent.
  int StepAll(LockLink& link);

 private:
  SqlRepository& repo_;
  const Clock& clock_;
  Random& random_;
  CustodySettings settings_;
  std::mutex mu_;
};

// GET/POST /api/v1/orgs/{org_id}/doors/{door_id}/custody and POST
// .../custody/key (api_custody.cc).
void AddCustodyRoutes(Router& router, Repository& repo, const Clock& clock, Random& random);

}  // namespace mortise::server
