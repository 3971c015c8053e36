// mortise-server: wires the configuration, the SQLite repository, the API
// and the HTTP listener; waits for SIGTERM/SIGINT and shuts down gracefully.
//   mortise-server [--config FILE] [--listen HOST:PORT] [--db sqlite:PATH|postgresql://...]
//                  [--tls-cert FILE --tls-key FILE]
//   mortise-server backup --db sqlite:PATH --out FILE
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "api.h"
#include "api_error.h"
#include "config.h"
#include "http_server.h"
#include "sql_repository.h"

using namespace mortise::server;

namespace {

int Serve(Config config) {
  FinishConfig(config);
  auto repo = OpenRepository(config.db, {.busy_timeout_ms = config.db_busy_timeout_ms});
  SystemClock clock;
  OsRandom random;
  Api api(*repo, clock, random, config.api);
  HttpServer http(config.http, [&api](const Request& r) { return api.Handle(r); });
  api.metrics().AddGauge("mortise_server_http_connections", "HTTP connections open.",
                         [&http] { return static_cast<double>(http.open_connections()); });

  // Signals are taken by this thread alone (sigwait), so block them before
  // the worker threads start and inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  const uint16_t port = http.Start();
  const std::string host = config.http.host.find(':') != std::string::npos ? "[" + config.http.host + "]"
                                                                            : config.http.host;
  std::fprintf(stderr, "mortise-server: listening on %s://%s:%u\n", config.http.tls() ? "https" : "http", host.c_str(),
               port);
  std::fflush(stderr);
  int sig = 0;
  sigwait(&set, &sig);
  // After Shutdown() returns, every response carries Connection: close.
  http.Shutdown();
  std::fprintf(stderr, "mortise-server: shutting down (finishing requests in flight)\n");
  std::fflush(stderr);
  http.Wait();
  std::fprintf(stderr, "mortise-server: stopped\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Every file the server writes (database, -wal/-shm, backups) is owner-only,
  // whatever umask it was started with (the storage layer also sets 0600).
  ::umask(077);
  CLI::App app("mortise-server: the Mortise management server (docs/server.md)");
  std::string config_file, listen, db, profile, tls_cert, tls_key;
  app.add_option("--config", config_file, "TOML settings file (every setting: docs/server.md)");
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free port)");
  app.add_option("--db", db, "database: sqlite:PATH or postgresql://...");
  app.add_option("--tls-cert", tls_cert, "serve HTTPS with this PEM certificate (chain); needs --tls-key");
  app.add_option("--tls-key", tls_key, "the PEM private key of --tls-cert");
  app.add_option("--password-profile", profile, "Argon2id profile: interactive, moderate, test-fast (loopback only)");
  auto* backup = app.add_subcommand("backup", "consistent snapshot of a (running) SQLite database");
  std::string backup_db, backup_out;
  backup->add_option("--db", backup_db, "database: sqlite:PATH")->required();
  backup->add_option("--out", backup_out, "the new snapshot file")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (*backup) {
      BackupSqlite(SqlitePath(backup_db), backup_out);
      std::fprintf(stderr, "mortise-server: backup written to %s\n", backup_out.c_str());
      return 0;
    }
    Config config = config_file.empty() ? Config{} : LoadConfigFile(config_file);
    if (!listen.empty()) config.listen = listen;
    if (!db.empty()) config.db = db;
    if (!tls_cert.empty()) config.http.tls_cert_file = tls_cert;
    if (!tls_key.empty()) config.http.tls_key_file = tls_key;
    if (!profile.empty()) {
      const auto p = ParsePasswordProfile(profile);
      if (!p) throw ConfigError("--password-profile must be interactive, moderate or test-fast");
      config.api.auth.password_profile = *p;
    }
    return Serve(std::move(config));
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "mortise-server: configuration: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mortise-server: %s\n", e.what());
    return 1;
  }
}
