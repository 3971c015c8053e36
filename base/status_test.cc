#include "mortise/status.h"

#include <gtest/gtest.h>

namespace mortise {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return StatusCode::kInvalidArgument;
  return v / 2;
}

Status Quarter(int v, int* out) {
  MORTISE_ASSIGN_OR_RETURN(int h, Half(v));
  MORTISE_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

Status FailsThenNeverReaches(bool* reached) {
  MORTISE_TRY(Status(StatusCode::kUnavailable));
  *reached = true;
  return Status::Ok();
}

TEST(Status, DefaultIsOk) {
  EXPECT_TRUE(Status().ok());
  EXPECT_STREQ(Status(StatusCode::kDataLoss).name(), "DATA_LOSS");
}

TEST(Result, CarriesValueOrError) {
  auto good = Half(8);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  auto bad = Half(3);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(Result, OkStatusWithoutValueBecomesInternal) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(Macros, PropagateFirstError) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  EXPECT_EQ(Quarter(6, &out).code(), StatusCode::kInvalidArgument);
  bool reached = false;
  EXPECT_EQ(FailsThenNeverReaches(&reached).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(reached);
}

}  // namespace
}  // namespace mortise
