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
  limits.probation = std::max(1, limits.probation);
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
    if (it != standing_.end() && !it->second.probation && now_ms - it->second.last_strike_ms > kStrikesForgottenMs) {
      standing_.erase(it);
    }
    return;
  }
  // A relay in good standing ended without a quick answer: a strike.
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
  bool ok = count(by_lock_, lock_id) == 0;
  if (pool == RelayPool::kProbation) {
    ok = ok && in_flight_[Index(pool)] < limits_.probation;
  } else {
    ok = ok && in_flight_[Index(pool)] < limits_.main && count(main_by_org_, org_id) < limits_.main_per_org &&
         count(main_by_account_, account_id) < limits_.main_per_account;
  }
  if (!ok) {
    ++refused_;
    return std::nullopt;
  }
  ++in_flight_[Index(pool)];
  ++by_lock_[std::string(lock_id)];
  if (pool == RelayPool::kMain) {
    ++main_by_org_[std::string(org_id)];
    ++main_by_account_[std::string(account_id)];
  }
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
  --in_flight_[Index(pool)];
  Decrement(by_lock_, lock);
  if (pool == RelayPool::kMain) {
    Decrement(main_by_org_, org);
    Decrement(main_by_account_, account);
  }
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
