#include "mortise/crypto/kdf.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "vectors.h"

namespace mortise::crypto {
namespace {

using testing::Bytes;
using testing::FromHex;
using testing::ToHex;

TEST(Hkdf, Rfc5869TestCases1To3) {
  for (const auto& v : vectors::kHkdf) {
    const auto ikm = FromHex(v.ikm), salt = FromHex(v.salt), info = FromHex(v.info);
    Digest prk;
    HkdfSha256Extract(salt, ikm, prk);
    EXPECT_EQ(ToHex(prk), v.prk);
    std::vector<uint8_t> okm(v.length);
    ASSERT_TRUE(HkdfSha256Expand(prk, info, okm).ok());
    EXPECT_EQ(ToHex(okm), v.okm);
    std::vector<uint8_t> one_shot(v.length);
    ASSERT_TRUE(HkdfSha256(salt, ikm, info, one_shot).ok());
    EXPECT_EQ(one_shot, okm);
  }
}

TEST(Hkdf, RejectsBadLengthsWithoutWriting) {
  Digest prk{};
  std::vector<uint8_t> too_long(kHkdfSha256MaxOutput + 1, 0xAA);
  EXPECT_EQ(HkdfSha256Expand(prk, {}, too_long), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_long[0], 0xAA);
  EXPECT_EQ(HkdfSha256Expand(prk, {}, std::span<uint8_t>()), StatusCode::kInvalidArgument);
  uint8_t out[16];
  EXPECT_EQ(HkdfSha256Expand(std::span(prk).first(31), {}, out), StatusCode::kInvalidArgument);
  std::vector<uint8_t> max(kHkdfSha256MaxOutput);
  EXPECT_TRUE(HkdfSha256Expand(prk, {}, max).ok());
}

TEST(Pbkdf2, Rfc7914Vectors) {
  for (const auto& v : vectors::kPbkdf2) {
    std::vector<uint8_t> dk(FromHex(v.dk).size());
    ASSERT_TRUE(Pbkdf2HmacSha256(Bytes(v.password), Bytes(v.salt), v.iterations, dk).ok());
    EXPECT_EQ(ToHex(dk), v.dk);
  }
}

TEST(Pbkdf2, RejectsZeroIterationsAndEmptySalt) {
  uint8_t out[32];
  EXPECT_EQ(Pbkdf2HmacSha256(Bytes("pw"), Bytes("salt"), 0, out), StatusCode::kInvalidArgument);
  EXPECT_EQ(Pbkdf2HmacSha256(Bytes("pw"), {}, 1, out), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mortise::crypto
