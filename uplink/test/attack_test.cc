// A10 (the broker: who may connect, and what a lock may read and write)
// and A11 (the broker's certificate, as the lock's and the server's client
// check it), against a real Mosquitto with the project's configuration.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "uplink_test_util.h"

namespace mortise::uplink::test {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// --- A10: who may connect -----------------------------------------------------

TEST_F(BrokerTest, A10_APlaintextMqttClientGetsNoConnack) {
  StartDeployment();
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(broker_->port());
  ASSERT_EQ(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  // CONNECT, MQTT v5, clean start, keepalive 30, no properties, client
  // id "x", username "mortise-server" (claims the server's name).
  const std::vector<uint8_t> connect_packet{0x10, 30,  0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x82, 0x00, 0x1E,
                                            0x00, 0x00, 0x01, 'x',  0x00, 14,  'm', 'o', 'r',  't',  'i',  's',
                                            'e',  '-',  's', 'e',  'r',  'v'};
  std::vector<uint8_t> packet = connect_packet;
  for (char c : std::string("er")) packet.push_back(static_cast<uint8_t>(c));
  packet[1] = static_cast<uint8_t>(packet.size() - 2);
  ASSERT_EQ(send(s, packet.data(), packet.size(), MSG_NOSIGNAL), static_cast<ssize_t>(packet.size()));
  // Whatever comes back until the broker closes: never a CONNACK (0x20).
  std::vector<uint8_t> got;
  for (;;) {
    pollfd p{s, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, kBoundMs), 1) << "the broker neither answered nor closed";
    uint8_t buf[256];
    const ssize_t n = recv(s, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.insert(got.end(), buf, buf + n);
  }
  close(s);
  EXPECT_TRUE(got.empty() || got[0] != 0x20) << "a CONNACK to a plaintext client";
}

TEST_F(BrokerTest, A10_AClientWithoutACertificateCannotConnect) {
  StartDeployment();
  // The CA and the server's username, but no certificate.
  auto c = Connect(TlsFiles{deployment_->ca_file(), "", ""}, kServerUsername);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state(), MqttClient::State::kClosed);
  EXPECT_NE(c->connack_reason(), 0) << "connected without a certificate";
}

TEST_F(BrokerTest, A10_AClientCertificateFromAnotherCaCannotConnect) {
  StartDeployment();
  std::string why;
  const std::string other_dir = MakeTempDir("mortise-uplink-other", why);
  auto other = Deployment::Create(other_dir, BrokerCert::kGood, Now(), why);
  ASSERT_TRUE(other) << why;
  // The other deployment's server certificate: CN mortise-server, wrong CA.
  TlsFiles files = other->server_files();
  files.ca_file = deployment_->ca_file();
  auto c = Connect(files);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state(), MqttClient::State::kClosed);
  EXPECT_NE(c->connack_reason(), 0);
  std::filesystem::remove_all(other_dir);
}

// --- A10: a lock's topics are its own -------------------------------------------

class LockTopics : public BrokerTest {
 protected:
  void SetUp() override {
    StartDeployment();
    a_ = MakeLock(*deployment_, "lock-a", 21);
    b_ = MakeLock(*deployment_, "lock-b", 22);
    ASSERT_TRUE(a_ && b_);
    server_ = Connect(deployment_->server_files());
    ca_ = Connect(a_->files);
    cb_ = Connect(b_->files);
    for (auto* c : {server_.get(), ca_.get(), cb_.get()})
      ASSERT_EQ(c->state(), MqttClient::State::kConnected) << c->last_error();
    server_->on_message = [&](const Message& m) { server_got_.push_back(m); };
    ca_->on_message = [&](const Message& m) { a_got_.push_back(m); };
    cb_->on_message = [&](const Message& m) { b_got_.push_back(m); };
  }
  std::string A(Channel c) const { return LockTopic(a_->username, c); }
  std::string B(Channel c) const { return LockTopic(b_->username, c); }

  std::unique_ptr<TestLock> a_, b_;
  std::unique_ptr<MqttClient> server_, ca_, cb_;
  std::vector<Message> server_got_, a_got_, b_got_;
};

