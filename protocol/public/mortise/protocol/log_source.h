// The audit log read over the protocol (protocol::LogSource): pages of
// store::AuditLog::Export, whole items only, each page after the first
// starting with an anchor that continues the previous page's chain, so a
// reader feeds every page to one store::LogVerifier. And the log's upload
// cursor as log custody moves it (protocol::LogCustodian, frame 0x06).
// Portable: a microcontroller lock serves its log with the same pager.
#pragma once

#include <cstdint>
#include <span>

#include "mortise/protocol/custody.h"
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
  uint64_t upload_cursor() const override { return log_.acknowledged(); }
  // The uplink's resumption point: ReadPage from the first record no
  // custody holder has acknowledged (store::AuditLog::upload_from).
  Result<size_t> ReadUnacknowledged(std::span<const uint8_t, protocol::kLogChallengeBytes> challenge,
                                    std::span<uint8_t> out, uint64_t& next_from) {
    return ReadPage(log_.upload_from(), challenge, out, next_from);
  }

 private:
  store::AuditLog& log_;
};

// The upload cursor for custody acknowledgements (protocol/custody.h).
class AuditLogCustodian final : public protocol::LogCustodian {
 public:
  explicit AuditLogCustodian(store::AuditLog& log) : log_(log) {}
  uint64_t cursor() const override { return log_.acknowledged(); }
  uint64_t head() const override { return log_.next_seq() - 1; }
  Result<protocol::CustodyChainHash> ChainAt(uint64_t seq) override;
  Status Advance(uint64_t seq) override { return log_.Acknowledge(seq); }

 private:
  store::AuditLog& log_;
};

}  // namespace mortise::protocol
