#include "transport.h"

#include <filesystem>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "error.h"

namespace mortise::cli {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Unreachable(std::string what, std::string hint) {
  throw Error(ExitCode::kUnreachable, std::move(what), std::move(hint));
}

const char* kLockdHint = "Check that mortise-lockd is running and the endpoint is right (--endpoint, or the lock's entry).";

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits for a non-blocking connect to finish; returns 0 or the errno.
int FinishConnect(int fd, Clock::time_point deadline) {
  for (;;) {
    struct pollfd p {fd, POLLOUT, 0};
    const int r = ::poll(&p, 1, RemainingMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
  }
}

std::string ConnectErrorText(int err) {
  switch (err) {
    case ECONNREFUSED: return "connection refused";
    case ETIMEDOUT: return "timed out";
    case ENOENT: return "no such socket";
    case EACCES:
    case EPERM: return "permission denied";
    case EPROTOTYPE: return "the socket is not a SOCK_SEQPACKET socket";
    case ENETUNREACH:
    case EHOSTUNREACH: return "no route to the host";
    default: return std::strerror(err);
  }
}

}  // namespace

Endpoint Endpoint::Absolute() const {
  if (kind != Kind::kUnix || path.starts_with("/")) return *this;
  std::error_code ec;
  const std::filesystem::path full = std::filesystem::absolute(path, ec);
  if (ec) throw Error(ExitCode::kBadInput, "cannot make the socket path '" + path + "' absolute: " + ec.message());
  return Parse("unix:" + full.lexically_normal().string());
}

Endpoint Endpoint::Parse(std::string_view text) {
  Endpoint e;
  auto bad = [&text](const std::string& why) -> Endpoint {
    throw Error(ExitCode::kBadInput, "invalid endpoint \"" + std::string(text) + "\": " + why,
                "Use unix:/path/to/socket, a path, or tcp:127.0.0.1:PORT.");
  };
  if (text.starts_with("tcp:")) {
    std::string_view rest = text.substr(4);
    std::string_view host;
    std::string_view port;
    if (rest.starts_with("[")) {
      const size_t close = rest.find(']');
      if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
        return bad("an IPv6 address goes in brackets, followed by :PORT");
      host = rest.substr(1, close - 1);
      port = rest.substr(close + 2);
    } else {
      const size_t colon = rest.rfind(':');
      if (colon == std::string_view::npos) return bad("no port");
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) return bad("an IPv6 address goes in brackets");
    }
    if (host.empty()) return bad("no host");
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535)
      return bad("the port must be a number from 1 to 65535");
    e.kind = Kind::kTcp;
    e.host = std::string(host);
    e.port = static_cast<uint16_t>(value);
    return e;
  }
  std::string_view path = text;
  if (text.starts_with("unix:")) {
    path = text.substr(5);
  } else if (text.find('/') == std::string_view::npos) {
    return bad("not unix:PATH, a path with '/', or tcp:HOST:PORT");
  }
  if (path.empty()) return bad("empty socket path");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) return bad("the socket path is too long");
  if (path.find('\0') != std::string_view::npos) return bad("NUL in the socket path");
  e.kind = Kind::kUnix;
  e.path = std::string(path);
  return e;
}

std::string Endpoint::ToString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "tcp:[" + host + "]:" + std::to_string(port);
  return "tcp:" + host + ":" + std::to_string(port);
}

Transport::Transport(int fd, Endpoint::Kind kind, std::chrono::milliseconds timeout)
    : fd_(fd), kind_(kind), timeout_(timeout) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

Transport::Transport(Transport&& other) noexcept
    : fd_(other.fd_), kind_(other.kind_), timeout_(other.timeout_), peer_(std::move(other.peer_)) {
  other.fd_ = -1;
}

Transport::~Transport() {
  if (fd_ >= 0) ::close(fd_);
}

