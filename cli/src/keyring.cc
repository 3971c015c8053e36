#include "keyring.h"

#include "mortise/hostfs/dir_rules.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

#include "error.h"
#include "key_string.h"
#include "secret_string.h"

namespace mortise::cli {
namespace {

using nlohmann::json;

void InitSodium() {
  if (sodium_init() < 0) throw Error(ExitCode::kInternal, "libsodium could not be initialised");
}

[[noreturn]] void Damaged(const std::string& what) {
  throw Error(ExitCode::kKeyring, "damaged keyring: " + what,
              "Restore the keyring from a backup; mortise did not change the file.");
}

std::string Errno(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

// Zeroes every string in a JSON tree (the hex of private keys and secrets)
// before the tree is destroyed.
void WipeJson(json& j) {
  if (j.is_string()) {
    WipeString(j.get_ref<std::string&>());
  } else if (j.is_structured()) {
    for (auto& child : j) WipeJson(child);
  }
}

// Reads the members of one JSON object, remembering which it consumed, so
// the rest is kept as `extra`.
class ObjectReader {
 public:
  ObjectReader(const json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) Damaged(where_ + " is not an object");
  }

  const json* Find(const char* key) {
    consumed_.insert(key);
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  const json& Need(const char* key) {
    const json* v = Find(key);
    if (v == nullptr) Damaged(where_ + " has no \"" + key + "\"");
    return *v;
  }
  std::string String(const char* key, bool required = true) {
    const json* v = required ? &Need(key) : Find(key);
    if (v == nullptr) return {};
    if (!v->is_string()) Damaged(where_ + "." + key + " is not a string");
    return v->get<std::string>();
  }
  template <typename T>
  T Unsigned(const char* key, bool required = false) {
    const json* v = required ? &Need(key) : Find(key);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned() || v->get<uint64_t>() > std::numeric_limits<T>::max())
      Damaged(where_ + "." + key + " is not a valid unsigned number");
    return static_cast<T>(v->get<uint64_t>());
  }
  int64_t Signed(const char* key) {
    const json* v = Find(key);
    if (v == nullptr) return 0;
    if (!v->is_number_integer()) Damaged(where_ + "." + key + " is not an integer");
    return v->get<int64_t>();
  }
  bool Bool(const char* key) {
    const json* v = Find(key);
    if (v == nullptr) return false;
    if (!v->is_boolean()) Damaged(where_ + "." + key + " is not a boolean");
    return v->get<bool>();
  }
  std::vector<uint8_t> Hex(const char* key, bool required, size_t exact = 0) {
    std::string s = String(key, required);
    std::vector<uint8_t> out;
    if (!FromHex(s, out)) Damaged(where_ + "." + key + " is not hex");
    WipeString(s);
    if (exact != 0 && (required || !out.empty()) && out.size() != exact)
      Damaged(where_ + "." + key + " has " + std::to_string(out.size()) + " bytes, not " + std::to_string(exact));
    return out;
  }
  template <size_t N>
  void HexInto(const char* key, std::array<uint8_t, N>& out) {
    std::vector<uint8_t> v = Hex(key, true, N);
    std::copy(v.begin(), v.end(), out.begin());
  }
  const json* Array(const char* key) {
    const json* v = Find(key);
    if (v != nullptr && !v->is_array()) Damaged(where_ + "." + key + " is not an array");
    return v;
  }
  json Extra() const {
    json extra = json::object();
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (consumed_.count(it.key()) == 0) extra[it.key()] = it.value();
    return extra;
  }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
  std::set<std::string> consumed_;
};

std::optional<protocol::WeeklyWindow> ReadSchedule(ObjectReader& r) {
  const json* s = r.Find("schedule");
  if (s == nullptr || s->is_null()) return std::nullopt;
  ObjectReader sr(*s, r.where() + ".schedule");
  protocol::WeeklyWindow w;
  w.days_mask = sr.Unsigned<uint8_t>("days_mask", true);
  w.start_minute = sr.Unsigned<uint16_t>("start_minute", true);
  w.end_minute = sr.Unsigned<uint16_t>("end_minute", true);
  return w;
}

json ScheduleJson(const protocol::WeeklyWindow& w) {
  return json{{"days_mask", w.days_mask}, {"start_minute", w.start_minute}, {"end_minute", w.end_minute}};
}

IdentityEntry ReadIdentity(const json& j, size_t index) {
  ObjectReader r(j, "identities[" + std::to_string(index) + "]");
  IdentityEntry e;
  e.name = r.String("name");
  if (!IsValidName(e.name)) Damaged(r.where() + ".name is not a valid name");
  std::vector<uint8_t> scalar = r.Hex("private_key", true, crypto::kP256ScalarSize);
  std::copy(scalar.begin(), scalar.end(), e.private_key.data());
  sodium_memzero(scalar.data(), scalar.size());
  r.HexInto("public_key", e.public_key);
  e.created = r.Signed("created");
  e.extra = r.Extra();
  return e;
}

json IdentityJson(const IdentityEntry& e) {
  json j = e.extra;
  j["name"] = e.name;
  j["private_key"] = ToHex(e.private_key.span());
  j["public_key"] = ToHex(e.public_key);
  j["created"] = e.created;
  return j;
}

IssuedKey ReadIssued(const json& j, const std::string& where) {
  ObjectReader r(j, where);
  IssuedKey k;
  k.serial = r.Unsigned<uint64_t>("serial", true);
  if (k.serial == 0) Damaged(where + ".serial is 0");
  k.holder_name = r.String("holder_name", false);
  r.HexInto("holder_key", k.holder_key);
  k.role = RoleFromText(r.String("role"));
  k.permissions = r.Unsigned<uint32_t>("permissions");
  k.not_before = r.Unsigned<uint64_t>("not_before");
  k.not_after = r.Unsigned<uint64_t>("not_after");
  k.schedule = ReadSchedule(r);
  k.max_uses = r.Unsigned<uint32_t>("max_uses");
  k.remote_only = r.Bool("remote_only");
  k.revoked = r.Bool("revoked");
  k.issued_at = r.Signed("issued_at");
  k.chain = r.Hex("chain", false);
  k.extra = r.Extra();
  return k;
}

json IssuedJson(const IssuedKey& k) {
  json j = k.extra;
  j["serial"] = k.serial;
  j["holder_name"] = k.holder_name;
  j["holder_key"] = ToHex(k.holder_key);
  j["role"] = RoleText(k.role);
  j["permissions"] = k.permissions;
  j["not_before"] = k.not_before;
  j["not_after"] = k.not_after;
  j["schedule"] = k.schedule ? ScheduleJson(*k.schedule) : json(nullptr);
  j["max_uses"] = k.max_uses;
  j["remote_only"] = k.remote_only;
  j["revoked"] = k.revoked;
  j["issued_at"] = k.issued_at;
  j["chain"] = ToHex(k.chain);
  return j;
}

AccessListKnowledge ReadAccessList(const json* j, const std::string& where) {
  AccessListKnowledge a;
  if (j == nullptr) return a;
  ObjectReader r(*j, where);
  a.version = r.Unsigned<uint64_t>("version");
  a.floor = r.Unsigned<uint64_t>("floor");
  auto serials = [&](const char* key, std::vector<protocol::KeyRef>& out) {
    if (const json* arr = r.Array(key)) {
      size_t i = 0;
      for (const json& s : *arr) {
        const std::string at = where + "." + key + "[" + std::to_string(i++) + "]";
        // A bare serial is from before keys named their issuer: it revoked a
        // certificate of a format no lock accepts any more, so it is dropped.
        if (s.is_number_unsigned()) continue;
        ObjectReader kr(s, at);
        protocol::KeyRef k;
        kr.HexInto("issuer_key_id", k.issuer);
        k.serial = kr.Unsigned<uint64_t>("serial", true);
        if (k.serial == 0) Damaged(at + ".serial is 0");
        out.push_back(k);
      }
    }
  };
  serials("revoked", a.revoked);
  serials("disabled", a.disabled);
  if (const json* arr = r.Array("min_epochs")) {
    size_t i = 0;
    for (const json& e : *arr) {
      ObjectReader er(e, where + ".min_epochs[" + std::to_string(i++) + "]");
      protocol::IssuerMinEpoch m;
      er.HexInto("issuer_key_id", m.issuer);
      m.min_epoch = er.Unsigned<uint32_t>("min_epoch", true);
      a.min_epochs.push_back(m);
    }
  }
  // Unknown members of the access list are not kept: the owner signs from
  // exactly these fields, and a list it cannot interpret must not be signed.
  return a;
}

json AccessListJson(const AccessListKnowledge& a) {
  json epochs = json::array();
  for (const auto& m : a.min_epochs) epochs.push_back({{"issuer_key_id", ToHex(m.issuer)}, {"min_epoch", m.min_epoch}});
  auto keys = [](const std::vector<protocol::KeyRef>& refs) {
    json arr = json::array();
    for (const auto& k : refs) arr.push_back({{"issuer_key_id", ToHex(k.issuer)}, {"serial", k.serial}});
    return arr;
  };
  return json{{"version", a.version}, {"floor", a.floor}, {"revoked", keys(a.revoked)}, {"disabled", keys(a.disabled)},
              {"min_epochs", epochs}};
}

LockEntry ReadLock(const json& j, size_t index) {
  const std::string where = "locks[" + std::to_string(index) + "]";
  ObjectReader r(j, where);
  LockEntry l;
  l.name = r.String("name");
  if (!IsValidName(l.name)) Damaged(where + ".name is not a valid name");
  r.HexInto("lock_id", l.lock_id);
  r.HexInto("lock_key", l.lock_key);
  l.endpoint = r.String("endpoint", false);
  l.role = RoleFromText(r.String("role"));
  l.identity = r.String("identity");
  l.chain = r.Hex("chain", false);
  std::vector<uint8_t> secret = r.Hex("offline_pin_secret", false, 32);
  if (!secret.empty()) {
    l.offline_pin_secret.emplace();
    std::copy(secret.begin(), secret.end(), l.offline_pin_secret->data());
    sodium_memzero(secret.data(), secret.size());
  }
  l.access_list = ReadAccessList(r.Find("access_list"), where + ".access_list");
  l.claim_generation = r.Unsigned<uint32_t>("claim_generation");
  l.issuer_epoch = r.Unsigned<uint32_t>("issuer_epoch");
  if (const json* arr = r.Array("issued")) {
    size_t i = 0;
    for (const json& k : *arr) l.issued.push_back(ReadIssued(k, where + ".issued[" + std::to_string(i++) + "]"));
  }
  l.remote_counter = r.Unsigned<uint32_t>("remote_counter");
  l.log_cursor = r.Unsigned<uint64_t>("log_cursor");
  l.added_at = r.Signed("added_at");
  l.extra = r.Extra();
  // The lock id is a function of the pinned key: a mismatch means the file
  // was edited or damaged, and the pin must not be trusted.
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(l.lock_key);
  if (!key.ok() || protocol::LockIdOf(*key) != l.lock_id) Damaged(where + ": lock_id does not match lock_key");
  return l;
}

json LockJson(const LockEntry& l) {
  json j = l.extra;
  j["name"] = l.name;
  j["lock_id"] = ToHex(l.lock_id);
  j["lock_key"] = ToHex(l.lock_key);
  j["endpoint"] = l.endpoint;
  j["role"] = RoleText(l.role);
  j["identity"] = l.identity;
  j["chain"] = ToHex(l.chain);
  if (l.offline_pin_secret) {
    j["offline_pin_secret"] = ToHex(l.offline_pin_secret->span());
  } else {
    j.erase("offline_pin_secret");
  }
  j["access_list"] = AccessListJson(l.access_list);
  j["claim_generation"] = l.claim_generation;
  j["issuer_epoch"] = l.issuer_epoch;
  json issued = json::array();
  for (const auto& k : l.issued) issued.push_back(IssuedJson(k));
  j["issued"] = issued;
  j["remote_counter"] = l.remote_counter;
  j["log_cursor"] = l.log_cursor;
  j["added_at"] = l.added_at;
  return j;
}

void PutLe(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t GetLe(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

void DeriveKey(std::string_view passphrase, const KeyringHeader& h, crypto::SecretBytes<32>& key) {
  InitSodium();
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), h.salt.data(), h.kdf.opslimit,
                    static_cast<size_t>(h.kdf.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw Error(ExitCode::kKeyring,
                "could not derive the keyring key (Argon2id needs " + std::to_string(h.kdf.memlimit >> 20) + " MiB)",
                "Free some memory and try again.");
}

// The keyring's directory must be the user's own and writable by nobody
// else: whoever can write there can swap the keyring for one of theirs (and
// pin their key as a lock's) or plant a link that a rewrite follows, and
// whoever owns it can do both. Same rule as mortise-lockd's state dir
// (docs/cli.md, "Keyring").
void CheckKeyringDir(const std::filesystem::path& dir) {
  // The way there too (hostfs): no stranger's link on the path, no
  // ancestor another user could rename the directory in. With those, no
  // one but root or the user can swap anything between this check and the
  // keyring's writes, so the path stays the one checked.
  const uid_t euid = ::geteuid();
  if (std::string why = hostfs::CheckLinks(dir.string(), euid, /*create=*/false, "mortise"); !why.empty())
    throw Error(ExitCode::kKeyring, "the keyring's path is unsafe: " + why,
                "Keep the keyring in a directory of your own under directories root owns, e.g. "
                "`mkdir -m 700 ~/.config/mortise` (--keyring or MORTISE_KEYRING).");
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(dir, ec);
  if (ec) throw Error(ExitCode::kKeyring, "cannot resolve the keyring directory " + dir.string() + " (" + ec.message() + ")");
  if (std::string why = hostfs::CheckAncestors(real.string(), euid, "mortise"); !why.empty())
    throw Error(ExitCode::kKeyring, "the keyring's path is unsafe: " + why,
                "Keep the keyring in a directory of your own under directories root owns, e.g. "
                "`mkdir -m 700 ~/.config/mortise` (--keyring or MORTISE_KEYRING).");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    throw Error(ExitCode::kKeyring, "cannot inspect the keyring directory " + dir.string() + " (" + Errno("stat") + ")");
  const uid_t me = ::geteuid();
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if (st.st_uid != me)
    throw Error(ExitCode::kKeyring,
                "the keyring directory " + dir.string() + " is owned by uid " + std::to_string(st.st_uid) +
                    " (mode " + mode + "), not by you (uid " + std::to_string(me) +
                    "); its owner could replace your keyring",
                "Keep the keyring in a directory of your own: `mkdir -m 700 ~/.config/mortise` and move it there "
                "(--keyring or MORTISE_KEYRING), or, if the directory is yours, `sudo chown " + std::to_string(me) +
                    " " + dir.string() + "`.");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw Error(ExitCode::kKeyring,
                "the keyring directory " + dir.string() + " is writable by group or others (mode " + mode +
                    "); they could replace your keyring",
                "Run `chmod go-w " + dir.string() + "` (or `chmod 700 " + dir.string() + "`).");
}

// An flock on "<keyring>.lock", released when the fd closes.
int AcquireLock(const std::filesystem::path& path, bool exclusive, std::chrono::milliseconds wait) {
  const std::string lock_path = path.string() + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw Error(ExitCode::kKeyring, "cannot open the keyring lock " + lock_path + " (" + Errno("open") + ")",
                "Check the directory's permissions.");
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) return fd;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const std::string why = Errno("flock");
      ::close(fd);
      throw Error(ExitCode::kKeyring, "cannot lock the keyring (" + why + ")");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      throw Error(ExitCode::kKeyring, "the keyring is in use by another mortise process",
                  "Wait for it to finish (or stop it) and try again.");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<uint8_t> ReadWholeFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      throw Error(ExitCode::kKeyring, "no keyring at " + path.string(),
                  "Create one with `mortise init`, or name yours with --keyring or MORTISE_KEYRING.");
    throw Error(ExitCode::kKeyring, "cannot read the keyring " + path.string() + " (" + Errno("open") + ")");
  }
  std::vector<uint8_t> data;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = Errno("read");
      ::close(fd);
      throw Error(ExitCode::kKeyring, "cannot read the keyring " + path.string() + " (" + why + ")");
    }
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
    if (data.size() > kMaxKeyringFileSize) {
      ::close(fd);
      Damaged("the file is larger than any keyring (" + std::to_string(kMaxKeyringFileSize) + " bytes)");
    }
  }
  ::close(fd);
  return data;
}

