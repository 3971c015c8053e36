#include "mortise/protocol/session.h"

#include <cstring>

#include "certificate_internal.h"
#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/core/attributes.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"

namespace mortise::protocol {
namespace {

static_assert(mortise_SessionMessage_size == kMaxSessionMessageSize);
static_assert(kMaxRevalidationTokenSize <= sizeof(mortise_SessionIdentity{}.revalidation.bytes));
static_assert(kMaxChainSize <= sizeof(mortise_SessionIdentity{}.chain.bytes));
static_assert(mortise_Request_size + crypto::kCcmTagSize <= sizeof(mortise_SessionRequest{}.sealed.bytes));
static_assert(mortise_Response_size + crypto::kCcmTagSize <= sizeof(mortise_SessionResponse{}.sealed.bytes));

static_assert(mortise_SessionIdentity_size + crypto::kCcmTagSize <= sizeof(mortise_SessionFinish{}.sealed_identity.bytes));
static_assert(kCookieSize == sizeof(mortise_SessionAccept{}.cookie.bytes));

constexpr uint8_t kTranscriptDomain[] = "mortise-session-v2";
constexpr uint8_t kLockSignDomain[] = "mortise-session-lock-v2";
constexpr uint8_t kHolderSignDomain[] = "mortise-session-holder-v2";
// HKDF info strings (no terminating zero).
template <size_t N>
constexpr std::span<const uint8_t> Info(const char (&s)[N]) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s), N - 1);
}
constexpr const char kHandshakeInfoText[] = "handshake secret";
constexpr const char kIdentityInfoText[] = "identity keys";
constexpr const char kKeyInfoText[] = "session keys";
constexpr const char kResumeInfoText[] = "resume keys";
constexpr const char kNextTicketInfoText[] = "next ticket";
const std::span<const uint8_t> kHandshakeInfo = Info(kHandshakeInfoText);
const std::span<const uint8_t> kKeyInfo = Info(kKeyInfoText);
const std::span<const uint8_t> kResumeInfo = Info(kResumeInfoText);
// CCM nonces' first byte: requests, responses, the sealed identity, the
// lock's verdict on message 3, cookies. Each key is used with one of them.
constexpr uint8_t kRequestDirection = 0x01;
constexpr uint8_t kResponseDirection = 0x02;
constexpr uint8_t kIdentityNonce = 0x03;
constexpr uint8_t kVerdictNonce = 0x04;
constexpr uint8_t kCookieNonce = 0x05;
// Cookie plaintext: issued (8 LE) || TH2 (32) || handshake secret (32).
constexpr size_t kCookiePlainSize = 8 + 32 + 32;
static_assert(kCookieSize == 8 + kCookiePlainSize + crypto::kCcmTagSize);

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

// K_id (seals message 3's identity) || K_verdict (authenticates the lock's
// refusal of message 3) = HKDF(salt = TH2, ikm = handshake secret).
Status DeriveIdentityKeys(const crypto::SecretBytes<32>& secret, const crypto::Digest& th2,
                          crypto::SecretBytes<16>& id_key, crypto::SecretBytes<16>& verdict_key) {
  crypto::SecretBytes<32> keys;
  MORTISE_TRY(crypto::HkdfSha256(th2, secret.span(), Info(kIdentityInfoText), keys.span()));
  std::memcpy(id_key.data(), keys.data(), 16);
  std::memcpy(verdict_key.data(), keys.data() + 16, 16);
  return Status::Ok();
}

// The ticket after a resumption: secret' || id' = HKDF(ikm = secret, info = "next ticket").
template <typename IdT>
Status NextTicket(crypto::SecretBytes<32>& secret, IdT& id) {
  crypto::SecretBytes<32 + kResumptionIdSize> next;
  MORTISE_TRY(crypto::HkdfSha256({}, secret.span(), Info(kNextTicketInfoText), next.span()));
  std::memcpy(secret.data(), next.data(), 32);
  std::memcpy(id.data(), next.data() + 32, kResumptionIdSize);
  return Status::Ok();
}

std::array<uint8_t, crypto::kCcmNonceSize> CookieNonce(uint64_t id) {
  std::array<uint8_t, crypto::kCcmNonceSize> n{};
  n[0] = kCookieNonce;
  internal::PutU64(n.data() + 1, id);
  return n;
}

std::array<uint8_t, crypto::kCcmNonceSize> IdentityNonce() {
  std::array<uint8_t, crypto::kCcmNonceSize> n{};
  n[0] = kIdentityNonce;
  return n;
}

// The lock's verdict on message 3: the CCM tag of nothing, with the code as
// associated data and in the nonce (each code its own nonce under K_verdict).
Status VerdictTag(const crypto::SecretBytes<16>& key, uint8_t code, std::span<uint8_t, crypto::kCcmTagSize> tag) {
  std::array<uint8_t, crypto::kCcmNonceSize> n{};
  n[0] = kVerdictNonce;
  n[1] = code;
  const uint8_t aad[1] = {code};
  return crypto::AesCcm128(key.span()).Encrypt(n, aad, {}, {}, tag);
}

crypto::Digest Snapshot(const crypto::Sha256& h) {
  crypto::Sha256 copy(h);
  crypto::Digest d{};
  copy.Final(d);
  return d;
}

// SHA-256(first || second): TH2 = H(TH || the lock's signature), which is
// message 2 without its cookie (its other fields are in TH already), and
// TH3 = H(TH2 || the encoded identity).
crypto::Digest Chained(const crypto::Digest& first, std::span<const uint8_t> second) {
  crypto::Sha256 h;
  h.Update(first);
  h.Update(second);
  return Snapshot(h);
}

// Whether `chain`'s last certificate names `holder` (no signature checked:
// a cheap filter before any P-256 work). False when it does not decode.
bool ChainNamesHolder(std::span<const uint8_t> chain_bytes, std::span<const uint8_t> holder) {
  uint8_t scratch[kMaxChainSize];
  mortise_KeyChain chain = mortise_KeyChain_init_zero;
  if (!internal::DecodeStrict(chain_bytes, mortise_KeyChain_fields, &chain, scratch).ok()) return false;
  if (chain.certs_count < 1 || chain.certs_count > 2) return false;
  CertificateFields leaf;
  if (!internal::DecodeCertificateWire(chain.certs[chain.certs_count - 1], leaf).ok()) return false;
  return holder.size() == leaf.holder_key.size() &&
         std::memcmp(holder.data(), leaf.holder_key.data(), holder.size()) == 0;
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

// `verdict_key`: set when the error answers a message 3 whose cookie opened.
Result<size_t> EncodeError(Status status, const crypto::SecretBytes<16>* verdict_key, std::span<uint8_t> out) {
  mortise_SessionMessage m = mortise_SessionMessage_init_zero;
  m.which_body = mortise_SessionMessage_error_tag;
  m.body.error.code = static_cast<uint32_t>(status.code());
  if (verdict_key != nullptr) {
    m.body.error.tag.size = crypto::kCcmTagSize;
    MORTISE_TRY(VerdictTag(*verdict_key, static_cast<uint8_t>(status.code()),
                           std::span<uint8_t, crypto::kCcmTagSize>(m.body.error.tag.bytes, crypto::kCcmTagSize)));
  }
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
      lock_.RecordKeyRefused(core::OperationSource::kProprietaryRemote, std::nullopt, *why);
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
