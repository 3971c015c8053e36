// Attacks on mortise-lockd through its host: files (A19) and sockets (A18),
// against the built daemon as a process (docs/threat-model.md).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "process_util.h"

namespace mortise::lockd {
namespace {

using namespace test;  // process_util.h: Process, the fixture, clients, json, fs

// --- A19: the daemon turned against its host --------------------------------
// CI runs as root, where permissions stop nothing: these prove the daemon's
// own checks (state_dir.h), not the kernel's.

class lockdFiles : public lockdProcess {
 protected:
  std::vector<std::string> DirArgs() {
    return {"--state-dir", state_.string(), "--clock", "simulated", "--no-face", "--tcp", ""};
  }
  // A file only root (the test, in CI) may write, standing for /etc/shadow.
  fs::path Victim() {
    const fs::path v = dir_ / "victim";
    std::ofstream(v) << "precious\n";
    chmod(v.c_str(), 0644);
    return v;
  }
  // Another user's uid for chown (root only); the daemon compares with its
  // own euid.
  static constexpr uid_t kOtherUid = 65534;
};

TEST_F(lockdFiles, A19_RefusesAStateDirOwnedByAnotherUser) {
  fs::create_directories(state_);
  chmod(state_.c_str(), 0700);
  if (geteuid() == 0) {
    ASSERT_EQ(chown(state_.c_str(), kOtherUid, kOtherUid), 0);
  } else {
    state_ = "/usr";  // owned by root, not by this user
  }
  Process p(dir_, DirArgs(), "other");
  EXPECT_EQ(p.Wait(), 1);
  const std::string err = p.stderr_text();
  EXPECT_NE(err.find(state_.string() + ": owned by uid " + std::to_string(geteuid() == 0 ? kOtherUid : 0)),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("chown"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(state_ / "label.txt"));
  EXPECT_FALSE(fs::exists(state_ / "records.img"));
  EXPECT_FALSE(fs::exists(state_ / "lockd.lock"));
}

TEST_F(lockdFiles, A19_RefusesAStateDirOthersCanWrite) {
  fs::create_directories(state_);
  for (mode_t mode : {0777, 0702, 0720, 01777}) {
    chmod(state_.c_str(), mode);
    Process p(dir_, DirArgs(), "mode");
    EXPECT_EQ(p.Wait(), 1) << std::oct << mode;
    const std::string err = p.stderr_text();
    EXPECT_NE(err.find(state_.string() + ": writable by group or others"), std::string::npos) << err;
    EXPECT_NE(err.find("chmod 700 " + state_.string()), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(state_ / "label.txt"));
  }
}

TEST_F(lockdFiles, A19_RefusesAParentOthersCanWriteUnlessSticky) {
  const fs::path parent = dir_ / "shared";
  state_ = parent / "state";
  fs::create_directories(state_);
  chmod(state_.c_str(), 0700);
  chmod(parent.c_str(), 0777);  // anyone could rename state/ and put theirs
  Process p(dir_, DirArgs(), "parent");
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.stderr_text().find(parent.string() + ": writable by group or others and not sticky"),
            std::string::npos)
      << p.stderr_text();
  // Sticky, as /tmp: only the owner of state/ may rename it.
  chmod(parent.c_str(), 01777);
  Process q(dir_, DirArgs(), "sticky");
  ASSERT_TRUE(q.WaitReady()) << q.stderr_text();
  EXPECT_EQ(q.Signal(SIGTERM), 0);
}

TEST_F(lockdFiles, A19_CreatesNothingInsideADirectoryAnotherUserOwns) {
  // Found by the attacker run: the state dir was made inside the other
  // user's directory before the daemon refused it.
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the parent to another uid";
  const fs::path theirs = dir_ / "theirs";
  fs::create_directories(theirs);
  ASSERT_EQ(chown(theirs.c_str(), kOtherUid, kOtherUid), 0);
  state_ = theirs / "lock";
  Process p(dir_, DirArgs(), "theirs");
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.stderr_text().find(theirs.string() + ": owned by uid " + std::to_string(kOtherUid)), std::string::npos)
      << p.stderr_text();
  EXPECT_FALSE(fs::exists(state_));
}

TEST_F(lockdFiles, A19_NeverCreatesThroughAnotherUsersLinkOnThePath) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a link to another uid (CI runs as root)";
  // /tmp/x -> a directory of root's, planted by another user: the daemon
  // must not make its state dir in there.
  const fs::path target = dir_ / "roots";
  fs::create_directories(target);
  const fs::path link = dir_ / "planted";
  fs::create_directory_symlink(target, link);
  ASSERT_EQ(lchown(link.c_str(), kOtherUid, kOtherUid), 0);
  state_ = link / "new" / "state";
  Process p(dir_, DirArgs(), "link-on-path");
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.stderr_text().find(link.string() + ": a symbolic link owned by uid 65534"), std::string::npos)
      << p.stderr_text();
  EXPECT_FALSE(fs::exists(target / "new")) << "nothing is created through the link";
  // The same link owned by root (as systemd's StateDirectory link) is followed.
  ASSERT_EQ(lchown(link.c_str(), 0, 0), 0);
  Process q(dir_, DirArgs(), "root-link");
  ASSERT_TRUE(q.WaitReady()) << q.stderr_text();
  EXPECT_TRUE(fs::exists(target / "new" / "state" / "label.txt"));
  EXPECT_EQ(q.Signal(SIGTERM), 0);
}

