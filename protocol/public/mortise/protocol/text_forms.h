// The text forms people pass between devices (message, e-mail, QR code),
// one implementation each (docs/protocol.md section 17):
//
//   MK1.   a key chain                   certificate.h  ChainToText / ChainFromText
//   MC1.   a lock's claim label          claim.h        EncodeLabel / ParseLabel
//   MKP1.  an identity's public key      here           PublicKeyToText / PublicKeyFromText
//   MKS1.  a share bundle                here           ShareToText / ShareFromText
//   MKR1.  a revalidation token          here           RevalidationTokenToText / RevalidationTokenFromText
//
// Every form is its prefix followed by base64url without padding of its
// bytes (base64url.h); parsing is strict, so each byte string has exactly
// one text. Portable: no heap, no exceptions. Decoders report what is
// wrong in a TextError so a program can say it in words (the CLI does).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/transfer.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr std::string_view kPublicKeyTextPrefix = "MKP1.";
inline constexpr std::string_view kShareTextPrefix = "MKS1.";
inline constexpr std::string_view kRevalidationTextPrefix = "MKR1.";
inline constexpr std::string_view kTransferTextPrefix = "MKT1.";

enum class TextForm : uint8_t {
  kUnknown = 0,
  kKeyChain = 1,            // MK1.
  kClaimLabel = 2,          // MC1.
  kPublicKey = 3,           // MKP1.
  kShare = 4,               // MKS1.
  kRevalidationToken = 5,   // MKR1.
  kTransfer = 6,            // MKT1.
};
// Which form `text` claims to be, by its prefix alone (case-sensitive).
TextForm IdentifyText(std::string_view text);

// Why a text or bundle was refused. `value` carries a number where the
// problem has one (a length, a version, a field type).
enum class TextProblem : uint8_t {
  kNone = 0,
  kWrongPrefix,         // another form's prefix, or none (IdentifyText says which)
  kTooLong,             // value: the text's length
  kBadBase64,           // a character outside base64url, padding, or cut off
  kWrongLength,         // value: the decoded length
  kBadPoint,            // not a valid P-256 point
  kEmpty,               // nothing after the prefix
  kShareVersion1,       // MKS1 version 1 (no check): refused
  kShareNoCheck,        // the bundle does not end with its check field
  kShareCheckMismatch,  // a character was changed or lost in copying
  kShareVersion,        // value: an unknown version
  kShareTruncatedHeader,
  kShareUnknownField,   // value: the field type
  kShareFieldOrder,     // a field repeated or out of order
  kShareTruncatedField, // value: the field type
  kShareLockKeyLength,  // value: the lock key's length
  kShareChainLength,    // value: the chain's length
  kShareEndpointHint,   // empty, too long or not printable
  kShareNameHint,       // not a valid name
  kShareNoLockKey,
  kShareNoChain,
  kChainEmptyOrTooLong,
  kChainUnexpectedField,
  kChainTruncated,
  kChainBadLength,      // a certificate length of more than two varint bytes
  kChainImpossibleSize, // a certificate of length 0 or above kMaxCertificateSize
  kChainTooManyCerts,
  kChainMalformedCert,
  kChainNotCanonical,
  kChainOtherLock,      // a certificate names another lock than the bundle's lock key
  kUnknownTransferVersion,  // value: an unknown MKT1 version
};
struct TextError {
  TextProblem problem = TextProblem::kNone;
  uint32_t value = 0;
};

// --- MKP1: an identity's public key -------------------------------------------
//
//   the compressed point (33 bytes) | check (4 bytes: the first 4 of
//   SHA-256 of the point), 55 characters. A text without the check (the
//   33-byte form of earlier versions, 49 characters) is still read: keys
//   already handed out keep working; only the new form catches a changed
//   character that happens to leave a valid point.

inline constexpr size_t kPublicKeyTextSize = 5 + ((crypto::kP256CompressedKeySize + 4) * 4 + 2) / 3;  // 55
inline constexpr size_t kLegacyPublicKeyTextSize = 5 + (crypto::kP256CompressedKeySize * 4 + 2) / 3;  // 49
// Returns kPublicKeyTextSize (the form with the check). kResourceExhausted:
// `out` too small.
Result<size_t> PublicKeyToText(const crypto::P256PublicKey& key, std::span<char> out);
// kInvalidArgument, with `why` (if given) set: wrong prefix, too long, bad
// base64url, neither 33 nor 37 bytes, a check that does not match
// (kShareCheckMismatch), not a valid point.
Result<crypto::P256PublicKey> PublicKeyFromText(std::string_view text, TextError* why = nullptr);

// --- MKR1: a revalidation token (an encoded RevalidationToken) ---------------

inline constexpr size_t kMaxRevalidationTextSize = 5 + (kMaxRevalidationTokenSize * 4 + 2) / 3;
// kInvalidArgument: an empty or oversized token. kResourceExhausted: `out` too small.
Result<size_t> RevalidationTokenToText(std::span<const uint8_t> token, std::span<char> out);
// The token's bytes (not decoded: DecodeRevalidationToken does that).
// kInvalidArgument (with `why`): wrong prefix, too long, bad base64url, empty.
Result<size_t> RevalidationTokenFromText(std::string_view text, std::span<uint8_t> out, TextError* why = nullptr);

// --- MKS1: a share bundle, version 2 ------------------------------------------
//
//   version (1 byte, 0x02), then fields as type (1) | length (2, big-endian)
//   | value, in strictly increasing type order, each at most once:
//     0x01 lock key       33 bytes, compressed P-256 point       required
//     0x02 key chain      1..kMaxChainSize bytes (KeyChain)       required
//     0x03 endpoint hint  1..255 printable ASCII bytes            optional
//     0x04 lock name hint 1..64 bytes, a valid name (IsValidName) optional
//     0x05 check          4 bytes: SHA-256 of every byte before this
//                         field's header, first 4 bytes            required, last

