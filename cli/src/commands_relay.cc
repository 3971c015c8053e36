// `mortise unlock|lock|unlatch|status` through mortise-server, for a lock
// not reachable locally (or with --via-server). The envelope is still built
// and signed here, with this device's key; the server relays it over the
// lock's MQTT uplink and hands back the lock's answer, which this device
// verifies against the lock key it pinned (the server's own verdict is not
// trusted). The door a lock is on is remembered in the keyring's entry for
// the lock (`extra.server`: url, org, door) by `mortise server register`.
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

#include "base64url.h"
#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "log_print.h"
#include "refusal.h"
#include "server_client.h"
#include "stored_log.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/node.h"
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
  auto door = ServerDoorOf(lock);
  const std::filesystem::path session_path = ServerSessionPath(ctx.KeyringPath());
  std::error_code ec;
  const bool signed_in = std::filesystem::exists(session_path, ec);
  if (!door && signed_in) {
    // Not registered from this keyring (a guest's, a family member's): the
    // lock's door in an organisation the signed-in account is in, found by
    // its lock id. The server is not trusted for it: the lock's answer is
    // verified against the pinned key all the same.
    ServerSession s = LoadServerSession(session_path);
    const ServerClient client = s.Client(ctx.timeout());
    const std::string want = ToHex(lock.lock_id);
    for (const auto& org : AllPages(client, s, "/api/v1/orgs", "listing your organisations")) {
      const std::string org_id = AnswerString(org, "id");
      for (const auto& d : AllPages(client, s, "/api/v1/orgs/" + org_id + "/doors", "listing the doors of " + org_id)) {
        std::string id = AnswerString(d, "lock_id");
        std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
        if (id == want) door = ServerDoorRef{s.url, org_id, AnswerString(d, "id")};
      }
    }
    if (door) return Relay{*door, std::move(s)};
  }
  if (!door) {
    if (lock.role != protocol::Role::kOwner && lock.role != protocol::Role::kAdmin) {
      // A guest cannot register a lock: say what the owner does and then they.
      throw Error(ExitCode::kUsage,
                  "lock '" + lock.name + "' is not a door in any organisation " +
                      (signed_in ? "you are in on the server you are signed in to" : "you are signed in to"),
                  "Its owner registers it (mortise server register) and adds you to that organisation on the "
                  "server (any role, guest too, may relay a command you sign); then sign in with "
                  "`mortise server login URL --email E` (or `mortise server signup` for a new account) and try again.");
    }
    throw Error(ExitCode::kUsage, "lock '" + lock.name + "' is not registered with a server",
                "Register it once: mortise server register " + lock.name + " --org ORG");
  }
  ServerSession s = LoadServerSession(session_path);
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
  const std::string what = std::string("the remote ") + verb + " through " + relay.session.url;
  // The envelope may have been relayed and run: a server that dies or hangs
  // up after sending it must not read as "it did not run".
  const HttpAnswer a = server.RequestRelayed("POST", DoorPath(relay) + "/remote",
                                             {{"envelope", Base64UrlEncode(envelope)}}, relay.session.Headers(), what,
                                             "Check with mortise status once the command's 30 s have passed.");
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
  const auto result = Base64UrlDecode(AnswerString(body, "result"));
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
  const json st = AnswerObject(a.Json(), "state");
  const auto text = [&](const char* k) {
    const auto it = st.find(k);
    return it != st.end() && it->is_string() ? it->get<std::string>() : std::string("unknown");
  };
  const auto online_field = st.find("online");
  const bool online = online_field != st.end() && online_field->is_boolean() && online_field->get<bool>();
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

