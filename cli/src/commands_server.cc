// `mortise server login|doors|register`: the CLI as a client of
// mortise-server. The server stores and relays; registering a door proves
// to it that this keyring holds the lock's owner key, by signing the
// server's one-time challenge bound to the organisation and the lock
// (server/src/door_registration.h defines the bytes once for both sides).
#include <cstdlib>
#include <sstream>

#include "commands.h"
#include "door_registration.h"
#include "error.h"
#include "key_string.h"
#include "log_text.h"
#include "mortise/dljson/event_json.h"
#include "mortise/store/audit_log.h"
#include "output.h"
#include "passphrase.h"
#include "server_client.h"

namespace mortise::cli {
namespace {

using nlohmann::json;

[[noreturn]] void Fail(const HttpAnswer& a, const std::string& doing) {
  ExitCode code = ExitCode::kRefused;
  std::string hint;
  if (a.status == 401) {
    code = ExitCode::kKeyring;
    hint = "Sign in again with `mortise server login URL`.";
  }
  if (a.status >= 500) code = ExitCode::kUnreachable;
  throw Error(code, doing + ": " + a.ErrorMessage() + (a.ErrorCode().empty() ? "" : " (" + a.ErrorCode() + ")"), hint);
}

json Expect(const HttpAnswer& a, int status, const std::string& doing) {
  if (a.status != status) Fail(a, doing);
  return a.Json();
}

// Every item of a paged list.
std::vector<json> All(const ServerClient& client, const ServerSession& s, const std::string& path,
                      const std::string& doing) {
  std::vector<json> out;
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    const json page = Expect(client.Request("GET", path + sep + "limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor),
                                            nullptr, s.Headers()),
                             200, doing);
    for (const auto& item : page.value("items", json::array())) out.push_back(item);
    if (!page.contains("next_cursor") || !page["next_cursor"].is_string()) break;
    cursor = page["next_cursor"];
  }
  return out;
}

std::string SecretFromEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

int CmdServerLogin(Context& ctx, const ServerLoginOptions& o) {
  ServerClient client(o.url, ctx.timeout());
  std::string email = o.email;
  if (email.empty()) {
    PassphraseSource tty;
    tty.use_env = false;
    email = ReadPassphrase(tty, "Email: ", false).str();
  }
  std::string password = SecretFromEnv("MORTISE_SERVER_PASSWORD");
  if (o.password_fd >= 0) {
    password = ReadLineFromFd(o.password_fd).str();
  } else if (password.empty()) {
    PassphraseSource tty;
    tty.use_env = false;
    password = ReadPassphrase(tty, "Password for " + email + ": ", false).str();
  }
  json body = {{"email", email}, {"password", password}};
  std::string totp = o.totp.empty() ? SecretFromEnv("MORTISE_SERVER_TOTP") : o.totp;
  if (!totp.empty()) body["totp_code"] = totp;
  HttpAnswer a = client.Request("POST", "/api/v1/sessions", body, {});
  if (a.status == 401 && a.ErrorCode() == "second_factor_required") {
    PassphraseSource tty;
    tty.use_env = false;
    try {
      body["totp_code"] = ReadPassphrase(tty, "Two-factor code: ", false).str();
    } catch (const Error&) {
      throw Error(ExitCode::kKeyring, "the account needs its two-factor code (second_factor_required)",
                  "Give it with --totp CODE or MORTISE_SERVER_TOTP, or run the command on a terminal.");
    }
    a = client.Request("POST", "/api/v1/sessions", body, {});
  }
  const json j = Expect(a, 201, "signing in to " + client.url());
  // The session token comes as the browser's cookie; the CLI keeps it.
  const std::string token = a.SetCookie("mortise_session");
  if (token.empty() || !j.contains("csrf_token") || !j["csrf_token"].is_string())
    throw Error(ExitCode::kVerification, "the server's sign-in answer has no session");
  ServerSession s{client.url(), email, token, j["csrf_token"]};
  const auto path = ServerSessionPath(ctx.KeyringPath());
  SaveServerSession(path, s);
  ctx.out().Text("Signed in to " + client.url() + " as " + email + " (session saved in " + path.string() + ").\n");
  ctx.out().Json({{"url", client.url()}, {"email", email}, {"session_file", path.string()}});
  return 0;
}

int CmdServerDoors(Context& ctx, const ServerDoorsOptions& o) {
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  ServerClient client(s.url, ctx.timeout());
  std::vector<std::string> orgs;
  if (!o.org.empty()) {
    orgs.push_back(o.org);
  } else {
    for (const auto& org : All(client, s, "/api/v1/orgs", "listing your organisations")) orgs.push_back(org["id"]);
  }
  json list = json::array();
  std::ostringstream text;
  for (const auto& org : orgs) {
    for (const auto& d : All(client, s, "/api/v1/orgs/" + org + "/doors", "listing the doors of " + org)) {
      list.push_back(d);
      text << d.value("id", "") << "  " << d.value("name", "") << "  lock " << d.value("lock_id", "") << "  in "
           << org << "\n";
    }
  }
  if (list.empty()) text << "No doors. Register a lock you own with `mortise server register --org ORG`.\n";
  ctx.out().Text(text.str());
  ctx.out().Json({{"doors", list}});
  return 0;
}

int CmdServerRegister(Context& ctx, const ServerRegisterOptions& o) {
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  ServerClient client(s.url, ctx.timeout());
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  LockEntry* lock = nullptr;
  if (!o.lock.empty()) {
    lock = keyring.content().FindLock(o.lock);
    if (!lock)
      throw Error(ExitCode::kUsage, "no lock named \"" + o.lock + "\" in the keyring", "See `mortise lock list`.");
  } else {
    lock = &ctx.SelectLock(keyring);
  }
  if (!lock->is_owner())
    throw Error(ExitCode::kUsage, "you are not the owner of lock \"" + lock->name + "\"",
                "Only the owner key can register a lock with an organisation.");
  const std::string base = "/api/v1/orgs/" + o.org;
  std::string site = o.site;
  if (site.empty()) {
    const auto sites = All(client, s, base + "/sites", "listing the sites of " + o.org);
    if (sites.empty())
      throw Error(ExitCode::kUsage, "the organisation has no site", "Create one on the server first.");
    site = sites.front()["id"];
  }
  const json ch = Expect(client.Request("POST", base + "/door-challenges", json::object(), s.Headers()), 201,
                         "asking the server for a registration challenge");
  const auto challenge = server::FromHex(ch.value("challenge", ""), server::kDoorChallengeSize);
  if (!challenge) throw Error(ExitCode::kVerification, "the server's challenge is malformed");
  const crypto::P256PublicKey lock_key = lock->LockKey();
  const auto message = server::DoorRegistrationMessage(*challenge, o.org, lock->lock_id, lock_key.bytes());
  if (!message) throw Error(ExitCode::kUsage, "\"" + o.org + "\" is not an organisation id");
  const IdentityEntry& identity = keyring.content().GetIdentity(lock->identity);
  const crypto::P256KeyPair owner = identity.KeyPair();
  crypto::P256Signature sig{};
  if (!owner.Sign(*message, sig, ctx.drbg()).ok()) throw Error(ExitCode::kInternal, "signing failed");
  const json body = {{"challenge_id", ch.value("challenge_id", "")},
                     {"site_id", site},
                     {"name", o.name.empty() ? lock->name : o.name},
                     {"lock_id", ToHex(lock->lock_id)},
                     {"lock_public_key", ToHex(lock_key.bytes())},
                     {"owner_public_key", ToHex(owner.public_key().bytes())},
                     {"signature", ToHex(sig)}};
  const json door =
      Expect(client.Request("POST", base + "/doors", body, s.Headers()), 201, "registering the lock")["door"];
  ctx.out().Text("Registered lock " + lock->name + " as door " + door.value("id", "") + " in " + o.org + ".\n");
  ctx.out().Json({{"door", door}});
  return 0;
}

// `mortise log --server`: the lock's log as the server stored it, verified
// here with the lock key pinned in the keyring (offline mode), never
// trusting the server's verdicts: the pages come byte for byte as the lock
// published them, and a page the server edited, dropped, reordered or
// invented shows as a gap, a broken chain or a bad signature (exit 6).
int CmdLogThroughServer(Context& ctx, const LogOptions& o) {
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  ServerClient client(s.url, ctx.timeout());
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  const LockEntry& lock = ctx.SelectLock(keyring);
  const crypto::P256PublicKey lock_key = lock.LockKey();
  const protocol::LockId lock_id = protocol::LockIdOf(lock_key);
  const std::string lock_hex = ToHex(lock_id);
  std::string base;
  for (const auto& org : All(client, s, "/api/v1/orgs", "listing your organisations"))
    for (const auto& d : All(client, s, "/api/v1/orgs/" + org.value("id", "") + "/doors", "listing doors"))
      if (d.value("lock_id", "") == lock_hex) base = "/api/v1/orgs/" + org.value("id", "") + "/doors/" + d.value("id", "");
  if (base.empty())
    throw Error(ExitCode::kUsage, "lock '" + lock.name + "' is not a door of your organisations on " + s.url,
                "Register it with `mortise server register --org ORG`.");
  const std::vector<json> pages = All(client, s, base + "/log/pages", "reading the door's log from the server");
  // The stream the lock sent, stitched from its pages: the server keeps
  // only pages it accepted in its store; what it refused (or drops) is a gap
  // here, reported by the verifier.
  store::LogVerifier verifier(lock_key, lock_id, 1, 0, 0);
  std::vector<store::LogRecord> records;
  uint64_t next = 1;
  bool started = false;
  for (size_t p = 0; p < pages.size(); ++p) {
    const std::string verdict = pages[p].value("verdict", "");
    if (verdict != "verified" && verdict != "unsigned") continue;
    const std::string hex = pages[p].value("items", "");
    const auto bytes = server::FromHex(hex, hex.size() / 2);
    if (!bytes || hex.size() % 2 != 0) throw Error(ExitCode::kVerification, "the server sent a page that is not hex");
    for (size_t at = 0; at < bytes->size();) {
      store::LogItem item;
      Result<size_t> used = store::DecodeLogItem(std::span<const uint8_t>(bytes->data() + at, bytes->size() - at), item);
      if (!used.ok()) throw Error(ExitCode::kVerification, "the server sent a page whose log items do not decode");
      at += *used;
      const bool record = item.type == store::LogItemType::kRecord || item.type == store::LogItemType::kVoid;
      if (record && item.seq < next) continue;  // an overlapping page: held already
      if (!record && started && item.seq + 1 < next) continue;  // anchors, heads and checkpoints behind us
      if (item.type == store::LogItemType::kHead && p + 1 != pages.size()) continue;  // only the newest end
      verifier.Feed(item);
      started = true;
      if (record) {
        next = item.seq + 1;
        if (item.type != store::LogItemType::kRecord) continue;
        Result<store::LogRecord> r = store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length));
        if (r.ok()) records.push_back(*r);
      }
    }
  }
  const store::LogFindings& f = verifier.Finish();
  const bool ok = started && f.unexplained_gaps == 0 && f.order_errors == 0 && f.bad_tags == 0 && f.malformed == 0 &&
                  f.tampered == 0 && f.bad_signatures == 0 && f.unverified_anchors == 0 && f.signed_through != 0;
  std::string text;
  json events = json::array();
  uint32_t shown = 0;
  for (const store::LogRecord& r : records) {
    if (r.seq < o.from || (o.limit != 0 && shown >= o.limit)) continue;
    if (r.type == store::LogRecordType::kEvent) {
      json e = CliJsonFromLock(dljson::EventToJson(r.event));
      e["seq"] = r.seq;
      e["signed"] = r.seq <= f.signed_through;
      events.push_back(e);
      text += "  #" + std::to_string(r.seq) + "  " + FormatUtc(r.event.utc_seconds) + "  " +
              DescribeEvent(r.event, EventNames{}) + (r.seq <= f.signed_through ? "" : "  (not yet signed)") + "\n";
      ++shown;
    } else if (r.type == store::LogRecordType::kLoss && r.reason != store::LossReason::kLateSeal) {
      events.push_back({{"seq", r.seq}, {"loss", {{"first", r.first_lost}, {"count", r.lost_count}}}});
      text += "  #" + std::to_string(r.seq) + "  !! the lock declares " + std::to_string(r.lost_count) +
              " event(s) lost" + (r.reason == store::LossReason::kTampered ? " (TAMPERING found by the lock)" : "") + "\n";
      ++shown;
    }
  }
  if (ok) {
    text += "  the server's copy verified with the lock's key: signed by the lock through #" +
            std::to_string(f.signed_through) + " at " + FormatUtc(f.signed_at) +
            (f.unverified != 0 ? "; " + std::to_string(f.unverified) + " newer record(s) not yet signed" : "") + "\n";
  } else {
    text += "!! the server's copy of the log does not verify with the lock's key: " +
            std::to_string(f.unexplained_gaps) + " record(s) missing, " + std::to_string(f.order_errors) +
            " out of order, " + std::to_string(f.bad_tags + f.unverified_anchors) + " chain break(s), " +
            std::to_string(f.bad_signatures) + " bad signature(s)" +
            (f.signed_through == 0 ? ", no signature of the lock" : "") + "\n";
  }
  ctx.out().Text(text);
  ctx.out().Json({{"events", events},
                  {"verified", ok},
                  {"source", "server"},
                  {"signed", f.signed_through == 0 ? json(nullptr)
                                                   : json{{"through", f.signed_through}, {"at", JsonUtc(f.signed_at)}}}});
  if (!ok)
    throw Error(ExitCode::kVerification, "the log the server holds did not verify",
                "Records may have been removed or edited by the server or on the way to it; read the lock itself "
                "(`mortise log`) when you can reach it.");
  return 0;
}

}  // namespace mortise::cli
