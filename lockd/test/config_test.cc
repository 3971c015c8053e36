// Every refusal of the configuration names the file, the line and the key.
#include "config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace mortise::lockd {
namespace {

std::optional<ConfigError> Parse(const std::string& text, Config& c) { return ParseConfigText(text, "lockd.toml", c); }

// Expects a refusal mentioning every fragment.
void ExpectRefused(const std::string& text, std::initializer_list<std::string> fragments) {
  Config c;
  c.state_dir = "/before";
  auto e = Parse(text, c);
  ASSERT_TRUE(e.has_value()) << text;
  for (const auto& f : fragments) EXPECT_NE(e->message.find(f), std::string::npos) << e->message << " lacks " << f;
  EXPECT_EQ(c.state_dir, "/before") << "a refused file must change nothing";
}

TEST(lockdConfig, DefaultsWithOnlyTheStateDir) {
  Config c;
  ASSERT_FALSE(Parse("state_dir = \"/tmp/x\"\n", c));
  ASSERT_FALSE(Finalize(c));
  EXPECT_EQ(c.state_dir, "/tmp/x");
  EXPECT_EQ(c.backend, "sim");
  EXPECT_EQ(c.socket_path, "/tmp/x/lock.sock");
  EXPECT_EQ(c.control_socket, "/tmp/x/sim.sock");
  EXPECT_FALSE(c.tcp.has_value());
  EXPECT_FALSE(c.socket_group_access) << "the protocol socket is owner-only by default";
  EXPECT_EQ(c.clock, ClockMode::kReal);
  EXPECT_FALSE(c.seed.has_value());
  EXPECT_EQ(c.motor_travel_ms, 800u);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.face, FaceMode::kAuto);
  EXPECT_EQ(c.store_kib, 256u);
  EXPECT_EQ(c.log_kib, 64u);
  EXPECT_EQ(c.mechanics.motor_travel_timeout_ms, core::MechanicsConfig().motor_travel_timeout_ms);
}

TEST(lockdConfig, EveryKeyParses) {
  Config c;
  const char* text = R"(
state_dir = "/var/lib/lock/"
backend = "sim"
[socket]
path = "/run/lock.sock"
tcp = "127.0.0.1:7000"
group_access = true
[sim]
clock = "simulated"
seed = 42
motor_travel_ms = 500
battery_percent = 80
door_sensor = false
control_socket = "/run/sim.sock"
[mechanics]
motor_travel_timeout_ms = 2000
motor_retries = 3
unlatch_hold_ms = 1000
manual_attribution_ms = 2500
multi_credential_window_ms = 20000
[log]
level = "debug"
[face]
enabled = false
[storage]
store_kib = 128
log_kib = 32
)";
  ASSERT_FALSE(Parse(text, c));
  ASSERT_FALSE(Finalize(c));
  EXPECT_EQ(c.state_dir, "/var/lib/lock");
  EXPECT_EQ(c.socket_path, "/run/lock.sock");
  ASSERT_TRUE(c.tcp.has_value());
  EXPECT_EQ(c.tcp->host, "127.0.0.1");
  EXPECT_EQ(c.tcp->port, 7000);
  EXPECT_TRUE(c.socket_group_access);
  EXPECT_EQ(c.clock, ClockMode::kSimulated);
  EXPECT_EQ(c.seed, 42u);
  EXPECT_EQ(c.motor_travel_ms, 500u);
  EXPECT_EQ(c.battery_percent, 80);
  EXPECT_FALSE(c.door_sensor);
  EXPECT_EQ(c.control_socket, "/run/sim.sock");
  EXPECT_EQ(c.mechanics.motor_travel_timeout_ms, 2000u);
  EXPECT_EQ(c.mechanics.motor_retries, 3);
  EXPECT_EQ(c.mechanics.unlatch_hold_ms, 1000u);
  EXPECT_EQ(c.mechanics.manual_attribution_ms, 2500u);
  EXPECT_EQ(c.mechanics.multi_credential_window_ms, 20000u);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.face, FaceMode::kOff);
  EXPECT_EQ(c.store_kib, 128u);
  EXPECT_EQ(c.log_kib, 32u);
}

TEST(lockdConfig, FaceTakesAuto) {
  Config c;
  ASSERT_FALSE(Parse("[face]\nenabled = \"auto\"\n", c));
  EXPECT_EQ(c.face, FaceMode::kAuto);
  ASSERT_FALSE(Parse("[face]\nenabled = true\n", c));
  EXPECT_EQ(c.face, FaceMode::kOn);
}

TEST(lockdConfig, Ipv6LoopbackAccepted) {
  Config c;
  ASSERT_FALSE(Parse("[socket]\ntcp = \"[::1]:0\"\n", c));
  ASSERT_TRUE(c.tcp.has_value());
  EXPECT_EQ(c.tcp->host, "::1");
  EXPECT_EQ(c.tcp->port, 0);
  ASSERT_FALSE(Parse("[socket]\ntcp = \"127.3.2.1:65535\"\n", c));
  ASSERT_FALSE(Parse("[socket]\ntcp = \"\"\n", c));
  EXPECT_FALSE(c.tcp.has_value());
}

