#include "keyring.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <cstdlib>
#include <thread>

#include "error.h"
#include "key_string.h"
#include "test_util.h"

namespace mortise::cli {
namespace {

using testing::Bytes;
using testing::CatchError;
using namespace std::chrono_literals;

const KdfParams kFast = KdfParams::Fast();

using testing::Contains;

class CliKeyringTest : public ::testing::Test {
 protected:
  // A content with every kind of entry.
  KeyringContent FullContent() {
    KeyringContent c;
    c.AddIdentity("default", fx.rng.drbg, 1000);
    c.AddIdentity("work", fx.rng.drbg, 1001);
    LockEntry l;
    l.name = "front-door";
    l.lock_key = fx.lock.public_key().bytes();
    l.lock_id = fx.lock_id;
    l.endpoint = "unix:/run/mortise/lock.sock";
    l.role = protocol::Role::kOwner;
    l.identity = "default";
    l.offline_pin_secret.emplace();
    for (size_t i = 0; i < 32; ++i) l.offline_pin_secret->data()[i] = static_cast<uint8_t>(i);
    l.access_list.version = 4;
    l.access_list.floor = 2;
    l.access_list.revoked = {protocol::KeyRef{protocol::KeyIdOf(fx.owner.public_key()), 77}};
    l.access_list.disabled = {protocol::KeyRef{protocol::KeyIdOf(fx.owner.public_key()), 78}};
    l.claim_generation = 6;
    l.access_list.min_epochs = {protocol::IssuerMinEpoch{protocol::KeyIdOf(fx.owner.public_key()), 3}};
    l.issuer_epoch = 3;
    IssuedKey k;
    k.serial = 1001;
    k.holder_name = "alice";
    k.holder_key = fx.guest.public_key().Compressed();
    k.role = protocol::Role::kGuest;
    k.permissions = protocol::kPermUnlock;
    k.not_before = 5;
    k.not_after = 6;
    k.schedule = protocol::WeeklyWindow{0x3E, 480, 1080};
    k.max_uses = 9;
    k.remote_only = true;
    k.issued_at = 1234;
    k.chain = fx.GuestChain();
    l.RecordIssuedKey(k);
    l.remote_counter = 12;
    l.log_cursor = 99;
    l.added_at = 1002;
    c.AddLock(std::move(l));
    LockEntry guest;
    guest.name = "office";
    guest.lock_key = fx.admin.public_key().bytes();  // any valid key will do for a second lock
    guest.lock_id = protocol::LockIdOf(fx.admin.public_key());
    guest.role = protocol::Role::kGuest;
    guest.identity = "work";
    guest.chain = {1, 2, 3};
    c.AddLock(std::move(guest));
    c.AddPendingKey(PendingKey{"MKS1.xyz", "bob by mail", 1500, nlohmann::json::object()});
    return c;
  }

