// Ownership transfer without a factory reset (transfer.h; docs/protocol.md
// section 18): who may transfer (A12), replays (A03), and what of the old
// owner ends (A01).
#include "mortise/protocol/transfer.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "mortise/protocol/access_list.h"
#include "mortise/protocol/management.h"
#include "mortise/protocol/session.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::Chain;
using testing::Fields;
using testing::Issue;

class TransferTest : public ::testing::Test {
 protected:
  TransferTest()
      : lock_rng_(15), rng_(16), alice_(testing::NewKey(rng_.drbg)), bob_(testing::NewKey(rng_.drbg)),
        guest_(testing::NewKey(rng_.drbg)), admin_(testing::NewKey(rng_.drbg)),
        alice_phone_(testing::NewKey(rng_.drbg)) {
    sim_ = std::make_unique<sim::SimLock>(&store_);
    EXPECT_TRUE(sim_->Start().ok());
    authority_ = std::make_unique<LockAuthority>(store_, lock_rng_.drbg);
    EXPECT_TRUE(authority_->Start().ok());
    server_ = std::make_unique<SessionServer>(*authority_, sim_->lock(), store_);
    EXPECT_TRUE(server_->Start().ok());
    link_ = std::make_unique<testing::SessionLink>(*server_, now_ms_);
    uint8_t pin[kOfflinePinSecretSize] = {7};
    EXPECT_TRUE(sim_->lock().SetOfflinePinSecret(pin).ok());
    EXPECT_TRUE(authority_->InstallOwner(alice_.public_key(), pin).ok());
    lock_id_ = authority_->identity().lock_id();
    guest_chain_ = Chain(Issue(Fields(lock_id_, guest_, Role::kGuest, kPermLock | kPermUnlock, 31), alice_, rng_.drbg));
    admin_chain_ = Chain(
        Issue(Fields(lock_id_, admin_, Role::kAdmin, RoleAllowedPermissions(Role::kAdmin), 32), alice_, rng_.drbg));
    // An owner certificate: another device of Alice's.
    phone_chain_ = Chain(
        Issue(Fields(lock_id_, alice_phone_, Role::kOwner, RoleAllowedPermissions(Role::kOwner), 33), alice_, rng_.drbg));
  }

  Bytes ToLock(std::span<const uint8_t> datagram) { return link_->ToLock(datagram); }
  Result<CommandResponse> Cold(SessionClient& client, const CommandRequest& first) { return link_->Cold(client, first); }
  Result<CommandResponse> Again(SessionClient& client, const CommandRequest& request) {
    return link_->Again(client, request);
  }
  SessionClient As(const crypto::P256KeyPair& key, const Bytes& chain = {}) {
    return SessionClient(key, chain, lock_id_, rng_.drbg);
  }

