#include "daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "control.h"
#include "endpoint.h"
#include "events.h"
#include "face.h"
#include "log_key.h"
#include "mortise/protocol/log_source.h"
#include "loop.h"
#include "management.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/node.h"
#include "mortise/sim/sim_hardware.h"
#include "mortise/store/file_flash.h"
#include "mortise/store/record_store.h"
#include "mortise/termqr/termqr.h"
#include "names.h"
#include "os_random.h"
#include "rtc_file.h"
#include "mortise/uplink/pki.h"
#include "sim_backend.h"
#include "state_dir.h"
#include "uplink.h"

namespace mortise::lockd {
namespace {

uint64_t MonotonicNowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

std::string HexOf(const uint8_t* d, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(k[d[i] >> 4]);
    s.push_back(k[d[i] & 15]);
  }
  return s;
}

// The claim label is the lock's sticker: the lock keeps only the PAKE
// verifier, so the daemon keeps the label text beside the flash images
// (label.txt, 0600: it holds the setup code), written atomically the moment
// it is made.
std::optional<std::string> ReadLabelFile(const StateDir& dir, std::string& why) {
  auto text = dir.ReadFile("label.txt", StateDir::Secret::kYes, why);
  if (!text) return std::nullopt;
  const size_t nl = text->find('\n');
  if (nl != std::string::npos) text->resize(nl);
  if (text->empty()) return std::nullopt;
  return text;
}

class NodeAdapter final : public NodeControls {
 public:
  NodeAdapter(protocol::LockNode& node, const protocol::LockAuthority& authority,
              std::optional<protocol::ClaimLabel> label, const store::AuditLog& log)
      : node_(node), authority_(authority), label_(label), log_(log) {}

  bool claimed() const override { return node_.claimed(); }
  bool claim_window_open(uint64_t now_ms) const override { return node_.claim().window_open(now_ms); }
  std::string lock_id_hex() const override {
    const auto& id = authority_.identity().lock_id();
    return HexOf(id.data(), id.size());
  }
  std::optional<LabelText> label() const override {
    if (node_.claimed() || !label_) return std::nullopt;
    const auto digits = protocol::SetupCodeDigits(label_->setup_code);
    char text[protocol::kLabelTextSize + 1] = {};
    auto n = protocol::EncodeLabel(*label_, std::span<char>(text, protocol::kLabelTextSize));
    if (!n.ok()) return std::nullopt;
    return LabelText{std::string(digits.data(), digits.size()), std::string(text, *n),
                     HexOf(label_->key_hash.data(), label_->key_hash.size())};
  }
  Status PressClaimButton(uint64_t now_ms) override { return node_.PressClaimButton(now_ms); }
  Status FactoryReset(uint64_t now_ms) override { return node_.FactoryReset(now_ms); }
  std::optional<LogUploadStatus> log_upload() const override {
    return LogUploadStatus{log_.next_seq() - 1, log_.acknowledged(), log_.unacknowledged()};
  }

