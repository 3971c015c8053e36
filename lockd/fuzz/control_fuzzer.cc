// Feeds arbitrary lines to the control socket's handler on a simulated lock
// with a simulated clock: no input may crash it, and every answer must be
// one line of JSON with "ok".
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "control.h"
#include "mortise/sim/memory_store.h"

namespace {

using namespace mortise;

class FakeNode final : public lockd::NodeControls {
 public:
  bool claimed() const override { return claimed_; }
  bool claim_window_open(uint64_t) const override { return !claimed_; }
  std::string lock_id_hex() const override { return "00112233445566778899aabbccddeeff"; }
  std::optional<lockd::LabelText> label() const override {
    if (claimed_) return std::nullopt;
    return lockd::LabelText{"123456780", "MC1.test", "0011223344556677"};
  }
  Status PressClaimButton(uint64_t) override { return claimed_ ? StatusCode::kAlreadyExists : StatusCode::kOk; }
  Status FactoryReset(uint64_t) override {
    claimed_ = false;
    return Status::Ok();
  }

 private:
  bool claimed_ = false;
};

struct World {
  sim::MemoryStore store;
  sim::SimRandom random{7};
  lockd::SimBackend backend;
  lockd::EventFanout events{nullptr};
  std::unique_ptr<core::DoorLock> lock;
  FakeNode node;
  std::unique_ptr<lockd::ControlHandler> control;
  World() {
    core::Hardware hw{backend.clock(),  random,          store,          backend.actuator(),
                      backend.sensors(), backend.manual(), backend.keypad(), backend.cards(),
                      backend.biometrics(), backend.indicator(), events};
    lock = std::make_unique<core::DoorLock>(hw);
    (void)lock->Start();
    control = std::make_unique<lockd::ControlHandler>(backend, *lock, events, &node, lockd::ClockMode::kSimulated);
    control->set_max_advance_ms(60000);  // keeps each input fast
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  while (start <= input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string out = world->control->HandleLine(input.substr(start, end - start));
    if (out.find('\n') != std::string::npos) __builtin_trap();
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.contains("ok")) __builtin_trap();
    start = end + 1;
  }
  return 0;
}
