// The auth rules on a real SQLite repository with a simulated clock and
// seeded randomness: sign-up, sign-in with TOTP and recovery codes, replay
// refusal, lockout, sessions' lifetime, API keys, password change, deletion.
#include <gtest/gtest.h>

#include <filesystem>

#include "api_error.h"
#include "auth_service.h"
#include "fakes.h"
#include "sql_repository.h"

namespace mortise::server {
namespace {

namespace fs = std::filesystem;
using testing::FakeClock;
using testing::SeededRandom;

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("mortise-auth-");
    repo_ = OpenSqlite((dir_ / "db.sqlite").string());
    AuthSettings s;
    s.password_profile = PasswordProfile::kTestFast;
    auth_ = std::make_unique<AuthService>(*repo_, clock_, random_, s);
  }
  void TearDown() override {
    auth_.reset();
    repo_.reset();
    fs::remove_all(dir_);
  }

  // Runs `f`, expecting an ApiError with `code`.
  template <typename F>
  void ExpectError(const std::string& code, F f) {
    try {
      f();
      ADD_FAILURE() << "expected " << code;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  }

  std::string CurrentCode(const std::string& secret, int64_t offset_s = 0) {
    return TotpCode(*Base32Decode(secret), clock_.NowMs() / 1000 + offset_s, TotpParams{});
  }

  // An account with TOTP on; returns its recovery codes.
  std::vector<std::string> EnableTotp(const std::string& id, std::string* secret) {
    const auto e = auth_->BeginTotp(id);
    *secret = e.secret;
    return auth_->ConfirmTotp(id, CurrentCode(e.secret));
  }

  fs::path dir_;
  FakeClock clock_;
  SeededRandom random_{7};
  std::unique_ptr<SqlRepository> repo_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, SignUpNormalisesEmailAndRefusesDuplicatesAndWeakPasswords) {
  const auto a = auth_->SignUp("Ana@Example.ORG", "correct horse battery");
  EXPECT_EQ(a.email, "ana@example.org");
  EXPECT_TRUE(a.id.starts_with("acct_"));
  EXPECT_TRUE(a.password_hash.starts_with("$argon2id$"));
  ExpectError("email_taken", [&] { auth_->SignUp("ana@example.org", "another long password"); });
  ExpectError("weak_password", [&] { auth_->SignUp("bob@example.org", "short"); });
  ExpectError("invalid_email", [&] { auth_->SignUp("not an email", "correct horse battery"); });
  ExpectError("invalid_email", [&] { auth_->SignUp("a@b@c", "correct horse battery"); });
}

TEST_F(AuthServiceTest, SignInReturnsATokenStoredOnlyAsItsHash) {
  auth_->SignUp("ana@example.org", "correct horse battery");
  const auto s = auth_->SignIn("ANA@example.org", "correct horse battery", {}, "192.0.2.1");
  EXPECT_EQ(s.row.token_hash, Sha256Hex(s.token));
  EXPECT_NE(s.row.token_hash, s.token);
  EXPECT_EQ(repo_->QueryText("SELECT COUNT(*) FROM sessions WHERE token_hash = '" + s.token + "'"), "0");
  const auto p = auth_->AuthenticateSession(s.token);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->email, "ana@example.org");
  EXPECT_EQ(p->csrf_token, s.row.csrf_token);
  EXPECT_FALSE(auth_->AuthenticateSession(s.token + "x"));
  ExpectError("invalid_credentials", [&] { auth_->SignIn("ana@example.org", "wrong password!!", {}, "192.0.2.1"); });
  ExpectError("invalid_credentials", [&] { auth_->SignIn("nobody@example.org", "whatever long", {}, "192.0.2.1"); });
}

TEST_F(AuthServiceTest, SessionsEndAfterTheIdleTimeoutAndTheAbsoluteLifetime) {
  auth_->SignUp("ana@example.org", "correct horse battery");
  const auto s = auth_->SignIn("ana@example.org", "correct horse battery", {}, "a");
  clock_.Advance(12 * 3600 * 1000 - 1);
  EXPECT_TRUE(auth_->AuthenticateSession(s.token));  // touched: idle restarts
  clock_.Advance(12 * 3600 * 1000 - 1);
  EXPECT_TRUE(auth_->AuthenticateSession(s.token));
  clock_.Advance(12 * 3600 * 1000);
  EXPECT_FALSE(auth_->AuthenticateSession(s.token));  // idle 12 h

  const auto t = auth_->SignIn("ana@example.org", "correct horse battery", {}, "a");
  for (int i = 0; i < 14; ++i) {
    clock_.Advance(12 * 3600 * 1000 - 1000);
    EXPECT_TRUE(auth_->AuthenticateSession(t.token)) << i;
  }
  clock_.Advance(12 * 3600 * 1000 - 1000);
  EXPECT_FALSE(auth_->AuthenticateSession(t.token));  // past 7 days
}

