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
import pty
import re
import resource
import select
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

    def __init__(self, state_dir, extra=(), socket_path=None):
        self.dir = state_dir
        self.socket_path = socket_path
        self.extra = list(extra) + (["--socket", socket_path] if socket_path else [])
        self.proc = None
        self.stderr_lines = []

    @property
    def endpoint(self):
        return self.socket_path or os.path.join(self.dir, "lock.sock")

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
        # MORTISE_NOW: this device's clock agrees with the simulated lock's
        # start (the tests set the lock's time explicitly).
        self.env = dict(os.environ, MORTISE_PASSPHRASE="passphrase-" + name, MORTISE_KEYRING_KDF="fast",
                        MORTISE_NOW=TUESDAY_0759)
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

    def run_on_terminal(self, args, answer, prompt):
        """Runs mortise with stdin and stderr on a pseudo-terminal; types
        `answer` once `prompt` appears. Returns (exit code, terminal text)."""
        master, slave = pty.openpty()
        p = subprocess.Popen([CLI, "--keyring", self.keyring, "--json", "--wait", "0"] + list(args), stdin=slave,
                             stdout=subprocess.DEVNULL, stderr=slave, env=self.env, start_new_session=True)
        os.close(slave)
        seen, typed = b"", False
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:
                        chunk = b""  # the child closed the terminal
                    if not chunk and p.poll() is not None:
                        break
                    seen += chunk
                if not typed and prompt.encode() in seen:
                    os.write(master, (answer + "\n").encode())
                    typed = True
                if p.poll() is not None and not ready:
                    break
            p.wait(10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)
        return p.returncode, seen.decode(errors="replace")

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
        self.assertEqual([u["user_name"] for u in users], ["ann"])
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
        creds = lambda e: [(c["credential_type"], c["credential_index"]) for c in (e.get("credentials") or [])]
        ops = find(lambda e: e.get("event") == "lock-operation")
        self.assertTrue(find(lambda e: e.get("event") == "lock-user-change" and e.get("lock_data_type") == "user-index"))
        self.assertTrue(find(lambda e: e.get("event") == "lock-user-change" and e.get("lock_data_type") == "pin"))
        self.assertTrue([e for e in ops if e["operation_source"] == "keypad" and e["user_index"] == 1
                         and ("pin", 1) in creds(e)], ops)
        self.assertTrue([e for e in ops if e["operation_source"] == "proprietary-remote"
                         and ("aliro-non-evictable-endpoint-key", 0) in creds(e)], ops)
        # A certificate key is named by the index the lock's key table gave
        # it (docs/protocol.md section 9): gus's is the first to act here.
        self.assertTrue([e for e in ops if e["operation_source"] == "proprietary-remote" and e["lock_operation_type"] == "unlock"
                         and ("aliro-evictable-endpoint-key", 1) in creds(e)], ops)
        # ... and the lock introduced that index in its log before the key
        # acted, so the owner's CLI names the exact key (issuer, serial) and
        # its holder (issue 9 item 1).
        intro = find(lambda e: "key" in e and "event" not in e)
        self.assertEqual([e["key"]["index"] for e in intro], [1], intro)
        self.assertEqual(intro[0]["key"]["name"], "key 'gus'", intro)
        guest_unlock = [e for e in ops if ("aliro-evictable-endpoint-key", 1) in creds(e) and e["lock_operation_type"] == "unlock"][0]
        self.assertEqual(guest_unlock["key"]["name"], "key 'gus'", guest_unlock)
        self.assertEqual(guest_unlock["key"]["serial"], intro[0]["key"]["serial"])
        self.assertLess(intro[0]["seq"], guest_unlock["seq"])
        owner_ops = [e for e in ops if ("aliro-non-evictable-endpoint-key", 0) in creds(e)]
        self.assertEqual(owner_ops[0]["key"]["name"], "the owner's key")
        self.assertTrue([e for e in ops if e["operation_source"] == "keypad" and e.get("detail") == "offline-pin"], ops)
        self.assertTrue(find(lambda e: e.get("event") == "lock-operation-error" and e.get("operation_source") == "keypad"))
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

    def test_a_group_key_opens_a_door_only_while_the_door_is_in_the_group(self):
        # Issue 9 item 3: one key for "the front doors"; a door joins or leaves
        # the group by one signed membership sent in frame 0x05 (no session),
        # and no key is reissued.
        self.claim()
        created = self.owner.ok("group", "create", "front")
        self.assertEqual(len(created["id"]), 16)
        gus = self.guest("gus", "--group", "front")     # key share --group, key accept of a group key
        self.assertEqual(gus.ok("key", "list")["mine"][0]["group"], created["id"])
        self.assertEqual(self.owner.ok("key", "list")["issued"][0]["group"], created["id"])
        rc, _, err = gus.run("unlock")                   # the door is in no group yet
        self.assertEqual(rc, 3, err)
        added = self.owner.ok("group", "add-door", "front")
        self.assertEqual(added["version"], 1)
        # Already a member: a no-op that says so, signs nothing (still version 1).
        again = self.owner.ok("group", "add-door", "front")
        self.assertEqual((again["changed"], again["version"]), (False, 1), again)
        self.assertEqual(self.owner.ok("group", "show", "front")["doors"], ["lock"])
        self.assertEqual(self.owner.ok("group", "list")["groups"][0]["doors"], 1)
        gus.ok("unlock")
        self.lock.advance(2000)
        self.relock()
        removed = self.owner.ok("group", "remove-door", "front")
        self.assertEqual(removed["version"], 2)  # the no-op above signed no version
        rc, _, err = gus.run("unlock")
        self.assertEqual(rc, 3, err)
        self.assertEqual(self.owner.ok("group", "show", "front")["doors"], [])
        # Back in: the same key opens again; revoking it works as for a lock key.
        self.owner.ok("group", "add-door", "front")
        gus.ok("unlock")
        self.lock.advance(2000)
        self.relock()
        self.owner.ok("key", "revoke", "gus")
        rc, _, err = gus.run("unlock")
        self.assertEqual(rc, 3, err)

    def test_group_memberships_continue_above_the_locks_floor_after_a_factory_reset(self):
        # The lock keeps the membership's version floor (counter 42) over a
        # factory reset; the re-claimed owner's keyring starts again at 1, the
        # lock answers with the version it holds and the CLI signs above it.
        self.claim()
        self.owner.ok("group", "create", "front")
        gus = self.guest("gus", "--group", "front")
        self.owner.ok("group", "add-door", "front")
        self.owner.ok("group", "remove-door", "front")   # the lock holds version 2
        self.lock.advance(60_000)
        self.assertTrue(self.lock.control({"cmd": "factory_reset"})["ok"])
        self.owner.ok("lock", "forget", "lock", "--yes")
        self.claim()
        rc, _, err = gus.run("unlock")                    # no membership of this claim
        self.assertEqual(rc, 3, err)
        self.assertEqual(self.owner.ok("group", "add-door", "front")["version"], 3)
        # Stated residual (docs/protocol.md 5.1): a group key names no claim
        # generation, so the same owner's group key opens again once the door
        # is put back into its group.
        gus.ok("unlock")

    def test_revoking_a_group_key_reaches_every_door_of_the_group_in_frame_0x05(self):
        # Two doors in one group; the owner revokes the group key at the
        # first (through its session) and the CLI carries the second door's
        # own access list to it in frame 0x05, with no session.
        self.claim()
        back = self._claim_back_door()
        self.owner.ok("group", "create", "front")
        self.owner.ok("group", "add-door", "front", "lock")
        self.owner.ok("group", "add-door", "front", "back")
        self.assertEqual(sorted(self.owner.ok("group", "show", "front")["doors"]), ["back", "lock"])
        gus = self.guest("gus", "--group", "front", "--lock", "lock")
        gus.ok("unlock")
        # The same key for the second door: no new certificate.
        again = self.owner.ok("key", "reshare", "gus", "--door", "back", "--no-qr")
        accepted = gus.ok("key", "accept", again["key"])
        self.assertEqual(accepted["lock"], "back")
        self.assertEqual(accepted["serial"], again["serial"])
        gus.ok("unlock", "--lock", "back")
        out = self.owner.ok("key", "revoke", "gus", "--lock", "lock")
        self.assertEqual(out["group_doors"], [{"lock": "back", "status": "ok", "version": 1}])
        for door in ("lock", "back"):
            rc, _, err = gus.run("unlock", "--lock", door)
            self.assertEqual(rc, 3, err)

    def _claim_back_door(self):
        # A second lock of the same owner, named "back".
        back = Lock(os.path.join(self.tmp, "back"))
        back.start()
        self.addCleanup(back.stop)
        self.owner.ok("claim", back.label(), "--endpoint", back.endpoint, "--time", TUESDAY_0759, "--name", "back")
        return back

    def _group_with_back_door(self):
        self.claim()
        back = self._claim_back_door()
        self.owner.ok("group", "create", "front")
        self.owner.ok("group", "add-door", "front", "lock")
        gus = self.guest("gus", "--group", "front", "--lock", "lock")
        gus.ok("unlock")
        return back, gus

    def test_a01_a_revoked_group_key_is_refused_at_a_door_added_to_the_group_later(self):
        # Review of issue 9 item 3: the revocation went only to the doors in
        # the group at the time; a door added later must get it (its own
        # owner access list, frame 0x05) before its membership.
        back, gus = self._group_with_back_door()
        self.owner.ok("key", "revoke", "gus", "--lock", "lock")
        # Unreachable: nothing is sent, the access list stays pending.
        back.stop()
        rc, _, err = self.owner.run("group", "add-door", "front", "back")
        self.assertNotEqual(rc, 0, err)
        self.assertIn("no membership was sent", err)
        self.assertEqual(self.owner.ok("group", "show", "front")["doors"], ["lock"])
        back.start()
        self.owner.ok("group", "add-door", "front", "back")
        again = self.owner.ok("key", "reshare", "gus", "--door", "back", "--no-qr")  # the holder has the chain anyway
        gus.ok("key", "accept", again["key"])
        rc, _, err = gus.run("unlock", "--lock", "back")
        self.assertEqual(rc, 3, err)

    def test_a01_a_revoked_group_key_is_refused_at_a_door_removed_and_put_back(self):
        back, gus = self._group_with_back_door()
        self.owner.ok("group", "add-door", "front", "back")
        again = self.owner.ok("key", "reshare", "gus", "--door", "back", "--no-qr")
        gus.ok("key", "accept", again["key"])
        gus.ok("unlock", "--lock", "back")
        back.advance(2000)
        self.owner.ok("group", "remove-door", "front", "back")
        out = self.owner.ok("key", "revoke", "gus", "--lock", "lock")
        self.assertEqual(out["group_doors"], [])        # back was not in the group then
        self.owner.ok("group", "add-door", "front", "back")
        rc, _, err = gus.run("unlock", "--lock", "back")
        self.assertEqual(rc, 3, err)

    def test_an_admin_revokes_the_keys_it_issued_and_the_owners_list_stays_apart(self):
        self.claim()
        admin = self.guest("adi", "--role", "admin", "--permission", "lock", "--permission", "unlock",
                           "--permission", "delegate")
        gue = Person(self.tmp, "gue")
        gue.ok("init")
        key = admin.ok("key", "share", "--to", gue.ok("id", "show", "--no-qr")["identity"]["public_key"],
                       "--role", "guest", "--name", "gue", "--no-qr")["key"]
        gue.ok("key", "accept", key)
        own = self.guest("own", "--role", "guest")
        other = self.guest("oth", "--role", "guest")
        out = admin.ok("key", "revoke", "gue")  # an admin-signed list, pushed by the admin's session
        self.assertEqual(out["access_list_version"], 1)
        rc, _, err = gue.run("unlock")
        self.assertEqual(rc, 3, err)
        own.ok("unlock")                         # the owner's keys are not the admin's to revoke
        self.lock.advance(2000)
        self.relock()
        self.owner.ok("key", "revoke", "oth")    # the owner's own list, version 1 too: no overwrite
        rc, _, err = other.run("unlock")
        self.assertEqual(rc, 3, err)
        rc, _, err = gue.run("unlock")
        self.assertEqual(rc, 3, err)
        own.ok("unlock")

    def test_a01_factory_reset_and_reclaim_by_the_same_owner_revives_no_key(self):
        # Protocol review finding 1: revoke, factory reset, forget, claim
        # again with the same identity; neither the revoked guest nor an
        # older guest key that was never re-issued opens.
        self.claim()
        revoked = self.guest("rex", "--role", "guest")
        older = self.guest("ola", "--role", "guest")
        older.ok("unlock")
        self.lock.advance(2000)
        self.relock()
        self.owner.ok("key", "revoke", "rex")
        self.lock.advance(60_000)  # the lock's clock runs on past the claim's time
        self.assertTrue(self.lock.control({"cmd": "factory_reset"})["ok"])
        self.assertFalse(self.lock.status()["claimed"])
        self.owner.ok("lock", "forget", "lock", "--yes")
        # The same --time as the first claim, now behind the lock's clock:
        # the owner's claim sets it anyway (it used to fail with "the lock is
        # not in a state that allows it").
        out = self.claim()
        self.assertEqual(out["time"], TUESDAY_0759)
        for person in (revoked, older):
            rc, _, err = person.run("unlock")
            self.assertEqual(rc, 3, err)
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")
        # A key issued for this claim opens.
        fresh = self.guest("fay", "--role", "guest")
        fresh.ok("unlock")

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

    def test_A09_an_unsigned_remote_refusal_is_shown_as_unconfirmed(self):
        # After the clock is set back below an accepted envelope's expiry, the
        # lock refuses new envelopes before checking their signature, so its
        # answer is unsigned: the CLI says the outcome is unconfirmed (a relay
        # could write such an answer), never that the lock refused.
        self.claim()
        self.lock.advance(2000)
        self.owner.ok("unlock", "--remote")
        self.lock.advance(2000)
        self.relock()
        self.owner.ok("time", "set", "2026-11-24T07:00:00Z", "--backwards")
        rc, _, err = self.owner.run("unlock", "--remote")
        self.assertEqual(rc, 4, err)
        self.assertIn("unconfirmed", err)
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")


