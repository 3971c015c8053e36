#include "duty_time.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "door_registration.h"
#include "sql_values.h"

namespace mortise::server {
namespace {

using nlohmann::json;

using sql::Int;
using sql::Text;
using sql::V;

struct TimeRow {
  int64_t probed_at = 0, lock_utc = 0, drift_s = 0, attempt_at = 0, corrected_at = 0, corrected_from = 0,
          corrected_to = 0, corrections = 0;
  std::string last_status;
};

TimeRow ReadRow(SqlRepository& repo, std::string_view door_id) {
  const auto rows = repo.Read(
      "SELECT probed_at, lock_utc, drift_s, attempt_at, corrected_at, corrected_from, corrected_to, corrections, "
      "last_status FROM door_time WHERE door_id = ?",
      {V(door_id)});
  TimeRow t;
  if (rows.empty()) return t;
  const SqlRow& r = rows[0];
  t.probed_at = Int(r, 0);
  t.lock_utc = Int(r, 1);
  t.drift_s = Int(r, 2);
  t.attempt_at = Int(r, 3);
  t.corrected_at = Int(r, 4);
  t.corrected_from = Int(r, 5);
  t.corrected_to = Int(r, 6);
  t.corrections = Int(r, 7);
  t.last_status = Text(r, 8);
  return t;
}

void WriteRow(SqlRepository& repo, std::string_view door_id, const TimeRow& t) {
  repo.WithDriver([&](SqlDriver& db) {
    db.Exec("DELETE FROM door_time WHERE door_id = ?", {V(door_id)});
    db.Exec("INSERT INTO door_time (door_id, probed_at, lock_utc, drift_s, attempt_at, corrected_at, corrected_from, "
            "corrected_to, corrections, last_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {V(door_id), V(t.probed_at), V(t.lock_utc), V(t.drift_s), V(t.attempt_at), V(t.corrected_at),
             V(t.corrected_from), V(t.corrected_to), V(t.corrections), V(t.last_status)});
  });
}

// Refusals after which the server stops until a new certificate: the lock
// does not take this key for this lock (revoked, another claim) at all.
bool Stopped(std::string_view status) { return status == "lock: refused" || status == "lock: wrong-lock"; }

}  // namespace

std::string_view TimeOutcomeName(TimeOutcome o) {
  switch (o) {
    case TimeOutcome::kNotDue: return "not_due";
    case TimeOutcome::kOffline: return "offline";
    case TimeOutcome::kInSync: return "in_sync";
    case TimeOutcome::kTimeUnknown: return "time_unknown";
    case TimeOutcome::kCorrected: return "corrected";
    case TimeOutcome::kRefusedByLock: return "refused_by_lock";
    case TimeOutcome::kBadAnswer: return "bad_answer";
    case TimeOutcome::kNoAnswer: return "no_answer";
  }
  return "not_due";
}

DutyClock::DutyClock(SqlRepository& repo, const Clock& clock, Random& random, TimeDutySettings settings)
    : repo_(repo), clock_(clock), random_(random), settings_(settings), keys_(repo, clock) {}

json DutyClock::View(std::string_view door_id) {
  const TimeRow t = ReadRow(repo_, door_id);
  auto ms = [](int64_t v) { return v == 0 ? json(nullptr) : json(v); };
  return {{"checked_at", ms(t.probed_at)},
          {"lock_time", t.probed_at == 0 ? json(nullptr) : json(t.lock_utc)},
          {"drift_s", t.probed_at == 0 || t.lock_utc == 0 ? json(nullptr) : json(t.drift_s)},
          {"last_statement_at", ms(t.attempt_at)},
          {"last_correction",
           t.corrected_at == 0 ? json(nullptr)
                               : json{{"at", t.corrected_at}, {"from", t.corrected_from}, {"to", t.corrected_to}}},
          {"corrections", t.corrections},
          {"last_status", t.last_status.empty() ? json(nullptr) : json(t.last_status)}};
}

