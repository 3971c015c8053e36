// The API served in-process on 127.0.0.1:0 (the real HttpServer, router and
// repository: SQLite in server_api_test, PostgreSQL in server_postgres_test; simulated clock, seeded randomness), spoken to over
// TCP: the error shape, limits and timeouts, sign-in with cookies and CSRF,
// two-factor, API keys and their scopes, paging, export, deletion, metrics.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "api_fixture.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Browser;
using testing::HttpConnection;
using testing::HttpResult;
using testing::kPassword;

using ApiTest = testing::ApiFixture;

TEST_P(ApiTest, HealthReadinessAndTheDocumentAnswer) {
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/readyz").Json()["status"], "ready");
  const auto doc = Call("GET", "/api/v1/openapi.json");
  EXPECT_EQ(doc.status, 200);
  EXPECT_EQ(doc.Json()["openapi"], "3.1.0");
}

TEST_P(ApiTest, UnknownPathsAndMethodsGetTheOneErrorShape) {
  const auto r = Call("GET", "/api/v1/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.ErrorCode(), "not_found");
  EXPECT_FALSE(r.Json()["error"]["message"].get<std::string>().empty());
  const auto m = Call("PUT", "/api/v1/me");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.ErrorCode(), "method_not_allowed");
  EXPECT_EQ(m.Header("allow"), "GET, DELETE");
}

