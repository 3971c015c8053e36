#include "lock_session.h"

#include <ctime>
#include <sstream>

#include "error.h"
#include "key_string.h"
#include "refusal.h"
#include "mortise/core/attributes.h"

namespace mortise::cli {

LockSession::LockSession(Context& ctx) : ctx_(ctx) {
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    lock_ = ctx.SelectLock(keyring);
    key_.emplace(keyring.content().GetIdentity(lock_.identity).KeyPair());
  }  // the keyring's lock is released here
  transport_.emplace(ctx.Connect(Endpoint::Parse(lock_.endpoint)));
  client_ = std::make_unique<LockClient>(*transport_, ctx.drbg());
  const std::string token = lock_.extra.value("revalidation_token", std::string());
  if (!token.empty() && !FromHex(token, revalidation_)) revalidation_.clear();
  client_->UseKey(*key_, lock_.chain, lock_.lock_id, revalidation_);
  const std::string pending = lock_.extra.value("pending_access_list", std::string());
  std::vector<uint8_t> update;
  if (!pending.empty() && FromHex(pending, update)) DeliverAccessList(update);
}

LockSession::~LockSession() {
  try {
    client_->Close();
  } catch (...) {
    // The lock frees an idle slot by itself; nothing to report.
  }
}

void LockSession::Update(const std::function<void(LockEntry&)>& change) {
  Keyring keyring = ctx_.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry* entry = keyring.content().FindLockById(lock_.lock_id);
  if (entry == nullptr) {
    throw Error(ExitCode::kKeyring, "the lock '" + lock_.name + "' was removed from the keyring meanwhile");
  }
  change(*entry);
  keyring.Save();
  lock_ = *entry;
}

void LockSession::DeliverAccessList(const std::vector<uint8_t>& update) {
  protocol::CommandRequest apply;
  apply.command = protocol::Command::kApplyAccessList;
  apply.payload = update;
  const protocol::CommandResponse r = client_->Call(apply);
  // kAlreadyExists: the lock already holds this version or a newer one.
  if (r.status != StatusCode::kOk && r.status != StatusCode::kAlreadyExists) {
    ThrowRefusal("the lock refused the signed access list", r.status);
  }
  // Forget it only if it is still the one delivered: another process may
  // have signed a newer one meanwhile (the keyring is not held while
  // talking to the lock).
  const std::string delivered = ToHex(update);
  if (lock_.extra.contains("pending_access_list")) {
    Update([&delivered](LockEntry& l) {
      if (l.extra.value("pending_access_list", std::string()) == delivered) l.extra.erase("pending_access_list");
    });
  }
}

protocol::CommandResponse LockSession::Run(const protocol::CommandRequest& request, const std::string& what) {
  protocol::CommandResponse r = client_->Call(request);
  if (r.status == StatusCode::kAborted) ThrowOperationRefused(what, r);
  if (r.status != StatusCode::kOk) ThrowRefusal(what, r.status);
  return r;
}

void LockSession::ThrowOperationRefused(const std::string& what, const protocol::CommandResponse& r) {
  // The core's reason is the payload's first byte (docs/protocol.md,
  // "Commands carried"); the mode and the lockout's remaining time complete
  // it. Those reads are best effort: the refusal is reported either way.
  std::optional<core::EventDetail> detail;
  if (r.payload_len >= 1) detail = static_cast<core::EventDetail>(r.payload[0]);
  RefusalContext context;
  auto read = [this](core::AttributeId id) -> std::optional<int64_t> {
    try {
      protocol::CommandRequest q;
      q.command = protocol::Command::kReadAttribute;
      q.attribute = static_cast<uint16_t>(id);
      const protocol::CommandResponse a = client_->Call(q);
      if (a.status == StatusCode::kOk) return a.value;
    } catch (const Error&) {
    }
    return std::nullopt;
  };
  if (detail == core::EventDetail::kModeRestricted) {
    if (const auto mode = read(core::AttributeId::kOperatingMode)) context.mode = static_cast<core::OperatingMode>(*mode);
  }
  if (detail == core::EventDetail::kLockedOut) context.lockout_remaining_s = read(core::AttributeId::kLockoutRemaining);
  throw RefusalError(what, ExplainOperation(r.dl_status, r.value, detail, context));
}

