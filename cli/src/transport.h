// The CLI's link to a lock's endpoint (mortise-lockd, or any LockNode host):
// whole frames out, whole frames back (protocol/node.h: the first byte is
// the frame type, 1 claim, 2 session, 3 remote, 4 info).
//
//   unix:/path or a path (contains '/')   UNIX SOCK_SEQPACKET: one frame per packet
//   tcp:HOST:PORT (IPv6: tcp:[::1]:PORT)  TCP: each frame as a 2-byte
//                                         big-endian length, then the frame
//
// The transport carries bytes and trusts none of them: every reply is
// checked by the protocol client that asked (session, claim, remote). It
// holds no protocol logic. Failures throw Error(kUnreachable) with what
// happened ("no such socket", "connection refused", "timed out") and
// Error(kUsage) for an endpoint that does not parse.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mortise::cli {

inline constexpr std::chrono::milliseconds kDefaultTimeout{5000};
// The largest frame either transport carries (the TCP length prefix's range).
inline constexpr size_t kMaxTransportFrame = 65535;

struct Endpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp
  uint16_t port = 0; // kTcp

  // Throws Error(kUsage) on anything but the forms above (an empty path, a
  // missing or zero port, a path longer than a socket address holds).
  static Endpoint Parse(std::string_view text);
  std::string ToString() const;  // "unix:/path" or "tcp:host:port"
  // The same endpoint with a relative socket path made absolute against the
  // current directory (what the keyring stores, so the lock stays reachable
  // from any directory). Throws as Parse when the result is too long.
  Endpoint Absolute() const;
};

class Transport {
 public:
  // Connects within `timeout`. Throws Error(kUnreachable).
  static Transport Connect(const Endpoint& endpoint, std::chrono::milliseconds timeout = kDefaultTimeout);
  // Adopts a connected socket (tests: one end of a socketpair).
  Transport(int fd, Endpoint::Kind kind, std::chrono::milliseconds timeout);
  Transport(Transport&& other) noexcept;
  Transport& operator=(Transport&&) = delete;
  Transport(const Transport&) = delete;
  ~Transport();

  // Sends `frame` and waits up to the timeout for one reply frame. Throws
  // Error(kUnreachable) when the lock closes the link, does not answer in
  // time, or the link fails; Error(kUsage) on an empty or over-long frame.
  std::vector<uint8_t> Exchange(std::span<const uint8_t> frame);
  void Send(std::span<const uint8_t> frame);
  std::vector<uint8_t> Receive();

  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  const std::string& peer() const { return peer_; }

 private:
  // Waits until fd is ready for `events` or the deadline passes.
  void Wait(short events, std::chrono::steady_clock::time_point deadline, const char* doing);
  void SendAll(const uint8_t* p, size_t n, std::chrono::steady_clock::time_point deadline);
  void RecvAll(uint8_t* p, size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  Endpoint::Kind kind_;
  std::chrono::milliseconds timeout_;
  std::string peer_;
};

}  // namespace mortise::cli
