#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

namespace mortise::server::testing {

std::optional<std::string> HttpResult::Header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return std::nullopt;
}

std::string HttpResult::ErrorCode() const {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].contains("code")) return j["error"]["code"];
  return "";
}

HttpConnection::HttpConnection(uint16_t port, const std::string& host) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  timeval tv{30, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) close(fd_);
}

bool HttpConnection::SendRaw(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool HttpConnection::Fill() {
  char buf[16384];
  const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) return false;
  buffer_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<HttpResult> HttpConnection::ReadResponse() {
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill()) return std::nullopt;
  }
  const std::string head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  HttpResult r;
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) return std::nullopt;
  r.status = std::stoi(status_line.substr(9, 3));
  size_t content_length = 0;
  while (line_end != std::string::npos) {
    const size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (name == "content-length") content_length = std::stoul(value);
    r.headers.emplace_back(name, value);
  }
  if (r.status >= 100 && r.status < 200) return r;
  while (buffer_.size() < content_length) {
    if (!Fill()) return std::nullopt;
  }
  r.body = buffer_.substr(0, content_length);
  buffer_.erase(0, content_length);
  return r;
}

bool HttpConnection::ReadEof() {
  if (!buffer_.empty()) return false;
  char c;
  const ssize_t n = ::recv(fd_, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

std::optional<HttpResult> HttpConnection::Send(const std::string& method, const std::string& path,
                                               const std::string& body, const std::vector<std::string>& headers) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "DELETE") {
    if (!body.empty()) req += "Content-Type: application/json\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  if (!SendRaw(req)) return std::nullopt;
  return ReadResponse();
}

std::optional<HttpResult> Browser::Call(const std::string& method, const std::string& path,
                                        const nlohmann::json& body, bool with_csrf) {
  HttpConnection c(port);
  std::vector<std::string> headers;
  if (!cookie.empty()) headers.push_back("Cookie: " + cookie);
  if (with_csrf && !csrf.empty()) headers.push_back("X-CSRF-Token: " + csrf);
  return c.Send(method, path, body.is_null() ? "" : body.dump(), headers);
}

Browser SignInBrowser(uint16_t port, const nlohmann::json& body) {
  HttpConnection c(port);
  const auto r = c.Send("POST", "/api/v1/sessions", body.dump());
  if (!r || r->status != 201) {
    ADD_FAILURE() << "sign-in failed: " << (r ? r->body : "no answer");
    return Browser{port, "", ""};
  }
  const std::string cookie = r->Header("set-cookie").value_or("");
  return Browser{port, cookie.substr(0, cookie.find(';')), r->Json().value("csrf_token", "")};
}

}  // namespace mortise::server::testing