void WriteAll(int fd, const uint8_t* p, size_t n, const std::string& tmp) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(ExitCode::kKeyring, "cannot write the keyring (" + Errno("write") + " on " + tmp + ")",
                  "Free some disk space or check permissions; the old keyring is unchanged.");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void AtomicReplace(const std::filesystem::path& path, std::span<const uint8_t> bytes, const std::string& what) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw Error(ExitCode::kKeyring, "cannot write " + what + " (" + Errno("mkstemp") + " in " + dir.string() + ")",
                "Check the directory's permissions and free space; " + what + " is unchanged.");
  try {
    if (::fchmod(fd, 0600) != 0) throw Error(ExitCode::kKeyring, "cannot write " + what + " (" + Errno("fchmod") + ")");
    WriteAll(fd, bytes.data(), bytes.size(), tmp);
    if (::fsync(fd) != 0)
      throw Error(ExitCode::kKeyring, "cannot write " + what + " (" + Errno("fsync") + ")",
                  "The disk may be failing; " + what + " is unchanged.");
    if (::close(fd) != 0) {
      throw Error(ExitCode::kKeyring, "cannot write " + what + " (" + Errno("close") + ")");
    }
  } catch (...) {
    ::close(fd);  // may fail with EBADF after a failed close; harmless
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = Errno("rename");
    ::unlink(tmp.c_str());
    throw Error(ExitCode::kKeyring, "cannot replace " + what + " (" + why + ")",
                "Nothing was replaced: " + what + " is unchanged.");
  }
  // The rename is durable only once the directory is.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// --- KdfParams ---------------------------------------------------------------

