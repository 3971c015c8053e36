// A LockLink for tests of what codes against the link (relay API, log
// ingest, update sender): online locks by id, and a responder standing in
// for the lock (or for a hostile relay: it may answer anything).
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api.h"
#include "door_state.h"
#include "lock_link.h"
#include "uplink_certs.h"
#include "door_transfers.h"
#include "mortise/uplink/pki.h"

namespace mortise::server::testing {

class FakeLockLink final : public LockLink {
 public:
  using Responder = std::function<std::optional<std::vector<uint8_t>>(std::string_view lock_id_hex,
                                                                      std::span<const uint8_t> frame)>;
  void SetOnline(const std::string& lock_id_hex, bool online) {
    std::lock_guard l(mu_);
    if (online) {
      online_.insert(lock_id_hex);
    } else {
      online_.erase(lock_id_hex);
    }
  }
  void SetResponder(Responder r) {
    std::lock_guard l(mu_);
    responder_ = std::move(r);
  }
  void SetAnswer(Responder r) { SetResponder(std::move(r)); }
  bool Online(std::string_view lock_id_hex) const override {
    std::lock_guard l(mu_);
    return online_.count(std::string(lock_id_hex)) != 0;
  }
  // A timeout of 0 delivers the frame (the responder runs: the lock acts)
  // and waits for nothing, as MqttLockLink does.
  std::optional<std::vector<uint8_t>> Exchange(std::string_view lock_id_hex, std::span<const uint8_t> frame,
                                               int timeout_ms) override {
    Responder r;
    {
      std::lock_guard l(mu_);
      sent_.emplace_back(std::string(lock_id_hex), std::vector<uint8_t>(frame.begin(), frame.end()));
      timeouts_.emplace_back(std::string(lock_id_hex), timeout_ms);
      if (!online_.count(std::string(lock_id_hex)) || !responder_) return std::nullopt;
      r = responder_;
    }
    auto answer = r(lock_id_hex, frame);
    if (timeout_ms == 0) return std::nullopt;
    return answer;
  }
  // The wait each exchange was given, with its lock, in order.
  std::vector<std::pair<std::string, int>> Timeouts() const {
    std::lock_guard l(mu_);
    return timeouts_;
  }
  // The frames sent, in order.
  std::vector<std::vector<uint8_t>> sent() const {
    std::lock_guard l(mu_);
    std::vector<std::vector<uint8_t>> frames;
    for (const auto& [lock, frame] : sent_) frames.push_back(frame);
    return frames;
  }
  // The frames sent with the lock each went to, in order.
  std::vector<std::pair<std::string, std::vector<uint8_t>>> Sent() const {
    std::lock_guard l(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> online_;
  Responder responder_;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> sent_;
  std::vector<std::pair<std::string, int>> timeouts_;
};

// The lock side attached to an Api for a test: a FakeLockLink, the door
// state store over the test's repository, and a deployment CA.
// `crl_file`: where the broker certificates' revocation list is written
// ("" : nowhere; the rows are kept).
struct AttachedLink {
  void Attach(Api& api, SqlRepository& repo, const Clock& clock, int relay_per_minute,
              const std::string& crl_file = "") {
    states = std::make_unique<DoorStateStore>(repo);
    std::string why;
    ca = uplink::MakeCa({"test CA", uplink::Usage::kCa, {}, {}, 0, 4'000'000'000}, why);
    ASSERT_TRUE(ca) << why;
    certs.emplace(repo, clock, *ca, crl_file);
    transfers.emplace(repo, clock);
    LinkServices s;
    s.link = &link;
    s.states = states.get();
    s.ca = &*ca;
    s.certs = &*certs;
    s.transfers = &*transfers;
    s.relay_per_minute = relay_per_minute;
    api.AttachLink(s);
  }
  FakeLockLink link;
  std::unique_ptr<DoorStateStore> states;
  std::optional<uplink::Credential> ca;
  std::optional<UplinkCertificates> certs;
  std::optional<DoorTransfers> transfers;
};

}  // namespace mortise::server::testing
