#include "uplink_certs.h"

#include <cstdio>

#include "api_error.h"
#include "sql_values.h"

namespace mortise::server {
namespace {

using nlohmann::json;
using sql::V;

// The list is pushed to the broker, not fetched: its freshness comes from
// delivery, so its nextUpdate is far (a broker left with a list past its
// nextUpdate would refuse every client). Ten years, the CA's own span.
constexpr int64_t kListValidityS = 3650LL * 86400;

}  // namespace

UplinkCertificates::UplinkCertificates(SqlRepository& repo, const Clock& clock, const uplink::Credential& ca,
                                       std::string crl_file)
    : repo_(repo), clock_(clock), ca_(ca), crl_file_(std::move(crl_file)) {}

void UplinkCertificates::Issued(const DoorRow& door, const std::string& cert_pem) {
  std::string why;
  const std::string serial = uplink::SerialOf(cert_pem, why);
  if (serial.empty()) throw ApiError(500, "internal", "The issued certificate has no serial: " + why);
  const int64_t now = clock_.NowMs();
  bool revoked_any = false;
  repo_.WriteTransaction([&](SqlDriver& db, const SqlRepository::AuditAppend&) {
    revoked_any = db.Exec("UPDATE uplink_certificates SET state = 'revoked', revoked_at = ?, reason = 'reissued' "
                          "WHERE door_id = ? AND state = 'active'",
                          {V(now), V(door.id)}) > 0;
    db.Exec("INSERT INTO uplink_certificates (serial, door_id, org_id, lock_id, issued_at, not_after, state) "
            "VALUES (?, ?, ?, ?, ?, ?, 'active')",
            {V(serial), V(door.id), V(door.org_id), V(door.lock_id), V(now), V(uplink::NotAfterOf(cert_pem))});
  });
  if (revoked_any) WriteList();
}

int UplinkCertificates::RevokeDoor(std::string_view door_id, std::string_view reason) {
  int64_t n = 0;
  repo_.WriteTransaction([&](SqlDriver& db, const SqlRepository::AuditAppend&) {
    n = db.Exec("UPDATE uplink_certificates SET state = 'revoked', revoked_at = ?, reason = ? "
                "WHERE door_id = ? AND state = 'active'",
                {V(clock_.NowMs()), V(reason), V(door_id)});
  });
  WriteList();
  return static_cast<int>(n);
}

int UplinkCertificates::RevokeRemovedDoors(bool always_write) {
  int64_t n = 0;
  repo_.WriteTransaction([&](SqlDriver& db, const SqlRepository::AuditAppend&) {
    n = db.Exec("UPDATE uplink_certificates SET state = 'revoked', revoked_at = ?, reason = 'door_removed' "
                "WHERE state = 'active' AND door_id NOT IN (SELECT id FROM doors)",
                {V(clock_.NowMs())});
  });
  if (n > 0 || always_write) WriteList();
  return static_cast<int>(n);
}

json UplinkCertificates::View(std::string_view door_id) {
  json out = json::array();
  for (const SqlRow& r : repo_.Read("SELECT serial, state, issued_at, not_after, revoked_at, reason "
                                    "FROM uplink_certificates WHERE door_id = ? ORDER BY issued_at DESC, serial",
                                    {V(door_id)})) {
    out.push_back({{"serial", *r[0]},
                   {"state", *r[1]},
                   {"issued_at", sql::Int(r, 2)},
                   {"not_after", sql::Int(r, 3)},
                   {"revoked_at", r[4] ? json(sql::Int(r, 4)) : json(nullptr)},
                   {"reason", r[5] ? json(*r[5]) : json(nullptr)}});
  }
  return out;
}

void UplinkCertificates::WriteList() {
  if (crl_file_.empty()) return;
  std::lock_guard lock(write_mu_);
  const int64_t now_s = clock_.NowMs() / 1000;
  std::vector<uplink::RevokedCertificate> revoked;
  // Past its end a certificate is refused anyway: it leaves the list.
  for (const SqlRow& r : repo_.Read("SELECT serial, lock_id, revoked_at FROM uplink_certificates "
                                    "WHERE state = 'revoked' AND not_after > ? ORDER BY serial",
                                    {V(now_s)}))
    revoked.push_back({*r[0], *r[1], sql::Int(r, 2) / 1000});
  std::string why;
  const auto text = uplink::MakeCrl(ca_, revoked, now_s - 60, now_s + kListValidityS, why);
  if (!text || !uplink::WriteCrlFile(crl_file_, *text, why)) {
    throw ApiError(503, "revocation_list_unwritten",
                   "The revocation is stored but the broker's revocation list could not be written (" + why +
                       "); retry POST .../uplink-certificate/revoke to write it again.");
  }
}

}  // namespace mortise::server
