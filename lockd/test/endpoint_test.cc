// The transports: whole frames per packet, length-prefixed frames on TCP,
// JSON lines; several clients; oversized input closes only its client.
#include "endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "socket_util.h"

namespace mortise::lockd {
namespace {

class lockdEndpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lockd-ep-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int ConnectUnix(const std::string& path, int type) {
    const int fd = socket(AF_UNIX, type, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << path;
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  // Runs the loop until `done` or 2 s.
  template <typename F>
  void Pump(F done) {
    for (int i = 0; i < 400 && !done(); ++i) loop_.RunOnce(5);
  }
  // Sends, pumps the loop on this thread while a helper thread waits for the
  // answer (the client blocks; the server must run meanwhile).
  std::string Exchange(int fd, const std::string& request, int type) {
    std::string reply;
    std::atomic<bool> got{false};
    std::thread t([&] {
      char buf[8192];
      ssize_t n = type == SOCK_SEQPACKET ? recv(fd, buf, sizeof(buf), 0) : 0;
      if (type != SOCK_SEQPACKET) {
        // Stream: read until the expected end (newline or the length).
        std::string acc;
        for (;;) {
          ssize_t k = recv(fd, buf, sizeof(buf), 0);
          if (k <= 0) break;
          acc.append(buf, static_cast<size_t>(k));
          if (!acc.empty() && acc.back() == '\n') break;
          if (acc.size() >= 2 &&
              acc.size() == 2 + static_cast<size_t>(static_cast<uint8_t>(acc[0]) << 8 | static_cast<uint8_t>(acc[1])))
            break;
        }
        reply = acc;
      } else if (n > 0) {
        reply.assign(buf, static_cast<size_t>(n));
      }
      got = true;
    });
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    Pump([&] { return got.load(); });
    t.join();
    return reply;
  }

  std::filesystem::path dir_;
  Loop loop_;
};

std::vector<uint8_t> Echo(std::span<const uint8_t> f) {
  std::vector<uint8_t> r(f.begin(), f.end());
  r.insert(r.begin(), 0xEE);
  return r;
}

TEST_F(lockdEndpoints, SeqpacketAnswersEachPacketAndRefusesOversize) {
  std::string why;
  const std::string path = (dir_ / "lock.sock").string();
  auto ep = SeqpacketEndpoint::Listen(loop_, path, 0660, 16, Echo, why);
  ASSERT_TRUE(ep) << why;
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  const int a = ConnectUnix(path, SOCK_SEQPACKET);
  const int b = ConnectUnix(path, SOCK_SEQPACKET);
  EXPECT_EQ(Exchange(a, "\x04", SOCK_SEQPACKET), "\xEE\x04");
  EXPECT_EQ(Exchange(b, "hello", SOCK_SEQPACKET), "\xEEhello");
  EXPECT_EQ(ep->clients(), 2u);
  // 17 bytes: over the limit, that client is closed; the other one lives.
  EXPECT_EQ(Exchange(a, std::string(17, 'x'), SOCK_SEQPACKET), "");
  EXPECT_EQ(ep->clients(), 1u);
  EXPECT_EQ(Exchange(b, std::string(16, 'y'), SOCK_SEQPACKET), "\xEE" + std::string(16, 'y'));
  close(a);
  close(b);
  ep->Close();
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file is removed at close";
}

TEST_F(lockdEndpoints, LinesOneAnswerPerLine) {
  std::string why;
  const std::string path = (dir_ / "sim.sock").string();
  auto ep = LineEndpoint::Listen(
      loop_, path, 0600, 32, [](std::string_view l) { return "got " + std::string(l); }, why);
  ASSERT_TRUE(ep) << why;
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const int a = ConnectUnix(path, SOCK_STREAM);
  EXPECT_EQ(Exchange(a, "one\n", SOCK_STREAM), "got one\n");
  EXPECT_EQ(Exchange(a, "two\r\n", SOCK_STREAM), "got two\n");
  EXPECT_EQ(Exchange(a, std::string(40, 'z'), SOCK_STREAM), "{\"ok\":false,\"error\":\"request line too long\"}\n");
  Pump([&] { return ep->clients() == 0; });
  EXPECT_EQ(ep->clients(), 0u);
  close(a);
}

TEST_F(lockdEndpoints, TcpFramesWithALengthPrefix) {
  std::string why;
  auto ep = TcpEndpoint::Listen(loop_, "127.0.0.1", 0, 16, Echo, why);
  ASSERT_TRUE(ep) << why;
  ASSERT_NE(ep->port(), 0);
  const int fd = test::ConnectTcp(ep->port());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Exchange(fd, std::string("\x00\x03" "abc", 5), SOCK_STREAM), std::string("\x00\x04\xEE" "abc", 6));
  // A declared length over the limit closes the client.
  EXPECT_EQ(Exchange(fd, std::string("\x00\x11", 2), SOCK_STREAM), "");
  close(fd);
}

TEST_F(lockdEndpoints, StaleSocketIsReplacedAndLiveOneOrFileIsNot) {
  std::string why;
  const std::string path = (dir_ / "x.sock").string();
  {
    // A socket file nobody listens on (a daemon killed with -9).
    const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(fd);
  }
  auto ep = SeqpacketEndpoint::Listen(loop_, path, 0660, 16, Echo, why);
  ASSERT_TRUE(ep) << why;
  auto second = SeqpacketEndpoint::Listen(loop_, path, 0660, 16, Echo, why);
  EXPECT_FALSE(second);
  EXPECT_NE(why.find("listening"), std::string::npos) << why;
  ep->Close();

  const std::string file = (dir_ / "file").string();
  std::ofstream(file) << "x";
  EXPECT_FALSE(SeqpacketEndpoint::Listen(loop_, file, 0660, 16, Echo, why));
  EXPECT_NE(why.find("not a socket"), std::string::npos) << why;
  EXPECT_TRUE(std::filesystem::exists(file));
}

// --- A18 at the transport: idle, slow and crowding clients ----------------

class lockdEndpointLimits : public lockdEndpoints {
 protected:
  int ConnectTcp(uint16_t port) {
    const int fd = test::ConnectTcp(port);
    EXPECT_GE(fd, 0);
    return fd;
  }
  // A SOCK_SEQPACKET endpoint (16-byte frames, Echo) under limits_ and clock_.
  std::unique_ptr<SeqpacketEndpoint> ListenLimited(const std::string& path) {
    std::string why;
    auto ep = SeqpacketEndpoint::Listen(loop_, path, 0660, 16, Echo, why);
    EXPECT_TRUE(ep) << why;
    if (ep) ep->set_limits(limits_, clock_);
    return ep;
  }
  // True when the server closed `fd` (a read sees the end, not a timeout).
  static bool ClosedByServer(int fd) {
    char c;
    return recv(fd, &c, 1, 0) == 0;
  }
  uint64_t now_ = 1000;
  NowFn clock_ = [this] { return now_; };
  ConnectionLimits limits_{/*idle_ms=*/1000, /*partial_ms=*/500, /*per_peer=*/24};
};

TEST_F(lockdEndpointLimits, A18_AClientThatCompletesNoFrameIsDroppedAfterTheIdleTime) {
  const std::string path = (dir_ / "lock.sock").string();
  auto ep = ListenLimited(path);
  ASSERT_TRUE(ep);
  const int idle = ConnectUnix(path, SOCK_SEQPACKET);
  const int busy = ConnectUnix(path, SOCK_SEQPACKET);
  Pump([&] { return ep->clients() == 2; });
  now_ += 600;
  EXPECT_EQ(Exchange(busy, "\x04", SOCK_SEQPACKET), "\xEE\x04");  // its idle time starts again
  now_ += 399;
  ep->Sweep();
  EXPECT_EQ(ep->clients(), 2u) << "999 ms without a frame is not yet idle";
  now_ += 1;
  ep->Sweep();
  EXPECT_EQ(ep->clients(), 1u);
  EXPECT_TRUE(ClosedByServer(idle));
  now_ += 600;
  ep->Sweep();
  EXPECT_EQ(ep->clients(), 0u);
  EXPECT_TRUE(ClosedByServer(busy));
  close(idle);
  close(busy);
}

TEST_F(lockdEndpointLimits, A18_AFrameSentAByteAtATimeIsDroppedAfterThePartialTime) {
  std::string why;
  auto ep = TcpEndpoint::Listen(loop_, "127.0.0.1", 0, 16, Echo, why);
  ASSERT_TRUE(ep) << why;
  ep->set_limits(limits_, clock_);
  const int slow = ConnectTcp(ep->port());
  const int quick = ConnectTcp(ep->port());
  Pump([&] { return ep->clients() == 2; });
  // A byte every 100 ms of a 5-byte frame: each byte is news, none completes it.
  const char frame[] = {0x00, 0x03, 'a', 'b'};
  for (char byte : frame) {
    ASSERT_EQ(send(slow, &byte, 1, MSG_NOSIGNAL), 1);
    loop_.RunOnce(2000);  // returns once it has read the byte
    now_ += 100;
    ep->Sweep();
  }
  EXPECT_EQ(ep->clients(), 2u);
  now_ += 100;  // 500 ms since its first byte
  ep->Sweep();
  EXPECT_EQ(ep->clients(), 1u);
  EXPECT_TRUE(ClosedByServer(slow));
  // A frame that arrives whole is answered and the client stays.
  EXPECT_EQ(Exchange(quick, std::string("\x00\x01z", 3), SOCK_STREAM), std::string("\x00\x02\xEEz", 4));
  EXPECT_EQ(ep->clients(), 1u);
  close(slow);
  close(quick);
}

TEST_F(lockdEndpointLimits, A18_AFullEndpointLetsTheNextClientInAndKeepsTheOnesTalking) {
  limits_.per_peer = kMaxClientsPerEndpoint;  // this test's clients are all one uid
  const std::string path = (dir_ / "lock.sock").string();
  auto ep = ListenLimited(path);
  ASSERT_TRUE(ep);
  std::vector<int> flood;
  for (size_t i = 0; i < kMaxClientsPerEndpoint; ++i) {
    flood.push_back(ConnectUnix(path, SOCK_SEQPACKET));
    Pump([&] { return ep->clients() == i + 1; });
  }
  EXPECT_EQ(ep->clients(), kMaxClientsPerEndpoint);
  // The first one talks; the second is the oldest that never did.
  EXPECT_EQ(Exchange(flood[0], "\x04", SOCK_SEQPACKET), "\xEE\x04");
  const int owner = ConnectUnix(path, SOCK_SEQPACKET);
  EXPECT_EQ(Exchange(owner, "\x04", SOCK_SEQPACKET), "\xEE\x04") << "served at once, no wait";
  EXPECT_EQ(ep->clients(), kMaxClientsPerEndpoint);
  EXPECT_TRUE(ClosedByServer(flood[1]));
  // Twice as many idle connections again (the clock standing still): each
  // displaces an idle one, never a client that has been answered.
  std::vector<int> more;
  for (size_t i = 0; i < 2 * kMaxClientsPerEndpoint; ++i) {
    more.push_back(ConnectUnix(path, SOCK_SEQPACKET));
    loop_.RunOnce(2000);  // returns once it has accepted
  }
  EXPECT_EQ(ep->clients(), kMaxClientsPerEndpoint);
  EXPECT_EQ(Exchange(owner, "\x04", SOCK_SEQPACKET), "\xEE\x04");
  EXPECT_EQ(Exchange(flood[0], "\x04", SOCK_SEQPACKET), "\xEE\x04");
  for (int fd : flood) close(fd);
  for (int fd : more) close(fd);
  close(owner);
}

TEST_F(lockdEndpointLimits, A18_OnePeerHoldsAtMostItsShareOfTheSlots) {
  limits_.per_peer = 3;
  const std::string path = (dir_ / "lock.sock").string();
  auto ep = ListenLimited(path);
  ASSERT_TRUE(ep);
  std::vector<int> mine;
  for (int i = 0; i < 5; ++i) {
    mine.push_back(ConnectUnix(path, SOCK_SEQPACKET));
    now_ += 1;
    loop_.RunOnce(2000);  // returns once it has accepted
  }
  // This uid (SO_PEERCRED) never holds more than 3: each new connection
  // past its share replaced its own oldest, so slots stay free for others.
  EXPECT_EQ(ep->clients(), 3u);
  EXPECT_TRUE(ClosedByServer(mine[0]));
  EXPECT_TRUE(ClosedByServer(mine[1]));
  EXPECT_EQ(Exchange(mine[4], "\x04", SOCK_SEQPACKET), "\xEE\x04");
  for (int fd : mine) close(fd);
}

}  // namespace
}  // namespace mortise::lockd
