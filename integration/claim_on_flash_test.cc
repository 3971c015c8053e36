// The protocol on the real record store (not the simulator's MemoryStore):
// a claim, a session and a factory reset write exactly what the store must
// hold, within its transaction and record limits.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>
#include <optional>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/protocol/node.h"
#include "mortise/sim/sim_lock.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

namespace mortise {
namespace {

TEST(ClaimOnFlash, ClaimAndSessionWorkOnTheRecordStore) {
  std::vector<uint8_t> memory(64 * 4096);
  std::vector<uint32_t> erases(64);
  store::FakeFlash flash(memory, erases, 4096);
  store::StaticRecordStore<store::RecordStore::kDefaultCapacity> records(flash);
  ASSERT_TRUE(records.store.Mount().ok());
  crypto::DeterministicEntropy lock_entropy(1), owner_entropy(2);
  crypto::Drbg lock_drbg(lock_entropy), owner_drbg(owner_entropy);
  ASSERT_TRUE(lock_drbg.Seed().ok());
  ASSERT_TRUE(owner_drbg.Seed().ok());
  sim::SimLock sim(&records.store);
  ASSERT_TRUE(sim.Start().ok());
  protocol::LockAuthority authority(records.store, lock_drbg);
  ASSERT_TRUE(authority.Start().ok());
  protocol::LockNode node(authority, sim.lock(), records.store);
  ASSERT_TRUE(node.Start(1000).ok());
  Result<protocol::ClaimLabel> label = node.ProvisionedLabel();
  ASSERT_TRUE(label.ok());

  Result<crypto::P256KeyPair> owner = crypto::P256KeyPair::Generate(owner_drbg);
  ASSERT_TRUE(owner.ok());
  protocol::ClaimClient client(*label, *owner, owner_drbg);
  uint8_t out[protocol::kMaxClaimMessageSize];
  uint8_t frame[protocol::kMaxRemoteFrameSize];
  uint8_t reply[protocol::kMaxRemoteFrameSize];
  Result<size_t> n = client.Start(out);
  while (n.ok() && *n > 0) {
    frame[0] = static_cast<uint8_t>(protocol::FrameType::kClaim);
    std::memcpy(frame + 1, out, *n);
    Result<size_t> r = node.Handle(std::span<const uint8_t>(frame, 1 + *n), 1000, reply);
    ASSERT_TRUE(r.ok());
    n = client.Handle(std::span<const uint8_t>(reply + 1, *r - 1), out);
    if (!n.ok()) {
      ADD_FAILURE() << "claim: " << n.status().name() << " lock: " << node.claim().last_status().name();
    }
  }
  ASSERT_TRUE(client.done());
  EXPECT_TRUE(authority.claimed());
  ASSERT_TRUE(node.FactoryReset(2000).ok());
  EXPECT_FALSE(authority.claimed());
}

}  // namespace
}  // namespace mortise
