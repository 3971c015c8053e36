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

Result<ClaimLabel> ProvisionSetupCode(const LockIdentity& identity, core::DurableStore& store, crypto::Drbg& drbg,
                                      uint32_t iterations) {
  if (iterations < crypto::kPakeMinIterations || iterations > crypto::kPakeMaxIterations) {
    return StatusCode::kInvalidArgument;
  }
  MORTISE_ASSIGN_OR_RETURN(const uint32_t code, GenerateSetupCode(drbg));
  return ProvisionSetupCode(identity, store, drbg, code, iterations);
}

Result<ClaimLabel> ProvisionSetupCode(const LockIdentity& identity, core::DurableStore& store, crypto::Drbg& drbg,
                                      uint32_t code, uint32_t iterations) {
  if (iterations < crypto::kPakeMinIterations || iterations > crypto::kPakeMaxIterations || IsTrivialSetupCode(code)) {
    return StatusCode::kInvalidArgument;
  }
  uint8_t salt[crypto::kPakeMaxSaltSize];
  MORTISE_TRY(drbg.Generate(salt));
  const std::array<char, kSetupCodeDigits> digits = SetupCodeDigits(code);
  crypto::PakeProverSecret secret;
  MORTISE_TRY(crypto::DerivePakeProverSecret(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(digits.data()), digits.size()), salt, iterations,
      secret));
  crypto::PakeVerifier verifier;
  MORTISE_TRY(crypto::ComputePakeVerifier(secret, verifier));

  crypto::SecretBytes<kVerifierRecordSize> record;
  uint8_t* r = record.data();
  r[0] = kVerifierFormat;
  internal::PutU32(r + 1, iterations);
  r[5] = static_cast<uint8_t>(sizeof(salt));
  std::memcpy(r + 6, salt, sizeof(salt));
  std::memcpy(r + 6 + crypto::kPakeMaxSaltSize, verifier.w0.data(), 32);
  std::memcpy(r + 6 + crypto::kPakeMaxSaltSize + 32, verifier.L.data(), crypto::kPakeShareSize);
  MORTISE_TRY(store.Write(kVerifierKey, record.span()));

  ClaimLabel label;
  label.lock_id = identity.lock_id();
  label.key_hash = identity.key_hash();
  label.setup_code = code;
  return label;
}

Result<bool> SetupCodeProvisioned(core::DurableStore& store) {
  StoredVerifier v;
  const Status s = LoadVerifier(store, v);
  if (s.code() == StatusCode::kNotFound) return false;
  if (!s.ok()) return s;
  return true;
}

// --- Lock side -----------------------------------------------------------------

Status ClaimServer::OpenWindow(uint64_t now_ms) { return Open(now_ms, /*fresh_budget=*/true); }

Status ClaimServer::ResumeWindow(uint64_t now_ms) { return Open(now_ms, /*fresh_budget=*/false); }

Status ClaimServer::Open(uint64_t now_ms, bool fresh_budget) {
  if (!authority_.started()) return StatusCode::kFailedPrecondition;
  if (authority_.claimed()) return StatusCode::kAlreadyExists;
  StoredVerifier v;
  if (!LoadVerifier(store_, v).ok()) return StatusCode::kFailedPrecondition;
  Abandon();
  state_ = State::kClosed;
  // The budget lives in the store: runs spent since the last physical
  // opening. A fresh budget moves the base up to the runs so far (counters
  // only grow); a restart keeps the base.
  MORTISE_ASSIGN_OR_RETURN(const uint64_t runs, store_.ReadCounter(kCounterClaimRuns));
  MORTISE_ASSIGN_OR_RETURN(uint64_t base, store_.ReadCounter(kCounterClaimWindowBase));
  if (fresh_budget && runs > base) {
    MORTISE_ASSIGN_OR_RETURN(base, store_.IncrementCounter(kCounterClaimWindowBase, runs - base));
  }
  const uint64_t spent = runs > base ? runs - base : 0;
  attempts_ = static_cast<uint8_t>(spent < kMaxClaimAttempts ? spent : kMaxClaimAttempts);
  if (attempts_ >= kMaxClaimAttempts) return Status::Ok();  // spent: closed until a physical action
  state_ = State::kOpen;
  deadline_ms_ = now_ms + kClaimWindowMs;
  return Status::Ok();
}

bool ClaimServer::window_open(uint64_t now_ms) const {
  return state_ != State::kClosed && now_ms < deadline_ms_ && !authority_.claimed();
}

