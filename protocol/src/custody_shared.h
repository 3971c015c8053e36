// Internal: what the holder's side (custody_client.cc) and the lock's side
// (custody.cc) of log custody share: labels, the acknowledgement's fields
// and their parser.
#pragma once

#include <cstring>

#include "certificate_internal.h"
#include "le.h"
#include "mortise/protocol/custody.h"
#include "mortise/protocol/permissions.h"
#include "signed_frame.h"

namespace mortise::protocol::custody_detail {

using internal::GetU32;
using internal::GetU64;
using internal::PutU32;
using internal::PutU64;


inline constexpr uint8_t kFrameType = 0x06;  // FrameType::kCustody (node.h)
inline constexpr uint8_t kAckLabel[19] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o',
                                   'g', '-', 'a', 'c', 'k', '-', 'v', '1', 0};
inline constexpr uint8_t kReceiptLabel[22] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o', 'g',
                                       '-', 'c', 'u', 'r', 's', 'o', 'r', '-', 'v', '1', 0};
static_assert(sizeof(kReceiptLabel) + kLockIdSize + 4 + 8 + kCustodyChainHashSize + 8 == kCustodyReceiptMessageSize);
inline constexpr uint8_t kFlagCounters = 1;
inline constexpr uint8_t kFlagReceipt = 2;

inline crypto::Digest AckDigest(std::span<const uint8_t, kCustodyAckFieldsSize> fields) {
  return internal::DomainDigest(kAckLabel, fields);
}

inline void EncodeFields(const CustodyAck& ack, std::span<uint8_t, kCustodyAckFieldsSize> out) {
  uint8_t* p = out.data();
  p[0] = kCustodyVersion;
  std::memcpy(p + 1, ack.lock_id.data(), kLockIdSize);
  PutU32(p + 17, ack.generation);
  PutU64(p + 21, ack.seq);
  std::memcpy(p + 29, ack.chain.data(), kCustodyChainHashSize);
}

struct ParsedAck {
  CustodyAck ack;
  const uint8_t* fields = nullptr;  // kCustodyAckFieldsSize bytes
  internal::SignedTail tail;
};

// Strict: every size exact, version 1, N >= 1.
inline bool ParseAck(std::span<const uint8_t> body, ParsedAck& p) {
  if (!internal::SplitSignedTail(body, kCustodyAckFieldsSize, p.tail)) return false;
  const uint8_t* b = body.data();
  if (b[0] != kCustodyVersion) return false;
  std::memcpy(p.ack.lock_id.data(), b + 1, kLockIdSize);
  p.ack.generation = GetU32(b + 17);
  p.ack.seq = GetU64(b + 21);
  std::memcpy(p.ack.chain.data(), b + 29, kCustodyChainHashSize);
  if (p.ack.seq == 0) return false;
  p.fields = b;
  return true;
}

// Constant-time: the hash is no secret, but nothing is gained by leaking
// how much of it a guess got right.
inline bool SameHash(const CustodyChainHash& a, const CustodyChainHash& b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}


}  // namespace mortise::protocol::custody_detail
