// The control socket's line handler, without sockets: every command, and
// that a refused line changes nothing.
#include "control.h"

#include <gtest/gtest.h>

#include <string>

#include "face.h"
#include "test_lock.h"

namespace mortise::lockd {
namespace {

using nlohmann::json;

class FakeNode final : public NodeControls {
 public:
  bool claimed() const override { return is_claimed; }
  bool claim_window_open(uint64_t) const override { return window; }
  std::string lock_id_hex() const override { return "00112233445566778899aabbccddeeff"; }
  std::optional<LabelText> label() const override {
    if (is_claimed) return std::nullopt;
    return LabelText{"314159265", "MC1.payload", "0011223344556677"};
  }
  Status PressClaimButton(uint64_t) override {
    if (is_claimed) return StatusCode::kAlreadyExists;
    window = true;
    return Status::Ok();
  }
  Status FactoryReset(uint64_t) override {
    ++resets;
    is_claimed = false;
    return Status::Ok();
  }
  std::optional<LogUploadStatus> log_upload() const override { return LogUploadStatus{42, 30, 12}; }
  bool is_claimed = false;
  bool window = false;
  int resets = 0;
};

class lockdControl : public ::testing::Test {
 protected:
  json Ask(const std::string& line) {
    const std::string out = handler.HandleLine(line);
    EXPECT_EQ(out.find('\n'), std::string::npos);
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    EXPECT_TRUE(j.contains("ok")) << out;
    return j;
  }
  void ExpectRefused(const std::string& line, const std::string& fragment = "") {
    const json before = Ask(R"({"cmd":"status"})");
    const json j = Ask(line);
    EXPECT_EQ(j["ok"], false) << line;
    if (!fragment.empty()) {
      EXPECT_NE(j.value("error", std::string()).find(fragment), std::string::npos) << j.dump();
    }
    json after = Ask(R"({"cmd":"status"})");
    EXPECT_EQ(before, after) << "refused line changed the state: " << line;
  }

  // Stores a credential for a new user straight in the core.
  void AddCredential(core::CredentialType type, uint16_t index, const std::string& data) {
    core::SetCredentialRequest req;
    const std::vector<uint8_t> bytes(data.begin(), data.end());
    req.credential = {type, index};
    req.credential_data = bytes;
    ASSERT_EQ(t.lock->users().SetCredential(req, core::Actor{}).status, core::DlStatus::kSuccess);
  }