TEST_F(LockTopics, A10_ALockReadsNothingOfAnotherLock) {
  // B's retained state and the server's commands to B exist before A asks.
  EXPECT_LT(PublishAndWait(*cb_, B(Channel::kState), "{\"bolt\":\"unlocked\"}", true), 0x80);
  EXPECT_EQ(SubscribeAndWait(*cb_, B(Channel::kDown)), 1);
  // A asks for B's topics by name and by every wildcard that reaches them.
  // Mosquitto 2.0 grants such subscriptions and applies the ACL to every
  // message it would deliver (a broker that refuses in the SUBACK is as
  // good): what counts is that nothing arrives.
  for (const std::string& pattern :
       {B(Channel::kDown), B(Channel::kState), B(Channel::kUp), B(Channel::kLog), B(Channel::kOnline),
        std::string("mortise/v1/locks/+/down"), std::string("mortise/v1/locks/+/state"),
        std::string("mortise/v1/locks/#"), std::string("mortise/#"), std::string("#"), std::string("+/+/+/+/+")})
    EXPECT_GE(SubscribeAndWait(*ca_, pattern), 0) << pattern;
  // A's own down topic is granted (the sentinel's way in).
  EXPECT_EQ(SubscribeAndWait(*ca_, A(Channel::kDown)), 1);
  EXPECT_LT(PublishAndWait(*server_, B(Channel::kDown), "command for B"), 0x80);
  EXPECT_LT(PublishAndWait(*server_, A(Channel::kDown), "sentinel"), 0x80);
  ASSERT_TRUE(ca_->RunUntil([&] { return !a_got_.empty(); }, kBoundMs));
  ASSERT_TRUE(cb_->RunUntil([&] { return !b_got_.empty(); }, kBoundMs));
  // The broker delivers in order: anything for A from B's topics would have
  // come before the sentinel. Service A once more for stragglers.
  ca_->RunUntil([] { return false; }, 0);
  ASSERT_EQ(a_got_.size(), 1u);
  EXPECT_EQ(a_got_[0].topic, A(Channel::kDown));
  EXPECT_EQ(a_got_[0].payload, Bytes("sentinel"));
  EXPECT_EQ(b_got_[0].payload, Bytes("command for B"));
}

// MQTT lets a new connection with a client id take over the old one. A lock
// asking for another lock's client id (lockd's is "lock-" + its identity)
// must not knock that lock off: the broker takes every client id from the
// certificate (use_username_as_clientid).
TEST_F(LockTopics, A10_ALockCannotTakeAnotherLocksClientIdAndDisconnectIt) {
  const std::string victim_id = "lock-" + a_->username;
  auto victim = Connect(a_->files, "", victim_id);
  ASSERT_TRUE(victim);
  ASSERT_EQ(victim->state(), MqttClient::State::kConnected) << victim->last_error();
  std::vector<Message> got;
  victim->on_message = [&](const Message& m) { got.push_back(m); };
  EXPECT_EQ(SubscribeAndWait(*victim, A(Channel::kDown)), 1);
  for (int i = 0; i < 3; ++i) {
    auto thief = Connect(b_->files, "", victim_id);
    ASSERT_TRUE(thief);
    EXPECT_EQ(thief->state(), MqttClient::State::kConnected) << thief->last_error();
  }
  // The victim is still connected and still receives its commands.
  EXPECT_LT(PublishAndWait(*server_, A(Channel::kDown), "still here"), 0x80);
  ASSERT_TRUE(victim->RunUntil([&] { return !got.empty() || victim->state() != MqttClient::State::kConnected; },
                               kBoundMs));
  EXPECT_EQ(victim->state(), MqttClient::State::kConnected);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, Bytes("still here"));
}

TEST_F(LockTopics, A10_ALockWritesNothingOfAnotherLockNorCommandsToItself) {
  for (Channel c : {Channel::kState, Channel::kLog, Channel::kUp, Channel::kOnline})
    EXPECT_EQ(SubscribeAndWait(*server_, std::string("mortise/v1/locks/+/") + ChannelName(c)), 1);
  EXPECT_EQ(SubscribeAndWait(*cb_, B(Channel::kDown)), 1);
  EXPECT_EQ(SubscribeAndWait(*ca_, A(Channel::kDown)), 1);
  // A writes as B everywhere, and as the server to B and to itself.
  for (const std::string& topic : {B(Channel::kState), B(Channel::kLog), B(Channel::kUp), B(Channel::kOnline),
                                   B(Channel::kDown), A(Channel::kDown)}) {
    const int reason = PublishAndWait(*ca_, topic, "forged", topic.ends_with("/state"));
    // Mosquitto answers a refused QoS 1 publish with "not authorized" or,
    // to hide the ACL, success; either way nothing is delivered (below).
    EXPECT_TRUE(reason < 0x80 || reason == 0x87) << topic << ": " << reason;
  }
  // Sentinels: A's own state to the server, the server's command to B and to A.
  EXPECT_LT(PublishAndWait(*ca_, A(Channel::kState), "sentinel"), 0x80);
  EXPECT_LT(PublishAndWait(*server_, B(Channel::kDown), "sentinel"), 0x80);
  EXPECT_LT(PublishAndWait(*server_, A(Channel::kDown), "sentinel"), 0x80);
  ASSERT_TRUE(server_->RunUntil([&] { return !server_got_.empty(); }, kBoundMs));
  ASSERT_TRUE(cb_->RunUntil([&] { return !b_got_.empty(); }, kBoundMs));
  ASSERT_TRUE(ca_->RunUntil([&] { return !a_got_.empty(); }, kBoundMs));
  for (auto* c : {server_.get(), ca_.get(), cb_.get()}) c->RunUntil([] { return false; }, 0);
  ASSERT_EQ(server_got_.size(), 1u) << server_got_.back().topic;
  EXPECT_EQ(server_got_[0].topic, A(Channel::kState));
  ASSERT_EQ(b_got_.size(), 1u);
  EXPECT_EQ(b_got_[0].payload, Bytes("sentinel"));
  ASSERT_EQ(a_got_.size(), 1u);
  EXPECT_EQ(a_got_[0].payload, Bytes("sentinel"));
  // No forged retained state waits for the next reader either.
  auto late = Connect(deployment_->server_files());
  std::vector<Message> late_got;
  late->on_message = [&](const Message& m) { late_got.push_back(m); };
  EXPECT_EQ(SubscribeAndWait(*late, B(Channel::kState)), 1);
  EXPECT_EQ(SubscribeAndWait(*late, A(Channel::kOnline)), 1);
  EXPECT_LT(PublishAndWait(*ca_, A(Channel::kOnline), "sentinel"), 0x80);
  ASSERT_TRUE(late->RunUntil([&] { return !late_got.empty(); }, kBoundMs));
  EXPECT_EQ(late_got[0].topic, A(Channel::kOnline));
}

