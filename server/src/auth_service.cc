#include "auth_service.h"

#include <cstdio>

#include "api_error.h"

namespace mortise::server {
namespace {

constexpr size_t kMinPassword = 12;
constexpr size_t kMaxPassword = 1024;
constexpr int kRecoveryCodes = 10;
// Sessions are touched at most this often (one write per minute, not per request).
constexpr int64_t kTouchEveryMs = 60 * 1000;

// Recovery codes: 10 characters from the base32 alphabet (50 bits), shown
// as xxxxx-xxxxx; compared after removing '-' and spaces, case-insensitive.
std::string NormaliseRecoveryCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace


void AuthService::ThrowIfAccountLocked(const std::string& email, int64_t now_ms) {
  if (const int64_t wait = throttle_.AccountWait(email, now_ms); wait > 0) {
    throw ApiError(429, "account_locked",
                   "This account is locked after repeated failed sign-ins; try again in " + std::to_string(wait) +
                       " seconds.")
        .WithRetryAfter(wait);
  }
}

AuthService::AuthService(Repository& repo, const Clock& clock, Random& random, AuthSettings settings)
    : repo_(repo),
      clock_(clock),
      random_(random),
      settings_(std::move(settings)),
      hasher_(settings_.password_profile),
      throttle_(settings_.throttle) {
  dummy_hash_ = hasher_.Hash("mortise-dummy-password-for-timing");
}

std::optional<std::string> AuthService::NormaliseEmail(std::string_view email) {
  if (email.size() < 3 || email.size() > 254) return std::nullopt;
  std::string out;
  int at = 0;
  for (char c : email) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return std::nullopt;
    if (c == '@') ++at;
    out.push_back(static_cast<char>(std::tolower(u)));
  }
  const size_t pos = out.find('@');
  if (at != 1 || pos == 0 || pos + 1 == out.size()) return std::nullopt;
  return out;
}

std::string AuthService::NewId(std::string_view prefix) { return NewObjectId(clock_, random_, prefix); }

void AuthService::CheckPasswordStrength(std::string_view password) const {
  if (password.size() < kMinPassword || password.size() > kMaxPassword) {
    throw ApiError(400, "weak_password",
                   "Choose a password of 12 to 1024 characters (a few unrelated words make a good one).");
  }
}

AccountRow AuthService::SignUp(std::string_view email, std::string_view password) {
  if (!settings_.open_signup) {
    throw ApiError(403, "signup_closed", "This server does not accept new accounts; ask its administrator.");
  }
  const auto normal = NormaliseEmail(email);
  if (!normal) throw ApiError(400, "invalid_email", "Give a valid email address, such as ana@example.org.");
  CheckPasswordStrength(password);
  AccountRow row;
  row.id = NewId("acct_");
  row.email = *normal;
  row.password_hash = hasher_.Hash(password);
  row.created_at = row.password_changed_at = NowMs();
  if (!repo_.CreateAccount(row)) {
    throw ApiError(409, "email_taken", "An account with this email exists; sign in or use another email.");
  }
  return row;
}

void AuthService::CheckSecondFactor(const AccountRow& account, const SecondFactor& factor) {
  if (!account.totp_enabled) return;
  if (factor.recovery_code) {
    const std::string hash = Sha256Hex(NormaliseRecoveryCode(*factor.recovery_code));
    if (!repo_.ConsumeRecoveryCode(account.id, hash)) {
      throw ApiError(401, "invalid_second_factor", "The recovery code is wrong or was already used.");
    }
    return;
  }
  if (!factor.totp_code) {
    throw ApiError(401, "second_factor_required",
                   "This account has two-factor sign-in: send totp_code (from your authenticator app) or a "
                   "recovery_code.");
  }
  const auto key = Base32Decode(account.totp_secret.value_or(""));
  const auto step = key ? TotpMatch(*key, *factor.totp_code, NowMs() / 1000, totp_) : std::nullopt;
  if (!step) {
    throw ApiError(401, "invalid_second_factor",
                   "The two-factor code is wrong; check your phone's clock and enter the current code.");
  }
  if (!repo_.ConsumeTotpStep(account.id, *step)) {
    throw ApiError(401, "invalid_second_factor", "This two-factor code was already used; wait for the next one.");
  }
}

NewSession AuthService::SignIn(std::string_view email, std::string_view password, const SecondFactor& factor,
                               const std::string& address) {
  const int64_t now = NowMs();
  const std::string key = NormaliseEmail(email).value_or(std::string(email));
  if (const int64_t wait = throttle_.AddressWait(address, now); wait > 0) {
    throw ApiError(429, "too_many_attempts",
                   "Too many failed sign-ins from your address; try again in " + std::to_string(wait) + " seconds.")
        .WithRetryAfter(wait);
  }
  ThrowIfAccountLocked(key, now);
  auto account = repo_.AccountByEmail(key);
  const bool password_ok = account ? hasher_.Verify(account->password_hash, password)
                                   : (hasher_.Verify(dummy_hash_, password), false);
  if (!password_ok) {
    throttle_.RecordFailure(key, address, now);
    throw ApiError(401, "invalid_credentials", "The email or the password is wrong.");
  }
  try {
    CheckSecondFactor(*account, factor);
  } catch (const ApiError& e) {
    if (e.code() != "second_factor_required") throttle_.RecordFailure(key, address, now);
    throw;
  }
  throttle_.RecordSuccess(key);
  if (hasher_.NeedsRehash(account->password_hash)) {
    repo_.SetPasswordHash(account->id, hasher_.Hash(password), account->password_changed_at);
  }
  NewSession s;
  s.token = RandomBase64Url(random_, 32);
  s.row.id = NewId("sess_");
  s.row.account_id = account->id;
  s.row.token_hash = Sha256Hex(s.token);
  s.row.csrf_token = RandomBase64Url(random_, 32);
  s.row.created_at = s.row.last_seen_at = now;
  s.row.expires_at = now + settings_.session_lifetime_s * 1000;
  s.row.created_from = address;
  repo_.CreateSession(s.row);
  return s;
}

bool AuthService::SessionLive(const std::string& account_id, const std::string& session_id) {
  const int64_t now = NowMs();
  for (const SessionRow& row : repo_.Sessions(account_id)) {
    if (row.id == session_id) return now < row.expires_at && now - row.last_seen_at < settings_.session_idle_s * 1000;
  }
  return false;
}

std::optional<Principal> AuthService::AuthenticateSession(std::string_view token) {
  if (token.empty() || token.size() > 256) return std::nullopt;
  auto row = repo_.SessionByTokenHash(Sha256Hex(token));
  if (!row) return std::nullopt;
  const int64_t now = NowMs();
  if (now >= row->expires_at || now - row->last_seen_at >= settings_.session_idle_s * 1000) {
    repo_.DeleteSession(row->id);
    return std::nullopt;
  }
  auto account = repo_.AccountById(row->account_id);
  if (!account) return std::nullopt;
  if (now - row->last_seen_at >= kTouchEveryMs) repo_.TouchSession(row->id, now);
  Principal p;
  p.kind = Principal::Kind::kSession;
  p.account_id = account->id;
  p.email = account->email;
  p.session_id = row->id;
  p.csrf_token = row->csrf_token;
  return p;
}

std::optional<Principal> AuthService::AuthenticateApiKey(std::string_view token) {
  if (!token.starts_with("mtk_") || token.size() > 256) return std::nullopt;
  auto row = repo_.ApiKeyByTokenHash(Sha256Hex(token));
  if (!row) return std::nullopt;
  auto account = repo_.AccountById(row->account_id);
  if (!account) return std::nullopt;
  repo_.TouchApiKey(row->id, NowMs());
  Principal p;
  p.kind = Principal::Kind::kApiKey;
  p.account_id = account->id;
  p.email = account->email;
  p.api_key_id = row->id;
  p.scopes = row->scopes;
  return p;
}

void AuthService::SignOut(const std::string& session_id) { repo_.DeleteSession(session_id); }

void AuthService::SignOutEverywhere(const std::string& account_id) { repo_.DeleteSessions(account_id, std::nullopt); }

TotpEnrolment AuthService::BeginTotp(const std::string& account_id) {
  auto account = repo_.AccountById(account_id);
  if (!account) throw ApiError(401, "unauthenticated", "Sign in again.");
  if (account->totp_enabled) {
    throw ApiError(409, "totp_already_enabled", "Two-factor sign-in is already on for this account.");
  }
  std::vector<uint8_t> key(20);  // 160 bits, RFC 4226's recommendation
  random_.Fill(key);
  TotpEnrolment e;
  e.secret = Base32Encode(key);
  e.uri = OtpAuthUri(settings_.totp_issuer, account->email, e.secret, totp_);
  repo_.SetTotp(account_id, e.secret, false);
  return e;
}

std::vector<std::string> AuthService::ConfirmTotp(const std::string& account_id, std::string_view code) {
  auto account = repo_.AccountById(account_id);
  if (!account) throw ApiError(401, "unauthenticated", "Sign in again.");
  if (account->totp_enabled || !account->totp_secret) {
    throw ApiError(409, "totp_not_pending", "Start two-factor enrolment first (POST /api/v1/me/totp).");
  }
  const auto key = Base32Decode(*account->totp_secret);
  const auto step = key ? TotpMatch(*key, code, NowMs() / 1000, totp_) : std::nullopt;
  if (!step) {
    throw ApiError(401, "invalid_second_factor",
                   "The code does not match; check the secret you entered and your phone's clock.");
  }
  repo_.SetTotp(account_id, account->totp_secret, true);
  repo_.ConsumeTotpStep(account_id, *step);
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::vector<std::string> codes, hashes;
  for (int i = 0; i < kRecoveryCodes; ++i) {
    uint8_t raw[10];
    random_.Fill(raw);
    std::string plain;
    for (uint8_t b : raw) plain.push_back(kAlphabet[b & 31]);
    hashes.push_back(Sha256Hex(plain));
    codes.push_back(plain.substr(0, 5) + "-" + plain.substr(5));
  }
  repo_.ReplaceRecoveryCodes(account_id, hashes);
  return codes;
}

void AuthService::CheckPasswordAndFactor(const Principal& who, std::string_view password, const SecondFactor& factor,
                                         AccountRow& account) {
  auto row = repo_.AccountById(who.account_id);
  if (!row) throw ApiError(401, "unauthenticated", "Sign in again.");
  // A stolen session must not become an unthrottled password oracle: the
  // same per-account lockout as sign-in (the address half does not apply).
  const int64_t now = NowMs();
  ThrowIfAccountLocked(row->email, now);
  if (!hasher_.Verify(row->password_hash, password)) {
    throttle_.RecordFailure(row->email, "", now);
    throw ApiError(401, "invalid_credentials", "The current password is wrong.");
  }
  try {
    CheckSecondFactor(*row, factor);
  } catch (const ApiError& e) {
    if (e.code() != "second_factor_required") throttle_.RecordFailure(row->email, "", now);
    throw;
  }
  account = *row;
}

void AuthService::ChangePassword(const Principal& who, std::string_view current, std::string_view next,
                                 const SecondFactor& factor) {
  CheckPasswordStrength(next);
  AccountRow account;
  CheckPasswordAndFactor(who, current, factor, account);
  repo_.SetPasswordHash(account.id, hasher_.Hash(next), NowMs());
  // Anyone who signed in with the old password is signed out.
  repo_.DeleteSessions(account.id, who.kind == Principal::Kind::kSession ? std::optional(who.session_id)
                                                                         : std::nullopt);
}

void AuthService::DeleteAccount(const Principal& who, std::string_view password, const SecondFactor& factor,
                                const std::function<void(const std::string& account_id)>& may_delete) {
  AccountRow account;
  CheckPasswordAndFactor(who, password, factor, account);
  // An organisation is never left without an owner (nobody could manage
  // its doors or people again).
  if (repo_.CountSoleOwnerships(account.id) > 0) {
    throw ApiError(409, "sole_owner",
                   "You are the only owner of an organisation: make someone else owner, or delete it, first.");
  }
  if (may_delete) may_delete(account.id);
  repo_.DeleteAccount(account.id);
}

NewApiKey AuthService::CreateApiKey(const std::string& account_id, std::string_view name,
                                    const std::vector<std::string>& scopes) {
  if (name.empty() || name.size() > 100) {
    throw ApiError(400, "invalid_name", "Give the key a name of 1 to 100 characters (what will use it).");
  }
  if (scopes.empty()) throw ApiError(400, "invalid_scope", "Give at least one scope, such as \"account:read\".");
  for (const auto& s : scopes) {
    if (!IsKnownScope(s)) throw ApiError(400, "invalid_scope", "Unknown scope \"" + s + "\"; known: account:read, orgs:read, orgs:write, audit:read.");
  }
  NewApiKey k;
  k.token = "mtk_" + RandomBase64Url(random_, 32);
  k.row.id = NewId("key_");
  k.row.account_id = account_id;
  k.row.name = std::string(name);
  k.row.token_hash = Sha256Hex(k.token);
  k.row.prefix = k.token.substr(0, 12);
  k.row.scopes = scopes;
  k.row.created_at = NowMs();
  repo_.CreateApiKey(k.row);
  return k;
}

}  // namespace mortise::server
