// The server's duties with its per-door duty key (issue 14, docs/server.md
// "Duties"), against a real simulated lock (LockAuthority, TimeServer,
// RemoteServer): the owner's time and revalidate certificates, refused when
// they are anything else (A09); the clock kept right by small statements at
// the lock's pace, never a step beyond the lock's bound, stopping on a
// refusal (A04); revalidation tokens for a holder's live, registered key
// that the lock accepts, and none for a revoked, unregistered or another
// person's key (A01/A09); a hostile server's token for a key the lock has
// revoked opens nothing (A01).
#include <gtest/gtest.h>

#include <cstring>

#include "duty_keys.h"
#include "duty_time.h"
#include "mortise/protocol/base64url.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/remote.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/text_forms.h"
#include "mortise/protocol/time_statement.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/uplink/hex.h"
#include "org_world.h"

namespace mortise::server {
namespace {

using nlohmann::json;
using testing::Caller;
using Bytes = std::vector<uint8_t>;

constexpr int64_t kHourMs = 3'600'000;

class DutyTest : public testing::OrgWorldFixture {
 protected:
  void SetUp() override {
    OrgWorldFixture::SetUp();
    // The lock: claimed by the world's owner key, its clock set.
    sim_ = std::make_unique<sim::SimLock>(&store_);
    ASSERT_TRUE(sim_->Start().ok());
    authority_ = std::make_unique<protocol::LockAuthority>(store_, lock_rng_.drbg);
    ASSERT_TRUE(authority_->Start().ok());
    uint8_t pin[protocol::kOfflinePinSecretSize] = {};
    ASSERT_TRUE(authority_->InstallOwner(owner().public_key(), pin).ok());
    // The lock's clock agrees with the server's to start with.
    ASSERT_TRUE(sim_->lock().SetUtcTime(clock_.NowMs() / 1000, false).ok());
    remote_ = std::make_unique<protocol::RemoteServer>(*authority_, sim_->lock(), store_);
    remote_->Start(sim_->clock().now_ms());
    time_ = std::make_unique<protocol::TimeServer>(*authority_, sim_->lock());
    Pass(kHourMs / 2);  // the lock runs a while: its floor is behind its clock
    lock_hex_ = uplink::Hex(authority_->identity().lock_id());
    generation_ = authority_->claim_generation();

    w_ = NewWorld("orgs:write");
    DoorRow d{Id("door_"), w_.org, w_.site_full, "Front", lock_hex_,
              uplink::Hex(authority_->identity().public_key().bytes()), ToHex(owner().public_key().bytes()), "seed",
              clock_.NowMs()};
    ASSERT_TRUE(repo_->CreateDoor(d, SeedEvent(w_.org)));
    door_ = d.id;
    // The link hands frames to the lock as lockd's uplink does (LockNode's
    // dispatch for 0x03 and 0x07).
    link_.SetResponder([this](std::string_view, std::span<const uint8_t> frame) { return LockAnswer(frame); });
    link_.SetOnline(lock_hex_, true);
  }

  std::optional<Bytes> LockAnswer(std::span<const uint8_t> frame) {
    if (frame.empty()) return Bytes{0};
    Bytes reply(1 + protocol::kMaxRemoteMessageSize);
    reply[0] = frame[0];
    Result<size_t> n = StatusCode::kInvalidArgument;
    const uint64_t now = sim_->clock().now_ms();
    if (frame[0] == static_cast<uint8_t>(protocol::FrameType::kRemote)) {
      n = remote_->Handle(frame.subspan(1), now, std::span<uint8_t>(reply).subspan(1));
    } else if (frame[0] == static_cast<uint8_t>(protocol::FrameType::kTime)) {
      n = time_->Handle(frame.subspan(1), now, std::span<uint8_t>(reply).subspan(1));
    }
    if (!n.ok()) return Bytes{0};
    reply.resize(1 + *n);
    return reply;
  }

  const crypto::P256KeyPair& owner() { return signer_.owner(); }
  // Lets `ms` pass on the lock and on the server alike.
  void Pass(int64_t ms) {
    sim_->Run(static_cast<uint64_t>(ms), static_cast<uint64_t>(ms));
    clock_.Advance(ms);
  }
  int64_t LockUtc() { return *sim_->lock().utc_now(); }
  // The server's clock `drift_s` seconds ahead of the lock's.
  void ServerAhead(int64_t drift_s) { clock_.Set((LockUtc() + drift_s) * 1000 + 400); }

