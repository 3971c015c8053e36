#include "config.h"

#include <set>

#include <toml++/toml.h>

namespace mortise::server {
namespace {

class Reader {
 public:
  explicit Reader(const toml::table& root) : root_(root) {}

  template <typename T>
  void Get(const char* section, const char* key, T& out, int64_t lo = 0, int64_t hi = 0) {
    known_.insert(std::string(section) + "." + key);
    const auto* node = root_.at_path(std::string(section) + "." + key).node();
    if (!node) return;
    const std::string name = std::string(section) + "." + key;
    if constexpr (std::is_same_v<T, std::string>) {
      if (!node->is_string()) throw ConfigError(name + " must be a string");
      out = node->as_string()->get();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!node->is_boolean()) throw ConfigError(name + " must be true or false");
      out = node->as_boolean()->get();
    } else {
      if (!node->is_integer()) throw ConfigError(name + " must be an integer");
      const int64_t v = node->as_integer()->get();
      if (v < lo || v > hi) {
        throw ConfigError(name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
      }
      out = static_cast<T>(v);
    }
  }

  void Ms(const char* section, const char* key, std::chrono::milliseconds& out, int64_t lo, int64_t hi) {
    int64_t v = out.count();
    Get(section, key, v, lo, hi);
    out = std::chrono::milliseconds(v);
  }

  void RejectUnknown() const {
    for (const auto& [section, node] : root_) {
      const auto* t = node.as_table();
      if (!t) throw ConfigError("unknown setting " + std::string(section.str()) + " (settings live in sections)");
      for (const auto& [key, v] : *t) {
        const std::string name = std::string(section.str()) + "." + std::string(key.str());
        if (!known_.count(name)) throw ConfigError("unknown setting " + name + " (see docs/server.md)");
      }
    }
  }