int64_t LockSession::ReadAttribute(core::AttributeId id) {
  protocol::CommandRequest read;
  read.command = protocol::Command::kReadAttribute;
  read.attribute = static_cast<uint16_t>(id);
  return Run(read, "reading the lock's state failed").value;
}

nlohmann::json LockSession::Dl(const nlohmann::json& request, bool require_success) {
  const std::string answer = client_->Manage(request.dump());
  nlohmann::json doc = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw Error(ExitCode::kVerification, "the lock's answer is not JSON");
  }
  if (!doc.value("ok", false)) {
    throw Error(ExitCode::kBadInput, "the lock did not accept the command: " + doc.value("error", std::string("?")));
  }
  if (require_success && doc.contains("status") && doc["status"] != "Success") {
    throw Error(ExitCode::kRefused, "the lock refused: " + doc["status"].get<std::string>());
  }
  return doc;
}

int64_t ParseUtc(std::string_view text, int64_t now) {
  if (text == "now") return now;
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const std::string t(text);
  char z = 0;
  int n = std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z);
  bool ok = n == 7 && z == 'Z' && t.size() == 20;
  if (!ok) {
    s = 0;
    z = 0;
    n = std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d%c", &y, &mo, &d, &h, &mi, &z);
    ok = n == 6 && z == 'Z' && t.size() == 17;
  }
  if (!ok) {
    h = mi = s = 0;
    n = std::sscanf(t.c_str(), "%4d-%2d-%2d", &y, &mo, &d);
    ok = n == 3 && t.size() == 10;
  }
  if (!ok || y < 2000 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) {
    throw Error(ExitCode::kUsage, "'" + t + "' is not a UTC time",
                "Write it as 2026-11-24T08:00:00Z, 2026-11-24T08:00Z, 2026-11-24 or now.");
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm));
}

std::string FormatUtc(int64_t utc) {
  if (utc <= 0) return "unknown";
  const std::time_t t = static_cast<std::time_t>(utc);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

uint8_t ParseDays(std::string_view text) {
  static const char* kNames[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  auto day = [&](std::string_view name) -> int {
    for (int i = 0; i < 7; ++i) {
      if (name == kNames[i]) return i;
    }
    throw Error(ExitCode::kUsage, "'" + std::string(name) + "' is not a day",
                "Use sun, mon, tue, wed, thu, fri, sat, ranges like mon-fri, lists like sat,sun, or daily.");
  };
  if (text == "daily") return 0x7F;
  uint8_t mask = 0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string_view part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    const size_t dash = part.find('-');
    if (dash == std::string_view::npos) {
      mask |= static_cast<uint8_t>(1u << day(part));
    } else {
      int a = day(part.substr(0, dash));
      const int b = day(part.substr(dash + 1));
      for (;; a = (a + 1) % 7) {
        mask |= static_cast<uint8_t>(1u << a);
        if (a == b) break;
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return mask;
}

std::pair<uint16_t, uint16_t> ParseHours(std::string_view text) {
  int h1 = -1, m1 = -1, h2 = -1, m2 = -1;
  const std::string t(text);
  if (std::sscanf(t.c_str(), "%2d:%2d-%2d:%2d", &h1, &m1, &h2, &m2) != 4 || t.size() != 11 || h1 < 0 || h1 > 23 ||
      m1 < 0 || m1 > 59 || h2 < 0 || h2 > 24 || m2 < 0 || m2 > 59 || (h2 == 24 && m2 != 0) ||
      h1 * 60 + m1 >= h2 * 60 + m2) {
    throw Error(ExitCode::kUsage, "'" + t + "' is not an hour range", "Write it as HH:MM-HH:MM, e.g. 07:00-19:00.");
  }
  return {static_cast<uint16_t>(h1 * 60 + m1), static_cast<uint16_t>(h2 * 60 + m2)};
}

}  // namespace mortise::cli
