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

// --- Lock side -------------------------------------------------------------------

Status SessionServer::Start() {
  MORTISE_ASSIGN_OR_RETURN(boot_epoch_, store_.ReadCounter(core::kCounterBootEpoch));
  Reset();
  started_ = true;
  return Status::Ok();
}

void SessionServer::Reset() {
  for (Slot& s : slots_) s = Slot();
  for (Ticket& t : tickets_) t = Ticket();
  // Cookies issued before: their key is gone, so they no longer open. Ids
  // keep counting, so none is ever issued twice in a boot.
  for (CookieKey& k : cookie_keys_) k = CookieKey();
  for (UsedCookie& u : used_cookies_) u = UsedCookie();
}

bool SessionServer::Expired(const Slot& s, uint64_t now_ms) const {
  return !s.used || now_ms - s.last_used_ms >= kSessionIdleMs;
}

size_t SessionServer::sessions_in_use(uint64_t now_ms) const {
  size_t n = 0;
  for (const Slot& s : slots_) n += Expired(s, now_ms) ? 0 : 1;
  return n;
}

SessionServer::Slot* SessionServer::AllocateSlot(bool owner, uint64_t now_ms) {
  for (Slot& s : slots_) {
    if (Expired(s, now_ms)) return &s;
  }
  Slot* victim = nullptr;
  for (Slot& s : slots_) {
    if (s.key.depth != 0 && (victim == nullptr || s.last_used_ms < victim->last_used_ms)) victim = &s;
  }
  if (victim != nullptr) return victim;
  if (!owner) return nullptr;
  for (Slot& s : slots_) {
    if (victim == nullptr || s.last_used_ms < victim->last_used_ms) victim = &s;
  }
  return victim;
}

void SessionServer::StoreTicket(const VerifiedKey& key, std::span<const uint8_t, kResumptionIdSize> id,
                                std::span<const uint8_t, 32> secret, uint64_t now_ms) {
  Ticket* t = nullptr;
  for (Ticket& c : tickets_) {
    if (!c.used || now_ms - c.created_ms >= kTicketLifetimeMs) {
      t = &c;
      break;
    }
  }
  // Full: evict the least recently used ticket, a non-owner's first.
  for (int pass = 0; pass < 2 && t == nullptr; ++pass) {
    for (Ticket& c : tickets_) {
      if (pass == 0 && c.key.depth == 0) continue;
      if (t == nullptr || c.last_used_ms < t->last_used_ms) t = &c;
    }
  }
  t->used = true;
  std::memcpy(t->id.data(), id.data(), kResumptionIdSize);
  Copy(secret, t->secret);
  t->key = key;
  t->last_counter = 0;
  t->created_ms = now_ms;
  t->last_used_ms = now_ms;
}

Status SessionServer::RotateCookieKey(uint64_t now_ms) {
  if (cookie_keys_[0].valid && now_ms - cookie_keys_[0].created_ms < kHandshakeTimeoutMs) return Status::Ok();
  CookieKey fresh;
  MORTISE_TRY(authority_.drbg().Generate(fresh.key.span()));
  fresh.valid = true;
  fresh.first_id = next_cookie_id_;
  fresh.created_ms = now_ms;
  cookie_keys_[1] = cookie_keys_[0];
  cookie_keys_[0] = fresh;
  return Status::Ok();
}

void SessionServer::ExpireCookieKeys(uint64_t now_ms) {
  // A key seals cookies for kHandshakeTimeoutMs and its last cookie is
  // accepted for as long again: after that nothing needs it.
  for (CookieKey& k : cookie_keys_) {
    if (k.valid && now_ms - k.created_ms >= 2 * kHandshakeTimeoutMs) k = CookieKey();
  }
}

size_t SessionServer::cookie_keys_held() const {
  size_t n = 0;
  for (const CookieKey& k : cookie_keys_) n += k.valid ? 1 : 0;
  return n;
}

const SessionServer::CookieKey* SessionServer::CookieKeyFor(uint64_t cookie_id) const {
  if (cookie_id == 0 || cookie_id >= next_cookie_id_) return nullptr;
  for (const CookieKey& k : cookie_keys_) {
    if (k.valid && cookie_id >= k.first_id) return &k;
  }
  return nullptr;
}

