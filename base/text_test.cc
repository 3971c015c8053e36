#include "mortise/text.h"

#include <gtest/gtest.h>

namespace mortise {
namespace {

TEST(Text, HasPrefixMatchesOnlyWholePrefixes) {
  EXPECT_TRUE(HasPrefix("MK1.abc", "MK1."));
  EXPECT_TRUE(HasPrefix("MK1.", "MK1."));
  EXPECT_TRUE(HasPrefix("anything", ""));
  EXPECT_FALSE(HasPrefix("MK1", "MK1."));
  EXPECT_FALSE(HasPrefix("MC1.abc", "MK1."));
  EXPECT_FALSE(HasPrefix("", "M"));
}

TEST(Text, DropPrefixNeverReadsPastTheEnd) {
  EXPECT_EQ(DropPrefix("MK1.abc", 4), "abc");
  EXPECT_EQ(DropPrefix("MK1.", 4), "");
  EXPECT_EQ(DropPrefix("MK1", 4), "");  // where substr(4) would throw
  EXPECT_EQ(DropPrefix("", 0), "");
  static_assert(DropPrefix("ab", 1) == "b");
}

}  // namespace
}  // namespace mortise
