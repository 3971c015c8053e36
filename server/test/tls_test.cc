// TLS served directly by the listener (HttpOptions::tls_cert_file/key_file):
// the API over TLS 1.2+ verified against a test CA, plain HTTP to the TLS
// port gets no HTTP answer, and unusable certificate or key files are a
// clear error at start.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "beast_client.h"
#include "test_ca.h"

namespace mortise::server::testing {
namespace {

class TlsApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ca_dir_ = FreshTestDir("mortise-tls-");
    ca_ = std::make_unique<TestCa>(ca_dir_);
    tls_cert_ = ca_->cert_file;
    tls_key_ = ca_->key_file;
    ApiFixture::SetUp();
  }
  void TearDown() override {
    ApiFixture::TearDown();
    fs::remove_all(ca_dir_);
  }
  std::optional<HttpResult> Https(const std::string& method, const std::string& path, const json& body = nullptr,
                                  const std::vector<std::string>& headers = {}) {
    std::string why;
    auto r = HttpsRequest(port_, ca_->ca_file, method, path, body.is_null() ? "" : body.dump(), headers, why);
    EXPECT_TRUE(r) << why;
    return r;
  }
  fs::path ca_dir_;
  std::unique_ptr<TestCa> ca_;
};

TEST_P(TlsApiTest, TheApiWorksOverTlsAndItsSessionCookieIsSecure) {
  EXPECT_EQ(Https("GET", "/healthz")->status, 200);
  ASSERT_EQ(Https("POST", "/api/v1/accounts", {{"email", "ana@example.org"}, {"password", kPassword}})->status, 201);
  const auto in = Https("POST", "/api/v1/sessions", {{"email", "ana@example.org"}, {"password", kPassword}});
  ASSERT_EQ(in->status, 201) << in->body;
  const auto cookie = in->Header("set-cookie");
  ASSERT_TRUE(cookie);
  EXPECT_NE(cookie->find("; Secure"), std::string::npos) << *cookie;
  const std::string session = cookie->substr(0, cookie->find(';'));
  const auto me = Https("GET", "/api/v1/me", nullptr, {"Cookie: " + session});
  EXPECT_EQ(me->status, 200) << me->body;
  EXPECT_EQ(me->Json()["account"]["email"], "ana@example.org");
}

TEST_P(TlsApiTest, PlainHttpToTheTlsPortGetsNoHttpAnswer) {
  HttpConnection c(port_);
  ASSERT_TRUE(c.connected());
  EXPECT_FALSE(c.Send("GET", "/healthz")) << "a TLS port answered plain HTTP";
  // The port still serves TLS afterwards.
  EXPECT_EQ(Https("GET", "/healthz")->status, 200);
}

TEST_P(TlsApiTest, AClientTrustingAnotherCaRefusesTheServer) {
  TestCa other(ca_dir_, "other");
  std::string why;
  EXPECT_FALSE(HttpsRequest(port_, other.ca_file, "GET", "/healthz", "", {}, why));
  EXPECT_NE(why.find("certificate verify failed"), std::string::npos) << why;
}

TEST_P(TlsApiTest, TheEventStreamWorksOverTls) {
  ASSERT_EQ(Https("POST", "/api/v1/accounts", {{"email", "ana@example.org"}, {"password", kPassword}})->status, 201);
  const auto in = Https("POST", "/api/v1/sessions", {{"email", "ana@example.org"}, {"password", kPassword}});
  ASSERT_EQ(in->status, 201);
  const std::string cookie = "Cookie: " + in->Header("set-cookie")->substr(0, in->Header("set-cookie")->find(';'));
  const std::string csrf = "X-CSRF-Token: " + in->Json()["csrf_token"].get<std::string>();
  const auto org = Https("POST", "/api/v1/orgs", {{"name", "Home"}}, {cookie, csrf});
  ASSERT_EQ(org->status, 201) << org->body;
  const std::string org_id = org->Json()["organisation"]["id"];
  HttpResult refused;
  std::string why;
  auto ws = WsClient::Connect(port_, "/api/v1/stream", {cookie, "Origin: https://127.0.0.1:" + std::to_string(port_)},
                              ca_->ca_file, refused, why);
  ASSERT_TRUE(ws) << why << " " << refused.status << " " << refused.body;
  ASSERT_TRUE(ws->Write(json{{"subscribe", {org_id}}}.dump()));
  EXPECT_EQ(json::parse(ws->Read().value_or("null"))["type"], "subscribed");
  EXPECT_EQ(api_->events().Publish(org_id, {{"type", "door.online"}, {"door_id", "door_1"}, {"online", true}}), 1u);
  EXPECT_EQ(json::parse(ws->Read().value_or("null"))["door_id"], "door_1");
}

INSTANTIATE_TEST_SUITE_P(Sqlite, TlsApiTest, ::testing::Values("sqlite"));

class TlsStartTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = FreshTestDir("mortise-tls-start-"); }
  void TearDown() override { fs::remove_all(dir_); }
  // The error Start() throws, "" if it started.
  std::string StartError(const std::string& cert, const std::string& key) {
    HttpOptions o;
    o.port = 0;
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    HttpServer s(o, [](const Request&) { return Response{}; });
    try {
      s.Start();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(TlsStartTest, UnusableCertificateOrKeyFilesAreAClearErrorAtStart) {
  TestCa ca(dir_);
  TestCa other(dir_, "other");
  EXPECT_EQ(StartError(ca.cert_file, ca.key_file), "");
  const std::string missing = (dir_ / "missing.pem").string();
  const std::string garbage = (dir_ / "garbage.pem").string();
  std::ofstream(garbage) << "not a PEM file\n";

  std::string e = StartError(missing, ca.key_file);
  EXPECT_NE(e.find("TLS certificate " + missing + " cannot be used"), std::string::npos) << e;
  e = StartError(garbage, ca.key_file);
  EXPECT_NE(e.find("TLS certificate " + garbage + " cannot be used"), std::string::npos) << e;
  e = StartError(ca.cert_file, garbage);
  EXPECT_NE(e.find("TLS key " + garbage + " cannot be used"), std::string::npos) << e;
  e = StartError(ca.cert_file, other.key_file);
  EXPECT_NE(e.find("does not belong to the certificate"), std::string::npos) << e;
  e = StartError(ca.cert_file, "");
  EXPECT_NE(e.find("needs both"), std::string::npos) << e;
}

}  // namespace
}  // namespace mortise::server::testing
