#include "app.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <string_view>
#include <vector>

#include "commands.h"
#include "error.h"
#include "server_client.h"

namespace mortise::cli {
namespace {

using Handler = std::function<int(Context&)>;

// Every command's options, alive for the whole run.
struct AllOptions {
  GlobalOptions global;
  InitOptions init;
  IdNewOptions id_new;
  IdShowOptions id_show;
  LockForgetOptions lock_forget;
  LockEndpointOptions lock_endpoint;
  LockRenameOptions lock_rename;
  LockTransferOptions lock_transfer;
  LockTakeOverOptions lock_take_over;
  SettingsOptions settings;
  InfoOptions info;
  ClaimOptions claim;
  UnlockOptions unlock;
  ModeOptions mode;
  TimeOptions time;
  UserOptions user;
  PinOptions pin;
  CredentialOptions card;
  CredentialOptions finger;
  ScheduleOptions schedule;
  DlOptions dl;
  OperateOptions lock_op;
  KeyRevalidateOptions key_revalidate;
  KeyTokenFetchOptions key_token_fetch;
  ServerDutyOptions server_duty;
  KeyTokenOptions key_token;
  OperateOptions unlatch;
  KeyShareOptions key_share;
  LogAckOptions log_ack;
  KeyAcceptOptions key_accept;
  KeyRevokeOptions key_revoke;
  GroupOptions group;
  KeyReshareOptions key_reshare;
  LogOptions log;
  ServerLoginOptions server_login;
  ServerLoginOptions server_signup;
  ServerOrgCreateOptions server_org_create;
  ServerDoorsOptions server_doors;
  ServerRegisterOptions server_register;
  StatusOptions status;
  ServerUplinkCertOptions server_uplink_cert;
  ServerGroupOptions server_group;
  ServerPersonOptions server_person;
  ServerSiteOptions server_site;
};

class Tree {
 public:
  CLI::App* Add(CLI::App* parent, const std::string& name, const std::string& description, Handler handler = nullptr) {
    CLI::App* sub = parent->add_subcommand(name, description);
    if (handler) handlers_[sub] = std::move(handler);
    return sub;
  }
  // A group whose subcommands are the actions (e.g. `id new`).
  CLI::App* Group(CLI::App* parent, const std::string& name, const std::string& description) {
    CLI::App* sub = parent->add_subcommand(name, description);
    sub->require_subcommand(1);
    return sub;
  }
  const Handler* Find(CLI::App* app) const {
    auto it = handlers_.find(app);
    return it == handlers_.end() ? nullptr : &it->second;
  }

 private:
  std::map<CLI::App*, Handler> handlers_;
};

// The deepest subcommand the user chose.
CLI::App* Chosen(CLI::App* app) {
  for (;;) {
    std::vector<CLI::App*> subs = app->get_subcommands();
    if (subs.empty()) return app;
    app = subs.front();
  }
}

// Edit distance with adjacent transpositions (optimal string alignment):
// "staus" -> "status" is 1, "ad" -> "add" is 1.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string NearestWord(std::string_view word, const std::vector<std::string>& choices) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const std::string& c : choices) {
    // A prefix counts as close ("stat" for "status").
    const size_t distance = c.starts_with(word) && !word.empty() ? 1 : EditDistance(word, c);
    if (distance < best_distance) {
      best_distance = distance;
      best = c;
    }
  }
  // Close enough to be a slip: at most 2 edits, and fewer than half the word.
  if (best_distance > 2 || best_distance * 2 > std::max(word.size(), best.size())) return {};
  return best;
}

namespace {

// After a failed parse: walks the words as CLI11 would and, if one of them
// is where a command was expected but names none, says which word and the
// nearest command. nullopt when every word is a known command (the parse
// failed for another reason: CLI11's message says which).
std::optional<Error> UnknownCommand(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  std::string path = "mortise";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--") return std::nullopt;
    if (word.size() > 1 && word[0] == '-') {
      if (word.find('=') != std::string::npos) continue;
      const CLI::Option* option = nullptr;
      for (CLI::App* a = current; a != nullptr && option == nullptr; a = a->get_parent()) {
        option = a->get_option_no_throw(word);
      }
      if (option != nullptr && option->get_items_expected_max() > 0) ++i;  // its value
      continue;
    }
    std::vector<CLI::App*> subs = current->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) return std::nullopt;
    CLI::App* next = nullptr;
    std::vector<std::string> names;
    for (CLI::App* sub : subs) {
      if (sub->get_name() == word) next = sub;
      names.push_back(sub->get_name());
    }
    if (next != nullptr) {
      current = next;
      path += " " + word;
      continue;
    }
    // A command with arguments of its own takes the word as one.
    if (!current->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty()) return std::nullopt;
    const std::string nearest = NearestWord(word, names);
    std::string all;
    for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
    return Error(ExitCode::kUsage, "'" + word + "' is not a command of `" + path + "`",
                 nearest.empty() ? "The commands are: " + all + ". See `" + path + " --help`."
                                 : "Did you mean `" + path + " " + nearest + "`? See `" + path + " --help`.");
  }
  // A group given without its action (`mortise user`): name the choices.
  if (current->get_require_subcommand_min() > 0) {
    std::string all;
    for (CLI::App* sub : current->get_subcommands([](CLI::App*) { return true; })) {
      all += (all.empty() ? "" : ", ") + sub->get_name();
    }
    return Error(ExitCode::kUsage, "`" + path + "` needs a command", "Choose one of: " + all + ". See `" + path + " --help`.");
  }
  return std::nullopt;
}

const char* kFooter =
    "Exit codes: 0 ok, 1 usage error, 2 bad input, 3 refused by the lock or by the server,\n"
    "4 lock or server unreachable (or outcome unknown), 5 keyring problem or server sign-in refused,\n"
    "6 verification failure, 7 internal error. See docs/cli.md section 8.";

// Users are addressed by the lock's number for them (Matter user index),
// not by name: a name gets a message that says so instead of CLI11's
// "Could not convert".
const CLI::Validator kUserIndex(
    [](std::string& v) -> std::string {
      const bool digits = !v.empty() && v.size() <= 5 &&
                          std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      const unsigned long n = digits ? std::stoul(v) : 0;
      if (digits && n >= 1 && n <= 65534) return {};
      return "users are numbered 1, 2, ... on the lock, \"" + v +
             "\" is not a user number; run `mortise user list` to see each user's number and name";
    },
    "USER#");

