// lock transfer / lock take-over: handing a lock to another owner key
// without a factory reset (docs/protocol.md section 18, docs/cli.md).
//
// The old owner's device sends TransferOwnership in a session with its own
// key and prints the lock's answer as an MKT1. text; the new owner's device
// checks the lock's signature on it against the lock key it carries, opens
// the offline-PIN secret sealed to its identity, and adds the lock to its
// keyring as its owner.
#include <algorithm>
#include <span>

#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "keyring.h"
#include "lock_session.h"
#include "mortise/protocol/management.h"
#include "mortise/protocol/transfer.h"
#include "output.h"
#include "transport.h"

namespace mortise::cli {

int CmdLockTransfer(Context& ctx, const LockTransferOptions& o) {
  // The new owner's key is checked before anything else: bad input changes nothing.
  const crypto::P256PublicKey to = ParsePublicKeyString(Trimmed(o.to));
  LockSession s(ctx);
  const LockEntry lock = s.lock();
  if (!lock.is_owner() || !lock.chain.empty()) {
    throw Error(ExitCode::kUsage, "only the owner of lock \"" + lock.name + "\" can hand it over",
                "The owner runs mortise lock transfer with the key they claimed the lock with.");
  }
  if (to == s.key().public_key()) {
    throw Error(ExitCode::kBadInput, "that is your own key: the lock is already yours",
                "Give the public key the new owner's `mortise id show` prints.");
  }
  if (!o.yes) {
    throw Error(ExitCode::kUsage,
                "handing lock \"" + lock.name +
                    "\" over ends every key you issued for it, your access lists, group memberships, custody keys "
                    "and offline codes, and your own access" +
                    (o.clear_users ? ", and clears its users and their PINs and cards" : " (its users and their "
                                                                                          "PINs and cards stay)"),
                "Add --yes if you mean it.");
  }
  protocol::ManagementCommand c;
  c.op = protocol::ManagementOp::kTransferOwnership;
  const auto key = to.Compressed();
  std::copy(key.begin(), key.end(), c.new_owner.begin());
  c.claim_generation = lock.claim_generation;
  c.clear_users = o.clear_users;
  uint8_t payload[protocol::kMaxManagementCommandSize];
  Result<size_t> n = protocol::EncodeManagement(c, payload);
  if (!n.ok()) throw Error(ExitCode::kInternal, "cannot encode the transfer");
  protocol::CommandRequest request;
  request.command = protocol::Command::kManagement;
  request.payload = std::span<const uint8_t>(payload, *n);
  const protocol::CommandResponse r = s.Run(request, "handing the lock over");
  if (r.payload_len != protocol::kTransferResultSize) {
    throw Error(ExitCode::kVerification, "the lock's answer to the transfer is not a transfer result",
                "The lock may have been handed over all the same: try mortise status.");
  }
  protocol::TransferBundle bundle;
  bundle.lock_key = lock.lock_key;
  std::copy(r.payload.begin(), r.payload.begin() + protocol::kTransferResultSize, bundle.result.begin());
  const std::string endpoint = lock.endpoint.size() <= protocol::kMaxEndpointHint ? lock.endpoint : std::string();
  std::copy(endpoint.begin(), endpoint.end(), bundle.endpoint_hint.begin());
  bundle.endpoint_hint_len = endpoint.size();
  std::copy(lock.name.begin(), lock.name.end(), bundle.lock_name_hint.begin());
  bundle.lock_name_hint_len = lock.name.size();
  const std::string text = EncodeTransferString(bundle);
  const std::string to_text = EncodePublicKeyString(to);
  // The lock now belongs to the new owner and the text cannot be made
  // again: it goes out (printed, then durably to --out) before this keyring
  // forgets the lock. A crash in between leaves a stale entry, never a lost
  // text; a --out that cannot be written still leaves the printed text (and
  // --json's error output carries "transfer").
  ctx.out().Text("Lock \"" + lock.name + "\" now belongs to " + to_text + ".\n" +
                 (o.clear_users ? "Its users and their PINs and cards were cleared.\n"
                                : "Its users and their PINs and cards stay.\n") +
                 "Every key you issued for it, your offline codes and your own access have ended.\n\nGive the new "
                 "owner this text (only their key opens it; it cannot be made again):\n" +
                 text + "\n\nThey run: mortise lock take-over " + text + "\n");
  // --json prints its document at the end: the text goes to stderr now.
  if (ctx.out().json()) ctx.out().Note("transfer text (give it to the new owner): " + text);
  ctx.out().Json({{"lock", lock.name},
                  {"lock_id", ToHex(lock.lock_id)},
                  {"new_owner", to_text},
                  {"users_cleared", o.clear_users},
                  {"transfer", text}});
  if (!o.out.empty()) {
    const std::string line = text + "\n";
    AtomicReplace(o.out, std::span(reinterpret_cast<const uint8_t*>(line.data()), line.size()), "the transfer file");
    ctx.out().Text("Also written to " + o.out + ".\n");
  }
  // Nothing this keyring holds for the lock works any more.
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    keyring.content().ForgetLock(lock.name);
    keyring.Save();
  }
  ctx.out().Text("It is no longer in your keyring.\n");
  return 0;
}

