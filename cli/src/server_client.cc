#include "server_client.h"

#include <optional>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
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

namespace {
std::atomic<bool> server_answer_read{false};
}  // namespace

bool ServerAnswerRead() { return server_answer_read; }

nlohmann::json HttpAnswer::Json() const {
  server_answer_read = true;
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

namespace {

// http:// is refused for anything but this machine: the session cookie and
// the password would cross the network in the clear.
bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a4{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

bool IsIpLiteral(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

std::string TlsErrorText() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "the connection closed during the TLS handshake";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

ServerClient::ServerClient(std::string url, std::chrono::milliseconds timeout, std::string ca_file)
    : ca_file_(std::move(ca_file)), timeout_(timeout) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  const char* const kForm = "Give it as https://HOST:PORT (or http://127.0.0.1:PORT on the server's own host).";
  size_t scheme_end = 0;
  if (url.starts_with("https://")) {
    tls_ = true;
    scheme_end = 8;
  } else if (url.starts_with("http://")) {
    scheme_end = 7;
  } else {
    throw Error(ExitCode::kBadInput, "\"" + url + "\" is not a server URL", kForm);
  }
  const std::string rest = url.substr(scheme_end);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() || rest.find('/') != std::string::npos)
    throw Error(ExitCode::kBadInput, "\"" + url + "\" is not a server URL", kForm);
  host_ = rest.substr(0, colon);
  if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']') host_ = host_.substr(1, host_.size() - 2);
  port_ = rest.substr(colon + 1);
  if (!tls_ && !IsLoopbackHost(host_))
    throw Error(ExitCode::kBadInput,
                "refusing plain http:// to " + host_ + ": your password and session would cross the network unencrypted",
                "Use https://" + rest + " (run mortise-server with --tls-cert/--tls-key), or reach it on its own host "
                "or through an SSH tunnel at http://127.0.0.1:PORT.");
  if (tls_ && ca_file_.empty()) {
    const char* env = std::getenv("MORTISE_SERVER_CA");
    if (env != nullptr) ca_file_ = env;
  }
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
  // With https://, TLS over the connected socket: the chain is verified
  // against the system's trust store or the private CA given (--ca,
  // MORTISE_SERVER_CA), and the certificate must name host_.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(nullptr, SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(nullptr, SSL_free);
  if (tls_) {
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw Error(ExitCode::kInternal, "cannot set up TLS: " + TlsErrorText());
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (!ca_file_.empty()) {
      if (SSL_CTX_load_verify_locations(ctx.get(), ca_file_.c_str(), nullptr) != 1)
        throw Error(ExitCode::kBadInput, "cannot read the CA certificate " + ca_file_,
                    "Give a PEM file with --ca FILE or MORTISE_SERVER_CA.");
    } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      throw Error(ExitCode::kInternal, "cannot load the system's trusted certificates");
    }
    ssl.reset(SSL_new(ctx.get()));
    if (!ssl || SSL_set_fd(ssl.get(), sock.get()) != 1) throw Error(ExitCode::kInternal, "cannot set up TLS");
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (IsIpLiteral(host_)) {
      if (X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str()) != 1) throw Error(ExitCode::kInternal, "cannot set up TLS");
    } else {
      if (SSL_set1_host(ssl.get(), host_.c_str()) != 1 || SSL_set_tlsext_host_name(ssl.get(), host_.c_str()) != 1)
        throw Error(ExitCode::kInternal, "cannot set up TLS");
    }
    if (SSL_connect(ssl.get()) != 1) {
      const long verdict = SSL_get_verify_result(ssl.get());
      if (verdict != X509_V_OK)
        throw Error(ExitCode::kVerification,
                    "the server " + url_ + " is not who it claims to be: its certificate does not verify (" +
                        X509_verify_cert_error_string(verdict) + ")",
                    ca_file_.empty() ? "If the server uses a private CA, give its certificate with --ca FILE or "
                                       "MORTISE_SERVER_CA."
                                     : "Check that " + ca_file_ + " is the CA that issued the server's certificate "
                                       "and that the URL names the host in it.");
      throw Error(ExitCode::kUnreachable, "cannot open TLS to the server " + url_ + " (" + TlsErrorText() + ")",
                  "Check that the URL is right and the server speaks TLS there.");
    }
  }
  const auto send_some = [&](const char* p, size_t n) -> ssize_t {
    if (tls_) return SSL_write(ssl.get(), p, static_cast<int>(std::min<size_t>(n, 1u << 30)));
    return ::send(sock.get(), p, n, MSG_NOSIGNAL);
  };
  const auto recv_some = [&](char* p, size_t n) -> ssize_t {
    if (!tls_) return ::recv(sock.get(), p, n, 0);
    const int r = SSL_read(ssl.get(), p, static_cast<int>(n));
    if (r > 0) return r;
    const int e = SSL_get_error(ssl.get(), r);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    // A server that closes without close_notify after a complete answer
    // (Connection: close) reads as the end; the HTTP framing below judges it.
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0) return 0;
    if (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return 0;
    if (errno == 0) errno = EIO;
    return -1;
  };
  const std::string payload = body.is_null() ? "" : body.dump();
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n" +
                    "User-Agent: mortise-cli\r\nAccept: application/json\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (!payload.empty()) req += "Content-Type: application/json\r\n";
  if (!payload.empty() || method != "GET") req += "Content-Length: " + std::to_string(payload.size()) + "\r\n";
  req += "\r\n" + payload;
  for (size_t sent = 0; sent < req.size();) {
    const ssize_t n = send_some(req.data() + sent, req.size() - sent);
    if (n <= 0) throw NoAnswerError(ExitCode::kUnreachable, "the server " + url_ + " closed the connection");
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[16384];
  for (;;) {
    errno = 0;
    ERR_clear_error();
    const ssize_t n = recv_some(buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw NoAnswerError(ExitCode::kUnreachable, "the server " + url_ + " did not answer in time", "Try again, or --timeout.");
    }
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > (64u << 20)) throw NoAnswerError(ExitCode::kVerification, "the server's answer is too large");
  }
  const size_t head_end = in.find("\r\n\r\n");
  if (!in.starts_with("HTTP/1.") || head_end == std::string::npos || in.size() < 12)
    throw NoAnswerError(ExitCode::kVerification, "the server's answer is not HTTP");
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
                              {"csrf", s.csrf},
                              {"ca", s.ca}};
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
  const std::string ca = j.contains("ca") && j["ca"].is_string() ? j["ca"].get<std::string>() : "";
  return ServerSession{j["url"], j.value("email", ""), j["token"], j["csrf"], ca};
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

