// Access on the server (issue 13 items: groups, signed objects stored
// verified, what each door holds, re-sending until confirmed, bulk jobs),
// through the HTTP API on SQLite (server_api_test) and PostgreSQL
// (server_postgres_test). Locks are FakeLockLink answers shaped like frame
// 0x05/0x03 replies (docs/protocol.md section 12).
#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <fstream>
#include <mutex>

#include "config_text.h"
#include "door_updates.h"
#include "groups_store.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/remote.h"
#include "org_world.h"

namespace mortise::server {
namespace {

using nlohmann::json;
using testing::Caller;

// A lock's frame 0x05 reply: 05 kind status held_version (8, little-endian).
std::vector<uint8_t> UpdateReply(uint8_t kind, StatusCode status, uint64_t held) {
  std::vector<uint8_t> r = {0x05, kind, static_cast<uint8_t>(status)};
  for (int i = 0; i < 8; ++i) r.push_back(static_cast<uint8_t>(held >> (8 * i)));
  return r;
}

// The same answer with the lock's receipt (docs/protocol.md section 12),
// signed by `key` for `update` at `lock_id_hex` under `generation`.
std::vector<uint8_t> SignedUpdateReply(uint8_t kind, StatusCode status, uint64_t held, const crypto::P256KeyPair& key,
                                       const std::string& lock_id_hex, uint32_t generation,
                                       std::span<const uint8_t> update, crypto::Drbg& drbg) {
  std::vector<uint8_t> r = UpdateReply(kind, status, held);
  protocol::LockId id{};
  const auto bytes = FromHex(lock_id_hex, protocol::kLockIdSize).value();
  std::copy(bytes.begin(), bytes.end(), id.begin());
  const auto message = protocol::SignedUpdateReceiptMessage(id, generation, static_cast<protocol::SignedUpdateKind>(kind),
                                                            status, held, update);
  crypto::P256Signature sig{};
  EXPECT_TRUE(key.SignDigest(crypto::Sha256::Hash(message), sig, drbg).ok());
  r.insert(r.end(), sig.begin(), sig.end());
  return r;
}

uint32_t GenerationOf(uint8_t kind, std::span<const uint8_t> update) {
  return kind == 1 ? protocol::PeekAccessList(update).value().claim_generation
                   : protocol::PeekGroupMembership(update).value().claim_generation;
}

// Stands in for locks that apply every update above what they hold (or
// refuse with `refuse` when it is not kOk) and answer as frame 0x05 does:
// with a receipt signed by the lock's key when `keys` is set (a real
// lock's budget permitting), unsigned otherwise.
class FakeLocks {
 public:
  const std::map<std::string, crypto::P256KeyPair>* keys = nullptr;
  testing::SeededDrbg rng{91};
  std::vector<uint8_t> Reply(std::string_view lock, std::span<const uint8_t> frame, StatusCode status, uint64_t held) {
    const auto k = keys ? keys->find(std::string(lock)) : std::map<std::string, crypto::P256KeyPair>::const_iterator{};
    if (!keys || k == keys->end() || (status != StatusCode::kOk && status != StatusCode::kAlreadyExists)) {
      return UpdateReply(frame[1], status, held);
    }
    const auto update = frame.subspan(2);
    return SignedUpdateReply(frame[1], status, held, k->second, std::string(lock), GenerationOf(frame[1], update),
                             update, rng.drbg);
  }
  std::optional<std::vector<uint8_t>> Answer(std::string_view lock, std::span<const uint8_t> frame) {
    if (frame.size() < 3 || frame[0] != 0x05) return std::vector<uint8_t>{0x00};
    const auto update = frame.subspan(2);
    uint64_t version = 0;
    if (frame[1] == 1) {
      version = protocol::PeekAccessList(update).value().version;
    } else {
      version = protocol::PeekGroupMembership(update).value().version;
    }
    uint64_t& held = held_[std::string(lock) + char('0' + frame[1])];
    if (refuse != StatusCode::kOk) return Reply(lock, frame, refuse, held);
    if (version <= held) return Reply(lock, frame, StatusCode::kAlreadyExists, held);
    held = version;
    return Reply(lock, frame, StatusCode::kOk, held);
  }
  StatusCode refuse = StatusCode::kOk;

