// Key certificates: the owner's (or a delegated admin's) signed statement
// that a holder key may do certain things at this lock, within limits.
// Issued offline on the owner's device, carried by the holder, verified by
// the lock offline against the owner's public key installed at claiming.
//
// Wire form (proto/mortise.proto): KeyCertificate { tbs, signature }, the
// signature an ECDSA P-256 r||s over SHA-256("mortise-cert-v1\0" || tbs).
// A chain (KeyChain) holds one or two certificates, root-most first:
//   [holder]          issued by the owner
//   [admin, holder]   the admin's certificate issued by the owner and
//                     carrying kPermDelegate; the holder's issued by the admin
//                     under that very certificate (parent_serial)
// Every certificate names the lock's claim generation: a factory reset and
// a new claim, even by the same owner key, ends every earlier certificate.
// Decoding is strict (canonical encodings only, every size checked).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/permissions.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr uint32_t kCertificateVersion = 2;
// The key index of a certificate key the lock's key table has no room for
// (LockAuthority::KeyIndexOf); also "not assigned yet".
inline constexpr uint16_t kNoKeyIndex = 0xFFFF;
// Bounds of the encodings (checked against the schema in the source).
inline constexpr size_t kMaxCertificateSize = 232;
inline constexpr size_t kMaxChainSize = 472;
// "MK1." + base64url of a chain, no padding.
inline constexpr std::string_view kKeyTextPrefix = "MK1.";
inline constexpr size_t kMaxChainTextSize = 4 + (kMaxChainSize * 4 + 2) / 3;

// Where a key opens (KeyCertificateTbs.scope, docs/protocol.md 4.1). The
// numbers are the wire's.
enum class Scope : uint32_t {
  // The one lock named by lock_id, at its claim generation. On the wire the
  // scope field is left out (0) for it, so certificates from before scopes
  // keep their exact bytes; an explicit 1 is refused (a second encoding).
  kLock = 1,
  // Every lock of the owner whose signed group membership
  // (group_membership.h) lists group_id; lock_id and claim_generation are
  // absent (the membership names the lock and its claim generation).
  kGroup = 2,
};

// Local time of day [start_minute, end_minute) on the days of days_mask
// (bit 0 Sunday ... bit 6 Saturday). Requires 1 <= days_mask <= 0x7F and
// start_minute < end_minute <= 1440.
struct WeeklyWindow {
  uint8_t days_mask = 0;
  uint16_t start_minute = 0;
  uint16_t end_minute = 0;
};

// The signed fields of a certificate.
struct CertificateFields {
  LockId lock_id{};
  CompressedKey holder_key{};
  Role role = Role::kUnspecified;
  uint32_t permissions = 0;
  uint64_t not_before = 0;  // UTC seconds, 0: no lower bound
  uint64_t not_after = 0;   // UTC seconds, 0: no upper bound
  std::optional<WeeklyWindow> schedule;
  uint32_t max_uses = 0;    // 0: unlimited
  bool remote_only = false; // only through end-to-end remote commands
  uint64_t serial = 0;      // 64 random bits; with the issuer's key id it names the key
  KeyId issuer_key_id{};    // set by IssueCertificate from the issuer's key
  uint32_t issuer_epoch = 0;
  uint32_t revalidation_max_age = 0;  // seconds, 0: no revalidation needed
  uint32_t claim_generation = 0;      // the lock's, reported at claiming
  uint64_t parent_serial = 0;         // 0: owner-signed; else the issuing admin certificate's serial
  Scope scope = Scope::kLock;         // kGroup: lock_id and claim_generation are zero
  uint64_t group_id = 0;              // kGroup only, != 0

  KeyRef key_ref() const { return KeyRef{issuer_key_id, serial}; }

  // A time-limited key needs a known lock time to be used at all.
  bool time_limited() const { return not_before != 0 || not_after != 0 || schedule.has_value(); }
};

