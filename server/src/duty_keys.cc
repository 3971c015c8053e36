#include "duty_keys.h"

#include <stdexcept>

#include "api_error.h"
#include "door_registration.h"
#include "door_updates.h"
#include "sql_values.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/text_forms.h"

namespace mortise::server {
namespace {

using nlohmann::json;

using sql::Int;
using sql::Text;
using sql::V;


struct KeyRow {
  std::string private_key, public_key;
};
std::optional<KeyRow> DutyKeyRow(SqlRepository& repo, std::string_view door_id) {
  const auto rows = repo.Read("SELECT private_key, public_key FROM log_custody WHERE door_id = ?", {V(door_id)});
  if (rows.empty()) return std::nullopt;
  return KeyRow{Text(rows[0], 0), Text(rows[0], 1)};
}

}  // namespace

std::optional<DutyDoor> DutyDoorOf(SqlRepository& repo, std::string_view door_id) {
  const auto rows =
      repo.Read("SELECT lock_id, lock_public_key, owner_public_key FROM doors WHERE id = ?", {V(door_id)});
  if (rows.empty()) return std::nullopt;
  return DutyDoor{Text(rows[0], 0), Text(rows[0], 1), Text(rows[0], 2)};
}

crypto::P256PublicKey PublicKeyFromHex(std::string_view hex) {
  const auto bytes = FromHex(hex, crypto::kP256PublicKeySize);
  if (!bytes) throw std::runtime_error("a stored public key is not 65 bytes of hex");
  auto key = crypto::P256PublicKey::Import(*bytes);
  if (!key.ok()) throw std::runtime_error("a stored public key is not a P-256 point");
  return *key;
}

DutyCertificate VerifyDutyCertificate(SqlRepository& repo, std::string_view door_id, std::string_view text,
                                      uint32_t permission, std::string_view how, std::string_view no_key_code) {
  const auto door = DutyDoorOf(repo, door_id);
  if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
  std::vector<uint8_t> chain(protocol::kMaxChainSize);
  if (protocol::IdentifyText(text) == protocol::TextForm::kShare) {
    auto bundle = protocol::ShareFromText(text);
    if (!bundle.ok()) throw ApiError(400, "invalid_key", "The MKS1 bundle does not decode.");
    if (ToHex(bundle->lock_key) != door->lock_public_key) {
      throw ApiError(422, "wrong_door", "This key is for another lock than this door's.");
    }
    chain.assign(bundle->chain.begin(), bundle->chain.begin() + static_cast<std::ptrdiff_t>(bundle->chain_len));
  } else {
    auto n = protocol::ChainFromText(text, chain);
    if (!n.ok()) throw ApiError(400, "invalid_key", "\"certificate\" is an MKS1 bundle or an MK1 key chain.");
    chain.resize(*n);
  }
  const auto key = repo.Read("SELECT public_key, claim_generation FROM log_custody WHERE door_id = ?", {V(door_id)});
  if (key.empty()) {
    throw ApiError(409, std::string(no_key_code), "This door has no duty key yet: POST .../custody/key first.");
  }
  const std::string holder_public_key_hex = Text(key[0], 0);
  const int64_t known_claim = Int(key[0], 1);
  // The lock's own checks (owner signature, this lock and claim, role and
  // permissions, delegation), as VerifyKeyChain runs them for any key.
  const VerifiedKeyChain verified =
      VerifyKeyChain(chain, door->owner_public_key, door->lock_id, known_claim, std::nullopt);
  const auto split = protocol::SplitChain(chain);
  const protocol::CertificateFields& holder = split->holder;
  auto holder_key = crypto::P256PublicKey::Import(holder.holder_key);
  if (!holder_key.ok() || ToHex(holder_key->bytes()) != holder_public_key_hex) {
    throw ApiError(422, "wrong_holder", "This certificate is for another key than this door's duty key.");
  }
  if (holder.permissions != permission || split->count != 1) {
    throw ApiError(422, "wrong_permissions",
                   "A duty certificate is the owner's, carrying this duty's right alone (" + std::string(how) + ").");
  }
  DutyCertificate out;
  out.chain = chain;
  out.chain_hex = verified.chain_hex;
  out.claim_generation = holder.claim_generation;
  out.serial = holder.serial;
  const auto cert = split->certificates[0];
  out.certificate.assign(cert.begin(), cert.end());
  return out;
}

std::string PublicKeyTextFromHex(std::string_view public_key_hex) {
  std::array<char, protocol::kPublicKeyTextSize> buf{};
  auto n = protocol::PublicKeyToText(PublicKeyFromHex(public_key_hex), buf);
  if (!n.ok()) throw std::runtime_error("cannot write a public key's text form");
  return std::string(buf.data(), *n);
}

std::string_view DutyName(Duty d) { return d == Duty::kTime ? "time" : "revalidate"; }
std::optional<Duty> ParseDuty(std::string_view name) {
  if (name == "time") return Duty::kTime;
  if (name == "revalidate") return Duty::kRevalidate;
  return std::nullopt;
}
uint32_t DutyPermission(Duty d) { return d == Duty::kTime ? protocol::kPermTimeStatement : protocol::kPermRevalidate; }

json DutyKeys::Install(std::string_view door_id, Duty duty, std::string_view text) {
  const DutyCertificate c =
      VerifyDutyCertificate(repo_, door_id, text, DutyPermission(duty),
                            duty == Duty::kTime ? "mortise key share --time"
                                                : "mortise key share --role admin --permission revalidate",
                            "no_duty_key");
  repo_.WithDriver([&](SqlDriver& db) {
    db.Exec("DELETE FROM duty_certificates WHERE door_id = ? AND duty = ?", {V(door_id), V(DutyName(duty))});
    db.Exec("INSERT INTO duty_certificates (door_id, duty, chain, serial, claim_generation, installed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            {V(door_id), V(DutyName(duty)), V(c.chain_hex), V(std::to_string(c.serial)),
             V(static_cast<int64_t>(c.claim_generation)), V(clock_.NowMs())});
    if (duty == Duty::kTime) {
      // A new certificate: the server may try again (a refusal stopped it).
      db.Exec("UPDATE door_time SET last_status = NULL, attempt_at = 0 WHERE door_id = ?", {V(door_id)});
    }
  });
  return View(door_id);
}

