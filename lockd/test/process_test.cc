// The built mortise-lockd as a process: configuration refusals, readiness,
// the control and protocol sockets, SIGTERM, kill -9, restarts on the same
// state dir, and a second daemon refused.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <atomic>

#include <nlohmann/json.hpp>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/session.h"

namespace mortise::lockd {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Process {
 public:
  Process(const fs::path& dir, std::vector<std::string> args, const std::string& tag) {
    err_ = dir / ("stderr-" + tag + ".txt");
    out_ = dir / ("stdout-" + tag + ".txt");
    pid_ = fork();
    if (pid_ == 0) {
      const int e = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int o = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int n = open("/dev/null", O_RDONLY);
      dup2(n, 0);
      dup2(o, 1);
      dup2(e, 2);
      std::vector<char*> argv;
      static std::string bin = MORTISE_LOCKD_BINARY;
      argv.push_back(bin.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  bool WaitReady() {
    for (int i = 0; i < 800; ++i) {
      if (stderr_text().find("mortise-lockd: ready") != std::string::npos) return true;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        status_ = status;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // Waits up to 8 s for the exit; returns the exit status (-1: still running
  // or killed by a signal).
  int Wait() {
    for (int i = 0; i < 800 && !exited_; ++i) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        status_ = status;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exited_ || !WIFEXITED(status_)) return -1;
    return WEXITSTATUS(status_);
  }
  int Signal(int sig) {
    kill(pid_, sig);
    return Wait();
  }
  std::string stderr_text() const { return ReadFile(err_); }
  std::string stdout_text() const { return ReadFile(out_); }
  bool killed_by(int sig) const { return exited_ && WIFSIGNALED(status_) && WTERMSIG(status_) == sig; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
  fs::path err_, out_;
};

int ConnectUnix(const std::string& path, int type) {
  const int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

class ControlClient {
 public:
  explicit ControlClient(const std::string& path) : fd_(ConnectUnix(path, SOCK_STREAM)) {}
  ~ControlClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  json Ask(const json& request) {
    const std::string line = request.dump() + "\n";
    if (send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) return json();
    std::string acc;
    char c;
    while (recv(fd_, &c, 1, 0) == 1 && c != '\n') acc.push_back(c);
    return json::parse(acc, nullptr, false);
  }

 private:
  int fd_;
};

class lockdProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lockd-proc-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    state_ = dir_ / "state";
    config_ = dir_ / "lockd.toml";
    std::ofstream(config_) << "state_dir = \"" << state_.string() << "\"\n"
                           << "[sim]\nclock = \"simulated\"\n"
                           << "[socket]\ntcp = \"127.0.0.1:0\"\n"
                           << "[face]\nenabled = false\n"
                           << "[storage]\nstore_kib = 64\nlog_kib = 16\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> Args() { return {"--config", config_.string()}; }
  std::string control_path() const { return (state_ / "sim.sock").string(); }
  std::string lock_path() const { return (state_ / "lock.sock").string(); }

  fs::path dir_, state_, config_;
};

TEST_F(lockdProcess, BadConfigurationExitsTwoAndCreatesNothing) {
  std::ofstream(config_) << "state_dir = \"" << state_.string() << "\"\n[socket]\ntcp = \"0.0.0.0:7000\"\n";
  Process p(dir_, Args(), "bad");
  EXPECT_EQ(p.Wait(), 2);
  const std::string err = p.stderr_text();
  EXPECT_NE(err.find(config_.string() + ":3:"), std::string::npos) << err;
  EXPECT_NE(err.find("socket.tcp"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(state_)) << "nothing may be created before the configuration is accepted";

  Process q(dir_, {"--state-dir", state_.string(), "--clock", "sometimes"}, "badcli");
  EXPECT_EQ(q.Wait(), 2);
  EXPECT_FALSE(fs::exists(state_));
}

TEST_F(lockdProcess, ServesSocketsStopsOnSigtermAndKeepsItsStateAcrossARestart) {
  std::string lock_id, payload;
  uint64_t last_seq = 0;
  {
    Process p(dir_, Args(), "1");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    // Unclaimed and no face: the label is printed once.
    EXPECT_NE(p.stdout_text().find("Setup code:"), std::string::npos) << p.stdout_text();

    ControlClient c(control_path());
    ASSERT_TRUE(c.connected());
    json s = c.Ask({{"cmd", "status"}});
    ASSERT_EQ(s["ok"], true) << s.dump();
    EXPECT_EQ(s["bolt"], "locked");
    EXPECT_EQ(s["claimed"], false);
    EXPECT_EQ(s["clock"], "simulated");
    lock_id = s["lockId"];
    json label = c.Ask({{"cmd", "label"}});
    ASSERT_EQ(label["ok"], true) << label.dump();
    payload = label["payload"];
    EXPECT_NE(p.stdout_text().find(payload), std::string::npos);

    // The protocol socket answers an info frame with this lock's id.
    const int fd = ConnectUnix(lock_path(), SOCK_SEQPACKET);
    ASSERT_GE(fd, 0);
    const uint8_t info[] = {static_cast<uint8_t>(protocol::FrameType::kInfo)};
    ASSERT_EQ(send(fd, info, 1, MSG_NOSIGNAL), 1);
    uint8_t reply[2048];
    const ssize_t n = recv(fd, reply, sizeof(reply), 0);
    ASSERT_GT(n, 1);
    auto view = protocol::DecodeLockInfo(std::span<const uint8_t>(reply, static_cast<size_t>(n)));
    ASSERT_TRUE(view.ok());
    EXPECT_FALSE(view->claimed);
    std::string id_hex;
    for (uint8_t b : view->lock_id) id_hex += "0123456789abcdef"[b >> 4], id_hex += "0123456789abcdef"[b & 15];
    EXPECT_EQ(id_hex, lock_id);
    close(fd);

    // Four wrong codes (the limit is five) and a door opened and closed.
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(c.Ask({{"cmd", "keypad"}, {"keys", "000000#"}})["ok"], true);
      EXPECT_EQ(c.Ask({{"cmd", "advance"}, {"ms", 200}})["ok"], true);
    }
    EXPECT_EQ(c.Ask({{"cmd", "door"}, {"open", true}})["ok"], true);
    EXPECT_EQ(c.Ask({{"cmd", "door"}, {"open", false}})["ok"], true);
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["lockedOut"], false);
    json ev = c.Ask({{"cmd", "events"}});
    last_seq = ev["last"];
    EXPECT_GT(last_seq, 0u);

    EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
    EXPECT_FALSE(fs::exists(lock_path())) << "sockets are removed at a clean stop";
    EXPECT_FALSE(fs::exists(control_path()));
  }
  {
    Process p(dir_, Args(), "2");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    ControlClient c(control_path());
    ASSERT_TRUE(c.connected());
    json s = c.Ask({{"cmd", "status"}});
    EXPECT_EQ(s["lockId"], lock_id) << "the identity persisted";
    EXPECT_EQ(c.Ask({{"cmd", "label"}})["payload"], payload) << "the label persisted";
    // The log continues: the earlier events are still there, numbered before.
    json ev = c.Ask({{"cmd", "events"}, {"since", 0}, {"limit", 500}});
    int doors = 0;
    for (const auto& e : ev["events"])
      if (e["seq"].get<uint64_t>() <= last_seq && e.value("event", "") == "DoorStateChange") ++doors;
    EXPECT_EQ(doors, 2) << ev.dump();
    EXPECT_GT(ev["last"].get<uint64_t>(), last_seq);
    // The wrong-code count survived: one more locks the keypad out.
    c.Ask({{"cmd", "keypad"}, {"keys", "000000#"}});
    c.Ask({{"cmd", "advance"}, {"ms", 200}});
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["lockedOut"], true);
    EXPECT_EQ(p.Signal(SIGINT), 0);
  }
}

TEST_F(lockdProcess, SurvivesKillNineAndRestartsCleanly) {
  std::string lock_id;
  uint64_t last_seq = 0;
  {
    Process p(dir_, Args(), "1");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    ControlClient c(control_path());
    ASSERT_TRUE(c.connected());
    lock_id = c.Ask({{"cmd", "status"}})["lockId"];
    for (int i = 0; i < 4; ++i) {
      c.Ask({{"cmd", "keypad"}, {"keys", "111111#"}});
      c.Ask({{"cmd", "advance"}, {"ms", 200}});
    }
    c.Ask({{"cmd", "tamper"}});
    last_seq = c.Ask({{"cmd", "events"}})["last"];
    p.Signal(SIGKILL);
    EXPECT_TRUE(p.killed_by(SIGKILL));
    EXPECT_TRUE(fs::exists(lock_path())) << "a killed daemon leaves its socket file";
  }
  {
    Process p(dir_, Args(), "2");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    EXPECT_EQ(p.stderr_text().find("damage"), std::string::npos) << p.stderr_text();
    ControlClient c(control_path());
    ASSERT_TRUE(c.connected());
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["lockId"], lock_id);
    json ev = c.Ask({{"cmd", "events"}, {"limit", 500}});
    bool tamper = false;
    for (const auto& e : ev["events"])
      tamper |= e["seq"].get<uint64_t>() <= last_seq && e.value("alarmCode", "") == "FrontEsceutcheonRemoved";
    EXPECT_TRUE(tamper) << ev.dump();
    c.Ask({{"cmd", "keypad"}, {"keys", "111111#"}});
    c.Ask({{"cmd", "advance"}, {"ms", 200}});
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["lockedOut"], true);

    // A second daemon on the same state dir is refused with status 3.
    Process second(dir_, Args(), "3");
    EXPECT_EQ(second.Wait(), 3);
    EXPECT_NE(second.stderr_text().find("in use"), std::string::npos) << second.stderr_text();
    // ... and the first one still serves.
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["ok"], true);
    EXPECT_EQ(p.Signal(SIGTERM), 0);
  }
}

// One protocol connection: a frame out, its reply back (empty on failure).
class FrameLink {
 public:
  explicit FrameLink(const std::string& path) : fd_(ConnectUnix(path, SOCK_SEQPACKET)) {}
  ~FrameLink() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  std::vector<uint8_t> Exchange(protocol::FrameType type, std::span<const uint8_t> body) {
    std::vector<uint8_t> frame(1 + body.size());
    frame[0] = static_cast<uint8_t>(type);
    std::memcpy(frame.data() + 1, body.data(), body.size());
    if (send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) return {};
    std::vector<uint8_t> reply(protocol::kMaxRemoteFrameSize);
    const ssize_t n = recv(fd_, reply.data(), reply.size(), 0);
    if (n < 1 || reply[0] != frame[0]) return {};
    return std::vector<uint8_t>(reply.begin() + 1, reply.begin() + n);
  }

