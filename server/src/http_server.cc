#include "http_server.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace mortise::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What the server tracks of every connection (HTTP or WebSocket).
class Connection {
 public:
  virtual ~Connection() = default;
  // Shutdown: close what is idle now, the rest after its current exchange.
  virtual void Stop() = 0;
  // Grace period over: cut.
  virtual void Cut() = 0;
};

struct HttpServer::Impl {
  HttpOptions options;
  Handler handler;
  asio::io_context ioc;
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  // The grace timer lives on its own strand: Shutdown() and Remove() touch it
  // from different threads.
  asio::strand<asio::io_context::executor_type> control{asio::make_strand(ioc)};
  asio::steady_timer grace_timer{control};
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> websockets{0};
  bool started = false;

  mutable std::mutex mu;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> sessions;

  Impl(HttpOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}
  void LoadTls();
  void Accept();
  void Add(const std::shared_ptr<Connection>& s);
  void Remove(Connection* s);
};

namespace {

beast::tcp_stream& Tcp(beast::tcp_stream& s) { return s; }
beast::tcp_stream& Tcp(TlsStream& s) { return s.next_layer(); }
beast::tcp_stream& Tcp(websocket::stream<beast::tcp_stream>& s) { return s.next_layer(); }
beast::tcp_stream& Tcp(websocket::stream<TlsStream>& s) { return s.next_layer().next_layer(); }

// The same request in the server's own shape.
Request ToRequest(const bhttp::request<bhttp::string_body>& req, const std::string& remote, bool tls) {
  Request r;
  r.method = std::string(req.method_string());
  const std::string_view target = req.target();
  const size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  r.body = req.body();
  r.remote_address = remote;
  r.tls = tls;
  return r;
}

// One accepted WebSocket. Every step runs on the connection's strand;
// Send/Close may come from any thread.
template <class Stream>
class WsSession final : public Connection, public WebSocketPeer, public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(HttpServer::Impl* server, asio::any_io_executor executor)
      : server_(server), executor_(std::move(executor)) {}

