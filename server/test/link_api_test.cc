// The lock side of the API (api_link.cc) over a FakeLockLink whose
// "lock" is a real simulated lock (LockAuthority + RemoteServer): a door's
// state as ingested, the relay of holder-signed envelopes with the server's
// verdict, the hostile answers a relay could invent, offline and no-answer,
// the per-account rate limit, the audit; the broker certificate of a lock.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "config_text.h"
#include "door_state.h"
#include "fake_lock_link.h"
#include "mortise/protocol/base64url.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/remote.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/uplink/hex.h"
#include "mortise/uplink/pki.h"
#include "org_world.h"

namespace mortise::server {
namespace {

using nlohmann::json;
using testing::Caller;
using Bytes = std::vector<uint8_t>;

constexpr int64_t kNoon = 1'750'000'000;

std::string B64(std::span<const uint8_t> b) {
  std::string s(protocol::Base64UrlLength(b.size()), '\0');
  s.resize(*protocol::Base64UrlEncode(b, s));
  return s;
}
Bytes FromB64(const std::string& s) {
  Bytes b(s.size());
  b.resize(*protocol::Base64UrlDecode(s, b));
  return b;
}


class LinkApiTest : public testing::OrgWorldFixture {
 protected:
  void SetUp() override {
    OrgWorldFixture::SetUp();
    // The lock: claimed by `owner_key_`, its time set.
    sim_ = std::make_unique<sim::SimLock>(&store_);
    ASSERT_TRUE(sim_->Start().ok());
    authority_ = std::make_unique<protocol::LockAuthority>(store_, lock_rng_.drbg);
    ASSERT_TRUE(authority_->Start().ok());
    uint8_t pin[protocol::kOfflinePinSecretSize] = {};
    ASSERT_TRUE(authority_->InstallOwner(owner_key_.public_key(), pin).ok());
    ASSERT_TRUE(sim_->lock().SetUtcTime(kNoon, false).ok());
    remote_ = std::make_unique<protocol::RemoteServer>(*authority_, sim_->lock(), store_);
    remote_->Start(sim_->clock().now_ms());
    sim_->Run(31000);
    lock_hex_ = uplink::Hex(authority_->identity().lock_id());

    lock_side_.Attach(*api_, *repo_, clock_, 5, (dir_ / "crl.pem").string());
    ASSERT_FALSE(HasFatalFailure());

    w_ = NewWorld("account:read");
    // The world's door replaced by one for this lock.
    DoorRow d{Id("door_"), w_.org, w_.site_full, "Front", lock_hex_,
              uplink::Hex(authority_->identity().public_key().bytes()), std::string(130, 'b'), "seed", clock_.NowMs()};
    ASSERT_TRUE(repo_->CreateDoor(d, SeedEvent(w_.org)));
    door_ = d.id;
    // The fake link hands frames to the lock as lockd's uplink does.
    lock_answers_ = [this](std::string_view, std::span<const uint8_t> frame) -> std::optional<Bytes> {
      if (frame.empty() || frame[0] != static_cast<uint8_t>(protocol::FrameType::kRemote)) return Bytes{0};
      Bytes reply(1 + protocol::kMaxRemoteMessageSize);
      reply[0] = frame[0];
      const auto n = remote_->Handle(frame.subspan(1), sim_->clock().now_ms(), std::span<uint8_t>(reply).subspan(1));
      if (!n.ok()) return std::nullopt;
      reply.resize(1 + *n);
      return reply;
    };
    link_.SetResponder(lock_answers_);
    link_.SetOnline(lock_hex_, true);
  }

  int64_t LockNow() const { return *sim_->lock().utc_now(); }

  Bytes Envelope(protocol::RemoteClient& client, protocol::Command c = protocol::Command::kUnlock) {
    protocol::CommandRequest r;
    r.command = c;
    Bytes out(protocol::kMaxRemoteMessageSize);
    const auto n = client.Build(r, ++counter_, LockNow() + 20, out);
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? *n : 0);
    return out;
  }

  testing::HttpResult Relay(const Caller& who, std::span<const uint8_t> envelope) {
    return RelayTo(w_.org, door_, who, envelope);
  }
  testing::HttpResult RelayTo(const std::string& org, const std::string& door, const Caller& who,
                              std::span<const uint8_t> envelope) {
    return Call("POST", "/api/v1/orgs/" + org + "/doors/" + door + "/remote", {{"envelope", B64(envelope)}},
                who.headers);
  }
  int LastTimeout(const testing::FakeLockLink& link, const std::string& lock) const {
    int t = -1;
    for (const auto& [l, ms] : link.Timeouts()) {
      if (l == lock) t = ms;
    }
    return t;
  }

  std::string why_;
  testing::FakeLockLink::Responder lock_answers_;  // the simulated lock's answer to a frame
  testing::SeededDrbg lock_rng_{21}, holder_rng_{22};
  crypto::P256KeyPair owner_key_ = crypto::P256KeyPair::Generate(holder_rng_.drbg).value();
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<protocol::LockAuthority> authority_;
  std::unique_ptr<protocol::RemoteServer> remote_;
  std::string lock_hex_;
  testing::AttachedLink lock_side_;
  testing::FakeLockLink& link_ = lock_side_.link;
  World w_;
  std::string door_;
  uint32_t counter_ = 0;
};

// The relay carries the owner's envelope; the lock's signed answer comes
// back with the verdict "confirmed", and the holder's own check agrees.
TEST_P(LinkApiTest, ARelayedEnvelopeComesBackLockSignedAndConfirmed) {
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  const Bytes env = Envelope(owner);
  // Any role may relay: the lock decides (here the envelope is the owner's,
  // relayed by a guest's account).
  const auto r = Relay(w_.callers["guest"], env);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["verdict"], "confirmed");
  const auto outcome = owner.Verify(FromB64(r.Json()["result"]));
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->confirmed);
  EXPECT_EQ(outcome->envelope, StatusCode::kOk);
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kUnlocked);
  // The frame sent was 0x03 + the envelope, byte for byte.
  const auto sent = link_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0][0], 0x03);
  EXPECT_EQ(Bytes(sent[0].begin() + 1, sent[0].end()), env);
  // Audited: who, which door, the outcome (no envelope bytes).
  const auto audit = repo_->SearchAudit([&] {
    AuditQuery q;
    q.org_id = w_.org;
    q.action = "door.remote";
    q.limit = 10;
    return q;
  }());
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor_account_id, w_.callers["guest"].account_id);
  EXPECT_EQ(audit[0].object_id, door_);
  EXPECT_NE(audit[0].detail.find("confirmed"), std::string::npos);
}

// A stranger's envelope: the lock refuses unsigned, which anyone could have
// written; the server says "unconfirmed", and the door stays locked.
TEST_P(LinkApiTest, AnUnsignedRefusalIsUnconfirmed) {
  const auto stranger = crypto::P256KeyPair::Generate(holder_rng_.drbg).value();
  protocol::RemoteClient client(stranger, {}, authority_->identity().public_key(), holder_rng_.drbg);
  const auto r = Relay(w_.callers["owner"], Envelope(client));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["verdict"], "unconfirmed");
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kLocked);
}

