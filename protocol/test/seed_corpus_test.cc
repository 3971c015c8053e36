// Writes the fuzzers' seed corpora when MORTISE_PROTOCOL_CORPUS_OUT names a
// directory (run once by hand; the seeds are checked in under
// protocol/fuzz/corpus/). Without it the test only checks that each seed
// can be generated.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <pb_encode.h>

#include "mortise.pb.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/session.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/sim/memory_store.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;

void Write(const std::string& corpus, const std::string& name, const Bytes& bytes) {
  ASSERT_FALSE(bytes.empty());
  const char* out = std::getenv("MORTISE_PROTOCOL_CORPUS_OUT");
  if (out == nullptr) return;
  const std::filesystem::path dir = std::filesystem::path(out) / corpus;
  std::filesystem::create_directories(dir);
  std::ofstream f(dir / name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(SeedCorpusTest, GenerateSeeds) {
  testing::SeededDrbg rng(7);  // the fuzzers' owner comes from the same seed
  const crypto::P256KeyPair owner = testing::NewKey(rng.drbg);
  const crypto::P256KeyPair admin = testing::NewKey(rng.drbg);
  const crypto::P256KeyPair guest = testing::NewKey(rng.drbg);
  LockId lock{};
  CertificateFields g = testing::Fields(lock, guest, Role::kGuest, kPermUnlock | kPermLock, 11);
  g.not_before = 1'749'000'000;
  g.not_after = 1'760'000'000;
  g.schedule = WeeklyWindow{0x7F, 0, 1440};
  const Bytes guest_cert = testing::Issue(g, owner, rng.drbg);
  const Bytes admin_cert =
      testing::Issue(testing::Fields(lock, admin, Role::kAdmin, RoleAllowedPermissions(Role::kAdmin), 12), owner, rng.drbg);
  const Bytes delegated_cert = testing::Issue(testing::Under(g, 12), admin, rng.drbg);
  Write("certificate", "guest_chain", testing::Chain(guest_cert));
  Write("certificate", "delegated_chain", testing::Chain(admin_cert, delegated_cert));
  Write("certificate", "single_certificate", guest_cert);
  char text[kMaxChainTextSize];
  const Bytes chain = testing::Chain(guest_cert);
  Result<size_t> n = ChainToText(chain, text);
  ASSERT_TRUE(n.ok());
  Write("certificate", "text", Bytes(text, text + *n));

  AccessListState s = testing::ListAt(3);
  s.revoked[s.revoked_count++] = testing::By(owner, 11);
  s.epochs[s.epoch_count].issuer = KeyIdOf(owner.public_key());
  s.epochs[s.epoch_count++].min_epoch = 2;
  s.disabled[s.disabled_count++] = testing::By(owner, 12);
  Bytes update(kMaxAccessListUpdateSize);
  Result<size_t> m = SignAccessList(s, lock, owner, rng.drbg, update);
  ASSERT_TRUE(m.ok());
  update.resize(*m);
  Write("access_list", "update", update);
  // An admin's own list: carries its owner-issued certificate, names its keys.
  AccessListState own = testing::ListAt(1);
  own.revoked[own.revoked_count++] = testing::By(admin, 13);
  Bytes admin_update(kMaxAccessListUpdateSize);
  Result<size_t> am = SignAccessList(own, lock, admin, rng.drbg, admin_update, admin_cert);
  ASSERT_TRUE(am.ok());
  admin_update.resize(*am);
  ASSERT_TRUE(VerifyAccessList(admin_update, lock, testing::kGeneration, owner.public_key()).ok());
  Write("access_list", "admin_update", admin_update);

  // Group memberships (the owner's and an admin's with manage groups) and a
  // group-scoped certificate.
  GroupMembershipState groups;
  groups.version = 2;
  groups.claim_generation = testing::kGeneration;
  groups.groups[groups.count++] = 0xB0;
  groups.groups[groups.count++] = 0x0123456789ABCDEFull;
  Bytes membership(kMaxGroupMembershipUpdateSize);
  Result<size_t> gm = SignGroupMembership(groups, lock, owner, rng.drbg, membership);
  ASSERT_TRUE(gm.ok());
  membership.resize(*gm);
  ASSERT_TRUE(VerifyGroupMembership(membership, lock, testing::kGeneration, owner.public_key()).ok());
  Write("group_membership", "owner_update", membership);
  Bytes admin_membership(kMaxGroupMembershipUpdateSize);
  Result<size_t> gam = SignGroupMembership(groups, lock, admin, rng.drbg, admin_membership, admin_cert);
  ASSERT_TRUE(gam.ok());
  admin_membership.resize(*gam);
  ASSERT_TRUE(VerifyGroupMembership(admin_membership, lock, testing::kGeneration, owner.public_key()).ok());
  Write("group_membership", "admin_update", admin_membership);
  CertificateFields grp = g;
  grp.scope = Scope::kGroup;
  grp.group_id = 0xB0;
  grp.lock_id = {};
  grp.claim_generation = 0;
  grp.serial = 13;
  Write("certificate", "group_chain", testing::Chain(testing::Issue(grp, owner, rng.drbg)));

  // Claim: one real exchange, each datagram prefixed with the fuzzer's mode
  // byte (0: lock, window open; 1: lock after hello; 2: owner awaiting
  // params; 3: label text).
  sim::MemoryStore store;
  testing::SeededDrbg lock_rng(11);
  LockAuthority authority(store, lock_rng.drbg);
  ASSERT_TRUE(authority.Start().ok());
  Result<ClaimLabel> label = ProvisionSetupCode(authority.identity(), store, lock_rng.drbg, crypto::kPakeMinIterations);
  ASSERT_TRUE(label.ok());
  ClaimServer server(authority, store);
  ASSERT_TRUE(server.OpenWindow(0).ok());
  ClaimClient client(*label, owner, rng.drbg);
  uint8_t a[kMaxClaimMessageSize], b[kMaxClaimMessageSize];
  Result<size_t> m1 = client.Start(a);
  ASSERT_TRUE(m1.ok());
  Bytes hello = {0};
  hello.insert(hello.end(), a, a + *m1);
  Write("claim", "hello", hello);
  Result<size_t> m2 = server.Handle(std::span<const uint8_t>(a, *m1), 1, b);
  ASSERT_TRUE(m2.ok());
  Bytes params = {2};
  params.insert(params.end(), b, b + *m2);
  Write("claim", "params", params);
  Result<size_t> m3 = client.Handle(std::span<const uint8_t>(b, *m2), a);
  ASSERT_TRUE(m3.ok());
  Bytes share = {1};
  share.insert(share.end(), a, a + *m3);
  Write("claim", "share", share);
  char label_text[kLabelTextSize];
  Result<size_t> lt = EncodeLabel(*label, label_text);
  ASSERT_TRUE(lt.ok());
  Bytes label_seed = {3};
  label_seed.insert(label_seed.end(), label_text, label_text + *lt);
  Write("claim", "label", label_seed);
}

TEST(SeedCorpusTest, GenerateSessionSeeds) {
  // One real exchange; each datagram prefixed with the session fuzzer's mode
  // byte (0 lock, 1 lock after hello, 2 lock in a session, 3 client awaiting
  // accept, 4 client awaiting a response, 6 a sealed identity's plaintext).
  testing::SeededDrbg rng(21);
  const crypto::P256KeyPair owner = testing::NewKey(rng.drbg);
  const crypto::P256KeyPair guest = testing::NewKey(rng.drbg);
  sim::MemoryStore store;
  sim::SimLock sim(&store);
  ASSERT_TRUE(sim.Start().ok());
  LockAuthority authority(store, rng.drbg);
  ASSERT_TRUE(authority.Start().ok());
  uint8_t pin[kOfflinePinSecretSize] = {};
  ASSERT_TRUE(authority.InstallOwner(owner.public_key(), pin).ok());
  const Bytes chain = testing::Chain(testing::Issue(
      testing::Fields(authority.identity().lock_id(), guest, Role::kGuest, kPermUnlock, 5), owner, rng.drbg));
  SessionServer server(authority, sim.lock(), store);
  ASSERT_TRUE(server.Start().ok());
  SessionClient client(guest, chain, authority.identity().lock_id(), rng.drbg);
  uint8_t a[kMaxSessionMessageSize], b[kMaxSessionMessageSize];
  auto seed = [](uint8_t mode, const uint8_t* p, size_t n) {
    Bytes out = {mode};
    out.insert(out.end(), p, p + n);
    return out;
  };
  CommandRequest unlock;
  unlock.command = Command::kUnlock;
  Result<size_t> m1 = client.Hello(a);
  ASSERT_TRUE(m1.ok());
  Write("session", "hello", seed(0, a, *m1));
  Result<size_t> m2 = server.Handle(std::span<const uint8_t>(a, *m1), 1, b);
  ASSERT_TRUE(m2.ok());
  Write("session", "accept", seed(3, b, *m2));
  Result<size_t> m3 = client.Finish(std::span<const uint8_t>(b, *m2), unlock, a);
  ASSERT_TRUE(m3.ok());
  Write("session", "finish", seed(1, a, *m3));
  Result<size_t> m4 = server.Handle(std::span<const uint8_t>(a, *m3), 2, b);
  ASSERT_TRUE(m4.ok());
  Write("session", "response", seed(4, b, *m4));
  ASSERT_TRUE(client.Receive(std::span<const uint8_t>(b, *m4)).ok());
  Result<size_t> req = client.Send(unlock, a);
  ASSERT_TRUE(req.ok());
  Write("session", "request", seed(2, a, *req));
  Result<size_t> m5 = server.Handle(std::span<const uint8_t>(a, *req), 3, b);
  ASSERT_TRUE(m5.ok());
  ASSERT_TRUE(client.Receive(std::span<const uint8_t>(b, *m5)).ok());
  Result<size_t> resume = client.Resume(unlock, a);
  ASSERT_TRUE(resume.ok());
  Write("session", "resume", seed(2, a, *resume));

  // Mode 6: the identity sealed in message 3 (the guest's key and chain,
  // with a signature that cannot verify at the fuzzer's lock).
  {
    mortise_SessionIdentity id = mortise_SessionIdentity_init_zero;
    const auto key = guest.public_key().Compressed();
    id.holder_key.size = static_cast<pb_size_t>(key.size());
    std::memcpy(id.holder_key.bytes, key.data(), key.size());
    id.chain.size = static_cast<pb_size_t>(chain.size());
    std::memcpy(id.chain.bytes, chain.data(), chain.size());
    id.signature.size = 64;
    std::memset(id.signature.bytes, 0x42, 64);
    uint8_t encoded[mortise_SessionIdentity_size];
    pb_ostream_t os = pb_ostream_from_buffer(encoded, sizeof(encoded));
    ASSERT_TRUE(pb_encode(&os, mortise_SessionIdentity_fields, &id));
    Write("session", "identity", seed(6, encoded, os.bytes_written));
  }

  // Mode 5: the token sealed in message 3 from the guest's certificate serial 6,
  // which demands revalidation; the fuzzer's lock time is 1749988800.
  RevalidationFields rf;
  rf.lock_id = authority.identity().lock_id();
  rf.serial = 6;
  rf.holder_key_id = KeyIdOf(guest.public_key());
  rf.issued_at = 1749988800 - 60;
  Bytes token(kMaxRevalidationTokenSize);
  Result<size_t> t = IssueRevalidationToken(rf, owner, {}, rng.drbg, token);
  ASSERT_TRUE(t.ok());
  Write("session", "hello_revalidation_token", seed(5, token.data(), *t));
}

TEST(SeedCorpusTest, GenerateRevalidationSeeds) {
  // The revalidation fuzzer's keys: DRBG seed 7, owner, revalidation
  // service, admin, guest; lock id all zero; the guest's serial 21; the
  // fuzzer's time 1'750'000'000.
  testing::SeededDrbg rng(7);
  const crypto::P256KeyPair owner = testing::NewKey(rng.drbg);
  const crypto::P256KeyPair service = testing::NewKey(rng.drbg);
  const crypto::P256KeyPair admin = testing::NewKey(rng.drbg);
  const crypto::P256KeyPair guest = testing::NewKey(rng.drbg);
  (void)admin;
  const LockId lock{};
  CertificateFields g = testing::Fields(lock, guest, Role::kGuest, kPermUnlock, 21);
  g.revalidation_max_age = 3600;
  const Bytes chain = testing::Chain(testing::Issue(g, owner, rng.drbg));
  Result<RevalidationFields> f = RevalidationFieldsFor(chain, 1'750'000'000 - 60);
  ASSERT_TRUE(f.ok());
  Bytes token(kMaxRevalidationTokenSize);
  Result<size_t> n = IssueRevalidationToken(*f, owner, {}, rng.drbg, token);
  ASSERT_TRUE(n.ok());
  Write("revalidation", "owner_token", Bytes(token.begin(), token.begin() + static_cast<std::ptrdiff_t>(*n)));
  const Bytes service_cert =
      testing::Issue(testing::Fields(lock, service, Role::kAdmin, kPermRevalidate, 23), owner, rng.drbg);
  n = IssueRevalidationToken(*f, service, service_cert, rng.drbg, token);
  ASSERT_TRUE(n.ok());
  Write("revalidation", "service_token", Bytes(token.begin(), token.begin() + static_cast<std::ptrdiff_t>(*n)));
  Write("revalidation", "chain", chain);

  // The certificate fuzzer's guest (seed 7: owner, admin, guest; serial 11)
  // with a chain that demands revalidation, for its fixed token.
  testing::SeededDrbg cert_rng(7);
  const crypto::P256KeyPair cert_owner = testing::NewKey(cert_rng.drbg);
  (void)testing::NewKey(cert_rng.drbg);
  const crypto::P256KeyPair cert_guest = testing::NewKey(cert_rng.drbg);
  CertificateFields cg = testing::Fields(lock, cert_guest, Role::kGuest, kPermUnlock, 11);
  cg.revalidation_max_age = 600;
  Write("certificate", "revalidation_chain", testing::Chain(testing::Issue(cg, cert_owner, cert_rng.drbg)));
}

TEST(SeedCorpusTest, GenerateNodeRevalidationSeed) {
  // The node fuzzer's mode 4: DRBG seed 31, owner, the lock's identity,
  // then the guest whose certificate (serial 7) demands revalidation; the
  // fuzzer's lock time is 1749988800 + 31.
  testing::SeededDrbg rng(31);
  const crypto::P256KeyPair owner = testing::NewKey(rng.drbg);
  sim::MemoryStore store;
  LockAuthority authority(store, rng.drbg);
  ASSERT_TRUE(authority.Start().ok());
  const crypto::P256KeyPair guest = testing::NewKey(rng.drbg);
  RevalidationFields rf;
  rf.lock_id = authority.identity().lock_id();
  rf.serial = 7;
  rf.holder_key_id = KeyIdOf(guest.public_key());
  rf.issued_at = 1749988800;
  Bytes token(kMaxRevalidationTokenSize);
  Result<size_t> t = IssueRevalidationToken(rf, owner, {}, rng.drbg, token);
  ASSERT_TRUE(t.ok());
  Bytes seed = {4};
  seed.insert(seed.end(), token.begin(), token.begin() + static_cast<std::ptrdiff_t>(*t));
  Write("node", "revalidation_token", seed);

  // Mode 1: an unsigned refusal from this lock (what the lock sends before
  // a holder's signature verifies), for RemoteClient::Verify's unsigned path.
  mortise_RemoteResult result = mortise_RemoteResult_init_zero;
  mortise_RemoteResultTbs tbs = mortise_RemoteResultTbs_init_zero;
  tbs.lock_id.size = kLockIdSize;
  std::memcpy(tbs.lock_id.bytes, authority.identity().lock_id().data(), kLockIdSize);
  tbs.command_hash.size = crypto::kSha256Size;
  tbs.envelope_status = static_cast<uint32_t>(StatusCode::kOutOfRange);
  tbs.lock_time = 1749988800 + 31;
  pb_ostream_t t_out = pb_ostream_from_buffer(result.tbs.bytes, sizeof(result.tbs.bytes));
  ASSERT_TRUE(pb_encode(&t_out, mortise_RemoteResultTbs_fields, &tbs));
  result.tbs.size = static_cast<pb_size_t>(t_out.bytes_written);
  Bytes unsigned_refusal(1 + mortise_RemoteResult_size);
  unsigned_refusal[0] = 1;
  pb_ostream_t r_out = pb_ostream_from_buffer(unsigned_refusal.data() + 1, unsigned_refusal.size() - 1);
  ASSERT_TRUE(pb_encode(&r_out, mortise_RemoteResult_fields, &result));
  unsigned_refusal.resize(1 + r_out.bytes_written);
  Write("node", "verify_unsigned_refusal", unsigned_refusal);
}

}  // namespace
}  // namespace mortise::protocol
