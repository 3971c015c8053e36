#!/usr/bin/env python3
"""End-to-end tests: spawn real mortise-lockd processes (simulated clock) and
drive them only through the `mortise` CLI and the simulation control socket.

  e2e_test.py --lockd PATH --cli PATH [Journey|Refusals|Journey.test_name ...]

Journey follows the owner's story of issue 5 step by step; Refusals feeds bad
input to every surface (key strings, QR payloads, configuration files, JSON
on both sockets) and checks a clear error, a non-zero exit and no change.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

LOCKD = None
CLI = None

# 2026-11-24 is a Tuesday.
TUESDAY_0759 = "2026-11-24T07:59:00Z"


def crc16_ccitt_false(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def edit_newest_segment_record(path, block=4096):
    """What an attacker with the image does, per docs/storage-format.md §4:
    find the newest MLG2 segment, change the user index of its first event
    (short 0xA1: a bit of the bit-packed user index; long 0xA2: byte 12) and
    fix the record's CRC16."""
    with open(path, "r+b") as f:
        img = bytearray(f.read())
        segs = []
        for off in range(0, len(img) - block + 1, block):
            if img[off:off + 4] == b"MLG2":
                segs.append((int.from_bytes(img[off + 4:off + 8], "little"), off))
        assert segs, "no MLG2 segment in " + path
        base = max(segs)[1]
        at = base + 36
        sizes = {0xA1: 20, 0xA2: 40, 0xA3: 20}
        while img[at] not in (0xA1, 0xA2):
            assert img[at] in sizes, "no event in the newest segment"
            at += sizes[img[at]]
        size = sizes[img[at]]
        img[at + (7 if size == 20 else 12)] ^= 0x01
        img[at + size - 2:at + size] = crc16_ccitt_false(img[at:at + size - 2]).to_bytes(2, "little")
        f.seek(0)
        f.write(img)


