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
  const std::string token = lock_.extra.value("revalidation_token", std::string());
  if (!token.empty() && !FromHex(token, revalidation_)) revalidation_.clear();
  Reconnect();
  const std::string pending = lock_.extra.value("pending_access_list", std::string());
  std::vector<uint8_t> update;
  if (!pending.empty() && FromHex(pending, update)) DeliverAccessList(update);
}

void LockSession::Reconnect() {
  Transport fresh = ctx_.Connect(Endpoint::Parse(lock_.endpoint));  // throws with the old link intact
  client_.reset();
  transport_.reset();
  transport_.emplace(std::move(fresh));
  client_ = std::make_unique<LockClient>(*transport_, ctx_.drbg());
  client_->UseKey(*key_, lock_.chain, lock_.lock_id, revalidation_);
}

LockSession::~LockSession() {
  try {
    if (client_) client_->Close();
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
    const std::string status = doc["status"].is_string() ? doc["status"].get<std::string>() : doc["status"].dump();
    throw RefusalError("the lock refused " + request.value("invoke", std::string("the command")),
                       ExplainDlStatus(status));
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
    throw Error(ExitCode::kBadInput, "'" + t + "' is not a UTC time",
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

uint8_t ParseDays(std::string_view text) {
  static const char* kNames[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  auto day = [&](std::string_view name) -> int {
    for (int i = 0; i < 7; ++i) {
      if (name == kNames[i]) return i;
    }
    throw Error(ExitCode::kBadInput, "'" + std::string(name) + "' is not a day",
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

std::string FormatDays(uint8_t mask) {
  static const char* kNames[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  mask &= 0x7F;
  if (mask == 0x7F) return "daily";
  if (mask == 0) return "none";
  // Runs of consecutive days, Monday first (mon-fri, sat-sun reads "sat,sun").
  static const int kOrder[7] = {1, 2, 3, 4, 5, 6, 0};
  std::string out;
  for (int i = 0; i < 7;) {
    if ((mask & (1u << kOrder[i])) == 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 < 7 && (mask & (1u << kOrder[j + 1])) != 0) ++j;
    if (!out.empty()) out += ',';
    out += kNames[kOrder[i]];
    if (j - i >= 2) {
      out += std::string("-") + kNames[kOrder[j]];
    } else if (j == i + 1) {
      out += std::string(",") + kNames[kOrder[j]];
    }
    i = j + 1;
  }
  return out;
}

HourRange ParseHours(std::string_view text, bool overnight_ok) {
  const std::string t(text);
  auto bad = [&t](const std::string& why, const std::string& hint = "Write it as HH:MM-HH:MM, e.g. 07:00-19:00.") {
    return Error(ExitCode::kBadInput, "'" + t + "' is not an hour range: " + why, hint);
  };
  const size_t dash = t.find('-');
  if (dash == std::string::npos) throw bad("no '-' between the start and the end");
  // "7:00" or "07:00"; 24:00 only as an end.
  auto time = [&](const std::string& part, const char* which, bool end) -> uint16_t {
    int h = -1, m = -1;
    char tail = 0;
    if (std::sscanf(part.c_str(), "%2d:%2d%c", &h, &m, &tail) != 2 || part.size() < 4 || part.size() > 5 ||
        part[part.size() - 3] != ':') {
      throw bad(std::string("the ") + which + " '" + part + "' is not HH:MM");
    }
    if (m < 0 || m > 59) throw bad(std::string("the ") + which + "'s minutes are 00 to 59");
    if (h < 0 || h > 24 || (h == 24 && (m != 0 || !end))) {
      throw bad(std::string("the ") + which + "'s hour is 00 to 23" + (end ? " (or 24:00 for the end of the day)" : ""));
    }
    return static_cast<uint16_t>(h * 60 + m);
  };
  const uint16_t start = time(t.substr(0, dash), "start", false);
  const uint16_t end = time(t.substr(dash + 1), "end", true);
  if (start == end || (start == 0 && end == 1440)) {
    if (start == 0 && end == 1440) return {start, end};
    throw bad("the start and the end are the same time", "For the whole day write 00:00-24:00.");
  }
  if (end < start && !overnight_ok) {
    throw bad("the end is before the start, and this range cannot cross midnight",
              "Give two ranges on separate days, e.g. " + t.substr(0, dash) + "-24:00 and 00:00-" + t.substr(dash + 1) + ".");
  }
  return {start, end};
}

}  // namespace mortise::cli
