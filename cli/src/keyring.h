// The keyring: one file with everything the user's device knows and keeps
// secret: its identities (P-256 private keys), the locks it talks to (each
// lock's pinned public key, endpoint, the user's role and key chain), and,
// for the locks it owns, the offline-PIN secret, the access-list state and
// the keys it issued. It is the "phone app's" storage; the lock remains the
// authority on everything in it.
//
// File format (docs/cli.md, "Keyring"):
//
//   offset size
//        0    4  magic "MKK1" ("MKR1" in files written before issue 9:
//                 still read, rewritten as "MKK1" at the next save, so the
//                 keyring never shares a magic with the revalidation
//                 token's text form MKR1.)
//        4    1  format version (1)
//        5    1  KDF algorithm (1: Argon2id v1.3, libsodium crypto_pwhash)
//        6    2  reserved, 0
//        8    4  opslimit, little-endian
//       12    8  memlimit in bytes, little-endian
//       20   16  salt (random per keyring)
//       36   24  nonce (random per write)
//       60    -  XChaCha20-Poly1305-IETF(key, nonce, AD = bytes 0..59)
//                of the JSON document, with its 16-byte tag at the end
//
//   key = Argon2id(passphrase, salt, opslimit, memlimit), 32 bytes.
//
// The header is the AEAD's associated data, so a changed KDF parameter,
// salt or version fails authentication like a changed ciphertext. Reading
// uses the parameters in the file; the parameters of a new keyring come
// from KdfParams::ForNewKeyring() (MORTISE_KEYRING_KDF=fast: test only).
//
// Writes are atomic (a temporary file in the same directory, fsync, rename,
// fsync of the directory), so a crash or a failed write leaves the old file
// whole; the file's mode is 0600. Read-modify-write runs under an flock on
// "<keyring>.lock" (Access::kUpdate: exclusive; kRead: shared).
//
// Every failure throws Error: ExitCode::kKeyring for the file (missing,
// malformed, wrong passphrase, locked, cannot be written), ExitCode::kUsage
// for a caller's request the content refuses (duplicate or unknown names).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/crypto/secret.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/permissions.h"

namespace mortise::cli {

inline constexpr char kKeyringMagic[4] = {'M', 'K', 'K', '1'};
// The magic of keyrings written before issue 9 (it clashed with the
// revalidation token's MKR1 text form): read, never written.
inline constexpr char kKeyringLegacyMagic[4] = {'M', 'K', 'R', '1'};
inline constexpr uint8_t kKeyringVersion = 1;
inline constexpr uint8_t kKdfArgon2id13 = 1;
inline constexpr size_t kKeyringSaltSize = 16;
inline constexpr size_t kKeyringNonceSize = 24;
inline constexpr size_t kKeyringHeaderSize = 60;
inline constexpr size_t kKeyringTagSize = 16;
// Larger files are refused as damaged before anything is decrypted.
inline constexpr size_t kMaxKeyringFileSize = 16 * 1024 * 1024;

struct KdfParams {
  uint32_t opslimit = 3;
  uint64_t memlimit = 64ull * 1024 * 1024;

  // ops 3, 64 MiB: about a quarter of a second on a laptop.
  static KdfParams Default();
  // crypto_pwhash's minimum limits. Tests only: offers no protection of a
  // stolen keyring against guessing.
  static KdfParams Fast();
  // Fast() when the environment says MORTISE_KEYRING_KDF=fast, else
  // Default(). Only new keyrings use it; reading uses the file's header.
  static KdfParams ForNewKeyring();
  // The limits accepted when reading a header: crypto_pwhash's minimums up
  // to ops 32 and 4 GiB, so a tampered header cannot make the CLI spin or
  // allocate without bound before authentication fails.
  bool Acceptable() const;
  friend bool operator==(const KdfParams&, const KdfParams&) = default;
};

// One of the user's key pairs.
struct IdentityEntry {
  std::string name;
  crypto::SecretBytes<crypto::kP256ScalarSize> private_key;
  std::array<uint8_t, crypto::kP256PublicKeySize> public_key{};
  int64_t created = 0;  // UTC seconds
  nlohmann::json extra = nlohmann::json::object();  // unknown members, kept as read

  // The key pair (the public key is re-derived from the scalar and must
  // match the stored one). Throws Error(kKeyring) otherwise.
  crypto::P256KeyPair KeyPair() const;
  crypto::P256PublicKey PublicKey() const;
};

// A certificate this device issued (owner, or an admin with delegate).
struct IssuedKey {
  uint64_t serial = 0;
  std::string holder_name;  // the owner's label for the holder ("alice")
  protocol::CompressedKey holder_key{};
  protocol::Role role = protocol::Role::kGuest;
  uint32_t permissions = 0;
  uint64_t not_before = 0;  // UTC seconds, 0: none
  uint64_t not_after = 0;   // UTC seconds, 0: none
  std::optional<protocol::WeeklyWindow> schedule;
  uint32_t max_uses = 0;
  bool remote_only = false;
  bool revoked = false;
  int64_t issued_at = 0;
  std::vector<uint8_t> chain;  // the KeyChain handed out, to share it again
  nlohmann::json extra = nlohmann::json::object();
};

// What the owner's device knows of the lock's access list (a snapshot: see
// protocol/access_list.h). The owner signs the next snapshot from it.
struct AccessListKnowledge {
  uint64_t version = 0;  // the highest version signed (or seen) for this lock
  uint64_t floor = 0;    // the lock's floor from claiming: versions must exceed it
  std::vector<protocol::KeyRef> revoked;   // (issuer key id, serial)
  std::vector<protocol::KeyRef> disabled;
  std::vector<protocol::IssuerMinEpoch> min_epochs;

