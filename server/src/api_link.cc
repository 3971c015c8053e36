// The lock side of the API (docs/uplink.md "The server's side",
// docs/server.md): a door's state as its lock published it, the relay of a
// holder-signed remote command, and the lock's broker certificate. The
// server relays and verifies; it signs nothing here and decides nothing a
// lock decides.
#include <nlohmann/json.hpp>

#include "api.h"
#include "api_error.h"
#include "door_registration.h"
#include "door_state.h"
#include "door_transfers.h"
#include "lock_link.h"
#include "remote_verdict.h"
#include "uplink_certs.h"
#include "mortise/protocol/base64url.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/remote.h"
#include "mortise/uplink/pki.h"

namespace mortise::server {
namespace {

using nlohmann::json;

constexpr int64_t kMinuteMs = 60'000;

std::string Base64Url(std::span<const uint8_t> bytes) {
  std::string out(protocol::Base64UrlLength(bytes.size()), '\0');
  const auto n = protocol::Base64UrlEncode(bytes, out);
  out.resize(n.ok() ? *n : 0);
  return out;
}

void RequireLink(const LinkServices& s, bool need_link) {
  if ((need_link && s.link == nullptr) || s.states == nullptr) {
    throw ApiError(503, "uplink_off", "This server has no link to locks ([uplink] is not configured).");
  }
}

}  // namespace

bool Api::AllowRelay(const std::string& account_id) {
  const int64_t now = clock_.NowMs();
  std::lock_guard lock(relay_mu_);
  auto& times = relays_[account_id];
  while (!times.empty() && times.front() <= now - kMinuteMs) times.pop_front();
  if (static_cast<int>(times.size()) >= link_.relay_per_minute) return false;
  times.push_back(now);
  return true;
}

void Api::AddLinkRoutes() {
  auto& r = router_;

  r.Add("GET", "/api/v1/orgs/{org_id}/doors/{door_id}/state", [this](Context& c) {
    const auto door = repo_.Door(c.params.at("org_id"), c.params.at("door_id"));
    if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
    RequireLink(link_, false);
    const auto s = link_.states->Get(door->id);
    json state = {{"bolt", nullptr}, {"door", nullptr},   {"mode", nullptr},     {"battery", nullptr},
                  {"alarms", json::array()}, {"firmware", nullptr}, {"online", false}, {"last_seen", nullptr}};
    if (s) {
      for (const auto& [k, v] : s->state.items()) state[k] = v;
      state["online"] = s->online;
      state["last_seen"] = s->last_seen;
    }
    // The live answer of the link wins over the stored row (a row can lag
    // a batch behind).
    if (link_.link != nullptr) state["online"] = link_.link->Online(door->lock_id);
    state["informative"] = true;
    // A lock handed to a new owner: this door is no longer relayed to.
    const auto transferred = link_.transfers ? link_.transfers->Transferred(door->id) : std::nullopt;
    state["transferred"] = transferred ? *transferred : json(nullptr);
    return JsonResponse(200, json{{"door_id", door->id}, {"state", state}}.dump());
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/doors/{door_id}/remote", [this](Context& c) {
    const json body = c.Json();
    const auto door = repo_.Door(c.params.at("org_id"), c.params.at("door_id"));
    if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
    RequireLink(link_, true);
    const auto it = body.find("envelope");
    if (it == body.end() || !it->is_string()) {
      throw ApiError(400, "invalid_field", "Give \"envelope\": the holder-signed RemoteCommand, base64url.");
    }
    // The frame: type 0x03, then the envelope as the holder signed it.
    std::vector<uint8_t> frame(1 + protocol::kMaxRemoteMessageSize);
    frame[0] = static_cast<uint8_t>(protocol::FrameType::kRemote);
    const auto n = protocol::Base64UrlDecode(it->get_ref<const std::string&>(),
                                             std::span<uint8_t>(frame).subspan(1));
    if (!n.ok() || *n == 0) {
      throw ApiError(400, "invalid_envelope", "\"envelope\" is not a RemoteCommand (base64url, at most 1736 bytes).");
    }
    frame.resize(1 + *n);
    const auto command_hash = protocol::RemoteCommandHash(std::span<const uint8_t>(frame).subspan(1));
    if (!command_hash.ok()) throw ApiError(400, "invalid_envelope", "\"envelope\" is not a RemoteCommand.");
    if (!AllowRelay(c.principal->account_id)) {
      throw ApiError(429, "rate_limited",
                     "Too many remote commands from this account; at most " +
                         std::to_string(link_.relay_per_minute) + " a minute.");
    }
    const auto record = [&](const std::string& outcome) {
      audit_.Record(audit_.Event(ActorOf(c), door->org_id, "door.remote", "door", door->id, json{{"outcome", outcome}}));
    };
    if (link_.transfers != nullptr && link_.transfers->Transferred(door->id)) {
      record("door_transferred");
      throw ApiError(409, "door_transferred",
                     "This door's lock now belongs to another owner (its claim generation is above the one it was "
                     "registered under); nothing was sent. Remove the door; the new owner registers the lock.");
    }
    if (!link_.link->Online(door->lock_id)) {
      record("lock_offline");
      throw ApiError(503, "lock_offline", "The lock is not connected; nothing was sent.");
    }
    // The worker thread blocks until the answer: bounded so the API keeps
    // free workers, and by the lock's standing so locks that do not answer
    // wait only in the probation pool, with its shorter timeout (503
    // relay_busy beyond a bound; relay_gate.h).
    std::optional<std::vector<uint8_t>> answer;
    {
      auto permit = relay_gate_.AcquireOrThrow(door->org_id, c.principal->account_id, door->lock_id, clock_.NowMs());
      const int64_t sent_at = clock_.NowMs();
      answer = link_.link->Exchange(door->lock_id, frame, permit.TimeoutMs(link_.relay_timeout_ms));
      permit.Finish(answer.has_value(), clock_.NowMs() - sent_at, clock_.NowMs());
    }
    if (!answer) {
      record("outcome_unknown");
      throw ApiError(504, "outcome_unknown",
                     "No answer from the lock in time: the command may or may not have run (outcome unknown).");
    }
    const RemoteVerdict verdict = JudgeRemoteAnswer(*door, std::span<const uint8_t>(frame).subspan(1), *answer);
    record(verdict.outcome);
    if (verdict.outcome == "bad_answer") {
      throw ApiError(502, "bad_answer", "The lock's answer is not a remote result that verifies against this door's key "
                                        "and envelope.");
    }
    return JsonResponse(200, json{{"verdict", verdict.outcome}, {"result", Base64Url(verdict.result)}}.dump());
  });

  r.Add("POST", "/api/v1/orgs/{org_id}/doors/{door_id}/uplink-certificate", [this](Context& c) {
    const json body = c.Json();
    const auto door = repo_.Door(c.params.at("org_id"), c.params.at("door_id"));
    if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
    if (link_.ca == nullptr) {
      throw ApiError(503, "uplink_off", "This server issues no broker certificates ([uplink] ca_key is not set).");
    }
    std::string why;
    const auto request = uplink::RequestFromJson(body.dump(), why);
    if (!request) throw ApiError(400, "invalid_request", "Not a lock's uplink request: " + why);
    if (ToHex(request->lock_id) != door->lock_id) {
      throw ApiError(422, "request_refused", "No certificate: the request is for another lock than this door's.");
    }
    const auto key_bytes = FromHex(door->lock_public_key, kPublicKeyBytes);
    const auto door_key = key_bytes ? crypto::P256PublicKey::Import(*key_bytes)
                                    : Result<crypto::P256PublicKey>(StatusCode::kInvalidArgument);
    if (!door_key.ok()) throw ApiError(500, "internal", "The door's stored key does not decode.");
    const int64_t now_s = clock_.NowMs() / 1000;
    // The binding statement must verify against the door's key: a request
    // for another lock, or signed by another key, gets nothing (A10).
    const auto cert = uplink::IssueLockCertificate(*link_.ca, *request, *door_key, now_s - 300,
                                                   now_s + link_.lock_cert_days * 86400, why);
    if (!cert) throw ApiError(422, "request_refused", "No certificate: " + why);
    const std::string serial = uplink::SerialOf(*cert, why);
    audit_.Record(audit_.Event(ActorOf(c), door->org_id, "door.uplink_certificate", "door", door->id,
                               json{{"serial", serial}}));
    // Recorded; the door's earlier certificates are revoked (re-issue
    // replaces, docs/uplink.md "Revocation").
    if (link_.certs != nullptr) link_.certs->Issued(*door, *cert);
    return JsonResponse(201, json{{"certificate", *cert}, {"lock_id", door->lock_id}, {"serial", serial}}.dump());
  });

  // Revokes the door's broker certificates now (a copied certificate, a
  // lock about to change hands) and writes the broker's revocation list
  // again; the door's certificates as they stand come back.
  r.Add("POST", "/api/v1/orgs/{org_id}/doors/{door_id}/uplink-certificate/revoke", [this](Context& c) {
    const auto door = repo_.Door(c.params.at("org_id"), c.params.at("door_id"));
    if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
    if (link_.certs == nullptr) {
      throw ApiError(503, "uplink_off", "This server issues no broker certificates ([uplink] ca_key is not set).");
    }
    const int revoked = link_.certs->RevokeDoor(door->id, "revoked");
    audit_.Record(audit_.Event(ActorOf(c), door->org_id, "door.uplink_certificate_revoked", "door", door->id,
                               json{{"revoked", revoked}}));
    return JsonResponse(200, json{{"revoked", revoked}, {"certificates", link_.certs->View(door->id)}}.dump());
  });
}

}  // namespace mortise::server
