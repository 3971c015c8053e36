#include "vectors.h"

#include <pb_decode.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "mortise.pb.h"
#include "key_string.h"
#include "mortise/core/attributes.h"
#include "mortise/core/offline_pin.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/custody.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/log_source.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/remote.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/session.h"
#include "mortise/protocol/text_forms.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/store/audit_log.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/file_flash.h"
#include "mortise/store/record_store.h"

namespace mortise::vectors {
namespace {

using protocol::CertificateFields;
using protocol::KeyRef;
using protocol::LockId;
using protocol::Role;

// 2025-06-16 12:00:00 UTC, a Monday: the time every file verifies at.
constexpr int64_t kMonday = 1750075200;
constexpr uint32_t kGeneration = 1;

void Check(Status s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.name());
}
template <typename T>
T Take(Result<T> r, const char* what) {
  if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.status().name());
  return std::move(*r);
}

std::span<const uint8_t> Text(std::string_view s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::array<uint8_t, 32> FixedScalar(std::string_view name) {
  return crypto::Sha256::Hash(Text("mortise-vectors/" + std::string(name)));
}

Json KeyJson(std::string_view name) {
  const crypto::P256KeyPair k = FixedKey(name);
  const std::array<uint8_t, 32> scalar = FixedScalar(name);
  return Json{{"name", name},
              {"private_scalar", Hex(scalar)},
              {"public_key", Hex(k.public_key().bytes())},
              {"compressed", Hex(k.public_key().Compressed())},
              {"key_id", Hex(protocol::KeyIdOf(k.public_key()))}};
}

std::string U64(uint64_t v) { return std::to_string(v); }

// --- The fixed certificates -------------------------------------------------

constexpr uint64_t kGuestSerial = 0x8A51C0FFEE000001ull;
constexpr uint64_t kAdminSerial = 0x8A51C0FFEE000002ull;
constexpr uint64_t kMemberSerial = 0x8A51C0FFEE000003ull;
constexpr uint64_t kRevalidatorSerial = 0x8A51C0FFEE000004ull;
constexpr uint64_t kRevalidatedSerial = 0x8A51C0FFEE000005ull;

struct IssuedCert {
  std::string name;
  std::string issuer;  // fixed key name
  uint64_t seed;       // SeededDrbg seed of its one signature
  CertificateFields fields;
  Bytes encoded;
};

LockId FixedLockId() { return protocol::LockIdOf(FixedKey("lock").public_key()); }

CertificateFields BaseFields(std::string_view holder, Role role, uint32_t permissions, uint64_t serial) {
  CertificateFields f;
  f.lock_id = FixedLockId();
  f.holder_key = FixedKey(holder).public_key().Compressed();
  f.role = role;
  f.permissions = permissions;
  f.serial = serial;
  f.claim_generation = kGeneration;
  return f;
}

IssuedCert Issue(std::string name, std::string issuer, uint64_t seed, CertificateFields fields) {
  SeededDrbg rng(seed);
  Bytes out(protocol::kMaxCertificateSize);
  const size_t n = Take(protocol::IssueCertificate(fields, FixedKey(issuer), rng.drbg(), out), "IssueCertificate");
  out.resize(n);
  fields.issuer_key_id = protocol::KeyIdOf(FixedKey(issuer).public_key());
  return IssuedCert{std::move(name), std::move(issuer), seed, fields, std::move(out)};
}

struct Certs {
  IssuedCert guest, admin, member, revalidator, revalidated;
};

Certs MakeCerts() {
  using namespace protocol;
  CertificateFields guest = BaseFields("guest", Role::kGuest, kPermLock | kPermUnlock, kGuestSerial);
  guest.not_before = kMonday - 86400;
  guest.not_after = kMonday + 7 * 86400;
  guest.schedule = WeeklyWindow{0x3E, 7 * 60, 19 * 60};  // Monday..Friday 07:00-19:00
  guest.max_uses = 10;
  CertificateFields admin = BaseFields("admin", Role::kAdmin, RoleAllowedPermissions(Role::kAdmin), kAdminSerial);
  admin.issuer_epoch = 1;
  CertificateFields member = BaseFields("member", Role::kMember, kPermLock | kPermUnlock | kPermReadLog, kMemberSerial);
  member.parent_serial = kAdminSerial;
  member.not_after = kMonday + 365 * 86400;
  CertificateFields revalidator = BaseFields("revalidator", Role::kAdmin, kPermRevalidate, kRevalidatorSerial);
  CertificateFields revalidated = BaseFields("guest", Role::kGuest, kPermUnlock, kRevalidatedSerial);
  revalidated.revalidation_max_age = 86400;
  revalidated.remote_only = true;
  return Certs{Issue("guest", "owner", 101, guest), Issue("admin", "owner", 102, admin),
               Issue("member", "admin", 103, member), Issue("revalidator", "owner", 104, revalidator),
               Issue("revalidated_guest", "owner", 105, revalidated)};
}

Bytes ChainOf(const Bytes& first, const Bytes& second = {}) {
  Bytes out(protocol::kMaxChainSize);
  out.resize(Take(protocol::EncodeChain(first, second, out), "EncodeChain"));
  return out;
}

std::string ChainText(const Bytes& chain) {
  std::string text(protocol::kMaxChainTextSize, '\0');
  text.resize(Take(protocol::ChainToText(chain, std::span<char>(text.data(), text.size())), "ChainToText"));
  return text;
}

Json FieldsJson(const CertificateFields& f) {
  Json j{{"lock_id", Hex(f.lock_id)},
         {"holder_key", Hex(f.holder_key)},
         {"role", static_cast<int>(f.role)},
         {"permissions", f.permissions},
         {"not_before", f.not_before},
         {"not_after", f.not_after}};
  if (f.schedule) {
    j["schedule"] = Json{{"days_mask", f.schedule->days_mask},
                         {"start_minute", f.schedule->start_minute},
                         {"end_minute", f.schedule->end_minute}};
  } else {
    j["schedule"] = nullptr;
  }
  j["max_uses"] = f.max_uses;
  j["remote_only"] = f.remote_only;
  j["serial"] = U64(f.serial);
  j["issuer_key_id"] = Hex(f.issuer_key_id);
  j["issuer_epoch"] = f.issuer_epoch;
  j["revalidation_max_age"] = f.revalidation_max_age;
  j["claim_generation"] = f.claim_generation;
  j["parent_serial"] = U64(f.parent_serial);
  j["scope"] = static_cast<int>(f.scope);
  j["group_id"] = U64(f.group_id);
  return j;
}

// A signed object's parts: tbs, signature, and the k' that reproduces it.
Json SignedJson(std::span<const uint8_t> envelope, std::optional<uint64_t> seed) {
  const Signed s = SplitSigned(envelope);
  Json j{{"tbs", Hex(s.tbs)}, {"signature", Hex(s.signature)}};
  if (seed) j["signature_nonce_input"] = Hex(HedgeInput(*seed));
  return j;
}

Json CertJson(const IssuedCert& c) {
  Json j{{"name", c.name}, {"issuer", c.issuer}, {"fields", FieldsJson(c.fields)}};
  j.update(SignedJson(c.encoded, c.seed));
  j["certificate"] = Hex(c.encoded);
  return j;
}

Json Header(std::string_view what) {
  return Json{{"format", "mortise-vectors-1"}, {"description", what}};
}

// The header of a file of objects signed under `domain` for the fixed lock
// and owner.
Json SignedHeader(std::string_view what, std::string_view domain) {
  Json j = Header(what);
  j["domain"] = domain;
  j["lock_id"] = Hex(FixedLockId());
  j["claim_generation"] = kGeneration;
  j["owner_key"] = Hex(FixedKey("owner").public_key().bytes());
  return j;
}

// --- A simulated lock with the fixed identity, claimed by the fixed owner ----

class Lock {
 public:
  explicit Lock(uint64_t seed) : rng_(seed) {
    const std::array<uint8_t, 32> scalar = FixedScalar("lock");
    Take(protocol::LockIdentity::Provision(store_, scalar), "Provision");
    sim_ = std::make_unique<sim::SimLock>(&store_);
    Check(sim_->Start(), "SimLock::Start");
    authority_ = std::make_unique<protocol::LockAuthority>(store_, rng_.drbg());
    Check(authority_->Start(), "LockAuthority::Start");
    const std::array<uint8_t, 32> pin = OfflinePinSecret();
    Check(authority_->InstallOwner(FixedKey("owner").public_key(), pin), "InstallOwner");
    if (authority_->claim_generation() != kGeneration) throw std::runtime_error("unexpected claim generation");
    Check(sim_->lock().SetUtcTime(kMonday, false), "SetUtcTime");
  }
  static std::array<uint8_t, 32> OfflinePinSecret() { return FixedScalar("offline-pin-secret"); }
  sim::SimLock& sim() { return *sim_; }
  protocol::LockAuthority& authority() { return *authority_; }
  sim::MemoryStore& store() { return store_; }

 private:
  SeededDrbg rng_;
  sim::MemoryStore store_;
  std::unique_ptr<sim::SimLock> sim_;
  std::unique_ptr<protocol::LockAuthority> authority_;
};

// --- keys.json ----------------------------------------------------------------

Json MakeKeys() {
  Json j = Header(
      "The fixed P-256 keys of every vector file (private scalar = SHA-256(\"mortise-vectors/\" || name)), "
      "their ids, the lock's id, its claim label and the holders' MKP1 public-key strings.");
  Json keys = Json::array();
  for (const char* name : {"lock", "owner", "admin", "guest", "member", "revalidator", "custodian"}) {
    Json k = KeyJson(name);
    if (std::string_view(name) != "lock" && std::string_view(name) != "owner") {
      char text[protocol::kPublicKeyTextSize];
      const size_t n = Take(protocol::PublicKeyToText(FixedKey(name).public_key(), text), "PublicKeyToText");
      k["text"] = std::string(text, n);
    }
    keys.push_back(k);
  }
  j["keys"] = keys;
  const crypto::P256KeyPair lock = FixedKey("lock");
  j["lock_id"] = Hex(protocol::LockIdOf(lock.public_key()));
  protocol::ClaimLabel label;
  label.lock_id = protocol::LockIdOf(lock.public_key());
  label.key_hash = protocol::KeyIdOf(lock.public_key());
  label.setup_code = 79462759;
  char text[protocol::kLabelTextSize + 1] = {};
  const size_t n = Take(protocol::EncodeLabel(label, std::span<char>(text, protocol::kLabelTextSize)), "EncodeLabel");
  j["claim_label"] = Json{{"lock_id", Hex(label.lock_id)},
                          {"key_hash", Hex(label.key_hash)},
                          {"setup_code", label.setup_code},
                          {"text", std::string(text, n)}};
  return j;
}

// --- certificates.json ----------------------------------------------------------

Json MakeCertificates() {
  const Certs c = MakeCerts();
  Json j = SignedHeader(
      "Key certificates (KeyCertificate, format 2) issued by the owner and by a delegated admin, the chains "
      "a holder presents, their MK1 text, and MKS1 share strings. Each chain verifies at verify_at (lock UTC, "
      "offset 0) against the owner key with an empty access list.",
      "mortise-cert-v1");
  j["verify_at"] = kMonday;
  Json certs = Json::array();
  for (const IssuedCert* ic : {&c.guest, &c.admin, &c.member, &c.revalidator, &c.revalidated}) certs.push_back(CertJson(*ic));
  j["certificates"] = certs;
  struct ChainSpec {
    const char* name;
    const IssuedCert* first;
    const IssuedCert* second;
    const char* holder;
  };
  const ChainSpec specs[] = {{"guest", &c.guest, nullptr, "guest"},
                             {"admin", &c.admin, nullptr, "admin"},
                             {"member_via_admin", &c.admin, &c.member, "member"}};
  Json chains = Json::array();
  for (const ChainSpec& s : specs) {
    const Bytes chain = s.second ? ChainOf(s.first->encoded, s.second->encoded) : ChainOf(s.first->encoded);
    const IssuedCert& leaf = s.second ? *s.second : *s.first;
    Json certs_of = Json::array({s.first->name});
    if (s.second) certs_of.push_back(s.second->name);
    // What the lock grants: the leaf's role and its permissions (already
    // within the admin's for a delegated chain).
    chains.push_back(Json{{"name", s.name},
                          {"certificates", certs_of},
                          {"holder", s.holder},
                          {"chain", Hex(chain)},
                          {"text", ChainText(chain)},
                          {"expect", Json{{"role", static_cast<int>(leaf.fields.role)},
                                          {"permissions", leaf.fields.permissions},
                                          {"depth", s.second ? 2 : 1}}}});
  }
  j["chains"] = chains;
  // MKS1: what the owner hands the guest.
  protocol::ShareBundle bundle;
  bundle.lock_key = FixedKey("lock").public_key().bytes();
  const Bytes guest_chain = ChainOf(c.guest.encoded);
  std::copy(guest_chain.begin(), guest_chain.end(), bundle.chain.begin());
  bundle.chain_len = guest_chain.size();
  const std::string_view endpoint = "unix:/run/mortise/lock.sock", name = "front-door";
  std::copy(endpoint.begin(), endpoint.end(), bundle.endpoint_hint.begin());
  bundle.endpoint_hint_len = endpoint.size();
  std::copy(name.begin(), name.end(), bundle.lock_name_hint.begin());
  bundle.lock_name_hint_len = name.size();
  Bytes share_bytes(protocol::kMaxShareBinary);
  share_bytes.resize(Take(protocol::EncodeShare(bundle, share_bytes), "EncodeShare"));
  std::string share(protocol::kMaxShareText, '\0');
  share.resize(Take(protocol::ShareToText(bundle, std::span<char>(share.data(), share.size())), "ShareToText"));
  j["shares"] = Json::array({Json{{"name", "guest"},
                                  {"chain", "guest"},
                                  {"lock_key", Hex(FixedKey("lock").public_key().Compressed())},
                                  {"endpoint_hint", endpoint},
                                  {"lock_name_hint", name},
                                  {"bundle", Hex(share_bytes)},
                                  {"text", share}}});
  return j;
}

// --- access_lists.json ------------------------------------------------------------

Json ListStateJson(const protocol::AccessListState& s) {
  auto refs = [](const KeyRef* r, size_t n) {
    Json a = Json::array();
    for (size_t i = 0; i < n; ++i) a.push_back(Json{{"issuer_key_id", Hex(r[i].issuer)}, {"serial", U64(r[i].serial)}});
    return a;
  };
  Json epochs = Json::array();
  for (size_t i = 0; i < s.epoch_count; ++i) {
    epochs.push_back(Json{{"issuer_key_id", Hex(s.epochs[i].issuer)}, {"min_epoch", s.epochs[i].min_epoch}});
  }
  return Json{{"version", U64(s.version)},
              {"claim_generation", s.claim_generation},
              {"revoked", refs(s.revoked, s.revoked_count)},
              {"min_epochs", epochs},
              {"disabled", refs(s.disabled, s.disabled_count)}};
}

// One signed update a file holds: its name, the fixed key that signs, the
// seed of its one signature, its content, and the signer's certificate
// (empty: the owner signs).
template <typename State>
struct UpdateSpec {
  const char* name;
  const char* signer;
  uint64_t seed;
  const State* state;
  const Bytes* issuer_certificate;
};

Json MakeAccessLists() {
  using namespace protocol;
  const Certs c = MakeCerts();
  const KeyId owner_id = KeyIdOf(FixedKey("owner").public_key());
  const KeyId admin_id = KeyIdOf(FixedKey("admin").public_key());
  Json j = SignedHeader(
      "Access-list updates (AccessListUpdate, format 2): one the owner signs (may name any key), one an admin "
      "with the delegate right signs under its certificate (names only keys that admin issued). Each verifies "
      "with VerifyAccessList(update, lock_id, claim_generation, owner_key).",
      "mortise-acl-v1");

  AccessListState owner;
  owner.version = 7;
  owner.claim_generation = kGeneration;
  owner.revoked[owner.revoked_count++] = KeyRef{owner_id, kGuestSerial};
  owner.revoked[owner.revoked_count++] = KeyRef{admin_id, kMemberSerial};
  owner.epochs[owner.epoch_count++] = IssuerMinEpoch{owner_id, 1};
  owner.disabled[owner.disabled_count++] = KeyRef{owner_id, kRevalidatorSerial};
  AccessListState admin;
  admin.version = 3;
  admin.claim_generation = kGeneration;
  admin.revoked[admin.revoked_count++] = KeyRef{admin_id, kMemberSerial};
  admin.epochs[admin.epoch_count++] = IssuerMinEpoch{admin_id, 2};

  const Bytes none;
  const UpdateSpec<AccessListState> specs[] = {{"owner", "owner", 201, &owner, &none}, {"admin", "admin", 202, &admin, &c.admin.encoded}};
  Json lists = Json::array();
  for (const auto& s : specs) {
    SeededDrbg rng(s.seed);
    Bytes out(kMaxAccessListUpdateSize);
    out.resize(Take(SignAccessList(*s.state, FixedLockId(), FixedKey(s.signer), rng.drbg(), out, *s.issuer_certificate),
                    "SignAccessList"));
    Json l{{"name", s.name}, {"signer", s.signer}, {"state", ListStateJson(*s.state)}};
    l["issuer_certificate"] = Hex(*s.issuer_certificate);
    l.update(SignedJson(out, s.seed));
    l["update"] = Hex(out);
    lists.push_back(l);
  }
  j["lists"] = lists;
  return j;
}

// --- revalidation.json ----------------------------------------------------------

Json MakeRevalidation() {
  using namespace protocol;
  const Certs c = MakeCerts();
  const Bytes chain = ChainOf(c.revalidated.encoded);
  Json j = SignedHeader(
      "Revalidation tokens (RevalidationToken, version 1) for a key whose certificate demands revalidation "
      "every 86400 s: one signed by the owner, one by a revalidation key holding kPermRevalidate (its "
      "certificate inside the token), with their MKR1 text. The chain with each token verifies at verify_at.",
      "mortise-revalidation-v1");
  j["chain"] = Hex(chain);
  j["verify_at"] = kMonday + 3600;
  const RevalidationFields fields = Take(RevalidationFieldsFor(chain, kMonday), "RevalidationFieldsFor");
  struct TokenSpec {
    const char* name;
    const char* signer;
    uint64_t seed;
    const Bytes* signer_certificate;
  };
  const Bytes none;
  const TokenSpec specs[] = {{"by_owner", "owner", 301, &none},
                             {"by_revalidator", "revalidator", 302, &c.revalidator.encoded}};
  Json tokens = Json::array();
  for (const TokenSpec& s : specs) {
    SeededDrbg rng(s.seed);
    Bytes out(kMaxRevalidationTokenSize);
    out.resize(Take(IssueRevalidationToken(fields, FixedKey(s.signer), *s.signer_certificate, rng.drbg(), out),
                    "IssueRevalidationToken"));
    Json t{{"name", s.name},
           {"signer", s.signer},
           {"fields", Json{{"lock_id", Hex(fields.lock_id)},
                           {"serial", U64(fields.serial)},
                           {"holder_key_id", Hex(fields.holder_key_id)},
                           {"issued_at", fields.issued_at}}},
           {"issuer_certificate", Hex(*s.signer_certificate)}};
    t.update(SignedJson(out, s.seed));
    t["token"] = Hex(out);
    std::string text(protocol::kMaxRevalidationTextSize, '\0');
    text.resize(Take(protocol::RevalidationTokenToText(out, std::span<char>(text.data(), text.size())),
                     "RevalidationTokenToText"));
    t["text"] = text;
    tokens.push_back(t);
  }
  j["tokens"] = tokens;
  return j;
}

// --- remote.json ----------------------------------------------------------------

Json MakeRemote() {
  using namespace protocol;
  Lock lock(401);
  RemoteServer server(lock.authority(), lock.sim().lock(), lock.store());
  server.Start(lock.sim().clock().now_ms());
  lock.sim().Run(31000);  // envelopes whose lifetime began before the lock's start are refused
  const int64_t now = *lock.sim().lock().utc_now();
  const crypto::P256KeyPair owner = FixedKey("owner");
  const crypto::P256PublicKey lock_key = lock.authority().identity().public_key();

  constexpr uint64_t kClientSeed = 402;
  SeededDrbg client_rng(kClientSeed);
  RemoteClient client(owner, {}, lock_key, client_rng.drbg());
  static constexpr uint8_t kPin[] = {'2', '4', '6', '8', '1', '3'};
  // User 1 holds the PIN, and the lock requires it for remote operations.
  core::SetUserRequest user;
  user.operation = core::DataOperationType::kAdd;
  user.user_index = 1;
  if (lock.sim().lock().users().SetUser(user, core::Actor{}) != core::DlStatus::kSuccess) {
    throw std::runtime_error("remote: SetUser");
  }
  core::SetCredentialRequest cred;
  cred.operation = core::DataOperationType::kAdd;
  cred.credential = {core::CredentialType::kPin, 1};
  cred.credential_data = kPin;
  cred.user_index = 1;
  if (lock.sim().lock().users().SetCredential(cred, core::Actor{}).status != core::DlStatus::kSuccess) {
    throw std::runtime_error("remote: SetCredential");
  }
  Check(lock.sim().lock().WriteAttribute(core::AttributeId::kRequirePINforRemoteOperation, 1), "WriteAttribute");
  CommandRequest request;
  request.command = Command::kUnlock;
  request.pin = kPin;
  const uint32_t counter = 1;
  const int64_t expires = now + 20;
  Bytes envelope(kMaxRemoteMessageSize);
  envelope.resize(Take(client.Build(request, counter, expires, envelope), "RemoteClient::Build"));
  Bytes result(kMaxRemoteMessageSize);
  result.resize(Take(server.Handle(envelope, lock.sim().clock().now_ms(), result), "RemoteServer::Handle"));
  const RemoteOutcome outcome = Take(client.Verify(result), "RemoteClient::Verify");

  // The client's DRBG again, to show the values it derived: the envelope
  // nonce (first 16 bytes), then the PIN ephemeral.
  SeededDrbg mirror(kClientSeed);
  std::array<uint8_t, kRemoteNonceSize> nonce{};
  Check(mirror.drbg().Generate(nonce), "nonce");
  const crypto::P256KeyPair eph = Take(crypto::P256KeyPair::Generate(mirror.drbg()), "ephemeral");
  crypto::SecretBytes<32> eph_scalar;
  eph.ExportPrivateScalar(eph_scalar);
  crypto::SecretBytes<32> shared;
  Check(eph.Ecdh(lock_key, shared, mirror.drbg()), "ECDH");
  std::array<uint8_t, 16> pin_key{};
  Check(crypto::HkdfSha256(nonce, shared.span(), Text("mortise-remote-pin-v1"), pin_key), "HKDF");
  const LockId lock_id = FixedLockId();
  Bytes aad(lock_id.begin(), lock_id.end());
  const auto holder = owner.public_key().Compressed();
  aad.insert(aad.end(), holder.begin(), holder.end());
  Bytes sealed_pin(sizeof(kPin) + crypto::kCcmTagSize);
  Check(crypto::AesCcm128(pin_key).Seal(std::span<const uint8_t>(nonce).first(crypto::kCcmNonceSize), aad, kPin,
                                        sealed_pin),
        "seal");
  const Signed env = SplitSigned(envelope);
  if (std::search(env.tbs.begin(), env.tbs.end(), sealed_pin.begin(), sealed_pin.end()) == env.tbs.end()) {
    throw std::runtime_error("remote: the derived sealed PIN is not in the envelope");
  }

  Json j = Header(
      "An end-to-end remote command (RemoteCommand, version 1): the owner's key unlocks a lock that requires a "
      "PIN for remote operations (user 1 holds it), the PIN sealed to the lock, and the lock's signed RemoteResult. The PIN key is HKDF-SHA256(salt = nonce (16), ikm = "
      "ECDH(pin ephemeral, lock key), info = \"mortise-remote-pin-v1\", 16); the PIN is AES-128-CCM sealed with "
      "nonce = the envelope nonce's first 13 bytes and AAD = lock id || holder key (compressed).");
  j["command_domain"] = "mortise-remote-v1";
  j["result_domain"] = "mortise-remote-result-v1";
  j["lock_id"] = Hex(FixedLockId());
  j["lock_key"] = Hex(lock_key.bytes());
  j["holder_key"] = Hex(owner.public_key().bytes());
  j["lock_time"] = now;
  j["command"] = Json{{"command", static_cast<int>(request.command)},
                      {"counter", counter},
                      {"expires_at", expires},
                      {"pin", std::string(reinterpret_cast<const char*>(kPin), sizeof(kPin))}};
  j["derived"] = Json{{"nonce", Hex(nonce)},
                      {"pin_ephemeral_scalar", Hex(eph_scalar.span())},
                      {"pin_ephemeral", Hex(eph.public_key().bytes())},
                      {"shared_secret", Hex(shared.span())},
                      {"pin_key", Hex(pin_key)},
                      {"pin_aad", Hex(aad)},
                      {"sealed_pin", Hex(sealed_pin)}};
  Json e = SignedJson(envelope, std::nullopt);
  e["envelope"] = Hex(envelope);
  j["envelope"] = e;
  Json r = SignedJson(result, std::nullopt);
  r["command_hash"] = Hex(crypto::Sha256::Hash(env.tbs));
  r["envelope_status"] = static_cast<int>(outcome.envelope);
  r["response_status"] = static_cast<int>(outcome.response.status);
  r["dl_status"] = outcome.response.dl_status;
  r["result"] = Hex(result);
  j["result"] = r;
  return j;
}

// --- session.json ------------------------------------------------------------------

template <typename BytesT>
Bytes B(const BytesT& f) {
  return Bytes(f.bytes, f.bytes + f.size);
}

mortise_SessionMessage DecodeSession(std::span<const uint8_t> in) {
  mortise_SessionMessage m = mortise_SessionMessage_init_zero;
  pb_istream_t s = pb_istream_from_buffer(in.data(), in.size());
  if (!pb_decode(&s, mortise_SessionMessage_fields, &m)) throw std::runtime_error("session message does not decode");
  return m;
}

Bytes Cat(std::initializer_list<std::span<const uint8_t>> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes Hkdf(std::span<const uint8_t> salt, std::span<const uint8_t> ikm, std::string_view info, size_t n) {
  Bytes out(n);
  Check(crypto::HkdfSha256(salt, ikm, Text(info), out), "HKDF");
  return out;
}

Bytes Open(std::span<const uint8_t> key, std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
           std::span<const uint8_t> sealed) {
  if (sealed.size() < crypto::kCcmTagSize) throw std::runtime_error("sealed too short");
  Bytes out(sealed.size() - crypto::kCcmTagSize);
  Check(crypto::AesCcm128(key.first<16>()).Open(nonce, aad, sealed, out), "AES-CCM open");
  return out;
}

// 13-byte CCM nonce: `first` || n (4 big-endian) || zeros.
Bytes CounterNonce(uint8_t first, uint32_t n) {
  Bytes nonce(crypto::kCcmNonceSize, 0);
  nonce[0] = first;
  nonce[1] = static_cast<uint8_t>(n >> 24);
  nonce[2] = static_cast<uint8_t>(n >> 16);
  nonce[3] = static_cast<uint8_t>(n >> 8);
  nonce[4] = static_cast<uint8_t>(n);
  return nonce;
}

Bytes Digest(std::initializer_list<std::span<const uint8_t>> parts) {
  crypto::Sha256 h;
  for (auto p : parts) h.Update(p);
  crypto::Digest d{};
  h.Final(d);
  return Bytes(d.begin(), d.end());
}

Bytes WithNul(std::string_view domain) {
  Bytes out(domain.begin(), domain.end());
  out.push_back(0);
  return out;
}

Json MakeSession() {
  using namespace protocol;
  Lock lock(501);
  SessionServer server(lock.authority(), lock.sim().lock(), lock.store());
  Check(server.Start(), "SessionServer::Start");
  const Certs c = MakeCerts();
  const Bytes chain = ChainOf(c.admin.encoded, c.member.encoded);
  constexpr uint64_t kClientSeed = 502;
  SeededDrbg client_rng(kClientSeed);
  SessionClient client(FixedKey("member"), chain, FixedLockId(), client_rng.drbg());
  const uint64_t now_ms = lock.sim().clock().now_ms();

  auto to_lock = [&](const Bytes& datagram) {
    Bytes reply(kMaxSessionMessageSize);
    reply.resize(Take(server.Handle(datagram, now_ms, reply), "SessionServer::Handle"));
    return reply;
  };
  Bytes buf(kMaxSessionMessageSize);
  Bytes s1(buf.begin(), buf.begin() + static_cast<long>(Take(client.Hello(buf), "Hello")));
  const Bytes s2 = to_lock(s1);
  CommandRequest first;
  first.command = Command::kUnlock;
  Bytes s3(buf.begin(), buf.begin() + static_cast<long>(Take(client.Finish(s2, first, buf), "Finish")));
  const Bytes s4 = to_lock(s3);
  const CommandResponse r1 = Take(client.Receive(s4), "Receive S4");
  CommandRequest second;
  second.command = Command::kLock;
  Bytes s5(buf.begin(), buf.begin() + static_cast<long>(Take(client.Send(second, buf), "Send")));
  const Bytes s6 = to_lock(s5);
  const CommandResponse r2 = Take(client.Receive(s6), "Receive S6");
  if (r1.status != StatusCode::kOk || r2.status != StatusCode::kOk) throw std::runtime_error("session: refused");

  // Every derived value, from the documented key schedule (docs/protocol.md
  // section 10), checked against the messages as it goes.
  SeededDrbg mirror(kClientSeed);
  const crypto::P256KeyPair eph = Take(crypto::P256KeyPair::Generate(mirror.drbg()), "ephemeral");
  crypto::SecretBytes<32> eph_scalar;
  eph.ExportPrivateScalar(eph_scalar);
  const mortise_SessionMessage m1 = DecodeSession(s1), m2 = DecodeSession(s2), m3 = DecodeSession(s3),
                               m4 = DecodeSession(s4), m5 = DecodeSession(s5), m6 = DecodeSession(s6);
  const mortise_SessionAccept& a = m2.body.accept;
  if (B(m1.body.hello.client_ephemeral) != Bytes(eph.public_key().bytes().begin(), eph.public_key().bytes().end())) {
    throw std::runtime_error("session: the mirrored ephemeral differs");
  }
  const crypto::P256PublicKey lock_eph = Take(crypto::P256PublicKey::Import(B(a.lock_ephemeral)), "lock ephemeral");
  crypto::SecretBytes<32> shared;
  Check(eph.Ecdh(lock_eph, shared, mirror.drbg()), "ECDH");
  const Bytes boot = Le(a.boot_epoch, 8);
  const Bytes th = Digest({WithNul("mortise-session-v2"), s1, B(a.lock_key), B(a.lock_ephemeral), B(a.lock_nonce), boot});
  Check(lock.authority().identity().public_key().Verify(Cat({WithNul("mortise-session-lock-v2"), th}), B(a.signature)),
        "lock signature over TH");
  const Bytes th2 = Digest({th, B(a.signature)});
  const Bytes hs = Hkdf(th2, shared.span(), "handshake secret", 32);
  const Bytes idk = Hkdf(th2, hs, "identity keys", 32);
  const std::span<const uint8_t> k_id(idk.data(), 16), k_verdict(idk.data() + 16, 16);
  const mortise_SessionFinish& f = m3.body.finish;
  Bytes id_nonce(crypto::kCcmNonceSize, 0);
  id_nonce[0] = 0x03;
  const Bytes identity = Open(k_id, id_nonce, B(f.cookie), B(f.sealed_identity));
  const Bytes th3 = Digest({th2, identity});
  const Bytes okm = Hkdf(th3, hs, "session keys", 88);
  const std::span<const uint8_t> c2l(okm.data(), 16), l2c(okm.data() + 16, 16), resumption_secret(okm.data() + 32, 32),
      resumption_id(okm.data() + 64, 16), session_id(okm.data() + 80, 8);
  const Bytes req1 = Open(c2l, CounterNonce(0x01, f.counter), Cat({session_id, Le(f.counter, 4)}), B(f.sealed));
  const Bytes tag1(f.sealed.bytes + f.sealed.size - 16, f.sealed.bytes + f.sealed.size);
  const mortise_SessionResponse& resp1 = m4.body.response;
  const Bytes rsp1 =
      Open(l2c, CounterNonce(0x02, resp1.counter), Cat({session_id, Le(resp1.counter, 4), tag1}), B(resp1.sealed));
  const mortise_SessionRequest& q2 = m5.body.request;
  if (B(q2.session_id) != Bytes(session_id.begin(), session_id.end())) throw std::runtime_error("session id differs");
  const Bytes req2 = Open(c2l, CounterNonce(0x01, q2.counter), Cat({session_id, Le(q2.counter, 4)}), B(q2.sealed));
  const Bytes tag2(q2.sealed.bytes + q2.sealed.size - 16, q2.sealed.bytes + q2.sealed.size);
  const mortise_SessionResponse& resp2 = m6.body.response;
  const Bytes rsp2 =
      Open(l2c, CounterNonce(0x02, resp2.counter), Cat({session_id, Le(resp2.counter, 4), tag2}), B(resp2.sealed));

  Json j = Header(
      "A cold session (protocol version 2) of a member key delegated by an admin: hello (S1), accept (S2), "
      "finish with the first request, unlock (S3), its response (S4), then one more request, lock (S5), and "
      "its response (S6), with every value of the key schedule. The cookie is the lock's own (sealed under a "
      "key in its RAM): a client echoes it unchanged.");
  j["lock_id"] = Hex(FixedLockId());
  j["lock_key"] = Hex(B(a.lock_key));
  j["holder_key"] = Hex(FixedKey("member").public_key().bytes());
  j["chain"] = Hex(chain);
  j["messages"] = Json{{"s1_hello", Hex(s1)}, {"s2_accept", Hex(s2)}, {"s3_finish", Hex(s3)},
                       {"s4_response", Hex(s4)}, {"s5_request", Hex(s5)}, {"s6_response", Hex(s6)}};
  j["fields"] = Json{{"client_ephemeral", Hex(B(m1.body.hello.client_ephemeral))},
                     {"client_nonce", Hex(B(m1.body.hello.client_nonce))},
                     {"lock_ephemeral", Hex(B(a.lock_ephemeral))},
                     {"lock_nonce", Hex(B(a.lock_nonce))},
                     {"boot_epoch", a.boot_epoch},
                     {"lock_signature", Hex(B(a.signature))},
                     {"cookie", Hex(B(a.cookie))},
                     {"sealed_identity", Hex(B(f.sealed_identity))}};
  j["derived"] = Json{{"client_ephemeral_scalar", Hex(eph_scalar.span())},
                      {"shared_secret", Hex(shared.span())},
                      {"th", Hex(th)},
                      {"th2", Hex(th2)},
                      {"handshake_secret", Hex(hs)},
                      {"k_id", Hex(k_id)},
                      {"k_verdict", Hex(k_verdict)},
                      {"identity", Hex(identity)},
                      {"th3", Hex(th3)},
                      {"k_c2l", Hex(c2l)},
                      {"k_l2c", Hex(l2c)},
                      {"resumption_secret", Hex(resumption_secret)},
                      {"resumption_id", Hex(resumption_id)},
                      {"session_id", Hex(session_id)}};
  j["requests"] = Json::array(
      {Json{{"message", "s3_finish"}, {"counter", f.counter}, {"request", Hex(req1)}, {"tag", Hex(tag1)}},
       Json{{"message", "s5_request"}, {"counter", q2.counter}, {"request", Hex(req2)}, {"tag", Hex(tag2)}}});
  j["responses"] = Json::array({Json{{"message", "s4_response"}, {"counter", resp1.counter}, {"response", Hex(rsp1)}},
                                Json{{"message", "s6_response"}, {"counter", resp2.counter}, {"response", Hex(rsp2)}}});
  return j;
}

// --- offline_pins.json ---------------------------------------------------------------

Json MakeOfflinePins() {
  const std::array<uint8_t, 32> secret = Lock::OfflinePinSecret();
  const core::OfflinePinCodec codec(secret);
  const uint32_t hour = static_cast<uint32_t>(kMonday / 3600);
  const uint32_t day = static_cast<uint32_t>(kMonday / 86400);
  Json codes = Json::array();
  auto add = [&](const char* kind, Json params, std::string code, int64_t check_at, int32_t offset,
                 const char* outcome) {
    codes.push_back(Json{{"kind", kind},
                         {"params", std::move(params)},
                         {"code", std::move(code)},
                         {"check_at", check_at},
                         {"utc_offset_s", offset},
                         {"expect", outcome}});
  };
  std::array<char, core::kShortOfflineCodeDigits> s{};
  std::array<char, core::kLongOfflineCodeDigits> l{};
  Check(codec.OneTime(hour, 0, s), "OneTime");
  add("one_time", Json{{"start_hour", hour}, {"seq", 0}}, std::string(s.data(), s.size()), kMonday + 600, 0, "grant");
  Check(codec.OneTime(hour, 3, s), "OneTime");
  add("one_time", Json{{"start_hour", hour}, {"seq", 3}}, std::string(s.data(), s.size()), kMonday + 5 * 3600, 0,
      "grant");
  Check(codec.Window(hour, 48, l), "Window");
  add("window", Json{{"start_hour", hour}, {"hours", 48}}, std::string(l.data(), l.size()), kMonday + 3600, 0, "grant");
  Check(codec.Recurring(day, 7, 19, 4, l), "Recurring");
  add("recurring", Json{{"first_local_day", day}, {"daily_start_hour", 7}, {"daily_end_hour", 19}, {"weeks", 4}},
      std::string(l.data(), l.size()), kMonday + 7200, 7200, "grant");
  Check(codec.EraseAll(hour, s), "EraseAll");
  add("erase_all", Json{{"issue_hour", hour}}, std::string(s.data(), s.size()), kMonday + 60, 0, "erase");
  Json j = Header(
      "Offline PIN codes (docs/offline-pins.md) from the lock's 32-byte offline-PIN secret: each code is "
      "checked at check_at (UTC seconds) with the lock's UTC offset utc_offset_s, an empty table and nothing "
      "erased; expect is the lock's verdict.");
  j["secret"] = Hex(secret);
  j["codes"] = codes;
  return j;
}

// --- log.json ------------------------------------------------------------------------

class AuthoritySigner final : public store::LogHeadSigner {
 public:
  explicit AuthoritySigner(const protocol::LockAuthority& a) : a_(a) {}
  std::span<const uint8_t, store::kLogLockIdSize> lock_id() const override { return a_.identity().lock_id(); }
  Status Sign(std::span<const uint8_t> message, std::span<uint8_t, store::kLogSignatureSize> signature) override {
    crypto::P256Signature sig{};
    MORTISE_TRY(a_.SignLogHead(message, sig));
    std::copy(sig.begin(), sig.end(), signature.begin());
    return Status::Ok();
  }

 private:
  const protocol::LockAuthority& a_;
};

class Collect final : public store::LogItemSink {
 public:
  void Put(const store::LogItem& item) override { items.push_back(item); }
  std::vector<store::LogItem> items;
};

const char* ItemTypeName(store::LogItemType t) {
  switch (t) {
    case store::LogItemType::kAnchor: return "anchor";
    case store::LogItemType::kRecord: return "record";
    case store::LogItemType::kVoid: return "void";
    case store::LogItemType::kCheckpoint: return "checkpoint";
    case store::LogItemType::kHead: return "head";
    case store::LogItemType::kSignedHead: return "signed_head";
  }
  return "?";
}

const char* RecordTypeName(store::LogRecordType t) {
  switch (t) {
    case store::LogRecordType::kEvent: return "event";
    case store::LogRecordType::kLoss: return "loss";
    case store::LogRecordType::kSignedHead: return "signed_head";
    case store::LogRecordType::kKeyIntro: return "key_intro";
  }
  return "?";
}

// The log of log.json: a lock (seed 601) whose audit log, 1 KiB segments,
// holds a key introduction, 56 events, a timed signed head and 3 events more.
// custody.json acknowledges the same stream on the same lock.
class LogRig {
 public:
  static constexpr size_t kBlock = 1024, kBlocks = 4;
  static constexpr uint32_t kInterval = 600;

  LogRig() {
    Check(lock_.authority().LogKey(log_key_), "LogKey");
    auth_.emplace(log_key_.span());
    log_.emplace(flash_, lock_.store(), *auth_);
    log_->set_head_signer(&signer_, kInterval);
    Check(log_->Mount(), "AuditLog::Mount");
    const KeyRef member{protocol::KeyIdOf(FixedKey("admin").public_key()), kMemberSerial};
    // A key introduction names protocol key index 1 as the member's key.
    Take(log_->AppendKeyIntroduction(1, member.issuer, member.serial), "AppendKeyIntroduction");
    for (int i = 0; i < 56; ++i) {
      switch (i % 4) {
        case 0: Event(core::OperationSource::kKeypad, core::LockOperationType::kUnlock, core::CredentialType::kPin, 3, 2); break;
        case 1: Event(core::OperationSource::kRfid, core::LockOperationType::kUnlock, core::CredentialType::kRfid, 5, 4); break;
        case 2:
          Event(core::OperationSource::kProprietaryRemote, core::LockOperationType::kUnlock,
                core::CredentialType::kAliroEvictableEndpointKey, 1, 0);
          break;
        default: Event(core::OperationSource::kAuto, core::LockOperationType::kLock, core::CredentialType::kPin, 0, 0); break;
      }
    }
    t_ += kInterval;  // the lock's timer, one interval later: the waiting records get a timed head
    Check(log_->SignHeadIfDue(t_), "SignHeadIfDue");
    if (log_->last_signed_seq() + 1 != log_->next_seq()) throw std::runtime_error("log: no timed head");
    for (int i = 0; i < 3; ++i) {
      Event(core::OperationSource::kKeypad, core::LockOperationType::kUnlock, core::CredentialType::kPin, 3, 2);
    }
  }
  Lock& lock() { return lock_; }
  store::AuditLog& log() { return *log_; }
  int64_t now_utc() const { return t_; }  // the lock's time after the last record

 private:
  void Event(core::OperationSource source, core::LockOperationType op, core::CredentialType type, uint16_t index,
             uint16_t user) {
    core::LockEvent e;
    e.kind = core::EventKind::kLockOperation;
    e.utc_seconds = t_;
    e.monotonic_ms = ms_;
    e.source = source;
    e.operation = op;
    e.user_index = user;
    e.has_credential = true;
    e.credential = core::CredentialRef{type, index};
    Take(log_->Append(e), "Append");
    t_ += 37;
    ms_ += 37000;
  }

  Lock lock_{601};
  crypto::SecretBytes<32> log_key_;
  std::vector<uint8_t> memory_ = std::vector<uint8_t>(kBlock * kBlocks, 0xFF);
  std::vector<uint32_t> erases_ = std::vector<uint32_t>(kBlocks, 0);
  store::FakeFlash flash_{memory_, erases_, kBlock};
  AuthoritySigner signer_{lock_.authority()};
  std::optional<store::HmacLogAuthenticator> auth_;  // portable classes: no operator new
  std::optional<store::AuditLog> log_;
  int64_t t_ = kMonday;
  uint64_t ms_ = 1000;
};

Json MakeLog() {
  LogRig rig;
  Lock& lock = rig.lock();
  store::AuditLog& log = rig.log();
  constexpr uint32_t kInterval = LogRig::kInterval;
  const int64_t t = rig.now_utc();
  store::LogChallenge challenge{};
  for (size_t i = 0; i < challenge.size(); ++i) challenge[i] = static_cast<uint8_t>(0xC0 + i);
  Collect sink;
  Check(log.Export(1, challenge, sink), "Export");

  Json items = Json::array();
  Bytes stream;
  for (const store::LogItem& item : sink.items) {
    Bytes enc(store::kMaxLogRecordSize + 64);
    enc.resize(Take(store::EncodeLogItem(item, enc), "EncodeLogItem"));
    stream.insert(stream.end(), enc.begin(), enc.end());
    Json ji{{"type", ItemTypeName(item.type)}, {"seq", item.seq}, {"item", Hex(enc)}};
    if (item.type == store::LogItemType::kRecord) {
      const store::LogRecord rec =
          Take(store::DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length)), "DecodeLogRecord");
      Json jr{{"type", RecordTypeName(rec.type)}};
      if (rec.type == store::LogRecordType::kEvent) {
        jr["kind"] = static_cast<int>(rec.event.kind);
        jr["utc"] = rec.event.utc_seconds;
        jr["source"] = static_cast<int>(rec.event.source);
        jr["operation"] = static_cast<int>(rec.event.operation);
        jr["user_index"] = rec.event.user_index;
        jr["credential_type"] = static_cast<int>(rec.event.credential.type);
        jr["credential_index"] = rec.event.credential.index;
      } else if (rec.type == store::LogRecordType::kKeyIntro) {
        jr["key_index"] = rec.key_index;
        jr["issuer_key_id"] = Hex(rec.issuer_key_id);
        jr["serial"] = U64(rec.serial);
      } else if (rec.type == store::LogRecordType::kSignedHead) {
        jr["signed_utc"] = rec.signed_utc;
        jr["signature"] = Hex(rec.signature);
      }
      ji["record"] = jr;
    }
    items.push_back(ji);
  }
  store::LogVerifier verifier(lock.authority().identity().public_key(), lock.authority().identity().lock_id(), 1, t,
                              kInterval * 2);
  for (const store::LogItem& item : sink.items) verifier.Feed(item);
  const store::LogFindings& found = verifier.Finish();
  if (!found.offline_ok()) throw std::runtime_error("log: the stream does not verify offline");

  Json j = Header(
      "An exported log stream (MLG2 records, docs/storage-format.md) of 1 KiB segments: a key introduction, "
      "events of keypad, card, a protocol key and auto-lock, a signed head written at the segment roll "
      "(record 0xA6) and a timed signed head (item 6). Offline verification with the lock's public key from "
      "expected_first, at now_utc with max_head_age_s, reaches signed_through, signed at signed_at.");
  j["head_domain"] = "mortise-log-head-v1";
  j["lock_id"] = Hex(FixedLockId());
  j["lock_key"] = Hex(lock.authority().identity().public_key().bytes());
  j["challenge"] = Hex(challenge);
  j["expected_first"] = 1;
  j["now_utc"] = t;
  j["max_head_age_s"] = kInterval * 2;
  j["expect"] = Json{{"signed_through", found.signed_through},
                     {"signed_at", found.signed_at},
                     {"records", found.records},
                     {"unverified", found.unverified}};
  j["items"] = items;
  j["stream"] = Hex(stream);
  return j;
}

