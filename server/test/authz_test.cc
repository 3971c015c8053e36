// Catalogue A09 (cloud API authorization flaws), the server's half: the
// authorization matrix. For every operation in server/openapi.json and every
// caller — each role of an organisation (owner, admin, member, guest,
// installer), the owner of another organisation, no credentials, an API key
// with every scope and one without the route's scope — the table below
// states the answer, written here independently of the policy (policy.h);
// an operation without a row fails. Each cell runs in a fresh seeded world,
// so a delete in one cell cannot change another's answer. Then the attacks
// by name: cross-tenant object ids, guest-to-admin promotion, the last
// owner, single-use invitations, door registration without the owner key.
// Runs on SQLite (server_authz_test) and PostgreSQL (server_postgres_test).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "door_state.h"
#include "fake_lock_link.h"
#include "mortise/protocol/base64url.h"
#include "mortise/protocol/remote.h"
#include "mortise/uplink/pki.h"
#include "groups_store.h"
#include "org_world.h"

namespace mortise::server {
namespace {

using nlohmann::json;
using testing::Caller;
using testing::kPassword;

// Columns: owner admin member guest installer outsider anonymous key key-
// ("key": the owner's API key with every scope; "key-": the owner's key
// without the route's scope). 401: no credentials; 403: session-only route
// for a key, missing scope, role too low; 404: not in the organisation.
const std::map<std::string, std::string>& Expected() {
  static const std::map<std::string, std::string> kMatrix = {
      {"GET /healthz", "200 200 200 200 200 200 200 200 200"},
      {"GET /readyz", "200 200 200 200 200 200 200 200 200"},
      {"GET /metrics", "200 200 200 200 200 200 200 200 200"},
      {"GET /api/v1/openapi.json", "200 200 200 200 200 200 200 200 200"},
      {"POST /api/v1/accounts", "201 201 201 201 201 201 201 201 201"},
      {"POST /api/v1/sessions", "201 201 201 201 201 201 201 201 201"},
      {"DELETE /api/v1/sessions/current", "204 204 204 204 204 204 401 403 403"},
      {"DELETE /api/v1/sessions", "204 204 204 204 204 204 401 403 403"},
      {"GET /api/v1/me", "200 200 200 200 200 200 401 200 403"},
      // The only owner of an organisation cannot delete their account.
      {"DELETE /api/v1/me", "409 204 204 204 204 409 401 403 403"},
      {"GET /api/v1/me/export", "200 200 200 200 200 200 401 200 403"},
      {"GET /api/v1/me/audit", "200 200 200 200 200 200 401 200 403"},
      {"POST /api/v1/me/password", "204 204 204 204 204 204 401 403 403"},
      {"POST /api/v1/me/totp", "201 201 201 201 201 201 401 403 403"},
      // Past the access rule, nothing is pending: the service's 409.
      {"POST /api/v1/me/totp/confirm", "409 409 409 409 409 409 401 403 403"},
      {"GET /api/v1/me/api-keys", "200 200 200 200 200 200 401 403 403"},
      {"POST /api/v1/me/api-keys", "201 201 201 201 201 201 401 403 403"},
      {"DELETE /api/v1/me/api-keys/{key_id}", "204 204 204 204 204 204 401 403 403"},
      {"GET /api/v1/orgs", "200 200 200 200 200 200 401 200 403"},
      {"POST /api/v1/orgs", "201 201 201 201 201 201 401 201 403"},
      // A plain GET past the access rule is told to upgrade; the upgrade
      // itself (Origin, tenants) is StreamTest's.
      {"GET /api/v1/stream", "426 426 426 426 426 426 401 426 403"},
      {"POST /api/v1/invitations/accept", "200 200 200 200 200 200 401 403 403"},
      {"GET /api/v1/orgs/{org_id}", "200 200 200 200 200 404 401 200 403"},
      {"DELETE /api/v1/orgs/{org_id}", "204 403 403 403 403 404 401 403 403"},
      {"GET /api/v1/orgs/{org_id}/sites", "200 200 200 200 200 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/sites", "201 201 403 403 403 404 401 201 403"},
      {"DELETE /api/v1/orgs/{org_id}/sites/{site_id}", "204 204 403 403 403 404 401 204 403"},
      {"GET /api/v1/orgs/{org_id}/doors", "200 200 200 200 200 404 401 200 403"},
      {"GET /api/v1/orgs/{org_id}/doors/{door_id}", "200 200 200 200 200 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/door-challenges", "201 201 403 403 201 404 401 201 403"},
      {"POST /api/v1/orgs/{org_id}/doors", "201 201 403 403 201 404 401 201 403"},
      {"DELETE /api/v1/orgs/{org_id}/doors/{door_id}", "204 204 403 403 403 404 401 204 403"},
      {"GET /api/v1/orgs/{org_id}/doors/{door_id}/state", "200 200 200 200 200 404 401 200 403"},
      // Any role may relay (the lock decides); the matrix's lock is offline,
      // so a permitted relay answers 503 lock_offline.
      {"POST /api/v1/orgs/{org_id}/doors/{door_id}/remote", "503 503 503 503 503 404 401 503 403"},
      // Issuing a broker certificate is registration's: past the rule, the
      // matrix's request is not the door's own (422 request_refused).
      {"POST /api/v1/orgs/{org_id}/doors/{door_id}/uplink-certificate", "422 422 403 403 422 404 401 422 403"},
      // Revoking the door's broker certificates is removing its identity.
      {"POST /api/v1/orgs/{org_id}/doors/{door_id}/uplink-certificate/revoke", "200 200 403 403 403 404 401 200 403"},
      {"GET /api/v1/orgs/{org_id}/people", "200 200 403 403 403 404 401 200 403"},
      {"PATCH /api/v1/orgs/{org_id}/people/{account_id}", "200 200 403 403 403 404 401 200 403"},
      {"DELETE /api/v1/orgs/{org_id}/people/{account_id}", "204 204 403 403 403 404 401 204 403"},
      {"GET /api/v1/orgs/{org_id}/invitations", "200 200 403 403 403 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/invitations", "201 201 403 403 403 404 401 201 403"},
      {"DELETE /api/v1/orgs/{org_id}/invitations/{invitation_id}", "204 204 403 403 403 404 401 204 403"},
      {"POST /api/v1/orgs/{org_id}/invitations/import", "201 201 403 403 403 404 401 201 403"},
      {"GET /api/v1/orgs/{org_id}/audit", "200 200 403 403 403 404 401 200 403"},
      {"GET /api/v1/orgs/{org_id}/audit.csv", "200 200 403 403 403 404 401 200 403"},
      {"GET /api/v1/orgs/{org_id}/doors/{door_id}/log", "200 200 403 403 403 404 401 200 403"},
      {"GET /api/v1/orgs/{org_id}/doors/{door_id}/log/pages", "200 200 403 403 403 404 401 200 403"},
      // Log custody: its state reads like the log; its key and the owner's
      // certificate are access management's (the matrix's certificate does
      // not decode: 400 invalid_key past the rule).
      {"GET /api/v1/orgs/{org_id}/doors/{door_id}/custody", "200 200 403 403 403 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/doors/{door_id}/custody", "400 400 403 403 403 404 401 400 403"},
      {"POST /api/v1/orgs/{org_id}/doors/{door_id}/custody/key", "200 200 403 403 403 404 401 200 403"},
      // Duties: every role sees whether the server keeps the clock; the
      // owner's certificates are access management's (the matrix's
      // certificate does not decode: 400 invalid_key); any role may ask a
      // token for its own key (the matrix's chain does not decode: 400).
      {"GET /api/v1/orgs/{org_id}/doors/{door_id}/duties", "200 200 200 200 200 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/doors/{door_id}/duties/{duty}", "400 400 403 403 403 404 401 400 403"},
      {"POST /api/v1/orgs/{org_id}/doors/{door_id}/revalidation", "400 400 400 400 400 404 401 400 403"},
      // Access: everyone in the organisation sees groups and what each door
      // holds; owners and admins upload signed objects, see keys, run jobs.
      {"GET /api/v1/orgs/{org_id}/groups", "200 200 200 200 200 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/groups", "201 201 403 403 403 404 401 201 403"},
      {"GET /api/v1/orgs/{org_id}/groups/{group_id}", "200 200 200 200 200 404 401 200 403"},
      {"GET /api/v1/orgs/{org_id}/doors/{door_id}/updates", "200 200 200 200 200 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/doors/{door_id}/updates", "201 201 403 403 403 404 401 201 403"},
      {"GET /api/v1/orgs/{org_id}/keys", "200 200 403 403 403 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/keys", "201 201 403 403 403 404 401 201 403"},
      {"GET /api/v1/orgs/{org_id}/people/{account_id}/access", "200 200 403 403 403 404 401 200 403"},
      {"POST /api/v1/orgs/{org_id}/people/{account_id}/removal", "201 201 403 403 403 404 401 201 403"},
      {"POST /api/v1/orgs/{org_id}/sites/{site_id}/lockdown", "201 201 403 403 403 404 401 201 403"},
      {"GET /api/v1/orgs/{org_id}/jobs/{job_id}", "200 200 403 403 403 404 401 200 403"},
  };
  return kMatrix;
}

std::vector<int> Statuses(const std::string& row) {
  std::istringstream in(row);
  std::vector<int> out;
  for (int s; in >> s;) out.push_back(s);
  return out;
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void Replace(std::string& s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
}

class AuthzTest : public testing::OrgWorldFixture {
 protected:
  void SetUp() override {
    OrgWorldFixture::SetUp();
    // The lock side: a link on which no lock is online, the state store, a CA.
    lock_side_.Attach(*api_, *repo_, clock_, 1000);
    std::string why;
    // A well-formed envelope (for some lock) and a lock's certificate request.
    const crypto::P256KeyPair holder = signer_.NewLock(), lock = signer_.NewLock();
    protocol::RemoteClient client(holder, {}, lock.public_key(), drbg_.drbg);
    protocol::CommandRequest unlock;
    unlock.command = protocol::Command::kUnlock;
    std::vector<uint8_t> env(protocol::kMaxRemoteMessageSize);
    env.resize(client.Build(unlock, 1, 1'800'000'000, env).value());
    envelope_.resize(protocol::Base64UrlLength(env.size()));
    envelope_.resize(protocol::Base64UrlEncode(env, envelope_).value());
    const auto key = uplink::GenerateKey(why);
    ASSERT_TRUE(key) << why;
    const auto request = uplink::MakeLockRequest(*key, lock, drbg_.drbg, why);
    ASSERT_TRUE(request) << why;
    cert_request_ = json::parse(uplink::RequestToJson(*request));
  }

  struct Prepared {
    std::string path;
    json body;
  };

  // The path with the world's ids, and a body a permitted caller's request
  // succeeds with; may create what the request consumes (a challenge, a key).
  Prepared Prepare(const std::string& method, const std::string& pattern, World& w, const Caller& caller) {
    Prepared p{pattern, nullptr};
    Replace(p.path, "{org_id}", w.org);
    Replace(p.path, "{site_id}", w.site_empty);
    Replace(p.path, "{door_id}", w.door);
    Replace(p.path, "{account_id}", w.target);
    Replace(p.path, "{invitation_id}", w.invitation);
    if (pattern.find("{key_id}") != std::string::npos) {
      // One of the caller's own keys (the owner's for the anonymous caller).
      const Caller& holder = caller.account_id.empty() ? w.callers["owner"] : caller;
      ApiKeyRow k;
      k.id = Id("key_");
      k.account_id = holder.account_id;
      k.name = "victim";
      k.token_hash = Sha256Hex(k.id);
      k.prefix = "mtk_";
      k.scopes = {"account:read"};
      repo_->CreateApiKey(k);
      Replace(p.path, "{key_id}", k.id);
    }
    if (pattern.find("{group_id}") != std::string::npos) {
      AccessGroupRow g{Id("grp_"), w.org, "Staff", RandomHex(random_, 8), ToHex(signer_.owner().public_key().bytes()),
                       "", "seed", clock_.NowMs()};
      EXPECT_TRUE(GroupsStore(*repo_).CreateGroup(g, SeedEvent(w.org)));
      Replace(p.path, "{group_id}", g.id);
    }
    if (pattern.find("{duty}") != std::string::npos) Replace(p.path, "{duty}", "time");
    if (pattern.find("{job_id}") != std::string::npos) {
      BulkJobRow j{Id("job_"), w.org, "remove_person", w.target, "seed", clock_.NowMs()};
      GroupsStore(*repo_).CreateJob(j, {}, SeedEvent(w.org));
      Replace(p.path, "{job_id}", j.id);
    }
    const std::string key = method + " " + pattern;
    if (key == "POST /api/v1/orgs/{org_id}/groups") {
      p.body = {{"name", "Staff"}, {"protocol_id", RandomHex(random_, 8)},
                {"owner_public_key", ToHex(signer_.owner().public_key().bytes())}, {"schedule", "weekdays"}};
    }
    if (key == "POST /api/v1/orgs/{org_id}/doors/{door_id}/updates") {
      p.body = {{"kind", "access_list"}, {"update", signer_.AccessList(w.door_lock_id, 1, 1)}};
    }
    if (key == "POST /api/v1/orgs/{org_id}/keys") {
      p.body = {{"account_id", w.target}, {"chain", signer_.MemberChain(w.door_lock_id, 1, 77)}, {"door_id", w.door}};
    }
    if (key == "POST /api/v1/orgs/{org_id}/people/{account_id}/removal") {
      p.body = {{"updates", {{{"door_id", w.door}, {"update", signer_.AccessList(w.door_lock_id, 1, 1)}}}}};
    }
    if (key == "POST /api/v1/orgs/{org_id}/sites/{site_id}/lockdown") p.body = {{"envelopes", json::array()}};
    if (key == "POST /api/v1/accounts") p.body = {{"email", "new-" + Id("") + "@example.org"}, {"password", kPassword}};
    if (key == "POST /api/v1/sessions") p.body = {{"email", w.callers["owner"].email}, {"password", kPassword}};
    if (key == "DELETE /api/v1/me") p.body = {{"password", kPassword}};
    if (key == "POST /api/v1/me/password") {
      p.body = {{"current_password", kPassword}, {"new_password", "another long password"}};
    }
    if (key == "POST /api/v1/me/totp/confirm") p.body = {{"code", "000000"}};
    if (key == "POST /api/v1/me/api-keys") p.body = {{"name", "k"}, {"scopes", {"account:read"}}};
    if (key == "POST /api/v1/invitations/accept") p.body = {{"token", w.accept_token}};
    if (key == "POST /api/v1/orgs") p.body = {{"name", "New"}, {"kind", "organisation"}};
    if (key == "POST /api/v1/orgs/{org_id}/sites") p.body = {{"name", "Annex"}};
    if (key == "PATCH /api/v1/orgs/{org_id}/people/{account_id}") p.body = {{"role", "guest"}};
    if (key == "POST /api/v1/orgs/{org_id}/invitations") p.body = {{"role", "member"}};
    if (key == "POST /api/v1/orgs/{org_id}/invitations/import") p.body = {{"csv", "email,role\r\nnew@example.org,guest\r\n"}};
    if (key == "POST /api/v1/orgs/{org_id}/doors/{door_id}/remote") p.body = {{"envelope", envelope_}};
    if (key == "POST /api/v1/orgs/{org_id}/doors/{door_id}/uplink-certificate") p.body = cert_request_;
    if (key == "POST /api/v1/orgs/{org_id}/doors/{door_id}/custody") p.body = {{"certificate", "MK1.x"}};
    if (key == "POST /api/v1/orgs/{org_id}/doors/{door_id}/duties/{duty}") p.body = {{"certificate", "MK1.x"}};
    if (key == "POST /api/v1/orgs/{org_id}/doors/{door_id}/revalidation") p.body = {{"chain", "MK1.x"}};
    if (key == "POST /api/v1/orgs/{org_id}/doors") {
      // A challenge issued to this caller (the owner's for the anonymous one).
      const Caller& holder = caller.account_id.empty() ? w.callers["owner"] : caller;
      DoorChallengeRow ch{Id("chal_"), w.org, holder.account_id, RandomHex(random_, kDoorChallengeSize),
                          clock_.NowMs() + 60000};
      repo_->CreateDoorChallenge(ch);
      p.body = signer_.Body(ch.id, ch.challenge, w.org, w.site_full, signer_.NewLock());
    }
    return p;
  }

  testing::HttpResult Send(const std::string& method, const Prepared& p, const std::vector<std::string>& headers) {
    return Call(method, p.path, p.body, headers);
  }

  testing::SeededDrbg drbg_{31};
  testing::AttachedLink lock_side_;
  std::string envelope_;
  json cert_request_;
};

// The matrix itself. Also: every cookie-authenticated write without the
// CSRF token is refused (403 csrf_failed) whatever the role.
TEST_P(AuthzTest, A09_EveryDocumentedOperationHasAnExpectedAnswerForEveryCaller) {
  const json doc = json::parse(OpenApiDocument());
  std::set<std::string> documented;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) documented.insert(Upper(method) + " " + path);
  }
  for (const auto& [route, row] : Expected()) {
    EXPECT_TRUE(documented.count(route)) << "the matrix names an operation the document lacks: " << route;
  }
  int cells = 0;
  for (const auto& route : documented) {
    const auto found = Expected().find(route);
    if (found == Expected().end()) {
      ADD_FAILURE() << "no rule in the authorization matrix for " << route;
      continue;
    }
    const auto expected = Statuses(found->second);
    ASSERT_EQ(expected.size(), testing::MatrixColumns().size()) << route;
    const std::string method = route.substr(0, route.find(' '));
    const std::string pattern = route.substr(route.find(' ') + 1);
    const RouteSpec* rule = FindRouteRule(method, pattern);
    ASSERT_NE(rule, nullptr) << route;
    for (size_t col = 0; col < expected.size(); ++col) {
      const std::string& who = testing::MatrixColumns()[col];
      World w = NewWorld(rule->scope.empty() ? "account:read" : rule->scope);
      const Caller& caller = w.callers[who];
      const auto r = Send(method, Prepare(method, pattern, w, caller), caller.headers);
      EXPECT_EQ(r.status, expected[col]) << route << " as " << who << ": " << r.body;
      ++cells;
    }
    if (method != "GET" && rule->access != Access::kPublic) {
      World w = NewWorld("account:read");
      const Caller& owner = w.callers["owner"];
      std::vector<std::string> no_csrf = {owner.headers.at(0)};
      const auto r = Send(method, Prepare(method, pattern, w, owner), no_csrf);
      EXPECT_EQ(r.ErrorCode(), "csrf_failed") << route;
    }
  }
  EXPECT_GE(cells, 59 * 9);
}

// Guest-to-admin (August, DEF CON 24): nobody raises their own role or
// hands out one above their own; an admin cannot touch admins or owners.
TEST_P(AuthzTest, A09_NobodyPromotesThemselfOrHandsOutARoleAboveTheirOwn) {
  World w = NewWorld("account:read");
  auto& c = w.callers;
  const std::string people = "/api/v1/orgs/" + w.org + "/people/";
  const auto patch = [&](const Caller& who, const std::string& target, const std::string& role) {
    return Call("PATCH", people + target, {{"role", role}}, who.headers);
  };
  EXPECT_EQ(patch(c["guest"], c["guest"].account_id, "admin").status, 403);
  EXPECT_EQ(patch(c["guest"], c["guest"].account_id, "owner").status, 403);
  EXPECT_EQ(patch(c["member"], c["member"].account_id, "admin").status, 403);
  EXPECT_EQ(patch(c["installer"], c["installer"].account_id, "admin").status, 403);
  EXPECT_EQ(patch(c["admin"], c["admin"].account_id, "owner").ErrorCode(), "forbidden_role");
  EXPECT_EQ(patch(c["admin"], c["member"].account_id, "admin").ErrorCode(), "forbidden_role");
  EXPECT_EQ(patch(c["admin"], c["owner"].account_id, "guest").ErrorCode(), "forbidden_role");
  EXPECT_EQ(Call("DELETE", people + c["owner"].account_id, nullptr, c["admin"].headers).ErrorCode(),
            "forbidden_role");
  const std::string invite = "/api/v1/orgs/" + w.org + "/invitations";
  EXPECT_EQ(Call("POST", invite, {{"role", "admin"}}, c["admin"].headers).ErrorCode(), "forbidden_role");
  EXPECT_EQ(Call("POST", invite, {{"role", "owner"}}, c["admin"].headers).ErrorCode(), "forbidden_role");
  EXPECT_EQ(Call("POST", invite, {{"role", "guest"}}, c["guest"].headers).ErrorCode(), "forbidden_role");
  // A guest's own API key carries no more than the guest.
  const Caller guest_key = NewKey(c["guest"], {"orgs:read", "orgs:write", "audit:read"});
  EXPECT_EQ(patch(guest_key, c["guest"].account_id, "admin").status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/orgs/" + w.org + "/audit", nullptr, guest_key.headers).status, 403);
  // Nothing changed.
  for (const char* role : {"admin", "member", "guest", "installer"}) {
    EXPECT_EQ(repo_->Membership(w.org, c[role].account_id)->role, role);
  }
  EXPECT_EQ(repo_->Membership(w.org, c["owner"].account_id)->role, "owner");
  // What an admin may do, it can.
  EXPECT_EQ(patch(c["admin"], c["member"].account_id, "installer").status, 200);
  EXPECT_EQ(patch(c["owner"], c["member"].account_id, "admin").status, 200);
}

// Cancelling an invitation decides its role as much as sending it: an admin
// cancels only the invitations it could have sent.
TEST_P(AuthzTest, A09_AnAdminCannotCancelTheOwnersInvitationsForAdminOrOwner) {
  World w = NewWorld("account:read");
  auto& c = w.callers;
  const std::string invite = "/api/v1/orgs/" + w.org + "/invitations";
  for (const char* role : {"owner", "admin"}) {
    const auto sent = Call("POST", invite, {{"role", role}}, c["owner"].headers);
    ASSERT_EQ(sent.status, 201) << role;
    const std::string id = sent.Json()["invitation"]["id"];
    EXPECT_EQ(Call("DELETE", invite + "/" + id, nullptr, c["admin"].headers).ErrorCode(), "forbidden_role") << role;
    EXPECT_TRUE(repo_->Invitation(w.org, id).has_value()) << role;
    EXPECT_EQ(Call("DELETE", invite + "/" + id, nullptr, c["owner"].headers).status, 204) << role;
  }
  const auto member = Call("POST", invite, {{"role", "member"}}, c["owner"].headers);
  ASSERT_EQ(member.status, 201);
  EXPECT_EQ(Call("DELETE", invite + "/" + std::string(member.Json()["invitation"]["id"]), nullptr, c["admin"].headers).status, 204);
}

// Object ids guessed from another tenant: under one's own organisation they
// are not found, under theirs one is not a member; nothing of theirs changes.
TEST_P(AuthzTest, A09_ObjectIdsOfAnotherTenantAreNotFoundAndUntouched) {
  World w = NewWorld("account:read");
  const Caller& mallory = w.callers["outsider"];
  const std::string mine = "/api/v1/orgs/" + w.other_org;
  std::string mallory_site;
  {
    const auto sites = Call("GET", mine + "/sites", nullptr, mallory.headers).Json();
    mallory_site = sites["items"][0]["id"];
  }
  EXPECT_EQ(Call("GET", mine + "/doors/" + w.door, nullptr, mallory.headers).status, 404);
  EXPECT_EQ(Call("DELETE", mine + "/doors/" + w.door, nullptr, mallory.headers).status, 404);
  EXPECT_EQ(Call("DELETE", mine + "/sites/" + w.site_empty, nullptr, mallory.headers).status, 404);
  EXPECT_EQ(Call("PATCH", mine + "/people/" + w.target, {{"role", "owner"}}, mallory.headers).status, 404);
  EXPECT_EQ(Call("DELETE", mine + "/people/" + w.target, nullptr, mallory.headers).status, 404);
  EXPECT_EQ(Call("DELETE", mine + "/invitations/" + w.invitation, nullptr, mallory.headers).status, 404);
  // A door registered into the outsider's organisation on the victim's site.
  const auto ch = Call("POST", mine + "/door-challenges", json::object(), mallory.headers).Json();
  auto lock = signer_.NewLock();
  EXPECT_EQ(Call("POST", mine + "/doors",
                 signer_.Body(ch["challenge_id"], ch["challenge"], w.other_org, w.site_full, lock), mallory.headers)
                .status,
            404);
  // Their organisation, read and written directly: the same 404 as a
  // nonexistent one, so ids reveal nothing.
  const std::string theirs = "/api/v1/orgs/" + w.org;
  const auto cross = Call("GET", theirs + "/doors/" + w.door, nullptr, mallory.headers);
  const auto none = Call("GET", "/api/v1/orgs/org_doesnotexist/doors/" + w.door, nullptr, mallory.headers);
  EXPECT_EQ(cross.status, 404);
  EXPECT_EQ(cross.body, none.body);
  EXPECT_EQ(Call("POST", theirs + "/invitations", {{"role", "owner"}}, mallory.headers).status, 404);
  EXPECT_EQ(Call("GET", theirs + "/audit.csv", nullptr, mallory.headers).status, 404);
  // The outsider's list shows only their own organisation.
  const auto list = Call("GET", "/api/v1/orgs", nullptr, mallory.headers).Json();
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["id"], w.other_org);
  // Untouched.
  EXPECT_TRUE(repo_->Door(w.org, w.door));
  EXPECT_TRUE(repo_->Site(w.org, w.site_empty));
  EXPECT_EQ(repo_->Membership(w.org, w.target)->role, "member");
  EXPECT_EQ(repo_->Invitations(w.org, "", 10).size(), 1u);
  EXPECT_FALSE(repo_->Membership(w.org, mallory.account_id));
}

TEST_P(AuthzTest, A09_AnOrganisationIsNeverLeftWithoutAnOwner) {
  World w = NewWorld("account:read");
  auto& c = w.callers;
  const std::string me = "/api/v1/orgs/" + w.org + "/people/" + c["owner"].account_id;
  EXPECT_EQ(Call("PATCH", me, {{"role", "admin"}}, c["owner"].headers).ErrorCode(), "last_owner");
  EXPECT_EQ(Call("DELETE", me, nullptr, c["owner"].headers).ErrorCode(), "last_owner");
  EXPECT_EQ(Call("DELETE", "/api/v1/me", {{"password", kPassword}}, c["owner"].headers).ErrorCode(), "sole_owner");
  // With a second owner, the first may step down and leave.
  const std::string admin = "/api/v1/orgs/" + w.org + "/people/" + c["admin"].account_id;
  EXPECT_EQ(Call("PATCH", admin, {{"role", "owner"}}, c["owner"].headers).status, 200);
  EXPECT_EQ(Call("PATCH", me, {{"role", "member"}}, c["owner"].headers).status, 200);
  EXPECT_EQ(Call("DELETE", me, nullptr, c["owner"].headers).status, 204);
  EXPECT_EQ(repo_->CountOwners(w.org), 1);
  // Any member may leave.
  EXPECT_EQ(Call("DELETE", "/api/v1/orgs/" + w.org + "/people/" + c["guest"].account_id, nullptr, c["guest"].headers)
                .status,
            204);
}

TEST_P(AuthzTest, A09_InvitationsAreSingleUseExpireAndCannotBeGuessed) {
  World w = NewWorld("account:read");
  auto& c = w.callers;
  const auto inv =
      Call("POST", "/api/v1/orgs/" + w.org + "/invitations", {{"role", "guest"}, {"note", "Eve"}}, c["owner"].headers)
          .Json();
  const std::string token = inv["token"];
  EXPECT_TRUE(token.starts_with("mti_"));
  // The list never shows the token.
  EXPECT_EQ(Call("GET", "/api/v1/orgs/" + w.org + "/invitations", nullptr, c["owner"].headers).body.find(token),
            std::string::npos);
  const Caller eve = NewAccount("eve"), bob = NewAccount("bob");
  EXPECT_EQ(Call("POST", "/api/v1/invitations/accept", {{"token", "mti_guessed"}}, eve.headers).ErrorCode(),
            "invitation_unknown");
  // A member accepting an invitation into their own organisation gains nothing.
  EXPECT_EQ(Call("POST", "/api/v1/invitations/accept", {{"token", token}}, c["guest"].headers).ErrorCode(),
            "already_member");
  const auto ok = Call("POST", "/api/v1/invitations/accept", {{"token", token}}, eve.headers);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Json()["role"], "guest");
  EXPECT_EQ(repo_->Membership(w.org, eve.account_id)->role, "guest");
  EXPECT_EQ(Call("POST", "/api/v1/invitations/accept", {{"token", token}}, bob.headers).ErrorCode(),
            "invitation_used");
  EXPECT_FALSE(repo_->Membership(w.org, bob.account_id));
  // A revoked invitation is gone.
  std::string revoked_token;
  const std::string revoked = NewInvitation(w.org, "member", revoked_token);
  EXPECT_EQ(Call("DELETE", "/api/v1/orgs/" + w.org + "/invitations/" + revoked, nullptr, c["admin"].headers).status,
            204);
  EXPECT_EQ(Call("POST", "/api/v1/invitations/accept", {{"token", revoked_token}}, bob.headers).ErrorCode(),
            "invitation_unknown");
  // Expiry (7 days by default) on the simulated clock; one millisecond
  // before, it would have been accepted.
  const std::string late =
      Call("POST", "/api/v1/orgs/" + w.org + "/invitations", {{"role", "member"}}, c["owner"].headers).Json()["token"];
  clock_.Advance(settings_.orgs.invitation_lifetime_s * 1000);
  EXPECT_EQ(Call("POST", "/api/v1/invitations/accept", {{"token", late}}, NewAccount("late").headers).ErrorCode(),
            "invitation_expired");
  clock_.Advance(-1);
  EXPECT_EQ(Call("POST", "/api/v1/invitations/accept", {{"token", late}}, NewAccount("late").headers).status, 200);
}

// A door is registered only with proof that the registrant holds the lock's
// owner key, over a fresh challenge of this account, this organisation and
// this lock; the challenge is spent by any attempt.
TEST_P(AuthzTest, A09_ADoorIsRegisteredOnlyWithProofOfTheOwnerKey) {
  World w = NewWorld("account:read");
  const Caller& owner = w.callers["owner"];
  const std::string base = "/api/v1/orgs/" + w.org;
  const auto challenge = [&](const Caller& who, const std::string& org) {
    return Call("POST", "/api/v1/orgs/" + org + "/door-challenges", json::object(), who.headers).Json();
  };
  const auto doors = [&] { return repo_->Doors(w.org, "", 100).size(); };
  const size_t before = doors();
  auto lock = signer_.NewLock();

  // Signed by another key than the one named as owner.
  {
    const auto ch = challenge(owner, w.org);
    auto stranger = signer_.NewLock();
    const auto r = Call("POST", base + "/doors",
                        signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock, &stranger),
                        owner.headers);
    EXPECT_EQ(r.ErrorCode(), "invalid_signature");
    // The challenge is spent even by a failed attempt.
    const auto again = Call("POST", base + "/doors",
                            signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock), owner.headers);
    EXPECT_EQ(again.ErrorCode(), "invalid_challenge");
  }
  // Signed for another organisation (the outsider's signature replayed here).
  {
    const auto ch = challenge(owner, w.org);
    const auto r = Call("POST", base + "/doors",
                        signer_.Body(ch["challenge_id"], ch["challenge"], w.other_org, w.site_full, lock),
                        owner.headers);
    EXPECT_EQ(r.ErrorCode(), "invalid_signature");
  }
  // Another account's challenge, another organisation's challenge.
  {
    const auto ch = challenge(w.callers["admin"], w.org);
    EXPECT_EQ(Call("POST", base + "/doors", signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock),
                   owner.headers)
                  .ErrorCode(),
              "invalid_challenge");
    const auto theirs = challenge(w.callers["outsider"], w.other_org);
    EXPECT_EQ(Call("POST", base + "/doors",
                   signer_.Body(theirs["challenge_id"], theirs["challenge"], w.org, w.site_full, lock), owner.headers)
                  .ErrorCode(),
              "invalid_challenge");
  }
  // A lock id that is not the lock key's.
  {
    const auto ch = challenge(owner, w.org);
    json body = signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock);
    body["lock_id"] = std::string(32, '0');
    EXPECT_EQ(Call("POST", base + "/doors", body, owner.headers).ErrorCode(), "invalid_lock_key");
  }
  // Every single changed byte of the signed fields is refused.
  {
    const auto ch = challenge(owner, w.org);
    json body = signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock);
    std::string sig = body["signature"];
    sig[10] = sig[10] == '0' ? '1' : '0';
    body["signature"] = sig;
    EXPECT_EQ(Call("POST", base + "/doors", body, owner.headers).ErrorCode(), "invalid_signature");
  }
  // Expired.
  {
    const auto ch = challenge(owner, w.org);
    clock_.Advance(settings_.orgs.door_challenge_lifetime_s * 1000);
    EXPECT_EQ(Call("POST", base + "/doors", signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock),
                   owner.headers)
                  .ErrorCode(),
              "challenge_expired");
  }
  EXPECT_EQ(doors(), before);
  // The genuine registration, once; the same lock again is refused.
  {
    const auto ch = challenge(owner, w.org);
    const auto r = Call("POST", base + "/doors",
                        signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock), owner.headers);
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.Json()["door"]["lock_id"], ToHex(protocol::LockIdOf(lock.public_key())));
    EXPECT_EQ(r.Json()["door"]["owner_public_key"], ToHex(signer_.owner().public_key().bytes()));
    const auto ch2 = challenge(owner, w.org);
    EXPECT_EQ(Call("POST", base + "/doors",
                   signer_.Body(ch2["challenge_id"], ch2["challenge"], w.org, w.site_full, lock), owner.headers)
                  .ErrorCode(),
              "door_exists");
  }
  EXPECT_EQ(doors(), before + 1);
}