 private:
  protocol::LockNode& node_;
  const protocol::LockAuthority& authority_;
  std::optional<protocol::ClaimLabel> label_;
  const store::AuditLog& log_;
};

// The lock's state as the uplink publishes it (docs/uplink.md "state").
// The claim generation tells the server of a lock handed to a new owner
// (the old organisation's door is then marked transferred).
nlohmann::json UplinkState(const core::DoorLock& lock, const protocol::LockNode& node,
                           const protocol::LockAuthority& authority) {
  nlohmann::json alarms = nlohmann::json::array();
  if (lock.battery_percent() <= lock.settings().battery_low_percent) alarms.push_back("batteryLow");
  if (lock.locked_out()) alarms.push_back("keypadLockedOut");
  if (lock.emergency_power()) alarms.push_back("emergencyPower");
  return nlohmann::json{{"bolt", core::BoltStateName(lock.bolt_state())},
                        {"door", DoorStateName(lock.door_state())},
                        {"mode", OperatingModeName(lock.effective_mode())},
                        {"battery", lock.battery_percent()},
                        {"alarms", alarms},
                        {"firmware", MORTISE_VERSION},
                        {"timeKnown", lock.utc_now().has_value()},
                        {"claimed", node.claimed()},
                        {"claimGeneration", authority.claimed() ? authority.claim_generation() : 0}};
}

// The uplink's TLS key (made here once, 0600) and the certificate request
// registration carries to the server (docs/uplink.md "Identities").
bool PrepareUplinkIdentity(const StateDir& dir, const protocol::LockAuthority& authority, crypto::Drbg& drbg) {
  std::string why;
  auto key = dir.ReadFile("uplink.key", StateDir::Secret::kYes, why);
  if (!key) {
    if (!why.empty()) {
      spdlog::error("uplink: {}", why);
      return false;
    }
    key = uplink::GenerateKey(why);
    if (!key || !dir.WriteAtomically("uplink.key", *key, why)) {
      spdlog::error("uplink: cannot make the TLS key: {}", why);
      return false;
    }
    spdlog::info("uplink: made a TLS key ({}/uplink.key)", dir.path());
  }
  std::string ignored;
  if (!dir.ReadFile("uplink-request.json", StateDir::Secret::kNo, ignored)) {
    auto request = uplink::MakeLockRequest(*key, authority.identity().key(), drbg, why);
    if (!request || !dir.WriteAtomically("uplink-request.json", uplink::RequestToJson(*request), why)) {
      spdlog::error("uplink: cannot write the certificate request: {}", why);
      return false;
    }
  }
  return true;
}

// Everything one run of the daemon owns, destroyed in reverse order.
struct Parts {
  std::unique_ptr<StateDir> state;
  int lock_fd = -1;
  int signal_fd = -1;
  std::unique_ptr<store::FileFlash> records_flash;
  std::unique_ptr<store::FileFlash> log_flash;
  std::unique_ptr<store::StaticRecordStore<store::RecordStore::kDefaultCapacity>> records;
  OsEntropy entropy;
  std::unique_ptr<crypto::Drbg> drbg;
  std::optional<protocol::LockAuthority> authority;
  std::optional<store::HmacLogAuthenticator> log_auth;
  std::optional<LogHeadSigner> log_signer;
  std::optional<LogKeyIntroducer> key_introducer;
  std::optional<store::AuditLog> audit_log;
  std::unique_ptr<SimBackend> backend;
  std::optional<RtcFile> rtc_file;
  std::unique_ptr<EventFanout> events;
  OsRandom os_random;
  std::unique_ptr<sim::SimRandom> sim_random;
  std::unique_ptr<core::DoorLock> lock;
  std::optional<protocol::LockNode> node;
  std::unique_ptr<JsonManagement> management;
  std::unique_ptr<protocol::AuditLogSource> log_source;
  std::unique_ptr<protocol::AuditLogCustodian> log_custodian;
  std::unique_ptr<NodeAdapter> node_controls;
  std::unique_ptr<ControlHandler> control;
  Loop loop;
  std::unique_ptr<SeqpacketEndpoint> lock_socket;
  std::unique_ptr<TcpEndpoint> tcp;
  std::unique_ptr<LineEndpoint> control_socket;
  std::unique_ptr<Face> face;
  std::unique_ptr<Uplink> uplink;