std::optional<DutySigner> DutyKeys::Signer(std::string_view door_id, Duty duty) {
  const auto rows = repo_.Read("SELECT chain FROM duty_certificates WHERE door_id = ? AND duty = ?",
                               {V(door_id), V(DutyName(duty))});
  const auto key = DutyKeyRow(repo_, door_id);
  const auto door = DutyDoorOf(repo_, door_id);
  if (rows.empty() || !key || !door) return std::nullopt;
  const std::string chain_hex = Text(rows[0], 0);
  const auto chain = FromHex(chain_hex, chain_hex.size() / 2);
  const auto scalar = FromHex(key->private_key, crypto::kP256ScalarSize);
  if (!chain || !scalar) throw std::runtime_error("duty: a stored value is not hex");
  auto pair = crypto::P256KeyPair::FromPrivateScalar(*scalar);
  if (!pair.ok()) throw std::runtime_error("duty: the stored private key is not a P-256 scalar");
  const auto split = protocol::SplitChain(*chain);
  if (!split.ok()) throw std::runtime_error("duty: a stored certificate chain does not decode");
  DutySigner s{*door, *pair, {}};
  s.certificate.chain = *chain;
  s.certificate.chain_hex = chain_hex;
  s.certificate.claim_generation = split->holder.claim_generation;
  s.certificate.serial = split->holder.serial;
  s.certificate.certificate.assign(split->certificates[0].begin(), split->certificates[0].end());
  return s;
}

json DutyKeys::View(std::string_view door_id) {
  const auto key = DutyKeyRow(repo_, door_id);
  json j = {{"public_key", key ? json(PublicKeyTextFromHex(key->public_key)) : json(nullptr)}};
  for (Duty d : {Duty::kTime, Duty::kRevalidate}) {
    const auto rows =
        repo_.Read("SELECT serial, claim_generation, installed_at FROM duty_certificates WHERE door_id = ? AND duty = ?",
                   {V(door_id), V(DutyName(d))});
    j[std::string(DutyName(d))] =
        rows.empty() ? json(nullptr)
                     : json{{"serial", Text(rows[0], 0)}, {"claim_generation", Int(rows[0], 1)},
                            {"installed_at", Int(rows[0], 2)}};
  }
  return j;
}

std::vector<std::string> DutyKeys::DoorsWith(Duty duty) {
  std::vector<std::string> out;
  for (const SqlRow& r :
       repo_.Read("SELECT door_id FROM duty_certificates WHERE duty = ? ORDER BY door_id", {V(DutyName(duty))})) {
    out.push_back(Text(r, 0));
  }
  return out;
}

}  // namespace mortise::server
