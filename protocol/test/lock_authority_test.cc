// The protocol in front of a simulated lock: time rules (A04) and the role x
// command enforcement with real certificates (A12).
#include "mortise/protocol/lock_authority.h"

#include <gtest/gtest.h>

#include <vector>

#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using core::OperationSource;
using testing::Chain;
using testing::Fields;
using testing::Issue;
using testing::kNoon;

class LockAuthorityTest : public ::testing::Test {
 protected:
  LockAuthorityTest()
      : lock_rng_(3), owner_rng_(4), owner_(testing::NewKey(owner_rng_.drbg)),
        holder_(testing::NewKey(owner_rng_.drbg)), sim_(&store_), authority_(store_, lock_rng_.drbg) {
    EXPECT_TRUE(sim_.Start().ok());
    EXPECT_TRUE(authority_.Start().ok());
    uint8_t pin[kOfflinePinSecretSize] = {1, 2, 3};
    EXPECT_TRUE(authority_.InstallOwner(owner_.public_key(), pin).ok());
  }

  VerifiedKey KeyFor(Role role, uint32_t permissions = 0, bool time_limited = false, uint64_t serial = 1000) {
    CertificateFields f = Fields(authority_.identity().lock_id(), holder_, role,
                                 permissions ? permissions : RoleAllowedPermissions(role), serial);
    if (time_limited) {
      f.not_before = kNoon - 86400;
      f.not_after = kNoon + 86400;
    }
    Result<VerifiedKey> k = authority_.VerifyKey(Chain(Issue(f, owner_, owner_rng_.drbg)), sim_.lock());
    EXPECT_TRUE(k.ok()) << k.status().name();
    return k.ok() ? *k : VerifiedKey();
  }

  testing::SeededDrbg lock_rng_, owner_rng_;
  crypto::P256KeyPair owner_, holder_;
  sim::MemoryStore store_;
  sim::SimLock sim_;
  LockAuthority authority_;
};

TEST_F(LockAuthorityTest, A04_GuestCannotSetTheClock) {
  const VerifiedKey guest = KeyFor(Role::kGuest);
  EXPECT_EQ(authority_.SetTime(guest, OperationSource::kProprietaryRemote, kNoon, false, sim_.lock()).code(),
            StatusCode::kPermissionDenied);
  EXPECT_FALSE(sim_.lock().utc_now().has_value());
}

