#include "server_client.h"

#include <optional>

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "error.h"

namespace mortise::cli {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

// A server's answers are a few levels deep; anything deeper (or not JSON) is
// not an answer of mortise-server. The depth is checked while parsing, so a
// hostile answer nested 200,000 deep never becomes a tree (A13).
constexpr int kMaxAnswerDepth = 32;

namespace {
// Parses an answer; nullopt when it is not JSON or nested too deep.
std::optional<nlohmann::json> ParseAnswer(const std::string& body) {
  bool too_deep = false;
  const nlohmann::json::parser_callback_t depth_check = [&too_deep](int depth, nlohmann::json::parse_event_t event,
                                                                    nlohmann::json&) {
    if (event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) {
      if (depth >= kMaxAnswerDepth) too_deep = true;
    }
    return !too_deep;
  };
  auto j = nlohmann::json::parse(body, depth_check, false);
  if (too_deep || j.is_discarded()) return std::nullopt;
  return j;
}
}  // namespace

nlohmann::json HttpAnswer::Json() const {
  std::optional<nlohmann::json> j = ParseAnswer(body);
  if (!j) {
    throw Error(ExitCode::kVerification, "the server's answer is not one mortise-server gives (malformed or nested too deep)",
                "Check the server URL; a proxy or another service may be answering.");
  }
  return *std::move(j);
}

std::string HttpAnswer::Header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

std::string HttpAnswer::SetCookie(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k != "set-cookie" || !v.starts_with(name + "=")) continue;
    const size_t end = v.find(';');
    return v.substr(name.size() + 1, end == std::string::npos ? std::string::npos : end - name.size() - 1);
  }
  return "";
}

std::string HttpAnswer::ErrorCode() const {
  const auto j = ParseAnswer(body).value_or(nlohmann::json::object());
  if (j.contains("error") && j["error"].is_object() && j["error"].contains("code") && j["error"]["code"].is_string())
    return j["error"]["code"];
  return "";
}

std::string HttpAnswer::ErrorMessage() const {
  const auto j = ParseAnswer(body).value_or(nlohmann::json::object());
  if (j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
      j["error"]["message"].is_string())
    return j["error"]["message"];
  return "HTTP " + std::to_string(status);
}

ServerClient::ServerClient(std::string url, std::chrono::milliseconds timeout) : timeout_(timeout) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.starts_with("https://"))
    throw Error(ExitCode::kUsage, "the CLI does not speak TLS to the server yet",
                "Reach the server over http:// on its host or through an SSH tunnel.");
  if (!url.starts_with("http://"))
    throw Error(ExitCode::kBadInput, "\"" + url + "\" is not a server URL", "Give it as http://HOST:PORT.");
  const std::string rest = url.substr(7);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() || rest.find('/') != std::string::npos)
    throw Error(ExitCode::kBadInput, "\"" + url + "\" is not a server URL", "Give it as http://HOST:PORT.");
  host_ = rest.substr(0, colon);
  if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']') host_ = host_.substr(1, host_.size() - 2);
  port_ = rest.substr(colon + 1);
  url_ = url;
}

HttpAnswer ServerClient::Request(const std::string& method, const std::string& path, const nlohmann::json& body,
                                 const std::vector<std::string>& headers) const {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &found) != 0 || found == nullptr)
    throw Error(ExitCode::kUnreachable, "cannot resolve the server " + url_, "Check the URL.");
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0)
    throw Error(ExitCode::kUnreachable, "cannot connect to the server " + url_ + " (" + std::strerror(errno) + ")",
                "Check that mortise-server runs and the URL is right.");
  Fd sock(fd);
  const std::string payload = body.is_null() ? "" : body.dump();
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n" +
                    "User-Agent: mortise-cli\r\nAccept: application/json\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (!payload.empty()) req += "Content-Type: application/json\r\n";
  if (!payload.empty() || method != "GET") req += "Content-Length: " + std::to_string(payload.size()) + "\r\n";
  req += "\r\n" + payload;
  for (size_t sent = 0; sent < req.size();) {
    const ssize_t n = ::send(sock.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw Error(ExitCode::kUnreachable, "the server " + url_ + " closed the connection");
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ExitCode::kUnreachable, "the server " + url_ + " did not answer in time", "Try again, or --timeout.");
    }
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > (64u << 20)) throw Error(ExitCode::kVerification, "the server's answer is too large");
  }
  const size_t head_end = in.find("\r\n\r\n");
  if (!in.starts_with("HTTP/1.") || head_end == std::string::npos || in.size() < 12)
    throw Error(ExitCode::kVerification, "the server's answer is not HTTP");
  HttpAnswer a;
  a.status = std::atoi(in.substr(9, 3).c_str());
  for (size_t line = in.find("\r\n") + 2; line < head_end;) {
    const size_t eol = in.find("\r\n", line);
    const std::string h = in.substr(line, eol - line);
    const size_t colon = h.find(':');
    if (colon != std::string::npos) {
      std::string name = h.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = colon + 1;
      while (v < h.size() && h[v] == ' ') ++v;
      a.headers.emplace_back(name, h.substr(v));
    }
    line = eol + 2;
  }
  a.body = in.substr(head_end + 4);
  return a;
}