// --- group_memberships.json ----------------------------------------------------------

constexpr uint64_t kGroupKeySerial = 0x8A51C0FFEE000006ull;
constexpr uint64_t kCustodianSerial = 0x8A51C0FFEE000007ull;
// Two of the owner's groups: the front doors (the key's) and the staff doors.
constexpr uint64_t kGroupFrontDoors = 0xF7E1D2C3B4A59687ull;
constexpr uint64_t kGroupStaffDoors = 0x1122334455667788ull;

// The MK1 chain of one certificate, with its name, text and what VerifyChain grants.
Json OneCertChainJson(const IssuedCert& c, std::string_view holder) {
  const Bytes chain = ChainOf(c.encoded);
  return Json{{"certificates", Json::array({c.name})},
              {"holder", holder},
              {"chain", Hex(chain)},
              {"text", ChainText(chain)},
              {"expect", Json{{"role", static_cast<int>(c.fields.role)},
                              {"permissions", c.fields.permissions},
                              {"depth", 1}}}};
}

// Sends one frame to the node; returns the reply frame.
Bytes Exchange(protocol::LockNode& node, Lock& lock, std::span<const uint8_t> frame) {
  Bytes reply(protocol::kMaxRemoteFrameSize);
  reply.resize(Take(node.Handle(frame, lock.sim().clock().now_ms(), reply), "LockNode::Handle"));
  return reply;
}

