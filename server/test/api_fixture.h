// The API served in-process on 127.0.0.1:0 for tests: the real HttpServer,
// router and repository (the backend is the test parameter: "sqlite" or
// "postgresql"), a simulated clock and seeded randomness.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api.h"
#include "fake_lock_link.h"
#include "fakes.h"
#include "http_client.h"
#include "http_server.h"
#include "postgres_fixture.h"
#include "sql_repository.h"

namespace mortise::server::testing {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kPassword[] = "correct horse battery";

class ApiFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("mortise-api-", in_ram_);
    repo_ = OpenRepository(FreshDatabaseUrl(GetParam(), dir_.string()));
    settings_.auth.password_profile = PasswordProfile::kTestFast;
    api_ = std::make_unique<Api>(*repo_, clock_, random_, settings_, &link_);
    HttpOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.header_limit_bytes = 4096;
    o.body_limit_bytes = 8192;
    o.tls_cert_file = tls_cert_;
    o.tls_key_file = tls_key_;
    http_ = std::make_unique<HttpServer>(o, [this](const Request& r) { return api_->Handle(r); });
    port_ = http_->Start();
  }
  void TearDown() override {
    http_->Shutdown();
    http_->Wait();
    http_.reset();
    api_.reset();
    repo_.reset();
    fs::remove_all(dir_);
  }

  HttpResult Call(const std::string& method, const std::string& path, const json& body = nullptr,
                  const std::vector<std::string>& headers = {}) {
    HttpConnection c(port_);
    auto r = c.Send(method, path, body.is_null() ? "" : body.dump(), headers);
    EXPECT_TRUE(r) << method << " " << path;
    return r.value_or(HttpResult{});
  }

  void SignUp(const std::string& email) {
    ASSERT_EQ(Call("POST", "/api/v1/accounts", {{"email", email}, {"password", kPassword}}).status, 201);
  }

  Browser SignIn(const std::string& email, const json& extra = json::object()) {
    json body = {{"email", email}, {"password", kPassword}};
    body.update(extra);
    return SignInBrowser(port_, body);
  }

  // Settings the fixture starts the API with (tests may change them in
  // their own SetUp before calling ApiFixture::SetUp).
  ApiSettings settings_;
  bool in_ram_ = false;  // the SQLite database under /dev/shm (FreshTestDir)
  std::string tls_cert_, tls_key_;  // both set: the listener serves TLS
  fs::path dir_;
  FakeClock clock_;
  SeededRandom random_{3};
  FakeLockLink link_;  // every lock offline until a test says otherwise
  std::unique_ptr<SqlRepository> repo_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> http_;
  uint16_t port_ = 0;
};

}  // namespace mortise::server::testing
