// The custody routes (docs/server.md "Log custody"): the door's custody key
// and state, its generation, and the owner's certificate for it.
#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "api.h"
#include "api_error.h"
#include "log_custody.h"
#include "log_store.h"

namespace mortise::server {

void AddCustodyRoutes(Router& router, Repository& repo, const Clock& clock, Random& random) {
  auto* sql = dynamic_cast<SqlRepository*>(&repo);
  if (sql == nullptr) throw std::logic_error("the custody routes need the SQL repository");
  struct Shared {
    Shared(SqlRepository& sql, const Clock& clock, Random& random) : doors(sql), custody(sql, clock, random) {}
    LogStore doors;
    LogCustody custody;
  };
  auto s = std::make_shared<Shared>(*sql, clock, random);
  auto door_of = [s](const Context& c) {
    auto door = s->doors.Door(c.params.at("org_id"), c.params.at("door_id"));
    if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
    return door->id;
  };
  router.Add("GET", "/api/v1/orgs/{org_id}/doors/{door_id}/custody",
             [s, door_of](Context& c) { return JsonResponse(200, s->custody.View(door_of(c)).dump()); });
  router.Add("POST", "/api/v1/orgs/{org_id}/doors/{door_id}/custody/key",
             [s, door_of](Context& c) { return JsonResponse(200, s->custody.CreateKey(door_of(c)).dump()); });
  router.Add("POST", "/api/v1/orgs/{org_id}/doors/{door_id}/custody", [s, door_of](Context& c) {
    const std::string door = door_of(c);
    const nlohmann::json body = c.Json();
    const auto it = body.find("certificate");
    if (it == body.end() || !it->is_string() || it->get<std::string>().size() > 4096) {
      throw ApiError(400, "invalid_request",
                     "\"certificate\" is the MKS1 text `mortise key share --custody` prints for the custody key.");
    }
    return JsonResponse(200, s->custody.Install(door, it->get<std::string>()).dump());
  });
}

}  // namespace mortise::server
