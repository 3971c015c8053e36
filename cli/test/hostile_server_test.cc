// The CLI against a hostile mortise-server (docs/threat-model.md A09): a
// loopback HTTP server in this process answers each request as a test
// scripts it, and the `mortise` binary (or the CLI's reading code) must end
// with a clear verification error (exit 6), never loop, store what it did
// not verify, or call the server's garbage an internal error.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "error.h"
#include "key_string.h"
#include "keyring.h"
#include "mortise/protocol/revalidation.h"
#include "revalidation_check.h"
#include "server_client.h"
#include "stored_log.h"
#include "test_util.h"

namespace mortise::cli {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct Answer {
  int status = 200;
  std::string body;
};
using Handler = std::function<Answer(const std::string& method, const std::string& path)>;

// Loopback TCP on port 0: every connection gets one answer from `handler`,
// then is closed (the CLI sends Connection: close). Counts the requests.
class FakeServer {
 public:
  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> l(mu_);
    return paths_;
  }
  int Count(const std::string& fragment) {
    int n = 0;
    for (const std::string& p : paths()) n += p.find(fragment) != std::string::npos;
    return n;
  }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[8192];
      size_t head_end = std::string::npos;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      if (head_end != std::string::npos) {
        // The body (Content-Length), read so the client's send completes.
        size_t want = 0;
        const size_t cl = in.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) want = std::stoul(in.substr(cl + 16));
        while (in.size() < head_end + 4 + want) {
          const ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
        }
        const size_t sp1 = in.find(' '), sp2 = in.find(' ', sp1 + 1);
        const std::string method = in.substr(0, sp1), path = in.substr(sp1 + 1, sp2 - sp1 - 1);
        {
          std::lock_guard<std::mutex> l(mu_);
          paths_.push_back(method + " " + path);
        }
        ++requests_;
        const Answer a = handler_(method, path);
        const std::string out = "HTTP/1.1 " + std::to_string(a.status) +
                                " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(a.body.size()) + "\r\nConnection: close\r\n\r\n" + a.body;
        (void)::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }

  Handler handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<std::string> paths_;
  std::thread thread_;
};

bool Has(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// --- Typed reads of server answers ------------------------------------------

TEST(HostileServerTest, A09_AFieldOfTheWrongTypeIsAMalformedAnswerNotAnInternalError) {
  const json answer = {{"lock_id", 5}, {"items", "x"}, {"state", json::array()}, {"token", {{"a", 1}}}};
  for (const auto& read : std::vector<std::function<void()>>{
           [&] { AnswerString(answer, "lock_id"); }, [&] { AnswerArray(answer, "items"); },
           [&] { AnswerObject(answer, "state"); }, [&] { AnswerString(answer, "token"); },
           [&] { AnswerOptionalString(answer, "lock_id"); }, [] { AnswerString(json::array(), "x"); }}) {
    try {
      read();
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kVerification);
      EXPECT_TRUE(Has(e.what(), "the server's answer is malformed")) << e.what();
    }
  }
  // Absent or null: the fallback.
  const json empty = {{"next_cursor", nullptr}};
  EXPECT_EQ(AnswerString(empty, "token", "none"), "none");
  EXPECT_FALSE(AnswerOptionalString(empty, "next_cursor"));
  EXPECT_TRUE(AnswerArray(empty, "items").empty());
}

TEST(HostileServerTest, OnlyPlainCursorsAreCursors) {
  EXPECT_TRUE(IsCursor("17"));
  EXPECT_TRUE(IsCursor("page_2.a-b"));
  EXPECT_FALSE(IsCursor(""));
  EXPECT_FALSE(IsCursor("1 HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /"));
  EXPECT_FALSE(IsCursor("1&limit=100000"));
  EXPECT_FALSE(IsCursor(std::string(kMaxCursorLength + 1, '1')));
}

// --- Reading a door's stored log pages ---------------------------------------

const std::string kLockHex = std::string(32, 'a');

size_t Fetch(FakeServer& s, std::vector<StoredLogPage>& got, const StoredLogFetchLimits& limits = {}) {
  return FetchStoredLogPages(ServerClient(s.url(), 5s), "/d/log/pages", {}, kLockHex, "front", "the log",
                             [&](const StoredLogPage& p) { got.push_back(p); }, limits);
}

