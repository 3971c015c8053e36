// Accounts and sign-in: the rules, with storage, clock and randomness
// injected. Every refusal is an ApiError with a stable code (docs/server.md
// lists them); nothing here knows HTTP beyond those codes and statuses.
//
//   passwords   Argon2id (PasswordHasher), 12..1024 bytes
//   two-factor  TOTP (SHA-1, 6 digits, 30 s, ±1 step), each step accepted
//               once; 10 one-time recovery codes stored as SHA-256 hashes
//   sessions    32 random bytes (base64url) in a cookie, stored as SHA-256;
//               absolute lifetime and idle timeout; a CSRF token per session
//   API keys    "mtk_" + 32 random bytes, stored as SHA-256, with scopes
//   throttling  SignInThrottle (per account and per address)
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clock_random.h"
#include "password.h"
#include "policy.h"
#include "repository.h"
#include "throttle.h"
#include "totp.h"

namespace mortise::server {

struct AuthSettings {
  PasswordProfile password_profile = PasswordProfile::kInteractive;
  bool open_signup = true;
  int64_t session_lifetime_s = 7 * 24 * 3600;
  int64_t session_idle_s = 12 * 3600;
  ThrottleSettings throttle;
  std::string totp_issuer = "Mortise";
};

// Scopes an API key may carry (policy.h); routes name the one they need.

struct Principal {
  enum class Kind { kSession, kApiKey };
  Kind kind = Kind::kSession;
  std::string account_id;
  std::string email;
  std::string session_id;  // kSession
  std::string csrf_token;  // kSession
  std::string api_key_id;  // kApiKey
  std::vector<std::string> scopes;  // kApiKey
};

struct NewSession {
  std::string token;  // the cookie value; never stored
  SessionRow row;
};

struct TotpEnrolment {
  std::string secret;  // base32
  std::string uri;     // otpauth://
};

struct NewApiKey {
  std::string token;  // shown once
  ApiKeyRow row;
};

// What a sign-in or a sensitive change carries besides the password.
struct SecondFactor {
  std::optional<std::string> totp_code;
  std::optional<std::string> recovery_code;
};

class AuthService {
 public:
  AuthService(Repository& repo, const Clock& clock, Random& random, AuthSettings settings);

  // 403 signup_closed, 400 invalid_email / weak_password, 409 email_taken.
  AccountRow SignUp(std::string_view email, std::string_view password);

  // 429 too_many_attempts (address) / account_locked (email), both with
  // retry-after; 401 invalid_credentials, second_factor_required,
  // invalid_second_factor.
  NewSession SignIn(std::string_view email, std::string_view password, const SecondFactor& factor,
                    const std::string& address);

  // nullopt: unknown, expired or idle too long (an expired row is deleted).
  std::optional<Principal> AuthenticateSession(std::string_view token);
  // nullopt: unknown or revoked. Records the last-used time.
  std::optional<Principal> AuthenticateApiKey(std::string_view token);

  // Whether the account's session is still valid now (not past its
  // lifetime or idle timeout, as AuthenticateSession judges). Used to end
  // event streams whose session expired after they opened.
  bool SessionLive(const std::string& account_id, const std::string& session_id);
  void SignOut(const std::string& session_id);
  void SignOutEverywhere(const std::string& account_id);

  // Starts (or restarts) enrolment: a new secret, not yet enabled.
  // 409 totp_already_enabled.
  TotpEnrolment BeginTotp(const std::string& account_id);
  // Enables TOTP when `code` is right for the pending secret; returns the
  // recovery codes (shown once). 409 totp_not_pending, 401 invalid_second_factor.
  std::vector<std::string> ConfirmTotp(const std::string& account_id, std::string_view code);

  // Re-checks the password and the second factor (if enabled), stores the new
  // hash and ends every other session of the account.
  // 401 invalid_credentials / second_factor_required / invalid_second_factor,
  // 400 weak_password.
  void ChangePassword(const Principal& who, std::string_view current, std::string_view next,
                      const SecondFactor& factor);
  // Same checks, then deletes the account and everything it owns.
  // 409 sole_owner while it is the only owner of an organisation.
  // `may_delete` (after the checks, before deleting) throws to refuse: the
  // API refuses while the person's door keys are live (409 keys_live).
  void DeleteAccount(const Principal& who, std::string_view password, const SecondFactor& factor,
                     const std::function<void(const std::string& account_id)>& may_delete = {});

  // 400 invalid_name / invalid_scope.
  NewApiKey CreateApiKey(const std::string& account_id, std::string_view name, const std::vector<std::string>& scopes);

  Repository& repo() { return repo_; }
  const AuthSettings& settings() const { return settings_; }

  // Lower-cases and checks shape (one '@', 3..254 bytes, no spaces or
  // control characters). nullopt when invalid.
  static std::optional<std::string> NormaliseEmail(std::string_view email);

 private:
  std::string NewId(std::string_view prefix);
  void CheckPasswordStrength(std::string_view password) const;
  // Throws unless the account's second factor (if enabled) is satisfied.
  void CheckSecondFactor(const AccountRow& account, const SecondFactor& factor);
  void CheckPasswordAndFactor(const Principal& who, std::string_view password, const SecondFactor& factor,
                              AccountRow& account);
  // 429 account_locked with retry-after while the email is locked.
  void ThrowIfAccountLocked(const std::string& email, int64_t now_ms);
  int64_t NowMs() const { return clock_.NowMs(); }

  Repository& repo_;
  const Clock& clock_;
  Random& random_;
  AuthSettings settings_;
  PasswordHasher hasher_;
  SignInThrottle throttle_;
  std::string dummy_hash_;  // verified against for unknown emails (same cost)
  TotpParams totp_;
};

}  // namespace mortise::server