// Owner / admin side: encodes `fields` (issuer_key_id is taken from
// `issuer`), signs it, and writes the KeyCertificate to `out`.
// Returns the encoded length.
// kInvalidArgument: fields that could never verify (role unspecified,
// unknown permission bits, permissions beyond the role, an empty or inverted
// window or schedule, serial 0; a group scope with group_id 0 or with a
// claim generation, a lock scope with a group_id). kResourceExhausted: `out`
// too small.
// Signing errors: as P256KeyPair::Sign.
Result<size_t> IssueCertificate(const CertificateFields& fields, const crypto::P256KeyPair& issuer,
                                crypto::Drbg& drbg, std::span<uint8_t> out);

// Parses one KeyCertificate without checking its signature.
// kInvalidArgument: malformed or non-canonical encoding, a wrong size, or
// field values outside their ranges.
Result<CertificateFields> DecodeCertificate(std::span<const uint8_t> certificate);

// Builds a KeyChain from one or two encoded certificates (`second` empty for
// a chain of one). Returns the encoded length.
// kInvalidArgument: a certificate that does not parse.
// kResourceExhausted: `out` too small.
Result<size_t> EncodeChain(std::span<const uint8_t> first, std::span<const uint8_t> second, std::span<uint8_t> out);

// The text form for sharing (message, e-mail, QR): kKeyTextPrefix followed
// by base64url without padding. Returns the text length.
// kResourceExhausted: `out` too small. kInvalidArgument: chain too long.
Result<size_t> ChainToText(std::span<const uint8_t> chain, std::span<char> out);
// Strict inverse: exact prefix, only the base64url alphabet, no padding, no
// whitespace, canonical trailing bits. Returns the chain length.
// kInvalidArgument: anything else. kResourceExhausted: `out` too small.
Result<size_t> ChainFromText(std::string_view text, std::span<uint8_t> out);

// What the lock knows when it verifies a key.
struct VerifyContext {
  LockId lock_id{};
  const crypto::P256PublicKey* owner = nullptr;  // nullptr: the lock is not claimed
  std::optional<int64_t> utc_now;                // nullopt: the lock's time is unknown
  int32_t utc_offset_s = 0;                      // local time = UTC + offset (schedules)
  const AccessListState* access_list = nullptr;  // the owner's; nullptr: nothing revoked
  std::span<const AccessListState> admin_lists;  // each applies to its signer's keys only
  uint32_t claim_generation = 0;                 // every lock-scoped certificate must name it
  // The groups of the lock's current membership (group_membership.h): a
  // group-scoped certificate verifies only when its group is among them.
  std::span<const uint64_t> groups;
};

// The limits of one certificate that can change their verdict after it was
// verified: the access list may gain its key or raise its issuer's epoch,
// the lock may be claimed anew, time moves, and uses are spent.
struct KeyLimits {
  uint64_t serial = 0;
  KeyId issuer{};
  uint32_t epoch = 0;
  uint64_t not_before = 0;
  uint64_t not_after = 0;
  std::optional<WeeklyWindow> schedule;
  uint32_t claim_generation = 0;
  uint32_t max_uses = 0;  // 0: unlimited
  uint64_t group_id = 0;  // a group-scoped certificate's group (0: lock scope)

  KeyRef key_ref() const { return KeyRef{issuer, serial}; }
};

// A key the lock has verified.
struct VerifiedKey {
  Grant grant;                // role and effective permissions
  CompressedKey holder_key{};
  uint64_t serial = 0;        // the holder certificate's serial
  uint32_t max_uses = 0;      // the holder certificate's, 0: unlimited; every
                              // use-limited certificate of the chain is counted
                              // by LockAuthority::ConsumeUse
  bool remote_only = false;   // either certificate of the chain
  uint8_t depth = 0;          // 0 (the owner's own key), 1 or 2 certificates
  KeyLimits limits[2];        // of each certificate, root-most first
  // Keys whose chain demands revalidation: the last UTC second at which the
  // key may still act, issued_at of its token + the smallest
  // revalidation_max_age of the chain. nullopt: no bound (no certificate of
  // the chain demands revalidation, or the owner's own key). RecheckKey
  // refuses the key after it, so a session cannot outlive its token.
  std::optional<uint64_t> revalidated_until;
  // The certificate of the delegated key that signed the token (nullopt:
  // signed by the owner, or no token). RecheckKey applies the access list
  // and the time to it too, so revoking a revalidation key ends the
  // sessions its tokens opened.
  std::optional<KeyLimits> revalidated_by;
  // The index the lock's key table gave this key (LockAuthority::KeyIndexOf),
  // set by the command executor before the key acts, so handlers record the
  // same index (KeyCredential). kNoKeyIndex until then.
  uint16_t key_index = kNoKeyIndex;

