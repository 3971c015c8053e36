// Internal: strict nanopb decoding and bounded encoding.
//
// Strict means canonical: after decoding, the message is encoded again and
// must give back exactly the input bytes. That refuses unknown fields,
// duplicated fields, explicit default values, over-long varints and trailing
// bytes, so every accepted message has exactly one encoding and a signature
// covers exactly what the lock acts on.
#pragma once

#include <pb.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "mortise/status.h"

namespace mortise::protocol::internal {

inline Result<size_t> Encode(const pb_msgdesc_t* fields, const void* message, std::span<uint8_t> out) {
  pb_ostream_t stream = pb_ostream_from_buffer(out.data(), out.size());
  if (!pb_encode(&stream, fields, message)) return StatusCode::kResourceExhausted;
  return stream.bytes_written;
}

// kInvalidArgument: not a valid, canonical encoding of the message, or a
// field beyond its bound (mortise.options).
inline Status DecodeStrict(std::span<const uint8_t> in, const pb_msgdesc_t* fields, void* message,
                           std::span<uint8_t> scratch) {
  if (in.size() > scratch.size()) return StatusCode::kInvalidArgument;
  pb_istream_t stream = pb_istream_from_buffer(in.data(), in.size());
  if (!pb_decode(&stream, fields, message)) return StatusCode::kInvalidArgument;
  if (stream.bytes_left != 0) return StatusCode::kInvalidArgument;
  pb_ostream_t again = pb_ostream_from_buffer(scratch.data(), scratch.size());
  if (!pb_encode(&again, fields, message)) return StatusCode::kInvalidArgument;
  if (again.bytes_written != in.size() || (!in.empty() && std::memcmp(scratch.data(), in.data(), in.size()) != 0)) {
    return StatusCode::kInvalidArgument;
  }
  return Status::Ok();
}

template <size_t N, typename BytesT>
inline bool CopyExact(const BytesT& field, std::span<uint8_t, N> out) {
  if (field.size != N) return false;
  std::memcpy(out.data(), field.bytes, N);
  return true;
}

template <typename BytesT>
inline void SetBytes(BytesT& field, std::span<const uint8_t> in) {
  static_assert(sizeof(field.bytes) > 0);
  field.size = static_cast<pb_size_t>(in.size());
  // memcpy from an empty span's null pointer is undefined even for 0 bytes.
  if (!in.empty()) std::memcpy(field.bytes, in.data(), in.size());
}

}  // namespace mortise::protocol::internal