  // The next snapshot for claim generation `claim_generation`: version
  // max(version, floor) + 1 and the lists as they are. Throws
  // Error(kUsage) when a list exceeds the protocol's capacity (revoke by
  // raising an issuer's epoch instead).
  protocol::AccessListState NextSnapshot(uint32_t claim_generation) const;
};

struct LockEntry {
  std::string name;  // local name, IsValidName
  protocol::LockId lock_id{};
  std::array<uint8_t, crypto::kP256PublicKeySize> lock_key{};  // pinned at claim or accept
  std::string endpoint;  // "unix:/path", "/path" or "tcp:host:port"
  protocol::Role role = protocol::Role::kGuest;
  std::string identity;          // which IdentityEntry this device uses with the lock
  std::vector<uint8_t> chain;    // my KeyChain; empty when I am the owner
  // Owner only.
  std::optional<crypto::SecretBytes<32>> offline_pin_secret;
  AccessListKnowledge access_list;
  uint32_t claim_generation = 0;  // the lock's, from the claim: certificates and lists name it
  uint32_t issuer_epoch = 0;     // the epoch this device signs certificates at
  std::vector<IssuedKey> issued;
  // Everyone.
  uint32_t remote_counter = 0;   // last counter used in a remote envelope
  uint64_t log_cursor = 0;       // last audit-log sequence number verified
  int64_t added_at = 0;
  nlohmann::json extra = nlohmann::json::object();

  bool is_owner() const { return role == protocol::Role::kOwner; }
  crypto::P256PublicKey LockKey() const;  // throws Error(kKeyring) if damaged

  // A random non-zero 64-bit serial that no issued key of this lock uses
  // (protocol.md 4.1: a key is (issuer key id, serial); the lock's log
  // names it by an index the lock assigns, so serials need no small range).
  uint64_t NewSerial(crypto::Drbg& drbg) const;
  // Records a certificate handed out. Throws Error(kUsage) on a serial
  // already recorded.
  void RecordIssuedKey(IssuedKey key);
  IssuedKey* FindIssued(uint64_t serial);
  // Marks the key revoked and adds (issuer, serial) to the access list (not
  // yet signed: call access_list.NextSnapshot(), sign, set
  // access_list.version, and save before handing the update out). `issuer`
  // is the key id of this device's identity, which issued it. Throws
  // Error(kUsage) if no such serial was issued here.
  void Revoke(uint64_t serial, const protocol::KeyId& issuer);
  // The counter for the next remote envelope (strictly increasing; the
  // caller saves the keyring before sending). Throws Error(kInternal) when
  // the 32-bit counter is exhausted.
  uint32_t NextRemoteCounter();
  // Moves the log cursor forward; never backwards (a lower value is ignored).
  void AdvanceLogCursor(uint64_t seq);
  // This device issued a log-custody key for the lock that it has not
  // revoked (mortise status then shows the lock's upload cursor).
  bool HasCustodyKey() const;
};

// A shared key received and not yet accepted.
struct PendingKey {
  std::string text;  // the MKS1 string
  std::string from;  // free text: who sent it, through what
  int64_t received_at = 0;
  nlohmann::json extra = nlohmann::json::object();
};

// The decrypted content. Methods that change it throw Error(kUsage) with a
// message for the user when the request does not fit the content.
class KeyringContent {
 public:
  const std::vector<IdentityEntry>& identities() const { return identities_; }
  const IdentityEntry* FindIdentity(std::string_view name) const;
  // The identity named `name`, or the default one when `name` is empty.
  // Throws Error(kUsage) if there is none.
  const IdentityEntry& GetIdentity(std::string_view name = {}) const;
  const std::string& default_identity() const { return default_identity_; }
  void SetDefaultIdentity(std::string_view name);
  // Generates a P-256 key pair; the first identity becomes the default.
  // Throws Error(kUsage) on an invalid or duplicate name.
  const IdentityEntry& AddIdentity(std::string_view name, crypto::Drbg& drbg, int64_t now);