int LogViaServer(Context& ctx, const LogOptions& o) {
  if (o.follow) throw Error(ExitCode::kUsage, "--follow reads from the lock itself, not from the server's copy");
  LockEntry lock;
  std::string my_key_id;
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    lock = ctx.SelectLock(keyring);
    my_key_id = ToHex(protocol::KeyIdOf(keyring.content().GetIdentity(lock.identity).KeyPair().public_key()));
  }
  const Relay relay = RelayFor(ctx, lock);
  const uint64_t from = o.from != 0 ? o.from : lock.log_cursor + 1;
  const crypto::P256PublicKey lock_key = lock.LockKey();
  const std::string lock_id = ToHex(lock.lock_id);
  // The pages as the lock sent them, in the order the server says they
  // arrived; verified here with the pinned key alone (the server's
  // verdicts are not read: a hostile server writes what it likes there).
  StoredLogVerifier verifier(lock_key, lock.lock_id, from, ctx.Now(), 0);
  const ServerClient server = relay.session.Client(ctx.timeout());
  const std::string doing = "the log of lock '" + lock.name + "' from " + relay.session.url;
  // Bounded against a server that never ends its list (FetchStoredLogPages).
  const size_t pages = FetchStoredLogPages(server, DoorPath(relay) + "/log/pages", relay.session.Headers(), lock_id,
                                           lock.name, doing, [&](const StoredLogPage& page) { verifier.Add(page); });
  const store::LogFindings& f = verifier.Finish();

  LogPrinter printer(lock, my_key_id, nullptr);  // users by number: the lock is not asked
  json events = json::array();
  json unsigned_ranges = json::array();
  std::string text = "lock '" + lock.name + "': the log as " + relay.session.url +
                     " stores it, verified here with the lock's key\n";
  uint32_t shown = 0;
  uint64_t last_shown = 0;
  std::optional<std::pair<uint64_t, uint64_t>> run;  // a run of records no signature covers
  auto close_run = [&]() {
    if (run) unsigned_ranges.push_back({{"first", run->first}, {"last", run->second}});
    run.reset();
  };
  for (const StoredLogEntry& e : verifier.entries()) {
    if (e.item.seq < from) {
      printer.Learn(e.item);
      continue;
    }
    if (o.limit != 0 && shown >= o.limit) break;
    const size_t before = events.size();
    if (printer.Print(e.item, text, events)) ++shown;
    if (events.size() > before) events.back()["signed"] = e.is_signed;
    last_shown = e.item.seq;
    if (!e.is_signed) {
      if (run && run->second + 1 == e.item.seq) run->second = e.item.seq;
      else {
        close_run();
        run = std::make_pair(e.item.seq, e.item.seq);
      }
    } else {
      close_run();
    }
  }
  close_run();
  json problems = json::array();
  for (const std::string& p : verifier.problems()) {
    text += "!! " + p + "\n";
    problems.push_back(p);
  }
  json gaps = json::array();
  for (const StoredLogVerifier::Gap& g : verifier.gaps()) {
    const std::string range = g.first == g.last ? "#" + std::to_string(g.first)
                                                : "#" + std::to_string(g.first) + "..#" + std::to_string(g.last);
    text += "!! " + range + " missing from the server's copy and not declared lost by the lock (withheld or lost on the way)\n";
    gaps.push_back({{"first", g.first}, {"last", g.last}});
  }
  if (f.explained_gaps != 0 || f.lost_by_lock != 0) {
    text += "!! the lock itself declared " + std::to_string(f.explained_gaps + f.lost_by_lock) +
            " event(s) lost (see the records above)\n";
  }
  for (const json& r : unsigned_ranges) {
    const uint64_t a = r["first"], b = r["last"];
    const bool tail = b == verifier.entries().back().item.seq;
    text += "!! " + (a == b ? "#" + std::to_string(a) : "#" + std::to_string(a) + "..#" + std::to_string(b)) +
            (tail ? " not signed by the lock yet (it signs its newest record at most every 10 minutes): nothing "
                    "vouches for them yet; read again later"
                  : " not covered by any signature of the lock: nothing vouches for them") +
            "\n";
  }
  json signed_heads;
  if (verifier.signed_through() != 0) {
    const int64_t age = ctx.Now() - verifier.signed_at();
    text += "  log signed by the lock through #" + std::to_string(verifier.signed_through()) + " at " +
            FormatUtc(verifier.signed_at()) +
            (age > 3600 ? " (" + std::to_string(age / 3600) +
                              " h ago: pages after it may be withheld by the server, or the lock is offline)"
                        : std::string()) +
            "\n";
    signed_heads = {{"through", verifier.signed_through()}, {"at", JsonUtc(verifier.signed_at())}};
  }
  // No page at all vouches for nothing: the lock has not uploaded yet, or
  // the server withholds every page; neither reads as a verified log.
  const bool nothing = pages == 0;
  const bool ok = verifier.ok() && !nothing;
  json chain_end;
  uint64_t end_seq = 0;
  store::LogChain end_chain{};
  if (nothing) {
    text += "!! NOTHING VERIFIED: the server sent no page of this lock's log, so nothing vouches that the log is "
            "current (the server may be withholding its pages, or the lock has not uploaded any yet)\n";
  } else if (ok) {
    if (shown == 0 && pages != 0) text += "  no new events since #" + std::to_string(from - 1) + " (mortise log --from N shows earlier ones)\n";
    if (!verifier.entries().empty()) {
      text += "  the log's chain verified through #" + std::to_string(verifier.entries().back().item.seq) +
              " with the lock's signature: complete, in order, unedited\n";
    }
    if (o.limit == 0 && verifier.StreamEnd(end_seq, end_chain)) chain_end = {{"through", end_seq}, {"hash", ToHex(end_chain)}};
  } else {
    text += "!! LOG VERIFICATION FAILED for the server's copy: what is marked above is not vouched for by the lock\n";
  }
  ctx.out().Text(text);
  if (ok && last_shown != 0) {
    // A verified read moves the cursor like a read from the lock.
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    LockEntry& l = ctx.SelectLock(keyring);
    l.AdvanceLogCursor(last_shown);
    l.extra["log_keys"] = printer.log_keys();
    if (!chain_end.is_null()) l.extra["log_chain"] = chain_end;
    keyring.Save();
  }
  ctx.out().Json({{"events", events}, {"verified", ok}, {"signed", signed_heads}, {"chain", chain_end},
                  {"via_server", relay.session.url}, {"problems", problems}, {"gaps", gaps},
                  {"unsigned", unsigned_ranges}});
  if (nothing) {
    throw Error(ExitCode::kVerification, "the server sent no page of the lock's log: nothing was verified",
                "If the lock is online and uploading, the server may be withholding its log; read it from the lock "
                "(mortise log) or try again later.");
  }
  if (!ok) {
    throw Error(ExitCode::kVerification, "the server's copy of the lock's log did not verify",
                "Records may have been removed, edited or forged, or are not signed by the lock yet; keep this output.");
  }
  return 0;
}

