// The audit log read over the protocol (protocol::LogSource): pages of
// store::AuditLog::Export, whole items only, each page after the first
// starting with an anchor that continues the previous page's chain, so a
// reader feeds every page to one store::LogVerifier. Portable: a
// microcontroller lock serves its log with the same pager.
#pragma once

#include <cstdint>
#include <span>

#include "mortise/protocol/handlers.h"
#include "mortise/store/audit_log.h"

namespace mortise::protocol {

class AuditLogSource final : public protocol::LogSource {
 public:
  explicit AuditLogSource(store::AuditLog& log) : log_(log) {}

  // kResourceExhausted: `out` cannot hold the page's anchor and at least one
  // more item (no progress would be made). The log's errors otherwise.
  Result<size_t> ReadPage(uint64_t from, std::span<const uint8_t, protocol::kLogChallengeBytes> challenge,
                          std::span<uint8_t> out, uint64_t& next_from) override;

 private:
  store::AuditLog& log_;
};

}  // namespace mortise::protocol
