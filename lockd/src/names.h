// Names of core enums the status and the face show (dljson names Matter's
// event fields; these are the few it does not export).
#pragma once

#include "mortise/core/door_lock.h"

namespace mortise::lockd {

const char* SignalName(core::Signal s);
const char* DoorStateName(core::DoorState s);
const char* LockStateName(core::LockState s);
const char* OperatingModeName(core::OperatingMode m);

}  // namespace mortise::lockd
