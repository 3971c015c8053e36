#include "state_dir.h"

#include "mortise/hostfs/dir_rules.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace mortise::lockd {

using hostfs::Errno;
using hostfs::Mode;
using hostfs::Uid;

namespace {

std::string WalkPath(const std::string& path, uid_t euid, bool create) {
  return hostfs::CheckLinks(path, euid, create, "mortise-lockd");
}

}  // namespace

std::string UnsafeDirReason(const std::string& path, const struct stat& st, uid_t euid) {
  if (S_ISLNK(st.st_mode)) return path + ": is a symbolic link; give mortise-lockd the directory's real path";
  if (!S_ISDIR(st.st_mode)) return path + ": not a directory";
  if (st.st_uid != euid)
    return path + ": owned by " + Uid(st.st_uid) + ", mode " + Mode(st.st_mode) + "; mortise-lockd runs as " +
           Uid(euid) +
           " and refuses a directory another user owns (that user could plant links to files it would overwrite, "
           "and read the setup code): use a new directory (mortise-lockd creates a missing one 0700), or, after "
           "checking what is in it, `chown -R " + std::to_string(euid) + " " + path + " && chmod 700 " + path + "`";
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return path + ": writable by group or others (mode " + Mode(st.st_mode) +
           "); anyone who can write there could plant links to files mortise-lockd would overwrite: `chmod 700 " +
           path + "`";
  return {};
}

std::string CheckWritableDir(const std::string& path, uid_t euid, std::string& real) {
  if (std::string r = WalkPath(path, euid, /*create=*/false); !r.empty()) return r;
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return Errno(path, "realpath");
  real = resolved;
  struct stat st;
  if (lstat(real.c_str(), &st) != 0) return Errno(real, "stat");
  if (std::string r = UnsafeDirReason(real, st, euid); !r.empty()) return r;
  return hostfs::CheckAncestors(real, euid, "mortise-lockd");
}

