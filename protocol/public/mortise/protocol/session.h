// Secure sessions between a key holder's device (phone, CLI) and the lock,
// over datagrams (BLE GATT later; a socket or a test harness now).
//
// Cold session, 2 round trips including the first command:
//   C->L  SessionHello   {version, client ephemeral, client nonce, holder key, chain,
//                         revalidation token (only for keys that demand one)}
//         the lock verifies the chain (1-2 ECDSA verifications, 1-2 more
//         for a revalidation token: revalidation.h), makes an
//         ephemeral key, signs the transcript with its identity key
//   L->C  SessionAccept  {lock key, lock ephemeral, lock nonce, boot epoch, signature}
//         the client checks that the lock key hashes to the lock id it
//         expects and that the signature verifies
//   C->L  SessionFinish  {session id, holder signature over the transcript, counter, sealed request}
//   L->C  SessionResponse{counter, sealed response bound to the request}
// Later commands in the session: SessionRequest / SessionResponse, 1 round
// trip each. Resumed session for a key the lock has seen since its last
// boot: ResumeRequest / SessionResponse, 1 round trip, AES and HMAC only.
//
// Why: every key is authenticated by its certificate chain up to the owner
// and by a signature over a transcript that includes both ephemerals, both
// 128-bit nonces, the protocol version and the lock's boot epoch, so
// nothing recorded can be replayed into another session, boot or version.
// Every request carries a counter that must exceed the last one accepted
// (per session or per resumption ticket), and its response is sealed with
// the request's counter and authentication tag in the associated data, so a
// response cannot be moved to another request. Resumption tickets live in
// RAM only: a reboot invalidates them all (and raises the boot epoch), so
// no recorded resumption can be replayed across a restart. Lengths are
// checked before anything is decrypted. Every command is re-checked against
// the current access list and time (RecheckKey) and authorized by the role
// x command table before it reaches the DoorLock.
//
// Slots: kSessionSlots sessions (pending or established). When all are
// taken, a new hello evicts, in order: an expired slot, the oldest pending
// handshake, the least recently used established session of a non-owner
// key, and, for the owner's key only, any least recently used session. So
// the owner always gets a slot (attack A18; see docs/protocol.md for the
// residual risk of a flood of hellos).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mortise/core/door_lock.h"
#include "mortise/core/durable_store.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/p256.h"
#include "mortise/crypto/secret.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/handlers.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr uint32_t kSessionVersion = 1;
inline constexpr size_t kSessionSlots = 4;
inline constexpr size_t kResumptionSlots = 8;
inline constexpr uint64_t kHandshakeTimeoutMs = 5000;
inline constexpr uint64_t kSessionIdleMs = 60000;
// The largest datagram either way: a hello with the largest chain (two
// certificates) and the largest revalidation token (signed by a delegated
// revalidation key) needs 967 bytes. Without a token every message fits in
// 752 bytes, as before revalidation tokens; the lock's replies still do.
inline constexpr size_t kMaxSessionMessageSize = 968;
inline constexpr size_t kSessionIdSize = 8;
inline constexpr size_t kResumptionIdSize = 16;
inline constexpr size_t kSessionNonceSize = 16;  // challenges: 128 bits

// A command as the client sends it.
struct CommandRequest {
  Command command = Command::kReadAttribute;
  // SetTime: UTC seconds; UnlockWithTimeout: seconds; WriteAttribute: value;
  // ReadLog: the first sequence number wanted.
  int64_t value = 0;
  uint16_t attribute = 0;  // ReadAttribute / WriteAttribute
  // ApplyAccessList: the signed update. kManagement: the cluster payload.
  // ReadLog: the reader's 16-byte challenge.
  std::span<const uint8_t> payload;
  // RequirePINforRemoteOperation: the PIN for Lock/Unlock/Unbolt (4..8 bytes).
  std::span<const uint8_t> pin;
};

// The lock's answer.
struct CommandResponse {
  StatusCode status = StatusCode::kOk;  // the command's outcome at the protocol level
  uint8_t dl_status = 0;                // Matter DlStatus of an operation (0: success)
  int64_t value = 0;                    // ReadAttribute's value
  uint64_t next = 0;                    // ReadLog: next page's first sequence number (0: head reached)
  size_t payload_len = 0;               // kManagement's answer, ReadLog's page
  std::array<uint8_t, kMaxResponsePayload> payload{};
  std::span<const uint8_t> payload_view() const { return std::span<const uint8_t>(payload.data(), payload_len); }
};

