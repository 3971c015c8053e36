// mortise-lockd online through a real Mosquitto: its state retained, a
// remote envelope relayed down and its lock-signed answer up, the last
// will when the daemon dies, reconnection after a broker restart, and the
// audit log uploaded in order.
#include <nlohmann/json.hpp>

#include "mortise/protocol/custody.h"
#include "mortise/protocol/management.h"
#include "mortise/store/audit_log.h"
#include "mortise/uplink/hex.h"

#include "uplink_process_util.h"

namespace mortise::lockd::test {
namespace {

// The export items of a log message (docs/uplink.md, "log").
std::vector<store::LogItem> PageItems(const nlohmann::json& page) {
  const std::string hex = page["items"].get<std::string>();
  std::vector<uint8_t> bytes(hex.size() / 2);
  EXPECT_TRUE(uplink::FromHex(hex, bytes));
  std::vector<store::LogItem> items;
  for (std::span<const uint8_t> rest(bytes); !rest.empty();) {
    store::LogItem item;
    Result<size_t> n = store::DecodeLogItem(rest, item);
    EXPECT_TRUE(n.ok() && *n > 0);
    if (!n.ok() || *n == 0) break;
    items.push_back(item);
    rest = rest.subspan(*n);
  }
  return items;
}

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
  // Within the connection the upload moves on once the broker has each page;
  // nothing acknowledged it, so the next connection starts from the first
  // record again.
  EXPECT_TRUE(WaitUntil([&] {
    return control_->Ask({{"cmd", "status"}})["uplink"]["logFrom"].get<uint64_t>() >= expected_from;
  }));
  EXPECT_EQ(control_->Ask({{"cmd", "status"}})["uplink"]["logResumeFrom"].get<uint64_t>(), 1u);
  EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
}

// A timed signed head (every 10 minutes of lock time while records wait
// unsigned) made after its records went up, on a quiet lock in one
// connection: a page from the head's record, with the head after it, goes
// up at once (no new record, no segment roll, no reconnect), so the server
// can mark the records it holds signed and acknowledge custody.
TEST_F(UplinkProcess, ATimedSignedHeadMadeAfterItsRecordsWentUpIsUploadedWithoutAReconnect) {
  Process p(dir_, Args(), "timed");
  ASSERT_NO_FATAL_FAILURE(StartRegistered(p));
  ServerClient server(*broker_, *deployment_);
  ASSERT_NO_FATAL_FAILURE(SetLockTime());
  const protocol::LockId lock_id = protocol::LockIdOf(*lock_key_);
  // Two records (the bolt ends locked: nothing more happens on its own),
  // and a minute for anything they start; the lock signed its first head at
  // once when its time was set, so these wait unsigned.
  control_->Ask({{"cmd", "thumbturn"}, {"lock", false}});
  control_->Ask({{"cmd", "thumbturn"}, {"lock", true}});
  control_->Ask({{"cmd", "advance"}, {"ms", 60'000}});
  // Every record went up (the broker took the page reaching the head).
  uint64_t last = 0;
  ASSERT_TRUE(WaitUntil([&] {
    const auto st = control_->Ask({{"cmd", "status"}});
    last = st["log"]["head"].get<uint64_t>();
    return st["uplink"]["logFrom"].get<uint64_t>() == last + 1;
  })) << p.stderr_text();
  const uint64_t connects = control_->Ask({{"cmd", "status"}})["uplink"]["connects"].get<uint64_t>();
  // The pages so far, through the one that reached the last record.
  for (auto page = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kLog); });
       page;
       page = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kLog); })) {
    const auto j = nlohmann::json::parse(Text(page->payload));
    if (j["head"].get<bool>() && j["next"].get<uint64_t>() == last + 1) break;
  }
  // Ten minutes later the lock signs its head over the last record.
  control_->Ask({{"cmd", "advance"}, {"ms", 660'000}});
  auto page = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kLog); });
  ASSERT_TRUE(page) << "no page carried the new signed head; " << p.stderr_text();
  const auto j = nlohmann::json::parse(Text(page->payload));
  const uint64_t from = j["from"].get<uint64_t>();
  EXPECT_LE(from, last) << "the page starts again at the head's record";
  store::LogVerifier verifier(*lock_key_, lock_id, from, 0, 0);
  bool has_head = false;
  for (const store::LogItem& item : PageItems(j)) {
    verifier.Feed(item);
    has_head = has_head || item.type == store::LogItemType::kSignedHead;
  }
  const store::LogFindings& f = verifier.Finish();
  EXPECT_TRUE(has_head);
  EXPECT_EQ(f.signed_through, last);
  EXPECT_EQ(f.bad_signatures, 0u);
  EXPECT_TRUE(f.offline_ok());
  // In the same connection, and the upload position is where it was.
  EXPECT_EQ(control_->Ask({{"cmd", "status"}})["uplink"]["connects"].get<uint64_t>(), connects);
  EXPECT_TRUE(WaitUntil([&] {
    return control_->Ask({{"cmd", "status"}})["uplink"]["logFrom"].get<uint64_t>() == last + 1;
  }));
  EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
}

