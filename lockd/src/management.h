// The Door Lock cluster over the protocol (protocol/handlers.h): payloads
// are dljson lines ({"invoke": "SetUser", ...}, {"read": ...}, {"write": ...})
// that the lock classifies, the protocol authorizes for the key, and this
// handler then runs through dljson::DoorLockJson.
//
// Why Classify mirrors dljson's dispatch exactly: the command the protocol
// authorizes must be the one that runs. Run classifies the payload again
// and refuses anything Classify would refuse, so no payload can be
// authorized as one command and executed as another.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "mortise/core/door_lock.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/handlers.h"
#include "mortise/protocol/permissions.h"

namespace mortise::lockd {

// The protocol command a dljson line asks for (see the table in
// docs/lockd.md). kInvalidArgument: not a JSON object dljson would run.
Result<protocol::Command> ClassifyLine(std::string_view line);

class JsonManagement final : public protocol::ManagementHandler {
 public:
  // `source` is recorded for changes and applied to operations. The hook
  // does not say whether a payload came over a session or a remote
  // envelope, so the default is kRemote: the NoRemoteLockUnlock mode then
  // refuses Lock/Unlock payloads on both paths (fail closed).
  explicit JsonManagement(core::DoorLock& lock, core::OperationSource source = core::OperationSource::kRemote)
      : lock_(lock), source_(source) {}

  Result<protocol::Command> Classify(std::span<const uint8_t> payload) override;
  // The answer is dljson's response line. kInvalidArgument: a payload
  // Classify refuses. kResourceExhausted: the answer does not fit `out`.
  // `source` (kProprietaryRemote over a session, kRemote in an envelope)
  // is recorded and decides what the NoRemoteLockUnlock mode allows; the
  // key is recorded in operation events as the protocol records its own.
  Result<size_t> Run(const protocol::VerifiedKey& key, core::OperationSource source, std::span<const uint8_t> payload,
                     std::span<uint8_t> out) override;
  // The same with the source given at construction (tests).
  Result<size_t> Run(const protocol::VerifiedKey& key, std::span<const uint8_t> payload, std::span<uint8_t> out) {
    return Run(key, source_, payload, out);
  }

  // The creator id recorded for a key's changes (core::Actor::id): its role
  // (1 owner, 2 admin, 3 member, 4 guest, 5 installer) until keys map to
  // key-holder slots.
  static uint8_t ActorId(const protocol::VerifiedKey& key);

 private:
  core::DoorLock& lock_;
  core::OperationSource source_;
};

}  // namespace mortise::lockd
