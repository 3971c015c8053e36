// The CLI's session client against a real SessionServer over a socketpair,
// with an on-path attacker in between (finding 8 of issue 10): after the
// request has left, a plaintext SessionError means "outcome unknown" (exit
// 4), never "refused"; only the lock's authenticated verdict is a refusal.
#include "lock_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <thread>

#include "error.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/session.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_lock.h"
#include "test_util.h"

namespace mortise::cli {
namespace {

using testing::Bytes;

// What the attacker sends back instead of the lock's answer.
enum class Forge {
  kPlainError,  // a plaintext SessionError (kPermissionDenied)
  kGarbled,     // the lock's answer with one byte changed
  kErrorFrame,  // the transport's error frame (0x00)
  kReplay,      // the lock's answer to the same frame sent again (A03)
};

// A lock behind a socketpair; the serving thread may replace the lock's
// answer to the n-th session frame (counting from 1), after the lock has
// handled the frame.
class AttackedLock {
 public:
  explicit AttackedLock(int forge_reply_to = 0, Forge how = Forge::kPlainError)
      : forge_reply_to_(forge_reply_to), how_(how) {
    EXPECT_TRUE(sim_.Start().ok());
    EXPECT_TRUE(authority_.Start().ok());
    uint8_t pin[protocol::kOfflinePinSecretSize] = {};
    EXPECT_TRUE(authority_.InstallOwner(owner_.public_key(), pin).ok());
    EXPECT_TRUE(server_.Start().ok());
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    lock_fd_ = fds[0];
    client_fd_ = fds[1];
    thread_ = std::thread([this] { Serve(); });
  }
  ~AttackedLock() {
    ::shutdown(lock_fd_, SHUT_RDWR);
    thread_.join();
    ::close(lock_fd_);
  }

  // The client's end (the Transport owns and closes it).
  Transport Connect() { return Transport(client_fd_, Endpoint::Kind::kUnix, std::chrono::milliseconds(60000)); }
  const crypto::P256KeyPair& owner() const { return owner_; }
  protocol::LockId lock_id() const { return authority_.identity().lock_id(); }
  sim::SimLock& sim() { return sim_; }

 private:
  void Serve() {
    uint8_t frame[protocol::kMaxFrameSize + 1];
    uint8_t reply[1 + protocol::kMaxSessionMessageSize];
    int session_frames = 0;
    for (;;) {
      const ssize_t n = ::recv(lock_fd_, frame, sizeof(frame), 0);
      if (n <= 0) return;
      reply[0] = frame[0];
      Result<size_t> len = server_.Handle(std::span<const uint8_t>(frame + 1, static_cast<size_t>(n) - 1), now_ms_,
                                          std::span<uint8_t>(reply + 1, sizeof(reply) - 1));
      now_ms_ += 10;
      size_t out = len.ok() ? 1 + *len : 1;
      if (++session_frames == forge_reply_to_) {
        if (how_ == Forge::kPlainError) {
          // SessionMessage.error (field 7) {code (field 1) = kPermissionDenied}.
          const uint8_t forged[] = {0x3A, 0x02, 0x08, static_cast<uint8_t>(StatusCode::kPermissionDenied)};
          std::memcpy(reply + 1, forged, sizeof(forged));
          out = 1 + sizeof(forged);
        } else if (how_ == Forge::kGarbled) {
          reply[out - 1] ^= 0x01;
        } else if (how_ == Forge::kErrorFrame) {
          reply[0] = 0x00;
          out = 1;
        } else {
          len = server_.Handle(std::span<const uint8_t>(frame + 1, static_cast<size_t>(n) - 1), now_ms_,
                               std::span<uint8_t>(reply + 1, sizeof(reply) - 1));
          out = len.ok() ? 1 + *len : 1;
        }
      }
      if (::send(lock_fd_, reply, out, MSG_NOSIGNAL) < 0) return;
    }
  }

