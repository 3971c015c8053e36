// The server's verdict on a lock's answer to a remote envelope it relayed
// (docs/server.md "Remote commands"): the answer frame must be a remote
// result (type 0x03) that verifies, with protocol::VerifyRemoteResult,
// against the door's stored lock key and the hash of the very envelope the
// server sent. Shared by the one-door relay (api_link.cc) and the site
// lockdown (groups_service.cc). The verdict is informative: the holder's
// device verifies the same answer against the key it pinned.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "repository.h"

namespace mortise::server {

struct RemoteVerdict {
  // "confirmed": lock-signed and bound to the envelope; "unconfirmed": an
  // unsigned refusal bound to it (the outcome is unknown); "bad_answer":
  // not a remote result, or signed by another key / for another command.
  std::string outcome;
  std::string reason;           // for "unconfirmed" and "bad_answer"
  std::vector<uint8_t> result;  // the RemoteResult (the frame without its type byte); empty for "bad_answer"
  // "confirmed" only: the lock says it carried the command out (envelope and
  // command accepted, operation status success); false is a lock-signed refusal.
  bool done = false;
};

// `envelope`: the RemoteCommand as relayed (without the frame type);
// `answer`: the frame the lock sent up.
RemoteVerdict JudgeRemoteAnswer(const DoorRow& door, std::span<const uint8_t> envelope,
                                std::span<const uint8_t> answer);

}  // namespace mortise::server
