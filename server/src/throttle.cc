#include "throttle.h"

#include <vector>

namespace mortise::server {
namespace {

int64_t CeilSeconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

}  // namespace

int64_t SignInThrottle::AccountWait(const std::string& email, int64_t now_ms) {
  std::lock_guard lock(mu_);
  const auto it = accounts_.find(email);
  if (it == accounts_.end()) return 0;
  return CeilSeconds(it->second.locked_until_ms - now_ms);
}

int64_t SignInThrottle::AddressWait(const std::string& address, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = addresses_.find(address);
  if (it == addresses_.end()) return 0;
  auto& q = it->second;
  const int64_t window_ms = s_.address_window_s * 1000;
  while (!q.empty() && q.front() + window_ms <= now_ms) q.pop_front();
  if (static_cast<int>(q.size()) < s_.address_failures) return 0;
  return CeilSeconds(q.front() + window_ms - now_ms);
}

void SignInThrottle::RecordFailure(const std::string& email, const std::string& address, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Prune(now_ms);
  auto& a = accounts_[email];
  if (a.locked_until_ms != 0 && a.locked_until_ms <= now_ms) a = AccountState{};  // lockout served
  if (++a.failures >= s_.account_failures) {
    a.locked_until_ms = now_ms + s_.account_lockout_s * 1000;
    a.failures = 0;
  }
  auto& q = addresses_[address];
  q.push_back(now_ms);
  // Only the last `address_failures` matter for the decision.
  while (static_cast<int>(q.size()) > s_.address_failures) q.pop_front();
}

void SignInThrottle::RecordSuccess(const std::string& email) {
  std::lock_guard lock(mu_);
  accounts_.erase(email);
}

void SignInThrottle::Prune(int64_t now_ms) {
  // Bounded memory under a spray of emails or addresses: drop what no longer
  // affects any decision once the maps grow.
  constexpr size_t kPruneAbove = 100000;
  if (accounts_.size() > kPruneAbove) {
    std::erase_if(accounts_, [&](const auto& kv) { return kv.second.locked_until_ms <= now_ms; });
  }
  if (addresses_.size() > kPruneAbove) {
    const int64_t window_ms = s_.address_window_s * 1000;
    std::erase_if(addresses_, [&](const auto& kv) { return kv.second.back() + window_ms <= now_ms; });
  }
}

}  // namespace mortise::server
