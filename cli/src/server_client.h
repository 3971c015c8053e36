// The CLI's side of mortise-server's HTTP API (docs/server.md): a small
// blocking HTTP/1.1 client (one request per connection; https:// with the
// server's certificate chain and host name verified by OpenSSL, plain
// http:// only to a loopback host), and
// the signed-in session kept between commands in
// <keyring directory>/server-session.json, mode 0600 (it is a bearer
// credential: whoever reads it acts as you on the server until it expires
// or you sign out everywhere).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "error.h"

namespace mortise::cli {

struct HttpAnswer {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The first header with this lower-case name, "" if none.
  std::string Header(const std::string& lower_name) const;
  // The value of cookie `name` from the Set-Cookie headers, "" if none.
  std::string SetCookie(const std::string& name) const;
  // The body as JSON (an empty object if it is not JSON).
  nlohmann::json Json() const;
  // error.code / error.message of the server's error shape ("" if none).
  std::string ErrorCode() const;
  std::string ErrorMessage() const;
};

// Thrown by ServerClient::Request once the request may have reached the
// server but no usable answer came back (the connection closed, timed out,
// or what came is not HTTP): for a relayed command the outcome is unknown.
class NoAnswerError : public Error {
 public:
  using Error::Error;
};

class ServerClient {
 public:
  // `url`: "https://HOST:PORT", or "http://HOST:PORT" for a loopback HOST
  // (127.0.0.0/8, ::1, localhost); a trailing '/' is dropped. Throws
  // Error(kBadInput) for any other form or a plain http:// to another host.
  // `ca_file`: a PEM file of the CA(s) to trust for https://; empty: the
  // file named by MORTISE_SERVER_CA, else the system's trust store.
  ServerClient(std::string url, std::chrono::milliseconds timeout, std::string ca_file = "");

  // Sends one request; `headers` as "Name: value". Throws
  // Error(kUnreachable) when the server cannot be reached or does not
  // answer within the timeout, Error(kVerification) for a malformed answer
  // or a server certificate that does not verify (chain or host name); from
  // the first byte of the request on, these are NoAnswerError.
  HttpAnswer Request(const std::string& method, const std::string& path, const nlohmann::json& body,
                     const std::vector<std::string>& headers) const;
  // As Request, for a request that relays commands to locks (a remote
  // command, a site lockdown): a NoAnswerError becomes Error(kUnreachable)
  // saying that the outcome of `what` is unknown, with `hint` — the server
  // may have relayed it and the lock run it, so it never reads as "it did
  // not run" (nor as a malformed answer, exit 6).
  HttpAnswer RequestRelayed(const std::string& method, const std::string& path, const nlohmann::json& body,
                            const std::vector<std::string>& headers, const std::string& what,
                            const std::string& hint) const;

  const std::string& url() const { return url_; }

 private:
  std::string url_, host_, port_, ca_file_;
  bool tls_ = false;
  std::chrono::milliseconds timeout_;
};

struct ServerSession {
  std::string url;
  std::string email;
  std::string token;  // the session cookie's value
  std::string csrf;   // the X-CSRF-Token for writes
  std::string ca;     // the CA file given at sign-in (--ca), "" for the default

  // A client for this session's server, trusting its CA.
  ServerClient Client(std::chrono::milliseconds timeout) const { return ServerClient(url, timeout, ca); }

  // Cookie and CSRF headers for a request.
  std::vector<std::string> Headers() const;
};

// <dir of keyring>/server-session.json
std::filesystem::path ServerSessionPath(const std::filesystem::path& keyring_path);
// Writes 0600 (temporary file, fsync, rename). Throws Error(kKeyring) on a
// failure or a directory others can write.
void SaveServerSession(const std::filesystem::path& path, const ServerSession& session);
// Throws Error(kUsage) when there is none ("run `mortise server login`"),
// Error(kKeyring) when it is unreadable or readable by others.
ServerSession LoadServerSession(const std::filesystem::path& path);

// A server answer other than the one expected, as the CLI's error: 401 is
// a keyring-class failure (sign in again), 5xx unreachable, anything else a
// refusal, with the server's message and code.
[[noreturn]] void FailServer(const HttpAnswer& a, const std::string& doing);
// The answer's JSON when its status is `status`; FailServer otherwise.
nlohmann::json ExpectStatus(const HttpAnswer& a, int status, const std::string& doing);
// Typed reads of a field of a server's answer (an object). A hostile or
// broken server may send any JSON: a field of another type than the API's
// is the server's fault, so these throw Error(kVerification) "the server's
// answer is malformed: \"KEY\" is not a string (...)" where nlohmann's own
// accessors would throw type_error (an internal error, exit 7). A field
// that is absent or null gives the fallback (an empty string, array or
// object; nullopt). `j` that is not an object: Error(kVerification) too.
std::string AnswerString(const nlohmann::json& j, const std::string& key, const std::string& fallback = "");
std::optional<std::string> AnswerOptionalString(const nlohmann::json& j, const std::string& key);
nlohmann::json AnswerArray(const nlohmann::json& j, const std::string& key);
nlohmann::json AnswerObject(const nlohmann::json& j, const std::string& key);
// Throws Error(kVerification) "the server's answer is malformed: <what>".
[[noreturn]] void FailMalformedAnswer(const std::string& what);
// True once this process has parsed a server's answer (HttpAnswer::Json).
// The CLI's last resort (app.cc): nlohmann's type_error / out_of_range
// escaping a command after that is a reader not written with the accessors
// above meeting a server's wrong type, and is reported as a malformed
// answer (exit 6), not as an internal error.
bool ServerAnswerRead();

// A cursor a server may hand back (`next_cursor`), safe to put in a URL as
// it is: 1..kMaxCursorLength letters, digits, '-', '_' or '.'. The CLI
// refuses any other (it would go into the request line unescaped).
inline constexpr size_t kMaxCursorLength = 64;
bool IsCursor(const std::string& cursor);

// Every item of a paged list (cursor pages of kListPageSize). Throws
// Error(kVerification) for an answer whose items are not objects, that
// holds more items than asked for, whose next_cursor is not a cursor
// (IsCursor), comes after a page that is not full (mortise-server gives one
// only then) or was given before, or that goes on past `max_pages` pages:
// a hostile server cannot keep the CLI asking, nor hide the end of a list
// behind a silent cut.
inline constexpr int kListPageSize = 100;
std::vector<nlohmann::json> AllPages(const ServerClient& client, const ServerSession& s, const std::string& path,
                                     const std::string& doing, int max_pages = 1000);

}  // namespace mortise::cli
