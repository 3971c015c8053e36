// claim, status, lock, unlock, unlatch, mode, time: the door itself.
#include <optional>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include <chrono>
#include <string>

#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "lock_session.h"
#include "refusal.h"
#include "time_zone.h"
#include "mortise/core/attributes.h"
#include "mortise/core/types.h"

namespace mortise::cli {
namespace {

const char* LockStateName(int64_t v) {
  switch (v) {
    case 0: return "not fully locked";
    case 1: return "locked";
    case 2: return "unlocked";
    case 3: return "unlatched";
    default: return "unknown";
  }
}
const char* DoorStateName(int64_t v) {
  switch (v) {
    case 0: return "open";
    case 1: return "closed";
    case 2: return "jammed";
    case 3: return "forced open";
    case 4: return "unspecified error";
    case 5: return "ajar";
    default: return "unknown";
  }
}
struct ModeName {
  const char* cli;
  core::OperatingMode mode;
};
constexpr ModeName kModes[] = {{"normal", core::OperatingMode::kNormal},
                               {"vacation", core::OperatingMode::kVacation},
                               {"privacy", core::OperatingMode::kPrivacy},
                               {"no-remote", core::OperatingMode::kNoRemoteLockUnlock},
                               {"passage", core::OperatingMode::kPassage}};
const char* ModeText(int64_t v) {
  for (const ModeName& m : kModes) {
    if (static_cast<int64_t>(m.mode) == v) return m.cli;
  }
  return "unknown";
}

void SetLockTime(LockSession& s, int64_t utc, bool backwards) {
  protocol::CommandRequest set;
  set.command = backwards ? protocol::Command::kSetTimeBackwards : protocol::Command::kSetTime;
  set.value = utc;
  s.Run(set, backwards ? "setting the lock's time backwards failed" : "setting the lock's time failed");
}

}  // namespace

void CheckRemoteOutcome(const protocol::RemoteOutcome& r, const std::string& verb, LockSession* s) {
  if (!r.confirmed) {
    // Unsigned: the lock signs only answers to envelopes whose signature
    // it has verified, and a relay could have written this one.
    throw Error(ExitCode::kUnreachable,
                std::string("the outcome of the remote ") + verb + " is unconfirmed (an unsigned answer says: " +
                    ExplainStatus(r.envelope, RefusalStage::kCommand).why +
                    "; the lock did not sign it, so a relay could have written it)",
                "Check with mortise status once the command's 30 s have passed.");
  }
  if (r.envelope == StatusCode::kAlreadyExists || r.envelope == StatusCode::kResourceExhausted) {
    // Signed, but not final: the envelope was seen before (an earlier
    // delivery may have run), or the lock could not take it now (it may
    // still be delivered until it expires).
    throw Error(ExitCode::kUnreachable,
                std::string("the outcome of the remote ") + verb + " is unknown (the lock says: " +
                    (r.envelope == StatusCode::kAlreadyExists ? "already seen" : "too many commands in flight") + ")",
                "Check with mortise status once the command's 30 s have passed.");
  }
  if (r.envelope != StatusCode::kOk) ThrowRefusal("the lock refused the remote command", r.envelope);
  if (r.response.status == StatusCode::kAborted && s != nullptr)
    s->ThrowOperationRefused(std::string("the lock refused to ") + verb, r.response);
  if (r.response.status != StatusCode::kOk) ThrowRefusal(std::string("the lock refused to ") + verb, r.response.status);
}

namespace {

// One door operation, through a session or an end-to-end envelope. The
// lock answers when it has accepted the operation; the bolt then moves, so
// the client watches LockState until the bolt is there (or --wait runs
// out) before it tells the person "locked" or "unlocked".
int Operate(Context& ctx, protocol::Command command, int64_t value, bool remote, bool via_server, const char* verb,
            const char* done) {
  RefreshRevalidationTokenIfDue(ctx);
  if (via_server) return OperateViaServer(ctx, command, value, verb, done);
  std::optional<LockSession> session;
  try {
    session.emplace(ctx);
  } catch (const Error& e) {
    // Not reachable here (nothing was sent yet): through the server the
    // lock was registered on, if any.
    if (e.code() != ExitCode::kUnreachable || !RegisteredOnServer(ctx)) throw;
    return OperateViaServer(ctx, command, value, verb, done);
  }
  LockSession& s = *session;
  protocol::CommandRequest request;
  request.command = command;
  request.value = value;
  if (!remote) {
    s.Run(request, std::string("the lock refused to ") + verb);
  } else {
    // The expiry is on the lock's clock: read it first, then allow 30 s.
    const int64_t lock_now = s.ReadAttribute(core::AttributeId::kUtcTime);
    if (lock_now == 0) {
      throw Error(ExitCode::kRefused, "the lock's time is unknown, so it refuses remote commands",
                  "Set it first: mortise time sync.");
    }
    uint32_t counter = 0;
    s.Update([&](LockEntry& l) { counter = l.NextRemoteCounter(); });  // spent before the envelope leaves
    const protocol::RemoteOutcome r =
        s.client().Remote(s.key(), s.lock().chain, s.lock().LockKey(), request, counter,
                          lock_now + protocol::kMaxRemoteLifetimeS, s.revalidation());
    CheckRemoteOutcome(r, verb, &s);
  }
  // LockState: 1 locked, 2 unlocked, 3 unlatched (Matter DlLockState).
  const bool want_locked = command == protocol::Command::kLock;
  std::string state = "accepted";
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(ctx.options().wait_s * 1000));
  if (ctx.options().wait_s > 0) {
    Progress progress(std::string("waiting for the bolt"));
    for (;;) {
      const int64_t lock_state = s.ReadAttribute(core::AttributeId::kLockState);
      if (want_locked ? lock_state == 1 : (lock_state == 2 || lock_state == 3)) {
        state = "done";
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        state = "moving";
        break;
      }
      poll(nullptr, 0, 100);
    }
  }
  const std::string how = remote ? " (end-to-end signed command; the lock's signed answer verified)" : "";
  if (state == "done") {
    ctx.out().Text(std::string(done) + how + "\n");
  } else if (state == "moving") {
    ctx.out().Text(std::string(verb) + " accepted" + how + ", but the bolt had not finished after " +
                   std::to_string(static_cast<int>(ctx.options().wait_s)) + " s: check with mortise status\n");
  } else {
    ctx.out().Text(std::string(verb) + " accepted" + how + "\n");
  }
  ctx.out().Json({{"operation", verb}, {"state", state}, {"remote", remote}});
  return 0;
}

}  // namespace

