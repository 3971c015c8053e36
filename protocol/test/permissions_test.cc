// The role x command matrix (attack A12: privilege escalation on the local
// link). Each role is given the most its role allows; the expected rights
// are spelled out here, independently of the table in permissions.cc.
#include "mortise/protocol/permissions.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace mortise::protocol {
namespace {

// The rows "| number | `name` |" of the table that follows `heading` in
// docs/protocol.md.
std::vector<std::pair<int, std::string>> DocumentedTable(const std::string& heading) {
  std::ifstream in(std::string(MORTISE_DOCS_DIR) + "/protocol.md");
  std::string line;
  bool in_section = false;
  std::vector<std::pair<int, std::string>> rows;
  const std::regex row(R"(^\| (\d+) \| `(\w+)` \|$)");
  while (std::getline(in, line)) {
    if (line.starts_with(heading)) {
      in_section = true;
      continue;
    }
    if (!in_section) continue;
    std::smatch m;
    if (std::regex_match(line, m, row)) {
      rows.emplace_back(std::stoi(m[1]), m[2]);
    } else if (!rows.empty() && !line.starts_with("|")) {
      break;
    }
  }
  return rows;
}

// The numbers of Request.command are fixed by docs/protocol.md section 3.1,
// not by the order of the enum.
TEST(PermissionsTest, CommandNumbersAreTheDocumentedOnes) {
  const auto rows = DocumentedTable("**Commands**");
  ASSERT_EQ(rows.size(), kCommandCount);
  for (const auto& [number, name] : rows) {
    ASSERT_LT(number, kCommandCount);
    EXPECT_EQ(CommandName(static_cast<Command>(number)), name) << number;
  }
  static_assert(static_cast<uint8_t>(Command::kLock) == 0 && static_cast<uint8_t>(Command::kReadLog) == 25 &&
                static_cast<uint8_t>(Command::kApplyAccessList) == 29 && static_cast<uint8_t>(Command::kSetUtcOffset) == 34 &&
                static_cast<uint8_t>(Command::kTransferOwnership) == 35);
}

TEST(PermissionsTest, StatusCodeNumbersAreTheDocumentedOnes) {
  const auto rows = DocumentedTable("**Status codes**");
  ASSERT_EQ(rows.size(), static_cast<size_t>(StatusCode::kUnimplemented) + 1);
  for (const auto& [number, name] : rows) EXPECT_STREQ(StatusCodeName(static_cast<StatusCode>(number)), name.c_str());
  static_assert(static_cast<uint8_t>(StatusCode::kUnauthenticated) == 7 &&
                static_cast<uint8_t>(StatusCode::kUnimplemented) == 13);
}

using C = Command;

std::set<Command> Expected(Role role) {
  const std::set<Command> open = {C::kLock, C::kUnlock, C::kUnlatch, C::kUnbolt, C::kUnlockWithTimeout,
                                  C::kReadAttribute, C::kApplyAccessList, C::kEndSession};
  std::set<Command> all;
  for (uint8_t i = 0; i < kCommandCount; ++i) all.insert(static_cast<Command>(i));
  switch (role) {
    case Role::kOwner: {
      all.erase(C::kFactoryReset);
      all.erase(C::kManagement);
      return all;
    }
    case Role::kAdmin: {
      for (C c : {C::kFactoryReset, C::kManagement, C::kUpdateFirmware, C::kSetTimeBackwards, C::kRevokeKey,
                  C::kSetUtcOffset, C::kTransferOwnership}) {
        all.erase(c);
      }
      return all;
    }
    case Role::kMember: {
      std::set<Command> s = open;
      s.insert({C::kReadLog, C::kSetPassageMode});
      return s;
    }
    case Role::kGuest:
      return open;
    case Role::kInstaller: {
      std::set<Command> s = {C::kLock, C::kUnlock, C::kUnbolt, C::kUnlockWithTimeout, C::kReadAttribute,
                             C::kApplyAccessList, C::kSetTime, C::kWriteAttribute, C::kSetHolidaySchedule,
                             C::kGetHolidaySchedule, C::kClearHolidaySchedule, C::kReadLog, C::kUpdateFirmware,
                             C::kEndSession};
      return s;
    }
    case Role::kUnspecified:
      return {};
  }
  return {};
}

TEST(PermissionsTest, A12_FullRoleByCommandMatrix) {
  for (uint8_t r = 0; r < kRoleCount; ++r) {
    const Role role = static_cast<Role>(r);
    const Grant grant{role, RoleAllowedPermissions(role)};
    const std::set<Command> expected = Expected(role);
    for (uint8_t c = 0; c < kCommandCount; ++c) {
      const Command command = static_cast<Command>(c);
      const Status s = Authorize(grant, command);
      EXPECT_EQ(s.ok(), expected.count(command) == 1) << RoleName(role) << " x " << CommandName(command);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
      }
    }
  }
}

