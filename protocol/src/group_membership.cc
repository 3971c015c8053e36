#include "mortise/protocol/group_membership.h"

#include <cstring>

#include "certificate_internal.h"
#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/protocol/records.h"
#include "version_floor.h"

namespace mortise::protocol {
namespace {

constexpr uint8_t kDomain[] = "mortise-groups-v1";  // the terminating zero is part of the prefix
constexpr uint32_t kFormat = 1;
static_assert(mortise_GroupMembershipUpdate_size <= kMaxGroupMembershipUpdateSize);
static_assert(sizeof(mortise_GroupMembershipTbs{}.groups) / sizeof(uint64_t) == kMaxGroupsPerLock);

// Record 0x0160/0: format (2) || version (8 LE) || claim generation (4 LE) ||
// by admin (1: 0 or 1) || signer key id (8, zero for the owner) || count (1)
// || kMaxGroupsPerLock x group id (8 LE, zero past count) || the admin
// certificate's issuer key id (8) || serial (8 LE) || issuer epoch (4 LE) ||
// not before (8 LE) || not after (8 LE) (all zero for the owner).
// Format 1 is format 2 without the admin's certificate fields: loaded, an
// admin's membership of format 1 counts as empty (its signer cannot be
// re-checked).
constexpr uint8_t kRecordFormat = 2;
constexpr uint8_t kRecordFormatV1 = 1;
constexpr uint32_t kRecordKey = core::MakeRecordKey(kRecordGroupMembership, 0);
constexpr size_t kRecordSizeV1 = 1 + 8 + 4 + 1 + kKeyIdSize + 1 + kMaxGroupsPerLock * 8;
constexpr size_t kRecordSize = kRecordSizeV1 + kKeyIdSize + 8 + 4 + 8 + 8;
static_assert(kRecordSize <= core::kMaxRecordSize);

std::span<const uint8_t> Domain() { return std::span<const uint8_t>(kDomain, sizeof(kDomain)); }

// Decodes an update and its tbs strictly; checks the format, the version,
// the lock id's size and the groups' order (strictly ascending, none 0:
// one encoding per set).
Status DecodeUpdate(std::span<const uint8_t> bytes, mortise_GroupMembershipUpdate& update,
                    mortise_GroupMembershipTbs& tbs) {
  uint8_t scratch[kMaxGroupMembershipUpdateSize];
  MORTISE_TRY(internal::DecodeStrict(bytes, mortise_GroupMembershipUpdate_fields, &update, scratch));
  if (update.signature.size != crypto::kP256SignatureSize) return StatusCode::kInvalidArgument;
  MORTISE_TRY(internal::DecodeStrict(std::span<const uint8_t>(update.tbs.bytes, update.tbs.size),
                                     mortise_GroupMembershipTbs_fields, &tbs, scratch));
  if (tbs.format != kFormat || tbs.version == 0 || tbs.lock_id.size != kLockIdSize) {
    return StatusCode::kInvalidArgument;
  }
  for (pb_size_t i = 0; i < tbs.groups_count; ++i) {
    if (tbs.groups[i] == 0 || (i > 0 && tbs.groups[i] <= tbs.groups[i - 1])) return StatusCode::kInvalidArgument;
  }
  return Status::Ok();
}

}  // namespace

bool GroupMembershipState::Contains(uint64_t group) const {
  for (uint8_t i = 0; i < count && i < kMaxGroupsPerLock; ++i) {
    if (groups[i] == group) return true;
  }
  return false;
}

Result<size_t> SignGroupMembership(const GroupMembershipState& state, const LockId& lock_id,
                                   const crypto::P256KeyPair& signer, crypto::Drbg& drbg, std::span<uint8_t> out,
                                   std::span<const uint8_t> issuer_certificate) {
  if (state.version == 0 || state.count > kMaxGroupsPerLock) return StatusCode::kInvalidArgument;
  mortise_GroupMembershipTbs tbs = mortise_GroupMembershipTbs_init_zero;
  tbs.format = kFormat;
  internal::SetBytes(tbs.lock_id, lock_id);
  tbs.claim_generation = state.claim_generation;
  tbs.version = state.version;
  // Sorted ascending (insertion sort: at most 16), so a set has one encoding.
  tbs.groups_count = state.count;
  for (uint8_t i = 0; i < state.count; ++i) {
    const uint64_t g = state.groups[i];
    if (g == 0) return StatusCode::kInvalidArgument;
    pb_size_t j = i;
    for (; j > 0 && tbs.groups[j - 1] > g; --j) tbs.groups[j] = tbs.groups[j - 1];
    tbs.groups[j] = g;
  }
  for (pb_size_t i = 1; i < tbs.groups_count; ++i) {
    if (tbs.groups[i] == tbs.groups[i - 1]) return StatusCode::kInvalidArgument;
  }
  if (issuer_certificate.size() > sizeof(tbs.issuer_certificate.bytes)) return StatusCode::kInvalidArgument;
  internal::SetBytes(tbs.issuer_certificate, issuer_certificate);

  mortise_GroupMembershipUpdate update = mortise_GroupMembershipUpdate_init_zero;
  MORTISE_ASSIGN_OR_RETURN(const size_t n, internal::Encode(mortise_GroupMembershipTbs_fields, &tbs,
                                                            std::span<uint8_t>(update.tbs.bytes, sizeof(update.tbs.bytes))));
  update.tbs.size = static_cast<pb_size_t>(n);
  crypto::P256Signature sig{};
  MORTISE_TRY(signer.SignDigest(internal::DomainDigest(Domain(), std::span<const uint8_t>(update.tbs.bytes, n)), sig,
                                drbg));
  internal::SetBytes(update.signature, sig);
  return internal::Encode(mortise_GroupMembershipUpdate_fields, &update, out);
}

Result<GroupMembershipHeader> PeekGroupMembership(std::span<const uint8_t> bytes) {
  mortise_GroupMembershipUpdate update = mortise_GroupMembershipUpdate_init_zero;
  mortise_GroupMembershipTbs tbs = mortise_GroupMembershipTbs_init_zero;
  MORTISE_TRY(DecodeUpdate(bytes, update, tbs));
  GroupMembershipHeader h;
  std::memcpy(h.lock_id.data(), tbs.lock_id.bytes, kLockIdSize);
  h.claim_generation = tbs.claim_generation;
  h.version = tbs.version;
  return h;
}

Result<VerifiedGroupMembership> VerifyGroupMembership(std::span<const uint8_t> bytes, const LockId& lock_id,
                                                      uint32_t claim_generation, const crypto::P256PublicKey& owner) {
  mortise_GroupMembershipUpdate update = mortise_GroupMembershipUpdate_init_zero;
  mortise_GroupMembershipTbs tbs = mortise_GroupMembershipTbs_init_zero;
  MORTISE_TRY(DecodeUpdate(bytes, update, tbs));
  const crypto::Digest digest =
      internal::DomainDigest(Domain(), std::span<const uint8_t>(update.tbs.bytes, update.tbs.size));
  const std::span<const uint8_t> signature(update.signature.bytes, update.signature.size);
  VerifiedGroupMembership out;
  if (tbs.issuer_certificate.size == 0) {
    // Authenticate before acting on any field's meaning.
    if (!owner.VerifyDigest(digest, signature).ok()) return StatusCode::kUnauthenticated;
  } else {
    CertificateFields admin;
    std::optional<crypto::P256PublicKey> admin_key;
    MORTISE_TRY(internal::VerifyOwnerIssuedCertificate(
        std::span<const uint8_t>(tbs.issuer_certificate.bytes, tbs.issuer_certificate.size), owner, admin, admin_key));
    if (!admin_key->VerifyDigest(digest, signature).ok()) return StatusCode::kUnauthenticated;
    // An admin of this very door (lock scope, this claim), holding the
    // right, issued by the owner directly: an admin of a group could
    // otherwise add any door of the owner to its own group.
    if (admin.scope != Scope::kLock || admin.lock_id != lock_id || admin.claim_generation != claim_generation ||
        admin.role != Role::kAdmin || (admin.permissions & kPermManageGroups) == 0 || admin.parent_serial != 0 ||
        (admin.permissions & ~RoleAllowedPermissions(admin.role)) != 0) {
      return StatusCode::kPermissionDenied;
    }
    out.state.by_admin = true;
    out.state.signer = KeyIdOf(*admin_key);
    out.admin = internal::LimitsOf(admin);
    // What the lock re-checks at each use (no schedule: the admin's hours
    // bound when it may sign, not how long a membership lasts).
    out.state.admin.serial = admin.serial;
    out.state.admin.issuer = admin.issuer_key_id;
    out.state.admin.epoch = admin.issuer_epoch;
    out.state.admin.not_before = admin.not_before;
    out.state.admin.not_after = admin.not_after;
    out.state.admin.claim_generation = admin.claim_generation;
  }
  if (std::memcmp(tbs.lock_id.bytes, lock_id.data(), kLockIdSize) != 0) return StatusCode::kPermissionDenied;
  // A membership of an earlier claim says nothing about this one.
  if (tbs.claim_generation != claim_generation) return StatusCode::kPermissionDenied;
  out.state.version = tbs.version;
  out.state.claim_generation = tbs.claim_generation;
  out.state.count = static_cast<uint8_t>(tbs.groups_count);
  for (pb_size_t i = 0; i < tbs.groups_count; ++i) out.state.groups[i] = tbs.groups[i];
  return out;
}

Status GroupMembershipStore::Load() {
  state_ = GroupMembershipState();
  uint8_t r[kRecordSize + 1];
  Result<size_t> n = store_.Read(kRecordKey, r);
  if (n.ok()) {
    const bool v1 = *n == kRecordSizeV1 && r[0] == kRecordFormatV1;
    if (!(v1 || (*n == kRecordSize && r[0] == kRecordFormat)) || r[13] > 1 || r[14 + kKeyIdSize] > kMaxGroupsPerLock) {
      return StatusCode::kDataLoss;
    }
    const uint8_t* p = r + 1;
    state_.version = internal::GetU64(p);
    state_.claim_generation = internal::GetU32(p + 8);
    state_.by_admin = p[12] != 0;
    std::memcpy(state_.signer.data(), p + 13, kKeyIdSize);
    state_.count = p[13 + kKeyIdSize];
    p += 14 + kKeyIdSize;
    for (size_t i = 0; i < kMaxGroupsPerLock; ++i) state_.groups[i] = internal::GetU64(p + 8 * i);
    p += 8 * kMaxGroupsPerLock;
    if (v1 && state_.by_admin) {
      state_.count = 0;  // an admin's membership whose signer cannot be re-checked
    } else if (!v1 && state_.by_admin) {
      std::memcpy(state_.admin.issuer.data(), p, kKeyIdSize);
      p += kKeyIdSize;
      state_.admin.serial = internal::GetU64(p);
      state_.admin.epoch = internal::GetU32(p + 8);
      state_.admin.not_before = internal::GetU64(p + 12);
      state_.admin.not_after = internal::GetU64(p + 20);
      state_.admin.claim_generation = state_.claim_generation;
    }
  } else if (n.status().code() != StatusCode::kNotFound) {
    return n.status();
  }
  return internal::ReconcileVersionFloor(store_, kCounterGroupMembershipVersion, state_.version, floor_);
}

Status GroupMembershipStore::Apply(const GroupMembershipState& next) {
  // Read the durable counter again rather than trusting RAM alone.
  MORTISE_ASSIGN_OR_RETURN(const uint64_t counter, store_.ReadCounter(kCounterGroupMembershipVersion));
  if (next.version <= state_.version || next.version <= counter || next.version <= floor_ ||
      next.count > kMaxGroupsPerLock) {
    return StatusCode::kAlreadyExists;
  }
  // A bounded step: a signer cannot take the sequence to its end (A12).
  const uint64_t highest = counter > floor_ ? counter : floor_;
  if (next.version - highest > kMaxGroupMembershipVersionStep) return StatusCode::kOutOfRange;
  uint8_t r[kRecordSize] = {};
  r[0] = kRecordFormat;
  uint8_t* p = r + 1;
  internal::PutU64(p, next.version);
  internal::PutU32(p + 8, next.claim_generation);
  p[12] = next.by_admin ? 1 : 0;
  if (next.by_admin) std::memcpy(p + 13, next.signer.data(), kKeyIdSize);
  p[13 + kKeyIdSize] = next.count;
  p += 14 + kKeyIdSize;
  for (size_t i = 0; i < next.count; ++i) internal::PutU64(p + 8 * i, next.groups[i]);
  p += 8 * kMaxGroupsPerLock;
  if (next.by_admin) {
    std::memcpy(p, next.admin.issuer.data(), kKeyIdSize);
    p += kKeyIdSize;
    internal::PutU64(p, next.admin.serial);
    internal::PutU32(p + 8, next.admin.epoch);
    internal::PutU64(p + 12, next.admin.not_before);
    internal::PutU64(p + 20, next.admin.not_after);
  }
  // Persist before use: the record, then the counter, then RAM.
  MORTISE_TRY(store_.Write(kRecordKey, r));
  MORTISE_TRY(internal::RaiseVersionFloor(store_, kCounterGroupMembershipVersion, counter, next.version));
  state_ = next;
  floor_ = next.version;
  return Status::Ok();
}

Status GroupMembershipStore::Wipe() {
  MORTISE_TRY(store_.Erase(kRecordKey));
  state_ = GroupMembershipState();
  return Status::Ok();
}

}  // namespace mortise::protocol
