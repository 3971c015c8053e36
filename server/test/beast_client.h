// Test clients on Beast (the server's own listener is Beast too, but these
// speak only the wire): one HTTPS request verified against a test CA, and a
// blocking WebSocket client over plain TCP or TLS that can also be left
// unread (a slow consumer). Reads time out after 30 s as a safety net only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http_client.h"

namespace mortise::server::testing {

// One request over TLS 1.2+ to 127.0.0.1:port, the server's certificate
// verified against `ca_file` (PEM) for the IP address 127.0.0.1. nullopt
// with `why` when TLS or HTTP fails.
std::optional<HttpResult> HttpsRequest(uint16_t port, const std::string& ca_file, const std::string& method,
                                       const std::string& path, const std::string& body,
                                       const std::vector<std::string>& headers, std::string& why);

class WsClient {
 public:
  struct Impl;
  // Upgrade request to `path` with extra "Name: value" headers; `ca_file`
  // empty: plain TCP, else TLS verified against it. On refusal: nullptr,
  // `refused` holds the HTTP answer (status 0 if it never came), `why` says.
  static std::unique_ptr<WsClient> Connect(uint16_t port, const std::string& path,
                                           const std::vector<std::string>& headers, const std::string& ca_file,
                                           HttpResult& refused, std::string& why);
  ~WsClient();

  bool Write(const std::string& text);
  // The next text message; nullopt once closed (close_code()/close_reason()
  // then say how) or broken.
  std::optional<std::string> Read();
  uint16_t close_code() const;
  std::string close_reason() const;
  void Close();

 private:
  explicit WsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mortise::server::testing
