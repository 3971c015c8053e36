// A lock with a battery-backed RTC keeps its time through restarts, and
// never believes an RTC that reads behind the time the lock already reached.
#include <gtest/gtest.h>

#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "test_util.h"

namespace mortise::core::testing {
namespace {

const int64_t kSetAt = kTuesdayMidnight + 8 * kHour;

class RtcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    first_.AttachRtc(rtc_);
    ASSERT_TRUE(first_.Start().ok());
    ASSERT_TRUE(first_.lock().SetUtcTime(kSetAt, false).ok());
    first_.Run(5'000);
  }

  // A restart on the same store and the same RTC hardware.
  std::unique_ptr<sim::SimLock> Reboot() {
    auto lock = std::make_unique<sim::SimLock>(&store_, 7);
    lock->AttachRtc(rtc_);
    EXPECT_TRUE(lock->Start().ok());
    return lock;
  }

  sim::MemoryStore store_;
  sim::SimRtc rtc_;
  sim::SimLock first_{&store_, 3};
};

TEST_F(RtcTest, SetUtcTimeSetsTheRtcAndTheRtcCountsWithTheLock) {
  ASSERT_TRUE(rtc_.ReadUtc().has_value());
  EXPECT_EQ(*rtc_.ReadUtc(), kSetAt + 5);
  EXPECT_EQ(*first_.lock().utc_now(), kSetAt + 5);
}

TEST_F(RtcTest, TheTimeSurvivesARestartAndThePowerOffTime) {
  rtc_.Advance(3 * 3'600'000);  // three hours with the lock off (battery out)
  auto rebooted = Reboot();
  ASSERT_TRUE(rebooted->lock().utc_now().has_value());
  EXPECT_EQ(*rebooted->lock().utc_now(), kSetAt + 5 + 3 * kHour);
  rebooted->Run(2'000);
  EXPECT_EQ(*rebooted->lock().utc_now(), kSetAt + 7 + 3 * kHour);
}

TEST_F(RtcTest, WithoutAnRtcTheTimeIsUnknownAfterARestart) {
  sim::SimLock rebooted(&store_, 7);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_FALSE(rebooted.lock().utc_now().has_value());
}

TEST_F(RtcTest, A04_AnRtcThatLostPowerLeavesTheTimeUnknown) {
  rtc_.LosePower();
  auto rebooted = Reboot();
  EXPECT_FALSE(rebooted->lock().utc_now().has_value());
}

TEST_F(RtcTest, A04_AnRtcMovedBehindTheTimeFloorIsNotBelieved) {
  // Someone with the RTC in hand sets it a day back to revive an expired
  // key: the lock already reached kSetAt (its durable floor), so it keeps
  // the time unknown instead, and time-limited rights fail closed.
  rtc_.Restore(static_cast<uint64_t>(kSetAt - 86'400) * 1000);
  auto rebooted = Reboot();
  EXPECT_FALSE(rebooted->lock().utc_now().has_value());
  // Only an authorised SetUtcTime brings it back, and it sets the RTC too.
  ASSERT_TRUE(rebooted->lock().SetUtcTime(kSetAt + 60, false).ok());
  EXPECT_EQ(*rtc_.ReadUtc(), kSetAt + 60);
}

}  // namespace
}  // namespace mortise::core::testing