  testing::SeededDrbg lock_rng_{41}, owner_rng_{42};
  crypto::P256KeyPair owner_ = testing::NewKey(owner_rng_.drbg);
  sim::MemoryStore store_;
  sim::SimLock sim_{&store_};
  protocol::LockAuthority authority_{store_, lock_rng_.drbg};
  protocol::SessionServer server_{authority_, sim_.lock(), store_};
  uint64_t now_ms_ = 1000;
  int forge_reply_to_;
  Forge how_;
  int lock_fd_ = -1, client_fd_ = -1;
  std::thread thread_;
};

protocol::CommandRequest Unlock() {
  protocol::CommandRequest r;
  r.command = protocol::Command::kUnlock;
  return r;
}

using testing::CatchError;

TEST(LockClientTest, APlaintextErrorAfterTheThirdMessageIsAnUnknownOutcome) {
  AttackedLock lock(/*forge_reply_to=*/2);  // the answer to message 3
  Transport transport = lock.Connect();
  testing::SeededDrbg rng(43);
  LockClient client(transport, rng.drbg);
  client.UseKey(lock.owner(), {}, lock.lock_id());
  const Error e = CatchError([&] { client.Call(Unlock()); });
  EXPECT_EQ(e.code(), ExitCode::kUnreachable) << e.what();
  EXPECT_NE(std::string(e.what()).find("outcome is unknown"), std::string::npos) << e.what();
  // It was right not to believe it: the lock ran the unlock.
  lock.sim().Run(2000);
  EXPECT_EQ(lock.sim().lock().lock_state(), core::LockState::kUnlocked);
}

TEST(LockClientTest, APlaintextErrorInAnEstablishedSessionIsAnUnknownOutcome) {
  AttackedLock lock(/*forge_reply_to=*/3);  // the answer to the second request
  Transport transport = lock.Connect();
  testing::SeededDrbg rng(44);
  LockClient client(transport, rng.drbg);
  client.UseKey(lock.owner(), {}, lock.lock_id());
  protocol::CommandRequest read;
  read.command = protocol::Command::kReadAttribute;
  EXPECT_EQ(client.Call(read).status, StatusCode::kOk);
  const Error e = CatchError([&] { client.Call(Unlock()); });
  EXPECT_EQ(e.code(), ExitCode::kUnreachable) << e.what();
}

// After the request has left, no answer but a verified response or the
// lock's authenticated verdict is an answer: a garbled or forged response,
// an error frame, and the lock's refusal of a replayed third message (the
// original ran; its answer was dropped) all mean "outcome unknown".
TEST(LockClientTest, A03_AnythingButTheLocksVerdictAfterTheRequestIsAnUnknownOutcome) {
  for (Forge how : {Forge::kGarbled, Forge::kErrorFrame, Forge::kReplay}) {
    for (int reply_to : {2, 3}) {  // message 3; a request in the established session
      AttackedLock lock(reply_to, how);
      Transport transport = lock.Connect();
      testing::SeededDrbg rng(46);
      LockClient client(transport, rng.drbg);
      client.UseKey(lock.owner(), {}, lock.lock_id());
      if (reply_to == 3) {
        protocol::CommandRequest read;
        read.command = protocol::Command::kReadAttribute;
        ASSERT_EQ(client.Call(read).status, StatusCode::kOk);
      }
      const Error e = CatchError([&] { client.Call(Unlock()); });
      EXPECT_EQ(e.code(), ExitCode::kUnreachable) << static_cast<int>(how) << " " << reply_to << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("outcome is unknown"), std::string::npos) << e.what();
      lock.sim().Run(2000);
      EXPECT_EQ(lock.sim().lock().lock_state(), core::LockState::kUnlocked);  // it ran
    }
  }
}

TEST(LockClientTest, TheLocksAuthenticatedVerdictIsAnswerEnough) {
  AttackedLock lock;  // nobody in between
  Transport transport = lock.Connect();
  testing::SeededDrbg rng(45);
  const crypto::P256KeyPair stranger = testing::NewKey(rng.drbg);
  LockClient client(transport, rng.drbg);
  client.UseKey(stranger, {}, lock.lock_id());
  const Error e = CatchError([&] { client.Call(Unlock()); });
  EXPECT_EQ(e.code(), ExitCode::kVerification) << e.what();  // "the lock does not recognise this key"
  lock.sim().Run(2000);
  EXPECT_NE(lock.sim().lock().lock_state(), core::LockState::kUnlocked);
}

}  // namespace
}  // namespace mortise::cli
