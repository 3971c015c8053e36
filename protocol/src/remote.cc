#include "mortise/protocol/remote.h"

#include <cstring>

#include "certificate_internal.h"
#include "codec.h"
#include "mortise.pb.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/records.h"
#include "remote_shared.h"

namespace mortise::protocol {

using namespace remote_detail;  // NOLINT: this file's own helpers

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
      lock_.RecordKeyRefused(core::OperationSource::kRemote,
                             authority_.RefusedKeyCredential(View(tbs.chain), key.status().code()), *why);
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

}  // namespace mortise::protocol
