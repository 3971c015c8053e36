// Where the keyring's passphrase comes from, in this order:
//   1. --passphrase-fd N: one line read from file descriptor N (the
//      newline, and a carriage return before it, are not part of it);
//   2. the environment variable MORTISE_PASSPHRASE;
//   3. a prompt on /dev/tty with echo off (asked twice when creating).
// Never from a command-line argument: arguments are visible to every user
// of the machine in /proc. With no descriptor, no variable and no terminal,
// the CLI stops with a clear error (ExitCode::kKeyring).
#pragma once

#include <string>
#include <string_view>

#include "secret_string.h"

namespace mortise::cli {

inline constexpr size_t kMaxPassphraseLength = 1024;

struct PassphraseSource {
  int fd = -1;              // --passphrase-fd; -1: not given
  bool use_env = true;      // read MORTISE_PASSPHRASE
  std::string tty = "/dev/tty";  // the terminal to prompt on (tests point elsewhere)
};

// Reads the passphrase. `confirm`: creating a keyring, so a prompt asks
// twice and an empty passphrase is refused. Throws Error(kKeyring) when the
// descriptor cannot be read, no source is available, the two entries
// differ, or the passphrase is longer than kMaxPassphraseLength; Error(kUsage)
// on an empty passphrase when `confirm`.
SecretString ReadPassphrase(const PassphraseSource& source, std::string_view prompt, bool confirm);

// One line from `fd` (without its newline), read byte by byte so nothing
// after the line is consumed. Throws Error(kKeyring) on a read error or an
// over-long line. An empty stream gives an empty string.
SecretString ReadLineFromFd(int fd);

}  // namespace mortise::cli