KdfParams KdfParams::Default() { return KdfParams{3, 64ull * 1024 * 1024}; }

KdfParams KdfParams::Fast() {
  return KdfParams{static_cast<uint32_t>(crypto_pwhash_argon2id_OPSLIMIT_MIN),
                   static_cast<uint64_t>(crypto_pwhash_argon2id_MEMLIMIT_MIN)};
}

KdfParams KdfParams::ForNewKeyring() {
  const char* mode = std::getenv("MORTISE_KEYRING_KDF");
  if (mode != nullptr && std::string_view(mode) == "fast") return Fast();
  return Default();
}

bool KdfParams::Acceptable() const {
  return opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN && opslimit <= 32 &&
         memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN && memlimit <= (4ull << 30);
}

// --- Roles -------------------------------------------------------------------

const char* RoleText(protocol::Role role) { return protocol::RoleName(role); }

protocol::Role RoleFromText(std::string_view text) {
  for (uint8_t r = 1; r < protocol::kRoleCount; ++r) {
    const auto role = static_cast<protocol::Role>(r);
    if (text == protocol::RoleName(role)) return role;
  }
  Damaged("unknown role \"" + std::string(text) + "\"");
}

// --- Entries -----------------------------------------------------------------

crypto::P256KeyPair IdentityEntry::KeyPair() const {
  Result<crypto::P256KeyPair> pair = crypto::P256KeyPair::FromPrivateScalar(private_key.span());
  if (!pair.ok() || pair->public_key().bytes() != public_key) Damaged("identity \"" + name + "\" has an invalid key");
  return std::move(*pair);
}