namespace {

// The version the row's receipt proves the lock holds, verified against
// `pinned`; nullopt when there is none or it does not verify.
std::optional<uint64_t> VerifiedReceipt(const json& row, const PinnedUpdate& pinned, bool& present) {
  present = row.contains("receipt") && row["receipt"].is_string() && !row["receipt"].get<std::string>().empty();
  if (!present) return std::nullopt;
  std::vector<uint8_t> frame;
  if (!FromHex(row["receipt"].get<std::string>(), frame)) return std::nullopt;
  const Result<protocol::SignedUpdateReply> reply = protocol::DecodeSignedUpdateReply(frame);
  const Result<protocol::AccessListHeader> header = protocol::PeekAccessList(pinned.update);
  const Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(pinned.lock_key);
  if (!reply.ok() || !header.ok() || !key.ok()) return std::nullopt;
  const Result<uint64_t> held =
      protocol::VerifySignedUpdateReceipt(*reply, *key, header->lock_id, header->claim_generation,
                                          protocol::SignedUpdateKind::kAccessList, pinned.update);
  if (!held.ok()) return std::nullopt;
  return *held;
}

}  // namespace

HeldState HeldStateOf(const json& row, uint64_t version, const PinnedUpdate* pinned) {
  const auto num = [&](const char* k) { return row.contains(k) && row[k].is_number_unsigned() ? row[k].get<uint64_t>() : 0; };
  const std::string last = row.contains("delivery") ? row["delivery"].value("last_status", std::string()) : std::string();
  const uint64_t attempts = row.contains("delivery") ? row["delivery"].value("attempts", uint64_t{0}) : 0;
  bool receipt_shown = false;
  if (pinned) {
    const std::optional<uint64_t> held = VerifiedReceipt(row, *pinned, receipt_shown);
    if (held && *held >= version)
      return {"confirmed", "the lock signed a receipt for this list: it holds version " + std::to_string(*held) +
                               " (verified here with the pinned lock key)"};
    if (held) receipt_shown = false;  // genuine, for this list, but below it (never signed so by a lock)
  }
  const std::string bad_receipt =
      receipt_shown ? "; the receipt the server shows does not verify with the lock key pinned here (not this "
                      "lock's, or not for this list)"
                    : "";
  // The server's word is never "confirmed": only a receipt the lock signed,
  // verified on this device, is (A09: a hostile server claims anything).
  if (num("confirmed_version") >= version)
    return {"reported", "the server says the lock confirmed version " + std::to_string(num("confirmed_version")) +
                            ", with no receipt signed by the lock verified here: not confirmed" + bad_receipt};
  if (num("reported_version") >= version)
    return {"reported", "the server says the lock answered that it holds version " +
                            std::to_string(num("reported_version")) + " (an unsigned answer: not yet confirmed)" +
                            bad_receipt};
  if (last.rfind("refused:", 0) == 0) return {"failed", "the server says the lock refused it: " + last.substr(8)};
  if (attempts > 0) return {"sent", "sent to the lock, not confirmed yet (" + last + ")" + bad_receipt};
  return {"pending", "stored on the server, not sent yet (the lock is offline?); the server sends it when it connects" +
                         bad_receipt};
}