// The lock's reply to `sent` (a frame 0x05) and, when it is signed, the
// receipt message and the version the receipt proves (verified with the
// lock's key, docs/protocol.md section 12).
Json UpdateReplyJson(const Bytes& frame, const Bytes& sent, Lock& lock) {
  const protocol::SignedUpdateReply r = Take(protocol::DecodeSignedUpdateReply(frame), "DecodeSignedUpdateReply");
  Json j{{"frame", Hex(frame)},
         {"kind", static_cast<int>(r.kind)},
         {"status", static_cast<int>(r.status)},
         {"held_version", U64(r.held_version)},
         {"signed", r.signature.has_value()}};
  if (r.signature) {
    const std::span<const uint8_t> update = std::span<const uint8_t>(sent).subspan(2);
    const protocol::LockIdentity& id = lock.authority().identity();
    j["signature"] = Hex(*r.signature);
    j["receipt_message"] = Hex(protocol::SignedUpdateReceiptMessage(id.lock_id(), kGeneration, r.kind, r.status,
                                                                   r.held_version, update));
    j["receipt_held_version"] = U64(Take(
        protocol::VerifySignedUpdateReceipt(r, id.public_key(), id.lock_id(), kGeneration, r.kind, update),
        "VerifySignedUpdateReceipt"));
  }
  return j;
}

