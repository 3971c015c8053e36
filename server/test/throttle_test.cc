// Sign-in throttling per account and per address, on a simulated clock.
#include <gtest/gtest.h>

#include "throttle.h"

namespace mortise::server {
namespace {

TEST(SignInThrottle, FiveFailuresLockTheAccountForFifteenMinutes) {
  SignInThrottle t(ThrottleSettings{});
  int64_t now = 1'000'000;
  for (int i = 0; i < 4; ++i) t.RecordFailure("ana@x.org", "10.0.0." + std::to_string(i), now);
  EXPECT_EQ(t.AccountWait("ana@x.org", now), 0);
  t.RecordFailure("ana@x.org", "10.0.0.9", now);
  EXPECT_EQ(t.AccountWait("ana@x.org", now), 900);
  EXPECT_EQ(t.AccountWait("bob@x.org", now), 0);
  now += 899'000;
  EXPECT_EQ(t.AccountWait("ana@x.org", now), 1);
  now += 1'000;
  EXPECT_EQ(t.AccountWait("ana@x.org", now), 0);
  // The served lockout starts a fresh count.
  t.RecordFailure("ana@x.org", "10.0.0.9", now);
  EXPECT_EQ(t.AccountWait("ana@x.org", now), 0);
}

TEST(SignInThrottle, SuccessResetsTheAccountCount) {
  SignInThrottle t(ThrottleSettings{});
  for (int i = 0; i < 4; ++i) t.RecordFailure("ana@x.org", "a", 0);
  t.RecordSuccess("ana@x.org");
  for (int i = 0; i < 4; ++i) t.RecordFailure("ana@x.org", "a", 0);
  EXPECT_EQ(t.AccountWait("ana@x.org", 0), 0);
}

TEST(SignInThrottle, TwentyFailuresInFifteenMinutesBlockTheAddress) {
  SignInThrottle t(ThrottleSettings{});
  // One failure per minute over different accounts: none locks an account.
  for (int i = 0; i < 19; ++i) t.RecordFailure("user" + std::to_string(i), "192.0.2.1", i * 60'000);
  EXPECT_EQ(t.AddressWait("192.0.2.1", 19 * 60'000), 0);
  t.RecordFailure("user19", "192.0.2.1", 19 * 60'000);
  // Blocked until the first failure (t=0) leaves the 900 s window... which it
  // already has at t=19 min: the window slides, so 20 within any 15 minutes.
  EXPECT_EQ(t.AddressWait("192.0.2.1", 19 * 60'000), 0);
  SignInThrottle burst(ThrottleSettings{});
  for (int i = 0; i < 20; ++i) burst.RecordFailure("user" + std::to_string(i), "192.0.2.1", i * 1'000);
  EXPECT_EQ(burst.AddressWait("192.0.2.1", 19'000), 881);  // the oldest (at 0 s) leaves at 900 s
  EXPECT_EQ(burst.AddressWait("192.0.2.2", 19'000), 0);
  EXPECT_EQ(burst.AddressWait("192.0.2.1", 900'000), 0);
}

}  // namespace
}  // namespace mortise::server
