// Claiming: how an owner takes possession of a new (or factory-reset) lock.
//
// Out of band, the lock's label (or QR code) carries its lock id, an 8-byte
// hash of its public key and a 9-digit setup code. In band, over datagrams
// (BLE GATT later, a socket or a test harness now):
//
//   owner                                   lock
//   M1 ClaimHello {version}            ->
//                                      <-   M2 ClaimParams {version, lock id, salt, iterations}
//   M3 ClaimShare {shareP}             ->                         (SPAKE2+ on the setup code)
//                                      <-   M4 ClaimPakeResponse {shareV || confirmV}
//   M5 ClaimFinish {confirmP, seal_c2l(owner public key)}  ->
//        the lock checks confirmP, installs the owner key (durably), makes the
//        offline-PIN secret, signs the transcript with its identity key
//                                      <-   M6 ClaimResult {seal_l2c(lock key, signature,
//                                                             offline-PIN secret, access-list floor,
//                                                             claim generation)}
//   the owner checks the lock key against the label's hash (pinning) and
//   the signature over the transcript.
//
// Why this shape: SPAKE2+ means a recorded claim does not let anyone test
// setup codes offline (pake.h), and an active attacker tests one code per
// run (the lock allows kMaxClaimAttempts runs per window). The PAKE context
// binds the protocol version and M1-M2, so a downgrade or an edited lock id
// breaks the PAKE. The label's key hash pins the lock's identity: a device
// that knows the setup code but not the lock's private key is refused by the
// owner (attack A16). Keys for the two sealed messages come from HKDF of the
// PAKE secret with the transcript as salt; each key seals exactly one
// message, so their fixed nonces never repeat under a key.
//
// The window opens only when the integrator calls OpenWindow (factory reset
// or the claim button, both physical) and closes after kClaimWindowMs, after
// kMaxClaimAttempts PAKE runs, or when the lock is claimed. The runs are
// counted durably: a restart reopens the window of an unclaimed lock
// (ResumeWindow) with what is left of the budget the last physical action
// gave, so pulling the battery buys no guesses.
//
// One exchange at a time: while one is in progress and has moved within
// kClaimStepTimeoutMs, a hello from anyone else is refused (kUnavailable)
// and stray or out-of-order datagrams are refused without disturbing it, so
// nobody in reach can abort another client's claim with a hello; an
// exchange that stalls longer gives way to the next hello, so a stuck
// client holds the window for at most that long (A18).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "mortise/core/door_lock.h"
#include "mortise/core/durable_store.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/p256.h"
#include "mortise/crypto/pake.h"
#include "mortise/crypto/secret.h"
#include "mortise/protocol/claim_proof.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr uint32_t kClaimVersion = 1;
inline constexpr uint64_t kClaimWindowMs = 10 * 60 * 1000;
inline constexpr uint8_t kMaxClaimAttempts = 20;
// How long an exchange in progress keeps the window to itself after its
// last step (a hello from another client is refused until then). A client
// needs well under a second per step (PBKDF2 and two scalar
// multiplications); a client that gave up (a mistyped code is detected at
// M4) blocks a retry for at most this long.
inline constexpr uint64_t kClaimStepTimeoutMs = 10 * 1000;
inline constexpr size_t kMaxClaimMessageSize = 200;
inline constexpr uint32_t kSetupCodeModulus = 1000000000;  // 9 decimal digits: 29.9 bits
inline constexpr size_t kSetupCodeDigits = 9;
inline constexpr uint32_t kDefaultClaimIterations = 10000;
// "MC1." + base64url(version 1 || lock id 16 || key hash 8 || setup code 4, big-endian).
inline constexpr std::string_view kLabelPrefix = "MC1.";
inline constexpr size_t kLabelBinarySize = 1 + kLockIdSize + kKeyIdSize + 4;
inline constexpr size_t kLabelTextSize = 4 + (kLabelBinarySize * 4 + 2) / 3;

// True for codes people guess first: one digit repeated, runs up or down
// (with wrap-around, e.g. 123456789, 890123456, 987654321) and any pattern
// repeating with a period of 2, 3 or 4 digits (121212121, 123123123).
// Also true for values of 10^9 and above.
bool IsTrivialSetupCode(uint32_t code);

