#include "mortise/crypto/pake.h"

#include <cstring>

#include "ecp_internal.h"
#include "mortise/crypto/kdf.h"

namespace mortise::crypto {
namespace {

using internal::Group;
using internal::Mpi;
using internal::Point;

// RFC 9383 section 4 / Matter: the P-256 points M and N, uncompressed. Their
// discrete logarithms are unknown (they are hashes to the curve of seeds).
constexpr uint8_t kM[kPakeShareSize] = {
    0x04, 0x88, 0x6e, 0x2f, 0x97, 0xac, 0xe4, 0x6e, 0x55, 0xba, 0x9d, 0xd7, 0x24, 0x25, 0x79,
    0xf2, 0x99, 0x3b, 0x64, 0xe1, 0x6e, 0xf3, 0xdc, 0xab, 0x95, 0xaf, 0xd4, 0x97, 0x33, 0x3d,
    0x8f, 0xa1, 0x2f, 0x5f, 0xf3, 0x55, 0x16, 0x3e, 0x43, 0xce, 0x22, 0x4e, 0x0b, 0x0e, 0x65,
    0xff, 0x02, 0xac, 0x8e, 0x5c, 0x7b, 0xe0, 0x94, 0x19, 0xc7, 0x85, 0xe0, 0xca, 0x54, 0x7d,
    0x55, 0xa1, 0x2e, 0x2d, 0x20};
constexpr uint8_t kN[kPakeShareSize] = {
    0x04, 0xd8, 0xbb, 0xd6, 0xc6, 0x39, 0xc6, 0x29, 0x37, 0xb0, 0x4d, 0x99, 0x7f, 0x38, 0xc3,
    0x77, 0x07, 0x19, 0xc6, 0x29, 0xd7, 0x01, 0x4d, 0x49, 0xa2, 0x4b, 0x4f, 0x98, 0xba, 0xa1,
    0x29, 0x2b, 0x49, 0x07, 0xd6, 0x0a, 0xa6, 0xbf, 0xad, 0xe4, 0x50, 0x08, 0xa6, 0x36, 0x33,
    0x7f, 0x51, 0x68, 0xc6, 0x4d, 0x9b, 0xd3, 0x60, 0x34, 0x80, 0x8c, 0xd5, 0x64, 0x49, 0x0b,
    0x1e, 0x65, 0x6e, 0xdb, 0xe7};

constexpr char kConfirmationKeysInfo[] = "ConfirmationKeys";
constexpr char kSharedKeyInfo[] = "SharedKey";

std::span<const uint8_t> Label(const char* s, size_t n) {
  return {reinterpret_cast<const uint8_t*>(s), n};
}

// Transcript fields are length-prefixed with 8-byte little-endian lengths.
void AppendField(Sha256& h, std::span<const uint8_t> field) {
  uint8_t len[8];
  uint64_t n = field.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  h.Update(len);
  h.Update(field);
}

// out = scalar * base + w0 * mask: the password-masked share.
Status MaskedShare(Group& grp, const Mpi& scalar, const Mpi& w0, const uint8_t* mask_bytes,
                   Drbg& drbg, std::span<uint8_t, kPakeShareSize> out) {
  Point mask, a, b, sum;
  MORTISE_TRY(internal::ReadPoint(grp, std::span<const uint8_t>(mask_bytes, kPakeShareSize), mask));
  MORTISE_TRY(internal::FromBackend(mbedtls_ecp_copy(b.get(), &grp.get()->G)));
  MORTISE_TRY(internal::Mul(grp, a, scalar, b, drbg));
  MORTISE_TRY(internal::Mul(grp, b, w0, mask, drbg));
  MORTISE_TRY(internal::Add(grp, sum, a, b));
  return internal::WritePoint(grp, sum, out);
}

// out = share - w0 * mask: removes the password mask from the peer's share.
// kInvalidArgument if the share is invalid or the result is the identity.
Status Unmask(Group& grp, std::span<const uint8_t> share, const Mpi& w0,
              const uint8_t* mask_bytes, Drbg& drbg, Point& out) {
  Point peer, mask, w0_mask;
  MORTISE_TRY(internal::ReadPoint(grp, share, peer));
  MORTISE_TRY(internal::ReadPoint(grp, std::span<const uint8_t>(mask_bytes, kPakeShareSize), mask));
  MORTISE_TRY(internal::Mul(grp, w0_mask, w0, mask, drbg));
  MORTISE_TRY(internal::Negate(grp, w0_mask));
  MORTISE_TRY(internal::Add(grp, out, peer, w0_mask));
  if (mbedtls_ecp_is_zero(out.get())) return StatusCode::kInvalidArgument;
  return Status::Ok();
}

// Reads a scalar in [0, n-1] from 40 bytes, reducing mod n.
Status ReduceWide(Group& grp, std::span<const uint8_t> wide, SecretBytes<32>& out) {
  Mpi v;
  if (mbedtls_mpi_read_binary(v.get(), wide.data(), wide.size()) != 0 ||
      mbedtls_mpi_mod_mpi(v.get(), v.get(), &grp.get()->N) != 0 ||
      mbedtls_mpi_write_binary(v.get(), out.data(), out.size()) != 0) {
    return StatusCode::kInternal;
  }
  return Status::Ok();
}

}  // namespace

Status DerivePakeProverSecret(std::span<const uint8_t> setup_code, std::span<const uint8_t> salt,
                              uint32_t iterations, PakeProverSecret& out) {
  if (setup_code.empty() || salt.size() < kPakeMinSaltSize || salt.size() > kPakeMaxSaltSize ||
      iterations < kPakeMinIterations || iterations > kPakeMaxIterations) {
    return StatusCode::kInvalidArgument;
  }
  Group grp;
  if (!grp.ok()) return StatusCode::kInternal;
  SecretBytes<80> ws;
  MORTISE_TRY(Pbkdf2HmacSha256(setup_code, salt, iterations, ws.span()));
  MORTISE_TRY(ReduceWide(grp, ws.span().first(40), out.w0));
  return ReduceWide(grp, ws.span().subspan(40), out.w1);
}

Status ComputePakeVerifier(const PakeProverSecret& secret, PakeVerifier& out) {
  Group grp;
  Mpi w1;
  MORTISE_TRY(internal::ReadScalar(grp, secret.w1.span(), w1));
  Point l;
  MORTISE_TRY(internal::FromBackend(
      mbedtls_ecp_mul(grp.get(), l.get(), w1.get(), &grp.get()->G, nullptr, nullptr)));
  MORTISE_TRY(internal::WritePoint(grp, l, out.L));
  out.w0 = secret.w0;
  return Status::Ok();
}

// --- PakeSession --------------------------------------------------------------

PakeSession::PakeSession(std::span<const uint8_t> context, std::span<const uint8_t> prover_id,
                         std::span<const uint8_t> verifier_id) {
  AppendField(transcript_, context);
  AppendField(transcript_, prover_id);
  AppendField(transcript_, verifier_id);
  AppendField(transcript_, kM);
  AppendField(transcript_, kN);
}

PakeSession::~PakeSession() = default;

Status PakeSession::SharedSecret(SecretBytes<kPakeSharedSecretSize>& out) const {
  if (state_ != State::kDone) return StatusCode::kFailedPrecondition;
  out = shared_;
  return Status::Ok();
}

void PakeSession::DeriveKeys(std::span<const uint8_t, kPakeShareSize> share_p,
                             std::span<const uint8_t, kPakeShareSize> share_v,
                             std::span<const uint8_t, kPakeShareSize> z,
                             std::span<const uint8_t, kPakeShareSize> v,
                             std::span<const uint8_t, 32> w0) {
  AppendField(transcript_, share_p);
  AppendField(transcript_, share_v);
  AppendField(transcript_, z);
  AppendField(transcript_, v);
  AppendField(transcript_, w0);
  SecretBytes<32> k_main;
  transcript_.Final(k_main.span());
  SecretBytes<64> confirm_keys;
  // Lengths are valid constants, so these cannot fail.
  HkdfSha256({}, k_main.span(), Label(kConfirmationKeysInfo, sizeof(kConfirmationKeysInfo) - 1),
             confirm_keys.span())
      .IgnoreError();
  std::memcpy(confirm_key_prover_.data(), confirm_keys.data(), 32);
  std::memcpy(confirm_key_verifier_.data(), confirm_keys.data() + 32, 32);
  HkdfSha256({}, k_main.span(), Label(kSharedKeyInfo, sizeof(kSharedKeyInfo) - 1), shared_.span())
      .IgnoreError();
  std::memcpy(share_p_.data(), share_p.data(), kPakeShareSize);
  std::memcpy(share_v_.data(), share_v.data(), kPakeShareSize);
}

void PakeSession::WipeKeys() {
  SecureZero(confirm_key_prover_.data(), confirm_key_prover_.size());
  SecureZero(confirm_key_verifier_.data(), confirm_key_verifier_.size());
  SecureZero(shared_.data(), shared_.size());
}

Status PakeSession::Fail(Status status) {
  WipeKeys();
  state_ = State::kFailed;
  return status;
}

// --- PakeClient -----------------------------------------------------------------

PakeClient::PakeClient(const PakeProverSecret& secret, std::span<const uint8_t> context,
                       std::span<const uint8_t> prover_id, std::span<const uint8_t> verifier_id)
    : PakeSession(context, prover_id, verifier_id), secret_(secret) {}

PakeClient::~PakeClient() = default;

Status PakeClient::Start(Drbg& drbg, std::span<uint8_t, kPakeShareSize> share_p) {
  if (state_ != State::kInit) return Fail(StatusCode::kFailedPrecondition);
  Status s = internal::CheckDrbg(drbg);
  if (!s.ok()) return Fail(s);
  Group grp;
  if (!grp.ok()) return Fail(StatusCode::kInternal);
  Mpi x;
  s = internal::FromBackend(mbedtls_ecp_gen_privkey(grp.get(), x.get(), &Drbg::BackendRandom, &drbg));
  if (!s.ok()) return Fail(s);
  SecretBytes<32> x_bytes;
  if (mbedtls_mpi_write_binary(x.get(), x_bytes.data(), x_bytes.size()) != 0) {
    return Fail(StatusCode::kInternal);
  }
  return StartWithEphemeral(x_bytes.span(), drbg, share_p);
}

Status PakeClient::StartWithEphemeral(std::span<const uint8_t, 32> x, Drbg& drbg,
                                      std::span<uint8_t, kPakeShareSize> share_p) {
  if (state_ != State::kInit) return Fail(StatusCode::kFailedPrecondition);
  Group grp;
  Mpi xm, w0;
  Status s = internal::ReadScalar(grp, x, xm);
  if (s.ok()) s = internal::ReadScalar(grp, secret_.w0.span(), w0);
  if (s.ok()) s = MaskedShare(grp, xm, w0, kM, drbg, share_p_);
  if (!s.ok()) return Fail(s);
  std::memcpy(x_.data(), x.data(), 32);
  std::memcpy(share_p.data(), share_p_.data(), kPakeShareSize);
  state_ = State::kStarted;
  return Status::Ok();
}

Status PakeClient::Finish(std::span<const uint8_t> server_message, Drbg& drbg,
                          std::span<uint8_t, kPakeConfirmSize> confirm_p) {
  if (state_ != State::kStarted) return Fail(StatusCode::kFailedPrecondition);
  if (server_message.size() != kPakeServerMessageSize) return Fail(StatusCode::kInvalidArgument);
  const auto share_v = server_message.first<kPakeShareSize>();
  const auto confirm_v = server_message.subspan<kPakeShareSize, kPakeConfirmSize>();

  Group grp;
  Mpi x, w0, w1;
  Point t, z, v;
  Status s = internal::ReadScalar(grp, x_.span(), x);
  if (s.ok()) s = internal::ReadScalar(grp, secret_.w0.span(), w0);
  if (s.ok()) s = Unmask(grp, share_v, w0, kN, drbg, t);
  if (s.ok()) s = internal::Mul(grp, z, x, t, drbg);
  if (s.ok()) s = internal::ReadScalar(grp, secret_.w1.span(), w1);
  if (s.ok()) s = internal::Mul(grp, v, w1, t, drbg);
  std::array<uint8_t, kPakeShareSize> z_bytes{}, v_bytes{};
  if (s.ok()) s = internal::WritePoint(grp, z, z_bytes);
  if (s.ok()) s = internal::WritePoint(grp, v, v_bytes);
  if (!s.ok()) return Fail(s);
  SecureZero(x_.data(), x_.size());

  DeriveKeys(share_p_, share_v, z_bytes, v_bytes, secret_.w0.span());
  SecureZero(z_bytes.data(), z_bytes.size());
  SecureZero(v_bytes.data(), v_bytes.size());

  // Check the server's confirmation before sending ours: a server that does
  // not know the verifier learns nothing from our MAC.
  Digest expected;
  HmacSha256(confirm_key_verifier_.span()).Mac(share_p_, expected);
  const bool match = ConstantTimeEqual(expected, confirm_v);
  if (!match) return Fail(StatusCode::kUnauthenticated);
  Digest mac;
  HmacSha256(confirm_key_prover_.span()).Mac(share_v_, mac);
  std::memcpy(confirm_p.data(), mac.data(), kPakeConfirmSize);
  state_ = State::kDone;
  return Status::Ok();
}

// --- PakeServer -----------------------------------------------------------------

PakeServer::PakeServer(const PakeVerifier& verifier, std::span<const uint8_t> context,
                       std::span<const uint8_t> prover_id, std::span<const uint8_t> verifier_id)
    : PakeSession(context, prover_id, verifier_id), verifier_(verifier) {}

PakeServer::~PakeServer() = default;

Status PakeServer::Respond(std::span<const uint8_t> client_share, Drbg& drbg,
                           std::span<uint8_t, kPakeServerMessageSize> out) {
  if (state_ != State::kInit) return Fail(StatusCode::kFailedPrecondition);
  Status s = internal::CheckDrbg(drbg);
  if (!s.ok()) return Fail(s);
  Group grp;
  if (!grp.ok()) return Fail(StatusCode::kInternal);
  Mpi y;
  s = internal::FromBackend(mbedtls_ecp_gen_privkey(grp.get(), y.get(), &Drbg::BackendRandom, &drbg));
  if (!s.ok()) return Fail(s);
  SecretBytes<32> y_bytes;
  if (mbedtls_mpi_write_binary(y.get(), y_bytes.data(), y_bytes.size()) != 0) {
    return Fail(StatusCode::kInternal);
  }
  return RespondWithEphemeral(client_share, y_bytes.span(), drbg, out);
}

Status PakeServer::RespondWithEphemeral(std::span<const uint8_t> client_share,
                                        std::span<const uint8_t, 32> y, Drbg& drbg,
                                        std::span<uint8_t, kPakeServerMessageSize> out) {
  if (state_ != State::kInit) return Fail(StatusCode::kFailedPrecondition);
  if (client_share.size() != kPakeShareSize) return Fail(StatusCode::kInvalidArgument);
  std::memcpy(share_p_.data(), client_share.data(), kPakeShareSize);

  Group grp;
  Mpi ym, w0;
  Point t, z, v, l;
  Status s = internal::ReadScalar(grp, y, ym);
  if (s.ok()) s = internal::ReadScalar(grp, verifier_.w0.span(), w0);
  if (s.ok()) s = Unmask(grp, share_p_, w0, kM, drbg, t);
  if (s.ok()) s = MaskedShare(grp, ym, w0, kN, drbg, share_v_);
  if (s.ok()) s = internal::Mul(grp, z, ym, t, drbg);
  if (s.ok()) s = internal::ReadPoint(grp, verifier_.L, l);
  if (s.ok()) s = internal::Mul(grp, v, ym, l, drbg);
  std::array<uint8_t, kPakeShareSize> z_bytes{}, v_bytes{};
  if (s.ok()) s = internal::WritePoint(grp, z, z_bytes);
  if (s.ok()) s = internal::WritePoint(grp, v, v_bytes);
  if (!s.ok()) return Fail(s);

  DeriveKeys(share_p_, share_v_, z_bytes, v_bytes, verifier_.w0.span());
  SecureZero(z_bytes.data(), z_bytes.size());
  SecureZero(v_bytes.data(), v_bytes.size());

  Digest confirm_v;
  HmacSha256(confirm_key_verifier_.span()).Mac(share_p_, confirm_v);
  std::memcpy(out.data(), share_v_.data(), kPakeShareSize);
  std::memcpy(out.data() + kPakeShareSize, confirm_v.data(), kPakeConfirmSize);
  state_ = State::kAwaitConfirm;
  return Status::Ok();
}

Status PakeServer::Confirm(std::span<const uint8_t> confirm_p) {
  if (state_ != State::kAwaitConfirm) return Fail(StatusCode::kFailedPrecondition);
  if (confirm_p.size() != kPakeConfirmSize) return Fail(StatusCode::kInvalidArgument);
  Digest expected;
  HmacSha256(confirm_key_prover_.span()).Mac(share_v_, expected);
  if (!ConstantTimeEqual(expected, confirm_p)) return Fail(StatusCode::kUnauthenticated);
  state_ = State::kDone;
  return Status::Ok();
}

}  // namespace mortise::crypto
