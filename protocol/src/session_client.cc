// The session protocol, client side (SessionClient): what a holder's program
// (the CLI, a server, a bridge) runs; no lock engine needed. The lock side is
// session.cc; both share session_shared.h.
#include "mortise/protocol/session.h"

#include <cstring>

#include "certificate_internal.h"
#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/core/attributes.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "session_shared.h"

namespace mortise::protocol {

using namespace session_detail;  // NOLINT: this file's own helpers

// --- Client side ---------------------------------------------------------------

SessionClient::SessionClient(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain, const LockId& lock_id,
                             crypto::Drbg& drbg)
    : holder_(holder), lock_id_(lock_id), drbg_(drbg) {
  chain_len_ = chain.size() <= chain_.size() ? chain.size() : chain_.size() + 1;
  if (!chain.empty() && chain_len_ <= chain_.size()) std::memcpy(chain_.data(), chain.data(), chain.size());
}

Status SessionClient::set_revalidation(std::span<const uint8_t> token) {
  if (token.size() > revalidation_.size()) return StatusCode::kInvalidArgument;
  if (!token.empty()) std::memcpy(revalidation_.data(), token.data(), token.size());
  revalidation_len_ = token.size();
  return Status::Ok();
}

Result<size_t> SessionClient::Hello(std::span<uint8_t> out) {
  if (chain_len_ > chain_.size()) return StatusCode::kInvalidArgument;
  Result<crypto::P256KeyPair> e = crypto::P256KeyPair::Generate(drbg_);
  if (!e.ok()) return e.status();
  ephemeral_.emplace(*e);
  mortise_SessionMessage m = mortise_SessionMessage_init_zero;
  m.which_body = mortise_SessionMessage_hello_tag;
  mortise_SessionHello& h = m.body.hello;
  h.version = kSessionVersion;
  internal::SetBytes(h.client_ephemeral, ephemeral_->public_key().bytes());
  h.client_nonce.size = kSessionNonceSize;
  MORTISE_TRY(drbg_.Generate(std::span<uint8_t>(h.client_nonce.bytes, kSessionNonceSize)));
  MORTISE_ASSIGN_OR_RETURN(const size_t len, EncodeSession(m, out));
  hello_hash_ = crypto::Sha256();
  hello_hash_.Update(std::span<const uint8_t>(kTranscriptDomain, sizeof(kTranscriptDomain)));
  hello_hash_.Update(out.first(len));
  hello_sent_ = true;
  established_ = false;
  return len;
}

Result<size_t> SessionClient::Finish(std::span<const uint8_t> accept, const CommandRequest& first,
                                     std::span<uint8_t> out) {
  if (!hello_sent_ || !ephemeral_) return StatusCode::kFailedPrecondition;
  hello_sent_ = false;
  mortise_SessionMessage in;
  MORTISE_TRY(DecodeSession(accept, in));
  if (in.which_body == mortise_SessionMessage_error_tag) return ErrorStatus(in.body.error.code);
  if (in.which_body != mortise_SessionMessage_accept_tag) return StatusCode::kFailedPrecondition;
  const mortise_SessionAccept& a = in.body.accept;
  if (a.lock_key.size != crypto::kP256PublicKeySize || a.lock_ephemeral.size != crypto::kP256PublicKeySize ||
      a.lock_nonce.size != kSessionNonceSize || a.signature.size != crypto::kP256SignatureSize ||
      a.cookie.size != kCookieSize) {
    return StatusCode::kInvalidArgument;
  }
  Result<crypto::P256PublicKey> lock_key = crypto::P256PublicKey::Import(View(a.lock_key));
  Result<crypto::P256PublicKey> lock_ephemeral = crypto::P256PublicKey::Import(View(a.lock_ephemeral));
  if (!lock_key.ok() || !lock_ephemeral.ok()) return StatusCode::kInvalidArgument;
  // The lock id pins the lock's key: a device without the lock's private
  // key cannot answer for it.
  if (LockIdOf(*lock_key) != lock_id_) return StatusCode::kUnauthenticated;
  const crypto::Digest th =
      LockTranscript(hello_hash_, View(a.lock_key), View(a.lock_ephemeral), View(a.lock_nonce), a.boot_epoch);
  const Signed<sizeof(kLockSignDomain)> lock_signed(kLockSignDomain, th);
  if (!lock_key->Verify(lock_signed.bytes, View(a.signature)).ok()) return StatusCode::kUnauthenticated;

  const crypto::Digest th2 = Chained(th, View(a.signature));
  crypto::SecretBytes<crypto::kP256SharedSecretSize> shared;
  MORTISE_TRY(ephemeral_->Ecdh(*lock_ephemeral, shared, drbg_));
  ephemeral_.reset();
  crypto::SecretBytes<32> secret;
  MORTISE_TRY(crypto::HkdfSha256(th2, shared.span(), kHandshakeInfo, secret.span()));
  crypto::SecretBytes<16> id_key;
  MORTISE_TRY(DeriveIdentityKeys(secret, th2, id_key, verdict_key_));

  // The identity, under K_id: only the two ends of the ECDH read it.
  mortise_SessionIdentity identity = mortise_SessionIdentity_init_zero;
  internal::SetBytes(identity.holder_key, holder_.public_key().Compressed());
  internal::SetBytes(identity.chain, std::span<const uint8_t>(chain_.data(), chain_len_));
  internal::SetBytes(identity.revalidation, std::span<const uint8_t>(revalidation_.data(), revalidation_len_));
  const Signed<sizeof(kHolderSignDomain)> holder_signed(kHolderSignDomain, th2);
  crypto::P256Signature sig{};
  MORTISE_TRY(holder_.Sign(holder_signed.bytes, sig, drbg_));
  internal::SetBytes(identity.signature, sig);
  uint8_t identity_plain[mortise_SessionIdentity_size];
  size_t identity_len = 0;
  if (identity_override_.empty()) {
    MORTISE_ASSIGN_OR_RETURN(identity_len, internal::Encode(mortise_SessionIdentity_fields, &identity, identity_plain));
  } else {
    if (identity_override_.size() > sizeof(identity_plain)) return StatusCode::kInvalidArgument;
    identity_len = identity_override_.size();
    std::memcpy(identity_plain, identity_override_.data(), identity_len);
  }
  const std::span<const uint8_t> identity_bytes(identity_plain, identity_len);

  const crypto::Digest th3 = Chained(th2, identity_bytes);
  Okm okm;
  MORTISE_TRY(crypto::HkdfSha256(th3, secret.span(), kKeyInfo, okm.bytes.span()));
  std::memcpy(session_id_.data(), okm.session_id().data(), kSessionIdSize);
  Copy(okm.c2l(), c2l_);
  Copy(okm.l2c(), l2c_);
  std::memcpy(resumption_id_.data(), okm.resumption_id().data(), kResumptionIdSize);
  Copy(okm.resumption_secret(), resumption_secret_);
  boot_epoch_ = a.boot_epoch;
  counter_ = 1;
  resume_counter_ = 0;

  mortise_SessionMessage m = mortise_SessionMessage_init_zero;
  m.which_body = mortise_SessionMessage_finish_tag;
  mortise_SessionFinish& f = m.body.finish;
  internal::SetBytes(f.cookie, View(a.cookie));
  f.sealed_identity.size = static_cast<pb_size_t>(identity_len + crypto::kCcmTagSize);
  const Status sealed_identity = crypto::AesCcm128(id_key.span())
                                     .Seal(IdentityNonce(), View(a.cookie), identity_bytes,
                                           std::span<uint8_t>(f.sealed_identity.bytes, f.sealed_identity.size));
  crypto::SecureZero(identity_plain, sizeof(identity_plain));
  MORTISE_TRY(sealed_identity);
  f.counter = counter_;
  MORTISE_ASSIGN_OR_RETURN(const size_t sealed_len,
                           SealRequest(first, session_id_, counter_, c2l_, f.sealed.bytes, sizeof(f.sealed.bytes)));
  f.sealed.size = static_cast<pb_size_t>(sealed_len);
  established_ = true;
  has_ticket_ = true;
  pending_finish_ = true;
  pending_l2c_ = l2c_;
  return EncodeSession(m, out);
}

Result<size_t> SessionClient::SealRequest(const CommandRequest& request, std::span<const uint8_t> id,
                                          uint32_t counter, const crypto::SecretBytes<16>& c2l, uint8_t* sealed,
                                          size_t sealed_capacity) {
  // The PIN passes through `req` and `plain`: both are wiped on every path.
  mortise_Request req = mortise_Request_init_zero;
  const crypto::ScopedWipe wipe_req(req);
  req.command = static_cast<uint32_t>(request.command);
  req.value = request.value;
  req.attribute = request.attribute;
  if (request.payload.size() > sizeof(req.payload.bytes) || request.pin.size() > sizeof(req.pin.bytes)) {
    return StatusCode::kInvalidArgument;
  }
  internal::SetBytes(req.payload, request.payload);
  internal::SetBytes(req.pin, request.pin);
  crypto::SecretBytes<mortise_Request_size> plain;
  MORTISE_ASSIGN_OR_RETURN(const size_t plain_len, internal::Encode(mortise_Request_fields, &req, plain.span()));
  if (plain_len + crypto::kCcmTagSize > sealed_capacity) return StatusCode::kResourceExhausted;
  const Aad aad(id, counter);
  MORTISE_TRY(crypto::AesCcm128(c2l.span())
                  .Seal(Nonce(kRequestDirection, counter), aad.span(), std::span<const uint8_t>(plain.data(), plain_len),
                        std::span<uint8_t>(sealed, plain_len + crypto::kCcmTagSize)));
  pending_ = true;
  pending_finish_ = false;  // Finish sets it again after this call
  pending_resume_ = id.size() == kResumptionIdSize;
  pending_end_ = request.command == Command::kEndSession && id.size() == kSessionIdSize;
  pending_counter_ = counter;
  std::memcpy(pending_id_.data(), id.data(), id.size());
  pending_id_len_ = id.size();
  std::memcpy(pending_tag_.data(), sealed + plain_len, crypto::kCcmTagSize);
  return plain_len + crypto::kCcmTagSize;
}

Result<size_t> SessionClient::Send(const CommandRequest& request, std::span<uint8_t> out) {
  if (!established_) return StatusCode::kFailedPrecondition;
  if (counter_ == UINT32_MAX) return StatusCode::kResourceExhausted;  // start a new session
  ++counter_;
  mortise_SessionMessage m = mortise_SessionMessage_init_zero;
  m.which_body = mortise_SessionMessage_request_tag;
  internal::SetBytes(m.body.request.session_id, session_id_);
  m.body.request.counter = counter_;
  MORTISE_ASSIGN_OR_RETURN(const size_t sealed_len,
                           SealRequest(request, session_id_, counter_, c2l_, m.body.request.sealed.bytes,
                                       sizeof(m.body.request.sealed.bytes)));
  m.body.request.sealed.size = static_cast<pb_size_t>(sealed_len);
  pending_l2c_ = l2c_;
  return EncodeSession(m, out);
}

Result<size_t> SessionClient::Resume(const CommandRequest& request, std::span<uint8_t> out) {
  if (!has_ticket_) return StatusCode::kFailedPrecondition;
  if (resume_counter_ == UINT32_MAX) return StatusCode::kResourceExhausted;
  ++resume_counter_;
  mortise_SessionMessage m = mortise_SessionMessage_init_zero;
  m.which_body = mortise_SessionMessage_resume_tag;
  mortise_ResumeRequest& r = m.body.resume;
  internal::SetBytes(r.resumption_id, resumption_id_);
  r.client_nonce.size = kSessionNonceSize;
  MORTISE_TRY(drbg_.Generate(std::span<uint8_t>(r.client_nonce.bytes, kSessionNonceSize)));
  r.counter = resume_counter_;
  crypto::SecretBytes<16> c2l, l2c;
  MORTISE_TRY(DeriveResume(resumption_secret_.span(), View(r.client_nonce), resume_counter_, boot_epoch_, c2l, l2c));
  MORTISE_ASSIGN_OR_RETURN(const size_t sealed_len,
                           SealRequest(request, resumption_id_, resume_counter_, c2l, r.sealed.bytes,
                                       sizeof(r.sealed.bytes)));
  r.sealed.size = static_cast<pb_size_t>(sealed_len);
  pending_l2c_ = l2c;
  return EncodeSession(m, out);
}

Result<CommandResponse> SessionClient::Receive(std::span<const uint8_t> bytes) {
  if (!pending_) return StatusCode::kFailedPrecondition;
  last_error_authenticated_ = false;
  last_reply_was_error_ = false;
  mortise_SessionMessage in;
  MORTISE_TRY(DecodeSession(bytes, in));
  if (in.which_body == mortise_SessionMessage_error_tag) {
    pending_ = false;
    last_reply_was_error_ = true;
    const Status s = ErrorStatus(in.body.error.code);
    if (pending_finish_) {
      // Message 3 was refused (or someone says so): no session, no ticket.
      pending_finish_ = false;
      established_ = false;
      has_ticket_ = false;
      std::array<uint8_t, crypto::kCcmTagSize> expected{};
      last_error_authenticated_ =
          in.body.error.tag.size == crypto::kCcmTagSize && in.body.error.code == static_cast<uint32_t>(s.code()) &&
          VerdictTag(verdict_key_, static_cast<uint8_t>(in.body.error.code), expected).ok() &&
          crypto::ConstantTimeEqual(expected, View(in.body.error.tag));
    } else if (s.code() == StatusCode::kNotFound) {
      // The lock no longer knows this session or ticket (a reboot, an
      // expired or rotated ticket): the next contact must be cold.
      established_ = false;
      has_ticket_ = false;
    }
    return s;
  }
  if (in.which_body != mortise_SessionMessage_response_tag) return StatusCode::kFailedPrecondition;
  const mortise_SessionResponse& r = in.body.response;
  if (r.counter != pending_counter_) return StatusCode::kUnauthenticated;
  if (r.sealed.size < crypto::kCcmTagSize) return StatusCode::kInvalidArgument;
  uint8_t plain[mortise_Response_size];
  const size_t plain_len = r.sealed.size - crypto::kCcmTagSize;
  if (plain_len > sizeof(plain)) return StatusCode::kInvalidArgument;
  const Aad aad(std::span<const uint8_t>(pending_id_.data(), pending_id_len_), r.counter, pending_tag_);
  MORTISE_TRY(crypto::AesCcm128(pending_l2c_.span())
                  .Open(Nonce(kResponseDirection, r.counter), aad.span(), View(r.sealed),
                        std::span<uint8_t>(plain, plain_len)));
  pending_ = false;
  pending_finish_ = false;
  if (pending_resume_) {
    // The lock answered, so it moved the ticket: follow it.
    pending_resume_ = false;
    MORTISE_TRY(NextTicket(resumption_secret_, resumption_id_));
  }
  uint8_t scratch[mortise_Response_size];
  mortise_Response resp = mortise_Response_init_zero;
  MORTISE_TRY(internal::DecodeStrict(std::span<const uint8_t>(plain, plain_len), mortise_Response_fields, &resp,
                                     scratch));
  if (resp.status > static_cast<uint32_t>(StatusCode::kUnimplemented) || resp.dl_status > 0xFF) {
    return StatusCode::kInvalidArgument;
  }
  CommandResponse out;
  out.status = static_cast<StatusCode>(resp.status);
  out.dl_status = static_cast<uint8_t>(resp.dl_status);
  out.value = resp.value;
  out.next = resp.next;
  if (pending_end_ && out.status == StatusCode::kOk) established_ = false;  // the lock freed the slot
  out.payload_len = resp.payload.size;
  if (resp.payload.size > 0) std::memcpy(out.payload.data(), resp.payload.bytes, resp.payload.size);
  return out;
}

}  // namespace mortise::protocol
