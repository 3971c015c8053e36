// build/bench/fleet_bench: the whole remote path on one machine (issue 14,
// "Performance"; docs/performance.md gives the command and the figures).
//
// Starts a private broker (uplink::Broker: Mosquitto on a free loopback
// port, the deployment's CA) and mortise-server (SQLite on tmpfs) as child
// processes, registers an organisation and `--locks` doors through the HTTP
// API (each with the lock's claim proof and its broker certificate issued
// from the lock's signed request, as the e2e tests do), then runs the locks
// in this process: each a real lock engine (protocol::LockNode on a
// simulated DoorLock, the lock's identity key and its signed audit log) on
// lockd's own uplink (lockd::Uplink over uplink::MqttClient), on
// `--lock-threads` poll loops (2 by default: a real lock has its own CPU,
// so the simulation should not queue 100 locks' signatures behind one
// another on a single thread). Each door has a holder whose key the owner certified.
//
// Then, for each offered rate: Poisson arrivals (seeded), open loop (a
// command is sent at its time whether or not earlier ones came back; each
// holder sends its own commands in order, as a phone does), a remote unlock
// = the holder signs an envelope -> POST .../doors/{id}/remote -> server ->
// broker -> lock -> lock-signed result -> server -> the holder verifies it.
// Latency from the scheduled time to the verified answer: p50, p99, max.
// The floor at the same rate: a bare MQTT request/response through the same
// broker between two plain clients (the server's identity and a lock
// identity), QoS 1, payloads of the envelope's and the answer's sizes. CPU
// of the server, the broker and this process per step (/proc/PID/stat).
//
// Last, log ingest: every lock's audit log was filled before the run
// (`--records` in all, the streams log_ingest_bench records: a real lock
// cannot write records this fast); the uplinks are let loose and upload it
// page by page as lockd does, at most `--window` pages on their way to the
// server's store; records/s until the server's
// mortise_server_log_records_stored_total holds them all.
//
// Exit 0 only when every command got a verified, lock-signed answer and
// every record was stored (the CTest smoke run checks that, never a time).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "door_registration.h"
#include "http_client.h"
#include "log_rig.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/base64url.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/claim_proof.h"
#include "mortise/protocol/log_source.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/remote.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/uplink/broker.h"
#include "mortise/uplink/pki.h"
#include "mortise/uplink/topics.h"
#include "uplink.h"

extern char** environ;

namespace {

using namespace mortise;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
namespace fs = std::filesystem;
using server::testing::HttpConnection;
using server::testing::HttpResult;
using server::testing::LockLogRig;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "fleet_bench: %s\n", why.c_str());
  std::exit(1);
}

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count());
}

// --- Options ----------------------------------------------------------------------

struct Options {
  int locks = 100;
  std::vector<double> rates = {25, 50, 100, 150, 200};
  double seconds = 10;
  int records = 200000;
  // Log pages on their way (handed to an uplink, not yet stored by the
  // server) at most; 0: no limit. lockd's upload moves on at the broker's
  // PUBACK, and Mosquitto drops QoS 1 messages beyond 1,000 queued for one
  // subscriber (max_queued_messages), so a backlog uploaded faster than the
  // server stores it loses pages until the next connection.
  uint64_t window = 500;
  std::string dir;
  std::string json_out;
  uint64_t seed = 1;
  int lock_threads = 2;
};

Options Parse(int argc, char** argv) {
  Options o;
  const std::string usage =
      "usage: fleet_bench [--locks 100] [--rates 25,50,100,150,200] [--seconds 10] [--records 200000] "
      "[--dir DIR] [--json FILE] [--seed 1] [--window 500] [--lock-threads 2]";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Die(usage);
    const std::string v = argv[++i];
    try {
      if (a == "--locks") o.locks = std::stoi(v);
      else if (a == "--seconds") o.seconds = std::stod(v);
      else if (a == "--records") o.records = std::stoi(v);
      else if (a == "--dir") o.dir = v;
      else if (a == "--json") o.json_out = v;
      else if (a == "--seed") o.seed = std::stoull(v);
      else if (a == "--window") o.window = std::stoull(v);
      else if (a == "--lock-threads") o.lock_threads = std::stoi(v);
      else if (a == "--rates") {
        o.rates.clear();
        std::stringstream ss(v);
        for (std::string r; std::getline(ss, r, ',');) o.rates.push_back(std::stod(r));
      } else {
        Die(usage);
      }
    } catch (const std::exception&) {
      Die(usage);
    }
  }
  if (o.locks < 1 || o.locks > 1000 || o.seconds <= 0 || o.records < 0 || o.rates.empty()) Die(usage);
  for (double r : o.rates)
    if (r <= 0 || r > 5000) Die("rates must be in (0, 5000] commands/s");
  // 64 segments of 4 KiB hold ~12,000 records (log_rig.h).
  if (o.records / o.locks > 12000) Die("at most 12,000 records per lock");
  return o;
}

// --- CPU of a process -------------------------------------------------------------