ExitCode FetchFails(FakeServer& s, std::string* what = nullptr, const StoredLogFetchLimits& limits = {}) {
  std::vector<StoredLogPage> got;
  try {
    Fetch(s, got, limits);
  } catch (const Error& e) {
    if (what != nullptr) *what = e.what();
    return e.code();
  }
  return ExitCode::kOk;
}

TEST(HostileServerTest, AnHonestServersPagesAreReadInOrderUntilItsListEnds) {
  FakeServer s([](const std::string&, const std::string& path) {
    const bool first = !Has(path, "cursor=");
    json items = json::array();
    for (int i = first ? 1 : 21; i <= (first ? 20 : 23); ++i) items.push_back({{"page", i}, {"items", "00"}});
    return Answer{200, json{{"lock_id", kLockHex}, {"items", items},
                            {"next_cursor", first ? json("20") : json(nullptr)}}.dump()};
  });
  std::vector<StoredLogPage> got;
  EXPECT_EQ(Fetch(s, got), 23u);
  EXPECT_EQ(s.requests(), 2);
  ASSERT_EQ(got.size(), 23u);
  EXPECT_EQ(got.front().name, "page 1");
  EXPECT_EQ(got.back().name, "page 23");
  EXPECT_TRUE(Has(s.paths().back(), "limit=20&cursor=20"));
}

// Finding A09-2: {"items": [], "next_cursor": "c<N>"} with a new N each time
// kept the CLI asking forever (41,919 requests in 20 s).
TEST(HostileServerTest, A09_EmptyPagesWithEverNewCursorsEndAtTheFirstAnswer) {
  std::atomic<int> n{0};
  FakeServer s([&](const std::string&, const std::string&) {
    // Without the bound the reader never stops: a 500 after 100 makes that
    // a failure of this test rather than a hang.
    if (n >= 100) return Answer{500, "{}"};
    return Answer{200, json{{"lock_id", kLockHex}, {"items", json::array()}, {"next_cursor", "c" + std::to_string(n++)}}.dump()};
  });
  std::string what;
  EXPECT_EQ(FetchFails(s, &what), ExitCode::kVerification);
  EXPECT_TRUE(Has(what, "do not advance")) << what;
  EXPECT_EQ(s.requests(), 1);
}

TEST(HostileServerTest, A09_AServerThatNeverEndsItsListMeetsThePageBound) {
  std::atomic<int> n{0};
  FakeServer s([&](const std::string&, const std::string&) {
    const int i = n++;
    return Answer{200, json{{"lock_id", kLockHex}, {"items", json::array({{{"page", i}, {"items", "00"}}})},
                            {"next_cursor", std::to_string(i)}}.dump()};
  });
  StoredLogFetchLimits limits;
  limits.page_size = 1;
  limits.max_pages = 5;
  std::string what;
  EXPECT_EQ(FetchFails(s, &what, limits), ExitCode::kVerification);
  EXPECT_TRUE(Has(what, "go on past 5 pages")) << what;
  EXPECT_EQ(s.requests(), 6);  // max_pages + 1 at most
}

TEST(HostileServerTest, A09_AServerThatPadsItsAnswersMeetsTheByteBound) {
  FakeServer s([&](const std::string&, const std::string& path) {
    const bool first = !Has(path, "cursor=");
    return Answer{200, json{{"lock_id", kLockHex}, {"items", json::array({{{"page", 1}, {"items", std::string(600, '0')}}})},
                            {"next_cursor", first ? "1" : "2"}}.dump()};
  });
  StoredLogFetchLimits limits;
  limits.page_size = 1;
  limits.max_bytes = 1000;
  EXPECT_EQ(FetchFails(s, nullptr, limits), ExitCode::kVerification);
  EXPECT_EQ(s.requests(), 2);
}

