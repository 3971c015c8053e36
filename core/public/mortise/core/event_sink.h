// Facade: where the lock's events go. The storage module's audit log is the
// production sink; tests and the simulator record them.
#pragma once

#include "mortise/core/event.h"

namespace mortise::core {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Called synchronously, in order. The sink must not call back into the lock.
  // A sink that cannot keep the event must record that loss itself (the audit
  // log writes an explicit overflow record); the lock never retries.
  virtual void Emit(const LockEvent& event) = 0;
};

}  // namespace mortise::core
