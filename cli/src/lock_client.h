// The CLI's protocol client: drives claims, sessions, remote envelopes and
// log reads over a Transport. It holds no policy: the lock decides, and
// this client only checks that what comes back is genuinely the lock's
// (pinned key, session seals, signed results) and turns failures into
// errors a person can act on.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/crypto/secret.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/remote.h"
#include "mortise/protocol/session.h"
#include "mortise/store/audit_log.h"
#include "transport.h"

namespace mortise::cli {

struct ClaimOutcome {
  std::array<uint8_t, crypto::kP256PublicKeySize> lock_key{};
  crypto::SecretBytes<protocol::kOfflinePinSecretSize> offline_pin_secret;
  uint64_t access_list_floor = 0;
  uint32_t claim_generation = 0;
  protocol::ClaimProof proof;  // the lock's signature over the claim (kept for the server)
};

// What a log read produced: the items as received and the verifier's
// verdict (store::LogVerifier in channel mode: the session authenticated
// every page).
struct LogRead {
  std::vector<store::LogItem> items;
  store::LogFindings findings;
  uint64_t head = 0;  // the head's sequence number (0: empty log)
  // The lock's upload cursor (log custody), as its last answer stated it.
  uint64_t upload_cursor = 0;
  // Where the stream read ends and its chain hash h(end_seq): what a
  // custody acknowledgement of it names (has_end false: no anchor).
  bool has_end = false;
  uint64_t end_seq = 0;
  store::LogChain end_chain{};
};

class LockClient {
 public:
  LockClient(Transport& transport, crypto::Drbg& drbg) : transport_(transport), drbg_(drbg) {}

  // The unauthenticated info frame. Throws Error(kVerification) on a reply
  // that is not a LockInfo.
  protocol::LockInfoView Info();

  // Claims the lock named by `label` for `owner`. Throws Error(kRefused)
  // when the lock is already claimed or its claim window is closed,
  // Error(kVerification) when the setup code is wrong or the lock does not
  // prove the key its label names.
  ClaimOutcome Claim(const protocol::ClaimLabel& label, const crypto::P256KeyPair& owner);

  // Sets the key this client speaks as; the session opens on the first
  // Call (2 round trips), later calls use it (1 round trip each).
  // `revalidation`: the key's revalidation token, if it demands one.
  void UseKey(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain, const protocol::LockId& lock_id,
              std::span<const uint8_t> revalidation = {});

  // Runs one command in the session. Returns the lock's answer; a refusal
  // of the command itself (permission, schedule, the core saying no) is in
  // the response's status for the caller to explain. Throws
  // Error(kVerification) when the lock's key is not the pinned one or an
  // answer is not bound to its request, Error(kRefused) when the lock
  // refuses the key at the handshake (revoked, expired, outside its
  // schedule, another lock's key), Error(kUnreachable) from the transport.
  protocol::CommandResponse Call(const protocol::CommandRequest& request);

  // Ends the session at the lock, freeing its slot (a no-op without one).
  void Close();

  // A Door Lock cluster command as a JSON line, sent as the binary
  // management command it translates into (dljson/translate.h); returns the
  // lock's JSON answer, or dljson's refusal when the line does not translate
  // (nothing is sent). Throws as Call, and Error(kRefused) when the lock
  // refuses the command.
  std::string Manage(const std::string& line);

  // Reads the audit log from `from` to the head in pages within the
  // session and verifies completeness. Throws as Call.
  LogRead ReadLog(uint64_t from);

  // Sends a log-custody acknowledgement (the whole frame 0x06 of
  // protocol::EncodeCustodyAck; no session) and returns the lock's answer.
  // Throws Error(kInternal) when the lock does not take acknowledgements,
  // Error(kVerification) on an answer that is not a custody reply.
  protocol::CustodyReply Custody(std::span<const uint8_t> frame);

  // Sends one end-to-end remote envelope and verifies the lock's signed
  // answer. Throws Error(kVerification) when the answer is not the pinned
  // lock's or not bound to this envelope.
  protocol::RemoteOutcome Remote(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain,
                                 const crypto::P256PublicKey& lock_key, const protocol::CommandRequest& request,
                                 uint32_t counter, int64_t expires_at, std::span<const uint8_t> revalidation = {});

 private:
  std::vector<uint8_t> Exchange(protocol::FrameType type, std::span<const uint8_t> body);

  Transport& transport_;
  crypto::Drbg& drbg_;
  std::optional<protocol::SessionClient> session_;
};

// Throws the Error a refused command deserves, from refusal.h's table
// (exit code kRefused for permission and lock refusals, kBadInput for
// kInvalidArgument, ...).
[[noreturn]] void ThrowRefusal(const std::string& what, StatusCode code);

}  // namespace mortise::cli
