#include "mortise/termqr/termqr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace mortise::termqr {
namespace {

size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(TermQr, RendersASquareWithQuietZone) {
  auto ascii = RenderAscii("MT:LOCK-123");
  ASSERT_TRUE(ascii.ok());
  // Version 1 is 21 modules; with 4 quiet modules each side, 29 rows of 58 chars.
  EXPECT_EQ(Lines(*ascii), 29u);
  EXPECT_EQ(ascii->find('\n'), 58u);
  // The quiet zone is light: the first row is blank.
  EXPECT_EQ(ascii->substr(0, 58), std::string(58, ' '));
  auto blocks = Render("MT:LOCK-123");
  ASSERT_TRUE(blocks.ok());
  EXPECT_EQ(Lines(*blocks), 15u);  // two module rows per text row, rounded up
}

TEST(TermQr, LongerTextNeedsABiggerSymbol) {
  auto small = RenderAscii("x");
  auto big = RenderAscii(std::string(300, 'k'));
  ASSERT_TRUE(small.ok() && big.ok());
  EXPECT_GT(Lines(*big), Lines(*small));
}

TEST(TermQr, RefusesEmptyAndOversizedText) {
  EXPECT_EQ(Render("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Render(std::string(3000, 'a')).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mortise::termqr