  testing::Fixture fx;
  testing::TempDir dir;
  std::filesystem::path path = dir / "keyring";
};

TEST_F(CliKeyringTest, RoundTripKeepsEveryField) {
  const nlohmann::json original = FullContent().ToJson();
  { Keyring::Create(path, "correct horse", kFast, KeyringContent::FromJson(original)); }
  Keyring k = Keyring::Open(path, "correct horse", Keyring::Access::kRead);
  EXPECT_EQ(k.content().ToJson(), original);

  const KeyringContent& c = k.content();
  ASSERT_EQ(c.identities().size(), 2u);
  EXPECT_EQ(c.default_identity(), "default");
  const crypto::P256KeyPair pair = c.GetIdentity("work").KeyPair();
  EXPECT_EQ(pair.public_key().bytes(), c.GetIdentity("work").public_key);
  ASSERT_EQ(c.locks().size(), 2u);
  const LockEntry& l = c.locks()[0];
  EXPECT_EQ(l.name, "front-door");
  EXPECT_EQ(l.lock_id, fx.lock_id);
  EXPECT_TRUE(l.is_owner());
  ASSERT_TRUE(l.offline_pin_secret.has_value());
  EXPECT_EQ(l.offline_pin_secret->data()[31], 31);
  const std::vector<protocol::KeyRef> revoked = {protocol::KeyRef{protocol::KeyIdOf(fx.owner.public_key()), 77}};
  EXPECT_EQ(l.access_list.revoked, revoked);
  EXPECT_EQ(l.claim_generation, 6u);
  EXPECT_EQ(l.access_list.min_epochs[0].min_epoch, 3u);
  ASSERT_EQ(l.issued.size(), 1u);
  EXPECT_EQ(l.issued[0].schedule->end_minute, 1080);
  EXPECT_TRUE(l.issued[0].remote_only);
  EXPECT_EQ(l.issued[0].chain, fx.GuestChain());
  EXPECT_EQ(l.remote_counter, 12u);
  EXPECT_EQ(l.log_cursor, 99u);
  EXPECT_FALSE(c.locks()[1].offline_pin_secret.has_value());
  EXPECT_EQ(c.locks()[1].chain, (Bytes{1, 2, 3}));
  ASSERT_EQ(c.pending_keys().size(), 1u);
  EXPECT_EQ(c.pending_keys()[0].from, "bob by mail");
}

TEST_F(CliKeyringTest, UnknownJsonMembersAreKept) {
  nlohmann::json doc = FullContent().ToJson();
  doc["future_top"] = {{"x", 1}};
  doc["identities"][0]["hardware_backed"] = true;
  doc["locks"][0]["firmware"] = "1.2";
  doc["locks"][0]["issued"][0]["note"] = "for the cleaner";
  doc["pending_keys"][0]["channel"] = "mail";
  { Keyring::Create(path, "pw", kFast, KeyringContent::FromJson(doc)); }
  {
    Keyring k = Keyring::Open(path, "pw", Keyring::Access::kUpdate);
    k.content().SelectLock("front-door").AdvanceLogCursor(120);
    k.Save();
  }
  Keyring k = Keyring::Open(path, "pw", Keyring::Access::kRead);
  const nlohmann::json again = k.content().ToJson();
  EXPECT_EQ(again["future_top"]["x"], 1);
  EXPECT_EQ(again["identities"][0]["hardware_backed"], true);
  EXPECT_EQ(again["locks"][0]["firmware"], "1.2");
  EXPECT_EQ(again["locks"][0]["issued"][0]["note"], "for the cleaner");
  EXPECT_EQ(again["pending_keys"][0]["channel"], "mail");
  EXPECT_EQ(again["locks"][0]["log_cursor"], 120);
}

TEST_F(CliKeyringTest, WrongPassphraseIsRefusedClearly) {
  { Keyring::Create(path, "right", kFast, FullContent()); }
  const Error e = CatchError([&] { Keyring::Open(path, "wrong", Keyring::Access::kRead); });
  EXPECT_EQ(e.code(), ExitCode::kKeyring);
  EXPECT_STREQ(e.what(), "wrong passphrase or damaged keyring");
}

TEST_F(CliKeyringTest, MissingKeyringSaysHowToCreateOne) {
  const Error e = CatchError([&] { Keyring::Open(path, "pw", Keyring::Access::kRead); });
  EXPECT_EQ(e.code(), ExitCode::kKeyring);
  EXPECT_TRUE(Contains(e, "no keyring at")) << e.what();
  EXPECT_NE(e.hint().find("mortise init"), std::string::npos);
}

// A keyring written before issue 9 carries the magic MKR1, which the
// revalidation token's text form also uses. It is still read, and the next
// save rewrites it with the keyring's own magic MKK1.
TEST_F(CliKeyringTest, LegacyMkr1KeyringIsReadAndMigratedToMkk1OnWrite) {
  const KeyringContent content = FullContent();
  const auto want = content.ToJson();
  { Keyring::Create(path, "pw", kFast, content); }
  Bytes file = testing::ReadFile(path);
  ASSERT_EQ(std::string(file.begin(), file.begin() + 4), "MKK1");
  // Re-encrypt the same content under a legacy header (the header is the
  // AEAD's associated data, so the magic cannot just be patched).
  const KeyringHeader h = KeyringHeader::Decode(file);
  uint8_t key[32];
  ASSERT_EQ(crypto_pwhash(key, sizeof key, "pw", 2, h.salt.data(), h.kdf.opslimit, static_cast<size_t>(h.kdf.memlimit),
                          crypto_pwhash_ALG_ARGON2ID13),
            0);
  Bytes plain(file.size() - kKeyringHeaderSize - kKeyringTagSize);
  unsigned long long plain_len = 0;
  ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plain_len, nullptr, file.data() + kKeyringHeaderSize,
                                                       file.size() - kKeyringHeaderSize, file.data(), kKeyringHeaderSize,
                                                       h.nonce.data(), key),
            0);
  Bytes legacy(file.begin(), file.begin() + kKeyringHeaderSize);
  std::memcpy(legacy.data(), kKeyringLegacyMagic, 4);
  legacy.resize(file.size());
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(legacy.data() + kKeyringHeaderSize, &clen, plain.data(), plain_len,
                                             legacy.data(), kKeyringHeaderSize, nullptr, h.nonce.data(), key);
  testing::WriteFile(path, legacy);

