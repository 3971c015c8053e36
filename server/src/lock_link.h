// The server's link to locks (issue 14), as COMMON.md declares it: srvlink
// implements it over MQTT; the access deliverer (door_updates.h) codes
// against it and its tests use a fake.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace mortise::server {
class LockLink {
 public:
  virtual ~LockLink() = default;
  // True while the lock's retained `online` topic says online.
  virtual bool Online(std::string_view lock_id_hex) const = 0;
  // Sends one protocol frame down to the lock (topic .../down, fresh correlation data)
  // and waits up to timeout_ms for its answer frame on .../up. nullopt: offline, not
  // delivered, or no answer in time. Thread-safe; blocks the caller only.
  virtual std::optional<std::vector<uint8_t>> Exchange(std::string_view lock_id_hex,
      std::span<const uint8_t> frame, int timeout_ms) = 0;
};
}
