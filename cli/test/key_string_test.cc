#include "key_string.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base64url.h"
#include "error.h"
#include "test_util.h"

namespace mortise::cli {
namespace {

using testing::Bytes;

// Expects `fn` to throw Error with `code` and a message containing `needle`.
template <typename Fn>
void ExpectError(Fn fn, ExitCode code, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

// A bundle's binary form, field by field, for crafting bad strings.
struct Tlv {
  Bytes bin{kShareVersion};
  Tlv& Field(uint8_t type, const Bytes& value) {
    bin.push_back(type);
    bin.push_back(static_cast<uint8_t>(value.size() >> 8));
    bin.push_back(static_cast<uint8_t>(value.size()));
    bin.insert(bin.end(), value.begin(), value.end());
    return *this;
  }
  // With the check a real string ends with (so each test reaches the
  // malformation it crafts); Unchecked() without it.
  std::string Text() const {
    Bytes out = bin;
    const auto check = ShareCheck(bin);
    out.insert(out.end(), {static_cast<uint8_t>(ShareField::kCheck), 0, static_cast<uint8_t>(kShareCheckSize)});
    out.insert(out.end(), check.begin(), check.end());
    return std::string(kSharePrefix) + Base64UrlEncode(out);
  }
  std::string Unchecked() const { return std::string(kSharePrefix) + Base64UrlEncode(bin); }
};

Bytes Compressed(const crypto::P256KeyPair& k) {
  const auto c = k.public_key().Compressed();
  return Bytes(c.begin(), c.end());
}

class CliKeyStringTest : public ::testing::Test {
 protected:
  testing::Fixture fx;
};

TEST(CliBase64UrlTest, RoundTripsAndRefusesNonCanonicalText) {
  for (size_t n = 0; n < 10; ++n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(0xF0 + i);
    const std::string t = Base64UrlEncode(b);
    EXPECT_EQ(t.find('='), std::string::npos);
    ASSERT_TRUE(Base64UrlDecode(t).has_value());
    EXPECT_EQ(*Base64UrlDecode(t), b);
  }
  EXPECT_FALSE(Base64UrlDecode("AB=").has_value());   // padding
  EXPECT_FALSE(Base64UrlDecode("A+B/").has_value());  // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("AB C").has_value());  // whitespace
  EXPECT_FALSE(Base64UrlDecode("A").has_value());     // impossible length
  EXPECT_FALSE(Base64UrlDecode("AB").has_value());    // unused bits set ("AA" is the canonical text)
  EXPECT_TRUE(Base64UrlDecode("AA").has_value());
}

TEST_F(CliKeyStringTest, PublicKeyStringRoundTrips) {
  const std::string text = EncodePublicKeyString(fx.guest.public_key());
  EXPECT_TRUE(text.starts_with("MKP1."));
  EXPECT_EQ(text.size(), 55u);  // the point and its 4-byte check
  EXPECT_EQ(ParsePublicKeyString(text), fx.guest.public_key());
  // The form without the check (49 characters, from earlier versions) is still read.
  const auto point = fx.guest.public_key().Compressed();
  EXPECT_EQ(ParsePublicKeyString("MKP1." + Base64UrlEncode(Bytes(point.begin(), point.end()))), fx.guest.public_key());
}

TEST_F(CliKeyStringTest, PublicKeyStringRefusals) {
  const std::string good = EncodePublicKeyString(fx.guest.public_key());
  ExpectError([&] { ParsePublicKeyString("mkp1." + good.substr(5)); }, ExitCode::kBadInput, "must start with MKP1.");
  ExpectError([&] { ParsePublicKeyString(""); }, ExitCode::kBadInput, "must start with MKP1.");
  ExpectError([&] { ParsePublicKeyString(good.substr(0, 29)); }, ExitCode::kBadInput, "18 bytes, not 37 (33 without its check)");
  ExpectError([&] { ParsePublicKeyString(good.substr(0, 30)); }, ExitCode::kBadInput, "damaged");
  ExpectError([&] { ParsePublicKeyString(good + "AA"); }, ExitCode::kBadInput, "too long");
  ExpectError([&] { ParsePublicKeyString(good.substr(0, 48) + "+"); }, ExitCode::kBadInput, "damaged");
  ExpectError([&] { ParsePublicKeyString(" " + good); }, ExitCode::kBadInput, "must start");
  Bytes bad(33, 0xFF);
  bad[0] = 0x02;  // X >= p: not a point
  ExpectError([&] { ParsePublicKeyString("MKP1." + Base64UrlEncode(bad)); }, ExitCode::kBadInput, "not a valid P-256");
  Bytes uncompressed(fx.guest.public_key().bytes().begin(), fx.guest.public_key().bytes().end());
  ExpectError([&] { ParsePublicKeyString("MKP1." + Base64UrlEncode(uncompressed)); }, ExitCode::kBadInput, "too long");
  // Other Mortise strings say what they are.
  ExpectError([&] { ParsePublicKeyString("MKS1.AQ"); }, ExitCode::kBadInput, "shared key (MKS1.), not a public key");
  ExpectError([&] { ParsePublicKeyString("MK1.CgA"); }, ExitCode::kBadInput, "bare certificate chain");
}

TEST_F(CliKeyStringTest, ShareStringRoundTripsWithAndWithoutHints) {
  ShareBundle b;
  b.lock_key = fx.lock.public_key().bytes();
  b.chain = fx.GuestChain();
  const std::string bare = EncodeShareString(b);
  EXPECT_TRUE(bare.starts_with("MKS1."));
  ParsedShare p = ParseShareString(bare);
  EXPECT_EQ(p.bundle.lock_key, b.lock_key);
  EXPECT_EQ(p.bundle.chain, b.chain);
  EXPECT_TRUE(p.bundle.endpoint_hint.empty());
  EXPECT_EQ(p.lock_id, fx.lock_id);
  EXPECT_EQ(p.certificates, 1u);
  EXPECT_EQ(p.holder.holder_key, fx.guest.public_key().Compressed());
  EXPECT_EQ(p.holder.serial, 1001u);
  EXPECT_EQ(p.holder.max_uses, 10u);

  b.endpoint_hint = "tcp:127.0.0.1:7420";
  b.lock_name_hint = "front-door";
  const std::string hinted = EncodeShareString(b);
  p = ParseShareString(hinted);
  EXPECT_EQ(p.bundle.endpoint_hint, "tcp:127.0.0.1:7420");
  EXPECT_EQ(p.bundle.lock_name_hint, "front-door");
  EXPECT_EQ(EncodeShareString(p.bundle), hinted);
  // A guest chain with a window, a schedule and a use limit plus hints and
  // the check still fits a QR code comfortably (version 14 at level M holds
  // 362 bytes; serials are fixed64 and the claim generation adds 2).
  EXPECT_LT(hinted.size(), 350u) << hinted.size();
}

TEST_F(CliKeyStringTest, DelegatedChainParses) {
  ShareBundle b;
  b.lock_key = fx.lock.public_key().bytes();
  b.chain = fx.DelegatedChain();
  ParsedShare p = ParseShareString(EncodeShareString(b));
  EXPECT_EQ(p.certificates, 2u);
  EXPECT_EQ(p.holder.serial, 2002u);
  EXPECT_EQ(p.holder.role, protocol::Role::kGuest);
}

// A group key names no lock: any lock key may carry it (the holder's first
// door); the lock checks the group against its membership.
TEST_F(CliKeyStringTest, GroupKeyParsesWithTheLockKeyItCarries) {
  protocol::CertificateFields g;
  g.scope = protocol::Scope::kGroup;
  g.group_id = 0xF00D;
  g.holder_key = fx.guest.public_key().Compressed();
  g.role = protocol::Role::kGuest;
  g.permissions = protocol::kPermUnlock;
  g.serial = 3003;
  ShareBundle b;
  b.lock_key = fx.lock.public_key().bytes();
  b.chain = testing::Chain(testing::Issue(g, fx.owner, fx.rng.drbg));
  ParsedShare p = ParseShareString(EncodeShareString(b));
  EXPECT_EQ(p.holder.scope, protocol::Scope::kGroup);
  EXPECT_EQ(p.holder.group_id, 0xF00Du);
  EXPECT_EQ(p.lock_id, fx.lock_id);
}

TEST_F(CliKeyStringTest, ShareStringRefusesOtherPrefixes) {
  ExpectError([] { ParseShareString("MKS2.AQ"); }, ExitCode::kBadInput, "must start with MKS1.");
  ExpectError([] { ParseShareString("MK1.CgA"); }, ExitCode::kBadInput, "bare certificate chain");
  ExpectError([] { ParseShareString("MC1.AQID"); }, ExitCode::kBadInput, "claim label");
  ExpectError([&] { ParseShareString(EncodePublicKeyString(fx.guest.public_key())); }, ExitCode::kBadInput,
              "public key (MKP1.), not a shared key");
}

TEST_F(CliKeyStringTest, ShareStringRefusesEveryMalformation) {
  const Bytes lock = Compressed(fx.lock);
  const Bytes chain = fx.GuestChain();
  const std::string good = Tlv().Field(1, lock).Field(2, chain).Text();
  EXPECT_NO_THROW(ParseShareString(good));

  ExpectError([&] { ParseShareString(good + "*"); }, ExitCode::kBadInput, "damaged");
  ExpectError([&] { ParseShareString(good + "="); }, ExitCode::kBadInput, "damaged");
  ExpectError([&] { ParseShareString(good.substr(0, good.size() - 8)); }, ExitCode::kBadInput, "cut short");
  // One changed character anywhere: the check says so (issue 12 item 10).
  for (size_t at = kSharePrefix.size(); at < good.size(); at += 7) {
    std::string changed = good;
    changed[at] = changed[at] == 'B' ? 'C' : 'B';
    SCOPED_TRACE(at);
    ExpectError([&] { ParseShareString(changed); }, ExitCode::kBadInput, "");
  }
  {
    std::string changed = good;
    changed[good.size() / 2] = changed[good.size() / 2] == 'B' ? 'C' : 'B';
    ExpectError([&] { ParseShareString(changed); }, ExitCode::kBadInput, "changed or lost in copying");
  }
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, chain).Unchecked()); }, ExitCode::kBadInput,
              "does not end with its check");
  Tlv v1;
  v1.bin[0] = 1;
  ExpectError([&] { ParseShareString(v1.Field(1, lock).Field(2, chain).Text()); }, ExitCode::kBadInput,
              "version 1");
  ExpectError([&] { ParseShareString(std::string(kSharePrefix)); }, ExitCode::kBadInput, "empty");
  ExpectError([&] { ParseShareString("MKS1." + std::string(kMaxShareText, 'A')); }, ExitCode::kBadInput, "too long");

  Tlv v3;
  v3.bin[0] = 3;
  ExpectError([&] { ParseShareString(v3.Field(1, lock).Field(2, chain).Text()); }, ExitCode::kBadInput,
              "format version 3");
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, chain).Field(9, {1}).Text()); }, ExitCode::kBadInput,
              "unknown field");
  ExpectError([&] { ParseShareString(Tlv().Field(2, chain).Field(1, lock).Text()); }, ExitCode::kBadInput, "out of order");
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(1, lock).Field(2, chain).Text()); }, ExitCode::kBadInput,
              "repeated");
  ExpectError([&] { ParseShareString(Tlv().Field(2, chain).Text()); }, ExitCode::kBadInput, "no lock key");
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Text()); }, ExitCode::kBadInput, "no key chain");
  Bytes short_key(lock.begin(), lock.begin() + 32);
  ExpectError([&] { ParseShareString(Tlv().Field(1, short_key).Field(2, chain).Text()); }, ExitCode::kBadInput,
              "32 bytes, not 33");
  Bytes bad_point(33, 0xFF);
  bad_point[0] = 0x03;
  ExpectError([&] { ParseShareString(Tlv().Field(1, bad_point).Field(2, chain).Text()); }, ExitCode::kBadInput,
              "not a valid P-256 point");
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, {}).Text()); }, ExitCode::kBadInput,
              "impossible length");
  // A field whose length runs past the end.
  Tlv cut = Tlv().Field(1, lock).Field(2, chain);
  cut.bin.resize(cut.bin.size() - 5);
  ExpectError([&] { ParseShareString(cut.Text()); }, ExitCode::kBadInput, "key chain is cut short");
  // A dangling partial field header.
  Tlv dangling = Tlv().Field(1, lock).Field(2, chain);
  dangling.bin.push_back(3);
  ExpectError([&] { ParseShareString(dangling.Text()); }, ExitCode::kBadInput, "field header");

  // Hints.
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, chain).Field(3, {}).Text()); }, ExitCode::kBadInput,
              "endpoint hint");
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, chain).Field(3, {'a', ' ', 'b'}).Text()); },
              ExitCode::kBadInput, "endpoint hint");
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, chain).Field(4, {'-', 'x'}).Text()); },
              ExitCode::kBadInput, "lock name hint");
}