  {
    Keyring k = Keyring::Open(path, "pw", Keyring::Access::kRead);
    EXPECT_EQ(k.content().ToJson(), want);
  }
  const Bytes after_read = testing::ReadFile(path);
  EXPECT_EQ(std::string(after_read.begin(), after_read.begin() + 4), "MKR1");  // reading changes nothing
  {
    Keyring k = Keyring::Open(path, "pw", Keyring::Access::kUpdate);
    k.Save();
  }
  const Bytes migrated = testing::ReadFile(path);
  EXPECT_EQ(std::string(migrated.begin(), migrated.begin() + 4), "MKK1");
  Keyring again = Keyring::Open(path, "pw", Keyring::Access::kRead);
  EXPECT_EQ(again.content().ToJson(), want);
}

TEST_F(CliKeyringTest, TruncatedAndGarbledFilesAreRefusedAndLeftUntouched) {
  { Keyring::Create(path, "pw", kFast, FullContent()); }
  const Bytes good = testing::ReadFile(path);

  struct Case {
    const char* name;
    Bytes bytes;
    const char* message;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {}, "truncated"});
  cases.push_back({"header only", Bytes(good.begin(), good.begin() + 60), "truncated"});
  cases.push_back({"cut ciphertext", Bytes(good.begin(), good.end() - 1), "wrong passphrase or damaged keyring"});
  Bytes magic = good;
  magic[0] = 'X';
  cases.push_back({"wrong magic", magic, "not a Mortise keyring"});
  Bytes version = good;
  version[4] = 2;
  cases.push_back({"newer version", version, "format version 2"});
  Bytes kdf = good;
  kdf[5] = 9;
  cases.push_back({"unknown kdf", kdf, "unknown key-derivation algorithm"});
  Bytes huge = good;
  huge[19] = 0x7F;  // memlimit far above 4 GiB: refused before any derivation
  cases.push_back({"memlimit", huge, "limits out of range"});
  Bytes salt = good;
  salt[25] ^= 1;  // the salt is in the AD, and changes the key
  cases.push_back({"salt", salt, "wrong passphrase or damaged keyring"});
  Bytes nonce = good;
  nonce[40] ^= 1;
  cases.push_back({"nonce", nonce, "wrong passphrase or damaged keyring"});
  Bytes body = good;
  body[100] ^= 0x80;
  cases.push_back({"ciphertext", body, "wrong passphrase or damaged keyring"});
  Bytes reserved = good;
  reserved[6] = 1;
  cases.push_back({"reserved", reserved, "reserved header bytes"});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    testing::WriteFile(path, c.bytes);
    const Error e = CatchError([&] { Keyring::Open(path, "pw", Keyring::Access::kUpdate); });
    EXPECT_EQ(e.code(), ExitCode::kKeyring);
    EXPECT_TRUE(Contains(e, c.message)) << e.what();
    EXPECT_EQ(testing::ReadFile(path), c.bytes);  // nothing written back
  }
}

