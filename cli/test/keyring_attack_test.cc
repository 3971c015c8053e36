// A19 for the owner's tool: a keyring directory another user owns or can
// write is refused, with the command that fixes it (docs/cli.md,
// "Keyring"). CI runs as root, where permissions stop nothing: these test
// the CLI's own check.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "error.h"
#include "keyring.h"
#include "test_util.h"

namespace mortise::cli {
namespace {

using testing::CatchError;

const KdfParams kFast = KdfParams::Fast();

class CliKeyringDir : public ::testing::Test {
 protected:
  testing::TempDir tmp;
  std::filesystem::path dir = tmp / "keys";
  std::filesystem::path path = dir / "keyring";
};

TEST_F(CliKeyringDir, A19_NewDirectoryIsTheUsersAloneAndAccepted) {
  { Keyring::Create(path, "pw", kFast); }
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(st.st_uid, geteuid());
  Keyring::Open(path, "pw", Keyring::Access::kRead);
}

TEST_F(CliKeyringDir, A19_DirectoryOwnedByAnotherUserIsRefused) {
  { Keyring::Create(path, "pw", kFast); }
  const testing::Bytes before = testing::ReadFile(path);
  uid_t owner = 65534;
  if (geteuid() == 0) {
    ASSERT_EQ(chown(dir.c_str(), owner, owner), 0);
  } else {
    owner = 0;
    path = "/usr/keyring";  // a directory root owns
    dir = "/usr";
  }
  for (auto access : {Keyring::Access::kRead, Keyring::Access::kUpdate}) {
    const Error e = CatchError([&] { Keyring::Open(path, "pw", access); });
    EXPECT_EQ(e.code(), ExitCode::kKeyring);
    EXPECT_NE(std::string(e.what()).find("the keyring directory " + dir.string() + " is owned by uid " +
                                         std::to_string(owner)),
              std::string::npos)
        << e.what();
    EXPECT_NE(e.hint().find("mkdir -m 700"), std::string::npos) << e.hint();
    EXPECT_NE(e.hint().find("chown " + std::to_string(geteuid()) + " " + dir.string()), std::string::npos)
        << e.hint();
  }
  const Error e = CatchError([&] { Keyring::Create(dir / "second", "pw", kFast); });
  EXPECT_EQ(e.code(), ExitCode::kKeyring);
  EXPECT_FALSE(std::filesystem::exists(dir / "second"));
  if (geteuid() == 0) {
    EXPECT_EQ(testing::ReadFile(path), before);
  }
}

TEST_F(CliKeyringDir, A19_DirectoryOthersCanWriteIsRefused) {
  { Keyring::Create(path, "pw", kFast); }
  for (mode_t mode : {0777, 0770, 0702, 01777}) {
    chmod(dir.c_str(), mode);
    const Error e = CatchError([&] { Keyring::Open(path, "pw", Keyring::Access::kUpdate); });
    EXPECT_EQ(e.code(), ExitCode::kKeyring);
    EXPECT_NE(std::string(e.what()).find("is writable by group or others"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("chmod go-w " + dir.string()), std::string::npos) << e.hint();
    const Error c = CatchError([&] { Keyring::Create(dir / "second", "pw", kFast); });
    EXPECT_EQ(c.code(), ExitCode::kKeyring);
    EXPECT_FALSE(std::filesystem::exists(dir / "second"));
  }
  chmod(dir.c_str(), 0755);  // readable is fine: the file is encrypted and 0600
  Keyring::Open(path, "pw", Keyring::Access::kRead);
}

// The way to the directory counts too (found by the attacker run): a
// parent another user owns could swap the directory, and a link another
// user owns names whatever directory that user likes.
TEST_F(CliKeyringDir, A19_AParentAnotherUserOwnsIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the parent to another uid";
  const std::filesystem::path parent = tmp / "theirs";
  std::filesystem::create_directories(parent / "mine");
  ASSERT_EQ(chmod((parent / "mine").c_str(), 0700), 0);
  ASSERT_EQ(chown(parent.c_str(), 65534, 65534), 0);
  const Error e = CatchError([&] { Keyring::Create(parent / "mine" / "keyring", "pw", kFast); });
  EXPECT_EQ(e.code(), ExitCode::kKeyring);
  EXPECT_NE(std::string(e.what()).find("owned by uid 65534"), std::string::npos) << e.what();
  EXPECT_FALSE(std::filesystem::exists(parent / "mine" / "keyring"));
}

TEST_F(CliKeyringDir, A19_ALinkAnotherUserOwnsOnThePathIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the link to another uid";
  { Keyring::Create(path, "pw", kFast); }
  const std::filesystem::path link = tmp / "link";
  std::filesystem::create_directory_symlink(dir, link);
  ASSERT_EQ(lchown(link.c_str(), 65534, 65534), 0);
  const Error e = CatchError([&] { Keyring::Open(link / "keyring", "pw", Keyring::Access::kUpdate); });
  EXPECT_EQ(e.code(), ExitCode::kKeyring);
  EXPECT_NE(std::string(e.what()).find("a symbolic link owned by uid 65534"), std::string::npos) << e.what();
  // The user's own link is followed as before.
  ASSERT_EQ(lchown(link.c_str(), geteuid(), getegid()), 0);
  Keyring::Open(link / "keyring", "pw", Keyring::Access::kRead);
}

}  // namespace
}  // namespace mortise::cli