  const std::vector<LockEntry>& locks() const { return locks_; }
  LockEntry* FindLock(std::string_view name);
  LockEntry* FindLockById(const protocol::LockId& id);
  // The lock named `name`, or the only lock when `name` is empty. Throws
  // Error(kUsage) when there is no such lock, none, or several and no name.
  LockEntry& SelectLock(std::string_view name);
  // Throws Error(kUsage) on an invalid or duplicate name, a lock id already
  // known under another name, or an identity that does not exist.
  LockEntry& AddLock(LockEntry entry);
  // Throws Error(kUsage) if there is no such lock.
  void ForgetLock(std::string_view name);

  const std::vector<PendingKey>& pending_keys() const { return pending_; }
  void AddPendingKey(PendingKey key);
  // Throws Error(kUsage) on an index out of range.
  void RemovePendingKey(size_t index);

  // JSON schema: docs/cli.md. FromJson throws Error(kKeyring) on a document
  // that does not follow it; members it does not know are kept and written
  // back unchanged.
  nlohmann::json ToJson() const;
  static KeyringContent FromJson(const nlohmann::json& doc);

  // Top-level members this class does not model (kept as read), among them
  // the owner's access groups, "groups" (commands_groups.cc, docs/cli.md 3.4).
  nlohmann::json& extra() { return extra_; }

 private:
  std::vector<IdentityEntry> identities_;
  std::string default_identity_;
  std::vector<LockEntry> locks_;
  std::vector<PendingKey> pending_;
  nlohmann::json extra_ = nlohmann::json::object();
};

// The decoded fixed header of a keyring file.
struct KeyringHeader {
  uint8_t version = kKeyringVersion;
  KdfParams kdf;
  std::array<uint8_t, kKeyringSaltSize> salt{};
  std::array<uint8_t, kKeyringNonceSize> nonce{};

  std::array<uint8_t, kKeyringHeaderSize> Encode() const;
  // Accepts kKeyringMagic and kKeyringLegacyMagic (Encode writes the
  // current one, so a save migrates the file).
  // Throws Error(kKeyring): too short ("truncated"), wrong magic ("not a
  // Mortise keyring"), newer version, unknown KDF, unacceptable limits.
  static KeyringHeader Decode(std::span<const uint8_t> file);
};

class Keyring {
 public:
  enum class Access { kRead, kUpdate };
  static constexpr std::chrono::milliseconds kDefaultLockWait{10000};

  // Creates a new keyring holding `initial` at `path` (and its directory,
  // mode 0700, if missing). Throws Error(kKeyring) when a file is already
  // there or cannot be written, Error(kUsage) on an empty passphrase. The
  // returned keyring holds the exclusive lock.
  static Keyring Create(const std::filesystem::path& path, std::string_view passphrase, const KdfParams& kdf,
                        KeyringContent initial = {}, std::chrono::milliseconds lock_wait = kDefaultLockWait);

  // Opens and decrypts `path`. Throws Error(kKeyring): no file ("no
  // keyring at ..."), another process holds the lock past `lock_wait`,
  // truncated or malformed header, "wrong passphrase or damaged keyring"
  // (authentication failed), or a decrypted document that is not a
  // keyring. Nothing is ever written on a failed open.
  static Keyring Open(const std::filesystem::path& path, std::string_view passphrase, Access access,
                      std::chrono::milliseconds lock_wait = kDefaultLockWait);

  Keyring(Keyring&& other) noexcept;
  Keyring& operator=(Keyring&&) = delete;
  Keyring(const Keyring&) = delete;
  ~Keyring();  // zeroes the key, releases the lock

  KeyringContent& content() { return content_; }
  const KeyringContent& content() const { return content_; }
  const KdfParams& kdf() const { return header_.kdf; }
  const std::filesystem::path& path() const { return path_; }

  // Encrypts the content under a fresh nonce and replaces the file
  // atomically. Throws Error(kInternal) if opened kRead; Error(kKeyring)
  // if the file cannot be written (the old file is then unchanged).
  void Save();

 private:
  Keyring() = default;
  void Write();

  std::filesystem::path path_;
  int lock_fd_ = -1;
  Access access_ = Access::kRead;
  KeyringHeader header_;
  crypto::SecretBytes<32> key_;
  KeyringContent content_;
};

// The keyring path when --keyring is not given: $MORTISE_KEYRING, else
// $XDG_CONFIG_HOME/mortise/keyring, else ~/.config/mortise/keyring.
// Throws Error(kKeyring) when none of HOME, XDG_CONFIG_HOME or
// MORTISE_KEYRING is set.
// Replaces `path` with `bytes` atomically and durably (a 0600 temporary
// beside it, fsync, rename, fsync of the directory). Throws
// Error(kKeyring) naming `what` ("the keyring", "the transfer file");
// the old file is then unchanged.
void AtomicReplace(const std::filesystem::path& path, std::span<const uint8_t> bytes, const std::string& what);
std::filesystem::path DefaultKeyringPath();

// "owner", "admin", ... and back (throws Error(kKeyring) on anything else).
const char* RoleText(protocol::Role role);
protocol::Role RoleFromText(std::string_view text);

}  // namespace mortise::cli
