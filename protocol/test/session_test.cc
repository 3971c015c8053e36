// Secure sessions in front of a simulated lock: replay (A03), downgrade and
// lengths (A06), privilege (A12) and slot exhaustion (A18).
#include "mortise/protocol/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include <pb_encode.h>

#include "mortise.pb.h"
#include "mortise/protocol/access_list.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::Chain;
using testing::Fields;
using testing::Issue;

class SessionTest : public ::testing::Test {
 protected:
  SessionTest()
      : lock_rng_(5), owner_rng_(6), owner_(testing::NewKey(owner_rng_.drbg)), guest_(testing::NewKey(owner_rng_.drbg)),
        installer_(testing::NewKey(owner_rng_.drbg)) {
    Boot();
    uint8_t pin[kOfflinePinSecretSize] = {};
    EXPECT_TRUE(authority_->InstallOwner(owner_.public_key(), pin).ok());
    lock_id_ = authority_->identity().lock_id();
    guest_chain_ = Chain(Issue(Fields(lock_id_, guest_, Role::kGuest, kPermLock | kPermUnlock, 31), owner_,
                               owner_rng_.drbg));
    installer_chain_ = Chain(Issue(Fields(lock_id_, installer_, Role::kInstaller,
                                          RoleAllowedPermissions(Role::kInstaller), 32),
                                   owner_, owner_rng_.drbg));
  }

  // A (re)start of the lock: a new core, authority and session server on the
  // same store, as after a power cut.
  void Boot() {
    server_.reset();
    authority_.reset();
    sim_.reset();
    sim_ = std::make_unique<sim::SimLock>(&store_);
    EXPECT_TRUE(sim_->Start().ok());
    authority_ = std::make_unique<LockAuthority>(store_, lock_rng_.drbg);
    EXPECT_TRUE(authority_->Start().ok());
    server_ = std::make_unique<SessionServer>(*authority_, sim_->lock(), store_);
    EXPECT_TRUE(server_->Start().ok());
  }

  Bytes ToLock(std::span<const uint8_t> datagram) {
    uint8_t reply[kMaxSessionMessageSize];
    Result<size_t> n = server_->Handle(datagram, now_ms_, reply);
    EXPECT_TRUE(n.ok());
    ++round_trips_;
    return n.ok() ? Bytes(reply, reply + *n) : Bytes();
  }

  // Runs a cold session with `first` as its first command. Returns the
  // response; the datagrams sent are kept in sent_.
  Result<CommandResponse> Cold(SessionClient& client, const CommandRequest& first) {
    uint8_t out[kMaxSessionMessageSize];
    Result<size_t> m1 = client.Hello(out);
    if (!m1.ok()) return m1.status();
    sent_.assign(1, Bytes(out, out + *m1));
    const Bytes m2 = ToLock(sent_[0]);
    Result<size_t> m3 = client.Finish(m2, first, out);
    if (!m3.ok()) return m3.status();
    sent_.emplace_back(out, out + *m3);
    return client.Receive(ToLock(sent_[1]));
  }
  Result<CommandResponse> Again(SessionClient& client, const CommandRequest& request, bool resume = false) {
    uint8_t out[kMaxSessionMessageSize];
    Result<size_t> m = resume ? client.Resume(request, out) : client.Send(request, out);
    if (!m.ok()) return m.status();
    sent_.emplace_back(out, out + *m);
    return client.Receive(ToLock(sent_.back()));
  }

  SessionClient Guest() { return SessionClient(guest_, guest_chain_, lock_id_, owner_rng_.drbg); }
  SessionClient Owner() { return SessionClient(owner_, {}, lock_id_, owner_rng_.drbg); }

  static CommandRequest Cmd(Command c, int64_t value = 0, uint16_t attribute = 0) {
    CommandRequest r;
    r.command = c;
    r.value = value;
    r.attribute = attribute;
    return r;
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, guest_, installer_;
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<LockAuthority> authority_;
  std::unique_ptr<SessionServer> server_;
  LockId lock_id_{};
  Bytes guest_chain_, installer_chain_;
  std::vector<Bytes> sent_;
  uint64_t now_ms_ = 1000;
  int round_trips_ = 0;
};

TEST_F(SessionTest, ColdUnlockTakesTwoRoundTrips) {
  SessionClient client = Guest();
  Result<CommandResponse> r = Cold(client, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok()) << r.status().name();
  EXPECT_EQ(r->status, StatusCode::kOk);
  EXPECT_EQ(r->dl_status, 0);
  EXPECT_EQ(round_trips_, 2);
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kUnlocked);
}

