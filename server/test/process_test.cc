// The built mortise-server as a process on 127.0.0.1:0 in a temp dir: the
// readiness line, configuration refusals, graceful SIGTERM, kill -9 during a
// burst of writes, and a backup of the running database restored. Each
// process is stopped by its fixture; its stderr is kept under
// build/server/test-output/ when a test fails.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "beast_client.h"
#include "fakes.h"
#include "http_client.h"
#include "test_ca.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Browser;
using testing::HttpConnection;

constexpr char kPassword[] = "correct horse battery";

class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 2);
      const int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      std::vector<char*> argv;
      static std::string bin = MORTISE_SERVER_BINARY;
      argv.push_back(bin.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    err_ = fds[0];
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (err_ >= 0) close(err_);
    if (::testing::Test::HasFailure()) {
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      fs::create_directories(MORTISE_SERVER_TEST_OUTPUT);
      std::ofstream(fs::path(MORTISE_SERVER_TEST_OUTPUT) /
                        (std::string(info->name()) + "-" + std::to_string(pid_) + ".stderr.txt"))
          << log_;
    }
  }

  // Reads stderr until a line contains `needle` (or the process closes it;
  // 60 s safety net). Returns that line, "" if never seen.
  std::string WaitForLine(const std::string& needle) {
    size_t from = 0;
    for (;;) {
      size_t nl;
      while ((nl = log_.find('\n', from)) != std::string::npos) {
        const std::string line = log_.substr(from, nl - from);
        from = nl + 1;
        if (line.find(needle) != std::string::npos) {
          consumed_ = from;
          return line;
        }
      }
      pollfd p{err_, POLLIN, 0};
      if (poll(&p, 1, 60000) <= 0) return "";
      char buf[4096];
      const ssize_t n = read(err_, buf, sizeof(buf));
      if (n <= 0) return "";
      log_.append(buf, static_cast<size_t>(n));
    }
  }
  // The port of "mortise-server: listening on http://127.0.0.1:PORT".
  uint16_t WaitReady(const std::string& scheme = "http") {
    const std::string line = WaitForLine("mortise-server: listening on ");
    std::smatch m;
    const std::regex re("^mortise-server: listening on " + scheme + "://127\\.0\\.0\\.1:([0-9]+)$");
    if (!std::regex_match(line, m, re)) return 0;
    return static_cast<uint16_t>(std::stoi(m[1]));
  }
  // Exit status after the process ends (blocks); -1 if killed by a signal.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    WaitForLine("\x01");  // drain stderr into the log
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void Signal(int sig) { kill(pid_, sig); }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  int err_ = -1;
  bool exited_ = false;
  std::string log_;
  size_t consumed_ = 0;
};

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("mortise-server-process-");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Db(const char* name = "db") { return "sqlite:" + (dir_ / name).string(); }
  std::vector<std::string> FastArgs(const char* db = "db") {
    return {"--listen", "127.0.0.1:0", "--db", Db(db), "--password-profile", "test-fast"};
  }

  static Browser SignUpAndIn(uint16_t port, const std::string& email, bool sign_up = true) {
    HttpConnection c(port);
    const json creds = {{"email", email}, {"password", kPassword}};
    if (sign_up) {
      EXPECT_EQ(c.Send("POST", "/api/v1/accounts", creds.dump())->status, 201);
    }
    return testing::SignInBrowser(port, creds);
  }

  static std::set<std::string> KeyNames(Browser& b) {
    std::set<std::string> names;
    std::string cursor;
    do {
      const auto page = b.Call("GET", "/api/v1/me/api-keys?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_EQ(page->status, 200);
      const auto j = page->Json();
      for (const auto& k : j["items"]) names.insert(k["name"].get<std::string>());
      cursor = j["next_cursor"].is_null() ? "" : j["next_cursor"].get<std::string>();
    } while (!cursor.empty());
    return names;
  }

  fs::path dir_;
};

TEST_F(ProcessTest, ListensWithNoOtherFlagAndPrintsTheAddress) {
  ServerProcess s({"--listen", "127.0.0.1:0", "--db", Db()});
  const uint16_t port = s.WaitReady();
  ASSERT_NE(port, 0) << s.log();
  HttpConnection c(port);
  EXPECT_EQ(c.Send("GET", "/healthz")->status, 200);
  EXPECT_EQ(c.Send("GET", "/readyz")->status, 200);
  s.Signal(SIGTERM);
  EXPECT_EQ(s.Wait(), 0);
  EXPECT_NE(s.log().find("mortise-server: stopped"), std::string::npos);
}

