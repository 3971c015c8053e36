// The `mortise` CLI's exit codes: a script tells "the lock said no" from
// "the lock is not there" from "my keyring is locked" without parsing text.
// Documented in docs/cli.md; never renumber a code, only add.
#pragma once

namespace mortise::cli {

enum class ExitCode : int {
  kOk = 0,
  kUsage = 1,         // bad command line: unknown option, missing argument, conflicting choices
  kBadInput = 2,      // malformed key string, QR payload, JSON, file
  kRefused = 3,       // the lock refused: permission, schedule, lockout, revoked, ...
  kUnreachable = 4,   // the lock is unreachable or did not answer in time
  kKeyring = 5,       // wrong passphrase, missing or damaged keyring, keyring locked
  kVerification = 6,  // lock key mismatch, log chain broken, forged or unexpected answer
  kInternal = 7,      // a bug, or a lock that does not support the request (kUnimplemented)
  kPending = 8,       // stored on mortise-server for the lock, which has not confirmed it yet
};

inline constexpr int ToInt(ExitCode code) { return static_cast<int>(code); }

}  // namespace mortise::cli
