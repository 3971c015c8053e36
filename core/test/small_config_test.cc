// Runs against mortise_core_small (32 users; 32 PIN, 32 RFID and 8
// fingerprint slots; a 128-bucket digest index), where churn drives the index
// to high load and wrap-around. No sim here: sim is built for the default
// configuration, so this test brings its own tiny store.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "mortise/core/user_db.h"

namespace mortise::core {
namespace {

class TinyStore final : public DurableStore {
 public:
  Result<size_t> Read(uint32_t key, std::span<uint8_t> out) override {
    auto it = records_.find(key);
    if (it == records_.end()) return StatusCode::kNotFound;
    if (it->second.size() > out.size()) return StatusCode::kResourceExhausted;
    std::copy(it->second.begin(), it->second.end(), out.begin());
    return it->second.size();
  }
  Status ForEach(uint32_t first, uint32_t last, RecordVisitor& v) override {
    for (auto it = records_.lower_bound(first); it != records_.end() && it->first <= last; ++it)
      v.Visit(it->first, it->second);
    return Status::Ok();
  }
  Status Begin() override { return Status::Ok(); }
  Status Write(uint32_t key, std::span<const uint8_t> value) override {
    records_[key].assign(value.begin(), value.end());
    return Status::Ok();
  }
  Status Erase(uint32_t key) override {
    records_.erase(key);
    return Status::Ok();
  }
  Status Commit() override { return Status::Ok(); }
  void Rollback() override {}
  Result<uint64_t> ReadCounter(uint16_t) override { return uint64_t{0}; }
  Result<uint64_t> IncrementCounter(uint16_t, uint64_t) override { return uint64_t{1}; }

 private:
  std::map<uint32_t, std::vector<uint8_t>> records_;
};

class NullSink final : public EventSink {
 public:
  void Emit(const LockEvent&) override {}
};

TEST(SmallConfig, DigestIndexStaysExactUnderChurnAtHighLoad) {
  static_assert(config::kMaxPinCredentials == 32, "this test runs on the small configuration");
  TinyStore store;
  NullSink sink;
  static UserDatabase db(store, sink);  // static: the database is large in other configs
  std::array<uint8_t, 32> secret{};
  secret[0] = 7;
  ASSERT_TRUE(db.Load(secret).ok());
  for (uint16_t u = 1; u <= config::kMaxUsers; ++u) {
    SetUserRequest add;
    add.user_index = u;
    ASSERT_EQ(db.SetUser(add, Actor{}), DlStatus::kSuccess);
  }
  std::mt19937 rng(1234);
  std::map<std::pair<CredentialType, uint16_t>, std::string> live;  // slot -> data
  const CredentialType types[] = {CredentialType::kPin, CredentialType::kRfid, CredentialType::kFingerprint};
  for (int op = 0; op < 20000; ++op) {
    const CredentialType t = types[rng() % 3];
    const uint16_t index = static_cast<uint16_t>(1 + rng() % UserDatabase::MaxIndex(t));
    auto key = std::make_pair(t, index);
    if (live.count(key) && rng() % 4 == 0) {
      // Clearing a user's last credential clears the user (Matter); put it back.
      const uint16_t owner = *db.GetCredentialStatus({t, index}).user_index;
      ASSERT_EQ(db.ClearCredential(CredentialRef{t, index}, Actor{}), DlStatus::kSuccess);
      live.erase(key);
      if (!db.GetUser(owner).occupied) {
        SetUserRequest add;
        add.user_index = owner;
        ASSERT_EQ(db.SetUser(add, Actor{}), DlStatus::kSuccess);
      }
    } else if (!live.count(key)) {
      std::string data = t == CredentialType::kPin ? std::to_string(10000000 + rng() % 90000000)
                                                   : std::to_string(rng()).substr(0, 4 + rng() % 4);
      SetCredentialRequest req;
      req.credential = {t, index};
      req.credential_data = std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      req.user_index = static_cast<uint16_t>(1 + rng() % config::kMaxUsers);
      auto r = db.SetCredential(req, Actor{});
      if (r.status == DlStatus::kSuccess) live[key] = data;
      else ASSERT_TRUE(r.status == DlStatus::kDuplicate || r.status == DlStatus::kResourceExhausted) << int(r.status);
    }
    if (op % 97 == 0) {
      // Every live credential is found at its own slot; a cleared one is not.
      for (const auto& [slot, data] : live) {
        auto m = db.Find(slot.first, std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
        ASSERT_TRUE(m.has_value()) << "op " << op;
        ASSERT_EQ(m->credential.index, slot.second);
      }
    }
  }
  EXPECT_GT(live.size(), 60u);  // 60+ of 128 buckets: the index ran near half full
}

}  // namespace
}  // namespace mortise::core
