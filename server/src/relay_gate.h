// Bounds the relays to locks that block an HTTP worker thread (a remote
// command, a site lockdown), so the API, /healthz, /metrics and the event
// streams always keep free workers however slowly locks answer, and so one
// tenant cannot take the relay capacity of the others (docs/server.md
// "Relays to locks", threat model A18).
//
// Doors earn their place. A lock that answered its last awaited relay
// quickly (within `fast_answer_ms`; real locks answer in milliseconds), or
// that has never been asked since the server started, relays through the
// main pool (`main` in flight on the server, `main_per_org` for one
// organisation, `main_per_account` for one account; LimitsFor keeps the
// last two below half of `main`, so two organisations or two accounts
// never fill it). A lock whose relay in good standing ended without an
// answer, or with a slow one, takes a strike; so does a lock whose quick
// answers together held workers for more than its time budget
// (kBusyBudgetAnswers × `fast_answer_ms`, of which kBusyForgivenPerMinuteMs
// is forgiven a minute): a lock patched to answer just under the threshold
// cannot keep main slots. A strike puts the lock on probation for
// `probation_ms` doubled per strike within a day (at most 12 ×
// `probation_ms`): meanwhile its relays go through the probation pool
// (`probation` in flight on the server, at least 2; `probation_per_org` for
// one organisation and `probation_per_account` for one account, 1: so one
// organisation's locks on probation never refuse another organisation's
// door on probation) with the shorter `probation_timeout_ms`; after the
// time, its next quick answer there returns it to the main pool. So locks
// that never answer can hold the main pool once per strike at most, and
// otherwise only their organisation's probation slot. At most one remote
// command is in flight per lock.
//
// Site lockdowns have their own pool (`lockdowns` awaited at once on the
// server, one per organisation) and are never refused: when no lockdown
// slot is free the envelopes are sent without waiting for the answers.
// Beyond a bound a remote command is refused at once (503 relay_busy,
// Retry-After: 1), never queued; nothing is sent.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace mortise::server {

enum class RelayPool { kMain, kProbation, kLockdown };

struct RelayLimits {
  int main = 1;                   // remote commands to doors in good standing, on the server
  int main_per_org = 1;           // ... for one organisation
  int main_per_account = 1;       // ... asked by one account
  int probation = 2;              // remote commands to doors on probation, on the server
  int probation_per_org = 1;      // ... for one organisation
  int probation_per_account = 1;  // ... asked by one account
  int lockdowns = 1;              // lockdowns awaited at once, on the server (one per organisation)
  int probation_timeout_ms = 3000;  // the wait for a door on probation
  int fast_answer_ms = 2000;        // an answer within this keeps (or earns) a door its place
  int64_t probation_ms = 300'000;   // the first strike's probation; doubles per strike
};

class RelayGate {
 public:
  // Held while one remote command is in flight; released when destroyed.
  class Permit {
   public:
    Permit(Permit&& other) noexcept
        : gate_(other.gate_), pool_(other.pool_), org_(std::move(other.org_)), account_(std::move(other.account_)),
          lock_(std::move(other.lock_)) {
      other.gate_ = nullptr;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    Permit& operator=(Permit&&) = delete;
    ~Permit();
    RelayPool pool() const { return pool_; }
    // How long to wait for the lock's answer: `main_timeout_ms` in the
    // main pool, the probation timeout (at most that) on probation.
    int TimeoutMs(int main_timeout_ms) const;
    // The relay's end: answered or not, after `elapsed_ms`; moves the
    // lock's standing.
    void Finish(bool answered, int64_t elapsed_ms, int64_t now_ms);

   private:
    friend class RelayGate;
    Permit(RelayGate* gate, RelayPool pool, std::string org, std::string account, std::string lock)
        : gate_(gate), pool_(pool), org_(std::move(org)), account_(std::move(account)), lock_(std::move(lock)) {}
    RelayGate* gate_;
    RelayPool pool_;
    std::string org_, account_, lock_;
  };

  // One site lockdown in flight: awaited (it holds a lockdown slot) or not
  // (no slot was free: its envelopes go out unawaited). Released when
  // destroyed.
  class Lockdown {
   public:
    Lockdown(Lockdown&& other) noexcept : gate_(other.gate_), org_(std::move(other.org_)), awaited_(other.awaited_) {
      other.gate_ = nullptr;
    }
    Lockdown(const Lockdown&) = delete;
    Lockdown& operator=(const Lockdown&) = delete;
    Lockdown& operator=(Lockdown&&) = delete;
    ~Lockdown();
    bool awaited() const { return awaited_; }
    // The wait for one door's answer: 0 when not awaited, the probation
    // timeout (at most `lockdown_timeout_ms`) for a door on probation, else
    // `lockdown_timeout_ms`. `on_probation` says which it was (for Finish).
    int TimeoutMs(std::string_view lock_id, int lockdown_timeout_ms, int64_t now_ms, bool& on_probation) const;
    // One door's relay ended (awaited lockdowns only move standing).
    void Finish(std::string_view lock_id, bool on_probation, bool answered, int64_t elapsed_ms, int64_t now_ms);

