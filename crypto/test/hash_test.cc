#include "mortise/crypto/hash.h"

#include <gtest/gtest.h>

#include <cstring>

#include <string>
#include <vector>

namespace mortise::crypto {
namespace {

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string ToHex(std::span<const uint8_t> d) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) { s += k[b >> 4]; s += k[b & 15]; }
  return s;
}

// FIPS 180-4 examples (NIST CSRC "SHA256.pdf").
TEST(Sha256, NistVectors) {
  EXPECT_EQ(ToHex(Sha256::Hash(Bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256::Hash(Bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(ToHex(Sha256::Hash({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::vector<uint8_t> msg(1000);
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<uint8_t>(i * 7);
  Sha256 h;
  h.Update(std::span(msg).first(3));
  h.Update(std::span(msg).subspan(3, 500));
  h.Update(std::span(msg).subspan(503));
  Digest d;
  h.Final(d);
  EXPECT_EQ(d, Sha256::Hash(msg));
}

// RFC 4231 test cases 1, 2, 4 and 6 (key longer than a block).
TEST(HmacSha256, Rfc4231Vectors) {
  struct Case { std::vector<uint8_t> key, data; const char* mac; };
  std::vector<Case> cases = {
      {std::vector<uint8_t>(20, 0x0b), Bytes("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {Bytes("Jefe"), Bytes("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {FromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::vector<uint8_t>(50, 0xcd),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {std::vector<uint8_t>(131, 0xaa), Bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
  };
  for (const auto& c : cases) {
    HmacSha256 h(c.key);
    Digest mac;
    h.Mac(c.data, mac);
    EXPECT_EQ(ToHex(mac), c.mac);
    // Reuse of the precomputed key gives the same answer.
    h.Mac(c.data, mac);
    EXPECT_EQ(ToHex(mac), c.mac);
  }
}

TEST(HmacSha256, PartsAreConcatenated) {
  HmacSha256 h(Bytes("key"));
  Digest whole, parts;
  h.Mac(Bytes("abcdef"), whole);
  h.Mac(Bytes("ab"), Bytes("cd"), Bytes("ef"), parts);
  EXPECT_EQ(whole, parts);
}

TEST(Secret, ConstantTimeEqualComparesLengthAndBytes) {
  uint8_t a[] = {1, 2, 3}, b[] = {1, 2, 3}, c[] = {1, 2, 4};
  EXPECT_TRUE(ConstantTimeEqual(a, b));
  EXPECT_FALSE(ConstantTimeEqual(a, c));
  EXPECT_FALSE(ConstantTimeEqual(std::span(a).first(2), b));
}

TEST(Secret, SecretBytesZeroesOnDestruction) {
  alignas(SecretBytes<16>) unsigned char storage[sizeof(SecretBytes<16>)];
  auto* s = new (storage) SecretBytes<16>();
  for (size_t i = 0; i < 16; ++i) s->data()[i] = 0xA5;
  s->~SecretBytes<16>();
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(storage[i], 0) << i;
}

TEST(Secret, ScopedWipeZeroesTheObjectOnEveryReturnPath) {
  struct Message {
    uint32_t command;
    uint8_t pin[8];
  };
  Message m{};
  auto seal = [&](bool fail_early) {
    const ScopedWipe wipe(m);
    m.command = 7;
    std::memset(m.pin, '4', sizeof(m.pin));
    if (fail_early) return false;
    return true;
  };
  for (const bool fail_early : {true, false}) {
    seal(fail_early);
    EXPECT_EQ(m.command, 0u);
    for (uint8_t b : m.pin) EXPECT_EQ(b, 0);
  }
}

}  // namespace
}  // namespace mortise::crypto