class Refusals(Base):
    """Bad input on every surface: a clear error, a non-zero exit, nothing changed."""

    def test_A16_a_bare_setup_code_claims_only_the_lock_whose_key_hash_is_on_the_label(self):
        # A stand-in device answers the info request with its own lock id and
        # key hash and knows the code the owner types (here: its own). The
        # owner compares the key hash printed on the real lock's label.
        standin = Lock(os.path.join(self.tmp, "standin"))
        standin.start()
        try:
            real = self.lock.control({"cmd": "label"})
            fake = standin.control({"cmd": "label"})
            self.assertNotEqual(real["keyHash"], fake["keyHash"])
            before = self.owner.keyring_bytes()
            rc, _, err = self.owner.run("claim", fake["setupCode"], "--endpoint", standin.endpoint,
                                        "--key-hash", real["keyHash"], stdin="")
            self.assertEqual(rc, 6, err)
            self.assertIn("not the lock on your label", err)
            # No terminal to compare on and no --key-hash: refused before anything is sent.
            rc, _, err = self.owner.run("claim", fake["setupCode"], "--endpoint", standin.endpoint, stdin="")
            self.assertEqual(rc, 1, err)
            self.assertIn("--key-hash", err)
            self.assertEqual(before, self.owner.keyring_bytes())
            self.assertTrue(standin.control({"cmd": "label"})["ok"])  # the stand-in was not claimed either
        finally:
            standin.stop()
        # The real lock, its code typed as printed (with spaces), its key hash confirmed.
        code = real["setupCode"]
        out = self.owner.ok("claim", code[0:3] + " " + code[3:6] + " " + code[6:9], "--endpoint", self.lock.endpoint,
                            "--key-hash", real["keyHash"].upper(), "--time", TUESDAY_0759)
        self.assertEqual(out["role"], "owner")
        self.assertEqual(out["lock_id"], real["lockId"])

    def test_A16_a_bare_setup_code_on_a_terminal_asks_to_compare_the_key_hash(self):
        sticker = self.lock.control({"cmd": "label"})
        before = self.owner.keyring_bytes()
        args = ["claim", sticker["setupCode"], "--endpoint", self.lock.endpoint, "--time", TUESDAY_0759]
        rc, text = self.owner.run_on_terminal(args, "no", "Type yes")
        self.assertEqual(rc, 6, text)
        self.assertIn(sticker["keyHash"], text)  # the device's key hash, shown to compare
        self.assertEqual(before, self.owner.keyring_bytes())
        rc, text = self.owner.run_on_terminal(args, "yes", "Type yes")
        self.assertEqual(rc, 0, text)
        self.assertEqual(self.owner.ok("lock", "list")["locks"][0]["lock_id"], sticker["lockId"])

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
        self.assertTrue([l for l in losses if l["reason"] == "tampered"], out)   # the lock declared it: kTampered (4)
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


