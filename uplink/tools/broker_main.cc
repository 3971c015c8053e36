// mortise-broker: the demo's private broker (docs/uplink.md "The demo's
// broker").
//
//   mortise-broker [--port N] DIR
//                               makes a deployment in DIR (once), starts
//                               Mosquitto on 127.0.0.1 (port N, or a free
//                               one), prints
//                               "mortise-broker: listening on 127.0.0.1:PORT"
//                               and runs until SIGTERM/SIGINT; when DIR/crl.pem
//                               changes (the server rewrites it), applies it:
//                               the broker reloads the list and revoked
//                               clients connected now are disconnected
//                               (docs/uplink.md "Revocation")
//   mortise-broker issue DIR REQUEST.json DOOR_KEY_HEX OUT.crt
//                               the registration step by hand: issues a lock's
//                               certificate after its binding statement
//                               verifies against the door's public key
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "mortise/uplink/broker.h"
#include "mortise/uplink/hex.h"

using namespace mortise::uplink;

namespace {

int Issue(const std::string& dir, const std::string& request_path, const std::string& door_hex,
          const std::string& out) {
  std::string why;
  auto d = Deployment::Load(dir, why);
  std::ifstream in(request_path);
  std::stringstream text;
  text << in.rdbuf();
  auto request = d ? RequestFromJson(text.str(), why) : std::nullopt;
  std::array<uint8_t, mortise::crypto::kP256PublicKeySize> door{};
  if (!request || !FromHex(door_hex, door)) {
    std::fprintf(stderr, "mortise-broker: %s\n", why.empty() ? "the door key must be 130 hex digits" : why.c_str());
    return 2;
  }
  auto key = mortise::crypto::P256PublicKey::Import(door);
  if (!key.ok()) {
    std::fprintf(stderr, "mortise-broker: not a P-256 public key\n");
    return 2;
  }
  const int64_t now = time(nullptr);
  auto cert = IssueLockCertificate(d->ca(), *request, *key, now - 60, now + 365 * 86400, why);
  if (!cert) {
    std::fprintf(stderr, "mortise-broker: refused: %s\n", why.c_str());
    return 1;
  }
  std::ofstream(out) << *cert;
  std::printf("issued %s for lock %s\n", out.c_str(), LockUsername(request->lock_id).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  static const char kUsage[] =
      "usage: mortise-broker [--port N] DIR      the demo's broker: CA, certificates and ACL in DIR (made once),\n"
      "                                          Mosquitto on 127.0.0.1 (port N, or a free one) until Ctrl-C\n"
      "       mortise-broker issue DIR REQUEST.json DOOR_KEY_HEX OUT.crt\n"
      "                                          a lock's broker certificate from its request (docs/uplink.md)\n";
  if (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // --port N: a fixed port, so lockd's and the server's configurations stay
  // right across restarts; taken: refused, never another port.
  unsigned long port = 0;
  if (argc >= 2 && std::string(argv[1]) == "--port") {
    char* end = nullptr;
    port = argc >= 3 ? std::strtoul(argv[2], &end, 10) : 0;
    if (argc < 3 || *argv[2] == '\0' || *end != '\0' || port == 0 || port > 65535) {
      std::fprintf(stderr, "mortise-broker: --port: not a port number (1..65535): %s\n", argc >= 3 ? argv[2] : "");
      return 2;
    }
    argv += 2;
    argc -= 2;
  }
  // An option it does not know is refused, never taken for a directory name.
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') {
      std::fprintf(stderr, "mortise-broker: unknown option %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (port == 0 && argc == 6 && std::string(argv[1]) == "issue") return Issue(argv[2], argv[3], argv[4], argv[5]);
  if (argc != 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string dir = argv[1];
  mkdir(dir.c_str(), 0700);
  std::string why;
  auto d = Deployment::Load(dir, why);
  if (!d) d = Deployment::Create(dir, BrokerCert::kGood, time(nullptr), why);
  if (!d) {
    std::fprintf(stderr, "mortise-broker: %s\n", why.c_str());
    return 1;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  auto broker = Broker::Start(*d, why, static_cast<uint16_t>(port));
  if (!broker) {
    std::fprintf(stderr, "mortise-broker: %s\n", why.c_str());
    return 1;
  }
  if (port != 0 && broker->port() != port) {
    broker->Stop();
    std::fprintf(stderr, "mortise-broker: port %lu is taken (on 127.0.0.1)\n", port);
    return 1;
  }
  std::fprintf(stderr, "mortise-broker: listening on 127.0.0.1:%u (CA %s, server identity %s/server.crt)\n",
               broker->port(), d->ca_file().c_str(), dir.c_str());
  // The list is looked at once a second: a revocation reaches the broker
  // within about a second of the server writing it (rename: never half a file).
  auto stamp = [&d] {
    struct stat st{};
    if (stat(d->crl_file().c_str(), &st) != 0) return std::string();
    return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
           "." + std::to_string(st.st_mtim.tv_nsec);
  };
  std::string applied = stamp();
  const timespec second{1, 0};
  for (;;) {
    if (sigtimedwait(&mask, nullptr, &second) > 0) break;
    const std::string now = stamp();
    if (now == applied || now.empty()) continue;
    applied = now;
    const int n = broker->ApplyRevocations(why);
    if (n < 0)
      std::fprintf(stderr, "mortise-broker: %s\n", why.c_str());
    else
      std::fprintf(stderr, "mortise-broker: revocation list applied (%d identities disconnected)\n", n);
  }
  return broker->Stop() ? 0 : 1;
}