TEST(PermissionsTest, A12_GuestCannotAddKeysSetTimeChangeSettingsOrStartUpdate) {
  const Grant guest{Role::kGuest, RoleAllowedPermissions(Role::kGuest)};
  for (C c : {C::kShareKey, C::kSetUser, C::kSetCredential, C::kSetTime, C::kSetTimeBackwards, C::kWriteAttribute,
              C::kSetPassageMode, C::kSetHolidaySchedule, C::kUpdateFirmware, C::kRevokeKey, C::kReadLog}) {
    EXPECT_EQ(Authorize(guest, c).code(), StatusCode::kPermissionDenied) << CommandName(c);
  }
  EXPECT_TRUE(Authorize(guest, C::kUnlock).ok());
}

TEST(PermissionsTest, A12_GrantBeyondItsRoleGetsOnlyTheRole) {
  // A grant built with every bit still gets only what a guest may have.
  const Grant inflated{Role::kGuest, kAllPermissions};
  EXPECT_EQ(Authorize(inflated, C::kSetUser).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Authorize(inflated, C::kUpdateFirmware).code(), StatusCode::kPermissionDenied);
  const Grant admin{Role::kAdmin, kAllPermissions};
  EXPECT_EQ(Authorize(admin, C::kUpdateFirmware).code(), StatusCode::kPermissionDenied);
}

TEST(PermissionsTest, A12_MissingPermissionDeniesEvenForOwnerRole) {
  const Grant owner_without_time{Role::kOwner, kAllPermissions & ~kPermSetTime};
  EXPECT_EQ(Authorize(owner_without_time, C::kSetTime).code(), StatusCode::kPermissionDenied);
}

// The log-custody right (issue 9 item 2) opens nothing: a key the owner
// issues for log custody (role admin, that bit alone, or with the
// revalidation right beside it) is refused every command of the table,
// even those any verified key may run. Its only use is the acknowledgement
// frame 0x06 (custody.h), which is no command.
TEST(PermissionsTest, A12_LogCustodyKeyRunsNoCommand) {
  for (uint32_t perms : {uint32_t{kPermLogCustody}, uint32_t{kPermLogCustody | kPermRevalidate}}) {
    for (Role role : {Role::kAdmin, Role::kOwner}) {
      const Grant custody{role, perms};
      for (uint8_t c = 0; c < kCommandCount; ++c) {
        const Command command = static_cast<Command>(c);
        EXPECT_EQ(Authorize(custody, command).code(), StatusCode::kPermissionDenied)
            << RoleName(role) << "/" << perms << " x " << CommandName(command);
      }
    }
  }
  // Roles that cannot hold it get nothing from it either.
  for (Role role : {Role::kMember, Role::kGuest, Role::kInstaller}) {
    EXPECT_EQ(RoleAllowedPermissions(role) & kPermLogCustody, 0u) << RoleName(role);
  }
  EXPECT_NE(RoleAllowedPermissions(Role::kAdmin) & kPermLogCustody, 0u);
  // The right beside real rights takes nothing away: an admin that also
  // holds custody still runs what its other rights allow.
  const Grant admin_with_custody{Role::kAdmin, kPermLogCustody | kPermUnlock};
  EXPECT_TRUE(Authorize(admin_with_custody, C::kUnlock).ok());
  EXPECT_EQ(Authorize(admin_with_custody, C::kSetUser).code(), StatusCode::kPermissionDenied);
}

TEST(PermissionsTest, FactoryResetIsNeverAllowedOverTheProtocol) {
  EXPECT_EQ(Authorize(Grant{Role::kOwner, kAllPermissions}, C::kFactoryReset).code(), StatusCode::kPermissionDenied);
}

TEST(PermissionsTest, UnknownCommandIsInvalid) {
  EXPECT_EQ(Authorize(Grant{Role::kOwner, kAllPermissions}, static_cast<Command>(200)).code(),
            StatusCode::kInvalidArgument);
}

TEST(PermissionsTest, EveryCommandHasAName) {
  for (uint8_t c = 0; c < kCommandCount; ++c) {
    EXPECT_STRNE(CommandName(static_cast<Command>(c)), "unknown");
  }
}

}  // namespace
}  // namespace mortise::protocol