int CmdClaim(Context& ctx, const ClaimOptions& o) {
  if (o.endpoint.empty()) {
    throw Error(ExitCode::kUsage, "claim needs the lock's endpoint", "Pass --endpoint, e.g. --endpoint /var/lib/mortise/lock.sock.");
  }
  // The label is checked before anything else: bad input changes nothing.
  std::optional<protocol::ClaimLabel> from_label;
  std::string code = o.label;  // a bare setup code, as typed: '079 462 759' or '079-462-759' too
  std::erase_if(code, [](char c) { return c == ' ' || c == '-'; });
  if (o.label.rfind("MC1.", 0) == 0) {
    Result<protocol::ClaimLabel> parsed = protocol::ParseLabel(o.label);
    if (!parsed.ok()) {
      throw Error(ExitCode::kBadInput, "the claim label is malformed",
                  "Copy it exactly as the lock prints it (MC1. followed by 40 characters), or give the 9-digit setup code.");
    }
    from_label = *parsed;
  } else if (code.size() != protocol::kSetupCodeDigits || code.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ExitCode::kBadInput, "'" + o.label + "' is neither a claim label nor a 9-digit setup code",
                "Use the MC1. text under the lock's QR code, or its 9-digit setup code.");
  } else if (protocol::IsTrivialSetupCode(static_cast<uint32_t>(std::stoul(code)))) {
    throw Error(ExitCode::kBadInput, "that setup code cannot be a lock's (too simple)");
  }
  std::optional<protocol::KeyId> printed_hash;
  if (!o.key_hash.empty()) {
    std::string hex = o.key_hash;
    std::erase_if(hex, [](char c) { return c == ' ' || c == ':'; });
    std::vector<uint8_t> bytes;
    if (!FromHex(hex, bytes) || bytes.size() != protocol::kKeyIdSize) {
      throw Error(ExitCode::kBadInput, "--key-hash takes the 16 hex digits printed on the label");
    }
    printed_hash.emplace();
    std::copy(bytes.begin(), bytes.end(), printed_hash->begin());
    if (from_label.has_value() && from_label->key_hash != *printed_hash) {
      throw Error(ExitCode::kBadInput, "--key-hash does not match the key hash inside the label");
    }
  }
  // A bare code needs the key hash confirmed; without a terminal to ask on,
  // only --key-hash can, and that is known before anything is sent.
  const bool can_ask = isatty(STDIN_FILENO) == 1 && isatty(STDERR_FILENO) == 1;
  if (!from_label.has_value() && !printed_hash.has_value() && !can_ask) {
    throw Error(ExitCode::kUsage, "claiming with the bare setup code needs the key hash printed on the label",
                "Pass it with --key-hash, or claim with the label's MC1. text (its QR code).");
  }
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  const IdentityEntry& identity = keyring.content().GetIdentity(o.identity);
  const Endpoint endpoint = Endpoint::Parse(o.endpoint).Absolute();
  Transport transport = ctx.Connect(endpoint);
  LockClient client(transport, ctx.drbg());

  protocol::ClaimLabel label;
  if (from_label.has_value()) {
    label = *from_label;
  } else {
    // A bare setup code: the lock id and key hash come from the lock's info
    // frame, which nothing authenticates. Whoever knows the code (an
    // installer, a previous owner, a photo of the sticker) could answer it
    // from a stand-in device, complete the PAKE, and let the owner "claim"
    // the stand-in while they claim the real lock. So the key hash the
    // device reports must be the one printed on the label: given with
    // --key-hash, or compared by the person. The claim then pins it (M6's
    // lock key must hash to it).
    const protocol::LockInfoView info = client.Info();
    if (printed_hash.has_value()) {
      if (info.key_hash != *printed_hash) {
        throw Error(ExitCode::kVerification,
                    "the device at this endpoint is not the lock on your label (its key hash is " +
                        ToHex(info.key_hash) + ", the label says " + ToHex(*printed_hash) + ")",
                    "Someone may be standing in for your lock: claim nothing through this path. Use the label's QR "
                    "code (MC1. text) at the lock.");
      }
    } else {
      std::fprintf(stderr,
                   "The device answering says:\n  lock id   %s\n  key hash  %s\n"
                   "Compare the key hash with the one printed on the lock's label.\n"
                   "Type yes if they are the same: ",
                   ToHex(info.lock_id).c_str(), ToHex(info.key_hash).c_str());
      std::string answer;
      std::getline(std::cin, answer);
      if (answer != "yes" && answer != "y") {
        throw Error(ExitCode::kVerification, "claim cancelled: the key hash was not confirmed",
                    "If it differs from the label, the device answering is not your lock: claim nothing through "
                    "this path.");
      }
    }
    label.lock_id = info.lock_id;
    label.key_hash = info.key_hash;
    label.setup_code = static_cast<uint32_t>(std::stoul(code));
  }
  if (keyring.content().FindLockById(label.lock_id) != nullptr) {
    throw Error(ExitCode::kUsage, "this lock is already in your keyring", "See mortise lock list.");
  }
  ClaimOutcome outcome;
  {
    Progress progress("claiming the lock");
    outcome = client.Claim(label, identity.KeyPair());
  }
  LockEntry entry;
  entry.name = o.name.empty() ? "lock" : o.name;
  for (int i = 2; o.name.empty() && keyring.content().FindLock(entry.name) != nullptr; ++i) {
    entry.name = "lock-" + std::to_string(i);
  }
  entry.lock_id = label.lock_id;
  entry.lock_key = outcome.lock_key;
  entry.endpoint = endpoint.ToString();
  entry.role = protocol::Role::kOwner;
  entry.identity = identity.name;
  entry.offline_pin_secret.emplace(outcome.offline_pin_secret);
  entry.access_list.floor = outcome.access_list_floor;
  entry.claim_generation = outcome.claim_generation;
  // The lock's signed word that it installed this owner key: what
  // `mortise server register` shows the server (docs/server.md).
  entry.extra["claim_proof"] = {{"transcript_hash", ToHex(outcome.proof.transcript_hash)},
                                {"signature", ToHex(outcome.proof.signature)},
                                {"access_list_floor", outcome.proof.access_list_floor},
                                {"claim_generation", outcome.proof.claim_generation}};
  entry.added_at = ctx.Now();
  LockEntry& added = keyring.content().AddLock(std::move(entry));
  keyring.Save();  // the lock is ours: never lose that, whatever follows

  // A new owner's lock may not know the time; set it as a phone app would.
  // As the owner, with "backwards allowed": a factory reset keeps the
  // lock's running clock and its floor (the time only moves forward
  // without the owner), so a re-claimed lock whose clock runs even a second
  // ahead of this device's would refuse a forward-only set.
  int64_t set_to = 0;
  if (o.time != "none") {
    set_to = ParseUtc(o.time.empty() ? "now" : o.time, ctx.Now());
    LockClient session(transport, ctx.drbg());
    session.UseKey(identity.KeyPair(), {}, added.lock_id);
    protocol::CommandRequest set;
    set.command = protocol::Command::kSetTimeBackwards;
    set.value = set_to;
    const protocol::CommandResponse r = session.Call(set);
    if (r.status != StatusCode::kOk) {
      throw Error(ExitCode::kRefused,
                  "claimed (the lock is yours and in your keyring), but setting its time failed: " +
                      ExplainStatus(r.status, RefusalStage::kCommand).why,
                  "Keys with a validity window or schedule need the time: run mortise time sync --backwards --lock " +
                      added.name);
    }
  }
  ctx.out().Text("Claimed: you own lock '" + added.name + "' (" + ToHex(added.lock_id) + ").\n" +
                 (set_to != 0 ? "Its time is set to " + FormatUtc(set_to) + ".\n" : "") +
                 "Next: mortise unlock, mortise user add, mortise key share.\n");
  ctx.out().Json({{"lock", added.name}, {"lock_id", ToHex(added.lock_id)}, {"role", "owner"},
                  {"time", set_to != 0 ? nlohmann::json(FormatUtc(set_to)) : nlohmann::json(nullptr)}});
  return 0;
}