 private:
  int fd_;
};

struct SeededDrbg {
  explicit SeededDrbg(uint64_t seed) : entropy(seed), drbg(entropy) { EXPECT_TRUE(drbg.Seed().ok()); }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
};

// One cold session running `command`, then EndSession (as the CLI does).
// Returns the command's status, or the handshake's failure.
StatusCode RunCold(FrameLink& link, protocol::SessionClient& client, protocol::Command command) {
  uint8_t out[protocol::kMaxSessionMessageSize];
  Result<size_t> m1 = client.Hello(out);
  if (!m1.ok()) return m1.status().code();
  const std::vector<uint8_t> m2 = link.Exchange(protocol::FrameType::kSession, std::span<const uint8_t>(out, *m1));
  protocol::CommandRequest request;
  request.command = command;
  Result<size_t> m3 = client.Finish(m2, request, out);
  if (!m3.ok()) return m3.status().code();
  Result<protocol::CommandResponse> r =
      client.Receive(link.Exchange(protocol::FrameType::kSession, std::span<const uint8_t>(out, *m3)));
  if (!r.ok()) return r.status().code();
  protocol::CommandRequest end;
  end.command = protocol::Command::kEndSession;
  Result<size_t> m4 = client.Send(end, out);
  if (m4.ok()) client.Receive(link.Exchange(protocol::FrameType::kSession, std::span<const uint8_t>(out, *m4))).IgnoreError();
  return r->status;
}

// Issue 11's attack, for real through the daemon's socket: two connections
// flood it with 2,000 hellos (each one costs the lock an ephemeral key, an
// ECDH and a signature) and third messages that present the owner's public
// key with a forged signature, while the owner unlocks and locks again and
// again through a third connection. Before (protocol version 1) 20 of 20
// owner unlocks failed with NOT_FOUND; now every one opens.
TEST_F(lockdProcess, A18_ForgedHelloFloodDoesNotLockOutTheOwner) {
  Process p(dir_, Args(), "flood");
  ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
  ControlClient control(control_path());
  ASSERT_TRUE(control.connected());
  Result<protocol::ClaimLabel> label = protocol::ParseLabel(control.Ask({{"cmd", "label"}})["payload"].get<std::string>());
  ASSERT_TRUE(label.ok());
  SeededDrbg owner_rng(71);
  const crypto::P256KeyPair owner = *crypto::P256KeyPair::Generate(owner_rng.drbg);
  FrameLink owner_link(lock_path());
  ASSERT_TRUE(owner_link.connected());
  {
    protocol::ClaimClient claim(*label, owner, owner_rng.drbg);
    uint8_t out[protocol::kMaxClaimMessageSize];
    Result<size_t> n = claim.Start(out);
    while (n.ok() && *n > 0) {
      n = claim.Handle(owner_link.Exchange(protocol::FrameType::kClaim, std::span<const uint8_t>(out, *n)), out);
    }
    ASSERT_TRUE(n.ok() && claim.done()) << n.status().name();
  }
  const protocol::LockId lock_id = label->lock_id;

  // The owner's key as anyone sees it, with a signature nobody made, as an
  // encoded SessionIdentity: holder_key (field 1, 33 bytes), signature
  // (field 4, 64 bytes).
  std::vector<uint8_t> forged = {0x0A, 33};
  const auto owner_key = owner.public_key().Compressed();
  forged.insert(forged.end(), owner_key.begin(), owner_key.end());
  forged.push_back(0x22);
  forged.push_back(64);
  forged.insert(forged.end(), 64, 0x42);

  constexpr int kHellosPerConnection = 1000;
  std::atomic<int> answered{0}, refused_forgeries{0}, flooders_done{0};
  auto flood = [&](uint64_t seed) {
    SeededDrbg rng(seed);
    const crypto::P256KeyPair stranger = *crypto::P256KeyPair::Generate(rng.drbg);
    FrameLink link(lock_path());
    ASSERT_TRUE(link.connected());
    uint8_t out[protocol::kMaxSessionMessageSize];
    for (int i = 0; i < kHellosPerConnection; ++i) {
      protocol::SessionClient forger(stranger, {}, lock_id, rng.drbg);
      forger.set_identity_for_testing(forged);
      Result<size_t> m1 = forger.Hello(out);
      ASSERT_TRUE(m1.ok());
      const std::vector<uint8_t> m2 = link.Exchange(protocol::FrameType::kSession, std::span<const uint8_t>(out, *m1));
      ASSERT_FALSE(m2.empty()) << i;
      ++answered;
      if (i % 10 != 0) continue;
      protocol::CommandRequest unlock;
      unlock.command = protocol::Command::kUnlock;
      Result<size_t> m3 = forger.Finish(m2, unlock, out);
      ASSERT_TRUE(m3.ok());
      Result<protocol::CommandResponse> r =
          forger.Receive(link.Exchange(protocol::FrameType::kSession, std::span<const uint8_t>(out, *m3)));
      // The lock's own (authenticated) refusal: a bad signature, or, should
      // the owner's clock advances have aged the cookie, an old cookie.
      ASSERT_FALSE(r.ok());
      if (forger.last_error_authenticated()) ++refused_forgeries;
    }
    ++flooders_done;
  };
  std::thread a(flood, 72), b(flood, 73);

  // 20 owner unlocks spread over the flood: the k-th once the lock has
  // answered k * 100 of its hellos.
  constexpr int kOwnerAttempts = 20;
  int attempts = 0, opened = 0, during_flood = 0;
  while (attempts < kOwnerAttempts) {
    while (answered.load() < attempts * (2 * kHellosPerConnection / kOwnerAttempts) && flooders_done.load() < 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    during_flood += flooders_done.load() < 2 ? 1 : 0;
    protocol::SessionClient unlocker(owner, {}, lock_id, owner_rng.drbg);
    ++attempts;
    if (RunCold(owner_link, unlocker, protocol::Command::kUnlock) == StatusCode::kOk) ++opened;
    control.Ask({{"cmd", "advance"}, {"ms", 2000}});
    protocol::SessionClient locker(owner, {}, lock_id, owner_rng.drbg);
    EXPECT_EQ(RunCold(owner_link, locker, protocol::Command::kLock), StatusCode::kOk);
    control.Ask({{"cmd", "advance"}, {"ms", 2000}});
  }
  a.join();
  b.join();
  EXPECT_EQ(answered.load(), 2 * kHellosPerConnection);
  EXPECT_EQ(refused_forgeries.load(), 2 * kHellosPerConnection / 10);
  EXPECT_EQ(opened, kOwnerAttempts) << "owner unlocks that failed during the flood";
  EXPECT_GE(during_flood, kOwnerAttempts / 2);
  std::printf("flood: %d hellos and %d forged third messages answered; owner opened %d of %d times (%d during the flood)\n",
              answered.load(), refused_forgeries.load(), opened, attempts, during_flood);
  // The flood cost the keypad nothing either (A15).
  EXPECT_EQ(control.Ask({{"cmd", "status"}})["lockedOut"], false);
  EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
}

}  // namespace
}  // namespace mortise::lockd