// A started node on a claimed lock (the setup code of keys.json's label).
void StartNode(protocol::LockNode& node, Lock& lock) {
  Check(node.Start(lock.sim().clock().now_ms(), 79462759), "LockNode::Start");
}

Json MakeGroupMemberships() {
  using namespace protocol;
  const Certs c = MakeCerts();
  CertificateFields g = BaseFields("member", Role::kMember, kPermLock | kPermUnlock, kGroupKeySerial);
  g.lock_id = LockId{};
  g.claim_generation = 0;
  g.scope = Scope::kGroup;
  g.group_id = kGroupFrontDoors;
  g.not_after = kMonday + 365 * 86400;
  g.schedule = WeeklyWindow{0x3E, 7 * 60, 19 * 60};  // Monday..Friday 07:00-19:00
  const IssuedCert group_cert = Issue("group_member", "owner", 701, g);

  Json j = SignedHeader(
      "Group memberships (GroupMembershipUpdate, format 1): a group key (certificate scope 2, the front doors' "
      "group) and its MK1 chain; the lock's membership signed by the owner (version 1: front and staff doors) and "
      "by an admin holding manage groups, bit 12 (version 2: staff doors only), each in frame 0x05 with the lock's "
      "reply (signed: the lock's receipt, \"mortise-update-receipt-v1\", verified with its key), and the owner's replayed. The group key verifies at verify_at while the membership lists its group.",
      "mortise-groups-v1");
  j["certificate_domain"] = "mortise-cert-v1";
  j["verify_at"] = kMonday;
  j["certificate"] = CertJson(group_cert);
  j["chain"] = OneCertChainJson(group_cert, "member");

  Lock lock(702);
  LockNode node(lock.authority(), lock.sim().lock(), lock.store());
  StartNode(node, lock);
  j["lock_key"] = Hex(lock.authority().identity().public_key().bytes());
  j["receipt_domain"] = "mortise-update-receipt-v1";

  GroupMembershipState by_owner;
  by_owner.version = 1;
  by_owner.claim_generation = kGeneration;
  by_owner.groups[by_owner.count++] = kGroupFrontDoors;  // in any order: signing sorts them
  by_owner.groups[by_owner.count++] = kGroupStaffDoors;
  GroupMembershipState by_admin;
  by_admin.version = 2;
  by_admin.claim_generation = kGeneration;
  by_admin.groups[by_admin.count++] = kGroupStaffDoors;
  const Bytes none;
  const UpdateSpec<GroupMembershipState> specs[] = {{"owner", "owner", 703, &by_owner, &none}, {"admin", "admin", 704, &by_admin, &c.admin.encoded}};
  Json memberships = Json::array();
  Bytes first_frame;
  for (const auto& s : specs) {
    SeededDrbg rng(s.seed);
    Bytes update(kMaxGroupMembershipUpdateSize);
    update.resize(Take(SignGroupMembership(*s.state, FixedLockId(), FixedKey(s.signer), rng.drbg(), update,
                                           *s.issuer_certificate),
                       "SignGroupMembership"));
    const VerifiedGroupMembership v = Take(
        VerifyGroupMembership(update, FixedLockId(), kGeneration, FixedKey("owner").public_key()), "VerifyGroupMembership");
    Json groups = Json::array();
    for (uint64_t id : v.state.group_list()) groups.push_back(U64(id));
    Json m{{"name", s.name},
           {"signer", s.signer},
           {"state", Json{{"version", U64(v.state.version)},
                          {"claim_generation", v.state.claim_generation},
                          {"groups", groups},
                          {"by_admin", v.state.by_admin},
                          {"signer_key_id", v.state.by_admin ? Hex(v.state.signer) : ""}}},
           {"issuer_certificate", Hex(*s.issuer_certificate)}};
    const Json signed_parts = SignedJson(update, s.seed);
    m.update(signed_parts);
    const Bytes tbs = FromHex(signed_parts["tbs"].get<std::string>());
    constexpr std::string_view kDomain = "mortise-groups-v1";
    Bytes digest_input(kDomain.begin(), kDomain.end());
    digest_input.push_back(0);  // the domain's terminating zero is signed
    digest_input.insert(digest_input.end(), tbs.begin(), tbs.end());
    m["digest_input"] = Hex(digest_input);
    m["digest"] = Hex(crypto::Sha256::Hash(digest_input));
    m["update"] = Hex(update);
    // What the group key may do at this lock under this membership.
    VerifyContext ctx;
    const crypto::P256PublicKey owner = FixedKey("owner").public_key();
    ctx.lock_id = FixedLockId();
    ctx.owner = &owner;
    ctx.utc_now = kMonday;
    ctx.claim_generation = kGeneration;
    ctx.groups = v.state.group_list();
    const Result<VerifiedKey> key = VerifyChain(ChainOf(group_cert.encoded), ctx);
    m["group_key_status"] = static_cast<int>(key.ok() ? StatusCode::kOk : key.status().code());
    Bytes frame(1 + 1 + kMaxGroupMembershipUpdateSize);
    frame.resize(Take(EncodeSignedUpdateFrame(SignedUpdateKind::kGroupMembership, update, frame),
                      "EncodeSignedUpdateFrame"));
    if (first_frame.empty()) first_frame = frame;
    m["frame"] = Hex(frame);
    m["reply"] = UpdateReplyJson(Exchange(node, lock, frame), frame, lock);
    memberships.push_back(m);
  }
  j["memberships"] = memberships;
  // The owner's version 1 again, after version 2: refused, nothing changes.
  j["replayed"] = Json{{"membership", "owner"}, {"reply", UpdateReplyJson(Exchange(node, lock, first_frame), first_frame, lock)}};
  if (lock.authority().group_membership().version != 2) {
    throw std::runtime_error("groups: the lock does not hold version 2");
  }
  return j;
}

