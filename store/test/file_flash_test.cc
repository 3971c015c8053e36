#include "mortise/store/file_flash.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "mortise/store/audit_log.h"
#include "mortise/store/record_store.h"
#include "test_rig.h"

namespace mortise::store {
namespace {

std::string TempPath(const char* name) {
  const auto dir = std::filesystem::temp_directory_path() / ("mortise-store-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

TEST(FileFlash, NewImageIsErasedAndKeepsNorSemantics) {
  const std::string path = TempPath("nor.img");
  auto flash = FileFlash::Open(path, 4096, 4);
  ASSERT_TRUE(flash.ok());
  uint8_t b[8];
  ASSERT_TRUE((*flash)->Read(4096, b).ok());
  for (uint8_t x : b) EXPECT_EQ(x, 0xFF);
  const uint8_t data[4] = {1, 2, 3, 4};
  ASSERT_TRUE((*flash)->Program(4096, data).ok());
  EXPECT_EQ((*flash)->Program(4096, data).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*flash)->Program(4097, data).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*flash)->Erase(1).ok());
  EXPECT_EQ((*flash)->EraseCount(1), 1u);
  flash->reset();
  auto again = FileFlash::Open(path, 4096, 4);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->EraseCount(1), 1u);
  EXPECT_EQ(FileFlash::Open(path, 4096, 8).status().code(), StatusCode::kInvalidArgument);
}

TEST(FileFlash, StoreAndLogSurviveRestarts) {
  const std::string path = TempPath("lock.img");
  for (int run = 0; run < 3; ++run) {
    auto flash = FileFlash::Open(path, 4096, 12);
    ASSERT_TRUE(flash.ok());
    FlashPartition store_part(**flash, 0, 8), log_part(**flash, 8, 4);
    StaticRecordStore<256> s(store_part);
    HmacLogAuthenticator auth(testing::kTestLogKey);
    AuditLog log(log_part, s.store, auth);
    ASSERT_TRUE(s.store.Mount().ok());
    ASSERT_TRUE(log.Mount().ok());
    EXPECT_EQ(*s.store.ReadCounter(core::kCounterBootEpoch), static_cast<uint64_t>(run));
    ASSERT_TRUE(s.store.IncrementCounter(core::kCounterBootEpoch).ok());
    const uint8_t v[3] = {static_cast<uint8_t>(run), 1, 2};
    ASSERT_TRUE(s.store.Write(core::MakeRecordKey(1, static_cast<uint16_t>(run)), v).ok());
    ASSERT_TRUE(log.Append(testing::TypicalEvent(static_cast<uint32_t>(run))).ok());
    EXPECT_EQ(log.next_seq(), static_cast<uint64_t>(run) + 2);
    EXPECT_EQ(s.store.record_count(), static_cast<size_t>(run) + 4);  // + boot epoch, log high-water, durable head
  }
}

TEST(FileFlash, KillNineLosesNothingThatReturnedOk) {
  const std::string path = TempPath("kill.img");
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipefd[0]);
    auto flash = FileFlash::Open(path, 4096, 8);
    if (!flash.ok()) _exit(2);
    StaticRecordStore<256> s(**flash);
    if (!s.store.Mount().ok()) _exit(3);
    for (uint32_t i = 0;; ++i) {
      const uint8_t v[4] = {static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8), 0, 0};
      if (!s.store.Write(i % 200, v).ok()) _exit(4);
      if (write(pipefd[1], &i, sizeof(i)) != sizeof(i)) _exit(5);  // reported only after OK
    }
  }
  close(pipefd[1]);
  uint32_t last = 0, got = 0;
  for (int n = 0; n < 300 && read(pipefd[0], &got, sizeof(got)) == sizeof(got); ++n) last = got;
  kill(child, SIGKILL);
  while (read(pipefd[0], &got, sizeof(got)) == sizeof(got)) last = got;
  int status = 0;
  waitpid(child, &status, 0);
  close(pipefd[0]);
  auto flash = FileFlash::Open(path, 4096, 8);
  ASSERT_TRUE(flash.ok());
  StaticRecordStore<256> s(**flash);
  ASSERT_TRUE(s.store.Mount().ok());
  // Every write the child reported is there, with its latest value.
  for (uint32_t i = (last >= 199 ? last - 199 : 0); i <= last; ++i) {
    uint8_t v[4];
    Result<size_t> r = s.store.Read(i % 200, v);
    ASSERT_TRUE(r.ok()) << i;
    const uint32_t value = v[0] | (v[1] << 8);
    EXPECT_GE(value, i & 0xFFFF) << i;
  }
}

}  // namespace
}  // namespace mortise::store
