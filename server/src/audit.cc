#include "audit.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include "csv.h"

namespace mortise::server {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr int64_t kPurgeEveryMs = 3600LL * 1000;

std::string Iso8601(int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

AuditTrail::AuditTrail(Repository& repo, const Clock& clock, AuditSettings settings)
    : repo_(repo), clock_(clock), settings_(settings) {}

AuditEvent AuditTrail::Event(const Actor& actor, std::optional<std::string> org_id, std::string action,
                             std::string object_type, std::string object_id, const nlohmann::json& detail) const {
  AuditEvent e;
  e.at = clock_.NowMs();
  e.org_id = std::move(org_id);
  e.actor_account_id = actor.principal.account_id;
  e.actor_email = actor.principal.email;
  e.actor_credential =
      actor.principal.kind == Principal::Kind::kApiKey ? "api_key:" + actor.principal.api_key_id : "session";
  e.action = std::move(action);
  e.object_type = std::move(object_type);
  e.object_id = std::move(object_id);
  e.address = actor.address;
  e.user_agent = actor.user_agent.substr(0, 512);
  e.detail = detail.is_null() ? "{}" : detail.dump();
  return e;
}

void AuditTrail::Record(const AuditEvent& event) { repo_.AppendAudit(event); }

int64_t AuditTrail::MaybePurge() {
  const int64_t now = clock_.NowMs();
  int64_t last = last_purge_.load();
  if (last >= 0 && now - last < kPurgeEveryMs) return 0;
  if (!last_purge_.compare_exchange_strong(last, now)) return 0;  // another thread purges
  return repo_.PurgeAuditBefore(now - settings_.retention_days * kDayMs);
}

std::string AuditTrail::Csv(const std::vector<AuditEvent>& events) {
  std::string out =
      "seq,time,organisation,actor_account,actor_email,credential,action,object_type,object_id,address,user_agent,"
      "detail\r\n";
  for (const auto& e : events) {
    const std::string cells[] = {std::to_string(e.seq), Iso8601(e.at), e.org_id.value_or(""), e.actor_account_id,
                                 e.actor_email,         e.actor_credential, e.action,      e.object_type,
                                 e.object_id,           e.address,     e.user_agent,       e.detail};
    bool first = true;
    for (const auto& c : cells) {
      if (!first) out += ',';
      first = false;
      out += CsvCell(c);
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace mortise::server
