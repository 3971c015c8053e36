#include "config.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <toml++/toml.h>

namespace mortise::lockd {
namespace {

std::string Where(const std::string& file, const toml::source_region& r) {
  return file + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
}

// One key's checker: returns an empty string when the value is accepted
// (and stored), else why not.
using Checker = std::function<std::string(const toml::node&)>;

std::string TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

Checker Integer(int64_t min, int64_t max, std::function<void(int64_t)> store, int64_t multiple = 1) {
  return [=](const toml::node& n) -> std::string {
    const auto* v = n.as_integer();
    if (v == nullptr) return "expected an integer, found " + TypeName(n);
    const int64_t x = v->get();
    if (x < min || x > max)
      return "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", found " + std::to_string(x);
    if (x % multiple != 0) return "must be a multiple of " + std::to_string(multiple);
    store(x);
    return {};
  };
}

Checker String(std::function<std::string(const std::string&)> store) {
  return [=](const toml::node& n) -> std::string {
    const auto* v = n.as_string();
    if (v == nullptr) return "expected a string, found " + TypeName(n);
    return store(v->get());
  };
}

Checker Bool(std::function<void(bool)> store) {
  return [=](const toml::node& n) -> std::string {
    const auto* v = n.as_boolean();
    if (v == nullptr) return "expected true or false, found " + TypeName(n);
    store(v->get());
    return {};
  };
}

std::string NonEmptyPath(const std::string& s, std::string& out) {
  if (s.empty()) return "must not be empty";
  if (s.find('\0') != std::string::npos) return "must not contain NUL";
  out = s;
  return {};
}

}  // namespace

bool ParseLogLevel(std::string_view t) {
  return t == "trace" || t == "debug" || t == "info" || t == "warn" || t == "error" || t == "critical" ||
         t == "off";
}

std::optional<TcpAddress> ParseTcpAddress(std::string_view text, std::string& why) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      why = "expected \"[::1]:PORT\"";
      return std::nullopt;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      why = "'" + host + "' is not an IPv6 address";
      return std::nullopt;
    }
    if (!IN6_IS_ADDR_LOOPBACK(&a6)) {
      why = "only loopback addresses are accepted (127.0.0.0/8 or ::1), not " + host;
      return std::nullopt;
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      why = "expected \"HOST:PORT\", e.g. \"127.0.0.1:0\"";
      return std::nullopt;
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1) {
      why = "'" + host + "' is not a numeric IPv4 address (names are not resolved)";
      return std::nullopt;
    }
    if ((ntohl(a4.s_addr) >> 24) != 127) {
      why = "only loopback addresses are accepted (127.0.0.0/8 or ::1), not " + host;
      return std::nullopt;
    }
  }
  if (port_text.empty() || port_text.size() > 5) {
    why = "expected a port from 0 to 65535";
    return std::nullopt;
  }
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      why = "expected a port from 0 to 65535";
      return std::nullopt;
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) {
    why = "expected a port from 0 to 65535";
    return std::nullopt;
  }
  return TcpAddress{host, static_cast<uint16_t>(port)};
}

bool ParseBrokerAddress(std::string_view text, UplinkConfig& out, std::string& why) {
  const size_t colon = text.rfind(':');
  std::string host(text.substr(0, colon == std::string_view::npos ? text.size() : colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (colon == std::string_view::npos || host.empty() || colon + 1 == text.size()) {
    why = "expected \"host:port\" (the broker's name as its certificate names it)";
    return false;
  }
  for (char ch : host) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == ':')) {
      why = "the host may hold letters, digits, '.', '-' and ':' only";
      return false;
    }
  }
  uint32_t port = 0;
  for (char ch : text.substr(colon + 1)) {
    if (ch < '0' || ch > '9' || port > 65535) {
      why = "expected a port from 1 to 65535";
      return false;
    }
    port = port * 10 + static_cast<uint32_t>(ch - '0');
  }
  if (port == 0 || port > 65535) {
    why = "expected a port from 1 to 65535";
    return false;
  }
  out.host = host;
  out.port = static_cast<uint16_t>(port);
  return true;
}

