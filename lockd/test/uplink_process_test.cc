// mortise-lockd online through a real Mosquitto: its state retained, a
// remote envelope relayed down and its lock-signed answer up, the last
// will when the daemon dies, reconnection after a broker restart, and the
// audit log uploaded in order.
#include <nlohmann/json.hpp>

#include "uplink_process_util.h"

namespace mortise::lockd::test {
namespace {

TEST_F(UplinkProcess, StateIsRetainedAndARemoteEnvelopeGetsALockSignedAnswer) {
  Process p(dir_, Args(), "uplink");
  ASSERT_NO_FATAL_FAILURE(StartRegistered(p));
  // The key the daemon made is its own, owner-only.
  EXPECT_EQ(fs::status(state_ / "uplink.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_NO_FATAL_FAILURE(SetLockTime());
  {
    ServerClient server(*broker_, *deployment_);
    auto online = server.WaitFor([&](const uplink::Message& m) {
      return m.topic == Topic(uplink::Channel::kOnline) && Text(m.payload) == "online";
    });
    ASSERT_TRUE(online) << p.stderr_text();
    auto state = server.WaitFor([&](const uplink::Message& m) {
      if (m.topic != Topic(uplink::Channel::kState)) return false;
      const auto j = nlohmann::json::parse(Text(m.payload), nullptr, false);
      return j.is_object() && j.value("claimed", false) && j.value("timeKnown", false);
    });
    ASSERT_TRUE(state) << p.stderr_text();
  }
  // A reader that comes later gets the state at once (retained).
  ServerClient server(*broker_, *deployment_);
  auto retained = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kState); });
  ASSERT_TRUE(retained);
  EXPECT_TRUE(retained->retained);
  const auto state = nlohmann::json::parse(Text(retained->payload));
  for (const char* key : {"bolt", "door", "mode", "battery", "alarms", "firmware", "timeKnown", "uplink"})
    EXPECT_TRUE(state.contains(key)) << key << " missing in " << state.dump();
  EXPECT_EQ(state["bolt"], "locked");
  EXPECT_EQ(state["uplink"]["dropped"], 0);

  // The owner's envelope, relayed by the server: the answer comes up with
  // the same correlation data, signed by the lock.
  protocol::RemoteClient holder(owner_, {}, *lock_key_, rng_.drbg);
  const std::vector<uint8_t> correlation{'c', '-', '1'};
  ASSERT_TRUE(server.Publish(Topic(uplink::Channel::kDown), Envelope(holder, protocol::Command::kUnlock, 1), correlation));
  auto answer = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kUp); });
  ASSERT_TRUE(answer) << p.stderr_text();
  EXPECT_EQ(answer->correlation, correlation);
  ASSERT_GE(answer->payload.size(), 2u);
  EXPECT_EQ(answer->payload[0], static_cast<uint8_t>(protocol::FrameType::kRemote));
  auto outcome = holder.Verify(std::span<const uint8_t>(answer->payload).subspan(1));
  ASSERT_TRUE(outcome.ok()) << outcome.status().name();
  EXPECT_TRUE(outcome->confirmed);
  EXPECT_EQ(outcome->envelope, StatusCode::kOk);
  EXPECT_EQ(outcome->response.status, StatusCode::kOk);
  control_->Ask({{"cmd", "advance"}, {"ms", 2000}});
  EXPECT_EQ(Bolt(), "unlocked");
  // The new state follows.
  auto unlocked = server.WaitFor([&](const uplink::Message& m) {
    return m.topic == Topic(uplink::Channel::kState) && nlohmann::json::parse(Text(m.payload))["bolt"] == "unlocked";
  });
  EXPECT_TRUE(unlocked);
  // A clean stop says "offline" too.
  EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
  EXPECT_TRUE(server.WaitFor([&](const uplink::Message& m) {
    return m.topic == Topic(uplink::Channel::kOnline) && Text(m.payload) == "offline";
  }));
}

