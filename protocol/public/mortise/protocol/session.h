// Secure sessions between a key holder's device (phone, CLI) and the lock,
// over datagrams (BLE GATT later; a socket or a test harness now).
//
// Cold session (protocol version 2), 2 round trips including the first command:
//   C->L  SessionHello   {version, client ephemeral, client nonce}  (anonymous)
//         the lock makes an ephemeral key, signs the transcript with its
//         identity key, derives the handshake secret from the ECDH and
//         seals it, with the transcript hash and the time, into a cookie
//         under a key of its own. It keeps NOTHING for the hello.
//   L->C  SessionAccept  {lock key, lock ephemeral, lock nonce, boot epoch, signature, cookie}
//         the client checks that the lock key hashes to the lock id it
//         expects and that the signature verifies
//   C->L  SessionFinish  {cookie, sealed identity {holder key, chain,
//                         revalidation token, holder signature}, counter, sealed request}
//         the lock opens the cookie (AES only), checks its age and that it
//         was never used, opens the identity, verifies the holder's
//         signature, then the chain; only then does it take a session slot
//   L->C  SessionResponse{counter, sealed response bound to the request}
// Later commands in the session: SessionRequest / SessionResponse, 1 round
// trip each. Resumed session for a key the lock has seen since its last
// boot, within a day: ResumeRequest / SessionResponse, 1 round trip, AES
// and HMAC only; every resumption moves the ticket to a new id and secret.
//
// Why: every key is authenticated by its certificate chain up to the owner
// and by a signature over a transcript that includes both ephemerals, both
// 128-bit nonces, the protocol version and the lock's boot epoch, so
// nothing recorded can be replayed into another session, boot or version.
// The holder's key, chain and token travel encrypted under a key only the
// two ends of the ECDH know (a passive listener learns neither who comes
// nor their rights); resumption ids change at every use, so visits cannot
// be linked. The first round trip is stateless (attack A18): a flood of
// hellos costs the lock work, never a slot, and cannot evict anyone.
// A failed holder signature is not a wrong code (A15): it never reaches
// the core's failure counter, and costs the lock one verification and no
// state. Every request carries a counter that must exceed the last
// one accepted (per session or per resumption ticket), and its response is
// sealed with the request's counter and authentication tag in the
// associated data. Tickets live in RAM only: a reboot invalidates them all
// (and raises the boot epoch). Lengths are checked before anything is
// decrypted. Every command is re-checked against the current access list
// and time (RecheckKey) and authorized by the role x command table.
//
// Slots: kSessionSlots established sessions, taken only by a holder whose
// signature verified. When all are taken, a verified holder evicts, in
// order: an idle slot, the least recently used session of a non-owner key,
// and, for the owner's key only, any least recently used session. So the
// owner always gets a slot and owner sessions are never evicted by others.
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

inline constexpr uint32_t kSessionVersion = 2;
inline constexpr size_t kSessionSlots = 4;
inline constexpr size_t kResumptionSlots = 8;
// A cookie is accepted for this long after the lock issued it (the lock's
// monotonic clock); the key that seals cookies rotates at the same period
// and the previous one is kept; each is wiped once twice this old (on any
// datagram or ExpireCookieKeys, hello or not), so a cookie's secrets are
// unreadable, even to someone who later reads the lock's RAM, after at most
// twice this.
inline constexpr uint64_t kHandshakeTimeoutMs = 5000;
inline constexpr uint64_t kSessionIdleMs = 60000;
// A resumption ticket lives this long from the cold handshake that made it
// (the lock's monotonic clock; resuming does not extend it): 24 h.
inline constexpr uint64_t kTicketLifetimeMs = 24ull * 3600 * 1000;
// Cookies that opened a session (a verified holder's third message) are
// remembered until they expire, so a replayed third message cannot open a
// second session. When all are taken by live cookies, the lowest id is
// dropped and every cookie id up to it is refused from then on.
inline constexpr size_t kUsedCookieSlots = 32;
inline constexpr size_t kCookieSize = 96;  // id 8 || sealed(issued 8 || TH2 32 || secret 32) || tag 16
// The largest datagram either way: a third message with the largest
// identity (two certificates and a token from a delegated revalidation key,
// sealed) and the largest first request (docs/protocol.md, section 10).
inline constexpr size_t kMaxSessionMessageSize = 1724;
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