 private:
  std::map<std::string, uint64_t> held_;
};

class GroupsApiTest : public testing::OrgWorldFixture {
 protected:
  // A well-formed owner's Lock envelope for a lock of its own (its answers
  // verify against no door here: the verdicts on real answers are LinkApiTest's).
  std::string LockEnvelopeHex(testing::SeededDrbg& rng) {
    protocol::RemoteClient client(signer_.owner(), {}, signer_.NewLock().public_key(), rng.drbg);
    protocol::CommandRequest lock_command;
    lock_command.command = protocol::Command::kLock;
    std::vector<uint8_t> out(protocol::kMaxRemoteMessageSize);
    out.resize(client.Build(lock_command, 1, 1'750'000'020, out).value());
    return ToHex(out);
  }
  void SetUp() override {
    OrgWorldFixture::SetUp();
    w_ = NewWorld("account:read");
    owner_ = w_.callers["key"];  // the owner's API key: no session to expire as the clock runs
    link_.SetAnswer([this](std::string_view lock, std::span<const uint8_t> frame) { return locks_.Answer(lock, frame); });
  }

  testing::HttpResult As(const Caller& c, const std::string& method, const std::string& path,
                         const json& body = nullptr) {
    return Call(method, path, body, c.headers);
  }
  std::string Org(const std::string& rest) { return "/api/v1/orgs/" + w_.org + rest; }
  std::string DoorPath(const std::string& door) { return Org("/doors/" + door + "/updates"); }

  testing::HttpResult Upload(const std::string& door, const std::string& kind, const std::string& update) {
    return As(owner_, "POST", DoorPath(door), {{"kind", kind}, {"update", update}});
  }
  json Updates(const std::string& door) { return As(owner_, "GET", DoorPath(door)).Json()["updates"]; }
  int Audited(const std::string& action) {
    return static_cast<int>(As(owner_, "GET", Org("/audit?action=" + action)).Json()["items"].size());
  }
  DoorUpdateDeliverer Deliverer() { return DoorUpdateDeliverer(*repo_, link_, clock_, DeliverySettings{}); }
  protocol::KeyRef Ref(uint64_t serial) {
    protocol::KeyRef r;
    const auto id = FromHex(signer_.OwnerKeyId(), protocol::kKeyIdSize).value();
    std::copy(id.begin(), id.end(), r.issuer.begin());
    r.serial = serial;
    return r;
  }
  std::string NewGroup(const std::string& protocol_id) {
    const auto r = As(owner_, "POST", Org("/groups"),
                      {{"name", "Staff"}, {"protocol_id", protocol_id},
                       {"owner_public_key", ToHex(signer_.owner().public_key().bytes())}, {"schedule", "weekdays"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json()["group"]["id"];
  }

  World w_;
  Caller owner_;
  FakeLocks locks_;
};

TEST_P(GroupsApiTest, AnAccessListIsStoredVerifiedWithItsSummaryAndWhatTheDoorHolds) {
  const std::string list = signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(5)});
  auto r = Upload(w_.door, "access_list", list);
  ASSERT_EQ(r.status, 201) << r.body;
  const json u = r.Json()["update"];
  EXPECT_EQ(u["issuer"], "owner");
  EXPECT_EQ(u["version"], 1);
  EXPECT_EQ(u["update"], list);
  EXPECT_EQ(u["summary"]["signed_by"], "owner");
  ASSERT_EQ(u["summary"]["revoked"].size(), 1u);
  EXPECT_EQ(u["summary"]["revoked"][0]["serial"], "0000000000000005");
  EXPECT_EQ(u["summary"]["revoked"][0]["issuer_key_id"], signer_.OwnerKeyId());
  EXPECT_EQ(u["held_version"], 0);
  EXPECT_EQ(u["evidence"], "none");
  EXPECT_EQ(u["pending"], true);
  // The same bytes again: 200, nothing new.
  EXPECT_EQ(Upload(w_.door, "access_list", list).status, 200);
  EXPECT_EQ(Updates(w_.door).size(), 1u);
  EXPECT_EQ(Audited("door.update"), 1);
  // Any member of the organisation sees it.
  EXPECT_EQ(As(w_.callers["guest"], "GET", DoorPath(w_.door)).status, 200);
}

TEST_P(GroupsApiTest, A09_AForgedOrTamperedListIsRefusedAndStoresNothing) {
  const auto stranger = signer_.NewKey();
  auto r = Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 1, 1, {}, &stranger));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.ErrorCode(), "invalid_signature");
  std::string tampered = signer_.AccessList(w_.door_lock_id, 1, 1);
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == '0' ? '1' : '0';  // inside the signature
  r = Upload(w_.door, "access_list", tampered);
  EXPECT_EQ(r.status, 403) << r.body;
  r = Upload(w_.door, "access_list", "00ff");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.ErrorCode(), "invalid_update");
  r = Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, 1, 1, {7}, &stranger));
  EXPECT_EQ(r.ErrorCode(), "invalid_signature");
  EXPECT_TRUE(Updates(w_.door).empty());
  EXPECT_EQ(Audited("door.update"), 0);
}

TEST_P(GroupsApiTest, A09_AnotherDoorsListIsRefusedAndStoresNothing) {
  std::string other_lock;
  NewDoor(w_.org, w_.site_full, &other_lock);
  const auto r = Upload(w_.door, "access_list", signer_.AccessList(other_lock, 1, 1));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.ErrorCode(), "wrong_door");
  const auto m = Upload(w_.door, "group_membership", signer_.Membership(other_lock, 1, 1, {7}));
  EXPECT_EQ(m.ErrorCode(), "wrong_door");
  EXPECT_TRUE(Updates(w_.door).empty());
}

TEST_P(GroupsApiTest, A01_AnOlderListIsRefusedSoTheServerNeverShowsARevocationUndone) {
  const std::string v1 = signer_.AccessList(w_.door_lock_id, 1, 1);
  ASSERT_EQ(Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 2, 1, {Ref(9)})).status, 201);
  auto r = Upload(w_.door, "access_list", v1);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.ErrorCode(), "stale_version");
  // Another list at the same version is no newer either.
  r = Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 2, 1));
  EXPECT_EQ(r.ErrorCode(), "stale_version");
  const json u = Updates(w_.door);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0]["version"], 2);
  EXPECT_EQ(u[0]["summary"]["revoked"].size(), 1u);
  // An earlier claim's list, even at a higher version, is refused too.
  r = Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 5, 2));
  ASSERT_EQ(r.status, 201);
  r = Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 9, 1));
  EXPECT_EQ(r.ErrorCode(), "stale_claim");
}

TEST_P(GroupsApiTest, AMembershipTheLockWouldRefuseAsTooFarAboveIsRefused) {
  ASSERT_EQ(Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, 1, 1, {7})).status, 201);
  const uint64_t too_far = 1 + protocol::kMaxGroupMembershipVersionStep + 1;
  auto r = Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, too_far, 1, {7}));
  EXPECT_EQ(r.ErrorCode(), "version_too_far");
  r = Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, too_far - 1, 1, {7}));
  EXPECT_EQ(r.status, 201) << r.body;
}

