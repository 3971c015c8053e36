#include "door_updates.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>

#include "api_error.h"
#include "door_registration.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/text_forms.h"

namespace mortise::server {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxStoredVersion = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

crypto::P256PublicKey OwnerKeyOf(std::string_view owner_hex) {
  const auto bytes = FromHex(owner_hex, kPublicKeyBytes);
  if (!bytes) throw ApiError(500, "internal", "The door's owner key is not stored correctly.");
  auto key = crypto::P256PublicKey::Import(*bytes);
  if (!key.ok()) throw ApiError(500, "internal", "The door's owner key is not a P-256 point.");
  return *key;
}

std::string SerialHex(uint64_t serial) { return GroupIdHex(serial); }

json KeyRefJson(const protocol::KeyRef& k) {
  return {{"issuer_key_id", ToHex(k.issuer)}, {"serial", SerialHex(k.serial)}};
}

// The refusal of a signed object by the protocol library, as the API says it.
// A token for `chain` (RevalidationFieldsFor) whose signature is made by a
// fixed throwaway key: only ever passed to VerifyChain with the time
// unknown, which stops before reading it (VerifyKeyChain).
std::vector<uint8_t> UnjudgedToken(std::span<const uint8_t> chain) {
  class Fixed final : public crypto::EntropySource {
   public:
    Status Fill(std::span<uint8_t> out) override {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i * 7 + 1);
      return Status::Ok();
    }
  } entropy;
  crypto::Drbg drbg(entropy);
  auto fields = protocol::RevalidationFieldsFor(chain, 0);
  if (!drbg.Seed().ok() || !fields.ok()) return {};
  auto key = crypto::P256KeyPair::Generate(drbg);
  if (!key.ok()) return {};
  std::vector<uint8_t> token(protocol::kMaxRevalidationTokenSize);
  auto n = protocol::IssueRevalidationToken(*fields, *key, {}, drbg, token);
  if (!n.ok()) return {};
  token.resize(*n);
  return token;
}

[[noreturn]] void Refuse(const Status& s, const char* what) {
  switch (s.code()) {
    case StatusCode::kUnauthenticated:
      throw ApiError(403, "invalid_signature",
                     std::string("The ") + what + " is not signed by this door's owner key (or its admin's).");
    case StatusCode::kPermissionDenied:
      throw ApiError(403, "not_permitted",
                     std::string("The door would refuse this ") + what +
                         ": another lock, claim or group, a signer without the right, or keys of another issuer.");
    default:
      throw ApiError(400, "invalid_update", std::string("The ") + what + " does not decode (" + s.name() + ").");
  }
}

void CheckHeader(const DoorRow& door, const protocol::LockId& lock_id, uint32_t claim_generation, uint64_t version,
                 int64_t known_generation) {
  if (ToHex(lock_id) != door.lock_id) {
    throw ApiError(422, "wrong_door", "The update names another lock than this door's (" + ToHex(lock_id) + ").");
  }
  if (static_cast<int64_t>(claim_generation) < known_generation) {
    throw ApiError(409, "stale_claim",
                   "The update names claim generation " + std::to_string(claim_generation) + "; the door is at " +
                       std::to_string(known_generation) + " (the lock was claimed again since it was signed).");
  }
  if (version > kMaxStoredVersion) {
    throw ApiError(400, "invalid_update", "Versions above 2^63-1 are not stored.");
  }
}

// The version a lock-signed receipt proves the door holds, verified with
// the door's registered lock key against the row's stored update bytes and
// claim generation; nullopt when it does not verify.
std::optional<uint64_t> VerifiedReceipt(const DoorRow& door, const DoorUpdateRow& row, protocol::SignedUpdateKind kind,
                                        std::span<const uint8_t> update, const protocol::SignedUpdateReply& reply) {
  const auto key_bytes = FromHex(door.lock_public_key, kPublicKeyBytes);
  const auto lock_id = FromHex(door.lock_id, kLockIdBytes);
  if (!key_bytes || !lock_id || row.claim_generation < 0 ||
      row.claim_generation > std::numeric_limits<uint32_t>::max()) {
    return std::nullopt;
  }
  const auto key = crypto::P256PublicKey::Import(*key_bytes);
  if (!key.ok()) return std::nullopt;
  protocol::LockId id{};
  std::copy(lock_id->begin(), lock_id->end(), id.begin());
  const auto held = protocol::VerifySignedUpdateReceipt(reply, *key, id, static_cast<uint32_t>(row.claim_generation),
                                                        kind, update);
  if (!held.ok()) return std::nullopt;
  return *held;
}