TEST_F(SessionTest, ResumedUnlockTakesOneRoundTrip) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute)).ok());
  round_trips_ = 0;
  Result<CommandResponse> r = Again(client, Cmd(Command::kUnlock), /*resume=*/true);
  ASSERT_TRUE(r.ok()) << r.status().name();
  EXPECT_EQ(r->status, StatusCode::kOk);
  EXPECT_EQ(round_trips_, 1);
}

TEST_F(SessionTest, FurtherCommandsInTheSession) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute, 0, 0x0000)).ok());
  for (int i = 0; i < 5; ++i) {
    Result<CommandResponse> r = Again(client, Cmd(Command::kReadAttribute, 0, 0x0000));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, StatusCode::kOk);
  }
}

TEST_F(SessionTest, A03_ReplayedRequestsAreRefused) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kUnlock)).ok());
  ASSERT_TRUE(Again(client, Cmd(Command::kLock)).ok());
  ASSERT_TRUE(Again(client, Cmd(Command::kUnlock), true).ok());
  const std::vector<Bytes> recorded = sent_;
  // Whole replays of every recorded datagram: hello gets a fresh handshake
  // (nothing executes), the rest are refused.
  for (size_t i = 1; i < recorded.size(); ++i) {
    const Bytes reply = ToLock(recorded[i]);
    EXPECT_FALSE(server_->last_status().ok()) << i;
  }
  EXPECT_EQ(server_->last_status().code(), StatusCode::kAlreadyExists);
}

TEST_F(SessionTest, A03_RecordedColdSessionReplayedIntoANewHandshakeFails) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kUnlock)).ok());
  const Bytes m1 = sent_[0], m3 = sent_[1];
  ToLock(m1);  // the lock answers with a new ephemeral and a new session id
  ASSERT_TRUE(server_->last_status().ok());
  ToLock(m3);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kNotFound);
}

TEST_F(SessionTest, A03_TruncatedRequestsAreRefused) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute)).ok());
  uint8_t out[kMaxSessionMessageSize];
  Result<size_t> m = client.Send(Cmd(Command::kUnlock), out);
  ASSERT_TRUE(m.ok());
  for (size_t n = 0; n < *m; ++n) {
    ToLock(Bytes(out, out + n));
    EXPECT_FALSE(server_->last_status().ok()) << n;
  }
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kLocked);
}

TEST_F(SessionTest, A03_ResumptionDoesNotSurviveARestart) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute)).ok());
  ASSERT_TRUE(Again(client, Cmd(Command::kUnlock), true).ok());
  const Bytes recorded_resume = sent_.back();
  const uint64_t epoch = client.boot_epoch();
  Boot();
  ToLock(recorded_resume);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Again(client, Cmd(Command::kUnlock), true).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(client.can_resume());
  // A cold session works, under a new boot epoch.
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute)).ok());
  EXPECT_GT(client.boot_epoch(), epoch);
}

TEST_F(SessionTest, A03_ResponseIsBoundToItsRequest) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute)).ok());
  uint8_t out[kMaxSessionMessageSize];
  Result<size_t> m = client.Send(Cmd(Command::kReadAttribute), out);
  ASSERT_TRUE(m.ok());
  const Bytes first_response = ToLock(Bytes(out, out + *m));
  ASSERT_TRUE(client.Receive(first_response).ok());
  Result<size_t> m2 = client.Send(Cmd(Command::kUnlock), out);
  ASSERT_TRUE(m2.ok());
  // An attacker answers the unlock with the earlier response.
  EXPECT_FALSE(client.Receive(first_response).ok());
}

TEST_F(SessionTest, A06_OtherProtocolVersionsAreRefused) {
  SessionClient client = Guest();
  uint8_t out[kMaxSessionMessageSize];
  Result<size_t> m1 = client.Hello(out);
  ASSERT_TRUE(m1.ok());
  Bytes hello(out, out + *m1);
  // SessionMessage.hello (field 1, 2-byte length), then version: 08 01.
  ASSERT_EQ(hello[3], 0x08);
  ASSERT_EQ(hello[4], 0x01);
  for (uint8_t v : {0x00, 0x02, 0x7F}) {
    Bytes other = hello;
    other[4] = v;
    ToLock(other);
    EXPECT_EQ(server_->last_status().code(), StatusCode::kInvalidArgument) << int(v);
  }
}