std::optional<ConfigError> ParseConfigText(std::string_view text, const std::string& file, Config& config) {
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return ConfigError{Where(file, e.source()) + ": " + std::string(e.description())};
  }

  Config c = config;
  using Table = std::map<std::string, Checker>;
  std::map<std::string, Table> tables;

  Table& top = tables[""];
  top["state_dir"] = String([&](const std::string& s) { return NonEmptyPath(s, c.state_dir); });
  top["backend"] = String([&](const std::string& s) -> std::string {
    if (s != "sim") return "unknown backend '" + s + "' (available: sim)";
    c.backend = s;
    return {};
  });

  Table& socket = tables["socket"];
  socket["path"] = String([&](const std::string& s) { return NonEmptyPath(s, c.socket_path); });
  socket["tcp"] = String([&](const std::string& s) -> std::string {
    if (s.empty()) {
      c.tcp.reset();
      return {};
    }
    std::string why;
    auto a = ParseTcpAddress(s, why);
    if (!a) return why;
    c.tcp = *a;
    return {};
  });

  socket["group_access"] = Bool([&](bool v) { c.socket_group_access = v; });

  Table& sim = tables["sim"];
  sim["clock"] = String([&](const std::string& s) -> std::string {
    if (s == "real") c.clock = ClockMode::kReal;
    else if (s == "simulated") c.clock = ClockMode::kSimulated;
    else return "expected \"real\" or \"simulated\", found \"" + s + "\"";
    return {};
  });
  sim["seed"] = Integer(0, INT64_MAX, [&](int64_t v) { c.seed = static_cast<uint64_t>(v); });
  sim["motor_travel_ms"] = Integer(50, 10000, [&](int64_t v) { c.motor_travel_ms = static_cast<uint32_t>(v); });
  sim["battery_percent"] = Integer(0, 100, [&](int64_t v) { c.battery_percent = static_cast<uint8_t>(v); });
  sim["door_sensor"] = Bool([&](bool v) { c.door_sensor = v; });
  sim["control_socket"] = String([&](const std::string& s) { return NonEmptyPath(s, c.control_socket); });

  Table& mech = tables["mechanics"];
  mech["motor_travel_timeout_ms"] =
      Integer(100, 60000, [&](int64_t v) { c.mechanics.motor_travel_timeout_ms = static_cast<uint32_t>(v); });
  mech["motor_retries"] = Integer(0, 10, [&](int64_t v) { c.mechanics.motor_retries = static_cast<uint8_t>(v); });
  mech["unlatch_hold_ms"] =
      Integer(100, 60000, [&](int64_t v) { c.mechanics.unlatch_hold_ms = static_cast<uint32_t>(v); });
  mech["manual_attribution_ms"] =
      Integer(100, 60000, [&](int64_t v) { c.mechanics.manual_attribution_ms = static_cast<uint32_t>(v); });
  mech["multi_credential_window_ms"] =
      Integer(1000, 120000, [&](int64_t v) { c.mechanics.multi_credential_window_ms = static_cast<uint32_t>(v); });

  Table& log = tables["log"];
  log["level"] = String([&](const std::string& s) -> std::string {
    if (!ParseLogLevel(s)) return "expected trace, debug, info, warn, error, critical or off, found \"" + s + "\"";
    c.log_level = s;
    return {};
  });

  Table& face = tables["face"];
  face["enabled"] = [&](const toml::node& n) -> std::string {
    if (const auto* b = n.as_boolean()) {
      c.face = b->get() ? FaceMode::kOn : FaceMode::kOff;
      return {};
    }
    if (const auto* s = n.as_string(); s != nullptr && s->get() == "auto") {
      c.face = FaceMode::kAuto;
      return {};
    }
    return "expected true, false or \"auto\", found " + TypeName(n);
  };

  Table& storage = tables["storage"];
  storage["store_kib"] = Integer(kMinStoreKib, kMaxStoreKib, [&](int64_t v) { c.store_kib = static_cast<uint32_t>(v); },
                                 kBlockKib);
  storage["log_kib"] =
      Integer(kMinLogKib, kMaxLogKib, [&](int64_t v) { c.log_kib = static_cast<uint32_t>(v); }, kBlockKib);

  Table& uplink = tables["uplink"];
  uplink["broker"] = String([&](const std::string& s) -> std::string {
    std::string why;
    return ParseBrokerAddress(s, c.uplink, why) ? std::string() : why;
  });
  uplink["ca_file"] = String([&](const std::string& s) { return NonEmptyPath(s, c.uplink.ca_file); });
  uplink["certificate"] = String([&](const std::string& s) { return NonEmptyPath(s, c.uplink.certificate); });
  uplink["keepalive_s"] = Integer(5, 3600, [&](int64_t v) { c.uplink.keepalive_s = static_cast<uint32_t>(v); });
  uplink["queue_limit"] = Integer(4, 4096, [&](int64_t v) { c.uplink.queue_limit = static_cast<uint32_t>(v); });
  uplink["backoff_initial_ms"] =
      Integer(10, 60'000, [&](int64_t v) { c.uplink.backoff_initial_ms = static_cast<uint32_t>(v); });
  uplink["backoff_max_ms"] =
      Integer(100, 3'600'000, [&](int64_t v) { c.uplink.backoff_max_ms = static_cast<uint32_t>(v); });
  uplink["log_page_bytes"] =
      Integer(256, 16384, [&](int64_t v) { c.uplink.log_page_bytes = static_cast<uint32_t>(v); });

  auto check_table = [&](const toml::table& t, const std::string& prefix, const Table& keys,
                         bool top_level) -> std::optional<ConfigError> {
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      const std::string full = prefix.empty() ? key : prefix + "." + key;
      if (top_level && v.is_table()) {
        auto it = tables.find(key);
        if (it == tables.end() || key.empty())
          return ConfigError{Where(file, k.source()) + ": unknown table [" + key + "]"};
        continue;  // checked below
      }
      auto it = keys.find(key);
      if (it == keys.end()) return ConfigError{Where(file, k.source()) + ": key '" + full + "': unknown key"};
      std::string why = it->second(v);
      if (!why.empty()) return ConfigError{Where(file, v.source()) + ": key '" + full + "': " + why};
    }
    return std::nullopt;
  };

  if (auto e = check_table(root, "", top, true)) return e;
  for (auto&& [k, v] : root) {
    if (!v.is_table()) continue;
    const std::string name(k.str());
    if (auto e = check_table(*v.as_table(), name, tables.at(name), false)) return e;
  }
  config = c;
  return std::nullopt;
}

