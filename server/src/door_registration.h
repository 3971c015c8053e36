// What an owner signs to register a claimed lock with an organisation
// (docs/server.md "Registering a door"): proof that the registrant holds the
// lock's owner key, bound to one server challenge, one organisation and one
// lock. Shared by the server (which verifies) and the CLI (which signs), so
// the bytes are defined once.
//
//   "mortise-door-registration-v1"   28 ASCII bytes (domain separation)
//   challenge                        32 bytes, from the server, single use
//   len(org_id) || org_id            1 byte, then the id's ASCII
//   lock_id                          16 bytes (SHA-256 of the lock key, first 16)
//   lock_public_key                  65 bytes, SEC 1 uncompressed
//
// signed with ECDSA P-256 / SHA-256 by the owner key, 64 bytes r||s.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mortise::server {

inline constexpr size_t kDoorChallengeSize = 32;
inline constexpr size_t kLockIdBytes = 16;
inline constexpr size_t kPublicKeyBytes = 65;
inline constexpr size_t kSignatureBytes = 64;

// nullopt when a field has the wrong size or the org id is longer than 255.
std::optional<std::vector<uint8_t>> DoorRegistrationMessage(std::span<const uint8_t> challenge,
                                                            std::string_view org_id,
                                                            std::span<const uint8_t> lock_id,
                                                            std::span<const uint8_t> lock_public_key);

// Lower-case hex of `bytes`; the decoding of `hex` when it is exactly
// `size` bytes of hex (either case), nullopt otherwise.
std::string ToHex(std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> FromHex(std::string_view hex, size_t size);

}  // namespace mortise::server
