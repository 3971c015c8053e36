#include "mortise/crypto/p256.h"

#include <gtest/gtest.h>

#include "mortise/crypto/deterministic_entropy.h"
#include "test_util.h"
#include "vectors.h"

namespace mortise::crypto {
namespace {

using testing::Bytes;
using testing::FromHex;
using testing::ToHex;

class P256Test : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(drbg_.Seed().ok()); }
  DeterministicEntropy entropy_{42};
  Drbg drbg_{entropy_};
};

TEST_F(P256Test, Rfc6979DeterministicSignaturesMatchPublishedVectors) {
  auto pair = P256KeyPair::FromPrivateScalar(FromHex(vectors::kEcdsaPrivate));
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(ToHex(pair->public_key().bytes()), vectors::kEcdsaPublic);
  for (const auto& v : vectors::kEcdsa) {
    P256Signature sig;
    // No additional data: the nonce is plain RFC 6979's.
    ASSERT_TRUE(pair->SignDigestWithNonceInput(Sha256::Hash(Bytes(v.message)), {}, sig).ok());
    EXPECT_EQ(ToHex(sig), v.signature);
    EXPECT_TRUE(pair->public_key().Verify(Bytes(v.message), FromHex(v.signature)).ok());
  }
}

TEST_F(P256Test, SigningTheSameMessageTwiceGivesTwoValidSignatures) {
  // Hedged: the DRBG's bytes enter the nonce, so the same key and message
  // never sign with the same k twice.
  auto pair = P256KeyPair::FromPrivateScalar(FromHex(vectors::kEcdsaPrivate));
  ASSERT_TRUE(pair.ok());
  P256Signature a, b, rfc;
  ASSERT_TRUE(pair->Sign(Bytes("sample"), a, drbg_).ok());
  ASSERT_TRUE(pair->Sign(Bytes("sample"), b, drbg_).ok());
  ASSERT_TRUE(pair->SignDigestWithNonceInput(Sha256::Hash(Bytes("sample")), {}, rfc).ok());
  EXPECT_NE(a, b);
  EXPECT_NE(a, rfc);
  EXPECT_NE(std::vector<uint8_t>(a.begin(), a.begin() + 32), std::vector<uint8_t>(b.begin(), b.begin() + 32))
      << "r = (kG).x repeats only when k does";
  EXPECT_TRUE(pair->public_key().Verify(Bytes("sample"), a).ok());
  EXPECT_TRUE(pair->public_key().Verify(Bytes("sample"), b).ok());
}

