#include "mortise/protocol/claim.h"

#include <cstring>

#include "base64url.h"
#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/records.h"
#include "mortise/text.h"

namespace mortise::protocol {
namespace {

static_assert(mortise_ClaimMessage_size <= kMaxClaimMessageSize);

constexpr uint8_t kTranscriptDomain[] = "mortise-claim-v1";  // the zero terminator is included
constexpr char kPakeContextLabel[] = "mortise-claim v1";
constexpr uint8_t kProverId[] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'o', 'w', 'n', 'e', 'r'};
constexpr uint8_t kProofDomain[] = "mortise-claim-proof-v1";
constexpr uint8_t kInfoC2L[] = {'c', 'l', 'a', 'i', 'm', ' ', 'c', '2', 'l'};
constexpr uint8_t kInfoL2C[] = {'c', 'l', 'a', 'i', 'm', ' ', 'l', '2', 'c'};
// Each sealing key seals exactly one message, so a fixed nonce is unique
// under its key.
constexpr uint8_t kNonce[crypto::kCcmNonceSize] = {};

constexpr size_t kOwnerSealedSize = crypto::kP256PublicKeySize + crypto::kCcmTagSize;
// Lock key || proof signature || offline-PIN secret || access-list floor (8
// LE) || claim generation (4 LE).
constexpr size_t kResultFloorAt = crypto::kP256PublicKeySize + crypto::kP256SignatureSize + kOfflinePinSecretSize;
constexpr size_t kResultPlainSize = kResultFloorAt + 8 + 4;
constexpr size_t kResultSealedSize = kResultPlainSize + crypto::kCcmTagSize;
static_assert(sizeof(mortise_ClaimFinish{}.sealed_owner.bytes) == kOwnerSealedSize);
static_assert(sizeof(mortise_ClaimResult{}.sealed.bytes) == kResultSealedSize);

// Verifier record: format 1 || iterations (4, LE) || salt length (1) ||
// salt (32, zero-padded) || w0 (32) || L (65).
constexpr uint8_t kVerifierFormat = 1;
constexpr uint32_t kVerifierKey = core::MakeRecordKey(kRecordPakeVerifier, 0);
constexpr size_t kVerifierRecordSize = 1 + 4 + 1 + crypto::kPakeMaxSaltSize + 32 + crypto::kPakeShareSize;

struct StoredVerifier {
  uint32_t iterations = 0;
  uint8_t salt_len = 0;
  uint8_t salt[crypto::kPakeMaxSaltSize] = {};
  crypto::PakeVerifier verifier;
};

Status LoadVerifier(core::DurableStore& store, StoredVerifier& out) {
  crypto::SecretBytes<kVerifierRecordSize + 1> record;
  MORTISE_ASSIGN_OR_RETURN(const size_t n, store.Read(kVerifierKey, record.span()));
  const uint8_t* r = record.data();
  if (n != kVerifierRecordSize || r[0] != kVerifierFormat) return StatusCode::kDataLoss;
  out.iterations = internal::GetU32(r + 1);
  out.salt_len = r[5];
  if (out.salt_len < crypto::kPakeMinSaltSize || out.salt_len > crypto::kPakeMaxSaltSize) return StatusCode::kDataLoss;
  std::memcpy(out.salt, r + 6, crypto::kPakeMaxSaltSize);
  std::memcpy(out.verifier.w0.data(), r + 6 + crypto::kPakeMaxSaltSize, 32);
  std::memcpy(out.verifier.L.data(), r + 6 + crypto::kPakeMaxSaltSize + 32, crypto::kPakeShareSize);
  return Status::Ok();
}

crypto::Digest Snapshot(const crypto::Sha256& transcript) {
  crypto::Sha256 copy(transcript);
  crypto::Digest d{};
  copy.Final(d);
  return d;
}

// The PAKE context binds the protocol version and M1..M2 (lock id, salt,
// iterations): an attacker who edits them breaks the confirmation MACs.
struct PakeContext {
  uint8_t bytes[sizeof(kPakeContextLabel) - 1 + crypto::kSha256Size];
  explicit PakeContext(const crypto::Digest& th) {
    std::memcpy(bytes, kPakeContextLabel, sizeof(kPakeContextLabel) - 1);
    std::memcpy(bytes + sizeof(kPakeContextLabel) - 1, th.data(), th.size());
  }
};

Status DeriveKeys(const crypto::SecretBytes<crypto::kPakeSharedSecretSize>& shared, const crypto::Digest& th4,
                  crypto::SecretBytes<16>& c2l, crypto::SecretBytes<16>& l2c) {
  MORTISE_TRY(crypto::HkdfSha256(th4, shared.span(), kInfoC2L, c2l.span()));
  return crypto::HkdfSha256(th4, shared.span(), kInfoL2C, l2c.span());
}

// What the lock signs: the whole transcript through M5, the owner key it
// installed, the access-list floor and the claim generation it reports.
struct Proof {
  uint8_t bytes[sizeof(kProofDomain) + crypto::kSha256Size + crypto::kP256PublicKeySize + 8 + 4];
  Proof(const crypto::Digest& th5, const crypto::P256PublicKey& owner, uint64_t floor, uint32_t generation) {
    uint8_t* p = bytes;
    std::memcpy(p, kProofDomain, sizeof(kProofDomain));
    p += sizeof(kProofDomain);
    std::memcpy(p, th5.data(), th5.size());
    p += th5.size();
    std::memcpy(p, owner.bytes().data(), crypto::kP256PublicKeySize);
    p += crypto::kP256PublicKeySize;
    internal::PutU64(p, floor);
    internal::PutU32(p + 8, generation);
  }
};

Result<size_t> EncodeMessage(const mortise_ClaimMessage& m, std::span<uint8_t> out) {
  return internal::Encode(mortise_ClaimMessage_fields, &m, out);
}

Status DecodeMessage(std::span<const uint8_t> in, mortise_ClaimMessage& m) {
  uint8_t scratch[kMaxClaimMessageSize];
  m = mortise_ClaimMessage_init_zero;
  return internal::DecodeStrict(in, mortise_ClaimMessage_fields, &m, scratch);
}

uint8_t Digit(uint32_t code, size_t i) {  // i = 0 is the most significant of 9
  uint32_t div = 1;
  for (size_t k = i + 1; k < kSetupCodeDigits; ++k) div *= 10;
  return static_cast<uint8_t>((code / div) % 10);
}

}  // namespace

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
  MORTISE_ASSIGN_OR_RETURN(const size_t n, internal::Base64UrlEncode(bin, out.subspan(kLabelPrefix.size())));
  return kLabelPrefix.size() + n;
}