// The log upload's position after any disconnect is the custody cursor:
// pages the broker took go up once per connection; a broker restart or a
// kill -9 starts again from the cursor + 1 (from the first record while
// nothing was acknowledged); only a verified custody acknowledgement sent
// down the down topic moves where the next connection starts.
TEST_F(UplinkProcess, TheLogUploadResumesFromTheCustodyCursorAfterABrokerRestartAndAKill) {
  auto p = std::make_unique<Process>(dir_, Args(), "first");
  ASSERT_NO_FATAL_FAILURE(StartRegistered(*p));
  ASSERT_NO_FATAL_FAILURE(SetLockTime());
  const protocol::LockId lock_id = protocol::LockIdOf(*lock_key_);

  // Reads pages until one reaches the head; returns the first page's start
  // and where the stream ends (what a custody acknowledgement names).
  struct Read {
    uint64_t first_from = 0;
    uint64_t end_seq = 0;
    store::LogChain end_chain{};
  };
  auto read_to_head = [&](ServerClient& server) {
    Read r;
    std::optional<store::LogVerifier> verifier;
    for (bool head = false; !head;) {
      auto page = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kLog); });
      EXPECT_TRUE(page) << p->stderr_text();
      if (!page) return r;
      const auto j = nlohmann::json::parse(Text(page->payload));
      const uint64_t from = j["from"].get<uint64_t>();
      if (!verifier) {
        r.first_from = from;
        verifier.emplace(*lock_key_, lock_id, from, 0, 0);
      }
      for (const store::LogItem& item : PageItems(j)) verifier->Feed(item);
      head = j["head"].get<bool>();
    }
    EXPECT_TRUE(verifier->StreamEnd(r.end_seq, r.end_chain));
    return r;
  };
  auto new_record = [&] { control_->Ask({{"cmd", "thumbturn"}, {"lock", false}}); };

  uint64_t first_end = 0;
  {
    ServerClient server(*broker_, *deployment_);
    const Read all = read_to_head(server);
    EXPECT_EQ(all.first_from, 1u);
    first_end = all.end_seq;
    ASSERT_GT(first_end, 0u);
    // In one connection a page goes up once: the next starts after it.
    new_record();
    const Read more = read_to_head(server);
    EXPECT_EQ(more.first_from, first_end + 1);
  }
  // The broker restarts: nothing was acknowledged, so the new connection
  // sends the log again from its first record (the server drops repeats).
  std::string why;
  ASSERT_TRUE(broker_->Restart(why)) << why;
  Read again;
  {
    ServerClient server(*broker_, *deployment_);
    again = read_to_head(server);
    EXPECT_EQ(again.first_from, 1u);
    ASSERT_GT(again.end_seq, first_end);
    // The owner acknowledges custody through the end of what it received,
    // down the down topic: the lock checks h(N) and the signature and
    // moves its cursor.
    protocol::CustodyAck ack;
    ack.lock_id = lock_id;
    ack.generation = 1;  // the first claim of a fresh lock
    ack.seq = again.end_seq;
    std::copy(again.end_chain.begin(), again.end_chain.end(), ack.chain.begin());
    std::vector<uint8_t> frame(protocol::kMaxCustodyAckFrameSize);
    auto n = protocol::EncodeCustodyAck(ack, owner_, {}, rng_.drbg, frame);
    ASSERT_TRUE(n.ok());
    frame.resize(*n);
    const std::vector<uint8_t> correlation{'a', 'c', 'k'};
    ASSERT_TRUE(server.Publish(Topic(uplink::Channel::kDown), frame, correlation));
    auto answer = server.WaitFor([&](const uplink::Message& m) { return m.topic == Topic(uplink::Channel::kUp); });
    ASSERT_TRUE(answer) << p->stderr_text();
    EXPECT_EQ(answer->correlation, correlation);
    auto reply = protocol::DecodeCustodyReply(answer->payload);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->status, protocol::CustodyStatus::kAdvanced);
    EXPECT_EQ(reply->cursor, again.end_seq);
    EXPECT_TRUE(protocol::VerifyCustodyReceipt(*reply, *lock_key_, lock_id, 1).ok());
    EXPECT_EQ(control_->Ask({{"cmd", "status"}})["uplink"]["logResumeFrom"].get<uint64_t>(), again.end_seq + 1);
  }
  // kill -9, and a new record while no server listens: the next start
  // uploads from the cursor + 1, not from the first record.
  EXPECT_EQ(p->Signal(SIGKILL), -1);
  p = std::make_unique<Process>(dir_, Args(), "second");
  ASSERT_TRUE(p->WaitReady()) << p->stderr_text();
  control_ = std::make_unique<ControlClient>(control_path());
  new_record();
  {
    ServerClient server(*broker_, *deployment_);
    const Read after_kill = read_to_head(server);
    EXPECT_EQ(after_kill.first_from, again.end_seq + 1);
  }
  // And after a broker restart, the same.
  ASSERT_TRUE(broker_->Restart(why)) << why;
  {
    ServerClient server(*broker_, *deployment_);
    const Read after_restart = read_to_head(server);
    EXPECT_EQ(after_restart.first_from, again.end_seq + 1);
  }
  EXPECT_EQ(p->Signal(SIGTERM), 0) << p->stderr_text();
}