  // The management payload that hands the lock to `to`.
  Bytes TransferPayload(const crypto::P256KeyPair& to, uint32_t generation, bool clear_users = false) {
    ManagementCommand c;
    c.op = ManagementOp::kTransferOwnership;
    const auto key = to.public_key().Compressed();
    std::copy(key.begin(), key.end(), c.new_owner.begin());
    c.claim_generation = generation;
    c.clear_users = clear_users;
    Bytes out(kMaxManagementCommandSize);
    Result<size_t> n = EncodeManagement(c, out);
    EXPECT_TRUE(n.ok()) << n.status().name();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  static CommandRequest Management(const Bytes& payload) {
    CommandRequest r;
    r.command = Command::kManagement;
    r.payload = payload;
    return r;
  }
  static CommandRequest Cmd(Command c) {
    CommandRequest r;
    r.command = c;
    return r;
  }
  // Runs a transfer as `from` (a cold session) and returns the lock's answer.
  CommandResponse Transfer(const crypto::P256KeyPair& from, const Bytes& payload, const Bytes& chain = {}) {
    SessionClient client = As(from, chain);
    Result<CommandResponse> r = Cold(client, Management(payload));
    EXPECT_TRUE(r.ok()) << r.status().name();
    return r.ok() ? *r : CommandResponse{};
  }
  // The lock's offline-PIN secret, as stored.
  Bytes StoredSecret() {
    crypto::SecretBytes<kOfflinePinSecretSize> s;
    EXPECT_TRUE(authority_->OfflinePinSecret(s).ok());
    return Bytes(s.data(), s.data() + kOfflinePinSecretSize);
  }
  void AddUser(uint16_t index) {
    core::SetUserRequest u;
    u.user_index = index;
    u.user_name = "someone";
    ASSERT_EQ(sim_->lock().users().SetUser(u, core::Actor{}), core::DlStatus::kSuccess);
  }
  bool HasUser(uint16_t index) { return sim_->lock().users().GetUser(index).occupied; }

  testing::SeededDrbg lock_rng_, rng_;
  crypto::P256KeyPair alice_, bob_, guest_, admin_, alice_phone_;
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<LockAuthority> authority_;
  std::unique_ptr<SessionServer> server_;
  LockId lock_id_{};
  Bytes guest_chain_, admin_chain_, phone_chain_;
  uint64_t now_ms_ = 1000;
  std::unique_ptr<testing::SessionLink> link_;
};

TEST_F(TransferTest, TheNewOwnerOpensTheResultAndOwnsTheLockWithItsUsersKept) {
  AddUser(1);
  const Bytes before = StoredSecret();
  const CommandResponse r = Transfer(alice_, TransferPayload(bob_, testing::kGeneration));
  ASSERT_EQ(r.status, StatusCode::kOk);
  ASSERT_EQ(r.payload_len, kTransferResultSize);

  Result<TransferOutcome> got =
      OpenTransferResult(r.payload_view(), authority_->identity().public_key(), bob_, rng_.drbg);
  ASSERT_TRUE(got.ok()) << got.status().name();
  EXPECT_EQ(got->lock_id, lock_id_);
  EXPECT_EQ(got->previous_generation, testing::kGeneration);
  EXPECT_EQ(got->claim_generation, testing::kGeneration + 1);
  EXPECT_EQ(authority_->claim_generation(), got->claim_generation);
  EXPECT_EQ(got->access_list_floor, authority_->access_list_floor());
  // A fresh secret, the one the lock now holds, that only Bob could open.
  const Bytes secret = StoredSecret();
  EXPECT_NE(secret, before);
  EXPECT_EQ(secret, Bytes(got->offline_pin_secret.data(), got->offline_pin_secret.data() + kOfflinePinSecretSize));
  EXPECT_TRUE(*authority_->owner() == bob_.public_key());
  // Users stay unless the owner asked otherwise; the transfer is logged.
  EXPECT_TRUE(HasUser(1));
  const core::LockEvent& e = sim_->events().events.back();
  EXPECT_EQ(e.kind, core::EventKind::kLockUserChange);
  EXPECT_EQ(e.detail, core::EventDetail::kOwnershipTransferred);
  EXPECT_EQ(e.data_index, 0);
  EXPECT_TRUE(e.has_credential);
  EXPECT_EQ(e.credential.type, core::CredentialType::kAliroNonEvictableEndpointKey);

  // Bob is the owner now: his own key runs owner commands.
  SessionClient bob = As(bob_);
  Result<CommandResponse> owner_cmd = Cold(bob, Cmd(Command::kSetTimeBackwards));
  ASSERT_TRUE(owner_cmd.ok()) << owner_cmd.status().name();
  EXPECT_NE(owner_cmd->status, StatusCode::kPermissionDenied);
}

TEST_F(TransferTest, UsersAndTheirCredentialsGoWhenTheOwnerAsks) {
  AddUser(1);
  AddUser(2);
  const CommandResponse r = Transfer(alice_, TransferPayload(bob_, testing::kGeneration, /*clear_users=*/true));
  ASSERT_EQ(r.status, StatusCode::kOk);
  EXPECT_FALSE(HasUser(1));
  EXPECT_FALSE(HasUser(2));
  EXPECT_EQ(sim_->events().events.back().data_index, 1);
}

TEST_F(TransferTest, A12_OnlyTheOwnersOwnKeyCanTransfer) {
  AddUser(1);
  const Bytes secret = StoredSecret();
  const Bytes payload = TransferPayload(guest_, testing::kGeneration, /*clear_users=*/true);
  // An admin with every right an admin can hold, an owner certificate (another
  // of Alice's devices) and a guest: none gives the lock away.
  EXPECT_EQ(Transfer(admin_, payload, admin_chain_).status, StatusCode::kPermissionDenied);
  EXPECT_EQ(Transfer(alice_phone_, payload, phone_chain_).status, StatusCode::kPermissionDenied);
  EXPECT_EQ(Transfer(guest_, payload, guest_chain_).status, StatusCode::kPermissionDenied);
  // Nothing changed.
  EXPECT_TRUE(*authority_->owner() == alice_.public_key());
  EXPECT_EQ(authority_->claim_generation(), testing::kGeneration);
  EXPECT_EQ(StoredSecret(), secret);
  EXPECT_TRUE(HasUser(1));
}

TEST_F(TransferTest, A03_AReplayedTransferIsRefusedAndChangesNothing) {
  const Bytes to_bob = TransferPayload(bob_, testing::kGeneration);
  ASSERT_EQ(Transfer(alice_, to_bob).status, StatusCode::kOk);
  const std::vector<Bytes> recorded = link_->sent;
  // Bob hands the lock back to Alice.
  ASSERT_EQ(Transfer(bob_, TransferPayload(alice_, testing::kGeneration + 1)).status, StatusCode::kOk);
  ASSERT_TRUE(*authority_->owner() == alice_.public_key());
  const Bytes secret = StoredSecret();
  // The session's datagrams sent again: the cookie is spent.
  ToLock(recorded[1]);
  EXPECT_EQ(server_->last_status().code(), StatusCode::kAlreadyExists);
  // Alice's old command in a new session of her own: it names a claim
  // generation that is over.
  EXPECT_EQ(Transfer(alice_, to_bob).status, StatusCode::kFailedPrecondition);
  EXPECT_TRUE(*authority_->owner() == alice_.public_key());
  EXPECT_EQ(authority_->claim_generation(), testing::kGeneration + 2);
  EXPECT_EQ(StoredSecret(), secret);
  // A transfer to the owner already in place is refused too.
  EXPECT_EQ(Transfer(alice_, TransferPayload(alice_, testing::kGeneration + 2)).status, StatusCode::kAlreadyExists);
}

TEST_F(TransferTest, A01_TheOldOwnersKeysListsAndSessionsEndAtTheTransfer) {
  // Before: the guest's key and an open session of Alice's work, and an
  // access list of Alice's is accepted.
  SessionClient guest = As(guest_, guest_chain_);
  Result<CommandResponse> ok = Cold(guest, Cmd(Command::kUnlock));
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->status, StatusCode::kOk);
  SessionClient alice_open = As(alice_);
  ASSERT_TRUE(Cold(alice_open, Cmd(Command::kReadAttribute)).ok());
  AccessListState list;
  list.version = authority_->access_list_floor() + 1;
  list.claim_generation = testing::kGeneration;
  Bytes update(1024);
  Result<size_t> n = SignAccessList(list, lock_id_, alice_, rng_.drbg, update);
  ASSERT_TRUE(n.ok());
  update.resize(*n);
  list.version += 1;
  Bytes later(1024);
  Result<size_t> m = SignAccessList(list, lock_id_, alice_, rng_.drbg, later);
  ASSERT_TRUE(m.ok());
  later.resize(*m);
  ASSERT_TRUE(authority_->ApplyAccessList(update).ok());