  std::string Path(const std::string& tail) { return "/api/v1/orgs/" + w_.org + "/doors/" + door_ + tail; }
  // API keys, not sessions: the tests run the clocks for days.
  const Caller& Owner() { return w_.callers.at("key"); }

  // The door's duty key (made by the custody route).
  crypto::P256PublicKey DutyKey() {
    const auto r = Call("POST", Path("/custody/key"), json::object(), Owner().headers);
    EXPECT_EQ(r.status, 200) << r.body;
    return *protocol::PublicKeyFromText(r.Json().at("public_key").get<std::string>());
  }
  // The owner's certificate for `holder` with `permissions` (role admin), as
  // the MKS1 text `mortise key share` prints.
  std::string Certificate(const crypto::P256PublicKey& holder, uint32_t permissions, uint64_t serial,
                          const crypto::P256KeyPair* issuer = nullptr, uint32_t max_age = 0,
                          protocol::Role role = protocol::Role::kAdmin) {
    return ShareText(ChainFor(holder, permissions, serial, issuer, max_age, role));
  }
  Bytes ChainFor(const crypto::P256PublicKey& holder, uint32_t permissions, uint64_t serial,
                 const crypto::P256KeyPair* issuer = nullptr, uint32_t max_age = 0,
                 protocol::Role role = protocol::Role::kAdmin) {
    protocol::CertificateFields f;
    f.lock_id = authority_->identity().lock_id();
    f.holder_key = holder.Compressed();
    f.role = role;
    f.permissions = permissions;
    f.claim_generation = generation_;
    f.serial = serial;
    f.revalidation_max_age = max_age;
    Bytes cert(protocol::kMaxCertificateSize);
    cert.resize(*protocol::IssueCertificate(f, issuer ? *issuer : owner(), holder_rng_.drbg, cert));
    Bytes chain(protocol::kMaxChainSize);
    chain.resize(*protocol::EncodeChain(cert, {}, chain));
    return chain;
  }
  std::string ShareText(const Bytes& chain) {
    protocol::ShareBundle bundle;
    const auto key = authority_->identity().public_key().bytes();
    std::copy(key.begin(), key.end(), bundle.lock_key.begin());
    std::copy(chain.begin(), chain.end(), bundle.chain.begin());
    bundle.chain_len = chain.size();
    std::vector<char> text(4096);
    return std::string(text.data(), *protocol::ShareToText(bundle, text));
  }
  testing::HttpResult Certify(const std::string& duty, const std::string& text) {
    return Call("POST", Path("/duties/" + duty), {{"certificate", text}}, Owner().headers);
  }
  DutyClock NewDutyClock() { return DutyClock(*repo_, clock_, random_); }

  // The time a statement sent states (frame bytes 22..29).
  static int64_t StatedTime(const Bytes& frame) {
    int64_t t = 0;
    std::memcpy(&t, frame.data() + 22, 8);
    return t;
  }

  testing::SeededDrbg lock_rng_{31}, holder_rng_{32};
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<protocol::LockAuthority> authority_;
  std::unique_ptr<protocol::RemoteServer> remote_;
  std::unique_ptr<protocol::TimeServer> time_;
  std::string lock_hex_;
  uint32_t generation_ = 0;
  World w_;
  std::string door_;
};

TEST_P(DutyTest, TheServerCorrectsADriftedClockBySmallStepsAtTheLocksPace) {
  const crypto::P256PublicKey key = DutyKey();
  auto r = Certify("time", Certificate(key, protocol::kPermTimeStatement, 501));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("time").at("serial"), "501");
  DutyClock clock = NewDutyClock();

  // The server is 25 s ahead: one step of 9 s now (the lock's bound is 10).
  ServerAhead(25);
  const int64_t before = LockUtc();
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kCorrected);
  EXPECT_EQ(LockUtc(), before + 9);
  EXPECT_EQ(time_->corrections(), 1u);
  const json v = clock.View(door_);
  EXPECT_EQ(v.at("drift_s"), 25);
  EXPECT_EQ(v.at("last_correction").at("from"), before);
  EXPECT_EQ(v.at("last_correction").at("to"), before + 9);
  EXPECT_EQ(v.at("last_status"), "corrected");
  // Nothing more inside the lock's refill period: not even a query.
  const size_t sent = link_.sent().size();
  Pass(kHourMs);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kNotDue);
  EXPECT_EQ(link_.sent().size(), sent);
  // Six hours on: the next step, then the rest, then nothing to do.
  Pass(5 * kHourMs);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kCorrected);
  Pass(6 * kHourMs);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kCorrected);
  EXPECT_LE(std::abs(clock_.NowMs() / 1000 - LockUtc()), 2);
  Pass(6 * kHourMs);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kInSync);
  EXPECT_EQ(time_->corrections(), 3u);
  EXPECT_EQ(clock.corrections(), 3u);
  // The duties route shows it.
  r = Call("GET", Path("/duties"), nullptr, NewKey(w_.callers.at("guest"), {"orgs:read"}).headers);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("clock").at("corrections"), 3);
  EXPECT_EQ(r.Json().at("clock").at("last_status"), "in_sync");
}

