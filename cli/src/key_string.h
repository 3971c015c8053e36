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
// The formats (share bundle version 2, the strict parsing rules) are the
// protocol library's, one implementation for every program
// (mortise/protocol/text_forms.h, docs/protocol.md section 17); this file
// turns them into std::string and its refusals into messages that say what
// is wrong. Every refusal throws Error with ExitCode::kBadInput, except a
// chain naming another lock than the lock key: kVerification.
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
#include "mortise/protocol/text_forms.h"

namespace mortise::cli {

inline constexpr std::string_view kPublicKeyPrefix = protocol::kPublicKeyTextPrefix;
inline constexpr std::string_view kSharePrefix = protocol::kShareTextPrefix;
inline constexpr std::string_view kTransferPrefix = protocol::kTransferTextPrefix;
using protocol::IsValidName;
using protocol::kMaxEndpointHint;
using protocol::kMaxNameLength;
using protocol::kMaxShareBinary;
using protocol::kMaxShareText;
using protocol::kShareCheckSize;
using protocol::kShareVersion;
using protocol::ShareCheck;
using protocol::ShareField;

// `text` without the spaces, tabs and line ends around it (what a person
// pastes); the parsers below accept none.
std::string Trimmed(std::string_view text);

// "MKP1." + base64url(compressed key | check): 55 characters.
std::string EncodePublicKeyString(const crypto::P256PublicKey& key);
// Throws Error(kBadInput): wrong prefix, bad base64url, not 33 bytes (the
// form without check) or 37, a check that does not match (a character
// changed in copying), not a valid compressed point.
crypto::P256PublicKey ParsePublicKeyString(std::string_view text);

// "MKT1." + an ownership transfer (protocol/transfer.h): what the old owner
// hands the new owner. Throws Error(kBadInput) as ParsePublicKeyString does.
std::string EncodeTransferString(const protocol::TransferBundle& bundle);
protocol::TransferBundle ParseTransferString(std::string_view text);

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

// "MKR1." + base64url(token); and its inverse, which returns the token's
// bytes (DecodeRevalidationToken decodes them). Throws Error(kBadInput):
// another prefix ("not a revalidation token"), a malformed body.
std::string EncodeRevalidationString(std::span<const uint8_t> token);
std::vector<uint8_t> ParseRevalidationString(std::string_view text);

// Lower-case hex, and its strict inverse (nullopt on odd length or a
// non-hex character) for keyring fields and printing.
std::string ToHex(std::span<const uint8_t> bytes);
bool FromHex(std::string_view hex, std::vector<uint8_t>& out);

}  // namespace mortise::cli