bool ClaimServer::ExchangeInProgress(uint64_t now_ms) const {
  return (state_ == State::kAwaitShare || state_ == State::kAwaitFinish) && now_ms < step_deadline_ms_;
}

void ClaimServer::Abandon() {
  pake_.reset();
  transcript_ = crypto::Sha256();
  if (state_ != State::kClosed) state_ = State::kOpen;
}

Result<size_t> ClaimServer::Handle(std::span<const uint8_t> message, uint64_t now_ms, std::span<uint8_t> reply) {
  if (reply.size() < kMaxClaimMessageSize) return StatusCode::kResourceExhausted;
  size_t len = 0;
  bool stray = false;
  last_status_ = Step(message, now_ms, reply, len, stray);
  if (last_status_.ok()) return len;
  if (last_status_.code() == StatusCode::kResourceExhausted) state_ = State::kClosed;
  if (!stray) Abandon();
  mortise_ClaimMessage m = mortise_ClaimMessage_init_zero;
  m.which_body = mortise_ClaimMessage_error_tag;
  m.body.error.code = static_cast<uint32_t>(last_status_.code());
  return EncodeMessage(m, reply);
}

Status ClaimServer::Step(std::span<const uint8_t> bytes, uint64_t now_ms, std::span<uint8_t> reply, size_t& len,
                         bool& stray) {
  if (!window_open(now_ms)) {
    state_ = State::kClosed;
    return StatusCode::kFailedPrecondition;
  }
  // Datagrams carry no client identity: while an exchange is in progress,
  // anything that is not its next step is someone else's and must not end
  // it.
  const bool busy = ExchangeInProgress(now_ms);
  mortise_ClaimMessage in;
  if (Status s = DecodeMessage(bytes, in); !s.ok()) {
    stray = busy;
    return s;
  }
  const bool next_step = (in.which_body == mortise_ClaimMessage_share_tag && state_ == State::kAwaitShare) ||
                         (in.which_body == mortise_ClaimMessage_finish_tag && state_ == State::kAwaitFinish);
  if (busy && !next_step) {
    stray = true;
    // Another client's hello waits until this exchange ends or stalls for
    // kClaimStepTimeoutMs: nobody in reach can abort a claim with a hello,
    // and a stuck client cannot hold the window longer than that.
    return in.which_body == mortise_ClaimMessage_hello_tag ? StatusCode::kUnavailable
                                                           : StatusCode::kFailedPrecondition;
  }
  mortise_ClaimMessage out = mortise_ClaimMessage_init_zero;

  if (in.which_body == mortise_ClaimMessage_hello_tag) {
    // A hello (no exchange in progress, or a stalled one) starts afresh.
    Abandon();
    if (in.body.hello.version != kClaimVersion) return StatusCode::kInvalidArgument;
    StoredVerifier v;
    if (!LoadVerifier(store_, v).ok()) return StatusCode::kFailedPrecondition;
    // A run is counted when it starts, at its hello: every PAKE run is one
    // guess of the setup code for an active attacker, whether or not it
    // completes, and a hello holds the exchange for up to
    // kClaimStepTimeoutMs, so holding the window costs runs too (an attacker
    // re-sending hellos spends the window's 20 runs, the documented
    // residual, instead of holding it for free). Counted durably before the
    // lock answers (a store failure refuses the run: fail closed), so a
    // restart cannot give the run back.
    if (attempts_ >= kMaxClaimAttempts) return StatusCode::kResourceExhausted;
    MORTISE_TRY(store_.IncrementCounter(kCounterClaimRuns).status());
    ++attempts_;
    transcript_.Update(std::span<const uint8_t>(kTranscriptDomain, sizeof(kTranscriptDomain)));
    transcript_.Update(bytes);
    out.which_body = mortise_ClaimMessage_params_tag;
    out.body.params.version = kClaimVersion;
    internal::SetBytes(out.body.params.lock_id, authority_.identity().lock_id());
    internal::SetBytes(out.body.params.salt, std::span<const uint8_t>(v.salt, v.salt_len));
    out.body.params.iterations = v.iterations;
    MORTISE_ASSIGN_OR_RETURN(len, EncodeMessage(out, reply));
    transcript_.Update(reply.first(len));
    state_ = State::kAwaitShare;
    step_deadline_ms_ = now_ms + kClaimStepTimeoutMs;
    return Status::Ok();
  }

  if (in.which_body == mortise_ClaimMessage_share_tag) {
    if (state_ != State::kAwaitShare) return StatusCode::kFailedPrecondition;
    StoredVerifier v;
    if (!LoadVerifier(store_, v).ok()) return StatusCode::kFailedPrecondition;
    context_hash_ = Snapshot(transcript_);
    const PakeContext context(context_hash_);
    pake_.emplace(v.verifier, context.bytes, kProverId, authority_.identity().lock_id());
    out.which_body = mortise_ClaimMessage_pake_response_tag;
    out.body.pake_response.share_v_confirm.size = crypto::kPakeServerMessageSize;
    MORTISE_TRY(pake_->Respond(
        std::span<const uint8_t>(in.body.share.share_p.bytes, in.body.share.share_p.size), authority_.drbg(),
        std::span<uint8_t, crypto::kPakeServerMessageSize>(out.body.pake_response.share_v_confirm.bytes,
                                                           crypto::kPakeServerMessageSize)));
    transcript_.Update(bytes);
    MORTISE_ASSIGN_OR_RETURN(len, EncodeMessage(out, reply));
    transcript_.Update(reply.first(len));
    state_ = State::kAwaitFinish;
    step_deadline_ms_ = now_ms + kClaimStepTimeoutMs;
    return Status::Ok();
  }

  if (in.which_body == mortise_ClaimMessage_finish_tag) {
    if (state_ != State::kAwaitFinish || !pake_) return StatusCode::kFailedPrecondition;
    const mortise_ClaimFinish& f = in.body.finish;
    MORTISE_TRY(pake_->Confirm(std::span<const uint8_t>(f.confirm_p.bytes, f.confirm_p.size)));
    crypto::SecretBytes<crypto::kPakeSharedSecretSize> shared;
    MORTISE_TRY(pake_->SharedSecret(shared));
    const crypto::Digest th4 = Snapshot(transcript_);
    crypto::SecretBytes<16> c2l, l2c;
    MORTISE_TRY(DeriveKeys(shared, th4, c2l, l2c));
    // Lengths are checked before anything is decrypted.
    if (f.sealed_owner.size != kOwnerSealedSize) return StatusCode::kInvalidArgument;
    uint8_t owner_bytes[crypto::kP256PublicKeySize];
    MORTISE_TRY(crypto::AesCcm128(c2l.span())
                    .Open(kNonce, th4, std::span<const uint8_t>(f.sealed_owner.bytes, f.sealed_owner.size),
                          owner_bytes));
    Result<crypto::P256PublicKey> owner = crypto::P256PublicKey::Import(owner_bytes);
    if (!owner.ok()) return StatusCode::kInvalidArgument;
    transcript_.Update(bytes);
    const crypto::Digest th5 = Snapshot(transcript_);

    crypto::SecretBytes<kOfflinePinSecretSize> pin;
    MORTISE_TRY(authority_.drbg().Generate(pin.span()));
    // Durable before the owner hears of success. The core gets the secret
    // first: should installing the owner then fail, the core holds a random
    // secret nobody knows, which opens nothing.
    if (lock_ != nullptr) MORTISE_TRY(lock_->SetOfflinePinSecret(pin.span()));
    MORTISE_TRY(authority_.InstallOwner(*owner, pin.span()));
    const uint64_t floor = authority_.access_list_floor();
    const uint32_t generation = authority_.claim_generation();
    const Proof proof(th5, *owner, floor, generation);
    crypto::P256Signature sig{};
    MORTISE_TRY(authority_.identity().key().Sign(proof.bytes, sig, authority_.drbg()));

    crypto::SecretBytes<kResultPlainSize> plain;
    uint8_t* p = plain.data();
    std::memcpy(p, authority_.identity().public_key().bytes().data(), crypto::kP256PublicKeySize);
    std::memcpy(p + crypto::kP256PublicKeySize, sig.data(), sig.size());
    std::memcpy(p + crypto::kP256PublicKeySize + crypto::kP256SignatureSize, pin.data(), kOfflinePinSecretSize);
    internal::PutU64(p + kResultFloorAt, floor);
    internal::PutU32(p + kResultFloorAt + 8, generation);
    out.which_body = mortise_ClaimMessage_result_tag;
    out.body.result.sealed.size = kResultSealedSize;
    MORTISE_TRY(crypto::AesCcm128(l2c.span())
                    .Seal(kNonce, th5, plain.span(), std::span<uint8_t>(out.body.result.sealed.bytes, kResultSealedSize)));
    MORTISE_ASSIGN_OR_RETURN(len, EncodeMessage(out, reply));
    pake_.reset();
    state_ = State::kClosed;  // claimed: the window is over
    return Status::Ok();
  }
  return StatusCode::kFailedPrecondition;  // a lock never accepts lock-to-owner messages
}

}  // namespace mortise::protocol
