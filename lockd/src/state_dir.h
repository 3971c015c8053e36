// The daemon's files on its host (docs/lockd.md, "Files and permissions").
//
// Why: mortise-lockd is often started by root (or a service user) on a
// path someone else may have touched first (a directory under /tmp, made
// by another user). The state dir holds the lock's private key and the
// claim label (the setup code), so a directory another user owns or can
// write is refused, and no file in it is opened through a symbolic link or
// a second hard link: another user could otherwise make the daemon
// overwrite a file of the daemon's user with the label and read it.
//
// The rule for every directory the daemon writes in (the state dir, the
// directory of each socket): owned by the daemon's effective uid, not
// writable by group or others; its ancestors owned by root or that uid and
// not writable by group or others unless sticky (/tmp); a symbolic link on
// the way owned by root or that uid. Files are opened with openat() on the
// directory's descriptor and O_NOFOLLOW; a file must be a regular file,
// owned by the daemon's uid, with one link, not writable by group or
// others, and a secret (the images, the label) not readable by them either.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mortise::lockd {

// What is wrong with a directory the daemon writes in, as a sentence naming
// the path, its owner and mode and the command that fixes it; empty when
// it is acceptable. `st` is its lstat (a symlink is refused here: the
// caller resolves the path first).
std::string UnsafeDirReason(const std::string& path, const struct stat& st, uid_t euid);

// The whole rule for a directory that exists: its real path, the symlinks
// on the way, its ancestors and itself. Empty: acceptable; `real` is set to
// the resolved path.
std::string CheckWritableDir(const std::string& path, uid_t euid, std::string& real);

class StateDir {
 public:
  enum class Secret : bool { kNo, kYes };

  // Creates `path` (0700, and its missing parents 0700) when missing, then
  // checks it (CheckWritableDir) and keeps a descriptor on it. nullptr with
  // `why` on refusal.
  static std::unique_ptr<StateDir> Open(const std::string& path, std::string& why);
  ~StateDir();
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Opens `name` (no slash) read-write, creating it with mode 0600 when
  // missing, never through a symlink; then checks it (see the header
  // comment). The caller owns the returned descriptor. -1 with `why`.
  int OpenFile(std::string_view name, Secret secret, std::string& why) const;
  // Reads `name` whole when it exists and passes the same checks. nullopt:
  // absent (why empty) or refused (why set).
  std::optional<std::string> ReadFile(std::string_view name, Secret secret, std::string& why) const;
  // Replaces `name` with `text` atomically and durably: `name`.tmp made
  // with O_CREAT|O_EXCL|O_NOFOLLOW (a stale one removed only when it is a
  // regular file of ours; anything else refused), written, fsync'd,
  // renamed over `name`, then the directory fsync'd. Mode 0600.
  bool WriteAtomically(std::string_view name, std::string_view text, std::string& why) const;
  // Checks an existing `name` before a library opens it by path (the face's
  // log file): absent or a regular file of ours. Empty when acceptable.
  std::string CheckExisting(std::string_view name, Secret secret) const;

 private:
  StateDir(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  std::string CheckOpened(std::string_view name, int fd, Secret secret) const;

  int fd_;
  std::string path_;
};

}  // namespace mortise::lockd
