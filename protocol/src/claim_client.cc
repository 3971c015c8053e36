// Claiming, owner side (ClaimClient) and the setup code and label text forms:
// no lock engine needed. The lock side is claim.cc; both share claim_shared.h.
#include "mortise/protocol/claim.h"

#include <cstring>

#include "mortise/protocol/base64url.h"
#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/records.h"
#include "mortise/text.h"
#include "claim_shared.h"

namespace mortise::protocol {

using namespace claim_detail;  // NOLINT: this file's own helpers

// --- Setup code and label ------------------------------------------------------

bool IsTrivialSetupCode(uint32_t code) {
  if (code >= kSetupCodeModulus) return true;
  uint8_t d[kSetupCodeDigits];
  for (size_t i = 0; i < kSetupCodeDigits; ++i) d[i] = Digit(code, i);
  // Runs: a constant step of +1 or -1 modulo 10 (0 covers repeated digits).
  for (int step : {0, 1, 9}) {
    bool run = true;
    for (size_t i = 1; i < kSetupCodeDigits && run; ++i) run = d[i] == (d[i - 1] + step) % 10;
    if (run) return true;
  }
  for (size_t period = 2; period <= 4; ++period) {
    bool repeats = true;
    for (size_t i = period; i < kSetupCodeDigits && repeats; ++i) repeats = d[i] == d[i - period];
    if (repeats) return true;
  }
  return false;
}

Result<uint32_t> GenerateSetupCode(crypto::Drbg& drbg) {
  // Rejection sampling on 30 bits keeps the code uniform over the
  // non-trivial codes; 2^30 / 10^9 leaves a 7 % rejection rate, so 64 draws
  // all failing has probability below 2^-240.
  for (int i = 0; i < 64; ++i) {
    uint8_t b[4];
    MORTISE_TRY(drbg.Generate(b));
    const uint32_t v = internal::GetU32(b) & ((1u << 30) - 1);
    if (!IsTrivialSetupCode(v)) return v;
  }
  return StatusCode::kUnavailable;
}

std::array<char, kSetupCodeDigits> SetupCodeDigits(uint32_t code) {
  std::array<char, kSetupCodeDigits> out{};
  for (size_t i = 0; i < kSetupCodeDigits; ++i) out[i] = static_cast<char>('0' + Digit(code, i));
  return out;
}

Result<size_t> EncodeLabel(const ClaimLabel& label, std::span<char> out) {
  if (IsTrivialSetupCode(label.setup_code)) return StatusCode::kInvalidArgument;
  if (out.size() < kLabelTextSize) return StatusCode::kResourceExhausted;
  uint8_t bin[kLabelBinarySize];
  bin[0] = static_cast<uint8_t>(kClaimVersion);
  std::memcpy(bin + 1, label.lock_id.data(), kLockIdSize);
  std::memcpy(bin + 1 + kLockIdSize, label.key_hash.data(), kKeyIdSize);
  for (int i = 0; i < 4; ++i) bin[1 + kLockIdSize + kKeyIdSize + i] = static_cast<uint8_t>(label.setup_code >> (24 - 8 * i));
  for (size_t i = 0; i < kLabelPrefix.size(); ++i) out[i] = kLabelPrefix[i];
  MORTISE_ASSIGN_OR_RETURN(const size_t n, Base64UrlEncode(bin, out.subspan(kLabelPrefix.size())));
  return kLabelPrefix.size() + n;
}

Result<ClaimLabel> ParseLabel(std::string_view text) {
  if (text.size() != kLabelTextSize || !HasPrefix(text, kLabelPrefix)) {
    return StatusCode::kInvalidArgument;
  }
  uint8_t bin[kLabelBinarySize];
  Result<size_t> n = Base64UrlDecode(DropPrefix(text, kLabelPrefix.size()), bin);
  if (!n.ok() || *n != kLabelBinarySize || bin[0] != kClaimVersion) return StatusCode::kInvalidArgument;
  ClaimLabel label;
  std::memcpy(label.lock_id.data(), bin + 1, kLockIdSize);
  std::memcpy(label.key_hash.data(), bin + 1 + kLockIdSize, kKeyIdSize);
  label.setup_code = 0;
  for (int i = 0; i < 4; ++i) label.setup_code = (label.setup_code << 8) | bin[1 + kLockIdSize + kKeyIdSize + i];
  if (IsTrivialSetupCode(label.setup_code)) return StatusCode::kInvalidArgument;
  return label;
}

// --- Owner side ----------------------------------------------------------------

Result<size_t> ClaimClient::Start(std::span<uint8_t> out) {
  if (state_ != State::kInit) return StatusCode::kFailedPrecondition;
  mortise_ClaimMessage m = mortise_ClaimMessage_init_zero;
  m.which_body = mortise_ClaimMessage_hello_tag;
  m.body.hello.version = kClaimVersion;
  MORTISE_ASSIGN_OR_RETURN(const size_t len, EncodeMessage(m, out));
  transcript_.Update(std::span<const uint8_t>(kTranscriptDomain, sizeof(kTranscriptDomain)));
  transcript_.Update(out.first(len));
  state_ = State::kAwaitParams;
  return len;
}

Result<size_t> ClaimClient::Handle(std::span<const uint8_t> reply, std::span<uint8_t> out) {
  size_t len = 0;
  const Status s = Step(reply, out, len);
  if (!s.ok()) {
    state_ = State::kFailed;
    pake_.reset();
    return s;
  }
  return len;
}

Status ClaimClient::Step(std::span<const uint8_t> bytes, std::span<uint8_t> out, size_t& len) {
  if (state_ == State::kInit || state_ == State::kDone || state_ == State::kFailed) {
    return StatusCode::kFailedPrecondition;
  }
  mortise_ClaimMessage in;
  MORTISE_TRY(DecodeMessage(bytes, in));
  if (in.which_body == mortise_ClaimMessage_error_tag) {
    const uint32_t code = in.body.error.code;
    if (code == 0 || code > static_cast<uint32_t>(StatusCode::kUnimplemented)) return StatusCode::kInvalidArgument;
    return static_cast<StatusCode>(code);
  }
  mortise_ClaimMessage m = mortise_ClaimMessage_init_zero;

  if (state_ == State::kAwaitParams) {
    if (in.which_body != mortise_ClaimMessage_params_tag) return StatusCode::kFailedPrecondition;
    const mortise_ClaimParams& p = in.body.params;
    if (p.version != kClaimVersion) return StatusCode::kInvalidArgument;
    // The first pin: the device must claim the lock id printed on the label.
    if (p.lock_id.size != kLockIdSize || std::memcmp(p.lock_id.bytes, label_.lock_id.data(), kLockIdSize) != 0) {
      return StatusCode::kUnauthenticated;
    }
    if (p.salt.size < crypto::kPakeMinSaltSize || p.salt.size > crypto::kPakeMaxSaltSize ||
        p.iterations < crypto::kPakeMinIterations || p.iterations > crypto::kPakeMaxIterations) {
      return StatusCode::kInvalidArgument;
    }
    transcript_.Update(bytes);
    context_hash_ = Snapshot(transcript_);
    const std::array<char, kSetupCodeDigits> digits = SetupCodeDigits(label_.setup_code);
    crypto::PakeProverSecret secret;
    MORTISE_TRY(crypto::DerivePakeProverSecret(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(digits.data()), digits.size()),
        std::span<const uint8_t>(p.salt.bytes, p.salt.size), p.iterations, secret));
    const PakeContext context(context_hash_);
    pake_.emplace(secret, context.bytes, kProverId, label_.lock_id);
    m.which_body = mortise_ClaimMessage_share_tag;
    m.body.share.share_p.size = crypto::kPakeShareSize;
    MORTISE_TRY(pake_->Start(drbg_, std::span<uint8_t, crypto::kPakeShareSize>(m.body.share.share_p.bytes,
                                                                                crypto::kPakeShareSize)));
    MORTISE_ASSIGN_OR_RETURN(len, EncodeMessage(m, out));
    transcript_.Update(out.first(len));
    state_ = State::kAwaitPake;
    return Status::Ok();
  }

