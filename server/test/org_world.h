// A seeded organisation world for the API's organisation tests: accounts
// with sessions for every role of one organisation, an outsider who owns
// another, API keys, sites, a door, an invitation; written straight into
// the repository (fast: no password hashing per world), and the signing
// side of a door registration (an owner key and a lock key).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_fixture.h"
#include "door_registration.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/claim_proof.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/identity.h"
#include "policy.h"

namespace mortise::server::testing {

// The callers of the authorization matrix, in its column order.
inline const std::vector<std::string>& MatrixColumns() {
  static const std::vector<std::string> kColumns = {"owner",    "admin",     "member", "guest",  "installer",
                                                    "outsider", "anonymous", "key",    "key-"};
  return kColumns;
}

struct Caller {
  std::string account_id;  // "" for anonymous
  std::string email;
  std::vector<std::string> headers;  // Cookie + X-CSRF-Token, or Authorization
  std::string csrf_header;           // the X-CSRF-Token line of a session, "" otherwise
};

// Signs door registrations: one P-256 owner key, fresh lock keys.
class DoorSigner {
 public:
  explicit DoorSigner(uint64_t seed) : entropy_(seed), drbg_(entropy_) {
    (void)drbg_.Seed();
    owner_.emplace(crypto::P256KeyPair::Generate(drbg_).value());
  }
  const crypto::P256KeyPair& owner() const { return *owner_; }
  crypto::P256KeyPair NewLock() { return crypto::P256KeyPair::Generate(drbg_).value(); }
  crypto::P256KeyPair NewKey() { return NewLock(); }

  // The owner's (or `signer`'s) access list for `lock_id_hex`, as hex,
  // revoking `revoked` (issuer key id hex, serial).
  std::string AccessList(const std::string& lock_id_hex, uint64_t version, uint32_t claim_generation,
                         const std::vector<protocol::KeyRef>& revoked = {},
                         const crypto::P256KeyPair* signer = nullptr) {
    protocol::AccessListState st;
    st.version = version;
    st.claim_generation = claim_generation;
    for (const auto& k : revoked) st.revoked[st.revoked_count++] = k;
    std::vector<uint8_t> out(protocol::kMaxAccessListUpdateSize);
    const size_t n =
        protocol::SignAccessList(st, LockIdFromHex(lock_id_hex), signer ? *signer : *owner_, drbg_, out).value();
    out.resize(n);
    return ToHex(out);
  }
  // The owner's group membership for `lock_id_hex`, as hex.
  std::string Membership(const std::string& lock_id_hex, uint64_t version, uint32_t claim_generation,
                         const std::vector<uint64_t>& groups, const crypto::P256KeyPair* signer = nullptr) {
    protocol::GroupMembershipState st;
    st.version = version;
    st.claim_generation = claim_generation;
    for (const uint64_t g : groups) st.groups[st.count++] = g;
    std::vector<uint8_t> out(protocol::kMaxGroupMembershipUpdateSize);
    const size_t n =
        protocol::SignGroupMembership(st, LockIdFromHex(lock_id_hex), signer ? *signer : *owner_, drbg_, out).value();
    out.resize(n);
    return ToHex(out);
  }
  // A one-certificate chain the owner issues: a member's key for the lock
  // (group_id 0) or for the group. Returns the chain as hex.
  std::string MemberChain(const std::string& lock_id_hex, uint32_t claim_generation, uint64_t serial,
                          uint64_t group_id = 0, uint64_t not_after = 0) {
    protocol::CertificateFields f;
    if (group_id == 0) {
      f.lock_id = LockIdFromHex(lock_id_hex);
      f.claim_generation = claim_generation;
    } else {
      f.scope = protocol::Scope::kGroup;
      f.group_id = group_id;
    }
    f.holder_key = NewKey().public_key().Compressed();
    f.role = protocol::Role::kMember;
    f.permissions = protocol::kPermLock | protocol::kPermUnlock;
    f.serial = serial;
    f.not_after = not_after;
    std::vector<uint8_t> cert(protocol::kMaxChainSize), chain(protocol::kMaxChainSize);
    cert.resize(protocol::IssueCertificate(f, *owner_, drbg_, cert).value());
    chain.resize(protocol::EncodeChain(cert, {}, chain).value());
    return ToHex(chain);
  }
  std::string OwnerKeyId() const { return ToHex(protocol::KeyIdOf(owner_->public_key())); }
  static protocol::LockId LockIdFromHex(const std::string& hex) {
    protocol::LockId id{};
    const auto b = FromHex(hex, kLockIdBytes).value();
    std::copy(b.begin(), b.end(), id.begin());
    return id;
  }

