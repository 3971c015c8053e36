// The repository's contract, run against each backend (SQLite in
// server_storage_test, PostgreSQL in server_postgres_test): migrations from
// an empty database and from the previous schema, a newer schema refused, a
// failing migration rolled back, uniqueness, cascades, forward-only TOTP
// steps.
#include <gtest/gtest.h>

#include <filesystem>

#include "api_error.h"
#include "fakes.h"
#include "migrations.h"
#include "postgres_fixture.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;

template <typename F>
AuditQuery Query(F set) {
  AuditQuery q;
  set(q);
  return q;
}

class RepositoryContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("mortise-contract-");
    url_ = testing::FreshDatabaseUrl(GetParam(), dir_.string());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<SqlRepository> Open(const StorageOptions& o = {}) { return OpenRepository(url_, o); }

  fs::path dir_;
  std::string url_;
};

TEST_P(RepositoryContract, MigratesAnEmptyDatabaseToTheLatestSchemaOnce) {
  {
    auto repo = Open();
    EXPECT_EQ(repo->SchemaVersion(), Migrations().back().version);
    EXPECT_EQ(repo->QueryText("SELECT COUNT(*) FROM schema_migrations"), std::to_string(Migrations().size()));
  }
  auto again = Open();
  EXPECT_EQ(again->QueryText("SELECT COUNT(*) FROM schema_migrations"), std::to_string(Migrations().size()));
}

TEST_P(RepositoryContract, MigratesFromTheAccountsOnlySchemaKeepingItsRows) {
  const int previous = 1;
  const int latest = Migrations().back().version;
  {
    auto old = Open({.migrate_to = previous});
    EXPECT_EQ(old->SchemaVersion(), previous);
    // Written with the previous schema's columns only.
    old->QueryText(
        "INSERT INTO accounts (id, email, password_hash, created_at, password_changed_at) VALUES "
        "('acct_1', 'ana@example.org', 'h', 1, 1)");
    EXPECT_THROW(old->QueryText("SELECT COUNT(*) FROM api_keys"), StorageError);
  }
  auto repo = Open();
  EXPECT_EQ(repo->SchemaVersion(), latest);
  const auto a = repo->AccountById("acct_1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->email, "ana@example.org");
  EXPECT_FALSE(a->totp_enabled);
  ApiKeyRow k;
  k.id = "key_1";
  k.account_id = "acct_1";
  k.name = "n";
  k.token_hash = "h";
  k.prefix = "p";
  k.scopes = {"account:read"};
  repo->CreateApiKey(k);
  EXPECT_EQ(repo->ApiKeys("acct_1", "", 10).size(), 1u);
}

// The schema of the last release (0004: organisations and the audit trail;
// no access groups, door state or door logs) to the latest: its
// organisations and people are kept and the new tables start empty.
TEST_P(RepositoryContract, MigratesFromThePreviousSchemaKeepingItsOrganisations) {
  const int previous = 4;
  {
    auto old = Open({.migrate_to = previous});
    EXPECT_EQ(old->SchemaVersion(), previous);
    old->QueryText(
        "INSERT INTO accounts (id, email, password_hash, created_at, password_changed_at) VALUES "
        "('acct_1', 'ana@example.org', 'h', 1, 1)");
    old->QueryText("INSERT INTO organisations (id, name, kind, created_at) VALUES ('org_1', 'Home', 'home', 1)");
    old->QueryText("INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ('org_1', 'acct_1', 'owner', 1)");
    EXPECT_THROW(old->QueryText("SELECT COUNT(*) FROM access_groups"), StorageError);
  }
  auto repo = Open();
  EXPECT_EQ(repo->SchemaVersion(), Migrations().back().version);
  const auto m = repo->Membership("org_1", "acct_1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->role, "owner");
  EXPECT_EQ(m->email, "ana@example.org");
  EXPECT_TRUE(repo->SearchAudit(Query([](AuditQuery& q) { q.org_id = "org_1"; })).empty());
  EXPECT_EQ(repo->QueryText("SELECT COUNT(*) FROM access_groups"), "0");
  EXPECT_EQ(repo->QueryText("SELECT COUNT(*) FROM door_updates"), "0");
}

// The trail is append-only through the repository: seq increases, search
// filters by actor, action, object and time, pages newest first, and only
// the retention purge deletes.
TEST_P(RepositoryContract, AuditTrailAppendsSearchesAndPurgesByAge) {
  auto repo = Open();
  for (int i = 1; i <= 5; ++i) {
    AuditEvent e;
    e.at = i * 1000;
    e.org_id = "org_1";
    e.actor_account_id = i % 2 ? "acct_a" : "acct_b";
    e.actor_email = "x@example.org";
    e.actor_credential = "session";
    e.action = i == 3 ? "door.register" : "site.create";
    e.object_type = "site";
    e.object_id = "obj_" + std::to_string(i);
    e.address = "127.0.0.1";
    e.user_agent = "test";
    repo->AppendAudit(e);
  }
  AuditEvent other;
  other.at = 1;
  other.org_id = "org_2";
  other.action = "org.create";
  repo->AppendAudit(other);
  auto all = repo->SearchAudit(Query([](AuditQuery& q) { q.org_id = "org_1"; }));
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.front().object_id, "obj_5");  // newest first
  EXPECT_GT(all.front().seq, all.back().seq);
  EXPECT_EQ(repo->SearchAudit(Query([](AuditQuery& q) { q.org_id = "org_1"; q.actor = "acct_b"; })).size(), 2u);
  EXPECT_EQ(repo->SearchAudit(Query([](AuditQuery& q) { q.org_id = "org_1"; q.action = "door.register"; })).at(0).object_id, "obj_3");
  EXPECT_EQ(repo->SearchAudit(Query([](AuditQuery& q) { q.org_id = "org_1"; q.object_id = "obj_2"; })).size(), 1u);
  EXPECT_EQ(repo->SearchAudit(Query([](AuditQuery& q) { q.org_id = "org_1"; q.from = 2000; q.to = 4000; })).size(), 2u);
  const auto page = repo->SearchAudit(Query([&](AuditQuery& q) { q.org_id = "org_1"; q.before_seq = all[1].seq; q.limit = 2; }));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].object_id, "obj_3");
  EXPECT_EQ(repo->PurgeAuditBefore(3000), 3);  // obj_1, obj_2 and org_2's event
  EXPECT_EQ(repo->SearchAudit(Query([](AuditQuery& q) { q.org_id = "org_1"; })).size(), 3u);
  EXPECT_TRUE(repo->SearchAudit(Query([](AuditQuery& q) { q.org_id = "org_2"; })).empty());
}

