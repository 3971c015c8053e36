#include "mortise/protocol/lock_authority.h"

#include <cstring>

#include "le.h"
#include "mortise/crypto/kdf.h"
#include "mortise/core/attributes.h"
#include "mortise/protocol/records.h"

namespace mortise::protocol {
namespace {

// Owner record: format (1) || uncompressed owner key (65).
// Offline-PIN record: format (1) || secret (32).
constexpr uint8_t kFormat = 1;
constexpr uint32_t kOwnerKey = core::MakeRecordKey(kRecordOwner, 0);
constexpr uint32_t kPinKey = core::MakeRecordKey(kRecordOfflinePin, 0);
constexpr size_t kOwnerRecordSize = 1 + crypto::kP256PublicKeySize;
constexpr size_t kPinRecordSize = 1 + kOfflinePinSecretSize;

// Use counts: format (1) || count (1) || kMaxUseCountedKeys x
// (serial 8 LE || uses 4 LE || not_after 8 LE, 0 = none).
constexpr uint32_t kUsesKey = core::MakeRecordKey(kRecordUseCounts, 0);
constexpr size_t kUseEntrySize = 20;
constexpr size_t kUsesRecordSize = 2 + kMaxUseCountedKeys * kUseEntrySize;
static_assert(kUsesRecordSize <= core::kMaxRecordSize);

struct UseTable {
  uint8_t bytes[kUsesRecordSize] = {kFormat, 0};
  uint8_t count() const { return bytes[1]; }
  uint8_t* entry(size_t i) { return bytes + 2 + i * kUseEntrySize; }
  const uint8_t* entry(size_t i) const { return bytes + 2 + i * kUseEntrySize; }
};

Status LoadUses(core::DurableStore& store, UseTable& table) {
  uint8_t buf[kUsesRecordSize + 1];
  Result<size_t> n = store.Read(kUsesKey, buf);
  if (!n.ok()) return n.status().code() == StatusCode::kNotFound ? Status::Ok() : n.status();
  if (*n != kUsesRecordSize || buf[0] != kFormat || buf[1] > kMaxUseCountedKeys) return StatusCode::kDataLoss;
  std::memcpy(table.bytes, buf, kUsesRecordSize);
  return Status::Ok();
}

}  // namespace

Status LockAuthority::Start() {
  identity_.reset();
  owner_.reset();
  Result<LockIdentity> id = LockIdentity::LoadOrCreate(store_, drbg_);
  if (!id.ok()) return id.status();
  identity_.emplace(*id);

  uint8_t record[kOwnerRecordSize + 1];
  Result<size_t> n = store_.Read(kOwnerKey, record);
  if (n.ok()) {
    if (*n != kOwnerRecordSize || record[0] != kFormat) return StatusCode::kDataLoss;
    Result<crypto::P256PublicKey> key =
        crypto::P256PublicKey::Import(std::span<const uint8_t>(record + 1, crypto::kP256PublicKeySize));
    if (!key.ok()) return StatusCode::kDataLoss;
    owner_.emplace(*key);
  } else if (n.status().code() != StatusCode::kNotFound) {
    return n.status();
  }
  return access_list_.Load();
}

Status LockAuthority::InstallOwner(const crypto::P256PublicKey& owner,
                                   std::span<const uint8_t, kOfflinePinSecretSize> pin_secret) {
  if (!started()) return StatusCode::kFailedPrecondition;
  if (claimed()) return StatusCode::kAlreadyExists;
  uint8_t owner_record[kOwnerRecordSize];
  owner_record[0] = kFormat;
  std::memcpy(owner_record + 1, owner.bytes().data(), crypto::kP256PublicKeySize);
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
  return Status::Ok();
}

Status LockAuthority::Wipe() {
  MORTISE_TRY(store_.Begin());
  Status s = store_.Erase(kOwnerKey);
  if (s.ok()) s = store_.Erase(kPinKey);
  // Use counts are kept: they are keyed by random serials, and forgetting
  // them would give spent keys new uses if the same owner claims again.
  if (s.ok()) s = store_.Commit();
  if (!s.ok()) {
    store_.Rollback();
    return s;
  }
  owner_.reset();
  return access_list_.Wipe();
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
  Result<int64_t> offset = lock.ReadAttribute(core::AttributeId::kUtcOffset);
  return VerifyKey(chain, revalidation, lock.utc_now(), offset.ok() ? static_cast<int32_t>(*offset) : 0);
}

Result<VerifiedKey> LockAuthority::VerifyKey(std::span<const uint8_t> chain, std::span<const uint8_t> revalidation,
                                             std::optional<int64_t> utc_now, int32_t utc_offset_s) const {
  if (!started()) return StatusCode::kFailedPrecondition;
  VerifyContext ctx;
  ctx.lock_id = identity_->lock_id();
  ctx.owner = owner();
  ctx.utc_now = utc_now;
  ctx.utc_offset_s = utc_offset_s;
  ctx.access_list = &access_list_.state();
  return VerifyChain(chain, revalidation, ctx);
}

Status LockAuthority::Recheck(const VerifiedKey& key, const core::DoorLock& lock) const {
  if (!claimed()) return StatusCode::kFailedPrecondition;
  if (key.depth == 0) {
    return key.holder_key == owner_->Compressed() ? Status::Ok() : Status(StatusCode::kPermissionDenied);
  }
  // The chain's root must still be this lock's owner (not a previous one).
  if (key.limits[0].issuer != KeyIdOf(*owner_)) return StatusCode::kPermissionDenied;
  if (key.revalidated_by && key.revalidated_by->issuer != KeyIdOf(*owner_)) return StatusCode::kPermissionDenied;
  Result<int64_t> offset = lock.ReadAttribute(core::AttributeId::kUtcOffset);
  VerifyContext ctx;
  ctx.lock_id = identity_->lock_id();
  ctx.owner = owner();
  ctx.utc_now = lock.utc_now();
  ctx.utc_offset_s = offset.ok() ? static_cast<int32_t>(*offset) : 0;
  ctx.access_list = &access_list_.state();
  return RecheckKey(key, ctx);
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
  return access_list_.Apply(update, identity_->lock_id(), *owner_);
}

Status LockAuthority::SetTime(const VerifiedKey& key, core::OperationSource source, int64_t utc_s,
                              bool allow_backwards, core::DoorLock& lock) const {
  MORTISE_TRY(Authorize(key, allow_backwards ? Command::kSetTimeBackwards : Command::kSetTime, source));
  return lock.SetUtcTime(utc_s, allow_backwards);
}

Status LockAuthority::ConsumeUse(const VerifiedKey& key, std::optional<int64_t> utc_now) {
  if (key.max_uses == 0) return Status::Ok();
  UseTable table;
  MORTISE_TRY(LoadUses(store_, table));
  // The key's last moment: the earliest not_after along its chain.
  uint64_t not_after = 0;
  for (uint8_t i = 0; i < key.depth && i < 2; ++i) {
    const uint64_t na = key.limits[i].not_after;
    if (na != 0 && (not_after == 0 || na < not_after)) not_after = na;
  }
  size_t found = kMaxUseCountedKeys;
  for (size_t i = 0; i < table.count(); ++i) {
    if (internal::GetU64(table.entry(i)) == key.serial) found = i;
  }
  if (found == kMaxUseCountedKeys) {
    // Drop entries of keys that can never be used again, to make room.
    uint8_t kept = 0;
    for (size_t i = 0; i < table.count(); ++i) {
      const uint64_t na = internal::GetU64(table.entry(i) + 12);
      const bool dead = utc_now && na != 0 && static_cast<uint64_t>(*utc_now) >= na;
      if (!dead) {
        if (kept != i) std::memmove(table.entry(kept), table.entry(i), kUseEntrySize);
        ++kept;
      }
    }
    table.bytes[1] = kept;
    if (kept >= kMaxUseCountedKeys) return StatusCode::kResourceExhausted;
    found = kept;
    table.bytes[1] = static_cast<uint8_t>(kept + 1);
    internal::PutU64(table.entry(found), key.serial);
    internal::PutU32(table.entry(found) + 8, 0);
    internal::PutU64(table.entry(found) + 12, not_after);
  }
  const uint32_t uses = internal::GetU32(table.entry(found) + 8);
  if (uses >= key.max_uses) return StatusCode::kResourceExhausted;
  internal::PutU32(table.entry(found) + 8, uses + 1);
  return store_.Write(kUsesKey, table.bytes);
}

Result<uint32_t> LockAuthority::UsesOf(uint64_t serial) const {
  UseTable table;
  MORTISE_TRY(LoadUses(store_, table));
  for (size_t i = 0; i < table.count(); ++i) {
    if (internal::GetU64(table.entry(i)) == serial) return internal::GetU32(table.entry(i) + 8);
  }
  return 0u;
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

Status LockAuthority::LogKey(crypto::SecretBytes<32>& out) const {
  if (!identity_.has_value()) return StatusCode::kFailedPrecondition;
  static constexpr uint8_t kInfo[] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o',
                                      'g', '-', 'k', 'e', 'y', '-', 'v', '1'};
  crypto::SecretBytes<crypto::kP256ScalarSize> scalar;
  identity_->key().ExportPrivateScalar(scalar);
  return crypto::HkdfSha256({}, scalar.span(), kInfo, out.span());
}

}  // namespace mortise::protocol
