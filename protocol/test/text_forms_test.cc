// The text forms (docs/protocol.md section 17): one implementation each in
// this library, distinct prefixes, strict parsing. (The CLI's messages for
// every refusal are tested in cli/test/key_string_test.cc; byte-exact
// examples are in vectors/.)
#include "mortise/protocol/text_forms.h"

#include <gtest/gtest.h>

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
