// `mortise unlock|lock|unlatch|status` through mortise-server, for a lock
// not reachable locally (or with --via-server). The envelope is still built
// and signed here, with this device's key; the server relays it over the
// lock's MQTT uplink and hands back the lock's answer, which this device
// verifies against the lock key it pinned (the server's own verdict is not
// trusted). The door a lock is on is remembered in the keyring's entry for
// the lock (`extra.server`: url, org, door) by `mortise server register`.
#include <ctime>
#include <fstream>
#include <sstream>

#include "base64url.h"
#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "refusal.h"
#include "server_client.h"
#include "mortise/protocol/remote.h"

namespace mortise::cli {

using nlohmann::json;

std::optional<ServerDoorRef> ServerDoorOf(const LockEntry& lock) {
  const auto it = lock.extra.find("server");
  if (it == lock.extra.end() || !it->is_object()) return std::nullopt;
  ServerDoorRef r{it->value("url", ""), it->value("org", ""), it->value("door", "")};
  if (r.url.empty() || r.org.empty() || r.door.empty()) return std::nullopt;
  return r;
}

void RememberServerDoor(LockEntry& lock, const ServerDoorRef& ref) {
  lock.extra["server"] = {{"url", ref.url}, {"org", ref.org}, {"door", ref.door}};
}

bool RegisteredOnServer(Context& ctx) {
  try {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    return ServerDoorOf(ctx.SelectLock(keyring)).has_value();
  } catch (const Error&) {
    return false;
  }
}

namespace {

struct Relay {
  ServerDoorRef door;
  ServerSession session;
};

// The door of the selected lock on the server this device is signed in to.
Relay RelayFor(Context& ctx, const LockEntry& lock) {
  const auto door = ServerDoorOf(lock);
  if (!door) {
    throw Error(ExitCode::kUsage, "lock '" + lock.name + "' is not registered with a server",
                "Register it once: mortise server register " + lock.name + " --org ORG");
  }
  ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  if (s.url != door->url) {
    throw Error(ExitCode::kUsage,
                "lock '" + lock.name + "' is registered on " + door->url + ", but you are signed in to " + s.url,
                "Sign in there: mortise server login " + door->url);
  }
  return Relay{*door, std::move(s)};
}

std::string DoorPath(const Relay& r) { return "/api/v1/orgs/" + r.door.org + "/doors/" + r.door.door; }

}  // namespace

SignedRemote::SignedRemote(Context& ctx, const crypto::P256KeyPair& key, const LockEntry& lock, uint32_t counter,
                           protocol::Command command, int64_t value)
    : client(key, lock.chain, lock.LockKey(), ctx.drbg()) {
  std::vector<uint8_t> token;
  const std::string token_hex = lock.extra.value("revalidation_token", std::string());
  if (!token_hex.empty() && FromHex(token_hex, token) && !client.set_revalidation(token).ok()) {
    throw Error(ExitCode::kKeyring, "the revalidation token stored for this lock is malformed");
  }
  protocol::CommandRequest request;
  request.command = command;
  request.value = value;
  // The lock's clock is not readable from here; the lock keeps it right
  // while online. A few seconds of margin under the 30 s the lock allows.
  const int64_t expires_at = ctx.Now() + protocol::kMaxRemoteLifetimeS - 5;
  envelope.resize(protocol::kMaxRemoteMessageSize);
  const Result<size_t> n = client.Build(request, counter, expires_at, envelope);
  if (!n.ok()) throw Error(ExitCode::kBadInput, "cannot build the remote command (too long?)");
  envelope.resize(*n);
}

int OperateViaServer(Context& ctx, protocol::Command command, int64_t value, const char* verb, const char* done) {
  std::optional<crypto::P256KeyPair> key;
  LockEntry lock;
  uint32_t counter = 0;
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    LockEntry& entry = ctx.SelectLock(keyring);
    RelayFor(ctx, entry);  // before a counter is spent
    key.emplace(keyring.content().GetIdentity(entry.identity).KeyPair());
    counter = entry.NextRemoteCounter();
    keyring.Save();  // spent before the envelope leaves
    lock = entry;
  }
  const Relay relay = RelayFor(ctx, lock);
  SignedRemote signed_remote(ctx, *key, lock, counter, command, value);
  protocol::RemoteClient& client = signed_remote.client;
  const std::vector<uint8_t>& envelope = signed_remote.envelope;