Transport Transport::Connect(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  const std::string where = endpoint.ToString();
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(ExitCode::kInternal, std::string("socket: ") + std::strerror(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, endpoint.path.data(), endpoint.path.size());
    for (;;) {
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
      int err = errno;
      if (err == EINTR) continue;
      if (err == EINPROGRESS) err = FinishConnect(fd, deadline);
      if (err == EAGAIN && Clock::now() < deadline) {  // the listener's backlog is full: try again
        struct pollfd none {-1, 0, 0};
        ::poll(&none, 0, 20);
        continue;
      }
      if (err == 0) break;
      ::close(fd);
      Unreachable("cannot reach the lock at " + where + ": " + ConnectErrorText(err == EAGAIN ? ETIMEDOUT : err),
                  kLockdHint);
    }
    Transport t(fd, Endpoint::Kind::kUnix, timeout);
    t.peer_ = where;
    return t;
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(endpoint.port);
  const int gai = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &list);
  if (gai != 0)
    Unreachable("cannot resolve " + endpoint.host + " (" + ::gai_strerror(gai) + ")", "Check the endpoint's host name.");
  int last_err = ECONNREFUSED;
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_err = errno;
      continue;
    }
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS || err == EINTR) err = FinishConnect(fd, deadline);
    }
    if (err == 0) {
      ::freeaddrinfo(list);
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Transport t(fd, Endpoint::Kind::kTcp, timeout);
      t.peer_ = where;
      return t;
    }
    ::close(fd);
    last_err = err;
    if (err == ETIMEDOUT) break;
  }
  ::freeaddrinfo(list);
  Unreachable("cannot reach the lock at " + where + ": " + ConnectErrorText(last_err), kLockdHint);
}

void Transport::Wait(short events, Clock::time_point deadline, const char* doing) {
  for (;;) {
    struct pollfd p {fd_, events, 0};
    const int r = ::poll(&p, 1, RemainingMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) Unreachable(std::string("the link to ") + peer_ + " failed (" + std::strerror(errno) + ")", kLockdHint);
    if (r == 0)
      Unreachable("the lock at " + peer_ + " timed out while " + doing,
                  "Check that the lock is powered and in range, or raise --timeout.");
    return;  // ready, or an error/hangup the next call reports
  }
}

void Transport::SendAll(const uint8_t* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    const ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        Wait(POLLOUT, deadline, "accepting a request");
        continue;
      }
      Unreachable("the lock at " + peer_ + " closed the link (" + std::strerror(errno) + ")", kLockdHint);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void Transport::RecvAll(uint8_t* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    const ssize_t r = ::recv(fd_, p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        Wait(POLLIN, deadline, "answering");
        continue;
      }
      Unreachable("the link to " + peer_ + " failed (" + std::strerror(errno) + ")", kLockdHint);
    }
    if (r == 0) Unreachable("the lock at " + peer_ + " closed the link without answering", kLockdHint);
    p += r;
    n -= static_cast<size_t>(r);
  }
}

void Transport::Send(std::span<const uint8_t> frame) {
  if (frame.empty() || frame.size() > kMaxTransportFrame)
    throw Error(ExitCode::kUsage, "a frame must hold 1 to 65535 bytes");
  const Clock::time_point deadline = Clock::now() + timeout_;
  if (kind_ == Endpoint::Kind::kUnix) {
    for (;;) {
      const ssize_t w = ::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_EOR);
      if (w >= 0) return;  // a SEQPACKET send is all or nothing
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        Wait(POLLOUT, deadline, "accepting a request");
        continue;
      }
      Unreachable("the lock at " + peer_ + " closed the link (" + std::strerror(errno) + ")", kLockdHint);
    }
  }
  const uint8_t len[2] = {static_cast<uint8_t>(frame.size() >> 8), static_cast<uint8_t>(frame.size())};
  SendAll(len, 2, deadline);
  SendAll(frame.data(), frame.size(), deadline);
}

std::vector<uint8_t> Transport::Receive() {
  const Clock::time_point deadline = Clock::now() + timeout_;
  if (kind_ == Endpoint::Kind::kUnix) {
    std::vector<uint8_t> buf(kMaxTransportFrame + 1);
    for (;;) {
      const ssize_t r = ::recv(fd_, buf.data(), buf.size(), MSG_TRUNC);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          Wait(POLLIN, deadline, "answering");
          continue;
        }
        Unreachable("the link to " + peer_ + " failed (" + std::strerror(errno) + ")", kLockdHint);
      }
      if (r == 0) Unreachable("the lock at " + peer_ + " closed the link without answering", kLockdHint);
      if (static_cast<size_t>(r) > kMaxTransportFrame)
        throw Error(ExitCode::kVerification, "the lock at " + peer_ + " sent an over-long frame",
                    "This is not a Mortise lock, or something is tampering with the link.");
      buf.resize(static_cast<size_t>(r));
      return buf;
    }
  }
  uint8_t len[2];
  RecvAll(len, 2, deadline);
  std::vector<uint8_t> frame((size_t{len[0]} << 8) | len[1]);
  RecvAll(frame.data(), frame.size(), deadline);
  return frame;
}

std::vector<uint8_t> Transport::Exchange(std::span<const uint8_t> frame) {
  Send(frame);
  return Receive();
}

}  // namespace mortise::cli
