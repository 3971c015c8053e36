// The private broker harness: a deployment starts, the server's identity and
// a registered lock connect over TLS, retained state and correlation data
// reach the reader, a last will fires, and the broker restarts on its port.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uplink_test_util.h"

namespace mortise::uplink::test {
namespace {

TEST_F(BrokerTest, TheServerAndARegisteredLockConnectOverTls) {
  StartDeployment();
  auto lock = MakeLock(*deployment_, "lock-a", 11);
  ASSERT_TRUE(lock);
  auto server = Connect(deployment_->server_files());
  ASSERT_TRUE(server);
  EXPECT_EQ(server->state(), MqttClient::State::kConnected) << server->last_error();
  auto client = Connect(lock->files);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->state(), MqttClient::State::kConnected) << client->last_error();
  // The broker names them by their certificates.
  const std::string log = broker_->log();
  EXPECT_NE(log.find("u'" + lock->username + "'"), std::string::npos) << log;
  EXPECT_NE(log.find("u'mortise-server'"), std::string::npos) << log;
}

TEST_F(BrokerTest, TheConfigurationDeclaresOneTlsListenerAndNoAnonymousClients) {
  const std::string c = ConfigText("/d", 4242, "me");
  EXPECT_NE(c.find("\nlistener 4242 127.0.0.1\n"), std::string::npos);
  EXPECT_EQ(c.find("\nlistener", c.find("\nlistener") + 1), std::string::npos) << "a second listener";
  for (const char* line : {"allow_anonymous false\n", "require_certificate true\n", "use_identity_as_username true\n",
                           "use_username_as_clientid true\n",
                           "cafile /d/ca.crt\n", "acl_file /d/acl\n", "user me\n"})
    EXPECT_NE(c.find(line), std::string::npos) << line;
}

// A request and its answer are small messages written one after the other
// (PUBACK, then the answer): with Nagle's algorithm the second waits for the
// peer's delayed ACK, ~40 ms a hop (docs/performance.md measured it). Both
// ends send at once: the broker (set_tcp_nodelay) and every client.
TEST_F(BrokerTest, SmallMessagesAreNotHeldBackForADelayedAck) {
  EXPECT_NE(ConfigText("/d", 4242, "me").find("\nset_tcp_nodelay true\n"), std::string::npos);
  StartDeployment();
  auto server = Connect(deployment_->server_files());
  ASSERT_TRUE(server);
  ASSERT_EQ(server->state(), MqttClient::State::kConnected) << server->last_error();
  int on = 0;
  socklen_t len = sizeof(on);
  ASSERT_EQ(getsockopt(server->fd(), IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
  EXPECT_NE(on, 0) << "the client's socket waits for ACKs before sending small segments";
}

TEST_F(BrokerTest, RetainedStateCorrelationDataAndTheLastWillReachTheServer) {
  StartDeployment();
  auto lock = MakeLock(*deployment_, "lock-a", 11);
  ASSERT_TRUE(lock);
  ClientOptions o = broker_->Client(lock->files);
  o.will = Will{LockTopic(lock->username, Channel::kOnline), "offline", true};
  std::string why;
  auto client = MqttClient::Create(o, why);
  ASSERT_TRUE(client) << why;
  ASSERT_TRUE(client->Connect()) << client->last_error();
  ASSERT_TRUE(client->RunUntil([&] { return client->state() == MqttClient::State::kConnected; }, kBoundMs))
      << client->last_error();
  EXPECT_LT(PublishAndWait(*client, LockTopic(lock->username, Channel::kState), "{\"bolt\":\"locked\"}", true), 0x80);

  auto server = Connect(deployment_->server_files());
  ASSERT_EQ(server->state(), MqttClient::State::kConnected) << server->last_error();
  std::vector<Message> got;
  server->on_message = [&](const Message& m) { got.push_back(m); };
  EXPECT_EQ(SubscribeAndWait(*server, "mortise/v1/locks/+/state"), 1);
  EXPECT_EQ(SubscribeAndWait(*server, "mortise/v1/locks/+/up"), 1);
  EXPECT_EQ(SubscribeAndWait(*server, "mortise/v1/locks/+/online"), 1);
  ASSERT_TRUE(server->RunUntil([&] { return got.size() == 1; }, kBoundMs));
  EXPECT_TRUE(got[0].retained);
  EXPECT_EQ(std::string(got[0].payload.begin(), got[0].payload.end()), "{\"bolt\":\"locked\"}");

  const std::vector<uint8_t> correlation{1, 2, 3, 4};
  EXPECT_LT(PublishAndWait(*client, LockTopic(lock->username, Channel::kUp), "answer", false, correlation), 0x80);
  ASSERT_TRUE(server->RunUntil([&] { return got.size() == 2; }, kBoundMs));
  EXPECT_EQ(got[1].correlation, correlation);

  // The lock's connection dies without a DISCONNECT: the broker publishes
  // its will.
  const int fd = client->fd();
  ASSERT_GE(fd, 0);
  shutdown(fd, SHUT_RDWR);
  ASSERT_TRUE(server->RunUntil([&] { return got.size() == 3; }, kBoundMs)) << broker_->log();
  EXPECT_EQ(got[2].topic, LockTopic(lock->username, Channel::kOnline));
  EXPECT_EQ(std::string(got[2].payload.begin(), got[2].payload.end()), "offline");
}

TEST_F(BrokerTest, RestartsOnTheSamePortAndClientsConnectAgain) {
  StartDeployment();
  const uint16_t port = broker_->port();
  const pid_t first = broker_->pid();
  std::string why;
  ASSERT_TRUE(broker_->Restart(why)) << why;
  EXPECT_EQ(broker_->port(), port);
  EXPECT_NE(broker_->pid(), first);
  auto server = Connect(deployment_->server_files());
  EXPECT_EQ(server->state(), MqttClient::State::kConnected) << server->last_error();
}

TEST_F(BrokerTest, APortTakenByAnotherProcessIsSkipped) {
  // Another process listens on the port the harness tries first.
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(s, 1), 0);
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const uint16_t taken = ntohs(a.sin_port);
  std::string why;
  dir_ = MakeTempDir("mortise-uplink", why);
  auto d = Deployment::Create(dir_, BrokerCert::kGood, Now(), why);
  ASSERT_TRUE(d) << why;
  deployment_.emplace(*d);
  broker_ = Broker::Start(*deployment_, why, taken);
  close(s);
  ASSERT_TRUE(broker_) << why;
  EXPECT_NE(broker_->port(), taken);
  EXPECT_NE(broker_->log().find("Address already in use"), std::string::npos) << broker_->log();
  auto server = Connect(deployment_->server_files());
  EXPECT_EQ(server->state(), MqttClient::State::kConnected) << server->last_error();
}

}  // namespace
}  // namespace mortise::uplink::test
