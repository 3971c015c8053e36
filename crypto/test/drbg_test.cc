#include "mortise/crypto/drbg.h"

#include <gtest/gtest.h>

#include "mortise/crypto/deterministic_entropy.h"
#include "test_util.h"
#include "vectors.h"

namespace mortise::crypto {
namespace {

using testing::FromHex;
using testing::ToHex;

TEST(CtrDrbg, NistCavpVectorAes256UseDfNoPredictionResistance) {
  const auto entropy = FromHex(vectors::kCtrDrbgEntropy);
  const auto personalization = FromHex(vectors::kCtrDrbgPersonalization);
  auto source = DeterministicEntropy::Replaying(entropy);
  Drbg drbg(source);
  ASSERT_TRUE(drbg.Seed(personalization).ok());
  ASSERT_TRUE(drbg.Reseed().ok());
  std::vector<uint8_t> out(64);
  ASSERT_TRUE(drbg.Generate(out).ok());
  ASSERT_TRUE(drbg.Generate(out).ok());
  EXPECT_EQ(ToHex(out), vectors::kCtrDrbgOutput);
}

TEST(CtrDrbg, UnseededDrbgRefusesToGenerate) {
  DeterministicEntropy source(1);
  Drbg drbg(source);
  uint8_t out[16];
  EXPECT_EQ(drbg.Generate(out), StatusCode::kFailedPrecondition);
  EXPECT_EQ(drbg.Reseed(), StatusCode::kFailedPrecondition);
}

TEST(CtrDrbg, EntropyFailureIsUnavailableAndSeedCanBeRetried) {
  DeterministicEntropy source(1);
  source.set_failing(true);
  Drbg drbg(source);
  EXPECT_EQ(drbg.Seed(), StatusCode::kUnavailable);
  EXPECT_FALSE(drbg.seeded());
  source.set_failing(false);
  ASSERT_TRUE(drbg.Seed().ok());
  EXPECT_EQ(drbg.Seed(), StatusCode::kFailedPrecondition);
  source.set_failing(true);
  EXPECT_EQ(drbg.Reseed(), StatusCode::kUnavailable);
}

TEST(CtrDrbg, AutomaticReseedFailureZeroesOutput) {
  DeterministicEntropy source(3);
  Drbg drbg(source);
  ASSERT_TRUE(drbg.Seed().ok());
  uint8_t out[16];
  for (uint32_t i = 0; i < Drbg::kReseedInterval; ++i) ASSERT_TRUE(drbg.Generate(out).ok());
  source.set_failing(true);
  EXPECT_EQ(drbg.Generate(out), StatusCode::kUnavailable);
  for (uint8_t b : out) EXPECT_EQ(b, 0);
}

TEST(CtrDrbg, SameSeedSameStreamDifferentSeedDifferentStream) {
  DeterministicEntropy a(7), b(7), c(8);
  Drbg da(a), db(b), dc(c);
  ASSERT_TRUE(da.Seed().ok());
  ASSERT_TRUE(db.Seed().ok());
  ASSERT_TRUE(dc.Seed().ok());
  std::vector<uint8_t> oa(3000), ob(3000), oc(3000);  // more than one backend request
  ASSERT_TRUE(da.Generate(oa).ok());
  ASSERT_TRUE(db.Generate(ob).ok());
  ASSERT_TRUE(dc.Generate(oc).ok());
  EXPECT_EQ(oa, ob);
  EXPECT_NE(oa, oc);
}

TEST(CtrDrbg, OversizedInputsAreInvalidArgument) {
  DeterministicEntropy source(1);
  Drbg drbg(source);
  std::vector<uint8_t> big(Drbg::kMaxInputSize + 1);
  EXPECT_EQ(drbg.Seed(big), StatusCode::kInvalidArgument);
  ASSERT_TRUE(drbg.Seed().ok());
  uint8_t out[8];
  EXPECT_EQ(drbg.Generate(out, big), StatusCode::kInvalidArgument);
  EXPECT_EQ(drbg.Reseed(big), StatusCode::kInvalidArgument);
}

TEST(DeterministicEntropy, ReplayingSourceRunsDry) {
  const uint8_t bytes[4] = {1, 2, 3, 4};
  auto source = DeterministicEntropy::Replaying(bytes);
  uint8_t out[3];
  ASSERT_TRUE(source.Fill(out).ok());
  EXPECT_EQ(out[2], 3);
  EXPECT_EQ(source.Fill(out), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace mortise::crypto
