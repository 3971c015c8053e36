#include "mortise/crypto/pake.h"

#include <gtest/gtest.h>

#include "../src/ecp_internal.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "test_util.h"
#include "vectors.h"

namespace mortise::crypto {
namespace {

using testing::Bytes;
using testing::FromHex;
using testing::ToHex;

template <size_t N>
void Load(SecretBytes<N>& out, const char* hex) {
  const auto bytes = FromHex(hex);
  ASSERT_EQ(bytes.size(), N);
  std::copy(bytes.begin(), bytes.end(), out.data());
}

class PakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(drbg_.Seed().ok());
    ASSERT_TRUE(DerivePakeProverSecret(Bytes("20202021"), salt_, 1000, secret_).ok());
    ASSERT_TRUE(ComputePakeVerifier(secret_, verifier_).ok());
  }

  std::vector<uint8_t> context_ = Bytes("mortise-claim v1");
  std::vector<uint8_t> client_id_ = Bytes("owner-phone"), lock_id_ = Bytes("lock-1");
  std::vector<uint8_t> salt_ = Bytes("0123456789abcdef");
  DeterministicEntropy entropy_{9};
  Drbg drbg_{entropy_};
  PakeProverSecret secret_;
  PakeVerifier verifier_;
};

TEST(Spake2p, Rfc9383AppendixCVector) {
  const auto& v = vectors::kSpake2p;
  DeterministicEntropy entropy(1);
  Drbg drbg(entropy);
  ASSERT_TRUE(drbg.Seed().ok());
  PakeProverSecret secret;
  Load(secret.w0, v.w0);
  Load(secret.w1, v.w1);
  PakeVerifier verifier;
  ASSERT_TRUE(ComputePakeVerifier(secret, verifier).ok());
  EXPECT_EQ(ToHex(verifier.L), v.L);

  PakeClient client(secret, Bytes(v.context), Bytes(v.prover_id), Bytes(v.verifier_id));
  PakeServer server(verifier, Bytes(v.context), Bytes(v.prover_id), Bytes(v.verifier_id));
  SecretBytes<32> x, y;
  Load(x, v.x);
  Load(y, v.y);
  std::array<uint8_t, kPakeShareSize> share_p;
  ASSERT_TRUE(client.StartWithEphemeral(x.span(), drbg, share_p).ok());
  EXPECT_EQ(ToHex(share_p), v.share_p);
  std::array<uint8_t, kPakeServerMessageSize> m2;
  ASSERT_TRUE(server.RespondWithEphemeral(share_p, y.span(), drbg, m2).ok());
  EXPECT_EQ(ToHex(std::span(m2).first(kPakeShareSize)), v.share_v);
  EXPECT_EQ(ToHex(std::span(m2).subspan(kPakeShareSize)), v.confirm_v);
  std::array<uint8_t, kPakeConfirmSize> confirm_p;
  ASSERT_TRUE(client.Finish(m2, drbg, confirm_p).ok());
  EXPECT_EQ(ToHex(confirm_p), v.confirm_p);
  ASSERT_TRUE(server.Confirm(confirm_p).ok());
  SecretBytes<32> ks, kc;
  ASSERT_TRUE(server.SharedSecret(ks).ok());
  ASSERT_TRUE(client.SharedSecret(kc).ok());
  EXPECT_EQ(ToHex(ks.span()), v.shared_key);
  EXPECT_EQ(ToHex(kc.span()), v.shared_key);
}

