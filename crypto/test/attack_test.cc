// Crypto-level tests for attacks of shared/security/attack-catalogue.md,
// registered with the CTest label `attack`. The protocol module carries the
// end-to-end versions; these pin the primitives' part.
#include <gtest/gtest.h>

#include "mortise/crypto/aead.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/pake.h"
#include "test_util.h"
#include "vectors.h"

namespace mortise::crypto {
namespace {

using testing::Bytes;
using testing::FromHex;

// A06: a length that is not what the format says is refused before any
// decryption, and nothing is written to the output.
TEST(CryptoAttack, A06_MalformedAeadLengthsAreRefusedBeforeDecryption) {
  const auto& v = vectors::kCcm[0];
  const auto key = FromHex(v.key), nonce = FromHex(v.nonce), aad = FromHex(v.aad);
  const auto sealed = FromHex(v.ciphertext_and_tag);
  AesCcm128 ccm(std::span<const uint8_t, kAes128KeySize>(key.data(), kAes128KeySize));
  for (size_t cut = 1; cut <= sealed.size(); ++cut) {
    std::vector<uint8_t> truncated(sealed.begin(), sealed.end() - static_cast<long>(cut));
    // The caller's expected plaintext length no longer matches.
    std::vector<uint8_t> out(sealed.size() - kCcmTagSize, 0xEE);
    EXPECT_EQ(ccm.Open(nonce, aad, truncated, out), StatusCode::kInvalidArgument) << cut;
  }
  std::vector<uint8_t> out(sealed.size() - kCcmTagSize);
  for (size_t nonce_len : {0u, 7u, 12u, 14u, 16u}) {
    std::vector<uint8_t> bad_nonce(nonce_len, 1);
    EXPECT_EQ(ccm.Open(bad_nonce, aad, sealed, out), StatusCode::kInvalidArgument) << nonce_len;
  }
}

class ClaimAttack : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(drbg_.Seed().ok());
    ASSERT_TRUE(DerivePakeProverSecret(Bytes("34567890"), salt_, 1000, right_).ok());
    ASSERT_TRUE(ComputePakeVerifier(right_, verifier_).ok());
  }

  std::vector<uint8_t> context_ = Bytes("mortise-claim v1");
  std::vector<uint8_t> owner_ = Bytes("owner"), lock_ = Bytes("lock");
  std::vector<uint8_t> salt_ = Bytes("salt-of-16-bytes");
  DeterministicEntropy entropy_{5};
  Drbg drbg_{entropy_};
  PakeProverSecret right_;
  PakeVerifier verifier_;
};

// A16: a client with a wrong setup code gets no key, and the lock learns that
// the attempt failed (so it can count it against the claim window).
TEST_F(ClaimAttack, A16_WrongSetupCodeFailsKeyConfirmationOnBothSides) {
  PakeProverSecret wrong;
  ASSERT_TRUE(DerivePakeProverSecret(Bytes("34567891"), salt_, 1000, wrong).ok());
  PakeClient client(wrong, context_, owner_, lock_);
  PakeServer server(verifier_, context_, owner_, lock_);
  std::array<uint8_t, kPakeShareSize> m1;
  std::array<uint8_t, kPakeServerMessageSize> m2;
  std::array<uint8_t, kPakeConfirmSize> m3{};
  ASSERT_TRUE(client.Start(drbg_, m1).ok());
  ASSERT_TRUE(server.Respond(m1, drbg_, m2).ok());
  // The client detects the mismatch from the lock's confirmation and sends
  // nothing; a client that sends a confirmation anyway is refused.
  EXPECT_EQ(client.Finish(m2, drbg_, m3), StatusCode::kUnauthenticated);
  EXPECT_EQ(server.Confirm(m3), StatusCode::kUnauthenticated);
  SecretBytes<32> k;
  EXPECT_EQ(client.SharedSecret(k), StatusCode::kFailedPrecondition);
  EXPECT_EQ(server.SharedSecret(k), StatusCode::kFailedPrecondition);
  // One failure ends the exchange: no second guess on the same session.
  EXPECT_EQ(server.Confirm(m3), StatusCode::kFailedPrecondition);
}

// A16: a recorded claim cannot be replayed. The lock's response from a
// recorded session does not complete a new client session, and a recorded
// client confirmation does not complete a new lock session.
TEST_F(ClaimAttack, A16_RecordedClaimMessagesDoNotCompleteANewSession) {
  PakeClient client(right_, context_, owner_, lock_);
  PakeServer server(verifier_, context_, owner_, lock_);
  std::array<uint8_t, kPakeShareSize> m1;
  std::array<uint8_t, kPakeServerMessageSize> m2;
  std::array<uint8_t, kPakeConfirmSize> m3;
  ASSERT_TRUE(client.Start(drbg_, m1).ok());
  ASSERT_TRUE(server.Respond(m1, drbg_, m2).ok());
  ASSERT_TRUE(client.Finish(m2, drbg_, m3).ok());
  ASSERT_TRUE(server.Confirm(m3).ok());

  // Replay the recorded client messages to a fresh lock session.
  PakeServer replayed_server(verifier_, context_, owner_, lock_);
  std::array<uint8_t, kPakeServerMessageSize> fresh_m2;
  ASSERT_TRUE(replayed_server.Respond(m1, drbg_, fresh_m2).ok());
  EXPECT_EQ(replayed_server.Confirm(m3), StatusCode::kUnauthenticated);

  // Replay the recorded lock response to a fresh client session.
  PakeClient replayed_client(right_, context_, owner_, lock_);
  std::array<uint8_t, kPakeShareSize> fresh_m1;
  std::array<uint8_t, kPakeConfirmSize> fresh_m3;
  ASSERT_TRUE(replayed_client.Start(drbg_, fresh_m1).ok());
  EXPECT_EQ(replayed_client.Finish(m2, drbg_, fresh_m3), StatusCode::kUnauthenticated);
}

// A06: the protocol version is bound into the PAKE transcript, so a peer
// speaking another version cannot complete the claim.
TEST_F(ClaimAttack, A06_ProtocolVersionIsBoundIntoTheClaimTranscript) {
  PakeClient client(right_, Bytes("mortise-claim v0"), owner_, lock_);
  PakeServer server(verifier_, context_, owner_, lock_);
  std::array<uint8_t, kPakeShareSize> m1;
  std::array<uint8_t, kPakeServerMessageSize> m2;
  std::array<uint8_t, kPakeConfirmSize> m3;
  ASSERT_TRUE(client.Start(drbg_, m1).ok());
  ASSERT_TRUE(server.Respond(m1, drbg_, m2).ok());
  EXPECT_EQ(client.Finish(m2, drbg_, m3), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace mortise::crypto