  ~Parts() {
    uplink.reset();
    if (face) face->Stop();
    if (control_socket) control_socket->Close();
    if (tcp) tcp->Close();
    if (lock_socket) lock_socket->Close();
    if (signal_fd >= 0) close(signal_fd);
    // Last: the state dir is free for the next daemon only once this one
    // has let go of everything in it.
    if (lock_fd >= 0) close(lock_fd);
  }
};

// Takes the state dir's lock file. kExitStateBusy with a message when
// another daemon holds it.
int LockStateDir(const std::string& dir, Parts& p) {
  const std::string path = dir + "/lockd.lock";
  std::string why;
  p.lock_fd = p.state->OpenFile("lockd.lock", StateDir::Secret::kNo, why);
  if (p.lock_fd < 0) {
    spdlog::error("{}", why);
    return kExitFailure;
  }
  if (flock(p.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = pread(p.lock_fd, pid, sizeof(pid) - 1, 0);
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("?");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (err == EWOULDBLOCK) {
      std::fprintf(stderr, "mortise-lockd: state directory %s is in use by another mortise-lockd (pid %s)\n",
                   dir.c_str(), holder.c_str());
      return kExitStateBusy;
    }
    spdlog::error("{}: flock: {}", path, std::strerror(err));
    return kExitFailure;
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(p.lock_fd, 0) != 0 || pwrite(p.lock_fd, pid.data(), pid.size(), 0) < 0)
    spdlog::warn("{}: cannot record the pid", path);
  return kExitOk;
}

std::string StatusLine(const core::DoorLock& lock, const protocol::LockNode& node) {
  std::ostringstream s;
  s << "bolt " << core::BoltStateName(lock.bolt_state()) << ", " << DoorStateName(lock.door_state()) << ", battery "
    << static_cast<int>(lock.battery_percent()) << "%, " << OperatingModeName(lock.effective_mode()) << ", "
    << (node.claimed() ? "claimed" : "unclaimed");
  return s.str();
}

}  // namespace

int RunDaemon(const Config& config) {
  Parts p;
  const std::string& dir = config.state_dir;

  // --- State dir and its lock ----------------------------------------------
  // The state dir holds the lock's private key (in records.img) and the
  // setup code (label.txt): a directory another user owns or can write, or
  // a socket directory like that, is refused before anything is written
  // (state_dir.h). A missing one is made 0700; a readable one is reported.
  std::string why;
  p.state = StateDir::Open(dir, why);
  if (!p.state) {
    spdlog::error("{}", why);
    return kExitFailure;
  }
  for (const std::string* socket : {&config.socket_path, &config.control_socket}) {
    if (socket->empty()) continue;
    const auto parent = std::filesystem::path(*socket).parent_path();
    std::string real;
    if (std::string r = CheckWritableDir(parent.empty() ? "." : parent.string(), geteuid(), real); !r.empty()) {
      spdlog::error("socket {}: {}", *socket, r);
      return kExitFailure;
    }
  }
  struct stat st;
  if (fstat(p.state->fd(), &st) == 0 && (st.st_mode & 0077))
    spdlog::warn("{}: readable by group or others (mode {:o}); it holds the lock's private key: chmod 700 it", dir,
                 st.st_mode & 0777);
  if (int rc = LockStateDir(dir, p); rc != kExitOk) return rc;

  // Signals are read from a signalfd in the loop, so SIGTERM lets the
  // current operation finish.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  p.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (p.signal_fd < 0) {
    spdlog::error("signalfd: {}", std::strerror(errno));
    return kExitFailure;
  }

