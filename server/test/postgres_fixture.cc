#include "postgres_fixture.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <gtest/gtest.h>
#include <libpq-fe.h>

namespace mortise::server::testing {
namespace {

namespace fs = std::filesystem;
constexpr char kBin[] = "/usr/lib/postgresql/15/bin";

std::string AsServerUser(const std::string& command) {
  // From "/": the server user may not be able to enter the build directory.
  if (geteuid() != 0) return "cd / && " + command;
  return "cd / && runuser -u nobody -- " + command;
}

}  // namespace

PostgresServer& PostgresServer::Shared() {
  static PostgresServer* instance = new PostgresServer();
  static const bool registered = [] {
    std::atexit([] { delete instance; });
    return true;
  }();
  (void)registered;
  return *instance;
}

std::string PostgresServer::Run(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + command);
  char buf[512];
  while (fgets(buf, sizeof(buf), p)) out += buf;
  const int rc = pclose(p);
  if (rc != 0) throw std::runtime_error(command + " failed:\n" + out);
  return out;
}

PostgresServer::PostgresServer() {
  char tmpl[] = "/tmp/mortise-pg-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::fprintf(stderr, "postgres fixture: mkdtemp failed\n");
    std::abort();
  }
  dir_ = tmpl;
  socket_dir_ = dir_ + "/sock";
  fs::create_directories(socket_dir_);
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("nobody");
    if (!pw || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0 ||
        chown(socket_dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      std::fprintf(stderr, "postgres fixture: cannot hand %s to nobody\n", dir_.c_str());
      std::abort();
    }
  }
  try {
    Run(AsServerUser(std::string(kBin) + "/initdb -D " + dir_ + "/data -U mortise --auth=trust --locale=C -E UTF8"));
    Run(AsServerUser(std::string(kBin) + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/log -w -o \"-k " +
                     socket_dir_ + " -c listen_addresses='' -c fsync=on\" start"));
    started_ = true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postgres fixture: %s\n", e.what());
    std::abort();
  }
}

PostgresServer::~PostgresServer() {
  if (started_) {
    try {
      Run(AsServerUser(std::string(kBin) + "/pg_ctl -D " + dir_ + "/data -m fast -w stop"));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "postgres fixture: %s\n", e.what());
    }
  }
  const auto* unit = ::testing::UnitTest::GetInstance();
  if (unit && unit->failed_test_count() > 0) {
    fs::create_directories(MORTISE_SERVER_TEST_OUTPUT);
    std::error_code ec;
    fs::copy_file(dir_ + "/log", fs::path(MORTISE_SERVER_TEST_OUTPUT) / "postgres.log",
                  fs::copy_options::overwrite_existing, ec);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PostgresServer::FreshDatabase() {
  const std::string name = "t" + std::to_string(++databases_);
  const std::string admin = "postgresql:///postgres?host=" + socket_dir_ + "&user=mortise";
  PGconn* c = PQconnectdb(admin.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string msg = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("postgres fixture: " + msg);
  }
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string msg = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error("postgres fixture: CREATE DATABASE: " + msg);
  return "postgresql:///" + name + "?host=" + socket_dir_ + "&user=mortise";
}

std::string FreshDatabaseUrl(const std::string& backend, const std::string& dir) {
  if (backend == "postgresql") return PostgresServer::Shared().FreshDatabase();
  static int n = 0;
  return "sqlite:" + (fs::path(dir) / ("db" + std::to_string(++n))).string();
}

}  // namespace mortise::server::testing