TEST_P(DutyTest, TheServerStatesNothingToAClockInSyncOrUnsetOrWithoutACertificate) {
  DutyClock clock = NewDutyClock();
  ServerAhead(30);
  // No certificate: nothing sent.
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kNotDue);
  EXPECT_TRUE(link_.sent().empty());
  ASSERT_EQ(Certify("time", Certificate(DutyKey(), protocol::kPermTimeStatement, 502)).status, 200);
  // Offline: nothing sent.
  link_.SetOnline(lock_hex_, false);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kOffline);
  link_.SetOnline(lock_hex_, true);
  // Within 2 s: asked, nothing stated.
  ServerAhead(2);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kInSync);
  ASSERT_EQ(link_.sent().size(), 1u);
  EXPECT_EQ(link_.sent()[0], Bytes{0x07});  // the bare query
  // A lock whose clock is unknown is never set by the server.
  link_.SetResponder([](std::string_view, std::span<const uint8_t>) {
    return std::optional<Bytes>(Bytes{0x07, protocol::kTimeStatementVersion, 1, 0, 0, 0, 0, 0, 0, 0, 0});
  });
  Pass(kHourMs);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kTimeUnknown);
  EXPECT_EQ(link_.sent().back(), Bytes{0x07});
  EXPECT_EQ(time_->corrections(), 0u);
}

// A04: however far the lock's clock is from the server's, no statement the
// server sends is more than the lock's step from the time the lock
// reported; a refusal stops it (a hostile relay's "busy" for the interval,
// the lock's "refused" until a new certificate).
TEST_P(DutyTest, A04_TheServerNeverStatesBeyondTheStepAndStopsOnRefusal) {
  ASSERT_EQ(Certify("time", Certificate(DutyKey(), protocol::kPermTimeStatement, 503)).status, 200);
  DutyClock clock = NewDutyClock();
  // Drifts either way, the server's clock only moving forward (its pacing
  // is on its own clock); 6.5 h between, so the lock's budget has refilled
  // and its floor (saved hourly) is half an hour behind its clock.
  Pass(6 * kHourMs);
  Pass(kHourMs / 2);
  for (const int64_t drift : {-3600, -11, 11, 3600, 86400 * 365}) {
    ServerAhead(drift);
    const int64_t lock_before = LockUtc();
    EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kCorrected) << drift << " " << clock.View(door_).dump();
    const Bytes statement = link_.sent().back();
    ASSERT_GT(statement.size(), 30u);
    EXPECT_LE(std::abs(StatedTime(statement) - lock_before), protocol::kTimeCorrectionMaxStepS) << drift;
    EXPECT_LE(std::abs(LockUtc() - lock_before), protocol::kTimeCorrectionMaxStepS) << drift;
    EXPECT_EQ(drift > 0, LockUtc() > lock_before) << drift;
    Pass(6 * kHourMs);
    Pass(kHourMs / 2);
  }
  EXPECT_EQ(time_->corrections(), 5u);
  // The lock refuses ("busy", as a relay or a restarted budget may say):
  // the server waits the whole interval before it asks again.
  auto refusing = [this](protocol::TimeStatus status) {
    return [this, status](std::string_view, std::span<const uint8_t> frame) -> std::optional<Bytes> {
      if (frame.size() == 1) return LockAnswer(frame);  // the query: the real lock
      return Bytes{0x07, protocol::kTimeStatementVersion, static_cast<uint8_t>(status), 0, 0, 0, 0, 0, 0, 0, 0};
    };
  };
  link_.SetResponder(refusing(protocol::TimeStatus::kBusy));
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kRefusedByLock);
  EXPECT_EQ(clock.View(door_).at("last_status"), "lock: busy");
  size_t sent = link_.sent().size();
  Pass(kHourMs);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kNotDue);
  EXPECT_EQ(link_.sent().size(), sent);
  // "refused" (the lock no longer takes the key): no more statements, even
  // after the interval, until the owner installs a new certificate.
  link_.SetResponder(refusing(protocol::TimeStatus::kRefused));
  Pass(6 * kHourMs);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kRefusedByLock);
  sent = link_.sent().size();
  Pass(7 * kHourMs);
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kNotDue);
  EXPECT_EQ(link_.sent().size(), sent);
  EXPECT_EQ(clock.refusals(), 2u);
  // A relay's "corrected" that does not say the stated time is not taken.
  ASSERT_EQ(Certify("time", Certificate(DutyKey(), protocol::kPermTimeStatement, 504)).status, 200);
  link_.SetResponder(refusing(protocol::TimeStatus::kCorrected));
  EXPECT_EQ(clock.Step(link_, door_), TimeOutcome::kBadAnswer);
  EXPECT_EQ(clock.corrections(), 5u);
}

