#include "mortise/crypto/aead.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "vectors.h"

namespace mortise::crypto {
namespace {

using testing::FromHex;
using testing::ToHex;

AesCcm128 MakeKey(const std::vector<uint8_t>& key) {
  return AesCcm128(std::span<const uint8_t, kAes128KeySize>(key.data(), kAes128KeySize));
}

TEST(AesCcm128, NistCavpVectorsEncryptAndDecrypt) {
  for (const auto& v : vectors::kCcm) {
    const auto key = FromHex(v.key), nonce = FromHex(v.nonce), aad = FromHex(v.aad);
    const auto pt = FromHex(v.plaintext), expected = FromHex(v.ciphertext_and_tag);
    AesCcm128 ccm = MakeKey(key);
    std::vector<uint8_t> sealed(pt.size() + kCcmTagSize);
    ASSERT_TRUE(ccm.Seal(nonce, aad, pt, sealed).ok());
    EXPECT_EQ(ToHex(sealed), v.ciphertext_and_tag);
    std::vector<uint8_t> opened(pt.size());
    ASSERT_TRUE(ccm.Open(nonce, aad, expected, opened).ok());
    EXPECT_EQ(opened, pt);
  }
}

class CcmNegative : public ::testing::Test {
 protected:
  const vectors::CcmVector& v = vectors::kCcm[0];
  std::vector<uint8_t> key = FromHex(v.key), nonce = FromHex(v.nonce), aad = FromHex(v.aad);
  std::vector<uint8_t> pt = FromHex(v.plaintext), sealed = FromHex(v.ciphertext_and_tag);
  AesCcm128 ccm = MakeKey(key);
  std::vector<uint8_t> out = std::vector<uint8_t>(pt.size(), 0xEE);

  void ExpectWiped() {
    for (uint8_t b : out) ASSERT_EQ(b, 0);
  }
};

TEST_F(CcmNegative, WrongTagIsUnauthenticatedAndReleasesNoPlaintext) {
  sealed.back() ^= 1;
  EXPECT_EQ(ccm.Open(nonce, aad, sealed, out), StatusCode::kUnauthenticated);
  ExpectWiped();
}

TEST_F(CcmNegative, ModifiedCiphertextIsUnauthenticated) {
  sealed[0] ^= 0x80;
  EXPECT_EQ(ccm.Open(nonce, aad, sealed, out), StatusCode::kUnauthenticated);
  ExpectWiped();
}

TEST_F(CcmNegative, WrongAadOrNonceIsUnauthenticated) {
  aad[3] ^= 1;
  EXPECT_EQ(ccm.Open(nonce, aad, sealed, out), StatusCode::kUnauthenticated);
  aad[3] ^= 1;
  nonce[12] ^= 1;
  EXPECT_EQ(ccm.Open(nonce, aad, sealed, out), StatusCode::kUnauthenticated);
  ExpectWiped();
}

TEST_F(CcmNegative, TruncatedCiphertextIsRejectedBeforeDecryption) {
  std::vector<uint8_t> truncated(sealed.begin(), sealed.end() - 1);
  EXPECT_EQ(ccm.Open(nonce, aad, truncated, out), StatusCode::kInvalidArgument);
  std::vector<uint8_t> short_out(pt.size() - 1);
  EXPECT_EQ(ccm.Open(nonce, aad, truncated, short_out), StatusCode::kUnauthenticated);
  std::vector<uint8_t> tiny(sealed.begin(), sealed.begin() + kCcmTagSize - 1);
  EXPECT_EQ(ccm.Open(nonce, aad, tiny, std::span<uint8_t>()), StatusCode::kInvalidArgument);
}

TEST_F(CcmNegative, BadLengthsAreInvalidArgument) {
  std::vector<uint8_t> nonce12(nonce.begin(), nonce.end() - 1);
  EXPECT_EQ(ccm.Open(nonce12, aad, sealed, out), StatusCode::kInvalidArgument);
  std::vector<uint8_t> ct(pt.size()), tag(kCcmTagSize), tag8(8);
  EXPECT_EQ(ccm.Encrypt(nonce12, aad, pt, ct, tag), StatusCode::kInvalidArgument);
  EXPECT_EQ(ccm.Encrypt(nonce, aad, pt, ct, tag8), StatusCode::kInvalidArgument);
  std::vector<uint8_t> ct_short(pt.size() - 1);
  EXPECT_EQ(ccm.Encrypt(nonce, aad, pt, ct_short, tag), StatusCode::kInvalidArgument);
  EXPECT_EQ(ccm.Decrypt(nonce, aad, ct, tag8, out), StatusCode::kInvalidArgument);
  std::vector<uint8_t> big(kCcmMaxMessageSize + 1), big_out(kCcmMaxMessageSize + 1);
  EXPECT_EQ(ccm.Encrypt(nonce, aad, big, big_out, tag), StatusCode::kInvalidArgument);
  std::vector<uint8_t> big_aad(kCcmMaxAadSize + 1);
  EXPECT_EQ(ccm.Encrypt(nonce, big_aad, pt, ct, tag), StatusCode::kInvalidArgument);
}

TEST(AesCcm128, InPlaceRoundTripAndWrongKeyFails) {
  std::vector<uint8_t> key(16, 7), other(16, 8), nonce(13, 1), aad = {1, 2, 3};
  std::vector<uint8_t> msg(300);
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> buf = msg, tag(kCcmTagSize);
  AesCcm128 ccm = MakeKey(key);
  ASSERT_TRUE(ccm.Encrypt(nonce, aad, buf, buf, tag).ok());
  EXPECT_NE(buf, msg);
  std::vector<uint8_t> copy = buf;
  ASSERT_TRUE(ccm.Decrypt(nonce, aad, buf, tag, buf).ok());
  EXPECT_EQ(buf, msg);
  std::vector<uint8_t> out(msg.size());
  EXPECT_EQ(MakeKey(other).Decrypt(nonce, aad, copy, tag, out), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace mortise::crypto
