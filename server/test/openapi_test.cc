// The OpenAPI document and the router agree: every route is documented and
// every documented operation is routed, with the same access rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "api.h"
#include "fakes.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("mortise-openapi-");
    repo_ = OpenSqlite((dir_ / "db").string());
    ApiSettings s;
    s.auth.password_profile = PasswordProfile::kTestFast;
    api_ = std::make_unique<Api>(*repo_, clock_, random_, s);
    doc_ = json::parse(OpenApiDocument());
  }
  void TearDown() override {
    api_.reset();
    repo_.reset();
    fs::remove_all(dir_);
  }
  fs::path dir_;
  testing::FakeClock clock_;
  testing::SeededRandom random_;
  std::unique_ptr<SqlRepository> repo_;
  std::unique_ptr<Api> api_;
  json doc_;
};

TEST_F(OpenApiTest, TheEmbeddedDocumentIsTheRepositorysFile) {
  std::ifstream in(MORTISE_SERVER_OPENAPI);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), OpenApiDocument());
  EXPECT_EQ(doc_["openapi"], "3.1.0");
}

TEST_F(OpenApiTest, EveryRouteIsDocumentedAndEveryDocumentedOperationIsRouted) {
  std::set<std::pair<std::string, std::string>> routed, documented;
  for (const auto& r : api_->router().Routes()) routed.insert({Lower(r.method), r.pattern});
  for (const auto& [path, item] : doc_["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters" || method == "summary" || method == "description") continue;
      documented.insert({method, path});
    }
  }
  for (const auto& r : routed) EXPECT_TRUE(documented.count(r)) << "undocumented route " << r.first << " " << r.second;
  for (const auto& d : documented) EXPECT_TRUE(routed.count(d)) << "documented but not routed " << d.first << " " << d.second;
}

TEST_F(OpenApiTest, EachRoutesSecurityInTheDocumentMatchesItsAccessRule) {
  for (const auto& r : api_->router().Routes()) {
    const auto& op = doc_["paths"][r.pattern][Lower(r.method)];
    const json security = op.contains("security") ? op["security"] : doc_["security"];
    json expected;
    switch (r.access) {
      case Access::kPublic:
        expected = json::array();
        break;
      case Access::kSessionOnly:
        expected = json::array({{{"session", json::array()}}});
        break;
      case Access::kAccount:
        expected = json::array({{{"session", json::array()}}, {{"apiKey", json::array({r.scope})}}});
        break;
    }
    EXPECT_EQ(security, expected) << r.method << " " << r.pattern;
  }
}

}  // namespace
}  // namespace mortise::server