// Reviewer finding (issue 14): after an ownership transfer the lock kept
// publishing its state and log with its 825-day certificate, under the
// previous owner's door on the server. Now the certificate is bound to the
// claim generation it was first used under, and the uplink stops.
TEST_F(UplinkProcess, NothingGoesUpAfterATransfer) {
  auto p = std::make_unique<Process>(dir_, Args(), "seller");
  ASSERT_NO_FATAL_FAILURE(StartRegistered(*p));
  ASSERT_NO_FATAL_FAILURE(SetLockTime());
  ServerClient server(*broker_, *deployment_);
  ASSERT_TRUE(server.WaitFor([&](const uplink::Message& m) {
    return m.topic == Topic(uplink::Channel::kState) && nlohmann::json::parse(Text(m.payload))["bolt"] == "locked";
  })) << p->stderr_text();
  // The first connect bound the certificate to the claim (generation 1).
  const auto binding = nlohmann::json::parse(ReadFile(state_ / "uplink-binding.json"));
  EXPECT_EQ(binding["claim_generation"], 1);
  auto uplink_status = [&] { return control_->Ask({{"cmd", "status"}})["uplink"]; };
  EXPECT_EQ(uplink_status()["stoppedReason"], "");

  // The owner hands the lock to a buyer.
  const crypto::P256KeyPair buyer = *crypto::P256KeyPair::Generate(rng_.drbg);
  protocol::ManagementCommand c;
  c.op = protocol::ManagementOp::kTransferOwnership;
  const auto key = buyer.public_key().Compressed();
  std::copy(key.begin(), key.end(), c.new_owner.begin());
  c.claim_generation = 1;
  uint8_t payload[protocol::kMaxManagementCommandSize];
  Result<size_t> n = protocol::EncodeManagement(c, payload);
  ASSERT_TRUE(n.ok());
  protocol::CommandRequest request;
  request.command = protocol::Command::kManagement;
  request.payload = std::span<const uint8_t>(payload, *n);
  protocol::SessionClient s(owner_, {}, protocol::LockIdOf(*lock_key_), rng_.drbg);
  ASSERT_EQ(RunCold(*link_, s, request), StatusCode::kOk);

  // The daemon stops its uplink and says why; the broker publishes the
  // last will.
  ASSERT_TRUE(WaitUntil([&] { return !uplink_status()["stoppedReason"].get<std::string>().empty(); }))
      << p->stderr_text();
  EXPECT_NE(uplink_status()["stoppedReason"].get<std::string>().find("claim generation 2"), std::string::npos);
  EXPECT_NE(p->stderr_text().find("uplink: stopped:"), std::string::npos);
  ASSERT_TRUE(server.WaitFor([&](const uplink::Message& m) {
    return m.topic == Topic(uplink::Channel::kOnline) && Text(m.payload) == "offline";
  }));
  // A state change and a new record while it retries: no connection.
  const uint64_t connects = uplink_status()["connects"].get<uint64_t>();
  control_->Ask({{"cmd", "thumbturn"}, {"lock", false}});
  const uint64_t attempts = uplink_status()["attempts"].get<uint64_t>();
  ASSERT_TRUE(WaitUntil([&] { return uplink_status()["attempts"].get<uint64_t>() >= attempts + 3; }));
  EXPECT_EQ(uplink_status()["connects"].get<uint64_t>(), connects);
  EXPECT_FALSE(uplink_status()["connected"].get<bool>());

  // Nor after a restart: the binding is on disk.
  EXPECT_EQ(p->Signal(SIGTERM), 0) << p->stderr_text();
  p = std::make_unique<Process>(dir_, Args(), "restarted");
  ASSERT_TRUE(p->WaitReady()) << p->stderr_text();
  control_ = std::make_unique<ControlClient>(control_path());
  ASSERT_TRUE(WaitUntil([&] { return uplink_status()["attempts"].get<uint64_t>() >= 3; })) << p->stderr_text();
  EXPECT_EQ(uplink_status()["connects"], 0);
  EXPECT_FALSE(uplink_status()["stoppedReason"].get<std::string>().empty());
  for (const uplink::Message& m : server.got) {
    if (m.topic != Topic(uplink::Channel::kState)) continue;
    EXPECT_NE(nlohmann::json::parse(Text(m.payload))["bolt"], "unlocked") << "a state after the transfer went up";
  }

  // The buyer registers the lock again: a new certificate, and the uplink
  // starts under the new claim.
  ASSERT_NO_FATAL_FAILURE(InstallCertificate());
  ASSERT_TRUE(WaitUntil([&] { return uplink_status()["connected"].get<bool>(); })) << p->stderr_text();
  EXPECT_EQ(uplink_status()["stoppedReason"], "");
  EXPECT_EQ(nlohmann::json::parse(ReadFile(state_ / "uplink-binding.json"))["claim_generation"], 2);
  EXPECT_EQ(p->Signal(SIGTERM), 0) << p->stderr_text();
}

}  // namespace
}  // namespace mortise::lockd::test
