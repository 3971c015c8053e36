// mortise-server: wires the configuration, the SQLite repository, the API
// and the HTTP listener; waits for SIGTERM/SIGINT and shuts down gracefully.
//   mortise-server [--config FILE] [--listen HOST:PORT] [--db sqlite:PATH|postgresql://...]
//                  [--uplink-broker HOST:PORT --uplink-ca F --uplink-cert F --uplink-key F [--uplink-ca-key F]]
//                  [--tls-cert FILE --tls-key FILE]
//   mortise-server backup --db sqlite:PATH --out FILE
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api.h"
#include "api_error.h"
#include "config.h"
#include "door_state.h"
#include "door_updates.h"
#include "lock_link.h"
#include "log_custody.h"
#include "duty_time.h"
#include "uplink_certs.h"
#include "door_transfers.h"
#include "log_ingest.h"
#include "log_store.h"
#include "mortise/uplink/pki.h"
#include "http_server.h"
#include "sql_repository.h"

using namespace mortise::server;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int Serve(Config config) {
  FinishConfig(config);
  auto repo = OpenRepository(config.db, {.busy_timeout_ms = config.db_busy_timeout_ms});
  SystemClock clock;
  OsRandom random;
  // The lock side ([uplink]): the door states, the door logs and the link
  // that relays frames to locks. The link exists before the API so the
  // access routes (signed updates, lockdown) can send through it.
  // Events for the console's stream go to the API's hub once it exists
  // (nothing publishes before the link and the ingest start, below).
  Api* api_for_events = nullptr;
  auto publish = [&api_for_events](std::string_view org_id, const nlohmann::json& event) {
    if (api_for_events) api_for_events->events().Publish(org_id, event);
  };
  DoorStateStore states(*repo);
  DoorStateIngest ingest(states, clock, publish);
  // A door whose lock names a higher claim generation than it was
  // registered under is marked transferred (door_transfers.h).
  DoorTransfers transfers(*repo, clock);
  ingest.SetClaimObserver([&transfers, &publish](const DoorRef& door, int64_t generation) {
    try {
      transfers.Observe(door, generation, publish);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mortise-server: claim generation of %s not recorded: %s\n", door.door_id.c_str(), e.what());
    }
  });
  LogStore logs(*repo);
  LogIngest log_ingest(logs, clock, publish);
  std::optional<mortise::uplink::Credential> ca;
  std::optional<UplinkCertificates> certs;
  std::unique_ptr<MqttLockLink> link;
  if (config.uplink.enabled()) {
    LockLinkHandlers h;
    h.registered = [&states](std::string_view lock) { return states.DoorOfLock(lock).has_value(); };
    h.on_state = [&ingest](std::string_view lock, std::string_view payload) { ingest.OnState(lock, payload); };
    h.on_online = [&ingest](std::string_view lock, bool online) { ingest.OnOnline(lock, online); };
    // Pages go to the intake's thread (group commit, docs/server.md "Door
    // logs"); a page the database refuses stays after the lock's cursor
    // and comes again at the lock's next connection.
    h.on_log = [&log_ingest](std::string_view lock, std::string_view payload) { log_ingest.Enqueue(lock, payload); };
    link = std::make_unique<MqttLockLink>(config.uplink, std::move(h), random);
  }

  Api api(*repo, clock, random, config.api, link.get());
  api_for_events = &api;
  HttpServer http(config.http, [&api](const Request& r) { return api.Handle(r); });
  api.metrics().AddGauge("mortise_server_http_connections", "HTTP connections open.",
                         [&http] { return static_cast<double>(http.open_connections()); });

  LinkServices services;
  services.states = &states;
  services.transfers = &transfers;
  services.lock_cert_days = config.uplink.lock_cert_days;
  services.relay_timeout_ms = config.uplink.relay_timeout_ms;
  services.relay_per_minute = config.uplink.relay_per_minute;
  services.relays = RelayGate::LimitsFor(config.http.threads, config.uplink.relays);
  if (!config.uplink.ca_key_file.empty()) {
    ca = mortise::uplink::Credential{ReadFile(config.uplink.ca_key_file), ReadFile(config.uplink.ca_file)};
    services.ca = &*ca;
    // The certificates it issues are recorded and revoked (docs/uplink.md
    // "Revocation"); the list is written at start too (a door removed while
    // the server was down, or just before a crash).
    std::string crl_file = config.uplink.crl_file;
    if (crl_file.empty()) {
      const size_t slash = config.uplink.ca_key_file.rfind('/');
      crl_file = (slash == std::string::npos ? std::string(".") : config.uplink.ca_key_file.substr(0, slash)) +
                 "/crl.pem";
    }
    certs.emplace(*repo, clock, *ca, crl_file);
    services.certs = &*certs;
    try {
      certs->RevokeRemovedDoors(true);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mortise-server: warning: %s\n", e.what());
    }
  }
  if (link) {
    services.link = link.get();
    api.metrics().AddGauge("mortise_server_uplink_connected", "1 while the link to the MQTT broker is up.",
                           [&link] { return link->connected() ? 1.0 : 0.0; });
    api.metrics().AddGauge("mortise_server_uplink_ignored_messages_total",
                           "Messages from lock ids that are not registered doors (dropped).",
                           [&link] { return static_cast<double>(link->ignored_messages()); });
    api.metrics().AddGauge("mortise_server_uplink_dropped_answers_total",
                           "Answers nobody waited for (late, duplicate, unknown correlation).",
                           [&link] { return static_cast<double>(link->dropped_answers()); });
    api.metrics().AddGauge("mortise_server_door_state_batches_total", "Door state batches written.",
                           [&ingest] { return static_cast<double>(ingest.batches()); });
    const auto& c = log_ingest.counters();
    api.metrics().AddGauge("mortise_server_log_pages_stored_total", "Door log pages stored (any verdict but duplicate).",
                           [&c] { return static_cast<double>(c.pages.load()); });
    api.metrics().AddGauge("mortise_server_log_records_stored_total", "Door log records stored.",
                           [&c] { return static_cast<double>(c.records.load()); });
    api.metrics().AddGauge("mortise_server_log_pages_refused_total",
                           "Door log pages refused (broken chain, bad signature, unknown door, malformed).",
                           [&c] {
                             return static_cast<double>(c.broken.load() + c.bad_signature.load() +
                                                        c.unknown_door.load() + c.malformed.load());
                           });
    api.metrics().AddGauge("mortise_server_log_refused_pages_dropped_total",
                           "Refused door log pages deleted beyond the newest 100 kept per door as evidence.",
                           [&c] { return static_cast<double>(c.refused_dropped.load()); });
    api.metrics().AddGauge("mortise_server_log_pages_not_stored_total",
                           "Door log pages the database failed to store (the lock sends them again).",
                           [&c] { return static_cast<double>(c.errors.load()); });
    api.metrics().AddGauge("mortise_server_log_commits_total", "Transactions of the door log intake (group commit).",
                           [&c] { return static_cast<double>(c.commits.load()); });
  }
  api.AttachLink(services);

  // Signed updates a door has not confirmed are re-sent while it is online
  // (docs/server.md "Access"): one pass a second, each update on its own
  // back-off.
  std::unique_ptr<DoorUpdateDeliverer> deliverer;
  std::mutex deliver_mu;
  std::condition_variable deliver_cv;
  bool deliver_stop = false;
  std::thread deliver_thread;
  if (link) deliverer = std::make_unique<DoorUpdateDeliverer>(*repo, *link, clock, config.api.access.delivery, publish);
  // Log custody (docs/server.md "Log custody"): on the same loop, each door
  // with a certified custody key acknowledges its newest verified records
  // at the lock's pace.
  LogCustody custody(*repo, clock, random);
  // Duties (docs/server.md "Duties"): on the same loop, each door whose
  // owner certified the server's time key has its clock asked and, when it
  // drifted, corrected by a small statement at the lock's pace.
  DutyClock duty_clock(*repo, clock, random);
  api.metrics().AddCounter("mortise_server_time_corrections_total", "Time statements the locks answered corrected.",
                           [&duty_clock] { return static_cast<double>(duty_clock.corrections()); });
  api.metrics().AddCounter("mortise_server_time_refusals_total", "Time statements the locks refused.",
                           [&duty_clock] { return static_cast<double>(duty_clock.refusals()); });
  api.metrics().AddCounter("mortise_server_time_queries_total", "Locks' clocks asked (bare frame 0x07).",
                           [&duty_clock] { return static_cast<double>(duty_clock.queries()); });

  // Signals are taken by this thread alone (sigwait), so block them before
  // the worker threads start and inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  // Threads of the link to locks: started after the mask, like the HTTP workers.
  ingest.Start(config.uplink.state_flush_ms);
  log_ingest.Start();
  if (link) link->Start();
  if (deliverer) {
    deliver_thread = std::thread([&] {
      std::unique_lock lock(deliver_mu);
      while (!deliver_stop) {
        lock.unlock();
        try {
          deliverer->DeliverDue();
        } catch (const std::exception& e) {
          std::fprintf(stderr, "mortise-server: delivering signed updates: %s\n", e.what());
        }
        try {
          custody.StepAll(*link);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "mortise-server: log custody: %s\n", e.what());
        }
        try {
          duty_clock.StepAll(*link);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "mortise-server: time statements: %s\n", e.what());
        }
        lock.lock();
        deliver_cv.wait_for(lock, std::chrono::seconds(1), [&] { return deliver_stop; });
      }
    });
  }

  const uint16_t port = http.Start();
  const std::string host = config.http.host.find(':') != std::string::npos ? "[" + config.http.host + "]"
                                                                            : config.http.host;
  std::fprintf(stderr, "mortise-server: listening on %s://%s:%u\n", config.http.tls() ? "https" : "http", host.c_str(),
               port);
  std::fflush(stderr);
  // While waiting for the signal: every 5 s, event streams whose session
  // expired after they opened are closed (docs/server.md "Events").
  const timespec tick{5, 0};
  while (sigtimedwait(&set, nullptr, &tick) < 0) {
    try {
      api.CloseExpiredStreams();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mortise-server: closing expired streams: %s\n", e.what());
    }
  }
  // After Shutdown() returns, every response carries Connection: close.
  http.Shutdown();
  std::fprintf(stderr, "mortise-server: shutting down (finishing requests in flight)\n");
  std::fflush(stderr);
  http.Wait();
  if (deliver_thread.joinable()) {
    {
      std::lock_guard lock(deliver_mu);
      deliver_stop = true;
    }
    deliver_cv.notify_all();
    deliver_thread.join();
  }
  if (link) link->Stop();
  log_ingest.Stop();  // after the link: what it handed on is stored
  ingest.Stop();
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
  std::string up_broker, up_ca, up_cert, up_key, up_ca_key, up_crl;
  app.add_option("--uplink-broker", up_broker, "MQTT broker HOST:PORT (TLS): the link to locks ([uplink] broker)");
  app.add_option("--uplink-ca", up_ca, "the deployment's CA certificate ([uplink] ca)");
  app.add_option("--uplink-cert", up_cert, "the server's broker certificate ([uplink] certificate)");
  app.add_option("--uplink-key", up_key, "its key ([uplink] key)");
  app.add_option("--uplink-ca-key", up_ca_key, "the CA's key: issues locks' broker certificates ([uplink] ca_key)");
  app.add_option("--uplink-crl", up_crl,
                 "the revocation list written for the broker ([uplink] crl_file; default crl.pem beside the CA key)");
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
    if (!up_broker.empty()) config.uplink.broker = up_broker;
    if (!up_ca.empty()) config.uplink.ca_file = up_ca;
    if (!up_cert.empty()) config.uplink.cert_file = up_cert;
    if (!up_key.empty()) config.uplink.key_file = up_key;
    if (!up_ca_key.empty()) config.uplink.ca_key_file = up_ca_key;
    if (!up_crl.empty()) config.uplink.crl_file = up_crl;
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
