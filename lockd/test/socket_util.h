// Test clients of the daemon's sockets (endpoint and process tests).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace mortise::lockd::test {

// Connects `fd` to `addr` and gives it a 5 s receive timeout; -1 (and `fd`
// closed) if the connection fails.
inline int Connected(int fd, const void* addr, socklen_t len) {
  if (connect(fd, static_cast<const sockaddr*>(addr), len) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// A client of the UNIX socket at `path` (`type`: SOCK_SEQPACKET or
// SOCK_STREAM).
inline int ConnectUnix(const std::string& path, int type) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  return Connected(socket(AF_UNIX, type | SOCK_CLOEXEC, 0), &a, sizeof(a));
}

// A TCP client of 127.0.0.1:`port`.
inline int ConnectTcp(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return Connected(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), &a, sizeof(a));
}

}  // namespace mortise::lockd::test