TEST_F(AuthServiceTest, TotpIsRequiredOnceEnabledAndEachStepIsAcceptedOnce) {
  const auto a = auth_->SignUp("ana@example.org", "correct horse battery");
  std::string secret;
  const auto recovery = EnableTotp(a.id, &secret);
  EXPECT_EQ(recovery.size(), 10u);
  ExpectError("second_factor_required", [&] { auth_->SignIn("ana@example.org", "correct horse battery", {}, "a"); });
  // The enrolment code's step is used; the next step works once.
  clock_.Advance(30'000);
  const std::string code = CurrentCode(secret);
  EXPECT_NO_THROW(auth_->SignIn("ana@example.org", "correct horse battery", {code, std::nullopt}, "a"));
  ExpectError("invalid_second_factor",
              [&] { auth_->SignIn("ana@example.org", "correct horse battery", {code, std::nullopt}, "a"); });
  // An older step (inside the window) is refused too once a later one was used.
  clock_.Advance(30'000);
  ExpectError("invalid_second_factor", [&] {
    auth_->SignIn("ana@example.org", "correct horse battery", {CurrentCode(secret, -30), std::nullopt}, "a");
  });
  EXPECT_NO_THROW(
      auth_->SignIn("ana@example.org", "correct horse battery", {CurrentCode(secret, 30), std::nullopt}, "a"));
}

TEST_F(AuthServiceTest, RecoveryCodesAreOneTimeAndStoredHashed) {
  const auto a = auth_->SignUp("ana@example.org", "correct horse battery");
  std::string secret;
  const auto recovery = EnableTotp(a.id, &secret);
  EXPECT_EQ(repo_->QueryText("SELECT COUNT(*) FROM recovery_codes WHERE code_hash LIKE '%-%'"), "0");
  EXPECT_NO_THROW(auth_->SignIn("ana@example.org", "correct horse battery", {std::nullopt, recovery[3]}, "a"));
  EXPECT_EQ(repo_->CountRecoveryCodes(a.id), 9);
  ExpectError("invalid_second_factor",
              [&] { auth_->SignIn("ana@example.org", "correct horse battery", {std::nullopt, recovery[3]}, "a"); });
}

TEST_F(AuthServiceTest, RepeatedFailuresLockTheAccountEvenWithTheRightPassword) {
  auth_->SignUp("ana@example.org", "correct horse battery");
  for (int i = 0; i < 5; ++i) {
    ExpectError("invalid_credentials",
                [&] { auth_->SignIn("ana@example.org", "wrong password!!", {}, "10.0.0." + std::to_string(i)); });
  }
  ExpectError("account_locked", [&] { auth_->SignIn("ana@example.org", "correct horse battery", {}, "10.1.1.1"); });
  clock_.Advance(900'000);
  EXPECT_NO_THROW(auth_->SignIn("ana@example.org", "correct horse battery", {}, "10.1.1.1"));
}

TEST_F(AuthServiceTest, WrongSecondFactorsCountTowardsTheLockout) {
  const auto a = auth_->SignUp("ana@example.org", "correct horse battery");
  std::string secret;
  EnableTotp(a.id, &secret);
  for (int i = 0; i < 5; ++i) {
    ExpectError("invalid_second_factor", [&] {
      auth_->SignIn("ana@example.org", "correct horse battery", {std::string("000000"), std::nullopt}, "a");
    });
  }
  ExpectError("account_locked", [&] { auth_->SignIn("ana@example.org", "correct horse battery", {}, "a"); });
}

TEST_F(AuthServiceTest, PasswordChangeRechecksTheSecondFactorAndEndsOtherSessions) {
  const auto a = auth_->SignUp("ana@example.org", "correct horse battery");
  std::string secret;
  EnableTotp(a.id, &secret);
  clock_.Advance(30'000);
  const auto s1 = auth_->SignIn("ana@example.org", "correct horse battery", {CurrentCode(secret), std::nullopt}, "a");
  clock_.Advance(30'000);
  const auto s2 = auth_->SignIn("ana@example.org", "correct horse battery", {CurrentCode(secret), std::nullopt}, "a");
  const auto who = *auth_->AuthenticateSession(s1.token);
  ExpectError("second_factor_required",
              [&] { auth_->ChangePassword(who, "correct horse battery", "a new long password", {}); });
  ExpectError("invalid_credentials", [&] {
    auth_->ChangePassword(who, "wrong password!!", "a new long password", {CurrentCode(secret), std::nullopt});
  });
  clock_.Advance(30'000);
  auth_->ChangePassword(who, "correct horse battery", "a new long password", {CurrentCode(secret), std::nullopt});
  EXPECT_TRUE(auth_->AuthenticateSession(s1.token));
  EXPECT_FALSE(auth_->AuthenticateSession(s2.token));
  ExpectError("invalid_credentials", [&] { auth_->SignIn("ana@example.org", "correct horse battery", {}, "a"); });
}

TEST_F(AuthServiceTest, ASessionHolderGuessingThePasswordIsLockedOutToo) {
  auth_->SignUp("ana@example.org", "correct horse battery");
  const auto s = auth_->SignIn("ana@example.org", "correct horse battery", {}, "a");
  const auto who = *auth_->AuthenticateSession(s.token);
  for (int i = 0; i < 5; ++i) {
    ExpectError("invalid_credentials", [&] { auth_->ChangePassword(who, "guess number " + std::to_string(i), "a new long password", {}); });
  }
  ExpectError("account_locked", [&] { auth_->DeleteAccount(who, "correct horse battery", {}); });
  ExpectError("account_locked", [&] { auth_->SignIn("ana@example.org", "correct horse battery", {}, "b"); });
}

TEST_F(AuthServiceTest, ApiKeysAreHashedScopedAndRevocable) {
  const auto a = auth_->SignUp("ana@example.org", "correct horse battery");
  const auto k = auth_->CreateApiKey(a.id, "backup script", {"account:read"});
  EXPECT_TRUE(k.token.starts_with("mtk_"));
  EXPECT_EQ(repo_->QueryText("SELECT token_hash FROM api_keys"), Sha256Hex(k.token));
  clock_.Advance(5'000);
  const auto p = auth_->AuthenticateApiKey(k.token);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scopes, std::vector<std::string>{"account:read"});
  EXPECT_EQ(repo_->ApiKeys(a.id, "", 10).at(0).last_used_at, clock_.NowMs());
  ExpectError("invalid_scope", [&] { auth_->CreateApiKey(a.id, "x", {"doors:open"}); });
  ExpectError("invalid_name", [&] { auth_->CreateApiKey(a.id, "", {"account:read"}); });
  EXPECT_TRUE(repo_->DeleteApiKey(a.id, k.row.id));
  EXPECT_FALSE(auth_->AuthenticateApiKey(k.token));
}

TEST_F(AuthServiceTest, DeletingTheAccountRemovesEverythingItOwns) {
  const auto a = auth_->SignUp("ana@example.org", "correct horse battery");
  auth_->CreateApiKey(a.id, "k", {"account:read"});
  const auto s = auth_->SignIn("ana@example.org", "correct horse battery", {}, "a");
  const auto who = *auth_->AuthenticateSession(s.token);
  ExpectError("invalid_credentials", [&] { auth_->DeleteAccount(who, "wrong password!!", {}); });
  auth_->DeleteAccount(who, "correct horse battery", {});
  EXPECT_FALSE(repo_->AccountById(a.id));
  EXPECT_EQ(repo_->QueryText("SELECT COUNT(*) FROM sessions"), "0");
  EXPECT_EQ(repo_->QueryText("SELECT COUNT(*) FROM api_keys"), "0");
}

TEST_F(AuthServiceTest, SignOutEverywhereEndsEverySession) {
  auth_->SignUp("ana@example.org", "correct horse battery");
  const auto s1 = auth_->SignIn("ana@example.org", "correct horse battery", {}, "a");
  const auto s2 = auth_->SignIn("ana@example.org", "correct horse battery", {}, "b");
  auth_->SignOutEverywhere(s1.row.account_id);
  EXPECT_FALSE(auth_->AuthenticateSession(s1.token));
  EXPECT_FALSE(auth_->AuthenticateSession(s2.token));
}

TEST_F(AuthServiceTest, SeededRandomnessMakesIdsAndTokensReproducible) {
  FakeClock clock;
  SeededRandom r1(42), r2(42);
  EXPECT_EQ(RandomBase64Url(r1, 32), RandomBase64Url(r2, 32));
  EXPECT_NE(RandomBase64Url(r1, 32), RandomBase64Url(r1, 32));
}

}  // namespace
}  // namespace mortise::server