int CmdLockTakeOver(Context& ctx, const LockTakeOverOptions& o) {
  const protocol::TransferBundle bundle = ParseTransferString(Trimmed(o.text));
  Result<crypto::P256PublicKey> lock_key = crypto::P256PublicKey::Import(bundle.lock_key);
  if (!lock_key.ok()) throw Error(ExitCode::kBadInput, "the transfer string's lock key is not a valid point");
  if (!o.key_hash.empty()) {
    std::string hex = o.key_hash;
    std::erase_if(hex, [](char ch) { return ch == ' ' || ch == ':'; });
    if (hex != ToHex(protocol::KeyIdOf(*lock_key))) {
      throw Error(ExitCode::kVerification,
                  "the lock in this transfer is not the lock on your label (its key hash is " +
                      ToHex(protocol::KeyIdOf(*lock_key)) + ")",
                  "Do not take it over: ask the old owner at the lock itself.");
    }
  }
  std::string endpoint_text = o.endpoint.empty() ? std::string(bundle.endpoint_view()) : o.endpoint;
  if (endpoint_text.empty()) {
    throw Error(ExitCode::kUsage, "the transfer names no endpoint for the lock", "Pass --endpoint.");
  }
  const Endpoint endpoint = Endpoint::Parse(endpoint_text).Absolute();
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  const IdentityEntry& identity = keyring.content().GetIdentity(o.identity);
  Result<protocol::TransferOutcome> outcome =
      protocol::OpenTransferResult(bundle.result, *lock_key, identity.KeyPair(), ctx.drbg());
  if (!outcome.ok()) {
    if (outcome.status().code() == StatusCode::kUnauthenticated) {
      throw Error(ExitCode::kVerification,
                  "this transfer was not made for your identity \"" + identity.name +
                      "\", or it was altered on the way (the lock's signature does not verify for your key)",
                  "Take it over with the identity whose public key the old owner used (--identity), or ask them "
                  "to check the key they gave the lock.");
    }
    throw Error(ExitCode::kBadInput, "the transfer string does not hold a transfer result for its lock");
  }
  const protocol::LockId lock_id = outcome->lock_id;
  std::string replaced;
  if (LockEntry* known = keyring.content().FindLockById(lock_id); known != nullptr) {
    if (known->is_owner()) {
      throw Error(ExitCode::kUsage, "you own this lock already (\"" + known->name + "\")", "See mortise lock list.");
    }
    // A key this device held for the lock (the old owner's, now ended).
    replaced = known->name;
    keyring.content().ForgetLock(known->name);
  }
  LockEntry entry;
  std::string base = o.name.empty() ? std::string(bundle.name_view()) : o.name;
  if (base.empty()) base = "lock";
  entry.name = base;
  for (int i = 2; keyring.content().FindLock(entry.name) != nullptr; ++i) {
    if (!o.name.empty()) throw Error(ExitCode::kUsage, "a lock named \"" + o.name + "\" is already in your keyring");
    entry.name = base + "-" + std::to_string(i);
  }
  entry.lock_id = lock_id;
  entry.lock_key = bundle.lock_key;
  entry.endpoint = endpoint.ToString();
  entry.role = protocol::Role::kOwner;
  entry.identity = identity.name;
  entry.offline_pin_secret.emplace(outcome->offline_pin_secret);
  entry.access_list.floor = outcome->access_list_floor;
  entry.claim_generation = outcome->claim_generation;
  entry.added_at = ctx.Now();
  const LockEntry& added = keyring.content().AddLock(std::move(entry));
  const std::string name = added.name;
  keyring.Save();
  ctx.out().Text("You own lock \"" + name + "\" (" + ToHex(lock_id) + "), handed over to you" +
                 (replaced.empty() ? std::string() : " (it replaces the key \"" + replaced + "\" you held)") +
                 ".\nThe old owner's keys have ended; share new ones with mortise key share.\n");
  ctx.out().Json({{"lock", name},
                  {"lock_id", ToHex(lock_id)},
                  {"role", "owner"},
                  {"claim_generation", outcome->claim_generation},
                  {"replaced", replaced.empty() ? nlohmann::json(nullptr) : nlohmann::json(replaced)}});
  return 0;
}

}  // namespace mortise::cli
