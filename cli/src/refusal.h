// Why the lock said no, in words, and what the person can do about it: the
// one table the CLI uses for every refusal (docs/cli.md 9.2, "Refusals").
//
// A refusal reaches the CLI in one of three shapes:
//   * a protocol status from the handshake (the key itself is refused:
//     revoked, outside its validity, no free slot, ...);
//   * a protocol status of an authenticated command (permission, uses spent);
//   * an operation the core refused (StatusCode::kAborted), with the Matter
//     DlStatus, OperationError and the core's EventDetail (the first byte of
//     the response payload; docs/protocol.md, "Commands").
// The table never decides anything: it only explains what the lock decided.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "error.h"
#include "mortise/core/event.h"
#include "mortise/core/types.h"
#include "mortise/status.h"

namespace mortise::cli {

struct Refusal {
  ExitCode code = ExitCode::kRefused;
  std::string why;   // what the lock said, without a final period
  std::string hint;  // what the person can do, a sentence (never empty for kRefused)
};

// What the CLI could learn around a refused operation (read after it; each
// may be unknown).
struct RefusalContext {
  std::optional<core::OperatingMode> mode;
  std::optional<int64_t> lockout_remaining_s;
};

enum class RefusalStage : uint8_t {
  kHandshake,  // the lock refused the key before any command
  kCommand,    // the lock refused an authenticated command
};

// A protocol status (never kOk, never kAborted with a detail: use
// ExplainOperation for those).
Refusal ExplainStatus(StatusCode code, RefusalStage stage);

// An operation the core refused: DlStatus, OperationError and the detail
// (nullopt when the lock sent none: an older lock).
Refusal ExplainOperation(uint8_t dl_status, int64_t operation_error, std::optional<core::EventDetail> detail,
                         const RefusalContext& context);

// A Door Lock cluster command's status other than Success (its Matter
// name as dljson writes it: "InvalidField", "Occupied", ...).
Refusal ExplainDlStatus(const std::string& status);

// The Error for `what` (e.g. "the lock refused to unlock") refused for `r`:
// "what: why", with r's hint and exit code.
Error RefusalError(const std::string& what, const Refusal& r);

}  // namespace mortise::cli