class Flooding(Base):
    """A18 at the transport: the real daemon's sockets flooded (issue 11)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mortise-e2e-")
        self.lock = Lock(os.path.join(self.tmp, "lock"), extra=["--tcp", "127.0.0.1:0"])
        self.lock.start()
        self.owner = Person(self.tmp, "owner")
        self.owner.ok("init")

    def tcp_port(self):
        for line in self.lock.stderr_lines:
            if "protocol tcp: 127.0.0.1:" in line:
                return int(line.rsplit(":", 1)[1].split()[0])
        raise AssertionError("no tcp port in the log")

    def test_A18_idle_and_slow_clients_do_not_shut_the_owner_out_or_block_the_inside(self):
        self.claim()
        # More idle clients than the protocol socket has slots (32), and on
        # TCP idle ones and slow ones sending a frame a byte at a time.
        flood = []
        for _ in range(40):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(self.lock.endpoint)
            flood.append(s)
        port = self.tcp_port()
        slow = []
        for i in range(36):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.connect(("127.0.0.1", port))
            if i % 4 == 0:
                s.sendall(b"\x00")  # the first byte of a length; the rest never comes
            slow.append(s)
        # The owner opens at once: a new client displaces the least recently
        # active one of the peer holding the most slots.
        self.owner.ok("unlock")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.relock()
        # Leaving from inside is a physical input, never a socket slot.
        r = self.lock.control({"cmd": "thumbturn", "lock": False})
        self.assertTrue(r["ok"], r)
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.relock()
        # Past the idle time (10 s on the lock's clock) every flooding client
        # has been closed by the lock: a read sees the end of the stream.
        self.lock.advance(10000)
        for s in flood + slow:
            s.settimeout(30)
            try:
                self.assertEqual(s.recv(16), b"")
            except ConnectionResetError:
                pass
            s.close()
        self.owner.ok("unlock")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")


class FloodingByAnotherUser(Base):
    """A18 with the flood from another uid: SO_PEERCRED keeps it to its share."""

    OTHER_UID = 65534

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to connect as another uid (CI runs as root)")
        self.tmp = tempfile.mkdtemp(prefix="mortise-e2e-")
        # The operator lets another local user reach the protocol socket
        # (a group, here simply mode 0666): every frame is authenticated, so
        # a connection grants nothing but a slot.
        self.sockets = tempfile.mkdtemp(prefix="mortise-e2e-sock-")
        os.chmod(self.sockets, 0o755)
        self.lock = Lock(os.path.join(self.tmp, "lock"), socket_path=os.path.join(self.sockets, "lock.sock"))
        self.lock.start()
        os.chmod(self.lock.endpoint, 0o666)
        self.owner = Person(self.tmp, "owner")
        self.owner.ok("init")

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.sockets, ignore_errors=True)

    def info(self, s):
        s.settimeout(30)
        s.send(b"\x04")
        return s.recv(2048)

    def flood_as_other_user(self, count, go, done):
        """A child process, uid 65534, holding `count` idle connections per
        byte read from `go`, reporting each batch on `done`."""
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(self.OTHER_UID)
                os.setuid(self.OTHER_UID)
                held = []
                while os.read(go, 1) == b"+":
                    for _ in range(count):
                        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                        c.connect(self.lock.endpoint)
                        held.append(c)
                    os.write(done, b"+")
            finally:
                os._exit(0)
        return pid

    def test_A18_another_user_holds_at_most_its_share_and_never_displaces_the_owners_clients(self):
        self.claim()
        go_r, go_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = self.flood_as_other_user(40, go_r, done_w)
        try:
            os.write(go_w, b"+")
            self.assertEqual(os.read(done_r, 1), b"+")
            # The owner's uid opens the remaining 8 slots (24 + 8 = 32),
            # idle but one, which talks.
            mine = []
            for _ in range(8):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                c.connect(self.lock.endpoint)
                mine.append(c)
            self.assertEqual(self.info(mine[0])[:1], b"\x04")
            # 40 more from the other uid: each displaces one of its own.
            os.write(go_w, b"+")
            self.assertEqual(os.read(done_r, 1), b"+")
            for c in mine:
                self.assertEqual(self.info(c)[:1], b"\x04", "a connection of the owner's uid was dropped")
            # A ninth of the owner's displaces one of the other user's.
            self.owner.ok("unlock")
            self.lock.advance(2000)
            self.assertEqual(self.bolt(), "Unlocked")
            for c in mine:
                c.close()
        finally:
            os.write(go_w, b"-")
            os.waitpid(pid, 0)
            for fd in (go_r, go_w, done_r, done_w):
                os.close(fd)


class Custody(Base):
    """Issue 9 item 2: the upload cursor moves only for a log-custody holder's
    acknowledgement of the exact stream; the custody key opens nothing."""

    def events(self, n):
        for _ in range(n):
            self.owner.ok("unlock")
            self.lock.advance(2000)
            self.relock()

    def test_A02_a_custody_key_moves_the_upload_cursor_only_for_the_exact_stream_and_opens_nothing(self):
        self.claim()
        self.events(3)
        server = self.guest("server", "--custody")
        # It opens nothing, reads nothing (A12).
        for args in (("unlock",), ("status",), ("log",)):
            rc, _, err = server.run(*args)
            self.assertEqual(rc, 3, (args, err))
        self.assertEqual(self.bolt(), "Locked")
        status = self.lock.status()["log"]
        self.assertEqual(status["uploadCursor"], 0)
        self.assertEqual(status["unacknowledged"], status["head"])
        # What the server would hold: the owner's verified copy and its chain hash.
        log = self.owner.ok("log")
        through, chain = log["chain"]["through"], log["chain"]["hash"]
        self.assertEqual(log["upload"]["cursor"], 0)
        # No copy of its own: nothing to acknowledge.
        rc, _, err = server.run("log", "ack")
        self.assertEqual(rc, 1, err)
        # A wrong chain hash, and a record beyond the head: refused, nothing moves.
        wrong = ("1" if chain[0] == "0" else "0") + chain[1:]
        rc, _, err = server.run("log", "ack", "--through", str(through), "--chain", wrong)
        self.assertEqual(rc, 6, err)
        rc, _, err = server.run("log", "ack", "--through", str(through + 100), "--chain", chain)
        self.assertEqual(rc, 6, err)
        self.assertEqual(self.lock.status()["log"]["uploadCursor"], 0)
        # Numbers that are not sequence numbers are bad input (exit 2), never
        # read as 2^64 - 1 and sent.
        for bad in ("-1", "18446744073709551616", "0"):
            rc, _, err = server.run("log", "ack", "--through", bad, "--chain", chain)
            self.assertEqual(rc, 2, bad + ": " + err)
        self.assertEqual(self.lock.status()["log"]["uploadCursor"], 0)
        # The exact stream: the cursor moves, and the lock signs its receipt.
        out = server.ok("log", "ack", "--through", str(through), "--chain", chain)
        self.assertEqual(out["status"], "advanced")
        self.assertEqual(out["cursor"], through)
        self.assertTrue(out["signed"])
        self.assertEqual(self.lock.status()["log"]["uploadCursor"], through)
        # A replay changes nothing.
        out = server.ok("log", "ack", "--through", str(through), "--chain", chain)
        self.assertEqual(out["status"], "unchanged")
        self.assertEqual(out["cursor"], through)
        # The owner sees it, in status and in the log.
        st = self.owner.ok("status")
        self.assertEqual(st["log_upload"]["cursor"], through)
        self.events(1)
        log = self.owner.ok("log")
        self.assertEqual(log["upload"]["cursor"], through)
        self.assertGreater(log["upload"]["unacknowledged"], 0)
        newer, newer_chain = log["chain"]["through"], log["chain"]["hash"]
        # A member key (no custody right) is refused before anything is sent.
        member = self.guest("mel", "--role", "member")
        rc, _, err = member.run("log", "ack", "--through", str(newer), "--chain", newer_chain)
        self.assertEqual(rc, 3, err)
        # The cursor survives a restart of the daemon.
        self.lock.stop()
        self.lock.start()
        self.assertEqual(self.lock.status()["log"]["uploadCursor"], through)
        # Revoked, the custody key moves nothing any more.
        self.owner.ok("key", "revoke", "server")
        rc, _, err = server.run("log", "ack", "--through", str(newer), "--chain", newer_chain)
        self.assertEqual(rc, 3, err)
        self.assertEqual(self.lock.status()["log"]["uploadCursor"], through)
        # The owner's own key acknowledges its own verified read (keyring default).
        out = self.owner.ok("log", "ack")
        self.assertEqual(out["status"], "advanced")
        self.assertEqual(self.lock.status()["log"]["uploadCursor"], out["cursor"])
        self.assertGreater(out["cursor"], through)

    def test_A04_a_time_key_is_the_owners_to_issue_and_opens_nothing(self):
        self.claim()
        g = Person(self.tmp, "clock")
        g.ok("init")
        mkp = g.ok("id", "show", "--no-qr")["identity"]["public_key"]
        # One narrow right, issued alone.
        for extra in (("--role", "member"), ("--permission", "unlock"), ("--custody",), ("--uses", "3")):
            rc, _, err = self.owner.run("key", "share", "--to", mkp, "--no-qr", "--time", *extra)
            self.assertEqual(rc, 1, (extra, err))
        out = self.owner.ok("key", "share", "--to", mkp, "--name", "clock", "--no-qr", "--time")
        self.assertEqual(out["role"], "admin")
        self.assertEqual(out["permissions"], "time-statement")
        g.ok("key", "accept", out["key"])
        # It opens nothing, reads nothing, and sets no time in a session (A04).
        for args in (("unlock",), ("status",), ("log",), ("time", "sync")):
            rc, _, err = g.run(*args)
            self.assertEqual(rc, 3, (args, err))
        self.assertEqual(self.bolt(), "Locked")
        # A member cannot be given the right by name either.
        rc, _, err = self.owner.run("key", "share", "--to", mkp, "--no-qr", "--role", "member",
                                    "--permission", "time-statement")
        self.assertEqual(rc, 1, err)


class ProgrammingPin(Base):
    """Issue 12: the programming PIN (Matter ProgrammingPIN) set from the CLI,
    and the keypad programming menu it opens on the lock face."""

    def menu(self):
        return self.lock.status()["programming"]

    def test_the_programming_pin_opens_the_keypad_menu_and_never_the_door(self):
        self.claim()
        shown = self.owner.ok("pin", "programming", "show")
        self.assertEqual((shown["programming_pin_set"], shown["local_programming"]), (False, True), shown)
        out = self.owner.ok("pin", "programming", "set", "--stdin", stdin="909090\n")
        self.assertEqual((out["programming_pin_set"], out["changed"]), (True, False), out)
        self.assertTrue(self.owner.ok("pin", "programming", "show")["programming_pin_set"])
        # The lock answers as the cluster does: index 0, user null.
        answer = self.owner.ok("dl", "GetCredentialStatus",
                               '{"credential":{"credentialType":"ProgrammingPIN","credentialIndex":0}}')["answers"][0]
        self.assertEqual((answer["credentialExists"], answer["userIndex"]), (True, None), answer)
        # Typed as a PIN it is a wrong code: the door stays locked.
        self.assertEqual(self.lock.keypad("909090#")["lockState"], "Locked")
        # * PIN # opens the menu; 1 adds a keypad PIN; 0 closes it.
        self.lock.keypad("*909090#")
        self.assertEqual(self.menu()["step"], "choose")
        self.assertIn("1# add a user PIN", self.menu()["text"])
        self.lock.keypad("1#")
        self.assertEqual(self.menu()["step"], "new_pin")
        st = self.lock.keypad("135792#")
        self.assertEqual((st["programming"]["note"], st["programming"]["slot"]), ("pin_added", 1), st["programming"])
        self.assertEqual(st["lockState"], "Locked")
        self.lock.keypad("0#")
        self.assertEqual(self.menu()["step"], "closed")
        self.assertEqual(self.owner.ok("pin", "list")["credentials"], [{"index": 1, "user": 2}])  # user 1: the programming user
        log = self.owner.ok("log")["events"]
        changes = [(e.get("lock_data_type"), e.get("data_operation_type"), e.get("operation_source"))
                   for e in log if e.get("event") == "lock-user-change"]
        self.assertIn(("programming-code", "add", "proprietary-remote"), changes)
        self.assertIn(("pin", "add", "keypad"), changes)
        self.assertEqual(self.lock.keypad("135792#")["lockState"], "Unlocked")
        self.relock()
        # 2 deletes a slot; an empty slot is said to be empty.
        self.lock.keypad("*909090#")
        self.lock.keypad("2#")
        self.assertEqual(self.lock.keypad("1#")["programming"]["note"], "slot_deleted")
        self.lock.keypad("2#")
        self.assertEqual(self.lock.keypad("1#")["programming"]["text"].split(";")[0], "PIN slot 1 is empty: nothing deleted")
        self.lock.keypad("0#")
        self.assertEqual(self.lock.keypad("135792#")["lockState"], "Locked")
        # A changed programming PIN replaces the old one.
        self.assertTrue(self.owner.ok("pin", "programming", "set", "--stdin", stdin="808080\n")["changed"])
        self.lock.keypad("*909090#")
        self.assertEqual(self.menu()["note"], "refused")
        self.lock.keypad("*808080#")
        self.assertEqual(self.menu()["step"], "choose")
        self.lock.keypad("0#")

    def test_local_programming_off_refuses_the_menu_in_words(self):
        self.claim()
        self.owner.ok("pin", "programming", "set", "--stdin", stdin="909090\n")
        self.owner.ok("dl", "write", "EnableLocalProgramming", "false")
        self.assertFalse(self.owner.ok("pin", "programming", "show")["local_programming"])
        st = self.lock.keypad("*909090#")
        self.assertEqual(st["programming"]["step"], "closed")
        self.assertIn("EnableLocalProgramming is false", st["programming"]["text"])
        self.assertFalse(st["lockedOut"])

    def test_clear_removes_it_and_a_second_clear_is_not_reported_as_done(self):
        self.claim()
        self.owner.ok("pin", "programming", "set", "--stdin", stdin="909090\n")
        out = self.owner.ok("pin", "programming", "clear")
        self.assertFalse(out["programming_pin_set"])
        self.assertFalse(self.owner.ok("pin", "programming", "show")["programming_pin_set"])
        rc, _, err = self.owner.run("pin", "programming", "clear")
        self.assertEqual(rc, 2, err)
        self.assertIn("no programming PIN is set", err)
        self.lock.keypad("*909090#")
        self.assertEqual(self.menu()["note"], "refused")

    def test_a_guest_cannot_set_the_programming_pin(self):
        self.claim()
        g = self.guest("gus")
        rc, _, err = g.run("pin", "programming", "set", "--stdin", stdin="909090\n")
        self.assertEqual(rc, 3, err)
        self.assertFalse(self.owner.ok("pin", "programming", "show")["programming_pin_set"])


class OwnerCli(Base):
    """Issue 12: what a new owner reads. Every refusal says why and what to do."""

    def refused(self, person, *args, rc=3):
        code, out, err = person.run(*args)
        self.assertEqual(code, rc, (args, err))
        self.assertTrue(err.startswith("mortise: "), err)
        if out is not None:
            self.assertEqual(out["error"]["code"], rc, out)
            self.assertTrue(out["error"]["hint"], (args, out))  # always says what to do
        return err

    def test_log_says_the_chain_verified_and_when_nothing_is_new(self):
        self.claim()
        self.owner.ok("unlock")
        self.lock.advance(2000)  # the bolt arrives: the unlock is recorded (#2)

        def text_log():
            p = subprocess.run([CLI, "--keyring", self.owner.keyring, "--wait", "0", "log"], capture_output=True,
                               text=True, env=self.owner.env, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            return p.stdout
        first = text_log()
        self.assertIn("the log's chain verified through #", first)
        self.assertNotIn("no new events", first)
        # The newest signed head is named, and what follows it is said to wait
        # for the next one (the lock signs at most every 10 minutes).
        self.assertIn("log signed by the lock through #1 at ", first)
        self.assertIn("#2 not signed by the lock yet", first)
        again = text_log()  # nothing happened since: say so, never print nothing
        self.assertIn("no new events since #", again)
        self.assertIn("the log's chain verified through #", again)

    def text_log(self, person=None, *args):
        person = person or self.owner
        p = subprocess.run([CLI, "--keyring", person.keyring, "--wait", "0", "log"] + list(args), capture_output=True,
                           text=True, env=person.env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_log_names_users_and_keys_and_says_how_the_door_opened(self):
        self.claim("2026-11-24T08:00:00Z")
        self.owner.ok("user", "add", "alice")
        self.owner.ok("pin", "add", "--user", "1", "--stdin", stdin="246810\n")
        self.lock.keypad("246810#")
        self.relock()
        code = self.owner.ok("pin", "offline", "one-time", "--from", "2026-11-24T08:00:00Z")["pin"]
        self.lock.keypad(code + "#")
        self.relock()
        self.owner.ok("settings", "set", "unlatch-on-unlock", "on")
        self.owner.ok("unlatch")
        self.lock.advance(4000)
        self.relock()
        self.owner.ok("mode", "passage")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.owner.ok("mode", "normal")
        text = self.text_log()
        # Users by name, a stored PIN told from an offline code, unlatch
        # from unlock, passage mode from a person's unlock, mode changes.
        self.assertIn("unlocked at the keypad by alice (user 1) with stored PIN #1", text)
        self.assertIn("unlocked at the keypad with an offline PIN code", text)
        self.assertIn("unlatched (bolt and latch pulled: the door opens) over a session with the owner's key", text)
        self.assertIn("unlocked over a session with the owner's key", text)
        self.assertIn("mode changed to passage over a session", text)
        self.assertIn("unlocked by passage mode (held open for anyone; no one asked)", text)
        self.assertIn("mode changed to normal", text)
        self.assertIn("user alice (user 1) added over a session", text)
        self.assertIn("PIN #1 of alice (user 1) added over a session", text)

    def test_five_quick_unlocks_by_a_five_use_key_make_five_records(self):
        self.claim()
        guest = self.guest("gus", "--role", "guest", "--uses", "5")
        for _ in range(5):
            guest.ok("unlock")  # the motor is still travelling: each joins the motion
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        ev = self.owner.ok("log")["events"]
        unlocks = [e for e in ev if e.get("event") == "lock-operation" and e.get("lock_operation_type") == "unlock"
                   and (e.get("key") or {}).get("name") == "key 'gus'"]
        self.assertEqual(len(unlocks), 5, ev)
        # Every entry of log --json has its sentence, key introductions too.
        self.assertTrue(any("key" in e and "event" not in e for e in ev), ev)
        self.assertEqual([e for e in ev if not e.get("text")], [])
        rc, _, err = guest.run("unlock")  # a sixth: no use left, refused and recorded
        self.assertEqual(rc, 3, err)
        self.assertIn("key refused over a session with key 'gus': its uses are spent", self.text_log())

    def test_A02_revocations_delivered_and_refused_keys_are_logged_at_a_bounded_rate(self):
        self.claim()
        guest = self.guest("gil", "--role", "guest")
        guest.ok("unlock")
        self.lock.advance(2000)
        self.owner.ok("key", "revoke", "gil")
        self.assertIn("access list delivered over a session with the owner's key (1 key(s) now revoked or suspended)",
                      self.text_log())
        # A copied key tried in a loop: five records, then one a minute,
        # the next saying how many were not recorded.
        for _ in range(8):
            rc, _, err = guest.run("unlock")
            self.assertEqual(rc, 3, err)
        refused = [e for e in self.owner.ok("log")["events"] if e.get("event") == "key-refused"]
        self.assertEqual(len(refused), 5, refused)
        self.assertTrue(all(e["detail"] == "key-revoked" for e in refused), refused)
        self.lock.advance(61_000)
        guest.run("unlock")
        text = self.text_log()
        # The refused key is named (the lock gives it its key-table index).
        self.assertIn("key refused over a session with key 'gil': revoked or suspended", text)
        self.assertIn("(3 more refusal(s) before this one were not recorded: rate limit)", text)

    def test_a_lock_is_handed_over_without_a_factory_reset(self):
        """Item 16: ownership transfer to another owner key (docs/protocol.md 18)."""
        self.claim("2026-11-24T08:00:00Z")
        self.owner.ok("user", "add", "alice")
        guest = self.guest("gus", "--role", "guest")
        guest.ok("unlock")
        self.lock.advance(2000)
        self.relock()
        buyer = Person(self.tmp, "buyer")
        buyer.ok("init")
        mkp = buyer.ok("id", "show", "--no-qr")["identity"]["public_key"]
        # Refused before anything is sent: an admin, no --yes, a mistyped key.
        admin = self.guest("ada", "--role", "admin")
        rc, _, err = admin.run("lock", "transfer", "--to", mkp, "--yes")
        self.assertEqual(rc, 1, err)
        self.assertIn("only the owner", err)
        rc, _, err = self.owner.run("lock", "transfer", "--to", mkp)
        self.assertEqual(rc, 1, err)
        self.assertIn("--yes", err)
        i = 20
        typo = mkp[:i] + ("B" if mkp[i] == "A" else "A") + mkp[i + 1:]
        rc, _, err = self.owner.run("lock", "transfer", "--to", typo, "--yes")
        self.assertEqual(rc, 2, err)
        self.assertIn("changed or lost in copying", err)
        self.owner.ok("unlock")  # still the owner
        self.lock.advance(2000)
        self.relock()

        # The lock answers, then the CLI dies at its first file write (no
        # file may grow here: SIGXFSZ, like a crash mid-save). The text,
        # which cannot be made again, went out before the keyring forgot the
        # lock (--json: on stderr at once): nothing needs a factory reset.
        p = subprocess.run([CLI, "--keyring", self.owner.keyring, "--json", "--wait", "0", "lock", "transfer",
                            "--to", mkp, "--yes"], capture_output=True, text=True, env=self.owner.env, timeout=60,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1)))
        self.assertEqual(p.returncode, -signal.SIGXFSZ, p.stderr)
        found = re.search(r"transfer text \(give it to the new owner\): (MKT1\.\S+)", p.stderr)
        self.assertIsNotNone(found, p.stderr)
        text = found.group(1)
        # The keyring still lists the lock (the save never happened): its
        # entry works no more, and forgetting it is the old owner's.
        stale = self.owner.ok("lock", "list")["locks"]
        self.assertEqual(len(stale), 1, stale)
        self.owner.ok("lock", "forget", stale[0]["name"], "--yes")
        self.assertEqual(self.owner.ok("lock", "list")["locks"], [])
        # Every key of the old owner ended.
        rc, _, err = guest.run("unlock")
        self.assertNotEqual(rc, 0, err)
        rc, _, err = admin.run("unlock")
        self.assertNotEqual(rc, 0, err)
        self.assertEqual(self.bolt(), "Locked")
        # Only the key it was made for opens it.
        other = Person(self.tmp, "other")
        other.ok("init")
        rc, _, err = other.run("lock", "take-over", text)
        self.assertEqual(rc, 6, err)
        self.assertIn("not made for your identity", err)
        self.assertEqual(other.ok("lock", "list")["locks"], [])
        broken = text[:60] + ("B" if text[60] == "A" else "A") + text[61:]
        rc, _, err = buyer.run("lock", "take-over", broken)
        self.assertEqual(rc, 2, err)
        got = buyer.ok("lock", "take-over", "  " + text + "\n")
        self.assertEqual(got["role"], "owner")
        rc, _, err = buyer.run("lock", "take-over", text)  # once is enough
        self.assertEqual(rc, 1, err)
        buyer.ok("unlock")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        buyer.ok("lock")
        self.lock.advance(2000)
        # The users stayed; the new owner's offline codes open (a fresh secret).
        users = json.dumps(buyer.ok("user", "list"))
        self.assertIn("alice", users)
        code = buyer.ok("pin", "offline", "one-time", "--from", "2026-11-24T08:00:00Z")["pin"]
        self.lock.keypad(code + "#")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        # The new owner shares keys at the new claim generation.
        newcomer = Person(self.tmp, "newcomer")
        newcomer.ok("init")
        key = buyer.ok("key", "share", "--to", newcomer.ok("id", "show", "--no-qr")["identity"]["public_key"],
                       "--name", "nel", "--no-qr", "--role", "guest")["key"]
        newcomer.ok("key", "accept", key)
        newcomer.ok("lock")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")
        log = self.text_log(buyer)
        self.assertIn("lock handed over to a new owner over a session with the owner's key (users kept", log)

    def test_log_follow_retries_while_the_lock_is_away(self):
        self.claim()
        p = subprocess.Popen([CLI, "--keyring", self.owner.keyring, "--wait", "0", "log", "--follow", "--interval", "0.2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.owner.env)
        try:
            lines = []
            threading.Thread(target=lambda: lines.extend(iter(p.stderr.readline, "")), daemon=True).start()
            out = []
            threading.Thread(target=lambda: out.extend(iter(p.stdout.readline, "")), daemon=True).start()
            deadline = time.monotonic() + 60
            while not any("verified through" in l for l in out) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.lock.stop()
            while not any("retrying in" in l for l in lines) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(any("retrying in" in l for l in lines), lines)
            self.assertIsNone(p.poll(), "log --follow exited when the lock went away")
            self.lock.start()
            self.owner.ok("unlock")
            self.lock.advance(2000)
            while not any("unlocked over a session" in l for l in out) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(any("unlocked over a session" in l for l in out), out)
        finally:
            p.send_signal(signal.SIGINT)
            p.wait(30)
        self.assertEqual(p.returncode, 0, lines)

    def test_a_time_zone_with_daylight_saving_is_applied_by_the_lock_offline(self):
        self.claim()
        self.owner.ok("user", "add", "ann", "--type", "week-day")
        self.owner.ok("pin", "add", "--user", "1", "--stdin", stdin="246810\n")
        self.owner.ok("schedule", "weekday", "add", "--user", "1", "--days", "daily", "--hours", "08:00-09:00")
        out = self.owner.ok("settings", "set", "timezone", "Europe/Berlin")["value"]
        self.assertEqual((out["utc_offset_s"], out["dst_offset_s"]), (3600, 3600), out)
        # One change of zone, one record (it was two identical ones).
        zone_records = [e for e in self.owner.ok("log")["events"] if "time zone changed" in e.get("text", "")]
        self.assertEqual(len(zone_records), 1, zone_records)
        # key share --until DATE ends at 24:00 of DATE in the lock's zone, summer time included.
        holder = Person(self.tmp, "holder")
        holder.ok("init")
        mkp = holder.ok("id", "show", "--no-qr")["identity"]["public_key"]
        until = self.owner.ok("key", "share", "--to", mkp, "--name", "summer", "--no-qr",
                              "--until", "2027-07-01")["not_after"]
        self.assertEqual(until, "2027-07-01T22:00:00Z")
        self.assertEqual(out["dst_start"], {"month": 3, "week": 5, "weekday": 0, "minute": 120})
        zone = self.owner.ok("settings", "show")["settings"]["timezone"]
        self.assertEqual(zone, out)
        p = subprocess.run([CLI, "--keyring", self.owner.keyring, "settings", "show"], capture_output=True, text=True,
                           env=self.owner.env, timeout=60)
        self.assertIn("UTC+01:00, +60 min from the last Sunday of March at 02:00 to the last Sunday of October at 03:00",
                      p.stdout)
        # 06:30 UTC in July is 08:30 in Berlin (summer time): the lock knows by itself.
        self.set_time("2027-07-01T06:30:00Z")
        self.assertEqual(self.lock.keypad("246810#")["lockState"], "Unlocked")
        self.relock()
        # In winter the same 06:30 UTC is 07:30: outside.
        self.set_time("2027-12-01T06:30:00Z")
        self.assertEqual(self.lock.keypad("246810#")["lockState"], "Locked")
        # A POSIX rule directly; a rule the lock cannot apply is refused, nothing changes.
        self.owner.ok("settings", "set", "timezone", "EST5EDT,M3.2.0,M11.1.0")
        err = self.refused(self.owner, "settings", "set", "timezone", "CET-1CEST,J60,J300", rc=2)
        self.assertIn("the Jn and n day forms are not supported", err)
        self.refused(self.owner, "settings", "set", "timezone", "Europe/Atlantis", rc=2)
        self.assertEqual(self.owner.ok("settings", "show")["settings"]["timezone"]["utc_offset_s"], -5 * 3600)
        # Only the owner moves the time zone.
        guest = self.guest("gus", "--role", "admin")
        self.refused(guest, "settings", "set", "timezone", "none", rc=3)

    def test_sound_and_led_settings_reach_the_lock_face(self):
        self.claim()
        self.owner.ok("user", "add", "ann")
        self.owner.ok("pin", "add", "--user", "1", "--stdin", stdin="246810\n")
        self.owner.ok("settings", "set", "sound", "silent")
        self.owner.ok("settings", "set", "led", "denials-only")
        shown = self.owner.ok("settings", "show")["settings"]
        self.assertEqual((shown["sound"], shown["led"]), ("silent", "denials-only"))
        self.refused(self.owner, "settings", "set", "sound", "loud", rc=2)
        self.lock.keypad("246810#")
        granted = [s for s in self.lock.status()["indicator"]["recent"] if s["signal"] == "AccessGranted"][-1]
        self.assertEqual((granted["led"], granted["sound"]), (False, "silent"))
        self.lock.keypad("999999#")
        denied = [s for s in self.lock.status()["indicator"]["recent"] if s["signal"] == "AccessDenied"][-1]
        self.assertEqual((denied["led"], denied["sound"]), (True, "silent"))

    def test_revoking_a_name_two_keys_share_revokes_nothing_and_asks_for_the_serial(self):
        self.claim()
        one = self.guest("dup", "--role", "guest")
        two = Person(self.tmp, "dup2")
        two.ok("init")
        mkp = two.ok("id", "show", "--no-qr")["identity"]["public_key"]
        second = self.owner.ok("key", "share", "--to", mkp, "--name", "dup", "--no-qr")
        two.ok("key", "accept", second["key"])
        err = self.refused(self.owner, "key", "revoke", "dup", rc=2)
        self.assertIn("2 keys are named 'dup'", err)
        self.assertIn(str(second["serial"]), err)
        self.assertEqual([k["revoked"] for k in self.owner.ok("key", "list")["issued"] if k.get("revoked") is not None],
                         [False, False])
        self.owner.ok("key", "revoke", str(second["serial"]))
        two_rc, _, _ = two.run("unlock")
        self.assertEqual(two_rc, 3)
        one.ok("unlock")  # the other 'dup' still opens, as the owner can see

    def test_refusals_say_why_in_words_and_what_to_do(self):
        self.claim()
        self.owner.ok("mode", "privacy")
        err = self.refused(self.owner, "unlock")
        self.assertIn("privacy mode", err)
        self.assertIn("mortise mode normal", err)
        self.assertNotIn("OperationError", err)
        self.owner.ok("mode", "normal")
        self.owner.ok("unlock")
        self.lock.advance(2000)
        self.lock.control({"cmd": "battery", "percent": 5})
        err = self.refused(self.owner, "lock")
        self.assertIn("battery is too low to lock", err)
        self.assertIn("Replace the batteries", err)
        self.lock.control({"cmd": "battery", "percent": 80})
        self.relock()
        guest = self.guest("gus", "--uses", "1")
        guest.ok("unlock")
        self.lock.advance(2000)
        self.relock()
        err = self.refused(guest, "unlock")
        self.assertIn("uses are spent", err)
        self.owner.ok("key", "revoke", "gus")
        err = self.refused(guest, "unlock")
        self.assertIn("revoked", err)
        self.assertIn("Ask the lock's owner", err)
        self.owner.ok("mode", "no-remote")
        err = self.refused(self.owner, "unlock", "--remote")
        self.assertIn("no-remote mode", err)

    def test_missing_users_and_empty_slots_are_named_and_never_removed(self):
        self.claim()
        self.owner.ok("user", "add", "ann")
        for args in [("user", "remove", "3"), ("user", "show", "3"), ("user", "enable", "3"),
                     ("user", "update", "3", "--name", "bo"), ("pin", "remove", "--slot", "3"),
                     ("card", "remove", "--slot", "2"), ("schedule", "weekday", "remove", "--user", "1", "--slot", "1"),
                     ("schedule", "weekday", "list", "--user", "2")]:
            err = self.refused(self.owner, *args, rc=2)
            self.assertNotIn("InvalidField", err)
            self.assertNotIn("removed", err)
            self.assertTrue("no user #" in err or "empty" in err or "not set" in err, err)
        code, _, err = self.owner.run("pin", "add", "--user", "4", "--stdin", stdin="246810\n")
        self.assertEqual(code, 2, err)
        self.assertIn("there is no user #4", err)
        self.assertEqual([u["user_name"] for u in self.owner.ok("user", "list")["users"]], ["ann"])
        # Text output speaks words, not raw JSON or Matter names.
        p = subprocess.run([CLI, "--keyring", self.owner.keyring, "user", "show", "1"], capture_output=True,
                           text=True, env=self.owner.env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("user #1 ann  unrestricted  enabled", p.stdout)
        self.assertNotIn("{", p.stdout)

    def test_exit_codes_follow_the_documented_table(self):
        self.claim()
        self.owner.ok("user", "add", "ann")
        # 1: the command line's shape.
        self.refused(self.owner, "user", "frobnicate", rc=1)
        self.refused(self.owner, "pin", "add", rc=1)                       # --user missing
        # 2: a malformed value, or a user or slot that does not exist.
        self.refused(self.owner, "schedule", "weekday", "add", "--user", "1", "--days", "mon", "--hours", "7-19", rc=2)
        self.refused(self.owner, "schedule", "weekday", "add", "--user", "1", "--days", "mon", "--hours", "19:00-19:00", rc=2)
        self.refused(self.owner, "pin", "add", "--user", "1", "--stdin", rc=2)   # no PIN
        self.refused(self.owner, "pin", "add", "--user", "x", rc=2)
        self.refused(self.owner, "time", "set", "yesterday", rc=2)
        self.refused(self.owner, "user", "remove", "9", rc=2)
        # 3: refused by the lock (or by the CLI for a lock rule it knows).
        self.refused(self.owner, "time", "set", "2026-01-01T00:00:00Z", rc=3)
        guest = self.guest("gus")
        self.refused(guest, "user", "add", "mallory", rc=3)

    def test_a_mistyped_command_is_named_with_the_nearest_one(self):
        for args, word, nearest in [(("staus",), "staus", "mortise status"), (("user", "ad", "x"), "ad", "mortise user add"),
                                    (("schedule", "weekdy", "list"), "weekdy", "mortise schedule weekday"),
                                    (("lock", "lsit"), "lsit", "mortise lock list")]:
            err = self.refused(self.owner, *args, rc=1)
            self.assertIn("'%s' is not a command" % word, err)
            self.assertIn("Did you mean `%s`" % nearest, err)
            self.assertNotIn("subcommand is required", err)
        err = self.refused(self.owner, "user", rc=1)
        self.assertIn("`mortise user` needs a command", err)
        self.assertIn("Choose one of: list, show, add", err)
        err = self.refused(self.owner, "xyzzy", rc=1)
        self.assertIn("The commands are: init, id, lock", err)

    def test_an_overnight_weekday_window_is_split_across_midnight(self):
        self.claim("2026-11-23T18:00:00Z")  # Monday 18:00
        self.owner.ok("user", "add", "nia")
        self.owner.ok("pin", "add", "--user", "1", "--stdin", stdin="135790\n")
        out = self.owner.ok("schedule", "weekday", "add", "--user", "1", "--days", "mon", "--hours", "19:00-07:00")
        self.assertEqual(len(out["slots"]), 2)
        listed = self.owner.ok("schedule", "weekday", "list", "--user", "1")["schedules"]
        self.assertEqual(sorted((s["days_mask"], s["start_hour"], s["end_hour"]) for s in listed),
                         [(2, 19, 23), (4, 0, 7)])   # Monday evening, Tuesday morning
        self.assertEqual(self.lock.keypad("135790#")["lockState"], "Locked")     # Monday 18:00
        self.set_time("2026-11-24T06:30:00Z")                                    # Tuesday 06:30
        self.assertEqual(self.lock.keypad("135790#")["lockState"], "Unlocked")
        g = Person(self.tmp, "g")
        g.ok("init")
        mkp = g.ok("id", "show", "--no-qr")["identity"]["public_key"]
        err = self.refused(self.owner, "key", "share", "--to", mkp, "--hours", "19:00-07:00", rc=2)
        self.assertIn("cannot cross midnight", err)

    def test_offline_one_time_codes_never_repeat_and_never_start_dead(self):
        self.claim("2026-11-24T08:00:00Z")
        codes = [self.owner.ok("pin", "offline", "one-time", "--from", "2026-11-24T08:00:00Z")["pin"] for _ in range(4)]
        self.assertEqual(len(set(codes)), 4, codes)
        err = self.refused(self.owner, "pin", "offline", "one-time", "--from", "2026-11-24T08:00:00Z")
        self.assertIn("already issued", err)
        self.assertIn("--from 2026-11-24T09:00:00Z", err)
        fifth = self.owner.ok("pin", "offline", "one-time", "--from", "2026-11-24T09:00:00Z")["pin"]
        self.assertNotIn(fifth, codes)
        # A code whose six hours are over (this device's clock: 07:59) cannot open.
        err = self.refused(self.owner, "pin", "offline", "one-time", "--from", "2026-11-23T20:00:00Z", rc=2)
        self.assertIn("already have expired", err)
        # After an erase-all code, codes it voids are not handed out.
        self.owner.ok("pin", "offline", "erase-all")            # issued at 07:00 (now)
        err = self.refused(self.owner, "pin", "offline", "one-time", rc=2)
        self.assertIn("voids", err)
        self.assertIn("2026-11-24T08:00:00Z or later", err)

    def test_a_key_that_could_never_open_is_refused_at_share_and_at_accept(self):
        self.claim()
        g = Person(self.tmp, "g")
        g.ok("init")
        mkp = g.ok("id", "show", "--no-qr")["identity"]["public_key"]
        for until in ["2026-11-23", "2026-11-24T07:00:00Z"]:   # now is 2026-11-24T07:59Z
            err = self.refused(self.owner, "key", "share", "--to", mkp, "--until", until, "--no-qr", rc=2)
            self.assertIn("already past", err)
        self.assertEqual(self.owner.ok("key", "list")["issued"], [])
        # A date means the end of that day (the lock's local time; UTC here).
        out = self.owner.ok("key", "share", "--to", mkp, "--name", "g", "--until", "2026-11-24", "--no-qr")
        self.assertEqual(out["not_after"], "2026-11-25T00:00:00Z")
        # The holder's device, a day later, does not store it as if it opened.
        g.env["MORTISE_NOW"] = "2026-11-25T09:00:00Z"
        err = self.refused(g, "key", "accept", out["key"], rc=2)
        self.assertIn("expired at 2026-11-25T00:00:00Z", err)
        g.env["MORTISE_NOW"] = TUESDAY_0759
        g.ok("key", "accept", "  " + out["key"] + " \n")   # pasted with spaces: trimmed
        g.ok("unlock")

    def test_endpoints_are_stored_absolute_and_can_be_changed(self):
        p = subprocess.run([CLI, "--keyring", self.owner.keyring, "--json", "claim", self.lock.label(), "--endpoint",
                            os.path.relpath(self.lock.endpoint, self.tmp), "--time", TUESDAY_0759],
                           cwd=self.tmp, capture_output=True, text=True, env=self.owner.env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        [lock] = self.owner.ok("lock", "list")["locks"]
        self.assertEqual(lock["endpoint"], "unix:" + self.lock.endpoint)
        self.owner.ok("status")   # from another directory than the claim's
        # The lock moves: its socket is now reached by another path.
        moved = os.path.join(self.tmp, "elsewhere")
        os.symlink(self.lock.dir, moved)
        self.owner.ok("lock", "endpoint", lock["name"], os.path.join(moved, "lock.sock"))
        self.assertEqual(self.owner.ok("lock", "list")["locks"][0]["endpoint"], "unix:" + os.path.join(moved, "lock.sock"))
        self.owner.ok("status")
        self.refused(self.owner, "lock", "endpoint", "nope", "/x/y.sock", rc=1)
        self.refused(self.owner, "lock", "endpoint", lock["name"], "tcp:host", rc=2)

    def test_a_key_string_with_a_changed_character_is_refused_at_accept(self):
        self.claim()
        g = Person(self.tmp, "g")
        g.ok("init")
        mkp = g.ok("id", "show", "--no-qr")["identity"]["public_key"]
        key = self.owner.ok("key", "share", "--to", mkp, "--name", "g", "--no-qr")["key"]
        before = g.keyring_bytes()
        for at in range(len("MKS1."), len(key), 23):
            changed = key[:at] + ("B" if key[at] != "B" else "C") + key[at + 1:]
            err = self.refused(g, "key", "accept", changed, rc=2)
            self.assertIn("damaged", err)
        self.assertEqual(before, g.keyring_bytes())
        g.ok("key", "accept", key)
        g.ok("unlock")

    def test_key_list_shows_terms_for_the_owner_and_the_guest_its_own_key(self):
        self.claim()
        guest = self.guest("gus", "--from", "2026-11-28T00:00:00Z", "--until", "2026-11-30T00:00:00Z", "--uses", "3",
                           "--days", "sat,sun", "--hours", "08:00-20:00")

        def text(person):
            p = subprocess.run([CLI, "--keyring", person.keyring, "key", "list"], capture_output=True, text=True,
                               env=person.env, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            return p.stdout
        owner = text(self.owner)
        self.assertIn("keys you issued:", owner)
        self.assertIn("- gus  serial ", owner)
        self.assertIn("valid 2026-11-28T00:00:00Z .. 2026-11-30T00:00:00Z, sat,sun 08:00-20:00, 3 uses", owner)
        mine = text(guest)
        self.assertIn("your key: serial ", mine)
        self.assertIn("guest: lock,unlock", mine.replace(", ", ","))
        self.assertIn("3 uses (counted by the lock)", mine)
        [k] = guest.ok("key", "list")["mine"]
        self.assertEqual((k["not_before"], k["not_after"], k["max_uses"]), ("2026-11-28T00:00:00Z", "2026-11-30T00:00:00Z", 3))

    def test_settings_a_new_owner_looks_for_and_renaming_a_lock(self):
        self.claim()
        self.owner.ok("settings", "set", "auto-relock", "10")
        self.owner.ok("settings", "set", "wrong-code-limit", "4")
        self.owner.ok("settings", "set", "utc-offset", "+01:00")
        shown = self.owner.ok("settings", "show")["settings"]
        self.assertEqual((shown["auto_relock_s"], shown["wrong_code_limit"], shown["utc_offset_s"]), (10, 4, 3600))
        self.owner.ok("unlock")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.lock.advance(12000)                 # relocked by itself after 10 s
        self.assertEqual(self.bolt(), "Locked")
        err = self.refused(self.owner, "settings", "set", "wrong-code-limit", "1000", rc=2)
        self.assertIn("out of the range", err)
        self.refused(self.owner, "settings", "set", "auto-relok", "5", rc=2)
        self.refused(self.owner, "settings", "set", "one-touch-locking", "maybe", rc=2)
        self.assertEqual(self.owner.ok("settings", "show")["settings"]["wrong_code_limit"], 4)
        # Warnings a new owner must not miss.
        self.assertEqual(self.owner.ok("status")["warnings"], [])
        self.lock.control({"cmd": "battery", "percent": 15})
        self.owner.ok("unlock")
        self.lock.advance(2000)
        self.lock.control({"cmd": "door", "open": True})
        self.lock.control({"cmd": "thumbturn", "lock": True})
        warnings = " / ".join(self.owner.ok("status")["warnings"])
        self.assertIn("battery is low (15%)", warnings)
        self.assertIn("locked with the door open", warnings)
        self.owner.ok("lock", "rename", "lock", "front-door")
        self.assertEqual([l["name"] for l in self.owner.ok("lock", "list")["locks"]], ["front-door"])
        self.owner.ok("--lock", "front-door", "status")
        self.refused(self.owner, "lock", "rename", "front-door", "bad name", rc=2)

ISO_UTC = __import__("re").compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SNAKE = __import__("re").compile(r"^[a-z][a-z0-9_]*$")
# Keys whose string values are free text or data, never enums (docs/cli.md, JSON output).
FREE_TEXT = {"message", "hint", "text", "name", "holder", "lock", "user_name", "previous", "keyring", "endpoint",
             "identity", "key", "token", "meaning", "pin", "public_key", "lock_id", "issuer", "label", "string",
             "new_name", "key_hash", "setup_code", "path"}
TIME_KEYS = {"time", "at", "valid_from", "valid_until", "not_before", "not_after", "utc", "issued_at", "signed_at",
             "device_time", "lock_time", "expires_at"}


def json_convention_errors(doc, where="$", raw_ok=()):
    """The CLI's --json conventions (docs/cli.md, "JSON output"): snake_case
    keys; times as ISO-8601 UTC strings or null; enum values as lowercase
    words; lists of objects without per-item ok/status."""
    errors = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            at = where + "." + k
            if at in raw_ok:
                continue
            if not SNAKE.match(k):
                errors.append("%s: key is not snake_case" % at)
            if k in TIME_KEYS or k.endswith("_at"):
                if not (v is None or (isinstance(v, str) and ISO_UTC.match(v))):
                    errors.append("%s: time %r is not ISO-8601 UTC or null" % (at, v))
            elif isinstance(v, int) and not isinstance(v, bool) and ("utc" in k or "time" in k) and \
                    not (k.endswith("_s") or k.endswith("_ms") or k.endswith("_percent")):
                errors.append("%s: a number where a time or a duration with its unit is expected" % at)
            if isinstance(v, str) and k not in FREE_TEXT and v[:1].isupper():
                errors.append("%s: enum %r is not lowercase words" % (at, v))
            errors += json_convention_errors(v, at, raw_ok)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            if isinstance(v, dict) and ("ok" in v or "status" in v):
                errors.append("%s[%d]: list item carries ok/status" % (where, i))
            errors += json_convention_errors(v, "%s[%d]" % (where, i), raw_ok)
    return errors


class JsonSchema(Base):
    """Every command's --json document follows one schema (issue 12 item 13)."""

    def test_every_command_prints_one_schema(self):
        seen = {}

        def run(person, *args, rc=0, stdin=None):
            code, out, err = person.run(*args, stdin=stdin)
            self.assertEqual(code, rc, (args, err))
            self.assertIsNotNone(out, (args, "no JSON document"))
            seen[" ".join(a for a in args if not a.startswith(("MKS1", "MKP1", "MC1", "MKR1", "/")))] = out
            return out
        o = self.owner
        run(o, "id", "list")
        run(o, "id", "show", "--no-qr")
        run(o, "id", "new", "spare")
        run(o, "info", "--endpoint", self.lock.endpoint)
        run(o, "claim", self.lock.label(), "--endpoint", self.lock.endpoint, "--time", TUESDAY_0759)
        run(o, "lock", "list")
        run(o, "status")
        run(o, "mode")
        run(o, "mode", "vacation")
        run(o, "mode", "normal")
        run(o, "settings", "show")
        run(o, "settings", "set", "auto-relock", "30")
        run(o, "time", "show")
        run(o, "time", "sync")
        run(o, "time", "set", "2026-11-24T08:00:00Z")
        run(o, "user", "add", "alice", "--type", "week-day")
        run(o, "user", "list")
        run(o, "user", "show", "1")
        run(o, "user", "update", "1", "--name", "alice2")
        run(o, "user", "disable", "1")
        run(o, "user", "enable", "1")
        run(o, "pin", "add", "--user", "1", "--stdin", stdin="246810\n")
        run(o, "pin", "list")
        run(o, "card", "add", "--user", "1", "--uid", "04a1b2c3")
        run(o, "card", "list")
        run(o, "finger", "enroll", "--user", "1", "--uid", "07")
        run(o, "finger", "list")
        run(o, "schedule", "weekday", "add", "--user", "1", "--days", "mon-fri", "--hours", "07:00-19:00")
        run(o, "schedule", "weekday", "list", "--user", "1")
        run(o, "schedule", "yearday", "add", "--user", "1", "--from", "2026-12-01", "--until", "2026-12-31")
        run(o, "schedule", "yearday", "list", "--user", "1")
        run(o, "schedule", "holiday", "add", "--from", "2026-12-24", "--until", "2026-12-27", "--mode", "vacation")
        run(o, "schedule", "holiday", "list")
        run(o, "pin", "offline", "one-time", "--from", "2026-11-24T08:00:00Z")
        run(o, "pin", "offline", "window", "--from", "2026-11-24T08:00:00Z", "--until", "2026-11-25T08:00:00Z")
        run(o, "pin", "offline", "recurring", "--hours", "08:00-10:00", "--from", "2026-11-24", "--until", "2026-11-30")
        run(o, "unlock")
        self.lock.advance(2000)
        run(o, "lock")
        self.lock.advance(2000)
        run(o, "unlatch")
        self.lock.advance(4000)
        g = Person(self.tmp, "gus")
        run(g, "init")
        mkp = run(g, "id", "show", "--no-qr")["identity"]["public_key"]
        key = run(o, "key", "share", "--to", mkp, "--name", "gus", "--no-qr", "--uses", "3",
                  "--days", "mon-fri", "--hours", "07:00-19:00", "--revalidate-every", "3600")["key"]
        run(g, "key", "accept", key)
        token = run(o, "key", "revalidate", "gus", "--no-qr")["token"]
        run(g, "key", "token", token)
        run(g, "key", "list")
        run(o, "key", "list")
        run(o, "log")
        run(o, "key", "revoke", "gus")
        run(g, "unlock", rc=3)  # an error document
        run(o, "dl", "GetUser", '{"userIndex": 1}')
        run(o, "schedule", "weekday", "remove", "--user", "1", "--slot", "1")
        run(o, "schedule", "yearday", "remove", "--user", "1", "--slot", "1")
        run(o, "schedule", "holiday", "remove", "--slot", "1")
        run(o, "card", "remove", "--slot", "1")
        run(o, "finger", "remove", "--slot", "1")
        run(o, "pin", "remove", "--slot", "1")
        run(o, "pin", "offline", "erase-all")
        bob = run(o, "user", "add", "bob")["user"]
        run(o, "user", "remove", str(bob))
        run(o, "lock", "rename", "lock", "front")
        run(o, "lock", "endpoint", "front", self.lock.endpoint)
        run(o, "user", "show", "9", rc=2)
        run(o, "lock", "forget", "front", "--yes")
        problems = []
        for cmd, doc in seen.items():
            # `dl` prints the lock's Door Lock answers as the lock wrote them
            # (Matter names): the one documented exception.
            problems += ["mortise %s: %s" % (cmd, e) for e in json_convention_errors(doc, raw_ok={"$.answers"})]
        if problems:
            self.fail("\n".join(problems))
        # Times are ISO strings, and where a key has a validity, so does the JSON.
        self.assertIsInstance(seen["settings show"]["settings"]["auto_relock_s"], int)
        issued = seen["key list"]["issued"][0]
        self.assertEqual((issued["holder"], issued["not_after"], issued["max_uses"]), ("gus", None, 3), issued)
        self.assertTrue(all(e["time"] is None or ISO_UTC.match(e["time"]) for e in seen["log"]["events"] if "event" in e))
        users = seen["user list"]["users"]
        self.assertEqual(users[0]["user_type"], "week-day-schedule-user", users)
        self.assertEqual(seen["mode vacation"]["mode"], "vacation")


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
