#include "event_hub.h"

#include <vector>

namespace mortise::server {

using nlohmann::json;

namespace {
constexpr size_t kMaxSubscriptions = 64;
constexpr uint16_t kPolicyClose = 1008;
}  // namespace

class EventHub::Stream final : public WebSocketClient {
 public:
  Stream(EventHub* hub, Credential who, std::shared_ptr<WebSocketPeer> peer)
      : hub_(hub), who_(std::move(who)), peer_(std::move(peer)) {}

  void OnText(std::string_view text) override {
    const json msg = json::parse(text, nullptr, false);
    if (!msg.is_object() || !msg.contains("subscribe") || !msg["subscribe"].is_array()) {
      return Error("invalid_message", "Send {\"subscribe\": [\"org_...\"]} with the organisations to follow.");
    }
    std::vector<std::string> ids;
    for (const auto& id : msg["subscribe"]) {
      if (!id.is_string()) return Error("invalid_message", "Organisation ids are strings (\"org_...\").");
      ids.push_back(id.get<std::string>());
    }
    if (ids.size() > kMaxSubscriptions) {
      return Error("too_many_subscriptions", "A stream follows at most 64 organisations; open another stream.");
    }
    hub_->Subscribe(this, ids);
  }

  void OnClosed() override { hub_->Forget(this); }

  void Error(std::string_view code, std::string_view message) {
    peer_->Send(json{{"type", "error"}, {"code", code}, {"message", message}}.dump());
  }

  EventHub* hub_;
  const Credential who_;
  const std::shared_ptr<WebSocketPeer> peer_;
  std::set<std::string> orgs_;  // guarded by the hub's mutex
};

std::shared_ptr<WebSocketClient> EventHub::Open(Credential who, std::shared_ptr<WebSocketPeer> peer) {
  auto s = std::make_shared<Stream>(this, std::move(who), std::move(peer));
  std::lock_guard lock(mu_);
  streams_[s.get()] = s;
  return s;
}

void EventHub::Subscribe(Stream* stream, const std::vector<std::string>& org_ids) {
  std::vector<std::string> accepted;
  for (const auto& org : org_ids) {
    // The same answer for an organisation that does not exist and one the
    // account is not in (ids of other tenants reveal nothing).
    const auto role = role_of_(org, stream->who_.account_id);
    if (!role || !RoleAllows(*role, OrgAction::kView)) {
      stream->peer_->Send(json{{"type", "error"},
                               {"code", "not_found"},
                               {"org_id", org},
                               {"message", "No such organisation, or you are not a member of it."}}
                              .dump());
      continue;
    }
    accepted.push_back(org);
  }
  {
    std::lock_guard lock(mu_);
    if (stream->orgs_.size() + accepted.size() > kMaxSubscriptions) {
      stream->Error("too_many_subscriptions", "A stream follows at most 64 organisations; open another stream.");
      return;
    }
    stream->orgs_.insert(accepted.begin(), accepted.end());
  }
  stream->peer_->Send(json{{"type", "subscribed"}, {"org_ids", accepted}}.dump());
}

void EventHub::Forget(Stream* stream) {
  std::lock_guard lock(mu_);
  streams_.erase(stream);
}

size_t EventHub::Publish(std::string_view org_id, const json& event) {
  std::vector<std::shared_ptr<Stream>> targets;
  {
    std::lock_guard lock(mu_);
    for (auto& [p, w] : streams_) {
      auto s = w.lock();
      if (s && s->orgs_.count(std::string(org_id))) targets.push_back(std::move(s));
    }
  }
  if (targets.empty()) return 0;
  json out = event;
  out["org_id"] = org_id;
  const std::string text = out.dump();
  const OrgAction needs = EventAction(event.value("type", ""));
  // The role now, not at subscription: a person removed or demoted since
  // gets nothing more (one lookup per account per event).
  std::map<std::string, std::optional<Role>> roles;
  size_t sent = 0;
  for (auto& s : targets) {
    auto it = roles.find(s->who_.account_id);
    if (it == roles.end()) it = roles.emplace(s->who_.account_id, role_of_(org_id, s->who_.account_id)).first;
    if (!it->second) {
      std::lock_guard lock(mu_);
      s->orgs_.erase(std::string(org_id));
      continue;
    }
    if (!RoleAllows(*it->second, needs)) continue;
    if (needs == OrgAction::kReadAudit && !s->who_.reads_logs) continue;
    if (s->peer_->Send(text)) ++sent;
  }
  return sent;
}

template <typename Match>
void EventHub::CloseWhere(Match match, const std::string& reason) {
  std::vector<std::shared_ptr<Stream>> hit;
  {
    std::lock_guard lock(mu_);
    for (auto& [p, w] : streams_) {
      if (auto s = w.lock(); s && match(s->who_)) hit.push_back(std::move(s));
    }
  }
  for (auto& s : hit) s->peer_->Close(kPolicyClose, reason);
}

void EventHub::CloseSession(const std::string& session_id) {
  CloseWhere([&](const Credential& c) { return !c.session_id.empty() && c.session_id == session_id; },
             "signed out");
}

void EventHub::CloseApiKey(const std::string& api_key_id) {
  CloseWhere([&](const Credential& c) { return !c.api_key_id.empty() && c.api_key_id == api_key_id; },
             "API key revoked");
}

void EventHub::CloseAccount(const std::string& account_id) {
  CloseWhere([&](const Credential& c) { return c.account_id == account_id; }, "signed out everywhere");
}

void EventHub::CloseOtherSessions(const std::string& account_id, const std::string& kept_session_id) {
  CloseWhere(
      [&](const Credential& c) {
        return c.account_id == account_id && !c.session_id.empty() && c.session_id != kept_session_id;
      },
      "password changed");
}

size_t EventHub::CloseEndedSessions(
    const std::function<bool(const std::string& account_id, const std::string& session_id)>& ended) {
  std::map<std::string, std::string> sessions;  // session id -> account id
  {
    std::lock_guard lock(mu_);
    for (auto& [p, w] : streams_) {
      if (auto s = w.lock(); s && !s->who_.session_id.empty()) sessions.emplace(s->who_.session_id, s->who_.account_id);
    }
  }
  std::set<std::string> gone;
  for (const auto& [session, account] : sessions)
    if (ended(account, session)) gone.insert(session);
  if (gone.empty()) return 0;
  size_t closed = 0;
  CloseWhere(
      [&](const Credential& c) {
        const bool hit = !c.session_id.empty() && gone.count(c.session_id) > 0;
        closed += hit ? 1 : 0;
        return hit;
      },
      "session expired");
  return closed;
}

size_t EventHub::clients() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

}  // namespace mortise::server