// A uniformly random non-trivial 9-digit code from the DRBG.
// kFailedPrecondition / kUnavailable: DRBG not seeded / failed.
Result<uint32_t> GenerateSetupCode(crypto::Drbg& drbg);

// The 9 ASCII digits of a code (the PAKE password), with leading zeros.
std::array<char, kSetupCodeDigits> SetupCodeDigits(uint32_t code);

struct ClaimLabel {
  LockId lock_id{};
  KeyId key_hash{};  // SHA-256(uncompressed lock key)[0..8]
  uint32_t setup_code = 0;
};

// Returns the text length (kLabelTextSize). kResourceExhausted: `out` too
// small. kInvalidArgument: a trivial or out-of-range code.
Result<size_t> EncodeLabel(const ClaimLabel& label, std::span<char> out);
// Strict: exact prefix, length, alphabet, version, non-trivial code.
// kInvalidArgument otherwise.
Result<ClaimLabel> ParseLabel(std::string_view text);

// Manufacturing: draws a setup code and a salt, stores the SPAKE2+ verifier
// (never the code) and returns the label to print. Run once per lock; a
// factory reset keeps it, since the label stays on the lock.
// kInvalidArgument: iterations outside the PAKE's bounds. DRBG and store
// errors as usual.
Result<ClaimLabel> ProvisionSetupCode(const LockIdentity& identity, core::DurableStore& store, crypto::Drbg& drbg,
                                      uint32_t iterations = kDefaultClaimIterations);
// The same with a code the integrator drew first (GenerateSetupCode) and has
// already written durably where people will find it (the sticker, a label
// file): a power cut between provisioning and printing can then never leave
// a lock whose code nobody knows. kInvalidArgument also for a trivial code.
Result<ClaimLabel> ProvisionSetupCode(const LockIdentity& identity, core::DurableStore& store, crypto::Drbg& drbg,
                                      uint32_t code, uint32_t iterations);

// Whether ProvisionSetupCode has run on this store (a factory reset keeps
// the verifier). kDataLoss: the stored verifier is malformed. Store errors.
Result<bool> SetupCodeProvisioned(core::DurableStore& store);

// The lock's side.
class ClaimServer {
 public:
  // `lock`, when given, receives the offline-PIN secret at a successful
  // claim (DoorLock::SetOfflinePinSecret, docs/offline-pins.md) before the
  // owner is installed, so a claimed lock always checks offline PINs with the
  // secret its owner holds.
  ClaimServer(LockAuthority& authority, core::DurableStore& store, core::DoorLock* lock = nullptr)
      : authority_(authority), store_(store), lock_(lock) {}

  // Opens the claim window for kClaimWindowMs from `now_ms` (monotonic)
  // with a fresh budget of kMaxClaimAttempts PAKE runs (stored durably
  // first). Call it on a factory reset or a press of the claim button only:
  // a physical action. kAlreadyExists: the lock is claimed.
  // kFailedPrecondition: the authority is not started or no setup code was
  // provisioned. Store errors (the window stays closed).
  Status OpenWindow(uint64_t now_ms);
  // At a start of an unclaimed lock: opens the window for kClaimWindowMs
  // with what is left of the budget the last OpenWindow gave (the runs are
  // counted durably). With nothing left the window stays closed (Ok) until
  // a physical action opens it. Errors as OpenWindow.
  Status ResumeWindow(uint64_t now_ms);
  bool window_open(uint64_t now_ms) const;

  // Handles one datagram and writes the reply (a ClaimMessage; on failure a
  // ClaimError carrying the status code) into `reply`. Returns the reply's
  // length, or kResourceExhausted if `reply` is shorter than
  // kMaxClaimMessageSize. The status of the step is in last_status().
  // Failure codes sent to the client: kFailedPrecondition (window closed,
  // message out of order, already claimed), kInvalidArgument (malformed or
  // wrong version), kUnauthenticated (PAKE confirmation failed),
  // kResourceExhausted (attempts used up: the window closes), kUnavailable
  // (a hello while another exchange is in progress: try again later).
  // Only a failure of the exchange in progress ends it; a stray datagram
  // (malformed, out of order, another client's hello) is refused and
  // changes nothing.
  Result<size_t> Handle(std::span<const uint8_t> message, uint64_t now_ms, std::span<uint8_t> reply);
  Status last_status() const { return last_status_; }
  uint8_t attempts() const { return attempts_; }

