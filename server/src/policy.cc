#include "policy.h"

#include <array>

namespace mortise::server {
namespace {

constexpr std::array<std::string_view, 5> kRoleNames = {"owner", "admin", "member", "guest", "installer"};

bool IsPlain(Role r) { return r == Role::kMember || r == Role::kGuest || r == Role::kInstaller; }

}  // namespace

std::optional<Role> ParseRole(std::string_view name) {
  for (size_t i = 0; i < kRoleNames.size(); ++i) {
    if (kRoleNames[i] == name) return static_cast<Role>(i);
  }
  return std::nullopt;
}

std::string_view RoleName(Role role) { return kRoleNames[static_cast<size_t>(role)]; }

OrgAction EventAction(std::string_view type) {
  if (type == "door.state" || type == "door.online" || type == "door.update") return OrgAction::kView;
  return OrgAction::kReadAudit;
}

bool RoleAllows(Role role, OrgAction action) {
  const bool owner = role == Role::kOwner;
  const bool admin = owner || role == Role::kAdmin;
  switch (action) {
    case OrgAction::kNone:
    case OrgAction::kView:
    case OrgAction::kRelay:
      return true;
    case OrgAction::kRegisterDoor:
      return admin || role == Role::kInstaller;
    case OrgAction::kViewPeople:
    case OrgAction::kManageSites:
    case OrgAction::kRemoveDoor:
    case OrgAction::kManagePeople:
    case OrgAction::kManagePeopleOrSelf:
    case OrgAction::kInvite:
    case OrgAction::kReadAudit:
    case OrgAction::kManageAccess:
      return admin;
    case OrgAction::kDeleteOrganisation:
      return owner;
  }
  return false;
}

bool CanAssign(Role actor, std::optional<Role> from, Role to) {
  if (actor == Role::kOwner) return true;
  if (actor == Role::kAdmin) return (!from || IsPlain(*from)) && IsPlain(to);
  return false;
}

bool CanRemove(Role actor, Role target) {
  if (actor == Role::kOwner) return true;
  return actor == Role::kAdmin && IsPlain(target);
}

bool IsKnownScope(std::string_view scope) {
  return scope == kScopeAccountRead || scope == kScopeOrgsRead || scope == kScopeOrgsWrite ||
         scope == kScopeAuditRead;
}

const std::vector<RouteSpec>& RouteRules() {
  using A = Access;
  using O = OrgAction;
  const std::string read(kScopeAccountRead), orgs_r(kScopeOrgsRead), orgs_w(kScopeOrgsWrite),
      audit(kScopeAuditRead);
  static const std::vector<RouteSpec> kRules = {
      {"GET", "/healthz", A::kPublic, "", O::kNone},
      {"GET", "/readyz", A::kPublic, "", O::kNone},
      {"GET", "/metrics", A::kPublic, "", O::kNone},
      {"GET", "/api/v1/openapi.json", A::kPublic, "", O::kNone},
      {"POST", "/api/v1/accounts", A::kPublic, "", O::kNone},
      {"POST", "/api/v1/sessions", A::kPublic, "", O::kNone},
      {"DELETE", "/api/v1/sessions/current", A::kSessionOnly, "", O::kNone},
      {"DELETE", "/api/v1/sessions", A::kSessionOnly, "", O::kNone},
      {"GET", "/api/v1/me", A::kAccount, read, O::kNone},
      {"DELETE", "/api/v1/me", A::kSessionOnly, "", O::kNone},
      {"GET", "/api/v1/me/export", A::kAccount, read, O::kNone},
      {"GET", "/api/v1/me/audit", A::kAccount, read, O::kNone},
      {"POST", "/api/v1/me/password", A::kSessionOnly, "", O::kNone},
      {"POST", "/api/v1/me/totp", A::kSessionOnly, "", O::kNone},
      {"POST", "/api/v1/me/totp/confirm", A::kSessionOnly, "", O::kNone},
      {"GET", "/api/v1/me/api-keys", A::kSessionOnly, "", O::kNone},
      {"POST", "/api/v1/me/api-keys", A::kSessionOnly, "", O::kNone},
      {"DELETE", "/api/v1/me/api-keys/{key_id}", A::kSessionOnly, "", O::kNone},
      // Organisations: joining one is a personal act (session only); deleting
      // one is the owner's, from a session.
      {"GET", "/api/v1/orgs", A::kAccount, orgs_r, O::kNone},
      {"POST", "/api/v1/orgs", A::kAccount, orgs_w, O::kNone},
      {"GET", "/api/v1/stream", A::kAccount, orgs_r, O::kNone},
      {"POST", "/api/v1/invitations/accept", A::kSessionOnly, "", O::kNone},
      {"GET", "/api/v1/orgs/{org_id}", A::kAccount, orgs_r, O::kView},
      {"DELETE", "/api/v1/orgs/{org_id}", A::kSessionOnly, "", O::kDeleteOrganisation},
      {"GET", "/api/v1/orgs/{org_id}/sites", A::kAccount, orgs_r, O::kView},
      {"POST", "/api/v1/orgs/{org_id}/sites", A::kAccount, orgs_w, O::kManageSites},
      {"DELETE", "/api/v1/orgs/{org_id}/sites/{site_id}", A::kAccount, orgs_w, O::kManageSites},
      {"GET", "/api/v1/orgs/{org_id}/doors", A::kAccount, orgs_r, O::kView},
      {"GET", "/api/v1/orgs/{org_id}/doors/{door_id}", A::kAccount, orgs_r, O::kView},
      {"POST", "/api/v1/orgs/{org_id}/door-challenges", A::kAccount, orgs_w, O::kRegisterDoor},
      {"POST", "/api/v1/orgs/{org_id}/doors", A::kAccount, orgs_w, O::kRegisterDoor},
      {"DELETE", "/api/v1/orgs/{org_id}/doors/{door_id}", A::kAccount, orgs_w, O::kRemoveDoor},
      // The lock side (api_link.cc): a relay carries a holder-signed command
      // the lock judges, so every role may ask; issuing the lock's broker
      // certificate is part of registering it.
      {"GET", "/api/v1/orgs/{org_id}/doors/{door_id}/state", A::kAccount, orgs_r, O::kView},
      {"POST", "/api/v1/orgs/{org_id}/doors/{door_id}/remote", A::kAccount, orgs_w, O::kRelay},
      {"POST", "/api/v1/orgs/{org_id}/doors/{door_id}/uplink-certificate", A::kAccount, orgs_w, O::kRegisterDoor},
      // Revoking it is removing the door's broker identity.
      {"POST", "/api/v1/orgs/{org_id}/doors/{door_id}/uplink-certificate/revoke", A::kAccount, orgs_w, O::kRemoveDoor},
      {"GET", "/api/v1/orgs/{org_id}/people", A::kAccount, orgs_r, O::kViewPeople},
      {"PATCH", "/api/v1/orgs/{org_id}/people/{account_id}", A::kAccount, orgs_w, O::kManagePeople},
      {"DELETE", "/api/v1/orgs/{org_id}/people/{account_id}", A::kAccount, orgs_w, O::kManagePeopleOrSelf},
      {"GET", "/api/v1/orgs/{org_id}/invitations", A::kAccount, orgs_r, O::kInvite},
      {"POST", "/api/v1/orgs/{org_id}/invitations", A::kAccount, orgs_w, O::kInvite},
      {"DELETE", "/api/v1/orgs/{org_id}/invitations/{invitation_id}", A::kAccount, orgs_w, O::kInvite},
      {"POST", "/api/v1/orgs/{org_id}/invitations/import", A::kAccount, orgs_w, O::kInvite},
      {"GET", "/api/v1/orgs/{org_id}/audit", A::kAccount, audit, O::kReadAudit},
      {"GET", "/api/v1/orgs/{org_id}/audit.csv", A::kAccount, audit, O::kReadAudit},
      // Door logs say who came and went: read like the audit trail.
      {"GET", "/api/v1/orgs/{org_id}/doors/{door_id}/log", A::kAccount, audit, O::kReadAudit},
      {"GET", "/api/v1/orgs/{org_id}/doors/{door_id}/log/pages", A::kAccount, audit, O::kReadAudit},
      // Log custody (api_custody.cc): its state reads like the log; the
      // key and the owner's certificate for it are access management's.
      {"GET", "/api/v1/orgs/{org_id}/doors/{door_id}/custody", A::kAccount, audit, O::kReadAudit},
      {"POST", "/api/v1/orgs/{org_id}/doors/{door_id}/custody", A::kAccount, orgs_w, O::kManageAccess},
      {"POST", "/api/v1/orgs/{org_id}/doors/{door_id}/custody/key", A::kAccount, orgs_w, O::kManageAccess},
      // Duties (api_duty.cc): the server's duty certificates and the door's
      // clock read like the door; certifying is the owner's or an admin's;
      // any role may ask a token for its own key (the service checks that
      // the key is the caller's and live).
      {"GET", "/api/v1/orgs/{org_id}/doors/{door_id}/duties", A::kAccount, orgs_r, O::kView},
      {"POST", "/api/v1/orgs/{org_id}/doors/{door_id}/duties/{duty}", A::kAccount, orgs_w, O::kManageAccess},
      {"POST", "/api/v1/orgs/{org_id}/doors/{door_id}/revalidation", A::kAccount, orgs_w, O::kRelay},
      // Access (api_groups.cc): anyone of the organisation sees groups and
      // what each door holds; owners and admins upload what their devices
      // signed, see people's keys and run bulk jobs.
      {"GET", "/api/v1/orgs/{org_id}/groups", A::kAccount, orgs_r, O::kView},
      {"POST", "/api/v1/orgs/{org_id}/groups", A::kAccount, orgs_w, O::kManageAccess},
      {"GET", "/api/v1/orgs/{org_id}/groups/{group_id}", A::kAccount, orgs_r, O::kView},
      {"GET", "/api/v1/orgs/{org_id}/doors/{door_id}/updates", A::kAccount, orgs_r, O::kView},
      {"POST", "/api/v1/orgs/{org_id}/doors/{door_id}/updates", A::kAccount, orgs_w, O::kManageAccess},
      {"GET", "/api/v1/orgs/{org_id}/keys", A::kAccount, orgs_r, O::kManageAccess},
      {"POST", "/api/v1/orgs/{org_id}/keys", A::kAccount, orgs_w, O::kManageAccess},
      {"GET", "/api/v1/orgs/{org_id}/people/{account_id}/access", A::kAccount, orgs_r, O::kManageAccess},
      {"POST", "/api/v1/orgs/{org_id}/people/{account_id}/removal", A::kAccount, orgs_w, O::kManageAccess},
      {"POST", "/api/v1/orgs/{org_id}/sites/{site_id}/lockdown", A::kAccount, orgs_w, O::kManageAccess},
      {"GET", "/api/v1/orgs/{org_id}/jobs/{job_id}", A::kAccount, orgs_r, O::kManageAccess},
  };
  return kRules;
}

const RouteSpec* FindRouteRule(std::string_view method, std::string_view pattern) {
  for (const auto& r : RouteRules()) {
    if (r.method == method && r.pattern == pattern) return &r;
  }
  return nullptr;
}

}  // namespace mortise::server