const char* CertRoleName(protocol::Role r) {
  static constexpr const char* kNames[] = {"unspecified", "owner", "admin", "member", "guest", "installer"};
  const auto i = static_cast<size_t>(r);
  return i < std::size(kNames) ? kNames[i] : "unspecified";
}

}  // namespace

std::string GroupIdHex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

VerifiedDoorUpdate VerifyDoorUpdate(const DoorRow& door, std::string_view kind, std::span<const uint8_t> update,
                                    int64_t known_generation) {
  VerifiedDoorUpdate v;
  v.kind = std::string(kind);
  v.update_hex = ToHex(update);
  const crypto::P256PublicKey owner = OwnerKeyOf(door.owner_public_key);
  if (kind == kKindAccessList) {
    if (update.empty() || update.size() > protocol::kMaxAccessListUpdateSize) {
      throw ApiError(400, "invalid_update", "An access list is 1 to 600 bytes.");
    }
    const auto header = protocol::PeekAccessList(update);
    if (!header.ok()) Refuse(header.status(), "access list");
    CheckHeader(door, header->lock_id, header->claim_generation, header->version, known_generation);
    const auto list = protocol::VerifyAccessList(update, header->lock_id, header->claim_generation, owner);
    if (!list.ok()) Refuse(list.status(), "access list");
    v.issuer = list->by_admin ? "admin:" + ToHex(list->signer) : std::string(kIssuerOwner);
    v.version = static_cast<int64_t>(list->version);
    v.claim_generation = list->claim_generation;
    json revoked = json::array(), disabled = json::array(), epochs = json::array();
    for (size_t i = 0; i < list->revoked_count; ++i) revoked.push_back(KeyRefJson(list->revoked[i]));
    for (size_t i = 0; i < list->disabled_count; ++i) disabled.push_back(KeyRefJson(list->disabled[i]));
    for (size_t i = 0; i < list->epoch_count; ++i) {
      epochs.push_back({{"issuer_key_id", ToHex(list->epochs[i].issuer)}, {"min_epoch", list->epochs[i].min_epoch}});
    }
    v.summary = {{"version", v.version},
                 {"claim_generation", v.claim_generation},
                 {"signed_by", list->by_admin ? "admin" : "owner"},
                 {"signer_key_id", list->by_admin ? json(ToHex(list->signer)) : json(nullptr)},
                 {"revoked", revoked},
                 {"disabled", disabled},
                 {"min_epochs", epochs}};
    return v;
  }
  if (kind == kKindMembership) {
    if (update.empty() || update.size() > protocol::kMaxGroupMembershipUpdateSize) {
      throw ApiError(400, "invalid_update", "A group membership is 1 to 496 bytes.");
    }
    const auto header = protocol::PeekGroupMembership(update);
    if (!header.ok()) Refuse(header.status(), "group membership");
    CheckHeader(door, header->lock_id, header->claim_generation, header->version, known_generation);
    const auto m = protocol::VerifyGroupMembership(update, header->lock_id, header->claim_generation, owner);
    if (!m.ok()) Refuse(m.status(), "group membership");
    v.issuer = std::string(kIssuerLock);
    v.version = static_cast<int64_t>(m->state.version);
    v.claim_generation = m->state.claim_generation;
    json groups = json::array();
    for (const uint64_t g : m->state.group_list()) groups.push_back(GroupIdHex(g));
    v.summary = {{"version", v.version},
                 {"claim_generation", v.claim_generation},
                 {"signed_by", m->admin ? "admin" : "owner"},
                 {"signer_key_id", m->admin ? json(ToHex(m->state.signer)) : json(nullptr)},
                 {"groups", groups}};
    return v;
  }
  throw ApiError(400, "invalid_update", "\"kind\" is access_list or group_membership.");
}

