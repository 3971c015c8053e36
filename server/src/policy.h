// The one authorization policy of the API (catalogue A09): for every route,
// who may call it (public, a signed-in account or an API key with a scope, a
// browser session only) and, for routes under /api/v1/orgs/{org_id}, which
// organisation action the caller's role must allow; and the rules for
// handing out roles. The router refuses to add a route that has no rule
// here, and server_api_test's A09 matrix holds its own expected answer for
// every route × caller, so a rule changed here without the matrix fails.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mortise::server {

enum class Access {
  kPublic,       // anyone
  kAccount,      // a session, or an API key holding `scope`
  kSessionOnly,  // a browser session (API keys cannot manage credentials)
};

// The lock's roles, one per person per organisation.
enum class Role { kOwner, kAdmin, kMember, kGuest, kInstaller };
std::optional<Role> ParseRole(std::string_view name);
std::string_view RoleName(Role role);

// What a route does inside an organisation.
enum class OrgAction {
  kNone,                // not an organisation route
  kView,                // the organisation, its sites and doors: every role
  kRelay,               // relay a holder-signed command to a door: every role (the lock decides)
  kViewPeople,          // who is in it: owner, admin
  kManageSites,         // owner, admin
  kRegisterDoor,        // owner, admin, installer
  kRemoveDoor,          // owner, admin
  kManagePeople,        // change a role: owner, admin (within CanAssign)
  kManagePeopleOrSelf,  // remove a person: owner, admin (within CanAssign), or the person themself
  kInvite,              // owner, admin (within CanAssign)
  kReadAudit,           // owner, admin
  kManageAccess,        // groups, signed updates, keys of people, bulk jobs: owner, admin
  kDeleteOrganisation,  // owner
};

bool RoleAllows(Role role, OrgAction action);

// Which action a role must allow to receive a stream event of `type`
// (GET /api/v1/stream): door.state, door.online, door.update: kView (every
// role); door.log (who opened what, when) and any other type: kReadAudit.
OrgAction EventAction(std::string_view type);

// May `actor` give a person whose role is `from` (nullopt: not yet a member,
// an invitation) the role `to`? An owner may assign any role to anyone; an
// admin only member, guest and installer, and only to people who hold one of
// those (an admin cannot create, promote, demote or remove an admin or an
// owner); nobody else may.
bool CanAssign(Role actor, std::optional<Role> from, Role to);
// May `actor` remove a person whose role is `target`? (Leaving oneself is
// always allowed; the last owner is kept by the service.)
bool CanRemove(Role actor, Role target);

// API-key scopes.
inline constexpr std::string_view kScopeAccountRead = "account:read";
inline constexpr std::string_view kScopeOrgsRead = "orgs:read";
inline constexpr std::string_view kScopeOrgsWrite = "orgs:write";
inline constexpr std::string_view kScopeAuditRead = "audit:read";
bool IsKnownScope(std::string_view scope);

struct RouteSpec {
  std::string method;   // "GET", "POST", "DELETE", "PATCH"
  std::string pattern;  // "/api/v1/orgs/{org_id}/doors": {name} matches one segment
  Access access = Access::kPublic;
  std::string scope;    // kAccount: the scope an API key needs
  OrgAction org_action = OrgAction::kNone;  // needs {org_id} in the pattern
};

// Every route's rule.
const std::vector<RouteSpec>& RouteRules();
// The rule of one route; nullptr when it has none.
const RouteSpec* FindRouteRule(std::string_view method, std::string_view pattern);

}  // namespace mortise::server
