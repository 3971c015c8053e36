// `mortise server signup|login|org create|orgs|doors|register`: the CLI as a client of
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
#include "passphrase.h"
#include "server_client.h"

namespace mortise::cli {
namespace {

using nlohmann::json;

std::string SecretFromEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

namespace {

// The account's password: --password-fd, else MORTISE_SERVER_PASSWORD, else
// the terminal (twice when `confirm`, for a new account). Never an argument.
std::string ReadServerPassword(int password_fd, const std::string& email, bool confirm) {
  std::string password = SecretFromEnv("MORTISE_SERVER_PASSWORD");
  if (password_fd >= 0) {
    password = ReadLineFromFd(password_fd).str();
  } else if (password.empty()) {
    PassphraseSource tty;
    tty.use_env = false;
    password = ReadPassphrase(tty, "Password for " + email + ": ", confirm).str();
  }
  return password;
}

std::string ReadEmail(const std::string& given) {
  if (!given.empty()) return given;
  PassphraseSource tty;
  tty.use_env = false;
  return ReadPassphrase(tty, "Email: ", false).str();
}

// Signs in (POST /api/v1/sessions, then the two-factor code if the account
// needs one) and saves the session next to the keyring.
void SignIn(Context& ctx, const ServerClient& client, const std::string& email, const std::string& password,
            const std::string& totp_given, const std::string& ca) {
  json body = {{"email", email}, {"password", password}};
  std::string totp = totp_given.empty() ? SecretFromEnv("MORTISE_SERVER_TOTP") : totp_given;
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
  const json j = ExpectStatus(a, 201, "signing in to " + client.url());
  // The session token comes as the browser's cookie; the CLI keeps it.
  const std::string token = a.SetCookie("mortise_session");
  if (token.empty() || !j.contains("csrf_token") || !j["csrf_token"].is_string())
    throw Error(ExitCode::kVerification, "the server's sign-in answer has no session");
  ServerSession s{client.url(), email, token, j["csrf_token"], ca};
  SaveServerSession(ServerSessionPath(ctx.KeyringPath()), s);
}

}  // namespace

int CmdServerLogin(Context& ctx, const ServerLoginOptions& o) {
  // A CA given here is remembered with the session for later commands.
  const std::string ca = o.ca.empty() ? "" : std::filesystem::absolute(o.ca).string();
  ServerClient client(o.url, ctx.timeout(), ca);
  const std::string email = ReadEmail(o.email);
  SignIn(ctx, client, email, ReadServerPassword(o.password_fd, email, false), o.totp, ca);
  const auto path = ServerSessionPath(ctx.KeyringPath());
  ctx.out().Text("Signed in to " + client.url() + " as " + email + " (session saved in " + path.string() + ").\n");
  ctx.out().Json({{"url", client.url()}, {"email", email}, {"session_file", path.string()}});
  return 0;
}

int CmdServerSignup(Context& ctx, const ServerLoginOptions& o) {
  const std::string ca = o.ca.empty() ? "" : std::filesystem::absolute(o.ca).string();
  ServerClient client(o.url, ctx.timeout(), ca);
  const std::string email = ReadEmail(o.email);
  const std::string password = ReadServerPassword(o.password_fd, email, true);
  const HttpAnswer a = client.Request("POST", "/api/v1/accounts", json{{"email", email}, {"password", password}}, {});
  if (a.status == 409 && a.ErrorCode() == "email_taken")
    throw Error(ExitCode::kRefused, "an account with the email " + email + " already exists on " + client.url(),
                "Sign in to it with `mortise server login " + client.url() + " --email " + email +
                    "`, or sign up with another email.");
  const json account = ExpectStatus(a, 201, "creating an account on " + client.url()).value("account", json::object());
  SignIn(ctx, client, email, password, "", ca);
  const auto path = ServerSessionPath(ctx.KeyringPath());
  ctx.out().Text("Created the account " + email + " on " + client.url() + " and signed in (session saved in " +
                 path.string() + ").\nNext: `mortise server org create NAME`.\n");
  ctx.out().Json({{"url", client.url()},
                  {"email", email},
                  {"account_id", account.value("id", "")},
                  {"session_file", path.string()}});
  return 0;
}

int CmdServerOrgCreate(Context& ctx, const ServerOrgCreateOptions& o) {
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  const ServerClient client = s.Client(ctx.timeout());
  json body = {{"name", o.name}};
  if (!o.kind.empty()) body["kind"] = o.kind;
  const json org = ExpectStatus(client.Request("POST", "/api/v1/orgs", body, s.Headers()), 201,
                                "creating the organisation \"" + o.name + "\"")
                       .value("organisation", json::object());
  const std::string id = org.value("id", "");
  if (id.empty()) throw Error(ExitCode::kVerification, "the server's answer names no organisation id");
  ctx.out().Text(id + "\n");
  ctx.out().Json({{"id", id}, {"name", org.value("name", o.name)}, {"kind", org.value("kind", "")}});
  return 0;
}

int CmdServerOrgs(Context& ctx) {
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  const ServerClient client = s.Client(ctx.timeout());
  json list = json::array();
  std::ostringstream text;
  for (const auto& org : AllPages(client, s, "/api/v1/orgs", "listing your organisations")) {
    const json item = {{"id", org.value("id", "")},
                       {"name", org.value("name", "")},
                       {"kind", org.value("kind", "")},
                       {"role", org.value("role", "")},
                       // The API's times are Unix milliseconds; the CLI's schema is ISO-8601.
                       {"created_at", JsonUtc(org.value("created_at", int64_t{0}) / 1000)}};
    text << item["id"].get<std::string>() << "  " << item["name"].get<std::string>() << "  ("
         << item["kind"].get<std::string>() << ")  you: " << item["role"].get<std::string>() << "\n";
    list.push_back(item);
  }
  if (list.empty()) text << "You are in no organisation on " << client.url() << ".\n";
  ctx.out().Text(text.str());
  ctx.out().Json({{"organisations", list}});
  return 0;
}

int CmdServerDoors(Context& ctx, const ServerDoorsOptions& o) {
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  const ServerClient client = s.Client(ctx.timeout());
  std::vector<std::string> orgs;
  if (!o.org.empty()) {
    orgs.push_back(o.org);
  } else {
    for (const auto& org : AllPages(client, s, "/api/v1/orgs", "listing your organisations")) orgs.push_back(org["id"]);
  }
  json list = json::array();
  std::ostringstream text;
  for (const auto& org : orgs) {
    for (const auto& d : AllPages(client, s, "/api/v1/orgs/" + org + "/doors", "listing the doors of " + org)) {
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
  const ServerClient client = s.Client(ctx.timeout());
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);  // remembers the door
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
  // The lock's own signed proof that it installed this owner key, kept at
  // claiming: without it the server cannot tell the real owner from anyone
  // who knows the lock's public key.
  const auto proof = lock->extra.find("claim_proof");
  if (proof == lock->extra.end() || !proof->is_object())
    throw Error(ExitCode::kUsage, "the keyring holds no claim proof for lock \"" + lock->name + "\"",
                "The server needs the lock's signed claim proof, which `mortise claim` keeps from this version on; "
                "a lock claimed earlier or taken over cannot be registered yet (docs/server.md, Registering a door).");
  const std::string base = "/api/v1/orgs/" + o.org;
  std::string site = o.site;
  if (site.empty()) {
    const auto sites = AllPages(client, s, base + "/sites", "listing the sites of " + o.org);
    if (sites.empty())
      throw Error(ExitCode::kUsage, "the organisation has no site", "Create one on the server first.");
    site = sites.front()["id"];
  }
  const json ch = ExpectStatus(client.Request("POST", base + "/door-challenges", json::object(), s.Headers()), 201,
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
                     {"signature", ToHex(sig)},
                     {"claim_proof", *proof}};
  const json door =
      ExpectStatus(client.Request("POST", base + "/doors", body, s.Headers()), 201, "registering the lock")["door"];
  // Remembered, so unlock/lock/status reach the lock through this server
  // when it is not reachable locally.
  RememberServerDoor(*lock, ServerDoorRef{s.url, o.org, door.value("id", "")});
  keyring.Save();
  ctx.out().Text("Registered lock " + lock->name + " as door " + door.value("id", "") + " in " + o.org + ".\n");
  ctx.out().Json({{"door", door}});
  return 0;
}

}  // namespace mortise::cli
