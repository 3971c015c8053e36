// mortise-lockd: one lock on Linux. Wires the modules together in the
// order their contracts require and runs the poll loop; it holds no policy
// of its own (every decision is the core's or the protocol's).
//
// Startup: state dir + exclusive flock -> flash images -> RecordStore::Mount
// -> DRBG seeded from getrandom -> LockAuthority::Start -> log key ->
// AuditLog::Mount -> backend + DoorLock::Start (events to the audit log) ->
// LockNode::Start -> sockets -> READY=1 and "mortise-lockd: ready".
#pragma once

#include "config.h"

namespace mortise::lockd {

// Exit statuses (docs/lockd.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;     // startup or runtime failure
inline constexpr int kExitUsage = 2;       // configuration or command line refused
inline constexpr int kExitStateBusy = 3;   // another daemon holds the state dir

// Runs the daemon until SIGTERM/SIGINT/SIGHUP (or 'q' on the face).
// Returns the exit status.
int RunDaemon(const Config& config);

}  // namespace mortise::lockd