int CmdStatus(Context& ctx, const StatusOptions& o) {
  if (o.via_server) return StatusViaServer(ctx);
  std::optional<LockSession> session;
  try {
    session.emplace(ctx);
  } catch (const Error& e) {
    if (e.code() != ExitCode::kUnreachable || !RegisteredOnServer(ctx)) throw;
    return StatusViaServer(ctx);
  }
  LockSession& s = *session;
  using A = core::AttributeId;
  const int64_t lock_state = s.ReadAttribute(A::kLockState);
  const int64_t door = s.ReadAttribute(A::kDoorState);
  const int64_t mode = s.ReadAttribute(A::kOperatingMode);
  const int64_t battery = s.ReadAttribute(A::kBatteryPercent);
  const int64_t utc = s.ReadAttribute(A::kUtcTime);
  const int64_t lockout = s.ReadAttribute(A::kLockoutRemaining);
  const int64_t offset = s.ReadAttribute(A::kUtcOffset);
  // Kept so that offline work (key share --until DATE) uses the lock's day,
  // summer time included.
  LockTimeZone zone;
  zone.utc_offset_s = static_cast<int32_t>(offset);
  zone.dst.save_s = static_cast<int32_t>(s.ReadAttribute(A::kDstOffset));
  if (!core::UnpackDstTransition(s.ReadAttribute(A::kDstStart), zone.dst.start) ||
      !core::UnpackDstTransition(s.ReadAttribute(A::kDstEnd), zone.dst.end)) {
    zone.dst = core::DstRule();
  }
  nlohmann::json probe = s.lock().extra;
  StoreTimeZone(probe, zone);
  if (probe != s.lock().extra) s.Update([&zone](LockEntry& l) { StoreTimeZone(l.extra, zone); });
  std::string text = "lock '" + s.lock().name + "' (" + RoleText(s.lock().role) + ")\n";
  text += "  bolt:     " + std::string(LockStateName(lock_state)) + "\n";
  text += "  door:     " + std::string(DoorStateName(door)) + "\n";
  text += "  mode:     " + std::string(ModeText(mode)) + "\n";
  text += "  battery:  " + std::to_string(battery) + "%\n";
  text += "  time:     " + FormatUtc(utc) + "\n";
  if (utc == 0)
    text += "  The lock does not know the time: schedules, time-limited keys and offline PINs are refused\n"
            "  until it is set. Run: mortise time sync\n";
  if (lockout > 0) text += "  keypad locked out for " + std::to_string(lockout) + " s\n";
  // What a new owner must not miss, in words (issue 12, item 16).
  nlohmann::json warnings = nlohmann::json::array();
  if (battery <= s.ReadAttribute(A::kBatteryLowThreshold)) {
    warnings.push_back("the battery is low (" + std::to_string(battery) + "%): replace the batteries soon");
  }
  if (lock_state == 1 && (door == 0 || door == 5)) {
    warnings.push_back("locked with the door open: the bolt is out but the door is not shut");
  }
  for (const auto& w : warnings) text += "  warning: " + w.get<std::string>() + "\n";
  // Log custody: once this device issued a custody key, how far the lock's
  // log is uploaded (acknowledged) and how much waits. One log page read
  // from beyond the head carries only the head and the cursor.
  nlohmann::json upload;
  if (s.lock().HasCustodyKey()) {
    try {
      const LogRead tail = s.client().ReadLog(static_cast<uint64_t>(INT64_MAX));
      const uint64_t waiting = tail.head > tail.upload_cursor ? tail.head - tail.upload_cursor : 0;
      text += "  log:      uploaded through #" + std::to_string(tail.upload_cursor) + ", " + std::to_string(waiting) +
              " record(s) not yet acknowledged (newest #" + std::to_string(tail.head) + ")\n";
      upload = {{"cursor", tail.upload_cursor}, {"head", tail.head}, {"unacknowledged", waiting}};
    } catch (const Error& e) {
      if (e.code() != ExitCode::kRefused) throw;  // a key without read-log: nothing to show
    }
  }
  ctx.out().Text(text);
  ctx.out().Json({{"lock", s.lock().name},
                  {"lock_state", LockStateName(lock_state)},
                  {"door_state", DoorStateName(door)},
                  {"mode", ModeText(mode)},
                  {"battery_percent", battery},
                  {"utc", utc != 0 ? nlohmann::json(FormatUtc(utc)) : nlohmann::json(nullptr)},
                  {"time_known", utc != 0},
                  {"lockout_remaining_s", lockout},
                  {"log_upload", upload},
                  {"warnings", warnings}});
  return 0;
}

