// Lock events as JSON with Matter names for their enums
// (mortise_dljson_events): linked by programs that read logs without the
// Door Lock adapter or the engine. Linux-side.
#pragma once

#include <nlohmann/json.hpp>

#include "mortise/core/event.h"

namespace mortise::dljson {

// An event as JSON, with Matter names for its enums.
nlohmann::json EventToJson(const core::LockEvent& event);

}  // namespace mortise::dljson