  // --- Storage ----------------------------------------------------------------
  const size_t block = store::kDefaultBlockSize;
  // Opened here, through the checked directory and never through a link;
  // the store only gets the descriptors.
  const int records_fd = p.state->OpenFile("records.img", StateDir::Secret::kYes, why);
  if (records_fd < 0) {
    spdlog::error("{}", why);
    return kExitFailure;
  }
  auto records_flash = store::FileFlash::Adopt(records_fd, block, config.store_kib / kBlockKib);
  const int log_fd = p.state->OpenFile("log.img", StateDir::Secret::kYes, why);
  if (log_fd < 0) {
    spdlog::error("{}", why);
    return kExitFailure;
  }
  auto log_flash = store::FileFlash::Adopt(log_fd, block, config.log_kib / kBlockKib);
  if (!records_flash.ok() || !log_flash.ok()) {
    const bool geometry = (!records_flash.ok() && records_flash.status().code() == StatusCode::kInvalidArgument) ||
                          (!log_flash.ok() && log_flash.status().code() == StatusCode::kInvalidArgument);
    spdlog::error("{}: cannot open the flash images (records.img: {}, log.img: {}){}", dir,
                  records_flash.ok() ? "ok" : records_flash.status().name(),
                  log_flash.ok() ? "ok" : log_flash.status().name(),
                  geometry ? "; an image made with other [storage] sizes is refused: keep the sizes it was made with"
                           : "");
    return kExitFailure;
  }
  p.records_flash = std::move(records_flash.value());
  p.log_flash = std::move(log_flash.value());
  p.records = std::make_unique<store::StaticRecordStore<store::RecordStore::kDefaultCapacity>>(*p.records_flash);
  store::RecordStore& records = p.records->store;
  if (Status s = records.Mount(); !s.ok()) {
    spdlog::error("record store: mount failed: {}", s.name());
    return kExitFailure;
  }
  if (const auto& r = records.mount_report(); !r.clean())
    spdlog::warn("record store: mounted with damage: {} records dropped, {} corrupt values, {} blocks dropped, "
                 "{} damaged transactions",
                 r.records_dropped, r.corrupt_values, r.blocks_dropped, r.damaged_transactions);

  // --- Protocol identity, log ----------------------------------------------------
  p.drbg = std::make_unique<crypto::Drbg>(p.entropy);
  static constexpr uint8_t kPersonalization[] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o', 'c', 'k', 'd'};
  if (Status s = p.drbg->Seed(kPersonalization); !s.ok()) {
    spdlog::error("DRBG: cannot seed from getrandom: {}", s.name());
    return kExitFailure;
  }
  p.authority.emplace(records, *p.drbg);
  if (Status s = p.authority->Start(); !s.ok()) {
    if (!p.authority->started()) {
      spdlog::error("lock authority: cannot start: {}", s.name());
      return kExitFailure;
    }
    spdlog::error("lock authority: started with a damaged access list ({}); revocations may be missing", s.name());
  }
  if (Status s = MakeLogAuthenticator(*p.authority, p.log_auth); !s.ok()) {
    spdlog::error("audit log: no key: {}", s.name());
    return kExitFailure;
  }
  p.audit_log.emplace(*p.log_flash, records, *p.log_auth);
  p.log_signer.emplace(*p.authority);
  p.audit_log->set_head_signer(&*p.log_signer, kLogHeadSignIntervalS);
  if (Status s = p.audit_log->Mount(); !s.ok()) {
    spdlog::error("audit log: mount failed: {}", s.name());
    return kExitFailure;
  }
  if (const auto& r = p.audit_log->mount_report(); r.blocks_dropped || r.voids || r.sequence_jump)
    spdlog::warn("audit log: mounted with damage: {} blocks dropped, {} unreadable records, sequence jump {}",
                 r.blocks_dropped, r.voids, r.sequence_jump);
  if (const auto& r = p.audit_log->mount_report(); r.tampered)
    spdlog::error("audit log: the stored log was altered while the lock was off: {} sequence numbers declared "
                  "tampered in the log", r.tampered);
  // Every key the lock gives an index is introduced in the log before it acts.
  p.key_introducer.emplace(*p.audit_log);
  p.authority->set_key_table_observer(&*p.key_introducer);

