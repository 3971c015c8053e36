// mortise-lockd: runs one lock on Linux (docs/lockd.md).
#include <unistd.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config.h"
#include "daemon.h"

namespace {

using mortise::lockd::Config;
using mortise::lockd::ConfigError;

int Refuse(const std::string& message) {
  std::fprintf(stderr, "mortise-lockd: %s\n", message.c_str());
  return mortise::lockd::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mortise-lockd: runs one Mortise lock (docs/lockd.md)", "mortise-lockd"};
  std::string config_file, state_dir, backend, clock, socket, tcp, control_socket, log_level;
  int64_t seed = -1;
  bool face = false, no_face = false, version = false, group_access = false;
  app.add_option("-c,--config", config_file, "TOML configuration file");
  app.add_option("-s,--state-dir", state_dir, "state directory (overrides state_dir)");
  app.add_option("--backend", backend, "hardware backend (overrides backend; only \"sim\")");
  app.add_option("--clock", clock, "real or simulated (overrides [sim] clock)");
  app.add_option("--seed", seed, "deterministic core randomness, tests only (overrides [sim] seed)");
  app.add_option("--socket", socket, "protocol socket path (overrides [socket] path)");
  app.add_option("--tcp", tcp, "loopback HOST:PORT for framed TCP, \"\" to disable (overrides [socket] tcp)");
  app.add_flag("--socket-group-access", group_access,
               "protocol socket mode 0660, for the daemon's group (overrides [socket] group_access)");
  app.add_option("--control-socket", control_socket, "simulation control socket (overrides [sim] control_socket)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off (overrides [log] level)");
  app.add_flag("--face", face, "draw the lock face (overrides [face] enabled)");
  app.add_flag("--no-face", no_face, "never draw the lock face");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return mortise::lockd::kExitUsage;
  }
  if (version) {
    std::puts("mortise-lockd 0.1.0");
    return 0;
  }

  Config config;
  if (!config_file.empty()) {
    if (auto e = mortise::lockd::ParseConfigFile(config_file, config)) return Refuse(e->message);
  }
  // Command-line overrides, checked as strictly as the file's keys.
  if (!state_dir.empty()) config.state_dir = state_dir;
  if (app.count("--backend")) {
    if (backend != "sim") return Refuse("command line: --backend: unknown backend '" + backend + "' (available: sim)");
    config.backend = backend;
  }
  if (app.count("--clock")) {
    if (clock == "real") config.clock = mortise::lockd::ClockMode::kReal;
    else if (clock == "simulated") config.clock = mortise::lockd::ClockMode::kSimulated;
    else return Refuse("command line: --clock: expected real or simulated, found '" + clock + "'");
  }
  if (app.count("--seed")) {
    if (seed < 0) return Refuse("command line: --seed: must be 0 or more");
    config.seed = static_cast<uint64_t>(seed);
  }
  if (app.count("--socket")) {
    if (socket.empty()) return Refuse("command line: --socket: must not be empty");
    config.socket_path = socket;
  }
  if (app.count("--tcp")) {
    if (tcp.empty()) {
      config.tcp.reset();
    } else {
      std::string why;
      auto a = mortise::lockd::ParseTcpAddress(tcp, why);
      if (!a) return Refuse("command line: --tcp: " + why);
      config.tcp = *a;
    }
  }
  if (group_access) config.socket_group_access = true;
  if (app.count("--control-socket")) {
    if (control_socket.empty()) return Refuse("command line: --control-socket: must not be empty");
    config.control_socket = control_socket;
  }
  if (app.count("--log-level")) {
    if (!mortise::lockd::ParseLogLevel(log_level))
      return Refuse("command line: --log-level: expected trace, debug, info, warn, error, critical or off");
    config.log_level = log_level;
  }
  if (face && no_face) return Refuse("command line: --face and --no-face together");
  if (face) config.face = mortise::lockd::FaceMode::kOn;
  if (no_face) config.face = mortise::lockd::FaceMode::kOff;
  if (auto e = mortise::lockd::Finalize(config)) return Refuse(e->message);

  auto logger = spdlog::stderr_color_mt("lockd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  return mortise::lockd::RunDaemon(config);
}