TEST_F(SessionTest, A06_MalformedLengthsAreRefusedBeforeDecryption) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute)).ok());
  for (size_t sealed_len : {0u, 1u, 15u, 700u}) {
    mortise_SessionMessage m = mortise_SessionMessage_init_zero;
    m.which_body = mortise_SessionMessage_request_tag;
    m.body.request.session_id.size = kSessionIdSize;
    m.body.request.counter = 50;
    m.body.request.sealed.size = static_cast<pb_size_t>(std::min<size_t>(sealed_len, 656));
    uint8_t buf[kMaxSessionMessageSize + 64];
    pb_ostream_t s = pb_ostream_from_buffer(buf, sizeof(buf));
    ASSERT_TRUE(pb_encode(&s, mortise_SessionMessage_fields, &m));
    ToLock(Bytes(buf, buf + s.bytes_written));
    EXPECT_FALSE(server_->last_status().ok());
  }
  EXPECT_GE(kSessionNonceSize * 8, 128u);
}

TEST_F(SessionTest, A06_NoncesNeverRepeatWithinASession) {
  // Each request's nonce is its counter; the lock refuses any counter it
  // has accepted, so 1,000 requests use 1,000 distinct nonces.
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute)).ok());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(Again(client, Cmd(Command::kReadAttribute)).ok());
  const Bytes last = sent_.back();
  ToLock(last);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kAlreadyExists);
}

TEST_F(SessionTest, A12_GuestSessionCannotSetTimeChangeSettingsOrUpdate) {
  SessionClient client = Guest();
  ASSERT_TRUE(Cold(client, Cmd(Command::kReadAttribute)).ok());
  for (const CommandRequest& c :
       {Cmd(Command::kSetTime, 1750000000), Cmd(Command::kWriteAttribute, 30, 0x0023),
        Cmd(Command::kSetPassageMode, 4, 0x0025), Cmd(Command::kUpdateFirmware), Cmd(Command::kShareKey),
        Cmd(Command::kSetUser)}) {
    Result<CommandResponse> r = Again(client, c);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, StatusCode::kPermissionDenied) << CommandName(c.command);
  }
  EXPECT_FALSE(sim_->lock().utc_now().has_value());
}

TEST_F(SessionTest, A07_PresenceAloneNeverOpensOnlyAnExplicitCommandDoes) {
  // A relay that stretches the short-range link (NCC Group 2022) attacks
  // passive entry: a lock that opens because a phone is near. Mortise has
  // no passive unlock: every opening is a request the holder's device sent
  // on the holder's action. A hello, a finished handshake, a resumption and
  // every command other than the four opening ones leave the bolt thrown.
  const auto locked = [&] {
    sim_->Run(5000);
    return sim_->lock().lock_state() != core::LockState::kUnlocked;
  };
  ASSERT_TRUE(locked());
  SessionClient guest = Guest();
  uint8_t out[kMaxSessionMessageSize];
  Result<size_t> hello = guest.Hello(out);
  ASSERT_TRUE(hello.ok());
  ToLock(std::span<const uint8_t>(out, *hello));
  EXPECT_TRUE(locked());
  SessionClient present = Guest();
  ASSERT_TRUE(Cold(present, Cmd(Command::kReadAttribute)).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Again(present, Cmd(Command::kReadAttribute), /*resume=*/true).ok());
  EXPECT_TRUE(locked());
  // Every other command, run by the owner, with default arguments.
  SessionClient owner = Owner();
  ASSERT_TRUE(Cold(owner, Cmd(Command::kLock)).ok());
  for (uint8_t c = 0; c < kCommandCount; ++c) {
    const Command command = static_cast<Command>(c);
    if (command == Command::kUnlock || command == Command::kUnlatch || command == Command::kUnbolt ||
        command == Command::kUnlockWithTimeout || command == Command::kEndSession) {
      continue;
    }
    ASSERT_TRUE(Again(owner, Cmd(command)).ok()) << CommandName(command);
    EXPECT_TRUE(locked()) << CommandName(command);
  }
  ASSERT_TRUE(Again(owner, Cmd(Command::kEndSession)).ok());
  EXPECT_TRUE(locked());
  // The explicit request opens (a new session: the last one ended).
  SessionClient owner2 = Owner();
  ASSERT_EQ(Cold(owner2, Cmd(Command::kUnlock))->status, StatusCode::kOk);
  EXPECT_FALSE(locked());
}

