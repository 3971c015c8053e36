// Bounds the relays to locks that block an HTTP worker thread (a remote
// command, a site lockdown): at most `total` in flight on the whole server
// and `per_org` for one organisation, so the API, /healthz, /metrics and
// the event streams always keep free workers however slowly locks answer
// (docs/server.md "Relays to locks"). Beyond a bound the caller is refused
// at once (503 relay_busy), never queued.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace mortise::server {

class RelayGate {
 public:
  // Held while one relay is in flight; released when destroyed.
  class Permit {
   public:
    Permit(Permit&& other) noexcept : gate_(other.gate_), org_(std::move(other.org_)) { other.gate_ = nullptr; }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    Permit& operator=(Permit&&) = delete;
    ~Permit();

   private:
    friend class RelayGate;
    Permit(RelayGate* gate, std::string org) : gate_(gate), org_(std::move(org)) {}
    RelayGate* gate_;
    std::string org_;
  };

  RelayGate(int total = 1, int per_org = 1) { SetLimits(total, per_org); }
  // Both at least 1. Relays in flight keep their permits.
  void SetLimits(int total, int per_org);
  // nullopt: `total` or `per_org` relays are in flight already.
  std::optional<Permit> TryAcquire(std::string_view org_id);
  // TryAcquire, or an ApiError 503 relay_busy with Retry-After: 1.
  Permit AcquireOrThrow(std::string_view org_id);
  int in_flight() const;
  uint64_t refused() const;

  // The bounds for a server with `http_threads` workers: half of them for
  // relays (at least 1), and half of those for one organisation (at least 1).
  static int TotalFor(int http_threads) { return http_threads / 2 > 1 ? http_threads / 2 : 1; }
  static int PerOrgFor(int total) { return total / 2 > 1 ? total / 2 : 1; }

 private:
  void Release(const std::string& org);

  mutable std::mutex mu_;
  int total_ = 1;
  int per_org_ = 1;
  int in_flight_ = 0;
  uint64_t refused_ = 0;
  std::map<std::string, int, std::less<>> by_org_;
};

}  // namespace mortise::server