// --- custody.json ----------------------------------------------------------------------

Json CustodyReplyJson(const Bytes& frame) {
  const protocol::CustodyReply r = Take(protocol::DecodeCustodyReply(frame), "DecodeCustodyReply");
  Json j{{"frame", Hex(frame)}, {"status", static_cast<int>(r.status)}, {"has_counters", r.has_counters}};
  if (r.has_counters) {
    j["cursor"] = r.cursor;
    j["head"] = r.head;
  }
  j["has_receipt"] = r.has_receipt;
  if (r.has_receipt) {
    std::array<uint8_t, protocol::kCustodyReceiptMessageSize> message{};
    protocol::EncodeCustodyReceiptMessage(FixedLockId(), kGeneration, r.cursor, r.cursor_chain, r.signed_utc, message);
    j["signed_utc"] = r.signed_utc;
    j["cursor_chain"] = Hex(r.cursor_chain);
    j["receipt_message"] = Hex(message);
    j["signature"] = Hex(r.signature);
  }
  return j;
}

Json MakeCustody() {
  using namespace protocol;
  const IssuedCert cert =
      Issue("custodian", "owner", 801, BaseFields("custodian", Role::kAdmin, kPermLogCustody, kCustodianSerial));
  const Bytes chain = ChainOf(cert.encoded);

  LogRig rig;
  Lock& lock = rig.lock();
  LockNode node(lock.authority(), lock.sim().lock(), lock.store());
  StartNode(node, lock);
  AuditLogCustodian custodian(rig.log());
  node.set_log_custodian(&custodian);
  constexpr uint64_t kN = 40;  // the server holds records 1..40 of log.json's stream
  CustodyAck ack;
  ack.lock_id = FixedLockId();
  ack.generation = kGeneration;
  ack.seq = kN;
  ack.chain = Take(custodian.ChainAt(kN), "ChainAt");
  constexpr uint64_t kAckSeed = 802;
  SeededDrbg rng(kAckSeed);
  Bytes frame(kMaxCustodyAckFrameSize);
  frame.resize(Take(EncodeCustodyAck(ack, FixedKey("custodian"), chain, rng.drbg(), frame), "EncodeCustodyAck"));
  const Bytes reply = Exchange(node, lock, frame);
  const Bytes replayed = Exchange(node, lock, frame);
  if (custodian.cursor() != kN) throw std::runtime_error("custody: the cursor did not move");

  Json j = SignedHeader(
      "Log custody (docs/protocol.md section 16): a custody key (role admin, log custody, bit 11, alone) "
      "acknowledges records 1..seq of log.json's stream in frame 0x06 (signed over bytes 1..45 of the frame); the "
      "lock answers advanced with the cursor, its head and a receipt signed by its identity key; the same frame "
      "replayed changes nothing.",
      "mortise-log-ack-v1");
  j["certificate_domain"] = "mortise-cert-v1";
  j["receipt_domain"] = "mortise-log-cursor-v1";
  j["lock_key"] = Hex(lock.authority().identity().public_key().bytes());
  j["verify_at"] = kMonday;
  j["log"] = "log.json";
  j["certificate"] = CertJson(cert);
  j["chain"] = OneCertChainJson(cert, "custodian");
  Json a{{"signer", "custodian"},
         {"fields", Json{{"lock_id", Hex(ack.lock_id)},
                         {"claim_generation", ack.generation},
                         {"seq", ack.seq},
                         {"chain_hash", Hex(ack.chain)}}},
         {"tbs", Hex(std::span<const uint8_t>(frame).subspan(1, kCustodyAckFieldsSize))},
         {"signature", Hex(std::span<const uint8_t>(frame).last(crypto::kP256SignatureSize))},
         {"signature_nonce_input", Hex(HedgeInput(kAckSeed))},
         {"frame", Hex(frame)}};
  j["acknowledgement"] = a;
  j["reply"] = CustodyReplyJson(reply);
  j["replayed"] = CustodyReplyJson(replayed);
  return j;
}

