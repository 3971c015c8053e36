// A small blocking HTTP/1.1 client over a loopback TCP socket for the
// server's tests (raw bytes in and out, so tests can also send partial or
// malformed requests). Reads time out after 30 s as a safety net only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mortise::server::testing {

struct HttpResult {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::optional<std::string> Header(const std::string& lower_name) const;
  nlohmann::json Json() const { return nlohmann::json::parse(body); }
  std::string ErrorCode() const;  // error.code of the error shape, "" if none
};

class HttpConnection {
 public:
  explicit HttpConnection(uint16_t port, const std::string& host = "127.0.0.1");
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool SendRaw(const std::string& bytes);
  // One response (Content-Length bodies; a 1xx has none). nullopt: the
  // connection closed or broke first.
  std::optional<HttpResult> ReadResponse();
  // true when the server closed the connection (EOF) with nothing more sent.
  bool ReadEof();

  // Sends one request and reads its response; `headers` as "Name: value".
  std::optional<HttpResult> Send(const std::string& method, const std::string& path, const std::string& body = "",
                                 const std::vector<std::string>& headers = {});

 private:
  bool Fill();
  int fd_ = -1;
  std::string buffer_;
};

// A signed-in browser: keeps the session cookie and the CSRF token.
struct Browser {
  uint16_t port;
  std::string cookie;  // "mortise_session=..."
  std::string csrf;
  std::optional<HttpResult> Call(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr,
                                 bool with_csrf = true);
};

// Signs in (POST /api/v1/sessions with `body`) and keeps the cookie and the
// CSRF token; adds a test failure unless the answer is 201.
Browser SignInBrowser(uint16_t port, const nlohmann::json& body);

}  // namespace mortise::server::testing