TEST_F(ProcessTest, SigtermFinishesTheRequestInFlightAndClosesIdleConnections) {
  ServerProcess s(FastArgs());
  const uint16_t port = s.WaitReady();
  ASSERT_NE(port, 0) << s.log();
  HttpConnection idle(port);
  ASSERT_TRUE(idle.connected());
  ASSERT_EQ(idle.Send("GET", "/healthz")->status, 200);  // kept alive, now idle

  HttpConnection busy(port);
  const std::string body = json{{"email", "ana@example.org"}, {"password", kPassword}}.dump();
  ASSERT_TRUE(busy.SendRaw("POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Expect: 100-continue\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n"));
  const auto cont = busy.ReadResponse();  // the header is in: the request is in flight
  ASSERT_TRUE(cont);
  ASSERT_EQ(cont->status, 100);

  s.Signal(SIGTERM);
  ASSERT_NE(s.WaitForLine("shutting down"), "");
  EXPECT_TRUE(idle.ReadEof());
  ASSERT_TRUE(busy.SendRaw(body));
  const auto r = busy.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(busy.ReadEof());
  EXPECT_EQ(s.Wait(), 0);
  EXPECT_NE(s.log().find("mortise-server: stopped"), std::string::npos);

  // The account written during shutdown is there after a restart.
  ServerProcess again(FastArgs());
  const uint16_t port2 = again.WaitReady();
  ASSERT_NE(port2, 0);
  SignUpAndIn(port2, "ana@example.org", /*sign_up=*/false);
}

TEST_F(ProcessTest, KillNineDuringABurstOfWritesLosesNothingAcknowledged) {
  std::set<std::string> acknowledged;
  {
    ServerProcess s(FastArgs());
    const uint16_t port = s.WaitReady();
    ASSERT_NE(port, 0) << s.log();
    Browser b = SignUpAndIn(port, "ana@example.org");
    std::mutex mu;
    std::condition_variable cv;
    std::thread writer([&] {
      HttpConnection c(port);
      for (int i = 0;; ++i) {
        const std::string name = "k" + std::to_string(i);
        const auto r = c.Send("POST", "/api/v1/me/api-keys", json{{"name", name}, {"scopes", {"account:read"}}}.dump(),
                              {"Cookie: " + b.cookie, "X-CSRF-Token: " + b.csrf});
        if (!r || r->status != 201) return;
        std::lock_guard lock(mu);
        acknowledged.insert(name);
        cv.notify_all();
      }
    });
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return acknowledged.size() >= 100; });
    }
    s.Signal(SIGKILL);  // mid-burst: the writer's next request fails
    writer.join();
    EXPECT_EQ(s.Wait(), -1);
  }
  ServerProcess again(FastArgs());
  const uint16_t port = again.WaitReady();
  ASSERT_NE(port, 0) << again.log();
  Browser b = SignUpAndIn(port, "ana@example.org", /*sign_up=*/false);
  const auto stored = KeyNames(b);
  for (const auto& name : acknowledged) EXPECT_TRUE(stored.count(name)) << "lost acknowledged write " << name;
  EXPECT_GE(stored.size(), acknowledged.size());
}

TEST_F(ProcessTest, BackupOfTheRunningServerRestores) {
  ServerProcess s(FastArgs());
  const uint16_t port = s.WaitReady();
  ASSERT_NE(port, 0) << s.log();
  Browser b = SignUpAndIn(port, "ana@example.org");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(b.Call("POST", "/api/v1/me/api-keys", {{"name", "k" + std::to_string(i)}, {"scopes", {"account:read"}}})
                  ->status,
              201);
  }
  {
    ServerProcess backup({"backup", "--db", Db(), "--out", (dir_ / "snapshot").string()});
    EXPECT_EQ(backup.Wait(), 0) << backup.log();
  }
  {
    ServerProcess refused({"backup", "--db", Db(), "--out", (dir_ / "snapshot").string()});
    EXPECT_EQ(refused.Wait(), 1);
    EXPECT_NE(refused.log().find("exists"), std::string::npos) << refused.log();
  }
  ASSERT_EQ(b.Call("POST", "/api/v1/me/api-keys", {{"name", "after"}, {"scopes", {"account:read"}}})->status, 201);
  s.Signal(SIGTERM);
  EXPECT_EQ(s.Wait(), 0);

  // Restore: the snapshot file becomes the database.
  fs::copy_file(dir_ / "snapshot", dir_ / "restored");
  ServerProcess restored(FastArgs("restored"));
  const uint16_t port2 = restored.WaitReady();
  ASSERT_NE(port2, 0) << restored.log();
  Browser r = SignUpAndIn(port2, "ana@example.org", /*sign_up=*/false);
  EXPECT_EQ(KeyNames(r), (std::set<std::string>{"k0", "k1", "k2"}));
}