Status SessionServer::UseCookie(uint64_t cookie_id, uint64_t issued_ms, uint64_t now_ms) {
  if (cookie_id <= cookie_floor_) return StatusCode::kNotFound;
  for (const UsedCookie& u : used_cookies_) {
    if (u.id == cookie_id) return StatusCode::kAlreadyExists;
  }
  UsedCookie* slot = nullptr;
  UsedCookie* lowest = nullptr;
  for (UsedCookie& u : used_cookies_) {
    // An expired cookie can be forgotten: its age refuses it anyway.
    if (u.id == 0 || now_ms - u.issued_ms >= kHandshakeTimeoutMs) {
      slot = &u;
      break;
    }
    if (lowest == nullptr || u.id < lowest->id) lowest = &u;
  }
  if (slot == nullptr) {
    // Every entry is a live cookie: forget the oldest and refuse every id
    // up to it, so that no cookie can be used twice.
    cookie_floor_ = lowest->id;
    slot = lowest;
  }
  slot->id = cookie_id;
  slot->issued_ms = issued_ms;
  return Status::Ok();
}

Result<size_t> SessionServer::Handle(std::span<const uint8_t> datagram, uint64_t now_ms, std::span<uint8_t> reply) {
  if (!started_) return StatusCode::kFailedPrecondition;
  if (reply.size() < kMaxSessionMessageSize) return StatusCode::kResourceExhausted;
  size_t len = 0;
  ExpireCookieKeys(now_ms);
  verdict_ready_ = false;
  last_status_ = Step(datagram, now_ms, reply, len);
  const bool sealed_verdict = verdict_ready_;
  verdict_ready_ = false;
  if (last_status_.ok()) return len;
  return EncodeError(last_status_, sealed_verdict ? &verdict_key_ : nullptr, reply);
}

Status SessionServer::Step(std::span<const uint8_t> datagram, uint64_t now_ms, std::span<uint8_t> reply,
                           size_t& len) {
  if (!authority_.claimed()) return StatusCode::kFailedPrecondition;
  // Lengths first: nothing larger than the schema allows is even parsed.
  if (datagram.size() > kMaxSessionMessageSize) return StatusCode::kInvalidArgument;
  mortise_SessionMessage m;
  MORTISE_TRY(DecodeSession(datagram, m));
  switch (m.which_body) {
    case mortise_SessionMessage_hello_tag: return OnHello(datagram, &m.body.hello, now_ms, reply, len);
    case mortise_SessionMessage_finish_tag: return OnFinish(&m.body.finish, now_ms, reply, len);
    case mortise_SessionMessage_request_tag: return OnRequest(&m.body.request, now_ms, reply, len);
    case mortise_SessionMessage_resume_tag: return OnResume(&m.body.resume, now_ms, reply, len);
    default: return StatusCode::kFailedPrecondition;  // lock-to-client messages
  }
}

