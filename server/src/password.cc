#include "password.h"

#include <stdexcept>

#include <sodium.h>

namespace mortise::server {
namespace {

struct Limits {
  unsigned long long ops;
  size_t mem;
};

Limits LimitsOf(PasswordProfile p) {
  switch (p) {
    case PasswordProfile::kInteractive:
      return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
    case PasswordProfile::kModerate:
      return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
    case PasswordProfile::kTestFast:
      return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  }
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

}  // namespace

std::optional<PasswordProfile> ParsePasswordProfile(std::string_view name) {
  if (name == "interactive") return PasswordProfile::kInteractive;
  if (name == "moderate") return PasswordProfile::kModerate;
  if (name == "test-fast") return PasswordProfile::kTestFast;
  return std::nullopt;
}

std::string_view PasswordProfileName(PasswordProfile p) {
  switch (p) {
    case PasswordProfile::kInteractive:
      return "interactive";
    case PasswordProfile::kModerate:
      return "moderate";
    case PasswordProfile::kTestFast:
      return "test-fast";
  }
  return "interactive";
}

std::string PasswordHasher::Hash(std::string_view password) const {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  const Limits l = LimitsOf(profile_);
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), l.ops, l.mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("Argon2id hashing failed (out of memory)");
  }
  return out;
}

bool PasswordHasher::Verify(std::string_view encoded, std::string_view password) const {
  if (encoded.size() >= crypto_pwhash_STRBYTES) return false;
  std::string z(encoded);  // NUL-terminated
  return crypto_pwhash_str_verify(z.c_str(), password.data(), password.size()) == 0;
}

bool PasswordHasher::NeedsRehash(std::string_view encoded) const {
  const Limits l = LimitsOf(profile_);
  std::string z(encoded);
  return crypto_pwhash_str_needs_rehash(z.c_str(), l.ops, l.mem) != 0;
}

}  // namespace mortise::server
