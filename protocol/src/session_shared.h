// The session protocol's constants and derivations, shared by the lock side
// (session.cc) and the client side (session_client.cc). Internal to the module.
#pragma once

#include "mortise/protocol/session.h"
#include <cstring>
#include "certificate_internal.h"
#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/core/attributes.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"

namespace mortise::protocol::session_detail {


static_assert(mortise_SessionMessage_size == kMaxSessionMessageSize);
static_assert(kMaxRevalidationTokenSize <= sizeof(mortise_SessionIdentity{}.revalidation.bytes));
static_assert(kMaxChainSize <= sizeof(mortise_SessionIdentity{}.chain.bytes));
static_assert(mortise_Request_size + crypto::kCcmTagSize <= sizeof(mortise_SessionRequest{}.sealed.bytes));
static_assert(mortise_Response_size + crypto::kCcmTagSize <= sizeof(mortise_SessionResponse{}.sealed.bytes));

static_assert(mortise_SessionIdentity_size + crypto::kCcmTagSize <= sizeof(mortise_SessionFinish{}.sealed_identity.bytes));
static_assert(kCookieSize == sizeof(mortise_SessionAccept{}.cookie.bytes));

inline constexpr uint8_t kTranscriptDomain[] = "mortise-session-v2";
inline constexpr uint8_t kLockSignDomain[] = "mortise-session-lock-v2";
inline constexpr uint8_t kHolderSignDomain[] = "mortise-session-holder-v2";
// HKDF info strings (no terminating zero).
template <size_t N>
constexpr std::span<const uint8_t> Info(const char (&s)[N]) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s), N - 1);
}
inline constexpr const char kHandshakeInfoText[] = "handshake secret";
inline constexpr const char kIdentityInfoText[] = "identity keys";
inline constexpr const char kKeyInfoText[] = "session keys";
inline constexpr const char kResumeInfoText[] = "resume keys";
inline constexpr const char kNextTicketInfoText[] = "next ticket";
inline const std::span<const uint8_t> kHandshakeInfo = Info(kHandshakeInfoText);
inline const std::span<const uint8_t> kKeyInfo = Info(kKeyInfoText);
inline const std::span<const uint8_t> kResumeInfo = Info(kResumeInfoText);
// CCM nonces' first byte: requests, responses, the sealed identity, the
// lock's verdict on message 3, cookies. Each key is used with one of them.
inline constexpr uint8_t kRequestDirection = 0x01;
inline constexpr uint8_t kResponseDirection = 0x02;
inline constexpr uint8_t kIdentityNonce = 0x03;
inline constexpr uint8_t kVerdictNonce = 0x04;
inline constexpr uint8_t kCookieNonce = 0x05;
// Cookie plaintext: issued (8 LE) || TH2 (32) || handshake secret (32).
inline constexpr size_t kCookiePlainSize = 8 + 32 + 32;
static_assert(kCookieSize == 8 + kCookiePlainSize + crypto::kCcmTagSize);

// Session key material: c2l 16 || l2c 16 || resumption secret 32 ||
// resumption id 16 || session id 8.
inline constexpr size_t kOkmSize = 16 + 16 + 32 + kResumptionIdSize + kSessionIdSize;

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
inline std::array<uint8_t, crypto::kCcmNonceSize> Nonce(uint8_t direction, uint32_t counter) {
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
inline Status DeriveIdentityKeys(const crypto::SecretBytes<32>& secret, const crypto::Digest& th2,
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

inline std::array<uint8_t, crypto::kCcmNonceSize> CookieNonce(uint64_t id) {
  std::array<uint8_t, crypto::kCcmNonceSize> n{};
  n[0] = kCookieNonce;
  internal::PutU64(n.data() + 1, id);
  return n;
}

inline std::array<uint8_t, crypto::kCcmNonceSize> IdentityNonce() {
  std::array<uint8_t, crypto::kCcmNonceSize> n{};
  n[0] = kIdentityNonce;
  return n;
}

// The lock's verdict on message 3: the CCM tag of nothing, with the code as
// associated data and in the nonce (each code its own nonce under K_verdict).
inline Status VerdictTag(const crypto::SecretBytes<16>& key, uint8_t code, std::span<uint8_t, crypto::kCcmTagSize> tag) {
  std::array<uint8_t, crypto::kCcmNonceSize> n{};
  n[0] = kVerdictNonce;
  n[1] = code;
  const uint8_t aad[1] = {code};
  return crypto::AesCcm128(key.span()).Encrypt(n, aad, {}, {}, tag);
}

inline crypto::Digest Snapshot(const crypto::Sha256& h) {
  crypto::Sha256 copy(h);
  crypto::Digest d{};
  copy.Final(d);
  return d;
}

// SHA-256(first || second): TH2 = H(TH || the lock's signature), which is
// message 2 without its cookie (its other fields are in TH already), and
// TH3 = H(TH2 || the encoded identity).
inline crypto::Digest Chained(const crypto::Digest& first, std::span<const uint8_t> second) {
  crypto::Sha256 h;
  h.Update(first);
  h.Update(second);
  return Snapshot(h);
}

// Whether `chain`'s last certificate names `holder` (no signature checked:
// a cheap filter before any P-256 work). False when it does not decode.
inline bool ChainNamesHolder(std::span<const uint8_t> chain_bytes, std::span<const uint8_t> holder) {
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
inline crypto::Digest LockTranscript(const crypto::Sha256& hello_hash, std::span<const uint8_t> lock_key,
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

inline Status DeriveResume(std::span<const uint8_t> secret, std::span<const uint8_t> client_nonce, uint32_t counter,
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

inline Status DecodeSession(std::span<const uint8_t> in, mortise_SessionMessage& m) {
  uint8_t scratch[kMaxSessionMessageSize];
  m = mortise_SessionMessage_init_zero;
  return internal::DecodeStrict(in, mortise_SessionMessage_fields, &m, scratch);
}

inline Result<size_t> EncodeSession(const mortise_SessionMessage& m, std::span<uint8_t> out) {
  return internal::Encode(mortise_SessionMessage_fields, &m, out);
}

// `verdict_key`: set when the error answers a message 3 whose cookie opened.
inline Result<size_t> EncodeError(Status status, const crypto::SecretBytes<16>* verdict_key, std::span<uint8_t> out) {
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

inline Status ErrorStatus(uint32_t code) {
  if (code == 0 || code > static_cast<uint32_t>(StatusCode::kUnimplemented)) return StatusCode::kInvalidArgument;
  return static_cast<StatusCode>(code);
}

template <typename BytesT>
std::span<const uint8_t> View(const BytesT& b) {
  return std::span<const uint8_t>(b.bytes, b.size);
}

}  // namespace mortise::protocol::session_detail
