// mortise-lockd's configuration: a TOML file and command-line overrides,
// validated whole before the daemon creates anything (docs/lockd.md lists
// every key with its default).
//
// Why strict: a typo in a lock's configuration ("tpc = ...", a port on a
// public address) must stop the daemon with the file, line and key named,
// never be ignored and leave the lock running with a setting its operator
// did not choose.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mortise/core/door_lock.h"

namespace mortise::lockd {

enum class ClockMode : uint8_t { kReal, kSimulated };
enum class FaceMode : uint8_t { kAuto, kOn, kOff };

struct TcpAddress {
  std::string host;  // a numeric loopback address: 127.0.0.0/8 or ::1
  uint16_t port = 0;  // 0: the kernel picks one (logged at start)
};

// [uplink] (docs/lockd.md, docs/uplink.md): off unless `broker` is set.
struct UplinkConfig {
  std::string host;                  // the broker's name, as its certificate names it
  uint16_t port = 8883;
  std::string ca_file;               // the deployment's CA (required with broker)
  std::string certificate;           // default <state_dir>/uplink.crt
  uint32_t keepalive_s = 30;
  uint32_t queue_limit = 64;         // outgoing messages waiting; beyond: dropped and counted
  uint32_t backoff_initial_ms = 1000;
  uint32_t backoff_max_ms = 60'000;
  uint32_t log_page_bytes = 2048;    // audit-log bytes per log message
  bool enabled() const { return !host.empty(); }
};

struct Config {
  std::string state_dir;               // required (file or --state-dir)
  std::string backend = "sim";         // the only backend so far
  // [socket]
  std::string socket_path;             // default <state_dir>/lock.sock
  std::optional<TcpAddress> tcp;       // default: disabled
  // The protocol socket's mode: 0600 (the daemon's user alone) unless set,
  // then 0660 so members of the daemon's group connect (every frame is
  // authenticated; a connection only holds a slot, ConnectionLimits).
  bool socket_group_access = false;
  // [sim]
  ClockMode clock = ClockMode::kReal;
  std::optional<uint64_t> seed;        // set: deterministic core randomness (tests only)
  uint32_t motor_travel_ms = 800;
  uint8_t battery_percent = 100;
  bool door_sensor = true;             // false: no door contact fitted
  std::string control_socket;          // default <state_dir>/sim.sock
  // [mechanics] (core::MechanicsConfig)
  core::MechanicsConfig mechanics;
  // [log]
  std::string log_level = "info";
  // [face]
  FaceMode face = FaceMode::kAuto;
  // [storage]
  uint32_t store_kib = 256;
  uint32_t log_kib = 64;
  // [uplink]
  UplinkConfig uplink;
};

// A refusal: what to print (already "FILE:LINE:COL: key 'x': why" or
// "command line: --opt: why").
struct ConfigError {
  std::string message;
};

// Parses a TOML document. `file` names it in messages. Fills `config` only
// on success. Unknown tables or keys, wrong types, out-of-range values and
// a non-loopback TCP address are refused.
std::optional<ConfigError> ParseConfigText(std::string_view text, const std::string& file, Config& config);
// Reads and parses a file (a file that cannot be read is refused too).
std::optional<ConfigError> ParseConfigFile(const std::string& path, Config& config);

// Checks a "host:port" TCP address ("127.0.0.1:7000", "[::1]:0").
std::optional<TcpAddress> ParseTcpAddress(std::string_view text, std::string& why);
bool ParseLogLevel(std::string_view text);
// Checks a broker address "host:port" (any host name or address: TLS
// verifies it; port 1-65535).
bool ParseBrokerAddress(std::string_view text, UplinkConfig& out, std::string& why);

// Fills the defaults that depend on other settings (socket paths in the
// state dir) and checks the whole: state dir given, socket paths short
// enough for sockaddr_un, distinct. Returns a refusal or nothing.
std::optional<ConfigError> Finalize(Config& config);

// Storage limits (store/: RecordStore 4..256 blocks, AuditLog 3..64 blocks,
// 4 KiB blocks).
inline constexpr uint32_t kBlockKib = 4;
inline constexpr uint32_t kMinStoreKib = 16;
inline constexpr uint32_t kMaxStoreKib = 1024;
inline constexpr uint32_t kMinLogKib = 12;
inline constexpr uint32_t kMaxLogKib = 256;

}  // namespace mortise::lockd
