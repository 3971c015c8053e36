#include "log_key.h"

#include <spdlog/spdlog.h>

namespace mortise::lockd {

void LogKeyIntroducer::KeyIndexAssigned(uint16_t index, const protocol::KeyRef& key) {
  const Result<uint64_t> seq = log_.AppendKeyIntroduction(index, key.issuer, key.serial);
  if (!seq.ok())
    spdlog::warn("audit log: key #{} could not be introduced in the log ({}); its events name the index only", index,
                 seq.status().name());
}

}  // namespace mortise::lockd
