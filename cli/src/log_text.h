// The audit log's events in words, for `mortise log`: who (the user's name,
// the key's holder), what (locked, unlocked, unlatched, refused and why),
// how (keypad, session, signed remote command, by hand, passage mode). The
// JSON output keeps the lock's exact values; this is the text a person reads.
#pragma once

#include <string>

#include "mortise/core/event.h"

namespace mortise::cli {

// What the reader knows about the actors of an event. Empty: not known
// (the text then says "user 3" or the credential's slot).
struct EventNames {
  std::string user;  // "ann (user 1)"
  std::string key;   // "key 'gus'", "the owner's key"
};

// One line, without the sequence number and time: e.g. "unlocked at the
// keypad by ann (user 1) with stored PIN #1", "unlocked by passage mode
// (held open for anyone; no one asked)", "key refused over a session:
// revoked or suspended (2 more refusal(s) before this one were not
// recorded: rate limit)".
std::string DescribeEvent(const core::LockEvent& e, const EventNames& names);

// Words for an operating mode: "normal", "vacation", "privacy", "no-remote",
// "passage".
const char* ModeWord(core::OperatingMode mode);

}  // namespace mortise::cli
