#include "endpoint.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

namespace mortise::lockd {
namespace {

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool FillUnix(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

// A listening UNIX socket at `path` created with `mode` (umask applied
// around bind, so the file never exists with looser permissions).
int ListenUnix(const std::string& path, int type, mode_t mode, std::string& why) {
  sockaddr_un addr;
  if (!FillUnix(path, addr)) {
    why = path + ": path too long for a UNIX socket";
    return -1;
  }
  why = ClaimSocketPath(path, type);
  if (!why.empty()) return -1;
  const int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = Errno("socket");
    return -1;
  }
  const mode_t old = umask(static_cast<mode_t>(~mode & 0777));
  const int b = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  umask(old);
  if (b != 0) {
    errno = bind_errno;
    why = path + ": " + Errno("bind");
    close(fd);
    return -1;
  }
  if (chmod(path.c_str(), mode) != 0 || listen(fd, 16) != 0) {
    why = path + ": " + Errno("listen");
    close(fd);
    unlink(path.c_str());
    return -1;
  }
  return fd;
}

int AcceptOne(int listen_fd) {
  return accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

// Who is at the other end, as far as the transport knows: a UNIX socket's
// peer uid (SO_PEERCRED, from the kernel); a TCP peer's address only.
std::string PeerOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family == AF_UNIX) {
    ucred cred{};
    socklen_t clen = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) return "uid " + std::to_string(cred.uid);
    return "uid ?";
  }
  len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, host, sizeof(host));
  else if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, host, sizeof(host));
  return host;
}

// Sends what is left of a stream client's reply. A full socket leaves the
// rest for POLLOUT; reading resumes (POLLIN) only once all of it is out.
// False: the client is gone.
template <typename StreamClient>
bool FlushOut(Loop& loop, int fd, StreamClient& c) {
  while (c.out_sent < c.out.size()) {
    const ssize_t n = send(fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      loop.SetEvents(fd, POLLOUT);
      return true;
    }
    if (n < 0) return false;
    c.out_sent += static_cast<size_t>(n);
  }
  c.out.clear();
  c.out_sent = 0;
  loop.SetEvents(fd, POLLIN);
  return true;
}

}  // namespace

std::string ClaimSocketPath(const std::string& path, int type) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return path + ": " + Errno("stat");
  }
  if (!S_ISSOCK(st.st_mode)) return path + ": exists and is not a socket; not removing it";
  sockaddr_un addr;
  if (!FillUnix(path, addr)) return path + ": path too long for a UNIX socket";
  const int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  const int c = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  if (c == 0) return path + ": another process is listening on this socket";
  if (err != ECONNREFUSED && err != ENOENT && err != EPROTOTYPE) {
    errno = err;
    return path + ": " + Errno("connect");
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return path + ": " + Errno("unlink of a stale socket");
  return {};
}

// --- Listening socket --------------------------------------------------------

template <typename ClientT>
ListeningEndpoint<ClientT>::ListeningEndpoint(Loop& loop, int fd, std::string unlink_path)
    : loop_(loop), fd_(fd), unlink_path_(std::move(unlink_path)) {
  loop_.Add(fd_, POLLIN, [this](short) { Accept(); });
}

template <typename ClientT>
void ListeningEndpoint<ClientT>::Close() {
  while (!clients_.empty()) Drop(clients_.begin()->first);
  if (fd_ >= 0) {
    loop_.Remove(fd_);
    close(fd_);
    fd_ = -1;
    if (!unlink_path_.empty()) unlink(unlink_path_.c_str());
  }
}

template <typename ClientT>
void ListeningEndpoint<ClientT>::Accept() {
  for (;;) {
    const int c = AcceptOne(fd_);
    if (c < 0) return;
    std::string peer = PeerOf(c);
    // A full endpoint never refuses: it makes room, so whoever connects
    // gets in at once. A peer at its share gives up one of its own clients;
    // otherwise the peer holding the most slots does. Either way an idle or
    // slow client goes before one that is talking (EvictionCandidate).
    size_t mine = 0;
    std::map<std::string, size_t> held;
    for (const auto& [fd, m] : meta_) {
      ++held[m.peer];
      if (m.peer == peer) ++mine;
    }
    int victim = -1;
    if (mine >= limits_.per_peer) {
      victim = EvictionCandidate(peer);
    } else if (clients_.size() >= kMaxClientsPerEndpoint) {
      std::string biggest;
      size_t most = 0;
      for (const auto& [p, n] : held)
        if (n > most) most = n, biggest = p;
      victim = EvictionCandidate(biggest);
    }
    if (victim >= 0) Drop(victim);
    OnAccepted(c);
    clients_[c] = Client{};
    meta_[c] = Meta{std::move(peer), now_(), ++activity_, false, false, 0};
    loop_.Add(c, POLLIN, [this, c](short revents) { OnClient(c, revents); });
  }
}

