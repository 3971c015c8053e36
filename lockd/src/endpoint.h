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
};

class SeqpacketEndpoint final : public Endpoint {
 public:
  // Binds and listens at `path` with `mode` (0660). Returns nullptr and sets
  // `why` on failure.
  static std::unique_ptr<SeqpacketEndpoint> Listen(Loop& loop, const std::string& path, mode_t mode,
                                                   size_t max_frame, FrameHandler handler, std::string& why);
  ~SeqpacketEndpoint() override { Close(); }
  void Close() override;
  size_t clients() const override { return clients_.size(); }

 private:
  struct Client {
    std::vector<uint8_t> pending;  // a reply the socket could not take yet
  };
  SeqpacketEndpoint(Loop& loop, int fd, std::string path, size_t max_frame, FrameHandler handler);
  void Accept();
  void OnClient(int fd, short revents);
  void Drop(int fd);

  Loop& loop_;
  int fd_;
  std::string path_;
  size_t max_frame_;
  FrameHandler handler_;
  std::map<int, Client> clients_;
};

class TcpEndpoint final : public Endpoint {
 public:
  // Binds `host:port` (a numeric loopback address; port 0 picks one).
  static std::unique_ptr<TcpEndpoint> Listen(Loop& loop, const std::string& host, uint16_t port, size_t max_frame,
                                             FrameHandler handler, std::string& why);
  ~TcpEndpoint() override { Close(); }
  void Close() override;
  size_t clients() const override { return clients_.size(); }
  uint16_t port() const { return port_; }

 private:
  struct Client {
    std::vector<uint8_t> in;
    std::vector<uint8_t> out;
    size_t out_sent = 0;
  };
  TcpEndpoint(Loop& loop, int fd, uint16_t port, size_t max_frame, FrameHandler handler);
  void Accept();
  void OnClient(int fd, short revents);
  // Handles complete frames while no reply is pending. False: drop the client.
  bool Process(int fd, Client& c);
  bool Flush(int fd, Client& c);
  void Drop(int fd);

  Loop& loop_;
  int fd_;
  uint16_t port_;
  size_t max_frame_;
  FrameHandler handler_;
  std::map<int, Client> clients_;
};

class LineEndpoint final : public Endpoint {
 public:
  static std::unique_ptr<LineEndpoint> Listen(Loop& loop, const std::string& path, mode_t mode, size_t max_line,
                                              LineHandler handler, std::string& why);
  ~LineEndpoint() override { Close(); }
  void Close() override;
  size_t clients() const override { return clients_.size(); }

 private:
  struct Client {
    std::string in;
    std::string out;
    size_t out_sent = 0;
  };
  LineEndpoint(Loop& loop, int fd, std::string path, size_t max_line, LineHandler handler);
  void Accept();
  void OnClient(int fd, short revents);
  bool Process(int fd, Client& c);
  bool Flush(int fd, Client& c);
  void Drop(int fd);

  Loop& loop_;
  int fd_;
  std::string path_;
  size_t max_line_;
  LineHandler handler_;
  std::map<int, Client> clients_;
};

}  // namespace mortise::lockd