// Matter's limit on a user's name (the lock refuses more, after the CLI has
// connected); checked before anything is sent.
const CLI::Validator kUserName(
    [](std::string& v) -> std::string {
      if (v.size() <= 10) return {};
      return "\"" + v + "\" is " + std::to_string(v.size()) +
             " bytes: a user name is at most 10 bytes (UTF-8) on the lock (Matter's limit)";
    },
    "NAME");

void AddPinActions(Tree& t, CLI::App* pin, PinOptions& o) {
  CLI::App* list = t.Add(pin, "list", "List the PIN codes stored in the lock (slots and users, never the codes).",
                         [&o](Context& c) { o.action = "list"; return CmdPin(c, o); });
  (void)list;
  CLI::App* add = t.Add(pin, "add", "Store a PIN code for a user in the lock. The code is asked on the terminal.",
                        [&o](Context& c) { o.action = "add"; return CmdPin(c, o); });
  add->add_option("--user", o.user, "User index (1-based) the PIN belongs to")->required()->check(kUserIndex);
  add->add_option("--slot", o.slot, "Credential slot (default: the next free one)");
  add->add_flag("--stdin", o.pin_from_stdin, "Read the PIN from stdin (one line) instead of the terminal");
  CLI::App* remove = t.Add(pin, "remove", "Remove a PIN code from the lock.",
                           [&o](Context& c) { o.action = "remove"; return CmdPin(c, o); });
  remove->add_option("--slot", o.slot, "Credential slot to clear")->required();

  CLI::App* programming = t.Group(pin, "programming",
                                  "The programming PIN (Matter ProgrammingPIN): typed at the lock as * PIN #, it opens "
                                  "the keypad programming menu (add or delete keypad PINs); it never opens the door. "
                                  "Owner or admin.");
  auto prog = [&o](const char* what) {
    return [&o, what](Context& c) {
      o.action = "programming";
      o.programming = what;
      return CmdPin(c, o);
    };
  };
  CLI::App* prog_set = t.Add(programming, "set", "Set or change the programming PIN (asked on the terminal).", prog("set"));
  prog_set->add_flag("--stdin", o.pin_from_stdin, "Read the PIN from stdin (one line) instead of the terminal");
  t.Add(programming, "clear", "Remove the programming PIN (and its programming user, when it holds nothing else).",
        prog("clear"));
  t.Add(programming, "show", "Say whether a programming PIN is set and whether the keypad menu is enabled.",
        prog("show"));

  CLI::App* offline = t.Group(pin, "offline",
                              "Compute offline PIN codes on this device, with no network: the lock checks them with "
                              "the secret agreed at claiming (owner only; docs/offline-pins.md).");
  auto kind = [&o](const char* k) {
    return [&o, k](Context& c) {
      o.action = "offline";
      o.offline_kind = k;
      return CmdPin(c, o);
    };
  };
  CLI::App* one = t.Add(offline, "one-time", "A code that opens once, within a validity period.", kind("one-time"));
  one->add_option("--from", o.from, "Start of the 6-hour validity, UTC: 2026-12-31T18:00:00Z, a date (00:00 UTC) or \"now\"")->default_str("now");
  (void)o.valid_hours;  // a one-time code is valid for core::kOneTimeValidityHours (6) from its start hour
  CLI::App* window = t.Add(offline, "window", "A code that opens any number of times between two times.", kind("window"));
  window->add_option("--from", o.from, "Start, UTC: 2026-12-31T18:00:00Z, a date (00:00 UTC) or \"now\"")->required();
  window->add_option("--until", o.until, "End, UTC: 2026-12-31T18:00:00Z or a date (00:00 UTC)")->required();
  CLI::App* recurring =
      t.Add(offline, "recurring", "A code that opens every day during the same hours, between two dates.", kind("recurring"));
  recurring->add_option("--hours", o.hours, "Daily hours, HH:MM-HH:MM")->required();
  recurring->add_option("--from", o.from, "First day (ISO 8601 date, or \"now\")")->default_str("now");
  recurring->add_option("--until", o.until, "Last day (ISO 8601 date)")->required();
  t.Add(offline, "erase-all",
        "A code that, entered at the keypad, voids every offline code issued so far (for a lost code).",
        kind("erase-all"));
}

void AddCredentialActions(Tree& t, CLI::App* group, CredentialOptions& o, const char* what, bool card,
                          int (*cmd)(Context&, const CredentialOptions&)) {
  auto act = [&o, cmd](const char* a) {
    return [&o, cmd, a](Context& c) {
      o.action = a;
      return cmd(c, o);
    };
  };
  t.Add(group, "list", std::string("List the ") + what + "s stored in the lock.", act("list"));
  CLI::App* add = t.Add(group, card ? "add" : "enroll",
                        card ? "Store a card for a user by its UID."
                             : "Store a fingerprint for a user by the sensor's template id (the simulated sensor's "
                               "`finger` control command presents the same id).",
                        act(card ? "add" : "enroll"));
  add->add_option("--user", o.user, "User index (1-based)")->required()->check(kUserIndex);
  add->add_option("--slot", o.slot, "Credential slot (default: the next free one)");
  add->add_option("--uid", o.uid, card ? "Card UID in hex, e.g. 04a1b2c3" : "Template id in hex, e.g. 07")->required();
  CLI::App* remove = t.Add(group, "remove", std::string("Remove a ") + what + " from the lock.", act("remove"));
  remove->add_option("--slot", o.slot, "Credential slot to clear")->required();
}