Result<ClaimLabel> ParseLabel(std::string_view text) {
  if (text.size() != kLabelTextSize || !HasPrefix(text, kLabelPrefix)) {
    return StatusCode::kInvalidArgument;
  }
  uint8_t bin[kLabelBinarySize];
  Result<size_t> n = internal::Base64UrlDecode(DropPrefix(text, kLabelPrefix.size()), bin);
  if (!n.ok() || *n != kLabelBinarySize || bin[0] != kClaimVersion) return StatusCode::kInvalidArgument;
  ClaimLabel label;
  std::memcpy(label.lock_id.data(), bin + 1, kLockIdSize);
  std::memcpy(label.key_hash.data(), bin + 1 + kLockIdSize, kKeyIdSize);
  label.setup_code = 0;
  for (int i = 0; i < 4; ++i) label.setup_code = (label.setup_code << 8) | bin[1 + kLockIdSize + kKeyIdSize + i];
  if (IsTrivialSetupCode(label.setup_code)) return StatusCode::kInvalidArgument;
  return label;
}

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
  const Proof proof(transcript_hash_, owner_.public_key(), floor, generation);
  if (!lock_key->Verify(proof.bytes, std::span<const uint8_t>(p + crypto::kP256PublicKeySize,
                                                              crypto::kP256SignatureSize))
           .ok()) {
    return StatusCode::kUnauthenticated;
  }
  std::memcpy(pin_secret_.data(), p + crypto::kP256PublicKeySize + crypto::kP256SignatureSize, kOfflinePinSecretSize);
  floor_ = floor;
  generation_ = generation;
  lock_key_.emplace(*lock_key);
  pake_.reset();
  state_ = State::kDone;
  len = 0;
  return Status::Ok();
}

}  // namespace mortise::protocol
