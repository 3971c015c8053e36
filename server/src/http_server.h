// The HTTP/1.1 listener: one session object per connection (Boost.Beast on
// Asio), plain TCP or TLS 1.2+ (OpenSSL through Asio's ssl), a timeout on
// every read and write, bounded header and body sizes, keep-alive,
// `Expect: 100-continue`, WebSocket upgrades on the same listener, and a
// graceful shutdown that finishes requests already received, closes idle
// connections and closes WebSockets with 1001 "going away". It holds no
// policy: each complete request goes to one Handler (the router) and its
// Response is written back; an upgrade request goes there too and its
// Response either accepts it (Response::websocket_client) or answers it. The
// only translation unit that includes Beast.
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
  // Half of them at most wait on locks' answers (RelayGate::TotalFor).
  int threads = 16;
  // TLS served directly: both PEM files or neither (plain HTTP, e.g. behind
  // a TLS reverse proxy). The certificate file may hold the chain.
  std::string tls_cert_file;
  std::string tls_key_file;
  // WebSocket: what one client may have waiting to be written before it is
  // disconnected as too slow (messages and bytes), the largest message a
  // client may send, and the idle time after which a silent peer is closed
  // (a ping goes out at half of it; any frame, pongs included, resets it).
  size_t ws_queue_messages = 256;
  size_t ws_queue_bytes = 1 << 20;
  size_t ws_message_limit_bytes = 4096;
  std::chrono::milliseconds ws_idle_timeout{60000};

  bool tls() const { return !tls_cert_file.empty() || !tls_key_file.empty(); }
};

using Handler = std::function<Response(const Request&)>;


class HttpServer {
 public:
  // A WebSocket upgrade request reaches `handler` like any other, with
  // Request::websocket set; a Response with `websocket_client` accepts it.
  HttpServer(HttpOptions options, Handler handler);
  ~HttpServer();  // Shutdown() and Wait() if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Loads the TLS certificate and key (when set), binds, listens and starts
  // the worker threads. Returns the bound port. Throws std::runtime_error
  // ("cannot listen on HOST:PORT: reason", "TLS certificate FILE: reason").
  uint16_t Start();
  // Stops accepting, closes idle connections, lets requests already received
  // finish (their responses carry `Connection: close`), and cuts whatever is
  // left after shutdown_grace. Thread-safe; returns at once.
  void Shutdown();
  // Blocks until every worker thread has returned (after Shutdown()).
  void Wait();

  // Connections open now, WebSockets included (for /metrics).
  size_t open_connections() const;
  // WebSockets open now.
  size_t open_websockets() const;

  struct Impl;  // defined in http_server.cc (sessions reach it)

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mortise::server
