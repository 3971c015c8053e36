// QR codes drawn in a terminal (libqrencode): the lock's claim label, shared
// keys and offline data travel from screen to phone camera. Linux-side.
#pragma once

#include <string>
#include <string_view>

#include "mortise/status.h"

namespace mortise::termqr {

// Renders `text` (byte mode, error correction M) as lines of Unicode half
// blocks, two modules per character row, with the 4-module quiet zone the
// standard requires, dark modules drawn as spaces on a light background so
// it scans on dark and light terminal themes alike.
// kInvalidArgument: `text` is empty or longer than a QR code holds.
Result<std::string> Render(std::string_view text);

// The same as plain ASCII ("##" per dark module, two text rows per module
// row avoided: one row per module), for terminals without Unicode.
Result<std::string> RenderAscii(std::string_view text);

}  // namespace mortise::termqr
