#include "mortise/uplink/broker.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace mortise::uplink {
namespace {

constexpr int64_t kDay = 24 * 3600;

bool WriteFile(const std::string& path, const std::string& text, mode_t mode, std::string& why) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    why = path + ": " + std::strerror(errno);
    return false;
  }
  fchmod(fd, mode);
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok) why = path + ": short write";
  return ok;
}

std::optional<std::string> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool WriteCredential(const std::string& dir, const std::string& name, const Credential& c, std::string& why) {
  return WriteFile(dir + "/" + name + ".key", c.key_pem, 0600, why) &&
         WriteFile(dir + "/" + name + ".crt", c.cert_pem, 0644, why);
}

// A port the kernel says is free now (it may be taken again before the
// broker binds it: Start retries).
uint16_t FreeLoopbackPort() {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(s);
  return port;
}

std::string MosquittoBinary() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"})
    if (access(p, X_OK) == 0) return p;
  return "mosquitto";
}

std::string CurrentUser() {
  const passwd* pw = getpwuid(geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

}  // namespace

std::string AclText() {
  return "# Mortise uplink ACL (docs/uplink.md). Nothing is granted that is not\n"
         "# listed: a wildcard subscription reaches only what these allow.\n"
         "\n"
         "# The server: reads what every lock publishes, writes every lock's down topic.\n"
         "user mortise-server\n"
         "topic read mortise/v1/locks/+/state\n"
         "topic read mortise/v1/locks/+/log\n"
         "topic read mortise/v1/locks/+/up\n"
         "topic read mortise/v1/locks/+/online\n"
         "topic write mortise/v1/locks/+/down\n"
         "\n"
         "# Each lock (username = its certificate's CN = its lock id): its own topics only.\n"
         "pattern write mortise/v1/locks/%u/state\n"
         "pattern write mortise/v1/locks/%u/log\n"
         "pattern write mortise/v1/locks/%u/up\n"
         "pattern write mortise/v1/locks/%u/online\n"
         "pattern read mortise/v1/locks/%u/down\n";
}

std::string ConfigText(const std::string& dir, uint16_t port, const std::string& user) {
  std::ostringstream c;
  c << "# A private Mortise broker (generated; docs/uplink.md).\n"
    << "user " << user << "\n"
    << "per_listener_settings false\n"
    << "allow_anonymous false\n"
    << "persistence false\n"
    << "log_dest stderr\n"
    << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
    << "log_timestamp_format %Y-%m-%dT%H:%M:%S\n"
    << "connection_messages true\n"
    << "acl_file " << dir << "/acl\n"
    << "max_packet_size 65536\n"
    << "set_tcp_nodelay true\n"  // small messages out at once (docs/uplink.md)
    // A catching-up fleet's log pages wait in the server's queue instead of
    // being dropped at Mosquitto's default 1,000 (docs/uplink.md).
    << "max_queued_messages 100000\n"
    << "max_queued_bytes 268435456\n"
    << "\n# The only listener.\n"
    << "listener " << port << " 127.0.0.1\n"
    << "socket_domain ipv4\n"
    << "protocol mqtt\n"
    << "cafile " << dir << "/ca.crt\n"
    << "certfile " << dir << "/broker.crt\n"
    << "keyfile " << dir << "/broker.key\n"
    << "tls_version tlsv1.2\n"
    << "require_certificate true\n"
    << "use_identity_as_username true\n"
    // The client id is the certificate's identity too, so no client can take
    // another's id and knock it off the broker (A10).
    << "use_username_as_clientid true\n"
    // Revoked client certificates fail the handshake (docs/uplink.md
    // "Revocation"); reloaded on SIGHUP.
    << "crlfile " << dir << "/crl.pem\n";
  return c.str();
}

std::string MakeTempDir(const std::string& prefix, std::string& why) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + ".XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    why = pattern + ": " + std::strerror(errno);
    return "";
  }
  return buf.data();
}

