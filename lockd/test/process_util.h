// The built mortise-lockd as a process, for the process and attack tests:
// start it on a temp state dir, wait for "ready", talk to its sockets.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
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
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/session.h"
#include "socket_util.h"

namespace mortise::lockd::test {


using nlohmann::json;
namespace fs = std::filesystem;

inline std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Process {
 public:
  // `one_file`: stdout and stderr go to the same file (O_APPEND), so the
  // file shows the order of the daemon's writes to the two.
  Process(const fs::path& dir, std::vector<std::string> args, const std::string& tag, bool one_file = false) {
    err_ = dir / ("stderr-" + tag + ".txt");
    out_ = one_file ? err_ : dir / ("stdout-" + tag + ".txt");
    pid_ = fork();
    if (pid_ == 0) {
      const int e = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
      const int o = one_file ? e : open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
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

// One cold session running `request`, then EndSession (as the CLI does).
// Returns the command's status, or the handshake's failure.
inline StatusCode RunCold(FrameLink& link, protocol::SessionClient& client, const protocol::CommandRequest& request) {
  uint8_t out[protocol::kMaxSessionMessageSize];
  Result<size_t> m1 = client.Hello(out);
  if (!m1.ok()) return m1.status().code();
  const std::vector<uint8_t> m2 = link.Exchange(protocol::FrameType::kSession, std::span<const uint8_t>(out, *m1));
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

// The same with `command` and `value`.
inline StatusCode RunCold(FrameLink& link, protocol::SessionClient& client, protocol::Command command,
                          int64_t value = 0) {
  protocol::CommandRequest request;
  request.command = command;
  request.value = value;
  return RunCold(link, client, request);
}

// Claims the lock at `lock_path` for `owner` with the label the control
// socket shows. Returns the lock's identity key as the claim pinned it.
inline std::optional<crypto::P256PublicKey> Claim(ControlClient& control, FrameLink& link,
                                                 const crypto::P256KeyPair& owner, crypto::Drbg& drbg) {
  Result<protocol::ClaimLabel> label = protocol::ParseLabel(control.Ask({{"cmd", "label"}})["payload"].get<std::string>());
  if (!label.ok()) return std::nullopt;
  protocol::ClaimClient claim(*label, owner, drbg);
  uint8_t out[protocol::kMaxClaimMessageSize];
  Result<size_t> n = claim.Start(out);
  while (n.ok() && *n > 0) n = claim.Handle(link.Exchange(protocol::FrameType::kClaim, std::span<const uint8_t>(out, *n)), out);
  if (!n.ok() || !claim.done()) return std::nullopt;
  return claim.lock_key();
}

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

}  // namespace mortise::lockd::test