TEST_F(CliKeyringTest, DecryptedDocumentThatIsNotAKeyringIsRefused) {
  // Encrypt a valid JSON document with a lock whose id does not match its key.
  nlohmann::json doc = FullContent().ToJson();
  doc["locks"][0]["lock_id"] = std::string(32, '0');
  // FromJson refuses it directly...
  const Error direct = CatchError([&] { KeyringContent::FromJson(doc); });
  EXPECT_EQ(direct.code(), ExitCode::kKeyring);
  EXPECT_TRUE(Contains(direct, "lock_id does not match lock_key")) << direct.what();
  // ...and so does Open, for a file holding it.
  nlohmann::json bad_type = FullContent().ToJson();
  bad_type["identities"] = "nope";
  EXPECT_EQ(CatchError([&] { KeyringContent::FromJson(bad_type); }).code(), ExitCode::kKeyring);
  nlohmann::json bad_key = FullContent().ToJson();
  bad_key["identities"][0]["private_key"] = "zz";
  EXPECT_TRUE(Contains(CatchError([&] { KeyringContent::FromJson(bad_key); }), "not hex"));
  nlohmann::json bad_role = FullContent().ToJson();
  bad_role["locks"][0]["role"] = "emperor";
  EXPECT_TRUE(Contains(CatchError([&] { KeyringContent::FromJson(bad_role); }), "unknown role"));
}

TEST_F(CliKeyringTest, KdfParametersComeFromTheHeader) {
  const KdfParams custom{2, 16ull * 1024 * 1024};
  { Keyring::Create(path, "pw", custom, FullContent()); }
  const Bytes file = testing::ReadFile(path);
  const KeyringHeader h = KeyringHeader::Decode(file);
  EXPECT_EQ(h.kdf, custom);
  EXPECT_EQ(file[8], 2);                        // opslimit LE
  EXPECT_EQ(file[12 + 3], 0x01);                // 16 MiB = 0x01000000 LE
  Keyring k = Keyring::Open(path, "pw", Keyring::Access::kUpdate);
  EXPECT_EQ(k.kdf(), custom);
  k.Save();  // a rewrite keeps the file's parameters and salt, with a new nonce
  const Bytes again = testing::ReadFile(path);
  const KeyringHeader h2 = KeyringHeader::Decode(again);
  EXPECT_EQ(h2.kdf, custom);
  EXPECT_EQ(h2.salt, h.salt);
  EXPECT_NE(h2.nonce, h.nonce);
}

TEST_F(CliKeyringTest, NewKeyringsUseFastParametersOnlyWhenTheEnvironmentSaysSo) {
  ::unsetenv("MORTISE_KEYRING_KDF");
  EXPECT_EQ(KdfParams::ForNewKeyring(), KdfParams::Default());
  EXPECT_EQ(KdfParams::Default().opslimit, 3u);
  EXPECT_EQ(KdfParams::Default().memlimit, 64ull << 20);
  ::setenv("MORTISE_KEYRING_KDF", "fast", 1);
  EXPECT_EQ(KdfParams::ForNewKeyring(), KdfParams::Fast());
  EXPECT_EQ(KdfParams::Fast().opslimit, crypto_pwhash_argon2id_OPSLIMIT_MIN);
  ::setenv("MORTISE_KEYRING_KDF", "FAST!", 1);
  EXPECT_EQ(KdfParams::ForNewKeyring(), KdfParams::Default());
  ::unsetenv("MORTISE_KEYRING_KDF");
}

