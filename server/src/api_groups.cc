#include "api_groups.h"

#include <nlohmann/json.hpp>

#include "api_json.h"

namespace mortise::server {
namespace {

using nlohmann::json;

json GroupJson(const AccessGroupRow& g) {
  return {{"id", g.id},
          {"org_id", g.org_id},
          {"name", g.name},
          {"protocol_id", g.group_id},
          {"owner_public_key", g.owner_public_key},
          {"schedule", g.schedule},
          {"created_by", g.created_by},
          {"created_at", g.created_at}};
}

json KeyJson(const DoorKeyRow& k) {
  auto summary = json::parse(k.summary, nullptr, false);
  return {{"id", k.id},
          {"account_id", k.account_id},
          {"scope", k.scope},
          {"door_id", k.door_id ? json(*k.door_id) : json(nullptr)},
          {"group_id", k.group_ref ? json(*k.group_ref) : json(nullptr)},
          {"issuer_key_id", k.issuer_key_id},
          {"serial", k.serial},
          {"chain", k.chain_hex},
          {"summary", summary.is_discarded() ? json::object() : summary},
          {"uploaded_by", k.uploaded_by},
          {"created_at", k.created_at}};
}

json Array(const json& body, const char* field) {
  const auto it = body.find(field);
  if (it == body.end() || !it->is_array()) {
    throw ApiError(400, "invalid_field", std::string("Give \"") + field + "\" as an array.");
  }
  return *it;
}

}  // namespace

void GroupsApi::AddRoutes(Router& r, std::function<Actor(const Context&)> actor_of) {
  GroupsService& s = service_;

  r.Add("GET", "/api/v1/orgs/{org_id}/groups", [&s](Context& c) {
    const std::string& org = c.params.at("org_id");
    return Page(
        c, [&](const std::string& after, int n) { return s.store().Groups(org, after, n); }, GroupJson,
        [](const AccessGroupRow& g) { return g.id; });
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/groups", [&s, actor_of](Context& c) {
    const json body = c.Json();
    const auto g = s.CreateGroup(actor_of(c), c.params.at("org_id"), RequireString(body, "name"),
                                 RequireString(body, "protocol_id"), RequireString(body, "owner_public_key"),
                                 OptionalString(body, "schedule").value_or(""));
    return JsonResponse(201, json{{"group", GroupJson(g)}}.dump());
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/groups/{group_id}", [&s](Context& c) {
    const auto g = s.Group(c.params.at("org_id"), c.params.at("group_id"));
    json doors = json::array();
    for (const auto& [door, membership] : s.GroupDoors(g)) {
      json d = {{"door_id", door.id}, {"name", door.name}, {"site_id", door.site_id},
                {"membership_version", membership.version}};
      d.update(HeldJson(membership));
      doors.push_back(d);
    }
    json out = GroupJson(g);
    out["doors"] = doors;
    return JsonResponse(200, json{{"group", out}}.dump());
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/doors/{door_id}/updates", [&s](Context& c) {
    const auto [door, updates] = s.DoorUpdates(c.params.at("org_id"), c.params.at("door_id"));
    json items = json::array();
    for (const auto& u : updates) items.push_back(DoorUpdateJson(u));
    return JsonResponse(200, json{{"door_id", door.id},
                                  {"lock_id", door.lock_id},
                                  {"claim_generation", s.store().ClaimGeneration(door.id)},
                                  {"updates", items}}
                                 .dump());
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/doors/{door_id}/updates", [&s, actor_of](Context& c) {
    const json body = c.Json();
    const auto [row, created] = s.UploadUpdate(actor_of(c), c.params.at("org_id"), c.params.at("door_id"),
                                               RequireString(body, "kind"), RequireString(body, "update"));
    return JsonResponse(created ? 201 : 200, json{{"update", DoorUpdateJson(row)}}.dump());
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/keys", [&s](Context& c) {
    const std::string& org = c.params.at("org_id");
    const auto account = c.request.QueryParam("account_id");
    return Page(
        c,
        [&](const std::string& after, int n) {
          return s.store().Keys(org, account ? std::optional<std::string_view>(*account) : std::nullopt, after, n);
        },
        KeyJson, [](const DoorKeyRow& k) { return k.id; });
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/keys", [&s, actor_of](Context& c) {
    const json body = c.Json();
    const auto k = s.UploadKey(actor_of(c), c.params.at("org_id"), RequireString(body, "account_id"),
                               RequireString(body, "chain"), OptionalString(body, "door_id"),
                               OptionalString(body, "group_id"));
    return JsonResponse(201, json{{"key", KeyJson(k)}}.dump());
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/people/{account_id}/access", [&s](Context& c) {
    return JsonResponse(200, s.PersonAccess(c.params.at("org_id"), c.params.at("account_id")).dump());
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/people/{account_id}/removal", [&s, actor_of](Context& c) {
    const json body = c.Json();
    const std::string& org = c.params.at("org_id");
    const auto job = s.RemovePerson(actor_of(c), org, c.params.at("account_id"), Array(body, "updates"));
    return JsonResponse(201, json{{"job", s.JobView(org, job.id)}}.dump());
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/sites/{site_id}/lockdown", [&s, actor_of](Context& c) {
    const json body = c.Json();
    const std::string& org = c.params.at("org_id");
    const auto job = s.SiteLockdown(actor_of(c), org, c.params.at("site_id"), Array(body, "envelopes"));
    return JsonResponse(201, json{{"job", s.JobView(org, job.id)}}.dump());
  });

  r.Add("GET", "/api/v1/orgs/{org_id}/jobs/{job_id}", [&s](Context& c) {
    return JsonResponse(200, json{{"job", s.JobView(c.params.at("org_id"), c.params.at("job_id"))}}.dump());
  });
}

}  // namespace mortise::server
