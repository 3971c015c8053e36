// Management commands in binary: one strict decode, one classification
// (the portable management-command classifier, moved from lockd with its
// tests), and the rights each decoded command needs.
#include "mortise/protocol/management.h"

#include <gtest/gtest.h>

#include <vector>

#include "mortise/protocol/permissions.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;
using Op = ManagementOp;

ManagementCommand Cmd(Op op) {
  ManagementCommand c;
  c.op = op;
  c.user_index = 1;
  c.timeout_s = op == Op::kUnlockWithTimeout ? 10 : 0;
  if (op == Op::kSetCredential || op == Op::kGetCredentialStatus) c.credential = core::CredentialRef{};
  if (op == Op::kReadAttribute) c.attribute = core::AttributeId::kLockState;
  if (op == Op::kWriteAttribute) {
    c.attribute = core::AttributeId::kAutoRelockTime;
    c.value = 30;
  }
  return c;
}

Bytes Encode(const ManagementCommand& c) {
  Bytes out(kMaxManagementCommandSize);
  Result<size_t> n = EncodeManagement(c, out);
  EXPECT_TRUE(n.ok()) << static_cast<int>(c.op);
  out.resize(n.ok() ? *n : 0);
  return out;
}

Grant GrantOf(Role role) { return Grant{role, RoleAllowedPermissions(role)}; }

bool Allowed(Role role, const ManagementCommand& c) {
  // Through the wire, as the lock sees it.
  Result<ManagementCommand> d = DecodeManagement(Encode(c));
  return d.ok() && Authorize(GrantOf(role), ClassifyManagement(*d)).ok();
}

ManagementCommand Holiday(core::OperatingMode mode) {
  ManagementCommand c = Cmd(Op::kSetHolidaySchedule);
  c.schedule_index = 1;
  c.local_start = 1;
  c.local_end = 2;
  c.holiday_mode = mode;
  return c;
}

ManagementCommand Write(core::AttributeId id, int64_t v) {
  ManagementCommand c = Cmd(Op::kWriteAttribute);
  c.attribute = id;
  c.value = v;
  return c;
}

TEST(Management, EveryCommandRoundTripsAndMapsToItsProtocolCommand) {
  const std::vector<std::pair<Op, Command>> table = {
      {Op::kLockDoor, Command::kLock},
      {Op::kUnlockDoor, Command::kUnlock},
      {Op::kUnboltDoor, Command::kUnbolt},
      {Op::kUnlockWithTimeout, Command::kUnlockWithTimeout},
      {Op::kSetUser, Command::kSetUser},
      {Op::kGetUser, Command::kGetUser},
      {Op::kClearUser, Command::kClearUser},
      {Op::kSetCredential, Command::kSetCredential},
      {Op::kGetCredentialStatus, Command::kGetCredentialStatus},
      {Op::kClearCredential, Command::kClearCredential},
      {Op::kSetWeekDaySchedule, Command::kSetWeekDaySchedule},
      {Op::kGetWeekDaySchedule, Command::kGetWeekDaySchedule},
      {Op::kClearWeekDaySchedule, Command::kClearWeekDaySchedule},
      {Op::kSetYearDaySchedule, Command::kSetYearDaySchedule},
      {Op::kGetYearDaySchedule, Command::kGetYearDaySchedule},
      {Op::kClearYearDaySchedule, Command::kClearYearDaySchedule},
      {Op::kSetHolidaySchedule, Command::kSetHolidaySchedule},
      {Op::kGetHolidaySchedule, Command::kGetHolidaySchedule},
      {Op::kClearHolidaySchedule, Command::kClearHolidaySchedule},
      {Op::kReadAttribute, Command::kReadAttribute},
      {Op::kWriteAttribute, Command::kWriteAttribute},
  };
  ASSERT_EQ(table.size(), 21u);
  for (const auto& [op, command] : table) {
    ManagementCommand c = Cmd(op);
    if (op == Op::kGetHolidaySchedule || op == Op::kClearHolidaySchedule) c.user_index = 0;
    const Bytes wire = Encode(c);
    ASSERT_FALSE(wire.empty());
    Result<ManagementCommand> d = DecodeManagement(wire);
    ASSERT_TRUE(d.ok()) << static_cast<int>(op);
    EXPECT_EQ(d->op, op);
    EXPECT_EQ(ClassifyManagement(*d), command) << static_cast<int>(op);
    EXPECT_EQ(Encode(*d), wire) << "one encoding per command";
  }
}