  // Takes the connection over from the HTTP session and answers `req`.
  void Start(Stream stream, bhttp::request<bhttp::string_body> req, std::shared_ptr<WebSocketClient> client) {
    ws_.emplace(std::move(stream));
    client_ = std::move(client);
    Tcp(*ws_).expires_never();  // the websocket's own timeouts from here on
    websocket::stream_base::timeout t{};
    t.handshake_timeout = server_->options.write_timeout;
    t.idle_timeout = server_->options.ws_idle_timeout;
    t.keep_alive_pings = true;
    ws_->set_option(t);
    ws_->read_message_max(server_->options.ws_message_limit_bytes);
    ws_->set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "mortise-server"); }));
    auto self = this->shared_from_this();
    auto held = std::make_shared<bhttp::request<bhttp::string_body>>(std::move(req));
    ws_->async_accept(*held, [self, held](beast::error_code ec) {
      if (ec) return self->Finish();
      self->accepted_ = true;
      self->Read();
      self->WriteNext();
    });
  }

  bool Send(std::string text) override {
    {
      std::lock_guard lock(mu_);
      if (closing_) return false;
      if (queue_.size() + 1 > server_->options.ws_queue_messages ||
          queued_bytes_ + text.size() > server_->options.ws_queue_bytes) {
        closing_ = true;
        queue_.clear();
        queued_bytes_ = 0;
      } else {
        queued_bytes_ += text.size();
        queue_.push_back(std::move(text));
        PostWrite();
        return true;
      }
    }
    CloseNow(websocket::close_code::policy_error, "slow consumer: too many events waiting");
    return false;
  }

  void Close(uint16_t code, std::string reason) override {
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      closing_ = true;
    }
    CloseNow(static_cast<websocket::close_code>(code), std::move(reason));
  }

  bool open() const override {
    std::lock_guard lock(mu_);
    return !closing_;
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      closing_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
    CloseNow(websocket::close_code::going_away, "server shutting down");
  }

  void Cut() override {
    asio::post(executor_, [self = this->shared_from_this()] {
      if (self->ws_) self->Finish();
    });
  }

 private:
  void PostWrite() {
    asio::post(executor_, [self = this->shared_from_this()] { self->WriteNext(); });
  }

  // Writes queued messages one at a time, then the close frame once asked.
  void WriteNext() {
    if (!accepted_ || writing_ || finished_) return;
    std::string next;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        if (closing_ && close_reason_ && !close_sent_) {
          close_sent_ = true;
          writing_ = true;
          const auto reason = *close_reason_;
          ws_->async_close(reason, [self = this->shared_from_this()](beast::error_code) {
            self->writing_ = false;
            // The read loop sees the peer's close answer (or the idle timeout).
          });
        }
        return;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    writing_ = true;
    auto msg = std::make_shared<std::string>(std::move(next));
    ws_->text(true);
    ws_->async_write(asio::buffer(*msg), [self = this->shared_from_this(), msg](beast::error_code ec, size_t) {
      self->writing_ = false;
      {
        std::lock_guard lock(self->mu_);
        self->queued_bytes_ -= std::min(self->queued_bytes_, msg->size());
      }
      if (ec) return self->Finish();
      self->WriteNext();
    });
  }

  void CloseNow(websocket::close_code code, std::string reason) {
    asio::post(executor_, [self = this->shared_from_this(), code, reason = std::move(reason)] {
      if (!self->close_reason_) self->close_reason_ = websocket::close_reason(code, reason);
      if (!self->accepted_) return;  // the handshake's callback writes it
      self->WriteNext();
    });
  }

  void Read() {
    ws_->async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Finish();
      if (self->ws_->got_text()) {
        const auto data = self->buffer_.cdata();
        self->client_->OnText(std::string_view(static_cast<const char*>(data.data()), data.size()));
      }
      self->buffer_.consume(self->buffer_.size());
      self->Read();
    });
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    {
      std::lock_guard lock(mu_);
      closing_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
    beast::error_code ec;
    Tcp(*ws_).socket().close(ec);
    if (client_) client_->OnClosed();
    client_.reset();
    server_->websockets--;
    server_->Remove(this);
  }

  HttpServer::Impl* server_;
  std::optional<websocket::stream<Stream>> ws_;
  asio::any_io_executor executor_;
  std::shared_ptr<WebSocketClient> client_;
  beast::flat_buffer buffer_;
  bool accepted_ = false;
  bool writing_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  std::optional<websocket::close_reason> close_reason_;

  mutable std::mutex mu_;  // queue_, queued_bytes_, closing_
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool closing_ = false;
};

