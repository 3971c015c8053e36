// Transports of the daemon. Each listens, accepts several clients at once
// on the poll loop (non-blocking), and serves one request at a time per
// client: a client's next request is read only after its reply is sent.
//
//   SeqpacketEndpoint  UNIX SOCK_SEQPACKET: one packet = one protocol frame
//   TcpEndpoint        TCP on loopback: 2-byte big-endian length + frame
//   LineEndpoint       UNIX SOCK_STREAM: one JSON line in, one line out
//
// A BLE transport (GATT writes and notifications carrying the same frames)
// is another class beside these; the frame handler does not change.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loop.h"

namespace mortise::lockd {

// Handles one frame; returns the reply frame.
using FrameHandler = std::function<std::vector<uint8_t>(std::span<const uint8_t> frame)>;
// Handles one line (without its newline); returns the reply line (without).
using LineHandler = std::function<std::string(std::string_view line)>;

inline constexpr size_t kMaxClientsPerEndpoint = 32;

// Limits that keep one peer from holding the lock's sockets (A18,
// docs/lockd.md "Connection limits"). Time is the lock's clock (the sim
// clock: injected, so tests advance it instead of sleeping).
struct ConnectionLimits {
  // A client that has not completed a frame this long after connecting or
  // after its last frame is dropped.
  uint64_t idle_ms = 10'000;
  // A frame that started arriving (TCP: its first byte) and is not complete
  // this long after is dropped with its client.
  uint64_t partial_ms = 5'000;
  // One peer (UNIX: a uid, from SO_PEERCRED; TCP: an address, which on
  // loopback every local user shares) holds at most this many of the
  // kMaxClientsPerEndpoint slots; its next connection evicts one of its
  // own (EvictionCandidate). A full endpoint admits a new client by
  // evicting one of the peer holding the most slots.
  size_t per_peer = 24;
};
// The lock's clock in milliseconds.
using NowFn = std::function<uint64_t()>;

// Makes `path` free for a new UNIX socket: a stale socket file (nobody
// answers) is removed; a live one, or a file that is not a socket, is an
// error. Returns an empty string or why not.
std::string ClaimSocketPath(const std::string& path, int type);

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  // Closes the listener and every client, and removes a socket file.
  virtual void Close() = 0;
  virtual size_t clients() const = 0;
  // Drops the clients past ConnectionLimits' times. The daemon calls it on
  // every turn of its loop (and so after each "advance" of the sim clock).
  virtual void Sweep() = 0;
};

// Per-connection state of each transport. At namespace scope, not nested,
// because the base below is instantiated with them before the endpoint
// classes are complete.
namespace endpoint_detail {
struct SeqpacketClient {
  std::vector<uint8_t> pending;  // a reply the socket could not take yet
};
struct TcpClient {
  std::vector<uint8_t> in;
  std::vector<uint8_t> out;
  size_t out_sent = 0;
};
struct LineClient {
  std::string in;
  std::string out;
  size_t out_sent = 0;
};
}  // namespace endpoint_detail

// The listening socket and its clients, common to every transport: accepts
// up to kMaxClientsPerEndpoint at once and tears everything down in Close.
// Each transport supplies its Client state and OnClient.
template <typename ClientT>
class ListeningEndpoint : public Endpoint {
 public:
  // Close touches only what this base owns, so running it here, after the
  // transport's own members are gone, is safe.
  ~ListeningEndpoint() override { Close(); }
  void Close() final;
  size_t clients() const final { return clients_.size(); }
  void Sweep() final;
  // Before any client connects (the defaults otherwise: a clock that never
  // moves, ConnectionLimits{}).
  void set_limits(const ConnectionLimits& limits, NowFn now) {
    limits_ = limits;
    now_ = std::move(now);
  }

 protected:
  using Client = ClientT;
  // Takes over the listening `fd`; `unlink_path` is the UNIX socket file to
  // remove on Close (empty for TCP, which has none).
  ListeningEndpoint(Loop& loop, int fd, std::string unlink_path);
  virtual void OnClient(int fd, short revents) = 0;
  // A just-accepted client, before it is served (socket options).
  virtual void OnAccepted(int /*fd*/) {}
  void Drop(int fd);
  // A frame of `fd` was answered: its idle time starts again.
  void FrameDone(int fd);
  // Part of a frame of `fd` has arrived (a no-op while one already has).
  void FramePartial(int fd);

  Loop& loop_;
  std::map<int, Client> clients_;

 private:
  struct Meta {
    std::string peer;            // "uid N" or an address
    uint64_t last_ms = 0;        // connect or last frame answered (lock clock)
    uint64_t activity = 0;       // order of the same events (a clock may stand still)
    bool framed = false;         // a frame answered since connect
    bool partial = false;        // part of a frame is waiting
    uint64_t partial_since = 0;  // when its first byte came
  };
  void Accept();
  // The client of `peer` to let go first: one that has never completed a
  // frame (idle or slow since it connected) before any that has, and among
  // those the least recently active. -1 if `peer` holds none.
  int EvictionCandidate(const std::string& peer) const;

  int fd_;
  std::string unlink_path_;
  ConnectionLimits limits_;
  NowFn now_ = [] { return uint64_t{0}; };
  std::map<int, Meta> meta_;
  uint64_t activity_ = 0;
};

class SeqpacketEndpoint final : public ListeningEndpoint<endpoint_detail::SeqpacketClient> {
 public:
  // Binds and listens at `path` with `mode` (0660). Returns nullptr and sets
  // `why` on failure.
  static std::unique_ptr<SeqpacketEndpoint> Listen(Loop& loop, const std::string& path, mode_t mode,
                                                   size_t max_frame, FrameHandler handler, std::string& why);

 private:
  SeqpacketEndpoint(Loop& loop, int fd, std::string path, size_t max_frame, FrameHandler handler);
  void OnClient(int fd, short revents) override;

  size_t max_frame_;
  FrameHandler handler_;
};

class TcpEndpoint final : public ListeningEndpoint<endpoint_detail::TcpClient> {
 public:
  // Binds `host:port` (a numeric loopback address; port 0 picks one).
  static std::unique_ptr<TcpEndpoint> Listen(Loop& loop, const std::string& host, uint16_t port, size_t max_frame,
                                             FrameHandler handler, std::string& why);
  uint16_t port() const { return port_; }

 private:
  TcpEndpoint(Loop& loop, int fd, uint16_t port, size_t max_frame, FrameHandler handler);
  void OnAccepted(int fd) override;
  void OnClient(int fd, short revents) override;
  // Handles complete frames while no reply is pending. False: drop the client.
  bool Process(int fd, Client& c);

  uint16_t port_;
  size_t max_frame_;
  FrameHandler handler_;
};

class LineEndpoint final : public ListeningEndpoint<endpoint_detail::LineClient> {
 public:
  static std::unique_ptr<LineEndpoint> Listen(Loop& loop, const std::string& path, mode_t mode, size_t max_line,
                                              LineHandler handler, std::string& why);

 private:
  LineEndpoint(Loop& loop, int fd, std::string path, size_t max_line, LineHandler handler);
  void OnClient(int fd, short revents) override;
  bool Process(int fd, Client& c);

  size_t max_line_;
  LineHandler handler_;
};

}  // namespace mortise::lockd
