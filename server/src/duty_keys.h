// The server's duty key per door (issue 14, docs/server.md "Duties"): the
// P-256 key of the door's log custody (log_custody.h, one key per door, made
// by POST .../custody/key), certified by the door's owner once per duty,
// each certificate carrying that duty's right alone:
//   custody     kPermLogCustody (bit 11), log_custody table (frame 0x06)
//   time        kPermTimeStatement (bit 13), frame 0x07 (duty_time.h)
//   revalidate  kPermRevalidate (bit 10), revalidation tokens (duty_revalidation.h)
// One certificate per duty, not one with several bits: the owner grants and
// revokes each duty on its own (an access list names a certificate's
// serial), and each certificate is exactly what `mortise key share --custody`
// / `--time` / `--role admin --permission revalidate` issue. The lock would
// accept one certificate with several duty bits (it checks the bit it needs,
// and any key holding only duty rights runs no command), but nothing is
// gained by it. None of these keys opens a door.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "clock_random.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "sql_repository.h"

namespace mortise::server {

// The server's randomness as the crypto library's entropy source.
class RandomEntropy final : public crypto::EntropySource {
 public:
  explicit RandomEntropy(Random& random) : random_(random) {}
  Status Fill(std::span<uint8_t> out) override {
    random_.Fill(out);
    return Status::Ok();
  }

 private:
  Random& random_;
};

// The door's lock and owner keys, hex as stored.
struct DutyDoor {
  std::string lock_id, lock_public_key, owner_public_key;
};
std::optional<DutyDoor> DutyDoorOf(SqlRepository& repo, std::string_view door_id);
// A stored 65-byte SEC 1 key (hex). Throws std::runtime_error if it is not one.
crypto::P256PublicKey PublicKeyFromHex(std::string_view hex);
// Its MKP1 text form.
std::string PublicKeyTextFromHex(std::string_view hex);

// The owner's certificate for the door's duty key, checked as a lock would
// (VerifyKeyChain) and for being exactly one duty. `text`: an MKS1 share
// bundle or an MK1 key chain. Throws ApiError, nothing stored, in this
// order: 404 not_found, 400 invalid_key, 422 wrong_door (the bundle's lock
// key is another door's), 409 `no_key_code` (the door has no duty key yet),
// 403 invalid_signature / not_permitted (not the door's owner's, another
// lock or claim), 422 wrong_holder (another key than the door's duty key),
// 422 wrong_permissions (not `permission` alone; `how` says which command
// issues the right one).
struct DutyCertificate {
  std::vector<uint8_t> chain;
  std::string chain_hex;
  uint32_t claim_generation = 0;
  uint64_t serial = 0;
  std::vector<uint8_t> certificate;  // the holder certificate alone (encoded KeyCertificate)
};
DutyCertificate VerifyDutyCertificate(SqlRepository& repo, std::string_view door_id, std::string_view text,
                                      uint32_t permission, std::string_view how, std::string_view no_key_code);

enum class Duty { kTime, kRevalidate };
std::string_view DutyName(Duty d);
std::optional<Duty> ParseDuty(std::string_view name);
uint32_t DutyPermission(Duty d);

// What the server signs with for one duty at one door.
struct DutySigner {
  DutyDoor door;
  crypto::P256KeyPair key;
  DutyCertificate certificate;
};

class DutyKeys {
 public:
  DutyKeys(SqlRepository& repo, const Clock& clock) : repo_(repo), clock_(clock) {}
  // Stores the owner's certificate for `duty` (VerifyDutyCertificate's
  // refusals; 409 no_duty_key before the door has a key). Returns View.
  nlohmann::json Install(std::string_view door_id, Duty duty, std::string_view text);
  // The key and certificate for a duty; nullopt: not certified.
  std::optional<DutySigner> Signer(std::string_view door_id, Duty duty);
  // {"public_key": MKP1 or null, "time": {serial, claim_generation,
  // installed_at} or null, "revalidate": ...}.
  nlohmann::json View(std::string_view door_id);
  // Doors with a certificate for `duty`.
  std::vector<std::string> DoorsWith(Duty duty);

 private:
  SqlRepository& repo_;
  const Clock& clock_;
};

}  // namespace mortise::server