  // --- Hardware and the core -------------------------------------------------------
  SimSettings sim;
  sim.motor_travel_ms = config.motor_travel_ms;
  sim.battery_percent = config.battery_percent;
  sim.door_sensor = config.door_sensor;
  p.backend = std::make_unique<SimBackend>(sim);
  Backend& hw = *p.backend;
  p.events = std::make_unique<EventFanout>(&*p.audit_log);
  core::Random* random = &p.os_random;
  if (config.seed) {
    spdlog::warn("[sim] seed = {}: the core's secrets come from a fixed seed (tests only, never a real lock)",
                 *config.seed);
    p.sim_random = std::make_unique<sim::SimRandom>(*config.seed);
    random = p.sim_random.get();
  }
  core::Hardware parts{hw.clock(), *random,   records,         hw.actuator(),  hw.sensors(), hw.manual(),
                       hw.keypad(), hw.cards(), hw.biometrics(), hw.indicator(), *p.events};
  p.lock = std::make_unique<core::DoorLock>(parts, config.mechanics);
  core::DoorLock& lock = *p.lock;
  // The lock's RTC keeps its time across restarts (rtc_file.h).
  const std::string rtc_path = dir + "/rtc";
  p.rtc_file.emplace(
      config.clock,
      [state = p.state.get()](const std::string& text) {
        std::string ignored;
        return state->WriteAtomically("rtc", text, ignored);
      },
      [] {
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
      });
  {
    std::string refused;
    auto text = p.state->ReadFile("rtc", StateDir::Secret::kNo, refused);
    if (std::string problem = refused.empty() ? p.rtc_file->Load(text, p.backend->rtc()) : refused; !problem.empty())
      spdlog::warn("{}: {}; the lock's time is unknown until an owner sets it (mortise time sync)", rtc_path, problem);
  }
  lock.AttachRealTimeClock(p.backend->rtc());
  if (Status s = lock.Start(); !s.ok()) {
    spdlog::error("lock core: cannot start: {}", s.name());
    return kExitFailure;
  }
  if (lock.dropped_records() != 0)
    spdlog::warn("lock core: {} stored records were corrupt and replaced by safe defaults", lock.dropped_records());

  // --- Protocol node ------------------------------------------------------------------
  p.node.emplace(*p.authority, lock, records);
  protocol::LockNode& node = *p.node;
  // The label (the lock's sticker) is written before the setup code is
  // provisioned, so no crash can leave a lock whose code exists nowhere: a
  // label file without a verifier (a kill in between) is provisioned again
  // with the same code at the next start.
  const std::string label_path = p.state->path() + "/label.txt";
  std::optional<protocol::ClaimLabel> label;
  if (auto text = ReadLabelFile(*p.state, why)) {
    auto parsed = protocol::ParseLabel(*text);
    if (parsed.ok() && parsed->lock_id == p.authority->identity().lock_id()) label = *parsed;
    else spdlog::error("{}: not this lock's claim label; ignored", label_path);
  } else if (!why.empty()) {
    spdlog::error("{}", why);
    return kExitFailure;
  }
  std::optional<uint32_t> setup_code;
  auto provisioned = protocol::SetupCodeProvisioned(records);
  if (!provisioned.ok()) {
    spdlog::error("protocol: cannot read the setup-code verifier: {}", provisioned.status().name());
    return kExitFailure;
  }
  if (!*provisioned) {
    if (!label) {
      auto code = protocol::GenerateSetupCode(*p.drbg);
      if (!code.ok()) {
        spdlog::error("protocol: cannot draw a setup code: {}", code.status().name());
        return kExitFailure;
      }
      protocol::ClaimLabel fresh;
      fresh.lock_id = p.authority->identity().lock_id();
      fresh.key_hash = p.authority->identity().key_hash();
      fresh.setup_code = *code;
      char text[protocol::kLabelTextSize + 1] = {};
      auto n = protocol::EncodeLabel(fresh, std::span<char>(text, protocol::kLabelTextSize));
      if (!n.ok() || !p.state->WriteAtomically("label.txt", std::string(text, *n) + "\n", why)) {
        spdlog::error("{}: cannot write the claim label ({}); refusing to provision a code nobody could read",
                      label_path, n.ok() ? why : std::string("cannot encode it"));
        return kExitFailure;
      }
      label = fresh;
    }
    setup_code = label->setup_code;
  } else if (!label && !node.claimed()) {
    // The store keeps only the PAKE verifier: without the label nobody can
    // claim this lock (a deleted file). Said loudly, since no factory reset
    // recovers it.
    spdlog::error("{}: missing, and the lock is unclaimed: its setup code exists nowhere else, so it cannot be "
                  "claimed; restore the file, or start over with an empty state directory",
                  label_path);
  }
  if (Status s = node.Start(hw.now_ms(), setup_code); !s.ok()) {
    spdlog::error("protocol: cannot start: {}", s.name());
    return kExitFailure;
  }
  p.management = std::make_unique<JsonManagement>(lock);
  p.log_source = std::make_unique<protocol::AuditLogSource>(*p.audit_log);
  node.set_management(p.management.get());
  node.set_log_source(p.log_source.get());
  p.log_custodian = std::make_unique<protocol::AuditLogCustodian>(*p.audit_log);
  node.set_log_custodian(p.log_custodian.get());
  p.node_controls = std::make_unique<NodeAdapter>(node, *p.authority, label, *p.audit_log);
  if (SimBackend* s = hw.sim())
    p.control = std::make_unique<ControlHandler>(*s, lock, *p.events, p.node_controls.get(), config.clock);

