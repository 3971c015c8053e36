// Runs the `mortise` binary as a user would: exit codes, stdout, stderr.
// Each run is a child in its own session (no controlling terminal), with
// an explicit environment, stdin from /dev/null.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "key_string.h"
#include "keyring.h"
#include "test_util.h"

namespace mortise::cli {
namespace {

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliProcessTest : public ::testing::Test {
 protected:
  // Runs mortise with `args`; `env` adds to a minimal environment.
  // `fd3`, when set, is a file whose contents the child reads on fd 3.
  RunResult Mortise(std::vector<std::string> args, std::vector<std::string> env = {}, const std::string& fd3 = {}) {
    std::vector<std::string> full_env = {"HOME=" + dir.path().string(), "PATH=/usr/bin:/bin",
                                         "MORTISE_KEYRING_KDF=fast",
                                         "MORTISE_KEYRING=" + (dir / "keyring").string()};
    full_env.insert(full_env.end(), env.begin(), env.end());
    const std::filesystem::path out = dir / "stdout", err = dir / "stderr", in3 = dir / "fd3";
    if (!fd3.empty()) std::ofstream(in3) << fd3;
    args.insert(args.begin(), MORTISE_CLI_BINARY);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();  // no controlling terminal: /dev/tty cannot be opened
      const int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
      ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
      if (!fd3.empty()) ::dup2(::open(in3.c_str(), O_RDONLY), 3);
      std::vector<char*> argv, envp;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : full_env) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    RunResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }
  RunResult Init() { return Mortise({"init"}, {"MORTISE_PASSPHRASE=long-enough-pw"}); }

  testing::TempDir dir;
};

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST_F(CliProcessTest, InitCreatesAPrivateKeyringWithADefaultIdentity) {
  const RunResult r = Init();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_HAS(r.out, "Identity \"default\" (default): MKP1.");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "keyring").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A second init does not touch it.
  const RunResult again = Init();
  EXPECT_EQ(again.code, 5);
  EXPECT_HAS(again.err, "mortise: a keyring already exists at");
}

TEST_F(CliProcessTest, InitWithoutAnyPassphraseSourceFailsClearly) {
  const RunResult r = Mortise({"init"});
  EXPECT_EQ(r.code, 5);
  EXPECT_HAS(r.err, "mortise: no passphrase given and no terminal to ask for one.");
  EXPECT_FALSE(std::filesystem::exists(dir / "keyring"));
}

