// The SQLite repository: migrations from empty and from the previous schema,
// a newer schema refused, the pragmas, cascades, and the online backup.
#include <gtest/gtest.h>

#include <filesystem>

#include <sqlite3.h>

#include "api_error.h"
#include "migrations.h"
#include "sqlite_repository.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mortise-storage-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const char* name) { return (dir_ / name).string(); }

  static AccountRow Account(const std::string& id, const std::string& email) {
    AccountRow a;
    a.id = id;
    a.email = email;
    a.password_hash = "$argon2id$fake";
    a.created_at = a.password_changed_at = 1000;
    return a;
  }

  fs::path dir_;
};

TEST_F(StorageTest, MigratesAnEmptyDatabaseToTheLatestSchemaOnce) {
  {
    auto repo = SqliteRepository::Open(Path("db"));
    EXPECT_EQ(repo->SchemaVersion(), static_cast<int>(Migrations().size()));
    EXPECT_EQ(repo->QueryText("SELECT COUNT(*) FROM schema_migrations"), std::to_string(Migrations().size()));
    EXPECT_EQ(repo->QueryText("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(repo->QueryText("PRAGMA synchronous"), "2");  // FULL
    EXPECT_EQ(repo->QueryText("PRAGMA foreign_keys"), "1");
  }
  auto again = SqliteRepository::Open(Path("db"));
  EXPECT_EQ(again->QueryText("SELECT COUNT(*) FROM schema_migrations"), std::to_string(Migrations().size()));
}

TEST_F(StorageTest, MigratesFromThePreviousSchemaKeepingItsRows) {
  const int previous = static_cast<int>(Migrations().size()) - 1;
  {
    auto old = SqliteRepository::Open(Path("db"), {.migrate_to = previous});
    EXPECT_EQ(old->SchemaVersion(), previous);
    // Written with the previous schema's columns only.
    old->QueryText(
        "INSERT INTO accounts (id, email, password_hash, created_at, password_changed_at) VALUES "
        "('acct_1', 'ana@example.org', 'h', 1, 1)");
    EXPECT_EQ(old->QueryText("SELECT COUNT(*) FROM sqlite_master WHERE name = 'api_keys'"), "0");
  }
  auto repo = SqliteRepository::Open(Path("db"));
  EXPECT_EQ(repo->SchemaVersion(), previous + 1);
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

TEST_F(StorageTest, RefusesADatabaseFromANewerServer) {
  {
    auto repo = SqliteRepository::Open(Path("db"));
    repo->QueryText("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
  }
  try {
    SqliteRepository::Open(Path("db"));
    ADD_FAILURE() << "opened a newer schema";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST_F(StorageTest, AFailingMigrationLeavesNothingBehind) {
  // A table the second migration creates already exists: the migration
  // fails and its ALTERs roll back with it.
  {
    auto old = SqliteRepository::Open(Path("db"), {.migrate_to = 1});
    old->QueryText("CREATE TABLE api_keys (x TEXT)");
  }
  EXPECT_THROW(SqliteRepository::Open(Path("db")), StorageError);
  auto old = SqliteRepository::Open(Path("db"), {.migrate_to = 1});
  EXPECT_EQ(old->SchemaVersion(), 1);
  EXPECT_EQ(old->QueryText("SELECT COUNT(*) FROM pragma_table_info('accounts') WHERE name = 'totp_secret'"), "0");
}

TEST_F(StorageTest, EmailsAreUniqueAndAccountDeletionCascades) {
  auto repo = SqliteRepository::Open(Path("db"));
  EXPECT_TRUE(repo->CreateAccount(Account("acct_1", "ana@example.org")));
  EXPECT_FALSE(repo->CreateAccount(Account("acct_2", "ana@example.org")));
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

TEST_F(StorageTest, TotpStepsOnlyMoveForward) {
  auto repo = SqliteRepository::Open(Path("db"));
  repo->CreateAccount(Account("acct_1", "ana@example.org"));
  EXPECT_TRUE(repo->ConsumeTotpStep("acct_1", 10));
  EXPECT_FALSE(repo->ConsumeTotpStep("acct_1", 10));
  EXPECT_FALSE(repo->ConsumeTotpStep("acct_1", 9));
  EXPECT_TRUE(repo->ConsumeTotpStep("acct_1", 11));
}

TEST_F(StorageTest, BackupOfAnOpenDatabaseRestoresEveryCommittedRow) {
  auto repo = SqliteRepository::Open(Path("db"));
  for (int i = 0; i < 50; ++i) {
    repo->CreateAccount(Account("acct_" + std::to_string(i), "u" + std::to_string(i) + "@example.org"));
  }
  // The server still holds the database open (WAL not checkpointed).
  BackupSqlite(Path("db"), Path("snapshot"));
  EXPECT_THROW(BackupSqlite(Path("db"), Path("snapshot")), StorageError);  // never overwrites
  EXPECT_FALSE(fs::exists(Path("snapshot.tmp")));
  repo->CreateAccount(Account("acct_late", "late@example.org"));
  fs::copy_file(Path("snapshot"), Path("restored"));
  auto restored = SqliteRepository::Open(Path("restored"));
  EXPECT_EQ(restored->QueryText("SELECT COUNT(*) FROM accounts"), "50");
  EXPECT_TRUE(restored->AccountById("acct_49"));
  EXPECT_FALSE(restored->AccountById("acct_late"));
  EXPECT_EQ(restored->SchemaVersion(), static_cast<int>(Migrations().size()));
}

TEST_F(StorageTest, OpenNamesThePathWhenItCannotOpen) {
  try {
    SqliteRepository::Open((dir_ / "missing" / "db").string());
    ADD_FAILURE();
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mortise::server