// One HTTP connection over `Stream` (beast::tcp_stream or TlsStream). Every
// step runs on the connection's strand.
template <class Stream>
class Session final : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `server` outlives every handler that runs (HttpServer joins its threads
  // before the Impl goes); a Session never owns it, so handlers left in the
  // io_context at destruction cannot keep the Impl alive in a cycle.
  template <class... Args>
  Session(HttpServer::Impl* server, tcp::socket socket, Args&&... args)
      : stream_(std::move(socket), std::forward<Args>(args)...), server_(server) {}

  void Run() {
    beast::error_code ec;
    const auto ep = Tcp(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        self->Handshake();
      } else {
        self->ReadHeader();
      }
    });
  }

  // Shutdown: an idle connection (no request header received) is closed now;
  // a busy one closes after its response.
  void Stop() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->busy_) {
        beast::error_code ec;
        Tcp(self->stream_).socket().cancel(ec);
      }
    });
  }
  void Cut() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Close(); });
  }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // TLS: the handshake within the header timeout. A client speaking plain
  // HTTP (or anything but TLS 1.2+) fails it and is disconnected.
  void Handshake() {
    Tcp(stream_).expires_after(server_->options.header_timeout);
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->Close();
        self->ReadHeader();
      });
    }
  }

  void ReadHeader() {
    if (server_->stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.header_limit_bytes));
    parser_->body_limit(server_->options.body_limit_bytes);
    Tcp(stream_).expires_after(server_->options.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      return WriteError(431, "header_too_large",
                        "The request header is larger than the server accepts (http.header_limit_bytes = " +
                            std::to_string(server_->options.header_limit_bytes) + "); send fewer or shorter headers.");
    }
    if (ec == bhttp::error::body_limit) return BodyTooLarge();
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof || ec == ssl::error::stream_truncated) {
      return Close();
    }
    if (ec) return WriteError(400, "bad_request", "The request is not valid HTTP/1.1: " + ec.message() + ".");
    busy_ = true;
    const auto& h = parser_->get();
    const auto expect = h[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, h.version());
      Tcp(stream_).expires_after(server_->options.write_timeout);
      bhttp::async_write(stream_, *cont, [self = this->shared_from_this(), cont](beast::error_code wec, size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Tcp(stream_).expires_after(server_->options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void BodyTooLarge() {
    WriteError(413, "payload_too_large",
               "The request body is larger than the server accepts (http.body_limit_bytes = " +
                   std::to_string(server_->options.body_limit_bytes) + ").");
  }

  void OnBody(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return BodyTooLarge();
    if (ec) return Close();
    auto req = parser_->release();
    Request r = ToRequest(req, remote_, kTls);
    if (websocket::is_upgrade(req)) return Upgrade(std::move(r), std::move(req));
    Response out;
    try {
      out = server_->handler(r);
    } catch (const std::exception&) {
      out = ErrorResponse(500, "internal", "The server failed to handle the request; it has been logged.");
    }
    Send(std::move(out), req.version(), req.keep_alive());
  }

  // A WebSocket upgrade: the handler accepts it (the connection becomes a
  // WsSession) or answers it (then the connection closes).
  void Upgrade(Request r, bhttp::request<bhttp::string_body> req) {
    if (server_->stopping) {
      return Send(ErrorResponse(503, "shutting_down", "The server is shutting down; connect again later."), 11, false);
    }
    auto peer = std::make_shared<WsSession<Stream>>(server_, stream_.get_executor());
    r.websocket = peer;
    Response out;
    try {
      out = server_->handler(r);
    } catch (const std::exception&) {
      out = ErrorResponse(500, "internal", "The server failed to handle the request; it has been logged.");
    }
    if (!out.websocket_client) return Send(std::move(out), req.version(), false);
    // Its handshake's completion runs on this strand, after this returns.
    server_->websockets++;
    handed_over_ = true;
    peer->Start(std::move(stream_), std::move(req), std::move(out.websocket_client));
    server_->Add(peer);
    server_->Remove(this);
  }

  void WriteError(int status, const std::string& code, const std::string& message) {
    busy_ = true;
    Send(ErrorResponse(status, code, message), 11, false);
  }

  void Send(Response out, unsigned version, bool keep_alive) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(out.status), version);
    res->set(bhttp::field::server, "mortise-server");
    if (!out.content_type.empty()) res->set(bhttp::field::content_type, out.content_type);
    for (auto& [k, v] : out.headers) res->insert(k, v);
    res->body() = std::move(out.body);
    res->keep_alive(keep_alive && !server_->stopping);
    res->prepare_payload();
    Tcp(stream_).expires_after(server_->options.write_timeout);
    bhttp::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
      self->busy_ = false;
      if (ec || !res->keep_alive()) return self->Close();
      self->ReadHeader();
    });
  }

  void Close() {
    if (closed_ || handed_over_) return;
    closed_ = true;
    beast::error_code ec;
    // TLS: no close_notify round trip (a peer that stopped reading must not
    // hold the connection); the TCP shutdown ends it either way.
    Tcp(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    Tcp(stream_).socket().close(ec);
    server_->Remove(this);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  HttpServer::Impl* server_;
  std::string remote_;
  bool busy_ = false;
  bool closed_ = false;
  bool handed_over_ = false;
};

// OpenSSL's reason for the failure (and whether the key was another
// certificate's); empties OpenSSL's error queue.
std::string TlsError(const boost::system::system_error& e, bool* key_mismatch = nullptr) {
  std::string why = e.code().message();
  // Asio has taken the first error off the queue into the code.
  if (e.code().category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(e.code().value())) == X509_R_KEY_VALUES_MISMATCH && key_mismatch) {
    *key_mismatch = true;
  }
  while (const unsigned long err = ERR_get_error()) {
    if (ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH && key_mismatch) *key_mismatch = true;
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    why = buf;
  }
  return why;
}

}  // namespace