TEST_P(DutyTest, A09_ADutyCertificateWithMoreRightsForAnotherKeyOrByAStrangerIsRefused) {
  const crypto::P256PublicKey key = DutyKey();
  const crypto::P256KeyPair stranger = crypto::P256KeyPair::Generate(holder_rng_.drbg).value();
  const crypto::P256KeyPair other = crypto::P256KeyPair::Generate(holder_rng_.drbg).value();
  EXPECT_EQ(Certify("time", Certificate(key, protocol::kPermTimeStatement | protocol::kPermUnlock, 1)).ErrorCode(),
            "wrong_permissions");
  EXPECT_EQ(Certify("time", Certificate(key, protocol::kPermTimeStatement | protocol::kPermRevalidate, 2)).ErrorCode(),
            "wrong_permissions");
  EXPECT_EQ(Certify("time", Certificate(key, protocol::kPermLogCustody, 3)).ErrorCode(), "wrong_permissions");
  EXPECT_EQ(Certify("revalidate", Certificate(key, protocol::kPermTimeStatement, 4)).ErrorCode(),
            "wrong_permissions");
  EXPECT_EQ(Certify("time", Certificate(other.public_key(), protocol::kPermTimeStatement, 5)).ErrorCode(),
            "wrong_holder");
  EXPECT_EQ(Certify("time", Certificate(key, protocol::kPermTimeStatement, 6, &stranger)).ErrorCode(),
            "invalid_signature");
  EXPECT_EQ(Call("POST", Path("/duties/unlock"), {{"certificate", "MK1.x"}}, Owner().headers).status, 404);
  const auto r = Call("GET", Path("/duties"), nullptr, Owner().headers);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.Json().at("time").is_null());
  EXPECT_TRUE(r.Json().at("revalidate").is_null());
}

