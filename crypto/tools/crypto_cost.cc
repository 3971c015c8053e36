// Runs each crypto operation once inside its own function, so that an
// instruction counter can attribute cost per operation:
//
//   valgrind --tool=callgrind --toggle-collect='cost_*'
//            --callgrind-out-file=crypto.callgrind ./crypto_cost
//   callgrind_annotate --inclusive=yes crypto.callgrind | grep cost_
//
// Without valgrind it just runs the operations and checks they succeed.
#include <array>
#include <cstdio>
#include <cstdlib>

#include "mortise/crypto/aead.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/kdf.h"
#include "mortise/crypto/p256.h"
#include "mortise/crypto/pake.h"

using namespace mortise::crypto;

namespace {

DeterministicEntropy g_entropy(1);
Drbg g_drbg(g_entropy);

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "%s failed\n", what);
    std::exit(1);
  }
}

}  // namespace

#define COST extern "C" __attribute__((noinline))

COST void cost_p256_generate(P256KeyPair* out) {
  auto pair = P256KeyPair::Generate(g_drbg);
  Check(pair.ok(), "generate");
  *out = *pair;
}
COST void cost_ecdsa_sign(const P256KeyPair& pair, const Digest& d, P256Signature& sig) {
  Check(pair.SignDigest(d, sig, g_drbg).ok(), "sign");
}
COST void cost_ecdsa_verify(const P256PublicKey& key, const Digest& d, const P256Signature& sig) {
  Check(key.VerifyDigest(d, sig).ok(), "verify");
}
COST void cost_ecdh(const P256KeyPair& pair, const P256PublicKey& peer) {
  SecretBytes<32> shared;
  Check(pair.Ecdh(peer, shared, g_drbg).ok(), "ecdh");
}
COST void cost_pubkey_import_uncompressed(const P256PublicKey& key) {
  Check(P256PublicKey::Import(key.bytes()).ok(), "import");
}
COST void cost_pubkey_import_compressed(const std::array<uint8_t, 33>& c) {
  Check(P256PublicKey::Import(c).ok(), "import compressed");
}
COST void cost_hkdf_32(const Digest& ikm, std::array<uint8_t, 32>& out) {
  const uint8_t info[] = {'s', 'e', 's', 's', 'i', 'o', 'n'};
  Check(HkdfSha256({}, ikm, info, out).ok(), "hkdf");
}
COST void cost_ccm_seal_64(const AesCcm128& ccm, std::array<uint8_t, 80>& sealed) {
  const uint8_t nonce[13] = {1};
  const uint8_t aad[8] = {2};
  const std::array<uint8_t, 64> plain{};
  Check(ccm.Seal(nonce, aad, plain, sealed).ok(), "seal");
}
COST void cost_ccm_open_64(const AesCcm128& ccm, const std::array<uint8_t, 80>& sealed) {
  const uint8_t nonce[13] = {1};
  const uint8_t aad[8] = {2};
  std::array<uint8_t, 64> plain;
  Check(ccm.Open(nonce, aad, sealed, plain).ok(), "open");
}
COST void cost_pake_client_start(PakeClient& c, std::array<uint8_t, kPakeShareSize>& m1) {
  Check(c.Start(g_drbg, m1).ok(), "pake start");
}
COST void cost_pake_server_respond(PakeServer& s, const std::array<uint8_t, kPakeShareSize>& m1,
                                   std::array<uint8_t, kPakeServerMessageSize>& m2) {
  Check(s.Respond(m1, g_drbg, m2).ok(), "pake respond");
}
COST void cost_pake_client_finish(PakeClient& c, const std::array<uint8_t, kPakeServerMessageSize>& m2,
                                  std::array<uint8_t, kPakeConfirmSize>& m3) {
  Check(c.Finish(m2, g_drbg, m3).ok(), "pake finish");
}
COST void cost_pake_server_confirm(PakeServer& s, const std::array<uint8_t, kPakeConfirmSize>& m3) {
  Check(s.Confirm(m3).ok(), "pake confirm");
}

int main() {
  Check(g_drbg.Seed().ok(), "seed");
  auto a = P256KeyPair::FromPrivateScalar(std::array<uint8_t, 32>{1, 2, 3});
  auto b = P256KeyPair::FromPrivateScalar(std::array<uint8_t, 32>{4, 5, 6});
  Check(a.ok() && b.ok(), "keys");
  P256KeyPair generated = *a;
  cost_p256_generate(&generated);
  const Digest d = Sha256::Hash(std::array<uint8_t, 3>{'a', 'b', 'c'});
  P256Signature sig;
  cost_ecdsa_sign(*a, d, sig);
  cost_ecdsa_verify(a->public_key(), d, sig);
  cost_ecdh(*a, b->public_key());
  cost_pubkey_import_uncompressed(b->public_key());
  cost_pubkey_import_compressed(b->public_key().Compressed());
  std::array<uint8_t, 32> okm;
  cost_hkdf_32(d, okm);
  AesCcm128 ccm(std::span<const uint8_t, 16>(okm.data(), 16));
  std::array<uint8_t, 80> sealed;
  cost_ccm_seal_64(ccm, sealed);
  cost_ccm_open_64(ccm, sealed);

  PakeProverSecret secret;
  const uint8_t code[] = {'1', '2', '3', '4', '5', '6', '7', '8'};
  const uint8_t salt[16] = {9};
  Check(DerivePakeProverSecret(code, salt, 1000, secret).ok(), "derive");
  PakeVerifier verifier;
  Check(ComputePakeVerifier(secret, verifier).ok(), "verifier");
  const uint8_t ctx[] = {'c'};
  PakeClient client(secret, ctx, {}, {});
  PakeServer server(verifier, ctx, {}, {});
  std::array<uint8_t, kPakeShareSize> m1;
  std::array<uint8_t, kPakeServerMessageSize> m2;
  std::array<uint8_t, kPakeConfirmSize> m3;
  cost_pake_client_start(client, m1);
  cost_pake_server_respond(server, m1, m2);
  cost_pake_client_finish(client, m2, m3);
  cost_pake_server_confirm(server, m3);
  std::puts("crypto_cost: all operations succeeded");
  return 0;
}
