#include "relay_gate.h"

#include <algorithm>

#include "api_error.h"

namespace mortise::server {
namespace {

constexpr int64_t kStrikesForgottenMs = 24LL * 3600 * 1000;  // a day without a strike clears them
constexpr int64_t kMaxProbations = 12;  // probation lasts at most 12 × probation_ms

int Index(RelayPool p) { return static_cast<int>(p); }

}  // namespace

RelayGate::Permit::~Permit() {
  if (gate_ != nullptr) gate_->Release(pool_, org_, account_, lock_);
}

int RelayGate::Permit::TimeoutMs(int main_timeout_ms) const {
  if (pool_ != RelayPool::kProbation) return main_timeout_ms;
  return std::min(main_timeout_ms, gate_->limits().probation_timeout_ms);
}

void RelayGate::Permit::Finish(bool answered, int64_t elapsed_ms, int64_t now_ms) {
  std::lock_guard l(gate_->mu_);
  gate_->RecordLocked(lock_, pool_ == RelayPool::kProbation, answered, elapsed_ms, now_ms);
}

RelayGate::Lockdown::~Lockdown() {
  if (gate_ != nullptr) gate_->EndLockdown(org_, awaited_);
}

int RelayGate::Lockdown::TimeoutMs(std::string_view lock_id, int lockdown_timeout_ms, int64_t,
                                   bool& on_probation) const {
  std::lock_guard l(gate_->mu_);
  on_probation = gate_->OnProbationLocked(lock_id);
  if (!awaited_) return 0;
  return on_probation ? std::min(lockdown_timeout_ms, gate_->limits_.probation_timeout_ms) : lockdown_timeout_ms;
}

void RelayGate::Lockdown::Finish(std::string_view lock_id, bool on_probation, bool answered, int64_t elapsed_ms,
                                 int64_t now_ms) {
  if (!awaited_) return;  // not waited for: says nothing about the lock
  std::lock_guard l(gate_->mu_);
  gate_->RecordLocked(lock_id, on_probation, answered, elapsed_ms, now_ms);
}

void RelayGate::SetLimits(RelayLimits limits) {
  limits.main = std::max(1, limits.main);
  limits.main_per_org = std::max(1, limits.main_per_org);
  limits.main_per_account = std::max(1, limits.main_per_account);
  limits.probation_per_org = std::max(1, limits.probation_per_org);
  limits.probation_per_account = std::max(1, limits.probation_per_account);
  limits.probation = std::max(limits.probation_per_org + 1, limits.probation);
  limits.lockdowns = std::max(1, limits.lockdowns);
  limits.probation_timeout_ms = std::max(1, limits.probation_timeout_ms);
  limits.fast_answer_ms = std::max(0, limits.fast_answer_ms);
  limits.probation_ms = std::max<int64_t>(0, limits.probation_ms);
  std::lock_guard l(mu_);
  limits_ = limits;
}

RelayLimits RelayGate::limits() const {
  std::lock_guard l(mu_);
  return limits_;
}

RelayLimits RelayGate::LimitsFor(int http_threads, RelayLimits knobs) {
  knobs.main = TotalFor(http_threads);
  knobs.main_per_org = PerOrgFor(knobs.main);
  knobs.main_per_account = knobs.main_per_org;
  return knobs;
}

bool RelayGate::OnProbationLocked(std::string_view lock_id) const {
  const auto it = standing_.find(lock_id);
  return it != standing_.end() && it->second.probation;
}

bool RelayGate::OnProbation(std::string_view lock_id, int64_t) const {
  std::lock_guard l(mu_);
  return OnProbationLocked(lock_id);
}

int64_t RelayGate::BusyLocked(std::string_view lock_id, int64_t now_ms) const {
  const auto it = busy_.find(lock_id);
  if (it == busy_.end()) return 0;
  const int64_t forgiven = std::max<int64_t>(0, now_ms - it->second.at_ms) * kBusyForgivenPerMinuteMs / 60'000;
  return std::max<int64_t>(0, it->second.held_ms - forgiven);
}

int64_t RelayGate::BusyMs(std::string_view lock_id, int64_t now_ms) const {
  std::lock_guard l(mu_);
  return BusyLocked(lock_id, now_ms);
}

void RelayGate::RecordLocked(std::string_view lock_id, bool on_probation, bool answered, int64_t elapsed_ms,
                             int64_t now_ms) {
  const bool quick = answered && elapsed_ms <= limits_.fast_answer_ms;
  auto it = standing_.find(lock_id);
  if (on_probation) {
    // Back to the main pool: a quick answer once the probation is over.
    if (it != standing_.end() && quick && now_ms >= it->second.probation_until_ms) it->second.probation = false;
    return;
  }
  if (quick) {
    // The answer was quick, but the lock's relays may have held workers
    // beyond its time budget (a lock answering just under the threshold).
    // Only the part of an answer beyond half the threshold counts: a real
    // lock answering in a few hundred milliseconds, however busy its door,
    // is never charged.
    const int64_t charged = std::max<int64_t>(0, elapsed_ms - limits_.fast_answer_ms / 2);
    const int64_t held = BusyLocked(lock_id, now_ms) + charged;
    if (held <= int64_t{kBusyBudgetAnswers} * limits_.fast_answer_ms) {
      if (held > 0) {
        busy_[std::string(lock_id)] = Busy{held, now_ms};
      } else if (const auto b = busy_.find(lock_id); b != busy_.end()) {
        busy_.erase(b);
      }
      if (it != standing_.end() && !it->second.probation && now_ms - it->second.last_strike_ms > kStrikesForgottenMs) {
        standing_.erase(it);
      }
      return;
    }
  }
  // A relay in good standing ended without a quick answer, or beyond the
  // lock's time budget: a strike (its budget starts again afterwards).
  if (const auto b = busy_.find(lock_id); b != busy_.end()) busy_.erase(b);
  if (it == standing_.end()) it = standing_.emplace(std::string(lock_id), Standing{}).first;
  Standing& s = it->second;
  if (now_ms - s.last_strike_ms > kStrikesForgottenMs) s.strikes = 0;
  ++s.strikes;
  s.last_strike_ms = now_ms;
  s.probation = true;
  // Probation for 1, 2, 4, 8, then 12 × probation_ms.
  s.probation_until_ms =
      now_ms + std::min<int64_t>(limits_.probation_ms << std::min(s.strikes - 1, 4), limits_.probation_ms * kMaxProbations);
}

std::optional<RelayGate::Permit> RelayGate::TryAcquire(std::string_view org_id, std::string_view account_id,
                                                       std::string_view lock_id, int64_t) {
  std::lock_guard l(mu_);
  const auto count = [](const std::map<std::string, int, std::less<>>& m, std::string_view k) {
    const auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  };
  const RelayPool pool = OnProbationLocked(lock_id) ? RelayPool::kProbation : RelayPool::kMain;
  const int p = Index(pool);
  const bool in_main = pool == RelayPool::kMain;
  const int server_bound = in_main ? limits_.main : limits_.probation;
  const int org_bound = in_main ? limits_.main_per_org : limits_.probation_per_org;
  const int account_bound = in_main ? limits_.main_per_account : limits_.probation_per_account;
  const bool ok = count(by_lock_, lock_id) == 0 && in_flight_[p] < server_bound &&
                  count(by_org_[p], org_id) < org_bound && count(by_account_[p], account_id) < account_bound;
  if (!ok) {
    ++refused_;
    return std::nullopt;
  }
  ++in_flight_[p];
  ++by_lock_[std::string(lock_id)];
  ++by_org_[p][std::string(org_id)];
  ++by_account_[p][std::string(account_id)];
  return Permit(this, pool, std::string(org_id), std::string(account_id), std::string(lock_id));
}

RelayGate::Permit RelayGate::AcquireOrThrow(std::string_view org_id, std::string_view account_id,
                                            std::string_view lock_id, int64_t now_ms) {
  auto permit = TryAcquire(org_id, account_id, lock_id, now_ms);
  if (!permit) {
    throw ApiError(503, "relay_busy",
                   "Too many relays to locks are waiting for their answers; nothing was sent. Try again shortly.")
        .WithRetryAfter(1);
  }
  return std::move(*permit);
}

RelayGate::Lockdown RelayGate::StartLockdown(std::string_view org_id) {
  std::lock_guard l(mu_);
  const bool awaited = in_flight_[Index(RelayPool::kLockdown)] < limits_.lockdowns && !lockdown_by_org_.count(org_id);
  if (awaited) {
    ++in_flight_[Index(RelayPool::kLockdown)];
    ++lockdown_by_org_[std::string(org_id)];
  } else {
    ++unawaited_;
  }
  return Lockdown(this, std::string(org_id), awaited);
}

void RelayGate::Decrement(std::map<std::string, int, std::less<>>& m, const std::string& key) {
  const auto it = m.find(key);
  if (it != m.end() && --it->second <= 0) m.erase(it);
}

void RelayGate::Release(RelayPool pool, const std::string& org, const std::string& account, const std::string& lock) {
  std::lock_guard l(mu_);
  const int p = Index(pool);
  --in_flight_[p];
  Decrement(by_lock_, lock);
  Decrement(by_org_[p], org);
  Decrement(by_account_[p], account);
}

void RelayGate::EndLockdown(const std::string& org, bool awaited) {
  if (!awaited) return;
  std::lock_guard l(mu_);
  --in_flight_[Index(RelayPool::kLockdown)];
  Decrement(lockdown_by_org_, org);
}

int RelayGate::in_flight() const {
  std::lock_guard l(mu_);
  return in_flight_[0] + in_flight_[1] + in_flight_[2];
}

int RelayGate::in_flight(RelayPool pool) const {
  std::lock_guard l(mu_);
  return in_flight_[Index(pool)];
}

uint64_t RelayGate::refused() const {
  std::lock_guard l(mu_);
  return refused_;
}

uint64_t RelayGate::unawaited_lockdowns() const {
  std::lock_guard l(mu_);
  return unawaited_;
}

size_t RelayGate::locks_on_probation() const {
  std::lock_guard l(mu_);
  return static_cast<size_t>(std::count_if(standing_.begin(), standing_.end(),
                                           [](const auto& e) { return e.second.probation; }));
}

}  // namespace mortise::server
