// mortise-broker: the demo's private broker (docs/uplink.md "The demo's
// broker").
//
//   mortise-broker DIR          makes a deployment in DIR (once), starts
//                               Mosquitto on a free loopback port, prints
//                               "mortise-broker: listening on 127.0.0.1:PORT"
//                               and runs until SIGTERM/SIGINT
//   mortise-broker issue DIR REQUEST.json DOOR_KEY_HEX OUT.crt
//                               the registration step by hand: issues a lock's
//                               certificate after its binding statement
//                               verifies against the door's public key
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <cstdio>
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
  if (argc == 6 && std::string(argv[1]) == "issue") return Issue(argv[2], argv[3], argv[4], argv[5]);
  if (argc != 2) {
    std::fprintf(stderr, "usage: mortise-broker DIR | mortise-broker issue DIR REQUEST.json DOOR_KEY_HEX OUT.crt\n");
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
  auto broker = Broker::Start(*d, why);
  if (!broker) {
    std::fprintf(stderr, "mortise-broker: %s\n", why.c_str());
    return 1;
  }
  std::fprintf(stderr, "mortise-broker: listening on 127.0.0.1:%u (CA %s, server identity %s/server.crt)\n",
               broker->port(), d->ca_file().c_str(), dir.c_str());
  int sig = 0;
  sigwait(&mask, &sig);
  return broker->Stop() ? 0 : 1;
}
