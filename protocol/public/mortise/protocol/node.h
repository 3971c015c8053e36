// The lock's protocol endpoint: one object that owns the claim server, the
// session server and the remote-command server of a lock, and dispatches the
// frames a transport carries to them. A transport (BLE GATT, a UNIX
// SOCK_SEQPACKET socket, TCP on loopback with a length prefix) carries whole
// frames; the first byte says which protocol the rest belongs to:
//
//   0x01 claim    a ClaimMessage            (claim.h)
//   0x02 session  a SessionMessage          (session.h)
//   0x03 remote   a RemoteCommand envelope  (remote.h)
//   0x04 info     empty request; the reply is a LockInfo (unauthenticated:
//                 lock id, key hash, claimed, protocol version, claim window)
//   0x05 update   a signed update any device may carry without a session or
//                 a key of its own: kind (1: access list, 2: group
//                 membership) || the encoded update; the reply is
//                 kind || status || the version now held (8 LE), and for
//                 an update applied or not above the held version, while
//                 the signature budget lasts, the lock's signature of a
//                 receipt (SignedUpdateReply; docs/protocol.md section 12)
//   0x06 custody  a log-custody acknowledgement (custody.h); answered only
//                 when the integrator set a LogCustodian
//   0x07 time     a time statement (time_statement.h): a small, budgeted
//                 correction of a clock already set
//
// The reply carries the same type byte. A frame with an unknown type, or
// empty, is answered with a one-byte frame 0x00 (nothing else is revealed)
// and changes nothing.
//
// Why one endpoint: every transport gets the same rules, and nothing a
// transport does (framing, retries, several clients) can reach the lock's
// state except through these three servers, which trust nothing they
// receive.
#pragma once

#include <cstddef>
#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "mortise/core/door_lock.h"
#include "mortise/crypto/hash.h"
#include "mortise/core/durable_store.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/custody.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/remote.h"
#include "mortise/protocol/session.h"
#include "mortise/protocol/time_statement.h"
#include "mortise/status.h"