TEST(HostileServerTest, A09_MorePagesThanAskedForACursorThatIsNotOneOrARepeatedCursorAreRefused) {
  {
    FakeServer s([](const std::string&, const std::string&) {
      json items = json::array();
      for (int i = 0; i < 200; ++i) items.push_back({{"page", i}, {"items", ""}});
      return Answer{200, json{{"lock_id", kLockHex}, {"items", items}, {"next_cursor", nullptr}}.dump()};
    });
    EXPECT_EQ(FetchFails(s), ExitCode::kVerification);
  }
  {
    FakeServer s([](const std::string&, const std::string&) {
      return Answer{200, json{{"lock_id", kLockHex}, {"items", json::array({{{"page", 1}, {"items", ""}}})},
                              {"next_cursor", "1 HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /"}}.dump()};
    });
    std::string what;
    EXPECT_EQ(FetchFails(s, &what), ExitCode::kVerification);
    EXPECT_TRUE(Has(what, "malformed")) << what;
    EXPECT_EQ(s.requests(), 1);
  }
  {
    // A next cursor after fewer pages than asked for: no progress.
    FakeServer s([](const std::string&, const std::string&) {
      return Answer{200, json{{"lock_id", kLockHex}, {"items", json::array({{{"page", 1}, {"items", ""}}})},
                              {"next_cursor", "7"}}.dump()};
    });
    std::string what;
    EXPECT_EQ(FetchFails(s, &what), ExitCode::kVerification);
    EXPECT_TRUE(Has(what, "do not advance")) << what;
    EXPECT_EQ(s.requests(), 1);
  }
  {
    // Full answers whose cursors go round in a circle ("1", "2", "1").
    std::atomic<int> n{0};
    FakeServer s([&](const std::string&, const std::string&) {
      json items = json::array();
      for (int i = 0; i < 20; ++i) items.push_back({{"page", i}, {"items", ""}});
      return Answer{200, json{{"lock_id", kLockHex}, {"items", items}, {"next_cursor", std::to_string(1 + n++ % 2)}}.dump()};
    });
    std::string what;
    EXPECT_EQ(FetchFails(s, &what), ExitCode::kVerification);
    EXPECT_TRUE(Has(what, "a cursor it gave before")) << what;
    EXPECT_EQ(s.requests(), 3);
  }
}

// The paged lists (organisations, doors, groups, sites) follow the same
// rules as the log's pages: no more items than asked for, a next cursor only
// after a full page, never one given before, and a bound on the pages.
std::vector<json> List(FakeServer& s, int max_pages = 1000) {
  ServerSession session;
  session.url = s.url();
  return AllPages(session.Client(5s), session, "/api/v1/orgs", "listing your organisations", max_pages);
}

ExitCode ListFails(FakeServer& s, std::string* what = nullptr, int max_pages = 1000) {
  try {
    List(s, max_pages);
  } catch (const Error& e) {
    if (what != nullptr) *what = e.what();
    return e.code();
  }
  return ExitCode::kOk;
}

json Items(int n) {
  json items = json::array();
  for (int i = 0; i < n; ++i) items.push_back({{"id", "o" + std::to_string(i)}});
  return items;
}

TEST(HostileServerTest, AnHonestServersListIsReadToItsEnd) {
  FakeServer s([](const std::string&, const std::string& path) {
    if (!Has(path, "cursor=")) return Answer{200, json{{"items", Items(kListPageSize)}, {"next_cursor", "p1"}}.dump()};
    if (Has(path, "cursor=p1")) return Answer{200, json{{"items", Items(kListPageSize)}, {"next_cursor", "p2"}}.dump()};
    return Answer{200, json{{"items", Items(3)}, {"next_cursor", nullptr}}.dump()};
  });
  EXPECT_EQ(List(s).size(), 2u * kListPageSize + 3);
  EXPECT_EQ(s.requests(), 3);
}