// The same update in upper-case hex is the same update: 200, the stored
// row, nothing new (it used to read an empty optional).
TEST_P(GroupsApiTest, TheSameUpdateInUpperCaseHexIsAnIdempotentRetry) {
  const std::string list = signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(5)});
  ASSERT_EQ(Upload(w_.door, "access_list", list).status, 201);
  std::string upper = list;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  ASSERT_NE(upper, list);
  const auto r = Upload(w_.door, "access_list", upper);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["update"]["update"], list);
  EXPECT_EQ(Updates(w_.door).size(), 1u);
  EXPECT_EQ(Audited("door.update"), 1);
}

// A09: an unsigned 0x05 "held" answer (forgeable by anyone on the path)
// claiming a huge version does not make later memberships version_too_far.
TEST_P(GroupsApiTest, A09_AForgedHeldAnswerDoesNotBlockLaterMemberships) {
  ASSERT_EQ(Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, 1, 1, {7})).status, 201);
  link_.SetOnline(w_.door_lock_id, true);
  link_.SetAnswer([](std::string_view, std::span<const uint8_t>) -> std::optional<std::vector<uint8_t>> {
    return UpdateReply(2, StatusCode::kAlreadyExists, 1ULL << 60);
  });
  auto deliverer = Deliverer();
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  EXPECT_EQ(Updates(w_.door)[0]["reported_version"], int64_t{1} << 60);
  const auto r = Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, 2, 1, {7}));
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_P(GroupsApiTest, AGroupShowsTheDoorsWhoseVerifiedMembershipListsIt) {
  const std::string group = NewGroup("00000000000000aa");
  std::string lock2;
  const std::string door2 = NewDoor(w_.org, w_.site_full, &lock2);
  ASSERT_EQ(Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, 1, 1, {0xaa, 0xbb})).status, 201);
  ASSERT_EQ(Upload(door2, "group_membership", signer_.Membership(lock2, 1, 1, {0xbb})).status, 201);
  json g = As(w_.callers["member"], "GET", Org("/groups/" + group)).Json()["group"];
  EXPECT_EQ(g["protocol_id"], "00000000000000aa");
  ASSERT_EQ(g["doors"].size(), 1u);
  EXPECT_EQ(g["doors"][0]["door_id"], w_.door);
  EXPECT_EQ(g["doors"][0]["membership_version"], 1);
  // Adding door2 = a new signed membership for it; removing w_.door alike.
  ASSERT_EQ(Upload(door2, "group_membership", signer_.Membership(lock2, 2, 1, {0xaa, 0xbb})).status, 201);
  ASSERT_EQ(Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, 2, 1, {0xbb})).status, 201);
  g = As(owner_, "GET", Org("/groups/" + group)).Json()["group"];
  ASSERT_EQ(g["doors"].size(), 1u);
  EXPECT_EQ(g["doors"][0]["door_id"], door2);
  EXPECT_EQ(As(owner_, "GET", Org("/groups")).Json()["items"].size(), 1u);
  // The same protocol id under the same owner key twice: refused.
  const auto again = As(owner_, "POST", Org("/groups"),
                        {{"name", "Again"}, {"protocol_id", "00000000000000aa"},
                         {"owner_public_key", ToHex(signer_.owner().public_key().bytes())}});
  EXPECT_EQ(again.ErrorCode(), "group_exists");
  EXPECT_EQ(As(owner_, "POST", Org("/groups"), {{"name", "Zero"}, {"protocol_id", "0000000000000000"},
                                               {"owner_public_key", ToHex(signer_.owner().public_key().bytes())}})
                .ErrorCode(),
            "invalid_field");
  EXPECT_EQ(Audited("group.create"), 1);
}