  if (state_ == State::kAwaitPake) {
    if (in.which_body != mortise_ClaimMessage_pake_response_tag || !pake_) return StatusCode::kFailedPrecondition;
    const auto& r = in.body.pake_response.share_v_confirm;
    m.which_body = mortise_ClaimMessage_finish_tag;
    m.body.finish.confirm_p.size = crypto::kPakeConfirmSize;
    MORTISE_TRY(pake_->Finish(std::span<const uint8_t>(r.bytes, r.size), drbg_,
                              std::span<uint8_t, crypto::kPakeConfirmSize>(m.body.finish.confirm_p.bytes,
                                                                           crypto::kPakeConfirmSize)));
    crypto::SecretBytes<crypto::kPakeSharedSecretSize> shared;
    MORTISE_TRY(pake_->SharedSecret(shared));
    transcript_.Update(bytes);
    const crypto::Digest th4 = Snapshot(transcript_);
    crypto::SecretBytes<16> c2l;
    MORTISE_TRY(DeriveKeys(shared, th4, c2l, key_l2c_));
    m.body.finish.sealed_owner.size = kOwnerSealedSize;
    MORTISE_TRY(crypto::AesCcm128(c2l.span())
                    .Seal(kNonce, th4, owner_.public_key().bytes(),
                          std::span<uint8_t>(m.body.finish.sealed_owner.bytes, kOwnerSealedSize)));
    MORTISE_ASSIGN_OR_RETURN(len, EncodeMessage(m, out));
    transcript_.Update(out.first(len));
    transcript_hash_ = Snapshot(transcript_);
    state_ = State::kAwaitResult;
    return Status::Ok();
  }

