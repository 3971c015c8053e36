#include "mortise/protocol/session.h"

#include <cstring>

#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/core/attributes.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"

namespace mortise::protocol {
namespace {

static_assert(mortise_SessionMessage_size <= kMaxSessionMessageSize);
static_assert(kMaxRevalidationTokenSize <= sizeof(mortise_SessionHello{}.revalidation.bytes));
static_assert(mortise_Request_size + crypto::kCcmTagSize <= sizeof(mortise_SessionRequest{}.sealed.bytes));
static_assert(mortise_Response_size + crypto::kCcmTagSize <= sizeof(mortise_SessionResponse{}.sealed.bytes));

constexpr uint8_t kTranscriptDomain[] = "mortise-session-v1";
constexpr uint8_t kLockSignDomain[] = "mortise-session-lock-v1";
constexpr uint8_t kHolderSignDomain[] = "mortise-session-holder-v1";
constexpr uint8_t kKeyInfo[] = {'s', 'e', 's', 's', 'i', 'o', 'n', ' ', 'k', 'e', 'y', 's'};
constexpr uint8_t kResumeInfo[] = {'r', 'e', 's', 'u', 'm', 'e', ' ', 'k', 'e', 'y', 's'};
constexpr uint8_t kRequestDirection = 0x01;
constexpr uint8_t kResponseDirection = 0x02;

// Session key material: c2l 16 || l2c 16 || resumption secret 32 ||
// resumption id 16 || session id 8.
constexpr size_t kOkmSize = 16 + 16 + 32 + kResumptionIdSize + kSessionIdSize;

struct Okm {
  crypto::SecretBytes<kOkmSize> bytes;
  std::span<const uint8_t, 16> c2l() const { return bytes.span().subspan<0, 16>(); }
  std::span<const uint8_t, 16> l2c() const { return bytes.span().subspan<16, 16>(); }
  std::span<const uint8_t, 32> resumption_secret() const { return bytes.span().subspan<32, 32>(); }
  std::span<const uint8_t, kResumptionIdSize> resumption_id() const {
    return bytes.span().subspan<64, kResumptionIdSize>();
  }
  std::span<const uint8_t, kSessionIdSize> session_id() const {
    return bytes.span().subspan<64 + kResumptionIdSize, kSessionIdSize>();
  }
};

template <size_t N>
void Copy(std::span<const uint8_t, N> from, crypto::SecretBytes<N>& to) {
  std::memcpy(to.data(), from.data(), N);
}

// Nonce: direction (1) || counter (4, big-endian) || 8 zero bytes. Each key
// seals at most one request per counter value and the lock accepts each
// counter once, so no (key, nonce) pair repeats; responses use their own
// direction byte.
std::array<uint8_t, crypto::kCcmNonceSize> Nonce(uint8_t direction, uint32_t counter) {
  std::array<uint8_t, crypto::kCcmNonceSize> n{};
  n[0] = direction;
  n[1] = static_cast<uint8_t>(counter >> 24);
  n[2] = static_cast<uint8_t>(counter >> 16);
  n[3] = static_cast<uint8_t>(counter >> 8);
  n[4] = static_cast<uint8_t>(counter);
  return n;
}

// Associated data: id || counter, plus the request's tag for a response.
struct Aad {
  uint8_t bytes[kResumptionIdSize + 4 + crypto::kCcmTagSize] = {};
  size_t size = 0;
  Aad(std::span<const uint8_t> id, uint32_t counter, std::span<const uint8_t> request_tag = {}) {
    std::memcpy(bytes, id.data(), id.size());
    size = id.size();
    internal::PutU32(bytes + size, counter);
    size += 4;
    if (!request_tag.empty()) std::memcpy(bytes + size, request_tag.data(), request_tag.size());
    size += request_tag.size();
  }
  std::span<const uint8_t> span() const { return std::span<const uint8_t>(bytes, size); }
};

crypto::Digest Snapshot(const crypto::Sha256& h) {
  crypto::Sha256 copy(h);
  crypto::Digest d{};
  copy.Final(d);
  return d;
}

// TH = SHA-256(domain || M1 || lock key || lock ephemeral || lock nonce || boot epoch).
crypto::Digest LockTranscript(const crypto::Sha256& hello_hash, std::span<const uint8_t> lock_key,
                              std::span<const uint8_t> lock_ephemeral, std::span<const uint8_t> lock_nonce,
                              uint64_t boot_epoch) {
  crypto::Sha256 h(hello_hash);
  h.Update(lock_key);
  h.Update(lock_ephemeral);
  h.Update(lock_nonce);
  uint8_t epoch[8];
  internal::PutU64(epoch, boot_epoch);
  h.Update(epoch);
  crypto::Digest d{};
  h.Final(d);
  return d;
}

template <size_t N>
struct Signed {
  uint8_t bytes[N + crypto::kSha256Size];
  Signed(const uint8_t (&domain)[N], const crypto::Digest& th) {
    std::memcpy(bytes, domain, N);
    std::memcpy(bytes + N, th.data(), th.size());
  }
};

Status DeriveSession(const crypto::SecretBytes<crypto::kP256SharedSecretSize>& shared, const crypto::Digest& th2,
                     Okm& okm) {
  return crypto::HkdfSha256(th2, shared.span(), kKeyInfo, okm.bytes.span());
}

Status DeriveResume(std::span<const uint8_t> secret, std::span<const uint8_t> client_nonce, uint32_t counter,
                    uint64_t boot_epoch, crypto::SecretBytes<16>& c2l, crypto::SecretBytes<16>& l2c) {
  uint8_t salt[kSessionNonceSize + 4 + 8];
  std::memcpy(salt, client_nonce.data(), kSessionNonceSize);
  internal::PutU32(salt + kSessionNonceSize, counter);
  internal::PutU64(salt + kSessionNonceSize + 4, boot_epoch);
  crypto::SecretBytes<32> keys;
  MORTISE_TRY(crypto::HkdfSha256(salt, secret, kResumeInfo, keys.span()));
  std::memcpy(c2l.data(), keys.data(), 16);
  std::memcpy(l2c.data(), keys.data() + 16, 16);
  return Status::Ok();
}

Status DecodeSession(std::span<const uint8_t> in, mortise_SessionMessage& m) {
  uint8_t scratch[kMaxSessionMessageSize];
  m = mortise_SessionMessage_init_zero;
  return internal::DecodeStrict(in, mortise_SessionMessage_fields, &m, scratch);
}

Result<size_t> EncodeSession(const mortise_SessionMessage& m, std::span<uint8_t> out) {
  return internal::Encode(mortise_SessionMessage_fields, &m, out);
}

Result<size_t> EncodeError(Status status, std::span<uint8_t> out) {
  mortise_SessionMessage m = mortise_SessionMessage_init_zero;
  m.which_body = mortise_SessionMessage_error_tag;
  m.body.error.code = static_cast<uint32_t>(status.code());
  return EncodeSession(m, out);
}

Status ErrorStatus(uint32_t code) {
  if (code == 0 || code > static_cast<uint32_t>(StatusCode::kUnimplemented)) return StatusCode::kInvalidArgument;
  return static_cast<StatusCode>(code);
}

template <typename BytesT>
std::span<const uint8_t> View(const BytesT& b) {
  return std::span<const uint8_t>(b.bytes, b.size);
}

}  // namespace

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
}