  ASSERT_EQ(Transfer(alice_, TransferPayload(bob_, testing::kGeneration)).status, StatusCode::kOk);

  // The guest's certificate (Alice's) is refused at the handshake.
  SessionClient guest_again = As(guest_, guest_chain_);
  Result<CommandResponse> refused = Cold(guest_again, Cmd(Command::kUnlock));
  EXPECT_FALSE(refused.ok() && refused->status == StatusCode::kOk);
  // Alice's own key opens no session, and her session open before ends.
  SessionClient alice = As(alice_);
  Result<CommandResponse> as_alice = Cold(alice, Cmd(Command::kReadAttribute));
  EXPECT_FALSE(as_alice.ok() && as_alice->status == StatusCode::kOk);
  Result<CommandResponse> in_open = Again(alice_open, Cmd(Command::kReadAttribute));
  EXPECT_FALSE(in_open.ok() && in_open->status == StatusCode::kOk);
  // Her access lists (even one newer than any applied) are refused.
  EXPECT_FALSE(authority_->ApplyAccessList(later).ok());
  // A certificate Alice issues now, naming the new generation, is not Bob's.
  CertificateFields f = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 34);
  f.claim_generation = authority_->claim_generation();
  SessionClient forged = As(guest_, Chain(Issue(f, alice_, rng_.drbg)));
  Result<CommandResponse> forged_r = Cold(forged, Cmd(Command::kUnlock));
  EXPECT_FALSE(forged_r.ok() && forged_r->status == StatusCode::kOk);
  // Bob's own keys work.
  CertificateFields g = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 35);
  g.claim_generation = authority_->claim_generation();
  SessionClient bobs_guest = As(guest_, Chain(Issue(g, bob_, rng_.drbg)));
  Result<CommandResponse> bobs = Cold(bobs_guest, Cmd(Command::kUnlock));
  ASSERT_TRUE(bobs.ok()) << bobs.status().name();
  EXPECT_EQ(bobs->status, StatusCode::kOk);
}