std::vector<std::string> ServerSession::Headers() const {
  return {"Cookie: mortise_session=" + token, "X-CSRF-Token: " + csrf};
}

std::filesystem::path ServerSessionPath(const std::filesystem::path& keyring_path) {
  return keyring_path.parent_path() / "server-session.json";
}

void SaveServerSession(const std::filesystem::path& path, const ServerSession& s) {
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
    throw Error(ExitCode::kKeyring, "the directory " + dir.string() + " is not yours alone",
                "Keep the keyring (and the server session beside it) in a directory of your own, mode 700.");
  const nlohmann::json doc = {{"format", "mortise-server-session/1"},
                              {"url", s.url},
                              {"email", s.email},
                              {"token", s.token},
                              {"csrf", s.csrf}};
  const std::string text = doc.dump(2) + "\n";
  const std::string tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw Error(ExitCode::kKeyring, "cannot write " + tmp + " (" + std::strerror(errno) + ")");
  Fd f(fd);
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd) != 0)
    throw Error(ExitCode::kKeyring, "cannot write " + tmp + " (" + std::strerror(errno) + ")");
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw Error(ExitCode::kKeyring, "cannot write " + path.string() + " (" + std::strerror(errno) + ")");
}

ServerSession LoadServerSession(const std::filesystem::path& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    throw Error(ExitCode::kUsage, "not signed in to a server", "Run `mortise server login URL` first.");
  if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077))
    throw Error(ExitCode::kKeyring, path.string() + " is not a file of yours readable by you alone",
                "Delete it and run `mortise server login URL` again.");
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != "mortise-server-session/1" ||
      !j.contains("token") || !j["token"].is_string() || !j.contains("url") || !j["url"].is_string() ||
      !j.contains("csrf") || !j["csrf"].is_string())
    throw Error(ExitCode::kKeyring, path.string() + " is damaged", "Run `mortise server login URL` again.");
  return ServerSession{j["url"], j.value("email", ""), j["token"], j["csrf"]};
}

void FailServer(const HttpAnswer& a, const std::string& doing) {
  ExitCode code = ExitCode::kRefused;
  std::string hint;
  if (a.status == 401) {
    code = ExitCode::kKeyring;
    hint = "Sign in again with `mortise server login URL`.";
  }
  if (a.status >= 500) code = ExitCode::kUnreachable;
  throw Error(code, doing + ": " + a.ErrorMessage() + (a.ErrorCode().empty() ? "" : " (" + a.ErrorCode() + ")"), hint);
}

nlohmann::json ExpectStatus(const HttpAnswer& a, int status, const std::string& doing) {
  if (a.status != status) FailServer(a, doing);
  return a.Json();
}

std::vector<nlohmann::json> AllPages(const ServerClient& client, const ServerSession& s, const std::string& path,
                      const std::string& doing) {
  std::vector<nlohmann::json> out;
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    const nlohmann::json page = ExpectStatus(client.Request("GET", path + sep + "limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor),
                                            nullptr, s.Headers()),
                             200, doing);
    for (const auto& item : page.value("items", nlohmann::json::array())) out.push_back(item);
    if (!page.contains("next_cursor") || !page["next_cursor"].is_string()) break;
    cursor = page["next_cursor"];
  }
  return out;
}

}  // namespace mortise::cli