  // The holder certificate's identity (depth >= 1).
  KeyRef key_ref() const { return depth == 0 ? KeyRef{} : limits[depth - 1].key_ref(); }
};

// The owner's own key, which needs no certificate.
VerifiedKey OwnerKey(const crypto::P256PublicKey& owner);

// Verifies a KeyChain at the lock, offline. Checks, in order: encoding;
// that the lock is claimed; each signature up to the owner's key; the
// delegation rules (an admin with kPermDelegate, no more than it holds, a
// window inside its own, a use limit no larger than its own, issued under
// that certificate (parent_serial), no further delegation); lock id and
// claim generation; role x permission consistency; the access list
// (revoked, disabled, below the issuer's minimum epoch); revalidation; time
// window and schedule of every certificate.
// kInvalidArgument: malformed chain or certificate.
// kFailedPrecondition: the lock has no owner yet; or a time-limited
//   certificate while the lock's time is unknown (fail closed).
// kUnauthenticated: a signature does not verify, or an issuer is not the
//   owner (or, for a holder, the admin before it).
// kPermissionDenied: another lock's certificate, or one of another claim
//   generation; a group-scoped certificate whose group the lock's current
//   membership does not list (or a delegated chain whose two certificates
//   differ in scope or group); permissions beyond the role; bad delegation (including a
//   leaf not issued under the admin certificate it comes with, or with more
//   uses than it); revoked, disabled or below the minimum epoch; a
//   certificate demands revalidation (revalidation_max_age != 0), and this
//   overload carries no token.
// kOutOfRange: before not_before, after not_after, or outside the schedule.
Result<VerifiedKey> VerifyChain(std::span<const uint8_t> chain, const VerifyContext& context);

// The same with a revalidation token (revalidation.h; may be empty). The
// token is examined only when some certificate of the chain demands
// revalidation; otherwise it is ignored and the result is VerifyChain's.
// When demanded, after the access list and before the time windows, the
// token must (first failure decides):
//   parse strictly                                  else kInvalidArgument
//   name this lock, the holder certificate's serial
//   and KeyIdOf its holder key                      else kPermissionDenied
//   be judged on a known lock time                  else kFailedPrecondition
//   have issued_at <= now + kRevalidationMaxSkewS
//   and now - issued_at <= the smallest
//   revalidation_max_age of the chain              else kOutOfRange
//   be signed by the owner, or by the holder of an
//   owner-issued certificate carried in the token   else kUnauthenticated
//   and that certificate: for this lock, consistent
//   with its role, holding kPermRevalidate, not
//   itself demanding revalidation, not for a key of
//   the chain being revalidated (no self-revalidation),
//   not revoked, disabled or below its epoch         else kPermissionDenied
//   and within its window and schedule              else kOutOfRange
// A chain that demands revalidation with an empty token: kPermissionDenied.
// On success the key's revalidated_until (and revalidated_by) are set.
Result<VerifiedKey> VerifyChain(std::span<const uint8_t> chain, std::span<const uint8_t> revalidation,
                                const VerifyContext& context);

// Applies the access list, the group membership and the time to a key
// verified earlier, with no asymmetric operation (a door taken out of a
// group refuses the group's keys inside open sessions too): sessions call it before every command, so a
// revocation or an expiry takes effect inside an open or resumed session.
// kPermissionDenied / kFailedPrecondition / kOutOfRange as VerifyChain;
// for a revalidated key also kFailedPrecondition while the time is unknown
// and kOutOfRange once now > revalidated_until (fetch a new token), and the
// access list and time applied to the certificate that signed its token.
// The owner's own key (depth 0) always passes.
Status RecheckKey(const VerifiedKey& key, const VerifyContext& context);

}  // namespace mortise::protocol