// What a hostile link could invent — a "success" signed by another key, the
// lock's genuine signed answer to another envelope, an unsigned success —
// is never passed on as an outcome (502 bad_answer).
TEST_P(LinkApiTest, A09_AnAnswerTheLockDidNotSignForThisEnvelopeIsRejected) {
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  // The lock's real answer to an earlier envelope, kept by the relay.
  const Bytes earlier = Envelope(owner, protocol::Command::kLock);
  Bytes kept(1 + protocol::kMaxRemoteMessageSize);
  kept[0] = 0x03;
  kept.resize(1 + *remote_->Handle(earlier, sim_->clock().now_ms(), std::span<uint8_t>(kept).subspan(1)));
  link_.SetResponder([&](std::string_view, std::span<const uint8_t>) -> std::optional<Bytes> { return kept; });
  auto r = Relay(w_.callers["owner"], Envelope(owner));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(r.ErrorCode(), "bad_answer");
  // The same answer with one bit of its signature flipped.
  Bytes flipped = kept;
  flipped.back() ^= 1;
  link_.SetResponder([&](std::string_view, std::span<const uint8_t>) -> std::optional<Bytes> { return flipped; });
  r = Relay(w_.callers["owner"], Envelope(owner));
  EXPECT_EQ(r.ErrorCode(), "bad_answer") << r.body;
  // Not a remote result at all.
  link_.SetResponder([&](std::string_view, std::span<const uint8_t>) -> std::optional<Bytes> { return Bytes{0}; });
  r = Relay(w_.callers["owner"], Envelope(owner));
  EXPECT_EQ(r.ErrorCode(), "bad_answer") << r.body;
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kLocked);
}

// A18: relays wait on HTTP worker threads; a lock that never answers (or a
// guest relaying to it) holds at most the bound, one more is refused at once
// with 503 relay_busy and the API keeps answering.
TEST_P(LinkApiTest, A18_BlockedRelaysBeyondTheBoundGetRelayBusyAndTheApiStillAnswers) {
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
  link_.SetResponder([&](std::string_view, std::span<const uint8_t>) -> std::optional<Bytes> {
    std::unique_lock l(mu);
    entered = true;
    cv.notify_all();
    // Only a guard against a hang when the bound is missing (the test then
    // fails on the second relay's status): released by the test.
    cv.wait_for(l, std::chrono::seconds(30), [&] { return released; });
    return std::nullopt;
  });
  const Bytes first = Envelope(owner), second = Envelope(owner);
  std::optional<testing::HttpResult> held;
  std::thread holder([&] { held = Relay(w_.callers["guest"], first); });
  {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return entered; });
  }
  EXPECT_EQ(api_->relay_gate().in_flight(), 1);
  const auto refused = Relay(w_.callers["owner"], second);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.ErrorCode(), "relay_busy");
  EXPECT_EQ(refused.Header("retry-after").value_or(""), "1");
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/metrics").status, 200);
  {
    std::lock_guard l(mu);
    released = true;
  }
  cv.notify_all();
  holder.join();
  ASSERT_TRUE(held);
  EXPECT_EQ(held->ErrorCode(), "outcome_unknown");
  EXPECT_EQ(link_.sent().size(), 1u) << "the refused relay sent nothing";
  EXPECT_EQ(api_->relay_gate().in_flight(), 0);
  // The main pool's bounds: on the whole server, per organisation, per
  // account, one command per lock.
  RelayGate gate(RelayLimits{.main = 3, .main_per_org = 1, .main_per_account = 2});
  auto a = gate.TryAcquire("org_a", "acct_1", "lock_1", 0);
  EXPECT_TRUE(a);
  EXPECT_FALSE(gate.TryAcquire("org_a", "acct_2", "lock_2", 0)) << "one organisation's bound";
  EXPECT_FALSE(gate.TryAcquire("org_b", "acct_2", "lock_1", 0)) << "one command per lock";
  auto b = gate.TryAcquire("org_b", "acct_1", "lock_2", 0);
  EXPECT_TRUE(b);
  EXPECT_FALSE(gate.TryAcquire("org_c", "acct_1", "lock_3", 0)) << "one account's bound";
  auto c = gate.TryAcquire("org_c", "acct_2", "lock_3", 0);
  EXPECT_TRUE(c);
  EXPECT_FALSE(gate.TryAcquire("org_d", "acct_3", "lock_4", 0)) << "the server's bound";
  b.reset();
  EXPECT_TRUE(gate.TryAcquire("org_d", "acct_3", "lock_4", 0));
  EXPECT_EQ(RelayGate::TotalFor(8), 4);
  EXPECT_EQ(RelayGate::TotalFor(1), 1);
  // One organisation's share is below half the pool (two never fill one of
  // 3 slots or more).
  EXPECT_EQ(RelayGate::PerOrgFor(1), 1);
  EXPECT_EQ(RelayGate::PerOrgFor(3), 1);
  EXPECT_EQ(RelayGate::PerOrgFor(4), 1);
  EXPECT_EQ(RelayGate::PerOrgFor(5), 2);
  EXPECT_EQ(RelayGate::PerOrgFor(8), 3);
  const RelayLimits eight = RelayGate::LimitsFor(8, {});
  EXPECT_EQ(eight.main, 4);
  EXPECT_EQ(eight.main_per_org, 1);
  EXPECT_EQ(eight.main_per_account, 1);
  EXPECT_EQ(eight.probation, 2);
  EXPECT_EQ(eight.probation_per_org, 1);
  EXPECT_EQ(eight.probation_per_account, 1);
  EXPECT_EQ(eight.lockdowns, 1);
  // The probation pool is always larger than one organisation's share.
  RelayGate one(RelayLimits{.probation = 1});
  EXPECT_EQ(one.limits().probation, 2);
}

// Locks that never answer: an exchange to one of them, while `hold` is set,
// waits until the test releases it (standing in for the relay's timeout),
// then answers nothing; without `hold` it answers nothing at once.
struct Silence {
  std::optional<Bytes> Answer() {
    if (!hold) return std::nullopt;
    std::unique_lock l(mu);
    ++entered;
    cv.notify_all();
    // Only a guard against a hang when a bound is missing.
    cv.wait_for(l, std::chrono::seconds(30), [&] { return released; });
    return std::nullopt;
  }
  // Waits until `pred` holds (under `mu`); false after 30 s.
  template <typename Pred>
  bool WaitUntil(Pred pred) {
    std::unique_lock l(mu);
    return cv.wait_for(l, std::chrono::seconds(30), pred);
  }
  void Release() {
    {
      std::lock_guard l(mu);
      released = true;
    }
    cv.notify_all();
  }
  std::set<std::string> locks;
  std::atomic<bool> hold{false};
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;
  bool released = false;
  std::vector<std::string> codes;  // the error codes of finished relays (under mu)
};

