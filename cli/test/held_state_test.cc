// `mortise key revoke` through the server: where a door's access list
// stands, from the server's row of it (docs/server.md "What a door holds"),
// and "confirmed" only from the lock's receipt verified here.
#include <gtest/gtest.h>

#include "commands.h"
#include "key_string.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/node.h"
#include "test_util.h"

namespace mortise::cli {
namespace {

nlohmann::json Row(uint64_t reported, uint64_t confirmed, uint64_t attempts, const std::string& last) {
  return {{"kind", "access_list"},
          {"issuer", "owner"},
          {"version", 5},
          {"reported_version", reported},
          {"confirmed_version", confirmed},
          {"delivery", {{"attempts", attempts}, {"last_status", last}}}};
}

TEST(HeldState, SaysPendingSentReportedConfirmedOrFailedForTheVersionSigned) {
  EXPECT_EQ(HeldStateOf(Row(0, 0, 0, ""), 5).state, "pending");
  EXPECT_EQ(HeldStateOf(Row(4, 4, 2, "no_answer"), 5).state, "sent");
  EXPECT_EQ(HeldStateOf(Row(5, 4, 1, "applied"), 5).state, "reported");
  const HeldState refused = HeldStateOf(Row(4, 4, 1, "refused:stale_claim"), 5);
  EXPECT_EQ(refused.state, "failed");
  EXPECT_NE(refused.reason.find("stale_claim"), std::string::npos);
  // A row without numbers (a malformed answer) is never taken for held.
  EXPECT_EQ(HeldStateOf(nlohmann::json::object(), 5).state, "pending");
  nlohmann::json text = Row(0, 0, 0, "");
  text["confirmed_version"] = "9";
  EXPECT_EQ(HeldStateOf(text, 5).state, "pending");
}

TEST(HeldState, A09_TheServersConfirmedVersionWithoutAReceiptSignedByTheLockIsNotConfirmed) {
  // A hostile server claims the lock confirmed the revocation: without a
  // receipt the lock signed, verified here, it is only what the server says.
  for (const uint64_t confirmed : {5, 7, 100}) {
    const HeldState held = HeldStateOf(Row(confirmed, confirmed, 1, "applied"), 5);
    EXPECT_NE(held.state, "confirmed") << confirmed;
    EXPECT_NE(held.reason.find("server says"), std::string::npos) << held.reason;
  }
}

// A lock, the owner's access list for it (version 5) as this device signed
// it, and the lock's receipts.
class ReceiptHeldState : public ::testing::Test {
 protected:
  ReceiptHeldState()
      : rng_(71), lock_(testing::NewKey(rng_.drbg)), owner_(testing::NewKey(rng_.drbg)),
        stranger_(testing::NewKey(rng_.drbg)) {
    lock_id_ = protocol::LockIdOf(lock_.public_key());
    list_ = List(5, 61);
    pinned_.lock_key = lock_.public_key().bytes();
    pinned_.update = list_;
  }
  std::vector<uint8_t> List(uint64_t version, uint64_t revoked, uint32_t generation = 3) {
    protocol::AccessListState s;
    s.version = version;
    s.claim_generation = generation;
    s.revoked[s.revoked_count++] = {protocol::KeyIdOf(owner_.public_key()), revoked};
    std::vector<uint8_t> out(protocol::kMaxAccessListUpdateSize);
    out.resize(protocol::SignAccessList(s, lock_id_, owner_, rng_.drbg, out).value());
    return out;
  }
  // The lock's 75-byte answer, signed by `key`, for `update`.
  std::string Receipt(const crypto::P256KeyPair& key, const std::vector<uint8_t>& update, uint64_t held,
                      StatusCode status = StatusCode::kOk, uint32_t generation = 3) {
    std::vector<uint8_t> r = {0x05, 0x01, static_cast<uint8_t>(status)};
    for (int i = 0; i < 8; ++i) r.push_back(static_cast<uint8_t>(held >> (8 * i)));
    const auto m = protocol::SignedUpdateReceiptMessage(lock_id_, generation, protocol::SignedUpdateKind::kAccessList,
                                                        status, held, update);
    crypto::P256Signature sig{};
    EXPECT_TRUE(key.SignDigest(crypto::Sha256::Hash(m), sig, rng_.drbg).ok());
    r.insert(r.end(), sig.begin(), sig.end());
    return ToHex(r);
  }
  nlohmann::json WithReceipt(const std::string& receipt) {
    nlohmann::json row = Row(5, 5, 1, "applied");
    row["receipt"] = receipt;
    return row;
  }

  testing::SeededDrbg rng_;
  crypto::P256KeyPair lock_, owner_, stranger_;
  protocol::LockId lock_id_{};
  std::vector<uint8_t> list_;
  PinnedUpdate pinned_;
};

TEST_F(ReceiptHeldState, AReceiptTheLockSignedForThisListIsConfirmed) {
  const HeldState held = HeldStateOf(WithReceipt(Receipt(lock_, list_, 5)), 5, &pinned_);
  EXPECT_EQ(held.state, "confirmed") << held.reason;
  EXPECT_NE(held.reason.find("verified here"), std::string::npos);
  // "Already held" over these bytes (the lock signs it only for the exact
  // bytes it applied, docs/protocol.md 12): applied, and held at 7 now.
  EXPECT_EQ(HeldStateOf(WithReceipt(Receipt(lock_, list_, 7, StatusCode::kAlreadyExists)), 5, &pinned_).state,
            "confirmed");
  // The same row, nothing pinned to verify it with: the server's word.
  EXPECT_NE(HeldStateOf(WithReceipt(Receipt(lock_, list_, 5)), 5).state, "confirmed");
  // Confirmed whatever numbers the server writes beside it.
  nlohmann::json row = WithReceipt(Receipt(lock_, list_, 5));
  row["confirmed_version"] = 0;
  row["reported_version"] = 0;
  EXPECT_EQ(HeldStateOf(row, 5, &pinned_).state, "confirmed");
}

TEST_F(ReceiptHeldState, A09_AForgedReceiptOrOneForAnotherListIsNotConfirmed) {
  std::string edited = Receipt(lock_, list_, 5);
  edited[edited.size() - 3] = edited[edited.size() - 3] == '0' ? '1' : '0';
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"another key", Receipt(stranger_, list_, 5)},
      {"another list", Receipt(lock_, List(5, 62), 5)},
      {"another claim", Receipt(lock_, list_, 5, StatusCode::kOk, 4)},
      {"below the version", Receipt(lock_, list_, 4, StatusCode::kAlreadyExists)},
      {"a refusal", Receipt(lock_, list_, 5, StatusCode::kPermissionDenied)},
      {"an edited signature", edited},
      {"unsigned", Receipt(lock_, list_, 5).substr(0, 22)},
      {"not hex", "zz"},
  };
  for (const auto& [what, receipt] : bad) {
    const HeldState held = HeldStateOf(WithReceipt(receipt), 5, &pinned_);
    EXPECT_NE(held.state, "confirmed") << what;
    EXPECT_NE(held.reason.find("server says"), std::string::npos) << what << ": " << held.reason;
  }
  nlohmann::json number = Row(5, 5, 1, "applied");
  number["receipt"] = 5;
  EXPECT_NE(HeldStateOf(number, 5, &pinned_).state, "confirmed");
}

}  // namespace
}  // namespace mortise::cli
