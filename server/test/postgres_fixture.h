// A private PostgreSQL server for tests: initdb + pg_ctl from Debian's
// postgresql package (/usr/lib/postgresql/15/bin) in a temporary directory,
// reachable only through a UNIX socket there, trust authentication, run as
// `nobody` when the tests run as root (PostgreSQL refuses root). Started on
// first use, stopped at the end of the test program; its log is copied to
// build/server/test-output/ if a test failed.
#pragma once

#include <string>

namespace mortise::server::testing {

class PostgresServer {
 public:
  // The shared instance (started on the first call). Aborts the test program
  // with the reason if PostgreSQL cannot start.
  static PostgresServer& Shared();
  // A new empty database; returns its libpq URL.
  std::string FreshDatabase();
  ~PostgresServer();

 private:
  PostgresServer();
  std::string Run(const std::string& command);
  std::string dir_;
  std::string socket_dir_;
  int databases_ = 0;
  bool started_ = false;
};

// The backend the parameterised suites of this test program run on
// (INSTANTIATE_TEST_SUITE_P(Backend, ..., ::testing::Values(TestBackend()))):
// "sqlite" in each module's test program, "postgresql" in
// server_postgres_test. Chosen at link time (test/backend.cc, built once per
// backend in server/CMakeLists.txt), so a test source is compiled once and
// linked into both programs.
const char* TestBackend();

// A fresh empty database of `backend` ("sqlite" or "postgresql") as a URL for
// OpenRepository / --db; SQLite files go under `dir`.
std::string FreshDatabaseUrl(const std::string& backend, const std::string& dir);

}  // namespace mortise::server::testing