// Stateless: everything the third message needs comes back in the cookie.
// A hello costs the lock one key generation, one ECDH and one signature
// (3 P-256 operations) and nothing else; it cannot evict anyone.
Status SessionServer::OnHello(std::span<const uint8_t> datagram, const void* msg, uint64_t now_ms,
                              std::span<uint8_t> reply, size_t& len) {
  const auto& hello = *static_cast<const mortise_SessionHello*>(msg);
  // One version only: an older or newer one is refused, never negotiated
  // down (the version is also in the signed transcript).
  if (hello.version != kSessionVersion) return StatusCode::kInvalidArgument;
  if (hello.client_ephemeral.size != crypto::kP256PublicKeySize || hello.client_nonce.size != kSessionNonceSize) {
    return StatusCode::kInvalidArgument;
  }
  Result<crypto::P256PublicKey> client_ephemeral = crypto::P256PublicKey::Import(View(hello.client_ephemeral));
  if (!client_ephemeral.ok()) return StatusCode::kInvalidArgument;
  MORTISE_TRY(RotateCookieKey(now_ms));

  crypto::Drbg& drbg = authority_.drbg();
  Result<crypto::P256KeyPair> ephemeral = crypto::P256KeyPair::Generate(drbg);
  if (!ephemeral.ok()) return ephemeral.status();
  mortise_SessionMessage out = mortise_SessionMessage_init_zero;
  out.which_body = mortise_SessionMessage_accept_tag;
  mortise_SessionAccept& a = out.body.accept;
  internal::SetBytes(a.lock_key, authority_.identity().public_key().bytes());
  internal::SetBytes(a.lock_ephemeral, ephemeral->public_key().bytes());
  a.lock_nonce.size = kSessionNonceSize;
  MORTISE_TRY(drbg.Generate(std::span<uint8_t>(a.lock_nonce.bytes, kSessionNonceSize)));
  a.boot_epoch = boot_epoch_;

  crypto::Sha256 hello_hash;
  hello_hash.Update(std::span<const uint8_t>(kTranscriptDomain, sizeof(kTranscriptDomain)));
  hello_hash.Update(datagram);
  const crypto::Digest th =
      LockTranscript(hello_hash, View(a.lock_key), View(a.lock_ephemeral), View(a.lock_nonce), boot_epoch_);
  const Signed<sizeof(kLockSignDomain)> to_sign(kLockSignDomain, th);
  crypto::P256Signature sig{};
  MORTISE_TRY(authority_.identity().key().Sign(to_sign.bytes, sig, drbg));
  internal::SetBytes(a.signature, sig);

  const crypto::Digest th2 = Chained(th, sig);
  crypto::SecretBytes<crypto::kP256SharedSecretSize> shared;
  MORTISE_TRY(ephemeral->Ecdh(*client_ephemeral, shared, drbg));
  crypto::SecretBytes<32> secret;
  MORTISE_TRY(crypto::HkdfSha256(th2, shared.span(), kHandshakeInfo, secret.span()));

  // The cookie: id (8 LE) || AES-CCM(issued (8 LE) || TH2 || secret) || tag.
  const uint64_t id = next_cookie_id_++;
  a.cookie.size = kCookieSize;
  internal::PutU64(a.cookie.bytes, id);
  crypto::SecretBytes<kCookiePlainSize> plain;
  internal::PutU64(plain.data(), now_ms);
  std::memcpy(plain.data() + 8, th2.data(), th2.size());
  std::memcpy(plain.data() + 8 + 32, secret.data(), 32);
  MORTISE_TRY(crypto::AesCcm128(cookie_keys_[0].key.span())
                  .Seal(CookieNonce(id), std::span<const uint8_t>(a.cookie.bytes, 8), plain.span(),
                        std::span<uint8_t>(a.cookie.bytes + 8, kCookieSize - 8)));
  MORTISE_ASSIGN_OR_RETURN(len, EncodeSession(out, reply));
  return Status::Ok();
}

Status SessionServer::OnFinish(const void* msg, uint64_t now_ms, std::span<uint8_t> reply, size_t& len) {
  const auto& f = *static_cast<const mortise_SessionFinish*>(msg);
  if (f.cookie.size != kCookieSize || f.sealed_identity.size < crypto::kCcmTagSize) {
    return StatusCode::kInvalidArgument;
  }
  // The cookie first: AES only. One that does not open (forged, from an
  // earlier key or boot) is simply unknown.
  const uint64_t id = internal::GetU64(f.cookie.bytes);
  const CookieKey* key = CookieKeyFor(id);
  if (key == nullptr) return StatusCode::kNotFound;
  crypto::SecretBytes<kCookiePlainSize> plain;
  if (!crypto::AesCcm128(key->key.span())
           .Open(CookieNonce(id), std::span<const uint8_t>(f.cookie.bytes, 8),
                 std::span<const uint8_t>(f.cookie.bytes + 8, kCookieSize - 8), plain.span())
           .ok()) {
    return StatusCode::kNotFound;
  }
  const uint64_t issued_ms = internal::GetU64(plain.data());
  crypto::Digest th2{};
  std::memcpy(th2.data(), plain.data() + 8, th2.size());
  crypto::SecretBytes<32> secret;
  std::memcpy(secret.data(), plain.data() + 8 + 32, 32);
  crypto::SecretBytes<16> id_key;
  MORTISE_TRY(DeriveIdentityKeys(secret, th2, id_key, verdict_key_));
  return FinishWithCookie(msg, id, issued_ms, th2, secret, id_key, now_ms, reply, len);
}