TEST_P(RepositoryContract, RefusesADatabaseFromANewerServer) {
  {
    auto repo = Open();
    repo->QueryText("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
  }
  try {
    Open();
    ADD_FAILURE() << "opened a newer schema";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

// Migration numbers are reserved per area and land in any order: one
// numbered below the newest applied still runs, once.
TEST_P(RepositoryContract, AMigrationNumberedBelowAnAppliedOneStillRunsOnce) {
  {
    auto old = Open({.migrate_to = 3});
    old->QueryText("INSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
                   std::to_string(Migrations().back().version) + ", 'applied first', 0)");
    EXPECT_THROW(old->QueryText("SELECT COUNT(*) FROM audit_events"), StorageError);
  }
  auto repo = Open();
  EXPECT_EQ(repo->QueryText("SELECT COUNT(*) FROM audit_events"), "0");
  EXPECT_EQ(repo->QueryText("SELECT COUNT(*) FROM schema_migrations WHERE version = 4"), "1");
  auto again = Open();
  EXPECT_EQ(again->QueryText("SELECT COUNT(*) FROM schema_migrations WHERE version = 4"), "1");
}

TEST_P(RepositoryContract, AFailingMigrationLeavesNothingBehind) {
  // A table the second migration creates already exists: the migration
  // fails and its ALTERs roll back with it.
  {
    auto old = Open({.migrate_to = 1});
    old->QueryText("CREATE TABLE api_keys (x TEXT)");
  }
  EXPECT_THROW(Open(), StorageError);
  auto old = Open({.migrate_to = 1});
  EXPECT_EQ(old->SchemaVersion(), 1);
  EXPECT_THROW(old->QueryText("SELECT totp_secret FROM accounts"), StorageError);
}

TEST_P(RepositoryContract, EmailsAreUniqueAndAccountDeletionCascades) {
  auto repo = Open();
  EXPECT_TRUE(repo->CreateAccount(testing::SampleAccount("acct_1", "ana@example.org")));
  EXPECT_FALSE(repo->CreateAccount(testing::SampleAccount("acct_2", "ana@example.org")));
  SessionRow s;
  s.id = "sess_1";
  s.account_id = "acct_1";
  s.token_hash = "t";
  s.csrf_token = "c";
  repo->CreateSession(s);
  repo->ReplaceRecoveryCodes("acct_1", {"a", "b"});
  repo->DeleteAccount("acct_1");
  EXPECT_EQ(repo->QueryText("SELECT COUNT(*) FROM sessions"), "0");
  EXPECT_EQ(repo->QueryText("SELECT COUNT(*) FROM recovery_codes"), "0");
}

TEST_P(RepositoryContract, TotpStepsOnlyMoveForward) {
  auto repo = Open();
  repo->CreateAccount(testing::SampleAccount("acct_1", "ana@example.org"));
  EXPECT_TRUE(repo->ConsumeTotpStep("acct_1", 10));
  EXPECT_FALSE(repo->ConsumeTotpStep("acct_1", 10));
  EXPECT_FALSE(repo->ConsumeTotpStep("acct_1", 9));
  EXPECT_TRUE(repo->ConsumeTotpStep("acct_1", 11));
}

INSTANTIATE_TEST_SUITE_P(Backend, RepositoryContract, ::testing::Values(testing::TestBackend()));

}  // namespace
}  // namespace mortise::server