 private:
  enum class State : uint8_t { kClosed, kOpen, kAwaitShare, kAwaitFinish };
  // `stray` is set when the failure is not the exchange's own (the datagram
  // is refused and the exchange in progress continues).
  Status Step(std::span<const uint8_t> message, uint64_t now_ms, std::span<uint8_t> reply, size_t& reply_len,
              bool& stray);
  Status Open(uint64_t now_ms, bool fresh_budget);
  void Abandon();
  bool ExchangeInProgress(uint64_t now_ms) const;

  LockAuthority& authority_;
  core::DurableStore& store_;
  core::DoorLock* lock_;
  State state_ = State::kClosed;
  uint64_t deadline_ms_ = 0;
  uint64_t step_deadline_ms_ = 0;  // the exchange in progress keeps the window until then
  uint8_t attempts_ = 0;           // PAKE runs spent in this window (RAM mirror of the counters)
  Status last_status_;
  crypto::Sha256 transcript_;
  crypto::Digest context_hash_{};
  std::optional<crypto::PakeServer> pake_;
};

// The owner's side. Drives one claim from a label.
class ClaimClient {
 public:
  // `owner` is the key that becomes the lock's root of authority; `drbg`
  // must outlive the client.
  ClaimClient(const ClaimLabel& label, const crypto::P256KeyPair& owner, crypto::Drbg& drbg)
      : label_(label), owner_(owner), drbg_(drbg) {}

  // Writes M1. kResourceExhausted: `out` too small; kFailedPrecondition:
  // already started.
  Result<size_t> Start(std::span<uint8_t> out);

  // Consumes the lock's reply and writes the next message into `out`;
  // returns 0 when the claim is complete (done()).
  // kUnauthenticated: the lock's id, key or proof does not match the label
  //   (a spoofed lock), or the PAKE failed (wrong setup code or a tampered
  //   message). kInvalidArgument: a malformed reply. kFailedPrecondition:
  //   out of order or after a failure. A ClaimError from the lock is
  //   returned as its code. Any failure ends this client.
  Result<size_t> Handle(std::span<const uint8_t> reply, std::span<uint8_t> out);

  bool done() const { return state_ == State::kDone; }
  // Valid once done(): the pinned lock key, its offline-PIN secret and the
  // lowest access-list version it still refuses.
  const std::optional<crypto::P256PublicKey>& lock_key() const { return lock_key_; }
  const crypto::SecretBytes<kOfflinePinSecretSize>& offline_pin_secret() const { return pin_secret_; }
  uint64_t access_list_floor() const { return floor_; }
  // The claim generation the owner's certificates and access lists must
  // name (signed by the lock in its proof).
  uint32_t claim_generation() const { return generation_; }
  // The lock's signed proof that it installed this owner key (kept by the
  // owner's device; shown to mortise-server to register the door).
  const ClaimProof& proof() const { return proof_; }

 private:
  enum class State : uint8_t { kInit, kAwaitParams, kAwaitPake, kAwaitResult, kDone, kFailed };
  Status Step(std::span<const uint8_t> reply, std::span<uint8_t> out, size_t& out_len);

  ClaimLabel label_;
  crypto::P256KeyPair owner_;
  crypto::Drbg& drbg_;
  State state_ = State::kInit;
  crypto::Sha256 transcript_;
  crypto::Digest context_hash_{};
  std::optional<crypto::PakeClient> pake_;
  crypto::Digest transcript_hash_{};  // through M5: what the lock signs
  crypto::SecretBytes<16> key_l2c_;
  std::optional<crypto::P256PublicKey> lock_key_;
  crypto::SecretBytes<kOfflinePinSecretSize> pin_secret_;
  uint64_t floor_ = 0;
  uint32_t generation_ = 0;
  ClaimProof proof_;
};

}  // namespace mortise::protocol