  const ServerClient server = relay.session.Client(ctx.timeout() + std::chrono::seconds(15));
  const HttpAnswer a = server.Request("POST", DoorPath(relay) + "/remote", {{"envelope", Base64UrlEncode(envelope)}},
                                      relay.session.Headers());
  const std::string what = std::string("the remote ") + verb + " through " + relay.session.url;
  if (a.status == 503 && a.ErrorCode() == "lock_offline") {
    throw Error(ExitCode::kUnreachable, "lock offline: the server has no connection to lock '" + lock.name +
                                            "'; nothing was sent",
                "Try again when the lock is online (mortise status --via-server).");
  }
  if (a.status == 504) {
    throw Error(ExitCode::kUnreachable, "no answer in time — the outcome of " + what + " is unknown",
                "Check with mortise status once the command's 30 s have passed.");
  }
  if (a.status == 502) {
    throw Error(ExitCode::kVerification,
                "the server relayed an answer the lock did not sign for this command — the outcome is unknown",
                "A relay may be lying; check with mortise status.");
  }
  if (a.status == 401) throw Error(ExitCode::kKeyring, what + ": not signed in", "mortise server login " + relay.session.url);
  if (a.status != 200) {
    throw Error(a.status >= 500 ? ExitCode::kUnreachable : ExitCode::kRefused,
                what + ": " + a.ErrorMessage() + (a.ErrorCode().empty() ? "" : " (" + a.ErrorCode() + ")"));
  }
  // The answer is checked here, against the lock key pinned in the keyring:
  // the server's "verdict" is informative only.
  const json body = a.Json();
  const auto result = Base64UrlDecode(body.value("result", std::string()));
  if (!result) throw Error(ExitCode::kVerification, "the server's answer carries no remote result");
  const Result<protocol::RemoteOutcome> outcome = client.Verify(*result);
  if (!outcome.ok()) {
    throw Error(ExitCode::kVerification, "the answer to the remote command is not signed by the lock or not about it",
                "A relay may be lying; the command may or may not have run.");
  }
  CheckRemoteOutcome(*outcome, verb, nullptr);
  ctx.out().Text(std::string(done) + " (lock-signed answer verified; relayed by " + relay.session.url + ")\n");
  ctx.out().Json({{"operation", verb}, {"state", "done"}, {"remote", true}, {"via_server", relay.session.url}});
  return 0;
}

int StatusViaServer(Context& ctx) {
  LockEntry lock;
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    lock = ctx.SelectLock(keyring);
  }
  const Relay relay = RelayFor(ctx, lock);
  const ServerClient server = relay.session.Client(ctx.timeout());
  const HttpAnswer a = server.Request("GET", DoorPath(relay) + "/state", nullptr, relay.session.Headers());
  if (a.status != 200) {
    throw Error(a.status >= 500 ? ExitCode::kUnreachable : ExitCode::kRefused,
                "the lock's state from " + relay.session.url + ": " + a.ErrorMessage() +
                    (a.ErrorCode().empty() ? "" : " (" + a.ErrorCode() + ")"));
  }
  const json st = a.Json().value("state", json::object());
  const auto text = [&](const char* k) {
    const auto it = st.find(k);
    return it != st.end() && it->is_string() ? it->get<std::string>() : std::string("unknown");
  };
  const bool online = st.value("online", false);
  std::string out = "lock '" + lock.name + "' through " + relay.session.url + " (as the lock last published it)\n";
  out += "  online:   " + std::string(online ? "yes" : "no — lock offline") + "\n";
  out += "  bolt:     " + text("bolt") + "\n";
  out += "  door:     " + text("door") + "\n";
  out += "  mode:     " + text("mode") + "\n";
  const auto battery = st.find("battery");
  out += "  battery:  " + (battery != st.end() && battery->is_number() ? std::to_string(battery->get<int>()) + "%" : "unknown") + "\n";
  for (const auto& alarm : st.value("alarms", json::array())) {
    if (alarm.is_string()) out += "  alarm:    " + alarm.get<std::string>() + "\n";
  }
  ctx.out().Text(out);
  ctx.out().Json({{"lock", lock.name}, {"via_server", relay.session.url}, {"state", st}});
  return 0;
}

int CmdServerUplinkCert(Context& ctx, const ServerUplinkCertOptions& o) {
  std::ifstream in(o.request);
  if (!in) throw Error(ExitCode::kBadInput, "cannot read " + o.request);
  std::stringstream text;
  text << in.rdbuf();
  const json request = json::parse(text.str(), nullptr, false);
  if (!request.is_object() || !request.contains("lock_id") || !request["lock_id"].is_string()) {
    throw Error(ExitCode::kBadInput, o.request + " is not a lock's uplink request (JSON with lock_id, csr, binding)");
  }
  // The lock the request names, in this keyring, registered on a server.
  LockEntry lock;
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    const std::string wanted = request["lock_id"].get<std::string>();
    const LockEntry* found = nullptr;
    for (const auto& l : keyring.content().locks()) {
      if (ToHex(l.lock_id) == wanted) found = &l;
    }
    if (!found) throw Error(ExitCode::kUsage, "the request is for lock " + wanted + ", which is not in your keyring");
    lock = *found;
  }
  const Relay relay = RelayFor(ctx, lock);
  const ServerClient server = relay.session.Client(ctx.timeout());
  const HttpAnswer a =
      server.Request("POST", DoorPath(relay) + "/uplink-certificate", request, relay.session.Headers());
  if (a.status != 201) {
    throw Error(a.status >= 500 ? ExitCode::kUnreachable : ExitCode::kRefused,
                "the server issued no certificate: " + a.ErrorMessage() +
                    (a.ErrorCode().empty() ? "" : " (" + a.ErrorCode() + ")"));
  }
  const std::string pem = a.Json().value("certificate", std::string());
  if (pem.rfind("-----BEGIN CERTIFICATE-----", 0) != 0) throw Error(ExitCode::kVerification, "the server's answer is not a certificate");
  std::ofstream out(o.out, std::ios::trunc);
  out << pem;
  out.close();
  if (!out) throw Error(ExitCode::kBadInput, "cannot write " + o.out);
  ctx.out().Text("Broker certificate for lock '" + lock.name + "' written to " + o.out + ".\n");
  ctx.out().Json({{"lock", lock.name}, {"certificate", o.out}});
  return 0;
}

}  // namespace mortise::cli