void AddScheduleActions(Tree& t, CLI::App* schedule, ScheduleOptions& o) {
  struct Kind {
    const char* name;
    const char* description;
  };
  const Kind kinds[] = {
      {"weekday", "Week-day schedules: the days and hours a user may enter."},
      {"yearday", "Year-day schedules: the dates between which a user may enter."},
      {"holiday", "Holiday schedules: periods with a different operating mode for everyone."},
  };
  for (const Kind& k : kinds) {
    CLI::App* group = t.Group(schedule, k.name, k.description);
    const std::string kind = k.name;
    auto act = [&o, kind](const char* a) {
      return [&o, kind, a](Context& c) {
        o.kind = kind;
        o.action = a;
        return CmdSchedule(c, o);
      };
    };
    CLI::App* list = t.Add(group, "list", "List these schedules.", act("list"));
    CLI::App* add = t.Add(group, "add", "Add or replace one.", act("add"));
    CLI::App* remove = t.Add(group, "remove", "Remove one.", act("remove"));
    if (kind != "holiday") {
      list->add_option("--user", o.user, "User index (1-based)")->required()->check(kUserIndex);
      add->add_option("--user", o.user, "User index (1-based)")->required()->check(kUserIndex);
      remove->add_option("--user", o.user, "User index (1-based)")->required()->check(kUserIndex);
    }
    add->add_option("--slot", o.slot, "Schedule index (default: the next free one)");
    remove->add_option("--slot", o.slot, "Schedule index")->required();
    if (kind == "weekday") {
      add->add_option("--days", o.days, "Days, e.g. mon-fri or sat,sun")->required();
      add->add_option("--hours", o.hours, "Hours, HH:MM-HH:MM")->required();
    } else {
      add->add_option("--from", o.from, "Start in the lock's local time, written 2026-12-31T18:00:00Z or a date")->required();
      add->add_option("--until", o.until, "End in the lock's local time, written 2026-12-31T18:00:00Z or a date")->required();
    }
    if (kind == "holiday")
      add->add_option("--mode", o.mode, "Operating mode during the holiday: normal, vacation, privacy, passage, no-remote")
          ->required();
  }
}

