// The HTTP/1.1 listener: one session object per connection (Boost.Beast on
// Asio), a timeout on every read and write, bounded header and body sizes,
// keep-alive, `Expect: 100-continue`, and a graceful shutdown that finishes
// requests already received and closes idle connections. It holds no policy:
// each complete request goes to one Handler (the router) and its Response is
// written back. The only translation unit that includes Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "message.h"

namespace mortise::server {

struct HttpOptions {
  std::string host = "127.0.0.1";  // an IP address (v4 or v6), not a name
  uint16_t port = 8080;            // 0 picks a free port
  size_t header_limit_bytes = 8 * 1024;
  size_t body_limit_bytes = 64 * 1024;
  // From the moment the server waits for a request (a new connection or the
  // next request on a kept-alive one) until its header is complete.
  std::chrono::milliseconds header_timeout{30000};
  // From the end of the header until the end of the body.
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  // After Shutdown(), requests in flight have this long to finish before
  // their connections are cut.
  std::chrono::milliseconds shutdown_grace{10000};
  int threads = 2;
};

using Handler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  HttpServer(HttpOptions options, Handler handler);
  ~HttpServer();  // Shutdown() and Wait() if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the worker threads. Returns the bound port.
  // Throws std::runtime_error ("cannot listen on HOST:PORT: reason").
  uint16_t Start();
  // Stops accepting, closes idle connections, lets requests already received
  // finish (their responses carry `Connection: close`), and cuts whatever is
  // left after shutdown_grace. Thread-safe; returns at once.
  void Shutdown();
  // Blocks until every worker thread has returned (after Shutdown()).
  void Wait();

  // Connections open now (for /metrics).
  size_t open_connections() const;

  struct Impl;  // defined in http_server.cc (sessions reach it)

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mortise::server