TEST_F(CliKeyringTest, FileIsPrivateAndCreateRefusesAnExistingOne) {
  { Keyring::Create(path, "pw", kFast, FullContent()); }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const Bytes before = testing::ReadFile(path);
  const Error e = CatchError([&] { Keyring::Create(path, "other", kFast); });
  EXPECT_EQ(e.code(), ExitCode::kKeyring);
  EXPECT_TRUE(Contains(e, "already exists"));
  EXPECT_EQ(testing::ReadFile(path), before);
  EXPECT_EQ(CatchError([&] { Keyring::Create(dir / "k2", "", kFast); }).code(), ExitCode::kUsage);
}

TEST_F(CliKeyringTest, CreateMakesAPrivateDirectory) {
  const std::filesystem::path nested = dir / "a" / "b" / "keyring";
  { Keyring::Create(nested, "pw", kFast); }
  struct stat st {};
  ASSERT_EQ(::stat(nested.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_NO_THROW(Keyring::Open(nested, "pw", Keyring::Access::kRead));
}

TEST_F(CliKeyringTest, FailedWriteLeavesTheOldFileWhole) {
  { Keyring::Create(path, "pw", kFast, FullContent()); }
  const Bytes before = testing::ReadFile(path);
  std::optional<Keyring> opened;
  opened.emplace(Keyring::Open(path, "pw", Keyring::Access::kUpdate));
  Keyring& k = *opened;
  for (int i = 0; i < 50; ++i) k.content().AddIdentity("extra" + std::to_string(i), fx.rng.drbg, 0);

  // Let the kernel refuse the write (EFBIG) past 256 bytes: a full disk's
  // effect, without a full disk.
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGXFSZ, &ignore, &old);
  struct rlimit saved {};
  ::getrlimit(RLIMIT_FSIZE, &saved);
  struct rlimit small = saved;
  small.rlim_cur = 256;
  ::setrlimit(RLIMIT_FSIZE, &small);
  const Error e = CatchError([&] { k.Save(); });
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::sigaction(SIGXFSZ, &old, nullptr);

  EXPECT_EQ(e.code(), ExitCode::kKeyring);
  EXPECT_TRUE(Contains(e, "cannot write the keyring")) << e.what();
  EXPECT_EQ(testing::ReadFile(path), before);
  // No temporary file is left behind.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 2u);  // keyring and keyring.lock
  // And the keyring still opens with its old content.
  k.Save();  // now it fits
  opened.reset();  // releases the lock
  Keyring again = Keyring::Open(path, "pw", Keyring::Access::kRead);
  EXPECT_EQ(again.content().identities().size(), 52u);
}

TEST_F(CliKeyringTest, ReadOnlyKeyringRefusesToSave) {
  { Keyring::Create(path, "pw", kFast, FullContent()); }
  Keyring k = Keyring::Open(path, "pw", Keyring::Access::kRead);
  EXPECT_EQ(CatchError([&] { k.Save(); }).code(), ExitCode::kInternal);
}

TEST_F(CliKeyringTest, UpdateHoldsTheLockAgainstOtherProcesses) {
  { Keyring::Create(path, "pw", kFast, FullContent()); }
  {
    Keyring writer = Keyring::Open(path, "pw", Keyring::Access::kUpdate);
    const Error e = CatchError([&] { Keyring::Open(path, "pw", Keyring::Access::kUpdate, 100ms); });
    EXPECT_EQ(e.code(), ExitCode::kKeyring);
    EXPECT_TRUE(Contains(e, "in use by another mortise process"));
    EXPECT_EQ(CatchError([&] { Keyring::Open(path, "pw", Keyring::Access::kRead, 100ms); }).code(), ExitCode::kKeyring);
  }
  {
    // Readers share.
    Keyring r1 = Keyring::Open(path, "pw", Keyring::Access::kRead);
    EXPECT_NO_THROW(Keyring::Open(path, "pw", Keyring::Access::kRead, 100ms));
    EXPECT_EQ(CatchError([&] { Keyring::Open(path, "pw", Keyring::Access::kUpdate, 100ms); }).code(),
              ExitCode::kKeyring);
  }
  EXPECT_NO_THROW(Keyring::Open(path, "pw", Keyring::Access::kUpdate, 100ms));
}

TEST_F(CliKeyringTest, ConcurrentUpdatesLoseNothing) {
  { Keyring::Create(path, "pw", kFast, FullContent()); }
  std::atomic<int> failures{0};
  auto work = [&] {
    for (int i = 0; i < 5; ++i) {
      try {
        Keyring k = Keyring::Open(path, "pw", Keyring::Access::kUpdate);
        k.content().SelectLock("front-door").NextRemoteCounter();
        k.Save();
      } catch (const Error&) {
        ++failures;
      }
    }
  };
  std::thread a(work), b(work), c(work);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(failures.load(), 0);
  Keyring k = Keyring::Open(path, "pw", Keyring::Access::kRead);
  EXPECT_EQ(k.content().locks()[0].remote_counter, 12u + 15u);
}

TEST_F(CliKeyringTest, IdentityNamesAreCheckedAndTheFirstIsDefault) {
  KeyringContent c;
  EXPECT_EQ(CatchError([&] { c.GetIdentity(); }).code(), ExitCode::kUsage);
  c.AddIdentity("me", fx.rng.drbg, 1);
  EXPECT_EQ(c.default_identity(), "me");
  c.AddIdentity("other", fx.rng.drbg, 2);
  EXPECT_EQ(c.default_identity(), "me");
  EXPECT_EQ(CatchError([&] { c.AddIdentity("me", fx.rng.drbg, 3); }).code(), ExitCode::kUsage);
  EXPECT_EQ(CatchError([&] { c.AddIdentity("bad name", fx.rng.drbg, 3); }).code(), ExitCode::kUsage);
  EXPECT_EQ(CatchError([&] { c.SetDefaultIdentity("nobody"); }).code(), ExitCode::kUsage);
  c.SetDefaultIdentity("other");
  EXPECT_EQ(c.GetIdentity().name, "other");
  EXPECT_NE(c.GetIdentity("me").public_key, c.GetIdentity("other").public_key);
}

TEST_F(CliKeyringTest, LockSelectionAndAddingRules) {
  KeyringContent c;
  c.AddIdentity("me", fx.rng.drbg, 1);
  EXPECT_TRUE(Contains(CatchError([&] { c.SelectLock(""); }), "knows no lock"));
  LockEntry l;
  l.name = "front";
  l.lock_key = fx.lock.public_key().bytes();
  l.lock_id = fx.lock_id;
  l.identity = "me";
  c.AddLock(l);
  EXPECT_EQ(c.SelectLock("").name, "front");  // the only one
  LockEntry same_lock = l;
  same_lock.name = "again";
  EXPECT_TRUE(Contains(CatchError([&] { c.AddLock(same_lock); }), "already in the keyring as \"front\""));
  LockEntry dup_name = l;
  dup_name.lock_id[0] ^= 1;
  EXPECT_TRUE(Contains(CatchError([&] { c.AddLock(dup_name); }), "already exists"));
  LockEntry no_identity = l;
  no_identity.name = "x";
  no_identity.lock_id[0] ^= 2;
  no_identity.identity = "ghost";
  EXPECT_TRUE(Contains(CatchError([&] { c.AddLock(no_identity); }), "no identity"));
  LockEntry second = l;
  second.name = "back";
  second.lock_id[0] ^= 4;
  c.AddLock(second);
  EXPECT_NE(CatchError([&] { c.SelectLock(""); }).hint().find("--lock"), std::string::npos);
  EXPECT_EQ(c.SelectLock("back").name, "back");
  EXPECT_EQ(CatchError([&] { c.SelectLock("nowhere"); }).code(), ExitCode::kUsage);
  c.ForgetLock("back");
  EXPECT_EQ(c.locks().size(), 1u);
  EXPECT_EQ(CatchError([&] { c.ForgetLock("back"); }).code(), ExitCode::kUsage);
}

TEST_F(CliKeyringTest, OwnerMutations) {
  KeyringContent c = FullContent();
  LockEntry& l = c.SelectLock("front-door");
  // Serials: random, non-zero, not reused.
  const uint64_t s = l.NewSerial(fx.rng.drbg);
  EXPECT_NE(s, 0u);
  EXPECT_EQ(l.FindIssued(s), nullptr);
  IssuedKey k;
  k.serial = s;
  k.holder_key = fx.admin.public_key().Compressed();
  l.RecordIssuedKey(k);
  EXPECT_EQ(CatchError([&] { l.RecordIssuedKey(k); }).code(), ExitCode::kUsage);
  // Revocation goes into the next snapshot, whose version is above the
  // last one signed and the lock's floor.
  const protocol::KeyId me = protocol::KeyIdOf(fx.owner.public_key());
  l.Revoke(s, me);
  EXPECT_TRUE(l.FindIssued(s)->revoked);
  l.Revoke(s, me);  // idempotent
  EXPECT_EQ(std::count(l.access_list.revoked.begin(), l.access_list.revoked.end(), protocol::KeyRef{me, s}), 1);
  EXPECT_EQ(CatchError([&] { l.Revoke(12345, me); }).code(), ExitCode::kUsage);
  protocol::AccessListState next = l.access_list.NextSnapshot(l.claim_generation);
  EXPECT_EQ(next.version, 5u);
  EXPECT_EQ(next.claim_generation, 6u);
  EXPECT_EQ(next.revoked_count, 2);
  EXPECT_EQ(next.disabled_count, 1);
  EXPECT_EQ(next.epoch_count, 1);
  l.access_list.version = 0;
  l.access_list.floor = 40;
  EXPECT_EQ(l.access_list.NextSnapshot(1).version, 41u);
  l.access_list.revoked.assign(protocol::kMaxRevokedKeys + 1, protocol::KeyRef{me, 5});
  EXPECT_TRUE(Contains(CatchError([&] { (void)l.access_list.NextSnapshot(1); }), "access list is full"));
  // Counters only move forward.
  EXPECT_EQ(l.NextRemoteCounter(), 13u);
  l.AdvanceLogCursor(50);
  EXPECT_EQ(l.log_cursor, 99u);
  l.AdvanceLogCursor(150);
  EXPECT_EQ(l.log_cursor, 150u);
  l.remote_counter = UINT32_MAX;
  EXPECT_EQ(CatchError([&] { l.NextRemoteCounter(); }).code(), ExitCode::kInternal);
  // Pending keys.
  c.RemovePendingKey(0);
  EXPECT_TRUE(c.pending_keys().empty());
  EXPECT_EQ(CatchError([&] { c.RemovePendingKey(0); }).code(), ExitCode::kUsage);
}

TEST_F(CliKeyringTest, DefaultPathFollowsTheEnvironment) {
  const char* home = std::getenv("HOME");
  const std::string saved_home = home ? home : "";
  ::setenv("MORTISE_KEYRING", "/x/k", 1);
  EXPECT_EQ(DefaultKeyringPath(), "/x/k");
  ::unsetenv("MORTISE_KEYRING");
  ::setenv("XDG_CONFIG_HOME", "/cfg", 1);
  EXPECT_EQ(DefaultKeyringPath(), "/cfg/mortise/keyring");
  ::unsetenv("XDG_CONFIG_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(DefaultKeyringPath(), "/home/u/.config/mortise/keyring");
  ::unsetenv("HOME");
  EXPECT_EQ(CatchError([] { DefaultKeyringPath(); }).code(), ExitCode::kKeyring);
  if (home) ::setenv("HOME", saved_home.c_str(), 1);
}

}  // namespace
}  // namespace mortise::cli
