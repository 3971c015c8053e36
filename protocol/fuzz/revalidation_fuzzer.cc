// Fuzzes the revalidation-token decoder and verifier: the input is a token
// presented with fixed chains that demand revalidation (owner-issued and
// admin-delegated), for a fixed owner, lock and time, so well-formed inputs
// reach the binding, freshness, signature and issuer-certificate checks.
// The same bytes also go to the chain helpers of revalidation.h.
// Keys come from the DRBG seed 7 (owner, revalidation service, admin, guest,
// in that order), as in SeedCorpusTest.GenerateRevalidationSeeds, so the
// checked-in seeds carry valid signatures.
// A mutated token fails its signature check, so the checks after it (the
// issuer certificate's lock, permissions and own revalidation, no
// self-revalidation, the access list and time applied to the issuer) would
// see only the seeds. So a token that decodes is also re-signed, what it
// states kept: by the owner, or, when it names an issuer certificate, that
// certificate re-issued by the owner to the fixture's key its holder key
// names (any other holder key becomes the revalidation service's) and the
// token signed by that key; the re-signed token goes through the same chains.
// P-256 operations are memoised (fuzz_p256_memo.h): the fixed chains'
// signatures are checked once per process, and a signature the harness made
// costs no verification.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/revalidation.h"
#include "fuzz_p256_memo.h"

using namespace mortise;

namespace {

constexpr int64_t kNow = 1'750'000'000;

struct Fixture {
  Fixture() : entropy(7), drbg(entropy) {
    ok = drbg.Seed().ok();
    Result<crypto::P256KeyPair> o = crypto::P256KeyPair::Generate(drbg);
    Result<crypto::P256KeyPair> s = crypto::P256KeyPair::Generate(drbg);
    Result<crypto::P256KeyPair> a = crypto::P256KeyPair::Generate(drbg);
    Result<crypto::P256KeyPair> g = crypto::P256KeyPair::Generate(drbg);
    if (!ok || !o.ok() || !s.ok() || !a.ok() || !g.ok()) {
      ok = false;
      return;
    }
    owner.emplace(*o);
    service.emplace(*s);
    admin.emplace(*a);
    guest.emplace(*g);
    protocol::CertificateFields gf;
    gf.holder_key = guest->public_key().Compressed();
    gf.role = protocol::Role::kGuest;
    gf.permissions = protocol::kPermUnlock;
    gf.serial = 21;
    gf.revalidation_max_age = 3600;
    gf.claim_generation = 1;
    protocol::CertificateFields af;
    af.holder_key = admin->public_key().Compressed();
    af.role = protocol::Role::kAdmin;
    af.permissions = protocol::kPermDelegate | protocol::kPermUnlock;
    af.serial = 22;
    af.claim_generation = 1;
    uint8_t guest_cert[protocol::kMaxCertificateSize], admin_cert[protocol::kMaxCertificateSize],
        delegated_cert[protocol::kMaxCertificateSize];
    Result<size_t> n1 = protocol::IssueCertificate(gf, *owner, drbg, guest_cert);
    Result<size_t> n2 = protocol::IssueCertificate(af, *owner, drbg, admin_cert);
    protocol::CertificateFields df = gf;
    df.parent_serial = af.serial;  // issued under the admin's certificate
    Result<size_t> n3 = protocol::IssueCertificate(df, *admin, drbg, delegated_cert);
    if (!n1.ok() || !n2.ok() || !n3.ok()) {
      ok = false;
      return;
    }
    Result<size_t> c1 = protocol::EncodeChain(std::span<const uint8_t>(guest_cert, *n1), {}, direct);
    Result<size_t> c2 = protocol::EncodeChain(std::span<const uint8_t>(admin_cert, *n2),
                                              std::span<const uint8_t>(delegated_cert, *n3), delegated);
    ok = c1.ok() && c2.ok();
    if (ok) {
      direct_len = *c1;
      delegated_len = *c2;
    }
  }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
  std::optional<crypto::P256KeyPair> owner, service, admin, guest;
  uint8_t direct[protocol::kMaxChainSize] = {};
  uint8_t delegated[protocol::kMaxChainSize] = {};
  size_t direct_len = 0, delegated_len = 0;
  bool ok = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  if (!f.ok) std::abort();  // every input would do nothing
  const std::span<const uint8_t> in(data, size);

  (void)protocol::DecodeRevalidationToken(in);
  protocol::VerifyContext ctx;  // lock id all zero, as in the seeds
  ctx.owner = &f.owner->public_key();
  ctx.utc_now = kNow;
  ctx.claim_generation = 1;  // as the seeds
  (void)protocol::VerifyChain(std::span<const uint8_t>(f.direct, f.direct_len), in, ctx);
  (void)protocol::VerifyChain(std::span<const uint8_t>(f.delegated, f.delegated_len), in, ctx);
  ctx.utc_now = std::nullopt;
  (void)protocol::VerifyChain(std::span<const uint8_t>(f.direct, f.direct_len), in, ctx);
  (void)protocol::RevalidationFieldsFor(in, static_cast<uint64_t>(kNow));
  (void)protocol::ChainRevalidationMaxAge(in);

  Result<protocol::RevalidationTokenInfo> info = protocol::DecodeRevalidationToken(in);
  if (!info.ok()) return 0;
  crypto::DeterministicEntropy entropy(8);  // the signatures' hedging, the same for every input
  crypto::Drbg drbg(entropy);
  if (!drbg.Seed().ok()) return 0;
  uint8_t token[protocol::kMaxRevalidationTokenSize];
  Result<size_t> n = StatusCode::kInvalidArgument;
  if (!info->issuer) {
    n = protocol::IssueRevalidationToken(info->fields, *f.owner, {}, drbg, token);
  } else {
    protocol::CertificateFields issuer = *info->issuer;
    const crypto::P256KeyPair* signer = &*f.service;
    for (const crypto::P256KeyPair* k : {&*f.owner, &*f.admin, &*f.guest}) {
      if (k->public_key().Compressed() == issuer.holder_key) signer = k;
    }
    issuer.holder_key = signer->public_key().Compressed();
    uint8_t cert[protocol::kMaxCertificateSize];
    Result<size_t> c = protocol::IssueCertificate(issuer, *f.owner, drbg, cert);
    if (c.ok()) {
      n = protocol::IssueRevalidationToken(info->fields, *signer, std::span<const uint8_t>(cert, *c), drbg, token);
    }
  }
  if (!n.ok()) return 0;
  const std::span<const uint8_t> resigned(token, *n);
  ctx.utc_now = kNow;
  (void)protocol::VerifyChain(std::span<const uint8_t>(f.direct, f.direct_len), resigned, ctx);
  (void)protocol::VerifyChain(std::span<const uint8_t>(f.delegated, f.delegated_len), resigned, ctx);
  return 0;
}
