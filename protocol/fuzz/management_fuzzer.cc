// Fuzzes the management-command decoder (DecodeManagement), the one parse
// a lock makes of a Command::kManagement payload. The seam is the decoder
// and the classifier alone (no lock, no crypto), so it runs tens of
// thousands of inputs per second. Whatever decodes must be canonical (its
// re-encoding is the input, byte for byte) and classify into a management
// command, never into a carrier with rules of its own; a violation aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "mortise/protocol/management.h"

using namespace mortise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  Result<protocol::ManagementCommand> command = protocol::DecodeManagement(in);
  if (!command.ok()) return 0;
  // One encoding per command: what was authorised is these exact bytes.
  uint8_t again[protocol::kMaxManagementCommandSize];
  Result<size_t> n = protocol::EncodeManagement(*command, again);
  if (!n.ok() || *n != size || (size != 0 && std::memcmp(again, data, size) != 0)) std::abort();
  const protocol::Command c = protocol::ClassifyManagement(*command);
  if (c == protocol::Command::kManagement || c == protocol::Command::kApplyAccessList ||
      c == protocol::Command::kSetTime || c == protocol::Command::kSetTimeBackwards ||
      c == protocol::Command::kReadLog) {
    std::abort();
  }
  return 0;
}