// utime + stime of `pid` (0: this process) in clock ticks.
uint64_t CpuTicks(pid_t pid) {
  std::ifstream f(pid == 0 ? std::string("/proc/self/stat") : "/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  // Fields after the command: state is field 3; utime 14, stime 15.
  for (int n = 3; n <= 15 && rest >> field; ++n) {
    if (n == 14) utime = std::stoull(field);
    if (n == 15) stime = std::stoull(field);
  }
  return utime + stime;
}

// CPU seconds of each source (a process, or the locks' thread) between
// Start and Stop.
struct CpuMeter {
  std::vector<std::function<double()>> sources;
  std::vector<double> start, seconds;
  Clock::time_point t0;
  double wall = 0;
  void Start() {
    start.clear();
    for (const auto& s : sources) start.push_back(s());
    t0 = Clock::now();
  }
  void Stop() {
    wall = std::chrono::duration<double>(Clock::now() - t0).count();
    seconds.clear();
    for (size_t i = 0; i < sources.size(); ++i) seconds.push_back(sources[i]() - start[i]);
  }
  double Percent(size_t i) const { return 100.0 * seconds[i] / wall; }
};

double ProcessCpu(pid_t pid) { return static_cast<double>(CpuTicks(pid)) / static_cast<double>(sysconf(_SC_CLK_TCK)); }
double ClockCpu(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// --- The server as a child process ------------------------------------------------

class ServerProcess {
 public:
  ServerProcess(const std::string& binary, const std::vector<std::string>& args, const std::string& log_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    if (pid_ < 0) Die("cannot start " + binary);
    // Bounded wait for the readiness line (a bound, not a measurement).
    const std::string marker = "mortise-server: listening on http://127.0.0.1:";
    for (int waited = 0; waited < 30000; waited += 20) {
      std::ifstream f(log_path);
      const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (const size_t at = text.find(marker); at != std::string::npos) {
        port_ = static_cast<uint16_t>(std::stoi(text.substr(at + marker.size())));
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        Die("mortise-server exited at start:\n" + text);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Die("mortise-server did not say it listens (see " + log_path + ")");
  }
  ~ServerProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// --- HTTP with an API key ---------------------------------------------------------

struct Api {
  uint16_t port;
  std::string auth;  // "Authorization: Bearer ..."
  HttpResult Call(HttpConnection& c, const std::string& method, const std::string& path, const json& body = nullptr,
                  int expect = 0) const {
    std::vector<std::string> headers;
    if (!auth.empty()) headers.push_back(auth);
    const std::string text = body.is_null() ? std::string() : body.dump();
    auto r = c.Send(method, path, text, headers);
    if (!r) Die(method + " " + path + ": no answer");
    if (expect != 0 && r->status != expect)
      Die(method + " " + path + ": " + std::to_string(r->status) + " " + r->body);
    return *r;
  }
};

std::string Base64Url(std::span<const uint8_t> bytes) {
  std::string out(protocol::Base64UrlLength(bytes.size()), '\0');
  auto n = protocol::Base64UrlEncode(bytes, std::span<char>(out.data(), out.size()));
  if (!n.ok()) Die("base64url");
  out.resize(*n);
  return out;
}

// --- A simulated lock -------------------------------------------------------------

struct SimulatedLock {
  std::unique_ptr<LockLogRig> rig;  // identity, authority, signed audit log
  std::unique_ptr<sim::SimLock> sim;
  std::optional<protocol::LockNode> node;
  std::unique_ptr<protocol::AuditLogSource> source;
  std::unique_ptr<lockd::Uplink> uplink;
  uint64_t clock_at_ms = 0;  // real time the simulated clock last caught up to
  std::string lock_id, door_id;
  // The holder (a phone): its key, the owner's certificate chain for it.
  std::optional<crypto::P256KeyPair> holder;
  std::vector<uint8_t> chain;

  // Brings the lock's simulated clock to real time (the lock's physics in
  // one tick: a motor travel of a few hundred ms lands within a tick).
  void CatchUp(uint64_t now) {
    if (now > clock_at_ms) sim->Run(now - clock_at_ms, now - clock_at_ms);
    clock_at_ms = now;
  }
};

// How long a holder's envelopes live (lock time) at `per_door` commands/s:
// the lock keeps at most 32 live envelopes per holder key
// (kRemoteReplaySlots), so about half of them on average, between 2 s and
// 20 s (the lock takes up to 30 s).
int64_t EnvelopeLifetimeS(double per_door) {
  return std::clamp<int64_t>(static_cast<int64_t>(16.0 / per_door), 2, 20);
}

// Phases the lock loop follows.
std::atomic<bool> g_upload_logs{false};
// Log pages the locks have handed to their uplinks, and the server's count
// of pages stored (its metric, polled): uploads wait while `window` pages
// are on their way (see --window).
std::atomic<uint64_t> g_pages_sent{0}, g_pages_stored{0};
std::atomic<uint64_t> g_window{0};
std::atomic<bool> g_stop_locks{false};

// --- Latency ----------------------------------------------------------------------

struct Summary {
  double p50 = 0, p99 = 0, max = 0;
  size_t ok = 0;
};
Summary Summarise(std::vector<double> ms) {
  Summary s;
  s.ok = ms.size();
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))]; };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.max = ms.back();
  return s;
}

// Poisson arrivals over `seconds` at `rate`, each to a uniformly drawn door:
// (offset from the start in seconds, door index).
std::vector<std::pair<double, int>> Schedule(std::mt19937_64& rng, double rate, double seconds, int doors) {
  std::exponential_distribution<double> gap(rate);
  std::uniform_int_distribution<int> door(0, doors - 1);
  std::vector<std::pair<double, int>> out;
  for (double t = gap(rng); t < seconds; t += gap(rng)) out.emplace_back(t, door(rng));
  return out;
}

// --- The floor: bare MQTT request/response through the same broker --------------

struct FloorResult {
  Summary latency;
  size_t sent = 0, lost = 0;
};

// Two plain clients with bench-only identities and topics: the broker takes
// the certificate's CN as the client id, so a second client with the
// server's identity would push the real server off. The ACL lines are the
// lock's and the server's rules for one topic pair (BenchAcl).
constexpr char kFloorRequester[] = "fleet-bench-floor-requester";
constexpr char kFloorResponder[] = "fleet-bench-floor-responder";
constexpr char kFloorDown[] = "mortise-bench/floor/down";
constexpr char kFloorUp[] = "mortise-bench/floor/up";
std::string BenchAcl() {
  return std::string("\n# fleet_bench's floor (bench only)\nuser ") + kFloorRequester + "\ntopic write " + kFloorDown +
         "\ntopic read " + kFloorUp + "\nuser " + kFloorResponder + "\ntopic read " + kFloorDown + "\ntopic write " +
         kFloorUp + "\n";
}

FloorResult RunFloor(const uplink::Broker& broker, const uplink::TlsFiles& requester_files,
                     const uplink::TlsFiles& responder_files, const std::vector<std::pair<double, int>>& schedule,
                     size_t request_bytes, size_t answer_bytes) {
  std::string why;
  auto requester = uplink::MqttClient::Create(broker.Client(requester_files), why);
  auto responder = uplink::MqttClient::Create(broker.Client(responder_files), why);
  if (!requester || !responder) Die("floor clients: " + why);
  const std::string down = kFloorDown, up = kFloorUp;
  int subacks = 0;
  requester->on_subscribed = responder->on_subscribed = [&](int, int reason) {
    if (reason >= 0x80) Die("floor: subscription refused");
    ++subacks;
  };
  const std::vector<uint8_t> answer(answer_bytes, 0xa5);
  responder->on_message = [&](const uplink::Message& m) {
    if (m.topic == down) responder->Publish(up, answer, 1, false, m.correlation);
  };
  std::map<uint64_t, Clock::time_point> waiting;  // correlation -> scheduled time
  std::vector<double> ms;
  requester->on_message = [&](const uplink::Message& m) {
    if (m.topic != up || m.correlation.size() != 8) return;
    uint64_t id = 0;
    std::memcpy(&id, m.correlation.data(), 8);
    auto it = waiting.find(id);
    if (it == waiting.end()) return;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
    waiting.erase(it);
  };
  auto both = [&](const std::function<bool()>& done, int bound_ms) {
    const auto end = Clock::now() + std::chrono::milliseconds(bound_ms);
    while (!done() && Clock::now() < end) {
      pollfd fds[2] = {{requester->fd(), static_cast<short>(POLLIN | (requester->want_write() ? POLLOUT : 0)), 0},
                       {responder->fd(), static_cast<short>(POLLIN | (responder->want_write() ? POLLOUT : 0)), 0}};
      poll(fds, 2, 5);
      requester->Service((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0, (fds[0].revents & POLLOUT) != 0);
      responder->Service((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0, (fds[1].revents & POLLOUT) != 0);
    }
    return done();
  };
  if (!requester->Connect() || !responder->Connect()) Die("floor: connect");
  using S = uplink::MqttClient::State;
  if (!both([&] { return requester->state() == S::kConnected && responder->state() == S::kConnected; }, 15000))
    Die("floor: not connected: " + requester->last_error() + " " + responder->last_error());
  requester->Subscribe(up, 1);
  responder->Subscribe(down, 1);
  if (!both([&] { return subacks == 2; }, 15000)) Die("floor: not subscribed");

  const std::vector<uint8_t> request(request_bytes, 0x5a);
  const auto t0 = Clock::now();
  size_t next = 0;
  uint64_t id = 0;
  FloorResult r;
  while (next < schedule.size()) {
    const auto at = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(schedule[next].first));
    if (Clock::now() >= at) {
      std::vector<uint8_t> corr(8);
      ++id;
      std::memcpy(corr.data(), &id, 8);
      waiting[id] = at;
      requester->Publish(down, request, 1, false, corr);
      ++next;
      ++r.sent;
      continue;
    }
    const int wait_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(at - Clock::now()).count());
    both([&] { return Clock::now() >= at; }, std::max(0, wait_ms));
  }
  both([&] { return waiting.empty(); }, 10000);
  r.lost = waiting.size();
  r.latency = Summarise(ms);
  requester->Disconnect();
  responder->Disconnect();
  return r;
}

// --- Metrics ----------------------------------------------------------------------

// A counter of the server's /metrics.
uint64_t Metric(const std::string& body, const std::string& metric) {
  const std::string name = metric + " ";
  for (size_t at = 0; (at = body.find(name, at)) != std::string::npos; at += name.size())
    if (at == 0 || body[at - 1] == '\n') return static_cast<uint64_t>(std::stod(body.substr(at + name.size())));
  Die("no " + metric + " in /metrics");
}

// Records and pages the server has stored.
std::pair<uint64_t, uint64_t> LogStored(HttpConnection& c) {
  auto r = c.Send("GET", "/metrics");
  if (!r || r->status != 200) Die("GET /metrics failed");
  return {Metric(r->body, "mortise_server_log_records_stored_total"),
          Metric(r->body, "mortise_server_log_pages_stored_total")};
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they come
  std::error_code ec;
  fs::path base = opt.dir;
  if (base.empty()) base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  const fs::path dir = base / ("mortise-fleet-" + std::to_string(getpid()));
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all);
  std::printf("fleet_bench: %d locks, rates %s commands/s, %.1f s each, %d log records; state in %s\n", opt.locks,
              [&] {
                std::string s;
                for (double r : opt.rates) s += (s.empty() ? "" : ",") + std::to_string(static_cast<int>(r));
                return s;
              }().c_str(),
              opt.seconds, opt.records, dir.c_str());

  // --- The broker and the server ------------------------------------------------
  std::string why;
  const int64_t now_s = time(nullptr);
  fs::create_directories(dir / "broker");
  fs::permissions(dir / "broker", fs::perms::owner_all);
  auto deployment = uplink::Deployment::Create((dir / "broker").string(), uplink::BrokerCert::kGood, now_s, why);
  if (!deployment) Die("deployment: " + why);
  std::ofstream(dir / "broker" / "acl", std::ios::app) << BenchAcl();
  auto broker = uplink::Broker::Start(*deployment, why);
  if (!broker) Die("broker: " + why);
  // Sized for the sweep (docs/performance.md): relays block an HTTP worker,
  // 15 of the 64 workers may relay for one organisation
  // (RelayGate::LimitsFor), and every holder is in one organisation.
  {
    std::ofstream(dir / "server.toml") << "[http]\nthreads = 64\nheader_timeout_ms = 3600000\n"
                                       << "[uplink]\nrelay_per_minute = 100000\nrelay_timeout_ms = 5000\n";
  }
  const std::string d = deployment->dir();
  ServerProcess server(MORTISE_SERVER_BINARY,
                       {"--config", (dir / "server.toml").string(), "--listen", "127.0.0.1:0", "--db",
                        "sqlite:" + (dir / "server.db").string(), "--password-profile", "test-fast",
                        "--uplink-broker", "127.0.0.1:" + std::to_string(broker->port()), "--uplink-ca",
                        d + "/ca.crt", "--uplink-cert", d + "/server.crt", "--uplink-key", d + "/server.key",
                        "--uplink-ca-key", d + "/ca.key"},
                       (dir / "server.log").string());

  // --- The owner: account, API key, organisation ----------------------------------
  HttpConnection setup(server.port());
  Api api{server.port(), ""};
  const json who = {{"email", "owner@example.org"}, {"password", "the fleet owner's long password"}};
  api.Call(setup, "POST", "/api/v1/accounts", who, 201);
  auto signin = api.Call(setup, "POST", "/api/v1/sessions", who, 201);
  const std::string cookie = signin.Header("set-cookie").value_or("");
  const std::string csrf = signin.Json()["csrf_token"].get<std::string>();
  auto key = setup.Send("POST", "/api/v1/me/api-keys",
                        json{{"name", "fleet bench"}, {"scopes", {"orgs:read", "orgs:write"}}}.dump(),
                        {"Cookie: " + cookie.substr(0, cookie.find(';')),
                         "X-CSRF-Token: " + csrf});
  if (!key || key->status != 201) Die("api key: " + (key ? key->body : std::string("no answer")));
  api.auth = "Authorization: Bearer " + key->Json()["token"].get<std::string>();
  const std::string org =
      api.Call(setup, "POST", "/api/v1/orgs", json{{"name", "Fleet"}}, 201).Json()["organisation"]["id"];
  const std::string site = api.Call(setup, "GET", "/api/v1/orgs/" + org + "/sites", nullptr, 200).Json()["items"][0]["id"];

  // --- The locks: claimed, logs pre-recorded, registered, certified -----------------
  crypto::DeterministicEntropy owner_entropy(opt.seed * 7919 + 1);
  crypto::Drbg owner_drbg(owner_entropy);
  if (!owner_drbg.Seed().ok()) Die("drbg");
  const auto owner = crypto::P256KeyPair::Generate(owner_drbg).value();
  const int per_lock = opt.records / opt.locks, extra = opt.records % opt.locks;
  std::vector<std::unique_ptr<SimulatedLock>> locks;
  uint64_t total_records = 0;
  const auto setup_t0 = Clock::now();
  for (int i = 0; i < opt.locks; ++i) {
    auto l = std::make_unique<SimulatedLock>();
    const int records = per_lock + (i < extra ? 1 : 0);
    // Room for the records (~190 per 4 KiB segment) and the ring's slack.
    l->rig = std::make_unique<LockLogRig>(opt.seed * 100000 + 100 + static_cast<uint64_t>(i),
                                          std::max<size_t>(8, static_cast<size_t>(records) / 150 + 4));
    protocol::LockAuthority& authority = l->rig->authority();
    const uint8_t pin[protocol::kOfflinePinSecretSize] = {};
    if (!authority.InstallOwner(owner.public_key(), pin).ok()) Die("install owner");
    // The log, pre-recorded: a busy lock's timer signs its head every ~100
    // records (log_ingest_bench's streams).
    for (int done = 0; done < records;) {
      const int n = std::min(100, records - done);
      l->rig->Append(n);
      l->rig->SignNow();
      done += n;
    }
    total_records += l->rig->head();
    l->sim = std::make_unique<sim::SimLock>(nullptr, 1000 + static_cast<uint64_t>(i));
    if (!l->sim->Start().ok()) Die("sim lock start");
    // The lock's UTC follows real time once its boot's first 31 s have run
    // (envelopes must expire after boot + 30 s).
    if (!l->sim->lock().SetUtcTime(time(nullptr) - 31, false).ok()) Die("set time");
    l->node.emplace(authority, l->sim->lock(), l->sim->store());
    if (!l->node->Start(l->sim->clock().now_ms()).ok()) Die("node start");
    l->sim->Run(31000, 1000);
    l->clock_at_ms = NowMs();
    l->lock_id = l->rig->lock_id_hex();
    // The holder: a member key for this lock, certified by the owner.
    l->holder.emplace(crypto::P256KeyPair::Generate(owner_drbg).value());
    protocol::CertificateFields f;
    f.lock_id = authority.identity().lock_id();
    f.claim_generation = authority.claim_generation();
    f.holder_key = l->holder->public_key().Compressed();
    f.role = protocol::Role::kMember;
    f.permissions = protocol::kPermLock | protocol::kPermUnlock;
    f.serial = 1;
    std::vector<uint8_t> cert(protocol::kMaxCertificateSize);
    l->chain.resize(protocol::kMaxChainSize);
    cert.resize(protocol::IssueCertificate(f, owner, owner_drbg, cert).value());
    l->chain.resize(protocol::EncodeChain(cert, {}, l->chain).value());

    // Registration: the owner signs the server's challenge; the lock's claim
    // proof names the owner key (its signature is what the server checks; the
    // transcript hash stands for the claim this rig skipped).
    const json ch = api.Call(setup, "POST", "/api/v1/orgs/" + org + "/door-challenges", json::object(), 201).Json();
    const auto challenge = server::FromHex(ch["challenge"].get<std::string>(), server::kDoorChallengeSize).value();
    const auto& identity = authority.identity();
    const auto message = server::DoorRegistrationMessage(challenge, org, identity.lock_id(),
                                                         identity.key().public_key().bytes())
                             .value();
    crypto::P256Signature sig{};
    if (!owner.Sign(message, sig, owner_drbg).ok()) Die("sign");
    protocol::ClaimProof proof;
    proof.transcript_hash.fill(0x5a);
    proof.claim_generation = authority.claim_generation();
    const auto proof_message = protocol::ClaimProofMessage(proof.transcript_hash, owner.public_key(),
                                                           proof.access_list_floor, proof.claim_generation);
    if (!identity.key().Sign(proof_message, proof.signature, owner_drbg).ok()) Die("claim proof");
    const json body = {{"challenge_id", ch["challenge_id"]},
                       {"site_id", site},
                       {"name", "Door " + std::to_string(i + 1)},
                       {"lock_id", l->lock_id},
                       {"lock_public_key", server::ToHex(identity.key().public_key().bytes())},
                       {"owner_public_key", server::ToHex(owner.public_key().bytes())},
                       {"signature", server::ToHex(sig)},
                       {"claim_proof",
                        {{"transcript_hash", server::ToHex(proof.transcript_hash)},
                         {"signature", server::ToHex(proof.signature)},
                         {"access_list_floor", proof.access_list_floor},
                         {"claim_generation", proof.claim_generation}}}};
    l->door_id = api.Call(setup, "POST", "/api/v1/orgs/" + org + "/doors", body, 201).Json()["door"]["id"];
    // The broker identity: a TLS key, the request its identity key signs,
    // the certificate the server issues for it.
    const fs::path state = dir / ("lock-" + std::to_string(i));
    fs::create_directories(state);
    auto tls_key = uplink::GenerateKey(why);
    if (!tls_key) Die("tls key: " + why);
    auto request = uplink::MakeLockRequest(*tls_key, identity.key(), owner_drbg, why);
    if (!request) Die("uplink request: " + why);
    const json issued = api.Call(setup, "POST", "/api/v1/orgs/" + org + "/doors/" + l->door_id + "/uplink-certificate",
                                 json::parse(uplink::RequestToJson(*request)), 201)
                            .Json();
    std::ofstream(state / "uplink.key") << *tls_key;
    fs::permissions(state / "uplink.key", fs::perms::owner_read | fs::perms::owner_write);
    std::ofstream(state / "uplink.crt") << issued["certificate"].get<std::string>();

    // lockd's uplink, wired as the daemon wires it (lockd/src/daemon.cc).
    SimulatedLock* lp = l.get();
    l->source = std::make_unique<protocol::AuditLogSource>(l->rig->log());
    lockd::UplinkConfig uc;
    uc.host = "127.0.0.1";
    uc.port = broker->port();
    uc.ca_file = deployment->ca_file();
    uc.certificate = (state / "uplink.crt").string();
    uc.backoff_initial_ms = 50;
    uc.backoff_max_ms = 400;
    lockd::UplinkParts up;
    up.username = l->lock_id;
    up.state = [lp] {
      return json{{"bolt", core::BoltStateName(lp->sim->lock().bolt_state())},
                  {"battery", lp->sim->lock().battery_percent()},
                  {"alarms", json::array()},
                  {"timeKnown", true},
                  {"claimed", lp->node->claimed()}};
    };
    up.handle_frame = [lp](std::span<const uint8_t> frame) {
      lp->CatchUp(NowMs());
      std::vector<uint8_t> reply(protocol::kMaxTransportFrameSize);
      auto n = lp->node->Handle(frame, lp->sim->clock().now_ms(), reply);
      if (!n.ok()) return std::vector<uint8_t>{0x00};
      reply.resize(*n);
      lp->sim->lock().Service();
      return reply;
    };
    // Until the log phase, the log looks empty to the uplink (nothing to
    // upload); then it is the whole pre-recorded log.
    up.log_resume_from = [lp] { return std::max(lp->rig->log().upload_from(), lp->rig->log().oldest_seq()); };
    up.log_next_seq = [lp] {
      return g_upload_logs.load() ? lp->rig->log().next_seq()
                                  : std::max(lp->rig->log().upload_from(), lp->rig->log().oldest_seq());
    };
    up.read_log = [lp](uint64_t from, size_t max_bytes) -> std::optional<lockd::LogPage> {
      if (g_window != 0 && g_pages_sent.load() >= g_pages_stored.load() + g_window) return std::nullopt;
      // Bound to no reader's challenge, as lockd's pages (daemon.cc).
      const std::array<uint8_t, protocol::kLogChallengeBytes> no_challenge{};
      lockd::LogPage page;
      page.bytes.resize(max_bytes);
      auto n = lp->source->ReadPage(from, no_challenge, page.bytes, page.next_from);
      if (!n.ok()) return std::nullopt;
      page.bytes.resize(*n);
      ++g_pages_sent;
      return page;
    };
    up.now_ms = [] { return NowMs(); };
    up.uniform = [](uint64_t n) { return static_cast<uint64_t>(std::rand()) % n; };
    l->uplink = std::make_unique<lockd::Uplink>(
        uc, uplink::TlsFiles{deployment->ca_file(), uc.certificate, (state / "uplink.key").string()}, std::move(up));
    locks.push_back(std::move(l));
  }
  const double setup_s = std::chrono::duration<double>(Clock::now() - setup_t0).count();
  std::printf("setup: %d doors registered and certified, %llu log records pre-recorded (%.1f s)\n", opt.locks,
              static_cast<unsigned long long>(total_records), setup_s);

  // --- The lock loops: lock i on loop i % lock_threads ---------------------------------
  if (opt.lock_threads < 1) Die("--lock-threads must be at least 1");
  std::vector<std::thread> lock_threads;
  for (int k = 0; k < opt.lock_threads; ++k) {
    lock_threads.emplace_back([&, k] {
      std::vector<SimulatedLock*> mine;
      for (size_t i = static_cast<size_t>(k); i < locks.size(); i += static_cast<size_t>(opt.lock_threads))
        mine.push_back(locks[i].get());
      std::vector<pollfd> fds(mine.size());
      uint64_t last_catch_up = 0;
      while (!g_stop_locks.load()) {
        for (size_t i = 0; i < mine.size(); ++i) {
          const int fd = mine[i]->uplink->fd();
          fds[i] = {fd, static_cast<short>(fd < 0 ? 0 : POLLIN | (mine[i]->uplink->want_write() ? POLLOUT : 0)), 0};
        }
        poll(fds.data(), fds.size(), 10);
        for (size_t i = 0; i < mine.size(); ++i) {
          const short re = fds[i].fd < 0 ? 0 : fds[i].revents;
          mine[i]->uplink->Tick((re & (POLLIN | POLLHUP | POLLERR)) != 0, (re & POLLOUT) != 0);
        }
        const uint64_t now = NowMs();
        if (now - last_catch_up >= 100) {
          for (auto* l : mine) l->CatchUp(now);
          last_catch_up = now;
        }
      }
    });
  }

  // All online on the server's side.
  {
    HttpConnection c(server.port());
    const auto end = Clock::now() + std::chrono::seconds(60);
    size_t online = 0;
    while (Clock::now() < end) {
      online = 0;
      for (const auto& l : locks) {
        auto r = api.Call(c, "GET", "/api/v1/orgs/" + org + "/doors/" + l->door_id + "/state", nullptr, 200);
        if (r.Json()["state"]["online"].get<bool>()) ++online;
      }
      if (online == locks.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (online != locks.size()) Die("only " + std::to_string(online) + " locks online on the server");
  }

  // --- The sweep --------------------------------------------------------------------
  std::mt19937_64 rng(opt.seed);
  // Server, broker, the simulated locks' thread, the rest of this process
  // (holders signing and verifying, HTTP clients).
  std::vector<clockid_t> locks_clocks(lock_threads.size());
  for (size_t k = 0; k < lock_threads.size(); ++k)
    if (pthread_getcpuclockid(lock_threads[k].native_handle(), &locks_clocks[k]) != 0)
      Die("no CPU clock for a locks' thread");
  const auto locks_cpu = [&] {
    double sum = 0;
    for (const clockid_t c : locks_clocks) sum += ClockCpu(c);
    return sum;
  };
  CpuMeter cpu;
  cpu.sources = {[&] { return ProcessCpu(server.pid()); }, [&] { return ProcessCpu(broker->pid()); },
                 [&] { return locks_cpu(); },
                 [&] { return ClockCpu(CLOCK_PROCESS_CPUTIME_ID) - locks_cpu(); }};
  const auto cpu_json = [&](double per = 0) {
    json j;
    const char* names[] = {"server", "broker", "locks", "holders"};
    for (size_t i = 0; i < 4; ++i) {
      j[names[i]] = {{"percent_of_a_core", cpu.Percent(i)}};
      if (per > 0) j[names[i]]["cpu_ms_each"] = 1000.0 * cpu.seconds[i] / per;
    }
    return j;
  };
  json report = {{"locks", opt.locks}, {"lock_threads", opt.lock_threads}, {"seconds", opt.seconds}, {"nproc", std::thread::hardware_concurrency()}};
  report["steps"] = json::array();
  bool all_verified = true;
  size_t envelope_bytes = 0, answer_bytes = 0;
  std::printf("\n%-6s | %-20s | %-6s | %-20s | %-11s | %-23s | %s\n", "rate/s", "remote unlock ms", "errors",
              "bare MQTT ms", "ratio", "CPU % of a core", "CPU ms/command");
  std::printf("%-6s | %6s %6s %6s | %-6s | %6s %6s %6s | %5s %5s | %5s %5s %5s %5s | %5s %5s\n", "", "p50", "p99", "max",
              "", "p50", "p99", "max", "p50", "p99", "srv", "brk", "locks", "hold", "srv", "brk");
  // The floor's two clients (BenchAcl).
  const auto floor_requester = deployment->IssueClient("floor-requester", kFloorRequester, time(nullptr), why);
  const auto floor_responder = deployment->IssueClient("floor-responder", kFloorResponder, time(nullptr), why);
  if (!floor_requester || !floor_responder) Die("floor identities: " + why);
  // Every holder's counter, kept across the steps (strictly increasing).
  std::vector<uint32_t> counters(locks.size(), 0);
  for (const double rate : opt.rates) {
    const auto schedule = Schedule(rng, rate, opt.seconds, opt.locks);
    std::vector<std::vector<double>> per_door(locks.size());
    for (const auto& [t, door] : schedule) per_door[static_cast<size_t>(door)].push_back(t);
    std::mutex mu;
    std::vector<double> ms;
    std::map<std::string, int> errors;
    std::atomic<size_t> env_size{0}, ans_size{0};
    const int64_t lifetime_s = EnvelopeLifetimeS(rate / opt.locks);
    cpu.Start();
    const auto t0 = Clock::now() + std::chrono::milliseconds(200);
    std::vector<std::thread> holders;
    for (size_t i = 0; i < locks.size(); ++i) {
      if (per_door[i].empty()) continue;
      holders.emplace_back([&, i] {
        SimulatedLock& l = *locks[i];
        crypto::DeterministicEntropy entropy(opt.seed * 1000003 + i * 7 + static_cast<uint64_t>(rate));
        crypto::Drbg drbg(entropy);
        if (!drbg.Seed().ok()) Die("drbg");
        protocol::RemoteClient client(*l.holder, l.chain, l.rig->authority().identity().key().public_key(), drbg);
        std::optional<HttpConnection> conn(std::in_place, server.port());
        const std::string path = "/api/v1/orgs/" + org + "/doors/" + l.door_id + "/remote";
        for (const double t : per_door[i]) {
          const auto at = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t));
          std::this_thread::sleep_until(at);
          std::string error;
          protocol::CommandRequest unlock;
          unlock.command = protocol::Command::kUnlock;
          std::vector<uint8_t> env(protocol::kMaxRemoteMessageSize);
          auto n = client.Build(unlock, ++counters[i], time(nullptr) + lifetime_s, env);
          if (!n.ok()) Die("build envelope");
          env.resize(*n);
          env_size = env.size();
          const std::string body = json{{"envelope", Base64Url(env)}}.dump();
          std::optional<HttpResult> r;
          for (int attempt = 0; attempt < 2 && !r; ++attempt) {
            if (!conn->connected() || attempt > 0) conn.emplace(server.port());
            r = conn->Send("POST", path, body, {api.auth});
          }
          if (!r) {
            error = "no HTTP answer";
          } else if (r->status != 200) {
            error = std::to_string(r->status) + " " + r->ErrorCode();
          } else {
            const json doc = r->Json();
            std::vector<uint8_t> result(protocol::kMaxRemoteMessageSize);
            auto rn = protocol::Base64UrlDecode(doc["result"].get<std::string>(), result);
            if (!rn.ok()) {
              error = "result not base64url";
            } else {
              result.resize(*rn);
              ans_size = result.size() + 1;
              auto outcome = client.Verify(result);
              if (!outcome.ok()) error = std::string("answer does not verify: ") + outcome.status().name();
              else if (!outcome->confirmed) error = std::string("unconfirmed: ") + StatusCodeName(outcome->envelope);
              else if (outcome->envelope != StatusCode::kOk)
                error = std::string("envelope refused: ") + StatusCodeName(outcome->envelope);
              else if (outcome->response.status != StatusCode::kOk) error = "command refused";
            }
          }
          const double took = std::chrono::duration<double, std::milli>(Clock::now() - at).count();
          std::lock_guard g(mu);
          if (error.empty()) ms.push_back(took);
          else ++errors[error];
        }
      });
    }
    for (auto& h : holders) h.join();
    cpu.Stop();
    envelope_bytes = std::max(envelope_bytes, env_size.load() + 1);  // + the frame's type byte
    answer_bytes = std::max(answer_bytes, ans_size.load());
    const Summary s = Summarise(ms);
    size_t error_count = 0;
    for (const auto& [_, n] : errors) error_count += static_cast<size_t>(n);
    if (error_count != 0 || s.ok != schedule.size()) all_verified = false;

    // The floor at the same rate, the same payload sizes.
    const auto floor_schedule = Schedule(rng, rate, opt.seconds, 1);
    const FloorResult f =
        RunFloor(*broker, *floor_requester, *floor_responder, floor_schedule, envelope_bytes, answer_bytes);
    if (f.lost != 0) all_verified = false;

    const double n_ok = static_cast<double>(std::max<size_t>(1, s.ok));
    char line[320];
    std::snprintf(line, sizeof line,
                  "%-6.0f | %6.1f %6.1f %6.1f | %-6zu | %6.2f %6.2f %6.2f | %5.1f %5.1f | %5.1f %5.1f %5.1f %5.1f | %5.2f %5.2f",
                  rate, s.p50, s.p99, s.max, error_count, f.latency.p50, f.latency.p99, f.latency.max,
                  f.latency.p50 > 0 ? s.p50 / f.latency.p50 : 0.0, f.latency.p99 > 0 ? s.p99 / f.latency.p99 : 0.0,
                  cpu.Percent(0), cpu.Percent(1), cpu.Percent(2), cpu.Percent(3), 1000.0 * cpu.seconds[0] / n_ok,
                  1000.0 * cpu.seconds[1] / n_ok);
    std::printf("%s\n", line);
    for (const auto& [what, n] : errors) std::printf("         error: %d x %s\n", n, what.c_str());
    if (s.ok + error_count != schedule.size())
      std::printf("         %zu commands sent, %zu verified\n", schedule.size(), s.ok);
    if (f.lost != 0) std::printf("         floor: %zu of %zu requests got no answer\n", f.lost, f.sent);
    std::fflush(stdout);
    report["steps"].push_back({{"rate", rate},
                               {"sent", schedule.size()},
                               {"verified", s.ok},
                               {"errors", errors},
                               {"p50_ms", s.p50},
                               {"p99_ms", s.p99},
                               {"max_ms", s.max},
                               {"floor", {{"sent", f.sent}, {"lost", f.lost}, {"p50_ms", f.latency.p50},
                                          {"p99_ms", f.latency.p99}, {"max_ms", f.latency.max}}},
                               {"ratio_p50", f.latency.p50 > 0 ? s.p50 / f.latency.p50 : 0.0},
                               {"ratio_p99", f.latency.p99 > 0 ? s.p99 / f.latency.p99 : 0.0},
                               {"cpu", cpu_json(n_ok)}});
  }
  report["envelope_frame_bytes"] = envelope_bytes;
  report["answer_frame_bytes"] = answer_bytes;
  std::printf("payloads: envelope frame %zu bytes, answer frame %zu bytes (the floor's request and answer)\n",
              envelope_bytes, answer_bytes);

  // --- Log ingest -------------------------------------------------------------------
  {
    HttpConnection c(server.port());
    const auto [before, pages_before] = LogStored(c);
    g_window = opt.window;
    g_pages_sent = 0;
    cpu.Start();
    const auto t0 = Clock::now();
    g_upload_logs = true;
    uint64_t stored = before, last = before;
    auto progress_at = Clock::now();
    while (stored - before < total_records) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const auto [records, pages] = LogStored(c);
      stored = records;
      g_pages_stored = pages - pages_before;
      if (stored != last) {
        last = stored;
        progress_at = Clock::now();
      } else if (Clock::now() - progress_at > std::chrono::seconds(30)) {
        break;  // stalled: reported below
      }
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    cpu.Stop();
    const uint64_t got = stored - before;
    if (got != total_records) all_verified = false;
    const double rate = static_cast<double>(got) / s;
    std::printf("\nlog ingest: %llu of %llu records stored and verified in %.2f s: %.0f records/s\n"
                "  CPU %% of a core: server %.1f, broker %.1f, locks %.1f, rest of the bench %.1f; "
                "%.0f records per server CPU-second\n",
                static_cast<unsigned long long>(got), static_cast<unsigned long long>(total_records), s, rate,
                cpu.Percent(0), cpu.Percent(1), cpu.Percent(2), cpu.Percent(3),
                cpu.seconds[0] > 0 ? static_cast<double>(got) / cpu.seconds[0] : 0.0);
    report["log_ingest"] = {{"records", total_records},
                            {"stored", got},
                            {"seconds", s},
                            {"records_per_s", rate},
                            {"records_per_server_cpu_s", cpu.seconds[0] > 0 ? static_cast<double>(got) / cpu.seconds[0] : 0.0},
                            {"cpu", cpu_json()}};
  }

  g_stop_locks = true;
  for (auto& t : lock_threads) t.join();
  locks.clear();
  report["all_verified"] = all_verified;
  if (!opt.json_out.empty()) std::ofstream(opt.json_out) << report.dump(2) << "\n";
  std::printf("%s\n", all_verified ? "every command got a verified lock-signed answer; every record was stored"
                                   : "FAILED: some commands or records did not make it (see above)");
  if (all_verified) fs::remove_all(dir, ec);
  else std::printf("state, server log and broker files kept in %s\n", dir.c_str());
  return all_verified ? 0 : 1;
}