// Runs an authenticated command: re-checks the key (access list, time),
// authorizes it for its source (a kManagement payload for the command the
// handler says it is), counts a use of a use-limited key, then acts. Shared
// by sessions and remote envelopes so both apply exactly the same rules.
struct CommandExecutor {
  LockAuthority& authority;
  core::DoorLock& lock;
  ManagementHandler* management = nullptr;
  LogSource* log = nullptr;

  // Every refusal is in the response's status: kPermissionDenied (role,
  // permission, remote-only, revoked...), kInvalidArgument (a value out of
  // range, an unparsable payload), kResourceExhausted (uses spent),
  // kUnimplemented (no hook for the command), kAborted (the core refused an
  // operation: see dl_status and value = OperationError), or the status of
  // the core or authority call.
  CommandResponse Run(const VerifiedKey& key, const CommandRequest& request, core::OperationSource source);

 private:
  CommandResponse Act(const VerifiedKey& key, const CommandRequest& request, core::OperationSource source);
};

class SessionServer {
 public:
  // All must outlive the server.
  SessionServer(LockAuthority& authority, core::DoorLock& lock, core::DurableStore& store)
      : authority_(authority), lock_(lock), store_(store) {}

  // Reads the boot epoch (raised by DoorLock::Start, which must run first).
  // Errors: the store's.
  Status Start();

  // Handles one datagram and writes the reply. Returns the reply's length,
  // or kResourceExhausted if `reply` is shorter than kMaxSessionMessageSize,
  // or kFailedPrecondition before Start(). Handshake and transport failures
  // are answered with a plaintext SessionError carrying the code (also in
  // last_status()):
  //   kInvalidArgument   malformed, non-canonical, wrong version or lengths
  //   kUnauthenticated   a chain, signature or seal that does not verify
  //   kPermissionDenied  the chain verifies but the key is revoked, disabled,
  //                      below its issuer's epoch, for another lock, or
  //                      lacks a revalidation token it demands
  //   kOutOfRange        the key is outside its validity window or schedule,
  //                      or its revalidation token is stale
  //   kNotFound          unknown session or resumption ticket (start cold)
  //   kAlreadyExists     a counter not above the last accepted (replay)
  //   kResourceExhausted no slot could be freed for this key
  //   kFailedPrecondition out of order, or the lock is not claimed
  // A command that was authenticated but refused (permission, time, core
  // refusal) is answered inside the sealed response instead.
  Result<size_t> Handle(std::span<const uint8_t> datagram, uint64_t now_ms, std::span<uint8_t> reply);
  Status last_status() const { return last_status_; }

  // Forgets every session and resumption ticket (factory reset, new owner).
  void Reset();
  // Integrator hooks (handlers.h); null: those commands answer kUnimplemented.
  void set_management(ManagementHandler* handler) { executor_.management = handler; }
  void set_log_source(LogSource* source) { executor_.log = source; }
  size_t sessions_in_use(uint64_t now_ms) const;

 private:
  enum class SlotState : uint8_t { kFree, kPending, kEstablished };
  struct Slot {
    SlotState state = SlotState::kFree;
    std::array<uint8_t, kSessionIdSize> id{};
    VerifiedKey key;
    crypto::Digest th2{};
    crypto::SecretBytes<16> c2l, l2c;
    std::array<uint8_t, kResumptionIdSize> resumption_id{};
    crypto::SecretBytes<32> resumption_secret;
    uint32_t last_counter = 0;
    uint64_t created_ms = 0;
    uint64_t last_used_ms = 0;
  };
  struct Ticket {
    bool used = false;
    std::array<uint8_t, kResumptionIdSize> id{};
    crypto::SecretBytes<32> secret;
    VerifiedKey key;
    uint32_t last_counter = 0;
    uint64_t last_used_ms = 0;
  };

