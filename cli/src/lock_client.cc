#include "lock_client.h"

#include <cstring>

#include "error.h"
#include "refusal.h"
#include "mortise/core/types.h"
#include "mortise/dljson/translate.h"

namespace mortise::cli {
namespace {

// An error frame (0x00) means the lock could not parse what was sent.
void CheckFrame(const std::vector<uint8_t>& reply, protocol::FrameType type) {
  if (reply.empty() || reply[0] == 0) {
    throw Error(ExitCode::kVerification, "the lock did not understand the request",
                "Check that the endpoint is a Mortise lock of a compatible version.");
  }
  if (reply[0] != static_cast<uint8_t>(type)) {
    throw Error(ExitCode::kVerification, "the lock answered with an unexpected frame type");
  }
}

std::vector<uint8_t> Framed(protocol::FrameType type, std::span<const uint8_t> body) {
  std::vector<uint8_t> frame(1 + body.size());
  frame[0] = static_cast<uint8_t>(type);
  if (!body.empty()) std::memcpy(frame.data() + 1, body.data(), body.size());
  return frame;
}

[[noreturn]] void ThrowHandshake(StatusCode code) {
  const Refusal r = ExplainStatus(code, RefusalStage::kHandshake);
  throw Error(r.code, r.why, r.hint);
}

}  // namespace

void ThrowRefusal(const std::string& what, StatusCode code) {
  throw RefusalError(what, ExplainStatus(code, RefusalStage::kCommand));
}

std::vector<uint8_t> LockClient::Exchange(protocol::FrameType type, std::span<const uint8_t> body) {
  std::vector<uint8_t> reply = transport_.Exchange(Framed(type, body));
  CheckFrame(reply, type);
  reply.erase(reply.begin());
  return reply;
}

protocol::LockInfoView LockClient::Info() {
  std::vector<uint8_t> frame = {static_cast<uint8_t>(protocol::FrameType::kInfo)};
  const std::vector<uint8_t> reply = transport_.Exchange(frame);
  Result<protocol::LockInfoView> info = protocol::DecodeLockInfo(reply);
  if (!info.ok()) {
    throw Error(ExitCode::kVerification, "the endpoint's answer is not a Mortise lock's",
                "Check the endpoint path or address.");
  }
  return *info;
}

ClaimOutcome LockClient::Claim(const protocol::ClaimLabel& label, const crypto::P256KeyPair& owner) {
  protocol::ClaimClient client(label, owner, drbg_);
  uint8_t out[protocol::kMaxClaimMessageSize];
  Result<size_t> n = client.Start(out);
  while (n.ok() && *n > 0) {
    const std::vector<uint8_t> reply = Exchange(protocol::FrameType::kClaim, std::span<const uint8_t>(out, *n));
    n = client.Handle(reply, out);
  }
  if (!n.ok()) {
    switch (n.status().code()) {
      case StatusCode::kUnauthenticated:
        throw Error(ExitCode::kVerification,
                    "the claim failed: the setup code is wrong, or the device is not the lock its label names",
                    "Check the setup code on the lock's label and try again.");
      case StatusCode::kFailedPrecondition:
        throw Error(ExitCode::kRefused, "the lock is not open for claiming (already claimed, or its claim window is closed)",
                    "A claimed lock must be factory reset by its owner; otherwise press the lock's claim button.");
      case StatusCode::kResourceExhausted:
        throw Error(ExitCode::kRefused, "too many claim attempts: the lock closed its claim window",
                    "Press the lock's claim button to open it again.");
      case StatusCode::kUnavailable:
        throw Error(ExitCode::kUnreachable, "another claim is in progress at the lock",
                    "Try again in " + std::to_string(protocol::kClaimStepTimeoutMs / 1000) +
                        " s (a claim that stalls gives way after that).");
      default:
        throw Error(ExitCode::kVerification, std::string("the claim failed: ") + StatusCodeName(n.status().code()));
    }
  }
  ClaimOutcome outcome;
  outcome.lock_key = client.lock_key()->bytes();
  outcome.offline_pin_secret = client.offline_pin_secret();
  outcome.access_list_floor = client.access_list_floor();
  outcome.claim_generation = client.claim_generation();
  outcome.proof = client.proof();
  return outcome;
}

void LockClient::UseKey(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain,
                        const protocol::LockId& lock_id, std::span<const uint8_t> revalidation) {
  session_.emplace(holder, chain, lock_id, drbg_);
  if (!revalidation.empty() && !session_->set_revalidation(revalidation).ok()) {
    throw Error(ExitCode::kKeyring, "the revalidation token stored for this lock is malformed",
                "Ask the owner for a new one: mortise key revalidate.");
  }
}

protocol::CommandResponse LockClient::Call(const protocol::CommandRequest& request) {
  if (!session_.has_value()) throw Error(ExitCode::kInternal, "no key selected for the session");
  uint8_t out[protocol::kMaxSessionMessageSize];
  Result<size_t> m = StatusCode::kInternal;
  if (!session_->established()) {
    Result<size_t> hello = session_->Hello(out);
    if (!hello.ok()) throw Error(ExitCode::kInternal, "cannot start a session");
    const std::vector<uint8_t> accept = Exchange(protocol::FrameType::kSession, std::span<const uint8_t>(out, *hello));
    m = session_->Finish(accept, request, out);
  } else {
    m = session_->Send(request, out);
  }
  if (!m.ok()) ThrowHandshake(m.status().code());
  const std::vector<uint8_t> frame = Framed(protocol::FrameType::kSession, std::span<const uint8_t>(out, *m));
  const std::vector<uint8_t> reply = transport_.Exchange(frame);
  // The request has left, sealed: from here on only a response that
  // verifies, or the lock's authenticated verdict on message 3, is an
  // answer. Anything else (an error frame, a garbled or forged response, a
  // plaintext error) could come from anyone on the path who forwarded the
  // request after the lock ran it (finding 8 of issue 10).
  const bool framed = !reply.empty() && reply[0] == frame[0];
  Result<protocol::CommandResponse> r =
      framed ? session_->Receive(std::span<const uint8_t>(reply).subspan(1))
             : Result<protocol::CommandResponse>(StatusCode::kInvalidArgument);
  if (!r.ok()) {
    if (framed && session_->last_error_authenticated()) ThrowHandshake(r.status().code());
    const std::string what = !framed                             ? "an error or unexpected frame"
                             : session_->last_reply_was_error() ? "an unauthenticated error"
                                                                : "a response that does not verify";
    throw Error(ExitCode::kUnreachable,
                "the outcome is unknown: " + what + " (" + StatusCodeName(r.status().code()) +
                    ") came back after the request was sent",
                "The lock may have run the command; check with mortise status before trying again.");
  }
  return *r;
}

void LockClient::Close() {
  if (!session_.has_value() || !session_->established()) return;
  protocol::CommandRequest end;
  end.command = protocol::Command::kEndSession;
  Call(end);
}

std::string LockClient::Manage(const std::string& line) {
  // The lock takes the binary command (protocol/management.h): the JSON is
  // translated here, and what the translation refuses gets dljson's answer
  // without a round trip, exactly as the lock's adapter would give it.
  const dljson::EncodedLine encoded = dljson::EncodeLine(line);
  if (encoded.payload.empty()) return encoded.refusal.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  protocol::CommandRequest request;
  request.command = protocol::Command::kManagement;
  request.payload = std::span<const uint8_t>(encoded.payload);
  const protocol::CommandResponse r = Call(request);
  if (r.status != StatusCode::kOk) ThrowRefusal("the lock refused the command", r.status);
  return std::string(r.payload.begin(), r.payload.begin() + static_cast<ptrdiff_t>(r.payload_len));
}

LogRead LockClient::ReadLog(uint64_t from) {
  store::LogChallenge challenge{};
  if (!drbg_.Generate(challenge).ok()) throw Error(ExitCode::kInternal, "no randomness for the log challenge");
  store::LogVerifier verifier(challenge, from == 0 ? 1 : from);
  LogRead out;
  protocol::CommandRequest request;
  request.command = protocol::Command::kReadLog;
  request.payload = challenge;
  uint64_t next = from;
  for (int pages = 0;; ++pages) {
    if (pages > 100000) throw Error(ExitCode::kVerification, "the lock's log does not end");
    request.value = static_cast<int64_t>(next);
    const protocol::CommandResponse r = Call(request);
    if (r.status != StatusCode::kOk) ThrowRefusal("the lock refused to show its log", r.status);
    out.upload_cursor = r.value > 0 ? static_cast<uint64_t>(r.value) : 0;
    std::span<const uint8_t> page = r.payload_view();
    while (!page.empty()) {
      store::LogItem item;
      Result<size_t> used = store::DecodeLogItem(page, item);
      if (!used.ok() || *used == 0) {
        throw Error(ExitCode::kVerification, "the lock sent a malformed log page");
      }
      verifier.Feed(item);
      if (item.type == store::LogItemType::kHead) out.head = item.seq;
      out.items.push_back(item);
      page = page.subspan(*used);
    }
    if (r.next == 0) break;
    if (r.next <= next) throw Error(ExitCode::kVerification, "the lock's log pages go backwards");
    next = r.next;
  }
  out.has_end = verifier.StreamEnd(out.end_seq, out.end_chain);
  out.findings = verifier.Finish();
  return out;
}

protocol::CustodyReply LockClient::Custody(std::span<const uint8_t> frame) {
  const std::vector<uint8_t> reply = transport_.Exchange(frame);
  if (reply.size() == 1 && reply[0] == static_cast<uint8_t>(protocol::FrameType::kInvalid)) {
    throw Error(ExitCode::kInternal, "the lock does not take log-custody acknowledgements");
  }
  Result<protocol::CustodyReply> r = protocol::DecodeCustodyReply(reply);
  if (!r.ok()) throw Error(ExitCode::kVerification, "the lock's answer to the acknowledgement is malformed");
  return *r;
}

protocol::RemoteOutcome LockClient::Remote(const crypto::P256KeyPair& holder, std::span<const uint8_t> chain,
                                           const crypto::P256PublicKey& lock_key,
                                           const protocol::CommandRequest& request, uint32_t counter,
                                           int64_t expires_at, std::span<const uint8_t> revalidation) {
  protocol::RemoteClient client(holder, chain, lock_key, drbg_);
  if (!revalidation.empty() && !client.set_revalidation(revalidation).ok()) {
    throw Error(ExitCode::kKeyring, "the revalidation token stored for this lock is malformed");
  }
  std::vector<uint8_t> envelope(protocol::kMaxRemoteMessageSize);
  Result<size_t> n = client.Build(request, counter, expires_at, envelope);
  if (!n.ok()) throw Error(ExitCode::kBadInput, "cannot build the remote command (too long?)");
  envelope.resize(*n);
  const std::vector<uint8_t> reply = Exchange(protocol::FrameType::kRemote, envelope);
  Result<protocol::RemoteOutcome> outcome = client.Verify(reply);
  if (!outcome.ok()) {
    throw Error(ExitCode::kVerification, "the answer to the remote command is not signed by the lock or not about it",
                "A relay may be lying; the command may or may not have run.");
  }
  return *outcome;
}

}  // namespace mortise::cli