// Started with the usual umask 022, the program still writes owner-only files:
// the database, its -wal/-shm and backups (they hold password hashes and TOTP
// secrets); a database in a directory others can write is refused.
TEST_F(ProcessTest, A19_DatabaseAndBackupFilesAreOwnerOnly) {
  const mode_t old = ::umask(022);
  const auto mode = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  };
  {
    ServerProcess s(FastArgs());
    const uint16_t port = s.WaitReady();
    ASSERT_NE(port, 0) << s.log();
    SignUpAndIn(port, "ana@example.org");
    for (const char* f : {"db", "db-wal", "db-shm"}) EXPECT_EQ(mode(dir_ / f), 0600u) << f;
    ServerProcess backup({"backup", "--db", Db(), "--out", (dir_ / "snapshot").string()});
    EXPECT_EQ(backup.Wait(), 0) << backup.log();
    EXPECT_EQ(mode(dir_ / "snapshot"), 0600u);
  }
  fs::create_directories(dir_ / "shared");
  fs::permissions(dir_ / "shared", fs::perms(01777));
  ServerProcess refused({"--listen", "127.0.0.1:0", "--db", "sqlite:" + (dir_ / "shared" / "db").string()});
  const std::string line = refused.WaitForLine("mortise-server: ");  // listening or refused
  EXPECT_NE(line.find("writable by group or others"), std::string::npos) << line;
  if (line.find("listening") == std::string::npos) {
    EXPECT_EQ(refused.Wait(), 1);
  }
  EXPECT_FALSE(fs::exists(dir_ / "shared" / "db"));
  ::umask(old);
}

TEST_F(ProcessTest, ConfigFileHoldsSettingsAndBadOnesAreRefusedByName) {
  const fs::path good = dir_ / "good.toml";
  std::ofstream(good) << "[http]\nlisten = \"127.0.0.1:0\"\nbody_limit_bytes = 2048\n[db]\nurl = \"" << Db()
                      << "\"\n[auth]\npassword_profile = \"test-fast\"\n";
  {
    ServerProcess s({"--config", good.string()});
    const uint16_t port = s.WaitReady();
    ASSERT_NE(port, 0) << s.log();
    HttpConnection c(port);
    EXPECT_EQ(c.Send("POST", "/api/v1/accounts", std::string(3000, 'x'))->status, 413);
    s.Signal(SIGTERM);
    EXPECT_EQ(s.Wait(), 0);
  }
  const fs::path unknown = dir_ / "unknown.toml";
  std::ofstream(unknown) << "[http]\nlisten = \"127.0.0.1:0\"\nbody_limt = 5\n";
  {
    ServerProcess s({"--config", unknown.string()});
    EXPECT_EQ(s.Wait(), 2);
    EXPECT_NE(s.log().find("unknown setting http.body_limt"), std::string::npos) << s.log();
  }
  {
    ServerProcess s({"--listen", "0.0.0.0:0", "--db", Db(), "--password-profile", "test-fast"});
    EXPECT_EQ(s.Wait(), 2);
    EXPECT_NE(s.log().find("loopback"), std::string::npos) << s.log();
  }
  {
    ServerProcess s({"--listen", "127.0.0.1:0", "--db", "mysql://localhost/mortise"});
    EXPECT_EQ(s.Wait(), 2);
    EXPECT_NE(s.log().find("must be sqlite:PATH or postgresql://"), std::string::npos) << s.log();
  }
}

TEST_F(ProcessTest, ServesHttpsWithTheGivenCertificateAndRefusesUnusableFiles) {
  testing::TestCa ca(dir_);
  {
    ServerProcess s({"--listen", "127.0.0.1:0", "--db", Db(), "--tls-cert", ca.cert_file, "--tls-key", ca.key_file});
    const uint16_t port = s.WaitReady("https");
    ASSERT_NE(port, 0) << s.log();
    std::string why;
    const auto r = testing::HttpsRequest(port, ca.ca_file, "GET", "/healthz", "", {}, why);
    ASSERT_TRUE(r) << why;
    EXPECT_EQ(r->status, 200);
    s.Signal(SIGTERM);
    EXPECT_EQ(s.Wait(), 0);
  }
  const fs::path config = dir_ / "tls.toml";
  std::ofstream(config) << "[http]\nlisten = \"127.0.0.1:0\"\n[db]\nurl = \"" << Db() << "\"\n[tls]\ncert_file = \""
                        << ca.cert_file << "\"\nkey_file = \"" << ca.key_file << "\"\n";
  {
    ServerProcess s({"--config", config.string()});
    ASSERT_NE(s.WaitReady("https"), 0) << s.log();
    s.Signal(SIGTERM);
    EXPECT_EQ(s.Wait(), 0);
  }
  {
    ServerProcess s({"--listen", "127.0.0.1:0", "--db", Db(), "--tls-cert", ca.cert_file});
    EXPECT_EQ(s.Wait(), 2);
    EXPECT_NE(s.log().find("TLS needs both"), std::string::npos) << s.log();
  }
  {
    ServerProcess s({"--listen", "127.0.0.1:0", "--db", Db(), "--tls-cert", ca.cert_file, "--tls-key", ca.cert_file});
    EXPECT_EQ(s.Wait(), 1);
    EXPECT_NE(s.log().find("mortise-server: TLS key " + ca.cert_file + " cannot be used"), std::string::npos)
        << s.log();
    EXPECT_EQ(s.log().find("listening"), std::string::npos) << s.log();
  }
}

}  // namespace
}  // namespace mortise::server