TEST_F(LockTopics, A10_TheServerWritesOnlyDownTopicsAndReadsNoCommands) {
  // Commands to locks are for the locks (and a relay's own copy is the
  // server's business, not the broker's to hand out).
  EXPECT_GE(SubscribeAndWait(*server_, "mortise/v1/locks/+/down"), 0);
  EXPECT_GE(SubscribeAndWait(*server_, "#"), 0);
  EXPECT_EQ(SubscribeAndWait(*server_, "mortise/v1/locks/+/state"), 1);
  // The server cannot forge a lock's state, and reads no command (its own
  // to B included) back from the broker.
  const int reason = PublishAndWait(*server_, B(Channel::kState), "forged");
  EXPECT_TRUE(reason < 0x80 || reason == 0x87) << reason;
  EXPECT_LT(PublishAndWait(*server_, B(Channel::kDown), "command"), 0x80);
  EXPECT_LT(PublishAndWait(*cb_, B(Channel::kState), "sentinel"), 0x80);
  ASSERT_TRUE(server_->RunUntil([&] { return !server_got_.empty(); }, kBoundMs));
  server_->RunUntil([] { return false; }, 0);
  ASSERT_EQ(server_got_.size(), 1u) << server_got_.back().topic;
  EXPECT_EQ(server_got_[0].topic, B(Channel::kState));
  EXPECT_EQ(server_got_[0].payload, Bytes("sentinel"));
}

// --- A10: a revoked certificate ------------------------------------------------------