std::optional<Deployment> Deployment::Create(const std::string& dir, BrokerCert kind, int64_t now,
                                             std::string& why) {
  Deployment d;
  d.dir_ = dir;
  CertificateSpec ca_spec{"Mortise deployment CA", Usage::kCa, {}, {}, now - 60, now + 3650 * kDay};
  auto ca = MakeCa(ca_spec, why);
  if (!ca) return std::nullopt;
  d.ca_ = *ca;
  CertificateSpec broker{"localhost", Usage::kBroker, {"localhost"}, {"127.0.0.1"}, now - 60, now + 825 * kDay};
  std::optional<Credential> broker_cred;
  switch (kind) {
    case BrokerCert::kGood:
      broker_cred = Issue(*ca, broker, why);
      break;
    case BrokerCert::kSelfSigned:
      broker_cred = MakeSelfSigned(broker, why);
      break;
    case BrokerCert::kExpired:
      broker.not_before = now - 30 * kDay;
      broker.not_after = now - kDay;
      broker_cred = Issue(*ca, broker, why);
      break;
    case BrokerCert::kWrongHost:
      broker.common_name = "broker.example.net";
      broker.dns_names = {"broker.example.net"};
      broker.ip_addresses = {"192.0.2.7"};
      broker_cred = Issue(*ca, broker, why);
      break;
    case BrokerCert::kWrongCa: {
      auto other = MakeCa(CertificateSpec{"Another deployment CA", Usage::kCa, {}, {}, now - 60, now + 3650 * kDay},
                          why);
      if (other) broker_cred = Issue(*other, broker, why);
      break;
    }
  }
  if (!broker_cred) return std::nullopt;
  auto server = Issue(*ca, CertificateSpec{kServerUsername, Usage::kClient, {}, {}, now - 60, now + 825 * kDay}, why);
  if (!server) return std::nullopt;
  if (!WriteCredential(dir, "ca", *ca, why) || !WriteCredential(dir, "broker", *broker_cred, why) ||
      !WriteCredential(dir, "server", *server, why) || !WriteFile(dir + "/acl", AclText(), 0644, why))
    return std::nullopt;
  // With `crlfile` set, OpenSSL refuses every client while no CRL of the CA
  // exists: the deployment starts with an empty one (the server replaces it).
  auto crl = MakeCrl(*ca, {}, now - 60, now + 3650 * kDay, why);
  if (!crl || !WriteFile(d.crl_file(), *crl, 0644, why)) return std::nullopt;
  return d;
}

std::optional<Deployment> Deployment::Load(const std::string& dir, std::string& why) {
  auto key = ReadText(dir + "/ca.key");
  auto cert = ReadText(dir + "/ca.crt");
  if (!key || !cert) {
    why = dir + ": no deployment (ca.crt and ca.key)";
    return std::nullopt;
  }
  Deployment d;
  d.dir_ = dir;
  d.ca_ = Credential{*key, *cert};
  // A deployment made before revocation existed has no list yet.
  if (access(d.crl_file().c_str(), F_OK) != 0) {
    const int64_t now = time(nullptr);
    auto crl = MakeCrl(d.ca_, {}, now - 60, now + 3650 * kDay, why);
    if (!crl || !WriteFile(d.crl_file(), *crl, 0644, why)) return std::nullopt;
  }
  return d;
}