TEST(lockdConfig, UnknownTopLevelKeyRefusedWithLineAndKey) {
  ExpectRefused("state_dir = \"/x\"\n\nstatedir = \"/y\"\n", {"lockd.toml:3:", "'statedir'", "unknown key"});
}

TEST(lockdConfig, UnknownKeyInTableRefused) {
  ExpectRefused("[sim]\nclock = \"real\"\nclok = \"real\"\n", {"lockd.toml:3:", "'sim.clok'", "unknown key"});
  ExpectRefused("[socket]\ntpc = \"127.0.0.1:1\"\n", {"lockd.toml:2:", "'socket.tpc'"});
}

TEST(lockdConfig, UnknownTableRefused) {
  ExpectRefused("[network]\nport = 1\n", {"lockd.toml:1:", "[network]"});
  ExpectRefused("[[sim]]\nclock = \"real\"\n", {"lockd.toml:1:", "'sim'"});
}

TEST(lockdConfig, WrongTypesRefused) {
  ExpectRefused("state_dir = 3\n", {"lockd.toml:1:", "'state_dir'", "expected a string"});
  ExpectRefused("[storage]\nstore_kib = \"256\"\n", {"lockd.toml:2:", "'storage.store_kib'", "expected an integer"});
  ExpectRefused("[sim]\ndoor_sensor = 1\n", {"lockd.toml:2:", "'sim.door_sensor'", "true or false"});
  ExpectRefused("[face]\nenabled = \"yes\"\n", {"lockd.toml:2:", "'face.enabled'"});
  ExpectRefused("[sim]\nmotor_travel_ms = 800.0\n", {"lockd.toml:2:", "'sim.motor_travel_ms'", "a float"});
  ExpectRefused("sim = 3\n", {"lockd.toml:1:", "'sim'"});
}

TEST(lockdConfig, OutOfRangeRefused) {
  ExpectRefused("[storage]\nstore_kib = 8\n", {"lockd.toml:2:", "'storage.store_kib'", "16 to 1024"});
  ExpectRefused("[storage]\nstore_kib = 2048\n", {"'storage.store_kib'"});
  ExpectRefused("[storage]\nstore_kib = 18\n", {"'storage.store_kib'", "multiple of 4"});
  ExpectRefused("[storage]\nlog_kib = 8\n", {"'storage.log_kib'", "12 to 256"});
  ExpectRefused("[storage]\nlog_kib = 512\n", {"'storage.log_kib'"});
  ExpectRefused("[sim]\nbattery_percent = 101\n", {"'sim.battery_percent'"});
  ExpectRefused("[sim]\nseed = -1\n", {"'sim.seed'"});
  ExpectRefused("[sim]\nmotor_travel_ms = 10\n", {"'sim.motor_travel_ms'"});
  ExpectRefused("[mechanics]\nmotor_retries = 11\n", {"'mechanics.motor_retries'"});
  ExpectRefused("[mechanics]\nmotor_travel_timeout_ms = 99\n", {"'mechanics.motor_travel_timeout_ms'"});
  ExpectRefused("[mechanics]\nunlatch_hold_ms = 0\n", {"'mechanics.unlatch_hold_ms'"});
  ExpectRefused("[mechanics]\nmanual_attribution_ms = 60001\n", {"'mechanics.manual_attribution_ms'"});
  ExpectRefused("[mechanics]\nmulti_credential_window_ms = 999\n", {"'mechanics.multi_credential_window_ms'"});
}

TEST(lockdConfig, BadEnumsRefused) {
  ExpectRefused("backend = \"gpio\"\n", {"lockd.toml:1:", "'backend'", "unknown backend"});
  ExpectRefused("[sim]\nclock = \"fast\"\n", {"'sim.clock'", "real"});
  ExpectRefused("[log]\nlevel = \"verbose\"\n", {"'log.level'"});
  ExpectRefused("state_dir = \"\"\n", {"'state_dir'", "empty"});
}

TEST(lockdConfig, NonLoopbackTcpRefused) {
  ExpectRefused("[socket]\ntcp = \"0.0.0.0:7000\"\n", {"lockd.toml:2:", "'socket.tcp'", "loopback"});
  ExpectRefused("[socket]\ntcp = \"192.168.1.20:7000\"\n", {"'socket.tcp'", "loopback"});
  ExpectRefused("[socket]\ntcp = \"[::]:7000\"\n", {"'socket.tcp'", "loopback"});
  ExpectRefused("[socket]\ntcp = \"[2001:db8::1]:7000\"\n", {"'socket.tcp'", "loopback"});
  ExpectRefused("[socket]\ntcp = \"localhost:7000\"\n", {"'socket.tcp'", "numeric"});
  ExpectRefused("[socket]\ntcp = \"127.0.0.1\"\n", {"'socket.tcp'"});
  ExpectRefused("[socket]\ntcp = \"127.0.0.1:65536\"\n", {"'socket.tcp'", "port"});
  ExpectRefused("[socket]\ntcp = \"127.0.0.1:-1\"\n", {"'socket.tcp'", "port"});
  ExpectRefused("[socket]\ntcp = \"[::1]7000\"\n", {"'socket.tcp'"});
}

