// The SQLite repository: migrations from empty and from the previous schema,
// a newer schema refused, the pragmas, cascades, the online backup, and the
// files' modes and directory (A19).
#include <gtest/gtest.h>

#include <filesystem>

#include <sqlite3.h>
#include <sys/stat.h>

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
    dir_ = testing::FreshTestDir("mortise-storage-");
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
  EXPECT_EQ(restored->SchemaVersion(), Migrations().back().version);
}

mode_t Mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// The database, its -wal/-shm and backups hold password hashes and TOTP
// secrets: owner-only even when the process's umask is the usual 022.
TEST_F(StorageTest, A19_DatabaseWalShmAndBackupAreOwnerOnly) {
  const mode_t old = ::umask(022);
  {
    auto repo = OpenSqlite(Path("db"));
    repo->CreateAccount(testing::SampleAccount("acct_1", "ana@example.org"));
    EXPECT_EQ(Mode(Path("db")), 0600u);
    EXPECT_EQ(Mode(Path("db-wal")), 0600u);
    EXPECT_EQ(Mode(Path("db-shm")), 0600u);
    BackupSqlite(Path("db"), Path("snapshot"));
    EXPECT_EQ(Mode(Path("snapshot")), 0600u);
  }
  // A database an older version left 0644 is made 0600 when opened.
  fs::permissions(Path("snapshot"), fs::perms(0644));
  OpenSqlite(Path("snapshot"));
  EXPECT_EQ(Mode(Path("snapshot")), 0600u);
  ::umask(old);
}

TEST_F(StorageTest, A19_ADatabaseInADirectoryOthersCanWriteIsRefused) {
  for (const auto mode : {fs::perms(0777), fs::perms(0775), fs::perms(01777)}) {
    fs::permissions(dir_, mode);
    try {
      OpenSqlite(Path("db"));
      ADD_FAILURE() << "opened in a directory of mode " << std::oct << static_cast<unsigned>(mode);
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("writable by group or others"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(Path("db")));  // nothing created
  }
  fs::permissions(dir_, fs::perms(0700));
  OpenSqlite(Path("db"));
}

TEST_F(StorageTest, OpenNamesThePathWhenItCannotOpen) {
  try {
    OpenSqlite((dir_ / "missing" / "db").string());
    ADD_FAILURE();
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not exist; create it first"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mortise::server