TEST(Management, FieldsSurviveTheWire) {
  ManagementCommand c = Cmd(Op::kSetUser);
  c.user_index = 0x1234;
  c.has_user_name = true;
  c.user_name_length = 3;
  c.user_name[0] = 'a', c.user_name[1] = 'n', c.user_name[2] = 'n';
  c.user_status = core::UserStatus::kOccupiedDisabled;
  c.user_type = core::UserType::kRemoteOnlyUser;
  c.user_unique_id = 0;  // present and zero is not absent
  Result<ManagementCommand> d = DecodeManagement(Encode(c));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->user_index, 0x1234);
  EXPECT_EQ(d->user_name_view(), "ann");
  EXPECT_EQ(d->user_status, core::UserStatus::kOccupiedDisabled);
  EXPECT_EQ(d->user_type, core::UserType::kRemoteOnlyUser);
  EXPECT_EQ(d->user_unique_id, 0u);
  EXPECT_FALSE(d->credential_rule.has_value());

  ManagementCommand u = Cmd(Op::kUnlockWithTimeout);
  u.timeout_s = 65535;
  u.pin_length = 6;
  for (uint8_t i = 0; i < 6; ++i) u.pin[i] = static_cast<uint8_t>('1' + i);
  d = DecodeManagement(Encode(u));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->timeout_s, 65535);
  EXPECT_EQ(Bytes(d->pin_span().begin(), d->pin_span().end()), (Bytes{'1', '2', '3', '4', '5', '6'}));

  ManagementCommand all = Cmd(Op::kClearCredential);
  d = DecodeManagement(Encode(all));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->credential.has_value());
}

// A write of OperatingMode = Passage is the passage-mode command (A12).
TEST(Management, A12_PassageWriteIsSetPassageMode) {
  EXPECT_EQ(ClassifyManagement(Write(core::AttributeId::kOperatingMode, 4)), Command::kSetPassageMode);
  EXPECT_EQ(ClassifyManagement(Write(core::AttributeId::kOperatingMode, 0)), Command::kWriteAttribute);
  EXPECT_EQ(ClassifyManagement(Write(core::AttributeId::kOperatingMode, 2)), Command::kWriteAttribute);
  EXPECT_TRUE(Allowed(Role::kMember, Write(core::AttributeId::kOperatingMode, 4)));
  EXPECT_FALSE(Allowed(Role::kMember, Write(core::AttributeId::kOperatingMode, 0)));
  EXPECT_FALSE(Allowed(Role::kGuest, Write(core::AttributeId::kOperatingMode, 4)));
}

// The classification feeds Authorize: a guest may open but not manage, a
// member may set passage mode but no other attribute.
TEST(Management, RolesAreAuthorizedForWhatTheCommandDoes) {
  EXPECT_TRUE(Allowed(Role::kGuest, Cmd(Op::kUnlockDoor)));
  EXPECT_FALSE(Allowed(Role::kGuest, Cmd(Op::kSetUser)));
  EXPECT_FALSE(Allowed(Role::kMember, Write(core::AttributeId::kAutoRelockTime, 5)));
  EXPECT_FALSE(Allowed(Role::kMember, Cmd(Op::kClearCredential)));
  EXPECT_TRUE(Allowed(Role::kAdmin, Cmd(Op::kClearCredential)));
  EXPECT_TRUE(Allowed(Role::kAdmin, Write(core::AttributeId::kAutoRelockTime, 5)));
  EXPECT_TRUE(Allowed(Role::kOwner, Holiday(core::OperatingMode::kVacation)));
}

// A12: a holiday in Passage holds the door open for everyone, so it needs
// the passage-mode right besides change-settings: an installer (settings,
// no passage) can set a Vacation holiday but not a Passage one.
TEST(Management, A12_PassageHolidayNeedsThePassageRight) {
  EXPECT_EQ(ClassifyManagement(Holiday(core::OperatingMode::kPassage)), Command::kSetHolidayPassage);
  EXPECT_EQ(ClassifyManagement(Holiday(core::OperatingMode::kVacation)), Command::kSetHolidaySchedule);
  EXPECT_TRUE(Allowed(Role::kInstaller, Holiday(core::OperatingMode::kVacation)));
  EXPECT_FALSE(Allowed(Role::kInstaller, Holiday(core::OperatingMode::kPassage)));
  EXPECT_FALSE(Allowed(Role::kMember, Holiday(core::OperatingMode::kPassage)));  // passage, no settings right
  EXPECT_TRUE(Allowed(Role::kAdmin, Holiday(core::OperatingMode::kPassage)));
  EXPECT_TRUE(Allowed(Role::kOwner, Holiday(core::OperatingMode::kPassage)));
}

// A04: the time zone moves every local-time right: only the owner.
TEST(Management, A04_OnlyTheOwnerMovesTheTimeZone) {
  const ManagementCommand zone = Write(core::AttributeId::kUtcOffset, 50400);
  EXPECT_EQ(ClassifyManagement(zone), Command::kSetUtcOffset);
  EXPECT_FALSE(Allowed(Role::kInstaller, zone));
  EXPECT_FALSE(Allowed(Role::kAdmin, zone));
  EXPECT_TRUE(Allowed(Role::kOwner, zone));
}

