// Password storage: Argon2id through libsodium's crypto_pwhash_str (the
// encoded string carries its salt and parameters).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mortise::server {

enum class PasswordProfile {
  // libsodium INTERACTIVE: 2 passes over 64 MiB (the production default).
  kInteractive,
  // libsodium MODERATE: 3 passes over 256 MiB.
  kModerate,
  // 1 pass over 8 KiB: for tests only. The server refuses it unless every
  // listen address is loopback (see Config validation).
  kTestFast,
};

std::optional<PasswordProfile> ParsePasswordProfile(std::string_view name);
std::string_view PasswordProfileName(PasswordProfile p);

class PasswordHasher {
 public:
  explicit PasswordHasher(PasswordProfile profile) : profile_(profile) {}
  // Throws std::runtime_error if the hash cannot be computed (out of memory).
  std::string Hash(std::string_view password) const;
  // Constant-time in the password; false for a malformed hash.
  bool Verify(std::string_view encoded, std::string_view password) const;
  // The hash was made with other parameters than this profile's (rehash on
  // the next successful sign-in).
  bool NeedsRehash(std::string_view encoded) const;
  PasswordProfile profile() const { return profile_; }

 private:
  PasswordProfile profile_;
};

}  // namespace mortise::server