// Registration squatting: someone who knows a lock's public key (every key
// string carries it) makes up an owner key, signs the challenge with it and
// registers the lock first. The lock's claim proof names the key the lock
// installed, signed by the lock: a made-up key has none, a proof for the
// real owner's key does not cover the made-up key, and a proof signed by
// any other key than the lock's is refused. The real owner then registers.
TEST_P(AuthzTest, A09_AMadeUpOwnerKeyCannotRegisterARealLock) {
  World w = NewWorld("account:read");
  const Caller& mallory = w.callers["outsider"];
  const Caller& owner = w.callers["owner"];
  const std::string hers = "/api/v1/orgs/" + w.other_org;
  const std::string her_site = Call("GET", hers + "/sites", nullptr, mallory.headers).Json()["items"][0]["id"];
  auto lock = signer_.NewLock();
  const auto made_up = signer_.NewLock();  // her own key, named as the owner
  const auto her_body = [&](const nlohmann::json& proof) {
    const auto ch = Call("POST", hers + "/door-challenges", json::object(), mallory.headers).Json();
    const auto message = DoorRegistrationMessage(FromHex(ch["challenge"].get<std::string>(), kDoorChallengeSize).value(), w.other_org,
                                                 protocol::LockIdOf(lock.public_key()), lock.public_key().bytes())
                             .value();
    crypto::P256Signature sig{};
    EXPECT_TRUE(made_up.Sign(message, sig, drbg_.drbg).ok());
    json body = {{"challenge_id", ch["challenge_id"]},
                 {"site_id", her_site},
                 {"name", "Squatted"},
                 {"lock_id", ToHex(protocol::LockIdOf(lock.public_key()))},
                 {"lock_public_key", ToHex(lock.public_key().bytes())},
                 {"owner_public_key", ToHex(made_up.public_key().bytes())},
                 {"signature", ToHex(sig)}};
    if (!proof.is_null()) body["claim_proof"] = proof;
    return body;
  };
  // No proof at all.
  EXPECT_EQ(Call("POST", hers + "/doors", her_body(nullptr), mallory.headers).ErrorCode(), "claim_proof_required");
  // The real owner's proof (say, copied from a backup): it names the real key.
  EXPECT_EQ(Call("POST", hers + "/doors", her_body(signer_.ClaimProofJson(lock, signer_.owner().public_key())),
                 mallory.headers)
                .ErrorCode(),
            "invalid_claim_proof");
  // A proof for her key signed by her own key, not the lock's.
  EXPECT_EQ(Call("POST", hers + "/doors", her_body(signer_.ClaimProofJson(made_up, made_up.public_key())),
                 mallory.headers)
                .ErrorCode(),
            "invalid_claim_proof");
  // A changed field of a genuine proof (the generation) breaks it.
  {
    json proof = signer_.ClaimProofJson(lock, signer_.owner().public_key());
    proof["claim_generation"] = 2;
    const auto ch = Call("POST", "/api/v1/orgs/" + w.org + "/door-challenges", json::object(), owner.headers).Json();
    json body = signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock);
    body["claim_proof"] = proof;
    EXPECT_EQ(Call("POST", "/api/v1/orgs/" + w.org + "/doors", body, owner.headers).ErrorCode(),
              "invalid_claim_proof");
  }
  EXPECT_EQ(repo_->Doors(w.other_org, "", 100).size(), 0u);
  // The real owner registers it (the lock's proof for their key).
  const auto ch = Call("POST", "/api/v1/orgs/" + w.org + "/door-challenges", json::object(), owner.headers).Json();
  const auto r = Call("POST", "/api/v1/orgs/" + w.org + "/doors",
                      signer_.Body(ch["challenge_id"], ch["challenge"], w.org, w.site_full, lock), owner.headers);
  EXPECT_EQ(r.status, 201) << r.body;
}

INSTANTIATE_TEST_SUITE_P(Backend, AuthzTest, ::testing::Values(testing::TestBackend()));

}  // namespace
}  // namespace mortise::server
