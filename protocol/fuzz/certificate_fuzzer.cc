// Fuzzes every certificate decoder: the chain verifier (with a fixed owner,
// so inputs that pass parsing reach the signature and policy checks), the
// single-certificate decoder and the text form.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/certificate.h"

using namespace mortise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static crypto::DeterministicEntropy entropy(7);
  static crypto::Drbg drbg(entropy);
  static bool seeded = drbg.Seed().ok();
  static Result<crypto::P256KeyPair> owner = crypto::P256KeyPair::Generate(drbg);
  if (!seeded || !owner.ok()) return 0;
  const std::span<const uint8_t> in(data, size);

  protocol::VerifyContext ctx;
  ctx.owner = &owner->public_key();
  ctx.utc_now = 1'750'000'000;
  protocol::VerifyChain(in, ctx).IgnoreError();
  protocol::DecodeCertificate(in).IgnoreError();
  uint8_t chain[protocol::kMaxChainSize];
  protocol::ChainFromText(std::string_view(reinterpret_cast<const char*>(data), size), chain).IgnoreError();
  return 0;
}