class RevalidationTest : public DutyTest {
 protected:
  void SetUp() override {
    DutyTest::SetUp();
    member_ = NewKey(w_.callers.at("member"), {"orgs:read", "orgs:write"});
    holder_.emplace(crypto::P256KeyPair::Generate(holder_rng_.drbg).value());
    chain_ = ChainFor(holder_->public_key(), protocol::kPermLock | protocol::kPermUnlock, 0x4242, nullptr, 3600,
                      protocol::Role::kMember);
  }
  void RegisterKey(const Caller& for_whom, const Bytes& chain) {
    const auto r = Call("POST", "/api/v1/orgs/" + w_.org + "/keys",
                        {{"account_id", for_whom.account_id}, {"chain", ToHex(chain)}, {"door_id", door_}},
                        Owner().headers);
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void CertifyRevalidate() {
    const auto r = Certify("revalidate", Certificate(DutyKey(), protocol::kPermRevalidate, 601));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  testing::HttpResult Fetch(const Caller& who, const Bytes& chain) {
    return Call("POST", Path("/revalidation"), {{"chain", ShareText(chain)}}, who.headers);
  }
  static Bytes TokenOf(const testing::HttpResult& r) {
    Bytes token(protocol::kMaxRevalidationTokenSize);
    token.resize(*protocol::RevalidationTokenFromText(r.Json().at("token").get<std::string>(), token));
    return token;
  }
  // The holder's envelope (with `token`, if any) handed to the lock.
  std::optional<protocol::RemoteOutcome> Unlock(const Bytes& token) {
    protocol::RemoteClient client(*holder_, chain_, authority_->identity().public_key(), holder_rng_.drbg);
    if (!token.empty()) {
      EXPECT_TRUE(client.set_revalidation(token).ok());
    }
    protocol::CommandRequest req;
    req.command = protocol::Command::kUnlock;
    Bytes env(protocol::kMaxRemoteMessageSize);
    env.resize(*client.Build(req, ++counter_, LockUtc() + 20, env));
    Bytes frame = {static_cast<uint8_t>(protocol::FrameType::kRemote)};
    frame.insert(frame.end(), env.begin(), env.end());
    const auto answer = LockAnswer(frame);
    if (!answer || answer->size() < 2) return std::nullopt;
    const auto outcome = client.Verify(std::span<const uint8_t>(*answer).subspan(1));
    if (!outcome.ok()) return std::nullopt;
    return *outcome;
  }

  Caller member_;
  std::optional<crypto::P256KeyPair> holder_;
  Bytes chain_;
  uint32_t counter_ = 0;
};

TEST_P(RevalidationTest, AHolderFetchesATokenTheLockAccepts) {
  RegisterKey(member_, chain_);
  // Without the owner's certificate for the duty: no token.
  EXPECT_EQ(Fetch(member_, chain_).ErrorCode(), "no_revalidation_duty");
  CertifyRevalidate();
  // Without a token the lock refuses the key.
  auto outcome = Unlock({});
  EXPECT_TRUE(!outcome || outcome->envelope != StatusCode::kOk);
  const auto r = Fetch(member_, chain_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("max_age_s"), 3600);
  const Bytes token = TokenOf(r);
  const auto info = protocol::DecodeRevalidationToken(token);
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE(info->issuer.has_value());
  EXPECT_EQ(info->issuer->permissions, protocol::kPermRevalidate);
  outcome = Unlock(token);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->confirmed);
  EXPECT_EQ(outcome->envelope, StatusCode::kOk);
  // Through the person's browser session too.
  EXPECT_EQ(Fetch(w_.callers.at("member"), chain_).status, 200);
  // A key that demands no token gets none.
  const Bytes plain = ChainFor(holder_->public_key(), protocol::kPermUnlock, 0x4343, nullptr, 0, protocol::Role::kMember);
  RegisterKey(member_, plain);
  EXPECT_EQ(Fetch(member_, plain).ErrorCode(), "no_revalidation_needed");
}

// A01/A09: no token for a key the server's newest list revokes, for a key
// not registered with it, or for another person's key.
TEST_P(RevalidationTest, A09_ARevokedUnregisteredOrAnotherPersonsKeyGetsNoToken) {
  CertifyRevalidate();
  EXPECT_EQ(Fetch(member_, chain_).ErrorCode(), "not_registered");
  RegisterKey(member_, chain_);
  EXPECT_EQ(Fetch(w_.callers.at("guest"), chain_).ErrorCode(), "not_your_key");
  EXPECT_EQ(Fetch(w_.callers.at("outsider"), chain_).status, 404);
  ASSERT_EQ(Fetch(member_, chain_).status, 200);
  // The owner revokes it (a signed list the server stores verified).
  const auto split = protocol::SplitChain(chain_);
  const protocol::KeyRef ref{split->holder.issuer_key_id, split->holder.serial};
  const auto up = Call("POST", Path("/updates"),
                       {{"kind", "access_list"}, {"update", signer_.AccessList(lock_hex_, 1, generation_, {ref})}},
                       Owner().headers);
  ASSERT_EQ(up.status / 100, 2) << up.body;
  const auto r = Fetch(member_, chain_);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.ErrorCode(), "key_revoked");
}

// A01: a hostile server that signs a token for a key the lock's own list
// revokes still cannot open the door: the lock checks its list before the
// token (docs/protocol.md 13.2; also RevalidationTest.* in protocol_test).
TEST_P(RevalidationTest, A01_AHostileServersTokenForAKeyTheLockRevokedOpensNothing) {
  RegisterKey(member_, chain_);
  CertifyRevalidate();
  const Bytes token = TokenOf(Fetch(member_, chain_));
  const auto split = protocol::SplitChain(chain_);
  const protocol::KeyRef ref{split->holder.issuer_key_id, split->holder.serial};
  const std::string list_hex = signer_.AccessList(lock_hex_, 1, generation_, {ref});
  const auto list = FromHex(list_hex, list_hex.size() / 2);
  ASSERT_TRUE(authority_->ApplyAccessList(*list).ok());
  // The server (which never saw the list) would still issue; the lock says no.
  const auto outcome = Unlock(token);
  EXPECT_TRUE(!outcome || outcome->envelope != StatusCode::kOk);
  Pass(5000);
  EXPECT_NE(sim_->lock().lock_state(), core::LockState::kUnlocked);
}

INSTANTIATE_TEST_SUITE_P(Backend, DutyTest, ::testing::Values(testing::TestBackend()));
INSTANTIATE_TEST_SUITE_P(Backend, RevalidationTest, ::testing::Values(testing::TestBackend()));

}  // namespace
}  // namespace mortise::server
