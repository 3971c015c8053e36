// The SQLite repository: migrations from empty and from the previous schema,
// a newer schema refused, the pragmas, cascades, and the online backup.
#include <gtest/gtest.h>

#include <filesystem>

#include <sqlite3.h>

#include "api_error.h"
#include "fakes.h"
#include "migrations.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mortise-storage-" + testing::TestDirName());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const char* name) { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(StorageTest, SqliteRunsInWalWithFullSyncAndForeignKeys) {
  auto repo = OpenSqlite(Path("db"));
  EXPECT_EQ(repo->QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(repo->QueryText("PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(repo->QueryText("PRAGMA foreign_keys"), "1");
}

TEST_F(StorageTest, BackupOfAnOpenDatabaseRestoresEveryCommittedRow) {
  auto repo = OpenSqlite(Path("db"));
  for (int i = 0; i < 50; ++i) {
    repo->CreateAccount(testing::SampleAccount("acct_" + std::to_string(i), "u" + std::to_string(i) + "@example.org"));
  }
  // The server still holds the database open (WAL not checkpointed).
  BackupSqlite(Path("db"), Path("snapshot"));
  EXPECT_THROW(BackupSqlite(Path("db"), Path("snapshot")), StorageError);  // never overwrites
  EXPECT_FALSE(fs::exists(Path("snapshot.tmp")));
  repo->CreateAccount(testing::SampleAccount("acct_late", "late@example.org"));
  fs::copy_file(Path("snapshot"), Path("restored"));
  auto restored = OpenSqlite(Path("restored"));
  EXPECT_EQ(restored->QueryText("SELECT COUNT(*) FROM accounts"), "50");
  EXPECT_TRUE(restored->AccountById("acct_49"));
  EXPECT_FALSE(restored->AccountById("acct_late"));
  EXPECT_EQ(restored->SchemaVersion(), static_cast<int>(Migrations().size()));
}

TEST_F(StorageTest, OpenNamesThePathWhenItCannotOpen) {
  try {
    OpenSqlite((dir_ / "missing" / "db").string());
    ADD_FAILURE();
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mortise::server