TEST_F(lockdFiles, A19_NeverFollowsALinkPlantedAsTheLabelOrItsTemporary) {
  const fs::path victim = Victim();
  fs::create_directories(state_);
  chmod(state_.c_str(), 0700);
  for (const char* name : {"label.txt.tmp", "label.txt", "records.img", "log.img", "lockd.lock"}) {
    fs::remove_all(state_);
    fs::create_directories(state_);
    chmod(state_.c_str(), 0700);
    fs::create_symlink(victim, state_ / name);
    Process p(dir_, DirArgs(), std::string("link-") + name);
    EXPECT_EQ(p.Wait(), 1) << name;
    const std::string err = p.stderr_text();
    EXPECT_NE(err.find(state_.string() + "/" + name), std::string::npos) << err;
    EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
    EXPECT_EQ(ReadFile(victim), "precious\n") << name << " was followed";
    EXPECT_TRUE(fs::is_symlink(state_ / name)) << "the planted link is reported, not removed";
  }
  // The RTC file is not essential: a link there is reported, not read, and
  // the lock starts with its time unknown.
  fs::remove_all(state_);
  fs::create_directories(state_);
  chmod(state_.c_str(), 0700);
  fs::create_symlink(victim, state_ / "rtc");
  {
    Process p(dir_, DirArgs(), "link-rtc");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    EXPECT_NE(p.stderr_text().find(state_.string() + "/rtc: is a symbolic link"), std::string::npos)
        << p.stderr_text();
    EXPECT_EQ(p.Signal(SIGTERM), 0);
    EXPECT_EQ(ReadFile(victim), "precious\n");
  }
  // A dangling link (the file it names does not exist yet) is not created
  // through either.
  fs::remove_all(state_);
  fs::create_directories(state_);
  chmod(state_.c_str(), 0700);
  fs::create_symlink(dir_ / "made-by-lockd", state_ / "label.txt.tmp");
  Process p(dir_, DirArgs(), "dangling");
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_FALSE(fs::exists(dir_ / "made-by-lockd"));
}

TEST_F(lockdFiles, A19_RefusesALabelHardLinkedOrOwnedByAnotherUserOrReadableByOthers) {
  const fs::path victim = Victim();
  {
    // A first start makes the files; the label is the owner's alone.
    Process p(dir_, DirArgs(), "first");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    EXPECT_EQ(p.Signal(SIGTERM), 0);
  }
  struct stat st;
  ASSERT_EQ(stat((state_ / "label.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((state_ / "records.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(state_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  const std::string label = ReadFile(state_ / "label.txt");
  chmod((state_ / "label.txt").c_str(), 0644);
  {
    Process p(dir_, DirArgs(), "readable");
    EXPECT_EQ(p.Wait(), 1);
    EXPECT_NE(p.stderr_text().find("label.txt: mode 0644 lets group or others read it"), std::string::npos)
        << p.stderr_text();
  }
  chmod((state_ / "label.txt").c_str(), 0600);
  ASSERT_EQ(link((state_ / "label.txt").c_str(), (dir_ / "second-name").c_str()), 0);
  {
    Process p(dir_, DirArgs(), "hardlink");
    EXPECT_EQ(p.Wait(), 1);
    EXPECT_NE(p.stderr_text().find("label.txt: has 2 links"), std::string::npos) << p.stderr_text();
  }
  fs::remove(dir_ / "second-name");
  if (geteuid() == 0) {
    ASSERT_EQ(chown((state_ / "label.txt").c_str(), kOtherUid, kOtherUid), 0);
    Process p(dir_, DirArgs(), "owner");
    EXPECT_EQ(p.Wait(), 1);
    EXPECT_NE(p.stderr_text().find("label.txt: owned by uid 65534"), std::string::npos) << p.stderr_text();
    ASSERT_EQ(chown((state_ / "label.txt").c_str(), 0, 0), 0);
  }
  // A stale temporary of our own (a crash between write and rename) is
  // removed; the label is unchanged.
  std::ofstream(state_ / "label.txt.tmp") << "half";
  chmod((state_ / "label.txt.tmp").c_str(), 0600);
  Process p(dir_, DirArgs(), "again");
  ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
  EXPECT_EQ(ReadFile(state_ / "label.txt"), label);
  EXPECT_EQ(p.Signal(SIGTERM), 0);
}

TEST_F(lockdFiles, A19_RefusesASocketDirectoryAnotherUserCanWrite) {
  const fs::path sockets = dir_ / "sockets";
  fs::create_directories(sockets);
  chmod(sockets.c_str(), 0777);
  std::vector<std::string> args = DirArgs();
  args.push_back("--socket");
  args.push_back((sockets / "lock.sock").string());
  Process p(dir_, args, "sockdir");
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.stderr_text().find("socket " + (sockets / "lock.sock").string() + ": " + sockets.string() +
                                 ": writable by group or others"),
            std::string::npos)
      << p.stderr_text();
}

TEST_F(lockdFiles, A19_SocketsAreTheDaemonUsersAloneUnlessItsGroupIsLetIn) {
  {
    Process p(dir_, DirArgs(), "owner-only");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    struct stat st;
    ASSERT_EQ(stat((state_ / "lock.sock").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(stat((state_ / "sim.sock").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(p.Signal(SIGTERM), 0);
  }
  std::vector<std::string> args = DirArgs();
  args.push_back("--socket-group-access");
  Process p(dir_, args, "group");
  ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
  struct stat st;
  ASSERT_EQ(stat((state_ / "lock.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(stat((state_ / "sim.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "physical inputs stay the daemon user's alone";
  EXPECT_EQ(p.Signal(SIGTERM), 0);
}

}  // namespace
}  // namespace mortise::lockd