TEST_P(ApiTest, MalformedBodiesAreRefusedWithCodes) {
  HttpConnection c(port_);
  auto r = c.Send("POST", "/api/v1/accounts", "{not json");
  EXPECT_EQ(r->ErrorCode(), "invalid_json");
  r = c.Send("POST", "/api/v1/accounts", R"({"email": 5, "password": "x"})");
  EXPECT_EQ(r->ErrorCode(), "invalid_field");
  r = c.Send("POST", "/api/v1/accounts", "a=b", {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(r->status, 415);
  EXPECT_EQ(r->ErrorCode(), "unsupported_media_type");
}

TEST_P(ApiTest, OversizedBodyAndHeaderAreRefusedAndTheConnectionClosed) {
  {
    HttpConnection c(port_);
    const auto r = c.Send("POST", "/api/v1/accounts", std::string(9000, 'x'));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->ErrorCode(), "payload_too_large");
    EXPECT_TRUE(c.ReadEof());
  }
  {
    HttpConnection c(port_);
    const auto r = c.Send("GET", "/healthz", "", {"X-Padding: " + std::string(5000, 'p')});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_EQ(r->ErrorCode(), "header_too_large");
  }
}

TEST_P(ApiTest, AConnectionThatSendsNothingIsClosedAfterTheHeaderTimeout) {
  HttpOptions o;
  o.port = 0;
  o.header_timeout = std::chrono::milliseconds(300);
  HttpServer quick(o, [this](const Request& r) { return api_->Handle(r); });
  const uint16_t port = quick.Start();
  HttpConnection c(port);
  ASSERT_TRUE(c.connected());
  EXPECT_TRUE(c.ReadEof());  // the server closes after 300 ms, not the test
  HttpConnection slow(port);
  ASSERT_TRUE(slow.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // header never finished
  EXPECT_TRUE(slow.ReadEof());
}

TEST_P(ApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpConnection c(port_);
  for (int i = 0; i < 3; ++i) {
    const auto r = c.Send("GET", "/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_P(ApiTest, SignInSetsAHardenedCookieAndMeAnswers) {
  SignUp("ana@example.org");
  const auto r = Call("POST", "/api/v1/sessions", {{"email", "ana@example.org"}, {"password", kPassword}});
  ASSERT_EQ(r.status, 201);
  const std::string cookie = r.Header("set-cookie").value_or("");
  EXPECT_NE(cookie.find("mortise_session="), std::string::npos);
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);  // plain HTTP, cookie_secure off
  Browser b = SignIn("ana@example.org");
  const auto me = b.Call("GET", "/api/v1/me");
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(me->Json()["account"]["email"], "ana@example.org");
  EXPECT_EQ(me->Header("cache-control"), "no-store");
}

TEST_P(ApiTest, WithoutSessionEveryAccountRouteAnswers401) {
  EXPECT_EQ(Call("GET", "/api/v1/me").ErrorCode(), "unauthenticated");
  EXPECT_EQ(Call("GET", "/api/v1/me", nullptr, {"Cookie: mortise_session=forged"}).ErrorCode(), "unauthenticated");
  EXPECT_EQ(Call("GET", "/api/v1/me", nullptr, {"Authorization: Bearer mtk_forged"}).ErrorCode(), "invalid_api_key");
  EXPECT_EQ(Call("DELETE", "/api/v1/sessions").status, 401);
}

TEST_P(ApiTest, CookieAuthenticatedWritesNeedTheCsrfToken) {
  SignUp("ana@example.org");
  Browser b = SignIn("ana@example.org");
  auto r = b.Call("POST", "/api/v1/me/api-keys", {{"name", "k"}, {"scopes", {"account:read"}}}, false);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->ErrorCode(), "csrf_failed");
  Browser wrong = b;
  wrong.csrf = "x" + b.csrf.substr(1);
  r = wrong.Call("POST", "/api/v1/me/api-keys", {{"name", "k"}, {"scopes", {"account:read"}}});
  EXPECT_EQ(r->ErrorCode(), "csrf_failed");
  r = b.Call("POST", "/api/v1/me/api-keys", {{"name", "k"}, {"scopes", {"account:read"}}});
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(b.Call("GET", "/api/v1/me", nullptr, false)->status, 200);  // reads need none
}

TEST_P(ApiTest, ApiKeysWorkForTheirScopeOnlyAndNeverManageCredentials) {
  SignUp("ana@example.org");
  Browser b = SignIn("ana@example.org");
  const auto created = b.Call("POST", "/api/v1/me/api-keys", {{"name", "script"}, {"scopes", {"account:read"}}});
  const std::string token = created->Json()["token"];
  const std::string bearer = "Authorization: Bearer " + token;
  EXPECT_EQ(Call("GET", "/api/v1/me", nullptr, {bearer}).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/me/export", nullptr, {bearer}).status, 200);
  // No CSRF token needed with a bearer key, but credential routes refuse keys.
  auto r = Call("POST", "/api/v1/me/api-keys", {{"name", "x"}, {"scopes", {"account:read"}}}, {bearer});
  EXPECT_EQ(r.ErrorCode(), "session_required");
  EXPECT_EQ(Call("DELETE", "/api/v1/sessions", nullptr, {bearer}).ErrorCode(), "session_required");
  // Listed with its last use; revoked; refused.
  const auto list = b.Call("GET", "/api/v1/me/api-keys")->Json();
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_FALSE(list["items"][0]["last_used_at"].is_null());
  EXPECT_EQ(list["items"][0]["prefix"], token.substr(0, 12));
  EXPECT_FALSE(list["items"][0].contains("token_hash"));
  const std::string id = list["items"][0]["id"];
  EXPECT_EQ(b.Call("DELETE", "/api/v1/me/api-keys/" + id)->status, 204);
  EXPECT_EQ(b.Call("DELETE", "/api/v1/me/api-keys/" + id)->status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/me", nullptr, {bearer}).ErrorCode(), "invalid_api_key");
}

TEST_P(ApiTest, A09_AnotherAccountsKeyCannotBeRevoked) {
  SignUp("ana@example.org");
  SignUp("bob@example.org");
  Browser ana = SignIn("ana@example.org");
  Browser bob = SignIn("bob@example.org");
  const auto k = ana.Call("POST", "/api/v1/me/api-keys", {{"name", "k"}, {"scopes", {"account:read"}}})->Json();
  const std::string id = k["api_key"]["id"];
  const auto r = bob.Call("DELETE", "/api/v1/me/api-keys/" + id);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ana.Call("GET", "/api/v1/me/api-keys")->Json()["items"].size(), 1u);
}

TEST_P(ApiTest, ListsPageWithCursors) {
  SignUp("ana@example.org");
  Browser b = SignIn("ana@example.org");
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(1);
    ASSERT_EQ(b.Call("POST", "/api/v1/me/api-keys", {{"name", "k" + std::to_string(i)}, {"scopes", {"account:read"}}})
                  ->status,
              201);
  }
  std::vector<std::string> names;
  std::string cursor;
  int pages = 0;
  do {
    const auto page =
        b.Call("GET", "/api/v1/me/api-keys?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor))->Json();
    for (const auto& item : page["items"]) names.push_back(item["name"]);
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"k0", "k1", "k2", "k3", "k4"}));
  EXPECT_EQ(b.Call("GET", "/api/v1/me/api-keys?limit=0")->ErrorCode(), "invalid_limit");
  EXPECT_EQ(b.Call("GET", "/api/v1/me/api-keys?limit=101")->ErrorCode(), "invalid_limit");
}

TEST_P(ApiTest, TwoFactorEnrolmentThenSignInNeedsTheCode) {
  SignUp("ana@example.org");
  Browser b = SignIn("ana@example.org");
  const auto begin = b.Call("POST", "/api/v1/me/totp")->Json();
  const std::string secret = begin["secret"];
  EXPECT_TRUE(begin["otpauth_uri"].get<std::string>().starts_with("otpauth://totp/Mortise:ana%40example.org") ||
              begin["otpauth_uri"].get<std::string>().starts_with("otpauth://totp/Mortise:ana@example.org"));
  const auto key = *Base32Decode(secret);
  auto code = [&] { return TotpCode(key, clock_.NowMs() / 1000, TotpParams{}); };
  EXPECT_EQ(b.Call("POST", "/api/v1/me/totp/confirm", {{"code", "000000"}})->ErrorCode(), "invalid_second_factor");
  const auto confirmed = b.Call("POST", "/api/v1/me/totp/confirm", {{"code", code()}});
  ASSERT_EQ(confirmed->status, 200);
  EXPECT_EQ(confirmed->Json()["recovery_codes"].size(), 10u);
  const auto r = Call("POST", "/api/v1/sessions", {{"email", "ana@example.org"}, {"password", kPassword}});
  EXPECT_EQ(r.ErrorCode(), "second_factor_required");
  clock_.Advance(30'000);
  SignIn("ana@example.org", {{"totp_code", code()}});
  EXPECT_TRUE(b.Call("GET", "/api/v1/me")->Json()["account"]["totp_enabled"]);
}

TEST_P(ApiTest, RepeatedFailedSignInsAnswer429WithRetryAfter) {
  SignUp("ana@example.org");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Call("POST", "/api/v1/sessions", {{"email", "ana@example.org"}, {"password", "wrong password!"}})
                  .ErrorCode(),
              "invalid_credentials");
  }
  const auto r = Call("POST", "/api/v1/sessions", {{"email", "ana@example.org"}, {"password", kPassword}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.ErrorCode(), "account_locked");
  EXPECT_EQ(r.Header("retry-after"), "900");
  // Fifteen more failures on other emails from the same address block it.
  for (int i = 0; i < 15; ++i) {
    Call("POST", "/api/v1/sessions", {{"email", "x" + std::to_string(i) + "@e.org"}, {"password", "wrong password!"}});
  }
  EXPECT_EQ(Call("POST", "/api/v1/sessions", {{"email", "bob@example.org"}, {"password", kPassword}}).ErrorCode(),
            "too_many_attempts");
}

TEST_P(ApiTest, SignOutAndSignOutEverywhere) {
  SignUp("ana@example.org");
  Browser b1 = SignIn("ana@example.org");
  Browser b2 = SignIn("ana@example.org");
  Browser b3 = SignIn("ana@example.org");
  const auto out = b1.Call("DELETE", "/api/v1/sessions/current");
  EXPECT_EQ(out->status, 204);
  EXPECT_NE(out->Header("set-cookie").value_or("").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(b1.Call("GET", "/api/v1/me")->status, 401);
  EXPECT_EQ(b2.Call("GET", "/api/v1/me")->status, 200);
  EXPECT_EQ(b2.Call("DELETE", "/api/v1/sessions")->status, 204);
  EXPECT_EQ(b2.Call("GET", "/api/v1/me")->status, 401);
  EXPECT_EQ(b3.Call("GET", "/api/v1/me")->status, 401);
}

TEST_P(ApiTest, PasswordChangeThroughTheApi) {
  SignUp("ana@example.org");
  Browser b = SignIn("ana@example.org");
  EXPECT_EQ(b.Call("POST", "/api/v1/me/password", {{"current_password", "wrong password!"}, {"new_password", "a new long password"}})
                ->ErrorCode(),
            "invalid_credentials");
  EXPECT_EQ(b.Call("POST", "/api/v1/me/password", {{"current_password", kPassword}, {"new_password", "short"}})
                ->ErrorCode(),
            "weak_password");
  EXPECT_EQ(
      b.Call("POST", "/api/v1/me/password", {{"current_password", kPassword}, {"new_password", "a new long password"}})
          ->status,
      204);
  EXPECT_EQ(Call("POST", "/api/v1/sessions", {{"email", "ana@example.org"}, {"password", "a new long password"}}).status,
            201);
}

TEST_P(ApiTest, ExportHoldsMyDataAndNoSecrets) {
  SignUp("ana@example.org");
  Browser b = SignIn("ana@example.org");
  b.Call("POST", "/api/v1/me/api-keys", {{"name", "k"}, {"scopes", {"account:read"}}});
  const auto r = b.Call("GET", "/api/v1/me/export");
  ASSERT_EQ(r->status, 200);
  const auto j = r->Json();
  EXPECT_EQ(j["format"], "mortise-account-export/1");
  EXPECT_EQ(j["account"]["email"], "ana@example.org");
  EXPECT_EQ(j["sessions"].size(), 1u);
  EXPECT_EQ(j["api_keys"].size(), 1u);
  EXPECT_EQ(r->body.find("argon2"), std::string::npos);
  EXPECT_EQ(r->body.find("token_hash"), std::string::npos);
  EXPECT_EQ(r->body.find(b.csrf), std::string::npos);
}

TEST_P(ApiTest, DeleteMyAccount) {
  SignUp("ana@example.org");
  Browser b = SignIn("ana@example.org");
  EXPECT_EQ(b.Call("DELETE", "/api/v1/me", {{"password", "wrong password!"}})->ErrorCode(), "invalid_credentials");
  EXPECT_EQ(b.Call("DELETE", "/api/v1/me", {{"password", kPassword}})->status, 204);
  EXPECT_EQ(b.Call("GET", "/api/v1/me")->status, 401);
  EXPECT_EQ(Call("POST", "/api/v1/sessions", {{"email", "ana@example.org"}, {"password", kPassword}}).ErrorCode(),
            "invalid_credentials");
  SignUp("ana@example.org");  // the email is free again
}

TEST_P(ApiTest, MetricsCountRequestsPerRouteInPrometheusText) {
  Call("GET", "/healthz");
  Call("GET", "/api/v1/nothing");
  const auto r = Call("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.Header("content-type").value_or("").starts_with("text/plain; version=0.0.4"));
  EXPECT_NE(r.body.find("mortise_server_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("route=\"unmatched\",method=\"GET\",code=\"404\"} 1"), std::string::npos);
  EXPECT_NE(r.body.find("mortise_server_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_NE(r.body.find("mortise_server_websocket_clients 0"), std::string::npos);
  EXPECT_NE(r.body.find("mortise_server_db_pool_size 1"), std::string::npos);
}

// The DB gauges follow the one connection: in use while a call runs, a
// second caller counted as waiting while it waits, then as one wait with
// its time. Deterministic: the holder keeps the connection until the
// waiter is seen waiting (no sleeps, no timing thresholds).
TEST_P(ApiTest, MetricsShowTheDatabaseConnectionInUseAndTheCallsWaitingForIt) {
  const auto value = [](const std::string& body, const std::string& name) {
    const size_t at = body.find("\n" + name + " ");
    EXPECT_NE(at, std::string::npos) << name << " missing:\n" << body;
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + name.size() + 2));
  };
  std::string before = Call("GET", "/metrics").body;
  EXPECT_EQ(value(before, "mortise_server_db_connections_in_use"), 0);
  EXPECT_EQ(value(before, "mortise_server_db_waiting"), 0);
  const double waits_before = value(before, "mortise_server_db_waits_total");
  EXPECT_NE(before.find("# TYPE mortise_server_db_waits_total counter"), std::string::npos);
  EXPECT_NE(before.find("# TYPE mortise_server_db_wait_seconds_total counter"), std::string::npos);

  std::atomic<bool> holding{false}, release{false};
  std::thread holder([&] {
    repo_->WithDriver([&](SqlDriver&) {
      holding = true;
      while (!release) std::this_thread::yield();
      return 0;
    });
  });
  while (!holding) std::this_thread::yield();
  std::thread waiter([&] { (void)repo_->QueryText("SELECT 1"); });
  while (repo_->connection_use().waiting() == 0) std::this_thread::yield();
  const std::string during = Call("GET", "/metrics").body;
  EXPECT_EQ(value(during, "mortise_server_db_connections_in_use"), 1);
  EXPECT_GE(value(during, "mortise_server_db_waiting"), 1);
  release = true;
  holder.join();
  waiter.join();
  const std::string after = Call("GET", "/metrics").body;
  EXPECT_GE(value(after, "mortise_server_db_waits_total"), waits_before + 1);
  EXPECT_GT(value(after, "mortise_server_db_wait_seconds_total"), 0.0);
}

// Anonymous callers choose the method token and the path; neither may become a
// label, or each request adds a series (and memory) that /metrics keeps forever.
TEST_P(ApiTest, A18_UnknownMethodsAndPathsKeepTheMetricSeriesBounded) {
  HttpConnection c(port_);
  for (int i = 0; i < 300; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_EQ(c.Send("M" + n + "X", i % 2 ? "/healthz" : "/no/such/" + n).value().status, i % 2 ? 405 : 404);
    ASSERT_EQ(c.Send("GET", "/api/v1/nothing/" + n).value().status, 404);
  }
  const auto r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  size_t series = 0;
  for (size_t at = 0; (at = r.body.find("\nmortise_server_http_requests_total{", at)) != std::string::npos; ++at) {
    ++series;
  }
  EXPECT_EQ(series, 3u) << r.body;  // unmatched: other/404, other/405, GET/404
  EXPECT_NE(r.body.find("{route=\"unmatched\",method=\"other\",code=\"404\"} 150\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("{route=\"unmatched\",method=\"other\",code=\"405\"} 150\n"), std::string::npos);
  EXPECT_NE(r.body.find("{route=\"unmatched\",method=\"GET\",code=\"404\"} 300\n"), std::string::npos);
  EXPECT_EQ(r.body.find("M17X"), std::string::npos);
  EXPECT_EQ(r.body.find("/no/such"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backend, ApiTest, ::testing::Values(testing::TestBackend()));

}  // namespace
}  // namespace mortise::server