TEST_F(CliProcessTest, IdentitiesWithJsonOutput) {
  ASSERT_EQ(Init().code, 0);
  RunResult r = Mortise({"--json", "id", "new", "phone", "--default"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["identity"]["name"], "phone");
  const std::string phone_key = doc["identity"]["public_key"];
  EXPECT_TRUE(phone_key.starts_with("MKP1."));

  r = Mortise({"id", "list", "--json"}, {"MORTISE_PASSPHRASE=long-enough-pw"});  // global option after the command
  ASSERT_EQ(r.code, 0) << r.err;
  doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["identities"].size(), 2u);
  EXPECT_EQ(doc["identities"][1]["default"], true);

  r = Mortise({"id", "show", "--no-qr"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_HAS(r.out, phone_key);
  r = Mortise({"id", "show", "default"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_HAS(r.out, "\u2580");  // the QR code's half blocks

  r = Mortise({"id", "new", "phone"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_EQ(r.code, 1);
  EXPECT_HAS(r.err, "already exists");
  r = Mortise({"id", "show", "nobody"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_EQ(r.code, 1);
}

TEST_F(CliProcessTest, PassphraseFromADescriptor) {
  RunResult r = Mortise({"--passphrase-fd", "3", "init"}, {}, "from the fd\n");
  ASSERT_EQ(r.code, 0) << r.err;
  r = Mortise({"id", "list", "--passphrase-fd", "3"}, {}, "from the fd\n");
  EXPECT_EQ(r.code, 0) << r.err;
  r = Mortise({"id", "list"}, {"MORTISE_PASSPHRASE=from the fd"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CliProcessTest, KeyringErrorsExitFive) {
  RunResult r = Mortise({"id", "list"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_EQ(r.code, 5);
  EXPECT_HAS(r.err, "mortise: no keyring at");
  EXPECT_HAS(r.err, "mortise init");

  ASSERT_EQ(Init().code, 0);
  r = Mortise({"id", "list"}, {"MORTISE_PASSPHRASE=nope"});
  EXPECT_EQ(r.code, 5);
  EXPECT_HAS(r.err, "mortise: wrong passphrase or damaged keyring.");

  r = Mortise({"--json", "id", "list"}, {"MORTISE_PASSPHRASE=nope"});
  EXPECT_EQ(r.code, 5);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["error"]["code"], 5);

  std::filesystem::resize_file(dir / "keyring", 20);
  r = Mortise({"id", "list"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_EQ(r.code, 5);
  EXPECT_HAS(r.err, "truncated");
  EXPECT_EQ(std::filesystem::file_size(dir / "keyring"), 20u);
}

// A newcomer's finding: `mortise init` took a 3-character passphrase for the
// file that holds every key. A new keyring needs at least 8 characters, from
// the environment as from a descriptor; opening one does not check.
TEST_F(CliProcessTest, InitRefusesAShortPassphrase) {
  RunResult r = Mortise({"init"}, {"MORTISE_PASSPHRASE=abc"});
  EXPECT_EQ(r.code, 2);
  EXPECT_HAS(r.err, "a new keyring passphrase needs at least 8 characters (this one has 3); nothing was created");
  EXPECT_FALSE(std::filesystem::exists(dir / "keyring"));
  r = Mortise({"--passphrase-fd", "3", "init"}, {}, "seven77\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "keyring"));
  // Characters, not bytes: 7 two-byte letters are still too short.
  r = Mortise({"init"}, {"MORTISE_PASSPHRASE=\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"});
  EXPECT_EQ(r.code, 2);
  r = Mortise({"init"}, {"MORTISE_PASSPHRASE=eight888"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// Users are numbered on the lock: a name where a number goes says so and
// points at `mortise user list` (before the keyring or the lock is asked).
TEST_F(CliProcessTest, AUserGivenByNameSaysUsersAreNumbered) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"pin", "add", "--user", "alice"},
           {"card", "add", "--user", "alice", "--uid", "04a1"},
           {"schedule", "weekday", "list", "--user", "alice"},
           {"user", "show", "alice"},
           {"pin", "add", "--user", "0"}}) {
    const RunResult r = Mortise(args);
    EXPECT_EQ(r.code, 2) << args[0] << " " << r.err;
    EXPECT_HAS(r.err, "users are numbered 1, 2, ... on the lock");
    EXPECT_HAS(r.err, "run `mortise user list`");
    EXPECT_EQ(r.err.find("Could not convert"), std::string::npos) << r.err;
  }
}

// Matter's limit on a user's name, said before connecting to the lock.
TEST_F(CliProcessTest, AUserNameLongerThanTenBytesIsRefusedHere) {
  RunResult r = Mortise({"user", "add", "alice smith"});
  EXPECT_EQ(r.code, 2);
  EXPECT_HAS(r.err, "\"alice smith\" is 11 bytes: a user name is at most 10 bytes (UTF-8) on the lock (Matter's limit)");
  r = Mortise({"user", "update", "1", "--name", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"});
  EXPECT_EQ(r.code, 2);
  EXPECT_HAS(r.err, "is 12 bytes");
}

TEST_F(CliProcessTest, UsageErrorsExitOneAndHelpExitsZero) {
  RunResult r = Mortise({"frobnicate"});
  EXPECT_EQ(r.code, 1);
  EXPECT_HAS(r.err, "mortise: ");
  r = Mortise({"id"});
  EXPECT_EQ(r.code, 1);
  r = Mortise({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_HAS(r.out, "Exit codes:");
  for (const char* cmd : {"claim", "status", "unlock", "unlatch", "mode", "dl", "log"}) {
    r = Mortise({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
  }
  r = Mortise({"pin", "offline", "recurring", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_HAS(r.out, "--hours");
}

// The newcomer's findings: --help's exit legend covers the server's
// refusals (docs/cli.md section 8), and a missing server password is named
// as such, not as the keyring's passphrase.
TEST_F(CliProcessTest, TheExitLegendCoversTheServerAndAMissingServerPasswordIsNamed) {
  RunResult r = Mortise({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_HAS(r.out, "3 refused by the lock or by the server");
  EXPECT_HAS(r.out, "5 keyring problem or server sign-in refused");
  r = Mortise({"server", "login", "http://127.0.0.1:9", "--email", "owner@example.org"});
  EXPECT_EQ(r.code, 1);
  EXPECT_HAS(r.err, "no password for owner@example.org given and no terminal to ask for it");
  EXPECT_HAS(r.err, "MORTISE_SERVER_PASSWORD");
  EXPECT_EQ(r.err.find("passphrase"), std::string::npos) << r.err;
}

TEST_F(CliProcessTest, LockCommandsWithoutALockSayWhatToDo) {
  ASSERT_EQ(Init().code, 0);
  // No lock in the keyring: a usage error naming the way out, nothing changed.
  for (std::vector<std::string> args : {std::vector<std::string>{"unlock"}, {"lock"}, {"status"},
                                        {"pin", "offline", "erase-all"}}) {
    RunResult r = Mortise(args, {"MORTISE_PASSPHRASE=long-enough-pw"});
    EXPECT_EQ(r.code, 1) << args[0] << ": " << r.err;
    EXPECT_HAS(r.err, "mortise: ");
  }
  // A malformed public key string for key share: bad input, exit 2.
  RunResult r = Mortise({"key", "share", "--to", "MKP1.x"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_TRUE(r.code == 1 || r.code == 2) << r.err;
  // Claim with a malformed label: exit 2 before anything is contacted.
  r = Mortise({"claim", "MC1.short", "--endpoint", "/nonexistent/lock.sock"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_TRUE(r.code == 2 || r.code == 4) << r.err;
}

TEST_F(CliProcessTest, LockListAndForget) {
  ASSERT_EQ(Init().code, 0);
  RunResult r = Mortise({"lock", "list"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_HAS(r.out, "No locks");
  r = Mortise({"lock", "forget", "front"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_EQ(r.code, 1);
  EXPECT_HAS(r.err, "no lock named \"front\"");
}

// A fake lock endpoint answering one info request with a fixed frame.
class FakeLock {
 public:
  FakeLock(const std::filesystem::path& path, std::vector<uint8_t> reply, bool silent = false) {
    fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    thread_ = std::thread([this, reply, silent] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      uint8_t buf[64];
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      request_ = std::vector<uint8_t>(buf, buf + std::max<ssize_t>(n, 0));
      if (!silent) ::send(c, reply.data(), reply.size(), 0);
      ::recv(c, buf, sizeof buf, 0);  // until the client goes away
      ::close(c);
    });
  }
  ~FakeLock() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::vector<uint8_t> request() {
    thread_.join();
    thread_ = std::thread([] {});
    return request_;
  }

 private:
  int fd_;
  std::thread thread_;
  std::vector<uint8_t> request_;
};

// A LockInfo reply frame (protocol/node.h) in its canonical encoding.
std::vector<uint8_t> InfoFrame(const protocol::LockId& id, const protocol::KeyId& hash, bool claimed) {
  std::vector<uint8_t> f{0x04, 0x08, 0x01, 0x12, 0x10};
  f.insert(f.end(), id.begin(), id.end());
  f.push_back(0x1A);
  f.push_back(0x08);
  f.insert(f.end(), hash.begin(), hash.end());
  if (claimed) {
    f.push_back(0x20);
    f.push_back(0x01);
  }
  return f;
}

TEST_F(CliProcessTest, InfoSendsAnInfoFrameAndShowsTheReply) {
  const std::filesystem::path sock = dir / "lock.sock";
  protocol::LockId id;
  id.fill(0xAB);
  protocol::KeyId hash;
  hash.fill(0xCD);
  FakeLock lock(sock, InfoFrame(id, hash, true));
  const RunResult r = Mortise({"--json", "info", "--endpoint", "unix:" + sock.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["lock_id"], ToHex(id));
  EXPECT_EQ(doc["key_hash"], ToHex(hash));
  EXPECT_EQ(doc["claimed"], true);
  EXPECT_EQ(doc["claim_window_open"], false);
  EXPECT_EQ(doc["protocol_version"], 1);
  EXPECT_EQ(doc["endpoint"], "unix:" + sock.string());
  EXPECT_EQ(lock.request(), std::vector<uint8_t>{0x04});
}

TEST_F(CliProcessTest, InfoChecksTheAnswerAgainstTheKeyringsPin) {
  testing::Fixture fx;
  const std::filesystem::path sock = dir / "lock.sock";
  {
    KeyringContent c;
    c.AddIdentity("me", fx.rng.drbg, 0);
    LockEntry l;
    l.name = "front";
    l.lock_key = fx.lock.public_key().bytes();
    l.lock_id = fx.lock_id;
    l.endpoint = "unix:" + sock.string();
    l.identity = "me";
    c.AddLock(l);
    Keyring::Create(dir / "keyring", "long-enough-pw", KdfParams::Fast(), std::move(c));
  }
  {
    FakeLock lock(sock, InfoFrame(fx.lock_id, protocol::KeyIdOf(fx.lock.public_key()), true));
    const RunResult r = Mortise({"info"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_HAS(r.out, "Lock          front (lock id matches the keyring)");
  }
  {
    std::filesystem::remove(sock);
    protocol::LockId other = fx.lock_id;
    other[0] ^= 1;
    FakeLock lock(sock, InfoFrame(other, protocol::KeyIdOf(fx.lock.public_key()), true));
    const RunResult r = Mortise({"info"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
    EXPECT_EQ(r.code, 6);
    EXPECT_HAS(r.err, "is not \"front\"");
  }
}

TEST_F(CliProcessTest, InfoErrorPaths) {
  RunResult r = Mortise({"info", "--endpoint", (dir / "absent.sock").string()});
  EXPECT_EQ(r.code, 4);
  EXPECT_HAS(r.err, "no such socket");
  r = Mortise({"info", "--endpoint", "nonsense"});
  EXPECT_EQ(r.code, 2);  // a malformed value (docs/cli.md 8)
  EXPECT_HAS(r.err, "invalid endpoint");
  {
    FakeLock lock(dir / "a.sock", {0x00});
    r = Mortise({"info", "--endpoint", (dir / "a.sock").string()});
    EXPECT_EQ(r.code, 3);
    EXPECT_HAS(r.err, "does not answer info requests");
  }
  {
    FakeLock lock(dir / "b.sock", {0x02, 0x01});
    r = Mortise({"info", "--endpoint", (dir / "b.sock").string()});
    EXPECT_EQ(r.code, 6);
    EXPECT_HAS(r.err, "frame type 2");
  }
  {
    FakeLock lock(dir / "d.sock", {0x04, 0xDE, 0xAD});
    r = Mortise({"info", "--endpoint", (dir / "d.sock").string()});
    EXPECT_EQ(r.code, 6);
    EXPECT_HAS(r.err, "malformed LockInfo");
  }
  {
    FakeLock lock(dir / "c.sock", {}, /*silent=*/true);
    const auto start = std::chrono::steady_clock::now();
    r = Mortise({"--timeout", "0.3", "info", "--endpoint", (dir / "c.sock").string()});
    EXPECT_EQ(r.code, 4);
    EXPECT_HAS(r.err, "timed out");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  }
  // Without --endpoint, the keyring must name a lock.
  ASSERT_EQ(Init().code, 0);
  r = Mortise({"info"}, {"MORTISE_PASSPHRASE=long-enough-pw"});
  EXPECT_EQ(r.code, 1);
  EXPECT_HAS(r.err, "knows no lock yet");
}

}  // namespace
}  // namespace mortise::cli
