// A private Mosquitto 2 broker for tests and the demo: a deployment (CA,
// broker certificate, the server's client certificate, configuration, ACL)
// written to a directory, and the broker process started on a free
// loopback port and stopped with its owner.
//
// What the configuration promises (docs/uplink.md "The broker"): one
// listener, declared explicitly on 127.0.0.1, TLS only (1.2+), MQTT as the
// protocol, client certificates required and from the deployment's CA, the
// certificate's CN as the username, no anonymous clients, the ACL of
// AclText(); no persistence (tests start clean).
//
// Mosquitto cannot bind port 0: Start picks a free port, and picks another
// when the broker reports the address in use (a race with another process).
// The listener loads the deployment's CRL (dir/crl.pem, `crlfile`): a
// revoked client certificate fails the TLS handshake (docs/uplink.md
// "Revocation"); ApplyRevocations makes a running broker take a new list
// and disconnects the revoked clients connected now.
// Readiness is a line in the broker's log ("running"), waited for with a
// bound, then (with a good certificate) a real TLS connection as the server.
// Run as root, Mosquitto drops to the user named by `user`: the
// configuration names the user that runs the harness, so it keeps reading
// the files in the directory it was given (docs/uplink.md).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "mortise/uplink/mqtt_client.h"
#include "mortise/uplink/pki.h"

namespace mortise::uplink {

// The broker's certificate (A11: every kind but kGood must be refused by
// every client of the project).
enum class BrokerCert { kGood, kSelfSigned, kExpired, kWrongHost, kWrongCa };

// The ACL (Mosquitto's acl_file syntax): the server reads every lock's
// state, log, up and online topics and writes every down topic; each lock
// (`pattern` with %u, its username = its lock id) writes its own state,
// log, up and online topics and reads its own down topic. Nothing else is
// granted, so wildcards (`#`, `+`) reach nothing beyond these.
std::string AclText();

// The mosquitto.conf of a deployment in `dir` listening on 127.0.0.1:port,
// run as `user`.
std::string ConfigText(const std::string& dir, uint16_t port, const std::string& user);

class Deployment {
 public:
  // Writes dir/ca.crt, ca.key, broker.crt, broker.key, server.crt,
  // server.key, acl and an empty crl.pem signed by the CA (keys 0600). `now`: UTC seconds, the start of every
  // certificate's window (kExpired: a window that ended a day before).
  static std::optional<Deployment> Create(const std::string& dir, BrokerCert kind, int64_t now, std::string& why);
  // Reads a deployment Create wrote (the demo's second start); writes an
  // empty crl.pem when it has none (a deployment older than revocation).
  static std::optional<Deployment> Load(const std::string& dir, std::string& why);

  const std::string& dir() const { return dir_; }
  const Credential& ca() const { return ca_; }
  std::string ca_file() const { return dir_ + "/ca.crt"; }
  // The revocation list the broker loads; the server rewrites it
  // ([uplink] crl_file) and the broker's wrapper applies it.
  std::string crl_file() const { return dir_ + "/crl.pem"; }
  // The server's client identity (CN kServerUsername).
  TlsFiles server_files() const { return {ca_file(), dir_ + "/server.crt", dir_ + "/server.key"}; }
  // Writes `name`.crt/.key: a client certificate with CN `cn` from this
  // deployment's CA, valid from `now` for a day (tests: a stranger).
  std::optional<TlsFiles> IssueClient(const std::string& name, const std::string& cn, int64_t now,
                                      std::string& why) const;

 private:
  std::string dir_;
  Credential ca_;
};

class Broker {
 public:
  // Starts mosquitto on a free port of 127.0.0.1 (up to 20 ports tried)
  // and waits (bounded) until it runs. nullptr with why (and the broker's
  // log) otherwise. `first_port` (tests): the port to try first.
  static std::unique_ptr<Broker> Start(const Deployment& deployment, std::string& why, uint16_t first_port = 0);
  // Stops it (SIGTERM, then waits).
  ~Broker();

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Stops (SIGTERM) and waits, at most 10 s before SIGKILL. True: it
  // exited on SIGTERM.
  bool Stop();
  // Starts it again on the same port (a broker restart). False with why.
  bool Restart(std::string& why);
  // Its log so far (stderr of every run).
  std::string log() const;
  // A client of this broker with `tls` (host 127.0.0.1, this port).
  ClientOptions Client(const TlsFiles& tls) const;

  // Applies the deployment's crl.pem as it is now (docs/uplink.md
  // "Revocation"): checks it (VerifyCrl: signed by the deployment's CA, its
  // comment lines name exactly its serials; otherwise nothing is reloaded
  // and -1 with why), makes Mosquitto reload it (SIGHUP: Mosquitto 2.0
  // re-reads `crlfile` into a new TLS context for new connections, and
  // re-checks no connection open now), then disconnects each identity with
  // a serial not applied before: it connects once under that identity with
  // a certificate it issues for 5 minutes (never written anywhere but a
  // 0600 file it removes), so the broker's session takeover closes the
  // revoked client's connection (MQTT v5 reason 0x8E), and disconnects.
  // Whoever held the revoked certificate cannot come back; a client of the
  // same identity with a certificate still valid (a re-issued lock)
  // reconnects. Clients of other identities are not touched. Returns the
  // identities disconnected, -1 with why on failure.
  int ApplyRevocations(std::string& why);

 private:
  Broker(const Deployment& d) : deployment_(d) {}
  // Starts on port_ and waits. 1: running; 0: the port was taken; -1: failed.
  int Launch(std::string& why);

  // Sends SIGHUP and waits (bounded) for the broker's "Reloading config."
  // line: its main loop reloads before it serves another connection.
  bool Reload(std::string& why);
  // One connection under `identity` and a DISCONNECT (ApplyRevocations).
  bool TakeOver(const std::string& identity, std::string& why);

  Deployment deployment_;
  std::set<std::string> applied_serials_;  // revoked serials already disconnected
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// A fresh 0700 directory under $TMPDIR (or /tmp); "" with why on failure.
std::string MakeTempDir(const std::string& prefix, std::string& why);

}  // namespace mortise::uplink
