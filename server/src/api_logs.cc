#include "api_logs.h"

#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "api.h"
#include "api_error.h"
#include "log_custody.h"
#include "log_store.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

using nlohmann::json;

// A cursor: the last sequence or page number of the previous page.
uint64_t Cursor(const Request& req) {
  const auto v = req.QueryParam("cursor");
  if (!v) return 0;
  if (v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos)
    throw ApiError(400, "invalid_cursor", "cursor must be the next_cursor of the previous page.");
  return std::stoull(*v);
}

LogDoor DoorOf(LogStore& store, const Context& c) {
  auto door = store.Door(c.params.at("org_id"), c.params.at("door_id"));
  if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
  return *door;
}

json ChainJson(const LogChainState& s) {
  return {{"last_seq", s.last_seq},
          {"chain", s.chain.empty() ? json(nullptr) : json(s.chain)},
          {"signed_through", s.signed_through},
          {"signed_at", s.signed_at == 0 ? json(nullptr) : json(s.signed_at)},
          {"pages", s.pages}};
}

}  // namespace

void AddLogRoutes(Router& router, Repository& repo) {
  auto* sql = dynamic_cast<SqlRepository*>(&repo);
  if (sql == nullptr) throw std::logic_error("the door-log routes need the SQL repository");
  auto store = std::make_shared<LogStore>(*sql);

  // The records, oldest first, each with its status (signed, unsigned,
  // contradicted); the gaps and losses over the page's span (and, on the
  // last page, up to the stored end); where the chain stands.
  router.Add("GET", "/api/v1/orgs/{org_id}/doors/{door_id}/log", [store, sql](Context& c) {
    const LogDoor door = DoorOf(*store, c);
    const int limit = PageLimit(c.request);
    const uint64_t after = Cursor(c.request);
    auto rows = store->Records(door.id, after, limit + 1);
    const bool more = static_cast<int>(rows.size()) > limit;
    if (more) rows.pop_back();
    const LogChainState state = store->State(door.id);
    json items = json::array();
    for (const LogRecordRow& r : rows) {
      json j = json::parse(r.summary, nullptr, false);
      if (!j.is_object()) j = json::object();
      j["seq"] = r.seq;
      j["type"] = r.type;
      j["status"] = r.status;
      j["page"] = r.page_no;
      items.push_back(std::move(j));
    }
    const uint64_t span_last = more ? rows.back().seq : std::max<uint64_t>(state.last_seq, after);
    json gaps = json::array();
    for (const LogGapRow& g : store->Gaps(door.id, after + 1, span_last == 0 ? 1 : span_last))
      gaps.push_back({{"kind", g.kind}, {"first", g.first}, {"last", g.last}, {"reason", g.reason}, {"page", g.page_no}});
    return JsonResponse(200, json{{"items", items},
                                  {"gaps", gaps},
                                  {"chain", ChainJson(state)},
                                  {"custody", CustodyView(*sql, door.id)},
                                  {"next_cursor", more ? json(std::to_string(rows.back().seq)) : json(nullptr)}}
                                 .dump());
  });

  // The pages as received, with the server's verdict: what an owner's
  // tools verify themselves with the lock key pinned at the claim
  // (LogApiTest.A02_TheRawPagesVerifyWithThePinnedLockKeyAndAServersEditIsCaught).
  router.Add("GET", "/api/v1/orgs/{org_id}/doors/{door_id}/log/pages", [store](Context& c) {
    const LogDoor door = DoorOf(*store, c);
    const int limit = PageLimit(c.request);
    auto rows = store->Pages(door.id, static_cast<int64_t>(Cursor(c.request)), limit + 1);
    const bool more = static_cast<int>(rows.size()) > limit;
    if (more) rows.pop_back();
    json items = json::array();
    for (const LogPageRow& p : rows) {
      items.push_back({{"page", p.page_no},
                       {"received_at", p.received_at},
                       {"from", p.from},
                       {"next", p.next},
                       {"head", p.head},
                       {"verdict", p.verdict},
                       {"detail", p.detail},
                       {"new_records", p.new_records},
                       {"items", p.items}});
    }
    return JsonResponse(200, json{{"lock_id", door.lock_id},
                                  {"items", items},
                                  {"next_cursor", more ? json(std::to_string(rows.back().page_no)) : json(nullptr)}}
                                 .dump());
  });
}

}  // namespace mortise::server
