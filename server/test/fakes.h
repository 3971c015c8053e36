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
#include "lock_link.h"
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

// The link to locks for tests: which locks are online, and an answer
// function standing in for each lock (nullopt: no answer). Records every
// frame sent. Thread-safe (the API calls it from server threads).
class FakeLockLink final : public LockLink {
 public:
  using Answer = std::function<std::optional<std::vector<uint8_t>>(std::string_view lock_id_hex,
                                                                   std::span<const uint8_t> frame)>;
  bool Online(std::string_view lock_id_hex) const override {
    std::lock_guard lock(mu_);
    return online_.count(std::string(lock_id_hex)) != 0;
  }
  std::optional<std::vector<uint8_t>> Exchange(std::string_view lock_id_hex, std::span<const uint8_t> frame,
                                               int) override {
    Answer answer;
    {
      std::lock_guard lock(mu_);
      sent_.emplace_back(std::string(lock_id_hex), std::vector<uint8_t>(frame.begin(), frame.end()));
      if (!online_.count(std::string(lock_id_hex))) return std::nullopt;
      answer = answer_;
    }
    return answer ? answer(lock_id_hex, frame) : std::nullopt;
  }
  void SetOnline(const std::string& lock_id_hex, bool online) {
    std::lock_guard lock(mu_);
    if (online) {
      online_.insert(lock_id_hex);
    } else {
      online_.erase(lock_id_hex);
    }
  }
  void SetAnswer(Answer answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }
  std::vector<std::pair<std::string, std::vector<uint8_t>>> Sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> online_;
  Answer answer_;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> sent_;
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