  // kAwaitResult
  if (in.which_body != mortise_ClaimMessage_result_tag) return StatusCode::kFailedPrecondition;
  const auto& sealed = in.body.result.sealed;
  if (sealed.size != kResultSealedSize) return StatusCode::kInvalidArgument;
  crypto::SecretBytes<kResultPlainSize> plain;
  MORTISE_TRY(crypto::AesCcm128(key_l2c_.span())
                  .Open(kNonce, transcript_hash_, std::span<const uint8_t>(sealed.bytes, sealed.size), plain.span()));
  const uint8_t* p = plain.data();
  Result<crypto::P256PublicKey> lock_key =
      crypto::P256PublicKey::Import(std::span<const uint8_t>(p, crypto::kP256PublicKeySize));
  if (!lock_key.ok()) return StatusCode::kUnauthenticated;
  // The second pin: the key must hash to what the label says.
  if (KeyIdOf(*lock_key) != label_.key_hash || LockIdOf(*lock_key) != label_.lock_id) {
    return StatusCode::kUnauthenticated;
  }
  const uint64_t floor = internal::GetU64(p + kResultFloorAt);
  const uint32_t generation = internal::GetU32(p + kResultFloorAt + 8);
  ClaimProof proof;
  proof.transcript_hash = transcript_hash_;
  std::memcpy(proof.signature.data(), p + crypto::kP256PublicKeySize, crypto::kP256SignatureSize);
  proof.access_list_floor = floor;
  proof.claim_generation = generation;
  MORTISE_TRY(VerifyClaimProof(*lock_key, owner_.public_key(), proof));
  proof_ = proof;
  std::memcpy(pin_secret_.data(), p + crypto::kP256PublicKeySize + crypto::kP256SignatureSize, kOfflinePinSecretSize);
  floor_ = floor;
  generation_ = generation;
  lock_key_.emplace(*lock_key);
  pake_.reset();
  state_ = State::kDone;
  len = 0;
  return Status::Ok();
}

std::array<uint8_t, kClaimProofMessageSize> ClaimProofMessage(const crypto::Digest& transcript_hash,
                                                              const crypto::P256PublicKey& owner,
                                                              uint64_t access_list_floor, uint32_t claim_generation) {
  static_assert(sizeof(Proof::bytes) == kClaimProofMessageSize);
  const Proof proof(transcript_hash, owner, access_list_floor, claim_generation);
  std::array<uint8_t, kClaimProofMessageSize> out{};
  std::memcpy(out.data(), proof.bytes, out.size());
  return out;
}

Status VerifyClaimProof(const crypto::P256PublicKey& lock_key, const crypto::P256PublicKey& owner,
                        const ClaimProof& proof) {
  const auto message = ClaimProofMessage(proof.transcript_hash, owner, proof.access_list_floor, proof.claim_generation);
  if (!lock_key.Verify(message, proof.signature).ok()) return StatusCode::kUnauthenticated;
  return Status::Ok();
}

}  // namespace mortise::protocol