TEST(HostileServerTest, A09_AListThatDoesNotAdvanceGoesInACircleOrNeverEndsIsRefused) {
  {  // empty pages with ever new cursors: refused at the first answer
    std::atomic<int> n{0};
    FakeServer s([&](const std::string&, const std::string&) {
      if (n >= 100) return Answer{500, "{}"};
      return Answer{200, json{{"items", json::array()}, {"next_cursor", "c" + std::to_string(n++)}}.dump()};
    });
    std::string what;
    EXPECT_EQ(ListFails(s, &what), ExitCode::kVerification);
    EXPECT_TRUE(Has(what, "not full")) << what;
    EXPECT_EQ(s.requests(), 1);
  }
  {  // more items than asked for
    FakeServer s([](const std::string&, const std::string&) {
      return Answer{200, json{{"items", Items(kListPageSize + 1)}, {"next_cursor", nullptr}}.dump()};
    });
    std::string what;
    EXPECT_EQ(ListFails(s, &what), ExitCode::kVerification);
    EXPECT_TRUE(Has(what, "more than")) << what;
  }
  {  // full pages in a circle
    FakeServer s([](const std::string&, const std::string&) {
      return Answer{200, json{{"items", Items(kListPageSize)}, {"next_cursor", "same"}}.dump()};
    });
    std::string what;
    EXPECT_EQ(ListFails(s, &what), ExitCode::kVerification);
    EXPECT_TRUE(Has(what, "given before")) << what;
    EXPECT_EQ(s.requests(), 2);
  }
  {  // full pages without end: the bound, never a silent cut
    std::atomic<int> n{0};
    FakeServer s([&](const std::string&, const std::string&) {
      return Answer{200, json{{"items", Items(kListPageSize)}, {"next_cursor", "c" + std::to_string(n++)}}.dump()};
    });
    std::string what;
    EXPECT_EQ(ListFails(s, &what, 3), ExitCode::kVerification);
    EXPECT_TRUE(Has(what, "past 3 pages")) << what;
    EXPECT_EQ(s.requests(), 3);
  }
}

TEST(HostileServerTest, A09_WrongTypesInTheLogPagesAreAMalformedAnswer) {
  for (const json& body : {json{{"lock_id", 5}, {"items", json::array()}, {"next_cursor", nullptr}},
                           json{{"lock_id", kLockHex}, {"items", "x"}, {"next_cursor", nullptr}},
                           json{{"lock_id", kLockHex}, {"items", json::array({1})}, {"next_cursor", nullptr}},
                           json{{"lock_id", kLockHex}, {"items", json::array({{{"items", 5}}})}, {"next_cursor", nullptr}},
                           json{{"lock_id", kLockHex}, {"items", json::array()}, {"next_cursor", 3}}}) {
    FakeServer s([&](const std::string&, const std::string&) { return Answer{200, body.dump()}; });
    std::string what;
    EXPECT_EQ(FetchFails(s, &what), ExitCode::kVerification) << body;
    EXPECT_TRUE(Has(what, "malformed")) << what;
  }
  FakeServer other([](const std::string&, const std::string&) {
    return Answer{200, json{{"lock_id", std::string(32, 'b')}, {"items", json::array()}, {"next_cursor", nullptr}}.dump()};
  });
  std::string what;
  EXPECT_EQ(FetchFails(other, &what), ExitCode::kVerification);
  EXPECT_TRUE(Has(what, "of another lock")) << what;
}

// --- The `mortise` binary against the fake server ----------------------------

// 2026-01-01T00:00:00Z: the CLI's clock (MORTISE_NOW) in these tests.
constexpr int64_t kNow = 1'767'225'600;
constexpr uint32_t kMaxAge = 3600;

class HostileServerCliTest : public ::testing::Test {
 protected:
  struct Run {
    int code = -1;
    std::string out, err;
  };

  // A keyring with one lock, `front`, registered as door_1 of org_1 on
  // `url`, and a signed-in session there. `guest`: this device holds a
  // guest key for it that demands a token every kMaxAge s; else it owns it.
  void MakeKeyring(const std::string& url, bool guest) {
    KeyringContent c;
    c.AddIdentity("me", fx.rng.drbg, 0);
    me_ = c.GetIdentity("me").KeyPair();
    LockEntry l;
    l.name = "front";
    l.lock_key = fx.lock.public_key().bytes();
    l.lock_id = fx.lock_id;
    l.endpoint = "unix:" + (dir / "nowhere.sock").string();
    l.identity = "me";
    if (guest) {
      protocol::CertificateFields f = testing::Fields(fx.lock_id, *me_, protocol::Role::kGuest,
                                                      protocol::kPermLock | protocol::kPermUnlock, 1001);
      f.revalidation_max_age = kMaxAge;
      l.role = protocol::Role::kGuest;
      l.chain = testing::Chain(testing::Issue(f, fx.owner, fx.rng.drbg));
    } else {
      l.role = protocol::Role::kOwner;
    }
    l.extra["server"] = {{"url", url}, {"org", "org_1"}, {"door", "door_1"}};
    c.AddLock(l);
    Keyring::Create(dir / "keyring", "long-enough-pw", KdfParams::Fast(), std::move(c));
    SaveServerSession(ServerSessionPath(dir / "keyring"), ServerSession{url, "me@example.org", "t", "c", ""});
  }

