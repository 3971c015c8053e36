// The SQLite driver: one connection in WAL mode with synchronous=FULL,
// foreign keys on and a busy timeout; and the online backup.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unordered_map>

#include <sqlite3.h>

#include "api_error.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

[[noreturn]] void Fail(sqlite3* db, const std::string& what) {
  throw StorageError("sqlite: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

sqlite3* OpenRaw(const std::string& path, int flags, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StorageError("sqlite: cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return db;
}

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// The database, its -wal and -shm files (SQLite gives them the database
// file's mode) and backups hold email addresses, password hashes and TOTP
// secrets: they live in a directory only its owner can write (anyone else
// could plant or replace the -wal/-shm files there) and are owner-only files.
void CheckDirectory(const std::string& path) {
  const auto dir = std::filesystem::absolute(path).parent_path();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return;  // the open that follows names the path and SQLite's reason
    throw StorageError("sqlite: cannot open " + path + ": its directory " + dir.string() +
                       " does not exist; create it first (install -d -m 700 " + dir.string() + ")");
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    throw StorageError("sqlite: refusing " + path + ": its directory " + dir.string() +
                       " is writable by group or others (mode " + Octal(st.st_mode) +
                       "); use a private directory (chmod go-w " + dir.string() + ")");
  }
}

// Creates `path` owner-only (0600) if missing; an existing file readable or
// writable by group or others (made by an older version) is made 0600.
void MakePrivate(const std::string& path, bool create) {
  int fd = create ? ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
  if (fd < 0) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // missing: SQLite's own open creates it or names the path
  struct stat st {};
  const bool loose = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0;
  const bool fixed = !loose || ::fchmod(fd, st.st_mode & 0700) == 0;
  ::close(fd);
  if (!fixed) {
    throw StorageError("sqlite: " + path + " is readable by others (mode " + Octal(st.st_mode) +
                       ") and cannot be made 0600");
  }
}

void RawScript(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StorageError("sqlite: " + what + ": " + msg);
  }
}

class SqliteDriver final : public SqlDriver {
 public:
  explicit SqliteDriver(sqlite3* db) : db_(db) {}
  ~SqliteDriver() override {
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    sqlite3_close(db_);
  }

  std::vector<SqlRow> Query(std::string_view sql, const std::vector<SqlValue>& args) override {
    Statement s(*this, sql, args);
    std::vector<SqlRow> rows;
    for (;;) {
      const int rc = sqlite3_step(s.st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) Fail(db_, "query");
      SqlRow row;
      const int n = sqlite3_column_count(s.st);
      for (int i = 0; i < n; ++i) {
        if (sqlite3_column_type(s.st, i) == SQLITE_NULL) {
          row.emplace_back(std::nullopt);
        } else {
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s.st, i));
          row.emplace_back(std::string(p, static_cast<size_t>(sqlite3_column_bytes(s.st, i))));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  int64_t Exec(std::string_view sql, const std::vector<SqlValue>& args, bool constraint_ok) override {
    Statement s(*this, sql, args);
    const int rc = sqlite3_step(s.st);
    if (constraint_ok && (rc & 0xff) == SQLITE_CONSTRAINT) return -1;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) Fail(db_, "exec");
    return sqlite3_changes(db_);
  }

  void Script(std::string_view sql) override { RawScript(db_, std::string(sql), "script"); }
  void Begin() override { RawScript(db_, "BEGIN IMMEDIATE", "begin"); }
  void Commit() override { RawScript(db_, "COMMIT", "commit"); }
  void Rollback() noexcept override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
  std::string_view name() const override { return "sqlite"; }

 private:
  // A prepared statement, taken from the cache (prepared once per SQL text,
  // then reused: parsing was a fifth of the log intake's time) and given
  // back reset and unbound.
  struct Statement {
    Statement(SqliteDriver& d, std::string_view sql, const std::vector<SqlValue>& args) : st(d.Prepared(sql)) {
      int i = 0;
      for (const auto& a : args) {
        ++i;
        int rc;
        if (std::holds_alternative<std::nullptr_t>(a)) {
          rc = sqlite3_bind_null(st, i);
        } else if (const auto* v = std::get_if<int64_t>(&a)) {
          rc = sqlite3_bind_int64(st, i, *v);
        } else {
          const auto& t = std::get<std::string>(a);
          rc = sqlite3_bind_text(st, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
        }
        if (rc != SQLITE_OK) {
          Release(st);
          Fail(d.db_, "bind");
        }
      }
    }
    ~Statement() { Release(st); }
    static void Release(sqlite3_stmt* s) {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
    sqlite3_stmt* st = nullptr;
  };

  // Statements are kept by SQL text, at most kMaxCached (the cache is
  // emptied when full; the multi-row inserts alone have up to 100 shapes).
  static constexpr size_t kMaxCached = 512;
  sqlite3_stmt* Prepared(std::string_view sql) {
    if (auto it = cache_.find(std::string(sql)); it != cache_.end()) return it->second;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st, nullptr) != SQLITE_OK) {
      sqlite3_finalize(st);
      Fail(db_, "prepare");
    }
    if (cache_.size() >= kMaxCached) {
      for (auto& [text, old] : cache_) sqlite3_finalize(old);
      cache_.clear();
    }
    cache_.emplace(std::string(sql), st);
    return st;
  }

  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  sqlite3* db_;
};

}  // namespace

std::unique_ptr<SqlRepository> OpenSqlite(const std::string& path, const StorageOptions& options) {
  CheckDirectory(path);
  MakePrivate(path, /*create=*/true);
  MakePrivate(path + "-wal", /*create=*/false);
  MakePrivate(path + "-shm", /*create=*/false);
  sqlite3* db = OpenRaw(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options.busy_timeout_ms);
  auto driver = std::make_unique<SqliteDriver>(db);
  // WAL: readers never block the writer and a backup can run beside the
  // server; FULL: a commit is on disk (WAL fsynced) before the call returns.
  driver->Script("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  const auto mode = driver->Query("PRAGMA journal_mode", {});
  if (mode.empty() || mode[0].at(0) != "wal") throw StorageError("sqlite: " + path + " cannot use WAL mode");
  return std::make_unique<SqlRepository>(std::move(driver), options);
}

void BackupSqlite(const std::string& source, const std::string& out) {
  namespace fs = std::filesystem;
  if (fs::exists(out)) throw StorageError("backup: " + out + " exists; choose a new file name");
  if (!fs::exists(source)) throw StorageError("backup: no database at " + source);
  const std::string tmp = out + ".tmp";
  fs::remove(tmp);
  sqlite3* src = OpenRaw(source, SQLITE_OPEN_READONLY, 5000);
  sqlite3* dst = nullptr;
  try {
    MakePrivate(tmp, /*create=*/true);
    dst = OpenRaw(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5000);
    sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) Fail(dst, "backup of " + source);
    int rc;
    // One step copies every page under one read transaction: the snapshot is
    // of a single committed state even while the server keeps writing.
    do {
      rc = sqlite3_backup_step(b, -1);
    } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) Fail(dst, "backup of " + source);
    // The copy is a plain rollback-journal file; the server turns WAL on
    // when it opens it.
    RawScript(dst, "PRAGMA journal_mode=DELETE", "backup");
  } catch (...) {
    sqlite3_close(dst);
    sqlite3_close(src);
    fs::remove(tmp);
    throw;
  }
  sqlite3_close(dst);
  sqlite3_close(src);
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  fs::rename(tmp, out);
  const int dir = ::open(fs::absolute(out).parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace mortise::server
