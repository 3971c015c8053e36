#include "mortise/protocol/identity.h"

#include <gtest/gtest.h>

#include "mortise/crypto/hash.h"
#include "mortise/protocol/records.h"
#include "mortise/sim/memory_store.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using testing::SeededDrbg;

TEST(IdentityTest, A05_TwoLocksSeededDifferentlyEndUpWithDifferentKeys) {
  SeededDrbg a(1), b(2);
  sim::MemoryStore sa, sb;
  Result<LockIdentity> ia = LockIdentity::LoadOrCreate(sa, a.drbg);
  Result<LockIdentity> ib = LockIdentity::LoadOrCreate(sb, b.drbg);
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_FALSE(ia->public_key() == ib->public_key());
  EXPECT_NE(ia->lock_id(), ib->lock_id());
}

TEST(IdentityTest, A05_KeyComesFromTheDrbgNotFromAConstant) {
  // The same store provisioned twice with different entropy: a key that
  // came from a constant or from the store's contents would repeat.
  for (uint64_t seed = 10; seed < 14; ++seed) {
    SeededDrbg d(seed), e(seed + 100);
    sim::MemoryStore s1, s2;
    Result<LockIdentity> i1 = LockIdentity::LoadOrCreate(s1, d.drbg);
    Result<LockIdentity> i2 = LockIdentity::LoadOrCreate(s2, e.drbg);
    ASSERT_TRUE(i1.ok() && i2.ok());
    EXPECT_FALSE(i1->public_key() == i2->public_key());
  }
}

TEST(IdentityTest, A05_FailedEntropyCreatesNoIdentity) {
  SeededDrbg d(3);
  d.entropy.set_failing(true);
  crypto::Drbg unseeded(d.entropy);
  sim::MemoryStore store;
  EXPECT_FALSE(LockIdentity::LoadOrCreate(store, unseeded).ok());
  EXPECT_EQ(store.record_count(), 0u);
}

TEST(IdentityTest, IdentitySurvivesRestart) {
  SeededDrbg d(4), other(5);
  sim::MemoryStore store;
  Result<LockIdentity> first = LockIdentity::LoadOrCreate(store, d.drbg);
  Result<LockIdentity> again = LockIdentity::LoadOrCreate(store, other.drbg);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_TRUE(first->public_key() == again->public_key());
}

TEST(IdentityTest, LockIdIsTheHashOfTheUncompressedKey) {
  SeededDrbg d(6);
  sim::MemoryStore store;
  Result<LockIdentity> id = LockIdentity::LoadOrCreate(store, d.drbg);
  ASSERT_TRUE(id.ok());
  const crypto::Digest h = crypto::Sha256::Hash(id->public_key().bytes());
  EXPECT_TRUE(std::equal(id->lock_id().begin(), id->lock_id().end(), h.begin()));
  const KeyId kh = id->key_hash();
  EXPECT_TRUE(std::equal(kh.begin(), kh.end(), h.begin()));
}

TEST(IdentityTest, ProvisionRefusesASecondIdentity) {
  SeededDrbg d(7);
  sim::MemoryStore store;
  ASSERT_TRUE(LockIdentity::LoadOrCreate(store, d.drbg).ok());
  uint8_t scalar[32] = {};
  scalar[31] = 5;
  EXPECT_EQ(LockIdentity::Provision(store, scalar).status().code(), StatusCode::kAlreadyExists);
}

TEST(IdentityTest, ProvisionedScalarIsUsedAndInvalidOnesRefused) {
  sim::MemoryStore store;
  uint8_t zero[32] = {};
  EXPECT_EQ(LockIdentity::Provision(store, zero).status().code(), StatusCode::kInvalidArgument);
  uint8_t scalar[32] = {};
  scalar[31] = 9;
  Result<LockIdentity> id = LockIdentity::Provision(store, scalar);
  ASSERT_TRUE(id.ok());
  SeededDrbg d(8);
  Result<LockIdentity> loaded = LockIdentity::LoadOrCreate(store, d.drbg);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->public_key() == id->public_key());
}

TEST(IdentityTest, CorruptRecordIsDataLoss) {
  SeededDrbg d(9);
  sim::MemoryStore store;
  const uint8_t bad[3] = {1, 2, 3};
  ASSERT_TRUE(store.Write(core::MakeRecordKey(kRecordIdentity, 0), bad).ok());
  EXPECT_EQ(LockIdentity::LoadOrCreate(store, d.drbg).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mortise::protocol
