// The text forms (docs/protocol.md section 17): one implementation each in
// this library, distinct prefixes, strict parsing. (The CLI's messages for
// every refusal are tested in cli/test/key_string_test.cc; byte-exact
// examples are in vectors/.)
#include "mortise/protocol/text_forms.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "mortise/protocol/base64url.h"
#include "mortise/protocol/claim.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using testing::Chain;
using testing::Fields;
using testing::Issue;

TEST(TextFormsTest, EveryFormHasItsOwnPrefix) {
  const std::string_view prefixes[] = {kKeyTextPrefix, kLabelPrefix, kPublicKeyTextPrefix, kShareTextPrefix,
                                       kRevalidationTextPrefix};
  const TextForm forms[] = {TextForm::kKeyChain, TextForm::kClaimLabel, TextForm::kPublicKey, TextForm::kShare,
                            TextForm::kRevalidationToken};
  for (size_t i = 0; i < std::size(prefixes); ++i) {
    EXPECT_EQ(IdentifyText(std::string(prefixes[i]) + "AAAA"), forms[i]) << prefixes[i];
    for (size_t j = 0; j < std::size(prefixes); ++j) {
      if (i != j) {
        EXPECT_FALSE(prefixes[j].starts_with(prefixes[i])) << prefixes[i] << " " << prefixes[j];
      }
    }
  }
  EXPECT_EQ(IdentifyText("mkp1.AAAA"), TextForm::kUnknown);  // case-sensitive
  EXPECT_EQ(IdentifyText("MKK1"), TextForm::kUnknown);       // the keyring file's magic is no text form
}