std::optional<ConfigError> ParseConfigFile(const std::string& path, Config& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ConfigError{path + ": cannot read the configuration file"};
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return ConfigError{path + ": cannot read the configuration file"};
  return ParseConfigText(ss.str(), path, config);
}

std::optional<ConfigError> Finalize(Config& c) {
  if (c.state_dir.empty())
    return ConfigError{"configuration: no state directory (set state_dir in the file or pass --state-dir)"};
  std::string dir = c.state_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  c.state_dir = dir;
  if (c.socket_path.empty()) c.socket_path = dir + "/lock.sock";
  if (c.control_socket.empty()) c.control_socket = dir + "/sim.sock";
  const size_t max_path = sizeof(sockaddr_un{}.sun_path) - 1;
  if (c.socket_path.size() > max_path)
    return ConfigError{"configuration: key 'socket.path': '" + c.socket_path + "' is longer than " +
                       std::to_string(max_path) + " bytes (a UNIX socket path limit)"};
  if (c.control_socket.size() > max_path)
    return ConfigError{"configuration: key 'sim.control_socket': '" + c.control_socket + "' is longer than " +
                       std::to_string(max_path) + " bytes (a UNIX socket path limit)"};
  if (c.socket_path == c.control_socket)
    return ConfigError{"configuration: key 'sim.control_socket': the same path as socket.path"};
  if (c.uplink.enabled()) {
    if (c.uplink.ca_file.empty())
      return ConfigError{"configuration: key 'uplink.ca_file': required with uplink.broker (the deployment's CA; "
                         "the lock verifies the broker's certificate against it)"};
    if (c.uplink.certificate.empty()) c.uplink.certificate = dir + "/uplink.crt";
    if (c.uplink.backoff_max_ms < c.uplink.backoff_initial_ms)
      return ConfigError{"configuration: key 'uplink.backoff_max_ms' must be at least uplink.backoff_initial_ms"};
  } else if (!c.uplink.ca_file.empty() || !c.uplink.certificate.empty()) {
    return ConfigError{"configuration: [uplink] without 'broker': set uplink.broker, or remove the table"};
  }
  if (c.mechanics.motor_travel_timeout_ms <= c.motor_travel_ms)
    return ConfigError{"configuration: key 'mechanics.motor_travel_timeout_ms' (" +
                       std::to_string(c.mechanics.motor_travel_timeout_ms) + ") must exceed sim.motor_travel_ms (" +
                       std::to_string(c.motor_travel_ms) + "), or every motion would be declared jammed"};
  return std::nullopt;
}

}  // namespace mortise::lockd
