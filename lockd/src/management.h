// The Door Lock cluster over the protocol (protocol/handlers.h): the
// protocol decodes a management payload once (protocol::DecodeManagement),
// authorises the command it is (protocol::ClassifyManagement) and hands that
// same decoded value here; this handler runs it through
// dljson::DoorLockJson::Execute and answers with dljson's JSON response.
#pragma once

#include <cstdint>
#include <span>

#include "mortise/core/door_lock.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/handlers.h"
#include "mortise/protocol/management.h"

namespace mortise::lockd {

class JsonManagement final : public protocol::ManagementHandler {
 public:
  // `source` is the default for Run without one (tests). The hook is told
  // whether a command came over a session or a remote envelope; the default
  // is kRemote, so the NoRemoteLockUnlock mode then refuses Lock/Unlock on
  // both paths (fail closed).
  explicit JsonManagement(core::DoorLock& lock, core::OperationSource source = core::OperationSource::kRemote)
      : lock_(lock), source_(source) {}

  // The answer is dljson's response line. kResourceExhausted: the answer
  // does not fit `out`. `source` (kProprietaryRemote over a session,
  // kRemote in an envelope) is recorded and decides what the
  // NoRemoteLockUnlock mode allows; the key is recorded in operation events
  // as the protocol records its own.
  Result<size_t> Run(const protocol::VerifiedKey& key, core::OperationSource source,
                     const protocol::ManagementCommand& command, std::span<uint8_t> out) override;
  // The same with the source given at construction (tests).
  Result<size_t> Run(const protocol::VerifiedKey& key, const protocol::ManagementCommand& command,
                     std::span<uint8_t> out) {
    return Run(key, source_, command, out);
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