TimeOutcome DutyClock::Step(LockLink& link, std::string_view door_id) {
  std::lock_guard lock(mu_);
  const auto signer = keys_.Signer(door_id, Duty::kTime);
  if (!signer) return TimeOutcome::kNotDue;
  TimeRow t = ReadRow(repo_, door_id);
  if (Stopped(t.last_status)) return TimeOutcome::kNotDue;
  const int64_t now = clock_.NowMs();
  // Never more often than the lock accepts a correction; between, the time
  // is asked every probe interval.
  if (t.attempt_at != 0 && now - t.attempt_at < settings_.correction_interval_ms) return TimeOutcome::kNotDue;
  if (t.probed_at != 0 && now - t.probed_at < settings_.probe_interval_ms) return TimeOutcome::kNotDue;
  if (!link.Online(signer->door.lock_id)) return TimeOutcome::kOffline;

  auto finish = [&](TimeOutcome o, std::string status) {
    t.last_status = std::move(status);
    WriteRow(repo_, door_id, t);
    return o;
  };
  // 1. The lock's time: a bare 0x07 (answered "malformed" with its time).
  ++queries_;
  const std::vector<uint8_t> query = {0x07};
  const auto probe = link.Exchange(signer->door.lock_id, query, settings_.exchange_timeout_ms);
  t.probed_at = now;
  if (!probe) return finish(TimeOutcome::kNoAnswer, "no_answer");
  const auto probed = protocol::DecodeTimeReply(*probe);
  if (!probed.ok()) return finish(TimeOutcome::kBadAnswer, "bad_answer");
  t.lock_utc = probed->lock_utc;
  if (probed->lock_utc == 0) return finish(TimeOutcome::kTimeUnknown, "time_unknown");
  const int64_t now_s = now / 1000;
  t.drift_s = now_s - probed->lock_utc;
  if (std::abs(t.drift_s) <= settings_.drift_threshold_s) return finish(TimeOutcome::kInSync, "in_sync");

  // 2. A statement at most max_step_s from the time the lock reported,
  // towards the server's.
  const int64_t step = std::clamp(t.drift_s, -settings_.max_step_s, settings_.max_step_s);
  protocol::TimeStatement statement;
  const auto lock_id = FromHex(signer->door.lock_id, protocol::kLockIdSize);
  if (!lock_id) throw std::runtime_error("time: a stored lock id is not hex");
  std::copy(lock_id->begin(), lock_id->end(), statement.lock_id.begin());
  statement.generation = signer->certificate.claim_generation;
  statement.utc = probed->lock_utc + step;
  RandomEntropy entropy(random_);
  crypto::Drbg drbg(entropy);
  if (!drbg.Seed().ok()) throw std::runtime_error("cannot seed the DRBG");
  std::vector<uint8_t> frame(protocol::kMaxTimeStatementFrameSize);
  const auto len = protocol::EncodeTimeStatement(statement, signer->key, signer->certificate.chain, drbg, frame);
  if (!len.ok()) throw std::runtime_error("time: cannot encode the statement");
  frame.resize(*len);
  t.attempt_at = now;
  const auto answer = link.Exchange(signer->door.lock_id, frame, settings_.exchange_timeout_ms);
  if (!answer) return finish(TimeOutcome::kNoAnswer, "no_answer");
  const auto reply = protocol::DecodeTimeReply(*answer);
  if (!reply.ok()) return finish(TimeOutcome::kBadAnswer, "bad_answer");
  if (reply->status != protocol::TimeStatus::kCorrected) {
    ++refusals_;
    return finish(TimeOutcome::kRefusedByLock, std::string("lock: ") + protocol::TimeStatusName(reply->status));
  }
  // The lock now reads the stated time (a second more if one passed).
  if (reply->lock_utc < statement.utc || reply->lock_utc > statement.utc + 2) {
    return finish(TimeOutcome::kBadAnswer, "bad_answer");
  }
  ++corrections_;
  t.corrected_at = now;
  t.corrected_from = probed->lock_utc;
  t.corrected_to = statement.utc;
  ++t.corrections;
  return finish(TimeOutcome::kCorrected, "corrected");
}

int DutyClock::StepAll(LockLink& link) {
  int sent = 0;
  for (const std::string& door : keys_.DoorsWith(Duty::kTime)) {
    const TimeOutcome o = Step(link, door);
    if (o == TimeOutcome::kCorrected || o == TimeOutcome::kRefusedByLock) ++sent;
  }
  return sent;
}

}  // namespace mortise::server