VerifiedKeyChain VerifyKeyChain(std::span<const uint8_t> chain, std::string_view owner_public_key_hex,
                                const std::optional<std::string>& lock_id_hex, int64_t claim_generation,
                                std::optional<uint64_t> group_id) {
  const auto split = protocol::SplitChain(chain);
  if (!split.ok()) throw ApiError(400, "invalid_key", "The key chain does not decode (one or two certificates).");
  const protocol::CertificateFields& holder = split->holder;
  const bool group_scope = holder.scope == protocol::Scope::kGroup;
  if (group_scope != group_id.has_value()) {
    throw ApiError(403, "not_permitted", group_scope ? "This is a group key: give its group_id, not a door_id."
                                                     : "This key opens one lock: give its door_id, not a group.");
  }
  const crypto::P256PublicKey owner = OwnerKeyOf(owner_public_key_hex);
  protocol::VerifyContext ctx;
  ctx.owner = &owner;
  ctx.utc_now = std::nullopt;  // time is not judged: step 8 is the last check
  uint64_t groups[1] = {group_id.value_or(0)};
  if (group_scope) {
    ctx.groups = std::span<const uint64_t>(groups, 1);
  } else {
    const auto lock = FromHex(*lock_id_hex, kLockIdBytes);
    if (!lock) throw ApiError(500, "internal", "The door's lock id is not stored correctly.");
    std::copy(lock->begin(), lock->end(), ctx.lock_id.begin());
    // The certificate names the claim it was issued for: not an earlier one
    // than the server has seen signed for this door.
    if (static_cast<int64_t>(holder.claim_generation) < claim_generation) {
      throw ApiError(409, "stale_claim", "The key names an earlier claim generation than the door's (" +
                                             std::to_string(claim_generation) + ").");
    }
    ctx.claim_generation = holder.claim_generation;
  }
  // A key that demands revalidation tokens (docs/protocol.md 13) is checked
  // with a token that names it but is signed by nobody: the token is examined
  // after the signatures, delegation and lists, and with the time unknown
  // its check stops at "time unknown" (kFailedPrecondition) before any
  // signature of the token is read. So such a key is judged exactly as far
  // as any other; whether a real token makes it live is the lock's affair.
  std::vector<uint8_t> token;
  const auto max_age = protocol::ChainRevalidationMaxAge(chain);
  if (max_age.ok() && *max_age != 0 && !group_scope) token = UnjudgedToken(chain);
  const auto verified = token.empty() ? protocol::VerifyChain(chain, ctx) : protocol::VerifyChain(chain, token, ctx);
  // kFailedPrecondition with an owner given: a time-limited key (or a
  // token) met the unknown time, after every other check passed.
  if (!verified.ok() && verified.status().code() != StatusCode::kFailedPrecondition) {
    if (verified.status().code() == StatusCode::kPermissionDenied) {
      throw ApiError(403, "not_permitted",
                     "A lock would refuse this key: another lock, claim or group, permissions beyond its role, "
                     "or bad delegation.");
    }
    Refuse(verified.status(), "key");
  }
  VerifiedKeyChain out;
  out.scope = group_scope ? "group" : "lock";
  out.issuer_key_id = ToHex(holder.issuer_key_id);
  out.serial = SerialHex(holder.serial);
  out.group_id = group_scope ? GroupIdHex(holder.group_id) : "";
  out.chain_hex = ToHex(chain);
  std::string holder_key_id;
  if (auto hk = crypto::P256PublicKey::Import(holder.holder_key); hk.ok()) {
    holder_key_id = ToHex(protocol::KeyIdOf(*hk));
  }
  json schedule = nullptr;
  if (holder.schedule) {
    schedule = {{"days_mask", holder.schedule->days_mask},
                {"start_minute", holder.schedule->start_minute},
                {"end_minute", holder.schedule->end_minute}};
  }
  out.summary = {{"scope", out.scope},
                 {"holder_key_id", holder_key_id},
                 {"issuer_key_id", out.issuer_key_id},
                 {"serial", out.serial},
                 {"delegated", split->count == 2},
                 {"role", CertRoleName(holder.role)},
                 {"permissions", holder.permissions},
                 {"not_before", holder.not_before},
                 {"not_after", holder.not_after},
                 {"schedule", schedule},
                 {"max_uses", holder.max_uses},
                 {"remote_only", holder.remote_only},
                 {"issuer_epoch", holder.issuer_epoch},
                 {"claim_generation", holder.claim_generation},
                 {"group_id", group_scope ? json(out.group_id) : json(nullptr)}};
  return out;
}

DoorUpdateDeliverer::DoorUpdateDeliverer(SqlRepository& repo, LockLink& link, const Clock& clock,
                                         DeliverySettings settings, EventSink sink)
    : repo_(repo), store_(repo), link_(link), clock_(clock), settings_(settings), sink_(std::move(sink)) {}

int64_t DoorUpdateDeliverer::Backoff(int64_t attempts) const {
  int64_t wait = settings_.first_retry_ms;
  for (int64_t i = 1; i < attempts && wait < settings_.max_retry_ms; ++i) wait *= 2;
  return std::min(wait, settings_.max_retry_ms);
}