TEST_P(GroupsApiTest, KeysAreStoredVerifiedForAPersonOfTheOrganisation) {
  const std::string chain = signer_.MemberChain(w_.door_lock_id, 1, 77);
  auto r = As(owner_, "POST", Org("/keys"), {{"account_id", w_.target}, {"chain", chain}, {"door_id", w_.door}});
  ASSERT_EQ(r.status, 201) << r.body;
  const json k = r.Json()["key"];
  EXPECT_EQ(k["scope"], "lock");
  EXPECT_EQ(k["serial"], "000000000000004d");
  EXPECT_EQ(k["summary"]["role"], "member");
  EXPECT_EQ(k["issuer_key_id"], signer_.OwnerKeyId());
  EXPECT_EQ(As(owner_, "POST", Org("/keys"), {{"account_id", w_.target}, {"chain", chain}, {"door_id", w_.door}})
                .ErrorCode(),
            "key_exists");
  // Another door's key, another owner's key, a stranger to the organisation.
  std::string lock2;
  const std::string door2 = NewDoor(w_.org, w_.site_full, &lock2);
  EXPECT_EQ(As(owner_, "POST", Org("/keys"),
               {{"account_id", w_.target}, {"chain", signer_.MemberChain(lock2, 1, 78)}, {"door_id", w_.door}})
                .ErrorCode(),
            "not_permitted");
  testing::DoorSigner other(99);
  std::string foreign = other.MemberChain(w_.door_lock_id, 1, 79);
  EXPECT_EQ(As(owner_, "POST", Org("/keys"), {{"account_id", w_.target}, {"chain", foreign}, {"door_id", w_.door}})
                .ErrorCode(),
            "invalid_signature");
  EXPECT_EQ(As(owner_, "POST", Org("/keys"),
               {{"account_id", w_.callers["outsider"].account_id},
                {"chain", signer_.MemberChain(w_.door_lock_id, 1, 80)},
                {"door_id", w_.door}})
                .status,
            404);
  // A group key for a group.
  const std::string group = NewGroup("00000000000000cc");
  r = As(owner_, "POST", Org("/keys"),
         {{"account_id", w_.target}, {"chain", signer_.MemberChain("", 0, 81, 0xcc)}, {"group_id", group}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Json()["key"]["summary"]["group_id"], "00000000000000cc");
  EXPECT_EQ(As(owner_, "POST", Org("/keys"),
               {{"account_id", w_.target}, {"chain", signer_.MemberChain("", 0, 82, 0xdd)}, {"group_id", group}})
                .ErrorCode(),
            "not_permitted");
  EXPECT_EQ(As(owner_, "GET", Org("/keys?account_id=" + w_.target)).Json()["items"].size(), 2u);
  EXPECT_EQ(Audited("key.create"), 2);
}

TEST_P(GroupsApiTest, A09_AnotherTenantsDoorGroupAndJobIdsAreNotFound) {
  const Caller& outsider = w_.callers["outsider"];
  std::string their_site;
  const std::string their_org = NewOrg(outsider, "organisation", &their_site);
  std::string their_lock;
  const std::string their_door = NewDoor(their_org, their_site, &their_lock);
  const auto g = As(outsider, "POST", "/api/v1/orgs/" + their_org + "/groups",
                    {{"name", "Theirs"}, {"protocol_id", "00000000000000ee"},
                     {"owner_public_key", ToHex(signer_.owner().public_key().bytes())}});
  ASSERT_EQ(g.status, 201) << g.body;
  const std::string their_group = g.Json()["group"]["id"];
  // Their ids under our organisation: not found, nothing stored.
  EXPECT_EQ(Upload(their_door, "access_list", signer_.AccessList(their_lock, 1, 1)).status, 404);
  EXPECT_EQ(As(owner_, "GET", DoorPath(their_door)).status, 404);
  EXPECT_EQ(As(owner_, "GET", Org("/groups/" + their_group)).status, 404);
  EXPECT_EQ(As(owner_, "POST", Org("/keys"),
               {{"account_id", w_.target}, {"chain", signer_.MemberChain("", 0, 83, 0xee)}, {"group_id", their_group}})
                .status,
            404);
  EXPECT_EQ(As(owner_, "POST", Org("/people/" + w_.target + "/removal"),
               {{"updates", {{{"door_id", their_door}, {"update", signer_.AccessList(their_lock, 1, 1)}}}}})
                .status,
            404);
  EXPECT_EQ(As(owner_, "POST", Org("/sites/" + their_site + "/lockdown"), {{"envelopes", json::array()}}).status,
            404);
  // Our organisation's routes with their credentials: not found.
  EXPECT_EQ(As(outsider, "GET", DoorPath(w_.door)).status, 404);
  EXPECT_EQ(As(outsider, "GET", "/api/v1/orgs/" + their_org + "/doors/" + their_door + "/updates")
                .Json()["updates"]
                .size(),
            0u);
}

TEST_P(GroupsApiTest, TheDelivererResendsWhileTheDoorIsOnlineUntilItConfirms) {
  ASSERT_EQ(Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(5)})).status, 201);
  auto deliverer = Deliverer();
  EXPECT_EQ(deliverer.DeliverDue(), 0);  // offline: nothing sent, no attempt counted
  EXPECT_EQ(Updates(w_.door)[0]["delivery"]["attempts"], 0);
  link_.SetOnline(w_.door_lock_id, true);
  EXPECT_EQ(deliverer.DeliverDue(), 0);  // looked at again after recheck_ms
  clock_.Advance(DeliverySettings{}.recheck_ms);
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  json u = Updates(w_.door)[0];
  EXPECT_EQ(u["held_version"], 1);
  EXPECT_EQ(u["evidence"], "reported");
  EXPECT_EQ(u["pending"], true);  // the lock's answer is unsigned: not proof
  EXPECT_EQ(u["delivery"]["last_status"], "applied");
  const auto sent = link_.Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second[0], 0x05);
  EXPECT_EQ(sent[0].second[1], 0x01);
  // Back-off: 5 s, then 10 s, 20 s... each re-send until confirmed.
  EXPECT_EQ(deliverer.DeliverDue(), 0);
  clock_.Advance(4999);
  EXPECT_EQ(deliverer.DeliverDue(), 0);
  clock_.Advance(1);
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  EXPECT_EQ(Updates(w_.door)[0]["delivery"]["last_status"], "held");
  clock_.Advance(9999);
  EXPECT_EQ(deliverer.DeliverDue(), 0);
  clock_.Advance(1);
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  // The back-off is bounded: after many attempts, at most max_retry_ms.
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(DeliverySettings{}.max_retry_ms);
    EXPECT_EQ(deliverer.DeliverDue(), 1) << i;
  }
  // A lock-signed record confirms it (the log ingest's call): no more sends.
  EXPECT_TRUE(deliverer.RecordConfirmed(w_.door_lock_id, "access_list", 1));
  EXPECT_FALSE(deliverer.RecordConfirmed(std::string(32, 'f'), "access_list", 1));
  u = Updates(w_.door)[0];
  EXPECT_EQ(u["evidence"], "confirmed");
  EXPECT_EQ(u["pending"], false);
  clock_.Advance(DeliverySettings{}.max_retry_ms * 10);
  EXPECT_EQ(deliverer.DeliverDue(), 0);
  // A newer upload is pending again and goes out at once.
  ASSERT_EQ(Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 2, 1)).status, 201);
  EXPECT_EQ(deliverer.DeliverDue(), 1);
}