crypto::P256PublicKey IdentityEntry::PublicKey() const {
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(public_key);
  if (!key.ok()) Damaged("identity \"" + name + "\" has an invalid public key");
  return *key;
}

protocol::AccessListState AccessListKnowledge::NextSnapshot(uint32_t claim_generation) const {
  if (revoked.size() > protocol::kMaxRevokedKeys || disabled.size() > protocol::kMaxDisabledKeys ||
      min_epochs.size() > protocol::kMaxIssuerEpochs)
    throw Error(ExitCode::kUsage,
                "the access list is full (at most " + std::to_string(protocol::kMaxRevokedKeys) + " revoked and " +
                    std::to_string(protocol::kMaxDisabledKeys) + " disabled keys)",
                "Raise the issuer's epoch to revoke all its older keys at once, and re-issue the keys that stay.");
  protocol::AccessListState s;
  s.version = std::max(version, floor) + 1;
  s.claim_generation = claim_generation;
  for (const auto& r : revoked) s.revoked[s.revoked_count++] = r;
  for (const auto& d : disabled) s.disabled[s.disabled_count++] = d;
  for (const auto& e : min_epochs) s.epochs[s.epoch_count++] = e;
  return s;
}

crypto::P256PublicKey LockEntry::LockKey() const {
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(lock_key);
  if (!key.ok()) Damaged("lock \"" + name + "\" has an invalid lock key");
  return *key;
}

