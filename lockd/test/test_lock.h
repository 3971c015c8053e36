// A DoorLock on the sim backend and an in-memory store, for the handler
// tests (the daemon's own wiring, without flash or sockets).
#pragma once

#include <memory>

#include "events.h"
#include "mortise/core/door_lock.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_hardware.h"
#include "sim_backend.h"

namespace mortise::lockd::testing {

struct TestLock {
  sim::MemoryStore store;
  sim::SimRandom random{3};
  SimBackend backend;
  EventFanout events{nullptr};
  std::unique_ptr<core::DoorLock> lock;

  TestLock() {
    core::Hardware hw{backend.clock(),   random,           store,           backend.actuator(),
                      backend.sensors(), backend.manual(), backend.keypad(), backend.cards(),
                      backend.biometrics(), backend.indicator(), events};
    lock = std::make_unique<core::DoorLock>(hw);
    if (!lock->Start().ok()) std::abort();
  }
};

}  // namespace mortise::lockd::testing