TEST(lockdConfig, SyntaxErrorNamesTheLine) {
  ExpectRefused("state_dir = \"/x\"\n[sim\nclock = 1\n", {"lockd.toml:2:"});
}

TEST(lockdConfig, FinalizeRefusals) {
  Config c;
  auto e = Finalize(c);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("state"), std::string::npos);

  c = Config();
  c.state_dir = "/" + std::string(200, 'a');
  e = Finalize(c);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("socket.path"), std::string::npos);

  c = Config();
  c.state_dir = "/x";
  c.socket_path = "/x/same.sock";
  c.control_socket = "/x/same.sock";
  e = Finalize(c);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("sim.control_socket"), std::string::npos);

  c = Config();
  c.state_dir = "/x";
  c.motor_travel_ms = 5000;
  e = Finalize(c);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("mechanics.motor_travel_timeout_ms"), std::string::npos);
}

TEST(lockdConfig, MissingFileRefused) {
  Config c;
  auto e = ParseConfigFile("/nonexistent/lockd.toml", c);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("/nonexistent/lockd.toml"), std::string::npos);
}

TEST(lockdConfig, FileNamedInMessages) {
  const auto path = std::filesystem::temp_directory_path() / ("lockd-config-" + std::to_string(getpid()) + ".toml");
  {
    std::ofstream out(path);
    out << "state_dir = \"/x\"\n[sim]\nseed = \"x\"\n";
  }
  Config c;
  auto e = ParseConfigFile(path.string(), c);
  std::filesystem::remove(path);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find(path.string() + ":3:"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("'sim.seed'"), std::string::npos);
}

}  // namespace
}  // namespace mortise::lockd

namespace mortise::lockd {
namespace {

TEST(lockdConfigUplink, OffByDefaultAndEveryKeyParsesWithTheCertificateInTheStateDir) {
  Config off;
  ASSERT_FALSE(Parse("state_dir = \"/s\"\n", off));
  ASSERT_FALSE(Finalize(off));
  EXPECT_FALSE(off.uplink.enabled());
  Config c;
  ASSERT_FALSE(Parse("state_dir = \"/s\"\n[uplink]\nbroker = \"broker.example.net:8883\"\nca_file = \"/etc/ca.crt\"\n"
                     "keepalive_s = 60\nqueue_limit = 16\nbackoff_initial_ms = 500\nbackoff_max_ms = 30000\n"
                     "log_page_bytes = 1024\n",
                     c));
  ASSERT_FALSE(Finalize(c));
  EXPECT_TRUE(c.uplink.enabled());
  EXPECT_EQ(c.uplink.host, "broker.example.net");
  EXPECT_EQ(c.uplink.port, 8883);
  EXPECT_EQ(c.uplink.ca_file, "/etc/ca.crt");
  EXPECT_EQ(c.uplink.certificate, "/s/uplink.crt");
  EXPECT_EQ(c.uplink.keepalive_s, 60u);
  EXPECT_EQ(c.uplink.queue_limit, 16u);
  EXPECT_EQ(c.uplink.backoff_initial_ms, 500u);
  EXPECT_EQ(c.uplink.backoff_max_ms, 30000u);
  EXPECT_EQ(c.uplink.log_page_bytes, 1024u);
  UplinkConfig defaults;
  EXPECT_EQ(defaults.keepalive_s, 30u);
  EXPECT_EQ(defaults.queue_limit, 64u);
  EXPECT_EQ(defaults.backoff_initial_ms, 1000u);
  EXPECT_EQ(defaults.backoff_max_ms, 60000u);
  EXPECT_EQ(defaults.log_page_bytes, 2048u);
}

TEST(lockdConfigUplink, BadBrokerAddressesAndAMissingCaAreRefused) {
  ExpectRefused("[uplink]\nbroker = \"no-port\"\n", {"lockd.toml:2", "uplink.broker", "host:port"});
  ExpectRefused("[uplink]\nbroker = \"h:0\"\n", {"uplink.broker", "port"});
  ExpectRefused("[uplink]\nbroker = \"h:70000\"\n", {"uplink.broker", "port"});
  ExpectRefused("[uplink]\nbroker = \"h/x:1\"\n", {"uplink.broker", "host"});
  ExpectRefused("[uplink]\nqueue_limit = 0\n", {"uplink.queue_limit"});
  ExpectRefused("[uplink]\nretry = 1\n", {"uplink.retry", "unknown key"});
  Config c;
  ASSERT_FALSE(Parse("state_dir = \"/s\"\n[uplink]\nbroker = \"127.0.0.1:8883\"\n", c));
  auto e = Finalize(c);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("uplink.ca_file"), std::string::npos) << e->message;
  Config d;
  ASSERT_FALSE(Parse("state_dir = \"/s\"\n[uplink]\nca_file = \"/ca\"\n", d));
  ASSERT_TRUE(Finalize(d));
}

}  // namespace
}  // namespace mortise::lockd