int RevokeViaServer(Context& ctx, uint64_t serial, const std::vector<std::string>& locks, double wait_s) {
  struct Door {
    std::string lock, door_id, issuer;
    uint64_t version = 0;
    std::optional<Relay> relay;
    PinnedUpdate pinned;
    HeldState held;
  };
  std::vector<Door> doors;
  for (const std::string& name : locks) {
    Door d;
    d.lock = name;
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    LockEntry& lock = keyring.content().SelectLock(name);
    if (!ServerDoorOf(lock) && name != locks.front()) {
      d.held = {"not registered", "not registered on a server; the next command you send to it delivers it"};
      doors.push_back(std::move(d));
      continue;
    }
    d.relay = RelayFor(ctx, lock);
    d.door_id = d.relay->door.door;
    const ServerClient server = d.relay->session.Client(ctx.timeout());
    const std::string doing = "the revocation for lock '" + name + "' through " + d.relay->session.url;
    std::vector<uint8_t> update;
    if (!FromHex(lock.extra.value("pending_access_list", std::string()), update) || update.empty())
      throw Error(ExitCode::kInternal, "no signed access list is pending for lock '" + name + "'");
    if (lock.is_owner()) {
      // The number to build on is what this keyring signed, or a stored list
      // verified here with the owner key (never the server's JSON): a list
      // numbered at or below the stored one would be refused as stale.
      const json updates = ExpectStatus(
          server.Request("GET", DoorPath(*d.relay) + "/updates", nullptr, d.relay->session.Headers()), 200, doing);
      const std::optional<protocol::AccessListState> stored =
          VerifiedStoredList(StoredUpdate(updates, "access_list", "owner"), keyring, lock);
      if (stored && stored->version >= lock.access_list.version) {
        // Signed by this owner key elsewhere: its revocations stay revoked.
        auto merge = [](auto& into, const auto* from, size_t n) {
          for (size_t i = 0; i < n; ++i)
            if (std::find(into.begin(), into.end(), from[i]) == into.end()) into.push_back(from[i]);
        };
        merge(lock.access_list.revoked, stored->revoked, stored->revoked_count);
        merge(lock.access_list.disabled, stored->disabled, stored->disabled_count);
        for (size_t i = 0; i < stored->epoch_count; ++i) {
          bool found = false;
          for (auto& e : lock.access_list.min_epochs)
            if (e.issuer == stored->epochs[i].issuer) {
              e.min_epoch = std::max(e.min_epoch, stored->epochs[i].min_epoch);
              found = true;
            }
          if (!found) lock.access_list.min_epochs.push_back(stored->epochs[i]);
        }
        lock.access_list.version = StoredListVersion(StoredUpdate(updates, "access_list", "owner"), keyring, lock);
        SignPendingAccessList(ctx, keyring, lock);
        keyring.Save();
        ctx.out().Text("The server stores your access list version " + std::to_string(stored->version) +
                       " (verified with your owner key): signed version " + std::to_string(lock.access_list.version) +
                       " with its revocations and this one.\n");
        FromHex(lock.extra["pending_access_list"].get<std::string>(), update);
      }
    }
    d.version = lock.access_list.version;
    d.pinned = {lock.lock_key, update};
    const HttpAnswer a = server.Request("POST", DoorPath(*d.relay) + "/updates",
                                        {{"kind", "access_list"}, {"update", ToHex(update)}}, d.relay->session.Headers());
    const json row = (a.status == 200 ? a.Json() : ExpectStatus(a, 201, doing)).value("update", json::object());
    d.issuer = row.value("issuer", std::string(lock.is_owner() ? "owner" : ""));
    d.held = HeldStateOf(row, d.version, &d.pinned);
    doors.push_back(std::move(d));
  }
  // --wait: what the server says, again, until every lock confirmed it.
  const auto done = [&] {
    for (const Door& d : doors)
      if (d.relay && d.held.state != "confirmed" && d.held.state != "failed") return false;
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000));
  while (wait_s > 0 && !done() && std::chrono::steady_clock::now() < deadline) {
    poll(nullptr, 0, 500);
    for (Door& d : doors) {
      if (!d.relay || d.held.state == "confirmed" || d.held.state == "failed") continue;
      const ServerClient server = d.relay->session.Client(ctx.timeout());
      const json updates = ExpectStatus(
          server.Request("GET", DoorPath(*d.relay) + "/updates", nullptr, d.relay->session.Headers()), 200,
          "the revocation for lock '" + d.lock + "'");
      const json row = StoredUpdate(updates, "access_list", d.issuer);
      if (row.is_object()) d.held = HeldStateOf(row, d.version, &d.pinned);
    }
  }
  std::string text = "key " + std::to_string(serial) + " revoked; the signed access list went to the server:\n";
  json out = json::array();
  bool all_confirmed = true, refused = false;
  for (const Door& d : doors) {
    text += "  " + d.lock + (d.door_id.empty() ? "" : " (door " + d.door_id + ")") + ": " + d.held.state + " — " +
            d.held.reason + "\n";
    out.push_back({{"lock", d.lock}, {"door_id", d.door_id}, {"version", d.version}, {"state", d.held.state},
                   {"reason", d.held.reason}});
    if (d.held.state != "confirmed") all_confirmed = false;
    if (d.held.state == "failed") refused = true;
  }
  if (!all_confirmed && !refused)
    text += "The list stays pending in your keyring too: the next command you send to the lock delivers it.\n";
  ctx.out().Text(text);
  ctx.out().Json({{"revoked", serial}, {"access_list_version", doors.front().version}, {"pushed", true},
                  {"via_server", doors.front().relay ? json(doors.front().relay->session.url) : json(nullptr)},
                  {"doors", out}, {"confirmed", all_confirmed}});
  if (refused) throw Error(ExitCode::kRefused, "a lock refused the new access list (see above)");
  if (!all_confirmed) {
    throw Error(ExitCode::kPending,
                "stored on the server; not every lock has confirmed the new access list yet",
                "The server re-sends it until the lock confirms it (--wait waits for that); the list stays pending in "
                "your keyring, so the next command you send to the lock locally delivers it too.");
  }
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
  const std::string pem = AnswerString(a.Json(), "certificate");
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
