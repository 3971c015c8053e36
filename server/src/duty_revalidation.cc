#include "duty_revalidation.h"

#include <stdexcept>
#include <vector>

#include "api_error.h"
#include "door_registration.h"
#include "door_updates.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/text_forms.h"

namespace mortise::server {

using nlohmann::json;

json DutyRevalidation::Issue(const std::string& org_id, const std::string& door_id, const std::string& account_id,
                             std::string_view chain_text) {
  const auto doors = repo_.Read("SELECT lock_id, owner_public_key FROM doors WHERE id = ? AND org_id = ?",
                                {SqlValue(door_id), SqlValue(org_id)});
  if (doors.empty()) throw ApiError(404, "not_found", "This organisation has no door with this id.");
  const std::vector<uint8_t> chain = KeyChainFromText(chain_text);
  // A key of this door's lock, signed under its owner, as a lock checks it
  // (its token aside).
  const VerifiedKeyChain v = VerifyKeyChain(chain, doors[0].at(1).value_or(""), doors[0].at(0).value_or(""),
                                            groups_.store().ClaimGeneration(door_id), std::nullopt);
  const auto max_age = protocol::ChainRevalidationMaxAge(chain);
  if (!max_age.ok() || *max_age == 0) {
    throw ApiError(422, "no_revalidation_needed", "This key demands no revalidation token: it works without one.");
  }
  const auto signer = keys_.Signer(door_id, Duty::kRevalidate);
  if (!signer) {
    throw ApiError(409, "no_revalidation_duty",
                   "The door's owner has not certified the server to issue revalidation tokens for this door "
                   "(mortise server duty DOOR --revalidate).");
  }
  // Registered with the server for this door, and the caller's.
  const auto rows = repo_.Read(
      "SELECT account_id FROM door_keys WHERE org_id = ? AND door_id = ? AND issuer_key_id = ? AND serial = ? "
      "AND chain_hex = ?",
      {SqlValue(org_id), SqlValue(door_id), SqlValue(v.issuer_key_id), SqlValue(v.serial), SqlValue(v.chain_hex)});
  if (rows.empty()) {
    throw ApiError(403, "not_registered", "This key is not registered with the server for this door.");
  }
  if (rows[0].at(0).value_or("") != account_id) {
    throw ApiError(403, "not_your_key", "This key is registered for another person.");
  }
  // Live at this door in the newest verified lists the server stores.
  bool live = false;
  const json access = groups_.PersonAccess(org_id, account_id);
  for (const json& d : access.at("doors")) {
    if (d.at("door_id") != door_id) continue;
    for (const json& k : d.at("keys")) {
      if (k.at("issuer_key_id") == v.issuer_key_id && k.at("serial") == v.serial) live = true;
    }
  }
  if (!live) {
    throw ApiError(403, "key_revoked",
                   "This key is revoked, disabled or over at this door (the newest access list the server holds).");
  }

  const int64_t now_s = clock_.NowMs() / 1000;
  auto fields = protocol::RevalidationFieldsFor(chain, static_cast<uint64_t>(now_s));
  if (!fields.ok()) throw ApiError(400, "invalid_key", "The key chain does not decode.");
  RandomEntropy entropy(random_);
  crypto::Drbg drbg(entropy);
  if (!drbg.Seed().ok()) throw std::runtime_error("cannot seed the DRBG");
  std::vector<uint8_t> token(protocol::kMaxRevalidationTokenSize);
  auto n = protocol::IssueRevalidationToken(*fields, signer->key, signer->certificate.certificate, drbg, token);
  if (!n.ok()) throw std::runtime_error("revalidation: cannot sign the token");
  token.resize(*n);
  std::string text(protocol::kMaxRevalidationTextSize, '\0');
  auto t = protocol::RevalidationTokenToText(token, std::span<char>(text.data(), text.size()));
  if (!t.ok()) throw std::runtime_error("revalidation: cannot encode the token");
  text.resize(*t);
  return {{"token", text},
          {"issued_at", now_s},
          {"max_age_s", *max_age},
          {"valid_until", now_s + static_cast<int64_t>(*max_age)}};
}

}  // namespace mortise::server
