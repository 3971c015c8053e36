#include "door_registration.h"

#include <sodium.h>

namespace mortise::server {
namespace {

constexpr std::string_view kDomain = "mortise-door-registration-v1";

}  // namespace

std::optional<std::vector<uint8_t>> DoorRegistrationMessage(std::span<const uint8_t> challenge,
                                                            std::string_view org_id,
                                                            std::span<const uint8_t> lock_id,
                                                            std::span<const uint8_t> lock_public_key) {
  if (challenge.size() != kDoorChallengeSize || lock_id.size() != kLockIdBytes ||
      lock_public_key.size() != kPublicKeyBytes || org_id.empty() || org_id.size() > 255) {
    return std::nullopt;
  }
  std::vector<uint8_t> m(kDomain.begin(), kDomain.end());
  m.insert(m.end(), challenge.begin(), challenge.end());
  m.push_back(static_cast<uint8_t>(org_id.size()));
  m.insert(m.end(), org_id.begin(), org_id.end());
  m.insert(m.end(), lock_id.begin(), lock_id.end());
  m.insert(m.end(), lock_public_key.begin(), lock_public_key.end());
  return m;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.resize(bytes.size() * 2);
  return out;
}

std::optional<std::vector<uint8_t>> FromHex(std::string_view hex, size_t size) {
  if (hex.size() != size * 2) return std::nullopt;
  std::vector<uint8_t> out(size);
  size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, &end) != 0 ||
      written != size || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace mortise::server