TEST_F(CliKeyStringTest, ShareStringRefusesBadChains) {
  const Bytes lock = Compressed(fx.lock);
  Bytes chain = fx.GuestChain();
  // Not a KeyChain at all.
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, {0x12, 0x00}).Text()); }, ExitCode::kBadInput,
              "malformed");
  // A certificate whose bytes do not decode.
  Bytes garbled = chain;
  garbled[5] ^= 0xFF;
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, garbled).Text()); }, ExitCode::kBadInput, "chain");
  // Over-long varint for the certificate length (three bytes for a value
  // that needs two): refused, so each chain has one encoding.
  const Bytes cert(chain.begin() + 3, chain.end());
  ASSERT_EQ(chain[0], 0x0A);
  ASSERT_EQ(cert.size(), size_t{chain[1] & 0x7Fu} | size_t{chain[2]} << 7);
  Bytes overlong{0x0A, chain[1], static_cast<uint8_t>(chain[2] | 0x80), 0x00};
  overlong.insert(overlong.end(), cert.begin(), cert.end());
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, overlong).Text()); }, ExitCode::kBadInput,
              "malformed (length)");
  const Bytes small = testing::Issue(
      testing::Fields(fx.lock_id, fx.guest, protocol::Role::kGuest, protocol::kPermUnlock, 7), fx.owner, fx.rng.drbg);
  ASSERT_LT(small.size(), 150u);
  // Three certificates.
  Bytes three;
  for (int i = 0; i < 3; ++i) {
    three.push_back(0x0A);
    if (small.size() < 0x80) {
      three.push_back(static_cast<uint8_t>(small.size()));
    } else {
      three.push_back(static_cast<uint8_t>(small.size() | 0x80));
      three.push_back(static_cast<uint8_t>(small.size() >> 7));
    }
    three.insert(three.end(), small.begin(), small.end());
  }
  ExpectError([&] { ParseShareString(Tlv().Field(1, lock).Field(2, three).Text()); }, ExitCode::kBadInput,
              "more than two");
  // A chain for another lock than the key carried: a verification failure.
  const Bytes other_lock = Compressed(fx.owner);
  ExpectError([&] { ParseShareString(Tlv().Field(1, other_lock).Field(2, chain).Text()); }, ExitCode::kVerification,
              "another lock");
}