std::unique_ptr<StateDir> StateDir::Open(const std::string& path, std::string& why) {
  if (path.empty()) {
    why = "the state directory is not set";
    return nullptr;
  }
  // Nothing is created inside a directory another user could swap: the
  // deepest part of the path that exists must pass the ancestor rule before
  // a missing component is made under it.
  {
    std::string existing = path;
    struct stat st;
    while (lstat(existing.c_str(), &st) != 0 && existing.find('/') != std::string::npos) {
      const size_t slash = existing.rfind('/');
      existing = slash == 0 ? "/" : existing.substr(0, slash);
    }
    char resolved[PATH_MAX];
    if (existing != path && realpath(existing.empty() ? "." : existing.c_str(), resolved) != nullptr) {
      why = hostfs::CheckAncestors(std::string(resolved) + "/-", geteuid(), "mortise-lockd");
      if (!why.empty()) return nullptr;
    }
  }
  // Missing components are made 0700, each only after the ones above it
  // passed the link rule.
  why = WalkPath(path, geteuid(), /*create=*/true);
  if (!why.empty()) return nullptr;
  std::string real;
  why = CheckWritableDir(path, geteuid(), real);
  if (!why.empty()) return nullptr;
  const int fd = open(real.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    why = Errno(real, "cannot open the state directory");
    return nullptr;
  }
  // The directory opened is the one checked (not one swapped in between).
  struct stat st;
  if (fstat(fd, &st) != 0 || !(why = UnsafeDirReason(real, st, geteuid())).empty()) {
    if (why.empty()) why = Errno(real, "stat");
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<StateDir>(new StateDir(fd, real));
}

StateDir::~StateDir() { close(fd_); }

std::string StateDir::CheckOpened(std::string_view name, int fd, Secret secret) const {
  const std::string path = path_ + "/" + std::string(name);
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno(path, "stat");
  if (!S_ISREG(st.st_mode)) return path + ": not a regular file; mortise-lockd writes only its own files here";
  if (st.st_uid != geteuid())
    return path + ": owned by " + Uid(st.st_uid) + ", not by " + Uid(geteuid()) +
           " which runs mortise-lockd: someone else wrote in the state directory; check the file and remove it";
  if (st.st_nlink != 1)
    return path + ": has " + std::to_string(st.st_nlink) +
           " links; mortise-lockd never writes through a second name of a file: check it and remove the extra links";
  const mode_t forbidden = secret == Secret::kYes ? mode_t{0077} : mode_t{S_IWGRP | S_IWOTH};
  if (st.st_mode & forbidden)
    return path + ": mode " + Mode(st.st_mode) +
           (secret == Secret::kYes ? " lets group or others read it; it holds the lock's secrets: `chmod 600 "
                                   : " lets group or others write it: `chmod go-w ") +
           path + "`";
  return {};
}

int StateDir::OpenFile(std::string_view name, Secret secret, std::string& why) const {
  const std::string n(name);
  const int fd = openat(fd_, n.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    why = errno == ELOOP ? path_ + "/" + n + ": is a symbolic link; mortise-lockd never follows a link in its state "
                                             "directory: check who made it and remove it"
                         : Errno(path_ + "/" + n, "cannot open");
    return -1;
  }
  why = CheckOpened(name, fd, secret);
  if (!why.empty()) {
    close(fd);
    return -1;
  }
  return fd;
}

std::optional<std::string> StateDir::ReadFile(std::string_view name, Secret secret, std::string& why) const {
  why.clear();
  const std::string n(name);
  const int fd = openat(fd_, n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    why = errno == ELOOP ? path_ + "/" + n + ": is a symbolic link; mortise-lockd never follows a link in its state "
                                             "directory: check who made it and remove it"
                         : Errno(path_ + "/" + n, "cannot open");
    return std::nullopt;
  }
  why = CheckOpened(name, fd, secret);
  std::string text;
  char buf[4096];
  ssize_t r = 0;
  while (why.empty() && (r = read(fd, buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(r));
  if (why.empty() && r < 0) why = Errno(path_ + "/" + n, "read");
  close(fd);
  if (!why.empty()) return std::nullopt;
  return text;
}

std::string StateDir::CheckExisting(std::string_view name, Secret secret) const {
  const std::string n(name);
  struct stat st;
  if (fstatat(fd_, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? std::string() : Errno(path_ + "/" + n, "stat");
  if (S_ISLNK(st.st_mode))
    return path_ + "/" + n + ": is a symbolic link; mortise-lockd never follows a link in its state directory";
  const int fd = openat(fd_, n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno(path_ + "/" + n, "cannot open");
  std::string why = CheckOpened(name, fd, secret);
  close(fd);
  return why;
}

bool StateDir::WriteAtomically(std::string_view name, std::string_view text, std::string& why) const {
  const std::string n(name);
  const std::string tmp = n + ".tmp";
  const std::string tmp_path = path_ + "/" + tmp;
  // A temporary left by a crash is removed only when it is plainly ours: a
  // link or someone else's file means another hand was in the directory.
  struct stat st;
  if (fstatat(fd_, tmp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
      why = tmp_path + ": exists and is " +
            (S_ISLNK(st.st_mode) ? std::string("a symbolic link")
                                 : !S_ISREG(st.st_mode) ? std::string("not a regular file")
                                 : st.st_uid != geteuid() ? "owned by " + Uid(st.st_uid)
                                                          : std::string("linked elsewhere too")) +
            "; mortise-lockd did not make it and will not write through it: check who did, then remove it";
      return false;
    }
    if (unlinkat(fd_, tmp.c_str(), 0) != 0) {
      why = Errno(tmp_path, "cannot remove a stale temporary");
      return false;
    }
  } else if (errno != ENOENT) {
    why = Errno(tmp_path, "stat");
    return false;
  }
  const int fd = openat(fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    why = Errno(tmp_path, "cannot create");
    return false;
  }
  size_t done = 0;
  bool ok = true;
  while (ok && done < text.size()) {
    const ssize_t w = write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) done += static_cast<size_t>(w);
  }
  ok = ok && fsync(fd) == 0;
  if (!ok) why = Errno(tmp_path, "cannot write");
  if (close(fd) != 0 && ok) {
    ok = false;
    why = Errno(tmp_path, "close");
  }
  if (ok && renameat(fd_, tmp.c_str(), fd_, n.c_str()) != 0) {
    ok = false;
    why = Errno(path_ + "/" + n, "rename");
  }
  if (!ok) {
    unlinkat(fd_, tmp.c_str(), 0);
    return false;
  }
  if (fsync(fd_) != 0) {
    why = Errno(path_, "fsync of the directory");
    return false;
  }
  return true;
}

}  // namespace mortise::lockd
