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
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

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
