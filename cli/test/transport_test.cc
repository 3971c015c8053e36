#include "transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "error.h"
#include "test_util.h"

namespace mortise::cli {
namespace {

using namespace std::chrono_literals;
using testing::Bytes;
using testing::CatchError;

using testing::Contains;

// How the test lock answers each frame.
enum class Behaviour { kEcho, kSilent, kHangUp };

// A one-connection server on a UNIX SOCK_SEQPACKET socket or on TCP
// loopback (port 0), in a thread. Echo answers each frame with its bytes
// reversed.
class TestServer {
 public:
  TestServer(Endpoint::Kind kind, Behaviour behaviour, const std::filesystem::path& socket_path = {})
      : kind_(kind), behaviour_(behaviour) {
    if (kind == Endpoint::Kind::kUnix) {
      listen_fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
      EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
      endpoint_ = "unix:" + socket_path.string();
    } else {
      listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = 0;
      EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
      socklen_t len = sizeof addr;
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      endpoint_ = "tcp:127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    }
    EXPECT_EQ(::listen(listen_fd_, 4), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestServer() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (const int fd = conn_fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  void Serve() {
    conn_fd_ = ::accept(listen_fd_, nullptr, nullptr);
    if (conn_fd_ < 0) return;
    for (;;) {
      Bytes frame;
      if (!ReadFrame(frame)) break;
      if (behaviour_ == Behaviour::kHangUp) break;
      if (behaviour_ == Behaviour::kSilent) continue;
      Bytes reply(frame.rbegin(), frame.rend());
      WriteFrame(reply);
    }
    ::close(conn_fd_.exchange(-1));
  }
  bool ReadFrame(Bytes& frame) {
    if (kind_ == Endpoint::Kind::kUnix) {
      frame.resize(70000);
      const ssize_t n = ::recv(conn_fd_, frame.data(), frame.size(), 0);
      if (n <= 0) return false;
      frame.resize(static_cast<size_t>(n));
      return true;
    }
    uint8_t len[2];
    if (!ReadAll(len, 2)) return false;
    frame.resize((size_t{len[0]} << 8) | len[1]);
    return ReadAll(frame.data(), frame.size());
  }
  bool ReadAll(uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t r = ::recv(conn_fd_, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  void WriteFrame(const Bytes& frame) {
    if (kind_ == Endpoint::Kind::kUnix) {
      ::send(conn_fd_, frame.data(), frame.size(), MSG_NOSIGNAL);
      return;
    }
    Bytes out{static_cast<uint8_t>(frame.size() >> 8), static_cast<uint8_t>(frame.size())};
    out.insert(out.end(), frame.begin(), frame.end());
    ::send(conn_fd_, out.data(), out.size(), MSG_NOSIGNAL);
  }

  Endpoint::Kind kind_;
  Behaviour behaviour_;
  int listen_fd_ = -1;
  std::atomic<int> conn_fd_{-1};
  std::atomic<bool> stop_{false};
  std::string endpoint_;
  std::thread thread_;
};

TEST(CliEndpointTest, ParsesEveryForm) {
  Endpoint e = Endpoint::Parse("unix:/run/mortise/lock.sock");
  EXPECT_EQ(e.kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(e.path, "/run/mortise/lock.sock");
  EXPECT_EQ(Endpoint::Parse("/tmp/l.sock").ToString(), "unix:/tmp/l.sock");
  EXPECT_EQ(Endpoint::Parse("./l.sock").path, "./l.sock");
  e = Endpoint::Parse("tcp:127.0.0.1:7420");
  EXPECT_EQ(e.kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 7420);
  EXPECT_EQ(e.ToString(), "tcp:127.0.0.1:7420");
  e = Endpoint::Parse("tcp:[::1]:9");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.ToString(), "tcp:[::1]:9");
  EXPECT_EQ(Endpoint::Parse("tcp:localhost:1").host, "localhost");
}

TEST(CliEndpointTest, RefusesMalformedEndpoints) {
  for (const char* bad : {"lock.sock", "unix:", "tcp:", "tcp:127.0.0.1", "tcp::80", "tcp:h:0", "tcp:h:65536",
                          "tcp:h:8x", "tcp:::1:80", "tcp:[::1]80", "tcp:[::1"}) {
    SCOPED_TRACE(bad);
    const Error e = CatchError([&] { Endpoint::Parse(bad); });
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_TRUE(Contains(e, "invalid endpoint"));
  }
  EXPECT_EQ(CatchError([] { Endpoint::Parse("/" + std::string(200, 'a')); }).code(), ExitCode::kBadInput);
}

TEST(CliTransportTest, ExchangesFramesOverSeqpacket) {
  testing::TempDir dir;
  TestServer server(Endpoint::Kind::kUnix, Behaviour::kEcho, dir / "lock.sock");
  Transport t = Transport::Connect(Endpoint::Parse(server.endpoint()), 2s);
  EXPECT_EQ(t.Exchange(Bytes{4}), Bytes{4});
  EXPECT_EQ(t.Exchange(Bytes{2, 9, 8}), (Bytes{8, 9, 2}));
  Bytes big(3000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(t.Exchange(big), Bytes(big.rbegin(), big.rend()));  // one packet, one frame
}

TEST(CliTransportTest, ExchangesLengthPrefixedFramesOverTcp) {
  TestServer server(Endpoint::Kind::kTcp, Behaviour::kEcho);
  Transport t = Transport::Connect(Endpoint::Parse(server.endpoint()), 2s);
  EXPECT_EQ(t.Exchange(Bytes{4}), Bytes{4});
  Bytes big(kMaxTransportFrame, 0x5A);
  big[0] = 1;
  EXPECT_EQ(t.Exchange(big), Bytes(big.rbegin(), big.rend()));
  EXPECT_EQ(CatchError([&] { t.Send(Bytes(kMaxTransportFrame + 1)); }).code(), ExitCode::kUsage);
  EXPECT_EQ(CatchError([&] { t.Send(Bytes{}); }).code(), ExitCode::kUsage);
}

TEST(CliTransportTest, SilentLockTimesOut) {
  for (Endpoint::Kind kind : {Endpoint::Kind::kUnix, Endpoint::Kind::kTcp}) {
    testing::TempDir dir;
    TestServer server(kind, Behaviour::kSilent, dir / "lock.sock");
    Transport t = Transport::Connect(Endpoint::Parse(server.endpoint()), 200ms);
    const auto start = std::chrono::steady_clock::now();
    const Error e = CatchError([&] { t.Exchange(Bytes{4}); });
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(e.code(), ExitCode::kUnreachable);
    EXPECT_TRUE(Contains(e, "timed out")) << e.what();
    EXPECT_GE(took, 180ms);
    EXPECT_LT(took, 3s);
  }
}

TEST(CliTransportTest, LockThatHangsUpIsReported) {
  for (Endpoint::Kind kind : {Endpoint::Kind::kUnix, Endpoint::Kind::kTcp}) {
    testing::TempDir dir;
    TestServer server(kind, Behaviour::kHangUp, dir / "lock.sock");
    Transport t = Transport::Connect(Endpoint::Parse(server.endpoint()), 2s);
    const Error e = CatchError([&] { t.Exchange(Bytes{4}); });
    EXPECT_EQ(e.code(), ExitCode::kUnreachable);
    EXPECT_TRUE(Contains(e, "closed the link")) << e.what();
  }
}

TEST(CliTransportTest, MissingSocketAndRefusedConnectionsAreNamed) {
  testing::TempDir dir;
  Error e = CatchError([&] { Transport::Connect(Endpoint::Parse((dir / "none.sock").string()), 1s); });
  EXPECT_EQ(e.code(), ExitCode::kUnreachable);
  EXPECT_TRUE(Contains(e, "no such socket")) << e.what();

  // A socket file nobody listens on any more.
  {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = (dir / "stale.sock").string();
    std::strncpy(addr.sun_path, p.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    e = CatchError([&] { Transport::Connect(Endpoint::Parse(p), 1s); });
    EXPECT_EQ(e.code(), ExitCode::kUnreachable);
    EXPECT_TRUE(Contains(e, "connection refused")) << e.what();
  }
  // A TCP port nobody listens on.
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    e = CatchError([&] { Transport::Connect(Endpoint::Parse("tcp:127.0.0.1:" + std::to_string(ntohs(addr.sin_port))), 1s); });
    EXPECT_EQ(e.code(), ExitCode::kUnreachable);
    EXPECT_TRUE(Contains(e, "connection refused")) << e.what();
  }
  // A stream socket where a seqpacket one is expected.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = (dir / "stream.sock").string();
    std::strncpy(addr.sun_path, p.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    e = CatchError([&] { Transport::Connect(Endpoint::Parse(p), 1s); });
    EXPECT_EQ(e.code(), ExitCode::kUnreachable);
    EXPECT_TRUE(Contains(e, "not a SOCK_SEQPACKET")) << e.what();
    ::close(fd);
  }
}

TEST(CliTransportTest, AdoptsASocketpair) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
  Transport t(fds[0], Endpoint::Kind::kUnix, 1s);
  std::thread peer([fd = fds[1]] {
    uint8_t buf[16];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    const uint8_t reply[] = {4, static_cast<uint8_t>(n)};
    ::send(fd, reply, sizeof reply, 0);
  });
  EXPECT_EQ(t.Exchange(Bytes{4, 0, 0}), (Bytes{4, 3}));
  peer.join();
  ::close(fds[1]);
}

}  // namespace
}  // namespace mortise::cli
