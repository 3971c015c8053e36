// Deterministic time and randomness for the server's tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "clock_random.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "repository.h"

namespace mortise::server::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  void Advance(int64_t ms) { now_ms_ += ms; }
  void Set(int64_t ms) { now_ms_ = ms; }

 private:
  std::atomic<int64_t> now_ms_;  // read by server threads in API tests
};

// A ChaCha20 stream from a fixed seed (libsodium's
// randombytes_buf_deterministic), one fresh seed per call.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed = 1) : seed_(seed) {}
  void Fill(std::span<uint8_t> out) override;

 private:
  uint64_t seed_;
  uint64_t calls_ = 0;
};

// A DRBG from a fixed seed, for keys and signatures in tests.
struct SeededDrbg {
  explicit SeededDrbg(uint64_t seed) : entropy(seed), drbg(entropy) { EXPECT_TRUE(drbg.Seed().ok()); }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
};

// An account row with a placeholder hash, for storage tests.
inline AccountRow SampleAccount(const std::string& id, const std::string& email) {
  AccountRow a;
  a.id = id;
  a.email = email;
  a.password_hash = "$argon2id$fake";
  a.created_at = a.password_changed_at = 1000;
  return a;
}

// The running test's name and the process id, usable as one path component
// (unique when CTest runs the same test of two programs or presets at once).
inline std::string TestDirName() {
  std::string n = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (auto& c : n) {
    if (c == '/') c = '_';
  }
  return n + "-" + std::to_string(getpid());
}

// A fresh, empty directory for this test under the temp dir, 0700: the
// server refuses a database directory others can write.
// `in_ram`: under /dev/shm when the machine has it (tests that seed many
// small transactions and test no durability: fsync is free there).
inline std::filesystem::path FreshTestDir(const std::string& prefix, bool in_ram = false) {
  namespace fs = std::filesystem;
  const fs::path base = in_ram && fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  const fs::path dir = base / (prefix + TestDirName());
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  return dir;
}

}  // namespace mortise::server::testing