uint64_t LockEntry::NewSerial(crypto::Drbg& drbg) const {
  for (;;) {
    uint8_t b[8];
    if (!drbg.Generate(b).ok()) throw Error(ExitCode::kInternal, "the random generator failed");
    // 64 random bits: with the issuer's key id they name the key; the lock
    // gives it a small index of its own for the log.
    const uint64_t serial = GetLe(b, 8);
    bool used = serial == 0;
    for (const auto& k : issued) used = used || k.serial == serial;
    if (!used) return serial;
  }
}

void LockEntry::RecordIssuedKey(IssuedKey key) {
  if (key.serial == 0 || FindIssued(key.serial) != nullptr)
    throw Error(ExitCode::kUsage, "serial " + std::to_string(key.serial) + " is already recorded for lock " + name);
  issued.push_back(std::move(key));
}

IssuedKey* LockEntry::FindIssued(uint64_t serial) {
  for (auto& k : issued)
    if (k.serial == serial) return &k;
  return nullptr;
}

void LockEntry::Revoke(uint64_t serial, const protocol::KeyId& issuer) {
  IssuedKey* key = FindIssued(serial);
  if (key == nullptr)
    throw Error(ExitCode::kUsage, "no key with serial " + std::to_string(serial) + " was issued for lock " + name,
                "See `mortise key list`.");
  key->revoked = true;
  const protocol::KeyRef ref{issuer, serial};
  if (std::find(access_list.revoked.begin(), access_list.revoked.end(), ref) == access_list.revoked.end())
    access_list.revoked.push_back(ref);
}

uint32_t LockEntry::NextRemoteCounter() {
  if (remote_counter == UINT32_MAX)
    throw Error(ExitCode::kInternal, "the remote command counter of lock " + name + " is exhausted",
                "Use a new identity with this lock.");
  return ++remote_counter;
}

void LockEntry::AdvanceLogCursor(uint64_t seq) { log_cursor = std::max(log_cursor, seq); }