void HttpServer::Impl::LoadTls() {
  if (!options.tls()) return;
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    throw std::runtime_error("TLS needs both a certificate file and a key file (--tls-cert and --tls-key)");
  }
  tls.emplace(ssl::context::tls_server);
  auto& ctx = *tls;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  try {
    ctx.use_certificate_chain_file(options.tls_cert_file);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("TLS certificate " + options.tls_cert_file +
                             " cannot be used (a PEM certificate chain is expected): " + TlsError(e));
  }
  try {
    ctx.use_private_key_file(options.tls_key_file, ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    bool mismatch = false;
    const std::string why = TlsError(e, &mismatch);
    if (mismatch) {
      throw std::runtime_error("TLS key " + options.tls_key_file + " does not belong to the certificate " +
                               options.tls_cert_file);
    }
    throw std::runtime_error("TLS key " + options.tls_key_file +
                             " cannot be used (a PEM private key is expected): " + why);
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("TLS key " + options.tls_key_file + " does not belong to the certificate " +
                             options.tls_cert_file);
  }
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (!ec) {
      if (tls) {
        auto s = std::make_shared<Session<TlsStream>>(this, std::move(socket), *tls);
        Add(s);
        s->Run();
      } else {
        auto s = std::make_shared<Session<beast::tcp_stream>>(this, std::move(socket));
        Add(s);
        s->Run();
      }
    }
    Accept();
  });
}

void HttpServer::Impl::Add(const std::shared_ptr<Connection>& s) {
  std::lock_guard lock(mu);
  sessions[s.get()] = s;
}

void HttpServer::Impl::Remove(Connection* s) {
  std::lock_guard lock(mu);
  sessions.erase(s);
  if (stopping && sessions.empty()) {
    asio::post(control, [this] { grace_timer.cancel(); });
  }
}

HttpServer::HttpServer(HttpOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() {
  if (impl_->started) {
    Shutdown();
    Wait();
  }
}

uint16_t HttpServer::Start() {
  auto& o = impl_->options;
  impl_->LoadTls();
  beast::error_code ec;
  const auto address = asio::ip::make_address(o.host, ec);
  const std::string where = o.host + ":" + std::to_string(o.port);
  if (ec) throw std::runtime_error("cannot listen on " + where + ": not an IP address");
  const tcp::endpoint ep(address, o.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
  const uint16_t port = a.local_endpoint().port();
  impl_->Accept();
  impl_->started = true;
  // The grace timer keeps run() from returning before Shutdown().
  impl_->grace_timer.expires_at(asio::steady_timer::time_point::max());
  impl_->grace_timer.async_wait([](beast::error_code) {});
  for (int i = 0; i < std::max(1, o.threads); ++i) {
    impl_->threads.emplace_back([impl = impl_] { impl->ioc.run(); });
  }
  return port;
}

void HttpServer::Shutdown() {
  Impl* impl = impl_.get();  // alive until Wait() has joined the threads
  if (impl->stopping.exchange(true)) return;
  asio::post(impl->acceptor.get_executor(), [impl] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(impl->mu);
    for (auto& [p, w] : impl->sessions) {
      if (auto s = w.lock()) live.push_back(s);
    }
  }
  for (auto& s : live) s->Stop();
  asio::post(impl->control, [impl] {
    bool empty;
    {
      std::lock_guard lock(impl->mu);
      empty = impl->sessions.empty();
    }
    if (empty) {
      impl->grace_timer.cancel();
      return;
    }
    impl->grace_timer.expires_after(impl->options.shutdown_grace);
    impl->grace_timer.async_wait([impl](beast::error_code ec) {
      if (ec) return;  // every connection closed in time
      std::vector<std::shared_ptr<Connection>> left;
      {
        std::lock_guard lock(impl->mu);
        for (auto& [p, w] : impl->sessions) {
          if (auto s = w.lock()) left.push_back(s);
        }
      }
      for (auto& s : left) s->Cut();
    });
  });
}

void HttpServer::Wait() {
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
  impl_->started = false;
  // Handlers still queued (none expected) are destroyed with the io_context,
  // which the Impl owns: sessions they hold must not keep the Impl alive.
  std::lock_guard lock(impl_->mu);
  impl_->sessions.clear();
}

size_t HttpServer::open_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->sessions.size();
}

size_t HttpServer::open_websockets() const { return impl_->websockets.load(); }

}  // namespace mortise::server
