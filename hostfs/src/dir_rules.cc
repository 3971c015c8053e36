#include "mortise/hostfs/dir_rules.h"

#include <pwd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mortise::hostfs {

std::string Uid(uid_t uid) {
  std::string s = "uid " + std::to_string(uid);
  if (const passwd* pw = getpwuid(uid)) s += std::string(" (") + pw->pw_name + ")";
  return s;
}

std::string Mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string Errno(const std::string& path, const char* what) {
  return path + ": " + what + ": " + std::strerror(errno);
}

namespace {

// An ancestor of a directory a program writes in: whoever can rename
// entries in it can swap the directory for another, so it must belong to
// root or the program's user and be writable by nobody else, unless sticky
// (then only the owner of an entry may rename it).
std::string UnsafeAncestorReason(const std::string& path, const struct stat& st, uid_t euid,
                                 std::string_view program) {
  if (st.st_uid != 0 && st.st_uid != euid)
    return path + ": owned by " + Uid(st.st_uid) + ", mode " + Mode(st.st_mode) + "; a parent of a directory " +
           std::string(program) + " writes in must belong to root or to " + Uid(euid) +
           " (its owner could swap the directory): choose a path under directories root owns";
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
    return path + ": writable by group or others and not sticky (mode " + Mode(st.st_mode) +
           "); anyone who can write there could swap the directory " + std::string(program) + " uses: `chmod go-w " +
           path + "`";
  return {};
}

}  // namespace

std::string CheckLinks(const std::string& path, uid_t euid, bool create, std::string_view program) {
  size_t at = 0;
  while (at < path.size()) {
    const size_t slash = path.find('/', at + 1);
    at = slash == std::string::npos ? path.size() : slash;
    const std::string prefix = path.substr(0, at);
    if (prefix.empty() || prefix == "/" || prefix.back() == '/') continue;
    struct stat st;
    if (lstat(prefix.c_str(), &st) != 0) {
      if (errno == ENOENT && create && mkdir(prefix.c_str(), 0700) == 0) continue;
      return Errno(prefix, create ? "cannot create the directory" : "stat");
    }
    if (S_ISLNK(st.st_mode) && st.st_uid != 0 && st.st_uid != euid)
      return prefix + ": a symbolic link owned by " + Uid(st.st_uid) + "; " + std::string(program) +
             " follows only links of root or " + Uid(euid) + ": give it the real path";
  }
  return {};
}

std::string CheckAncestors(const std::string& real_dir, uid_t euid, std::string_view program) {
  std::string up = real_dir;
  struct stat st;
  while (up.size() > 1) {
    const size_t slash = up.rfind('/');
    up = slash == 0 ? "/" : up.substr(0, slash);
    if (lstat(up.c_str(), &st) != 0) return Errno(up, "stat");
    if (std::string r = UnsafeAncestorReason(up, st, euid, program); !r.empty()) return r;
  }
  return {};
}

}  // namespace mortise::hostfs
