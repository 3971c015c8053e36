// CommandExecutor: the one place where an authenticated command meets the
// lock's rules and then the core. Sessions and remote envelopes both end
// here, so the two paths cannot drift apart.
#include <cstring>
#include <optional>

#include "mortise/protocol/management.h"
#include "mortise/protocol/session.h"
#include "mortise/protocol/transfer.h"

namespace mortise::protocol {
namespace {

bool CountsAUse(Command command) {
  return command == Command::kUnlock || command == Command::kUnlatch || command == Command::kUnbolt ||
         command == Command::kUnlockWithTimeout;
}

}  // namespace

std::optional<core::EventDetail> KeyRefusalDetail(StatusCode code) {
  switch (code) {
    case StatusCode::kPermissionDenied: return core::EventDetail::kKeyRevoked;
    case StatusCode::kOutOfRange: return core::EventDetail::kKeyNotValidNow;
    case StatusCode::kResourceExhausted: return core::EventDetail::kKeyUsesSpent;
    case StatusCode::kFailedPrecondition: return core::EventDetail::kTimeUnknown;
    case StatusCode::kUnauthenticated: return core::EventDetail::kKeyNotIssued;
    default: return std::nullopt;
  }
}

CommandResponse CommandExecutor::Run(const VerifiedKey& key, const CommandRequest& request,
                                     core::OperationSource source) {
  CommandResponse r;
  // The key is checked again now: a revocation, an expiry or a schedule
  // boundary since the handshake applies to this command.
  Status s = authority.Recheck(key, lock);
  if (!s.ok()) {
    if (std::optional<core::EventDetail> why = KeyRefusalDetail(s.code())) {
      lock.RecordKeyRefused(source, authority.RefusedKeyCredential(key), *why);
    }
  }
  Command effective = request.command;
  std::optional<ManagementCommand> decoded;
  if (s.ok() && request.command == Command::kManagement) {
    // Decoded once: the value classified here is the value that runs.
    Result<ManagementCommand> command = DecodeManagement(request.payload);
    if (!command.ok()) {
      r.status = StatusCode::kInvalidArgument;
      return r;
    }
    decoded = *command;
    effective = ClassifyManagement(*decoded);
    // A payload cannot smuggle a carrier, an access list or a time change
    // past the rules those commands have of their own.
    if (effective == Command::kManagement || effective == Command::kApplyAccessList ||
        effective == Command::kSetTime || effective == Command::kSetTimeBackwards || effective == Command::kReadLog) {
      r.status = StatusCode::kInvalidArgument;
      return r;
    }
  }
  if (s.ok()) s = authority.Authorize(key, effective, source);
  if (!s.ok()) {
    r.status = s.code();
    return r;
  }
  if (request.command == Command::kUnlockWithTimeout && (request.value <= 0 || request.value > 0xFFFF)) {
    r.status = StatusCode::kInvalidArgument;
    return r;
  }
  if (!request.pin.empty() && (request.pin.size() < 4 || request.pin.size() > 8)) {
    r.status = StatusCode::kInvalidArgument;
    return r;
  }
  // The log names the key by the index the lock's key table gives it
  // (assigned at its first use): if that cannot be stored, nothing acts.
  Result<uint16_t> index = authority.KeyIndexOf(key);
  if (!index.ok()) {
    r.status = index.status().code();
    return r;
  }
  VerifiedKey attributed = key;
  attributed.key_index = *index;
  // A use of a use-limited key is counted durably before the door moves:
  // a power cut after counting loses a use, never gives one.
  if (CountsAUse(effective)) {
    const Status use = authority.ConsumeUse(attributed, lock.utc_now());
    if (!use.ok()) {
      if (use.code() == StatusCode::kResourceExhausted)
        lock.RecordKeyRefused(source, KeyCredential(attributed), core::EventDetail::kKeyUsesSpent);
      r.status = use.code();
      return r;
    }
  }
  if (effective == Command::kTransferOwnership) return Transfer(attributed, *decoded, source);
  if (request.command == Command::kManagement) {
    if (management == nullptr) {
      r.status = StatusCode::kUnimplemented;
      return r;
    }
    Result<size_t> n = management->Run(attributed, source, *decoded, r.payload);
    if (!n.ok()) {
      r.status = n.status().code();
    } else {
      r.payload_len = *n;
    }
    return r;
  }
  return Act(attributed, request, source);
}

CommandResponse CommandExecutor::Transfer(const VerifiedKey& key, const ManagementCommand& command,
                                          core::OperationSource source) {
  CommandResponse r;
  // The owner's own key, in a session: not an owner certificate (another
  // device of the owner's may not give the lock away), not an envelope
  // relayed by a server.
  if (key.depth != 0 || source != core::OperationSource::kProprietaryRemote) {
    r.status = StatusCode::kPermissionDenied;
    return r;
  }
  Result<crypto::P256PublicKey> next = crypto::P256PublicKey::Import(command.new_owner);
  if (!next.ok()) {
    r.status = StatusCode::kInvalidArgument;
    return r;
  }
  // Everything that can refuse is asked before anything changes: a replayed
  // or stale transfer (another generation) leaves the lock as it was.
  Status s = authority.CheckTransfer(*next, command.claim_generation);
  if (s.ok() && command.clear_users) {
    const core::DlStatus cleared =
        lock.users().ClearUser(core::kClearAllIndex16, core::Actor{source, 0});
    if (cleared != core::DlStatus::kSuccess) s = StatusCode::kInternal;
  }
  const uint32_t previous = authority.claim_generation();
  crypto::SecretBytes<kOfflinePinSecretSize> pin;
  if (s.ok()) s = authority.drbg().Generate(pin.span());
  // The core gets the new secret first (as at claiming): should the
  // transfer then fail, the core holds a secret nobody knows, which opens
  // nothing, and the old owner's codes have ended either way.
  if (s.ok()) s = lock.SetOfflinePinSecret(pin.span());
  if (s.ok()) s = authority.TransferOwner(*next, command.claim_generation, pin.span());
  if (!s.ok()) {
    r.status = s.code();
    return r;
  }
  lock.RecordOwnershipTransfer(source, KeyCredential(key), command.clear_users);
  // The answer: the new generation, the floor and the secret sealed to the
  // new owner, signed by the lock. Should sealing fail (DRBG, backend), the
  // transfer stands without its answer, and the failure is reported: the
  // new key owns the lock, and its holder recovers the secret and the
  // generation only with a factory reset and a claim.
  s = SealTransferResult(authority.identity(), *next, previous, authority.claim_generation(),
                         authority.access_list_floor(), pin.span(), authority.drbg(),
                         std::span<uint8_t, kTransferResultSize>(r.payload.data(), kTransferResultSize));
  r.status = s.code();
  if (s.ok()) r.payload_len = kTransferResultSize;
  return r;
}

CommandResponse CommandExecutor::Act(const VerifiedKey& key, const CommandRequest& request,
                                     core::OperationSource source) {
  CommandResponse r;
  core::RemoteOperation op;
  op.source = source;
  if (!request.pin.empty()) op.pin = request.pin;
  // Who asked, for the log: the owner's own key, or the key's table index.
  op.key = KeyCredential(key);
  auto operation = [&](const core::OperationResult& result) {
    r.dl_status = static_cast<uint8_t>(result.status);
    r.value = static_cast<int64_t>(result.error);
    r.status = result.ok() ? StatusCode::kOk : StatusCode::kAborted;
    // Why, in the core's words (EventDetail), so the person asking is told
    // the reason (privacy mode, battery reserve, lockout...), not a code.
    if (!result.ok()) {
      r.payload[0] = static_cast<uint8_t>(result.detail);
      r.payload_len = 1;
    }
  };
  switch (request.command) {
    case Command::kLock: operation(lock.LockDoor(op)); break;
    // Unlatch is UnlockDoor: the core pulls the latch when the lock is
    // configured to (UnlatchOnUnlock); Unbolt never does.
    case Command::kUnlock:
    case Command::kUnlatch: operation(lock.UnlockDoor(op)); break;
    case Command::kUnbolt: operation(lock.UnboltDoor(op)); break;
    case Command::kUnlockWithTimeout:
      operation(lock.UnlockWithTimeout(op, static_cast<uint16_t>(request.value)));
      break;
    case Command::kSetTime:
    case Command::kSetTimeBackwards:
      r.status =
          authority.SetTime(key, source, request.value, request.command == Command::kSetTimeBackwards, lock).code();
      break;
    case Command::kReadAttribute: {
      Result<int64_t> v = lock.ReadAttribute(static_cast<core::AttributeId>(request.attribute));
      r.status = v.status().code();
      if (v.ok()) r.value = *v;
      break;
    }
    case Command::kWriteAttribute:
    case Command::kSetPassageMode:
    case Command::kSetUtcOffset: {
      const bool passage = request.attribute == static_cast<uint16_t>(core::AttributeId::kOperatingMode) &&
                           request.value == static_cast<int64_t>(core::OperatingMode::kPassage);
      // The time zone: the standard offset and the daylight-saving rule.
      const bool offset = request.attribute == static_cast<uint16_t>(core::AttributeId::kUtcOffset) ||
                          request.attribute == static_cast<uint16_t>(core::AttributeId::kDstOffset) ||
                          request.attribute == static_cast<uint16_t>(core::AttributeId::kDstStart) ||
                          request.attribute == static_cast<uint16_t>(core::AttributeId::kDstEnd);
      // Passage mode and the time zone have their own rules: WriteAttribute
      // cannot reach them, and their commands can reach nothing else.
      if (passage != (request.command == Command::kSetPassageMode) ||
          offset != (request.command == Command::kSetUtcOffset)) {
        r.status = StatusCode::kPermissionDenied;
      } else {
        r.status =
            lock.WriteAttribute(static_cast<core::AttributeId>(request.attribute), request.value, source).code();
      }
      break;
    }
    case Command::kApplyAccessList:
      r.status = authority.ApplyAccessListAndRecord(request.payload, lock, source, op.key).code();
      break;
    case Command::kEndSession: break;  // the session server frees the slot after answering
    case Command::kReadLog: {
      if (log == nullptr) {
        r.status = StatusCode::kUnimplemented;
        break;
      }
      if (request.payload.size() != kLogChallengeBytes || request.value < 0) {
        r.status = StatusCode::kInvalidArgument;
        break;
      }
      uint64_t next = 0;
      Result<size_t> n = log->ReadPage(static_cast<uint64_t>(request.value),
                                       request.payload.first<kLogChallengeBytes>(), r.payload, next);
      if (!n.ok()) {
        r.status = n.status().code();
      } else {
        r.payload_len = *n;
        r.next = next;
        r.value = static_cast<int64_t>(log->upload_cursor());
      }
      break;
    }
    default:
      // Authorized, but carried by other paths: management commands arrive
      // as kManagement payloads; key sharing needs no lock contact (the
      // certificate is the key); revocation is an access-list update;
      // firmware updates come with a later issue.
      r.status = StatusCode::kUnimplemented;
      break;
  }
  return r;
}

}  // namespace mortise::protocol