TEST_F(SessionTest, A04_InstallerSetsTimeThroughASession) {
  SessionClient client(installer_, installer_chain_, lock_id_, owner_rng_.drbg);
  Result<CommandResponse> r = Cold(client, Cmd(Command::kSetTime, 1750000000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  EXPECT_EQ(*sim_->lock().utc_now(), 1750000000);
  r = Again(client, Cmd(Command::kSetTimeBackwards, 1700000000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
  // WriteAttribute cannot reach passage mode.
  r = Again(client, Cmd(Command::kWriteAttribute, 4, 0x0025));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
}

TEST_F(SessionTest, A04_OnlyTheOwnerMovesTheTimeZone) {
  // UtcOffset shifts every schedule and recurring offline code by up to
  // 14 hours: the installer's set-time and change-settings rights do not
  // reach it, WriteAttribute cannot carry it, and the owner's change is logged.
  constexpr uint16_t kUtcOffset = static_cast<uint16_t>(core::AttributeId::kUtcOffset);
  SessionClient installer(installer_, installer_chain_, lock_id_, owner_rng_.drbg);
  Result<CommandResponse> r = Cold(installer, Cmd(Command::kWriteAttribute, 14 * 3600, kUtcOffset));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
  r = Again(installer, Cmd(Command::kSetUtcOffset, 14 * 3600, kUtcOffset));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
  EXPECT_EQ(sim_->lock().settings().utc_offset_s, 0);
  SessionClient owner = Owner();
  r = Cold(owner, Cmd(Command::kWriteAttribute, 3600, kUtcOffset));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
  r = Again(owner, Cmd(Command::kSetUtcOffset, 30, 0x0023));  // SetUtcOffset reaches nothing else
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
  sim_->events().events.clear();
  r = Again(owner, Cmd(Command::kSetUtcOffset, 3600, kUtcOffset));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  EXPECT_EQ(sim_->lock().settings().utc_offset_s, 3600);
  bool logged = false;
  for (const core::LockEvent& e : sim_->events().events)
    logged = logged || (e.kind == core::EventKind::kLockUserChange && e.detail == core::EventDetail::kUtcOffsetChanged);
  EXPECT_TRUE(logged);
}

TEST_F(SessionTest, A01_RevocationTakesEffectInsideAnOpenSession) {
  SessionClient guest = Guest();
  ASSERT_TRUE(Cold(guest, Cmd(Command::kReadAttribute)).ok());
  AccessListState list;
  list.version = 1;
  list.revoked[list.revoked_count++] = 31;
  Bytes update(kMaxAccessListUpdateSize);
  Result<size_t> n = SignAccessList(list, lock_id_, owner_, owner_rng_.drbg, update);
  ASSERT_TRUE(n.ok());
  update.resize(*n);
  // The guest's own phone could carry it too; here the owner's session does.
  SessionClient owner = Owner();
  CommandRequest apply = Cmd(Command::kApplyAccessList);
  apply.payload = update;
  Result<CommandResponse> applied = Cold(owner, apply);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->status, StatusCode::kOk);
  Result<CommandResponse> r = Again(guest, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
  r = Again(guest, Cmd(Command::kUnlock), true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kPermissionDenied);
  // And a new session is refused at the hello.
  SessionClient again = Guest();
  EXPECT_EQ(Cold(again, Cmd(Command::kUnlock)).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(SessionTest, A18_OwnerAlwaysGetsASlot) {
  // Every slot held by pending handshakes.
  std::vector<SessionClient> holders;
  for (size_t i = 0; i < kSessionSlots; ++i) holders.push_back(Guest());
  uint8_t out[kMaxSessionMessageSize];
  for (SessionClient& c : holders) {
    Result<size_t> m = c.Hello(out);
    ASSERT_TRUE(m.ok());
    ToLock(Bytes(out, out + *m));
  }
  EXPECT_EQ(server_->sessions_in_use(now_ms_), kSessionSlots);
  SessionClient owner = Owner();
  ASSERT_TRUE(Cold(owner, Cmd(Command::kUnlock)).ok());
  // Every slot held by established guest sessions.
  std::vector<SessionClient> guests;
  for (size_t i = 0; i < kSessionSlots; ++i) guests.push_back(Guest());
  for (SessionClient& c : guests) ASSERT_TRUE(Cold(c, Cmd(Command::kReadAttribute)).ok());
  SessionClient owner2 = Owner();
  Result<CommandResponse> r = Cold(owner2, Cmd(Command::kLock));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
}

TEST_F(SessionTest, EndingASessionFreesItsSlotAndKeepsTheTicket) {
  // Four owner sessions fill the slots; a guest cannot evict them...
  std::vector<SessionClient> owners;
  for (size_t i = 0; i < kSessionSlots; ++i) {
    owners.push_back(Owner());
    ASSERT_TRUE(Cold(owners.back(), Cmd(Command::kReadAttribute)).ok());
  }
  SessionClient guest = Guest();
  EXPECT_EQ(Cold(guest, Cmd(Command::kUnlock)).status().code(), StatusCode::kResourceExhausted);
  // ...until one owner client says it is done.
  ASSERT_EQ(Again(owners[0], Cmd(Command::kEndSession))->status, StatusCode::kOk);
  EXPECT_FALSE(owners[0].established());
  EXPECT_EQ(server_->sessions_in_use(now_ms_), kSessionSlots - 1);
  SessionClient guest2 = Guest();
  Result<CommandResponse> r = Cold(guest2, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok()) << r.status().name();
  EXPECT_EQ(r->status, StatusCode::kOk);
  // The ended session cannot be used again, but its ticket resumes.
  uint8_t out[kMaxSessionMessageSize];
  EXPECT_EQ(owners[0].Send(Cmd(Command::kLock), out).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Again(owners[0], Cmd(Command::kLock), /*resume=*/true)->status, StatusCode::kOk);
}

TEST_F(SessionTest, A18_OwnerSessionsAreNotEvictedByOtherKeys) {
  std::vector<SessionClient> owners;
  for (size_t i = 0; i < kSessionSlots; ++i) owners.push_back(Owner());
  for (SessionClient& c : owners) ASSERT_TRUE(Cold(c, Cmd(Command::kReadAttribute)).ok());
  SessionClient guest = Guest();
  EXPECT_EQ(Cold(guest, Cmd(Command::kUnlock)).status().code(), StatusCode::kResourceExhausted);
  for (SessionClient& c : owners) EXPECT_TRUE(Again(c, Cmd(Command::kReadAttribute)).ok());
}

TEST_F(SessionTest, SpoofedLockIsRefusedByTheClient) {
  LockId other = lock_id_;
  other[0] ^= 1;
  SessionClient client(guest_, guest_chain_, other, owner_rng_.drbg);
  EXPECT_EQ(Cold(client, Cmd(Command::kUnlock)).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(SessionTest, StrangerKeysAndForeignChainsAreRefused) {
  testing::SeededDrbg rng(90);
  const crypto::P256KeyPair stranger = testing::NewKey(rng.drbg);
  SessionClient not_owner(stranger, {}, lock_id_, rng.drbg);
  EXPECT_EQ(Cold(not_owner, Cmd(Command::kUnlock)).status().code(), StatusCode::kUnauthenticated);
  // Someone else's certificate with the stranger's key.
  SessionClient borrowed(stranger, guest_chain_, lock_id_, rng.drbg);
  EXPECT_EQ(Cold(borrowed, Cmd(Command::kUnlock)).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(SessionTest, TamperedFinishIsRefusedAndCounted) {
  SessionClient client = Guest();
  uint8_t out[kMaxSessionMessageSize];
  Result<size_t> m1 = client.Hello(out);
  ASSERT_TRUE(m1.ok());
  const Bytes m2 = ToLock(Bytes(out, out + *m1));
  Result<size_t> m3 = client.Finish(m2, Cmd(Command::kUnlock), out);
  ASSERT_TRUE(m3.ok());
  Bytes bad(out, out + *m3);
  bad[20] ^= 1;  // inside the holder's signature
  ToLock(bad);
  EXPECT_FALSE(server_->last_status().ok());
  sim_->Run(5000);
  EXPECT_EQ(sim_->lock().lock_state(), core::LockState::kLocked);
}

TEST_F(SessionTest, A01_UseLimitedKeyStopsAfterItsUsesAlsoAcrossRestart) {
  CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock | kPermLock, 33);
  f.max_uses = 2;
  const Bytes chain = Chain(Issue(f, owner_, owner_rng_.drbg));
  SessionClient client(guest_, chain, lock_id_, owner_rng_.drbg);
  Result<CommandResponse> r = Cold(client, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  r = Again(client, Cmd(Command::kLock));  // locking is not a use
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  r = Again(client, Cmd(Command::kUnlock), true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kOk);
  r = Again(client, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kResourceExhausted);
  EXPECT_EQ(*authority_->UsesOf(33), 2u);
  Boot();
  SessionClient after(guest_, chain, lock_id_, owner_rng_.drbg);
  r = Cold(after, Cmd(Command::kUnlock));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, StatusCode::kResourceExhausted);
}

TEST_F(SessionTest, UseTableFullFailsClosedAndFreesExpiredKeys) {
  std::vector<Bytes> chains;
  for (uint64_t i = 0; i <= kMaxUseCountedKeys; ++i) {
    CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 100 + i);
    f.max_uses = 5;
    if (i == 0) f.not_after = 1750000000 + 60;  // the first key expires soon
    chains.push_back(Chain(Issue(f, owner_, owner_rng_.drbg)));
  }
  SessionClient installer(installer_, installer_chain_, lock_id_, owner_rng_.drbg);
  Result<CommandResponse> set_first = Cold(installer, Cmd(Command::kSetTime, 1750000000));
  ASSERT_TRUE(set_first.ok());
  ASSERT_EQ(set_first->status, StatusCode::kOk);
  for (size_t i = 0; i < kMaxUseCountedKeys; ++i) {
    SessionClient c(guest_, chains[i], lock_id_, owner_rng_.drbg);
    Result<CommandResponse> r = Cold(c, Cmd(Command::kUnlock));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, StatusCode::kOk) << i;
  }
  SessionClient last(guest_, chains.back(), lock_id_, owner_rng_.drbg);
  Result<CommandResponse> full = Cold(last, Cmd(Command::kUnlock));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->status, StatusCode::kResourceExhausted);
  // Once the first key has expired its entry is dropped. (The installer's
  // session was evicted by the guests meanwhile: a new one.)
  SessionClient installer2(installer_, installer_chain_, lock_id_, owner_rng_.drbg);
  Result<CommandResponse> set = Cold(installer2, Cmd(Command::kSetTime, 1750000000 + 3600));
  ASSERT_TRUE(set.ok());
  ASSERT_EQ(set->status, StatusCode::kOk);
  SessionClient retry(guest_, chains.back(), lock_id_, owner_rng_.drbg);
  Result<CommandResponse> freed = Cold(retry, Cmd(Command::kUnlock));
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(freed->status, StatusCode::kOk);
}

// Host time of a cold and a resumed unlock, both sides together (the
// figures in docs/protocol.md; printed, not asserted).
TEST_F(SessionTest, FiguresColdAndResumedUnlock) {
  using Clock = std::chrono::steady_clock;
  constexpr int kRuns = 20;
  double cold_us = 0, resumed_us = 0;
  for (int i = 0; i < kRuns; ++i) {
    SessionClient client = Guest();
    const auto t0 = Clock::now();
    ASSERT_TRUE(Cold(client, Cmd(Command::kUnlock)).ok());
    const auto t1 = Clock::now();
    ASSERT_TRUE(Again(client, Cmd(Command::kUnlock), true).ok());
    const auto t2 = Clock::now();
    cold_us += std::chrono::duration<double, std::micro>(t1 - t0).count();
    resumed_us += std::chrono::duration<double, std::micro>(t2 - t1).count();
  }
  std::printf("cold unlock %.0f us (2 round trips), resumed unlock %.0f us (1 round trip), mean of %d, host\n",
              cold_us / kRuns, resumed_us / kRuns, kRuns);
}

}  // namespace
}  // namespace mortise::protocol
