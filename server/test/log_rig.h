// A lock's audit log for the server's tests and benchmark: the real
// store::AuditLog on a fake flash with the lock's head signer (its identity
// key through protocol::LockAuthority), read in pages exactly as lockd's
// uplink publishes them (protocol::AuditLogSource, docs/uplink.md `log`).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "door_registration.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/log_key.h"
#include "mortise/protocol/log_source.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

namespace mortise::server::testing {

class LockLogRig {
 public:
  static constexpr size_t kBlock = 4096;
  static constexpr int64_t kStartUtc = 1767225600;

  // `log_blocks` 4 KiB segments of log; `seed` makes the lock's identity.
  explicit LockLogRig(uint64_t seed = 11, size_t log_blocks = 8)
      : log_mem_(log_blocks * kBlock), log_erases_(log_blocks), entropy_(seed) {
    Expect(records_.Mount().ok(), "records mount");
    Expect(drbg_.Seed().ok(), "drbg");
    authority_.emplace(records_, drbg_);
    Expect(authority_->Start().ok(), "authority");
    Expect(protocol::MakeLogAuthenticator(*authority_, auth_).ok(), "log key");
    log_.emplace(log_flash_, records_, *auth_);
    signer_.emplace(*authority_);
    log_->set_head_signer(&*signer_, 600);
    Expect(log_->Mount().ok(), "log mount");
  }

  // `count` keypad events, one a minute; the lock signs its head every ten
  // minutes of its clock (as lockd's timer does) when `sign` is set.
  void Append(int count, bool sign = true) {
    for (int i = 0; i < count; ++i) {
      core::LockEvent e;
      e.kind = core::EventKind::kLockOperation;
      e.operation = (events_ % 2) ? core::LockOperationType::kUnlock : core::LockOperationType::kLock;
      e.source = core::OperationSource::kKeypad;
      e.utc_seconds = utc_;
      e.monotonic_ms = 1000 + events_ * 60000;
      e.user_index = static_cast<uint16_t>(1 + events_ % 5);
      e.has_credential = true;
      e.credential = core::CredentialRef{core::CredentialType::kPin, static_cast<uint16_t>(1 + events_ % 9)};
      log_->Emit(e);
      ++events_;
      utc_ += 60;
      if (sign) Expect(log_->SignHeadIfDue(utc_).ok(), "sign");
    }
  }
  // Signs the head now (records waiting get a timed signed head).
  void SignNow() {
    utc_ += 600;
    Expect(log_->SignHeadIfDue(utc_).ok(), "sign");
  }

  // The `log` message lockd publishes for a page from `from` of at most
  // `page_bytes` export bytes; `next` gets where the following page starts
  // (0: this page reached the head).
  std::string Page(uint64_t from, size_t page_bytes, uint64_t* next = nullptr) {
    std::vector<uint8_t> bytes = PageBytes(from, page_bytes, next);
    const uint64_t following = next != nullptr && *next != 0 ? *next : log_->next_seq();
    return Message(from, following, next == nullptr || *next == 0, bytes);
  }
  std::vector<uint8_t> PageBytes(uint64_t from, size_t page_bytes, uint64_t* next = nullptr) {
    protocol::AuditLogSource source(*log_);
    std::array<uint8_t, 16> challenge{};
    std::vector<uint8_t> buf(page_bytes);
    uint64_t next_from = 0;
    auto n = source.ReadPage(from, challenge, buf, next_from);
    Expect(n.ok(), "read page");
    buf.resize(*n);
    if (next != nullptr) *next = next_from;
    return buf;
  }
  // Every page from `from` to the head, in order.
  std::vector<std::string> Pages(uint64_t from, size_t page_bytes) {
    std::vector<std::string> out;
    uint64_t next = from;
    do {
      const uint64_t at = next;
      out.push_back(Page(at, page_bytes, &next));
    } while (next != 0);
    return out;
  }
  static std::string Message(uint64_t from, uint64_t next, bool head, const std::vector<uint8_t>& items) {
    return nlohmann::json{{"from", from}, {"next", next}, {"head", head}, {"items", ToHex(items)}}.dump();
  }
  // The items of a page, decoded, and encoded back (for tampering tests).
  static std::vector<store::LogItem> Items(const std::vector<uint8_t>& bytes) {
    std::vector<store::LogItem> out;
    for (size_t at = 0; at < bytes.size();) {
      store::LogItem item;
      auto used = store::DecodeLogItem(std::span<const uint8_t>(bytes.data() + at, bytes.size() - at), item);
      Expect(used.ok(), "decode item");
      out.push_back(item);
      at += *used;
    }
    return out;
  }
  static std::vector<uint8_t> Encode(const std::vector<store::LogItem>& items) {
    std::vector<uint8_t> out;
    std::array<uint8_t, 256> buf{};
    for (const store::LogItem& item : items) {
      auto n = store::EncodeLogItem(item, buf);
      Expect(n.ok(), "encode item");
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    return out;
  }

  // The SQL that registers this lock as door `id` of org_1/site_1 (the
  // tests' world), with `owner_hex` as the owner's public key.
  std::string DoorInsertSql(const std::string& id, const std::string& owner_hex = "04") const {
    return "INSERT INTO doors (id, org_id, site_id, name, lock_id, lock_public_key, owner_public_key, "
           "registered_by, created_at) VALUES ('" +
           id + "', 'org_1', 'site_1', 'Front', '" + lock_id_hex() + "', '" + public_key_hex() + "', '" + owner_hex +
           "', 'acct_1', 1)";
  }
  std::string lock_id_hex() const { return ToHex(authority_->identity().lock_id()); }
  std::string public_key_hex() const { return ToHex(authority_->identity().key().public_key().bytes()); }
  store::AuditLog& log() { return *log_; }
  protocol::LockAuthority& authority() { return *authority_; }
  uint64_t head() const { return log_->next_seq() - 1; }

 private:
  static void Expect(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("LockLogRig: ") + what);
  }

  std::vector<uint8_t> record_mem_ = std::vector<uint8_t>(8 * kBlock);
  std::vector<uint32_t> record_erases_ = std::vector<uint32_t>(8);
  std::vector<uint8_t> log_mem_;
  std::vector<uint32_t> log_erases_;
  store::FakeFlash record_flash_{record_mem_, record_erases_};
  store::FakeFlash log_flash_{log_mem_, log_erases_};
  std::array<store::RecordIndexEntry, 256> index_{};
  store::RecordStore records_{record_flash_, index_};
  crypto::DeterministicEntropy entropy_;
  crypto::Drbg drbg_{entropy_};
  std::optional<protocol::LockAuthority> authority_;
  std::optional<store::HmacLogAuthenticator> auth_;
  std::optional<store::AuditLog> log_;
  std::optional<protocol::LogHeadSigner> signer_;
  int64_t utc_ = kStartUtc;
  uint64_t events_ = 0;
};

}  // namespace mortise::server::testing
