// GET /api/v1/stream: a real Beast WebSocket client against the in-process
// server. Events reach only the streams of their organisation's members
// (A09), credentials and Origin are checked, a client that stops reading is
// disconnected once its queue is full while the publisher goes on, and
// signing out closes the stream.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "beast_client.h"

namespace mortise::server::testing {
namespace {

class StreamTest : public ApiFixture {
 protected:
  std::string Origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Signs up and in; creates an organisation; returns its id.
  std::string MemberOfNewOrg(const std::string& email, Browser& out) {
    SignUp(email);
    out = SignIn(email);
    const auto r = out.Call("POST", "/api/v1/orgs", {{"name", email + " home"}});
    EXPECT_EQ(r->status, 201) << r->body;
    return r->Json()["organisation"]["id"];
  }

  std::unique_ptr<WsClient> Open(const std::vector<std::string>& headers, HttpResult* refused = nullptr) {
    HttpResult r;
    std::string why;
    auto ws = WsClient::Connect(port_, "/api/v1/stream", headers, "", r, why);
    if (refused) *refused = r;
    return ws;
  }

  std::unique_ptr<WsClient> OpenAs(const Browser& b) {
    auto ws = Open({"Cookie: " + b.cookie, "Origin: " + Origin()});
    EXPECT_TRUE(ws);
    return ws;
  }

  static json Next(WsClient& ws) {
    const auto m = ws.Read();
    EXPECT_TRUE(m) << "closed: " << ws.close_code() << " " << ws.close_reason();
    return m ? json::parse(*m) : json();
  }