TEST_F(TransferTest, A16_TheResultOpensOnlyForTheNewOwnerFromThisLock) {
  const CommandResponse r = Transfer(alice_, TransferPayload(bob_, testing::kGeneration));
  ASSERT_EQ(r.status, StatusCode::kOk);
  const Bytes result(r.payload.data(), r.payload.data() + r.payload_len);
  const crypto::P256PublicKey& lock_key = authority_->identity().public_key();
  ASSERT_TRUE(OpenTransferResult(result, lock_key, bob_, rng_.drbg).ok());
  // Alice relays it but cannot open it, nor pass it off as made for her.
  EXPECT_EQ(OpenTransferResult(result, lock_key, alice_, rng_.drbg).status().code(), StatusCode::kUnauthenticated);
  // Every byte edited on the way is caught.
  for (size_t i = 0; i < result.size(); ++i) {
    Bytes edited = result;
    edited[i] ^= 0x01;
    EXPECT_FALSE(OpenTransferResult(edited, lock_key, bob_, rng_.drbg).ok()) << i;
  }
  // Another lock's key (a stand-in), a cut or a longer result.
  EXPECT_EQ(OpenTransferResult(result, guest_.public_key(), bob_, rng_.drbg).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(OpenTransferResult(std::span(result).first(result.size() - 1), lock_key, bob_, rng_.drbg).ok());
}

TEST(TransferManagement, TheCommandDecodesStrictlyAndIsTheOwnersTransfer) {
  testing::SeededDrbg rng(3);
  const crypto::P256KeyPair key = testing::NewKey(rng.drbg);
  ManagementCommand c;
  c.op = ManagementOp::kTransferOwnership;
  const auto k = key.public_key().Compressed();
  std::copy(k.begin(), k.end(), c.new_owner.begin());
  c.claim_generation = 9;
  c.clear_users = true;
  uint8_t buf[kMaxManagementCommandSize];
  Result<size_t> n = EncodeManagement(c, buf);
  ASSERT_TRUE(n.ok());
  Result<ManagementCommand> d = DecodeManagement(std::span<const uint8_t>(buf, *n));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->new_owner, c.new_owner);
  EXPECT_EQ(d->claim_generation, 9u);
  EXPECT_TRUE(d->clear_users);
  EXPECT_EQ(ClassifyManagement(*d), Command::kTransferOwnership);
  EXPECT_EQ(static_cast<int>(Command::kTransferOwnership), 35);
  const CommandRule rule = RuleFor(Command::kTransferOwnership);
  EXPECT_TRUE(rule.owner_only);
  // A key that is not a point is refused before anything runs.
  c.new_owner[1] ^= 0xFF;
  c.new_owner[0] = 0x05;
  EXPECT_FALSE(EncodeManagement(c, buf).ok());
}

}  // namespace
}  // namespace mortise::protocol