namespace mortise::protocol {

enum class FrameType : uint8_t {
  kInvalid = 0,
  kClaim = 1,
  kSession = 2,
  kRemote = 3,
  kInfo = 4,
  kSignedUpdate = 5,
  kCustody = 6,
  kTime = 7,
};

// Frame 0x05: what the update is (the byte after the type).
enum class SignedUpdateKind : uint8_t {
  kAccessList = 1,       // an AccessListUpdate (access_list.h), the owner's or an admin's
  kGroupMembership = 2,  // a GroupMembershipUpdate (group_membership.h)
};
// The reply: 0x05 || kind (1) || status (1, a StatusCode: 0 applied,
// kAlreadyExists not above the held version, ...) || held version (8 LE:
// the highest version the lock has accepted for that kind and issuer, after
// this update) [|| signature (64, r || s)]. The signature (the receipt) is
// the lock's identity key's, over SHA-256 of
//   "mortise-update-receipt-v1\0" || lock id (16) || claim generation (4 LE)
//   || kind (1) || status (1) || held version (8 LE) || SHA-256(update)
// where update is the bytes after the kind exactly as received. Only
// statuses 0 and kAlreadyExists are signed, and only while the signature
// budget below lasts (each receipt costs one check's share of it, so
// replaying an old update cannot make the lock sign without bound); every
// other answer is the 11-byte unsigned form (docs/protocol.md section 12).
inline constexpr size_t kSignedUpdateReplySize = 1 + 1 + 1 + 8;
inline constexpr size_t kSignedUpdateReceiptReplySize = kSignedUpdateReplySize + crypto::kP256SignatureSize;
inline constexpr size_t kSignedUpdateReceiptMessageSize = 26 + kLockIdSize + 4 + 1 + 1 + 8 + crypto::kSha256Size;
// Signature checks frame 0x05 spends at most: one per
// kSignedUpdateCostMs on average, kSignedUpdateBurst in a row. Beyond, an
// update that passed the cheap checks is answered kUnavailable unverified
// (a carrier retries later), so a flood of well-formed forgeries costs the
// lock at most 4 verifications a second.
inline constexpr uint64_t kSignedUpdateCostMs = 250;
inline constexpr uint64_t kSignedUpdateBurst = 8;

struct SignedUpdateReply {
  SignedUpdateKind kind = SignedUpdateKind::kAccessList;
  StatusCode status = StatusCode::kOk;
  uint64_t held_version = 0;
  // The receipt's signature, when the lock signed one (not yet verified:
  // VerifySignedUpdateReceipt).
  std::optional<crypto::P256Signature> signature;
};
// Client side: builds the request frame (type, kind, update) into `out`.
// kResourceExhausted: `out` too small. kInvalidArgument: an empty update.
Result<size_t> EncodeSignedUpdateFrame(SignedUpdateKind kind, std::span<const uint8_t> update, std::span<uint8_t> out);
// kInvalidArgument: not a 0x05 reply of either size (11 unsigned, 75 with a
// receipt), or an unknown kind.
Result<SignedUpdateReply> DecodeSignedUpdateReply(std::span<const uint8_t> frame);
// The receipt message above (kSignedUpdateReceiptMessageSize bytes) for
// these fields; the lock signs it, VerifySignedUpdateReceipt checks it.
std::array<uint8_t, kSignedUpdateReceiptMessageSize> SignedUpdateReceiptMessage(
    const LockId& lock_id, uint32_t claim_generation, SignedUpdateKind kind, StatusCode status, uint64_t held_version,
    std::span<const uint8_t> update);
// Verifies that `reply` carries the signature of the lock whose key is
// `lock_key` over a receipt for exactly `update` (the bytes sent after the
// kind) of `kind` at `lock_id` under `claim_generation`. Returns the version
// the lock then held (at least it holds it now: versions only rise).
// kUnauthenticated: no signature, or it does not verify (another lock,
// claim, kind or update, an edited byte, a forgery). kFailedPrecondition:
// signed, but a status other than 0 and kAlreadyExists (never signed by a
// lock). kInvalidArgument: reply.kind is not `kind`.
Result<uint64_t> VerifySignedUpdateReceipt(const SignedUpdateReply& reply, const crypto::P256PublicKey& lock_key,
                                           const LockId& lock_id, uint32_t claim_generation, SignedUpdateKind kind,
                                           std::span<const uint8_t> update);

// Session frames are at most 1 + kMaxSessionMessageSize bytes (a third
// message with the schema's largest identity and request; realistic ones
// stay under 1,024 and every reply of the lock under 753); remote envelopes
// and their signed results (relayed by servers, never over BLE) need the
// larger kMaxRemoteFrameSize. Handle() wants a reply buffer of
// kMaxRemoteFrameSize to answer every type.
inline constexpr size_t kMaxFrameSize = 1 + kMaxSessionMessageSize;
inline constexpr size_t kMaxRemoteFrameSize = 1 + kMaxRemoteMessageSize;
// The largest frame a transport carries, of any type (docs/protocol.md
// section 12 states it): a transport closes a client that sends a longer
// one and hands every shorter one to Handle(), which answers a frame too
// long for its type with 0x00.
inline constexpr size_t kMaxTransportFrameSize =
    kMaxFrameSize > kMaxRemoteFrameSize ? kMaxFrameSize : kMaxRemoteFrameSize;

// The unauthenticated info reply, decoded (a client uses it to find which
// lock answers at an endpoint, before claiming or to pick a key).
struct LockInfoView {
  uint32_t version = 0;
  LockId lock_id{};
  KeyId key_hash{};
  bool claimed = false;
  bool claim_window_open = false;
};
// kInvalidArgument: not an info reply frame, or malformed.
Result<LockInfoView> DecodeLockInfo(std::span<const uint8_t> frame);

class LockNode final : public core::DoorLock::FactoryResetHook {
 public:
  // All must outlive the node. `authority` must be started (its identity is
  // needed for the claim label) before Start().
  LockNode(LockAuthority& authority, core::DoorLock& lock, core::DurableStore& store);

  // Provisions the setup code on first start (ProvisionSetupCode), starts
  // the session server (after DoorLock::Start), and reopens the claim
  // window when the lock is unclaimed, with the PAKE runs left from the last
  // physical opening (ClaimServer::ResumeWindow: a restart buys no guesses). `setup_code`, when given, is the code to
  // provision at the first start: the integrator drew it (GenerateSetupCode)
  // and stored the label durably before calling, so no crash can lose it;
  // without it the node draws one and ProvisionedLabel() returns it.
  // kInvalidArgument: a trivial `setup_code`. Errors: the parts'.
  Status Start(uint64_t now_ms, std::optional<uint32_t> setup_code = std::nullopt);

