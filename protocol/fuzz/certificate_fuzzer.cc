// Fuzzes every certificate decoder: the chain verifier (with a fixed owner,
// so inputs that pass parsing reach the signature and policy checks; once
// more with a fixed revalidation token for the seeds' guest, serial 11, so
// chains that demand revalidation reach the token checks), the
// single-certificate decoder and the text form. Keys: DRBG seed 7, owner,
// admin, guest, as in SeedCorpusTest.GenerateSeeds.
// A mutated certificate fails its signature check, so the policy checks
// after it (role and permissions, scope and generation, parent, windows and
// schedule, revalidation) would see only the seeds. So a certificate that
// decodes is also re-issued, every field kept: by the owner, or, when it
// names a parent, by the admin under the seeds' admin certificate (serial
// 12), and the resulting chain goes through the same two verifications.
// P-256 is memoised (fuzz_p256_memo.h): a signature the harness made costs
// no verification, and a chain seen before costs nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_keys.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/revalidation.h"
#include "fuzz_p256_memo.h"

using namespace mortise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::SeedKeys& keys = fuzz::Keys();
  if (!keys.ok()) std::abort();  // every input would do nothing
  const std::optional<crypto::P256KeyPair>& owner = keys.owner;
  const std::optional<crypto::P256KeyPair>& guest = keys.guest;
  static uint8_t token[protocol::kMaxRevalidationTokenSize];
  static const size_t token_len = [&] {
    static crypto::DeterministicEntropy entropy(7);  // hedging for the token's signature
    static crypto::Drbg drbg(entropy);
    if (!drbg.Seed().ok()) return size_t{0};
    protocol::RevalidationFields f;  // lock id all zero, as in the seeds
    f.serial = 11;
    f.holder_key_id = protocol::KeyIdOf(guest->public_key());
    f.issued_at = 1'750'000'000 - 60;
    return protocol::IssueRevalidationToken(f, *owner, {}, drbg, token).value_or(0);
  }();
  const std::span<const uint8_t> in(data, size);

  protocol::VerifyContext ctx;
  ctx.owner = &owner->public_key();
  ctx.utc_now = 1'750'000'000;
  ctx.claim_generation = 1;  // as the seeds (protocol/test/test_util.h kGeneration)
  protocol::VerifyChain(in, ctx).IgnoreError();
  protocol::VerifyChain(in, std::span<const uint8_t>(token, token_len), ctx).IgnoreError();
  Result<protocol::CertificateFields> fields = protocol::DecodeCertificate(in);
  uint8_t chain[protocol::kMaxChainSize];
  protocol::ChainFromText(std::string_view(reinterpret_cast<const char*>(data), size), chain).IgnoreError();
  if (!fields.ok()) return 0;

  static uint8_t admin_cert[protocol::kMaxCertificateSize];
  static const size_t admin_len = [&] {
    static crypto::DeterministicEntropy entropy(9);  // hedging, once
    static crypto::Drbg drbg(entropy);
    if (!drbg.Seed().ok()) return size_t{0};
    protocol::CertificateFields a;  // as the seeds' admin certificate
    a.claim_generation = 1;
    a.holder_key = keys.admin->public_key().Compressed();
    a.role = protocol::Role::kAdmin;
    a.permissions = protocol::RoleAllowedPermissions(protocol::Role::kAdmin);
    a.serial = 12;
    return protocol::IssueCertificate(a, *owner, drbg, admin_cert).value_or(0);
  }();
  if (admin_len == 0) std::abort();
  crypto::DeterministicEntropy entropy(10);  // the signature's hedging, the same for every input
  crypto::Drbg drbg(entropy);
  if (!drbg.Seed().ok()) return 0;
  const bool delegated = fields->parent_serial != 0;
  uint8_t cert[protocol::kMaxCertificateSize];
  Result<size_t> n = protocol::IssueCertificate(*fields, delegated ? *keys.admin : *owner, drbg, cert);
  if (!n.ok()) return 0;
  const std::span<const uint8_t> reissued(cert, *n);
  Result<size_t> c = delegated ? protocol::EncodeChain(std::span<const uint8_t>(admin_cert, admin_len), reissued, chain)
                               : protocol::EncodeChain(reissued, {}, chain);
  if (!c.ok()) return 0;
  const std::span<const uint8_t> resigned(chain, *c);
  protocol::VerifyChain(resigned, ctx).IgnoreError();
  protocol::VerifyChain(resigned, std::span<const uint8_t>(token, token_len), ctx).IgnoreError();
  return 0;
}
