// The built mortise-lockd as a process: configuration refusals, readiness,
// the control and protocol sockets, SIGTERM, kill -9, restarts on the same
// state dir, and a second daemon refused.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cctype>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/protocol/node.h"
#include "process_util.h"

namespace mortise::lockd {
namespace {

using namespace test;  // process_util.h: Process, the fixture, clients, json, fs

TEST_F(lockdProcess, BadConfigurationExitsTwoAndCreatesNothing) {
  std::ofstream(config_) << "state_dir = \"" << state_.string() << "\"\n[socket]\ntcp = \"0.0.0.0:7000\"\n";
  Process p(dir_, Args(), "bad");
  EXPECT_EQ(p.Wait(), 2);
  const std::string err = p.stderr_text();
  EXPECT_NE(err.find(config_.string() + ":3:"), std::string::npos) << err;
  EXPECT_NE(err.find("socket.tcp"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(state_)) << "nothing may be created before the configuration is accepted";

  Process q(dir_, {"--state-dir", state_.string(), "--clock", "sometimes"}, "badcli");
  EXPECT_EQ(q.Wait(), 2);
  EXPECT_FALSE(fs::exists(state_));
}

TEST_F(lockdProcess, ServesSocketsStopsOnSigtermAndKeepsItsStateAcrossARestart) {
  std::string lock_id, payload;
  uint64_t last_seq = 0;
  {
    Process p(dir_, Args(), "1");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    // Unclaimed and no face: the label is printed once.
    EXPECT_NE(p.stdout_text().find("Setup code:"), std::string::npos) << p.stdout_text();

    ControlClient c(control_path());
    ASSERT_TRUE(c.connected());
    json s = c.Ask({{"cmd", "status"}});
    ASSERT_EQ(s["ok"], true) << s.dump();
    EXPECT_EQ(s["bolt"], "locked");
    EXPECT_EQ(s["claimed"], false);
    EXPECT_EQ(s["clock"], "simulated");
    lock_id = s["lockId"];
    json label = c.Ask({{"cmd", "label"}});
    ASSERT_EQ(label["ok"], true) << label.dump();
    payload = label["payload"];
    EXPECT_NE(p.stdout_text().find(payload), std::string::npos);

    // Both sockets are the daemon user's alone (A19): the protocol socket
    // opens to its group only with [socket] group_access.
    struct stat sst;
    ASSERT_EQ(stat(lock_path().c_str(), &sst), 0);
    EXPECT_EQ(sst.st_mode & 0777, 0600u);
    ASSERT_EQ(stat(control_path().c_str(), &sst), 0);
    EXPECT_EQ(sst.st_mode & 0777, 0600u);

    // The protocol socket answers an info frame with this lock's id.
    const int fd = ConnectUnix(lock_path(), SOCK_SEQPACKET);
    ASSERT_GE(fd, 0);
    const uint8_t info[] = {static_cast<uint8_t>(protocol::FrameType::kInfo)};
    ASSERT_EQ(send(fd, info, 1, MSG_NOSIGNAL), 1);
    uint8_t reply[2048];
    const ssize_t n = recv(fd, reply, sizeof(reply), 0);
    ASSERT_GT(n, 1);
    auto view = protocol::DecodeLockInfo(std::span<const uint8_t>(reply, static_cast<size_t>(n)));
    ASSERT_TRUE(view.ok());
    EXPECT_FALSE(view->claimed);
    std::string id_hex;
    for (uint8_t b : view->lock_id) id_hex += "0123456789abcdef"[b >> 4], id_hex += "0123456789abcdef"[b & 15];
    EXPECT_EQ(id_hex, lock_id);
    close(fd);

    // Four wrong codes (the limit is five) and a door opened and closed.
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(c.Ask({{"cmd", "keypad"}, {"keys", "000000#"}})["ok"], true);
      EXPECT_EQ(c.Ask({{"cmd", "advance"}, {"ms", 200}})["ok"], true);
    }
    EXPECT_EQ(c.Ask({{"cmd", "door"}, {"open", true}})["ok"], true);
    EXPECT_EQ(c.Ask({{"cmd", "door"}, {"open", false}})["ok"], true);
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["lockedOut"], false);
    json ev = c.Ask({{"cmd", "events"}});
    last_seq = ev["last"];
    EXPECT_GT(last_seq, 0u);

    EXPECT_EQ(p.Signal(SIGTERM), 0) << p.stderr_text();
    EXPECT_FALSE(fs::exists(lock_path())) << "sockets are removed at a clean stop";
    EXPECT_FALSE(fs::exists(control_path()));
  }
  {
    Process p(dir_, Args(), "2");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    ControlClient c(control_path());
    ASSERT_TRUE(c.connected());
    json s = c.Ask({{"cmd", "status"}});
    EXPECT_EQ(s["lockId"], lock_id) << "the identity persisted";
    EXPECT_EQ(c.Ask({{"cmd", "label"}})["payload"], payload) << "the label persisted";
    // The log continues: the earlier events are still there, numbered before.
    json ev = c.Ask({{"cmd", "events"}, {"since", 0}, {"limit", 500}});
    int doors = 0;
    for (const auto& e : ev["events"])
      if (e["seq"].get<uint64_t>() <= last_seq && e.value("event", "") == "DoorStateChange") ++doors;
    EXPECT_EQ(doors, 2) << ev.dump();
    EXPECT_GT(ev["last"].get<uint64_t>(), last_seq);
    // The wrong-code count survived: one more locks the keypad out.
    c.Ask({{"cmd", "keypad"}, {"keys", "000000#"}});
    c.Ask({{"cmd", "advance"}, {"ms", 200}});
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["lockedOut"], true);
    EXPECT_EQ(p.Signal(SIGINT), 0);
  }
}