bool LockEntry::HasCustodyKey() const {
  for (const IssuedKey& k : issued) {
    if (!k.revoked && (k.permissions & protocol::kPermLogCustody) != 0) return true;
  }
  return false;
}

// --- KeyringContent ----------------------------------------------------------

const IdentityEntry* KeyringContent::FindIdentity(std::string_view name) const {
  for (const auto& i : identities_)
    if (i.name == name) return &i;
  return nullptr;
}

const IdentityEntry& KeyringContent::GetIdentity(std::string_view name) const {
  const std::string_view wanted = name.empty() ? std::string_view(default_identity_) : name;
  if (const IdentityEntry* i = FindIdentity(wanted)) return *i;
  if (name.empty()) throw Error(ExitCode::kUsage, "the keyring has no default identity", "Create one with `mortise id new NAME`.");
  throw Error(ExitCode::kUsage, "no identity named \"" + std::string(name) + "\"", "See `mortise id list`.");
}

void KeyringContent::SetDefaultIdentity(std::string_view name) {
  GetIdentity(name);  // throws when missing
  default_identity_ = std::string(name);
}

const IdentityEntry& KeyringContent::AddIdentity(std::string_view name, crypto::Drbg& drbg, int64_t now) {
  if (!IsValidName(name))
    throw Error(ExitCode::kUsage, "\"" + std::string(name) + "\" is not a valid identity name",
                "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
  if (FindIdentity(name) != nullptr)
    throw Error(ExitCode::kUsage, "an identity named \"" + std::string(name) + "\" already exists", "Pick another name.");
  Result<crypto::P256KeyPair> pair = crypto::P256KeyPair::Generate(drbg);
  if (!pair.ok()) throw Error(ExitCode::kInternal, std::string("key generation failed: ") + pair.status().name());
  IdentityEntry e;
  e.name = std::string(name);
  pair->ExportPrivateScalar(e.private_key);
  e.public_key = pair->public_key().bytes();
  e.created = now;
  identities_.push_back(std::move(e));
  if (default_identity_.empty()) default_identity_ = std::string(name);
  return identities_.back();
}

LockEntry* KeyringContent::FindLock(std::string_view name) {
  for (auto& l : locks_)
    if (l.name == name) return &l;
  return nullptr;
}

LockEntry* KeyringContent::FindLockById(const protocol::LockId& id) {
  for (auto& l : locks_)
    if (l.lock_id == id) return &l;
  return nullptr;
}

LockEntry& KeyringContent::SelectLock(std::string_view name) {
  if (!name.empty()) {
    if (LockEntry* l = FindLock(name)) return *l;
    throw Error(ExitCode::kUsage, "no lock named \"" + std::string(name) + "\" in the keyring", "See `mortise lock list`.");
  }
  if (locks_.empty())
    throw Error(ExitCode::kUsage, "the keyring knows no lock yet",
                "Claim one with `mortise claim`, or accept a shared key with `mortise key accept`.");
  if (locks_.size() > 1)
    throw Error(ExitCode::kUsage, "the keyring knows " + std::to_string(locks_.size()) + " locks",
                "Say which with --lock NAME (see `mortise lock list`).");
  return locks_.front();
}

LockEntry& KeyringContent::AddLock(LockEntry entry) {
  if (!IsValidName(entry.name))
    throw Error(ExitCode::kUsage, "\"" + entry.name + "\" is not a valid lock name",
                "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
  if (FindLock(entry.name) != nullptr)
    throw Error(ExitCode::kUsage, "a lock named \"" + entry.name + "\" already exists", "Pick another name with --name.");
  if (LockEntry* same = FindLockById(entry.lock_id))
    throw Error(ExitCode::kUsage, "this lock is already in the keyring as \"" + same->name + "\"",
                "Forget it first with `mortise lock forget " + same->name + "` if you mean to replace it.");
  if (FindIdentity(entry.identity) == nullptr)
    throw Error(ExitCode::kUsage, "no identity named \"" + entry.identity + "\"", "See `mortise id list`.");
  locks_.push_back(std::move(entry));
  return locks_.back();
}

void KeyringContent::ForgetLock(std::string_view name) {
  for (auto it = locks_.begin(); it != locks_.end(); ++it) {
    if (it->name == name) {
      locks_.erase(it);
      return;
    }
  }
  throw Error(ExitCode::kUsage, "no lock named \"" + std::string(name) + "\" in the keyring", "See `mortise lock list`.");
}

void KeyringContent::AddPendingKey(PendingKey key) { pending_.push_back(std::move(key)); }

void KeyringContent::RemovePendingKey(size_t index) {
  if (index >= pending_.size()) throw Error(ExitCode::kUsage, "no pending key number " + std::to_string(index));
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
}

json KeyringContent::ToJson() const {
  json j = extra_;
  json ids = json::array();
  for (const auto& i : identities_) ids.push_back(IdentityJson(i));
  j["identities"] = ids;
  j["default_identity"] = default_identity_;
  json locks = json::array();
  for (const auto& l : locks_) locks.push_back(LockJson(l));
  j["locks"] = locks;
  json pending = json::array();
  for (const auto& p : pending_) {
    json pj = p.extra;
    pj["text"] = p.text;
    pj["from"] = p.from;
    pj["received_at"] = p.received_at;
    pending.push_back(pj);
  }
  j["pending_keys"] = pending;
  return j;
}

KeyringContent KeyringContent::FromJson(const json& doc) {
  ObjectReader r(doc, "the document");
  KeyringContent c;
  if (const json* ids = r.Array("identities")) {
    size_t i = 0;
    for (const json& e : *ids) {
      IdentityEntry id = ReadIdentity(e, i++);
      if (c.FindIdentity(id.name) != nullptr) Damaged("two identities are named \"" + id.name + "\"");
      c.identities_.push_back(std::move(id));
    }
  }
  c.default_identity_ = r.String("default_identity", false);
  if (!c.default_identity_.empty() && c.FindIdentity(c.default_identity_) == nullptr)
    Damaged("the default identity \"" + c.default_identity_ + "\" does not exist");
  if (const json* locks = r.Array("locks")) {
    size_t i = 0;
    for (const json& e : *locks) {
      LockEntry l = ReadLock(e, i++);
      if (c.FindLock(l.name) != nullptr) Damaged("two locks are named \"" + l.name + "\"");
      c.locks_.push_back(std::move(l));
    }
  }
  if (const json* pending = r.Array("pending_keys")) {
    size_t i = 0;
    for (const json& e : *pending) {
      ObjectReader pr(e, "pending_keys[" + std::to_string(i++) + "]");
      PendingKey p;
      p.text = pr.String("text");
      p.from = pr.String("from", false);
      p.received_at = pr.Signed("received_at");
      p.extra = pr.Extra();
      c.pending_.push_back(std::move(p));
    }
  }
  c.extra_ = r.Extra();
  return c;
}

// --- Header ------------------------------------------------------------------

std::array<uint8_t, kKeyringHeaderSize> KeyringHeader::Encode() const {
  std::array<uint8_t, kKeyringHeaderSize> h{};
  std::memcpy(h.data(), kKeyringMagic, 4);
  h[4] = version;
  h[5] = kKdfArgon2id13;
  PutLe(&h[8], kdf.opslimit, 4);
  PutLe(&h[12], kdf.memlimit, 8);
  std::memcpy(&h[20], salt.data(), salt.size());
  std::memcpy(&h[36], nonce.data(), nonce.size());
  return h;
}

KeyringHeader KeyringHeader::Decode(std::span<const uint8_t> file) {
  if (file.size() >= 4 && std::memcmp(file.data(), kKeyringMagic, 4) != 0 &&
      std::memcmp(file.data(), kKeyringLegacyMagic, 4) != 0)
    throw Error(ExitCode::kKeyring, "this file is not a Mortise keyring (wrong magic)",
                "Check the path given with --keyring or MORTISE_KEYRING.");
  if (file.size() < kKeyringHeaderSize + kKeyringTagSize)
    Damaged("the file is truncated (" + std::to_string(file.size()) + " bytes)");
  KeyringHeader h;
  h.version = file[4];
  if (h.version != kKeyringVersion)
    throw Error(ExitCode::kKeyring, "the keyring has format version " + std::to_string(h.version) + "; this mortise reads version 1",
                "Use the newer mortise that wrote it.");
  if (file[5] != kKdfArgon2id13) Damaged("unknown key-derivation algorithm " + std::to_string(file[5]));
  if (file[6] != 0 || file[7] != 0) Damaged("reserved header bytes are set");
  h.kdf.opslimit = static_cast<uint32_t>(GetLe(&file[8], 4));
  h.kdf.memlimit = GetLe(&file[12], 8);
  if (!h.kdf.Acceptable()) Damaged("key-derivation limits out of range");
  std::memcpy(h.salt.data(), &file[20], h.salt.size());
  std::memcpy(h.nonce.data(), &file[36], h.nonce.size());
  return h;
}

// --- Keyring -----------------------------------------------------------------

Keyring::Keyring(Keyring&& other) noexcept
    : path_(std::move(other.path_)),
      lock_fd_(other.lock_fd_),
      access_(other.access_),
      header_(other.header_),
      key_(other.key_),
      content_(std::move(other.content_)) {
  other.lock_fd_ = -1;
  crypto::SecureZero(other.key_.data(), other.key_.size());
}

Keyring::~Keyring() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Keyring Keyring::Create(const std::filesystem::path& path, std::string_view passphrase, const KdfParams& kdf,
                        KeyringContent initial, std::chrono::milliseconds lock_wait) {
  if (passphrase.empty()) throw Error(ExitCode::kUsage, "the passphrase is empty", "Choose a passphrase.");
  if (!kdf.Acceptable()) throw Error(ExitCode::kInternal, "key-derivation limits out of range");
  InitSodium();
  std::error_code ec;
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      throw Error(ExitCode::kKeyring, "cannot create the directory " + dir.string() + " (" + ec.message() + ")");
    ::chmod(dir.c_str(), 0700);
  }
  CheckKeyringDir(dir);
  Keyring k;
  k.path_ = path;
  k.access_ = Access::kUpdate;
  k.lock_fd_ = AcquireLock(path, true, lock_wait);
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    throw Error(ExitCode::kKeyring, "a keyring already exists at " + path.string(),
                "Use it, or choose another path with --keyring.");
  k.header_.kdf = kdf;
  randombytes_buf(k.header_.salt.data(), k.header_.salt.size());
  DeriveKey(passphrase, k.header_, k.key_);
  k.content_ = std::move(initial);
  k.Write();
  return k;
}

Keyring Keyring::Open(const std::filesystem::path& path, std::string_view passphrase, Access access,
                      std::chrono::milliseconds lock_wait) {
  InitSodium();
  std::error_code ec;
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (std::filesystem::exists(dir, ec)) CheckKeyringDir(dir);
  if (!std::filesystem::exists(path, ec))
    throw Error(ExitCode::kKeyring, "no keyring at " + path.string(),
                "Create one with `mortise init`, or name yours with --keyring or MORTISE_KEYRING.");
  Keyring k;
  k.path_ = path;
  k.access_ = access;
  k.lock_fd_ = AcquireLock(path, access == Access::kUpdate, lock_wait);
  std::vector<uint8_t> file = ReadWholeFile(path);
  k.header_ = KeyringHeader::Decode(file);
  DeriveKey(passphrase, k.header_, k.key_);

  const size_t clen = file.size() - kKeyringHeaderSize;
  std::vector<uint8_t> plain(clen - kKeyringTagSize);
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plain_len, nullptr, file.data() + kKeyringHeaderSize,
                                                 clen, file.data(), kKeyringHeaderSize, k.header_.nonce.data(),
                                                 k.key_.data()) != 0)
    throw Error(ExitCode::kKeyring, "wrong passphrase or damaged keyring",
                "Try the passphrase again; if it is right, restore the keyring from a backup.");
  json doc;
  try {
    doc = json::parse(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(plain_len));
  } catch (const json::exception&) {
    sodium_memzero(plain.data(), plain.size());
    Damaged("the decrypted content is not JSON");
  }
  sodium_memzero(plain.data(), plain.size());
  try {
    k.content_ = KeyringContent::FromJson(doc);
  } catch (...) {
    WipeJson(doc);
    throw;
  }
  WipeJson(doc);
  return k;
}