TEST_F(P256Test, HedgedSignaturesAreReproducibleFromAFixedSeed) {
  // Known-answer tests stay possible: the same seed, the same signature.
  auto pair = P256KeyPair::FromPrivateScalar(FromHex(vectors::kEcdsaPrivate));
  ASSERT_TRUE(pair.ok());
  DeterministicEntropy e1{7}, e2{7};
  Drbg d1{e1}, d2{e2};
  ASSERT_TRUE(d1.Seed().ok());
  ASSERT_TRUE(d2.Seed().ok());
  P256Signature a, b;
  ASSERT_TRUE(pair->Sign(Bytes("sample"), a, d1).ok());
  ASSERT_TRUE(pair->Sign(Bytes("sample"), b, d2).ok());
  EXPECT_EQ(a, b);
  // And the same nonce input gives the same signature; another, another.
  P256Signature c, d, e;
  const std::vector<uint8_t> k1(32, 1), k2(32, 2);
  ASSERT_TRUE(pair->SignDigestWithNonceInput(Sha256::Hash(Bytes("sample")), k1, c).ok());
  ASSERT_TRUE(pair->SignDigestWithNonceInput(Sha256::Hash(Bytes("sample")), k1, d).ok());
  ASSERT_TRUE(pair->SignDigestWithNonceInput(Sha256::Hash(Bytes("sample")), k2, e).ok());
  EXPECT_EQ(c, d);
  EXPECT_NE(c, e);
  EXPECT_EQ(pair->SignDigestWithNonceInput(Sha256::Hash(Bytes("sample")), std::vector<uint8_t>(65, 1), c).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(P256Test, OperationCountsCountEachOperation) {
  auto pair = P256KeyPair::Generate(drbg_);
  ASSERT_TRUE(pair.ok());
  const P256Operations before = P256OperationCount();
  P256Signature sig;
  ASSERT_TRUE(pair->Sign(Bytes("m"), sig, drbg_).ok());
  EXPECT_TRUE(pair->public_key().Verify(Bytes("m"), sig).ok());
  SecretBytes<kP256SharedSecretSize> shared;
  ASSERT_TRUE(pair->Ecdh(pair->public_key(), shared, drbg_).ok());
  ASSERT_TRUE(P256PublicKey::Import(pair->public_key().bytes()).ok());
  const P256Operations after = P256OperationCount();
  EXPECT_EQ(after.signatures - before.signatures, 1u);
  EXPECT_EQ(after.verifications - before.verifications, 1u);
  EXPECT_EQ(after.key_agreements - before.key_agreements, 1u);
  EXPECT_EQ(after.generations - before.generations, 0u);
}

TEST_F(P256Test, PublishedSignatureVerifiesFromImportedKey) {
  auto key = P256PublicKey::Import(FromHex(vectors::kEcdsaPublic));
  ASSERT_TRUE(key.ok());
  const auto& v = vectors::kEcdsa[0];
  EXPECT_TRUE(key->Verify(Bytes(v.message), FromHex(v.signature)).ok());
  const Digest d = Sha256::Hash(Bytes(v.message));
  EXPECT_TRUE(key->VerifyDigest(d, FromHex(v.signature)).ok());
}

TEST_F(P256Test, WrongSignaturesAreUnauthenticated) {
  auto key = P256PublicKey::Import(FromHex(vectors::kEcdsaPublic));
  ASSERT_TRUE(key.ok());
  const auto& v = vectors::kEcdsa[0];
  auto sig = FromHex(v.signature);
  EXPECT_EQ(key->Verify(Bytes("samplf"), sig), StatusCode::kUnauthenticated);
  sig[10] ^= 1;
  EXPECT_EQ(key->Verify(Bytes(v.message), sig), StatusCode::kUnauthenticated);
  // The other vector's signature is valid, but for another message.
  EXPECT_EQ(key->Verify(Bytes(v.message), FromHex(vectors::kEcdsa[1].signature)),
            StatusCode::kUnauthenticated);
  // r = 0 and s = 0, and r, s = all ones (above n).
  EXPECT_EQ(key->Verify(Bytes(v.message), std::vector<uint8_t>(64, 0)),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(key->Verify(Bytes(v.message), std::vector<uint8_t>(64, 0xff)),
            StatusCode::kUnauthenticated);
  // Wrong lengths are malformed, not merely wrong.
  EXPECT_EQ(key->Verify(Bytes(v.message), std::vector<uint8_t>(63, 1)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(key->Verify(Bytes(v.message), std::vector<uint8_t>(72, 1)),
            StatusCode::kInvalidArgument);
}

TEST_F(P256Test, Rfc5903AndNistCdhSharedSecrets) {
  for (const auto& v : vectors::kEcdh) {
    auto own = P256KeyPair::FromPrivateScalar(FromHex(v.private_scalar));
    ASSERT_TRUE(own.ok());
    EXPECT_EQ(ToHex(own->public_key().bytes()), v.own_public);
    auto peer = P256PublicKey::Import(FromHex(v.peer_public));
    ASSERT_TRUE(peer.ok());
    SecretBytes<kP256SharedSecretSize> shared;
    ASSERT_TRUE(own->Ecdh(*peer, shared, drbg_).ok());
    EXPECT_EQ(ToHex(shared.span()), v.shared_x);
  }
}

TEST_F(P256Test, GeneratedKeysSignVerifyAndAgree) {
  auto a = P256KeyPair::Generate(drbg_);
  auto b = P256KeyPair::Generate(drbg_);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(a->public_key() == b->public_key());
  P256Signature sig;
  ASSERT_TRUE(a->Sign(Bytes("unlock"), sig, drbg_).ok());
  EXPECT_TRUE(a->public_key().Verify(Bytes("unlock"), sig).ok());
  EXPECT_EQ(b->public_key().Verify(Bytes("unlock"), sig), StatusCode::kUnauthenticated);
  SecretBytes<32> ab, ba;
  ASSERT_TRUE(a->Ecdh(b->public_key(), ab, drbg_).ok());
  ASSERT_TRUE(b->Ecdh(a->public_key(), ba, drbg_).ok());
  EXPECT_TRUE(ConstantTimeEqual(ab.span(), ba.span()));
  // Export and re-import reproduces the key pair.
  SecretBytes<32> scalar;
  a->ExportPrivateScalar(scalar);
  auto again = P256KeyPair::FromPrivateScalar(scalar.span());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->public_key() == a->public_key());
}

TEST_F(P256Test, CompressedKeysRoundTrip) {
  for (int i = 0; i < 8; ++i) {
    auto pair = P256KeyPair::Generate(drbg_);
    ASSERT_TRUE(pair.ok());
    const auto compressed = pair->public_key().Compressed();
    auto back = P256PublicKey::Import(compressed);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(*back == pair->public_key());
  }
}

TEST_F(P256Test, InvalidPublicKeysAreRejectedOnImport) {
  auto good = FromHex(vectors::kEcdsaPublic);
  // Point not on the curve: Y changed.
  auto off_curve = good;
  off_curve[64] ^= 1;
  EXPECT_EQ(P256PublicKey::Import(off_curve).status(), StatusCode::kInvalidArgument);
  // Wrong prefix, wrong lengths, the point at infinity's encoding.
  auto bad_prefix = good;
  bad_prefix[0] = 0x05;
  EXPECT_EQ(P256PublicKey::Import(bad_prefix).status(), StatusCode::kInvalidArgument);
  EXPECT_EQ(P256PublicKey::Import(std::span(good).first(64)).status(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(P256PublicKey::Import(std::vector<uint8_t>{0x00}).status(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(P256PublicKey::Import({}).status(), StatusCode::kInvalidArgument);
  // Coordinates >= p.
  std::vector<uint8_t> big(65, 0xff);
  big[0] = 0x04;
  EXPECT_EQ(P256PublicKey::Import(big).status(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> big_x(33, 0xff);
  big_x[0] = 0x02;
  EXPECT_EQ(P256PublicKey::Import(big_x).status(), StatusCode::kInvalidArgument);
  // A compressed X with no point on the curve (x = 5 has none for P-256 with
  // probability 1/2; search a few small x values for one that fails).
  int rejected = 0;
  for (uint8_t x = 1; x < 20; ++x) {
    std::vector<uint8_t> c(33, 0);
    c[0] = 0x02;
    c[32] = x;
    if (!P256PublicKey::Import(c).ok()) ++rejected;
  }
  EXPECT_GT(rejected, 0);
}

TEST_F(P256Test, InvalidPrivateScalarsAreRejected) {
  EXPECT_EQ(P256KeyPair::FromPrivateScalar(std::vector<uint8_t>(32, 0)).status(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(P256KeyPair::FromPrivateScalar(std::vector<uint8_t>(32, 0xff)).status(),
            StatusCode::kInvalidArgument);
  // n itself.
  EXPECT_EQ(P256KeyPair::FromPrivateScalar(
                FromHex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"))
                .status(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(P256KeyPair::FromPrivateScalar(std::vector<uint8_t>(31, 1)).status(),
            StatusCode::kInvalidArgument);
}

TEST(P256, UnseededDrbgIsFailedPrecondition) {
  DeterministicEntropy entropy(1);
  Drbg drbg(entropy);
  EXPECT_EQ(P256KeyPair::Generate(drbg).status(), StatusCode::kFailedPrecondition);
  auto pair = P256KeyPair::FromPrivateScalar(FromHex(vectors::kEcdsaPrivate));
  ASSERT_TRUE(pair.ok());
  P256Signature sig;
  EXPECT_EQ(pair->Sign(Bytes("x"), sig, drbg), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace mortise::crypto
