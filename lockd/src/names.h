// Names of core enums the status and the face show (dljson names Matter's
// event fields; these are the few it does not export).
#pragma once

#include <string>

#include "mortise/core/door_lock.h"

namespace mortise::lockd {

const char* SignalName(core::Signal s);
const char* DoorStateName(core::DoorState s);
const char* LockStateName(core::LockState s);
const char* OperatingModeName(core::OperatingMode m);
// The keypad programming menu (core/programming_menu.h): its step and last
// note as status words, and the sentence the face shows ("" when there is
// nothing to say).
const char* MenuStepName(core::MenuStep s);
const char* MenuNoteName(core::MenuNote n);
std::string ProgrammingText(const core::ProgrammingMenu& menu);

}  // namespace mortise::lockd