  LockEntry Lock() {
    Keyring k = Keyring::Open(dir / "keyring", "long-enough-pw", Keyring::Access::kRead);
    return k.content().SelectLock("front");
  }

  // A token for this device's key, issued at `issued_at`, signed by `signer`
  // (the owner when no signer chain).
  std::string Token(int64_t issued_at, const crypto::P256KeyPair& signer, const testing::Bytes& signer_cert = {},
                    bool break_signature = false) {
    const LockEntry l = Lock();
    Result<protocol::RevalidationFields> f = protocol::RevalidationFieldsFor(l.chain, static_cast<uint64_t>(issued_at));
    EXPECT_TRUE(f.ok());
    std::vector<uint8_t> out(protocol::kMaxRevalidationTokenSize);
    const Result<size_t> n = protocol::IssueRevalidationToken(*f, signer, signer_cert, fx.rng.drbg, out);
    EXPECT_TRUE(n.ok());
    out.resize(*n);
    if (break_signature) out[out.size() - 10] ^= 0x55;
    return EncodeRevalidationString(out);
  }

  testing::Bytes DutyCert(const crypto::P256KeyPair& duty, const crypto::P256KeyPair& issuer) {
    protocol::CertificateFields f =
        testing::Fields(fx.lock_id, duty, protocol::Role::kAdmin, protocol::kPermRevalidate, 3001);
    return testing::Issue(f, issuer, fx.rng.drbg);
  }

  Run Mortise(std::vector<std::string> args) {
    std::vector<std::string> env = {"HOME=" + dir.path().string(), "PATH=/usr/bin:/bin", "MORTISE_KEYRING_KDF=fast",
                                    "MORTISE_KEYRING=" + (dir / "keyring").string(),
                                    "MORTISE_PASSPHRASE=long-enough-pw", "MORTISE_NOW=2026-01-01T00:00:00Z"};
    const std::filesystem::path out = dir / "stdout", err = dir / "stderr";
    args.insert(args.begin(), {MORTISE_CLI_BINARY, "--json", "--timeout", "5"});
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();
      ::dup2(::open("/dev/null", O_RDONLY), 0);
      ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
      ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
      std::vector<char*> argv, envp;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    Run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const auto slurp = [](const std::filesystem::path& p) {
      std::ifstream in(p);
      std::stringstream s;
      s << in.rdbuf();
      return s.str();
    };
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  // Answers the door record (with `owner_key`), a revalidation token
  // request (with `token_answer`) and a remote command (lock offline).
  Handler DoorServer(const crypto::P256PublicKey& owner_key, std::function<json()> token_answer) {
    return [owner_key, token_answer](const std::string& method, const std::string& path) {
      if (method == "GET" && path == "/api/v1/orgs/org_1/doors/door_1")
        return Answer{200, json{{"door", {{"id", "door_1"}, {"owner_public_key", ToHex(owner_key.bytes())}}}}.dump()};
      if (path.ends_with("/revalidation")) return Answer{200, token_answer().dump()};
      return Answer{503, json{{"error", {{"code", "lock_offline"}, {"message", "offline"}}}}.dump()};
    };
  }

  testing::TempDir dir;
  testing::Fixture fx;
  std::optional<crypto::P256KeyPair> me_;
};

// Finding A09-6: a server that sends no page at all made `log --server`
// say "verified" (exit 0) though nothing vouched for the log.
TEST_F(HostileServerCliTest, A09_LogFromAServerWithNoPageVerifiesNothing) {
  FakeServer s([&](const std::string&, const std::string&) {
    return Answer{200, json{{"lock_id", ToHex(fx.lock_id)}, {"items", json::array()}, {"next_cursor", nullptr}}.dump()};
  });
  MakeKeyring(s.url(), /*guest=*/false);
  const Run r = Mortise({"log", "--server"});
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "nothing was verified")) << r.err;
  const json out = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.out;
  EXPECT_EQ(out["verified"], false) << r.out;
}