int CmdLockDoor(Context& ctx, const OperateOptions& o) {
  return Operate(ctx, protocol::Command::kLock, 0, o.remote, o.via_server, "lock", "locked");
}

int CmdUnlock(Context& ctx, const UnlockOptions& o) {
  if (o.for_seconds > 0xFFFF) throw Error(ExitCode::kBadInput, "--for is at most 65535 seconds");
  return o.for_seconds != 0
             ? Operate(ctx, protocol::Command::kUnlockWithTimeout, o.for_seconds, o.remote, o.via_server, "unlock",
                       "unlocked")
             : Operate(ctx, protocol::Command::kUnlock, 0, o.remote, o.via_server, "unlock", "unlocked");
}

int CmdUnlatch(Context& ctx, const OperateOptions& o) {
  return Operate(ctx, protocol::Command::kUnlatch, 0, o.remote, o.via_server, "unlatch", "unlatched");
}

int CmdMode(Context& ctx, const ModeOptions& o) {
  LockSession s(ctx);
  if (o.mode.empty()) {
    const int64_t mode = s.ReadAttribute(core::AttributeId::kOperatingMode);
    ctx.out().Text(std::string(ModeText(mode)) + "\n");
    ctx.out().Json({{"mode", ModeText(mode)}});
    return 0;
  }
  const ModeName* chosen = nullptr;
  for (const ModeName& m : kModes) {
    if (o.mode == m.cli) chosen = &m;
  }
  if (chosen == nullptr) {
    throw Error(ExitCode::kBadInput, "'" + o.mode + "' is not a mode", "Use normal, vacation, privacy, passage or no-remote.");
  }
  protocol::CommandRequest write;
  write.command = chosen->mode == core::OperatingMode::kPassage ? protocol::Command::kSetPassageMode
                                                                 : protocol::Command::kWriteAttribute;
  write.attribute = static_cast<uint16_t>(core::AttributeId::kOperatingMode);
  write.value = static_cast<int64_t>(chosen->mode);
  s.Run(write, "changing the mode failed");
  ctx.out().Text(std::string("mode: ") + chosen->cli + "\n");
  ctx.out().Json({{"mode", chosen->cli}});
  return 0;
}

