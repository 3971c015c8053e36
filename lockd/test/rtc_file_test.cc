// The simulated lock's RTC file: what a restart restores, in each clock mode,
// and that a damaged file leaves the RTC holding no time.
#include "rtc_file.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace mortise::lockd {
namespace {

struct Host {
  int64_t now_ms = 1'000'000;
  std::optional<std::string> file;
  bool fail = false;
  int writes = 0;
  RtcFile Make(ClockMode mode) {
    return RtcFile(
        mode,
        [this](const std::string& text) {
          if (fail) return false;
          file = text;
          ++writes;
          return true;
        },
        [this] { return now_ms; });
  }
};

constexpr uint64_t kUtcMs = 1'795'000'000'000;

TEST(RtcFile, RealClockAddsTheHostTimeThatPassedWhileStopped) {
  Host host;
  sim::SimRtc rtc;
  RtcFile f = host.Make(ClockMode::kReal);
  ASSERT_EQ(f.Load(std::nullopt, rtc), "");
  EXPECT_FALSE(rtc.ReadUtc().has_value());
  ASSERT_TRUE(rtc.WriteUtc(kUtcMs / 1000).ok());
  ASSERT_TRUE(f.SaveIfChanged(rtc));
  EXPECT_EQ(host.writes, 1);
  rtc.Advance(5'000);  // the real clock's ticks: not saved, the host clock tracks them
  ASSERT_TRUE(f.SaveIfChanged(rtc));
  EXPECT_EQ(host.writes, 1);

  host.now_ms += 3'600'000;  // an hour with the daemon stopped
  sim::SimRtc after;
  RtcFile g = host.Make(ClockMode::kReal);
  ASSERT_EQ(g.Load(host.file, after), "");
  EXPECT_EQ(*after.ReadUtc(), static_cast<int64_t>(kUtcMs / 1000) + 3600);
}

TEST(RtcFile, SimulatedClockStandsStillWhileStoppedAndSavesWhenTimeMoves) {
  Host host;
  sim::SimRtc rtc;
  RtcFile f = host.Make(ClockMode::kSimulated);
  ASSERT_EQ(f.Load(std::nullopt, rtc), "");
  ASSERT_TRUE(rtc.WriteUtc(kUtcMs / 1000).ok());
  ASSERT_TRUE(f.SaveIfChanged(rtc));
  rtc.Advance(90'000);
  ASSERT_TRUE(f.SaveIfChanged(rtc));
  EXPECT_EQ(host.writes, 2);
  ASSERT_TRUE(f.SaveIfChanged(rtc));
  EXPECT_EQ(host.writes, 2);  // nothing moved: nothing written

  host.now_ms += 3'600'000;
  sim::SimRtc after;
  RtcFile g = host.Make(ClockMode::kSimulated);
  ASSERT_EQ(g.Load(host.file, after), "");
  EXPECT_EQ(*after.ReadUtc(), static_cast<int64_t>(kUtcMs / 1000) + 90);
}

TEST(RtcFile, AFailedWriteIsRetriedAtTheNextCall) {
  Host host;
  sim::SimRtc rtc;
  RtcFile f = host.Make(ClockMode::kReal);
  ASSERT_EQ(f.Load(std::nullopt, rtc), "");
  ASSERT_TRUE(rtc.WriteUtc(kUtcMs / 1000).ok());
  host.fail = true;
  EXPECT_FALSE(f.SaveIfChanged(rtc));
  host.fail = false;
  EXPECT_TRUE(f.SaveIfChanged(rtc));
  EXPECT_EQ(host.writes, 1);
}

TEST(RtcFile, DamagedFilesLeaveTheRtcHoldingNoTime) {
  Host host;
  for (const char* bad : {"", "garbage", "mortise-rtc-v1 12", "mortise-rtc-v1 x 5", "mortise-rtc-v1 5 y",
                          "mortise-rtc-v2 5 5", "mortise-rtc-v1 -5 5", "mortise-rtc-v1 5 5 5"}) {
    sim::SimRtc rtc;
    ASSERT_TRUE(rtc.WriteUtc(1).ok());
    RtcFile f = host.Make(ClockMode::kReal);
    EXPECT_NE(f.Load(std::string(bad), rtc), "") << bad;
    EXPECT_FALSE(rtc.ReadUtc().has_value()) << bad;
  }
  sim::SimRtc rtc;
  RtcFile f = host.Make(ClockMode::kReal);
  EXPECT_EQ(f.Load(RtcFile::Format(std::nullopt, 5), rtc), "");
  EXPECT_FALSE(rtc.ReadUtc().has_value());
}

}  // namespace
}  // namespace mortise::lockd
