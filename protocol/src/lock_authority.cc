#include "mortise/protocol/lock_authority.h"

#include "mortise/protocol/text_forms.h"

#include <cstring>

#include "certificate_internal.h"
#include "le.h"
#include "mortise/crypto/kdf.h"
#include "mortise/core/attributes.h"
#include "mortise/protocol/records.h"

namespace mortise::protocol {
namespace {

// Owner record: format (2) || uncompressed owner key (65) || claim
// generation (4 LE); format 1 (no generation) reads as generation 0.
// Offline-PIN record: format (1) || secret (32).
constexpr uint8_t kFormat = 1;
constexpr uint8_t kOwnerFormat = 2;
constexpr uint32_t kOwnerKey = core::MakeRecordKey(kRecordOwner, 0);
constexpr uint32_t kPinKey = core::MakeRecordKey(kRecordOfflinePin, 0);
constexpr size_t kOwnerRecordSizeV1 = 1 + crypto::kP256PublicKeySize;
constexpr size_t kOwnerRecordSize = kOwnerRecordSizeV1 + 4;
constexpr size_t kPinRecordSize = 1 + kOfflinePinSecretSize;

// Use counts: format (2) || count (1) || kMaxUseCountedKeys x
// (key index 2 LE || uses 4 LE || not_after 8 LE, 0 = none). Format 1
// (keyed by serial alone) counted certificates no lock accepts any more and
// reads as empty.
constexpr uint8_t kUsesFormat = 2;
constexpr uint32_t kUsesKey = core::MakeRecordKey(kRecordUseCounts, 0);
constexpr size_t kUseEntrySize = 14;
constexpr size_t kUsesRecordSize = 2 + kMaxUseCountedKeys * kUseEntrySize;
static_assert(kUsesRecordSize <= core::kMaxRecordSize);

struct UseTable {
  uint8_t bytes[kUsesRecordSize] = {kUsesFormat, 0};
  uint8_t count() const { return bytes[1]; }
  uint8_t* entry(size_t i) { return bytes + 2 + i * kUseEntrySize; }
  const uint8_t* entry(size_t i) const { return bytes + 2 + i * kUseEntrySize; }
  // The entry of a key index, or count() when untracked.
  size_t Find(uint16_t index) const {
    for (size_t i = 0; i < count(); ++i) {
      if (internal::GetU16(entry(i)) == index) return i;
    }
    return count();
  }
};

Status LoadUses(core::DurableStore& store, UseTable& table) {
  uint8_t buf[core::kMaxRecordSize + 1];
  Result<size_t> n = store.Read(kUsesKey, buf);
  if (!n.ok()) return n.status().code() == StatusCode::kNotFound ? Status::Ok() : n.status();
  if (*n >= 1 && buf[0] == 1) return Status::Ok();  // format 1: nothing that still verifies
  if (*n != kUsesRecordSize || buf[0] != kUsesFormat || buf[1] > kMaxUseCountedKeys) return StatusCode::kDataLoss;
  std::memcpy(table.bytes, buf, kUsesRecordSize);
  return Status::Ok();
}

// Key table pages: format (1) || count (1) || kKeyIndexPerPage x
// (issuer key id 8 || serial 8 LE). Pages fill in order; index
// 1 + page * kKeyIndexPerPage + slot.
constexpr uint8_t kKeyPageFormat = 1;
constexpr size_t kKeyEntrySize = kKeyIdSize + 8;
constexpr size_t kKeyPageSize = 2 + kKeyIndexPerPage * kKeyEntrySize;
static_assert(kKeyPageSize <= core::kMaxRecordSize);
static_assert(kMaxKeyIndex < kNoKeyIndex);

struct KeyPage {
  uint8_t bytes[kKeyPageSize] = {kKeyPageFormat, 0};
  uint8_t count() const { return bytes[1]; }
  uint8_t* entry(size_t i) { return bytes + 2 + i * kKeyEntrySize; }
  KeyRef At(size_t i) const {
    KeyRef k;
    const uint8_t* e = bytes + 2 + i * kKeyEntrySize;
    std::memcpy(k.issuer.data(), e, kKeyIdSize);
    k.serial = internal::GetU64(e + kKeyIdSize);
    return k;
  }
};

// kNotFound: the page was never written.
Status LoadKeyPage(core::DurableStore& store, size_t page, KeyPage& out) {
  uint8_t buf[kKeyPageSize + 1];
  MORTISE_ASSIGN_OR_RETURN(const size_t n,
                           store.Read(core::MakeRecordKey(kRecordKeyIndex, static_cast<uint16_t>(page)), buf));
  if (n != kKeyPageSize || buf[0] != kKeyPageFormat || buf[1] > kKeyIndexPerPage) return StatusCode::kDataLoss;
  std::memcpy(out.bytes, buf, kKeyPageSize);
  return Status::Ok();
}

}  // namespace

Status LockAuthority::Start() {
  identity_.reset();
  owner_.reset();
  generation_ = 0;
  Result<LockIdentity> id = LockIdentity::LoadOrCreate(store_, drbg_);
  if (!id.ok()) return id.status();
  identity_.emplace(*id);

  uint8_t record[kOwnerRecordSize + 1];
  Result<size_t> n = store_.Read(kOwnerKey, record);
  if (n.ok()) {
    const bool v1 = *n == kOwnerRecordSizeV1 && record[0] == 1;
    if (!v1 && (*n != kOwnerRecordSize || record[0] != kOwnerFormat)) return StatusCode::kDataLoss;
    Result<crypto::P256PublicKey> key =
        crypto::P256PublicKey::Import(std::span<const uint8_t>(record + 1, crypto::kP256PublicKeySize));
    if (!key.ok()) return StatusCode::kDataLoss;
    const uint32_t generation = v1 ? 0 : internal::GetU32(record + kOwnerRecordSizeV1);
    MORTISE_ASSIGN_OR_RETURN(const uint64_t counter, store_.ReadCounter(kCounterClaimGeneration));
    // The counter is raised before the owner is stored: below the stored
    // generation, the store was rolled back under it.
    if (counter < generation) return StatusCode::kDataLoss;
    owner_.emplace(*key);
    generation_ = generation;
  } else if (n.status().code() != StatusCode::kNotFound) {
    return n.status();
  }
  // Both load whatever the other reports: the lock starts with the floors
  // it could read, and the first error is returned for the integrator.
  const Status lists = access_list_.Load();
  const Status groups = groups_.Load();
  return lists.ok() ? groups : lists;
}

Status LockAuthority::InstallOwner(const crypto::P256PublicKey& owner,
                                   std::span<const uint8_t, kOfflinePinSecretSize> pin_secret) {
  if (!started()) return StatusCode::kFailedPrecondition;
  if (claimed()) return StatusCode::kAlreadyExists;
  return WriteOwner(owner, pin_secret);
}

Status LockAuthority::WriteOwner(const crypto::P256PublicKey& owner,
                                 std::span<const uint8_t, kOfflinePinSecretSize> pin_secret) {
  // Persist before use: the generation is durable before anything names it.
  MORTISE_ASSIGN_OR_RETURN(const uint64_t generation, store_.IncrementCounter(kCounterClaimGeneration));
  if (generation > UINT32_MAX) return StatusCode::kResourceExhausted;
  uint8_t owner_record[kOwnerRecordSize];
  owner_record[0] = kOwnerFormat;
  std::memcpy(owner_record + 1, owner.bytes().data(), crypto::kP256PublicKeySize);
  internal::PutU32(owner_record + kOwnerRecordSizeV1, static_cast<uint32_t>(generation));
  crypto::SecretBytes<kPinRecordSize> pin_record;
  pin_record.data()[0] = kFormat;
  std::memcpy(pin_record.data() + 1, pin_secret.data(), kOfflinePinSecretSize);

  MORTISE_TRY(store_.Begin());
  Status s = store_.Write(kOwnerKey, owner_record);
  if (s.ok()) s = store_.Write(kPinKey, pin_record.span());
  if (s.ok()) s = store_.Commit();
  if (!s.ok()) {
    store_.Rollback();
    return s;
  }
  owner_.emplace(owner);
  generation_ = static_cast<uint32_t>(generation);
  return Status::Ok();
}

Status LockAuthority::CheckTransfer(const crypto::P256PublicKey& new_owner, uint32_t expected_generation) const {
  if (!started() || !claimed() || expected_generation != generation_) return StatusCode::kFailedPrecondition;
  if (new_owner == *owner_) return StatusCode::kAlreadyExists;
  return Status::Ok();
}

Status LockAuthority::TransferOwner(const crypto::P256PublicKey& new_owner, uint32_t expected_generation,
                                    std::span<const uint8_t, kOfflinePinSecretSize> pin_secret) {
  MORTISE_TRY(CheckTransfer(new_owner, expected_generation));
  MORTISE_TRY(WriteOwner(new_owner, pin_secret));
  // The new owner is in place. The old generation's lists and membership
  // name a generation the lock no longer accepts; forgetting them is
  // housekeeping (a power cut before it leaves records that count for
  // nothing: only a membership of this claim counts, and the lists of the
  // old generation revoke only keys that chain to the old owner).
  MORTISE_TRY(access_list_.Wipe());
  return groups_.Wipe();
}

Status LockAuthority::Wipe() {
  MORTISE_TRY(store_.Begin());
  Status s = store_.Erase(kOwnerKey);
  if (s.ok()) s = store_.Erase(kPinKey);
  // Use counts and the key table are kept (the log names keys by index);
  // the claim generation counter too: every certificate and list of this
  // claim is over once the lock is claimed again, by anyone.
  if (s.ok()) s = store_.Commit();
  if (!s.ok()) {
    store_.Rollback();
    return s;
  }
  owner_.reset();
  generation_ = 0;
  MORTISE_TRY(access_list_.Wipe());
  return groups_.Wipe();
}

Result<VerifiedKey> LockAuthority::VerifyKey(std::span<const uint8_t> chain, const core::DoorLock& lock) const {
  return VerifyKey(chain, {}, lock);
}

Result<VerifiedKey> LockAuthority::VerifyKey(std::span<const uint8_t> chain, std::optional<int64_t> utc_now,
                                             int32_t utc_offset_s) const {
  return VerifyKey(chain, {}, utc_now, utc_offset_s);
}

Result<VerifiedKey> LockAuthority::VerifyKey(std::span<const uint8_t> chain, std::span<const uint8_t> revalidation,
                                             const core::DoorLock& lock) const {
  // The offset in force now, daylight saving included.
  const std::optional<int64_t> now = lock.utc_now();
  return VerifyKey(chain, revalidation, now, now ? lock.utc_offset_at(*now) : lock.settings().utc_offset_s);
}

Result<VerifiedKey> LockAuthority::VerifyKey(std::span<const uint8_t> chain, std::span<const uint8_t> revalidation,
                                             std::optional<int64_t> utc_now, int32_t utc_offset_s) const {
  if (!started()) return StatusCode::kFailedPrecondition;
  return VerifyChain(chain, revalidation, Context(utc_now, utc_offset_s));
}

VerifyContext LockAuthority::Context(std::optional<int64_t> utc_now, int32_t utc_offset_s) const {
  VerifyContext ctx;
  ctx.lock_id = identity_->lock_id();
  ctx.owner = owner();
  ctx.utc_now = utc_now;
  ctx.utc_offset_s = utc_offset_s;
  ctx.access_list = &access_list_.state();
  ctx.admin_lists = access_list_.admin_lists();
  ctx.claim_generation = generation_;
  // Only a membership of this claim counts (a wipe cut short by power may
  // leave one of the previous claim behind).
  const GroupMembershipState& m = groups_.state();
  if (m.claim_generation == generation_ && m.version != 0) {
    // An admin's membership counts only while its signer would still be
    // accepted: not revoked or disabled by the owner's list, not below the
    // owner's epoch, inside its window (A12). Checked with no groups in
    // the context: the admin's certificate is a lock-scoped one.
    if (!m.by_admin ||
        (internal::CheckAccessList(m.admin, ctx).ok() && internal::CheckTime(m.admin, ctx).ok())) {
      ctx.groups = m.group_list();
    }
  }
  return ctx;
}

Status LockAuthority::Recheck(const VerifiedKey& key, const core::DoorLock& lock) const {
  if (!claimed()) return StatusCode::kFailedPrecondition;
  if (key.depth == 0) {
    return key.holder_key == owner_->Compressed() ? Status::Ok() : Status(StatusCode::kPermissionDenied);
  }
  // The chain's root must still be this lock's owner (not a previous one).
  if (key.limits[0].issuer != KeyIdOf(*owner_)) return StatusCode::kPermissionDenied;
  if (key.revalidated_by && key.revalidated_by->issuer != KeyIdOf(*owner_)) return StatusCode::kPermissionDenied;
  const std::optional<int64_t> now = lock.utc_now();
  return RecheckKey(key, Context(now, now ? lock.utc_offset_at(*now) : lock.settings().utc_offset_s));
}

Result<VerifiedKey> LockAuthority::VerifyOwner(const crypto::P256PublicKey& key) const {
  if (!claimed()) return StatusCode::kFailedPrecondition;
  if (!(key == *owner_)) return StatusCode::kUnauthenticated;
  return OwnerKey(key);
}

Status LockAuthority::Authorize(const VerifiedKey& key, Command command, core::OperationSource source) const {
  if (key.remote_only && source != core::OperationSource::kRemote) return StatusCode::kPermissionDenied;
  return protocol::Authorize(key.grant, command);
}

Status LockAuthority::ApplyAccessList(std::span<const uint8_t> update) {
  if (!claimed()) return StatusCode::kFailedPrecondition;
  return access_list_.Apply(update, identity_->lock_id(), generation_, *owner_);
}

Status LockAuthority::ApplyAccessListAndRecord(std::span<const uint8_t> update, core::DoorLock& lock,
                                               core::OperationSource source, std::optional<core::CredentialRef> key) {
  // The owner's list and the admins' own lists; the sum of their versions
  // moves exactly when one of them was replaced.
  const auto versions = [&] {
    uint64_t v = access_list().version;
    for (const AccessListState& admin : admin_access_lists()) v += admin.version;
    return v;
  };
  const uint64_t before = versions();
  MORTISE_TRY(ApplyAccessList(update));
  // Logged once per new version (a list delivered again changes nothing).
  if (versions() != before) {
    uint32_t listed = access_list().revoked_count + access_list().disabled_count;
    for (const AccessListState& admin : admin_access_lists()) listed += admin.revoked_count + admin.disabled_count;
    lock.RecordAccessListChange(source, key, static_cast<uint16_t>(listed > UINT16_MAX ? UINT16_MAX : listed));
  }
  return Status::Ok();
}

Status LockAuthority::ApplyGroupMembership(std::span<const uint8_t> update, std::optional<int64_t> utc_now,
                                           int32_t utc_offset_s) {
  if (!claimed()) return StatusCode::kFailedPrecondition;
  MORTISE_ASSIGN_OR_RETURN(const VerifiedGroupMembership verified,
                           VerifyGroupMembership(update, identity_->lock_id(), generation_, *owner_));
  if (verified.admin) {
    const VerifyContext ctx = Context(utc_now, utc_offset_s);
    MORTISE_TRY(internal::CheckAccessList(*verified.admin, ctx));
    MORTISE_TRY(internal::CheckTime(*verified.admin, ctx));
  }
  return groups_.Apply(verified.state);
}

Status LockAuthority::ApplyGroupMembership(std::span<const uint8_t> update, const core::DoorLock& lock) {
  // The offset in force now, daylight saving included, as VerifyKey uses.
  const std::optional<int64_t> now = lock.utc_now();
  return ApplyGroupMembership(update, now, now ? lock.utc_offset_at(*now) : lock.settings().utc_offset_s);
}

Status LockAuthority::SetTime(const VerifiedKey& key, core::OperationSource source, int64_t utc_s,
                              bool allow_backwards, core::DoorLock& lock) const {
  MORTISE_TRY(Authorize(key, allow_backwards ? Command::kSetTimeBackwards : Command::kSetTime, source));
  return lock.SetUtcTime(utc_s, allow_backwards);
}

Status LockAuthority::ConsumeUse(const VerifiedKey& key, std::optional<int64_t> utc_now) {
  // Every use-limited certificate of the chain is counted: a leaf's use is
  // also a use of the admin certificate it was issued under, so an admin
  // with 5 uses cannot open more than 5 times through keys it issues.
  size_t limited[2];
  size_t n_limited = 0;
  for (uint8_t i = 0; i < key.depth && i < 2; ++i) {
    if (key.limits[i].max_uses != 0) limited[n_limited++] = i;
  }
  if (n_limited == 0) return Status::Ok();
  UseTable table;
  MORTISE_TRY(LoadUses(store_, table));
  size_t entries[2];
  for (size_t k = 0; k < n_limited; ++k) {
    const KeyLimits& l = key.limits[limited[k]];
    MORTISE_ASSIGN_OR_RETURN(const uint16_t index, FindKeyIndex(l.key_ref(), /*assign=*/true));
    // A key the table has no room for cannot be counted: fail closed.
    if (index == kNoKeyIndex) return StatusCode::kResourceExhausted;
    size_t found = table.Find(index);
    if (found == table.count()) {
      // Drop entries of certificates that can never be used again.
      uint8_t kept = 0;
      for (size_t i = 0; i < table.count(); ++i) {
        const uint64_t na = internal::GetU64(table.entry(i) + 6);
        const bool dead = utc_now && na != 0 && static_cast<uint64_t>(*utc_now) >= na;
        const bool ours = k == 1 && i == entries[0];
        if (!dead || ours) {
          if (kept != i) std::memmove(table.entry(kept), table.entry(i), kUseEntrySize);
          if (ours) entries[0] = kept;
          ++kept;
        }
      }
      table.bytes[1] = kept;
      if (kept >= kMaxUseCountedKeys) return StatusCode::kResourceExhausted;
      found = kept;
      table.bytes[1] = static_cast<uint8_t>(kept + 1);
      internal::PutU16(table.entry(found), index);
      internal::PutU32(table.entry(found) + 2, 0);
      // The certificate's own last moment, not the chain's: an admin's
      // count first made through a short-lived leaf must outlive that leaf.
      internal::PutU64(table.entry(found) + 6, l.not_after);
    }
    if (internal::GetU32(table.entry(found) + 2) >= l.max_uses) return StatusCode::kResourceExhausted;
    entries[k] = found;
  }
  for (size_t k = 0; k < n_limited; ++k) {
    internal::PutU32(table.entry(entries[k]) + 2, internal::GetU32(table.entry(entries[k]) + 2) + 1);
  }
  // One record write counts the whole chain's use, or nothing.
  return store_.Write(kUsesKey, table.bytes);
}

Result<uint32_t> LockAuthority::UsesOf(const KeyRef& key) const {
  MORTISE_ASSIGN_OR_RETURN(const uint16_t index, FindKeyIndex(key, false));
  if (index == kNoKeyIndex) return 0u;
  UseTable table;
  MORTISE_TRY(LoadUses(store_, table));
  const size_t i = table.Find(index);
  return i == table.count() ? 0u : internal::GetU32(table.entry(i) + 2);
}

Result<uint16_t> LockAuthority::FindKeyIndex(const KeyRef& key, bool assign) const {
  if (!started()) return StatusCode::kFailedPrecondition;
  if (key.serial == 0) return StatusCode::kInvalidArgument;
  for (size_t page = 0; page < kKeyIndexPages; ++page) {
    KeyPage p;
    const Status s = LoadKeyPage(store_, page, p);
    if (s.code() == StatusCode::kNotFound) {
      p = KeyPage();  // pages fill in order: the first missing one is the next to write
    } else if (!s.ok()) {
      return s;
    }
    for (size_t i = 0; i < p.count(); ++i) {
      if (p.At(i) == key) return static_cast<uint16_t>(1 + page * kKeyIndexPerPage + i);
    }
    if (p.count() < kKeyIndexPerPage) {
      if (!assign) return kNoKeyIndex;
      const size_t slot = p.count();
      std::memcpy(p.entry(slot), key.issuer.data(), kKeyIdSize);
      internal::PutU64(p.entry(slot) + kKeyIdSize, key.serial);
      p.bytes[1] = static_cast<uint8_t>(slot + 1);
      MORTISE_TRY(store_.Write(core::MakeRecordKey(kRecordKeyIndex, static_cast<uint16_t>(page)), p.bytes));
      const auto index = static_cast<uint16_t>(1 + page * kKeyIndexPerPage + slot);
      if (key_observer_ != nullptr) key_observer_->KeyIndexAssigned(index, key);
      return index;
    }
  }
  return kNoKeyIndex;
}

Result<uint16_t> LockAuthority::KeyIndexOf(const KeyRef& key) { return FindKeyIndex(key, true); }

std::optional<core::CredentialRef> LockAuthority::RefusedKeyCredential(std::span<const uint8_t> chain,
                                                                       StatusCode why) {
  // Before the chain's signatures are checked, VerifyChain refuses with
  // these (or, unclaimed, with kFailedPrecondition): nothing is authentic.
  if (!claimed() || why == StatusCode::kUnauthenticated || why == StatusCode::kInvalidArgument) return std::nullopt;
  Result<ShareChain> split = SplitChain(chain);
  if (!split.ok()) return std::nullopt;
  Result<uint16_t> index = KeyIndexOf(split->holder.key_ref());
  if (!index.ok() || *index == kNoKeyIndex) return std::nullopt;
  return core::CredentialRef{core::CredentialType::kAliroEvictableEndpointKey, *index};
}

std::optional<core::CredentialRef> LockAuthority::RefusedKeyCredential(const VerifiedKey& key) {
  if (key.depth == 0) return std::nullopt;  // the owner's key is #0, which may since name another owner
  Result<uint16_t> index = KeyIndexOf(key.key_ref());
  if (!index.ok() || *index == kNoKeyIndex) return std::nullopt;
  return core::CredentialRef{core::CredentialType::kAliroEvictableEndpointKey, *index};
}

Result<uint16_t> LockAuthority::KeyIndexOf(const VerifiedKey& key) {
  if (!started()) return StatusCode::kFailedPrecondition;
  if (key.depth == 0) return uint16_t{0};
  return FindKeyIndex(key.key_ref(), true);
}

Result<KeyRef> LockAuthority::KeyAt(uint16_t index) const {
  if (index == 0 || index > kMaxKeyIndex) return StatusCode::kInvalidArgument;
  const size_t page = (index - 1) / kKeyIndexPerPage;
  const size_t slot = (index - 1) % kKeyIndexPerPage;
  KeyPage p;
  MORTISE_TRY(LoadKeyPage(store_, page, p));
  if (slot >= p.count()) return StatusCode::kNotFound;
  return p.At(slot);
}

Status LockAuthority::OfflinePinSecret(crypto::SecretBytes<kOfflinePinSecretSize>& out) const {
  if (!claimed()) return StatusCode::kFailedPrecondition;
  crypto::SecretBytes<kPinRecordSize + 1> record;
  Result<size_t> n = store_.Read(kPinKey, record.span());
  if (!n.ok()) return n.status().code() == StatusCode::kNotFound ? Status(StatusCode::kDataLoss) : n.status();
  if (*n != kPinRecordSize || record.data()[0] != kFormat) return StatusCode::kDataLoss;
  std::memcpy(out.data(), record.data() + 1, kOfflinePinSecretSize);
  return Status::Ok();
}

Status LockAuthority::SignLogHead(std::span<const uint8_t> message, crypto::P256Signature& signature) const {
  if (!identity_.has_value()) return StatusCode::kFailedPrecondition;
  static constexpr uint8_t kLabel[20] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o',
                                         'g', '-', 'h', 'e', 'a', 'd', '-', 'v', '1', 0};
  const LockId& id = identity_->lock_id();
  if (message.size() != kLogHeadMessageSize || std::memcmp(message.data(), kLabel, sizeof(kLabel)) != 0 ||
      std::memcmp(message.data() + sizeof(kLabel), id.data(), id.size()) != 0) {
    return StatusCode::kInvalidArgument;
  }
  return identity_->key().Sign(message, signature, drbg_);
}