TEST_F(LockAuthorityTest, A04_SetTimeRightMovesTheClockForwardOnly) {
  const VerifiedKey installer = KeyFor(Role::kInstaller);
  ASSERT_TRUE(authority_.SetTime(installer, OperationSource::kProprietaryRemote, kNoon, false, sim_.lock()).ok());
  EXPECT_EQ(*sim_.lock().utc_now(), kNoon);
  // Backwards: refused without the owner, whatever the key asks for.
  EXPECT_EQ(authority_.SetTime(installer, OperationSource::kProprietaryRemote, kNoon - 3600, false, sim_.lock()).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(authority_.SetTime(installer, OperationSource::kProprietaryRemote, kNoon - 3600, true, sim_.lock()).code(),
            StatusCode::kPermissionDenied);
  EXPECT_GE(*sim_.lock().utc_now(), kNoon);
  const VerifiedKey admin = KeyFor(Role::kAdmin, 0, false, 1001);
  EXPECT_EQ(authority_.SetTime(admin, OperationSource::kProprietaryRemote, kNoon - 3600, true, sim_.lock()).code(),
            StatusCode::kPermissionDenied);
}

TEST_F(LockAuthorityTest, A04_OnlyTheOwnerMovesTheClockBackwards) {
  Result<VerifiedKey> owner = authority_.VerifyOwner(owner_.public_key());
  ASSERT_TRUE(owner.ok());
  ASSERT_TRUE(authority_.SetTime(*owner, OperationSource::kProprietaryRemote, kNoon, false, sim_.lock()).ok());
  ASSERT_TRUE(authority_.SetTime(*owner, OperationSource::kProprietaryRemote, kNoon - 86400, true, sim_.lock()).ok());
  EXPECT_EQ(*sim_.lock().utc_now(), kNoon - 86400);
  EXPECT_EQ(authority_.VerifyOwner(holder_.public_key()).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(LockAuthorityTest, A04_TimeLimitedKeysFailClosedUntilTheClockIsSet) {
  CertificateFields f = Fields(authority_.identity().lock_id(), holder_, Role::kGuest, kPermUnlock, 1002);
  f.not_before = kNoon - 60;
  f.not_after = kNoon + 60;
  const std::vector<uint8_t> chain = Chain(Issue(f, owner_, owner_rng_.drbg));
  EXPECT_EQ(authority_.VerifyKey(chain, sim_.lock()).status().code(), StatusCode::kFailedPrecondition);
  const VerifiedKey installer = KeyFor(Role::kInstaller, 0, false, 1003);
  ASSERT_TRUE(authority_.SetTime(installer, OperationSource::kProprietaryRemote, kNoon, false, sim_.lock()).ok());
  EXPECT_TRUE(authority_.VerifyKey(chain, sim_.lock()).ok());
}

TEST_F(LockAuthorityTest, A04_ForgedSetTimeKeyNeverReachesTheClock) {
  testing::SeededDrbg attacker_rng(99);
  const crypto::P256KeyPair attacker = testing::NewKey(attacker_rng.drbg);
  CertificateFields f =
      Fields(authority_.identity().lock_id(), holder_, Role::kInstaller, kPermSetTime, 1004);
  EXPECT_EQ(authority_.VerifyKey(Chain(Issue(f, attacker, attacker_rng.drbg)), sim_.lock()).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_FALSE(sim_.lock().utc_now().has_value());
}

TEST_F(LockAuthorityTest, A12_GuestKeyAtTheLockCannotManageShareConfigureOrUpdate) {
  const VerifiedKey guest = KeyFor(Role::kGuest);
  for (Command c : {Command::kShareKey, Command::kSetUser, Command::kSetCredential, Command::kSetTime,
                    Command::kWriteAttribute, Command::kSetPassageMode, Command::kUpdateFirmware, Command::kReadLog,
                    Command::kRevokeKey}) {
    EXPECT_EQ(authority_.Authorize(guest, c, OperationSource::kProprietaryRemote).code(),
              StatusCode::kPermissionDenied)
        << CommandName(c);
  }
  EXPECT_TRUE(authority_.Authorize(guest, Command::kUnlock, OperationSource::kProprietaryRemote).ok());
}

TEST_F(LockAuthorityTest, A12_EveryRoleAtTheLockMatchesItsTable) {
  uint64_t serial = 2000;
  for (Role role : {Role::kOwner, Role::kAdmin, Role::kMember, Role::kGuest, Role::kInstaller}) {
    const VerifiedKey key = KeyFor(role, 0, false, serial++);
    for (uint8_t c = 0; c < kCommandCount; ++c) {
      const Command command = static_cast<Command>(c);
      EXPECT_EQ(authority_.Authorize(key, command, OperationSource::kRemote).ok(),
                Authorize(Grant{role, RoleAllowedPermissions(role)}, command).ok())
          << RoleName(role) << " x " << CommandName(command);
    }
  }
}

TEST_F(LockAuthorityTest, RemoteOnlyKeyIsRefusedOnTheShortRangeLink) {
  CertificateFields f = Fields(authority_.identity().lock_id(), holder_, Role::kMember, kPermUnlock, 1005);
  f.remote_only = true;
  Result<VerifiedKey> k = authority_.VerifyKey(Chain(Issue(f, owner_, owner_rng_.drbg)), sim_.lock());
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(authority_.Authorize(*k, Command::kUnlock, OperationSource::kProprietaryRemote).code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(authority_.Authorize(*k, Command::kUnlock, OperationSource::kRemote).ok());
}

TEST_F(LockAuthorityTest, OwnerAndSecretSurviveRestartAndWipeForgetsThem) {
  LockAuthority rebooted(store_, lock_rng_.drbg);
  ASSERT_TRUE(rebooted.Start().ok());
  ASSERT_TRUE(rebooted.claimed());
  EXPECT_TRUE(*rebooted.owner() == owner_.public_key());
  crypto::SecretBytes<kOfflinePinSecretSize> pin;
  ASSERT_TRUE(rebooted.OfflinePinSecret(pin).ok());
  EXPECT_EQ(pin.data()[2], 3);
  EXPECT_EQ(rebooted.InstallOwner(holder_.public_key(), pin.span()).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(rebooted.Wipe().ok());
  EXPECT_FALSE(rebooted.claimed());
  EXPECT_EQ(rebooted.OfflinePinSecret(pin).code(), StatusCode::kFailedPrecondition);
  LockAuthority again(store_, lock_rng_.drbg);
  ASSERT_TRUE(again.Start().ok());
  EXPECT_FALSE(again.claimed());
  EXPECT_TRUE(again.identity().public_key() == authority_.identity().public_key());
}

}  // namespace
}  // namespace mortise::protocol