// Frame 0x05 receipts: the lock's signature over exactly the stored bytes,
// verified with the door's registered lock key, confirms an update; the
// receipt is kept and shown so devices verify it themselves.
TEST_P(GroupsApiTest, AReceiptSignedByTheDoorsLockConfirmsTheUpdateAndIsKept) {
  const std::string list = signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(5)});
  ASSERT_EQ(Upload(w_.door, "access_list", list).status, 201);
  EXPECT_TRUE(Updates(w_.door)[0]["receipt"].is_null());
  locks_.keys = &lock_keys_;
  link_.SetOnline(w_.door_lock_id, true);
  clock_.Advance(DeliverySettings{}.recheck_ms);
  auto deliverer = Deliverer();
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  const json u = Updates(w_.door)[0];
  EXPECT_EQ(u["evidence"], "confirmed");
  EXPECT_EQ(u["confirmed_version"], 1);
  EXPECT_EQ(u["pending"], false);
  EXPECT_EQ(u["delivery"]["last_status"], "applied");
  ASSERT_TRUE(u["receipt"].is_string());
  const std::string receipt = u["receipt"];
  EXPECT_EQ(receipt.size(), 2 * protocol::kSignedUpdateReceiptReplySize);
  // What the server stored verifies on a device, against the bytes it signed.
  const auto reply = protocol::DecodeSignedUpdateReply(FromHex(receipt, receipt.size() / 2).value());
  ASSERT_TRUE(reply.ok());
  protocol::LockId id{};
  const auto id_bytes = FromHex(w_.door_lock_id, protocol::kLockIdSize).value();
  std::copy(id_bytes.begin(), id_bytes.end(), id.begin());
  const auto held = protocol::VerifySignedUpdateReceipt(*reply, lock_keys_.at(w_.door_lock_id).public_key(), id, 1,
                                                        protocol::SignedUpdateKind::kAccessList,
                                                        FromHex(list, list.size() / 2).value());
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(*held, 1u);
  // Confirmed: never sent again.
  clock_.Advance(DeliverySettings{}.max_retry_ms * 10);
  EXPECT_EQ(deliverer.DeliverDue(), 0);
  // A new version starts afresh: no receipt until its own.
  ASSERT_EQ(Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 2, 1)).status, 201);
  EXPECT_TRUE(Updates(w_.door)[0]["receipt"].is_null());
  EXPECT_EQ(Updates(w_.door)[0]["pending"], true);
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  EXPECT_EQ(Updates(w_.door)[0]["confirmed_version"], 2);
  EXPECT_FALSE(Updates(w_.door)[0]["receipt"].is_null());
}

// A09: a relay (or the broker) answering for the lock cannot confirm an
// update: a receipt signed by another key, or by the lock for other bytes,
// another claim or another kind, is a bad answer and changes nothing.
TEST_P(GroupsApiTest, A09_AForgedReceiptOrAReceiptForAnotherUpdateIsNotConfirmed) {
  const std::string list = signer_.AccessList(w_.door_lock_id, 2, 1, {Ref(5)});
  ASSERT_EQ(Upload(w_.door, "access_list", list).status, 201);
  const std::string other_hex = signer_.AccessList(w_.door_lock_id, 2, 1, {Ref(6)});
  const std::vector<uint8_t> other_list = FromHex(other_hex, other_hex.size() / 2).value();
  const crypto::P256KeyPair& lock_key = lock_keys_.at(w_.door_lock_id);
  const crypto::P256KeyPair stranger = signer_.NewLock();
  testing::SeededDrbg rng(92);
  using Forge = std::function<std::vector<uint8_t>(std::span<const uint8_t> update)>;
  const std::vector<std::pair<std::string, Forge>> forgeries = {
      {"another key", [&](std::span<const uint8_t> u) {
         return SignedUpdateReply(1, StatusCode::kOk, 2, stranger, w_.door_lock_id, 1, u, rng.drbg);
       }},
      {"another update", [&](std::span<const uint8_t>) {
         return SignedUpdateReply(1, StatusCode::kOk, 2, lock_key, w_.door_lock_id, 1, other_list, rng.drbg);
       }},
      {"another claim", [&](std::span<const uint8_t> u) {
         return SignedUpdateReply(1, StatusCode::kOk, 2, lock_key, w_.door_lock_id, 2, u, rng.drbg);
       }},
      {"another kind", [&](std::span<const uint8_t> u) {
         std::vector<uint8_t> r = SignedUpdateReply(2, StatusCode::kOk, 2, lock_key, w_.door_lock_id, 1, u, rng.drbg);
         r[1] = 1;
         return r;
       }},
      {"an edited held version", [&](std::span<const uint8_t> u) {
         std::vector<uint8_t> r = SignedUpdateReply(1, StatusCode::kOk, 1, lock_key, w_.door_lock_id, 1, u, rng.drbg);
         r[3] = 2;
         return r;
       }},
  };
  link_.SetOnline(w_.door_lock_id, true);
  clock_.Advance(DeliverySettings{}.recheck_ms);
  auto deliverer = Deliverer();
  for (const auto& [what, forge] : forgeries) {
    link_.SetAnswer([&](std::string_view, std::span<const uint8_t> frame) -> std::optional<std::vector<uint8_t>> {
      return forge(frame.subspan(2));
    });
    clock_.Advance(DeliverySettings{}.max_retry_ms);
    EXPECT_EQ(deliverer.DeliverDue(), 1) << what;
    const json u = Updates(w_.door)[0];
    EXPECT_EQ(u["delivery"]["last_status"], "bad_answer") << what;
    EXPECT_EQ(u["confirmed_version"], 0) << what;
    EXPECT_EQ(u["reported_version"], 0) << what;
    EXPECT_EQ(u["pending"], true) << what;
    EXPECT_TRUE(u["receipt"].is_null()) << what;
  }
  // The lock's own receipt for these bytes: confirmed.
  link_.SetAnswer([&](std::string_view, std::span<const uint8_t> frame) -> std::optional<std::vector<uint8_t>> {
    return SignedUpdateReply(1, StatusCode::kOk, 2, lock_key, w_.door_lock_id, 1, frame.subspan(2), rng.drbg);
  });
  clock_.Advance(DeliverySettings{}.max_retry_ms);
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  EXPECT_EQ(Updates(w_.door)[0]["confirmed_version"], 2);
  EXPECT_EQ(Updates(w_.door)[0]["pending"], false);
}