Status LockAuthority::SignCustodyReceipt(std::span<const uint8_t> message, crypto::P256Signature& signature) const {
  if (!identity_.has_value()) return StatusCode::kFailedPrecondition;
  static constexpr uint8_t kLabel[22] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o', 'g',
                                         '-', 'c', 'u', 'r', 's', 'o', 'r', '-', 'v', '1', 0};
  const LockId& id = identity_->lock_id();
  if (message.size() != 22 + kLockIdSize + 4 + 8 + 16 + 8 || std::memcmp(message.data(), kLabel, sizeof(kLabel)) != 0 ||
      std::memcmp(message.data() + sizeof(kLabel), id.data(), id.size()) != 0) {
    return StatusCode::kInvalidArgument;
  }
  return identity_->key().Sign(message, signature, drbg_);
}

Status LockAuthority::LogKey(crypto::SecretBytes<32>& out) const {
  if (!identity_.has_value()) return StatusCode::kFailedPrecondition;
  static constexpr uint8_t kInfo[] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o',
                                      'g', '-', 'k', 'e', 'y', '-', 'v', '1'};
  crypto::SecretBytes<crypto::kP256ScalarSize> scalar;
  identity_->key().ExportPrivateScalar(scalar);
  return crypto::HkdfSha256({}, scalar.span(), kInfo, out.span());
}

}  // namespace mortise::protocol