// The server revokes a lock's certificate (door removed, certificate
// re-issued, explicit revocation) by rewriting the deployment's CRL; the
// broker applies it. The revoked certificate's client, connected now, is
// disconnected and cannot come back; the same lock with its re-issued
// certificate connects; an unrelated lock stays connected throughout.
TEST_F(LockTopics, A10_ARevokedCertificateIsDisconnectedAndRefusedAndItsReissueReplacesIt) {
  std::string why;
  // The lock's new TLS key and certificate, issued for the same identity.
  const TlsFiles old_files = a_->files;
  SeededDrbg rng(23);
  auto key = GenerateKey(why);
  ASSERT_TRUE(key) << why;
  auto request = MakeLockRequest(*key, a_->identity, rng.drbg, why);
  ASSERT_TRUE(request) << why;
  auto cert = IssueLockCertificate(deployment_->ca(), *request, a_->identity.public_key(), Now() - 60, Now() + 86400, why);
  ASSERT_TRUE(cert) << why;
  const std::string base = dir_ + "/lock-a2";
  std::ofstream(base + ".key") << *key;
  std::ofstream(base + ".crt") << *cert;
  const TlsFiles new_files{deployment_->ca_file(), base + ".crt", base + ".key"};

  std::ifstream old_in(old_files.cert_file);
  const std::string old_pem((std::istreambuf_iterator<char>(old_in)), std::istreambuf_iterator<char>());
  const std::string old_serial = SerialOf(old_pem, why);
  ASSERT_FALSE(old_serial.empty()) << why;
  auto crl = MakeCrl(deployment_->ca(), {{old_serial, a_->username, Now()}}, Now() - 60, Now() + 86400, why);
  ASSERT_TRUE(crl) << why;
  std::ofstream(deployment_->crl_file()) << *crl;
  ASSERT_EQ(broker_->ApplyRevocations(why), 1) << why;

  // The connection with the revoked certificate is closed by the broker.
  EXPECT_TRUE(ca_->RunUntil([&] { return ca_->state() != MqttClient::State::kConnected; }, kBoundMs));
  EXPECT_EQ(ca_->state(), MqttClient::State::kClosed);
  // It cannot come back: the handshake fails (no CONNACK at all).
  auto again = Connect(old_files);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state(), MqttClient::State::kClosed);
  EXPECT_EQ(again->connack_reason(), -1) << "a revoked certificate got as far as MQTT";
  // The re-issued certificate connects and gets the lock's commands.
  auto renewed = Connect(new_files);
  ASSERT_TRUE(renewed);
  ASSERT_EQ(renewed->state(), MqttClient::State::kConnected) << renewed->last_error();
  std::vector<Message> renewed_got;
  renewed->on_message = [&](const Message& m) { renewed_got.push_back(m); };
  EXPECT_EQ(SubscribeAndWait(*renewed, A(Channel::kDown)), 1);
  EXPECT_LT(PublishAndWait(*server_, A(Channel::kDown), "for the renewed lock"), 0x80);
  ASSERT_TRUE(renewed->RunUntil([&] { return !renewed_got.empty(); }, kBoundMs));
  // The unrelated lock was never disconnected: the same connection still
  // receives its commands.
  EXPECT_EQ(cb_->state(), MqttClient::State::kConnected);
  EXPECT_EQ(SubscribeAndWait(*cb_, B(Channel::kDown)), 1);
  EXPECT_LT(PublishAndWait(*server_, B(Channel::kDown), "still here"), 0x80);
  ASSERT_TRUE(cb_->RunUntil([&] { return !b_got_.empty(); }, kBoundMs));
  EXPECT_EQ(b_got_.back().payload, Bytes("still here"));
  // Applying the same list again disconnects nobody.
  EXPECT_EQ(broker_->ApplyRevocations(why), 0) << why;
  EXPECT_EQ(renewed->state(), MqttClient::State::kConnected);
}

TEST_F(BrokerTest, A10_ARevocationListNotSignedByTheDeploymentsCaIsNotApplied) {
  StartDeployment();
  std::string why;
  auto other = MakeCa(CertificateSpec{"Another CA", Usage::kCa, {}, {}, Now() - 60, Now() + 86400}, why);
  ASSERT_TRUE(other) << why;
  auto crl = MakeCrl(*other, {{"1234", "mortise-server", Now()}}, Now() - 60, Now() + 86400, why);
  ASSERT_TRUE(crl) << why;
  std::ofstream(deployment_->crl_file()) << *crl;
  EXPECT_EQ(broker_->ApplyRevocations(why), -1);
  EXPECT_NE(why.find("not applied"), std::string::npos) << why;
  // The broker still runs on its last good list: the server connects.
  auto c = Connect(deployment_->server_files());
  EXPECT_EQ(c->state(), MqttClient::State::kConnected) << c->last_error();
}

// --- A11: the broker's certificate ------------------------------------------------

class BadBrokerCertificate : public BrokerTest, public ::testing::WithParamInterface<BrokerCert> {};

TEST_P(BadBrokerCertificate, A11_TheLocksAndTheServersClientsRefuseIt) {
  StartDeployment(GetParam());
  auto lock = MakeLock(*deployment_, "lock-a", 31);
  ASSERT_TRUE(lock);
  for (const TlsFiles& files : {lock->files, deployment_->server_files()}) {
    auto c = Connect(files);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->state(), MqttClient::State::kClosed) << files.cert_file;
    EXPECT_EQ(c->connack_reason(), -1) << "the client got as far as MQTT";
    // The client refused the certificate (OpenSSL's verdict in its log).
    EXPECT_NE(c->last_error().find("certificate verify failed"), std::string::npos) << c->last_error();
  }
  // The broker saw the handshake fail on the client's side.
  EXPECT_EQ(broker_->log().find("u'mortise-server'"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Kinds, BadBrokerCertificate,
                         ::testing::Values(BrokerCert::kSelfSigned, BrokerCert::kExpired, BrokerCert::kWrongHost,
                                           BrokerCert::kWrongCa),
                         [](const ::testing::TestParamInfo<BrokerCert>& i) {
                           switch (i.param) {
                             case BrokerCert::kSelfSigned: return std::string("SelfSigned");
                             case BrokerCert::kExpired: return std::string("Expired");
                             case BrokerCert::kWrongHost: return std::string("WrongHost");
                             case BrokerCert::kWrongCa: return std::string("WrongCa");
                             default: return std::string("Good");
                           }
                         });

}  // namespace
}  // namespace mortise::uplink::test
