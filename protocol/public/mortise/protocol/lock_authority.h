// The lock side of the protocol's authority: the lock's identity, the
// owner's key installed at claiming, the accepted access list, and the rules
// every command passes before it reaches the core (DoorLock).
//
// The principle: the lock is the authority. Nothing here trusts a relay; a
// key is what a certificate chain up to the owner's key says it is, checked
// against the lock's own time and access list.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mortise/core/door_lock.h"
#include "mortise/core/durable_store.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/crypto/secret.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/permissions.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr size_t kOfflinePinSecretSize = 32;
// Certificates with a max_uses limit whose uses the lock tracks at once
// (keyed by key index). An entry is dropped only when its certificate can
// never be used again (past its not_after); until then a full table refuses
// new use-limited keys (fail closed).
inline constexpr size_t kMaxUseCountedKeys = 12;
// The key table: the lock gives every certificate key that acts a 16-bit
// index, 1..kMaxKeyIndex, in order of first use, so its 20-byte log records
// can name (issuer key id, serial) exactly. Entries are never reused or
// forgotten (not even by a factory reset: the log keeps naming them). When
// the table is full, later keys act with index kNoKeyIndex (the log then
// says "a certificate key", not which), and a new use-limited key cannot be
// counted and is refused.
inline constexpr size_t kKeyIndexPerPage = 15;
inline constexpr size_t kKeyIndexPages = 16;
inline constexpr uint16_t kMaxKeyIndex = kKeyIndexPerPage * kKeyIndexPages;

// Told when the lock gives a key its index in the key table (at the key's
// first use, before it acts), so the integrator can record the mapping
// where readers of the log find it: the audit log's key-introduction record
// (docs/storage-format.md §4.2). Called after the table is stored.
class KeyTableObserver {
 public:
  virtual void KeyIndexAssigned(uint16_t index, const KeyRef& key) = 0;

 protected:
  ~KeyTableObserver() = default;
};

class LockAuthority {
 public:
  // `store` and `drbg` must outlive the object; the DRBG must be seeded
  // from the lock's own entropy source before Start().
  LockAuthority(core::DurableStore& store, crypto::Drbg& drbg)
      : store_(store), drbg_(drbg), access_list_(store), groups_(store) {}

  // Loads (or, at first start, creates) the identity, then the owner and the
  // access list. Errors: LockIdentity::LoadOrCreate's; kDataLoss for a
  // malformed owner record; AccessListStore::Load's (on kDataLoss from the
  // access list the lock still starts, with the floor it could read, and
  // the status is returned so the integrator can raise an alarm).
  Status Start();

  bool started() const { return identity_.has_value(); }
  // Precondition: started().
  const LockIdentity& identity() const { return *identity_; }
  bool claimed() const { return owner_.has_value(); }
  const crypto::P256PublicKey* owner() const { return owner_ ? &*owner_ : nullptr; }
  const AccessListState& access_list() const { return access_list_.state(); }
  std::span<const AccessListState> admin_access_lists() const { return access_list_.admin_lists(); }
  // The current claim's generation (0: never claimed, or claimed before
  // generations existed). Certificates and access lists must name it.
  uint32_t claim_generation() const { return generation_; }
  uint64_t access_list_floor() const { return access_list_.floor(); }
  // The highest version accepted from the issuer of an access list (frame
  // 0x05's cheap check and answer; AccessListStore::HeldVersion).
  uint64_t AccessListHeldVersion(const AccessListHeader& header) const { return access_list_.HeldVersion(header); }
  // ApplyAccessList, and when it replaced a list (the owner's or an
  // admin's), one kAccessListChange event in `lock`'s log: data = the keys
  // the lists now revoke or suspend, credential = `key` (the key that
  // carried it; none for frame 0x05). The same path for a session's
  // command and a sessionless frame, so neither goes unlogged.
  Status ApplyAccessListAndRecord(std::span<const uint8_t> update, core::DoorLock& lock, core::OperationSource source,
                                  std::optional<core::CredentialRef> key);
  // The lock's current group membership and the highest version accepted.
  const GroupMembershipState& group_membership() const { return groups_.state(); }
  uint64_t group_membership_floor() const { return groups_.floor(); }

  // Claiming (claim.h) installs the root of authority and the offline-PIN
  // secret in one transaction, before anything is reported to the owner,
  // under a new claim generation (the durable counter is raised first, so a
  // power cut can skip a generation but never repeat one).
  // kFailedPrecondition: not started. kAlreadyExists: already claimed (a
  // second claim needs a factory reset). Store errors: nothing changed.
  Status InstallOwner(const crypto::P256PublicKey& owner, std::span<const uint8_t, kOfflinePinSecretSize> pin_secret);

