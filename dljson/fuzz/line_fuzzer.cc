// Feeds arbitrary request lines to the JSON adapter of a simulated lock: no
// input may crash it, and every answer must itself be valid JSON with "ok".
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mortise/dljson/dl_json.h"
#include "mortise/sim/sim_lock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mortise::sim::SimLock* lock = [] {
    auto* l = new mortise::sim::SimLock();
    (void)l->Start();
    return l;
  }();
  mortise::dljson::DoorLockJson adapter(lock->lock(), mortise::core::Actor{});
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  while (start <= input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string out = adapter.HandleLine(input.substr(start, end - start));
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.contains("ok")) __builtin_trap();
    start = end + 1;
  }
  return 0;
}