TEST_F(lockdProcess, SurvivesKillNineAndRestartsCleanly) {
  std::string lock_id;
  uint64_t last_seq = 0;
  {
    Process p(dir_, Args(), "1");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    ControlClient c(control_path());
    ASSERT_TRUE(c.connected());
    lock_id = c.Ask({{"cmd", "status"}})["lockId"];
    for (int i = 0; i < 4; ++i) {
      c.Ask({{"cmd", "keypad"}, {"keys", "111111#"}});
      c.Ask({{"cmd", "advance"}, {"ms", 200}});
    }
    c.Ask({{"cmd", "tamper"}});
    last_seq = c.Ask({{"cmd", "events"}})["last"];
    p.Signal(SIGKILL);
    EXPECT_TRUE(p.killed_by(SIGKILL));
    EXPECT_TRUE(fs::exists(lock_path())) << "a killed daemon leaves its socket file";
  }
  {
    Process p(dir_, Args(), "2");
    ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
    EXPECT_EQ(p.stderr_text().find("damage"), std::string::npos) << p.stderr_text();
    ControlClient c(control_path());
    ASSERT_TRUE(c.connected());
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["lockId"], lock_id);
    json ev = c.Ask({{"cmd", "events"}, {"limit", 500}});
    bool tamper = false;
    for (const auto& e : ev["events"])
      tamper |= e["seq"].get<uint64_t>() <= last_seq && e.value("alarmCode", "") == "FrontEsceutcheonRemoved";
    EXPECT_TRUE(tamper) << ev.dump();
    c.Ask({{"cmd", "keypad"}, {"keys", "111111#"}});
    c.Ask({{"cmd", "advance"}, {"ms", 200}});
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["lockedOut"], true);

    // A second daemon on the same state dir is refused with status 3.
    Process second(dir_, Args(), "3");
    EXPECT_EQ(second.Wait(), 3);
    EXPECT_NE(second.stderr_text().find("in use"), std::string::npos) << second.stderr_text();
    // ... and the first one still serves.
    EXPECT_EQ(c.Ask({{"cmd", "status"}})["ok"], true);
    EXPECT_EQ(p.Signal(SIGTERM), 0);
  }
}

// Ready means the label is out: stdout and stderr share one file here, so
// the file's order is the order of the writes (issue 12: a test once saw
// "ready" before "Setup code:").
TEST_F(lockdProcess, PrintsTheWholeLabelBeforeItSaysReady) {
  Process p(dir_, Args(), "one", /*one_file=*/true);
  ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
  const std::string both = p.stderr_text();
  const size_t ready = both.find("mortise-lockd: ready");
  const size_t code = both.find("Setup code:");
  const size_t payload = both.find("Claim payload: MC1.");
  ASSERT_NE(code, std::string::npos) << both;
  ASSERT_NE(payload, std::string::npos) << both;
  EXPECT_LT(code, ready) << both;
  EXPECT_LT(payload, ready) << both;
  EXPECT_EQ(p.Signal(SIGTERM), 0);
}

