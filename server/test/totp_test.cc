// TOTP against RFC 6238 Appendix B's vectors (SHA-1, SHA-256, SHA-512),
// the ±1 step window, and base32.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "totp.h"

namespace mortise::server {
namespace {

std::vector<uint8_t> Seed(size_t n) {
  // RFC 6238's seeds: "1234567890" repeated to 20, 32 or 64 bytes.
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>('0' + (i + 1) % 10));
  return out;
}

struct Vector {
  int64_t time;
  const char* sha1;
  const char* sha256;
  const char* sha512;
};

TEST(Totp, MatchesRfc6238Vectors) {
  const Vector vectors[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
      {20000000000, "65353130", "77737706", "47863826"},
  };
  for (const auto& v : vectors) {
    TotpParams p;
    p.digits = 8;
    p.algorithm = TotpAlgorithm::kSha1;
    EXPECT_EQ(TotpCode(Seed(20), v.time, p), v.sha1) << v.time;
    p.algorithm = TotpAlgorithm::kSha256;
    EXPECT_EQ(TotpCode(Seed(32), v.time, p), v.sha256) << v.time;
    p.algorithm = TotpAlgorithm::kSha512;
    EXPECT_EQ(TotpCode(Seed(64), v.time, p), v.sha512) << v.time;
  }
}

TEST(Totp, AcceptsOneStepEitherSideAndNoFurther) {
  const auto key = Seed(20);
  TotpParams p;
  const int64_t now = 1'700'000'000;
  const int64_t step = TotpStep(now, p);
  EXPECT_EQ(TotpMatch(key, TotpCode(key, now, p), now, p), step);
  EXPECT_EQ(TotpMatch(key, TotpCode(key, now - 30, p), now, p), step - 1);
  EXPECT_EQ(TotpMatch(key, TotpCode(key, now + 30, p), now, p), step + 1);
  EXPECT_EQ(TotpMatch(key, TotpCode(key, now - 60, p), now, p), std::nullopt);
  EXPECT_EQ(TotpMatch(key, TotpCode(key, now + 60, p), now, p), std::nullopt);
}

TEST(Totp, RejectsCodesOfTheWrongShape) {
  const auto key = Seed(20);
  TotpParams p;
  const int64_t now = 1'700'000'000;
  const std::string good = TotpCode(key, now, p);
  EXPECT_EQ(TotpMatch(key, good + "0", now, p), std::nullopt);
  EXPECT_EQ(TotpMatch(key, good.substr(1), now, p), std::nullopt);
  EXPECT_EQ(TotpMatch(key, "12345a", now, p), std::nullopt);
  EXPECT_EQ(TotpMatch(key, "", now, p), std::nullopt);
}

TEST(Base32, RoundTripsAndMatchesRfc4648) {
  const std::string foobar = "foobar";
  const std::vector<uint8_t> bytes(foobar.begin(), foobar.end());
  EXPECT_EQ(Base32Encode(bytes), "MZXW6YTBOI");  // RFC 4648 section 10, unpadded
  EXPECT_EQ(Base32Decode("mzxw6ytboi"), bytes);
  EXPECT_EQ(Base32Decode("MZXW 6YTB OI"), bytes);
  EXPECT_EQ(Base32Decode("MZXW1"), std::nullopt);
}

TEST(Totp, OtpAuthUriNamesIssuerAccountAndParameters) {
  TotpParams p;
  EXPECT_EQ(OtpAuthUri("Mortise", "ana@example.org", "ABC", p),
            "otpauth://totp/Mortise:ana@example.org?secret=ABC&issuer=Mortise&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace mortise::server