  Status Step(std::span<const uint8_t> datagram, uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  Status OnHello(std::span<const uint8_t> datagram, const void* hello, uint64_t now_ms, std::span<uint8_t> reply,
                 size_t& len);
  Status OnFinish(const void* finish, uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  Status OnRequest(const void* request, uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  Status OnResume(const void* resume, uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  // Decrypts, re-checks, authorizes and runs one sealed request, then seals
  // the response. `id` is the session or resumption id (associated data).
  Status Serve(const VerifiedKey& key, std::span<const uint8_t> id, uint32_t counter,
               std::span<const uint8_t> sealed, const crypto::SecretBytes<16>& c2l,
               const crypto::SecretBytes<16>& l2c, uint32_t& last_counter, std::span<uint8_t> reply, size_t& len);
  Slot* AllocateSlot(bool owner, uint64_t now_ms);
  void StoreTicket(const Slot& slot, uint64_t now_ms);
  bool Expired(const Slot& slot, uint64_t now_ms) const;

  LockAuthority& authority_;
  core::DoorLock& lock_;
  core::DurableStore& store_;
  CommandExecutor executor_{authority_, lock_};
  bool started_ = false;
  bool end_requested_ = false;  // the request being served is kEndSession
  uint64_t boot_epoch_ = 0;
  Status last_status_;
  Slot slots_[kSessionSlots];
  Ticket tickets_[kResumptionSlots];
};

class SessionClient {
 public:
  // `chain` (copied) is the holder's KeyChain; empty when `holder` is the
  // owner's own key. `lock_id` is the lock the client expects: the lock's
  // key must hash to it. `drbg` must outlive the client.
  SessionClient(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain, const LockId& lock_id,
                crypto::Drbg& drbg);

  // The revalidation token (revalidation.h) sent in the next hellos, for a
  // key whose chain demands one; empty (the default) sends none. The lock
  // refuses a demanding key without a valid token: its SessionError says
  // kPermissionDenied (missing) or kOutOfRange (stale). A session opened
  // with a token ends (each command answers kOutOfRange) once the token is
  // older than the key's bound: fetch a new token, then set it and start a
  // cold session. kInvalidArgument: longer than kMaxRevalidationTokenSize
  // (nothing changed).
  Status set_revalidation(std::span<const uint8_t> token);

  // Message 1. kInvalidArgument: chain longer than kMaxChainSize.
  // kResourceExhausted: `out` too small. DRBG errors.
  Result<size_t> Hello(std::span<uint8_t> out);
  // Consumes message 2 and writes message 3 with the first request.
  // kUnauthenticated: the lock key does not hash to the expected lock id or
  // its signature fails. kInvalidArgument: malformed. kFailedPrecondition:
  // no hello sent. A SessionError from the lock is returned as its code.
  Result<size_t> Finish(std::span<const uint8_t> accept, const CommandRequest& first, std::span<uint8_t> out);
  // A further request in the established session.
  // kFailedPrecondition: no established session.
  Result<size_t> Send(const CommandRequest& request, std::span<uint8_t> out);
  // A request on the resumption ticket of an earlier session (1 round trip,
  // no asymmetric operation). kFailedPrecondition: no ticket.
  Result<size_t> Resume(const CommandRequest& request, std::span<uint8_t> out);
  // Opens the response to the last request. kUnauthenticated: not bound to
  // that request or tampered. A SessionError is returned as its code
  // (kNotFound after a resume means: the lock rebooted; start cold).
  Result<CommandResponse> Receive(std::span<const uint8_t> response);

  bool established() const { return established_; }
  bool can_resume() const { return has_ticket_; }
  uint64_t boot_epoch() const { return boot_epoch_; }

 private:
  Result<size_t> SealRequest(const CommandRequest& request, std::span<const uint8_t> id, uint32_t counter,
                             const crypto::SecretBytes<16>& c2l, uint8_t* sealed, size_t sealed_capacity);

  crypto::P256KeyPair holder_;
  std::array<uint8_t, kMaxChainSize> chain_{};
  size_t chain_len_ = 0;
  std::array<uint8_t, kMaxRevalidationTokenSize> revalidation_{};
  size_t revalidation_len_ = 0;
  LockId lock_id_{};
  crypto::Drbg& drbg_;
  std::optional<crypto::P256KeyPair> ephemeral_;
  crypto::Sha256 hello_hash_;  // domain || message 1
  bool hello_sent_ = false;
  bool established_ = false;
  std::array<uint8_t, kSessionIdSize> session_id_{};
  crypto::SecretBytes<16> c2l_, l2c_;
  uint32_t counter_ = 0;
  bool has_ticket_ = false;
  std::array<uint8_t, kResumptionIdSize> resumption_id_{};
  crypto::SecretBytes<32> resumption_secret_;
  uint32_t resume_counter_ = 0;
  uint64_t boot_epoch_ = 0;
  // The request awaiting its response.
  bool pending_ = false;
  bool pending_end_ = false;  // the pending request is kEndSession on the session
  uint32_t pending_counter_ = 0;
  std::array<uint8_t, kResumptionIdSize> pending_id_{};
  size_t pending_id_len_ = 0;
  std::array<uint8_t, 16> pending_tag_{};
  crypto::SecretBytes<16> pending_l2c_;
};

}  // namespace mortise::protocol
