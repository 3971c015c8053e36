#include "mortise/protocol/remote.h"

#include <cstring>

#include "codec.h"
#include "mortise.pb.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/records.h"

namespace mortise::protocol {
namespace {

static_assert(mortise_RemoteCommand_size <= kMaxRemoteMessageSize);
static_assert(mortise_RemoteResult_size <= kMaxRemoteMessageSize);
static_assert(kMaxRevalidationTokenSize <= sizeof(mortise_RemoteCommandTbs{}.revalidation.bytes));

constexpr uint8_t kCommandDomain[] = "mortise-remote-v1";         // signed with its NUL
constexpr uint8_t kResultDomain[] = "mortise-remote-result-v1";   // signed with its NUL
constexpr uint8_t kUnverifiedDomain[] = "mortise-remote-unverified-v1";
constexpr uint8_t kPinInfo[] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'r', 'e', 'm', 'o', 't', 'e',
                                '-', 'p', 'i', 'n', '-', 'v', '1'};
constexpr size_t kMinPin = 4;
constexpr size_t kMaxPin = 8;

template <typename BytesT>
std::span<const uint8_t> View(const BytesT& field) {
  return std::span<const uint8_t>(field.bytes, field.size);
}

crypto::Digest DomainDigest(std::span<const uint8_t> domain, std::span<const uint8_t> tbs) {
  crypto::Sha256 h;
  h.Update(domain);
  h.Update(tbs);
  crypto::Digest d{};
  h.Final(d);
  return d;
}

// Names a holder key in the replay cache from its wire encoding alone (no
// point decompression before the cheap checks): 8 bytes of SHA-256.
RemoteServer::ReplayId ReplayIdOf(std::span<const uint8_t> compressed_key) {
  const crypto::Digest d = crypto::Sha256::Hash(compressed_key);
  RemoteServer::ReplayId id{};
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

// The PIN key: HKDF(salt = envelope nonce, ECDH(ephemeral, lock key)).
Status PinKey(const crypto::SecretBytes<crypto::kP256SharedSecretSize>& shared, std::span<const uint8_t> nonce,
              crypto::SecretBytes<16>& key) {
  return crypto::HkdfSha256(nonce, shared.span(), kPinInfo, key.span());
}

// AAD of the sealed PIN: lock id || holder key, so it cannot be moved.
struct PinAad {
  uint8_t bytes[kLockIdSize + crypto::kP256CompressedKeySize];
  PinAad(std::span<const uint8_t> lock_id, std::span<const uint8_t> holder) {
    std::memcpy(bytes, lock_id.data(), kLockIdSize);
    std::memcpy(bytes + kLockIdSize, holder.data(), crypto::kP256CompressedKeySize);
  }
};

}  // namespace

void RemoteServer::Start(uint64_t now_ms) {
  boot_ms_ = now_ms;
  floor_.reset();
}

void RemoteServer::Reset(uint64_t now_ms) {
  for (Seen& s : seen_) s = Seen{};
  // Envelopes made before the reset stay refused.
  boot_ms_ = now_ms;
  floor_.reset();
}

Result<size_t> RemoteServer::Handle(std::span<const uint8_t> envelope, uint64_t now_ms, std::span<uint8_t> reply) {
  if (reply.size() < kMaxRemoteMessageSize) return StatusCode::kResourceExhausted;
  // Bound to the hash of the envelope's signed bytes once they decode, else
  // to a domain-separated hash of the bytes received (never what a holder
  // waits for).
  crypto::Digest command_hash = DomainDigest(kUnverifiedDomain, envelope);
  bool authenticated = false;
  CommandResponse response;
  last_status_ = Process(envelope, now_ms, command_hash, authenticated, response);

  mortise_RemoteResultTbs tbs = mortise_RemoteResultTbs_init_zero;
  internal::SetBytes(tbs.lock_id, authority_.identity().lock_id());
  internal::SetBytes(tbs.command_hash, command_hash);
  tbs.envelope_status = static_cast<uint32_t>(last_status_.code());
  if (last_status_.ok()) {
    tbs.has_response = true;
    tbs.response.status = static_cast<uint32_t>(response.status);
    tbs.response.dl_status = response.dl_status;
    tbs.response.value = response.value;
    tbs.response.next = response.next;
    internal::SetBytes(tbs.response.payload, response.payload_view());
  }
  const std::optional<int64_t> now = lock_.utc_now();
  tbs.lock_time = now.value_or(0);
  mortise_RemoteResult out = mortise_RemoteResult_init_zero;
  MORTISE_ASSIGN_OR_RETURN(const size_t tbs_len,
                           internal::Encode(mortise_RemoteResultTbs_fields, &tbs, std::span<uint8_t>(out.tbs.bytes)));
  out.tbs.size = static_cast<pb_size_t>(tbs_len);
  // The lock signs only answers to envelopes whose holder signature and
  // chain (to this lock's owner, or the owner's own key) have verified:
  // anyone can send bytes or make a key pair, and a signature per frame
  // would let them drain the battery. Earlier refusals go out unsigned,
  // which every holder and relay shows as "unconfirmed" (a relay could
  // write one too).
  if (authenticated) {
    const crypto::Digest digest = DomainDigest(kResultDomain, View(out.tbs));
    crypto::P256Signature sig{};
    MORTISE_TRY(authority_.identity().key().SignDigest(digest, sig, authority_.drbg()));
    internal::SetBytes(out.signature, sig);
  }
  return internal::Encode(mortise_RemoteResult_fields, &out, reply);
}

Status RemoteServer::CheckFresh(int64_t expires_at_s, uint64_t now_ms, int64_t now) {
  if (!floor_.has_value()) {
    // The boot's start in UTC: seconds since boot on the monotonic clock,
    // whatever the time was when the lock started.
    const int64_t since_boot_s = static_cast<int64_t>((now_ms >= boot_ms_ ? now_ms - boot_ms_ : 0) / 1000);
    MORTISE_ASSIGN_OR_RETURN(const uint64_t high_water, store_.ReadCounter(kCounterRemoteExpiryHighWater));
    accepted_max_ = static_cast<int64_t>(high_water > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : high_water);
    const int64_t boot_floor = now - since_boot_s + kMaxRemoteLifetimeS;
    floor_ = boot_floor > accepted_max_ ? boot_floor : accepted_max_;
    last_now_ = now;
  }
  if (now < last_now_ && accepted_max_ > *floor_) floor_ = accepted_max_;  // the clock went back
  last_now_ = now;
  if (expires_at_s <= now || expires_at_s > now + kMaxRemoteLifetimeS || expires_at_s <= *floor_) {
    return StatusCode::kOutOfRange;
  }
  return Status::Ok();
}

Status RemoteServer::Process(std::span<const uint8_t> envelope, uint64_t now_ms, crypto::Digest& command_hash,
                             bool& authenticated, CommandResponse& response) {
  if (!authority_.started()) return StatusCode::kFailedPrecondition;
  // Cheap checks first, before any public-key operation: lengths, encoding,
  // lock id, freshness, replay. Whoever sends garbage, an expired envelope
  // or a replay costs the lock hashing and a RAM lookup, never a signature
  // or a verification (RemoteTest.A09_UnauthenticatedInputCostsNoPublicKeyWork).
  if (envelope.empty() || envelope.size() > mortise_RemoteCommand_size) return StatusCode::kInvalidArgument;
  uint8_t scratch[mortise_RemoteCommand_size];
  mortise_RemoteCommand cmd = mortise_RemoteCommand_init_zero;
  MORTISE_TRY(internal::DecodeStrict(envelope, mortise_RemoteCommand_fields, &cmd, scratch));
  if (cmd.signature.size != crypto::kP256SignatureSize) return StatusCode::kInvalidArgument;
  command_hash = crypto::Sha256::Hash(View(cmd.tbs));
  mortise_RemoteCommandTbs tbs = mortise_RemoteCommandTbs_init_zero;
  MORTISE_TRY(internal::DecodeStrict(View(cmd.tbs), mortise_RemoteCommandTbs_fields, &tbs, scratch));
  if (tbs.version != kRemoteVersion) return StatusCode::kInvalidArgument;
  if (tbs.lock_id.size != kLockIdSize || tbs.holder_key.size != crypto::kP256CompressedKeySize ||
      tbs.nonce.size != kRemoteNonceSize || !tbs.has_request || tbs.request.pin.size != 0 ||
      tbs.request.command >= kCommandCount || tbs.request.attribute > 0xFFFF) {
    return StatusCode::kInvalidArgument;
  }
  const bool has_pin = tbs.pin_ephemeral.size != 0 || tbs.sealed_pin.size != 0;
  if (has_pin && (tbs.pin_ephemeral.size != crypto::kP256PublicKeySize ||
                  tbs.sealed_pin.size < kMinPin + crypto::kCcmTagSize ||
                  tbs.sealed_pin.size > kMaxPin + crypto::kCcmTagSize)) {
    return StatusCode::kInvalidArgument;
  }
  if (std::memcmp(tbs.lock_id.bytes, authority_.identity().lock_id().data(), kLockIdSize) != 0) {
    return StatusCode::kPermissionDenied;  // another lock's envelope: never acted on here
  }
  if (!authority_.claimed()) return StatusCode::kFailedPrecondition;

  // When: fresh on the lock's own clock, made after this boot began, and
  // after everything accepted before a restart or a backward clock change.
  const std::optional<int64_t> now = lock_.utc_now();
  if (!now.has_value()) return StatusCode::kFailedPrecondition;
  if (tbs.expires_at > static_cast<uint64_t>(INT64_MAX)) return StatusCode::kOutOfRange;
  const int64_t expires = static_cast<int64_t>(tbs.expires_at);
  MORTISE_TRY(CheckFresh(expires, now_ms, *now));

  // Once: nonce and counter against every live envelope of this holder key
  // (named by a hash of its encoding: no point decompression yet). Only an
  // accepted envelope is recorded, so a forged one can refuse nothing but
  // itself.
  const ReplayId holder_id = ReplayIdOf(View(tbs.holder_key));
  Seen* free_slot = nullptr;
  for (Seen& s : seen_) {
    if (s.used && s.expires_at <= *now) s.used = false;  // expired: can never pass again
    if (!s.used) {
      if (free_slot == nullptr) free_slot = &s;
      continue;
    }
    if (s.holder == holder_id &&
        (s.counter >= tbs.counter || std::memcmp(s.nonce.data(), tbs.nonce.bytes, kRemoteNonceSize) == 0)) {
      return StatusCode::kAlreadyExists;
    }
  }
  if (free_slot == nullptr) return StatusCode::kResourceExhausted;

  // Who: the holder's signature over exactly the bytes received (one
  // verification), then the chain up to the owner (or the owner's own
  // key). Only once both verified is the holder a key of this lock's, and
  // from then on every verdict is about exactly what it signed, bound to it
  // and signed by the lock: a stranger's self-made key pair costs the lock
  // verifications, never a signature (RemoteTest.A18_ASelfSigned...).
  Result<crypto::P256PublicKey> holder = crypto::P256PublicKey::Import(View(tbs.holder_key));
  if (!holder.ok()) return StatusCode::kInvalidArgument;
  if (!holder->VerifyDigest(DomainDigest(kCommandDomain, View(cmd.tbs)), View(cmd.signature)).ok()) {
    return StatusCode::kUnauthenticated;
  }
  Result<VerifiedKey> key = tbs.chain.size == 0
                                ? authority_.VerifyOwner(*holder)
                                : authority_.VerifyKey(View(tbs.chain), View(tbs.revalidation), lock_);
  if (!key.ok()) {
    // Recorded, rate-limited by the core (see SessionServer).
    if (std::optional<core::EventDetail> why = KeyRefusalDetail(key.status().code()))
      lock_.RecordKeyRefused(core::OperationSource::kRemote, std::nullopt, *why);
    return key.status();
  }
  if (key->holder_key != holder->Compressed()) return StatusCode::kUnauthenticated;
  authenticated = true;

  // The PIN, sealed to this lock's key.
  crypto::SecretBytes<kMaxPin> pin;  // wiped on every path
  size_t pin_len = 0;
  if (has_pin) {
    Result<crypto::P256PublicKey> eph = crypto::P256PublicKey::Import(View(tbs.pin_ephemeral));
    if (!eph.ok()) return StatusCode::kInvalidArgument;
    crypto::SecretBytes<crypto::kP256SharedSecretSize> shared;
    MORTISE_TRY(authority_.identity().key().Ecdh(*eph, shared, authority_.drbg()));
    crypto::SecretBytes<16> pin_key;
    MORTISE_TRY(PinKey(shared, View(tbs.nonce), pin_key));
    const PinAad aad(View(tbs.lock_id), View(tbs.holder_key));
    pin_len = tbs.sealed_pin.size - crypto::kCcmTagSize;
    if (!crypto::AesCcm128(pin_key.span())
             .Open(std::span<const uint8_t>(tbs.nonce.bytes, crypto::kCcmNonceSize), aad.bytes, View(tbs.sealed_pin),
                   std::span<uint8_t>(pin.data(), pin_len))
             .ok()) {
      return StatusCode::kUnauthenticated;
    }
  }

  // Accepted once: recorded before the command runs, durably for the
  // high-water (a store failure refuses the envelope: fail closed).
  if (expires > accepted_max_) {
    MORTISE_ASSIGN_OR_RETURN(const uint64_t stored, store_.ReadCounter(kCounterRemoteExpiryHighWater));
    if (static_cast<uint64_t>(expires) > stored) {
      MORTISE_TRY(store_.IncrementCounter(kCounterRemoteExpiryHighWater, static_cast<uint64_t>(expires) - stored).status());
    }
    accepted_max_ = expires;
  }
  free_slot->used = true;
  free_slot->holder = holder_id;
  std::memcpy(free_slot->nonce.data(), tbs.nonce.bytes, kRemoteNonceSize);
  free_slot->counter = tbs.counter;
  free_slot->expires_at = expires;

  CommandRequest request;
  request.command = static_cast<Command>(tbs.request.command);
  request.value = tbs.request.value;
  request.attribute = static_cast<uint16_t>(tbs.request.attribute);
  request.payload = View(tbs.request.payload);
  request.pin = std::span<const uint8_t>(pin.data(), pin_len);
  // Through a relay: the source is kRemote, so the no-remote operating mode
  // and remote-only keys apply exactly as Matter's remote commands.
  response = executor_.Run(*key, request, core::OperationSource::kRemote);
  return Status::Ok();
}

// --- Holder side -----------------------------------------------------------------

RemoteClient::RemoteClient(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain,
                           const crypto::P256PublicKey& lock_key, crypto::Drbg& drbg)
    : holder_(holder), lock_key_(lock_key), lock_id_(LockIdOf(lock_key)), drbg_(drbg) {
  chain_len_ = chain.size() <= chain_.size() ? chain.size() : chain_.size() + 1;
  if (!chain.empty() && chain_len_ <= chain_.size()) std::memcpy(chain_.data(), chain.data(), chain.size());
}

Status RemoteClient::set_revalidation(std::span<const uint8_t> token) {
  if (token.size() > revalidation_.size()) return StatusCode::kInvalidArgument;
  if (!token.empty()) std::memcpy(revalidation_.data(), token.data(), token.size());
  revalidation_len_ = token.size();
  return Status::Ok();
}

Result<size_t> RemoteClient::Build(const CommandRequest& request, uint32_t counter, int64_t expires_at,
                                   std::span<uint8_t> out) {
  if (chain_len_ > chain_.size()) return StatusCode::kInvalidArgument;
  if (expires_at <= 0) return StatusCode::kInvalidArgument;
  if (!request.pin.empty() && (request.pin.size() < kMinPin || request.pin.size() > kMaxPin)) {
    return StatusCode::kInvalidArgument;
  }
  mortise_RemoteCommandTbs tbs = mortise_RemoteCommandTbs_init_zero;
  tbs.version = kRemoteVersion;
  internal::SetBytes(tbs.lock_id, lock_id_);
  internal::SetBytes(tbs.holder_key, holder_.public_key().Compressed());
  internal::SetBytes(tbs.chain, std::span<const uint8_t>(chain_.data(), chain_len_));
  internal::SetBytes(tbs.revalidation, std::span<const uint8_t>(revalidation_.data(), revalidation_len_));
  tbs.counter = counter;
  tbs.nonce.size = kRemoteNonceSize;
  MORTISE_TRY(drbg_.Generate(std::span<uint8_t>(tbs.nonce.bytes, kRemoteNonceSize)));
  tbs.expires_at = static_cast<uint64_t>(expires_at);
  tbs.has_request = true;
  tbs.request.command = static_cast<uint32_t>(request.command);
  tbs.request.value = request.value;
  tbs.request.attribute = request.attribute;
  if (request.payload.size() > sizeof(tbs.request.payload.bytes)) return StatusCode::kInvalidArgument;
  internal::SetBytes(tbs.request.payload, request.payload);
  if (!request.pin.empty()) {
    // Sealed to the lock: a relay never sees the PIN.
    MORTISE_ASSIGN_OR_RETURN(crypto::P256KeyPair eph, crypto::P256KeyPair::Generate(drbg_));
    crypto::SecretBytes<crypto::kP256SharedSecretSize> shared;
    MORTISE_TRY(eph.Ecdh(lock_key_, shared, drbg_));
    crypto::SecretBytes<16> pin_key;
    MORTISE_TRY(PinKey(shared, View(tbs.nonce), pin_key));
    internal::SetBytes(tbs.pin_ephemeral, eph.public_key().bytes());
    const PinAad aad(View(tbs.lock_id), View(tbs.holder_key));
    tbs.sealed_pin.size = static_cast<pb_size_t>(request.pin.size() + crypto::kCcmTagSize);
    MORTISE_TRY(crypto::AesCcm128(pin_key.span())
                    .Seal(std::span<const uint8_t>(tbs.nonce.bytes, crypto::kCcmNonceSize), aad.bytes, request.pin,
                          std::span<uint8_t>(tbs.sealed_pin.bytes, tbs.sealed_pin.size)));
  }
  mortise_RemoteCommand cmd = mortise_RemoteCommand_init_zero;
  MORTISE_ASSIGN_OR_RETURN(const size_t tbs_len,
                           internal::Encode(mortise_RemoteCommandTbs_fields, &tbs, std::span<uint8_t>(cmd.tbs.bytes)));
  cmd.tbs.size = static_cast<pb_size_t>(tbs_len);
  crypto::P256Signature sig{};
  MORTISE_TRY(holder_.SignDigest(DomainDigest(kCommandDomain, View(cmd.tbs)), sig, drbg_));
  internal::SetBytes(cmd.signature, sig);
  MORTISE_ASSIGN_OR_RETURN(const size_t len, internal::Encode(mortise_RemoteCommand_fields, &cmd, out));
  pending_ = crypto::Sha256::Hash(View(cmd.tbs));
  return len;
}

Result<RemoteOutcome> RemoteClient::Verify(std::span<const uint8_t> result, std::span<uint8_t> payload_out,
                                           size_t* payload_len) {
  if (!pending_.has_value()) return StatusCode::kFailedPrecondition;
  if (result.empty() || result.size() > mortise_RemoteResult_size) return StatusCode::kInvalidArgument;
  uint8_t scratch[mortise_RemoteResult_size];
  mortise_RemoteResult r = mortise_RemoteResult_init_zero;
  MORTISE_TRY(internal::DecodeStrict(result, mortise_RemoteResult_fields, &r, scratch));
  // Unsigned: the lock refused before the holder's signature verified, or a
  // relay wrote it. Either way it proves nothing.
  const bool confirmed = r.signature.size != 0;
  if (confirmed) {
    if (r.signature.size != crypto::kP256SignatureSize) return StatusCode::kInvalidArgument;
    if (!lock_key_.VerifyDigest(DomainDigest(kResultDomain, View(r.tbs)), View(r.signature)).ok()) {
      return StatusCode::kUnauthenticated;
    }
  }
  mortise_RemoteResultTbs tbs = mortise_RemoteResultTbs_init_zero;
  MORTISE_TRY(internal::DecodeStrict(View(r.tbs), mortise_RemoteResultTbs_fields, &tbs, scratch));
  if (tbs.lock_id.size != kLockIdSize || std::memcmp(tbs.lock_id.bytes, lock_id_.data(), kLockIdSize) != 0 ||
      tbs.command_hash.size != crypto::kSha256Size ||
      std::memcmp(tbs.command_hash.bytes, pending_->data(), crypto::kSha256Size) != 0) {
    return StatusCode::kUnauthenticated;  // about another command (signed by the lock or not)
  }
  if (tbs.envelope_status > static_cast<uint32_t>(StatusCode::kUnimplemented) ||
      tbs.response.status > static_cast<uint32_t>(StatusCode::kUnimplemented) || tbs.response.dl_status > 0xFF) {
    return StatusCode::kInvalidArgument;
  }
  // The lock never leaves a success unsigned: one is a relay's invention.
  if (!confirmed && (tbs.envelope_status == 0 || tbs.has_response)) return StatusCode::kUnauthenticated;
  // An unconfirmed refusal settles nothing: the lock's signed answer to the
  // same envelope may still come.
  if (confirmed) pending_.reset();
  RemoteOutcome out;
  out.confirmed = confirmed;
  out.envelope = static_cast<StatusCode>(tbs.envelope_status);
  out.lock_time = tbs.lock_time;
  out.response.status = static_cast<StatusCode>(tbs.response.status);
  out.response.dl_status = static_cast<uint8_t>(tbs.response.dl_status);
  out.response.value = tbs.response.value;
  out.response.next = tbs.response.next;
  out.response.payload_len = tbs.response.payload.size;
  std::memcpy(out.response.payload.data(), tbs.response.payload.bytes, tbs.response.payload.size);
  if (payload_len != nullptr) {
    *payload_len = 0;
    if (tbs.response.payload.size <= payload_out.size()) {
      std::memcpy(payload_out.data(), tbs.response.payload.bytes, tbs.response.payload.size);
      *payload_len = tbs.response.payload.size;
    }
  }
  return out;
}

}  // namespace mortise::protocol