void Build(CLI::App& app, Tree& t, AllOptions& a) {
  app.fallthrough();  // global options may follow the subcommand
  app.require_subcommand(1);
  app.set_version_flag("--version", "mortise 0.1.0");

  GlobalOptions& g = a.global;
  app.add_option("--keyring", g.keyring,
                 "Keyring file (default: $MORTISE_KEYRING, else $XDG_CONFIG_HOME/mortise/keyring or "
                 "~/.config/mortise/keyring)");
  app.add_flag("--json", g.json, "Print one JSON document on stdout instead of text");
  app.add_option("--passphrase-fd", g.passphrase_fd,
                 "Read the keyring passphrase from this file descriptor (one line). Else $MORTISE_PASSPHRASE, "
                 "else a prompt on the terminal")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", g.timeout_s, "Seconds to wait for the lock (default 5)")->check(CLI::PositiveNumber);
  app.add_option("--wait", g.wait_s,
                 "lock/unlock/unlatch: seconds to wait for the bolt to finish moving before reporting (default 6; "
                 "0: report as soon as the lock accepts)")
      ->check(CLI::Range(0.0, 120.0));
  app.add_option("--lock", g.lock, "Which lock of the keyring (default: the only one)");

  // --- keyring and identities --------------------------------------------------
  CLI::App* init = t.Add(&app, "init", "Create the keyring and a first identity (a P-256 key pair).",
                         [&a](Context& c) { return CmdInit(c, a.init); });
  init->add_option("--identity", a.init.identity, "Name of the first identity")->default_str("default");

  CLI::App* id = t.Group(&app, "id", "Your identities: the key pairs locks know you by. Private keys never leave the keyring.");
  CLI::App* id_new = t.Add(id, "new", "Create a new identity.", [&a](Context& c) { return CmdIdNew(c, a.id_new); });
  id_new->add_option("name", a.id_new.name, "Name (letters, digits, '.', '_', '-')")->required();
  id_new->add_flag("--default", a.id_new.make_default, "Make it the default identity");
  t.Add(id, "list", "List your identities and the locks that use each.", [](Context& c) { return CmdIdList(c); });
  CLI::App* id_show = t.Add(id, "show",
                            "Print an identity's public key (MKP1...) and its QR code: give it to a lock's owner "
                            "to receive a key.",
                            [&a](Context& c) { return CmdIdShow(c, a.id_show); });
  id_show->add_option("name", a.id_show.name, "Identity (default: the default identity)");
  id_show->add_flag("--no-qr", a.id_show.no_qr, "Do not draw the QR code");
  id_show->add_flag("--ascii", a.id_show.ascii_qr, "Draw the QR code in ASCII (for terminals without Unicode)");

  // `mortise lock` locks the door; `mortise lock list|forget` manage the keyring's locks.
  CLI::App* lock = t.Add(&app, "lock",
                         "Lock the door (the lock chosen with --lock). `lock list` and `lock forget` manage the "
                         "locks in your keyring.",
                         [&a](Context& c) { return CmdLockDoor(c, a.lock_op); });
  lock->require_subcommand(0, 1);
  lock->add_flag("--remote", a.lock_op.remote,
                 "Send a signed end-to-end remote command (through a relay) instead of a direct session");
  lock->add_flag("--via-server", a.lock_op.via_server,
                 "Through mortise-server (the door `server register` recorded), signed on this device");
  t.Add(lock, "list", "List the locks in your keyring: name, your role, lock id, endpoint, identity.",
        [](Context& c) { return CmdLockList(c); });
  CLI::App* forget = t.Add(lock, "forget", "Remove a lock from your keyring (the lock itself is not changed).",
                           [&a](Context& c) { return CmdLockForget(c, a.lock_forget); });
  forget->add_option("name", a.lock_forget.name, "Local name of the lock")->required();
  CLI::App* endpoint = t.Add(lock, "endpoint",
                             "Change where a lock of your keyring is reached (its socket moved, or another address); "
                             "keys, offline-PIN secret and issued-key records stay.",
                             [&a](Context& c) { return CmdLockEndpoint(c, a.lock_endpoint); });
  endpoint->add_option("name", a.lock_endpoint.name, "Local name of the lock")->required();
  endpoint->add_option("endpoint", a.lock_endpoint.endpoint, "unix:/path, a socket path, or tcp:HOST:PORT")->required();
  CLI::App* rename = t.Add(lock, "rename", "Rename a lock in your keyring (the name is yours; the lock is not changed).",
                           [&a](Context& c) { return CmdLockRename(c, a.lock_rename); });
  rename->add_option("name", a.lock_rename.name, "Current local name")->required();
  rename->add_option("new-name", a.lock_rename.new_name, "New local name")->required();
  forget->add_flag("--yes", a.lock_forget.yes,
                   "Confirm forgetting a lock you own (its offline-PIN secret and issued-key records are lost)");
  CLI::App* transfer = t.Add(lock, "transfer",
                             "Hand a lock you own to another owner key without a factory reset (the lock chosen with "
                             "--lock). Every key you issued ends; prints the MKT1... text the new owner takes it over "
                             "with.",
                             [&a](Context& c) { return CmdLockTransfer(c, a.lock_transfer); });
  transfer->add_option("--to", a.lock_transfer.to, "The new owner's public key (MKP1..., from their `mortise id show`)")
      ->required();
  transfer->add_flag("--clear-users", a.lock_transfer.clear_users,
                     "Also clear the lock's users and their PINs, cards and schedules (default: they stay)");
  transfer->add_flag("--yes", a.lock_transfer.yes, "Confirm: the lock stops being yours");
  transfer->add_option("--out", a.lock_transfer.out,
                       "Also write the MKT1... text to this file (0600, made durable before the lock leaves your keyring)");
  CLI::App* take_over = t.Add(lock, "take-over",
                              "Become the owner of a lock handed over to you: add it to your keyring from the MKT1... "
                              "text the old owner's `lock transfer` printed.",
                              [&a](Context& c) { return CmdLockTakeOver(c, a.lock_take_over); });
  take_over->add_option("text", a.lock_take_over.text, "The MKT1... text")->required();
  take_over->add_option("--name", a.lock_take_over.name, "Local name for the lock (default: the old owner's name)");
  take_over->add_option("--identity", a.lock_take_over.identity,
                        "The identity whose public key the old owner used (default: your default identity)");
  take_over->add_option("--endpoint", a.lock_take_over.endpoint, "Where the lock is reached (default: the text's hint)");
  take_over->add_option("--key-hash", a.lock_take_over.key_hash,
                        "The key hash printed on the lock's label: refuse a transfer for any other lock");

  // --- talking to a lock ---------------------------------------------------------
  CLI::App* info = t.Add(&app, "info",
                         "Ask a lock for its public self-description (lock id, key hash, claimed or not). "
                         "Unauthenticated; needs no keyring with --endpoint.",
                         [&a](Context& c) { return CmdInfo(c, a.info); });
  info->add_option("--endpoint", a.info.endpoint, "unix:/path, a socket path, or tcp:127.0.0.1:PORT");

  CLI::App* claim = t.Add(&app, "claim",
                          "Become the owner of a new or factory-reset lock, with the MC1... text of its label (or "
                          "its QR code). The label pins the lock's key: a device that is not that lock is refused.",
                          [&a](Context& c) { return CmdClaim(c, a.claim); });
  claim->add_option("label", a.claim.label,
                    "The label's MC1... text, or the 9-digit setup code (spaces allowed: '079 462 759'); with the "
                    "bare code you confirm the lock's key hash, as printed on the label")
      ->required();
  claim->add_option("--key-hash", a.claim.key_hash,
                    "With a bare setup code: the key hash printed on the label (16 hex digits), checked against the "
                    "device before claiming; without it you are asked to compare it on a terminal");
  claim->add_option("--time", a.claim.time,
                    "Set the lock's clock after claiming: ISO 8601 UTC (2026-11-24T08:00:00Z), now (default) or none");
  claim->add_option("--endpoint", a.claim.endpoint, "Where the lock listens")->required();
  claim->add_option("--name", a.claim.name, "Local name for the lock (default: lock)");
  claim->add_option("--identity", a.claim.identity, "Identity that becomes the owner key (default: the default one)");

  CLI::App* status = t.Add(&app, "status", "Show the lock's state: bolt, door, mode, battery, time, keypad lockout.",
                           [&a](Context& c) { return CmdStatus(c, a.status); });
  status->add_flag("--via-server", a.status.via_server,
                   "The state the lock last published, from mortise-server (informative)");
  CLI::App* unlock = t.Add(&app, "unlock", "Unlock the door.", [&a](Context& c) { return CmdUnlock(c, a.unlock); });
  unlock->add_option("--for", a.unlock.for_seconds, "Relock automatically after this many seconds");
  unlock->add_flag("--remote", a.unlock.remote,
                   "Send a signed end-to-end remote command (through a relay) instead of a direct session");
  unlock->add_flag("--via-server", a.unlock.via_server,
                   "Through mortise-server (the door `server register` recorded), signed on this device");
  CLI::App* unlatch = t.Add(&app, "unlatch", "Unlock and pull the latch (doors with a motorised latch).",
                            [&a](Context& c) { return CmdUnlatch(c, a.unlatch); });
  unlatch->add_flag("--remote", a.unlatch.remote,
                    "Send a signed end-to-end remote command (through a relay) instead of a direct session");
  unlatch->add_flag("--via-server", a.unlatch.via_server,
                    "Through mortise-server (the door `server register` recorded), signed on this device");
  CLI::App* mode = t.Add(&app, "mode", "Show or set the operating mode.", [&a](Context& c) { return CmdMode(c, a.mode); });
  mode->add_option("mode", a.mode.mode, "normal, vacation, privacy, passage or no-remote (none: show the mode)")
      ->check(CLI::IsMember({"normal", "vacation", "privacy", "passage", "no-remote"}));

  CLI::App* settings = t.Group(&app, "settings",
                               "The lock's settings: auto-relock, wrong-code limit and lockout, one-touch locking, "
                               "privacy button, UTC offset, ...");
  auto settings_act = [&a](const char* action) {
    return [&a, action](Context& c) {
      a.settings.action = action;
      return CmdSettings(c, a.settings);
    };
  };
  t.Add(settings, "show", "Show every setting with its value.", settings_act("show"));
  CLI::App* settings_set =
      t.Add(settings, "set", "Change one setting (the lock checks the value).", settings_act("set"));
  settings_set->add_option("name", a.settings.name,
                           "auto-relock, wrong-code-limit, lockout-time, max-lockout-time, one-touch-locking, "
                           "privacy-button, require-pin-remote, unlatch-on-unlock, door-ajar-time, battery-low, "
                           "utc-offset, led, sound, timezone")
      ->required();
  settings_set->add_option("value", a.settings.value,
                           "seconds or a count; on/off; +HH:MM for utc-offset; a word for led and sound; for timezone "
                           "a zone name of this computer's tz database (Europe/Berlin), a POSIX rule "
                           "(CET-1CEST,M3.5.0,M10.5.0/3: the lock applies daylight saving by itself) or none")
      ->required();

  CLI::App* time = t.Group(&app, "time", "The lock's clock (time-limited keys and schedules need it).");
  t.Add(time, "show", "Show the lock's time and its difference from this device's.", [&a](Context& c) {
    a.time.action = "show";
    return CmdTime(c, a.time);
  });
  CLI::App* sync = t.Add(time, "sync", "Set the lock's time from this device's clock.", [&a](Context& c) {
    a.time.action = "sync";
    return CmdTime(c, a.time);
  });
  sync->add_flag("--backwards", a.time.backwards, "Allow moving the clock backwards (owner only)");
  CLI::App* set = t.Add(time, "set", "Set the lock's time.", [&a](Context& c) {
    a.time.action = "set";
    return CmdTime(c, a.time);
  });
  set->add_option("time", a.time.value, "UTC time, ISO 8601 (2025-06-01T12:00:00Z)")->required();
  set->add_flag("--backwards", a.time.backwards, "Allow moving the clock backwards (owner only)");

  // --- users and credentials -------------------------------------------------------
  CLI::App* user = t.Group(&app, "user", "The lock's users (Matter Door Lock users).");
  auto user_act = [&a](const char* action) {
    return [&a, action](Context& c) {
      a.user.action = action;
      return CmdUser(c, a.user);
    };
  };
  t.Add(user, "list", "List the lock's users.", user_act("list"));
  CLI::App* user_show = t.Add(user, "show", "Show one user and their credentials.", user_act("show"));
  user_show->add_option("index", a.user.index, "User index (1-based)")->required()->check(kUserIndex);
  CLI::App* user_add = t.Add(user, "add", "Add a user.", user_act("add"));
  user_add->add_option("name", a.user.name, "User name (at most 10 bytes, as Matter stores it)")
      ->required()
      ->check(kUserName);
  user_add->add_option("--index", a.user.index, "User index (default: the next free one)");
  user_add->add_option("--type", a.user.type,
                       "unrestricted, year-day, week-day, programming, non-access, forced, disposable, expiring, "
                       "schedule-restricted, remote-only")
      ->default_str("unrestricted");
  user_add->add_option("--credential-rule", a.user.credential_rule, "single, dual or tri")->default_str("single");
  CLI::App* user_update = t.Add(user, "update", "Change a user's name, type or credential rule.", user_act("update"));
  user_update->add_option("index", a.user.index, "User index (1-based)")->required()->check(kUserIndex);
  user_update->add_option("--name", a.user.name, "New name (at most 10 bytes)")->check(kUserName);
  user_update->add_option("--type", a.user.type, "New user type");
  user_update->add_option("--credential-rule", a.user.credential_rule, "single, dual or tri");
  for (const char* action : {"remove", "enable", "disable"}) {
    const std::string desc = std::string(action) == "remove"    ? "Remove a user and all their credentials."
                             : std::string(action) == "enable" ? "Enable a disabled user."
                                                               : "Disable a user without removing them.";
    CLI::App* sub = t.Add(user, action, desc, user_act(action));
    sub->add_option("index", a.user.index, "User index (1-based)")->required()->check(kUserIndex);
  }

  CLI::App* pin = t.Group(&app, "pin", "Keypad PIN codes stored in the lock, and offline PIN codes.");
  AddPinActions(t, pin, a.pin);
  CLI::App* card = t.Group(&app, "card", "RFID/NFC cards.");
  AddCredentialActions(t, card, a.card, "card", true, &CmdCard);
  CLI::App* finger = t.Group(&app, "finger", "Fingerprints.");
  AddCredentialActions(t, finger, a.finger, "fingerprint", false, &CmdFinger);
  CLI::App* schedule = t.Group(&app, "schedule", "Week-day, year-day and holiday schedules.");
  AddScheduleActions(t, schedule, a.schedule);

  CLI::App* dl = t.Add(&app, "dl",
                       "Send one Door Lock cluster command as a JSON line (dljson: every command and attribute by "
                       "its Matter name) and print the answer.",
                       [&a](Context& c) { return CmdDl(c, a.dl); });
  dl->add_option("words", a.dl.words,
                 "<Command> [JSON args], e.g. GetUser '{\"userIndex\":1}'; read <Attribute>; write <Attribute> "
                 "<value>; a whole JSON line; or - to read JSON lines from stdin")
      ->required();

  // --- keys ---------------------------------------------------------------------------
  CLI::App* group = t.Group(&app, "group",
                             "Access groups of your locks: a group key opens every door whose signed membership "
                             "lists the group.");
  CLI::App* gcreate = t.Add(group, "create", "Create a group (a random 64-bit id) owned by your identity.",
                            [&a](Context& c) { return CmdGroupCreate(c, a.group); });
  gcreate->add_option("name", a.group.group, "The group's name")->required();
  gcreate->add_option("--identity", a.group.identity, "Whose group (default: the default identity)");
  CLI::App* gadd = t.Add(group, "add-door",
                         "Put a lock you own into the group: signs its new membership and sends it (frame 0x05, no "
                         "session needed). No key is reissued.",
                         [&a](Context& c) { return CmdGroupDoor(c, a.group, true); });
  gadd->add_option("group", a.group.group, "The group's name")->required();
  gadd->add_option("lock", a.group.lock, "The lock (default: --lock, or the only one)");
  CLI::App* gremove = t.Add(group, "remove-door", "Take a lock out of the group: its group keys stop opening it.",
                            [&a](Context& c) { return CmdGroupDoor(c, a.group, false); });
  gremove->add_option("group", a.group.group, "The group's name")->required();
  gremove->add_option("lock", a.group.lock, "The lock (default: --lock, or the only one)");
  CLI::App* gshow = t.Add(group, "show", "The group's id and its doors, from the keyring.",
                          [&a](Context& c) { return CmdGroupShow(c, a.group); });
  gshow->add_option("group", a.group.group, "The group's name")->required();
  t.Add(group, "list", "Your groups and how many doors each has.", [](Context& c) { return CmdGroupList(c); });

  CLI::App* key = t.Group(&app, "key", "Keys you share with others, and keys shared with you.");
  CLI::App* share = t.Add(key, "share",
                          "Issue a key (a certificate signed by your identity) for someone's public key, and print "
                          "it as an MKS1... string and QR code. Their private key never leaves their device.",
                          [&a](Context& c) { return CmdKeyShare(c, a.key_share); });
  KeyShareOptions& s = a.key_share;
  share->add_option("--to", s.to, "The holder's public key: the MKP1... string `mortise id show` prints")->required();
  share->add_option("--name", s.holder_name, "Your name for the holder (shown in `key list`)");
  share->add_option("--role", s.role, "guest, member, admin or installer")
      ->check(CLI::IsMember({"guest", "member", "admin", "installer"}))
      ->default_str("guest");
  share->add_option("--permission", s.permissions,
                    "Grant only these (repeatable): lock, unlock, unlatch, manage-users, read-log, set-time, "
                    "change-settings, update-firmware, passage-mode, delegate, revalidate, log-custody, manage-groups, "
                    "time-statement");
  share->add_option("--from", s.from,
                    "Valid from: 2026-12-31T18:00:00Z (UTC), a date (its 00:00 in the lock's local time) or \"now\"");
  share->add_option("--until", s.until,
                    "Valid until: 2026-12-31T18:00:00Z (UTC) or a date (the end of that day, 24:00 in the lock's "
                    "local time: UTC plus the offset mortise status last read)");
  share->add_option("--days", s.days, "Weekly schedule days, e.g. mon-fri");
  share->add_option("--hours", s.hours, "Weekly schedule hours, HH:MM-HH:MM");
  share->add_option("--uses", s.uses, "Number of openings allowed (default: unlimited)");
  share->add_flag("--remote-only", s.remote_only, "Usable only through end-to-end remote commands");
  share->add_option("--endpoint-hint", s.endpoint_hint, "Endpoint to put in the string (default: the lock's)");
  share->add_flag("--no-qr", s.no_qr, "Do not draw the QR code");
  share->add_option("--group", s.group,
                    "A group key: opens every door of the group (mortise group create/add-door) instead of this "
                    "lock only; the string still names this lock for the holder");
  share->add_option("--out", s.out, "Also write the key string to this file");
  share->add_flag("--custody", s.custody,
                  "Issue a log-custody key (for a server or device that stores the lock's log): it may only "
                  "acknowledge log uploads (`mortise log ack`), which lets the lock reuse uploaded records; it "
                  "opens nothing. Owner only; role admin with that right alone");
  share->add_flag("--time", s.time,
                  "Issue a time-statement key (for the server that keeps the lock's clock right while online): it "
                  "may only correct the clock by a few seconds a few times a day (frame 0x07, docs/protocol.md "
                  "7.1), never set it; it opens nothing. Owner only; role admin with that right alone");
  share->add_option("--revalidate-every", s.revalidate_every,
                    "Seconds: the key works only with a revalidation token younger than this, which you issue "
                    "with `key revalidate` (so a revocation takes effect within this time even if no device "
                    "carries it to the lock; 0: never)");

  CLI::App* accept = t.Add(key, "accept",
                           "Accept a key shared with you (an MKS1... string): pins the lock's public key and "
                           "stores the key in your keyring.",
                           [&a](Context& c) { return CmdKeyAccept(c, a.key_accept); });
  accept->add_option("string", a.key_accept.text, "The MKS1... string; - reads it from stdin")->required();
  accept->add_option("--name", a.key_accept.name, "Local name for the lock (default: the string's hint)");
  accept->add_option("--identity", a.key_accept.identity, "Your identity the key was issued to (default: found by key)");
  accept->add_option("--endpoint", a.key_accept.endpoint, "Endpoint of the lock (default: the string's hint)");

  CLI::App* reshare = t.Add(key, "reshare",
                            "Give the holder of a group key you issued the string for another door of its group "
                            "(the same key: no new certificate).",
                            [&a](Context& c) { return CmdKeyReshare(c, a.key_reshare); });
  reshare->add_option("key", a.key_reshare.key, "Serial number or holder name (see `key list`)")->required();
  reshare->add_option("--door", a.key_reshare.door, "The door (a lock you own in the key's group)")->required();
  reshare->add_flag("--no-qr", a.key_reshare.no_qr, "Do not draw the QR code");

  CLI::App* revoke = t.Add(key, "revoke",
                           "Revoke a key you issued: signs a new access list and sends it to the lock; any device "
                           "that talks to the lock carries it too.",
                           [&a](Context& c) { return CmdKeyRevoke(c, a.key_revoke); });
  revoke->add_option("key", a.key_revoke.key, "Serial number or holder name (see `key list`)")->required();
  revoke->add_flag("--no-push", a.key_revoke.no_push, "Sign the access list but do not send it now");
  revoke->add_flag("--via-server", a.key_revoke.via_server,
                   "Upload the signed list to mortise-server, which delivers it to the lock (also by itself when "
                   "the lock is not reachable locally)");
  revoke->add_flag("--wait{60}", a.key_revoke.wait_s,
                   "Through the server: wait until the lock confirmed it, at most S seconds (--wait=S; default 60)");
  t.Add(key, "list", "List the keys you issued for the lock (and their state) and your own key.",
        [](Context& c) { return CmdKeyList(c); });
  CLI::App* reval = t.Add(key, "revalidate",
                          "Issue a revalidation token (MKR1...) for a key you shared with --revalidate-every: the "
                          "holder's key works until the token is that old.",
                          [&a](Context& c) { return CmdKeyRevalidate(c, a.key_revalidate); });
  reval->add_option("key", a.key_revalidate.key, "Serial number or holder name (see `key list`)")->required();
  reval->add_option("--at", a.key_revalidate.at, "Issued-at time, UTC (default: now)");
  reval->add_flag("--no-qr", a.key_revalidate.no_qr, "Do not draw the QR code");
  CLI::App* token = t.Add(key, "token",
                          "Store a revalidation token (MKR1...) the owner sent you for your key, or fetch a fresh "
                          "one through mortise-server with --from-server.",
                          [&a](Context& c) {
                            if (a.key_token.from_server != a.key_token.text.empty()) {
                              throw Error(ExitCode::kUsage, "give either the MKR1... string or --from-server");
                            }
                            return a.key_token.from_server ? CmdKeyTokenFromServer(c, a.key_token_fetch)
                                                           : CmdKeyToken(c, a.key_token);
                          });
  token->add_option("string", a.key_token.text, "The MKR1... string; - reads it from stdin");
  token->add_flag("--from-server", a.key_token.from_server,
                  "Fetch a token through the server you are signed in to (it issues one only for a key registered "
                  "to you and not revoked)");
  token->add_option("--org", a.key_token_fetch.org, "With --from-server: the organisation (default: the lock's door)");
  token->add_option("--door", a.key_token_fetch.door, "With --from-server: the door (default: the lock's door)");

  CLI::App* log = t.Add(&app, "log",
                        "Read the lock's audit log over the secure session and verify it is complete: every "
                        "record present or declared lost by the lock, in order, up to its current end (a gap is "
                        "reported loudly).",
                        [&a](Context& c) { return CmdLog(c, a.log); });
  log->add_flag("--follow,-f", a.log.follow, "Keep reading new entries");
  log->add_option("--from", a.log.from, "Start at this sequence number (default: after the last one verified)");
  log->add_option("--limit", a.log.limit, "At most this many entries");
  log->add_option("--interval", a.log.interval_s, "Seconds between polls with --follow")->check(CLI::PositiveNumber);
  log->add_flag("--server,--via-server", a.log.server,
                "Read the copy mortise-server stores (the lock's registered door) and verify it here with the lock's "
                "key (also by itself when the lock is not reachable locally)");
  CLI::App* ack = t.Add(log, "ack",
                        "Acknowledge, with a log-custody key (or the owner's), that you hold the lock's log through "
                        "a record: the lock moves its upload cursor there and may then reuse those records.",
                        [&a](Context& c) { return CmdLogAck(c, a.log_ack); });
  ack->add_option("--through", a.log_ack.through,
                  "Sequence number held through (default: the end of your last verified `mortise log` read)")
      ->check(CLI::PositiveNumber)
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  ack->add_option("--chain", a.log_ack.chain,
                  "The chain hash h(N) of that record, 32 hex digits (from a stored copy: `mortise log --json`'s "
                  "chain.hash); default: the keyring's from the last verified read");

  CLI::App* server = t.Group(&app, "server",
                             "mortise-server: sign in, list the doors of your organisations, register a claimed "
                             "lock (the server stores; the lock decides).");
  CLI::App* login = t.Add(server, "login", "Sign in to a server (password, then the two-factor code if enabled).",
                          [&a](Context& c) { return CmdServerLogin(c, a.server_login); });
  login->add_option("url", a.server_login.url, "https://HOST:PORT (http:// only for 127.0.0.1/::1/localhost)")
      ->required();
  login->add_option("--ca", a.server_login.ca,
                    "PEM file of the private CA that issued the server's certificate (default: MORTISE_SERVER_CA, "
                    "else the system's trust store); remembered with the session");
  login->add_option("--email", a.server_login.email, "Account email (asked if not given)");
  login->add_option("--password-fd", a.server_login.password_fd,
                    "Read the password as one line from this file descriptor");
  login->add_option("--totp", a.server_login.totp, "The current two-factor code (asked if needed and not given)");
  CLI::App* signup = t.Add(server, "signup",
                           "Create an account on a server (password asked twice on a terminal) and sign in to it.",
                           [&a](Context& c) { return CmdServerSignup(c, a.server_signup); });
  signup->add_option("url,--server", a.server_signup.url,
                     "https://HOST:PORT (http:// only for 127.0.0.1/::1/localhost)")
      ->required();
  signup->add_option("--ca", a.server_signup.ca,
                     "PEM file of the private CA that issued the server's certificate; remembered with the session");
  signup->add_option("--email", a.server_signup.email, "Account email (asked if not given)");
  signup->add_option("--password-fd", a.server_signup.password_fd,
                     "Read the password as one line from this file descriptor");
  CLI::App* sorg = t.Group(server, "org", "Organisations on the server.");
  CLI::App* org_create = t.Add(sorg, "create",
                               "Create an organisation you own (a \"home\" gets one site) and print its id.",
                               [&a](Context& c) { return CmdServerOrgCreate(c, a.server_org_create); });
  org_create->add_option("name", a.server_org_create.name, "Its name")->required();
  org_create->add_option("--kind", a.server_org_create.kind, "home (default: one site) or organisation")
      ->check(CLI::IsMember({"home", "organisation"}));
  t.Add(server, "orgs", "List the organisations you are in on the server (id, name, kind, your role).",
        [](Context& c) { return CmdServerOrgs(c); });
  CLI::App* doors = t.Add(server, "doors", "List the doors of your organisations on the server.",
                          [&a](Context& c) { return CmdServerDoors(c, a.server_doors); });
  doors->add_option("--org", a.server_doors.org, "Only this organisation (org_...)");
  CLI::App* reg = t.Add(server, "register",
                        "Register a lock you own with an organisation, signing the server's challenge with the "
                        "lock's owner key from your keyring.",
                        [&a](Context& c) { return CmdServerRegister(c, a.server_register); });
  reg->add_option("lock", a.server_register.lock, "The lock's name in your keyring (default: --lock or the only one)");
  reg->add_option("--org", a.server_register.org, "The organisation (org_...)")->required();
  reg->add_option("--site", a.server_register.site, "The site (default: the organisation's first)");
  reg->add_option("--name", a.server_register.name, "The door's name (default: the lock's name in your keyring)");
  CLI::App* ucert = t.Add(server, "uplink-cert",
                          "Have the server issue the lock's broker certificate for the request lockd wrote "
                          "(<state_dir>/uplink-request.json); the lock must be registered first.",
                          [&a](Context& c) { return CmdServerUplinkCert(c, a.server_uplink_cert); });
  ucert->add_option("--request", a.server_uplink_cert.request, "The lock's uplink-request.json")->required();
  ucert->add_option("--out", a.server_uplink_cert.out,
                    "Where to write the certificate (lockd reads <state_dir>/uplink.crt by default)")
      ->required();
  CLI::App* sduty = t.Add(server, "duty",
                          "Certify the server's duty key for the lock's door with one duty's right alone, signed "
                          "here with the owner's key: --time (it keeps the lock's clock right by small, rate-limited "
                          "corrections) or --revalidate (it issues revalidation tokens for keys it holds as live). "
                          "Neither opens a door.",
                          [&a](Context& c) { return CmdServerDuty(c, a.server_duty); });
  sduty->add_option("lock", a.server_duty.lock, "The lock's name in your keyring (default: --lock or the only one)");
  sduty->add_flag("--time", a.server_duty.time, "The time-statement duty (frame 0x07)");
  sduty->add_flag("--revalidate", a.server_duty.revalidate, "The revalidation-token duty");
  CLI::App* sgroup = t.Group(server, "group",
                             "Access groups on the server: the keyring's groups, whose doors' signed memberships "
                             "the server stores and delivers.");
  CLI::App* sg_create = t.Add(sgroup, "create", "Make a group of your keyring (`mortise group create`) known to an "
                                                "organisation.",
                              [&a](Context& c) { return CmdServerGroupCreate(c, a.server_group); });
  sg_create->add_option("group", a.server_group.group, "The group's name in your keyring")->required();
  sg_create->add_option("--org", a.server_group.org, "The organisation (org_...)")->required();
  sg_create->add_option("--schedule", a.server_group.schedule, "A schedule summary for people (\"weekdays 7-19\")");
  CLI::App* sg_list = t.Add(sgroup, "list", "The organisation's groups, their doors and what each door holds.",
                            [&a](Context& c) { return CmdServerGroupList(c, a.server_group); });
  sg_list->add_option("--org", a.server_group.org, "The organisation (org_...)")->required();
  for (const bool add : {true, false}) {
    CLI::App* door = t.Add(sgroup, add ? "add-door" : "remove-door",
                           add ? "Sign the door's new membership (after its owner list with the group's revoked "
                                 "keys) and upload it; the server delivers it."
                               : "Sign the door's membership without the group and upload it; the server delivers it.",
                           [&a, add](Context& c) { return CmdServerGroupDoor(c, a.server_group, add); });
    door->add_option("group", a.server_group.group, "The group's name in your keyring")->required();
    door->add_option("lock", a.server_group.lock, "The lock's name in your keyring (default: --lock or the only one)");
    door->add_option("--org", a.server_group.org, "The organisation (org_...)")->required();
  }
  CLI::App* person = t.Group(server, "person", "People of an organisation on the server.");
  CLI::App* everywhere =
      t.Add(person, "remove-everywhere",
            "Revoke a person's keys at every door: asks the server where they are live, signs one new owner access "
            "list per door here, uploads them as one job and shows each door's progress.",
            [&a](Context& c) { return CmdServerRemoveEverywhere(c, a.server_person); });
  everywhere->add_option("account", a.server_person.account, "The person's account id (acct_...)")->required();
  everywhere->add_option("--org", a.server_person.org, "The organisation (org_...)")->required();
  CLI::App* ssite = t.Group(server, "site", "Sites of an organisation on the server.");
  CLI::App* lockdown =
      t.Add(ssite, "lockdown",
            "Lock every door of a site now: signs one remote lock command per door here, has the server relay them "
            "as one job and verifies each lock's signed answer against its pinned key.",
            [&a](Context& c) { return CmdServerSiteLockdown(c, a.server_site); });
  lockdown->add_option("site", a.server_site.site, "The site's id (site_...) or name")->required();
  lockdown->add_option("--org", a.server_site.org, "The organisation (org_...)")->required();

  app.footer(kFooter);
}

}  // namespace

