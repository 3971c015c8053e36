#include "beast_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace mortise::server::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kSafetyNet = std::chrono::seconds(30);

std::unique_ptr<ssl::context> ClientContext(const std::string& ca_file) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_verify_mode(ssl::verify_peer);
  ctx->load_verify_file(ca_file);
  return ctx;
}

bool StartTls(beast::ssl_stream<beast::tcp_stream>& s, std::string& why) {
  // The certificate must name 127.0.0.1 (an IP subjectAltName).
  X509_VERIFY_PARAM* param = SSL_get0_param(s.native_handle());
  X509_VERIFY_PARAM_set1_ip_asc(param, "127.0.0.1");
  beast::error_code ec;
  s.handshake(ssl::stream_base::client, ec);
  if (ec) why = "TLS handshake: " + ec.message();
  return !ec;
}

template <class Body>
void AddHeaders(bhttp::request<Body>& req, const std::vector<std::string>& headers) {
  for (const auto& h : headers) {
    const size_t colon = h.find(':');
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    req.set(h.substr(0, colon), value);
  }
}

HttpResult FromBeast(const bhttp::response<bhttp::string_body>& res) {
  HttpResult r;
  r.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(name, std::string(f.value()));
  }
  r.body = res.body();
  return r;
}

}  // namespace

std::optional<HttpResult> HttpsRequest(uint16_t port, const std::string& ca_file, const std::string& method,
                                       const std::string& path, const std::string& body,
                                       const std::vector<std::string>& headers, std::string& why) {
  try {
    asio::io_context ioc;
    auto ctx = ClientContext(ca_file);
    beast::ssl_stream<beast::tcp_stream> s(ioc, *ctx);
    s.next_layer().expires_after(kSafetyNet);
    s.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    if (!StartTls(s, why)) return std::nullopt;
    bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), path, 11);
    req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
    AddHeaders(req, headers);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(s, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    return FromBeast(res);
  } catch (const std::exception& e) {
    why = e.what();
    return std::nullopt;
  }
}

struct WsClient::Impl {
  virtual ~Impl() = default;
  virtual void Write(const std::string& text) = 0;
  virtual std::optional<std::string> Read() = 0;
  virtual websocket::close_reason Reason() = 0;
  virtual void Close() = 0;
};

namespace {

template <class Next>
struct WsImpl final : WsClient::Impl {
  asio::io_context ioc;
  std::unique_ptr<ssl::context> ctx;
  std::optional<websocket::stream<Next>> ws;

  void Write(const std::string& text) override {
    ws->text(true);
    ws->write(asio::buffer(text));
  }
  std::optional<std::string> Read() override {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws->read(buf, ec);
    if (ec) return std::nullopt;
    return beast::buffers_to_string(buf.cdata());
  }
  websocket::close_reason Reason() override { return ws->reason(); }
  void Close() override {
    beast::error_code ec;
    ws->close(websocket::close_code::normal, ec);
  }
};

}  // namespace

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WsClient::~WsClient() = default;

std::unique_ptr<WsClient> WsClient::Connect(uint16_t port, const std::string& path,
                                            const std::vector<std::string>& headers, const std::string& ca_file,
                                            HttpResult& refused, std::string& why) {
  refused = HttpResult{};
  auto handshake = [&](auto& ws) -> bool {
    websocket::response_type res;
    beast::error_code ec;
    ws.set_option(websocket::stream_base::decorator(
        [&headers](websocket::request_type& req) { AddHeaders(req, headers); }));
    ws.handshake(res, "127.0.0.1:" + std::to_string(port), path, ec);
    if (ec) {
      refused = FromBeast(res);
      why = "WebSocket handshake: " + ec.message();
      return false;
    }
    return true;
  };
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  try {
    if (ca_file.empty()) {
      auto impl = std::make_unique<WsImpl<beast::tcp_stream>>();
      impl->ws.emplace(impl->ioc);
      impl->ws->next_layer().expires_after(kSafetyNet);
      impl->ws->next_layer().connect(ep);
      if (!handshake(*impl->ws)) return nullptr;
      impl->ws->next_layer().expires_never();
      return std::unique_ptr<WsClient>(new WsClient(std::move(impl)));
    }
    auto impl = std::make_unique<WsImpl<beast::ssl_stream<beast::tcp_stream>>>();
    impl->ctx = ClientContext(ca_file);
    impl->ws.emplace(impl->ioc, *impl->ctx);
    auto& tls = impl->ws->next_layer();
    tls.next_layer().expires_after(kSafetyNet);
    tls.next_layer().connect(ep);
    if (!StartTls(tls, why)) return nullptr;
    if (!handshake(*impl->ws)) return nullptr;
    tls.next_layer().expires_never();
    return std::unique_ptr<WsClient>(new WsClient(std::move(impl)));
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
}

bool WsClient::Write(const std::string& text) {
  try {
    impl_->Write(text);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<std::string> WsClient::Read() { return impl_->Read(); }
uint16_t WsClient::close_code() const { return static_cast<uint16_t>(impl_->Reason().code); }
std::string WsClient::close_reason() const { return std::string(impl_->Reason().reason.data(), impl_->Reason().reason.size()); }
void WsClient::Close() { impl_->Close(); }

}  // namespace mortise::server::testing
