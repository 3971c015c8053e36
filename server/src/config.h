// mortise-server's settings: defaults, the TOML file (--config) and the
// command-line overrides. docs/server.md lists every key with its default.
#pragma once

#include <stdexcept>
#include <string>

#include "api.h"
#include "http_server.h"
#include "lock_link.h"

namespace mortise::server {

struct Config {
  std::string listen = "127.0.0.1:8080";  // [http] listen
  HttpOptions http;                       // host and port come from `listen`
  std::string db = "sqlite:mortise-server.db";  // or postgresql://...
  int db_busy_timeout_ms = 5000;
  ApiSettings api;
  UplinkSettings uplink;  // [uplink]: the MQTT link to locks (off when broker is empty)
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a TOML file over the defaults. Unknown keys, wrong types and values
// out of range are errors naming the key.
Config LoadConfigFile(const std::string& path);
// Splits `listen` ("HOST:PORT", "[V6]:PORT") into http.host/port and checks
// the whole configuration (e.g. the test-fast password profile only on
// loopback). Throws ConfigError.
void FinishConfig(Config& config);

// "HOST:PORT" or "[V6]:PORT" -> host (without brackets) and port 0..65535.
// False when malformed.
bool SplitHostPort(const std::string& text, std::string& host, uint16_t& port);

// "sqlite:PATH" -> PATH; ConfigError for other schemes.
std::string SqlitePath(const std::string& db_url);
// postgresql://... or postgres://... (a libpq connection URI).
bool IsPostgresUrl(const std::string& db_url);

}  // namespace mortise::server