  static json Subscribe(WsClient& ws, const std::string& org) {
    EXPECT_TRUE(ws.Write(json{{"subscribe", {org}}}.dump()));
    return Next(ws);
  }
};

TEST_P(StreamTest, A09_AnEventReachesTheStreamsOfItsOrganisationAndNoOther) {
  Browser ana, bob;
  const std::string org_a = MemberOfNewOrg("ana@example.org", ana);
  const std::string org_b = MemberOfNewOrg("bob@example.org", bob);
  auto ana_ws = OpenAs(ana);
  auto bob_ws = OpenAs(bob);
  ASSERT_TRUE(ana_ws && bob_ws);
  EXPECT_EQ(Subscribe(*ana_ws, org_a), (json{{"type", "subscribed"}, {"org_ids", {org_a}}}));
  // Bob asks for Ana's organisation: the answer of an id that does not exist.
  const json refused = Subscribe(*bob_ws, org_a);
  EXPECT_EQ(refused["type"], "error");
  EXPECT_EQ(refused["code"], "not_found");
  EXPECT_EQ(Next(*bob_ws), (json{{"type", "subscribed"}, {"org_ids", json::array()}}));
  EXPECT_EQ(Subscribe(*bob_ws, org_b), (json{{"type", "subscribed"}, {"org_ids", {org_b}}}));

  const json event = {{"type", "door.state"}, {"door_id", "door_1"}, {"state", "locked"}};
  EXPECT_EQ(api_->events().Publish(org_a, event), 1u);
  json got = Next(*ana_ws);
  EXPECT_EQ(got["type"], "door.state");
  EXPECT_EQ(got["door_id"], "door_1");
  EXPECT_EQ(got["org_id"], org_a);
  // Bob's next message is his own organisation's event: Ana's never came.
  EXPECT_EQ(api_->events().Publish(org_b, {{"type", "door.online"}, {"door_id", "door_2"}, {"online", true}}), 1u);
  got = Next(*bob_ws);
  EXPECT_EQ(got["org_id"], org_b);
  EXPECT_EQ(got["door_id"], "door_2");
}

TEST_P(StreamTest, A09_AGuestGetsDoorStatesButNotTheLogAndARemovedPersonNothing) {
  Browser ana, gus;
  const std::string org = MemberOfNewOrg("ana@example.org", ana);
  SignUp("gus@example.org");
  gus = SignIn("gus@example.org");
  const auto inv = ana.Call("POST", "/api/v1/orgs/" + org + "/invitations", {{"role", "guest"}});
  ASSERT_EQ(inv->status, 201) << inv->body;
  ASSERT_EQ(gus.Call("POST", "/api/v1/invitations/accept", {{"token", inv->Json()["token"]}})->status, 200);
  auto ws = OpenAs(gus);
  ASSERT_TRUE(ws);
  EXPECT_EQ(Subscribe(*ws, org)["type"], "subscribed");
  EXPECT_EQ(api_->events().Publish(org, {{"type", "door.log"}, {"door_id", "door_1"}}), 0u);
  EXPECT_EQ(api_->events().Publish(org, {{"type", "door.state"}, {"door_id", "door_1"}}), 1u);
  EXPECT_EQ(Next(*ws)["type"], "door.state");
  const std::string gus_id = gus.Call("GET", "/api/v1/me")->Json()["account"]["id"];
  ASSERT_EQ(ana.Call("DELETE", "/api/v1/orgs/" + org + "/people/" + gus_id)->status, 204);
  EXPECT_EQ(api_->events().Publish(org, {{"type", "door.state"}, {"door_id", "door_1"}}), 0u);
}

TEST_P(StreamTest, NoCredentialsAWrongOriginOrAKeyWithoutTheScopeAreRefused) {
  Browser ana;
  const std::string org = MemberOfNewOrg("ana@example.org", ana);
  HttpResult r;
  EXPECT_FALSE(Open({}, &r));
  EXPECT_EQ(r.status, 401);
  EXPECT_FALSE(Open({"Cookie: " + ana.cookie, "Origin: https://evil.example"}, &r));
  EXPECT_EQ(r.status, 403);
  EXPECT_FALSE(Open({"Cookie: " + ana.cookie}, &r));
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(Open({"Cookie: " + ana.cookie, "Origin: " + Origin()}));

  const auto narrow = ana.Call("POST", "/api/v1/me/api-keys", {{"name", "n"}, {"scopes", {"account:read"}}});
  ASSERT_EQ(narrow->status, 201) << narrow->body;
  EXPECT_FALSE(Open({"Authorization: Bearer " + narrow->Json()["token"].get<std::string>()}, &r));
  EXPECT_EQ(r.status, 403);
  const auto key = ana.Call("POST", "/api/v1/me/api-keys", {{"name", "k"}, {"scopes", {"orgs:read"}}});
  ASSERT_EQ(key->status, 201) << key->body;
  // A script's key needs no Origin.
  auto ws = Open({"Authorization: Bearer " + key->Json()["token"].get<std::string>()});
  ASSERT_TRUE(ws);
  // Without audit:read (which the log routes need) it gets door states but
  // no door log events.
  EXPECT_EQ(Subscribe(*ws, org)["type"], "subscribed");
  EXPECT_EQ(api_->events().Publish(org, {{"type", "door.log"}, {"door_id", "door_1"}}), 0u);
  EXPECT_EQ(api_->events().Publish(org, {{"type", "door.state"}, {"door_id", "door_1"}}), 1u);
  EXPECT_EQ(Next(*ws)["type"], "door.state");
  // Revoking the key closes its stream.
  ASSERT_EQ(ana.Call("DELETE", "/api/v1/me/api-keys/" + key->Json()["api_key"]["id"].get<std::string>())->status, 204);
  EXPECT_FALSE(ws->Read());
  EXPECT_EQ(ws->close_code(), 1008);
  EXPECT_EQ(ws->close_reason(), "API key revoked");

  // A plain GET is told to upgrade.
  EXPECT_EQ(ana.Call("GET", "/api/v1/stream")->status, 426);
}

TEST_P(StreamTest, SigningOutClosesTheStream) {
  Browser ana;
  const std::string org = MemberOfNewOrg("ana@example.org", ana);
  auto ws = OpenAs(ana);
  ASSERT_TRUE(ws);
  EXPECT_EQ(Subscribe(*ws, org)["type"], "subscribed");
  ASSERT_EQ(ana.Call("DELETE", "/api/v1/sessions/current")->status, 204);
  EXPECT_FALSE(ws->Read());
  EXPECT_EQ(ws->close_code(), 1008);
  EXPECT_EQ(ws->close_reason(), "signed out");
  EXPECT_EQ(api_->events().Publish(org, {{"type", "door.state"}}), 0u);
}

// A session that expires by itself (idle timeout or lifetime) after its
// stream opened ends the stream too; a session still valid keeps its own.
// The server's clock is a fake: no waiting.
TEST_P(StreamTest, AStreamIsClosedWhenItsSessionExpiresAfterItOpened) {
  Browser ana, bob;
  const std::string org = MemberOfNewOrg("ana@example.org", ana);
  auto ws = OpenAs(ana);
  ASSERT_TRUE(ws);
  EXPECT_EQ(Subscribe(*ws, org)["type"], "subscribed");
  EXPECT_EQ(api_->CloseExpiredStreams(), 0u);
  // Bob signs in 11 hours later; an hour after that Ana's session has been
  // idle for the whole idle timeout (12 h), Bob's for one hour.
  clock_.Advance(11 * 3600 * 1000LL);
  const std::string bobs = MemberOfNewOrg("bob@example.org", bob);
  auto bws = OpenAs(bob);
  ASSERT_TRUE(bws);
  EXPECT_EQ(Subscribe(*bws, bobs)["type"], "subscribed");
  clock_.Advance(3600 * 1000LL);
  EXPECT_EQ(api_->CloseExpiredStreams(), 1u);
  EXPECT_FALSE(ws->Read());
  EXPECT_EQ(ws->close_code(), 1008);
  EXPECT_EQ(ws->close_reason(), "session expired");
  EXPECT_EQ(api_->events().Publish(bobs, {{"type", "door.state"}}), 1u);
  EXPECT_EQ(Next(*bws)["type"], "door.state");
}

TEST_P(StreamTest, ASlowConsumerIsDisconnectedWhileThePublisherAndOthersGoOn) {
  Browser ana;
  const std::string org = MemberOfNewOrg("ana@example.org", ana);
  auto slow = OpenAs(ana);
  auto fast = OpenAs(ana);
  ASSERT_TRUE(slow && fast);
  EXPECT_EQ(Subscribe(*slow, org)["type"], "subscribed");
  EXPECT_EQ(Subscribe(*fast, org)["type"], "subscribed");
  // `slow` never reads: the kernel's buffers fill, then its queue (256
  // events or 1 MiB), then it is dropped. Publish never waits for it. The
  // bound on the loop only keeps a broken build from spinning forever.
  const json big = {{"type", "door.state"}, {"door_id", "door_1"}, {"pad", std::string(64 * 1024, 'x')}};
  int published = 0;
  size_t reached = 2;
  while (reached == 2 && published < 4000) {
    reached = api_->events().Publish(org, big);
    ++published;
    // The fast client keeps up.
    const auto m = fast->Read();
    ASSERT_TRUE(m);
  }
  EXPECT_EQ(reached, 1u) << "the slow client was never dropped after " << published << " events";
  // What `slow` receives: the events written before, then the close.
  int drained = 0;
  while (slow->Read()) ++drained;
  EXPECT_LT(drained, published);
  EXPECT_EQ(slow->close_code(), 1008);
  EXPECT_EQ(slow->close_reason(), "slow consumer: too many events waiting");
  EXPECT_EQ(api_->events().Publish(org, {{"type", "door.state"}}), 1u);
}

TEST_P(StreamTest, ShutdownClosesStreamsAsGoingAway) {
  Browser ana;
  const std::string org = MemberOfNewOrg("ana@example.org", ana);
  auto ws = OpenAs(ana);
  ASSERT_TRUE(ws);
  EXPECT_EQ(Subscribe(*ws, org)["type"], "subscribed");
  http_->Shutdown();  // what SIGTERM does in main.cc
  EXPECT_FALSE(ws->Read());
  EXPECT_EQ(ws->close_code(), 1001);
  EXPECT_EQ(ws->close_reason(), "server shutting down");
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StreamTest, ::testing::Values("sqlite"));

}  // namespace
}  // namespace mortise::server::testing