TEST_F(CliKeyStringTest, EncodeRefusesBundlesThatWouldNotParse) {
  ShareBundle b;
  b.lock_key = fx.lock.public_key().bytes();
  b.chain = fx.GuestChain();
  b.lock_name_hint = "no spaces";
  ExpectError([&] { EncodeShareString(b); }, ExitCode::kBadInput, "lock name hint");
  b.lock_name_hint.clear();
  b.endpoint_hint = std::string(256, 'a');
  ExpectError([&] { EncodeShareString(b); }, ExitCode::kBadInput, "endpoint hint");
  b.endpoint_hint.clear();
  b.lock_key = fx.owner.public_key().bytes();
  ExpectError([&] { EncodeShareString(b); }, ExitCode::kVerification, "another lock");
}

TEST(CliNameTest, ValidNames) {
  EXPECT_TRUE(IsValidName("default"));
  EXPECT_TRUE(IsValidName("front-door.2_b"));
  EXPECT_TRUE(IsValidName(std::string(64, 'a')));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName(std::string(65, 'a')));
  EXPECT_FALSE(IsValidName("-x"));
  EXPECT_FALSE(IsValidName("a b"));
  EXPECT_FALSE(IsValidName("a/b"));
}

TEST(CliHexTest, RoundTripAndRefusals) {
  const Bytes b{0x00, 0xAB, 0xFF};
  EXPECT_EQ(ToHex(b), "00abff");
  Bytes out;
  EXPECT_TRUE(FromHex("00ABff", out));
  EXPECT_EQ(out, b);
  EXPECT_FALSE(FromHex("abc", out));
  EXPECT_FALSE(FromHex("zz", out));
}