// The bytes of a holiday in Passage, field by field: body 17 (tag 0x8A 0x01),
// index 1, start 1, end 2, operating mode 4.
const Bytes kPassageHoliday = {0x8A, 0x01, 0x08, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x20, 0x04};

TEST(Management, TheHandWrittenEncodingIsTheEncoders) {
  EXPECT_EQ(Encode(Holiday(core::OperatingMode::kPassage)), kPassageHoliday);
}

// A12/A13: every way two readers could see two commands in one payload is
// refused, so there is one reading: a duplicated field (Normal, then
// Passage), two bodies, a non-minimal varint, an unknown field, trailing
// bytes. (Without the strict decode, protobuf's last-field-wins would run a
// Passage holiday that a first-field-wins classifier saw as Normal.)
TEST(Management, A12_NoPayloadReadsAsTwoCommands) {
  ASSERT_TRUE(DecodeManagement(kPassageHoliday).ok());
  const std::vector<Bytes> ambiguous = {
      // operating_mode twice: 0 (explicit default) then 4.
      {0x8A, 0x01, 0x0A, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x20, 0x00, 0x20, 0x04},
      // operating_mode twice: 3 then 4.
      {0x8A, 0x01, 0x0A, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x20, 0x03, 0x20, 0x04},
      // Two bodies: a Vacation holiday, then a Passage one.
      {0x8A, 0x01, 0x08, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x20, 0x01,
       0x8A, 0x01, 0x08, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x20, 0x04},
      // Two bodies of different commands: GetUser, then a write.
      {0x32, 0x02, 0x08, 0x01, 0xAA, 0x01, 0x04, 0x08, 0x25, 0x10, 0x08},
      // operating_mode 4 as a two-byte varint.
      {0x8A, 0x01, 0x09, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x20, 0x84, 0x00},
      // An unknown field 9 after the mode.
      {0x8A, 0x01, 0x0A, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x20, 0x04, 0x48, 0x01},
      // Trailing byte.
      {0x8A, 0x01, 0x08, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x20, 0x04, 0x00},
      // The mode as a length-delimited field (type confusion).
      {0x8A, 0x01, 0x09, 0x08, 0x01, 0x10, 0x01, 0x18, 0x02, 0x22, 0x01, 0x04},
  };
  for (const Bytes& b : ambiguous) EXPECT_FALSE(DecodeManagement(b).ok()) << b.size();
}

TEST(Management, ValuesOutsideTheirRangeAreRefused) {
  auto refused = [](ManagementCommand c) {
    Bytes out(kMaxManagementCommandSize);
    return EncodeManagement(c, out).status().code() == StatusCode::kInvalidArgument;
  };
  ManagementCommand c = Holiday(core::OperatingMode::kNormal);
  c.holiday_mode = static_cast<core::OperatingMode>(5);
  EXPECT_TRUE(refused(c));
  c = Cmd(Op::kSetUser);
  c.user_status = static_cast<core::UserStatus>(2);
  EXPECT_TRUE(refused(c));
  c = Cmd(Op::kUnlockWithTimeout);
  c.timeout_s = 0;
  EXPECT_TRUE(refused(c));
  c = Cmd(Op::kGetCredentialStatus);
  c.credential.reset();
  EXPECT_TRUE(refused(c));
  c = Cmd(Op::kSetCredential);
  c.credential = core::CredentialRef{static_cast<core::CredentialType>(9), 1};
  EXPECT_TRUE(refused(c));
  EXPECT_TRUE(refused(Write(core::AttributeId::kLockState, 1)));           // read-only
  EXPECT_TRUE(refused(Write(core::AttributeId::kAutoRelockTime, -1)));     // below its range
  EXPECT_TRUE(refused(Write(static_cast<core::AttributeId>(0x7777), 1)));  // no such attribute
  c = Cmd(Op::kLockDoor);
  c.pin_length = kMaxManagementPin + 1;
  EXPECT_TRUE(refused(c));

  // On the wire: a week-day index beyond 8 bits, a GetHolidaySchedule with a
  // user, a ClearCredential that names nothing and does not say "all".
  EXPECT_FALSE(DecodeManagement(Bytes{0x62, 0x03, 0x08, 0x80, 0x02}).ok());
  EXPECT_FALSE(DecodeManagement(Bytes{0x92, 0x01, 0x02, 0x10, 0x01}).ok());
  EXPECT_FALSE(DecodeManagement(Bytes{0x52, 0x00}).ok());
  EXPECT_TRUE(DecodeManagement(Bytes{0x52, 0x02, 0x10, 0x01}).ok());  // ClearCredential all
  EXPECT_FALSE(DecodeManagement(Bytes{}).ok());
}

}  // namespace
}  // namespace mortise::protocol
