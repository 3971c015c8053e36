// Throttling of failed sign-ins, per account and per client address. In
// memory (a restart forgets it), driven by the injected clock.
//
//   per account: `account_failures` consecutive failures (wrong password or
//     wrong second factor) lock the email for `account_lockout_s`; a success
//     resets the count. Applies to unknown emails too, so the answer does not
//     reveal whether an account exists.
//   per address: `address_failures` failures within a sliding
//     `address_window_s` block every sign-in from that address until the
//     oldest of them leaves the window.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mortise::server {

struct ThrottleSettings {
  int account_failures = 5;
  int64_t account_lockout_s = 900;
  int address_failures = 20;
  int64_t address_window_s = 900;
};

class SignInThrottle {
 public:
  explicit SignInThrottle(ThrottleSettings s) : s_(s) {}
  // Seconds until a sign-in for this email may be tried (0: now).
  int64_t AccountWait(const std::string& email, int64_t now_ms);
  int64_t AddressWait(const std::string& address, int64_t now_ms);
  void RecordFailure(const std::string& email, const std::string& address, int64_t now_ms);
  void RecordSuccess(const std::string& email);

 private:
  struct AccountState {
    int failures = 0;
    int64_t locked_until_ms = 0;
  };
  void Prune(int64_t now_ms);

  ThrottleSettings s_;
  std::mutex mu_;
  std::unordered_map<std::string, AccountState> accounts_;
  std::unordered_map<std::string, std::deque<int64_t>> addresses_;
};

}  // namespace mortise::server