int CmdTime(Context& ctx, const TimeOptions& o) {
  LockSession s(ctx);
  if (o.action == "show" || o.action.empty()) {
    const int64_t utc = s.ReadAttribute(core::AttributeId::kUtcTime);
    const int64_t mine = ctx.Now();
    std::string text = FormatUtc(utc);
    if (utc != 0) {
      const int64_t d = utc - mine;
      text += " (this device: " + FormatUtc(mine) + "; the lock is " +
              (d == 0 ? std::string("in step") : std::to_string(d > 0 ? d : -d) + " s " + (d > 0 ? "ahead" : "behind")) + ")";
    } else {
      text += " (set it: mortise time sync)";
    }
    ctx.out().Text(text + "\n");
    ctx.out().Json({{"utc", JsonUtc(utc)},
                    {"difference_s", utc != 0 ? nlohmann::json(utc - mine) : nlohmann::json(nullptr)}});
    return 0;
  }
  const int64_t utc = ParseUtc(o.action == "sync" ? "now" : o.value, ctx.Now());
  // The lock refuses a backwards move without SetTimeBackwards; saying so
  // before asking gives the reason and the way (exit 3, as the lock's own
  // refusal would).
  if (const int64_t lock_now = s.ReadAttribute(core::AttributeId::kUtcTime); !o.backwards && utc < lock_now) {
    throw Error(ExitCode::kRefused, "that is earlier than the lock's time (" + FormatUtc(lock_now) + ")",
                "Moving the clock back needs --backwards (owner only).");
  }
  SetLockTime(s, utc, o.backwards);
  ctx.out().Text("the lock's time is now " + FormatUtc(utc) + "\n");
  ctx.out().Json({{"utc", FormatUtc(utc)}});
  return 0;
}

}  // namespace mortise::cli
