#include "http_server.h"

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mortise::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class Session;

struct HttpServer::Impl {
  HttpOptions options;
  Handler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  // The grace timer lives on its own strand: Shutdown() and Remove() touch it
  // from different threads.
  asio::strand<asio::io_context::executor_type> control{asio::make_strand(ioc)};
  asio::steady_timer grace_timer{control};
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  bool started = false;

  mutable std::mutex mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  Impl(HttpOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}
  void Accept();
  void Add(const std::shared_ptr<Session>& s);
  void Remove(Session* s);
};

// One connection. Every step runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // `server` outlives every handler that runs (HttpServer joins its threads
  // before the Impl goes); a Session never owns it, so handlers left in the
  // io_context at destruction cannot keep the Impl alive in a cycle.
  Session(tcp::socket socket, HttpServer::Impl* server) : stream_(std::move(socket)), server_(server) {}

  void Run() {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Shutdown: an idle connection (no request header received) is closed now;
  // a busy one closes after its response.
  void Stop() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) {
        beast::error_code ec;
        self->stream_.socket().cancel(ec);
      }
    });
  }
  // Grace period over: cut.
  void Cut() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

 private:
  void ReadHeader() {
    if (server_->stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.header_limit_bytes));
    parser_->body_limit(server_->options.body_limit_bytes);
    stream_.expires_after(server_->options.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      return WriteError(431, "header_too_large",
                        "The request header is larger than the server accepts (http.header_limit_bytes = " +
                            std::to_string(server_->options.header_limit_bytes) + "); send fewer or shorter headers.");
    }
    if (ec == bhttp::error::body_limit) return BodyTooLarge();
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return Close();
    }
    if (ec) return WriteError(400, "bad_request", "The request is not valid HTTP/1.1: " + ec.message() + ".");
    busy_ = true;
    const auto& h = parser_->get();
    const auto expect = h[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, h.version());
      stream_.expires_after(server_->options.write_timeout);
      bhttp::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(server_->options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
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
    r.body = std::move(req.body());
    r.remote_address = remote_;
    Response out;
    try {
      out = server_->handler(r);
    } catch (const std::exception&) {
      out = ErrorResponse(500, "internal", "The server failed to handle the request; it has been logged.");
    }
    Send(std::move(out), req.version(), req.keep_alive());
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
    stream_.expires_after(server_->options.write_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      self->busy_ = false;
      if (ec || !res->keep_alive()) return self->Close();
      self->ReadHeader();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    server_->Remove(this);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  HttpServer::Impl* server_;
  std::string remote_;
  bool busy_ = false;
  bool closed_ = false;
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (!ec) {
      auto s = std::make_shared<Session>(std::move(socket), this);
      Add(s);
      s->Run();
    }
    Accept();
  });
}

void HttpServer::Impl::Add(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(mu);
  sessions[s.get()] = s;
}

void HttpServer::Impl::Remove(Session* s) {
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
  std::vector<std::shared_ptr<Session>> live;
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
      std::vector<std::shared_ptr<Session>> left;
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

}  // namespace mortise::server