// The frame limit is protocol::kMaxTransportFrameSize on both protocol
// endpoints: exactly that is handed to the protocol (which answers, here
// with a refusal: the envelope is garbage) and the client stays; one
// byte more closes the client. (Issue 11: the docs said 1,401 and a 1,402
// byte frame was answered.)
TEST_F(lockdProcess, FramesUpToTheTransportLimitAreAnsweredAndLongerOnesCloseTheClient) {
  Process p(dir_, Args(), "limit");
  ASSERT_TRUE(p.WaitReady()) << p.stderr_text();
  const size_t max = protocol::kMaxTransportFrameSize;
  auto frame = [](size_t n) {
    std::vector<uint8_t> f(n, 0xA5);
    f[0] = static_cast<uint8_t>(protocol::FrameType::kRemote);
    return f;
  };
  const uint8_t info[] = {static_cast<uint8_t>(protocol::FrameType::kInfo)};
  uint8_t reply[4096];

  // SOCK_SEQPACKET: one packet, one frame.
  {
    const int fd = ConnectUnix(lock_path(), SOCK_SEQPACKET);
    ASSERT_GE(fd, 0);
    std::vector<uint8_t> f = frame(max);
    ASSERT_EQ(send(fd, f.data(), f.size(), MSG_NOSIGNAL), static_cast<ssize_t>(f.size()));
    EXPECT_GT(recv(fd, reply, sizeof(reply), 0), 0) << "answered (the protocol refuses it)";
    ASSERT_EQ(send(fd, info, 1, MSG_NOSIGNAL), 1);
    EXPECT_GT(recv(fd, reply, sizeof(reply), 0), 1) << "the client stays after a frame of exactly the limit";
    f = frame(max + 1);
    ASSERT_EQ(send(fd, f.data(), f.size(), MSG_NOSIGNAL), static_cast<ssize_t>(f.size()));
    EXPECT_EQ(recv(fd, reply, sizeof(reply), 0), 0) << "closed";
    close(fd);
  }
  // TCP: 2-byte length, then the frame.
  const std::string err = p.stderr_text();
  const size_t at = err.find("protocol tcp: 127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << err;
  const uint16_t port = static_cast<uint16_t>(std::stoi(err.substr(at + 24)));
  auto send_framed = [](int fd, const std::vector<uint8_t>& f) {
    std::vector<uint8_t> wire{static_cast<uint8_t>(f.size() >> 8), static_cast<uint8_t>(f.size())};
    wire.insert(wire.end(), f.begin(), f.end());
    return send(fd, wire.data(), wire.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(wire.size());
  };
  auto recv_framed = [&reply](int fd) -> ssize_t {
    size_t got = 0;
    while (got < 2 || got < 2 + (static_cast<size_t>(reply[0]) << 8 | reply[1])) {
      const ssize_t n = recv(fd, reply + got, sizeof(reply) - got, 0);
      if (n <= 0) return got == 0 ? n : -1;
      got += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(got - 2);
  };
  {
    const int fd = ConnectTcp(port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_framed(fd, frame(max)));
    EXPECT_GT(recv_framed(fd), 0) << "answered (the protocol refuses it)";
    ASSERT_TRUE(send_framed(fd, {info[0]}));
    EXPECT_GT(recv_framed(fd), 1) << "the client stays after a frame of exactly the limit";
    ASSERT_TRUE(send_framed(fd, frame(max + 1)));
    EXPECT_EQ(recv_framed(fd), 0) << "closed";
    close(fd);
  }
  EXPECT_EQ(p.Signal(SIGTERM), 0);
}

// docs/protocol.md states the limit once, as the constant's value.
TEST(lockdDocs, TheDocumentedFrameLimitIsTheConstant) {
  const std::string doc = ReadFile(std::string(MORTISE_SOURCE_DIR) + "/docs/protocol.md");
  const std::string key = "`kMaxTransportFrameSize` = ";
  const size_t at = doc.find(key);
  ASSERT_NE(at, std::string::npos) << "docs/protocol.md section 12 states the transport frame limit";
  std::string digits;
  for (size_t i = at + key.size(); i < doc.size() && (std::isdigit(static_cast<unsigned char>(doc[i])) || doc[i] == ',');
       ++i)
    if (doc[i] != ',') digits += doc[i];
  EXPECT_EQ(digits, std::to_string(protocol::kMaxTransportFrameSize));
  EXPECT_EQ(doc.find(key, at + 1), std::string::npos) << "stated once";
  const std::string lockd = ReadFile(std::string(MORTISE_SOURCE_DIR) + "/docs/lockd.md");
  EXPECT_NE(lockd.find("kMaxTransportFrameSize"), std::string::npos);
}

}  // namespace
}  // namespace mortise::lockd
