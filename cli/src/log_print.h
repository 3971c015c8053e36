// One record of the audit log as `mortise log` prints it, whether it was
// read from the lock over a session or from the copy mortise-server stores
// (`mortise log --server`): its line of text and its --json entry. Key
// introductions (record 0xA7) name the keys of later records.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "keyring.h"
#include "mortise/store/audit_log.h"

namespace mortise::cli {

class LogPrinter {
 public:
  // A user's name by index ("" when not known: the text says "user N").
  using UserName = std::function<std::string(uint16_t)>;
  // `lock`: the keyring's entry (the keys it issued, the key names kept
  // from earlier reads); `my_key_id`: this device's key id in hex.
  LogPrinter(const LockEntry& lock, std::string my_key_id, UserName user_name);

  // Appends the item's line to `text` and its entry to `events` (voids are
  // printed without an entry). Returns true for an event shown (not for a
  // signed head, a void, or bytes that do not decode).
  bool Print(const store::LogItem& item, std::string& text, nlohmann::json& events);
  // Learns what a record before the first one shown says about key names.
  void Learn(const store::LogItem& item);
  // index -> {issuer, serial}: kept in the keyring (extra.log_keys).
  const nlohmann::json& log_keys() const { return log_keys_; }

 private:
  nlohmann::json KeyJson(uint16_t index) const;

  const LockEntry& lock_;
  std::string my_key_id_;
  UserName user_name_;
  nlohmann::json log_keys_;
};

}  // namespace mortise::cli
