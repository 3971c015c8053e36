// Time statements, the lock's side: TimeServer checks a statement and
// corrects the clock by a small, budgeted step (docs/protocol.md section
// 7.1). The holder's side is time_statement_client.cc.
#include "time_statement_shared.h"

#include "mortise/protocol/permissions.h"

namespace mortise::protocol {

using namespace time_detail;  // NOLINT: this module's own helpers

Result<size_t> TimeServer::Handle(std::span<const uint8_t> body, uint64_t now_ms, std::span<uint8_t> out) {
  if (out.size() < kTimeReplyFrameSize - 1) return StatusCode::kResourceExhausted;
  auto answer = [&](TimeStatus status) -> size_t {
    out[0] = kTimeStatementVersion;
    out[1] = static_cast<uint8_t>(status);
    PutU64(out.data() + 2, static_cast<uint64_t>(lock_.utc_now().value_or(0)));
    return kTimeReplyFrameSize - 1;
  };

  // 1. Form, lock and claim generation.
  ParsedStatement p;
  if (!ParseStatement(body, p)) return answer(TimeStatus::kMalformed);
  if (!authority_.claimed() || p.statement.lock_id != authority_.identity().lock_id() ||
      p.statement.generation != authority_.claim_generation()) {
    return answer(TimeStatus::kWrongLock);
  }
  // 2. The rules of a correction, against the lock's own clock: set, T above
  // the last statement accepted, within the step, not before the floor.
  const std::optional<int64_t> now = lock_.utc_now();
  if (!now) return answer(TimeStatus::kTimeUnknown);
  const int64_t t = p.statement.utc;
  if (t <= last_accepted_) return answer(TimeStatus::kStale);
  const int64_t step = t > *now ? t - *now : *now - t;
  if (step > kTimeCorrectionMaxStepS || t < lock_.time_floor_s()) return answer(TimeStatus::kTooFar);
  // 3. A correction left in the budget (taken only once one is made), then
  // the verification budget, then the signatures.
  if (!correction_budget_.Ready(now_ms) || !verify_budget_.Take(now_ms)) return answer(TimeStatus::kBusy);
  ++verify_rounds_;
  const crypto::Digest digest =
      StatementDigest(std::span<const uint8_t, kTimeStatementFieldsSize>(p.fields, kTimeStatementFieldsSize));
  if (!internal::SignedWithRight(authority_, lock_, p.tail, digest, kPermTimeStatement)) {
    return answer(TimeStatus::kRefused);
  }
  // 4. The correction (the core checks the step and the floor again, at
  // its own now), durable floor first.
  const Status corrected = lock_.CorrectUtcTime(t, kTimeCorrectionMaxStepS);
  if (!corrected.ok()) {
    return answer(corrected.code() == StatusCode::kOutOfRange ? TimeStatus::kTooFar : TimeStatus::kError);
  }
  correction_budget_.Take(now_ms);
  last_accepted_ = t;
  ++corrections_;
  return answer(TimeStatus::kCorrected);
}

}  // namespace mortise::protocol