  // Handles one frame and writes the reply frame. Returns the reply's
  // length. kResourceExhausted: `reply` shorter than kMaxFrameSize (a remote
  // frame with a reply shorter than kMaxRemoteFrameSize is answered 0x00).
  Result<size_t> Handle(std::span<const uint8_t> frame, uint64_t now_ms, std::span<uint8_t> reply);

  // The claim label (lock id, key hash, setup code) made when Start()
  // provisioned the setup code (the lock's first start). The lock keeps
  // only the PAKE verifier, never the code: the integrator prints the label
  // (the sticker) and keeps it outside the lock's store.
  // kNotFound: provisioned at an earlier start. kFailedPrecondition: not started.
  Result<ClaimLabel> ProvisionedLabel() const;
  bool claimed() const { return authority_.claimed(); }

  // The physical claim button: reopens the claim window of an unclaimed
  // lock. ClaimServer::OpenWindow's statuses.
  Status PressClaimButton(uint64_t now_ms);

  // Factory reset (a physical input only; no frame can reach it): drops
  // every session and resumption ticket, wipes the core's users,
  // credentials, schedules and offline-PIN secret (DoorLock::FactoryReset),
  // then the owner, keys and access list (LockAuthority::Wipe), and opens
  // the claim window. The identity, the
  // setup code, the access-list version floor and the use counts survive
  // (see LockAuthority::Wipe). Errors: the store's; on error the lock stays
  // unclaimed-or-claimed as the store left it and the caller retries.
  Status FactoryReset(uint64_t now_ms);

  // Integrator hooks (may be null): Door Lock cluster commands carried by
  // sessions and remote envelopes, and the audit log read over sessions.
  void set_management(ManagementHandler* handler) {
    sessions_.set_management(handler);
    remote_.set_management(handler);
  }
  void set_log_source(LogSource* source) { sessions_.set_log_source(source); }
  // The audit log's upload cursor (custody.h); without it frame 0x06 is
  // answered 0x00.
  void set_log_custodian(LogCustodian* custodian) { custody_.set_custodian(custodian); }

  // The lock's factory-reset button (DoorLock's hook, registered by the
  // constructor): the whole FactoryReset above.
  void OnFactoryResetButton(uint64_t now_ms) override { FactoryReset(now_ms).IgnoreError(); }

  ClaimServer& claim() { return claim_; }
  SessionServer& sessions() { return sessions_; }
  RemoteServer& remote() { return remote_; }
  CustodyServer& custody() { return custody_; }
  TimeServer& time() { return time_; }

 private:
  LockAuthority& authority_;
  core::DoorLock& lock_;
  core::DurableStore& store_;
  ClaimServer claim_;
  SessionServer sessions_;
  RemoteServer remote_;
  CustodyServer custody_;
  TimeServer time_;
  // Frame 0x05: cheap checks, the rate limit, then the authority.
  Result<size_t> HandleSignedUpdate(std::span<const uint8_t> body, uint64_t now_ms, std::span<uint8_t> out);
  // One signature operation (a check or a receipt) from frame 0x05's
  // budget; false (nothing spent) when it is spent.
  bool SpendUpdateBudget(uint64_t now_ms);
  // The updates this node applied through frame 0x05 since it started (the
  // last kAppliedUpdates, in RAM): "already held" is receipted only for
  // these exact bytes.
  void RememberApplied(SignedUpdateKind kind, const crypto::Digest& digest);
  bool Applied(SignedUpdateKind kind, const crypto::Digest& digest) const;

  std::optional<ClaimLabel> label_;
  bool started_ = false;
  // Frame 0x05's signature budget (a virtual schedule: each check moves it
  // kSignedUpdateCostMs ahead; checks wait while it is more than the burst
  // ahead of now).
  uint64_t update_schedule_ms_ = 0;
  struct AppliedUpdate {
    SignedUpdateKind kind = SignedUpdateKind::kAccessList;
    crypto::Digest digest{};
    bool used = false;
  };
  static constexpr size_t kAppliedUpdates = 4;
  std::array<AppliedUpdate, kAppliedUpdates> applied_{};
  size_t applied_next_ = 0;
};

}  // namespace mortise::protocol
