#include "relay_gate.h"

#include <algorithm>

#include "api_error.h"

namespace mortise::server {

RelayGate::Permit::~Permit() {
  if (gate_ != nullptr) gate_->Release(org_);
}

void RelayGate::SetLimits(int total, int per_org) {
  std::lock_guard l(mu_);
  total_ = std::max(1, total);
  per_org_ = std::max(1, per_org);
}

std::optional<RelayGate::Permit> RelayGate::TryAcquire(std::string_view org_id) {
  std::lock_guard l(mu_);
  auto it = by_org_.find(org_id);
  const int org_count = it == by_org_.end() ? 0 : it->second;
  if (in_flight_ >= total_ || org_count >= per_org_) {
    ++refused_;
    return std::nullopt;
  }
  ++in_flight_;
  if (it == by_org_.end()) it = by_org_.emplace(std::string(org_id), 0).first;
  ++it->second;
  return Permit(this, std::string(org_id));
}

RelayGate::Permit RelayGate::AcquireOrThrow(std::string_view org_id) {
  auto permit = TryAcquire(org_id);
  if (!permit) {
    throw ApiError(503, "relay_busy",
                   "Too many relays to locks are waiting for their answers; nothing was sent. Try again shortly.")
        .WithRetryAfter(1);
  }
  return std::move(*permit);
}

void RelayGate::Release(const std::string& org) {
  std::lock_guard l(mu_);
  --in_flight_;
  const auto it = by_org_.find(org);
  if (it != by_org_.end() && --it->second <= 0) by_org_.erase(it);
}

int RelayGate::in_flight() const {
  std::lock_guard l(mu_);
  return in_flight_;
}

uint64_t RelayGate::refused() const {
  std::lock_guard l(mu_);
  return refused_;
}

}  // namespace mortise::server
