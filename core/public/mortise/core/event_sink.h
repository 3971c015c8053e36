// Facade: where the lock's events go. The storage module's audit log is the
// production sink; tests and the simulator record them.
#pragma once

#include "mortise/core/event.h"

namespace mortise::core {

class EventSink {
 public:
  // Called synchronously, in order. The sink must not call back into the lock.
  // A sink that cannot keep the event must record that loss itself (the audit
  // log writes an explicit overflow record); the lock never retries.
  virtual void Emit(const LockEvent& event) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~EventSink() = default;
};

}  // namespace mortise::core