// A door put into a group must hold the owner's list (with the group's
// revoked keys) before its membership reaches it.
TEST_P(GroupsApiTest, A01_AMembershipGoesOutOnlyOnceTheDoorHoldsTheOwnersNewestList) {
  ASSERT_EQ(Upload(w_.door, "group_membership", signer_.Membership(w_.door_lock_id, 1, 1, {0xaa})).status, 201);
  ASSERT_EQ(Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(5)})).status, 201);
  link_.SetOnline(w_.door_lock_id, true);
  locks_.refuse = StatusCode::kUnavailable;  // the lock is busy: the list is not taken
  auto deliverer = Deliverer();
  EXPECT_EQ(deliverer.DeliverDue(), 1);  // the list only
  ASSERT_EQ(link_.Sent().size(), 1u);
  EXPECT_EQ(link_.Sent()[0].second[1], 0x01);
  locks_.refuse = StatusCode::kOk;
  clock_.Advance(DeliverySettings{}.first_retry_ms);
  EXPECT_EQ(deliverer.DeliverDue(), 2);  // the list, then the membership in the same pass
  const auto sent = link_.Sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[1].second[1], 0x01);
  EXPECT_EQ(sent[2].second[1], 0x02);
}

TEST_P(GroupsApiTest, RemovingAPersonEverywhereIsOneJobWithProgressPerDoor) {
  std::string lock2;
  const std::string door2 = NewDoor(w_.org, w_.site_full, &lock2);
  for (const auto& [door, lock, serial] : {std::tuple{w_.door, w_.door_lock_id, 77}, std::tuple{door2, lock2, 78}}) {
    ASSERT_EQ(As(owner_, "POST", Org("/keys"),
                 {{"account_id", w_.target}, {"chain", signer_.MemberChain(lock, 1, serial)}, {"door_id", door}})
                  .status,
              201);
  }
  // An expired key opens nowhere and is not listed.
  ASSERT_EQ(As(owner_, "POST", Org("/keys"),
               {{"account_id", w_.target},
                {"chain", signer_.MemberChain(w_.door_lock_id, 1, 79, 0, clock_.NowMs() / 1000 - 10)},
                {"door_id", w_.door}})
                .status,
            201);
  ASSERT_EQ(Upload(door2, "access_list", signer_.AccessList(lock2, 3, 1)).status, 201);
  json access = As(owner_, "GET", Org("/people/" + w_.target + "/access")).Json();
  ASSERT_EQ(access["doors"].size(), 2u);
  std::map<std::string, json> by_door;
  for (const auto& d : access["doors"]) by_door[d["door_id"]] = d;
  ASSERT_EQ(by_door[w_.door]["keys"].size(), 1u);
  EXPECT_EQ(by_door[w_.door]["keys"][0]["serial"], "000000000000004d");
  EXPECT_EQ(by_door[w_.door]["lists"]["owner"]["version"], 0);
  EXPECT_EQ(by_door[door2]["lists"]["owner"]["version"], 3);

  // A list that leaves the person's key live is refused, and nothing of the job is stored.
  auto r = As(owner_, "POST", Org("/people/" + w_.target + "/removal"),
              {{"updates",
                {{{"door_id", w_.door}, {"update", signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(77)})}},
                 {{"door_id", door2}, {"update", signer_.AccessList(lock2, 4, 1)}}}}});
  EXPECT_EQ(r.ErrorCode(), "keys_still_live");
  EXPECT_TRUE(Updates(w_.door).empty());
  // A job that leaves out a door where the person's key is live is
  // refused, naming that door: it would show the person removed while
  // their key still opens door 2.
  r = As(owner_, "POST", Org("/people/" + w_.target + "/removal"),
         {{"updates", {{{"door_id", w_.door}, {"update", signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(77)})}}}}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.ErrorCode(), "doors_missing");
  EXPECT_NE(r.body.find(door2), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(w_.door + ","), std::string::npos) << r.body;
  EXPECT_TRUE(Updates(w_.door).empty());

  locks_.refuse = StatusCode::kOk;
  r = As(owner_, "POST", Org("/people/" + w_.target + "/removal"),
         {{"updates",
           {{{"door_id", w_.door}, {"update", signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(77)})}},
            {{"door_id", door2}, {"update", signer_.AccessList(lock2, 4, 1, {Ref(78)})}}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string job = r.Json()["job"]["id"];
  EXPECT_EQ(r.Json()["job"]["counts"]["pending"], 2);
  // The person's keys are revoked in what the server stores: live nowhere.
  EXPECT_TRUE(As(owner_, "GET", Org("/people/" + w_.target + "/access")).Json()["doors"].empty());

  // Door 1 online and applying; door 2 online and refusing.
  link_.SetOnline(w_.door_lock_id, true);
  DeliverySettings quick;
  quick.recheck_ms = 1;  // door 2 is looked at again 1 ms after its skip
  DoorUpdateDeliverer deliverer(*repo_, link_, clock_, quick);
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  link_.SetOnline(lock2, true);
  locks_.refuse = StatusCode::kPermissionDenied;
  clock_.Advance(1);
  EXPECT_EQ(deliverer.DeliverDue(), 1);
  json j = As(owner_, "GET", Org("/jobs/" + job)).Json()["job"];
  by_door.clear();
  for (const auto& d : j["doors"]) by_door[d["door_id"]] = d;
  EXPECT_EQ(by_door[w_.door]["state"], "reported");
  EXPECT_EQ(by_door[door2]["state"], "failed");
  EXPECT_EQ(by_door[door2]["reason"], "the lock refused it: permission_denied");
  EXPECT_TRUE(deliverer.RecordConfirmed(w_.door_lock_id, "access_list", 1));
  j = As(owner_, "GET", Org("/jobs/" + job)).Json()["job"];
  EXPECT_EQ(j["counts"]["confirmed"], 1);
  EXPECT_EQ(j["counts"]["failed"], 1);
  EXPECT_EQ(Audited("person.remove_everywhere"), 1);
  // A member sees neither the person's keys nor the job.
  EXPECT_EQ(As(w_.callers["member"], "GET", Org("/jobs/" + job)).status, 403);
}

// Deleting an account cannot end a key the lock verifies offline, and its
// key rows go with it: while a key of the person is live the account stays
// (409 keys_live, naming the door), so an admin still sees and revokes it.
TEST_P(GroupsApiTest, AnAccountWithALiveKeyIsNotDeletedUntilTheKeyIsRevoked) {
  const Caller& member = w_.callers["member"];
  ASSERT_EQ(As(owner_, "POST", Org("/keys"),
               {{"account_id", member.account_id}, {"chain", signer_.MemberChain(w_.door_lock_id, 1, 91)},
                {"door_id", w_.door}})
                .status,
            201);
  auto r = As(member, "DELETE", "/api/v1/me", {{"password", testing::kPassword}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.ErrorCode(), "keys_live");
  EXPECT_EQ(As(owner_, "GET", Org("/keys?account_id=" + member.account_id)).Json()["items"].size(), 1u);
  EXPECT_EQ(As(owner_, "GET", Org("/people/" + member.account_id + "/access")).Json()["doors"].size(), 1u);
  // The admin removes the person everywhere; then the account goes.
  r = As(owner_, "POST", Org("/people/" + member.account_id + "/removal"),
         {{"updates", {{{"door_id", w_.door}, {"update", signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(91)})}}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  r = As(member, "DELETE", "/api/v1/me", {{"password", testing::kPassword}});
  EXPECT_EQ(r.status, 204) << r.body;
}

TEST_P(GroupsApiTest, LockingDownASiteRelaysOneEnvelopePerDoorAndRecordsEachOutcome) {
  std::string lock2, lock3;
  const std::string door2 = NewDoor(w_.org, w_.site_full, &lock2);
  const std::string door3 = NewDoor(w_.org, w_.site_full, &lock3);
  link_.SetOnline(w_.door_lock_id, true);
  link_.SetOnline(lock3, true);
  link_.SetAnswer([&](std::string_view lock, std::span<const uint8_t> frame) -> std::optional<std::vector<uint8_t>> {
    EXPECT_EQ(frame[0], 0x03);
    if (lock == lock3) return std::nullopt;  // online, but no answer in time
    return std::vector<uint8_t>{0x03, 0xaa, 0xbb};
  });
  // Well-formed envelopes (the answers below verify against nothing: the
  // verdicts on real locks' answers are in LinkApiTest).
  testing::SeededDrbg rng{31};
  const auto envelope = [&] { return LockEnvelopeHex(rng); };
  const json envelopes = {{{"door_id", w_.door}, {"envelope", envelope()}},
                          {{"door_id", door2}, {"envelope", envelope()}},
                          {{"door_id", door3}, {"envelope", envelope()}}};
  // Every door of the site needs its own envelope.
  auto r = As(owner_, "POST", Org("/sites/" + w_.site_full + "/lockdown"), {{"envelopes", {envelopes[0]}}});
  EXPECT_EQ(r.ErrorCode(), "missing_envelope");
  EXPECT_TRUE(link_.Sent().empty());
  r = As(owner_, "POST", Org("/sites/" + w_.site_full + "/lockdown"), {{"envelopes", envelopes}});
  ASSERT_EQ(r.status, 201) << r.body;
  const json job = r.Json()["job"];
  std::map<std::string, json> by_door;
  for (const auto& d : job["doors"]) by_door[d["door_id"]] = d;
  ASSERT_EQ(by_door.size(), 3u) << r.body;
  EXPECT_EQ(by_door[w_.door]["state"], "bad_answer");  // not signed by the door's lock
  EXPECT_EQ(by_door[w_.door]["answer"], nullptr);
  EXPECT_EQ(by_door[door2]["state"], "offline");
  EXPECT_EQ(by_door[door3]["state"], "no_answer");
  EXPECT_EQ(Audited("site.lockdown"), 1);
  // An envelope for a door of another site.
  r = As(owner_, "POST", Org("/sites/" + w_.site_empty + "/lockdown"), {{"envelopes", {envelopes[0]}}});
  EXPECT_EQ(r.ErrorCode(), "wrong_door");
}

// 51 offline doors with pending lists come first in the deliverer's order;
// the one online door's revocation still goes out: skipped rows move out of
// the batch (access.recheck_ms) instead of filling every pass.
TEST_P(GroupsApiTest, AFullBatchOfOfflineDoorsDoesNotHoldUpAnOnlineDoorsUpdate) {
  for (int i = 0; i < DeliverySettings{}.batch + 1; ++i) {
    std::string lock;
    const std::string door = NewDoor(w_.org, w_.site_full, &lock);
    ASSERT_EQ(Upload(door, "access_list", signer_.AccessList(lock, 1, 1, {Ref(5)})).status, 201);
  }
  clock_.Advance(1);  // the online door's update is due after all of them
  ASSERT_EQ(Upload(w_.door, "access_list", signer_.AccessList(w_.door_lock_id, 1, 1, {Ref(5)})).status, 201);
  link_.SetOnline(w_.door_lock_id, true);
  auto deliverer = Deliverer();
  int sent = 0;
  for (int pass = 0; pass < 3; ++pass) sent += deliverer.DeliverDue();
  EXPECT_EQ(sent, 1);
  const auto frames = link_.Sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].first, w_.door_lock_id);
  // The offline doors are looked at again after recheck_ms: still offline,
  // nothing goes to them.
  EXPECT_EQ(deliverer.DeliverDue(), 0);
  clock_.Advance(DeliverySettings{}.recheck_ms);
  deliverer.DeliverDue();
  for (const auto& [lock, frame] : link_.Sent()) EXPECT_EQ(lock, w_.door_lock_id);
}

// A lockdown asks its doors in parallel: each door's answer here waits
// until every door has been asked, which one-after-another never reaches.
TEST_P(GroupsApiTest, ALockdownAsksItsDoorsInParallel) {
  std::string lock2, lock3;
  const std::string door2 = NewDoor(w_.org, w_.site_full, &lock2);
  const std::string door3 = NewDoor(w_.org, w_.site_full, &lock3);
  for (const auto& l : {w_.door_lock_id, lock2, lock3}) link_.SetOnline(l, true);
  std::mutex mu;
  std::condition_variable cv;
  int asked = 0;
  link_.SetAnswer([&](std::string_view, std::span<const uint8_t>) -> std::optional<std::vector<uint8_t>> {
    std::unique_lock l(mu);
    ++asked;
    cv.notify_all();
    // The bound only guards against a hang when the doors are asked in turn.
    if (!cv.wait_for(l, std::chrono::seconds(20), [&] { return asked >= 3; })) return std::nullopt;
    return std::vector<uint8_t>{0x03, 0x01};
  });
  // Well-formed envelopes; the answers are nobody's signature (bad_answer):
  // what matters here is that every door was asked before any answered.
  testing::SeededDrbg rng{37};
  const auto envelope = [&] { return LockEnvelopeHex(rng); };
  const json envelopes = {{{"door_id", w_.door}, {"envelope", envelope()}},
                          {{"door_id", door2}, {"envelope", envelope()}},
                          {{"door_id", door3}, {"envelope", envelope()}}};
  const auto r = As(owner_, "POST", Org("/sites/" + w_.site_full + "/lockdown"), {{"envelopes", envelopes}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(asked, 3);
  const json doors = r.Json()["job"]["doors"];  // kept: a range-for over a temporary's member dangles
  for (const auto& d : doors) EXPECT_EQ(d["state"], "bad_answer") << d.dump();
  EXPECT_EQ(api_->relay_gate().in_flight(), 0);
  EXPECT_EQ(api_->relay_gate().unawaited_lockdowns(), 0u);
  // While every lockdown slot is in use (another organisation's lockdown),
  // a lockdown is not refused: its envelopes go out unawaited (timeout 0)
  // and each door says so.
  const auto other = api_->relay_gate().StartLockdown("org_other");
  ASSERT_TRUE(other.awaited());
  const size_t before = link_.Timeouts().size();
  const auto unawaited = As(owner_, "POST", Org("/sites/" + w_.site_full + "/lockdown"), {{"envelopes", envelopes}});
  ASSERT_EQ(unawaited.status, 201) << unawaited.body;
  const json sent_doors = unawaited.Json()["job"]["doors"];
  for (const auto& d : sent_doors) {
    EXPECT_EQ(d["state"], "no_answer") << d.dump();
    EXPECT_NE(d["reason"].get<std::string>().find("not awaited"), std::string::npos) << d.dump();
  }
  const auto timeouts = link_.Timeouts();
  ASSERT_EQ(timeouts.size(), before + 3);
  for (size_t i = before; i < timeouts.size(); ++i) EXPECT_EQ(timeouts[i].second, 0);
  EXPECT_EQ(api_->relay_gate().unawaited_lockdowns(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backend, GroupsApiTest, ::testing::Values(testing::TestBackend()));

}  // namespace
}  // namespace mortise::server

namespace mortise::server {
namespace {

// [access] in the TOML file (docs/server.md, Settings).
TEST(AccessSettings, AreReadFromTheConfigFileAndCheckedTogether) {
  const Config c = testing::LoadConfigText(
      "[access]\nexchange_timeout_ms = 2000\nfirst_retry_ms = 1000\nmax_retry_ms = 60000\n"
      "lockdown_timeout_ms = 3000\n");
  EXPECT_EQ(c.api.access.delivery.exchange_timeout_ms, 2000);
  EXPECT_EQ(c.api.access.delivery.first_retry_ms, 1000);
  EXPECT_EQ(c.api.access.delivery.max_retry_ms, 60000);
  EXPECT_EQ(c.api.access.lockdown_timeout_ms, 3000);
  EXPECT_THROW(testing::LoadConfigText("[access]\nfirst_retry_ms = 10000\nmax_retry_ms = 5000\n"), ConfigError);
}

}  // namespace
}  // namespace mortise::server