TEST(TextFormsTest, PublicKeyTextRoundTripsAndRefusesWhatIsNotAKey) {
  testing::SeededDrbg rng(3);
  const crypto::P256KeyPair k = testing::NewKey(rng.drbg);
  char text[kPublicKeyTextSize];
  Result<size_t> n = PublicKeyToText(k.public_key(), text);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, kPublicKeyTextSize);
  const std::string s(text, *n);
  Result<crypto::P256PublicKey> back = PublicKeyFromText(s);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, k.public_key());
  TextError why;
  EXPECT_FALSE(PublicKeyFromText("MKS1." + s.substr(5), &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kWrongPrefix);
  EXPECT_FALSE(PublicKeyFromText(s + "A", &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kTooLong);
  EXPECT_FALSE(PublicKeyFromText(s.substr(0, s.size() - 1) + "=", &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kBadBase64);
  EXPECT_FALSE(PublicKeyFromText("MKP1.AAAA", &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kWrongLength);
}

// Item 10's spirit for public keys: a character changed in copying is
// caught by the check, even when what remains is a valid point; the form
// without the check (49 characters, from earlier versions) is still read.
TEST(TextFormsTest, APublicKeyTextWithAChangedCharacterIsCaughtByItsCheck) {
  testing::SeededDrbg rng(4);
  for (int round = 0; round < 8; ++round) {
    const crypto::P256KeyPair k = testing::NewKey(rng.drbg);
    char text[kPublicKeyTextSize];
    Result<size_t> n = PublicKeyToText(k.public_key(), text);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 55u);
    const std::string s(text, *n);
    int points_left_valid = 0;
    // Every character of the key's bytes (not the prefix) changed to another.
    for (size_t i = 5; i < 5 + 44; ++i) {
      std::string bad = s;
      bad[i] = bad[i] == 'A' ? 'B' : 'A';
      TextError why;
      Result<crypto::P256PublicKey> r = PublicKeyFromText(bad, &why);
      EXPECT_FALSE(r.ok()) << bad;
      if (why.problem == TextProblem::kShareCheckMismatch) ++points_left_valid;
    }
    EXPECT_GT(points_left_valid, 0);
    // The legacy form: the point alone.
    const auto compressed = k.public_key().Compressed();
    char legacy[kLegacyPublicKeyTextSize + 1];
    std::memcpy(legacy, "MKP1.", 5);
    Result<size_t> m = Base64UrlEncode(compressed, std::span<char>(legacy + 5, sizeof(legacy) - 5));
    ASSERT_TRUE(m.ok());
    Result<crypto::P256PublicKey> old = PublicKeyFromText(std::string_view(legacy, 5 + *m));
    ASSERT_TRUE(old.ok());
    EXPECT_EQ(*old, k.public_key());
  }
}

TEST(TextFormsTest, ATransferTextRoundTripsAndACopyingMistakeIsNamed) {
  testing::SeededDrbg rng(5);
  const crypto::P256KeyPair lock = testing::NewKey(rng.drbg);
  TransferBundle b;
  b.lock_key = lock.public_key().bytes();
  for (size_t i = 0; i < b.result.size(); ++i) b.result[i] = static_cast<uint8_t>(i);
  const std::string_view ep = "unix:/run/lock.sock", name = "front-door";
  std::memcpy(b.endpoint_hint.data(), ep.data(), ep.size());
  b.endpoint_hint_len = ep.size();
  std::memcpy(b.lock_name_hint.data(), name.data(), name.size());
  b.lock_name_hint_len = name.size();
  char text[kMaxTransferText];
  Result<size_t> n = TransferToText(b, text);
  ASSERT_TRUE(n.ok());
  const std::string s(text, *n);
  EXPECT_EQ(IdentifyText(s), TextForm::kTransfer);
  Result<TransferBundle> back = TransferFromText(s);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->lock_key, b.lock_key);
  EXPECT_EQ(back->result, b.result);
  EXPECT_EQ(back->endpoint_view(), ep);
  EXPECT_EQ(back->name_view(), name);
  TextError why;
  std::string bad = s;
  bad[40] = bad[40] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(TransferFromText(bad, &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kShareCheckMismatch);
  EXPECT_FALSE(TransferFromText(s.substr(0, s.size() - 4), &why).ok());
  EXPECT_FALSE(TransferFromText("MKS1." + s.substr(5), &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kWrongPrefix);
}

TEST(TextFormsTest, RevalidationTokenTextRoundTripsStrictly) {
  const std::vector<uint8_t> token = {0x0A, 0x03, 0x08, 0x01, 0x12};
  char text[kMaxRevalidationTextSize];
  Result<size_t> n = RevalidationTokenToText(token, text);
  ASSERT_TRUE(n.ok());
  const std::string s(text, *n);
  EXPECT_TRUE(s.starts_with("MKR1."));
  uint8_t out[kMaxRevalidationTokenSize];
  Result<size_t> m = RevalidationTokenFromText(s, out);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::vector<uint8_t>(out, out + *m), token);
  TextError why;
  EXPECT_FALSE(RevalidationTokenFromText("MKR1.", out, &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kEmpty);
  EXPECT_FALSE(RevalidationTokenFromText("MKR1.AB", out, &why).ok());  // unused bits set
  EXPECT_EQ(why.problem, TextProblem::kBadBase64);
  EXPECT_FALSE(RevalidationTokenToText({}, text).ok());
}

TEST(TextFormsTest, ShareRoundTripsAndTheCheckCatchesACopyingMistake) {
  testing::SeededDrbg rng(4);
  const crypto::P256KeyPair lock = testing::NewKey(rng.drbg), owner = testing::NewKey(rng.drbg),
                            guest = testing::NewKey(rng.drbg);
  const LockId lock_id = LockIdOf(lock.public_key());
  const std::vector<uint8_t> chain = Chain(Issue(Fields(lock_id, guest, Role::kGuest, kPermUnlock, 9), owner, rng.drbg));
  ShareBundle b;
  b.lock_key = lock.public_key().bytes();
  std::copy(chain.begin(), chain.end(), b.chain.begin());
  b.chain_len = chain.size();
  char text[kMaxShareText];
  Result<size_t> n = ShareToText(b, text);
  ASSERT_TRUE(n.ok());
  std::string s(text, *n);
  Result<ShareBundle> back = ShareFromText(s);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::vector<uint8_t>(back->chain_view().begin(), back->chain_view().end()), chain);
  EXPECT_EQ(back->endpoint_hint_len, 0u);
  s[20] = s[20] == 'A' ? 'B' : 'A';
  TextError why;
  EXPECT_FALSE(ShareFromText(s, &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kShareCheckMismatch);
  // A chain for another lock than the bundle's lock key.
  b.lock_key = owner.public_key().bytes();
  EXPECT_FALSE(ShareToText(b, text, &why).ok());
  EXPECT_EQ(why.problem, TextProblem::kChainOtherLock);
}

TEST(TextFormsTest, Base64UrlHasOneTextPerByteString) {
  uint8_t out[8];
  EXPECT_EQ(*Base64UrlDecode("", out), 0u);
  EXPECT_FALSE(Base64UrlDecode("A", out).ok());
  EXPECT_FALSE(Base64UrlDecode("AB", out).ok());   // unused bits set
  EXPECT_TRUE(Base64UrlDecode("AA", out).ok());
  EXPECT_FALSE(Base64UrlDecode("AA==", out).ok());  // padding
  EXPECT_FALSE(Base64UrlDecode("A+B/", out).ok());  // the standard alphabet
}

}  // namespace
}  // namespace mortise::protocol