// Writes the fuzzer's seed corpus when MORTISE_CLI_CORPUS_OUT names a
// directory (run once by hand; the seeds are checked in under
// cli/fuzz/corpus/key_string).
TEST_F(CliKeyStringTest, GenerateSeedCorpus) {
  ShareBundle b;
  b.lock_key = fx.lock.public_key().bytes();
  b.chain = fx.GuestChain();
  const std::string plain = EncodeShareString(b);
  b.endpoint_hint = "unix:/run/mortise/lock.sock";
  b.lock_name_hint = "front-door";
  const std::string hinted = EncodeShareString(b);
  b.chain = fx.DelegatedChain();
  const std::string delegated = EncodeShareString(b);
  const std::string public_key = EncodePublicKeyString(fx.guest.public_key());
  const char* out = std::getenv("MORTISE_CLI_CORPUS_OUT");
  if (out == nullptr) return;
  const std::filesystem::path dir(out);
  std::filesystem::create_directories(dir);
  auto write = [&dir](const char* name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
  };
  write("share_plain", plain);
  write("share_hinted", hinted);
  write("share_delegated", delegated);
  write("public_key", public_key);
  const Bytes raw = fx.GuestChain();
  write("chain_raw", std::string(raw.begin(), raw.end()));
}

}  // namespace
}  // namespace mortise::cli