// Why a key whose holder proved possession was refused, in the core's
// words (DoorLock::RecordKeyRefused), from the status of
// LockAuthority::VerifyKey, Recheck or ConsumeUse; nullopt for statuses that
// say nothing about the key (malformed input, store errors).
std::optional<core::EventDetail> KeyRefusalDetail(StatusCode code);

// Runs an authenticated command: re-checks the key (access list, time),
// authorizes it for its source (a kManagement payload decoded once and
// authorised as the command it is, management.h), counts a use of a
// use-limited key, then acts. Shared by sessions and remote envelopes so
// both apply exactly the same rules.
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
  // TransferOwnership (transfer.h), authorized as the owner's.
  CommandResponse Transfer(const VerifiedKey& key, const ManagementCommand& command, core::OperationSource source);
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
  //   kNotFound          unknown session, resumption ticket (expired, rotated,
  //                      lost at a restart), or a cookie too old, from an
  //                      earlier key, or below the used-cookie floor (start cold)
  //   kAlreadyExists     a counter not above the last accepted, or a cookie
  //                      already used (replay)
  //   kResourceExhausted no slot could be freed for this key
  //   kFailedPrecondition out of order, or the lock is not claimed
  // A refusal of a third message whose cookie opened and is fresh and
  // unused is authenticated for the client (SessionError.tag under the
  // handshake's verdict key): the client can then tell the lock's verdict
  // from an on-path forgery. A cookie too old or already used is refused in
  // plaintext: a replay's refusal says nothing about whether the original
  // third message ran its command. A
  // command that was authenticated but refused (permission, time, core
  // refusal) is answered inside the sealed response instead.
  Result<size_t> Handle(std::span<const uint8_t> datagram, uint64_t now_ms, std::span<uint8_t> reply);
  Status last_status() const { return last_status_; }

  // Wipes the cookie keys no cookie can still need (older than twice
  // kHandshakeTimeoutMs), even when no hello rotates them. Handle() does
  // this on every datagram; a host calls it periodically as well, so the
  // keys leave RAM when no datagram comes.
  void ExpireCookieKeys(uint64_t now_ms);
  // Cookie keys in RAM (0-2).
  size_t cookie_keys_held() const;

  // Forgets every session and resumption ticket (factory reset, new owner).
  void Reset();
  // Integrator hooks (handlers.h); null: those commands answer kUnimplemented.
  void set_management(ManagementHandler* handler) { executor_.management = handler; }
  void set_log_source(LogSource* source) { executor_.log = source; }
  size_t sessions_in_use(uint64_t now_ms) const;

 private:
  struct Slot {
    bool used = false;
    std::array<uint8_t, kSessionIdSize> id{};
    VerifiedKey key;
    crypto::SecretBytes<16> c2l, l2c;
    uint32_t last_counter = 0;
    uint64_t last_used_ms = 0;
  };
  struct Ticket {
    bool used = false;
    std::array<uint8_t, kResumptionIdSize> id{};
    crypto::SecretBytes<32> secret;
    VerifiedKey key;
    uint32_t last_counter = 0;
    uint64_t created_ms = 0;  // the cold handshake's time: the ticket's age
    uint64_t last_used_ms = 0;
  };
  // The key that seals cookies; cookie ids count up for the whole boot, and
  // a cookie belongs to the newest key whose first id is not above its own.
  struct CookieKey {
    bool valid = false;
    uint64_t first_id = 0;
    uint64_t created_ms = 0;
    crypto::SecretBytes<16> key;
  };
  struct UsedCookie {
    uint64_t id = 0;  // 0: free (ids start at 1)
    uint64_t issued_ms = 0;
  };

  Status Step(std::span<const uint8_t> datagram, uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  Status OnHello(std::span<const uint8_t> datagram, const void* hello, uint64_t now_ms, std::span<uint8_t> reply,
                 size_t& len);
  Status OnFinish(const void* finish, uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  // OnFinish once the cookie opened (its refusals carry a verdict tag once
  // the cookie proved fresh and unused).
  Status FinishWithCookie(const void* finish, uint64_t cookie_id, uint64_t issued_ms, const crypto::Digest& th2,
                          const crypto::SecretBytes<32>& secret, const crypto::SecretBytes<16>& id_key,
                          uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  Status OnRequest(const void* request, uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  Status OnResume(const void* resume, uint64_t now_ms, std::span<uint8_t> reply, size_t& len);
  // Decrypts, re-checks, authorizes and runs one sealed request, then seals
  // the response. `id` is the session or resumption id (associated data).
  Status Serve(const VerifiedKey& key, std::span<const uint8_t> id, uint32_t counter,
               std::span<const uint8_t> sealed, const crypto::SecretBytes<16>& c2l,
               const crypto::SecretBytes<16>& l2c, uint32_t& last_counter, std::span<uint8_t> reply, size_t& len);
  Slot* AllocateSlot(bool owner, uint64_t now_ms);
  void StoreTicket(const VerifiedKey& key, std::span<const uint8_t, kResumptionIdSize> id,
                   std::span<const uint8_t, 32> secret, uint64_t now_ms);
  bool Expired(const Slot& slot, uint64_t now_ms) const;
  Status RotateCookieKey(uint64_t now_ms);
  const CookieKey* CookieKeyFor(uint64_t cookie_id) const;
  // Marks a cookie used. kAlreadyExists: used before; kNotFound: below the
  // floor (dropped from a full set).
  Status UseCookie(uint64_t cookie_id, uint64_t issued_ms, uint64_t now_ms);

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
  CookieKey cookie_keys_[2];  // [0] current, [1] previous
  uint64_t next_cookie_id_ = 1;
  UsedCookie used_cookies_[kUsedCookieSlots];
  uint64_t cookie_floor_ = 0;  // every id up to this one is refused
  // The verdict key of the third message being handled (its cookie opened).
  crypto::SecretBytes<16> verdict_key_;
  bool verdict_ready_ = false;
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

  // Message 1 (anonymous: no key, chain or token). kInvalidArgument: chain
  // longer than kMaxChainSize. kResourceExhausted: `out` too small. DRBG errors.
  Result<size_t> Hello(std::span<uint8_t> out);
  // Consumes message 2 and writes message 3: the cookie, this holder's key,
  // chain, token and signature sealed under the handshake key, and the first
  // request. kUnauthenticated: the lock key does not hash to the expected
  // lock id or its signature fails. kInvalidArgument: malformed.
  // kFailedPrecondition: no hello sent. A SessionError from the lock is
  // returned as its code. The lock's verdict on the key (revoked, outside
  // its schedule, a bad signature...) comes back from Receive.
  Result<size_t> Finish(std::span<const uint8_t> accept, const CommandRequest& first, std::span<uint8_t> out);
  // A further request in the established session.
  // kFailedPrecondition: no established session.
  Result<size_t> Send(const CommandRequest& request, std::span<uint8_t> out);
  // A request on the resumption ticket of an earlier session (1 round trip,
  // no asymmetric operation). Each answered resumption moves the ticket to
  // a new id and secret. kFailedPrecondition: no ticket.
  Result<size_t> Resume(const CommandRequest& request, std::span<uint8_t> out);
  // Opens the response to the last request. kUnauthenticated: not bound to
  // that request or tampered. A SessionError is returned as its code
  // (kNotFound after a resume means: the ticket expired or the lock
  // rebooted; start cold); last_error_authenticated() then says whether
  // the lock provably sent it.
  Result<CommandResponse> Receive(std::span<const uint8_t> response);

  // After Receive returned a SessionError: true only when it is the lock's
  // authenticated verdict on message 3 (its tag verified under the
  // handshake's verdict key), so the first request did not run. Any other
  // error after a sealed request was sent is plaintext that anyone on the
  // path could have written after forwarding the request: the request's
  // outcome is unknown.
  bool last_error_authenticated() const { return last_error_authenticated_; }
  // After Receive failed: true when the reply was a SessionError (either
  // kind), false when it was a response that did not verify or parse.
  bool last_reply_was_error() const { return last_reply_was_error_; }

  // Tests and fuzzers only: the next Finish seals `identity` (an encoded
  // SessionIdentity, or any bytes up to its largest size) instead of this
  // holder's own, e.g. someone else's key and chain with a signature that is
  // not theirs. Empty (the default): the holder's own. Not copied: the
  // bytes must outlive the next Finish.
  void set_identity_for_testing(std::span<const uint8_t> identity) { identity_override_ = identity; }

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
  std::span<const uint8_t> identity_override_;
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
  // Message 3's verdict key, while its response is awaited.
  crypto::SecretBytes<16> verdict_key_;
  bool pending_finish_ = false;
  bool pending_resume_ = false;
  bool last_error_authenticated_ = false;
  bool last_reply_was_error_ = false;
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