std::optional<TlsFiles> Deployment::IssueClient(const std::string& name, const std::string& cn, int64_t now,
                                                std::string& why) const {
  auto c = Issue(ca_, CertificateSpec{cn, Usage::kClient, {}, {}, now - 60, now + kDay}, why);
  if (!c || !WriteCredential(dir_, name, *c, why)) return std::nullopt;
  return TlsFiles{ca_file(), dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
}

std::unique_ptr<Broker> Broker::Start(const Deployment& deployment, std::string& why, uint16_t first_port) {
  std::unique_ptr<Broker> b(new Broker(deployment));
  // Nobody is connected at the start: what the list revokes now needs no
  // disconnection.
  if (auto text = ReadText(deployment.crl_file())) {
    if (auto entries = VerifyCrl(ReadText(deployment.ca_file()).value_or(""), *text, why))
      for (const auto& e : *entries) b->applied_serials_.insert(e.serial_hex);
  }
  for (int attempt = 0; attempt < 20; ++attempt) {
    b->port_ = attempt == 0 && first_port != 0 ? first_port : FreeLoopbackPort();
    if (b->port_ == 0) {
      why = std::string("no free loopback port: ") + std::strerror(errno);
      return nullptr;
    }
    const int r = b->Launch(why);
    if (r == 1) return b;
    if (r < 0) return nullptr;
  }
  why = "20 ports were taken before the broker could bind one";
  return nullptr;
}

int Broker::Launch(std::string& why) {
  const std::string& dir = deployment_.dir();
  const std::string conf = dir + "/mosquitto.conf";
  if (!WriteFile(conf, ConfigText(dir, port_, CurrentUser()), 0644, why)) return -1;
  const std::string log_path = dir + "/broker.log";
  const size_t log_start = log().size();
  pid_ = fork();
  if (pid_ < 0) {
    why = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid_ == 0) {
    // The broker starts with no signal blocked, whatever its parent blocks
    // (mortise-broker waits for SIGTERM with it blocked; an inherited mask
    // would keep the broker from ever hearing Stop).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    const std::string bin = MosquittoBinary();
    execl(bin.c_str(), bin.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Bounded wait for the broker's own word that it runs (every listener is
  // open by then), or for its exit.
  for (int i = 0; i < 1000; ++i) {
    const std::string text = log().substr(log_start);
    if (text.find(" running") != std::string::npos) break;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (text.find("Address already in use") != std::string::npos) return 0;
      why = "mosquitto exited at start: " + text;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (i == 999) {
      why = "mosquitto did not say it runs within 10 s: " + text;
      Stop();
      return -1;
    }
  }
  return 1;
}

Broker::~Broker() { Stop(); }

bool Broker::Stop() {
  if (pid_ <= 0) return true;
  kill(pid_, SIGTERM);
  int status = 0;
  // Bounded: a broker that ignores SIGTERM for 10 s is killed.
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return false;
}

bool Broker::Restart(std::string& why) {
  Stop();
  // The same port: a client reconnects where it was. Another process may
  // have taken it meanwhile (rare on loopback): then say so.
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int r = Launch(why);
    if (r == 1) return true;
    if (r < 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  why = "port " + std::to_string(port_) + " stayed taken";
  return false;
}

std::string Broker::log() const { return ReadText(deployment_.dir() + "/broker.log").value_or(""); }

ClientOptions Broker::Client(const TlsFiles& tls) const {
  ClientOptions o;
  o.host = "127.0.0.1";
  o.port = port_;
  o.tls = tls;
  return o;
}

bool Broker::Reload(std::string& why) {
  if (pid_ <= 0) {
    why = "the broker is not running";
    return false;
  }
  const size_t log_start = log().size();
  kill(pid_, SIGHUP);
  for (int i = 0; i < 1000; ++i) {
    if (log().find("Reloading config.", log_start) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  why = "the broker did not say it reloaded within 10 s";
  return false;
}

bool Broker::TakeOver(const std::string& identity, std::string& why) {
  const int64_t now = time(nullptr);
  auto cred = Issue(deployment_.ca(), CertificateSpec{identity, Usage::kClient, {}, {}, now - 60, now + 300}, why);
  const std::string base = deployment_.dir() + "/takeover";
  if (!cred || !WriteCredential(deployment_.dir(), "takeover", *cred, why)) return false;
  auto client = MqttClient::Create(Client(TlsFiles{deployment_.ca_file(), base + ".crt", base + ".key"}), why);
  bool ok = false;
  if (client && client->Connect()) {
    client->RunUntil([&] { return client->state() != MqttClient::State::kConnecting; }, 10'000);
    ok = client->state() == MqttClient::State::kConnected;
    if (!ok) why = identity + ": " + client->last_error();
    client->Disconnect();
  } else if (client) {
    why = client->last_error();
  }
  std::remove((base + ".key").c_str());
  std::remove((base + ".crt").c_str());
  return ok;
}

int Broker::ApplyRevocations(std::string& why) {
  const auto text = ReadText(deployment_.crl_file());
  const auto entries = text ? VerifyCrl(deployment_.ca().cert_pem, *text, why) : std::nullopt;
  if (!entries) {
    if (!text) why = deployment_.crl_file() + ": cannot be read";
    why = "revocation list not applied: " + why;
    return -1;
  }
  if (!Reload(why)) return -1;
  int disconnected = 0;
  std::set<std::string> identities;
  for (const auto& e : *entries)
    if (!applied_serials_.contains(e.serial_hex)) identities.insert(e.identity);
  for (const std::string& identity : identities) {
    if (!TakeOver(identity, why)) return -1;
    ++disconnected;
  }
  for (const auto& e : *entries) applied_serials_.insert(e.serial_hex);
  return disconnected;
}

}  // namespace mortise::uplink