 private:
  const toml::table& root_;
  std::set<std::string> known_;
};

bool IsLoopback(const std::string& host) {
  return host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

Config LoadConfigFile(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(path + ": " + std::string(e.description()) + " at line " +
                      std::to_string(e.source().begin.line));
  }
  Config c;
  Reader r(root);
  r.Get("http", "listen", c.listen);
  r.Get("http", "header_limit_bytes", c.http.header_limit_bytes, 1024, 1 << 20);
  r.Get("http", "body_limit_bytes", c.http.body_limit_bytes, 1024, 64 << 20);
  r.Ms("http", "header_timeout_ms", c.http.header_timeout, 100, 3600000);
  r.Ms("http", "body_timeout_ms", c.http.body_timeout, 100, 3600000);
  r.Ms("http", "write_timeout_ms", c.http.write_timeout, 100, 3600000);
  r.Ms("http", "shutdown_grace_ms", c.http.shutdown_grace, 0, 3600000);
  r.Get("http", "threads", c.http.threads, 1, 64);
  r.Get("http", "cookie_secure", c.api.cookie_secure);
  r.Get("http", "public_origin", c.api.public_origin);
  r.Get("http", "ws_queue_messages", c.http.ws_queue_messages, 1, 1 << 20);
  r.Get("http", "ws_queue_bytes", c.http.ws_queue_bytes, 1024, 1 << 30);
  r.Ms("http", "ws_idle_timeout_ms", c.http.ws_idle_timeout, 1000, 3600000);
  r.Get("tls", "cert_file", c.http.tls_cert_file);
  r.Get("tls", "key_file", c.http.tls_key_file);
  r.Get("db", "url", c.db);
  r.Get("db", "busy_timeout_ms", c.db_busy_timeout_ms, 0, 600000);
  std::string profile(PasswordProfileName(c.api.auth.password_profile));
  r.Get("auth", "password_profile", profile);
  const auto p = ParsePasswordProfile(profile);
  if (!p) throw ConfigError("auth.password_profile must be \"interactive\", \"moderate\" or \"test-fast\"");
  c.api.auth.password_profile = *p;
  r.Get("auth", "open_signup", c.api.auth.open_signup);
  r.Get("auth", "session_lifetime_s", c.api.auth.session_lifetime_s, 60, 366LL * 24 * 3600);
  r.Get("auth", "session_idle_s", c.api.auth.session_idle_s, 60, 366LL * 24 * 3600);
  r.Get("auth", "account_lockout_failures", c.api.auth.throttle.account_failures, 1, 1000);
  r.Get("auth", "account_lockout_s", c.api.auth.throttle.account_lockout_s, 1, 7LL * 24 * 3600);
  r.Get("auth", "address_failures", c.api.auth.throttle.address_failures, 1, 100000);
  r.Get("auth", "address_window_s", c.api.auth.throttle.address_window_s, 1, 7LL * 24 * 3600);
  r.Get("auth", "totp_issuer", c.api.auth.totp_issuer);
  r.Get("orgs", "invitation_lifetime_s", c.api.orgs.invitation_lifetime_s, 60, 90LL * 24 * 3600);
  r.Get("orgs", "door_challenge_lifetime_s", c.api.orgs.door_challenge_lifetime_s, 10, 3600);
  r.Get("audit", "retention_days", c.api.audit.retention_days, 1, 100LL * 366);
  r.Get("uplink", "broker", c.uplink.broker);
  r.Get("uplink", "ca", c.uplink.ca_file);
  r.Get("uplink", "certificate", c.uplink.cert_file);
  r.Get("uplink", "key", c.uplink.key_file);
  r.Get("uplink", "ca_key", c.uplink.ca_key_file);
  r.Get("uplink", "crl_file", c.uplink.crl_file);
  r.Get("uplink", "lock_certificate_days", c.uplink.lock_cert_days, 1, 3650);
  r.Get("uplink", "backoff_initial_ms", c.uplink.backoff_initial_ms, 10, 600000);
  r.Get("uplink", "backoff_max_ms", c.uplink.backoff_max_ms, 10, 3600000);
  r.Get("uplink", "state_flush_ms", c.uplink.state_flush_ms, 0, 60000);
  r.Get("uplink", "relay_timeout_ms", c.uplink.relay_timeout_ms, 100, 60000);
  r.Get("uplink", "relay_per_minute", c.uplink.relay_per_minute, 1, 100000);
  r.Get("uplink", "relay_probation_timeout_ms", c.uplink.relays.probation_timeout_ms, 100, 60000);
  r.Get("uplink", "relay_fast_answer_ms", c.uplink.relays.fast_answer_ms, 10, 60000);
  r.Get("uplink", "relay_probation_ms", c.uplink.relays.probation_ms, 0, 24LL * 3600 * 1000);
  r.Get("uplink", "relay_probation_slots", c.uplink.relays.probation, 2, 64);
  r.Get("uplink", "lockdown_slots", c.uplink.relays.lockdowns, 1, 64);
  if (c.uplink.relays.fast_answer_ms > c.uplink.relays.probation_timeout_ms) {
    throw ConfigError("uplink.relay_fast_answer_ms must not be above uplink.relay_probation_timeout_ms "
                      "(a door on probation could never answer quickly enough to leave it)");
  }
  r.Get("access", "exchange_timeout_ms", c.api.access.delivery.exchange_timeout_ms, 100, 120000);
  r.Get("access", "first_retry_ms", c.api.access.delivery.first_retry_ms, 100, 3600000);
  r.Get("access", "max_retry_ms", c.api.access.delivery.max_retry_ms, 1000, 7LL * 24 * 3600000);
  r.Get("access", "recheck_ms", c.api.access.delivery.recheck_ms, 100, 3600000);
  r.Get("access", "lockdown_timeout_ms", c.api.access.lockdown_timeout_ms, 100, 120000);
  if (c.api.access.delivery.max_retry_ms < c.api.access.delivery.first_retry_ms) {
    throw ConfigError("access.max_retry_ms must not be below access.first_retry_ms");
  }
  r.RejectUnknown();
  return c;
}

void FinishConfig(Config& c) {
  if (!SplitHostPort(c.listen, c.http.host, c.http.port)) {
    throw ConfigError("listen address \"" + c.listen +
                      "\" must be HOST:PORT (port 0..65535), such as 127.0.0.1:8080 or [::1]:8080");
  }
  const std::string& host = c.http.host;
  if (c.api.auth.password_profile == PasswordProfile::kTestFast && !IsLoopback(host)) {
    throw ConfigError(
        "auth.password_profile \"test-fast\" stores passwords with a trivially cheap hash; it is refused unless the "
        "server listens on loopback only");
  }
  if (c.uplink.enabled()) {
    std::string h;
    uint16_t p = 0;
    if (!SplitHostPort(c.uplink.broker, h, p) || p == 0) {
      throw ConfigError("uplink.broker \"" + c.uplink.broker + "\" must be HOST:PORT, such as 127.0.0.1:8883");
    }
    if (c.uplink.ca_file.empty() || c.uplink.cert_file.empty() || c.uplink.key_file.empty()) {
      throw ConfigError("uplink.broker needs uplink.ca, uplink.certificate and uplink.key (TLS is not optional)");
    }
    if (c.uplink.backoff_max_ms < c.uplink.backoff_initial_ms) {
      throw ConfigError("uplink.backoff_max_ms must be at least uplink.backoff_initial_ms");
    }
  }
  if (c.http.tls_cert_file.empty() != c.http.tls_key_file.empty()) {
    throw ConfigError("TLS needs both tls.cert_file and tls.key_file (--tls-cert and --tls-key), or neither");
  }
  if (!c.api.public_origin.empty()) {
    const auto& o = c.api.public_origin;
    const bool scheme = o.rfind("https://", 0) == 0 || o.rfind("http://", 0) == 0;
    if (!scheme || o.back() == '/' || o.find('/', o.find("//") + 2) != std::string::npos) {
      throw ConfigError("http.public_origin \"" + o +
                        "\" must be an origin such as https://locks.example.org (scheme, host, optional port; no path)");
    }
  }
  if (!IsPostgresUrl(c.db) && !(c.db.rfind("sqlite:", 0) == 0 && c.db.size() > 7)) {
    throw ConfigError("db.url \"" + c.db + "\" must be sqlite:PATH or postgresql://...");
  }
}

bool SplitHostPort(const std::string& text, std::string& host, uint16_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size() || text.size() - colon > 6) return false;
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  for (char ch : text.substr(colon + 1)) {
    if (ch < '0' || ch > '9') return false;
    p = p * 10 + (ch - '0');
  }
  if (p > 65535 || h.empty()) return false;
  host = h;
  port = static_cast<uint16_t>(p);
  return true;
}

std::string SqlitePath(const std::string& db_url) {
  if (db_url.rfind("sqlite:", 0) == 0 && db_url.size() > 7) return db_url.substr(7);
  if (IsPostgresUrl(db_url)) {
    throw ConfigError("mortise-server backup is for SQLite; back up PostgreSQL with its own tools (pg_dump)");
  }
  throw ConfigError("database \"" + db_url + "\" must be sqlite:PATH");
}

bool IsPostgresUrl(const std::string& db_url) {
  return db_url.rfind("postgresql://", 0) == 0 || db_url.rfind("postgres://", 0) == 0;
}

}  // namespace mortise::server
