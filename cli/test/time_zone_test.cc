#include "time_zone.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "error.h"

namespace mortise::cli {
namespace {

TEST(TimeZone, PosixRulesBecomeWhatTheLockApplies) {
  const LockTimeZone berlin = ParsePosixTimeZone("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_EQ(berlin.utc_offset_s, 3600);
  EXPECT_EQ(berlin.dst.save_s, 3600);
  EXPECT_EQ(core::PackDstTransition(berlin.dst.start), 3'500'120);
  EXPECT_EQ(core::PackDstTransition(berlin.dst.end), 10'500'180);
  const LockTimeZone ny = ParsePosixTimeZone("EST5EDT,M3.2.0,M11.1.0");
  EXPECT_EQ(ny.utc_offset_s, -5 * 3600);
  EXPECT_EQ(ny.dst.save_s, 3600);
  const LockTimeZone kolkata = ParsePosixTimeZone("IST-5:30");
  EXPECT_EQ(kolkata.utc_offset_s, 5 * 3600 + 1800);
  EXPECT_EQ(kolkata.dst.save_s, 0);
  EXPECT_EQ(ParsePosixTimeZone("<+03>-3").utc_offset_s, 3 * 3600);
  EXPECT_EQ(TransitionWords(berlin.dst.start), "the last Sunday of March at 02:00");
  EXPECT_EQ(PosixTransition(berlin.dst.end), "M10.5.0/03:00");
}

// Issue 12: `key share --until DATE` ends at 24:00 of DATE in the lock's
// zone, summer time included (the keyring used to keep only the standard
// offset, an hour off in summer).
TEST(TimeZone, ALocalWallTimeBecomesUtcWithTheLocksSummerTime) {
  const LockTimeZone berlin = ParsePosixTimeZone("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_EQ(LocalToUtc(1782950400, berlin), 1782943200);  // 2026-07-02 00:00 CEST = 07-01 22:00Z
  EXPECT_EQ(LocalToUtc(1768521600, berlin), 1768518000);  // 2026-01-16 00:00 CET = 01-15 23:00Z
  EXPECT_EQ(LocalToUtc(1768521600, LockTimeZone{}), 1768521600);
  // 02:30 on 2026-03-29 does not exist in Berlin: taken an hour later (03:30 CEST = 01:30Z).
  EXPECT_EQ(LocalToUtc(1774751400, berlin), 1774751400 - 3600);
  // The keyring keeps the whole zone; damaged members read as no zone.
  nlohmann::json extra = nlohmann::json::object();
  StoreTimeZone(extra, berlin);
  const LockTimeZone back = StoredTimeZone(extra);
  EXPECT_EQ(back.utc_offset_s, 3600);
  EXPECT_EQ(back.dst.save_s, 3600);
  EXPECT_EQ(core::PackDstTransition(back.dst.end), 10'500'180);
  extra["dst"]["start"] = 99;
  EXPECT_EQ(StoredTimeZone(extra).dst.save_s, 0);
  StoreTimeZone(extra, LockTimeZone{});
  EXPECT_FALSE(extra.contains("dst"));
}

TEST(TimeZone, RulesTheLockCannotApplyAreRefusedWithTheReason) {
  for (const char* bad : {"CET-1CEST", "CET-1CEST,J60,J300", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
                          "CET-1CEST,M3.5.0/25,M10.5.0", "CET-1CEST,M3.5.0", "C-1", "CET-99", "CET-1CEST,M3.5.0,M10.5.0x"}) {
    try {
      ParsePosixTimeZone(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kBadInput) << bad;
      EXPECT_NE(std::string(e.what()).find("not a time zone the lock can apply: "), std::string::npos) << e.what();
    }
  }
}

TEST(TimeZone, ZoneNamesAreReadFromTheTzDatabaseAndStayInsideIt) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "mortise-tz-test";
  std::filesystem::create_directories(dir / "Europe");
  {
    std::ofstream f(dir / "Europe" / "Berlin", std::ios::binary);
    f << "TZif2" << std::string(40, '\0') << "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
  }
  const LockTimeZone z = ResolveTimeZone("Europe/Berlin", dir.string());
  EXPECT_EQ(z.utc_offset_s, 3600);
  EXPECT_EQ(z.dst.save_s, 3600);
  EXPECT_EQ(ResolveTimeZone("none", dir.string()).utc_offset_s, 0);
  EXPECT_EQ(ResolveTimeZone("EST5EDT,M3.2.0,M11.1.0", dir.string()).utc_offset_s, -5 * 3600);
  EXPECT_THROW(ResolveTimeZone("Europe/Atlantis", dir.string()), Error);
  EXPECT_THROW(ResolveTimeZone("../../etc/passwd", dir.string()), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mortise::cli
