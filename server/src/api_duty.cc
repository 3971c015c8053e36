#include "api_duty.h"

#include <atomic>
#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "api.h"
#include "api_error.h"
#include "duty_keys.h"
#include "duty_revalidation.h"
#include "duty_time.h"
#include "log_store.h"

namespace mortise::server {

void AddDutyRoutes(Router& router, Repository& repo, const Clock& clock, Random& random, GroupsService& groups,
                   Metrics& metrics) {
  struct Shared {
    Shared(SqlRepository& sql, const Clock& clock, Random& random, GroupsService& groups)
        : doors(sql), keys(sql, clock), clock_view(sql, clock, random), revalidation(sql, clock, random, groups) {}
    LogStore doors;
    DutyKeys keys;
    DutyClock clock_view;  // View only: the steps run in main.cc's loop
    DutyRevalidation revalidation;
    std::atomic<uint64_t> tokens{0};
  };
  auto* sql = dynamic_cast<SqlRepository*>(&repo);
  if (sql == nullptr) throw std::logic_error("the duty routes need the SQL repository");
  auto s = std::make_shared<Shared>(*sql, clock, random, groups);
  metrics.AddCounter("mortise_server_revalidation_tokens_total", "Revalidation tokens issued to holders.",
                     [s] { return static_cast<double>(s->tokens.load()); });
  auto door_of = [s](const Context& c) {
    auto door = s->doors.Door(c.params.at("org_id"), c.params.at("door_id"));
    if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
    return door->id;
  };
  auto string_field = [](const Context& c, const char* name, const char* help) {
    const nlohmann::json body = c.Json();
    const auto it = body.find(name);
    if (it == body.end() || !it->is_string() || it->get<std::string>().size() > 4096) {
      throw ApiError(400, "invalid_request", help);
    }
    return it->get<std::string>();
  };
  router.Add("GET", "/api/v1/orgs/{org_id}/doors/{door_id}/duties", [s, door_of](Context& c) {
    const std::string door = door_of(c);
    nlohmann::json j = s->keys.View(door);
    j["clock"] = s->clock_view.View(door);
    return JsonResponse(200, j.dump());
  });
  router.Add("POST", "/api/v1/orgs/{org_id}/doors/{door_id}/duties/{duty}", [s, door_of, string_field](Context& c) {
    const std::string door = door_of(c);
    const auto duty = ParseDuty(c.params.at("duty"));
    if (!duty) throw ApiError(404, "not_found", "The duties are \"time\" and \"revalidate\".");
    const std::string text = string_field(
        c, "certificate", "\"certificate\" is the MKS1 text of the owner's certificate for the door's duty key.");
    nlohmann::json j = s->keys.Install(door, *duty, text);
    j["clock"] = s->clock_view.View(door);
    return JsonResponse(200, j.dump());
  });
  router.Add("POST", "/api/v1/orgs/{org_id}/doors/{door_id}/revalidation", [s, door_of, string_field](Context& c) {
    const std::string door = door_of(c);
    const std::string chain =
        string_field(c, "chain", "\"chain\" is your key (its MKS1 share string, MK1 text or hex chain).");
    nlohmann::json j = s->revalidation.Issue(c.params.at("org_id"), door, c.principal->account_id, chain);
    ++s->tokens;
    return JsonResponse(200, j.dump());
  });
}

}  // namespace mortise::server
