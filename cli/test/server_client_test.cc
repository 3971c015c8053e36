// ServerClient: once a request may have reached the server, no usable answer
// is a NoAnswerError (a relayed command's outcome is then unknown, never
// "it did not run"); a server that cannot be reached is a plain Error.
#include "server_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "error.h"

namespace mortise::cli {
namespace {

using namespace std::chrono_literals;

// Loopback TCP, port 0, one connection: reads the request's head, then
// writes `answer` (maybe nothing) and closes.
class OneAnswerServer {
 public:
  explicit OneAnswerServer(std::string answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      while (in.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      received_ = !in.empty();
      if (!answer_.empty()) (void)::send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
      ::close(c);
    });
  }
  ~OneAnswerServer() {
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool received() const { return received_; }

 private:
  std::string answer_;
  int fd_ = -1;
  uint16_t port_ = 0;
  bool received_ = false;
  std::thread thread_;
};

TEST(ServerClientTest, AServerThatHangsUpAfterTheRequestGaveNoAnswer) {
  for (const char* answer : {"", "garbage, not HTTP", "HTTP/1.1 20"}) {
    bool no_answer = false;
    {
      OneAnswerServer s(answer);
      try {
        ServerClient(s.url(), 5s).Request("POST", "/remote", {{"envelope", "x"}}, {});
      } catch (const NoAnswerError&) {
        no_answer = true;
      } catch (const Error& e) {
        ADD_FAILURE() << "a plain error for answer '" << answer << "': " << e.what();
      }
    }
    EXPECT_TRUE(no_answer) << answer;
  }
}

// A relayed request (a remote command, a site lockdown) with no usable
// answer: the outcome is unknown (exit 4), never a malformed answer (exit 6).
TEST(ServerClientTest, ARelayedRequestWithNoAnswerHasAnUnknownOutcome) {
  for (const char* answer : {"", "garbage, not HTTP", "HTTP/1.1 20"}) {
    OneAnswerServer s(answer);
    try {
      ServerClient(s.url(), 5s).RequestRelayed("POST", "/lockdown", {{"envelopes", "x"}}, {}, "the lockdown", "hint");
      ADD_FAILURE() << "an answer from '" << answer << "'";
    } catch (const NoAnswerError& e) {
      ADD_FAILURE() << "not turned into an unknown outcome: " << e.what();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kUnreachable) << answer << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("the outcome of the lockdown is unknown"), std::string::npos) << e.what();
    }
  }
}

TEST(ServerClientTest, AServerThatCannotBeReachedIsNotANoAnswer) {
  // A port nobody listens on: nothing was sent.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  bool plain = false;
  try {
    ServerClient(url, 5s).Request("GET", "/", nullptr, {});
  } catch (const NoAnswerError&) {
    ADD_FAILURE() << "nothing was sent";
  } catch (const Error& e) {
    plain = e.code() == ExitCode::kUnreachable;
  }
  ::close(fd);
  EXPECT_TRUE(plain);
}

}  // namespace
}  // namespace mortise::cli
