// Text forms of keys that people pass between devices (message, e-mail, QR):
//
//   MKP1.<base64url of a 33-byte compressed P-256 public key>
//       an identity's public half: what a guest gives the owner so the owner
//       can issue a certificate for it (`mortise id show`).
//   MKS1.<base64url of a share bundle>
//       what the owner gives the guest (`mortise key share`): the key chain
//       (certificates up to the owner) plus the lock's public key, which the
//       guest pins, and hints for the lock's endpoint and name.
//
// The holder's private key is never in any of them: the guest makes its own
// identity and only its public key travels. (The bare chain text "MK1." of
// protocol/certificate.h is what the lock needs; MKS1 adds what the guest's
// device needs to find and pin the lock.)
//
// Share bundle, version 2 (docs/cli.md):
//   version (1 byte, 0x02), then fields as type (1) | length (2, big-endian)
//   | value, in strictly increasing type order, each at most once:
//     0x01 lock key       33 bytes, compressed P-256 point     required
//     0x02 key chain      1..kMaxChainSize bytes (KeyChain)     required
//     0x03 endpoint hint  1..255 printable ASCII bytes          optional
//     0x04 lock name hint 1..64 bytes, a valid name (IsValidName) optional
//     0x05 check          4 bytes: SHA-256 of every byte before this
//                         field's header, first 4 bytes          required, last
// The check catches a character changed or lost in copying (a holder cannot
// verify the owner's signatures: it does not know the owner's key; the lock
// does), so a damaged string is refused at accept, not at the door.
// Version 1 (the same without the check) is refused: ask for a new string.
// The lock id is not repeated: it is SHA-256 of the lock key (identity.h),
// and every certificate of the chain must name exactly that lock.
//
// Parsing is strict (one text per bundle): exact prefix, strict base64url,
// known version, known field types in order, exact lengths, no trailing
// bytes, a valid lock point, a chain that decodes canonically. Every
// refusal throws Error with ExitCode::kBadInput and says what is wrong,
// except a chain naming another lock than the lock key: kVerification.
//
// This library (mortise_cli_key_string) has no dependency beyond the
// protocol and crypto modules, so its fuzzer builds in the fuzz preset.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/identity.h"

namespace mortise::cli {

inline constexpr std::string_view kPublicKeyPrefix = "MKP1.";
inline constexpr std::string_view kSharePrefix = "MKS1.";
inline constexpr uint8_t kShareVersion = 2;
inline constexpr size_t kShareCheckSize = 4;
inline constexpr size_t kMaxEndpointHint = 255;
inline constexpr size_t kMaxNameLength = 64;
// Longest MKS1 text a valid bundle can have (every field at its maximum).
inline constexpr size_t kMaxShareBinary =
    1 + (3 + 33) + (3 + protocol::kMaxChainSize) + (3 + kMaxEndpointHint) + (3 + kMaxNameLength) + (3 + kShareCheckSize);
inline constexpr size_t kMaxShareText = 5 + (kMaxShareBinary * 4 + 2) / 3;

enum class ShareField : uint8_t {
  kLockKey = 0x01,
  kChain = 0x02,
  kEndpointHint = 0x03,
  kLockNameHint = 0x04,
  kCheck = 0x05,
};

// The check field's value for the bundle bytes before it.
std::array<uint8_t, kShareCheckSize> ShareCheck(std::span<const uint8_t> before);

// Names of identities and locks in the keyring, and the lock name hint:
// 1..64 characters of [A-Za-z0-9._-], starting with a letter or digit.
bool IsValidName(std::string_view name);

// "MKP1." + base64url(compressed key): 49 characters.
std::string EncodePublicKeyString(const crypto::P256PublicKey& key);
// Throws Error(kBadInput): wrong prefix, bad base64url, not 33 bytes, not a
// valid compressed point.
crypto::P256PublicKey ParsePublicKeyString(std::string_view text);

struct ShareBundle {
  std::array<uint8_t, crypto::kP256PublicKeySize> lock_key{};  // uncompressed; sent compressed
  std::vector<uint8_t> chain;                                   // an encoded KeyChain
  std::string endpoint_hint;                                    // empty: none
  std::string lock_name_hint;                                   // empty: none
};

struct ParsedShare {
  ShareBundle bundle;
  protocol::LockId lock_id{};            // derived from the lock key
  protocol::CertificateFields holder;    // the last certificate: the guest's own
  size_t certificates = 0;               // 1 (owner-issued) or 2 (delegated by an admin)
};

// Throws Error(kBadInput) if the bundle would not parse back (a lock key
// that is not a point, a malformed chain, hints out of range) and
// Error(kVerification) if the chain names another lock.
std::string EncodeShareString(const ShareBundle& bundle);
// Throws as described at the top of this header.
ParsedShare ParseShareString(std::string_view text);

// The certificates of an encoded KeyChain, each as its encoded bytes.
// Throws Error(kBadInput) unless it holds one or two certificates that
// decode and the chain is in its one canonical encoding.
std::vector<std::vector<uint8_t>> SplitChain(std::span<const uint8_t> chain);

// Lower-case hex, and its strict inverse (nullopt on odd length or a
// non-hex character) for keyring fields and printing.
std::string ToHex(std::span<const uint8_t> bytes);
bool FromHex(std::string_view hex, std::vector<uint8_t>& out);

}  // namespace mortise::cli
