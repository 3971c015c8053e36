// Fuzzes every certificate decoder: the chain verifier (with a fixed owner,
// so inputs that pass parsing reach the signature and policy checks; once
// more with a fixed revalidation token for the seeds' guest, serial 11, so
// chains that demand revalidation reach the token checks), the
// single-certificate decoder and the text form. Keys: DRBG seed 7, owner,
// admin, guest, as in SeedCorpusTest.GenerateSeeds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_keys.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/certificate.h"
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
  protocol::DecodeCertificate(in).IgnoreError();
  uint8_t chain[protocol::kMaxChainSize];
  protocol::ChainFromText(std::string_view(reinterpret_cast<const char*>(data), size), chain).IgnoreError();
  return 0;
}