TEST_F(PakeTest, RightSetupCodeBothSidesDeriveTheSameSecret) {
  PakeClient client(secret_, context_, client_id_, lock_id_);
  PakeServer server(verifier_, context_, client_id_, lock_id_);
  std::array<uint8_t, kPakeShareSize> m1;
  std::array<uint8_t, kPakeServerMessageSize> m2;
  std::array<uint8_t, kPakeConfirmSize> m3;
  ASSERT_TRUE(client.Start(drbg_, m1).ok());
  SecretBytes<32> early;
  EXPECT_EQ(server.SharedSecret(early), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(server.Respond(m1, drbg_, m2).ok());
  EXPECT_EQ(server.SharedSecret(early), StatusCode::kFailedPrecondition);  // not yet confirmed
  ASSERT_TRUE(client.Finish(m2, drbg_, m3).ok());
  ASSERT_TRUE(server.Confirm(m3).ok());
  SecretBytes<32> a, b;
  ASSERT_TRUE(client.SharedSecret(a).ok());
  ASSERT_TRUE(server.SharedSecret(b).ok());
  EXPECT_TRUE(ConstantTimeEqual(a.span(), b.span()));
}

TEST_F(PakeTest, TamperedMessagesAreRejected) {
  for (int target = 0; target < 4; ++target) {
    PakeClient client(secret_, context_, client_id_, lock_id_);
    PakeServer server(verifier_, context_, client_id_, lock_id_);
    std::array<uint8_t, kPakeShareSize> m1;
    std::array<uint8_t, kPakeServerMessageSize> m2;
    std::array<uint8_t, kPakeConfirmSize> m3;
    ASSERT_TRUE(client.Start(drbg_, m1).ok());
    if (target == 0) m1[40] ^= 1;  // shareP off the curve
    Status s = server.Respond(m1, drbg_, m2);
    if (target == 0) {
      EXPECT_EQ(s, StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(s.ok());
    if (target == 1) m2[70] ^= 1;  // confirmV
    if (target == 2) m2[10] ^= 1;  // shareV off the curve
    s = client.Finish(m2, drbg_, m3);
    if (target == 1) {
      EXPECT_EQ(s, StatusCode::kUnauthenticated);
    }
    if (target == 2) {
      EXPECT_EQ(s, StatusCode::kInvalidArgument);
    }
    if (target != 3) continue;
    ASSERT_TRUE(s.ok());
    m3[0] ^= 1;  // confirmP
    EXPECT_EQ(server.Confirm(m3), StatusCode::kUnauthenticated);
  }
}

TEST_F(PakeTest, ShareFromAnotherSessionIsRejected) {
  // A recorded shareV/confirmV from one session does not complete another.
  PakeClient c1(secret_, context_, client_id_, lock_id_), c2(secret_, context_, client_id_, lock_id_);
  PakeServer s1(verifier_, context_, client_id_, lock_id_);
  std::array<uint8_t, kPakeShareSize> m1a, m1b;
  std::array<uint8_t, kPakeServerMessageSize> m2;
  std::array<uint8_t, kPakeConfirmSize> m3;
  ASSERT_TRUE(c1.Start(drbg_, m1a).ok());
  ASSERT_TRUE(c2.Start(drbg_, m1b).ok());
  ASSERT_TRUE(s1.Respond(m1a, drbg_, m2).ok());
  EXPECT_EQ(c2.Finish(m2, drbg_, m3), StatusCode::kUnauthenticated);
}

TEST_F(PakeTest, MalformedMessagesAndOrderAreRefused) {
  PakeServer server(verifier_, context_, client_id_, lock_id_);
  std::array<uint8_t, kPakeServerMessageSize> m2;
  std::vector<uint8_t> short_share(64, 4);
  EXPECT_EQ(server.Respond(short_share, drbg_, m2), StatusCode::kInvalidArgument);

  PakeServer server2(verifier_, context_, client_id_, lock_id_);
  std::array<uint8_t, kPakeConfirmSize> m3{};
  EXPECT_EQ(server2.Confirm(m3), StatusCode::kFailedPrecondition);  // before Respond

  PakeClient client(secret_, context_, client_id_, lock_id_);
  EXPECT_EQ(client.Finish(m2, drbg_, m3), StatusCode::kFailedPrecondition);  // before Start
  std::array<uint8_t, kPakeShareSize> m1;
  EXPECT_EQ(client.Start(drbg_, m1), StatusCode::kFailedPrecondition);  // failed already

  PakeClient c2(secret_, context_, client_id_, lock_id_);
  ASSERT_TRUE(c2.Start(drbg_, m1).ok());
  std::vector<uint8_t> short_m2(kPakeServerMessageSize - 1);
  EXPECT_EQ(c2.Finish(short_m2, drbg_, m3), StatusCode::kInvalidArgument);
}

TEST_F(PakeTest, ShareEqualToThePasswordMaskIsRefused) {
  // shareP = w0*M would leave the identity after unmasking: the server must
  // refuse it rather than derive keys from the identity.
  constexpr uint8_t kMUncompressed[] = {
      0x04, 0x88, 0x6e, 0x2f, 0x97, 0xac, 0xe4, 0x6e, 0x55, 0xba, 0x9d, 0xd7, 0x24, 0x25, 0x79,
      0xf2, 0x99, 0x3b, 0x64, 0xe1, 0x6e, 0xf3, 0xdc, 0xab, 0x95, 0xaf, 0xd4, 0x97, 0x33, 0x3d,
      0x8f, 0xa1, 0x2f, 0x5f, 0xf3, 0x55, 0x16, 0x3e, 0x43, 0xce, 0x22, 0x4e, 0x0b, 0x0e, 0x65,
      0xff, 0x02, 0xac, 0x8e, 0x5c, 0x7b, 0xe0, 0x94, 0x19, 0xc7, 0x85, 0xe0, 0xca, 0x54, 0x7d,
      0x55, 0xa1, 0x2e, 0x2d, 0x20};
  internal::Group grp;
  internal::Point m, w0m;
  internal::Mpi w0;
  ASSERT_TRUE(internal::ReadPoint(grp, kMUncompressed, m).ok());
  ASSERT_TRUE(internal::ReadScalar(grp, verifier_.w0.span(), w0).ok());
  ASSERT_TRUE(internal::Mul(grp, w0m, w0, m, drbg_).ok());
  std::array<uint8_t, kPakeShareSize> share;
  ASSERT_TRUE(internal::WritePoint(grp, w0m, share).ok());
  PakeServer server(verifier_, context_, client_id_, lock_id_);
  std::array<uint8_t, kPakeServerMessageSize> m2;
  EXPECT_EQ(server.Respond(share, drbg_, m2), StatusCode::kInvalidArgument);
}

TEST_F(PakeTest, SetupCodeDerivationChecksParameters) {
  PakeProverSecret s;
  EXPECT_EQ(DerivePakeProverSecret({}, salt_, 1000, s), StatusCode::kInvalidArgument);
  EXPECT_EQ(DerivePakeProverSecret(Bytes("1"), Bytes("short"), 1000, s),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DerivePakeProverSecret(Bytes("1"), salt_, 999, s), StatusCode::kInvalidArgument);
  EXPECT_EQ(DerivePakeProverSecret(Bytes("1"), salt_, kPakeMaxIterations + 1, s),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mortise::crypto
