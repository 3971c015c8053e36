// The server's duties seen from the CLI (docs/cli.md, docs/server.md
// "Duties"): `mortise server duty` certifies the server's duty key for a
// door with one duty's right alone, signed here with the owner's key; `mortise
// key token --from-server` fetches a fresh revalidation token for this
// device's key through the server and stores it like `mortise key token`.
#include "commands.h"
#include "revalidation_check.h"
#include "error.h"
#include "key_string.h"
#include "server_client.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/text_forms.h"
#include "mortise/protocol/time_statement.h"

namespace mortise::cli {

using nlohmann::json;

namespace {

// The door the lock is on, on the server this device is signed in to.
ServerDoorRef DoorOn(const ServerSession& s, const LockEntry& lock, const std::string& org, const std::string& door) {
  if (!org.empty() || !door.empty()) {
    if (org.empty() || door.empty()) throw Error(ExitCode::kUsage, "give both --org and --door (or neither)");
    return ServerDoorRef{s.url, org, door};
  }
  const auto ref = ServerDoorOf(lock);
  if (!ref) {
    throw Error(ExitCode::kUsage, "lock '" + lock.name + "' is not known as a door on a server",
                "Give --org ORG --door DOOR (the owner sees them in `mortise server doors`).");
  }
  if (ref->url != s.url) {
    throw Error(ExitCode::kUsage, "lock '" + lock.name + "' is on " + ref->url + ", but you are signed in to " + s.url,
                "Sign in there: mortise server login " + ref->url);
  }
  return *ref;
}

std::string DoorPath(const ServerDoorRef& r) { return "/api/v1/orgs/" + r.org + "/doors/" + r.door; }

}  // namespace

int CmdServerDuty(Context& ctx, const ServerDutyOptions& o) {
  if (o.time == o.revalidate) throw Error(ExitCode::kUsage, "give one duty: --time or --revalidate");
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  const ServerClient client = s.Client(ctx.timeout());
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry* lock = o.lock.empty() ? &ctx.SelectLock(keyring) : keyring.content().FindLock(o.lock);
  if (lock == nullptr) throw Error(ExitCode::kUsage, "no lock named \"" + o.lock + "\" in the keyring");
  if (!lock->is_owner()) {
    throw Error(ExitCode::kRefused, "only the lock's owner certifies the server's duty key");
  }
  const ServerDoorRef door = DoorOn(s, *lock, "", "");
  // The door's duty key (the custody key; made if it has none).
  const json key = ExpectStatus(client.Request("POST", DoorPath(door) + "/custody/key", json::object(), s.Headers()),
                                200, "asking the server for the door's duty key");
  KeyShareOptions share;
  share.to = AnswerString(key, "public_key");
  share.holder_name = o.time ? "server time duty" : "server revalidation duty";
  share.no_qr = true;
  if (o.time) {
    share.time = true;
  } else {
    share.role = "admin";
    share.permissions = {"revalidate"};
  }
  // Signed here; the server only receives the certificate.
  const SharedKey shared = ShareKey(ctx, keyring, *lock, share);
  if (shared.fields.permissions != (o.time ? protocol::kPermTimeStatement : protocol::kPermRevalidate)) {
    throw Error(ExitCode::kInternal, "the duty certificate carries other rights than its duty's");
  }
  const std::string duty = o.time ? "time" : "revalidate";
  const json view = ExpectStatus(
      client.Request("POST", DoorPath(door) + "/duties/" + duty, {{"certificate", shared.text}}, s.Headers()), 200,
      "uploading the duty certificate");
  const std::string what =
      o.time ? "correct lock '" + lock->name + "''s clock by at most " +
                   std::to_string(protocol::kTimeCorrectionMaxStepS) + " s once per " +
                   std::to_string(protocol::kTimeCorrectionIntervalMs / 3'600'000) + " h"
             : "issue revalidation tokens for keys of lock '" + lock->name + "' that it holds as live";
  ctx.out().Text("The server at " + s.url + " may now " + what + " (certificate serial " +
                 std::to_string(shared.fields.serial) + "; it opens nothing; revoke it like any key: mortise key revoke " +
                 std::to_string(shared.fields.serial) + ").\n");
  ctx.out().Json({{"duty", duty}, {"serial", shared.fields.serial}, {"door", door.door}, {"duties", view}});
  return 0;
}

namespace {

protocol::VerifyContext ChainContext(const LockEntry& lock, const protocol::CertificateFields& holder,
                                     const crypto::P256PublicKey& owner, std::optional<int64_t> now,
                                     const uint64_t& group) {
  protocol::VerifyContext ctx;
  ctx.lock_id = lock.lock_id;
  ctx.owner = &owner;
  ctx.utc_now = now;
  // What the lock's own state decides (its claim generation, its groups,
  // its access list) is not known here: taken as the chain states it, so a
  // verdict below is about signatures and the token, never about them.
  ctx.claim_generation = holder.claim_generation;
  if (group != 0) ctx.groups = std::span<const uint64_t>(&group, 1);
  return ctx;
}

}  // namespace

bool OwnerKeySignedChain(const LockEntry& lock, const crypto::P256PublicKey& owner) {
  const Result<protocol::ShareChain> split = protocol::SplitChain(lock.chain);
  if (!split.ok()) return false;
  const uint64_t group = split->holder.group_id;
  // Without a token (and with the time unknown) the lock's checks stop after
  // the signatures: the first certificate must name this key as its issuer
  // and carry its signature; every later refusal means that it did.
  const Result<protocol::VerifiedKey> v =
      protocol::VerifyChain(lock.chain, {}, ChainContext(lock, split->holder, owner, std::nullopt, group));
  if (v.ok()) return true;
  const StatusCode c = v.status().code();
  return c != StatusCode::kUnauthenticated && c != StatusCode::kInvalidArgument;
}

std::optional<crypto::P256PublicKey> PinnedOwnerKey(const LockEntry& lock) {
  std::vector<uint8_t> bytes;
  if (!FromHex(lock.extra.value("owner_key", std::string()), bytes)) return std::nullopt;
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(bytes);
  if (!key.ok() || !OwnerKeySignedChain(lock, *key)) return std::nullopt;
  return *key;
}

TokenVerdict VerifyRevalidationTokenHere(const LockEntry& lock, std::span<const uint8_t> token,
                                         const crypto::P256PublicKey& owner, int64_t now) {
  TokenVerdict v;
  const Result<protocol::RevalidationTokenInfo> info = protocol::DecodeRevalidationToken(token);
  const Result<uint32_t> max_age = protocol::ChainRevalidationMaxAge(lock.chain);
  const Result<protocol::ShareChain> split = protocol::SplitChain(lock.chain);
  if (!info.ok()) {
    v.problem = "it does not decode as a revalidation token";
    return v;
  }
  if (!max_age.ok() || *max_age == 0 || !split.ok()) {
    v.problem = "your key for this lock demands no revalidation token";
    return v;
  }
  const Result<protocol::RevalidationFields> mine = protocol::RevalidationFieldsFor(lock.chain, info->fields.issued_at);
  if (!mine.ok() || info->fields.lock_id != lock.lock_id || mine->serial != info->fields.serial ||
      mine->holder_key_id != info->fields.holder_key_id) {
    v.problem = "it is not for your key at this lock";
    return v;
  }
  // Its window on this device's clock, as the lock judges it on its own: at
  // most kRevalidationMaxSkewS ahead (clocks differ), and not older than
  // the chain's bound.
  const auto issued = static_cast<int64_t>(info->fields.issued_at);
  v.issued_at = issued;
  v.valid_until = issued + static_cast<int64_t>(*max_age);
  if (issued > now + protocol::kRevalidationMaxSkewS) {
    v.problem = "it claims to be issued at " + FormatUtc(issued) + ", ahead of this device's clock (" +
                FormatUtc(now) + ") by more than " + std::to_string(protocol::kRevalidationMaxSkewS) + " s";
    return v;
  }
  if (issued < now && now - issued > static_cast<int64_t>(*max_age)) {
    v.problem = "it expired at " + FormatUtc(v.valid_until) + " (issued " + FormatUtc(issued) + ")";
    return v;
  }
  // Its signature, as the lock checks it: the owner's, or that of a key the
  // owner certified with the revalidate right (carried in the token).
  const uint64_t group = split->holder.group_id;
  const Result<protocol::VerifiedKey> key =
      protocol::VerifyChain(lock.chain, token, ChainContext(lock, split->holder, owner, now, group));
  if (key.ok()) return v;
  switch (key.status().code()) {
    case StatusCode::kUnauthenticated:
      v.problem = "its signature does not verify with the lock owner's key (nor with a revalidation key the owner "
                  "certified)";
      return v;
    case StatusCode::kPermissionDenied:
      v.problem = "it is signed by a key the owner did not give the revalidate right for this lock";
      return v;
    case StatusCode::kOutOfRange:
    case StatusCode::kFailedPrecondition:
      // The token's own window passed above, so this is a window after its
      // signature verified: the signing key's certificate, or your key's
      // own window or schedule (the lock's affair when you use it).
      if (info->issuer && ((info->issuer->not_before != 0 && static_cast<uint64_t>(now) < info->issuer->not_before) ||
                           (info->issuer->not_after != 0 && static_cast<uint64_t>(now) >= info->issuer->not_after))) {
        v.problem = "the revalidation key that signed it is not valid now (its certificate's window)";
      }
      return v;
    default:
      v.problem = "it does not verify (malformed)";
      return v;
  }
}

namespace {

struct FetchedToken {
  std::string lock, url;
  int64_t issued_at = 0, valid_until = 0;
};

// The lock owner's public key for `lock`: pinned in the keyring, or the one
// the server's door record names, used only once it verified the first
// certificate of this device's own chain (only the owner's key does).
crypto::P256PublicKey OwnerKeyFor(const ServerClient& client, const ServerSession& s, const ServerDoorRef& door,
                                  LockEntry& lock) {
  if (std::optional<crypto::P256PublicKey> pinned = PinnedOwnerKey(lock)) return *pinned;
  const json body = ExpectStatus(client.Request("GET", DoorPath(door), nullptr, s.Headers()), 200,
                                 "reading the door's owner key");
  std::vector<uint8_t> bytes;
  Result<crypto::P256PublicKey> key(StatusCode::kInvalidArgument);
  if (FromHex(AnswerString(AnswerObject(body, "door"), "owner_public_key"), bytes)) key = crypto::P256PublicKey::Import(bytes);
  if (!key.ok() || !OwnerKeySignedChain(lock, *key)) {
    throw Error(ExitCode::kVerification,
                "the owner key the server names for this door did not sign your key: the server's token cannot be "
                "verified, so it was not stored",
                "The server may be hostile or the door on the wrong lock; ask the lock's owner for a token "
                "(mortise key revalidate) and store it with mortise key token.");
  }
  lock.extra["owner_key"] = ToHex(key->bytes());
  return *key;
}

FetchedToken FetchRevalidationToken(Context& ctx, const KeyTokenFetchOptions& o) {
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  const ServerClient client = s.Client(ctx.timeout());
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry& lock = ctx.SelectLock(keyring);
  if (lock.is_owner()) throw Error(ExitCode::kUsage, "the owner's key needs no revalidation token");
  const Result<uint32_t> max_age = protocol::ChainRevalidationMaxAge(lock.chain);
  if (!max_age.ok() || *max_age == 0) {
    throw Error(ExitCode::kUsage, "your key for lock '" + lock.name + "' demands no revalidation token");
  }
  const ServerDoorRef door = DoorOn(s, lock, o.org, o.door);
  const HttpAnswer a =
      client.Request("POST", DoorPath(door) + "/revalidation", {{"chain", ToHex(lock.chain)}}, s.Headers());
  if (a.status == 403 && a.ErrorCode() == "key_revoked") {
    throw Error(ExitCode::kRefused, "the server holds your key as revoked: it issues no token for it",
                "Ask the lock's owner or an admin.");
  }
  const json body = ExpectStatus(a, 200, "fetching a revalidation token");
  const std::string text = AnswerString(body, "token");
  std::vector<uint8_t> token;
  try {
    token = ParseRevalidationString(text);
  } catch (const Error& e) {
    throw Error(ExitCode::kVerification, std::string("the server's token is malformed (") + e.what() + ")",
                "Nothing was stored; the server may be broken or hostile.");
  }
  // Verified as the lock will verify it, as far as this device can: for this
  // lock and this very key, within its window on this device's clock, and
  // signed by the owner's key (or a revalidation key the owner certified).
  const crypto::P256PublicKey owner = OwnerKeyFor(client, s, door, lock);
  const TokenVerdict verdict = VerifyRevalidationTokenHere(lock, token, owner, ctx.Now());
  if (!verdict.problem.empty()) {
    throw Error(ExitCode::kVerification, "the server's revalidation token is not valid: " + verdict.problem,
                "Nothing was stored; the lock would refuse it. The server may be broken or hostile; ask the lock's "
                "owner for a token (mortise key revalidate) if this goes on.");
  }
  lock.extra["revalidation_token"] = ToHex(token);
  if (!o.org.empty()) RememberServerDoor(lock, door);
  keyring.Save();
  return FetchedToken{lock.name, s.url, verdict.issued_at, verdict.valid_until};
}

}  // namespace

int CmdKeyTokenFromServer(Context& ctx, const KeyTokenFetchOptions& o) {
  const FetchedToken t = FetchRevalidationToken(ctx, o);
  ctx.out().Text("token stored for lock '" + t.lock + "' (from " + t.url + ", verified here; valid until " +
                 FormatUtc(t.valid_until) + ")\n");
  ctx.out().Json(
      {{"lock", t.lock}, {"issued_at", FormatUtc(t.issued_at)}, {"valid_until", FormatUtc(t.valid_until)}});
  return 0;
}

void RefreshRevalidationTokenIfDue(Context& ctx) {
  std::optional<ServerSession> s;
  try {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    const LockEntry& lock = ctx.SelectLock(keyring);
    const Result<uint32_t> max_age = protocol::ChainRevalidationMaxAge(lock.chain);
    if (lock.is_owner() || !max_age.ok() || *max_age == 0 || !ServerDoorOf(lock)) return;
    std::vector<uint8_t> token;
    const std::optional<crypto::P256PublicKey> owner = PinnedOwnerKey(lock);
    if (owner && FromHex(lock.extra.value("revalidation_token", std::string()), token) && !token.empty()) {
      // Kept only when it verifies here as the lock will verify it and stays
      // fresh for at least a tenth of its life more: a token that decodes
      // and looks fresh but does not verify would block the key until it
      // aged out.
      const TokenVerdict v = VerifyRevalidationTokenHere(lock, token, *owner, ctx.Now());
      if (v.problem.empty() && v.valid_until - static_cast<int64_t>(*max_age / 10) > ctx.Now()) return;
    }
    s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  } catch (const Error&) {
    return;  // no keyring, lock or server session: the command says what it needs
  }
  try {
    const FetchedToken t = FetchRevalidationToken(ctx, KeyTokenFetchOptions{});
    ctx.out().Note("fetched a fresh revalidation token through " + t.url + " (valid until " +
                   FormatUtc(t.valid_until) + ")");
  } catch (const Error& e) {
    // The lock decides: without a fresh token it refuses the key, and says so.
    ctx.out().Note(std::string("could not fetch a fresh revalidation token through ") + s->url + ": " + e.what());
  }
}

}  // namespace mortise::cli