Status SessionServer::FinishWithCookie(const void* msg, uint64_t cookie_id, uint64_t issued_ms,
                                       const crypto::Digest& th2, const crypto::SecretBytes<32>& secret,
                                       const crypto::SecretBytes<16>& id_key, uint64_t now_ms,
                                       std::span<uint8_t> reply, size_t& len) {
  const auto& f = *static_cast<const mortise_SessionFinish*>(msg);
  if (issued_ms > now_ms || now_ms - issued_ms >= kHandshakeTimeoutMs) return StatusCode::kNotFound;
  if (cookie_id <= cookie_floor_) return StatusCode::kNotFound;
  for (const UsedCookie& u : used_cookies_) {
    if (u.id == cookie_id) return StatusCode::kAlreadyExists;
  }
  // Only from here on are the lock's refusals authenticated for the client:
  // the cookie is fresh and unused, so no earlier third message with it ran.
  // A replay's refusal (above) stays a plain error, since the original may
  // have run a command whose reply an on-path attacker dropped (A18).
  verdict_ready_ = true;
  uint8_t identity_plain[mortise_SessionIdentity_size];
  const size_t identity_len = f.sealed_identity.size - crypto::kCcmTagSize;
  if (identity_len > sizeof(identity_plain)) return StatusCode::kInvalidArgument;
  const std::span<const uint8_t> cookie(f.cookie.bytes, kCookieSize);
  MORTISE_TRY(crypto::AesCcm128(id_key.span())
                  .Open(IdentityNonce(), cookie, View(f.sealed_identity),
                        std::span<uint8_t>(identity_plain, identity_len)));
  const std::span<const uint8_t> identity_bytes(identity_plain, identity_len);
  uint8_t scratch[mortise_SessionIdentity_size];
  mortise_SessionIdentity identity = mortise_SessionIdentity_init_zero;
  MORTISE_TRY(internal::DecodeStrict(identity_bytes, mortise_SessionIdentity_fields, &identity, scratch));
  if (identity.holder_key.size != crypto::kP256CompressedKeySize ||
      identity.signature.size != crypto::kP256SignatureSize) {
    return StatusCode::kInvalidArgument;
  }
  Result<crypto::P256PublicKey> holder = crypto::P256PublicKey::Import(View(identity.holder_key));
  if (!holder.ok()) return StatusCode::kInvalidArgument;
  // A chain must name the signing key (checked before any P-256 work), and
  // the holder's signature comes before the chain: a forged third message
  // costs the lock one verification, less than the hello it needed, and
  // leaves nothing behind. It is NOT a wrong code (A15): a signature cannot
  // be guessed, so it never reaches the core's shared failure counter,
  // whose lock-out would shut out keypad, card and offline-PIN users.
  if (identity.chain.size != 0 && !ChainNamesHolder(View(identity.chain), View(identity.holder_key))) {
    return StatusCode::kUnauthenticated;
  }
  const Signed<sizeof(kHolderSignDomain)> signed_th2(kHolderSignDomain, th2);
  if (!holder->Verify(signed_th2.bytes, View(identity.signature)).ok()) return StatusCode::kUnauthenticated;

  // The owner's own key never needs a token; a chain's token is examined
  // only when the chain demands one (LockAuthority::VerifyKey). The verdict
  // goes back as it is (revoked, not yet valid, outside its schedule):
  // sealed for the holder, who needs it to act.
  Result<VerifiedKey> key = identity.chain.size == 0
                                ? authority_.VerifyOwner(*holder)
                                : authority_.VerifyKey(View(identity.chain), View(identity.revalidation), lock_);
  if (!key.ok()) {
    // A holder who proved possession of a key this lock refuses: recorded
    // (rate-limited by the core), so the owner sees a copied or revoked key
    // being tried.
    if (std::optional<core::EventDetail> why = KeyRefusalDetail(key.status().code()))
      lock_.RecordKeyRefused(core::OperationSource::kProprietaryRemote,
                             authority_.RefusedKeyCredential(View(identity.chain), key.status().code()), *why);
    return key.status();
  }
  if (key->holder_key != holder->Compressed()) return StatusCode::kUnauthenticated;
  // A verified holder: only now is the cookie spent, so that no replay of
  // this third message opens a second session. Strangers never get here,
  // so they cannot push the owner's cookie below the floor.
  MORTISE_TRY(UseCookie(cookie_id, issued_ms, now_ms));

  const crypto::Digest th3 = Chained(th2, identity_bytes);
  crypto::SecureZero(identity_plain, sizeof(identity_plain));
  Okm okm;
  MORTISE_TRY(crypto::HkdfSha256(th3, secret.span(), kKeyInfo, okm.bytes.span()));

  Slot* slot = AllocateSlot(key->depth == 0, now_ms);
  if (slot == nullptr) return StatusCode::kResourceExhausted;
  *slot = Slot();
  slot->used = true;
  std::memcpy(slot->id.data(), okm.session_id().data(), kSessionIdSize);
  slot->key = *key;
  Copy(okm.c2l(), slot->c2l);
  Copy(okm.l2c(), slot->l2c);
  slot->last_used_ms = now_ms;
  StoreTicket(*key, okm.resumption_id(), okm.resumption_secret(), now_ms);
  end_requested_ = false;
  MORTISE_TRY(Serve(slot->key, slot->id, f.counter, View(f.sealed), slot->c2l, slot->l2c, slot->last_counter, reply,
                    len));
  if (end_requested_) *slot = Slot();  // a one-command session (its ticket stays)
  return Status::Ok();
}