class Lock:
    """One mortise-lockd process on a state directory, simulated clock."""

    def __init__(self, state_dir, extra=()):
        self.dir = state_dir
        self.extra = list(extra)
        self.proc = None
        self.stderr_lines = []

    @property
    def endpoint(self):
        return os.path.join(self.dir, "lock.sock")

    def label(self):
        with open(os.path.join(self.dir, "label.txt")) as f:
            return f.read().strip()

    def start(self):
        self.proc = subprocess.Popen(
            [LOCKD, "--state-dir", self.dir, "--clock", "simulated", "--no-face"] + self.extra,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        stream = self.proc.stderr

        def pump():
            try:
                for line in stream:
                    self.stderr_lines.append(line)
                    if "mortise-lockd: ready" in line:
                        ready.set()
            except (ValueError, OSError):
                pass  # closed by stop()/kill9()
        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30):
            self.proc.kill()
            raise AssertionError("mortise-lockd did not become ready:\n" + "".join(self.stderr_lines))

    def control(self, request):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(os.path.join(self.dir, "sim.sock"))
        try:
            s.sendall((json.dumps(request) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return json.loads(data)
        finally:
            s.close()

    def control_raw(self, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(os.path.join(self.dir, "sim.sock"))
        try:
            s.sendall(line)
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace")
        finally:
            s.close()

    def advance(self, ms):
        r = self.control({"cmd": "advance", "ms": ms})
        assert r["ok"], r

    def status(self):
        r = self.control({"cmd": "status"})
        assert r["ok"], r
        return r

    def keypad(self, keys):
        r = self.control({"cmd": "keypad", "keys": keys})
        assert r["ok"], r
        self.advance(2000)  # motor travel
        return self.status()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.returncode != 0:
                raise AssertionError("mortise-lockd exited %d on SIGTERM:\n%s" %
                                     (self.proc.returncode, "".join(self.stderr_lines[-30:])))
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stderr.close()


class Person:
    """Someone with a keyring: the owner, a family member, a guest."""

    def __init__(self, home, name):
        self.keyring = os.path.join(home, name + ".keyring")
        self.env = dict(os.environ, MORTISE_PASSPHRASE="pass-" + name, MORTISE_KEYRING_KDF="fast")
        self.env.pop("MORTISE_KEYRING", None)

    def run(self, *args, stdin=None, check=None):
        # --wait 0: the simulated clock moves only when the test advances it.
        p = subprocess.run([CLI, "--keyring", self.keyring, "--json", "--wait", "0"] + list(args), input=stdin,
                           capture_output=True, text=True, env=self.env, timeout=60)
        out = None
        try:
            out = json.loads(p.stdout) if p.stdout.strip() else None
        except json.JSONDecodeError:
            out = None
        if check is not None and p.returncode != check:
            raise AssertionError("mortise %s: exit %d (wanted %d)\nstdout: %s\nstderr: %s" %
                                 (" ".join(args), p.returncode, check, p.stdout, p.stderr))
        return p.returncode, out, p.stderr

    def ok(self, *args, stdin=None):
        return self.run(*args, stdin=stdin, check=0)[1]

    def keyring_bytes(self):
        with open(self.keyring, "rb") as f:
            return f.read()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mortise-e2e-")
        self.lock = Lock(os.path.join(self.tmp, "lock"))
        self.lock.start()
        self.owner = Person(self.tmp, "owner")
        self.owner.ok("init")

    def tearDown(self):
        self.lock.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def claim(self, when=TUESDAY_0759):
        return self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint, "--time", when)

    def bolt(self):
        return self.lock.status()["lockState"]

    def relock(self):
        self.owner.ok("lock")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")

    def set_time(self, iso):
        self.owner.ok("time", "set", iso)

    def guest(self, name, *share_args):
        g = Person(self.tmp, name)
        g.ok("init")
        mkp = g.ok("id", "show", "--no-qr")["identity"]["public_key"]
        key = self.owner.ok("key", "share", "--to", mkp, "--name", name, "--no-qr", *share_args)["key"]
        g.ok("key", "accept", key)
        return g


class Journey(Base):
    """The eight steps of the owner's journey (issue 5)."""

    def test_1_claim_and_a_second_claim_fails(self):
        out = self.claim()
        self.assertEqual(out["role"], "owner")
        self.assertTrue(self.lock.status()["claimed"])
        thief = Person(self.tmp, "thief")
        thief.ok("init")
        rc, _, err = thief.run("claim", self.lock.label(), "--endpoint", self.lock.endpoint)
        self.assertEqual(rc, 3, err)
        self.assertIn("not open for claiming", err)
        # The owner still owns it.
        self.assertEqual(self.owner.ok("status")["lock_state"], "locked")

    def test_2_weekday_pin_opens_tuesday_0800_not_2000(self):
        self.claim()
        self.owner.ok("user", "add", "ann", "--type", "week-day")
        self.owner.ok("pin", "add", "--user", "1", "--stdin", stdin="246810\n")
        self.owner.ok("schedule", "weekday", "add", "--user", "1", "--days", "mon-fri", "--hours", "07:00-19:00")
        self.lock.advance(60_000)  # Tuesday 08:00
        self.assertEqual(self.lock.keypad("246810#")["lockState"], "Unlocked")
        self.relock()
        self.set_time("2026-11-24T20:00:00Z")
        self.assertEqual(self.lock.keypad("246810#")["lockState"], "Locked")
        events = self.lock.status()["events"]
        refusal = [e for e in events if e.get("event") == "LockOperationError" and e.get("operationSource") == "Keypad"]
        self.assertTrue(refusal, events)

    def test_3_weekend_guest_key_with_three_uses(self):
        self.claim()
        guest = self.guest("gus", "--role", "guest", "--from", "2026-11-28T00:00:00Z",
                           "--until", "2026-11-30T00:00:00Z", "--uses", "3")
        # Not yet valid on Tuesday.
        rc, _, err = guest.run("unlock")
        self.assertEqual(rc, 3, err)
        self.set_time("2026-11-28T10:00:00Z")  # Saturday
        for _ in range(3):
            guest.ok("unlock")
            self.lock.advance(2000)
            self.assertEqual(self.bolt(), "Unlocked")
            guest.ok("lock")  # locking does not spend a use
            self.lock.advance(2000)
        rc, _, err = guest.run("unlock")
        self.assertEqual(rc, 3, err)
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")
        # A guest cannot add a user or set the time.
        rc, _, err = guest.run("user", "add", "mallory")
        self.assertEqual(rc, 3, err)
        rc, _, err = guest.run("time", "set", "2026-11-29T10:00:00Z")
        self.assertEqual(rc, 3, err)

    def test_4_revocation_reaches_the_lock_through_the_owner(self):
        self.claim()
        guest = self.guest("gil", "--role", "guest")
        guest.ok("unlock")
        self.lock.advance(2000)
        self.relock()
        # The guest's device is "offline" (not involved): the owner revokes.
        before = guest.keyring_bytes()
        self.owner.ok("key", "revoke", "gil")
        rc, _, err = guest.run("unlock")
        self.assertEqual(rc, 3, err)
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")
        self.assertEqual(before, guest.keyring_bytes())
        listed = self.owner.ok("key", "list")["issued"]
        self.assertTrue(any(k["holder"] == "gil" and k["revoked"] for k in listed), listed)

    def test_5_offline_one_time_pin_opens_once(self):
        self.claim("2026-11-24T08:00:00Z")
        code = self.owner.ok("pin", "offline", "one-time", "--from", "2026-11-24T08:00:00Z")["pin"]
        self.assertEqual(len(code), 13)
        self.lock.advance(60_000)
        self.assertEqual(self.lock.keypad(code + "#")["lockState"], "Unlocked")
        self.relock()
        self.assertEqual(self.lock.keypad(code + "#")["lockState"], "Locked")

    def test_6_five_wrong_pins_lock_the_keypad_out_but_the_owner_key_opens(self):
        self.claim()
        self.owner.ok("user", "add", "ann")
        self.owner.ok("pin", "add", "--user", "1", "--stdin", stdin="246810\n")
        for wrong in ["111111", "222222", "333333", "444444", "555555"]:
            self.lock.keypad(wrong + "#")
        st = self.lock.status()
        self.assertTrue(st["lockedOut"], st)
        self.assertEqual(self.lock.keypad("246810#")["lockState"], "Locked")  # even the right PIN
        self.owner.ok("unlock")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.assertGreater(self.owner.ok("status")["lockout_remaining_s"], 0)

    def test_7_kill_9_in_a_burst_loses_nothing_committed(self):
        self.claim()
        self.owner.ok("user", "add", "ann")
        self.owner.ok("pin", "add", "--user", "1", "--stdin", stdin="246810\n")
        guest = self.guest("gwen", "--role", "guest", "--uses", "5")
        guest.ok("unlock")
        # A burst: the owner's commands and keypad entries, killed mid-way.
        stop = threading.Event()

        def burst():
            i = 0
            while not stop.is_set():
                self.owner.run("unlock" if i % 2 == 0 else "lock")
                i += 1
        t = threading.Thread(target=burst)
        t.start()
        for _ in range(5):
            try:
                self.lock.control({"cmd": "keypad", "keys": "246810#"})
                self.lock.control({"cmd": "advance", "ms": 500})
            except OSError:
                break
        self.lock.kill9()
        stop.set()
        t.join()
        self.lock.start()
        users = self.owner.ok("user", "list")["users"]
        self.assertEqual([u["userName"] for u in users], ["ann"])
        self.assertEqual(self.lock.keypad("246810#")["lockState"], "Unlocked")
        self.relock()
        # The guest key and its use count survived: 1 used, 4 left.
        self.set_time("2026-11-24T09:00:00Z")
        for _ in range(4):
            guest.ok("unlock")
        rc, _, err = guest.run("unlock")
        self.assertEqual(rc, 3, err)
        # The log chain verifies end to end after the kill.
        log = self.owner.ok("log")
        self.assertTrue(log["verified"])
        seqs = [e["seq"] for e in log["events"]]
        self.assertEqual(seqs, sorted(seqs))

    def test_8_the_log_lists_every_event_with_source_and_user(self):
        self.claim()
        self.owner.ok("user", "add", "ann", "--type", "week-day")
        self.owner.ok("pin", "add", "--user", "1", "--stdin", stdin="246810\n")
        self.owner.ok("schedule", "weekday", "add", "--user", "1", "--days", "mon-fri", "--hours", "07:00-19:00")
        self.lock.advance(60_000)
        self.lock.keypad("246810#")                     # keypad, user 1
        self.relock()                                   # owner key
        guest = self.guest("gus", "--role", "guest", "--uses", "3")
        guest.ok("unlock")                              # guest key
        self.lock.advance(2000)
        self.relock()
        code = self.owner.ok("pin", "offline", "one-time", "--from", "2026-11-24T08:00:00Z")["pin"]
        self.lock.keypad(code + "#")                    # offline PIN
        self.relock()
        self.lock.keypad("999999#")                     # a wrong PIN
        self.owner.ok("key", "revoke", "gus")
        guest.run("unlock")                             # refused at the handshake
        log = self.owner.ok("log")
        self.assertTrue(log["verified"], log)
        # The lock signed its log's head with its identity key; the CLI
        # checked it with the pinned lock key (issue 9 item 2).
        self.assertGreater(log["signed"]["through"], 0, log)
        ev = log["events"]

        def find(pred):
            return [e for e in ev if pred(e)]
        creds = lambda e: [(c["credentialType"], c["credentialIndex"]) for c in (e.get("credentials") or [])]
        ops = find(lambda e: e.get("event") == "LockOperation")
        self.assertTrue(find(lambda e: e.get("event") == "LockUserChange" and e.get("lockDataType") == "UserIndex"))
        self.assertTrue(find(lambda e: e.get("event") == "LockUserChange" and e.get("lockDataType") == "PIN"))
        self.assertTrue([e for e in ops if e["operationSource"] == "Keypad" and e["userIndex"] == 1
                         and ("PIN", 1) in creds(e)], ops)
        self.assertTrue([e for e in ops if e["operationSource"] == "ProprietaryRemote"
                         and ("AliroNonEvictableEndpointKey", 0) in creds(e)], ops)
        serial = [k for k in self.owner.ok("key", "list")["issued"] if k["holder"] == "gus"][0]["serial"]
        self.assertTrue([e for e in ops if e["operationSource"] == "ProprietaryRemote" and e["lockOperationType"] == "Unlock"
                         and ("AliroEvictableEndpointKey", min(serial, 0xFFFF)) in creds(e)], ops)
        self.assertTrue([e for e in ops if e["operationSource"] == "Keypad" and e.get("detail") == "OfflinePin"], ops)
        self.assertTrue(find(lambda e: e.get("event") == "LockOperationError" and e.get("operationSource") == "Keypad"))
        # Reading again shows only what is new, still verified.
        again = self.owner.ok("log")
        self.assertTrue(again["verified"])
        self.assertLess(len(again["events"]), len(ev))


class Sharing(Base):
    """What people run into when several devices share a lock."""

    def test_a_guest_is_not_shut_out_by_the_owners_recent_commands(self):
        self.claim()
        guest = self.guest("gia", "--role", "guest")
        for _ in range(6):  # more commands than the lock has session slots
            self.owner.ok("status")
        guest.ok("unlock")  # each CLI command gives its slot back when done

    def test_a_revocation_signed_offline_is_delivered_by_the_next_command(self):
        self.claim()
        guest = self.guest("gio", "--role", "guest")
        self.owner.ok("key", "revoke", "gio", "--no-push")
        guest.ok("unlock")        # the lock has not heard of it yet
        self.lock.advance(2000)
        self.relock()             # any owner command delivers the pending list first
        rc, _, err = guest.run("unlock")
        self.assertEqual(rc, 3, err)

    def test_a_key_that_demands_revalidation_needs_a_fresh_token(self):
        self.claim()  # the lock's time: Tuesday 07:59 UTC
        guest = self.guest("gra", "--role", "guest", "--revalidate-every", "3600")
        rc, _, err = guest.run("unlock")
        self.assertEqual(rc, 3, err)  # no token yet
        token = self.owner.ok("key", "revalidate", "gra", "--at", TUESDAY_0759, "--no-qr")["token"]
        rc, _, err = guest.run("key", "token", "MKR1.garbage")
        self.assertEqual(rc, 2, err)
        guest.ok("key", "token", token)
        guest.ok("unlock")
        self.lock.advance(2000)
        self.relock()
        self.set_time("2026-11-24T09:30:00Z")  # the token is now older than an hour
        rc, _, err = guest.run("unlock")
        self.assertEqual(rc, 3, err)

    def test_an_admin_shares_a_key_and_revoking_the_admin_revokes_it(self):
        self.claim()
        admin = self.guest("ada", "--role", "admin", "--permission", "lock", "--permission", "unlock",
                           "--permission", "delegate", "--permission", "read-log")
        mkp = Person(self.tmp, "gue")
        mkp.ok("init")
        key = admin.ok("key", "share", "--to", mkp.ok("id", "show", "--no-qr")["identity"]["public_key"],
                       "--role", "guest", "--name", "gue", "--no-qr")["key"]
        mkp.ok("key", "accept", key)
        mkp.ok("unlock")                        # a two-certificate chain: owner -> admin -> guest
        self.lock.advance(2000)
        self.relock()
        # An admin cannot grant what it does not hold, nor make an admin.
        rc, _, err = admin.run("key", "share", "--to", mkp.ok("id", "show", "--no-qr")["identity"]["public_key"],
                               "--role", "member", "--permission", "passage-mode", "--no-qr")
        self.assertEqual(rc, 1, err)
        self.assertIn("does not hold", err)
        rc, _, err = admin.run("key", "share", "--to", mkp.ok("id", "show", "--no-qr")["identity"]["public_key"],
                               "--role", "admin", "--no-qr")
        self.assertEqual(rc, 1, err)
        self.owner.ok("key", "revoke", "ada")   # revoking the admin revokes what it issued
        rc, _, err = mkp.run("unlock")
        self.assertEqual(rc, 3, err)

    def test_remote_envelope_opens_and_the_no_remote_mode_refuses_it(self):
        self.claim()
        self.lock.advance(2000)
        out = self.owner.ok("unlock", "--remote")
        self.assertTrue(out["remote"])
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.relock()
        self.owner.ok("mode", "no-remote")
        rc, _, err = self.owner.run("unlock", "--remote")
        self.assertEqual(rc, 3, err)
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")


class Refusals(Base):
    """Bad input on every surface: a clear error, a non-zero exit, nothing changed."""

    def test_log_image_edited_while_the_lock_is_off_fails_verification_exit_6(self):
        # A02 at rest (issue 11 item 3; issue 10 finding 11): someone edits a
        # record of the newest, unsealed segment of log.img following
        # docs/storage-format.md (CRC fixed) while the daemon is stopped.
        self.claim()
        self.owner.ok("user", "add", "ann")
        self.owner.ok("lock")
        self.lock.advance(2000)
        self.owner.ok("unlock")
        self.lock.advance(2000)
        self.assertTrue(self.owner.ok("log", "--from", "1")["verified"])
        self.lock.stop()
        edit_newest_segment_record(os.path.join(self.lock.dir, "log.img"))
        self.lock.start()
        rc, out, err = self.owner.run("log", "--from", "1")
        self.assertEqual(rc, 6, err)
        self.assertIsNotNone(out, err)
        self.assertEqual(out["error"]["code"], 6, out)
        self.assertFalse(out["verified"], out)
        losses = [e["loss"] for e in out["events"] if "loss" in e]
        self.assertTrue([l for l in losses if l["reason"] == 4], out)   # the lock declared it: kTampered
        # Still refused on the next read: the declaration is part of the log.
        rc, out, _ = self.owner.run("log", "--from", "1")
        self.assertEqual(rc, 6)
        self.assertFalse(out["verified"])

    def test_malformed_key_strings_and_qr_payloads(self):
        self.claim()
        g = Person(self.tmp, "g")
        g.ok("init")
        before = g.keyring_bytes()
        for bad in ["", "MKS1.", "MKS1.!!!!", "MKS2.AAAA", "MK1.AAAA", "MKS1." + "A" * 4000, "hello"]:
            rc, _, err = g.run("key", "accept", bad)
            self.assertIn(rc, (1, 2), (bad, err))
            self.assertTrue(err.startswith("mortise: "), err)
        self.assertEqual(before, g.keyring_bytes())
        # A QR payload that is not a claim label, or a label with a broken code.
        before = self.owner.keyring_bytes()
        for bad in ["MC1.AAAA", "MC1." + "A" * 40, "123456789", "12345678", "MC2.x"]:
            rc, _, err = self.owner.run("claim", bad, "--endpoint", self.lock.endpoint)
            self.assertEqual(rc, 2, (bad, err))
        self.assertEqual(before, self.owner.keyring_bytes())
        # A key string for another identity.
        mkp = Person(self.tmp, "h")
        mkp.ok("init")
        key = self.owner.ok("key", "share", "--to", mkp.ok("id", "show", "--no-qr")["identity"]["public_key"], "--no-qr")["key"]
        rc, _, err = g.run("key", "accept", key)
        self.assertEqual(rc, 6, err)

    def test_bad_json_on_the_cli_and_both_sockets(self):
        self.claim()
        before = self.lock.status()
        for bad in ["{", "[1,2]", '{"invoke":"SetUser","args":{"userIndex":"x"}}', '{"invoke":"Nope"}']:
            rc, _, err = self.owner.run("dl", bad)
            self.assertIn(rc, (2, 3), (bad, err))
        rc, _, err = self.owner.run("dl", "GetUser", "{not json")
        self.assertEqual(rc, 2, err)
        for line in [b"{\n", b"null\n", b'{"cmd":"keypad","keys":5}\n', b'{"cmd":"nope"}\n',
                     b'{"cmd":"advance","ms":-1}\n', b"\xff\xfe\n"]:
            answer = json.loads(self.lock.control_raw(line))
            self.assertFalse(answer["ok"], line)
            self.assertTrue(answer["error"], line)
        after = self.lock.status()
        self.assertEqual(before["lockState"], after["lockState"])
        self.assertEqual(before["monotonicMs"], after["monotonicMs"])
        self.assertEqual(len(before["events"]), len(after["events"]))
        # Garbage frames on the protocol socket: answered 0x00, the lock goes on.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(self.lock.endpoint)
        for frame in [b"\x02garbage", b"\x03" + b"\x00" * 50, b"\x09", b"\x01\xff\xff"]:
            s.send(frame)
            # 0x00 (nobody could parse it) or the protocol's own error
            # message (a SessionError, a signed refusal, a ClaimError).
            self.assertIn(s.recv(4096)[:1], (b"\x00", frame[:1]), frame)
        s.close()
        self.assertEqual(self.owner.ok("status")["lock_state"], "locked")

    def test_bad_configuration_files(self):
        for name, text in [("unknown key", 'colour = "red"\n'),
                           ("wrong type", "[sim]\nseed = \"x\"\n"),
                           ("public tcp", '[socket]\ntcp = "0.0.0.0:7000"\n'),
                           ("not toml", "[[[\n")]:
            state = os.path.join(self.tmp, "bad-" + name.replace(" ", "-"))
            conf = os.path.join(self.tmp, name.replace(" ", "-") + ".toml")
            with open(conf, "w") as f:
                f.write('state_dir = "%s"\n' % state + text if not text.startswith("[") else text)
            p = subprocess.run([LOCKD, "--config", conf, "--state-dir", state, "--no-face"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (name, p.stderr))
            self.assertIn("mortise-lockd:", p.stderr)
            self.assertFalse(os.path.exists(state), name)

    def test_wrong_passphrase_changes_nothing(self):
        self.claim()
        before = self.owner.keyring_bytes()
        wrong = Person(self.tmp, "owner")
        wrong.env["MORTISE_PASSPHRASE"] = "not-it"
        rc, _, err = wrong.run("unlock")
        self.assertEqual(rc, 5, err)
        self.assertEqual(before, self.owner.keyring_bytes())
        self.assertEqual(self.bolt(), "Locked")


def main():
    global LOCKD, CLI
    ap = argparse.ArgumentParser()
    ap.add_argument("--lockd", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("tests", nargs="*")
    a = ap.parse_args()
    LOCKD, CLI = a.lockd, a.cli
    unittest.main(argv=[sys.argv[0], "-v"] + a.tests)


if __name__ == "__main__":
    main()