template <typename ClientT>
int ListeningEndpoint<ClientT>::EvictionCandidate(const std::string& peer) const {
  int best = -1;
  const Meta* chosen = nullptr;
  for (const auto& [fd, m] : meta_) {
    if (m.peer != peer) continue;
    if (!chosen || (m.framed != chosen->framed ? !m.framed : m.activity < chosen->activity)) {
      chosen = &m;
      best = fd;
    }
  }
  return best;
}

template <typename ClientT>
void ListeningEndpoint<ClientT>::Sweep() {
  const uint64_t now = now_();
  std::vector<int> expired;
  for (const auto& [fd, m] : meta_) {
    if (now - m.last_ms >= limits_.idle_ms || (m.partial && now - m.partial_since >= limits_.partial_ms))
      expired.push_back(fd);
  }
  for (int fd : expired) Drop(fd);
}

template <typename ClientT>
void ListeningEndpoint<ClientT>::FrameDone(int fd) {
  auto it = meta_.find(fd);
  if (it == meta_.end()) return;
  it->second.last_ms = now_();
  it->second.activity = ++activity_;
  it->second.framed = true;
  it->second.partial = false;
}

template <typename ClientT>
void ListeningEndpoint<ClientT>::FramePartial(int fd) {
  auto it = meta_.find(fd);
  if (it == meta_.end() || it->second.partial) return;
  it->second.partial = true;
  it->second.partial_since = now_();
}

template <typename ClientT>
void ListeningEndpoint<ClientT>::Drop(int fd) {
  loop_.Remove(fd);
  clients_.erase(fd);
  meta_.erase(fd);
  close(fd);
}

// The member definitions live here, not in the header, so each transport's
// instantiation is made once, here.
template class ListeningEndpoint<endpoint_detail::SeqpacketClient>;
template class ListeningEndpoint<endpoint_detail::TcpClient>;
template class ListeningEndpoint<endpoint_detail::LineClient>;

// --- SOCK_SEQPACKET ---------------------------------------------------------

std::unique_ptr<SeqpacketEndpoint> SeqpacketEndpoint::Listen(Loop& loop, const std::string& path, mode_t mode,
                                                             size_t max_frame, FrameHandler handler,
                                                             std::string& why) {
  const int fd = ListenUnix(path, SOCK_SEQPACKET, mode, why);
  if (fd < 0) return nullptr;
  return std::unique_ptr<SeqpacketEndpoint>(new SeqpacketEndpoint(loop, fd, path, max_frame, std::move(handler)));
}

SeqpacketEndpoint::SeqpacketEndpoint(Loop& loop, int fd, std::string path, size_t max_frame, FrameHandler handler)
    : ListeningEndpoint(loop, fd, std::move(path)), max_frame_(max_frame), handler_(std::move(handler)) {}

void SeqpacketEndpoint::OnClient(int fd, short revents) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (!c.pending.empty()) {
    if (revents & (POLLERR | POLLHUP | POLLNVAL)) return Drop(fd);
    const ssize_t n = send(fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n < 0) return Drop(fd);
    c.pending.clear();
    loop_.SetEvents(fd, POLLIN);
    return;
  }
  // One byte more than the largest frame: a bigger packet is detected
  // (MSG_TRUNC) and refused by closing the client.
  std::vector<uint8_t> buf(max_frame_ + 1);
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0 || (msg.msg_flags & MSG_TRUNC) || static_cast<size_t>(n) > max_frame_) return Drop(fd);
  std::vector<uint8_t> reply = handler_(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
  FrameDone(fd);
  const ssize_t s = send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    c.pending = std::move(reply);
    loop_.SetEvents(fd, POLLOUT);
    return;
  }
  if (s < 0) Drop(fd);
}

// --- TCP --------------------------------------------------------------------