HttpAnswer ServerClient::RequestRelayed(const std::string& method, const std::string& path, const nlohmann::json& body,
                                        const std::vector<std::string>& headers, const std::string& what,
                                        const std::string& hint) const {
  try {
    return Request(method, path, body, headers);
  } catch (const NoAnswerError& e) {
    throw Error(ExitCode::kUnreachable, std::string(e.what()) + " — the outcome of " + what + " is unknown", hint);
  }
}

nlohmann::json ExpectStatus(const HttpAnswer& a, int status, const std::string& doing) {
  if (a.status != status) FailServer(a, doing);
  return a.Json();
}

void FailMalformedAnswer(const std::string& what) {
  throw Error(ExitCode::kVerification, "the server's answer is malformed: " + what,
              "Check the server URL; the server may be broken or hostile (nothing it sent was used).");
}

namespace {

const char* TypeName(const nlohmann::json& v) { return v.type_name(); }

// The field, or nullptr when absent or null; the answer must be an object.
const nlohmann::json* AnswerField(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) FailMalformedAnswer(std::string("not an object (") + TypeName(j) + ")");
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

[[noreturn]] void FailFieldType(const std::string& key, const char* want, const nlohmann::json& got) {
  FailMalformedAnswer("\"" + key + "\" is not " + want + " (" + TypeName(got) + ")");
}

}  // namespace

std::string AnswerString(const nlohmann::json& j, const std::string& key, const std::string& fallback) {
  const nlohmann::json* v = AnswerField(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_string()) FailFieldType(key, "a string", *v);
  return v->get<std::string>();
}

std::optional<std::string> AnswerOptionalString(const nlohmann::json& j, const std::string& key) {
  const nlohmann::json* v = AnswerField(j, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) FailFieldType(key, "a string", *v);
  return v->get<std::string>();
}

nlohmann::json AnswerArray(const nlohmann::json& j, const std::string& key) {
  const nlohmann::json* v = AnswerField(j, key);
  if (v == nullptr) return nlohmann::json::array();
  if (!v->is_array()) FailFieldType(key, "an array", *v);
  return *v;
}

nlohmann::json AnswerObject(const nlohmann::json& j, const std::string& key) {
  const nlohmann::json* v = AnswerField(j, key);
  if (v == nullptr) return nlohmann::json::object();
  if (!v->is_object()) FailFieldType(key, "an object", *v);
  return *v;
}

std::vector<nlohmann::json> AllPages(const ServerClient& client, const ServerSession& s, const std::string& path,
                      const std::string& doing, int max_pages) {
  std::vector<nlohmann::json> out;
  std::string cursor;
  std::set<std::string> seen;
  for (int pages = 0;; ++pages) {
    if (pages == max_pages) {
      FailMalformedAnswer("the list goes on past " + std::to_string(max_pages) + " pages of " +
                          std::to_string(kListPageSize) + " while " + doing);
    }
    const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    const nlohmann::json page =
        ExpectStatus(client.Request("GET",
                                    path + sep + "limit=" + std::to_string(kListPageSize) +
                                        (cursor.empty() ? "" : "&cursor=" + cursor),
                                    nullptr, s.Headers()),
                     200, doing);
    const nlohmann::json& items = AnswerArray(page, "items");
    if (items.size() > static_cast<size_t>(kListPageSize)) {
      FailMalformedAnswer("a page holds " + std::to_string(items.size()) + " items, more than the " +
                          std::to_string(kListPageSize) + " asked for");
    }
    for (const auto& item : items) {
      if (!item.is_object()) FailMalformedAnswer("an item of \"items\" is not an object");
      out.push_back(item);
    }
    const std::optional<std::string> next = AnswerOptionalString(page, "next_cursor");
    if (!next) break;
    if (!IsCursor(*next)) FailMalformedAnswer("\"next_cursor\" is not a cursor");
    if (items.size() < static_cast<size_t>(kListPageSize)) {
      FailMalformedAnswer("a page that is not full gives a next cursor (pages that do not advance)");
    }
    if (!seen.insert(*next).second) FailMalformedAnswer("\"next_cursor\" was given before (the list goes in a circle)");
    cursor = *next;
  }
  return out;
}

bool IsCursor(const std::string& cursor) {
  if (cursor.empty() || cursor.size() > kMaxCursorLength) return false;
  for (const char c : cursor) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace mortise::cli