  // The JSON body of POST .../doors for `challenge` (hex) in `org_id`,
  // signed by `signer` (the owner key unless given).
  nlohmann::json Body(const std::string& challenge_id, const std::string& challenge_hex, const std::string& org_id,
                      const std::string& site_id, const crypto::P256KeyPair& lock,
                      const crypto::P256KeyPair* signer = nullptr) {
    if (!signer) signer = &*owner_;
    const auto lock_id = protocol::LockIdOf(lock.public_key());
    const auto challenge = FromHex(challenge_hex, kDoorChallengeSize).value();
    const auto message = DoorRegistrationMessage(challenge, org_id, lock_id, lock.public_key().bytes()).value();
    crypto::P256Signature sig{};
    (void)signer->Sign(message, sig, drbg_);
    return {{"challenge_id", challenge_id},
            {"site_id", site_id},
            {"name", "Front door"},
            {"lock_id", ToHex(lock_id)},
            {"lock_public_key", ToHex(lock.public_key().bytes())},
            {"owner_public_key", ToHex(owner_->public_key().bytes())},
            {"signature", ToHex(sig)},
            {"claim_proof", ClaimProofJson(lock, owner_->public_key())}};
  }
  // The lock's claim proof for `owner` as POST .../doors takes it: what
  // the lock signs in M6 of a claim (a made-up transcript hash: the server
  // checks the lock's signature, not the claim it came from).
  nlohmann::json ClaimProofJson(const crypto::P256KeyPair& lock, const crypto::P256PublicKey& owner,
                                uint32_t generation = 1) {
    protocol::ClaimProof proof;
    proof.transcript_hash.fill(0x5a);
    proof.claim_generation = generation;
    const auto message =
        protocol::ClaimProofMessage(proof.transcript_hash, owner, proof.access_list_floor, proof.claim_generation);
    (void)lock.Sign(message, proof.signature, drbg_);
    return {{"transcript_hash", ToHex(proof.transcript_hash)},
            {"signature", ToHex(proof.signature)},
            {"access_list_floor", proof.access_list_floor},
            {"claim_generation", proof.claim_generation}};
  }

 private:
  crypto::DeterministicEntropy entropy_;
  crypto::Drbg drbg_;
  std::optional<crypto::P256KeyPair> owner_;
};

class OrgWorldFixture : public ApiFixture {
 protected:
  struct World {
    std::string org, site_full, site_empty, door, target, invitation;
    std::string door_lock_id;  // the door's lock id (hex)
    std::string other_org;    // the outsider's
    std::string accept_token; // an invitation into a third organisation
    std::map<std::string, Caller> callers;  // by matrix column
  };

  void SetUp() override {
    in_ram_ = true;  // hundreds of seeded worlds; durability is tested elsewhere
    ApiFixture::SetUp();
    // The same on PostgreSQL: this connection's commits do not wait for the
    // WAL flush (still atomic; only a crash could lose the last ones).
    if (repo_->backend() == "postgresql") repo_->QueryText("SET synchronous_commit = off");
    password_hash_ = PasswordHasher(PasswordProfile::kTestFast).Hash(kPassword);
  }

  std::string Id(const char* prefix) { return NewObjectId(clock_, random_, prefix); }

  AuditEvent SeedEvent(const std::string& org) {
    AuditEvent e;
    e.at = clock_.NowMs();
    e.org_id = org;
    e.actor_account_id = "seed";
    e.action = "seed";
    return e;
  }

  // A new account with a browser session.
  Caller NewAccount(const std::string& label) {
    Caller c;
    c.account_id = Id("acct_");
    c.email = label + "-" + std::to_string(++accounts_) + "@example.org";
    AccountRow a;
    a.id = c.account_id;
    a.email = c.email;
    a.password_hash = password_hash_;
    a.created_at = a.password_changed_at = clock_.NowMs();
    EXPECT_TRUE(repo_->CreateAccount(a));
    const std::string token = RandomBase64Url(random_, 32), csrf = RandomBase64Url(random_, 16);
    SessionRow s;
    s.id = Id("sess_");
    s.account_id = c.account_id;
    s.token_hash = Sha256Hex(token);
    s.csrf_token = csrf;
    s.created_at = s.last_seen_at = clock_.NowMs();
    s.expires_at = clock_.NowMs() + 3600 * 1000;
    s.created_from = "127.0.0.1";
    repo_->CreateSession(s);
    c.csrf_header = "X-CSRF-Token: " + csrf;
    c.headers = {"Cookie: mortise_session=" + token, c.csrf_header};
    return c;
  }