TEST_F(HostileServerCliTest, A09_LogFromAServerWithEndlessEmptyPagesStopsWithExitSix) {
  std::atomic<int> n{0};
  FakeServer s([&](const std::string&, const std::string&) {
    if (n >= 100) return Answer{500, "{}"};  // a failure, not a hang, without the bound
    return Answer{200, json{{"lock_id", ToHex(fx.lock_id)}, {"items", json::array()}, {"next_cursor", "c" + std::to_string(n++)}}.dump()};
  });
  MakeKeyring(s.url(), /*guest=*/false);
  const Run r = Mortise({"log", "--server"});
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_EQ(s.requests(), 1);
}

// Finding A09-5: wrong JSON types were "internal error ... please report".
TEST_F(HostileServerCliTest, A09_WrongTypesInServerAnswersExitSixNotSeven) {
  {
    FakeServer s([&](const std::string&, const std::string&) {
      return Answer{200, json{{"lock_id", 5}, {"items", json::array()}, {"next_cursor", nullptr}}.dump()};
    });
    MakeKeyring(s.url(), /*guest=*/false);
    const Run r = Mortise({"log", "--server"});
    EXPECT_EQ(r.code, 6) << r.err;
    EXPECT_TRUE(Has(r.err, "malformed")) << r.err;
  }
  std::filesystem::remove_all(dir / "keyring");
  std::filesystem::remove_all(ServerSessionPath(dir / "keyring"));
  {
    FakeServer s([&](const std::string&, const std::string&) {
      return Answer{200, json{{"verdict", "confirmed"}, {"result", {{"a", 1}}}}.dump()};
    });
    MakeKeyring(s.url(), /*guest=*/false);
    const Run r = Mortise({"unlock", "--via-server"});
    EXPECT_EQ(r.code, 6) << r.err;
    EXPECT_TRUE(Has(r.err, "malformed")) << r.err;
  }
  std::filesystem::remove_all(dir / "keyring");
  std::filesystem::remove_all(ServerSessionPath(dir / "keyring"));
  {
    json token = 5;
    FakeServer s(DoorServer(fx.owner.public_key(), [&] { return json{{"token", token}}; }));
    MakeKeyring(s.url(), /*guest=*/true);
    for (const json& t : {json(5), json{{"a", 1}}}) {
      token = t;
      const Run r = Mortise({"key", "token", "--from-server"});
      EXPECT_EQ(r.code, 6) << t << r.err;
      EXPECT_TRUE(Has(r.err, "malformed")) << r.err;
    }
  }
}

// The last resort: a reader that does not use the typed accessors (here
// `server orgs` reading an organisation's name) meets a wrong type.
TEST_F(HostileServerCliTest, A09_AWrongTypeMetByAnyReaderIsAMalformedAnswer) {
  FakeServer s([](const std::string&, const std::string&) {
    return Answer{200, json{{"items", json::array({{{"id", "org_1"}, {"name", 5}}})}, {"next_cursor", nullptr}}.dump()};
  });
  MakeKeyring(s.url(), /*guest=*/false);
  const Run r = Mortise({"server", "orgs"});
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "the server's answer is malformed")) << r.err;
}