std::unique_ptr<TcpEndpoint> TcpEndpoint::Listen(Loop& loop, const std::string& host, uint16_t port,
                                                 size_t max_frame, FrameHandler handler, std::string& why) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (host.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) != 1) {
      why = host + ": not an IPv6 address";
      return nullptr;
    }
    family = AF_INET6;
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1) {
      why = host + ": not an IPv4 address";
      return nullptr;
    }
    len = sizeof(sockaddr_in);
  }
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = Errno("socket");
    return nullptr;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || listen(fd, 16) != 0) {
    why = host + ":" + std::to_string(port) + ": " + Errno("bind");
    close(fd);
    return nullptr;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  uint16_t actual = port;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) == 0)
    actual = family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<TcpEndpoint>(new TcpEndpoint(loop, fd, actual, max_frame, std::move(handler)));
}

TcpEndpoint::TcpEndpoint(Loop& loop, int fd, uint16_t port, size_t max_frame, FrameHandler handler)
    : ListeningEndpoint(loop, fd, std::string()), port_(port), max_frame_(max_frame), handler_(std::move(handler)) {}

void TcpEndpoint::OnAccepted(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool TcpEndpoint::Process(int fd, Client& c) {
  while (c.out.empty() && c.in.size() >= 2) {
    const size_t len = static_cast<size_t>(c.in[0]) << 8 | c.in[1];
    if (len > max_frame_) return false;
    if (c.in.size() < 2 + len) break;
    std::vector<uint8_t> reply = handler_(std::span<const uint8_t>(c.in.data() + 2, len));
    FrameDone(fd);
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<ptrdiff_t>(2 + len));
    if (reply.size() > 0xFFFF) return false;
    c.out.push_back(static_cast<uint8_t>(reply.size() >> 8));
    c.out.push_back(static_cast<uint8_t>(reply.size()));
    c.out.insert(c.out.end(), reply.begin(), reply.end());
    if (!FlushOut(loop_, fd, c)) return false;
  }
  return true;
}

void TcpEndpoint::OnClient(int fd, short revents) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (!c.out.empty()) {
    if (revents & (POLLERR | POLLHUP | POLLNVAL)) return Drop(fd);
    if (!FlushOut(loop_, fd, c) || !Process(fd, c)) return Drop(fd);
    return;
  }
  uint8_t buf[4096];
  const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) return Drop(fd);
  c.in.insert(c.in.end(), buf, buf + n);
  if (!Process(fd, c)) return Drop(fd);
  // What is left is the start of a frame: it has partial_ms to complete.
  if (!c.in.empty()) FramePartial(fd);
  // Refuse a client that piles up more than one frame ahead.
  if (c.in.size() > 2 * (max_frame_ + 2)) Drop(fd);
}

// --- JSON lines -------------------------------------------------------------

std::unique_ptr<LineEndpoint> LineEndpoint::Listen(Loop& loop, const std::string& path, mode_t mode,
                                                   size_t max_line, LineHandler handler, std::string& why) {
  const int fd = ListenUnix(path, SOCK_STREAM, mode, why);
  if (fd < 0) return nullptr;
  return std::unique_ptr<LineEndpoint>(new LineEndpoint(loop, fd, path, max_line, std::move(handler)));
}

LineEndpoint::LineEndpoint(Loop& loop, int fd, std::string path, size_t max_line, LineHandler handler)
    : ListeningEndpoint(loop, fd, std::move(path)), max_line_(max_line), handler_(std::move(handler)) {}

bool LineEndpoint::Process(int fd, Client& c) {
  while (c.out.empty()) {
    const size_t nl = c.in.find('\n');
    if (nl == std::string::npos) {
      if (c.in.size() > max_line_) {
        // Answer once, then hang up: the rest of the line is not read.
        c.out = R"({"ok":false,"error":"request line too long"})" "\n";
        FlushOut(loop_, fd, c);
        return false;
      }
      break;
    }
    std::string_view line(c.in.data(), nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string reply = line.size() > max_line_ ? std::string(R"({"ok":false,"error":"request line too long"})")
                                                : handler_(line);
    FrameDone(fd);
    c.in.erase(0, nl + 1);
    c.out = std::move(reply);
    c.out.push_back('\n');
    if (!FlushOut(loop_, fd, c)) return false;
  }
  return true;
}

void LineEndpoint::OnClient(int fd, short revents) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (!c.out.empty()) {
    if (revents & (POLLERR | POLLHUP | POLLNVAL)) return Drop(fd);
    if (!FlushOut(loop_, fd, c) || !Process(fd, c)) return Drop(fd);
    return;
  }
  char buf[4096];
  const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) return Drop(fd);
  c.in.append(buf, static_cast<size_t>(n));
  if (!Process(fd, c)) return Drop(fd);
  if (!c.in.empty()) FramePartial(fd);
}

}  // namespace mortise::lockd