int DoorUpdateDeliverer::DeliverDue() {
  int sent = 0;
  const int64_t now = clock_.NowMs();
  // Access lists before memberships (the order of `kind` in Due).
  for (const DoorUpdateRow& row : store_.Due(now, settings_.batch)) {
    const auto door = repo_.Door(row.org_id, row.door_id);
    // Skipped rows move out of the way (no attempt counted), or a batch
    // full of offline doors would hold up every other door's revocations.
    if (!door || !link_.Online(door->lock_id)) {
      store_.Defer(row, now + settings_.recheck_ms);
      continue;
    }
    if (row.kind == kKindMembership) {
      // A membership only once the door holds the owner's newest list: a
      // door put into a group must first refuse the group's revoked keys
      // (docs/protocol.md 5.1, A01). The list goes out in this pass.
      const auto list = store_.Update(row.door_id, kKindAccessList, kIssuerOwner);
      if (list && std::max(list->reported_version, list->confirmed_version) < list->version) {
        store_.Defer(row, now + settings_.recheck_ms);
        continue;
      }
    }
    const auto update = FromHex(row.update_hex, row.update_hex.size() / 2);
    if (!update) {
      store_.Defer(row, now + settings_.max_retry_ms);
      continue;
    }
    const auto kind = row.kind == kKindAccessList ? protocol::SignedUpdateKind::kAccessList
                                                  : protocol::SignedUpdateKind::kGroupMembership;
    std::vector<uint8_t> frame(2 + update->size());
    const auto n = protocol::EncodeSignedUpdateFrame(kind, *update, frame);
    if (!n.ok()) {
      store_.Defer(row, now + settings_.max_retry_ms);
      continue;
    }
    frame.resize(*n);
    const auto answer = link_.Exchange(door->lock_id, frame, settings_.exchange_timeout_ms);
    ++sent;
    const int64_t after = clock_.NowMs();
    std::string status = "no_answer";
    std::optional<int64_t> reported;
    std::optional<uint64_t> receipt_held;  // a receipt that verified
    if (answer) {
      const auto reply = protocol::DecodeSignedUpdateReply(*answer);
      if (reply.ok() && reply->kind == kind && reply->signature) {
        receipt_held = VerifiedReceipt(*door, row, kind, *update, *reply);
      }
      if (!reply.ok() || reply->kind != kind || (reply->signature && !receipt_held)) {
        // A signature that does not verify (for another update, lock or
        // claim, or forged on the way) is no answer of this lock's.
        status = "bad_answer";
      } else {
        if (reply->held_version <= kMaxStoredVersion) reported = static_cast<int64_t>(reply->held_version);
        switch (reply->status) {
          case StatusCode::kOk: status = "applied"; break;
          case StatusCode::kAlreadyExists: status = "held"; break;
          case StatusCode::kUnavailable: status = "busy"; break;
          default: {
            std::string name = StatusCodeName(reply->status);
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            status = "refused:" + name;
          }
        }
      }
    }
    store_.RecordAttempt(row, after, after + Backoff(row.attempts + 1), status, reported);
    // Confirmed only by the lock's signature over these very bytes.
    if (receipt_held && *receipt_held >= static_cast<uint64_t>(row.version) && *receipt_held <= kMaxStoredVersion) {
      store_.RecordReceipt(row, ToHex(*answer));
      RecordConfirmed(door->lock_id, row.kind, *receipt_held, row.issuer);
    }
    if (sink_) {
      sink_(row.org_id, json{{"type", "door.update"},
                             {"door_id", row.door_id},
                             {"kind", row.kind},
                             {"issuer", row.issuer},
                             {"version", row.version},
                             {"status", status},
                             {"reported_version", reported ? json(*reported) : json(nullptr)}});
    }
  }
  return sent;
}

bool DoorUpdateDeliverer::RecordConfirmed(std::string_view lock_id_hex, std::string_view kind, uint64_t version,
                                          std::string_view issuer) {
  if (issuer.empty()) issuer = kind == kKindMembership ? kIssuerLock : kIssuerOwner;
  if (version > kMaxStoredVersion) return false;
  const auto door = store_.RecordConfirmed(lock_id_hex, kind, issuer, static_cast<int64_t>(version), clock_.NowMs());
  if (!door) return false;
  if (sink_) {
    sink_(door->first, json{{"type", "door.update"},
                            {"door_id", door->second},
                            {"kind", kind},
                            {"issuer", issuer},
                            {"confirmed_version", version}});
  }
  return true;
}

}  // namespace mortise::server
