// TOTP two-factor codes (RFC 6238 over RFC 4226 HOTP), and the base32 text
// (RFC 4648, no padding) authenticator apps take secrets in.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mortise::server {

enum class TotpAlgorithm { kSha1, kSha256, kSha512 };

// HOTP value (dynamic truncation, then mod 10^digits); digits 6..8.
uint32_t Hotp(std::span<const uint8_t> key, uint64_t counter, int digits, TotpAlgorithm alg);

struct TotpParams {
  int64_t step_seconds = 30;
  int digits = 6;
  TotpAlgorithm algorithm = TotpAlgorithm::kSha1;  // what every authenticator app supports
  // Steps accepted either side of now (clock drift between phone and server).
  int window = 1;
};

// The time step of `unix_seconds` (floor division; times before 1970 are
// not steps).
int64_t TotpStep(int64_t unix_seconds, const TotpParams& p);
// The code for `unix_seconds`, zero-padded to p.digits.
std::string TotpCode(std::span<const uint8_t> key, int64_t unix_seconds, const TotpParams& p);

// The step whose code equals `code` within now ± window, the latest first;
// nullopt if none (a code of the wrong length or with non-digits never
// matches). Comparison is constant-time per candidate. Replay refusal (a
// step already used) is the caller's: see Repository::ConsumeTotpStep.
std::optional<int64_t> TotpMatch(std::span<const uint8_t> key, std::string_view code, int64_t unix_seconds,
                                 const TotpParams& p);

std::string Base32Encode(std::span<const uint8_t> bytes);
// Case-insensitive, ignores spaces; no padding. nullopt on other characters.
std::optional<std::vector<uint8_t>> Base32Decode(std::string_view text);

// otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string OtpAuthUri(std::string_view issuer, std::string_view account, std::string_view base32_secret,
                       const TotpParams& p);

}  // namespace mortise::server
