// PENDING: commands whose protocol side is not wired into the CLI yet.
// Each reports "mortise: <command> is not implemented yet." and exits 7
// (ExitCode::kInternal). Nothing here pretends to talk to a lock. To
// implement a command, move its function to a real file and delete it here.
#include "commands.h"
#include "error.h"

namespace mortise::cli {

void NotImplementedYet(const std::string& command) {
  throw Error(ExitCode::kInternal, command + " is not implemented yet");
}

int CmdClaim(Context&, const ClaimOptions&) { NotImplementedYet("claim"); }
int CmdStatus(Context&) { NotImplementedYet("status"); }
int CmdLockDoor(Context&) { NotImplementedYet("lock"); }
int CmdUnlock(Context&, const UnlockOptions&) { NotImplementedYet("unlock"); }
int CmdUnlatch(Context&) { NotImplementedYet("unlatch"); }
int CmdMode(Context&, const ModeOptions&) { NotImplementedYet("mode"); }
int CmdTime(Context&, const TimeOptions& o) { NotImplementedYet("time " + o.action); }
int CmdUser(Context&, const UserOptions& o) { NotImplementedYet("user " + o.action); }
int CmdPin(Context&, const PinOptions& o) {
  NotImplementedYet(o.action == "offline" ? "pin offline " + o.offline_kind : "pin " + o.action);
}
int CmdCard(Context&, const CredentialOptions& o) { NotImplementedYet("card " + o.action); }
int CmdFinger(Context&, const CredentialOptions& o) { NotImplementedYet("finger " + o.action); }
int CmdSchedule(Context&, const ScheduleOptions& o) { NotImplementedYet("schedule " + o.kind + " " + o.action); }
int CmdDl(Context&, const DlOptions&) { NotImplementedYet("dl"); }
int CmdKeyShare(Context&, const KeyShareOptions&) { NotImplementedYet("key share"); }
int CmdKeyAccept(Context&, const KeyAcceptOptions&) { NotImplementedYet("key accept"); }
int CmdKeyRevoke(Context&, const KeyRevokeOptions&) { NotImplementedYet("key revoke"); }
int CmdKeyList(Context&) { NotImplementedYet("key list"); }
int CmdLog(Context&, const LogOptions& o) { NotImplementedYet(o.follow ? "log --follow" : "log"); }

}  // namespace mortise::cli
