// End-to-end remote envelopes: constants and helpers shared by the lock side
// (remote.cc) and the holder side (remote_client.cc). Internal to the module.
#pragma once

#include "mortise/protocol/remote.h"
#include <cstring>
#include "certificate_internal.h"
#include "codec.h"
#include "mortise.pb.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/records.h"

namespace mortise::protocol::remote_detail {


static_assert(mortise_RemoteCommand_size <= kMaxRemoteMessageSize);
static_assert(mortise_RemoteResult_size <= kMaxRemoteMessageSize);
static_assert(kMaxRevalidationTokenSize <= sizeof(mortise_RemoteCommandTbs{}.revalidation.bytes));

inline constexpr uint8_t kCommandDomain[] = "mortise-remote-v1";         // signed with its NUL
inline constexpr uint8_t kResultDomain[] = "mortise-remote-result-v1";   // signed with its NUL
inline constexpr uint8_t kUnverifiedDomain[] = "mortise-remote-unverified-v1";
inline constexpr uint8_t kPinInfo[] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'r', 'e', 'm', 'o', 't', 'e',
                                '-', 'p', 'i', 'n', '-', 'v', '1'};
inline constexpr size_t kMinPin = 4;
inline constexpr size_t kMaxPin = 8;

template <typename BytesT>
std::span<const uint8_t> View(const BytesT& field) {
  return std::span<const uint8_t>(field.bytes, field.size);
}

using internal::DomainDigest;

// Names a holder key in the replay cache from its wire encoding alone (no
// point decompression before the cheap checks): 8 bytes of SHA-256.
inline RemoteServer::ReplayId ReplayIdOf(std::span<const uint8_t> compressed_key) {
  const crypto::Digest d = crypto::Sha256::Hash(compressed_key);
  RemoteServer::ReplayId id{};
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

// The PIN key: HKDF(salt = envelope nonce, ECDH(ephemeral, lock key)).
inline Status PinKey(const crypto::SecretBytes<crypto::kP256SharedSecretSize>& shared, std::span<const uint8_t> nonce,
              crypto::SecretBytes<16>& key) {
  return crypto::HkdfSha256(nonce, shared.span(), kPinInfo, key.span());
}

// AAD of the sealed PIN: lock id || holder key, so it cannot be moved.
struct PinAad {
  uint8_t bytes[kLockIdSize + crypto::kP256CompressedKeySize];
  PinAad(std::span<const uint8_t> lock_id, std::span<const uint8_t> holder) {
    std::memcpy(bytes, lock_id.data(), kLockIdSize);
    std::memcpy(bytes + kLockIdSize, holder.data(), crypto::kP256CompressedKeySize);
  }
};

}  // namespace mortise::protocol::remote_detail