bool SessionServer::Expired(const Slot& s, uint64_t now_ms) const {
  if (s.state == SlotState::kPending) return now_ms - s.created_ms >= kHandshakeTimeoutMs;
  if (s.state == SlotState::kEstablished) return now_ms - s.last_used_ms >= kSessionIdleMs;
  return true;
}

size_t SessionServer::sessions_in_use(uint64_t now_ms) const {
  size_t n = 0;
  for (const Slot& s : slots_) n += (s.state != SlotState::kFree && !Expired(s, now_ms)) ? 1 : 0;
  return n;
}

SessionServer::Slot* SessionServer::AllocateSlot(bool owner, uint64_t now_ms) {
  for (Slot& s : slots_) {
    if (s.state == SlotState::kFree || Expired(s, now_ms)) return &s;
  }
  Slot* victim = nullptr;
  for (Slot& s : slots_) {
    if (s.state == SlotState::kPending && (victim == nullptr || s.created_ms < victim->created_ms)) victim = &s;
  }
  if (victim != nullptr) return victim;
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

void SessionServer::StoreTicket(const Slot& slot, uint64_t now_ms) {
  Ticket* t = nullptr;
  for (Ticket& c : tickets_) {
    if (!c.used) {
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
  t->id = slot.resumption_id;
  t->secret = slot.resumption_secret;
  t->key = slot.key;
  t->last_counter = 0;
  t->last_used_ms = now_ms;
}

Result<size_t> SessionServer::Handle(std::span<const uint8_t> datagram, uint64_t now_ms, std::span<uint8_t> reply) {
  if (!started_) return StatusCode::kFailedPrecondition;
  if (reply.size() < kMaxSessionMessageSize) return StatusCode::kResourceExhausted;
  size_t len = 0;
  last_status_ = Step(datagram, now_ms, reply, len);
  if (last_status_.ok()) return len;
  return EncodeError(last_status_, reply);
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

Status SessionServer::OnHello(std::span<const uint8_t> datagram, const void* msg, uint64_t now_ms,
                              std::span<uint8_t> reply, size_t& len) {
  const auto& hello = *static_cast<const mortise_SessionHello*>(msg);
  // One version only: an older or newer one is refused, never negotiated
  // down (the version is also in the signed transcript).
  if (hello.version != kSessionVersion) return StatusCode::kInvalidArgument;
  if (hello.client_ephemeral.size != crypto::kP256PublicKeySize || hello.client_nonce.size != kSessionNonceSize ||
      hello.holder_key.size != crypto::kP256CompressedKeySize) {
    return StatusCode::kInvalidArgument;
  }
  Result<crypto::P256PublicKey> client_ephemeral = crypto::P256PublicKey::Import(View(hello.client_ephemeral));
  Result<crypto::P256PublicKey> holder = crypto::P256PublicKey::Import(View(hello.holder_key));
  if (!client_ephemeral.ok() || !holder.ok()) return StatusCode::kInvalidArgument;

  // The owner's own key never needs a token; a chain's token is examined
  // only when the chain demands one (LockAuthority::VerifyKey).
  Result<VerifiedKey> key = hello.chain.size == 0
                                ? authority_.VerifyOwner(*holder)
                                : authority_.VerifyKey(View(hello.chain), View(hello.revalidation), lock_);
  // The verdict goes back as it is (revoked, not yet valid, outside its
  // schedule, a bad signature): the chain is the holder's own, so the
  // reason tells them nothing they could not work out, and a person needs
  // it to act (ask the owner for a new key, wait, set the lock's time).
  if (!key.ok()) return key.status();
  if (key->holder_key != holder->Compressed()) return StatusCode::kUnauthenticated;

  Slot* slot = AllocateSlot(key->depth == 0, now_ms);
  if (slot == nullptr) return StatusCode::kResourceExhausted;
  *slot = Slot();

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
  MORTISE_ASSIGN_OR_RETURN(len, EncodeSession(out, reply));

  crypto::Sha256 h2;
  h2.Update(th);
  h2.Update(reply.first(len));
  const crypto::Digest th2 = Snapshot(h2);
  crypto::SecretBytes<crypto::kP256SharedSecretSize> shared;
  MORTISE_TRY(ephemeral->Ecdh(*client_ephemeral, shared, drbg));
  Okm okm;
  MORTISE_TRY(DeriveSession(shared, th2, okm));

  slot->state = SlotState::kPending;
  std::memcpy(slot->id.data(), okm.session_id().data(), kSessionIdSize);
  slot->key = *key;
  slot->th2 = th2;
  Copy(okm.c2l(), slot->c2l);
  Copy(okm.l2c(), slot->l2c);
  std::memcpy(slot->resumption_id.data(), okm.resumption_id().data(), kResumptionIdSize);
  Copy(okm.resumption_secret(), slot->resumption_secret);
  slot->created_ms = now_ms;
  slot->last_used_ms = now_ms;
  return Status::Ok();
}

Status SessionServer::OnFinish(const void* msg, uint64_t now_ms, std::span<uint8_t> reply, size_t& len) {
  const auto& f = *static_cast<const mortise_SessionFinish*>(msg);
  if (f.session_id.size != kSessionIdSize || f.signature.size != crypto::kP256SignatureSize) {
    return StatusCode::kInvalidArgument;
  }
  Slot* slot = nullptr;
  for (Slot& s : slots_) {
    if (s.state == SlotState::kPending && std::memcmp(s.id.data(), f.session_id.bytes, kSessionIdSize) == 0) slot = &s;
  }
  if (slot == nullptr || Expired(*slot, now_ms)) return StatusCode::kNotFound;
  Result<crypto::P256PublicKey> holder = crypto::P256PublicKey::Import(slot->key.holder_key);
  if (!holder.ok()) return StatusCode::kInternal;
  const Signed<sizeof(kHolderSignDomain)> signed_th2(kHolderSignDomain, slot->th2);
  if (!holder->Verify(signed_th2.bytes, View(f.signature)).ok()) {
    // A failed proof of possession counts towards the lock's one failure
    // counter (A15), like a wrong PIN.
    lock_.ReportAuthenticationFailure(core::OperationSource::kProprietaryRemote);
    *slot = Slot();
    return StatusCode::kUnauthenticated;
  }
  slot->state = SlotState::kEstablished;
  slot->last_used_ms = now_ms;
  StoreTicket(*slot, now_ms);
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
    if (s.state == SlotState::kEstablished && std::memcmp(s.id.data(), r.session_id.bytes, kSessionIdSize) == 0) {
      slot = &s;
    }
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
  // Check the counter before deriving anything: a replay costs one compare.
  if (r.counter <= ticket->last_counter) return StatusCode::kAlreadyExists;
  crypto::SecretBytes<16> c2l, l2c;
  MORTISE_TRY(DeriveResume(ticket->secret.span(), View(r.client_nonce), r.counter, boot_epoch_, c2l, l2c));
  MORTISE_TRY(Serve(ticket->key, ticket->id, r.counter, View(r.sealed), c2l, l2c, ticket->last_counter, reply, len));
  ticket->last_used_ms = now_ms;
  return Status::Ok();
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
  internal::SetBytes(h.holder_key, holder_.public_key().Compressed());
  internal::SetBytes(h.chain, std::span<const uint8_t>(chain_.data(), chain_len_));
  internal::SetBytes(h.revalidation, std::span<const uint8_t>(revalidation_.data(), revalidation_len_));
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
      a.lock_nonce.size != kSessionNonceSize || a.signature.size != crypto::kP256SignatureSize) {
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

  crypto::Sha256 h2;
  h2.Update(th);
  h2.Update(accept);
  const crypto::Digest th2 = Snapshot(h2);
  crypto::SecretBytes<crypto::kP256SharedSecretSize> shared;
  MORTISE_TRY(ephemeral_->Ecdh(*lock_ephemeral, shared, drbg_));
  ephemeral_.reset();
  Okm okm;
  MORTISE_TRY(DeriveSession(shared, th2, okm));
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
  internal::SetBytes(f.session_id, session_id_);
  const Signed<sizeof(kHolderSignDomain)> holder_signed(kHolderSignDomain, th2);
  crypto::P256Signature sig{};
  MORTISE_TRY(holder_.Sign(holder_signed.bytes, sig, drbg_));
  internal::SetBytes(f.signature, sig);
  f.counter = counter_;
  MORTISE_ASSIGN_OR_RETURN(const size_t sealed_len,
                           SealRequest(first, session_id_, counter_, c2l_, f.sealed.bytes, sizeof(f.sealed.bytes)));
  f.sealed.size = static_cast<pb_size_t>(sealed_len);
  established_ = true;
  has_ticket_ = true;
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
  mortise_SessionMessage in;
  MORTISE_TRY(DecodeSession(bytes, in));
  if (in.which_body == mortise_SessionMessage_error_tag) {
    pending_ = false;
    const Status s = ErrorStatus(in.body.error.code);
    if (s.code() == StatusCode::kNotFound) {
      // The lock no longer knows this session or ticket (a reboot): the
      // next contact must be a cold handshake.
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
