// The PostgreSQL driver through libpq: one connection, parameters sent
// separately from the SQL (never interpolated), results read as text.
#include <libpq-fe.h>

#include "api_error.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

// `?` -> `$1`, `$2`, ... (the repository's SQL has no `?` inside literals).
std::string Number(std::string_view sql) {
  std::string out;
  int n = 0;
  for (char c : sql) {
    if (c == '?') {
      out += "$" + std::to_string(++n);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  ~Result() { PQclear(r_); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  PGresult* get() const { return r_; }

 private:
  PGresult* r_;
};

class PostgresDriver final : public SqlDriver {
 public:
  explicit PostgresDriver(PGconn* c) : c_(c) {}
  ~PostgresDriver() override { PQfinish(c_); }

  std::vector<SqlRow> Query(std::string_view sql, const std::vector<SqlValue>& args) override {
    Result r(Run(sql, args));
    Check(r, PGRES_TUPLES_OK, false);
    std::vector<SqlRow> rows;
    const int n = PQntuples(r.get()), cols = PQnfields(r.get());
    for (int i = 0; i < n; ++i) {
      SqlRow row;
      for (int j = 0; j < cols; ++j) {
        if (PQgetisnull(r.get(), i, j)) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(std::string(PQgetvalue(r.get(), i, j), static_cast<size_t>(PQgetlength(r.get(), i, j))));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  int64_t Exec(std::string_view sql, const std::vector<SqlValue>& args, bool constraint_ok) override {
    Result r(Run(sql, args));
    if (!Check(r, PGRES_COMMAND_OK, constraint_ok)) return -1;
    const char* n = PQcmdTuples(r.get());
    return (n && *n) ? std::stoll(n) : 0;
  }

  void Script(std::string_view sql) override {
    Result r(PQexec(c_, std::string(sql).c_str()));
    Check(r, PGRES_COMMAND_OK, false);
  }
  void Begin() override { Script("BEGIN"); }
  void Commit() override { Script("COMMIT"); }
  void Rollback() noexcept override { PQclear(PQexec(c_, "ROLLBACK")); }
  std::string_view name() const override { return "postgresql"; }

 private:
  PGresult* Run(std::string_view sql, const std::vector<SqlValue>& args) {
    std::vector<std::string> text(args.size());
    std::vector<const char*> values(args.size(), nullptr);
    for (size_t i = 0; i < args.size(); ++i) {
      if (const auto* v = std::get_if<int64_t>(&args[i])) {
        text[i] = std::to_string(*v);
        values[i] = text[i].c_str();
      } else if (const auto* s = std::get_if<std::string>(&args[i])) {
        values[i] = s->c_str();
      }
    }
    return PQexecParams(c_, Number(sql).c_str(), static_cast<int>(args.size()), nullptr, values.data(), nullptr,
                        nullptr, 0);
  }

  // false only for a constraint violation (SQLSTATE class 23) when allowed.
  bool Check(const Result& r, ExecStatusType want, bool constraint_ok) {
    const auto status = PQresultStatus(r.get());
    if (status == want || (want == PGRES_COMMAND_OK && status == PGRES_TUPLES_OK)) return true;
    const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    if (constraint_ok && state && std::string_view(state).starts_with("23")) return false;
    if (PQstatus(c_) != CONNECTION_OK) PQreset(c_);  // the next call gets a fresh connection
    throw StorageError(std::string("postgresql: ") + PQerrorMessage(c_));
  }

  PGconn* c_;
};

}  // namespace

std::unique_ptr<SqlRepository> OpenPostgres(const std::string& conninfo, const StorageOptions& options) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string msg = PQerrorMessage(c);
    PQfinish(c);
    throw StorageError("postgresql: cannot connect: " + msg);
  }
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return std::make_unique<SqlRepository>(std::make_unique<PostgresDriver>(c), options);
}

}  // namespace mortise::server