  testing::TestLock t;
  FakeNode node;
  ControlHandler handler{t.backend, *t.lock, t.events, &node, ClockMode::kSimulated};
};

TEST_F(lockdControl, StatusReportsTheLock) {
  json s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["ok"], true);
  EXPECT_EQ(s["bolt"], "locked");
  EXPECT_EQ(s["lockState"], "Locked");
  EXPECT_EQ(s["door"], "DoorClosed");
  EXPECT_EQ(s["doorContact"], "closed");
  EXPECT_EQ(s["battery"]["percent"], 100);
  EXPECT_EQ(s["battery"]["present"], true);
  EXPECT_EQ(s["emergencyPower"], false);
  EXPECT_EQ(s["operatingMode"], "Normal");
  EXPECT_EQ(s["claimed"], false);
  EXPECT_EQ(s["lockId"], "00112233445566778899aabbccddeeff");
  EXPECT_EQ(s["clock"], "simulated");
  // The audit log's upload state (the upload cursor custody moves).
  EXPECT_EQ(s["log"]["head"], 42);
  EXPECT_EQ(s["log"]["uploadCursor"], 30);
  EXPECT_EQ(s["log"]["unacknowledged"], 12);
  EXPECT_TRUE(s["utc"].is_null());
  EXPECT_TRUE(s["monotonicMs"].is_number());
  ASSERT_TRUE(s["events"].is_array());
  ASSERT_FALSE(s["events"].empty());  // the start alarm
  EXPECT_EQ(s["events"].back()["alarmCode"], "LockRadioPowerCycled");
}

TEST_F(lockdControl, MalformedLinesAreRefused) {
  ExpectRefused("", "malformed");
  ExpectRefused("{", "malformed");
  ExpectRefused("[]", "object");
  ExpectRefused("42");
  ExpectRefused(R"({"command":"status"})", "'cmd'");
  ExpectRefused(R"({"cmd":3})", "'cmd'");
  ExpectRefused(R"({"cmd":"open_sesame"})", "unknown command");
  ExpectRefused(R"({"cmd":"status","extra":1})", "unknown field");
  ExpectRefused(std::string(kMaxControlLine + 1, ' '), "too long");
  // A key twice: refused, whatever the values (nothing is done).
  ExpectRefused(R"({"cmd":"battery","percent":15,"percent":90})", "the key \"percent\" is given twice");
  ExpectRefused(R"({"cmd":"advance","cmd":"factory_reset"})", "the key \"cmd\" is given twice");
  ExpectRefused("{\"cmd\":\"keypad\",\"keys\":\"\xff\xfe\"}");
}

TEST_F(lockdControl, WrongFieldTypesAreRefused) {
  ExpectRefused(R"({"cmd":"keypad"})", "required");
  ExpectRefused(R"({"cmd":"keypad","keys":1234})", "string");
  ExpectRefused(R"({"cmd":"keypad","keys":"12a4#"})", "0-9");
  ExpectRefused(R"({"cmd":"keypad","keys":""})");
  ExpectRefused(R"({"cmd":"card","uid":"xyz"})", "hex");
  ExpectRefused(R"({"cmd":"card","uid":"abc"})", "hex");
  ExpectRefused(R"({"cmd":"card","uid":""})", "hex");
  ExpectRefused(R"({"cmd":"card","uid":7})", "string");
  ExpectRefused(R"({"cmd":"finger","template":256})", "0 to 255");
  ExpectRefused(R"({"cmd":"finger","template":-1})", "0 to 255");
  ExpectRefused(R"({"cmd":"finger","template":1.5})");
  ExpectRefused(R"({"cmd":"finger"})", "exactly one");
  ExpectRefused(R"({"cmd":"finger","template":1,"type":"Iris"})", "type");
  ExpectRefused(R"({"cmd":"finger","match":false,"template":1})");
  ExpectRefused(R"({"cmd":"thumbturn","lock":"yes"})", "true or false");
  ExpectRefused(R"({"cmd":"thumbturn"})", "required");
  ExpectRefused(R"({"cmd":"key","lock":1})", "true or false");
  ExpectRefused(R"({"cmd":"door","open":null})", "true or false");
  ExpectRefused(R"({"cmd":"button","name":"panic"})", "inside_lock");
  ExpectRefused(R"({"cmd":"battery"})", "percent");
  ExpectRefused(R"({"cmd":"battery","percent":101})", "0 to 100");
  // One bad field refuses the whole request, the good one included.
  ExpectRefused(R"({"cmd":"battery","percent":50,"present":"no"})", "true or false");
  ExpectRefused(R"({"cmd":"emergency_power"})", "required");
  ExpectRefused(R"({"cmd":"tamper","removed":"x"})");
  ExpectRefused(R"({"cmd":"jam"})", "exactly one");
  ExpectRefused(R"({"cmd":"advance","ms":0})");
  ExpectRefused(R"({"cmd":"advance","ms":"10"})");
  ExpectRefused(R"({"cmd":"advance","ms":18446744073709551615})");
  ExpectRefused(R"({"cmd":"events","since":-1})");
  ExpectRefused(R"({"cmd":"events","limit":0})");
  ExpectRefused(R"({"cmd":"handle","force":true})", "unknown field");
}

TEST_F(lockdControl, KeypadPinOpensAfterTimeAdvances) {
  AddCredential(core::CredentialType::kPin, 1, "135792");
  json r = Ask(R"({"cmd":"keypad","keys":"1357"})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["pending"], 4);
  r = Ask(R"({"cmd":"keypad","keys":"92#"})");
  EXPECT_EQ(r["pending"], 0);
  r = Ask(R"({"cmd":"advance","ms":1500})");
  EXPECT_EQ(r["ok"], true);
  json s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["bolt"], "unlocked");
  bool granted = false;
  for (const auto& shown : s["indicator"]["recent"]) granted |= shown["signal"] == "AccessGranted";
  EXPECT_TRUE(granted) << s.dump();
  bool keypad_unlock = false;
  for (const auto& e : s["events"])
    keypad_unlock |= e.value("lockOperationType", "") == "Unlock" && e.value("operationSource", "") == "Keypad";
  EXPECT_TRUE(keypad_unlock) << s.dump();
}

TEST_F(lockdControl, StarClearsTheEntry) {
  Ask(R"({"cmd":"keypad","keys":"99*"})");
  EXPECT_EQ(Ask(R"({"cmd":"status"})")["keypadEntry"], 0);
}

// The keypad programming menu on the face: '*' on an empty entry starts a
// programming entry; the status and the face say every step in words.
TEST_F(lockdControl, TheFaceRunsTheKeypadProgrammingMenu) {
  AddCredential(core::CredentialType::kProgrammingPIN, 0, "909090");
  Loop loop;
  Face face(handler, &node, loop, [] {}, nullptr);
  Ask(R"({"cmd":"keypad","keys":"*9090"})");
  json s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["keypadProgrammingEntry"], true);
  EXPECT_NE(face.Render(s).find("Keypad     * ****_"), std::string::npos) << face.Render(s);
  Ask(R"({"cmd":"keypad","keys":"90#"})");
  s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["programming"]["step"], "choose");
  EXPECT_NE(face.Render(s).find("Programming programming menu open; 1# add a user PIN, 2# delete a PIN slot, 0# exit"),
            std::string::npos)
      << face.Render(s);
  Ask(R"({"cmd":"keypad","keys":"1#"})");
  Ask(R"({"cmd":"keypad","keys":"135792#"})");
  s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["programming"]["note"], "pin_added");
  EXPECT_EQ(s["programming"]["slot"], 1);
  EXPECT_NE(face.Render(s).find("PIN added in slot 1"), std::string::npos);
  bool logged = false;
  for (const auto& e : s["events"])
    logged |= e.value("event", "") == "LockUserChange" && e.value("operationSource", "") == "Keypad" &&
              e.value("lockDataType", "") == "PIN";
  EXPECT_TRUE(logged) << s.dump();
  Ask(R"({"cmd":"keypad","keys":"0#"})");
  s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["programming"]["step"], "closed");
  EXPECT_EQ(s["programming"]["text"], "programming menu closed");
  // The PIN added at the keypad opens.
  Ask(R"({"cmd":"keypad","keys":"135792#"})");
  Ask(R"({"cmd":"advance","ms":1500})");
  EXPECT_EQ(Ask(R"({"cmd":"status"})")["bolt"], "unlocked");
}

TEST_F(lockdControl, TheFaceSaysWhenLocalProgrammingIsOff) {
  ASSERT_TRUE(t.lock->WriteAttribute(core::AttributeId::kEnableLocalProgramming, 0).ok());
  Loop loop;
  Face face(handler, &node, loop, [] {}, nullptr);
  Ask(R"({"cmd":"keypad","keys":"*909090#"})");
  const json s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["programming"]["note"], "disabled");
  EXPECT_NE(face.Render(s).find("programming at the keypad is off (EnableLocalProgramming is false): menu refused"),
            std::string::npos)
      << face.Render(s);
}

TEST_F(lockdControl, ManualInputsMoveTheBolt) {
  EXPECT_EQ(Ask(R"({"cmd":"thumbturn","lock":false})")["ok"], true);
  Ask(R"({"cmd":"advance","ms":100})");
  EXPECT_EQ(Ask(R"({"cmd":"status"})")["bolt"], "unlocked");
  EXPECT_EQ(Ask(R"({"cmd":"key","lock":true})")["ok"], true);
  Ask(R"({"cmd":"advance","ms":100})");
  json s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["bolt"], "locked");
  EXPECT_EQ(s["events"].back().value("detail", ""), "MechanicalKey") << s.dump();
  EXPECT_EQ(Ask(R"({"cmd":"handle"})")["ok"], true);
  Ask(R"({"cmd":"advance","ms":100})");
  EXPECT_EQ(Ask(R"({"cmd":"status"})")["bolt"], "unlocked");
}

TEST_F(lockdControl, DoorBatteryEmergencyTamper) {
  EXPECT_EQ(Ask(R"({"cmd":"door","open":true})")["ok"], true);
  json s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["doorContact"], "open");
  EXPECT_EQ(Ask(R"({"cmd":"battery","percent":15})")["ok"], true);
  EXPECT_EQ(Ask(R"({"cmd":"status"})")["battery"]["percent"], 15);
  EXPECT_EQ(Ask(R"({"cmd":"battery","present":false})")["ok"], true);
  EXPECT_EQ(Ask(R"({"cmd":"status"})")["battery"]["present"], false);
  EXPECT_EQ(Ask(R"({"cmd":"emergency_power","on":true})")["ok"], true);
  EXPECT_EQ(Ask(R"({"cmd":"status"})")["emergencyPower"], true);
  EXPECT_EQ(Ask(R"({"cmd":"tamper"})")["ok"], true);
  s = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(s["escutcheonRemoved"], true);
  bool alarm = false;
  for (const auto& e : s["events"]) alarm |= e.value("alarmCode", "") == "FrontEsceutcheonRemoved";
  EXPECT_TRUE(alarm) << s.dump();
}

TEST_F(lockdControl, CardsAndFingersReachTheCore) {
  EXPECT_EQ(Ask(R"({"cmd":"card","uid":"04A1b2c3"})")["ok"], true);
  EXPECT_EQ(Ask(R"({"cmd":"finger","template":7})")["ok"], true);
  EXPECT_EQ(Ask(R"({"cmd":"finger","template_hex":"0102","type":"Face"})")["ok"], true);
  EXPECT_EQ(Ask(R"({"cmd":"finger","match":false})")["ok"], true);
  json s = Ask(R"({"cmd":"status"})");
  int refused = 0;
  for (const auto& e : s["events"]) refused += e.value("event", "") == "LockOperationError";
  EXPECT_GE(refused, 3) << s.dump();  // nobody enrolled
}

TEST_F(lockdControl, AdvanceRefusedOnTheRealClock) {
  ControlHandler real(t.backend, *t.lock, t.events, &node, ClockMode::kReal);
  json j = json::parse(real.HandleLine(R"({"cmd":"advance","ms":10})"));
  EXPECT_EQ(j["ok"], false);
  EXPECT_NE(j["error"].get<std::string>().find("simulated"), std::string::npos);
}

TEST_F(lockdControl, AdvanceMovesTheClockInTicks) {
  const uint64_t before = Ask(R"({"cmd":"status"})")["monotonicMs"];
  json r = Ask(R"({"cmd":"advance","ms":1234})");
  EXPECT_EQ(r["monotonicMs"], before + 1234);
}

TEST_F(lockdControl, ClaimButtonLabelAndFactoryReset) {
  json r = Ask(R"({"cmd":"label"})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["setupCode"], "314159265");
  EXPECT_EQ(r["payload"], "MC1.payload");
  EXPECT_EQ(r["keyHash"], "0011223344556677");
  r = Ask(R"({"cmd":"claim_button"})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["claimWindowOpen"], true);
  node.is_claimed = true;
  r = Ask(R"({"cmd":"label"})");
  EXPECT_EQ(r["ok"], false);
  r = Ask(R"({"cmd":"claim_button"})");
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("claimed"), std::string::npos);
  r = Ask(R"({"cmd":"factory_reset"})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(node.resets, 1);
}

TEST_F(lockdControl, EventsSinceASequenceNumber) {
  Ask(R"({"cmd":"door","open":true})");
  Ask(R"({"cmd":"door","open":false})");
  json all = Ask(R"({"cmd":"events"})");
  ASSERT_GE(all["events"].size(), 3u);
  const uint64_t first = all["events"][0]["seq"];
  json later = Ask(R"({"cmd":"events","since":)" + std::to_string(first) + "}");
  EXPECT_EQ(later["events"].size(), all["events"].size() - 1);
  EXPECT_EQ(later["last"], all["last"]);
  json limited = Ask(R"({"cmd":"events","limit":1})");
  ASSERT_EQ(limited["events"].size(), 1u);
  EXPECT_EQ(limited["events"][0]["seq"], all["last"]);
}

TEST_F(lockdControl, WithoutANodeClaimCommandsAreRefused) {
  ControlHandler bare(t.backend, *t.lock, t.events, nullptr, ClockMode::kSimulated);
  EXPECT_EQ(json::parse(bare.HandleLine(R"({"cmd":"label"})"))["ok"], false);
  EXPECT_EQ(json::parse(bare.HandleLine(R"({"cmd":"claim_button"})"))["ok"], false);
  EXPECT_EQ(json::parse(bare.HandleLine(R"({"cmd":"status"})"))["claimed"], false);
}

// The face's keys are control requests; each one the handler accepts.
TEST_F(lockdControl, FaceKeysAreControlRequests) {
  Loop loop;
  bool quit = false;
  Face face(handler, &node, loop, [&] { quit = true; }, nullptr);
  const json st = Ask(R"({"cmd":"status"})");
  EXPECT_EQ(json::parse(face.RequestForKey('t', st)), (json{{"cmd", "thumbturn"}, {"lock", false}}));
  EXPECT_EQ(json::parse(face.RequestForKey('k', st)), (json{{"cmd", "key"}, {"lock", false}}));
  EXPECT_EQ(json::parse(face.RequestForKey('o', st)), (json{{"cmd", "door"}, {"open", true}}));
  EXPECT_EQ(json::parse(face.RequestForKey('b', st)), (json{{"cmd", "battery"}, {"present", false}}));
  EXPECT_EQ(json::parse(face.RequestForKey('e', st)), (json{{"cmd", "emergency_power"}, {"on", true}}));
  EXPECT_EQ(json::parse(face.RequestForKey('x', st)), (json{{"cmd", "tamper"}, {"removed", true}}));
  EXPECT_EQ(json::parse(face.RequestForKey('7', st)), (json{{"cmd", "keypad"}, {"keys", "7"}}));
  EXPECT_EQ(json::parse(face.RequestForKey('c', st))["uid"], "04a1b2c3");
  EXPECT_EQ(json::parse(face.RequestForKey('c', st))["uid"], "04d5e6f7");
  EXPECT_EQ(face.RequestForKey('z', st), "");
  for (char key : std::string("0123456789*#cfkthobexr"))
    EXPECT_EQ(Ask(face.RequestForKey(key, Ask(R"({"cmd":"status"})")))["ok"], true) << key;
  EXPECT_FALSE(quit);
}

}  // namespace
}  // namespace mortise::lockd

namespace mortise::lockd {
namespace {

TEST(lockdFace, TheLocksTimeIsShownAsLocalTimeNeverEpochSeconds) {
  // 2026-07-01T06:30:00Z in Berlin's summer time.
  EXPECT_EQ(FaceTime(nlohmann::json{{"utc", 1782887400}, {"utcOffsetS", 7200}}),
            "2026-07-01 08:30:00 local (UTC+02:00; 06:30:00Z)");
  EXPECT_EQ(FaceTime(nlohmann::json{{"utc", 1782887400}, {"utcOffsetS", -16200}}),
            "2026-07-01 02:00:00 local (UTC-04:30; 06:30:00Z)");
  EXPECT_EQ(FaceTime(nlohmann::json{{"utc", nullptr}}), "unknown (not set)");
}

}  // namespace
}  // namespace mortise::lockd