int Run(int argc, char** argv) {
  AllOptions options;
  Tree tree;
  CLI::App app("mortise: the owner's, admin's and guest's tool for Mortise locks.\n"
               "The lock is the authority: this tool holds your keys and asks; the lock decides.",
               "mortise");
  // Only the early --json flag matters for how a parse error is printed.
  bool json = false;
  for (int i = 1; i < argc; ++i) json = json || std::string_view(argv[i]) == "--json";
  Output out(json);
  try {
    Build(app, tree, options);
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
      if (std::optional<Error> unknown = UnknownCommand(app, argc, argv)) {
        out.PrintError(*unknown);
        return ToInt(ExitCode::kUsage);
      }
      // A value of the wrong form (a number that is not one, a choice not
      // in the list) is bad input, as the commands' own checks say it.
      const bool bad_value = dynamic_cast<const CLI::ValidationError*>(&e) != nullptr ||
                             dynamic_cast<const CLI::ConversionError*>(&e) != nullptr;
      const ExitCode code = bad_value ? ExitCode::kBadInput : ExitCode::kUsage;
      std::string what = e.what();
      while (!what.empty() && (what.back() == '.' || what.back() == '\n')) what.pop_back();
      out.PrintError(Error(code, what, "See `mortise --help` or `mortise <command> --help`."));
      return ToInt(code);
    }
    Context ctx(options.global, out);
    CLI::App* chosen = Chosen(&app);
    const Handler* handler = tree.Find(chosen);
    if (handler == nullptr) throw Error(ExitCode::kUsage, "choose a command", "See `mortise --help`.");
    const int code = (*handler)(ctx);
    out.Finish();
    return code;
  } catch (const Error& e) {
    out.PrintError(e);
    return ToInt(e.code());
  } catch (const std::bad_alloc&) {
    out.PrintError(Error(ExitCode::kInternal, "out of memory"));
    return ToInt(ExitCode::kInternal);
  } catch (const nlohmann::json::exception& e) {
    // A server's answer of another shape than the API's, met by a reader
    // that does not check types (server_client.h, AnswerString): the
    // server's fault, said as such (A09), not "please report".
    if (ServerAnswerRead()) {
      const Error malformed(ExitCode::kVerification, std::string("the server's answer is malformed (") + e.what() + ")",
                            "Check the server URL; the server may be broken or hostile.");
      out.PrintError(malformed);
      return ToInt(malformed.code());
    }
    out.PrintError(Error(ExitCode::kInternal, std::string("internal error: ") + e.what(),
                         "Please report this with the command you ran."));
    return ToInt(ExitCode::kInternal);
  } catch (const std::exception& e) {
    out.PrintError(Error(ExitCode::kInternal, std::string("internal error: ") + e.what(),
                         "Please report this with the command you ran."));
    return ToInt(ExitCode::kInternal);
  }
}

}  // namespace mortise::cli
