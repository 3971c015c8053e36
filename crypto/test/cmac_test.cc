#include "mortise/crypto/cmac.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mortise::crypto {
namespace {

std::vector<uint8_t> Hex(const std::string& h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(uint8_t(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

// RFC 4493 section 4 examples (AES-128, key 2b7e1516...).
TEST(AesCmac, Rfc4493Vectors) {
  auto key = Hex("2b7e151628aed2a6abf7158809cf4f3c");
  AesCmac cmac(std::span<const uint8_t, 16>(key.data(), 16));
  const std::string msg =
      "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
  struct Case { size_t len; const char* tag; } cases[] = {
      {0, "bb1d6929e95937287fa37d129b756746"},
      {16, "070a16b46b4d4144f79bdd9dd04a287c"},
      {40, "dfa66747de9ae63030ca32611497c827"},
      {64, "51f0bebf7e3b9d92fc49741779363cfe"},
  };
  auto m = Hex(msg);
  for (const auto& c : cases) {
    CmacTag tag;
    cmac.Mac(std::span(m).first(c.len), {}, tag);
    EXPECT_EQ(std::vector<uint8_t>(tag.begin(), tag.end()), Hex(c.tag)) << c.len;
    // Split input gives the same tag.
    cmac.Mac(std::span(m).first(c.len / 3), std::span(m).subspan(c.len / 3, c.len - c.len / 3), tag);
    EXPECT_EQ(std::vector<uint8_t>(tag.begin(), tag.end()), Hex(c.tag)) << c.len;
  }
}

}  // namespace
}  // namespace mortise::crypto