// A18 (red team F1): an attacker with two accounts and four organisations of
// their own, eight locks online that never answer, keeps a relay going to
// every one of them. After each lock's first unanswered relay it is on
// probation: all of them together hold the two probation slots (one per
// account), the rest are refused at once, and the victim's door, in good
// standing, still relays through the main pool.
TEST_P(LinkApiTest, A18_ALockThatNeverAnswersCannotTakeOtherTenantsRelaySlots) {
  RelayGate& gate = api_->relay_gate();
  // The defaults: main 4 (1 per organisation and per account), probation 2 (1 each).
  gate.SetLimits(RelayGate::LimitsFor(8, {}));
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  struct Target {
    Caller who;
    std::string org, door, lock;
  };
  std::vector<Target> targets;
  Silence silence;
  for (int a = 0; a < 2; ++a) {
    const Caller attacker = NewAccount("attacker");
    for (int o = 0; o < 2; ++o) {
      std::string site;
      const std::string org = NewOrg(attacker, "home", &site);
      for (int d = 0; d < 2; ++d) {
        std::string lock;
        const std::string door = NewDoor(org, site, &lock);
        link_.SetOnline(lock, true);
        silence.locks.insert(lock);
        targets.push_back({attacker, org, door, lock});
      }
    }
  }
  link_.SetResponder([&](std::string_view lock, std::span<const uint8_t> frame) -> std::optional<Bytes> {
    if (silence.locks.count(std::string(lock))) return silence.Answer();
    return lock_answers_(lock, frame);
  });
  // Each attacker lock is asked once and leaves it unanswered (504): a strike.
  const Bytes env = Envelope(owner);
  for (const auto& t : targets) {
    EXPECT_EQ(RelayTo(t.org, t.door, t.who, env).ErrorCode(), "outcome_unknown");
    EXPECT_TRUE(gate.OnProbation(t.lock, clock_.NowMs()));
  }
  EXPECT_EQ(gate.locks_on_probation(), targets.size());
  clock_.Advance(60'001);  // the per-account rate limit's minute; well inside the probation
  // Now a relay to every attacker lock at once, each waiting out its timeout.
  silence.hold = true;
  std::vector<std::thread> threads;
  for (const auto& t : targets) {
    threads.emplace_back([&, t] {
      const auto r = RelayTo(t.org, t.door, t.who, env);
      std::lock_guard l(silence.mu);
      silence.codes.push_back(r.ErrorCode());
      silence.cv.notify_all();
    });
  }
  ASSERT_TRUE(silence.WaitUntil([&] { return silence.entered + silence.codes.size() == targets.size(); }));
  {
    std::lock_guard l(silence.mu);
    EXPECT_EQ(silence.entered, 2) << "only the probation slots hold them, one per account";
    EXPECT_EQ(std::count(silence.codes.begin(), silence.codes.end(), "relay_busy"), 6);
  }
  EXPECT_EQ(gate.in_flight(RelayPool::kProbation), 2);
  EXPECT_EQ(gate.in_flight(RelayPool::kMain), 0);
  // The victim's door relays through the main pool, with the full timeout.
  auto r = Relay(w_.callers["owner"], Envelope(owner));
  EXPECT_EQ(r.status, 200) << r.body;  // not ASSERT: the attacker's relays are still to be released
  if (r.status == 200) {
    EXPECT_EQ(r.Json()["verdict"], "confirmed");
  }
  EXPECT_EQ(LastTimeout(link_, lock_hex_), 10'000);
  r = Relay(w_.callers["member"], Envelope(owner, protocol::Command::kLock));
  EXPECT_EQ(r.status, 200) << r.body;
  // The lock on probation was given the probation timeout only.
  for (const auto& t : targets) {
    const int timeout = LastTimeout(link_, t.lock);
    EXPECT_TRUE(timeout == 10'000 || timeout == 3'000) << timeout;
  }
  const auto timeouts = link_.Timeouts();
  EXPECT_EQ(std::count_if(timeouts.begin(), timeouts.end(), [](const auto& e) { return e.second == 3'000; }), 2);
  silence.Release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(silence.codes.begin(), silence.codes.end(), "outcome_unknown"), 2);
  EXPECT_EQ(gate.in_flight(), 0);
}

// A18 (review finding): the probation pool is shared per organisation. An
// attacker's organisation of locks that never answer, all on probation and
// all kept busy, holds one probation slot; the victim's door, which took a
// single strike (it was silent once), still relays through the probation
// pool, with its timeout, and is confirmed.
TEST_P(LinkApiTest, A18_ATenantsSilentLocksCannotRefuseAnotherTenantsDoorOnProbation) {
  RelayGate& gate = api_->relay_gate();
  gate.SetLimits(RelayGate::LimitsFor(8, {}));
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  Silence silence;
  const Caller attacker = NewAccount("attacker");
  std::string site;
  const std::string org = NewOrg(attacker, "home", &site);
  std::vector<std::string> doors;
  for (int d = 0; d < 3; ++d) {
    std::string lock;
    doors.push_back(NewDoor(org, site, &lock));
    link_.SetOnline(lock, true);
    silence.locks.insert(lock);
  }
  bool victim_silent = true;
  link_.SetResponder([&](std::string_view lock, std::span<const uint8_t> frame) -> std::optional<Bytes> {
    if (silence.locks.count(std::string(lock))) return silence.Answer();
    if (victim_silent) return std::nullopt;
    return lock_answers_(lock, frame);
  });
  // Every door takes a strike: the attacker's never answer, the victim's
  // was silent once.
  const Bytes env = Envelope(owner);
  for (const auto& door : doors) EXPECT_EQ(RelayTo(org, door, attacker, env).ErrorCode(), "outcome_unknown");
  EXPECT_EQ(Relay(w_.callers["owner"], Envelope(owner)).ErrorCode(), "outcome_unknown");
  ASSERT_TRUE(gate.OnProbation(lock_hex_, clock_.NowMs()));
  EXPECT_EQ(gate.locks_on_probation(), 4u);
  victim_silent = false;
  clock_.Advance(60'001);  // the per-account rate limit's minute; well inside the probation
  // The attacker keeps a relay going to each of their doors.
  silence.hold = true;
  std::vector<std::thread> threads;
  for (const auto& door : doors) {
    threads.emplace_back([&, door] {
      const auto r = RelayTo(org, door, attacker, env);
      std::lock_guard l(silence.mu);
      silence.codes.push_back(r.ErrorCode());
      silence.cv.notify_all();
    });
  }
  ASSERT_TRUE(silence.WaitUntil([&] { return silence.entered + silence.codes.size() == doors.size(); }));
  {
    std::lock_guard l(silence.mu);
    EXPECT_EQ(silence.entered, 1) << "one organisation holds one probation slot";
    EXPECT_EQ(std::count(silence.codes.begin(), silence.codes.end(), "relay_busy"), 2)
        << ::testing::PrintToString(silence.codes);
  }
  EXPECT_EQ(gate.in_flight(RelayPool::kProbation), 1);
  // The victim's door on probation: relayed (not relay_busy), with the
  // probation timeout, and confirmed.
  const auto r = Relay(w_.callers["owner"], Envelope(owner, protocol::Command::kLock));
  EXPECT_EQ(r.status, 200) << r.body;  // not ASSERT: the attacker's relays are still to be released
  if (r.status == 200) {
    EXPECT_EQ(r.Json()["verdict"], "confirmed");
  }
  EXPECT_EQ(LastTimeout(link_, lock_hex_), 3'000);
  silence.Release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(gate.in_flight(), 0);
}

// A18 (red team F1): an attacker holds the whole main pool (fresh locks of
// four accounts), the probation slots and the lockdown slot (a lockdown of
// their own site whose lock never answers). The victim's site lockdown is
// not refused: its envelopes go out unawaited and the door locks. Once the
// slot is free, a lockdown waits for its doors, a door on probation only
// for the probation timeout.
TEST_P(LinkApiTest, A18_ALockdownIsNotRefusedBecauseOfAnotherTenantsRelays) {
  RelayGate& gate = api_->relay_gate();
  gate.SetLimits(RelayGate::LimitsFor(8, {}));
  testing::FakeLockLink& groups_link = testing::ApiFixture::link_;  // the lockdown's link
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  ASSERT_EQ(Relay(w_.callers["owner"], Envelope(owner)).status, 200);
  sim_->Run(5000);
  ASSERT_EQ(sim_->lock().lock_state(), core::LockState::kUnlocked);

  Silence silence;
  const auto responder = [&](std::string_view lock, std::span<const uint8_t> frame) -> std::optional<Bytes> {
    if (silence.locks.count(std::string(lock))) return silence.Answer();
    return lock_answers_(lock, frame);
  };
  link_.SetResponder(responder);
  groups_link.SetResponder(responder);
  groups_link.SetOnline(lock_hex_, true);
  struct Target {
    Caller who;
    std::string org, door, lock, site;
  };
  const auto silent_door = [&](const Caller& who) {
    Target t{who, "", "", "", ""};
    t.org = NewOrg(who, "home", &t.site);
    t.door = NewDoor(t.org, t.site, &t.lock);
    link_.SetOnline(t.lock, true);
    groups_link.SetOnline(t.lock, true);
    silence.locks.insert(t.lock);
    return t;
  };
  const Caller a = NewAccount("attacker"), b = NewAccount("attacker"), third = NewAccount("attacker"),
               fourth = NewAccount("attacker");
  std::vector<Target> main_fill, probation;
  for (const Caller* who : {&a, &b, &third, &fourth}) main_fill.push_back(silent_door(*who));
  for (const Caller* who : {&a, &b}) probation.push_back(silent_door(*who));
  const Target lockdown = silent_door(a);
  const Bytes env = Envelope(owner);
  for (const Target& t : probation) {
    ASSERT_EQ(RelayTo(t.org, t.door, t.who, env).ErrorCode(), "outcome_unknown");  // a strike
  }
  silence.hold = true;
  std::vector<std::thread> threads;
  for (const Target& t : main_fill) threads.emplace_back([&, t] { RelayTo(t.org, t.door, t.who, env); });
  for (const Target& t : probation) threads.emplace_back([&, t] { RelayTo(t.org, t.door, t.who, env); });
  threads.emplace_back([&] {
    Call("POST", "/api/v1/orgs/" + lockdown.org + "/sites/" + lockdown.site + "/lockdown",
         {{"envelopes", {{{"door_id", lockdown.door}, {"envelope", uplink::Hex(env)}}}}}, a.headers);
  });
  ASSERT_TRUE(silence.WaitUntil([&] { return silence.entered == 7; }));
  EXPECT_EQ(gate.in_flight(RelayPool::kMain), 4);
  EXPECT_EQ(gate.in_flight(RelayPool::kProbation), 2);
  EXPECT_EQ(gate.in_flight(RelayPool::kLockdown), 1);

  // The victim's lockdown: not refused; sent without waiting; the door locks.
  const std::string path = "/api/v1/orgs/" + w_.org + "/sites/" + w_.site_full + "/lockdown";
  protocol::RemoteClient other(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  const auto victim_lockdown = [&] {
    const json body = {{"envelopes",
                        {{{"door_id", door_}, {"envelope", uplink::Hex(Envelope(owner, protocol::Command::kLock))}},
                         {{"door_id", w_.door}, {"envelope", uplink::Hex(Envelope(other, protocol::Command::kLock))}}}}};
    const auto r = Call("POST", path, body, w_.callers["owner"].headers);
    EXPECT_EQ(r.status, 201) << r.body;
    std::map<std::string, json> by_door;
    const json answer = r.Json();
    for (const auto& d : answer["job"]["doors"]) by_door[d["door_id"]] = d;
    return by_door;
  };
  auto doors = victim_lockdown();
  EXPECT_EQ(doors[door_]["state"], "no_answer") << doors[door_];
  EXPECT_NE(doors[door_]["reason"].get<std::string>().find("not awaited"), std::string::npos) << doors[door_];
  EXPECT_EQ(doors[w_.door]["state"], "offline") << doors[w_.door];
  EXPECT_EQ(LastTimeout(groups_link, lock_hex_), 0);
  EXPECT_EQ(gate.unawaited_lockdowns(), 1u);
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kLocked) << "the envelope reached the lock";

  silence.Release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(gate.in_flight(), 0);
  // The slot is free: the lockdown waits for its doors. The site's other
  // door left a relay unanswered (on probation): waited for 3 s, not 10.
  silence.hold = false;
  silence.locks.insert(w_.door_lock_id);
  link_.SetOnline(w_.door_lock_id, true);
  groups_link.SetOnline(w_.door_lock_id, true);
  ASSERT_EQ(RelayTo(w_.org, w_.door, w_.callers["owner"], env).ErrorCode(), "outcome_unknown");
  ASSERT_TRUE(gate.OnProbation(w_.door_lock_id, clock_.NowMs()));
  doors = victim_lockdown();
  EXPECT_EQ(doors[door_]["state"], "confirmed") << doors[door_];
  EXPECT_EQ(doors[w_.door]["state"], "no_answer") << doors[w_.door];
  EXPECT_EQ(LastTimeout(groups_link, lock_hex_), AccessSettings{}.lockdown_timeout_ms);
  EXPECT_EQ(LastTimeout(groups_link, w_.door_lock_id), 3'000);
  EXPECT_EQ(gate.unawaited_lockdowns(), 1u);
}

// A door whose relay went unanswered, or answered slowly, relays on
// probation (the probation timeout) until, after its probation, it answers
// quickly again; a second strike within a day doubles the probation.
TEST_P(LinkApiTest, ADoorThatAnswersQuicklyAgainReturnsToTheMainPool) {
  RelayGate& gate = api_->relay_gate();
  gate.SetLimits(RelayGate::LimitsFor(8, {}));
  const RelayLimits limits = gate.limits();
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  enum class Lock { kAnswers, kSilent, kSlow } mode = Lock::kAnswers;
  link_.SetResponder([&](std::string_view lock, std::span<const uint8_t> frame) -> std::optional<Bytes> {
    if (mode == Lock::kSilent) return std::nullopt;
    if (mode == Lock::kSlow) clock_.Advance(limits.fast_answer_ms + 1);
    return lock_answers_(lock, frame);
  });
  const auto relay = [&](int expected_timeout) {
    clock_.Advance(60'001);  // past the per-account rate limit
    const auto r = Relay(w_.callers["owner"], Envelope(owner, protocol::Command::kLock));
    EXPECT_EQ(LastTimeout(link_, lock_hex_), expected_timeout);
    return r;
  };
  EXPECT_EQ(relay(10'000).status, 200) << "a door the server has not seen fail relays in the main pool";
  EXPECT_FALSE(gate.OnProbation(lock_hex_, clock_.NowMs()));
  mode = Lock::kSilent;
  EXPECT_EQ(relay(10'000).ErrorCode(), "outcome_unknown");
  EXPECT_TRUE(gate.OnProbation(lock_hex_, clock_.NowMs()));
  mode = Lock::kAnswers;
  EXPECT_EQ(relay(3'000).status, 200) << "on probation: the probation pool's timeout";
  EXPECT_TRUE(gate.OnProbation(lock_hex_, clock_.NowMs())) << "a quick answer before the probation is over";
  clock_.Advance(limits.probation_ms);
  EXPECT_EQ(relay(3'000).status, 200);
  EXPECT_FALSE(gate.OnProbation(lock_hex_, clock_.NowMs())) << "a quick answer after it: back in the main pool";
  // A slow answer is a strike too; the second within a day: twice as long.
  mode = Lock::kSlow;
  EXPECT_EQ(relay(10'000).status, 200);
  EXPECT_TRUE(gate.OnProbation(lock_hex_, clock_.NowMs()));
  mode = Lock::kAnswers;
  clock_.Advance(limits.probation_ms);
  EXPECT_EQ(relay(3'000).status, 200);
  EXPECT_TRUE(gate.OnProbation(lock_hex_, clock_.NowMs()));
  clock_.Advance(limits.probation_ms);
  EXPECT_EQ(relay(3'000).status, 200);
  EXPECT_FALSE(gate.OnProbation(lock_hex_, clock_.NowMs()));
  EXPECT_EQ(relay(10'000).status, 200);
  EXPECT_EQ(gate.locks_on_probation(), 0u);
}

// One remote command in flight per door: a second one to the same door is
// refused at once though the pool has room; another door is not held up.
TEST_P(LinkApiTest, A18_OneRemoteCommandInFlightPerDoor) {
  RelayGate& gate = api_->relay_gate();
  gate.SetLimits(RelayGate::LimitsFor(16, {}));  // 8 main slots, 3 for one organisation or account
  ASSERT_EQ(gate.limits().main_per_org, 3);
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  Silence silence;
  silence.locks.insert(lock_hex_);
  silence.hold = true;
  link_.SetResponder([&](std::string_view, std::span<const uint8_t>) { return silence.Answer(); });
  link_.SetOnline(w_.door_lock_id, true);
  const Bytes first = Envelope(owner), second = Envelope(owner);
  std::thread holder([&] { Relay(w_.callers["guest"], first); });
  ASSERT_TRUE(silence.WaitUntil([&] { return silence.entered == 1; }));
  const auto refused = Relay(w_.callers["owner"], second);
  EXPECT_EQ(refused.ErrorCode(), "relay_busy") << refused.body;
  EXPECT_EQ(refused.Header("retry-after").value_or(""), "1");
  silence.hold = false;  // the other door answers nothing at once
  EXPECT_EQ(RelayTo(w_.org, w_.door, w_.callers["owner"], second).ErrorCode(), "outcome_unknown");
  silence.Release();
  holder.join();
  EXPECT_EQ(gate.in_flight(), 0);
}

TEST_P(LinkApiTest, AnOfflineLockAndAMissingAnswerAreSaidPlainly) {
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  link_.SetOnline(lock_hex_, false);
  auto r = Relay(w_.callers["owner"], Envelope(owner));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.ErrorCode(), "lock_offline");
  EXPECT_TRUE(link_.sent().empty()) << "nothing is sent to an offline lock";
  link_.SetOnline(lock_hex_, true);
  link_.SetResponder([](std::string_view, std::span<const uint8_t>) -> std::optional<Bytes> { return std::nullopt; });
  r = Relay(w_.callers["owner"], Envelope(owner));
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.ErrorCode(), "outcome_unknown");
}

TEST_P(LinkApiTest, BadEnvelopesAreRefusedBeforeAnythingIsSent) {
  for (const json& body : {json{{"envelope", "!!"}}, json{{"envelope", ""}}, json{{"envelope", "AAAA"}},
                           json{{"envelope", 3}}, json::object()}) {
    const auto r = Call("POST", "/api/v1/orgs/" + w_.org + "/doors/" + door_ + "/remote", body,
                        w_.callers["owner"].headers);
    EXPECT_EQ(r.status, 400) << body.dump() << r.body;
  }
  EXPECT_TRUE(link_.sent().empty());
}

TEST_P(LinkApiTest, RelaysAreRateLimitedPerAccount) {
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Relay(w_.callers["member"], Envelope(owner)).status, 200) << i;
  EXPECT_EQ(Relay(w_.callers["member"], Envelope(owner)).ErrorCode(), "rate_limited");
  // Another account is not slowed down; the member again a minute later.
  EXPECT_EQ(Relay(w_.callers["admin"], Envelope(owner)).status, 200);
  clock_.Advance(60'001);
  EXPECT_EQ(Relay(w_.callers["member"], Envelope(owner)).status, 200);
}

// A lock handed to a new owner names a higher claim generation in its
// state: the old organisation's door is marked transferred, the relay
// sends it nothing more (409 door_transferred), GET .../state says so and
// the console gets a door.transferred event.
TEST_P(LinkApiTest, ADoorWhoseLockNamesAHigherClaimGenerationIsMarkedTransferredAndNotRelayedTo) {
  std::vector<json> events;
  const EventSink sink = [&](std::string_view, const json& e) { events.push_back(e); };
  DoorStateIngest ingest(*lock_side_.states, clock_, sink);
  ingest.SetClaimObserver(
      [&](const DoorRef& door, int64_t generation) { lock_side_.transfers->Observe(door, generation, sink); });
  lock_side_.transfers->Registered(door_, 1);
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  // The generation it was registered under: relayed as before.
  ingest.OnState(lock_hex_, json{{"bolt", "locked"}, {"claimGeneration", 1}}.dump());
  EXPECT_EQ(Relay(w_.callers["owner"], Envelope(owner)).status, 200);
  const size_t sent = link_.Sent().size();
  const std::string path = "/api/v1/orgs/" + w_.org + "/doors/" + door_ + "/state";
  EXPECT_TRUE(Call("GET", path, nullptr, w_.callers["guest"].headers).Json()["state"]["transferred"].is_null());
  // A malformed generation is refused with the message, marking nothing.
  ingest.OnState(lock_hex_, R"({"claimGeneration": -2})");
  ingest.OnState(lock_hex_, R"({"claimGeneration": 4294967296})");
  EXPECT_EQ(ingest.malformed(), 2u);
  // The lock changed owner.
  ingest.OnState(lock_hex_, json{{"bolt", "locked"}, {"claimGeneration", 2}}.dump());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "door.transferred");
  EXPECT_EQ(events[0]["claim_generation"], 2);
  const auto r = Relay(w_.callers["owner"], Envelope(owner));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.ErrorCode(), "door_transferred");
  EXPECT_EQ(link_.Sent().size(), sent) << "a frame went to a transferred door";
  const json t = Call("GET", path, nullptr, w_.callers["guest"].headers).Json()["state"]["transferred"];
  EXPECT_EQ(t["claim_generation"], 2);
  EXPECT_EQ(t["registered_generation"], 1);
  // Said once.
  ingest.OnState(lock_hex_, json{{"claimGeneration", 3}}.dump());
  EXPECT_EQ(events.size(), 1u);
}

// State messages: sanitised, coalesced per door, written in one batch,
// announced to the sink; unknown fields dropped, a malformed one refused.
TEST_P(LinkApiTest, StateIsIngestedInBatchesAndServedAsInformative) {
  std::vector<std::pair<std::string, json>> events;
  DoorStateIngest ingest(*lock_side_.states, clock_, [&](std::string_view org, const json& e) {
    events.emplace_back(std::string(org), e);
  });
  const std::string path = "/api/v1/orgs/" + w_.org + "/doors/" + door_ + "/state";
  auto r = Call("GET", path, nullptr, w_.callers["guest"].headers);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.Json()["state"]["bolt"].is_null());
  EXPECT_EQ(r.Json()["state"]["informative"], true);

  ingest.OnOnline(lock_hex_, true);
  for (int battery = 90; battery <= 95; ++battery) {
    ingest.OnState(lock_hex_, json{{"bolt", "locked"}, {"door", "DoorClosed"}, {"mode", "Normal"},
                                   {"battery", battery}, {"alarms", json::array()}, {"firmware", "0.1.0"},
                                   {"secret", "dropped"}}.dump());
  }
  ingest.OnState(lock_hex_, R"({"battery": "full"})");  // malformed: refused
  ingest.OnState("00112233445566778899aabbccddeeff", R"({"bolt":"unlocked"})");  // no such door
  EXPECT_EQ(ingest.malformed(), 1u);
  EXPECT_EQ(ingest.Flush(), 1u) << "six messages of one door: one row written";
  EXPECT_EQ(ingest.batches(), 1u);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].first, w_.org);
  EXPECT_EQ(events[0].second["type"], "door.state");
  EXPECT_EQ(events[0].second["door_id"], door_);
  EXPECT_EQ(events[0].second["state"]["battery"], 95);
  EXPECT_EQ(events[1].second["type"], "door.online");

  link_.SetOnline(lock_hex_, true);
  r = Call("GET", path, nullptr, w_.callers["guest"].headers);
  ASSERT_EQ(r.status, 200) << r.body;
  const json s = r.Json()["state"];
  EXPECT_EQ(s["bolt"], "locked");
  EXPECT_EQ(s["battery"], 95);
  EXPECT_EQ(s["online"], true);
  EXPECT_EQ(s["last_seen"], clock_.NowMs());
  EXPECT_FALSE(s.contains("secret"));
  // The link's live answer wins over the stored row.
  link_.SetOnline(lock_hex_, false);
  EXPECT_EQ(Call("GET", path, nullptr, w_.callers["guest"].headers).Json()["state"]["online"], false);
  EXPECT_EQ(ingest.Flush(), 0u);
}

// The lock's broker certificate: issued only for a request whose binding
// statement the door's key signed (A10); the CN is the door's lock id.
TEST_P(LinkApiTest, A10_TheBrokerCertificateIsIssuedOnlyForTheDoorsOwnKey) {
  const std::string path = "/api/v1/orgs/" + w_.org + "/doors/" + door_ + "/uplink-certificate";
  const auto tls_key = uplink::GenerateKey(why_);
  ASSERT_TRUE(tls_key) << why_;
  // Signed by another lock's identity key: refused.
  const auto other = crypto::P256KeyPair::Generate(holder_rng_.drbg).value();
  const auto forged = uplink::MakeLockRequest(*tls_key, other, holder_rng_.drbg, why_);
  ASSERT_TRUE(forged) << why_;
  auto r = Call("POST", path, json::parse(uplink::RequestToJson(*forged)), w_.callers["owner"].headers);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Call("POST", path, json{{"csr", "x"}}, w_.callers["owner"].headers).status, 400);
  // The lock's own request.
  const auto request = uplink::MakeLockRequest(*tls_key, authority_->identity().key(), lock_rng_.drbg, why_);
  ASSERT_TRUE(request) << why_;
  r = Call("POST", path, json::parse(uplink::RequestToJson(*request)), w_.callers["owner"].headers);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(uplink::CommonNameOf(r.Json()["certificate"], why_), lock_hex_);
  // A member cannot: issuing is part of registering.
  EXPECT_EQ(Call("POST", path, json::parse(uplink::RequestToJson(*request)), w_.callers["member"].headers).status, 403);
}

// Revocation (docs/uplink.md "Revocation"): every certificate issued is
// recorded; a re-issue revokes the door's earlier one, an admin revokes on
// request, removing the door revokes what it still had, and each change
// rewrites the broker's list, signed by the deployment CA, naming the lock.
TEST_P(LinkApiTest, A10_BrokerCertificatesAreRevokedOnReissueOnRequestAndWithTheirDoor) {
  const std::string path = "/api/v1/orgs/" + w_.org + "/doors/" + door_ + "/uplink-certificate";
  const std::string crl_file = (dir_ / "crl.pem").string();
  const auto issue = [&] {
    const auto tls_key = uplink::GenerateKey(why_);
    EXPECT_TRUE(tls_key) << why_;
    const auto request = uplink::MakeLockRequest(*tls_key, authority_->identity().key(), lock_rng_.drbg, why_);
    EXPECT_TRUE(request) << why_;
    const auto r = Call("POST", path, json::parse(uplink::RequestToJson(*request)), w_.callers["owner"].headers);
    EXPECT_EQ(r.status, 201) << r.body;
    const std::string serial = r.Json()["serial"];
    EXPECT_EQ(serial, uplink::SerialOf(r.Json()["certificate"], why_));
    return serial;
  };
  const auto listed = [&] {
    std::ifstream in(crl_file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::map<std::string, std::string> out;  // serial -> identity
    const auto entries = uplink::VerifyCrl(lock_side_.ca->cert_pem, text, why_);
    EXPECT_TRUE(entries) << why_;
    if (entries)
      for (const auto& e : *entries) out[e.serial_hex] = e.identity;
    return out;
  };
  const std::string first = issue();
  const std::string second = issue();
  EXPECT_EQ(listed(), (std::map<std::string, std::string>{{first, lock_hex_}})) << "a re-issue revokes the old one";
  // A member may not revoke; an admin may.
  EXPECT_EQ(Call("POST", path + "/revoke", json::object(), w_.callers["member"].headers).status, 403);
  auto r = Call("POST", path + "/revoke", json::object(), w_.callers["admin"].headers);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["revoked"], 1);
  ASSERT_EQ(r.Json()["certificates"].size(), 2u);
  std::map<std::string, std::string> reasons;
  const json certificates = r.Json()["certificates"];
  for (const auto& c : certificates) {
    EXPECT_EQ(c["state"], "revoked");
    reasons[c["serial"]] = c["reason"];
  }
  EXPECT_EQ(reasons, (std::map<std::string, std::string>{{first, "reissued"}, {second, "revoked"}}));
  EXPECT_EQ(listed().size(), 2u);
  // Again: nothing more to revoke; the list is written again all the same.
  std::filesystem::remove(crl_file);
  r = Call("POST", path + "/revoke", json::object(), w_.callers["owner"].headers);
  EXPECT_EQ(r.Json()["revoked"], 0);
  EXPECT_EQ(listed().size(), 2u);
  // A third certificate, then the door is removed: it is revoked with it,
  // and its row stays (an admin still sees what was issued).
  const std::string third = issue();
  EXPECT_EQ(listed().count(third), 0u);
  ASSERT_EQ(Call("DELETE", "/api/v1/orgs/" + w_.org + "/doors/" + door_, nullptr, w_.callers["owner"].headers).status,
            204);
  EXPECT_EQ(listed().count(third), 1u);
  EXPECT_EQ(repo_->QueryText("SELECT reason FROM uplink_certificates WHERE serial = '" + third + "'"), "door_removed");
  EXPECT_EQ(lock_side_.certs->RevokeRemovedDoors(), 0);
}

// A door removed without the revocation having run (the server stopped
// between the two) is caught by the sweep the server runs at start.
TEST_P(LinkApiTest, A10_TheStartSweepRevokesTheCertificateOfADoorRemovedBehindItsBack) {
  const auto tls_key = uplink::GenerateKey(why_);
  ASSERT_TRUE(tls_key) << why_;
  const auto request = uplink::MakeLockRequest(*tls_key, authority_->identity().key(), lock_rng_.drbg, why_);
  ASSERT_TRUE(request) << why_;
  const auto r = Call("POST", "/api/v1/orgs/" + w_.org + "/doors/" + door_ + "/uplink-certificate",
                      json::parse(uplink::RequestToJson(*request)), w_.callers["owner"].headers);
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(repo_->DeleteDoor(w_.org, door_, SeedEvent(w_.org)));
  EXPECT_EQ(lock_side_.certs->RevokeRemovedDoors(true), 1);
  const std::string serial = r.Json()["serial"];
  EXPECT_EQ(repo_->QueryText("SELECT state FROM uplink_certificates WHERE serial = '" + serial + "'"), "revoked");
}

// A site lockdown (api_groups.cc) relays one envelope per door and records
// the server's verdict on each answer, checked like the one-door relay's
// against the door's key and the envelope it sent: the real lock's signed
// "locked" is confirmed; the same lock's signed answer handed back for
// another door of the site (a relay's replay) is bad_answer; a stranger's
// envelope, refused unsigned, is unconfirmed.
TEST_P(LinkApiTest, ALockdownRecordsTheVerdictOnEachDoorsAnswer) {
  protocol::RemoteClient owner(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  ASSERT_EQ(Relay(w_.callers["owner"], Envelope(owner, protocol::Command::kUnlock)).status, 200);
  sim_->Run(5000);
  ASSERT_EQ(sim_->lock().lock_state(), core::LockState::kUnlocked);
  // The site's other door (the world's): its "answer" is the real lock's
  // last signed answer, kept by the relay.
  Bytes kept;
  testing::FakeLockLink& groups_link = testing::ApiFixture::link_;  // the groups service's link
  groups_link.SetOnline(lock_hex_, true);
  groups_link.SetOnline(w_.door_lock_id, true);
  groups_link.SetResponder([&](std::string_view lock, std::span<const uint8_t> frame) -> std::optional<Bytes> {
    if (lock != lock_hex_) return kept;
    Bytes reply(1 + protocol::kMaxRemoteMessageSize);
    reply[0] = frame[0];
    reply.resize(1 + *remote_->Handle(frame.subspan(1), sim_->clock().now_ms(), std::span<uint8_t>(reply).subspan(1)));
    kept = reply;
    return reply;
  });
  // The other door's envelopes come from another client: `owner` verifies
  // the answer to the last envelope it built.
  protocol::RemoteClient other(owner_key_, {}, authority_->identity().public_key(), holder_rng_.drbg);
  const auto lockdown = [&](const Bytes& envelope) {
    const json body = {{"envelopes",
                        {{{"door_id", door_}, {"envelope", uplink::Hex(envelope)}},
                         {{"door_id", w_.door}, {"envelope", uplink::Hex(Envelope(other, protocol::Command::kLock))}}}}};
    const auto r = Call("POST", "/api/v1/orgs/" + w_.org + "/sites/" + w_.site_full + "/lockdown", body,
                        w_.callers["owner"].headers);
    EXPECT_EQ(r.status, 201) << r.body;
    std::map<std::string, json> by_door;
    const json answer = r.Json();  // kept: a range-for over a temporary's member dangles
    for (const auto& d : answer["job"]["doors"]) by_door[d["door_id"]] = d;
    EXPECT_EQ(by_door.size(), 2u) << r.body;
    return by_door;
  };
  auto doors = lockdown(Envelope(owner, protocol::Command::kLock));
  EXPECT_EQ(doors[door_]["state"], "confirmed") << doors[door_];
  EXPECT_EQ(doors[w_.door]["state"], "bad_answer") << doors[w_.door];
  EXPECT_EQ(doors[w_.door]["answer"], nullptr);
  // The kept answer is the lock's, for the envelope relayed: the holder can verify it.
  const std::string answer_hex = doors[door_]["answer"].get<std::string>();
  Bytes answer(answer_hex.size() / 2);
  ASSERT_TRUE(uplink::FromHex(answer_hex, answer));
  const auto outcome = owner.Verify(answer);
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->confirmed);
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kLocked);

  const auto stranger = crypto::P256KeyPair::Generate(holder_rng_.drbg).value();
  protocol::RemoteClient client(stranger, {}, authority_->identity().public_key(), holder_rng_.drbg);
  doors = lockdown(Envelope(client, protocol::Command::kLock));
  EXPECT_EQ(doors[door_]["state"], "unconfirmed") << doors[door_];
  EXPECT_EQ(doors[w_.door]["state"], "bad_answer") << doors[w_.door];

  // Not a RemoteCommand: refused before anything is sent.
  const size_t sent = groups_link.sent().size();
  const auto r = Call("POST", "/api/v1/orgs/" + w_.org + "/sites/" + w_.site_full + "/lockdown",
                      {{"envelopes", {{{"door_id", door_}, {"envelope", "0102"}}, {{"door_id", w_.door}, {"envelope", "0304"}}}}},
                      w_.callers["owner"].headers);
  EXPECT_EQ(r.ErrorCode(), "invalid_envelope") << r.body;
  EXPECT_EQ(groups_link.sent().size(), sent);
}

INSTANTIATE_TEST_SUITE_P(Backend, LinkApiTest, ::testing::Values(testing::TestBackend()));

// The relay pools driven directly, on injected time (relay_gate.h).

// A relay to `lock` in good standing left unanswered: a strike.
void Strike(RelayGate& gate, std::string_view org, std::string_view account, std::string_view lock, int64_t now_ms) {
  auto permit = gate.TryAcquire(org, account, lock, now_ms);
  ASSERT_TRUE(permit);
  ASSERT_EQ(permit->pool(), RelayPool::kMain);
  permit->Finish(false, 10'000, now_ms);
  ASSERT_TRUE(gate.OnProbation(lock, now_ms));
}

// A18 (review finding): one organisation's locks on probation hold at most
// one probation slot (and one account's at most one), so another
// organisation's door that took a single strike is not refused; the
// server's bound still holds.
TEST(RelayGatePools, A18_OneTenantsLocksOnProbationCannotRefuseAnotherTenantsDoor) {
  RelayGate gate(RelayGate::LimitsFor(8, {}));
  const int64_t now = 1'000'000;
  for (const char* lock : {"lock_x1", "lock_x2", "lock_x3"}) Strike(gate, "org_x", "acct_x", lock, now);
  Strike(gate, "org_x2", "acct_x", "lock_x4", now);
  Strike(gate, "org_v", "acct_v", "lock_v", now);
  Strike(gate, "org_w", "acct_w", "lock_w", now);
  auto held = gate.TryAcquire("org_x", "acct_x", "lock_x1", now);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->pool(), RelayPool::kProbation);
  EXPECT_FALSE(gate.TryAcquire("org_x", "acct_y", "lock_x2", now)) << "one organisation's probation slot";
  EXPECT_FALSE(gate.TryAcquire("org_x2", "acct_x", "lock_x4", now)) << "one account's probation slot";
  auto victim = gate.TryAcquire("org_v", "acct_v", "lock_v", now);
  ASSERT_TRUE(victim) << "another organisation's door on probation relays";
  EXPECT_EQ(victim->pool(), RelayPool::kProbation);
  EXPECT_EQ(victim->TimeoutMs(10'000), 3'000);
  EXPECT_FALSE(gate.TryAcquire("org_w", "acct_w", "lock_w", now)) << "the server's bound";
  EXPECT_EQ(gate.in_flight(RelayPool::kProbation), 2);
  victim.reset();
  EXPECT_TRUE(gate.TryAcquire("org_w", "acct_w", "lock_w", now));
}

// A18 (review finding): locks patched to answer just under the fast-answer
// threshold are never struck for one slow answer; two organisations (their
// accounts in both) relaying to as many of them as they are let hold at
// most one main slot each, so a third organisation's door still relays.
TEST(RelayGatePools, A18_TwoOrganisationsOfSlowLocksCannotFillTheMainPool) {
  RelayGate gate(RelayGate::LimitsFor(8, {}));
  const int just_under = gate.limits().fast_answer_ms - 1;
  int64_t now = 1'000'000;
  for (int round = 0; round < 3; ++round) {
    std::vector<RelayGate::Permit> held;
    for (const char* org : {"org_a", "org_b"}) {
      for (const char* account : {"acct_1", "acct_2"}) {
        for (int i = 0; i < 4; ++i) {
          auto p = gate.TryAcquire(org, account, std::string(org) + "_lock_" + std::to_string(i), now);
          if (p) held.push_back(std::move(*p));
        }
      }
    }
    EXPECT_EQ(held.size(), 2u) << "one main slot per organisation";
    EXPECT_EQ(gate.in_flight(RelayPool::kMain), 2);
    auto third = gate.TryAcquire("org_c", "acct_c", "lock_c", now);
    ASSERT_TRUE(third) << "a third organisation still relays";
    EXPECT_EQ(third->pool(), RelayPool::kMain);
    third.reset();
    now += just_under;
    for (auto& p : held) p.Finish(true, just_under, now);
  }
  EXPECT_EQ(gate.locks_on_probation(), 0u) << "answers under the threshold are no strike by themselves";
}

// A18 (review finding): a lock that always answers just under the
// threshold spends its time budget (10 × fast_answer_ms, 1 s a minute
// forgiven) and is struck: its relays then go through the probation pool.
// Quick answers, and slow ones far apart, never are.
TEST(RelayGatePools, A18_ALockAnsweringJustUnderTheThresholdIsStruckOnceItsTimeBudgetIsSpent) {
  RelayGate gate(RelayGate::LimitsFor(8, {}));
  const RelayLimits l = gate.limits();
  const int just_under = l.fast_answer_ms - 1;
  int64_t now = 1'000'000;
  int relays = 0;
  while (!gate.OnProbation("lock_s", now) && relays < 100) {
    auto p = gate.TryAcquire("org_a", "acct_a", "lock_s", now);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->pool(), RelayPool::kMain);
    now += just_under;
    p->Finish(true, just_under, now);
    ++relays;
  }
  // Each answer of 1,999 ms is charged 999 ms (its part beyond 1 s), 33 ms
  // forgiven after each: 20 answers are 19,353 ms, the 21st goes beyond
  // 20,000.
  EXPECT_EQ(relays, 21);
  EXPECT_TRUE(gate.OnProbation("lock_s", now));
  EXPECT_EQ(gate.BusyMs("lock_s", now), 0) << "the budget starts again after the strike";
  auto p = gate.TryAcquire("org_a", "acct_a", "lock_s", now);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pool(), RelayPool::kProbation);
  p.reset();

  // A lock answering like a real one (150 ms, every 10 s, for a day), and
  // one answering just under the threshold every two minutes (forgiven
  // before the next): never struck.
  for (int i = 0; i < 8'640; ++i) {
    auto q = gate.TryAcquire("org_b", "acct_b", "lock_real", now);
    ASSERT_TRUE(q);
    q->Finish(true, 150, now + 150);
    if (i % 12 == 0) {
      auto r = gate.TryAcquire("org_c", "acct_c", "lock_slowish", now);
      ASSERT_TRUE(r);
      r->Finish(true, just_under, now + just_under);
    }
    now += 10'000;
  }
  EXPECT_FALSE(gate.OnProbation("lock_real", now));
  EXPECT_FALSE(gate.OnProbation("lock_slowish", now));
  EXPECT_EQ(gate.BusyMs("lock_real", now), 0) << "a real lock's answers are never charged";
  // A busy door of a real lock: 900 ms answers 4 times a minute, all day.
  for (int i = 0; i < 4 * 60 * 24; ++i) {
    auto q = gate.TryAcquire("org_d", "acct_d", "lock_busy", now);
    ASSERT_TRUE(q);
    q->Finish(true, 900, now + 900);
    now += 15'000;
  }
  EXPECT_FALSE(gate.OnProbation("lock_busy", now));
  EXPECT_EQ(gate.BusyMs("lock_busy", now), 0);
  EXPECT_LT(gate.BusyMs("lock_slowish", now), l.fast_answer_ms);
  EXPECT_EQ(gate.locks_on_probation(), 1u);
}


// [uplink] relay knobs in the TOML file (docs/server.md, Settings), and
// main.cc's bounds from them and http.threads.
TEST(RelaySettings, AreReadFromTheConfigFileAndCheckedTogether) {
  const Config c = testing::LoadConfigText(
      "[uplink]\nrelay_probation_timeout_ms = 4000\nrelay_fast_answer_ms = 1500\nrelay_probation_ms = 60000\n"
      "relay_probation_slots = 3\nlockdown_slots = 3\n");
  const RelayLimits l = RelayGate::LimitsFor(8, c.uplink.relays);
  EXPECT_EQ(l.probation_timeout_ms, 4000);
  EXPECT_EQ(l.fast_answer_ms, 1500);
  EXPECT_EQ(l.probation_ms, 60000);
  EXPECT_EQ(l.probation, 3);
  EXPECT_EQ(l.probation_per_org, 1);
  EXPECT_EQ(l.lockdowns, 3);
  EXPECT_EQ(l.main, 4);
  EXPECT_EQ(l.main_per_org, 1);
  // The default: a site's people may open three doors at the same moment.
  const Config defaults = testing::LoadConfigText("");
  EXPECT_EQ(defaults.http.threads, 16);
  const RelayLimits d = RelayGate::LimitsFor(defaults.http.threads, defaults.uplink.relays);
  EXPECT_EQ(d.main, 8);
  EXPECT_EQ(d.main_per_org, 3);
  EXPECT_EQ(d.main_per_account, 3);
  EXPECT_LE(d.main + d.probation + d.lockdowns, defaults.http.threads - 4) << "the API keeps free workers";
  EXPECT_THROW(testing::LoadConfigText("[uplink]\nrelay_probation_slots = 1\n"), ConfigError)
      << "one organisation's door on probation would refuse every other's";
  EXPECT_THROW(testing::LoadConfigText("[uplink]\nrelay_probation_timeout_ms = 1000\nrelay_fast_answer_ms = 2000\n"),
               ConfigError)
      << "a door on probation could never answer quickly enough";
}

}  // namespace
}  // namespace mortise::server
