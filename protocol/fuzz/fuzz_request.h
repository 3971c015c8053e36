// A command request whose every field comes from the fuzzer's input, for
// the fuzzers that seal it in an established session (session_fuzzer.cc,
// node_fuzzer.cc): the harness holds the session keys, so the input passes
// the MAC and reaches the lock's request decoder, the authorisation and the
// executor behind it.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "mortise/protocol/session.h"

namespace mortise::protocol::fuzzing {

// command (1, any byte: unknown commands too) | value (8) | attribute (2) |
// PIN length (1, mod 9) | PIN | payload (the rest, at most 512 bytes: more
// than a request holds, so the client's length check is reached too).
// False: the input is too short. The spans point into `in`.
inline bool RequestFrom(std::span<const uint8_t> in, CommandRequest& request) {
  if (in.size() < 12) return false;
  request.command = static_cast<Command>(in[0]);
  int64_t value = 0;
  std::memcpy(&value, in.data() + 1, 8);
  request.value = value;
  request.attribute = static_cast<uint16_t>(in[9] | (in[10] << 8));
  const size_t pin_len = in[11] % 9;
  if (in.size() < 12 + pin_len) return false;
  request.pin = in.subspan(12, pin_len);
  const std::span<const uint8_t> rest = in.subspan(12 + pin_len);
  request.payload = rest.first(rest.size() > 512 ? 512 : rest.size());
  return true;
}

}  // namespace mortise::protocol::fuzzing
