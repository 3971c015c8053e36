// End-to-end remote envelopes, holder side (RemoteClient): no lock engine
// needed. The lock side is remote.cc; both share remote_shared.h.
#include "mortise/protocol/remote.h"

#include <cstring>

#include "codec.h"
#include "mortise.pb.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/records.h"
#include "remote_shared.h"

namespace mortise::protocol {

using namespace remote_detail;  // NOLINT: this file's own helpers

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

Result<crypto::Digest> RemoteCommandHash(std::span<const uint8_t> envelope) {
  if (envelope.empty() || envelope.size() > mortise_RemoteCommand_size) return StatusCode::kInvalidArgument;
  uint8_t scratch[mortise_RemoteCommand_size];
  mortise_RemoteCommand cmd = mortise_RemoteCommand_init_zero;
  MORTISE_TRY(internal::DecodeStrict(envelope, mortise_RemoteCommand_fields, &cmd, scratch));
  return crypto::Sha256::Hash(View(cmd.tbs));
}

Result<RemoteOutcome> VerifyRemoteResult(std::span<const uint8_t> result, const crypto::P256PublicKey& lock_key,
                                         const crypto::Digest& command_hash, std::span<uint8_t> payload_out,
                                         size_t* payload_len) {
  if (result.empty() || result.size() > mortise_RemoteResult_size) return StatusCode::kInvalidArgument;
  uint8_t scratch[mortise_RemoteResult_size];
  mortise_RemoteResult r = mortise_RemoteResult_init_zero;
  MORTISE_TRY(internal::DecodeStrict(result, mortise_RemoteResult_fields, &r, scratch));
  // Unsigned: the lock refused before the holder's signature verified, or a
  // relay wrote it. Either way it proves nothing.
  const bool confirmed = r.signature.size != 0;
  if (confirmed) {
    if (r.signature.size != crypto::kP256SignatureSize) return StatusCode::kInvalidArgument;
    if (!lock_key.VerifyDigest(DomainDigest(kResultDomain, View(r.tbs)), View(r.signature)).ok()) {
      return StatusCode::kUnauthenticated;
    }
  }
  mortise_RemoteResultTbs tbs = mortise_RemoteResultTbs_init_zero;
  MORTISE_TRY(internal::DecodeStrict(View(r.tbs), mortise_RemoteResultTbs_fields, &tbs, scratch));
  const LockId lock_id = LockIdOf(lock_key);
  if (tbs.lock_id.size != kLockIdSize || std::memcmp(tbs.lock_id.bytes, lock_id.data(), kLockIdSize) != 0 ||
      tbs.command_hash.size != crypto::kSha256Size ||
      std::memcmp(tbs.command_hash.bytes, command_hash.data(), crypto::kSha256Size) != 0) {
    return StatusCode::kUnauthenticated;  // about another command (signed by the lock or not)
  }
  if (tbs.envelope_status > static_cast<uint32_t>(StatusCode::kUnimplemented) ||
      tbs.response.status > static_cast<uint32_t>(StatusCode::kUnimplemented) || tbs.response.dl_status > 0xFF) {
    return StatusCode::kInvalidArgument;
  }
  // The lock never leaves a success unsigned: one is a relay's invention.
  if (!confirmed && (tbs.envelope_status == 0 || tbs.has_response)) return StatusCode::kUnauthenticated;
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

Result<RemoteOutcome> RemoteClient::Verify(std::span<const uint8_t> result, std::span<uint8_t> payload_out,
                                           size_t* payload_len) {
  if (!pending_.has_value()) return StatusCode::kFailedPrecondition;
  MORTISE_ASSIGN_OR_RETURN(RemoteOutcome out, VerifyRemoteResult(result, lock_key_, *pending_, payload_out, payload_len));
  // An unconfirmed refusal settles nothing: the lock's signed answer to the
  // same envelope may still come.
  if (out.confirmed) pending_.reset();
  return out;
}

}  // namespace mortise::protocol
