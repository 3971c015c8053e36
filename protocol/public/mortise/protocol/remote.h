// End-to-end remote commands: a command signed by the holder's own key that
// any relay (the management server, an MQTT broker, a hub) may carry to the
// lock, and the lock's signed answer, which tells the holder the truth
// whatever the relay says.
//
//   holder  RemoteCommand {tbs: RemoteCommandTbs, signature}
//           tbs = {version, lock id, holder key, chain, counter, nonce (128
//                  bits), expires_at (lock UTC seconds), request, sealed PIN,
//                  revalidation token (only for keys that demand one)}
//           signature = holder key over "mortise-remote-v1\0" || tbs
//   lock    RemoteResult {tbs: RemoteResultTbs, signature}
//           tbs = {lock id, SHA-256 of the command's tbs, response, lock time}
//           signature = lock identity key over "mortise-remote-result-v1\0" || tbs
//
// What the lock checks, in order (the first failure answers), the cheap
// checks before any public-key operation:
//   lengths and encoding; version; the lock id is this lock's; claimed; the
//   lock knows its time (else kFailedPrecondition: a remote command cannot
//   be judged fresh without it); now < expires_at <= now +
//   kMaxRemoteLifetimeS (kOutOfRange: expired or too long lived, so a relay
//   cannot keep a command in its pocket); the command was made after this
//   boot's start (an envelope that might have been accepted before a reboot
//   is refused, since the replay cache lives in RAM), and expiring after
//   every envelope accepted before a restart or before the clock was set
//   back (a durable high-water of accepted expiries,
//   kCounterRemoteExpiryHighWater: the cache forgets expired envelopes, so
//   a clock that moves back would otherwise make them fresh again); the
//   (holder, nonce) pair and the holder's counter are new (kAlreadyExists:
//   replay); a free replay slot (kResourceExhausted);
//   then the holder signature (one verification); then the chain
//   (certificates up to the owner, access list, revalidation token, time
//   windows: VerifyKey); then the command is re-checked, authorized for the
//   source kRemote (so the no-remote operating mode,
//   RequirePINforRemoteOperation and remote-only keys apply) and run.
// The answer is signed only once the holder signature has verified; every
// earlier refusal is unsigned (RemoteOutcome::confirmed false), so
// unauthenticated bytes never cost the lock a signature.
//
// Why: a relay holds every envelope it ever carried, every certificate and
// access list, and the lock's public key (attack A09). It can drop or delay
// an envelope (up to its expiry), but cannot forge one (no holder key),
// change one (signature), send it to another lock (lock id), replay it
// (cache + counter + expiry + boot rule) or extend it (expiry is signed and
// bounded), and cannot make the holder believe a command ran (the result is
// signed by the lock's key, which the holder pinned when claiming or
// accepting the key, and bound to the command's hash).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mortise/core/door_lock.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/handlers.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/session.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr uint32_t kRemoteVersion = 1;
inline constexpr int64_t kMaxRemoteLifetimeS = 30;
inline constexpr size_t kRemoteNonceSize = 16;
// The largest envelope: the largest chain, request, sealed PIN and
// revalidation token (1,733 bytes; 1,370 without a token).
inline constexpr size_t kMaxRemoteMessageSize = 1736;
// Envelopes remembered for replay detection: at most this many accepted in
// any kMaxRemoteLifetimeS window; beyond that the lock refuses new ones
// (kResourceExhausted, fail closed) until the oldest expire.
inline constexpr size_t kRemoteReplaySlots = 32;

// What the lock said, as the holder verified it.
struct RemoteOutcome {
  StatusCode envelope = StatusCode::kOk;  // the lock's verdict on the envelope itself
  CommandResponse response;               // the command's outcome (when envelope is kOk)
  int64_t lock_time = 0;                  // the lock's UTC seconds when it answered (0: unknown)
  // false: an unsigned refusal. The lock answers unsigned until the holder's
  // signature has verified (malformed, another lock's, expired, replayed,
  // cache full, a bad signature); a relay can write the same bytes, so the
  // outcome is unknown: show it as "unconfirmed", never as a refusal.
  bool confirmed = true;
};

class RemoteServer {
 public:
  RemoteServer(LockAuthority& authority, core::DoorLock& lock, core::DurableStore& store)
      : authority_(authority), lock_(lock), store_(store) {}
  RemoteServer(const RemoteServer&) = delete;
  RemoteServer& operator=(const RemoteServer&) = delete;

  // Records the boot's start (`now_ms`, the lock's monotonic clock):
  // envelopes whose lifetime began before it are refused. When the lock's
  // UTC is unknown at boot, the boot's UTC is worked out from the monotonic
  // clock once the time is set. Call after DoorLock::Start.
  void Start(uint64_t now_ms);
  void set_management(ManagementHandler* handler) { executor_.management = handler; }

  // Handles one envelope and writes the RemoteResult. Returns its length.
  // The result is signed by the lock's identity key once the holder's
  // signature has verified (so a relay can fake neither a success nor a
  // refusal of a genuine command); refusals before that are unsigned (no
  // signature for bytes anyone can send). kResourceExhausted: `reply`
  // shorter than kMaxRemoteMessageSize.
  // The envelope's verdict is in last_status():
  //   kInvalidArgument    malformed, wrong version, or lengths
  //   kPermissionDenied   another lock's envelope; a revoked key; a key
  //                       demanding revalidation without a token, or with a
  //                       token for another key or lock or from a signer
  //                       without the right (VerifyChain with a token)
  //   kUnauthenticated    the chain, the token or the holder signature does
  //                       not verify
  //   kFailedPrecondition the lock's time is unknown, or not claimed
  //   kOutOfRange   expired, made before this boot, or expiry too far; a
  //                 certificate outside its window; a stale token
  //   kAlreadyExists      replayed (nonce or counter seen)
  //   kResourceExhausted  the replay cache is full of live envelopes
  // An envelope that passes is answered with the command's response inside.
  Result<size_t> Handle(std::span<const uint8_t> envelope, uint64_t now_ms, std::span<uint8_t> reply);
  Status last_status() const { return last_status_; }