  // Ownership transfer (transfer.h): the owner key becomes `new_owner` and
  // the offline-PIN secret `pin_secret`, under a new claim generation
  // (raised durably first, then owner and secret in one transaction, as
  // InstallOwner), then the access lists and group membership of the old
  // generation are forgotten (their version floors stay, as at Wipe). What
  // the old owner issued ends with the generation: certificates, lists,
  // memberships and custody acknowledgements name it. The key table and use
  // counts stay (the log names keys by index).
  // kFailedPrecondition: not claimed, or `expected_generation` is not the
  // current one (a transfer recorded earlier and sent again). kAlreadyExists:
  // `new_owner` is the owner already. Store errors: the old owner stays.
  Status TransferOwner(const crypto::P256PublicKey& new_owner, uint32_t expected_generation,
                       std::span<const uint8_t, kOfflinePinSecretSize> pin_secret);
  // TransferOwner's refusals, without changing anything (the executor asks
  // before it touches the core's offline-PIN secret).
  Status CheckTransfer(const crypto::P256PublicKey& new_owner, uint32_t expected_generation) const;

  // Factory reset of the protocol state: forgets the owner, the offline-PIN
  // secret, the access list and the group membership (not its floor). The identity stays (it is the lock's, not
  // the owner's), and so do the use counts (ConsumeUse) and the access-list
  // version floor: forgetting either would revive spent or revoked keys. Store errors: returned; RAM forgets the owner only after
  // the store did.
  Status Wipe();

  // Verifies a key chain against the owner, the access list and the lock's
  // time (`lock.utc_now()`, nullopt while unknown) and UTC offset. Statuses
  // of VerifyChain; kFailedPrecondition also when not started.
  Result<VerifiedKey> VerifyKey(std::span<const uint8_t> chain, const core::DoorLock& lock) const;
  // The same with an explicit time (tests, and callers without a DoorLock).
  Result<VerifiedKey> VerifyKey(std::span<const uint8_t> chain, std::optional<int64_t> utc_now,
                                int32_t utc_offset_s) const;
  // The same with a revalidation token (revalidation.h), which may be empty:
  // it is examined only when a certificate of the chain demands
  // revalidation. Statuses of VerifyChain with a token: in short,
  // kPermissionDenied when a token is demanded and missing, names another
  // key or lock, or its signer lacks the right (kPermRevalidate, revoked);
  // kOutOfRange when it is stale or issued beyond the allowed skew in the
  // future; kFailedPrecondition while the lock's time is unknown (fail
  // closed); kUnauthenticated when not signed by the owner or an
  // owner-certified revalidation key; kInvalidArgument when malformed.
  Result<VerifiedKey> VerifyKey(std::span<const uint8_t> chain, std::span<const uint8_t> revalidation,
                                const core::DoorLock& lock) const;
  Result<VerifiedKey> VerifyKey(std::span<const uint8_t> chain, std::span<const uint8_t> revalidation,
                                std::optional<int64_t> utc_now, int32_t utc_offset_s) const;

  // Applies the current access list, time and owner to a key verified
  // earlier (RecheckKey), with no asymmetric operation. Sessions call it
  // before every command. kPermissionDenied also when the key is the owner's
  // and the lock has since been wiped or re-claimed; kFailedPrecondition
  // when not claimed. Otherwise RecheckKey's statuses, among them
  // kOutOfRange once a revalidated key's token is older than its bound
  // (VerifiedKey::revalidated_until): a session cannot outlive its token.
  Status Recheck(const VerifiedKey& key, const core::DoorLock& lock) const;

  // The owner's own key (a session authenticated with it needs no
  // certificate). kFailedPrecondition: not claimed. kUnauthenticated: not
  // the owner's key.
  Result<VerifiedKey> VerifyOwner(const crypto::P256PublicKey& key) const;

  // Role x command, plus the key's remote-only flag: a remote-only key is
  // refused on any source but kRemote (an end-to-end signed command).
  // Statuses of Authorize (permissions.h); kPermissionDenied for the
  // remote-only rule.
  Status Authorize(const VerifiedKey& key, Command command, core::OperationSource source) const;

  // Stores and applies a signed access-list update (carried by any device):
  // the owner's, or an admin's own (access_list.h).
  // kFailedPrecondition: not claimed. Otherwise AccessListStore::Apply's.
  Status ApplyAccessList(std::span<const uint8_t> update);

  // Stores and applies a signed group membership (carried by any device),
  // the owner's or one of an admin of this lock holding kPermManageGroups
  // whose certificate the owner's access list does not refuse and whose
  // window and schedule hold now (a revoked or expired admin changes
  // nothing). kFailedPrecondition: not claimed; or an admin certificate
  // limited in time while the lock's time is unknown. kPermissionDenied /
  // kOutOfRange: the admin's certificate is refused by the access list or
  // its time. Otherwise VerifyGroupMembership's and
  // GroupMembershipStore::Apply's statuses.
  Status ApplyGroupMembership(std::span<const uint8_t> update, std::optional<int64_t> utc_now,
                              int32_t utc_offset_s);
  // The same with the lock's time and UTC offset.
  Status ApplyGroupMembership(std::span<const uint8_t> update, const core::DoorLock& lock);