   private:
    friend class RelayGate;
    Lockdown(RelayGate* gate, std::string org, bool awaited) : gate_(gate), org_(std::move(org)), awaited_(awaited) {}
    RelayGate* gate_;
    std::string org_;
    bool awaited_;
  };

  explicit RelayGate(RelayLimits limits = {}) { SetLimits(limits); }
  // Every bound at least 1; `probation` above `probation_per_org` (one
  // organisation never holds the whole probation pool). Relays in flight
  // keep their permits.
  void SetLimits(RelayLimits limits);
  RelayLimits limits() const;

  // A remote command from `account_id` in `org_id` to the door of lock
  // `lock_id`. nullopt: that lock has a command in flight, or its pool
  // (main or probation, by the lock's standing) is full on the server, for
  // this organisation or for this account.
  std::optional<Permit> TryAcquire(std::string_view org_id, std::string_view account_id, std::string_view lock_id,
                                   int64_t now_ms);
  // TryAcquire, or an ApiError 503 relay_busy with Retry-After: 1.
  Permit AcquireOrThrow(std::string_view org_id, std::string_view account_id, std::string_view lock_id,
                        int64_t now_ms);
  // Never refused (see the top of this file).
  Lockdown StartLockdown(std::string_view org_id);

  bool OnProbation(std::string_view lock_id, int64_t now_ms) const;
  int in_flight() const;  // remote commands and awaited lockdowns
  int in_flight(RelayPool pool) const;
  uint64_t refused() const;
  uint64_t unawaited_lockdowns() const;
  size_t locks_on_probation() const;

  // The bounds for a server with `http_threads` workers: at most half of
  // them wait in the main pool (at least 1); one organisation or one
  // account less than half of those (at least 1), so with 3 or more main
  // slots (http.threads >= 6) two organisations leave at least one free:
  // with the default 16 threads, 8 main slots, 3 per organisation and per
  // account. Plus the probation slots (2) and the lockdown slot (1): 11 of
  // 16 workers at most wait on locks.
  static int TotalFor(int http_threads) { return http_threads / 2 > 1 ? http_threads / 2 : 1; }
  static int PerOrgFor(int total) { return (total - 1) / 2 > 1 ? (total - 1) / 2 : 1; }
  static RelayLimits LimitsFor(int http_threads, RelayLimits knobs);

  // The time budget of a lock in good standing: the part of each quick
  // answer beyond `fast_answer_ms` / 2 is charged, and the charges may add
  // up to this many times `fast_answer_ms` (20 s by default) beyond what is
  // forgiven (kBusyForgivenPerMinuteMs for each minute since); beyond, a
  // strike. Real locks answer in milliseconds and are never charged; a lock
  // that always answers just under `fast_answer_ms` is struck on its 21st
  // relay in a row, and then holds main slots for at most that
  // budget per probation it waits out.
  static constexpr int kBusyBudgetAnswers = 10;
  static constexpr int64_t kBusyForgivenPerMinuteMs = 1000;
  // How long the lock's relays in good standing have held workers, less
  // what is forgiven, as of `now_ms` (0 for a lock on probation).
  int64_t BusyMs(std::string_view lock_id, int64_t now_ms) const;

 private:
  struct Busy {
    int64_t held_ms = 0;  // less what was forgiven up to at_ms
    int64_t at_ms = 0;
  };
  struct Standing {
    int strikes = 0;
    int64_t last_strike_ms = 0;
    int64_t probation_until_ms = 0;
    bool probation = false;
  };
  void Release(RelayPool pool, const std::string& org, const std::string& account, const std::string& lock);
  void EndLockdown(const std::string& org, bool awaited);
  bool OnProbationLocked(std::string_view lock_id) const;
  int64_t BusyLocked(std::string_view lock_id, int64_t now_ms) const;
  void RecordLocked(std::string_view lock_id, bool on_probation, bool answered, int64_t elapsed_ms, int64_t now_ms);
  static void Decrement(std::map<std::string, int, std::less<>>& m, const std::string& key);

  mutable std::mutex mu_;
  RelayLimits limits_;
  int in_flight_[3] = {0, 0, 0};
  uint64_t refused_ = 0;
  uint64_t unawaited_ = 0;
  // Relays in flight by organisation and by account, per pool (main,
  // probation); lockdowns by organisation; remote commands by lock.
  std::map<std::string, int, std::less<>> by_org_[2], by_account_[2], lockdown_by_org_, by_lock_;
  // Locks that took a strike in the last day (others are in good standing).
  std::map<std::string, Standing, std::less<>> standing_;
  // Locks in good standing whose relays held workers not yet forgiven.
  std::map<std::string, Busy, std::less<>> busy_;
};

}  // namespace mortise::server