  // Forgets the replay cache (factory reset). Envelopes made before the
  // reset stay refused: the boot-start rule is moved to now.
  void Reset(uint64_t now_ms);

  using ReplayId = std::array<uint8_t, 8>;  // a holder key in the replay cache

 private:
  struct Seen {
    bool used = false;
    ReplayId holder{};
    std::array<uint8_t, kRemoteNonceSize> nonce{};
    uint32_t counter = 0;
    int64_t expires_at = 0;
  };
  // Verifies the envelope and records it as seen; fills `response` when it
  // passes. Returns the envelope's verdict.
  // `authenticated` is set once the holder's signature has verified: only
  // then is the answer signed.
  Status Process(std::span<const uint8_t> envelope, uint64_t now_ms, crypto::Digest& command_hash,
                 bool& authenticated, CommandResponse& response);
  // The expiry rules (window, boot start, high-water floor). kOutOfRange;
  // the store's error when the high-water cannot be read.
  Status CheckFresh(int64_t expires_at_s, uint64_t now_ms, int64_t now);

  LockAuthority& authority_;
  core::DoorLock& lock_;
  core::DurableStore& store_;
  CommandExecutor executor_{authority_, lock_};
  uint64_t boot_ms_ = 0;  // monotonic time of Start (or of the last Reset)
  // Envelopes expiring at or before `floor_` are refused: set once the time
  // is known (boot + 30 s, and never below the durable high-water of
  // accepted expiries), raised to every accepted expiry when the clock is
  // seen going back.
  std::optional<int64_t> floor_;
  int64_t accepted_max_ = 0;   // latest accepted expiry (RAM mirror of the counter)
  int64_t last_now_ = 0;       // the lock's time at the previous envelope
  Seen seen_[kRemoteReplaySlots];
  Status last_status_;
};

// For relays (the management server): the SHA-256 of a RemoteCommand's
// signed bytes (what a lock-signed answer binds). kInvalidArgument:
// malformed. Verifies nothing about the holder.
Result<crypto::Digest> RemoteCommandHash(std::span<const uint8_t> envelope);

// Checks a RemoteResult against the lock's identity key and the hash of the
// command it must answer (RemoteClient::Verify's rules, which call it):
// kUnauthenticated when signed but not by `lock_key` or not bound to
// `command_hash` (or another lock), or unsigned yet claiming success;
// kInvalidArgument when malformed. An unsigned refusal is returned with
// `confirmed` false.
Result<RemoteOutcome> VerifyRemoteResult(std::span<const uint8_t> result, const crypto::P256PublicKey& lock_key,
                                         const crypto::Digest& command_hash, std::span<uint8_t> payload_out = {},
                                         size_t* payload_len = nullptr);

// The holder's side: builds envelopes and checks the lock's answers.
class RemoteClient {
 public:
  // `holder` signs; `chain` (copied) is its KeyChain (empty for the owner);
  // `lock_key` is the lock's pinned identity key. `drbg` must outlive it.
  RemoteClient(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain,
               const crypto::P256PublicKey& lock_key, crypto::Drbg& drbg);

  // The revalidation token (revalidation.h) carried, signed, in the next
  // envelopes, for a key whose chain demands one; empty (the default) sends
  // none. kInvalidArgument: longer than kMaxRevalidationTokenSize (nothing
  // changed).
  Status set_revalidation(std::span<const uint8_t> token);

  // Builds an envelope valid until `expires_at` (the holder's estimate of
  // the lock's UTC plus at most kMaxRemoteLifetimeS) with the next counter
  // `counter` (the caller keeps it, strictly increasing per holder key).
  // kInvalidArgument: payload too long or chain too long.
  // kResourceExhausted: `out` too small.
  Result<size_t> Build(const CommandRequest& request, uint32_t counter, int64_t expires_at, std::span<uint8_t> out);

  // Verifies the lock's answer to the last envelope Build produced.
  // kUnauthenticated: signed but not by the pinned lock key, not bound to
  // that envelope (a relay's invention or an answer to another command), or
  // an unsigned answer claiming success. An unsigned refusal bound to the
  // envelope is returned with `confirmed` false (the outcome is unknown)
  // and leaves the envelope pending, so its signed answer still verifies.
  // kInvalidArgument: malformed. Payload bytes, if any, are copied to
  // `payload_out` (its size is set in `payload_len`).
  Result<RemoteOutcome> Verify(std::span<const uint8_t> result, std::span<uint8_t> payload_out = {},
                               size_t* payload_len = nullptr);

 private:
  crypto::P256KeyPair holder_;
  std::array<uint8_t, kMaxChainSize> chain_{};
  size_t chain_len_ = 0;
  std::array<uint8_t, kMaxRevalidationTokenSize> revalidation_{};
  size_t revalidation_len_ = 0;
  crypto::P256PublicKey lock_key_;
  LockId lock_id_{};
  crypto::Drbg& drbg_;
  std::optional<crypto::Digest> pending_;  // hash of the last envelope's tbs
};

}  // namespace mortise::protocol
