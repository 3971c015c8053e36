// The broker certificates the server issued to locks, and their revocation
// (docs/uplink.md "Revocation"). Every certificate `POST .../uplink-
// certificate` issues is recorded (serial, door, lock id, end); a door's
// certificate is revoked when the door is re-issued one (the older ones),
// when the door (or its site or organisation) is removed, and when an
// admin asks (`POST .../uplink-certificate/revoke`). After each change the
// server rewrites the deployment's revocation list (an X.509 CRL signed by
// the CA key it holds, uplink::MakeCrl) at `crl_file`; the broker loads it
// and disconnects the revoked identities connected now (mortise-broker,
// uplink::Broker::ApplyRevocations).
//
// What this protects: a copied lock certificate (a door removed, a lock
// transferred, a certificate re-issued because a key leaked) stops
// reaching the broker. It grants nothing: a broker identity opens no door
// (the lock drops every frame not signed for it, A10).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "clock_random.h"
#include "repository.h"
#include "sql_repository.h"
#include "mortise/uplink/pki.h"

namespace mortise::server {

class UplinkCertificates {
 public:
  // `ca`: the deployment CA (its key signs the list). `crl_file`: where the
  // list is written ("" : nowhere; rows are still kept and the API still
  // says revoked, but no broker learns it: main.cc warns).
  UplinkCertificates(SqlRepository& repo, const Clock& clock, const uplink::Credential& ca, std::string crl_file);

  // Records `cert_pem`, just issued for `door`, as its active certificate;
  // the door's earlier active ones are revoked (reason "reissued"). Then
  // writes the list. Throws ApiError 503 revocation_list_unwritten when
  // the file cannot be written (the rows are committed: a retry of the
  // revocation route writes it again).
  void Issued(const DoorRow& door, const std::string& cert_pem);
  // Revokes the door's active certificates (`reason`) and writes the list
  // (always: the route doubles as "publish the list again"). Returns how
  // many were revoked. Throws like Issued.
  int RevokeDoor(std::string_view door_id, std::string_view reason);
  // Revokes the active certificates whose door no longer exists (reason
  // "door_removed"): after a door, site or organisation is deleted, and at
  // start (a crash between the deletion and this). Writes the list when
  // any was revoked, or when `always_write`. Throws like Issued.
  int RevokeRemovedDoors(bool always_write = false);
  // The door's certificates, newest first: [{serial, state, issued_at,
  // not_after, revoked_at, reason}].
  nlohmann::json View(std::string_view door_id);

  const std::string& crl_file() const { return crl_file_; }

 private:
  // Every revoked certificate not yet past its end, signed; written
  // atomically. Throws ApiError 503 when it cannot.
  void WriteList();

  SqlRepository& repo_;
  const Clock& clock_;
  const uplink::Credential& ca_;
  std::string crl_file_;
  std::mutex write_mu_;  // one writer of the file at a time, in order
};

}  // namespace mortise::server
