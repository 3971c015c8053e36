// The host-directory rules shared by mortise-lockd and the mortise CLI
// (attack A19; docs/lockd.md "Files and permissions", docs/cli.md
// "Keyring"). Each check returns an empty string when the path is
// acceptable, else one sentence naming the path, its owner and mode and the
// command that fixes it; `program` is the program named in it.
//
// Why: whoever can rename an entry on the way to a directory (its owner,
// anyone who may write an ancestor that is not sticky, the owner of a
// symbolic link on the way) can swap the directory for one of theirs
// between a check and a write, so the rule covers the whole path, not only
// the directory itself.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>

namespace mortise::hostfs {

// "uid 1000 (alice)"; "0700"; "path: what: strerror(errno)".
std::string Uid(uid_t uid);
std::string Mode(mode_t mode);
std::string Errno(const std::string& path, const char* what);

// Goes down `path` a component at a time: a symbolic link on the way must
// belong to root or `euid`. With `create`, a missing component is made
// 0700, only after everything above it passed.
std::string CheckLinks(const std::string& path, uid_t euid, bool create, std::string_view program);

// Every ancestor of `real_dir` (a resolved path), up to /: owned by root or
// `euid`, and not writable by group or others unless sticky.
std::string CheckAncestors(const std::string& real_dir, uid_t euid, std::string_view program);

}  // namespace mortise::hostfs
