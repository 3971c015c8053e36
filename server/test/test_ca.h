// A private test CA in a directory: ca.pem, and server.pem/server.key for
// 127.0.0.1 (IP subjectAltName, serverAuth), from the uplink's PKI helpers.
#pragma once

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "mortise/uplink/pki.h"

namespace mortise::server::testing {

struct TestCa {
  std::string ca_file, cert_file, key_file;
  uplink::Credential ca, server;

  // Adds a test failure if OpenSSL refuses.
  explicit TestCa(const std::filesystem::path& dir, const std::string& name = "test") {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    std::string why;
    auto c = uplink::MakeCa({name + " CA", uplink::Usage::kCa, {}, {}, now - 60, now + 86400}, why);
    EXPECT_TRUE(c) << why;
    if (!c) return;
    ca = *c;
    auto s = uplink::Issue(ca, {"127.0.0.1", uplink::Usage::kBroker, {"localhost"}, {"127.0.0.1"}, now - 60,
                                now + 86400},
                           why);
    EXPECT_TRUE(s) << why;
    if (!s) return;
    server = *s;
    ca_file = (dir / (name + "-ca.pem")).string();
    cert_file = (dir / (name + "-server.pem")).string();
    key_file = (dir / (name + "-server.key")).string();
    std::ofstream(ca_file) << ca.cert_pem;
    std::ofstream(cert_file) << server.cert_pem;
    std::ofstream(key_file) << server.key_pem;
  }
};

}  // namespace mortise::server::testing