  // Sets the lock's clock for a verified key. Forward moves need
  // kPermSetTime; `allow_backwards` additionally needs the owner
  // (kSetTimeBackwards). kPermissionDenied: the key lacks the right.
  // Otherwise DoorLock::SetUtcTime's statuses (kFailedPrecondition: earlier
  // than the stored floor without allow_backwards; kInvalidArgument: out of
  // the plausible range).
  Status SetTime(const VerifiedKey& key, core::OperationSource source, int64_t utc_s, bool allow_backwards,
                 core::DoorLock& lock) const;

  // Counts one use of a key with a max_uses limit, durably, before the
  // caller acts (a power cut after counting loses a use, never gives one).
  // OK at once for keys without a limit. kResourceExhausted: the key's uses
  // are spent, or kMaxUseCountedKeys other live use-limited keys are
  // tracked. kDataLoss: the record is malformed. Store errors: nothing
  // counted, and the caller must not act.
  Status ConsumeUse(const VerifiedKey& key, std::optional<int64_t> utc_now);
  // Uses counted so far for a key (0 when untracked).
  Result<uint32_t> UsesOf(const KeyRef& key) const;

  // The key table. KeyIndexOf returns the key's index, assigning the next
  // free one (one store write) at its first use; 0 for the owner's own key;
  // kNoKeyIndex when the table is full. kFailedPrecondition: not started.
  // kDataLoss: a malformed page. Store errors: nothing assigned.
  Result<uint16_t> KeyIndexOf(const KeyRef& key);
  Result<uint16_t> KeyIndexOf(const VerifiedKey& key);
  // The key an index names (readers of the log). kNotFound: not assigned.
  // kInvalidArgument: 0 or above kMaxKeyIndex. kDataLoss, store errors.
  Result<KeyRef> KeyAt(uint16_t index) const;
  // How the log names a key it refuses after its holder proved possession
  // (DoorLock::RecordKeyRefused): the key's table index (given now, with its
  // key introduction, if the key never acted before). Only for a chain
  // whose signatures verified up to this lock's owner, which `why` (the
  // refusal's status) tells: kUnauthenticated and kInvalidArgument name
  // nothing, so a forged chain cannot put a real key's name on a stranger's
  // attempt. nullopt: nothing to name, or the table is full or unreadable.
  std::optional<core::CredentialRef> RefusedKeyCredential(std::span<const uint8_t> chain, StatusCode why);
  std::optional<core::CredentialRef> RefusedKeyCredential(const VerifiedKey& key);
  // Optional; must outlive the authority or be reset to nullptr.
  void set_key_table_observer(KeyTableObserver* observer) { key_observer_ = observer; }

  // The offline-PIN secret agreed at claiming (for the offline-PIN issue).
  // kFailedPrecondition: not claimed.
  Status OfflinePinSecret(crypto::SecretBytes<kOfflinePinSecretSize>& out) const;

  // The key that authenticates the lock's audit log (store::AuditLog's
  // HmacLogAuthenticator): HKDF-SHA256 of the identity's private scalar with
  // info "mortise-log-key-v1". It never leaves the lock: readers verify
  // logs read over a session through the session's own authentication
  // (store::LogVerifier's channel mode). kFailedPrecondition: not started.
  Status LogKey(crypto::SecretBytes<32>& out) const;

  // Signs a head of the lock's audit log with the identity key (the signer
  // store::AuditLog gets through lockd; docs/storage-format.md §4.2, record
  // 0xA6). `message` must be exactly the 68-byte signed-head message:
  // "mortise-log-head-v1\0" | this lock's id | LE64 sequence | chain (16) |
  // LE64 time; anything else is refused with kInvalidArgument, so the
  // identity key signs nothing else through here (domain separation from
  // every other signature of the protocol). kFailedPrecondition: not
  // started. DRBG/backend errors from P256KeyPair::Sign.
  Status SignLogHead(std::span<const uint8_t> message, crypto::P256Signature& signature) const;
  static constexpr size_t kLogHeadMessageSize = 68;
  // Signs a custody receipt (custody.h): `message` must be exactly the
  // receipt message, "mortise-log-cursor-v1\0" | this lock's id | ...;
  // anything else is refused with kInvalidArgument. Statuses as SignLogHead.
  Status SignCustodyReceipt(std::span<const uint8_t> message, crypto::P256Signature& signature) const;

  crypto::Drbg& drbg() { return drbg_; }

 private:
  core::DurableStore& store_;
  crypto::Drbg& drbg_;
  std::optional<LockIdentity> identity_;
  // Looks `key` up in the key table; with `assign`, gives it the next free
  // index (a store write through the store_ reference).
  Result<uint16_t> FindKeyIndex(const KeyRef& key, bool assign) const;
  VerifyContext Context(std::optional<int64_t> utc_now, int32_t utc_offset_s) const;
  // Raises the claim generation, then stores `owner` and `pin_secret` under
  // it in one transaction (InstallOwner, TransferOwner).
  Status WriteOwner(const crypto::P256PublicKey& owner, std::span<const uint8_t, kOfflinePinSecretSize> pin_secret);

  std::optional<crypto::P256PublicKey> owner_;
  uint32_t generation_ = 0;
  KeyTableObserver* key_observer_ = nullptr;
  AccessListStore access_list_;
  GroupMembershipStore groups_;
};

}  // namespace mortise::protocol