void Keyring::Save() {
  if (access_ != Access::kUpdate) throw Error(ExitCode::kInternal, "the keyring was opened read-only");
  Write();
}

void Keyring::Write() {
  randombytes_buf(header_.nonce.data(), header_.nonce.size());
  const std::array<uint8_t, kKeyringHeaderSize> header = header_.Encode();
  json doc = content_.ToJson();
  std::string text = doc.dump();
  WipeJson(doc);
  std::vector<uint8_t> file(kKeyringHeaderSize + text.size() + kKeyringTagSize);
  std::memcpy(file.data(), header.data(), header.size());
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(file.data() + kKeyringHeaderSize, &clen,
                                             reinterpret_cast<const uint8_t*>(text.data()), text.size(), header.data(),
                                             header.size(), nullptr, header_.nonce.data(), key_.data());
  WipeString(text);
  AtomicReplace(path_, file, "the keyring");
}

std::filesystem::path DefaultKeyringPath() {
  if (const char* p = std::getenv("MORTISE_KEYRING"); p != nullptr && *p != '\0') return p;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && *x != '\0')
    return std::filesystem::path(x) / "mortise" / "keyring";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0')
    return std::filesystem::path(h) / ".config" / "mortise" / "keyring";
  throw Error(ExitCode::kKeyring, "cannot tell where the keyring is (HOME is not set)",
              "Pass --keyring PATH or set MORTISE_KEYRING.");
}

}  // namespace mortise::cli