// --- Storage compatibility images (store/testdata/compat/) ------------------------

constexpr uint64_t kGuestUseSerial = kGuestSerial;

void WriteFile(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

void WriteCompatImages(const std::string& dir_name) {
  namespace fs = std::filesystem;
  using namespace protocol;
  const fs::path dir = dir_name;
  fs::create_directories(dir);
  fs::remove(dir / "records.img");
  fs::remove(dir / "log.img");
  // The geometry of lockd's defaults ([storage] store_kib 256, log_kib 64).
  auto records_flash = Take(store::FileFlash::Open((dir / "records.img").string(), kCompatBlockSize,
                                                   kCompatRecordBlocks), "FileFlash records");
  auto log_flash = Take(store::FileFlash::Open((dir / "log.img").string(), kCompatBlockSize, kCompatLogBlocks),
                        "FileFlash log");
  auto records = std::make_unique<store::StaticRecordStore<store::RecordStore::kDefaultCapacity>>(*records_flash);
  Check(records->store.Mount(), "RecordStore::Mount");
  core::DurableStore& st = records->store;
  SeededDrbg rng(701);
  Take(LockIdentity::Provision(st, FixedScalar("lock")), "Provision");
  sim::SimLock sim(&st);
  Check(sim.Start(), "SimLock::Start");
  LockAuthority authority(st, rng.drbg());
  Check(authority.Start(), "LockAuthority::Start");
  Take(ProvisionSetupCode(authority.identity(), st, rng.drbg(), 79462759, kDefaultClaimIterations),
       "ProvisionSetupCode");
  const std::array<uint8_t, 32> pin_secret = Lock::OfflinePinSecret();
  Check(authority.InstallOwner(FixedKey("owner").public_key(), pin_secret), "InstallOwner");
  Check(sim.lock().SetUtcTime(kMonday, false), "SetUtcTime");
  // A user with a PIN.
  core::SetUserRequest user;
  user.operation = core::DataOperationType::kAdd;
  user.user_index = 1;
  user.user_name = "alice";
  if (sim.lock().users().SetUser(user, core::Actor{}) != core::DlStatus::kSuccess) throw std::runtime_error("SetUser");
  static constexpr uint8_t kPin[] = {'2', '4', '6', '8', '1', '3'};
  core::SetCredentialRequest cred;
  cred.operation = core::DataOperationType::kAdd;
  cred.credential = {core::CredentialType::kPin, 1};
  cred.credential_data = kPin;
  cred.user_index = 1;
  if (sim.lock().users().SetCredential(cred, core::Actor{}).status != core::DlStatus::kSuccess) {
    throw std::runtime_error("SetCredential");
  }
  // The owner's access list, version 7 (as access_lists.json).
  {
    const KeyId owner_id = KeyIdOf(FixedKey("owner").public_key());
    AccessListState list;
    list.version = 7;
    list.claim_generation = kGeneration;
    list.revoked[list.revoked_count++] = KeyRef{owner_id, 0x1234};
    SeededDrbg sign(702);
    Bytes update(kMaxAccessListUpdateSize);
    update.resize(Take(SignAccessList(list, FixedLockId(), FixedKey("owner"), sign.drbg(), update), "SignAccessList"));
    Check(authority.ApplyAccessList(update), "ApplyAccessList");
  }
  // The log, with the key table wired to it as lockd wires it.
  crypto::SecretBytes<32> log_key;
  Check(authority.LogKey(log_key), "LogKey");
  const store::HmacLogAuthenticator auth(log_key.span());
  store::AuditLog log(*log_flash, st, auth);
  AuthoritySigner signer(authority);
  log.set_head_signer(&signer, 600);
  Check(log.Mount(), "AuditLog::Mount");
  struct Introducer final : KeyTableObserver {
    explicit Introducer(store::AuditLog& l) : log(l) {}
    void KeyIndexAssigned(uint16_t index, const KeyRef& key) override {
      Take(log.AppendKeyIntroduction(index, key.issuer, key.serial), "AppendKeyIntroduction");
    }
    store::AuditLog& log;
  } introducer(log);
  authority.set_key_table_observer(&introducer);
  // A use-counted guest key: its use count and key index are stored.
  const Certs c = MakeCerts();
  const VerifiedKey guest = Take(authority.VerifyKey(ChainOf(c.guest.encoded), sim.lock()), "VerifyKey guest");
  Take(authority.KeyIndexOf(guest), "KeyIndexOf guest");
  Check(authority.ConsumeUse(guest, kMonday), "ConsumeUse");
  const VerifiedKey member =
      Take(authority.VerifyKey(ChainOf(c.admin.encoded, c.member.encoded), sim.lock()), "VerifyKey member");
  const uint16_t member_index = Take(authority.KeyIndexOf(member), "KeyIndexOf member");
  int64_t t = kMonday;
  for (int i = 0; i < 400; ++i) {
    core::LockEvent e;
    e.kind = core::EventKind::kLockOperation;
    e.utc_seconds = t;
    e.monotonic_ms = static_cast<uint64_t>(i) * 60000;
    e.source = i % 3 == 0 ? core::OperationSource::kKeypad : core::OperationSource::kProprietaryRemote;
    e.operation = i % 2 == 0 ? core::LockOperationType::kUnlock : core::LockOperationType::kLock;
    e.has_credential = true;
    e.credential = i % 3 == 0 ? core::CredentialRef{core::CredentialType::kPin, 1}
                              : core::CredentialRef{core::CredentialType::kAliroEvictableEndpointKey, member_index};
    e.user_index = i % 3 == 0 ? 1 : 0;
    Take(log.Append(e), "Append");
    t += 60;
    if (i % 50 == 49) Check(log.SignHeadIfDue(t), "SignHeadIfDue");
  }
  Check(log.Acknowledge(100), "Acknowledge");
  authority.set_key_table_observer(nullptr);

  // The exported stream a relay stores, from the oldest record on flash.
  store::LogChallenge challenge{};
  challenge.fill(0x5A);
  Collect sink;
  Check(log.Export(1, challenge, sink), "Export");
  Bytes stream;
  for (const store::LogItem& item : sink.items) {
    Bytes enc(store::kMaxLogRecordSize + 64);
    enc.resize(Take(store::EncodeLogItem(item, enc), "EncodeLogItem"));
    stream.insert(stream.end(), enc.begin(), enc.end());
  }
  WriteFile(dir / "log-stream.bin", stream);
  store::LogVerifier offline(authority.identity().public_key(), authority.identity().lock_id(), 1, t, 1200);
  for (const store::LogItem& item : sink.items) offline.Feed(item);
  const store::LogFindings found = offline.Finish();
  if (!found.offline_ok()) throw std::runtime_error("compat: the stream does not verify offline");

  Json m{{"format", "mortise-compat-1"},
         {"description", "Images as mortise-lockd writes them (records.img: record store, 64 blocks of 4 KiB; "
                         "log.img: MLG2 audit log, 16 blocks of 4 KiB) and an exported log stream, made by "
                         "`mortise-vectors --compat-images`. Every later version mounts, reads and verifies them "
                         "(store/testdata/compat/README.md)."},
         {"lock_id", Hex(authority.identity().lock_id())},
         {"lock_key", Hex(authority.identity().public_key().bytes())},
         {"owner_key", Hex(FixedKey("owner").public_key().bytes())},
         {"claim_generation", authority.claim_generation()},
         {"access_list_version", U64(authority.access_list().version)},
         {"user", Json{{"index", 1}, {"name", "alice"}, {"pin", "246813"}}},
         {"guest", Json{{"issuer_key_id", Hex(guest.key_ref().issuer)}, {"serial", U64(kGuestUseSerial)}, {"uses", 1}}},
         {"member", Json{{"issuer_key_id", Hex(member.key_ref().issuer)},
                         {"serial", U64(member.key_ref().serial)},
                         {"key_index", member_index}}},
         {"log", Json{{"next_seq", log.next_seq()},
                      {"oldest_seq", log.oldest_seq()},
                      {"acknowledged", log.acknowledged()},
                      {"stream_signed_through", found.signed_through},
                      {"stream_signed_at", found.signed_at},
                      {"stream_now_utc", t}}}};
  const std::string text = Render(m);
  WriteFile(dir / "manifest.json", std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

namespace {

constexpr VectorKind kKinds[] = {
    {"keys.json", MakeKeys},
    {"certificates.json", MakeCertificates},
    {"access_lists.json", MakeAccessLists},
    {"revalidation.json", MakeRevalidation},
    {"remote.json", MakeRemote},
    {"session.json", MakeSession},
    {"offline_pins.json", MakeOfflinePins},
    {"log.json", MakeLog},
    {"group_memberships.json", MakeGroupMemberships},
    {"custody.json", MakeCustody},
};

}  // namespace

std::span<const VectorKind> Kinds() { return kKinds; }

std::string Render(const Json& document) { return document.dump(2) + "\n"; }

// The CLI's hex helpers (one implementation in the repository).
std::string Hex(std::span<const uint8_t> bytes) { return cli::ToHex(bytes); }

Bytes Le(uint64_t v, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
  return out;
}

Bytes FromHex(std::string_view hex) {
  Bytes out;
  if (!cli::FromHex(hex, out)) throw std::invalid_argument("bad hex");
  return out;
}

SeededDrbg::SeededDrbg(uint64_t seed) : entropy_(seed), drbg_(entropy_) { Check(drbg_.Seed(), "Drbg::Seed"); }

std::array<uint8_t, 32> HedgeInput(uint64_t seed) {
  SeededDrbg rng(seed);
  std::array<uint8_t, 32> k{};
  Check(rng.drbg().Generate(k), "Drbg::Generate");
  return k;
}

crypto::P256KeyPair FixedKey(std::string_view name) {
  return Take(crypto::P256KeyPair::FromPrivateScalar(FixedScalar(name)), "FromPrivateScalar");
}

std::array<uint8_t, 32> DomainDigest(std::string_view domain, std::span<const uint8_t> tbs) {
  crypto::Sha256 h;
  h.Update(Text(domain));
  const uint8_t nul = 0;
  h.Update(std::span<const uint8_t>(&nul, 1));
  h.Update(tbs);
  crypto::Digest d{};
  h.Final(d);
  return d;
}

Signed SplitSigned(std::span<const uint8_t> in) {
  size_t pos = 0;
  auto varint = [&]() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= in.size()) throw std::invalid_argument("truncated varint");
      const uint8_t b = in[pos++];
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    throw std::invalid_argument("varint too long");
  };
  auto field = [&](uint8_t key) {
    if (pos >= in.size() || in[pos] != key) throw std::invalid_argument("unexpected field");
    ++pos;
    const uint64_t n = varint();
    if (n > in.size() - pos) throw std::invalid_argument("field too long");
    Bytes out(in.begin() + static_cast<long>(pos), in.begin() + static_cast<long>(pos + n));
    pos += n;
    return out;
  };
  Signed s;
  s.tbs = field(0x0A);
  if (pos < in.size()) s.signature = field(0x12);
  if (pos != in.size()) throw std::invalid_argument("trailing bytes");
  return s;
}

}  // namespace mortise::vectors