TEST_F(UplinkProcess, TheLastWillFiresWhenLockdIsKilledAndItReconnectsAfterABrokerRestart) {
  auto p = std::make_unique<Process>(dir_, Args(), "first");
  ASSERT_NO_FATAL_FAILURE(StartRegistered(*p));
  {
    ServerClient server(*broker_, *deployment_);
    ASSERT_TRUE(server.WaitFor([&](const uplink::Message& m) {
      return m.topic == Topic(uplink::Channel::kOnline) && Text(m.payload) == "online";
    })) << p->stderr_text();
    // The broker restarts: the daemon comes back on its own.
    std::string why;
    ASSERT_TRUE(broker_->Restart(why)) << why;
  }
  {
    ServerClient server(*broker_, *deployment_);
    // The broker keeps nothing across a restart (no persistence): an
    // "online" now was published by the daemon's new connection.
    ASSERT_TRUE(server.WaitFor([&](const uplink::Message& m) {
      return m.topic == Topic(uplink::Channel::kOnline) && Text(m.payload) == "online";
    })) << p->stderr_text();
    EXPECT_GE(control_->Ask({{"cmd", "status"}})["uplink"]["connects"].get<int>(), 2);
    // kill -9: no DISCONNECT, so the broker publishes the will.
    EXPECT_EQ(p->Signal(SIGKILL), -1);
    EXPECT_TRUE(p->killed_by(SIGKILL));
    auto will = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kOnline); });
    ASSERT_TRUE(will);
    EXPECT_EQ(Text(will->payload), "offline");
  }
  // And a reader that comes later sees the lock offline (retained).
  ServerClient later(*broker_, *deployment_);
  auto seen = later.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kOnline); });
  ASSERT_TRUE(seen);
  EXPECT_EQ(Text(seen->payload), "offline");
  EXPECT_TRUE(seen->retained);
}

TEST_F(UplinkProcess, TheAuditLogIsUploadedInOrderFromItsFirstRecord) {
  Process p(dir_, Args(), "log");
  ASSERT_NO_FATAL_FAILURE(StartRegistered(p));
  ASSERT_NO_FATAL_FAILURE(SetLockTime());
  // No server reads yet: the broker delivers the first page to nobody
  // (PUBACK "no matching subscribers"), which moves nothing.
  ASSERT_TRUE(WaitUntil([&] { return control_->Ask({{"cmd", "status"}})["uplink"]["logHeld"].get<bool>(); }))
      << p.stderr_text();
  EXPECT_EQ(control_->Ask({{"cmd", "status"}})["uplink"]["logFrom"].get<uint64_t>(), 1u);
  ServerClient server(*broker_, *deployment_);
  uint64_t expected_from = 1;
  int pages = 0;
  // Pages until one reaches the head the daemon had when it read it.
  for (bool head = false; !head;) {
    auto page = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kLog); });
    ASSERT_TRUE(page) << "after " << pages << " pages; " << p.stderr_text();
    const auto j = nlohmann::json::parse(Text(page->payload));
    EXPECT_EQ(j["from"].get<uint64_t>(), expected_from) << "a page out of order or repeated";
    EXPECT_GT(j["next"].get<uint64_t>(), j["from"].get<uint64_t>());
    EXPECT_FALSE(j["items"].get<std::string>().empty());
    expected_from = j["next"].get<uint64_t>();
    head = j["head"].get<bool>();
    ++pages;
  }
  EXPECT_GE(pages, 1);
  // The position moves once the broker has each page, and is kept for the
  // next start (until the custody cursor replaces it).
  EXPECT_TRUE(WaitUntil([&] {
    return control_->Ask({{"cmd", "status"}})["uplink"]["logFrom"].get<uint64_t>() >= expected_from;
  }));
  EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
  EXPECT_GE(std::stoull(ReadFile(state_ / "uplink-log-position")), expected_from);
}

}  // namespace
}  // namespace mortise::lockd::test
