// Internal: what the holder's side (time_statement_client.cc) and the
// lock's side (time_statement.cc) of time statements share.
#pragma once

#include <cstring>

#include "certificate_internal.h"
#include "le.h"
#include "mortise/protocol/time_statement.h"
#include "signed_frame.h"

namespace mortise::protocol::time_detail {

using internal::GetU32;
using internal::GetU64;
using internal::PutU32;
using internal::PutU64;

inline constexpr uint8_t kFrameType = 0x07;  // FrameType::kTime (node.h)
inline constexpr uint8_t kLabel[16] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 't', 'i', 'm', 'e', '-', 'v', '1', 0};

inline crypto::Digest StatementDigest(std::span<const uint8_t, kTimeStatementFieldsSize> fields) {
  return internal::DomainDigest(kLabel, fields);
}

inline void EncodeFields(const TimeStatement& s, std::span<uint8_t, kTimeStatementFieldsSize> out) {
  uint8_t* p = out.data();
  p[0] = kTimeStatementVersion;
  std::memcpy(p + 1, s.lock_id.data(), kLockIdSize);
  PutU32(p + 17, s.generation);
  PutU64(p + 21, static_cast<uint64_t>(s.utc));
}

struct ParsedStatement {
  TimeStatement statement;
  const uint8_t* fields = nullptr;  // kTimeStatementFieldsSize bytes
  internal::SignedTail tail;
};

// Strict: every size exact, version 1, T a non-negative int64.
inline bool ParseStatement(std::span<const uint8_t> body, ParsedStatement& p) {
  if (!internal::SplitSignedTail(body, kTimeStatementFieldsSize, p.tail)) return false;
  const uint8_t* b = body.data();
  if (b[0] != kTimeStatementVersion) return false;
  const uint64_t utc = GetU64(b + 21);
  if (utc > static_cast<uint64_t>(INT64_MAX)) return false;
  std::memcpy(p.statement.lock_id.data(), b + 1, kLockIdSize);
  p.statement.generation = GetU32(b + 17);
  p.statement.utc = static_cast<int64_t>(utc);
  p.fields = b;
  return true;
}

}  // namespace mortise::protocol::time_detail
