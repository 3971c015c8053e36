#include "mortise/protocol/access_list.h"

#include <cstring>

#include "certificate_internal.h"
#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/protocol/records.h"
#include "version_floor.h"

namespace mortise::protocol {
namespace {

using internal::GetU32;
using internal::GetU64;
using internal::PutU32;
using internal::PutU64;

constexpr uint8_t kDomain[] = "mortise-acl-v1";  // the terminating zero is part of the prefix
constexpr uint32_t kFormat = 2;
static_assert(mortise_AccessListUpdate_size <= kMaxAccessListUpdateSize);
static_assert(sizeof(mortise_AccessListTbs{}.revoked) / sizeof(mortise_KeyRef) == kMaxRevokedKeys);
static_assert(sizeof(mortise_AccessListTbs{}.min_epochs) / sizeof(mortise_IssuerEpoch) == kMaxIssuerEpochs);
static_assert(sizeof(mortise_AccessListTbs{}.disabled) / sizeof(mortise_KeyRef) == kMaxDisabledKeys);

// Stored records (docs/protocol.md, "Stored state"). Format 1 (serials
// without issuers, no claim generation) is read as "no list".
constexpr uint8_t kRecordFormat = 2;
constexpr uint8_t kRecordFormatV1 = 1;
constexpr uint32_t kHeaderKey = core::MakeRecordKey(kRecordAccessList, 0);
constexpr uint32_t kRevokedKey = core::MakeRecordKey(kRecordAccessList, 1);
constexpr size_t kKeyRefSize = kKeyIdSize + 8;
constexpr size_t kHeaderSize = 1 + 8 + 4 + 1 + kMaxIssuerEpochs * 12 + 1 + kMaxDisabledKeys * kKeyRefSize;
constexpr size_t kRevokedSize = 1 + 1 + kMaxRevokedKeys * kKeyRefSize;
static_assert(kHeaderSize <= core::kMaxRecordSize && kRevokedSize <= core::kMaxRecordSize);
// An admin's list: format (1) || signer key id (8) || version (8 LE) ||
// claim generation (4 LE) || min epoch of the signer (4 LE) || revoked count
// (1) || 15 x serial (8 LE) || disabled count (1) || 4 x serial (8 LE). Every
// key it names is the signer's, so only serials are kept.
constexpr uint8_t kAdminFormat = 1;
constexpr size_t kAdminRecordSize = 1 + kKeyIdSize + 8 + 4 + 4 + 1 + kMaxRevokedKeys * 8 + 1 + kMaxDisabledKeys * 8;
static_assert(kAdminRecordSize <= core::kMaxRecordSize);
constexpr uint32_t AdminKey(size_t slot) {
  return core::MakeRecordKey(kRecordAdminAccessList, static_cast<uint16_t>(slot));
}

void PutKeyRef(uint8_t* p, const KeyRef& k) {
  std::memcpy(p, k.issuer.data(), kKeyIdSize);
  PutU64(p + kKeyIdSize, k.serial);
}
KeyRef GetKeyRef(const uint8_t* p) {
  KeyRef k;
  std::memcpy(k.issuer.data(), p, kKeyIdSize);
  k.serial = GetU64(p + kKeyIdSize);
  return k;
}

bool FromWire(const mortise_KeyRef& w, KeyRef& k) {
  if (w.serial == 0 || !internal::CopyExact<kKeyIdSize>(w.issuer_key_id, std::span<uint8_t, kKeyIdSize>(k.issuer))) {
    return false;
  }
  k.serial = w.serial;
  return true;
}
void ToWire(const KeyRef& k, mortise_KeyRef& w) {
  internal::SetBytes(w.issuer_key_id, k.issuer);
  w.serial = k.serial;
}

Status Sign(std::span<const uint8_t> tbs, const crypto::P256KeyPair& key, crypto::Drbg& drbg,
            crypto::P256Signature& sig) {
  // Domain separation: a certificate's signature can never pass as an
  // access list's, nor the reverse, even over identical bytes.
  crypto::Sha256 h;
  h.Update(std::span<const uint8_t>(kDomain, sizeof(kDomain)));
  h.Update(tbs);
  crypto::Digest d{};
  h.Final(d);
  return key.SignDigest(d, sig, drbg);
}

Status CheckSignature(std::span<const uint8_t> tbs, std::span<const uint8_t> sig, const crypto::P256PublicKey& key) {
  crypto::Sha256 h;
  h.Update(std::span<const uint8_t>(kDomain, sizeof(kDomain)));
  h.Update(tbs);
  crypto::Digest d{};
  h.Final(d);
  const Status s = key.VerifyDigest(d, sig);
  return s.ok() ? s : Status(StatusCode::kUnauthenticated);
}

}  // namespace

bool AccessListState::IsRevoked(const KeyRef& key) const {
  for (uint8_t i = 0; i < revoked_count && i < kMaxRevokedKeys; ++i) {
    if (revoked[i] == key) return true;
  }
  return false;
}

bool AccessListState::IsDisabled(const KeyRef& key) const {
  for (uint8_t i = 0; i < disabled_count && i < kMaxDisabledKeys; ++i) {
    if (disabled[i] == key) return true;
  }
  return false;
}

uint32_t AccessListState::MinEpochFor(const KeyId& issuer) const {
  for (uint8_t i = 0; i < epoch_count && i < kMaxIssuerEpochs; ++i) {
    if (epochs[i].issuer == issuer) return epochs[i].min_epoch;
  }
  return 0;
}

Result<size_t> SignAccessList(const AccessListState& state, const LockId& lock_id, const crypto::P256KeyPair& signer,
                              crypto::Drbg& drbg, std::span<uint8_t> out, std::span<const uint8_t> issuer_certificate) {
  if (state.version == 0 || state.revoked_count > kMaxRevokedKeys || state.epoch_count > kMaxIssuerEpochs ||
      state.disabled_count > kMaxDisabledKeys) {
    return StatusCode::kInvalidArgument;
  }
  mortise_AccessListTbs tbs = mortise_AccessListTbs_init_zero;
  tbs.format = kFormat;
  internal::SetBytes(tbs.lock_id, lock_id);
  tbs.version = state.version;
  tbs.claim_generation = state.claim_generation;
  tbs.revoked_count = state.revoked_count;
  for (uint8_t i = 0; i < state.revoked_count; ++i) {
    if (state.revoked[i].serial == 0) return StatusCode::kInvalidArgument;
    ToWire(state.revoked[i], tbs.revoked[i]);
  }
  tbs.min_epochs_count = state.epoch_count;
  for (uint8_t i = 0; i < state.epoch_count; ++i) {
    internal::SetBytes(tbs.min_epochs[i].issuer_key_id, state.epochs[i].issuer);
    tbs.min_epochs[i].min_epoch = state.epochs[i].min_epoch;
  }
  tbs.disabled_count = state.disabled_count;
  for (uint8_t i = 0; i < state.disabled_count; ++i) {
    if (state.disabled[i].serial == 0) return StatusCode::kInvalidArgument;
    ToWire(state.disabled[i], tbs.disabled[i]);
  }
  if (issuer_certificate.size() > sizeof(tbs.issuer_certificate.bytes)) return StatusCode::kInvalidArgument;
  internal::SetBytes(tbs.issuer_certificate, issuer_certificate);

  mortise_AccessListUpdate update = mortise_AccessListUpdate_init_zero;
  Result<size_t> n = internal::Encode(mortise_AccessListTbs_fields, &tbs,
                                      std::span<uint8_t>(update.tbs.bytes, sizeof(update.tbs.bytes)));
  if (!n.ok()) return n.status();
  update.tbs.size = static_cast<pb_size_t>(*n);
  crypto::P256Signature sig{};
  MORTISE_TRY(Sign(std::span<const uint8_t>(update.tbs.bytes, update.tbs.size), signer, drbg, sig));
  internal::SetBytes(update.signature, sig);
  return internal::Encode(mortise_AccessListUpdate_fields, &update, out);
}

Result<AccessListState> VerifyAccessList(std::span<const uint8_t> bytes, const LockId& lock_id,
                                         uint32_t claim_generation, const crypto::P256PublicKey& owner) {
  uint8_t scratch[kMaxAccessListUpdateSize];
  mortise_AccessListUpdate update = mortise_AccessListUpdate_init_zero;
  MORTISE_TRY(internal::DecodeStrict(bytes, mortise_AccessListUpdate_fields, &update, scratch));
  if (update.signature.size != crypto::kP256SignatureSize) return StatusCode::kInvalidArgument;
  const std::span<const uint8_t> tbs_bytes(update.tbs.bytes, update.tbs.size);
  mortise_AccessListTbs tbs = mortise_AccessListTbs_init_zero;
  MORTISE_TRY(internal::DecodeStrict(tbs_bytes, mortise_AccessListTbs_fields, &tbs, scratch));
  if (tbs.format != kFormat || tbs.lock_id.size != kLockIdSize || tbs.version == 0) {
    return StatusCode::kInvalidArgument;
  }
  AccessListState state;
  for (pb_size_t i = 0; i < tbs.min_epochs_count; ++i) {
    if (tbs.min_epochs[i].issuer_key_id.size != kKeyIdSize) return StatusCode::kInvalidArgument;
  }
  for (pb_size_t i = 0; i < tbs.revoked_count; ++i) {
    if (!FromWire(tbs.revoked[i], state.revoked[i])) return StatusCode::kInvalidArgument;
  }
  for (pb_size_t i = 0; i < tbs.disabled_count; ++i) {
    if (!FromWire(tbs.disabled[i], state.disabled[i])) return StatusCode::kInvalidArgument;
  }
  const std::span<const uint8_t> signature(update.signature.bytes, update.signature.size);
  if (tbs.issuer_certificate.size == 0) {
    // Authenticate before acting on any field's meaning.
    MORTISE_TRY(CheckSignature(tbs_bytes, signature, owner));
  } else {
    // An admin's list: the owner certified the admin's key, which signed.
    CertificateFields admin;
    std::optional<crypto::P256PublicKey> admin_key;
    MORTISE_TRY(internal::VerifyOwnerIssuedCertificate(
        std::span<const uint8_t>(tbs.issuer_certificate.bytes, tbs.issuer_certificate.size), owner, admin, admin_key));
    MORTISE_TRY(CheckSignature(tbs_bytes, signature, *admin_key));
    if (admin.lock_id != lock_id || admin.claim_generation != claim_generation || admin.role != Role::kAdmin ||
        (admin.permissions & kPermDelegate) == 0 || admin.parent_serial != 0) {
      return StatusCode::kPermissionDenied;
    }
    // Only what this admin's key issued, and only its own epoch.
    state.by_admin = true;
    state.signer = KeyIdOf(*admin_key);
    for (pb_size_t i = 0; i < tbs.revoked_count; ++i) {
      if (state.revoked[i].issuer != state.signer) return StatusCode::kPermissionDenied;
    }
    for (pb_size_t i = 0; i < tbs.disabled_count; ++i) {
      if (state.disabled[i].issuer != state.signer) return StatusCode::kPermissionDenied;
    }
    for (pb_size_t i = 0; i < tbs.min_epochs_count; ++i) {
      if (std::memcmp(tbs.min_epochs[i].issuer_key_id.bytes, state.signer.data(), kKeyIdSize) != 0 ||
          tbs.min_epochs_count > 1) {
        return StatusCode::kPermissionDenied;
      }
    }
  }
  if (std::memcmp(tbs.lock_id.bytes, lock_id.data(), kLockIdSize) != 0) return StatusCode::kPermissionDenied;
  // A list of an earlier claim of this lock (the same owner key may have
  // claimed it again after a factory reset) says nothing about this one.
  if (tbs.claim_generation != claim_generation) return StatusCode::kPermissionDenied;

  state.version = tbs.version;
  state.claim_generation = tbs.claim_generation;
  state.revoked_count = static_cast<uint8_t>(tbs.revoked_count);
  state.epoch_count = static_cast<uint8_t>(tbs.min_epochs_count);
  for (pb_size_t i = 0; i < tbs.min_epochs_count; ++i) {
    std::memcpy(state.epochs[i].issuer.data(), tbs.min_epochs[i].issuer_key_id.bytes, kKeyIdSize);
    state.epochs[i].min_epoch = tbs.min_epochs[i].min_epoch;
  }
  state.disabled_count = static_cast<uint8_t>(tbs.disabled_count);
  return state;
}

Result<AccessListHeader> PeekAccessList(std::span<const uint8_t> bytes) {
  uint8_t scratch[kMaxAccessListUpdateSize];
  mortise_AccessListUpdate update = mortise_AccessListUpdate_init_zero;
  MORTISE_TRY(internal::DecodeStrict(bytes, mortise_AccessListUpdate_fields, &update, scratch));
  mortise_AccessListTbs tbs = mortise_AccessListTbs_init_zero;
  MORTISE_TRY(internal::DecodeStrict(std::span<const uint8_t>(update.tbs.bytes, update.tbs.size),
                                     mortise_AccessListTbs_fields, &tbs, scratch));
  AccessListHeader h;
  if (tbs.format != kFormat || tbs.version == 0 ||
      !internal::CopyExact<kLockIdSize>(tbs.lock_id, std::span<uint8_t, kLockIdSize>(h.lock_id))) {
    return StatusCode::kInvalidArgument;
  }
  h.claim_generation = tbs.claim_generation;
  h.version = tbs.version;
  if (tbs.issuer_certificate.size != 0) {
    MORTISE_ASSIGN_OR_RETURN(const CertificateFields admin,
                             DecodeCertificate(std::span<const uint8_t>(tbs.issuer_certificate.bytes,
                                                                        tbs.issuer_certificate.size)));
    Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(admin.holder_key);
    if (!key.ok()) return StatusCode::kInvalidArgument;
    h.by_admin = true;
    h.signer = KeyIdOf(*key);
  }
  return h;
}

uint64_t AccessListStore::HeldVersion(const AccessListHeader& header) const {
  if (!header.by_admin) return floor_;
  for (size_t i = 0; i < admin_count_; ++i) {
    if (admin_[i].signer == header.signer) return admin_[i].version;
  }
  return 0;
}

Status AccessListStore::Load() {
  MORTISE_TRY(LoadAdminLists());
  state_ = AccessListState();
  uint8_t header[kHeaderSize + 1];
  uint8_t revoked[kRevokedSize + 1];
  Result<size_t> h = store_.Read(kHeaderKey, header);
  if (h.ok()) {
    Result<size_t> r = store_.Read(kRevokedKey, revoked);
    const bool v1 = r.ok() && header[0] == kRecordFormatV1 && revoked[0] == kRecordFormatV1;
    if (!v1 && (!r.ok() || *h != kHeaderSize || *r != kRevokedSize || header[0] != kRecordFormat ||
                revoked[0] != kRecordFormat)) {
      return StatusCode::kDataLoss;
    }
    if (v1) {
      // A list from before claim generations names keys of a format no
      // lock accepts any more; only its version still counts (the floor).
      MORTISE_ASSIGN_OR_RETURN(const uint64_t counter, store_.ReadCounter(kCounterAccessListVersion));
      floor_ = counter > GetU64(header + 1) ? counter : GetU64(header + 1);
      return Status::Ok();
    }
    const uint8_t* p = header + 1;
    state_.version = GetU64(p);
    p += 8;
    state_.claim_generation = GetU32(p);
    p += 4;
    state_.epoch_count = *p++;
    for (size_t i = 0; i < kMaxIssuerEpochs; ++i, p += 12) {
      std::memcpy(state_.epochs[i].issuer.data(), p, kKeyIdSize);
      state_.epochs[i].min_epoch = GetU32(p + 8);
    }
    state_.disabled_count = *p++;
    for (size_t i = 0; i < kMaxDisabledKeys; ++i, p += kKeyRefSize) state_.disabled[i] = GetKeyRef(p);
    state_.revoked_count = revoked[1];
    for (size_t i = 0; i < kMaxRevokedKeys; ++i) state_.revoked[i] = GetKeyRef(revoked + 2 + kKeyRefSize * i);
    if (state_.epoch_count > kMaxIssuerEpochs || state_.disabled_count > kMaxDisabledKeys ||
        state_.revoked_count > kMaxRevokedKeys) {
      state_ = AccessListState();
      return StatusCode::kDataLoss;
    }
  } else if (h.status().code() != StatusCode::kNotFound) {
    return h.status();
  }
  // A power cut may fall between storing the list and raising the counter.
  return internal::ReconcileVersionFloor(store_, kCounterAccessListVersion, state_.version, floor_);
}

Status AccessListStore::LoadAdminLists() {
  admin_count_ = 0;
  for (size_t slot = 0; slot < kMaxAdminLists; ++slot) {
    uint8_t r[kAdminRecordSize + 1];
    Result<size_t> n = store_.Read(AdminKey(slot), r);
    if (!n.ok()) {
      if (n.status().code() == StatusCode::kNotFound) break;  // slots fill in order
      return n.status();
    }
    if (*n != kAdminRecordSize || r[0] != kAdminFormat) return StatusCode::kDataLoss;
    AccessListState a;
    a.by_admin = true;
    const uint8_t* p = r + 1;
    std::memcpy(a.signer.data(), p, kKeyIdSize);
    p += kKeyIdSize;
    a.version = GetU64(p);
    a.claim_generation = GetU32(p + 8);
    const uint32_t min_epoch = GetU32(p + 12);
    p += 16;
    if (min_epoch != 0) {
      a.epoch_count = 1;
      a.epochs[0] = IssuerMinEpoch{a.signer, min_epoch};
    }
    a.revoked_count = *p++;
    for (size_t i = 0; i < kMaxRevokedKeys; ++i, p += 8) a.revoked[i] = KeyRef{a.signer, GetU64(p)};
    a.disabled_count = *p++;
    for (size_t i = 0; i < kMaxDisabledKeys; ++i, p += 8) a.disabled[i] = KeyRef{a.signer, GetU64(p)};
    if (a.revoked_count > kMaxRevokedKeys || a.disabled_count > kMaxDisabledKeys) return StatusCode::kDataLoss;
    admin_[admin_count_++] = a;
  }
  return Status::Ok();
}

Status AccessListStore::ApplyAdmin(const AccessListState& next) {
  size_t slot = admin_count_;
  for (size_t i = 0; i < admin_count_; ++i) {
    if (admin_[i].signer == next.signer) slot = i;
  }
  if (slot < admin_count_ && next.version <= admin_[slot].version) return StatusCode::kAlreadyExists;
  if (slot == kMaxAdminLists) return StatusCode::kResourceExhausted;
  uint8_t r[kAdminRecordSize] = {};
  r[0] = kAdminFormat;
  uint8_t* p = r + 1;
  std::memcpy(p, next.signer.data(), kKeyIdSize);
  p += kKeyIdSize;
  PutU64(p, next.version);
  PutU32(p + 8, next.claim_generation);
  PutU32(p + 12, next.MinEpochFor(next.signer));
  p += 16;
  *p++ = next.revoked_count;
  for (size_t i = 0; i < kMaxRevokedKeys; ++i, p += 8) PutU64(p, next.revoked[i].serial);
  *p++ = next.disabled_count;
  for (size_t i = 0; i < kMaxDisabledKeys; ++i, p += 8) PutU64(p, next.disabled[i].serial);
  // One record write: the version is durable with the list it belongs to.
  MORTISE_TRY(store_.Write(AdminKey(slot), r));
  admin_[slot] = next;
  if (slot == admin_count_) ++admin_count_;
  return Status::Ok();
}

Status AccessListStore::Persist(const AccessListState& state) {
  uint8_t header[kHeaderSize] = {};
  uint8_t revoked[kRevokedSize] = {};
  header[0] = kRecordFormat;
  uint8_t* p = header + 1;
  PutU64(p, state.version);
  p += 8;
  PutU32(p, state.claim_generation);
  p += 4;
  *p++ = state.epoch_count;
  for (size_t i = 0; i < kMaxIssuerEpochs; ++i, p += 12) {
    std::memcpy(p, state.epochs[i].issuer.data(), kKeyIdSize);
    PutU32(p + 8, state.epochs[i].min_epoch);
  }
  *p++ = state.disabled_count;
  for (size_t i = 0; i < kMaxDisabledKeys; ++i, p += kKeyRefSize) PutKeyRef(p, state.disabled[i]);
  revoked[0] = kRecordFormat;
  revoked[1] = state.revoked_count;
  for (size_t i = 0; i < kMaxRevokedKeys; ++i) PutKeyRef(revoked + 2 + kKeyRefSize * i, state.revoked[i]);

  MORTISE_TRY(store_.Begin());
  Status s = store_.Write(kHeaderKey, header);
  if (s.ok()) s = store_.Write(kRevokedKey, revoked);
  if (s.ok()) s = store_.Commit();
  if (!s.ok()) store_.Rollback();
  return s;
}

Status AccessListStore::Apply(std::span<const uint8_t> update, const LockId& lock_id, uint32_t claim_generation,
                              const crypto::P256PublicKey& owner) {
  MORTISE_ASSIGN_OR_RETURN(const AccessListState next, VerifyAccessList(update, lock_id, claim_generation, owner));
  if (next.by_admin) return ApplyAdmin(next);
  // Read the durable counter again rather than trusting RAM alone.
  MORTISE_ASSIGN_OR_RETURN(const uint64_t counter, store_.ReadCounter(kCounterAccessListVersion));
  if (next.version <= state_.version || next.version <= counter || next.version <= floor_) {
    return StatusCode::kAlreadyExists;
  }
  // Persist before use: the list, then the counter, then RAM.
  MORTISE_TRY(Persist(next));
  MORTISE_TRY(internal::RaiseVersionFloor(store_, kCounterAccessListVersion, counter, next.version));
  state_ = next;
  floor_ = next.version;
  return Status::Ok();
}

Status AccessListStore::Wipe() {
  MORTISE_TRY(store_.Begin());
  Status s = store_.Erase(kHeaderKey);
  if (s.ok()) s = store_.Erase(kRevokedKey);
  for (size_t slot = 0; s.ok() && slot < kMaxAdminLists; ++slot) s = store_.Erase(AdminKey(slot));
  if (s.ok()) s = store_.Commit();
  if (!s.ok()) {
    store_.Rollback();
    return s;
  }
  state_ = AccessListState();
  admin_count_ = 0;
  return Status::Ok();
}

}  // namespace mortise::protocol