Status SessionServer::OnRequest(const void* msg, uint64_t now_ms, std::span<uint8_t> reply, size_t& len) {
  const auto& r = *static_cast<const mortise_SessionRequest*>(msg);
  if (r.session_id.size != kSessionIdSize) return StatusCode::kInvalidArgument;
  Slot* slot = nullptr;
  for (Slot& s : slots_) {
    if (s.used && std::memcmp(s.id.data(), r.session_id.bytes, kSessionIdSize) == 0) slot = &s;
  }
  if (slot == nullptr || Expired(*slot, now_ms)) return StatusCode::kNotFound;
  end_requested_ = false;
  MORTISE_TRY(Serve(slot->key, slot->id, r.counter, View(r.sealed), slot->c2l, slot->l2c, slot->last_counter, reply,
                    len));
  slot->last_used_ms = now_ms;
  // Answered; the slot goes back now (the ticket, made at the handshake,
  // stays for a later 1-round-trip resumption).
  if (end_requested_) *slot = Slot();
  return Status::Ok();
}

Status SessionServer::OnResume(const void* msg, uint64_t now_ms, std::span<uint8_t> reply, size_t& len) {
  const auto& r = *static_cast<const mortise_ResumeRequest*>(msg);
  if (r.resumption_id.size != kResumptionIdSize || r.client_nonce.size != kSessionNonceSize) {
    return StatusCode::kInvalidArgument;
  }
  Ticket* ticket = nullptr;
  for (Ticket& t : tickets_) {
    if (t.used && std::memcmp(t.id.data(), r.resumption_id.bytes, kResumptionIdSize) == 0) ticket = &t;
  }
  if (ticket == nullptr) return StatusCode::kNotFound;
  // A ticket is a day old at most (resuming does not extend it): then the
  // client must prove its key again with a full handshake.
  if (now_ms - ticket->created_ms >= kTicketLifetimeMs) {
    *ticket = Ticket();
    return StatusCode::kNotFound;
  }
  // Check the counter before deriving anything: a replay costs one compare.
  if (r.counter <= ticket->last_counter) return StatusCode::kAlreadyExists;
  crypto::SecretBytes<16> c2l, l2c;
  MORTISE_TRY(DeriveResume(ticket->secret.span(), View(r.client_nonce), r.counter, boot_epoch_, c2l, l2c));
  MORTISE_TRY(Serve(ticket->key, ticket->id, r.counter, View(r.sealed), c2l, l2c, ticket->last_counter, reply, len));
  ticket->last_used_ms = now_ms;
  // Answered: the ticket moves to its next id and secret, so a listener
  // cannot link this visit to the next one, and a later read of the lock's
  // RAM cannot open this resumption's traffic.
  return NextTicket(ticket->secret, ticket->id);
}