// Finding A09-4: a token with a broken signature, or one long expired, was
// stored with exit 0.
TEST_F(HostileServerCliTest, A09_ATokenTheLockWouldRefuseIsNotStored) {
  std::string token;
  FakeServer s(DoorServer(fx.owner.public_key(), [&] { return json{{"token", token}}; }));
  MakeKeyring(s.url(), /*guest=*/true);
  const crypto::P256KeyPair duty = testing::NewKey(fx.rng.drbg);
  const crypto::P256KeyPair stranger = testing::NewKey(fx.rng.drbg);
  struct Case {
    const char* name;
    std::string token;
    const char* says;
  };
  const std::vector<Case> bad = {
      {"broken signature", Token(kNow - 60, fx.owner, {}, /*break_signature=*/true), "signature does not verify"},
      {"issued in 2020", Token(1'577'836'800, fx.owner), "expired at 2020-01-01"},
      {"expired a second ago", Token(kNow - kMaxAge - 1, fx.owner), "expired"},
      {"from the future", Token(kNow + protocol::kRevalidationMaxSkewS + 1, fx.owner), "ahead of this device's clock"},
      {"signed by a stranger", Token(kNow - 60, stranger), "signature does not verify"},
      {"a duty key the owner never certified", Token(kNow - 60, duty, DutyCert(duty, stranger)),
       "signature does not verify"},
  };
  for (const Case& c : bad) {
    token = c.token;
    const Run r = Mortise({"key", "token", "--from-server"});
    EXPECT_EQ(r.code, 6) << c.name << ": " << r.err;
    EXPECT_TRUE(Has(r.err, c.says)) << c.name << ": " << r.err;
    EXPECT_FALSE(Lock().extra.contains("revalidation_token")) << c.name;
  }
  // The server's own kind of token (its duty key, certified by the owner)
  // and the owner's own: stored, and the owner key is pinned for later.
  for (const std::string& good : {Token(kNow - 60, duty, DutyCert(duty, fx.owner)), Token(kNow, fx.owner)}) {
    token = good;
    const Run r = Mortise({"key", "token", "--from-server"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(Lock().extra.value("revalidation_token", ""), ToHex(ParseRevalidationString(good)));
  }
  EXPECT_EQ(Lock().extra.value("owner_key", ""), ToHex(fx.owner.public_key().bytes()));
}

TEST_F(HostileServerCliTest, A09_AnOwnerKeyThatDidNotSignTheHoldersKeyIsNotBelieved) {
  const crypto::P256KeyPair liar = testing::NewKey(fx.rng.drbg);
  std::string token;
  FakeServer s(DoorServer(liar.public_key(), [&] { return json{{"token", token}}; }));
  MakeKeyring(s.url(), /*guest=*/true);
  token = Token(kNow, liar);  // signed by the key the server names
  const Run r = Mortise({"key", "token", "--from-server"});
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "did not sign your key")) << r.err;
  EXPECT_FALSE(Lock().extra.contains("revalidation_token"));
  EXPECT_FALSE(Lock().extra.contains("owner_key"));
}

// The refresh before a command kept any stored token that decoded and
// looked fresh: a bad one blocked the key for most of its life.
TEST_F(HostileServerCliTest, A09_TheRefreshBeforeACommandReplacesAStoredTokenThatDoesNotVerify) {
  std::string token;
  FakeServer s(DoorServer(fx.owner.public_key(), [&] { return json{{"token", token}}; }));
  MakeKeyring(s.url(), /*guest=*/true);
  token = Token(kNow - 60, fx.owner);
  ASSERT_EQ(Mortise({"key", "token", "--from-server"}).code, 0);
  ASSERT_EQ(s.Count("/revalidation"), 1);
  // A fresh, verified token is kept: no new request.
  const Run first = Mortise({"unlock", "--via-server"});
  EXPECT_EQ(first.code, 4) << first.err;
  EXPECT_EQ(s.Count("/revalidation"), 1);
  // A stored token that decodes and looks fresh but whose signature is
  // broken (as `mortise key token MKR1...` would store it) is replaced.
  {
    const std::string broken = Token(kNow - 60, fx.owner, {}, /*break_signature=*/true);
    Keyring k = Keyring::Open(dir / "keyring", "long-enough-pw", Keyring::Access::kUpdate);
    k.content().SelectLock("front").extra["revalidation_token"] = ToHex(ParseRevalidationString(broken));
    k.Save();
  }
  token = Token(kNow - 30, fx.owner);
  const Run r = Mortise({"unlock", "--via-server"});
  EXPECT_EQ(s.Count("/revalidation"), 2) << r.err;
  EXPECT_TRUE(Has(r.err, "fetched a fresh revalidation token")) << r.err;
  EXPECT_EQ(Lock().extra.value("revalidation_token", ""), ToHex(ParseRevalidationString(token)));
}

}  // namespace
}  // namespace mortise::cli