  // An API key of `owner` with `scopes`, as a caller.
  Caller NewKey(const Caller& owner, const std::vector<std::string>& scopes) {
    const std::string token = "mtk_" + RandomBase64Url(random_, 32);
    ApiKeyRow k;
    k.id = Id("key_");
    k.account_id = owner.account_id;
    k.name = "k";
    k.token_hash = Sha256Hex(token);
    k.prefix = token.substr(0, 8);
    k.scopes = scopes;
    k.created_at = clock_.NowMs();
    repo_->CreateApiKey(k);
    Caller c = owner;
    c.headers = {"Authorization: Bearer " + token};
    c.csrf_header.clear();
    return c;
  }

  void AddMember(const std::string& org, const std::string& account, const std::string& role) {
    repo_->QueryText("INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ('" + org + "', '" +
                     account + "', '" + role + "', 1)");
  }

  std::string NewOrg(const Caller& owner, const std::string& kind, std::string* site = nullptr) {
    OrganisationRow o{Id("org_"), "Org", kind, clock_.NowMs()};
    SiteRow s{Id("site_"), o.id, "Main", clock_.NowMs()};
    repo_->CreateOrganisation(o, s, MembershipRow{o.id, owner.account_id, owner.email, "owner", 1}, SeedEvent(o.id));
    if (site) *site = s.id;
    return o.id;
  }

  // A door with a real lock key, claimed by signer_'s owner key (so the
  // owner's signed updates for it verify).
  std::string NewDoor(const std::string& org, const std::string& site, std::string* lock_id = nullptr) {
    const auto lock = signer_.NewLock();
    DoorRow d{Id("door_"), org, site, "Door", ToHex(protocol::LockIdOf(lock.public_key())),
              ToHex(lock.public_key().bytes()), ToHex(signer_.owner().public_key().bytes()), "seed", clock_.NowMs()};
    if (lock_id) *lock_id = d.lock_id;
    lock_keys_.emplace(d.lock_id, lock);
    EXPECT_TRUE(repo_->CreateDoor(d, SeedEvent(org)));
    return d.id;
  }

  // An invitation into `org`; returns its id and sets `token`.
  std::string NewInvitation(const std::string& org, const std::string& role, std::string& token) {
    token = "mti_" + RandomBase64Url(random_, 32);
    InvitationRow i{Id("inv_"), org, role, "", Sha256Hex(token), "seed", clock_.NowMs(),
                    clock_.NowMs() + 3600 * 1000, std::nullopt, std::nullopt};
    repo_->CreateInvitation(i, SeedEvent(org));
    return i.id;
  }

  // Every matrix caller; `missing_scope`: the scope the "key-" caller lacks.
  World NewWorld(const std::string& missing_scope) {
    World w;
    const Caller owner = NewAccount("owner");
    w.callers["owner"] = owner;
    w.org = NewOrg(owner, "organisation", &w.site_full);
    for (const char* role : {"admin", "member", "guest", "installer"}) {
      w.callers[role] = NewAccount(role);
      AddMember(w.org, w.callers[role].account_id, role);
    }
    const Caller target = NewAccount("target");
    AddMember(w.org, target.account_id, "member");
    w.target = target.account_id;
    w.callers["outsider"] = NewAccount("outsider");
    w.other_org = NewOrg(w.callers["outsider"], "organisation");
    w.callers["anonymous"] = Caller{};
    std::vector<std::string> all = {"account:read", "orgs:read", "orgs:write", "audit:read"}, fewer;
    for (const auto& s : all) {
      if (s != missing_scope) fewer.push_back(s);
    }
    w.callers["key"] = NewKey(owner, all);
    w.callers["key-"] = NewKey(owner, fewer);
    SiteRow empty{Id("site_"), w.org, "Empty", clock_.NowMs()};
    repo_->CreateSite(empty, SeedEvent(w.org));
    w.site_empty = empty.id;
    w.door = NewDoor(w.org, w.site_full, &w.door_lock_id);
    std::string unused;
    w.invitation = NewInvitation(w.org, "member", unused);
    NewInvitation(NewOrg(target, "home"), "guest", w.accept_token);
    return w;
  }

  std::string password_hash_;
  int accounts_ = 0;
  DoorSigner signer_{7};
  // The lock key of each door NewDoor made, by lock id (hex): a test signs
  // the lock's answers with it (frame 0x05 receipts).
  std::map<std::string, crypto::P256KeyPair> lock_keys_;
};

}  // namespace mortise::server::testing