Status SessionServer::Serve(const VerifiedKey& key, std::span<const uint8_t> id, uint32_t counter,
                            std::span<const uint8_t> sealed, const crypto::SecretBytes<16>& c2l,
                            const crypto::SecretBytes<16>& l2c, uint32_t& last_counter, std::span<uint8_t> reply,
                            size_t& len) {
  if (counter == 0 || counter <= last_counter) return StatusCode::kAlreadyExists;
  // Lengths before decryption: a tag and at most one encoded Request.
  if (sealed.size() < crypto::kCcmTagSize || sealed.size() > mortise_Request_size + crypto::kCcmTagSize) {
    return StatusCode::kInvalidArgument;
  }
  uint8_t plain[mortise_Request_size];
  const size_t plain_len = sealed.size() - crypto::kCcmTagSize;
  const auto nonce = Nonce(kRequestDirection, counter);
  const Aad aad(id, counter);
  MORTISE_TRY(crypto::AesCcm128(c2l.span()).Open(nonce, aad.span(), sealed, std::span<uint8_t>(plain, plain_len)));
  // Accepted once: the counter moves before the command runs.
  last_counter = counter;

  uint8_t scratch[mortise_Request_size];
  mortise_Request req = mortise_Request_init_zero;
  CommandResponse response;
  if (!internal::DecodeStrict(std::span<const uint8_t>(plain, plain_len), mortise_Request_fields, &req, scratch).ok() ||
      req.command >= kCommandCount || req.attribute > 0xFFFF) {
    response.status = StatusCode::kInvalidArgument;
  } else {
    CommandRequest request;
    request.command = static_cast<Command>(req.command);
    request.value = req.value;
    request.attribute = static_cast<uint16_t>(req.attribute);
    request.payload = View(req.payload);
    request.pin = View(req.pin);
    end_requested_ = request.command == Command::kEndSession;
    // Sessions run over a proximity transport (BLE, a local socket): the
    // source is the proprietary remote, which the no-remote mode allows and
    // RequirePINforRemoteOperation still covers.
    response = executor_.Run(key, request, core::OperationSource::kProprietaryRemote);
    verdict_ready_ = false;  // it ran: no refusal may claim otherwise
  }
  crypto::SecureZero(plain, sizeof(plain));
  crypto::SecureZero(&req, sizeof(req));  // holds the PIN, if any

  mortise_Response resp = mortise_Response_init_zero;
  resp.status = static_cast<uint32_t>(response.status);
  resp.dl_status = response.dl_status;
  resp.value = response.value;
  resp.next = response.next;
  internal::SetBytes(resp.payload, response.payload_view());
  uint8_t resp_plain[mortise_Response_size];
  MORTISE_ASSIGN_OR_RETURN(const size_t resp_len, internal::Encode(mortise_Response_fields, &resp, resp_plain));
  mortise_SessionMessage out = mortise_SessionMessage_init_zero;
  out.which_body = mortise_SessionMessage_response_tag;
  out.body.response.counter = counter;
  out.body.response.sealed.size = static_cast<pb_size_t>(resp_len + crypto::kCcmTagSize);
  // Bound to this request: its counter and its tag are in the AAD.
  const Aad resp_aad(id, counter, sealed.last(crypto::kCcmTagSize));
  MORTISE_TRY(crypto::AesCcm128(l2c.span())
                  .Seal(Nonce(kResponseDirection, counter), resp_aad.span(),
                        std::span<const uint8_t>(resp_plain, resp_len),
                        std::span<uint8_t>(out.body.response.sealed.bytes, out.body.response.sealed.size)));
  MORTISE_ASSIGN_OR_RETURN(len, EncodeSession(out, reply));
  return Status::Ok();
}

}  // namespace mortise::protocol