inline constexpr uint8_t kShareVersion = 2;
inline constexpr size_t kShareCheckSize = 4;
inline constexpr size_t kMaxEndpointHint = 255;
inline constexpr size_t kMaxNameLength = 64;
inline constexpr size_t kMaxShareBinary =
    1 + (3 + 33) + (3 + kMaxChainSize) + (3 + kMaxEndpointHint) + (3 + kMaxNameLength) + (3 + kShareCheckSize);
inline constexpr size_t kMaxShareText = 5 + (kMaxShareBinary * 4 + 2) / 3;

enum class ShareField : uint8_t {
  kLockKey = 0x01,
  kChain = 0x02,
  kEndpointHint = 0x03,
  kLockNameHint = 0x04,
  kCheck = 0x05,
};

struct ShareBundle {
  std::array<uint8_t, crypto::kP256PublicKeySize> lock_key{};  // uncompressed; sent compressed
  std::array<uint8_t, kMaxChainSize> chain{};
  size_t chain_len = 0;
  std::array<char, kMaxEndpointHint> endpoint_hint{};
  size_t endpoint_hint_len = 0;  // 0: none
  std::array<char, kMaxNameLength> lock_name_hint{};
  size_t lock_name_hint_len = 0;  // 0: none

  std::span<const uint8_t> chain_view() const { return std::span<const uint8_t>(chain.data(), chain_len); }
  std::string_view endpoint_view() const { return std::string_view(endpoint_hint.data(), endpoint_hint_len); }
  std::string_view name_view() const { return std::string_view(lock_name_hint.data(), lock_name_hint_len); }
};

// A bundle's chain, checked: the certificates (one or two) as spans into
// the chain, and the last one's fields (the holder's).
struct ShareChain {
  std::span<const uint8_t> certificates[2];
  size_t count = 0;
  CertificateFields holder;
};

// The check field's value for the bundle bytes before it.
std::array<uint8_t, kShareCheckSize> ShareCheck(std::span<const uint8_t> before);

// Names of identities and locks, and the lock name hint: 1..64 characters
// of [A-Za-z0-9._-], starting with a letter or digit.
bool IsValidName(std::string_view name);

// Splits an encoded KeyChain into its certificates. kInvalidArgument (with
// `why`) unless it holds one or two certificates that decode and the chain
// is in its one canonical encoding.
Result<ShareChain> SplitChain(std::span<const uint8_t> chain, TextError* why = nullptr);

// The bundle's binary form. kInvalidArgument (with `why`): a lock key that
// is not a point, a chain that does not split, hints out of range, or a
// chain naming another lock than the lock key (kChainOtherLock).
// kResourceExhausted: `out` too small (kMaxShareBinary always suffices).
Result<size_t> EncodeShare(const ShareBundle& bundle, std::span<uint8_t> out, TextError* why = nullptr);
// Strict inverse: the check first (damage is named as such), then known
// version, known field types in order, exact lengths, a valid lock point, a
// chain that splits canonically and names the lock key's lock.
Result<ShareBundle> DecodeShare(std::span<const uint8_t> bin, TextError* why = nullptr);

Result<size_t> ShareToText(const ShareBundle& bundle, std::span<char> out, TextError* why = nullptr);
Result<ShareBundle> ShareFromText(std::string_view text, TextError* why = nullptr);

// --- MKT1: an ownership transfer (transfer.h) ----------------------------------
//
//   version (1 byte, 1) | lock key (33, compressed) | transfer result (210,
//   as the lock answered TransferOwnership) | endpoint hint length (1) |
//   endpoint hint (0..255 printable ASCII) | lock name hint length (1) |
//   name (0..64, a valid name) | check (4: SHA-256 of every byte before it)
//
// What the old owner hands the new owner. Nothing in it is secret (the
// offline-PIN secret inside is sealed to the new owner's key) and nothing
// in it is trusted: the new owner's device checks the result's signature
// against the lock key it pins (OpenTransferResult); the check catches
// copying mistakes, not forgeries.

inline constexpr uint8_t kTransferTextVersion = 1;
inline constexpr size_t kMaxTransferBinary = 1 + 33 + kTransferResultSize + 1 + kMaxEndpointHint + 1 + kMaxNameLength + 4;
inline constexpr size_t kMaxTransferText = 5 + (kMaxTransferBinary * 4 + 2) / 3;

struct TransferBundle {
  std::array<uint8_t, crypto::kP256PublicKeySize> lock_key{};  // uncompressed; sent compressed
  std::array<uint8_t, kTransferResultSize> result{};
  std::array<char, kMaxEndpointHint> endpoint_hint{};
  size_t endpoint_hint_len = 0;
  std::array<char, kMaxNameLength> lock_name_hint{};
  size_t lock_name_hint_len = 0;

  std::string_view endpoint_view() const { return std::string_view(endpoint_hint.data(), endpoint_hint_len); }
  std::string_view name_view() const { return std::string_view(lock_name_hint.data(), lock_name_hint_len); }
};

// kInvalidArgument (with `why`): an invalid lock key or hint.
// kResourceExhausted: `out` too small (kMaxTransferText always fits).
Result<size_t> TransferToText(const TransferBundle& bundle, std::span<char> out, TextError* why = nullptr);
// kInvalidArgument (with `why`): wrong prefix, too long, bad base64url, a
// check that does not match, an unknown version, a wrong length, a lock key
// that is not a point, a hint that is not valid.
Result<TransferBundle> TransferFromText(std::string_view text, TextError* why = nullptr);

}  // namespace mortise::protocol