  // --- Sockets ----------------------------------------------------------------------
  const size_t max_frame = protocol::kMaxTransportFrameSize;
  auto on_frame = [&node, &hw, &lock, max_frame](std::span<const uint8_t> frame) {
    std::vector<uint8_t> reply(max_frame);
    auto n = node.Handle(frame, hw.now_ms(), reply);
    if (!n.ok()) {
      spdlog::debug("frame of {} bytes: {}", frame.size(), n.status().name());
      return std::vector<uint8_t>{0x00};
    }
    reply.resize(*n);
    lock.Service();  // a command may have started motion or changed state
    return reply;
  };
  // Owner-only unless the operator lets the daemon's group in (A19).
  const mode_t socket_mode = config.socket_group_access ? 0660 : 0600;
  p.lock_socket = SeqpacketEndpoint::Listen(p.loop, config.socket_path, socket_mode, max_frame, on_frame, why);
  if (!p.lock_socket) {
    spdlog::error("lock socket: {}", why);
    return kExitFailure;
  }
  // Idle and slow clients are dropped on the lock's clock, and no peer holds
  // every slot (A18; endpoint.h, ConnectionLimits).
  const NowFn lock_now = [&hw] { return hw.now_ms(); };
  p.lock_socket->set_limits(ConnectionLimits{}, lock_now);
  spdlog::info("protocol socket: {} (SOCK_SEQPACKET, mode {:o})", config.socket_path, socket_mode);
  if (config.tcp) {
    p.tcp = TcpEndpoint::Listen(p.loop, config.tcp->host, config.tcp->port, max_frame, on_frame, why);
    if (!p.tcp) {
      spdlog::error("tcp: {}", why);
      return kExitFailure;
    }
    p.tcp->set_limits(ConnectionLimits{}, lock_now);
    spdlog::info("protocol tcp: {}:{} (2-byte length + frame)",
                 config.tcp->host.find(':') != std::string::npos ? "[" + config.tcp->host + "]" : config.tcp->host,
                 p.tcp->port());
  }
  if (p.control) {
    p.control_socket = LineEndpoint::Listen(
        p.loop, config.control_socket, 0600, kMaxControlLine,
        [&](std::string_view line) { return p.control->HandleLine(line); }, why);
    if (!p.control_socket) {
      spdlog::error("control socket: {}", why);
      return kExitFailure;
    }
    p.control_socket->set_limits(ConnectionLimits{}, lock_now);
    spdlog::info("control socket: {}", config.control_socket);
  }
  // --- Uplink -----------------------------------------------------------------------
  if (config.uplink.enabled()) {
    if (!PrepareUplinkIdentity(*p.state, *p.authority, *p.drbg)) return kExitFailure;
    UplinkParts up;
    up.username = p.node_controls->lock_id_hex();
    up.state = [&lock, &node, &p] { return UplinkState(lock, node, *p.authority); };
    up.handle_frame = on_frame;
    up.log_next_seq = [&p] { return p.audit_log->next_seq(); };
    up.read_log = [&p](uint64_t from, size_t max_bytes) -> std::optional<LogPage> {
      // The page's closing head is bound to no reader's challenge: the
      // server verifies the signed heads in the stream (issue 9 item 2).
      const std::array<uint8_t, protocol::kLogChallengeBytes> challenge{};
      LogPage page;
      page.bytes.resize(max_bytes);
      Result<size_t> n = p.log_source->ReadPage(from, challenge, page.bytes, page.next_from);
      if (!n.ok()) {
        spdlog::warn("uplink: log page from {} not read: {}", from, n.status().name());
        return std::nullopt;
      }
      page.bytes.resize(*n);
      return page;
    };
    // The custody cursor + 1 (the store's acknowledged counter, moved only
    // by a verified frame 0x06), or the oldest record still held when the
    // full ring overwrote records after it (declared lost in the log).
    up.log_signed_through = [&p] { return p.audit_log->last_signed_seq(); };
    up.log_resume_from = [&p] { return std::max(p.audit_log->upload_from(), p.audit_log->oldest_seq()); };
    up.claim_generation = [&p]() -> std::optional<uint32_t> {
      if (!p.authority->claimed()) return std::nullopt;
      return p.authority->claim_generation();
    };
    up.load_binding = [&p]() -> std::optional<std::string> {
      std::string refused;
      auto text = p.state->ReadFile("uplink-binding.json", StateDir::Secret::kNo, refused);
      if (!refused.empty()) spdlog::error("uplink: {}", refused);
      return text;
    };
    up.save_binding = [&p](const std::string& text) {
      std::string failed;
      const bool ok = p.state->WriteAtomically("uplink-binding.json", text, failed);
      if (!ok) spdlog::error("uplink: {}", failed);
      return ok;
    };
    up.now_ms = [] { return MonotonicNowMs(); };
    up.uniform = [&p](uint64_t n) -> uint64_t {
      uint64_t r = 0;
      if (!p.drbg->Generate(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&r), sizeof(r))).ok()) return n / 2;
      return n == 0 ? 0 : r % n;
    };
    const uplink::TlsFiles tls{config.uplink.ca_file, config.uplink.certificate, p.state->path() + "/uplink.key"};
    p.uplink = std::make_unique<Uplink>(config.uplink, tls, std::move(up));
    p.loop.set_watch(
        [&p] {
          return Loop::Watched{p.uplink->fd(), static_cast<short>(POLLIN | (p.uplink->want_write() ? POLLOUT : 0))};
        },
        [&p](short revents) {
          p.uplink->Tick((revents & (POLLIN | POLLHUP | POLLERR)) != 0, (revents & POLLOUT) != 0);
        });
    if (p.control) p.control->set_uplink_status([&p] { return p.uplink->Status(); });
    spdlog::info("uplink: broker {}:{}, lock {}", config.uplink.host, config.uplink.port,
                 p.node_controls->lock_id_hex());
  }

  bool stop = false;
  p.loop.Add(p.signal_fd, POLLIN, [&](short) {
    signalfd_siginfo si;
    while (read(p.signal_fd, &si, sizeof(si)) == sizeof(si)) {
      spdlog::info("signal {}: stopping", strsignal(static_cast<int>(si.ssi_signo)));
      stop = true;
    }
  });

  bool face_on = false;
  if (p.control && (config.face == FaceMode::kOn || (config.face == FaceMode::kAuto && isatty(STDOUT_FILENO)))) {
    if (!isatty(STDOUT_FILENO)) {
      spdlog::warn("face: stdout is not a terminal; the face is off");
    } else {
      std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring;
      if (isatty(STDERR_FILENO)) {
        // Logs would scribble over the face: they go to a file and the
        // face's log pane instead.
        ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4);
        std::vector<spdlog::sink_ptr> sinks{ring};
        // spdlog opens by name: the name is checked first (no link, ours).
        if (std::string r = p.state->CheckExisting("lockd.log", StateDir::Secret::kNo); r.empty())
          sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(p.state->path() + "/lockd.log"));
        else
          spdlog::error("{}; logs go to the face only", r);
        auto logger = std::make_shared<spdlog::logger>("lockd", sinks.begin(), sinks.end());
        logger->set_level(spdlog::default_logger()->level());
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
        spdlog::set_default_logger(logger);
      }
      p.face = std::make_unique<Face>(
          *p.control, p.node_controls.get(), p.loop, [&] { stop = true; },
          [ring] { return ring ? ring->last_formatted() : std::vector<std::string>(); });
      face_on = p.face->Start();
    }
  }
  if (!face_on && !node.claimed()) {
    if (auto l = p.node_controls->label()) {
      std::printf("Unclaimed lock %s\nSetup code: %s %s %s\nClaim payload: %s\n",
                  p.node_controls->lock_id_hex().c_str(), l->setup_code.substr(0, 3).c_str(),
                  l->setup_code.substr(3, 3).c_str(), l->setup_code.substr(6).c_str(), l->payload.c_str());
      if (auto qr = termqr::Render(l->payload); qr.ok()) std::fputs(qr->c_str(), stdout);
      std::fflush(stdout);
      // A file keeps it across a crash too (a pipe or a terminal cannot be
      // synced: EINVAL, nothing to do).
      fsync(STDOUT_FILENO);
    }
  }

  // --- Ready ----------------------------------------------------------------------------
  // Only now: whoever waits for "ready" (a test, a script, systemd) finds
  // the label already complete on stdout, whatever stdout is.
  std::string status = StatusLine(lock, node);
  sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
  spdlog::info("lock {} ready ({}; clock {})", p.node_controls->lock_id_hex(), status,
               config.clock == ClockMode::kSimulated ? "simulated" : "real");
  std::fputs("mortise-lockd: ready\n", stderr);
  std::fflush(stderr);


  // --- Loop -----------------------------------------------------------------------------
  uint64_t last_tick = MonotonicNowMs();
  bool rtc_saves = true;
  while (!stop) {
    const int timeout = config.clock == ClockMode::kReal ? static_cast<int>(kTickMs) : 100;
    if (p.loop.RunOnce(timeout) < 0 && errno != EINTR) {
      spdlog::error("poll: {}", std::strerror(errno));
      return kExitFailure;
    }
    const uint64_t now = MonotonicNowMs();
    if (config.clock == ClockMode::kReal && now - last_tick >= kTickMs) {
      const uint64_t elapsed = (now - last_tick) / kTickMs * kTickMs;
      ControlHandler::Run(hw, lock, elapsed);
      last_tick += elapsed;
    }
    if (const bool saved = p.rtc_file->SaveIfChanged(p.backend->rtc()); saved != rtc_saves) {
      rtc_saves = saved;
      if (!saved) spdlog::warn("{}: cannot save the RTC; a restart will not know the time", rtc_path);
    }
    for (Endpoint* e : {static_cast<Endpoint*>(p.lock_socket.get()), static_cast<Endpoint*>(p.tcp.get()),
                        static_cast<Endpoint*>(p.control_socket.get())})
      if (e) e->Sweep();
    if (p.face) p.face->Tick(now);
    node.sessions().ExpireCookieKeys(hw.now_ms());  // also when no datagram comes
    if (p.uplink) p.uplink->Tick();
    // Signed log heads on the lock's own schedule (never on a reader's
    // request): SignHeadIfDue signs only when records wait unsigned and the
    // last head is T old, so checking every pass costs nothing.
    if (const std::optional<int64_t> utc = lock.utc_now(); utc.has_value()) {
      if (Status s = p.audit_log->SignHeadIfDue(*utc); !s.ok()) spdlog::warn("audit log: head not signed: {}", s.name());
    }
    if (std::string s = StatusLine(lock, node); s != status) {
      status = s;
      sd_notifyf(0, "STATUS=%s", status.c_str());
    }
  }

  sd_notify(0, "STOPPING=1");
  if (p.face) p.face->Stop();
  p.face.reset();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace mortise::lockd
