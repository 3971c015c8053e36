#!/usr/bin/env python3
"""The hostile server, end to end (issue 14): the test owns everything the
server has — its database (SQLite, edited with python's sqlite3), its
process, its broker identity (certificate and key: it publishes on a lock's
down topic and reads its answers) and the HTTP answers the CLI gets (a proxy
in front of it) — and shows that with all of it the server cannot open a
door, mint or extend a key, undo a revocation, hide, edit or reorder a log
entry without the owner's tools reporting it, or make a holder believe a
command ran when it did not.

  hostile_server_test.py --server PATH --lockd PATH --cli PATH --broker PATH [HostileServer...]

One broker, one server and one lockd serve the whole file (setUpClass,
uplink_server_test.Stack; about 15 s in all): the scenarios are independent
of one another — each leaves the bolt locked, the server running with the
lock online, and restores what another scenario reads (the door's key, the
log pages); what stays edited (a deleted access-list row, the console's
decoded log rows) no other scenario reads. Every truth is read from the lock
(its status on the simulation socket; the owner's and holders' CLI over the
local socket: the bolt, the lock's own verified log, its verdict on a key)
and from the owner's tools (exit code and words), never from the server.
Waits poll observable state with a bound (no sleeps for time to pass).

The database: SQLite in WAL mode, opened with python's sqlite3 while the
server runs (a second connection with a busy timeout, as its administrator
would edit it: stopping the server would test a restart, not a live hostile
server). The server keeps no copy of the rows these scenarios edit (doors,
door_keys, door_updates, log_pages, log_records): it reads them per request
or per delivery pass, so an edit is what the hostile server then serves or
sends. The broker: the test uses the server's own certificate and key (see
as_the_servers_broker_identity).
"""
import base64
import contextlib
import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import sqlite3
import ssl
import struct
import sys
import tempfile
import threading
import time
import unittest

import e2e_test
import server_test
import uplink_server_test
from e2e_test import Person

PASSWORD = "owner's long password"  # the owner's, as uplink_server_test.Stack signs up


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# --- what a hostile server does to a key string it stores or hands out
# (docs/protocol.md 4.1 KeyCertificateTbs, 17.1 the MKS1 bundle)


def _pb_fields(data):
    """A protobuf message as [(field, wire type, raw value)] in wire order."""
    out, i = [], 0

    def varint():
        nonlocal i
        v, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    while i < len(data):
        key = varint()
        field, wt = key >> 3, key & 7
        if wt == 0:
            out.append((field, wt, varint()))
        elif wt == 1:
            out.append((field, wt, data[i:i + 8]))
            i += 8
        elif wt == 2:
            n = varint()
            out.append((field, wt, data[i:i + n]))
            i += n
        else:
            raise ValueError("wire type %d" % wt)
    return out


def _pb_encode(fields):
    out = bytearray()
    for field, wt, v in fields:
        out += _varint(field << 3 | wt)
        if wt == 0:
            out += _varint(v)
        elif wt == 1:
            out += v
        else:
            out += _varint(len(v)) + v
    return bytes(out)


def edit_leaf(chain, **changes):
    """The chain with its last certificate's tbs fields changed (by the
    names below; None leaves the field out, as 0 is written), the owner's
    signature left as it was."""
    numbers = {"holder_key": 3, "role": 4, "permissions": 5, "not_after": 7}
    certs = [v for f, _, v in _pb_fields(chain)]
    leaf = _pb_fields(certs[-1])
    tbs = _pb_fields(leaf[0][2])
    for name, value in changes.items():
        n = numbers[name]
        tbs = [(f, wt, value if f == n else v) for f, wt, v in tbs if not (f == n and value is None)]
    leaf[0] = (1, 2, _pb_encode(tbs))
    certs[-1] = _pb_encode(leaf)
    return _pb_encode([(1, 2, c) for c in certs])


def tbs_field(chain, name):
    numbers = {"holder_key": 3, "role": 4, "permissions": 5, "not_after": 7}
    leaf = _pb_fields([v for f, _, v in _pb_fields(chain)][-1])
    return dict((f, v) for f, _, v in _pb_fields(leaf[0][2])).get(numbers[name])


def log_items(raw):
    """The items of a log export page (docs/storage-format.md): type (1),
    sequence number (8, little-endian), then by type: a record's length and
    bytes, an anchor's chain and tag, a head's or checkpoint's tag, a signed
    head's time and signature. [(offset, type, seq, size)]"""
    out, at = [], 0
    while at < len(raw):
        kind, seq = raw[at], struct.unpack("<Q", raw[at + 1:at + 9])[0]
        size = 9 + {1: 32, 2: 1 + raw[at + 9] if kind == 2 else 0, 3: 0, 4: 16, 5: 16, 6: 72}[kind]
        out.append((at, kind, seq, size))
        at += size
    return out


def bundle_fields(text):
    assert text.startswith("MKS1."), text
    raw = b64url_decode(text[5:])
    assert raw[0] == 2
    fields, i = {}, 1
    while i < len(raw):
        t, n = raw[i], struct.unpack(">H", raw[i + 1:i + 3])[0]
        fields[t] = raw[i + 3:i + 3 + n]
        i += 3 + n
    return fields


def bundle_text(fields):
    """An MKS1 bundle with a check that matches (the check catches typing
    mistakes, not forgeries: anyone can compute it)."""
    raw = bytearray([2])
    for t in sorted(k for k in fields if k != 0x05):
        raw += bytes([t]) + struct.pack(">H", len(fields[t])) + fields[t]
    raw += b"\x05\x00\x04" + hashlib.sha256(bytes(raw)).digest()[:4]
    return "MKS1." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


# --- a minimal MQTT v5 client: the server's broker identity in the test's hands


def _varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


class Mqtt:
    """Connects to the broker over TLS with a client certificate (here the
    server's: the broker maps its CN to the username `mortise-server`, whose
    ACL writes every lock's down topic and reads their up topics). QoS 1
    publishes carry MQTT v5 correlation data; answers are matched by it."""

    def __init__(self, port, ca, cert, key, client_id):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        ctx.load_cert_chain(cert, key)
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.next_id = 1
        self.answers = {}  # correlation data -> payload
        self.acks = set()
        self.cond = threading.Condition()
        self.closed = False
        body = b"\x00\x04MQTT" + bytes([5, 0x02]) + struct.pack(">H", 60) + _varint(0) + _utf8(client_id)
        self.sock.sendall(self._packet(0x10, body))
        kind, data = self._read()
        assert kind >> 4 == 2 and data[1] == 0, "CONNACK refused: %r" % data
        # From here on only the pump touches the TLS connection: an OpenSSL
        # connection must not be read in one thread while another writes to
        # it (that race once closed this client in the middle of a test).
        # Other threads queue what they send; the pump writes it.
        self.outq = queue.Queue()
        self.rbuf = b""
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    @staticmethod
    def _packet(first, body):
        return bytes([first]) + _varint(len(body)) + body

    def _send(self, first, body):
        self.outq.put(self._packet(first, body))

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("broker closed the connection")
            data += chunk
        return data

    def _read(self):
        first = self._read_exact(1)[0]
        n, mult = 0, 1
        while True:
            b = self._read_exact(1)[0]
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return first, self._read_exact(n)

    def _take_packet(self):
        """One whole packet from the bytes read so far, or None."""
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(self.rbuf):
                return None
            b = self.rbuf[i]
            n += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(self.rbuf) < i + n:
            return None
        first, data = self.rbuf[0], self.rbuf[i:i + n]
        self.rbuf = self.rbuf[i + n:]
        return first, data

    def _pump(self):
        try:
            while True:
                # Writes first (a None asks the pump to stop after them),
                # then whatever the broker sent, waiting briefly for it.
                while True:
                    try:
                        out = self.outq.get_nowait()
                    except queue.Empty:
                        break
                    if out is None:
                        return
                    self.sock.settimeout(30)
                    self.sock.sendall(out)
                self.sock.settimeout(0.05)
                try:
                    chunk = self.sock.recv(65536)
                except (socket.timeout, ssl.SSLWantReadError):
                    continue
                if not chunk:
                    raise EOFError("broker closed the connection")
                self.rbuf += chunk
                while True:
                    packet = self._take_packet()
                    if packet is None:
                        break
                    self._handle(*packet)
        except (OSError, EOFError, ValueError):
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def _handle(self, first, data):
        """One packet from the broker: a PUBLISH (an answer, by its correlation data) or an acknowledgement."""
        kind = first >> 4
        if kind == 3:  # PUBLISH
            qos = (first >> 1) & 3
            tlen = struct.unpack(">H", data[:2])[0]
            at = 2 + tlen
            if qos:
                pid = data[at:at + 2]
                at += 2
            plen, shift, i = 0, 0, at
            while True:
                b = data[i]
                plen |= (b & 0x7F) << shift
                shift += 7
                i += 1
                if not b & 0x80:
                    break
            props, payload = data[i:i + plen], data[i + plen:]
            corr, j = None, 0
            while j < len(props):
                prop = props[j]
                j += 1
                if prop == 0x09:
                    m = struct.unpack(">H", props[j:j + 2])[0]
                    corr = props[j + 2:j + 2 + m]
                    j += 2 + m
                elif prop in (0x03, 0x08):  # content type, response topic (strings)
                    j += 2 + struct.unpack(">H", props[j:j + 2])[0]
                elif prop == 0x01:  # payload format indicator
                    j += 1
                elif prop == 0x02:  # message expiry interval
                    j += 4
                elif prop == 0x23:  # topic alias
                    j += 2
                else:
                    break  # not one a lock sends: ignore the rest
            if qos:
                self._send(0x40, pid + b"\x00")
            with self.cond:
                if corr is not None:
                    self.answers[bytes(corr)] = payload
                self.cond.notify_all()
        elif kind in (4, 9):  # PUBACK, SUBACK
            with self.cond:
                self.acks.add(struct.unpack(">H", data[:2])[0])
                self.cond.notify_all()

    def _id(self):
        pid = self.next_id
        self.next_id += 1
        return pid

    def _wait_ack(self, pid):
        with self.cond:
            assert self.cond.wait_for(lambda: pid in self.acks or self.closed, 30) and pid in self.acks, \
                "no acknowledgement from the broker"

    def subscribe(self, topic):
        pid = self._id()
        self._send(0x82, struct.pack(">H", pid) + _varint(0) + _utf8(topic) + b"\x01")
        self._wait_ack(pid)

    def publish(self, topic, payload, corr):
        pid = self._id()
        props = b"\x09" + struct.pack(">H", len(corr)) + corr
        self._send(0x32, _utf8(topic) + struct.pack(">H", pid) + _varint(len(props)) + props + payload)
        self._wait_ack(pid)

    def answer(self, corr, bound_s=30):
        with self.cond:
            self.cond.wait_for(lambda: corr in self.answers or self.closed, bound_s)
            return self.answers.get(corr)

    def close(self):
        """DISCONNECT, then the pump ends before the descriptor is closed:
        OpenSSL keeps the descriptor's number, so a pump still reading after
        close() would read whatever file next gets that number (it once ate
        the first bytes of a CLI's output pipe)."""
        self._send(0xE0, b"\x00" + _varint(0))
        self.outq.put(None)  # the pump writes the DISCONNECT, then ends
        self.pump.join(30)
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass
        assert not self.pump.is_alive(), "the MQTT pump did not end"
        self.sock.close()


class HostileServer(unittest.TestCase):
    """Scenarios in the order of the issue's promise; each name carries the
    catalogue id (docs/threat-model.md)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mortise-hostile-e2e-")
        os.chmod(cls.tmp, 0o700)
        cls.stack = uplink_server_test.Stack(cls.tmp)
        cls.broker, cls.server, cls.proxy = cls.stack.broker, cls.stack.server, cls.stack.proxy
        cls.lock, cls.owner, cls.pki, cls.db_path = cls.stack.lock, cls.stack.owner, cls.stack.pki, cls.stack.db_path
        cls.mqtt = None
        try:
            cls.stack.register()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.org, cls.door, cls.lock_id, cls.browser = cls.stack.org, cls.stack.door, cls.stack.lock_id, cls.stack.browser

    @classmethod
    def tearDownClass(cls):
        if cls.mqtt:
            cls.mqtt.close()
        cls.stack.server = cls.server  # restarted by a scenario
        cls.stack.stop()
        # The server's log stays in the build tree (CTest's working directory).
        with open("e2e_hostile_server.log", "w") as f:
            f.write("".join(cls.server.lines))
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers

    @classmethod
    def wait_until(cls, what, pred, bound_s=30):
        cls.stack.wait_for(what, pred, bound_s)

    @classmethod
    def sync_clocks(cls, *people):
        """Each device's clock (MORTISE_NOW) reads the lock's: envelopes
        live 30 s of the lock's time, and the scenarios move it further."""
        utc = cls.lock.status()["utc"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(utc))
        for p in (cls.owner,) + people:
            p.env["MORTISE_NOW"] = now

    @classmethod
    def online(cls):
        return cls.stack.online()

    @classmethod
    def topic(cls, leaf):
        return "mortise/v1/locks/%s/%s" % (cls.lock_id, leaf)

    def browser_account(self):
        status, me, _ = self.browser.call("GET", "/api/v1/me")
        return me["account"]["id"]

    def api(self, method, path, body=None):
        return self.browser.call(method, "/api/v1/orgs/%s%s" % (self.org, path), body)

    def door_path(self):
        return "/doors/%s" % self.door["id"]

    def db(self):
        """The server's database, opened beside the running server."""
        c = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        c.execute("PRAGMA busy_timeout = 30000")
        return c

    def bolt(self):
        return self.lock.status()["lockState"]

    def relock(self):
        """Locks locally (the owner at the door) and checks it."""
        self.sync_clocks()
        self.owner.ok("lock")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")

    @contextlib.contextmanager
    def as_the_servers_broker_identity(self):
        """The test takes the server's place on the broker: the server
        process is paused (SIGSTOP), the test connects with the server's
        certificate and key (the broker names the client by its certificate,
        `mortise-server`, so this connection replaces the server's: one
        speaker at a time, as a hostile server process would be), subscribes
        to the lock's answers, and on leaving gives the link back (SIGCONT;
        the server reconnects and sees the lock online again)."""
        cls = type(self)
        cls.server.proc.send_signal(signal.SIGSTOP)
        try:
            cls.mqtt = Mqtt(cls.broker.port, cls.pki["ca"], cls.pki["cert"], cls.pki["key"], "hostile-test")
            cls.mqtt.subscribe(cls.topic("up"))
            yield cls.mqtt
        finally:
            if cls.mqtt:
                cls.mqtt.close()
                cls.mqtt = None
            cls.server.proc.send_signal(signal.SIGCONT)
        cls.wait_until("the server's link back and the lock online", cls.online)

    def inject(self, frame, corr=None, bound_s=30):
        """Publishes one frame on the lock's down topic as the server's
        identity and returns the lock's answer (None: none within bound_s).
        Inside as_the_servers_broker_identity()."""
        corr = corr or os.urandom(16)
        self.mqtt.publish(self.topic("down"), frame, corr)
        return self.mqtt.answer(corr, bound_s)

    def refused_frames(self):
        return self.lock.status()["uplink"]["refusedFrames"]

    def capture_envelopes(self):
        """Keeps every envelope the CLI sends for relaying (the server sees them all)."""
        seen = []

        def observe(path, data):
            if path.endswith("/remote") and data:
                seen.append(b64url_decode(json.loads(data)["envelope"]))

        self.proxy.observe = observe
        return seen

    def setUp(self):
        self.sync_clocks()
        self.proxy.rewrite = self.proxy.intercept = None
        self.proxy.observe = None
        self.assertEqual(self.bolt(), "Locked")

    def tearDown(self):
        self.proxy.rewrite = self.proxy.intercept = None
        self.proxy.observe = None

    def restart_server(self, kill=False):
        """The server process goes away (SIGKILL or SIGTERM) and comes back
        on the same database; the proxy (the URL the CLI knows) follows it."""
        cls = type(self)
        if kill:
            cls.server.proc.kill()
            cls.server.proc.wait(30)
        else:
            cls.server.stop()
        lines = cls.server.lines
        cls.server = cls.stack.server = server_test.Server(os.path.dirname(self.db_path))
        cls.server.lines = lines + cls.server.lines
        cls.proxy.target = cls.server.url
        cls.browser = server_test.Browser(cls.server, "owner@example.org", PASSWORD)
        cls.wait_until("the lock online on the restarted server", cls.online)

    # --- 1. it cannot open a door

    def test_A03_A10_a_replayed_withheld_or_forged_envelope_sent_down_the_broker_opens_nothing(self):
        self.owner.ok("log")  # read up to here: the next read shows what this scenario made
        seen = self.capture_envelopes()
        out = self.owner.ok("unlock", "--via-server")
        self.assertEqual(out["state"], "done")
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.relock()
        [genuine_unlock] = seen
        # Replayed on the lock's down topic, as the server's identity, at
        # once and after its expiry: the lock answers (an unsigned refusal)
        # and the bolt does not move.
        with self.as_the_servers_broker_identity():
            for _ in range(2):
                self.assertIsNotNone(self.inject(b"\x03" + genuine_unlock))
                self.lock.advance(2000)
                self.assertEqual(self.bolt(), "Locked")
            self.lock.advance(31000)
            self.assertIsNotNone(self.inject(b"\x03" + genuine_unlock))
            self.lock.advance(2000)
            self.assertEqual(self.bolt(), "Locked")

        # Withheld: the server keeps a fresh unlock and answers "no answer"
        # (the holder is told the outcome is unknown) ...
        self.sync_clocks()
        uplink_server_test.answer_relays(self.proxy, 504, uplink_server_test.NO_ANSWER)
        rc, out, err = self.owner.run("unlock", "--via-server")
        self.assertEqual(rc, 4, err)
        self.assertIn("outcome", err)
        self.proxy.intercept = None
        withheld = seen[-1]
        self.assertNotEqual(withheld, genuine_unlock)
        with self.as_the_servers_broker_identity():
            # ... then sends it altered: one bit flipped at each of several
            # places (the command, the counter, the holder's chain, the
            # signature), with a new correlation each time. Nothing opens.
            for at in (1, len(withheld) // 4, len(withheld) // 2, 3 * len(withheld) // 4, len(withheld) - 1):
                forged = bytearray(withheld)
                forged[at] ^= 0x01
                self.assertIsNotNone(self.inject(b"\x03" + bytes(forged)))
                self.lock.advance(500)
                self.assertEqual(self.bolt(), "Locked", at)
            # Another lock's type byte, a claim and a session hello on the
            # uplink: no answer at all, counted as refused.
            refused = self.refused_frames()
            corrs = [os.urandom(16), os.urandom(16)]
            for corr, frame in zip(corrs, (b"\x01" + withheld[:64], b"\x02" + withheld[:64])):
                self.mqtt.publish(self.topic("down"), frame, corr)
            self.wait_until("the lock counting the refused frames", lambda: self.refused_frames() >= refused + 2)
            self.assertEqual([self.mqtt.answers.get(c) for c in corrs], [None, None])
            # ... and the genuine withheld unlock, late (after its 30 s life):
            # refused, the bolt stays.
            self.lock.advance(31000)
            self.assertIsNotNone(self.inject(b"\x03" + withheld))
            self.lock.advance(2000)
            self.assertEqual(self.bolt(), "Locked")
        # The owner's own log on the lock (read over the local link, chain
        # verified with the pinned key) has exactly one unlock since.
        log = self.owner.ok("log")
        self.assertTrue(log["verified"], log)
        unlocks = [e for e in log["events"] if e.get("event") == "lock-operation" and
                   e.get("lock_operation_type") == "unlock"]
        self.assertEqual(len(unlocks), 1, unlocks)

    def test_A09_a_swapped_door_key_in_the_database_makes_no_forged_answer_verify(self):
        # The server keeps a genuine lock-signed answer (to a lock command).
        kept = self.stack.kept_answer()
        # It replaces the door's lock key in its database with a key of its
        # choosing (here the owner's public key: any valid P-256 key), so
        # its own checks pass whatever it signs or replays ...
        with self.db() as c:
            (real_key,) = c.execute("SELECT lock_public_key FROM doors WHERE id = ?", (self.door["id"],)).fetchone()
            c.execute("UPDATE doors SET lock_public_key = owner_public_key WHERE id = ?", (self.door["id"],))
        try:
            status, doc, _ = self.api("GET", self.door_path())
            self.assertEqual(status, 200, doc)
            self.assertNotEqual(doc["door"]["lock_public_key"], real_key)
            # ... and answers the next unlock, which it withholds, with the
            # kept answer, verdict "confirmed": the CLI verifies against the
            # key it pinned at the claim and says so; nothing opened.
            self.sync_clocks()
            uplink_server_test.answer_relays(self.proxy, 200, uplink_server_test.confirmed(kept))
            rc, out, err = self.owner.run("unlock", "--via-server")
            self.assertEqual(rc, 6, err)
            self.assertIn("not signed by the lock or not about it", err)
            self.assertNotIn("state", out)
            self.lock.advance(2000)
            self.assertEqual(self.bolt(), "Locked")
            # The real relay with the swapped key: the lock acts on the
            # holder's genuine command and signs its answer, which the
            # server's own check now refuses (502 bad_answer); the CLI,
            # without an answer it can verify, says the outcome is unknown,
            # never that it ran or did not.
            self.proxy.intercept = None
            self.sync_clocks()
            rc, out, err = self.owner.run("lock", "--via-server")
            self.assertNotEqual(rc, 0, err)
            self.assertNotIn("state", out or {})
        finally:
            with self.db() as c:
                c.execute("UPDATE doors SET lock_public_key = ? WHERE id = ?", (real_key, self.door["id"]))
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")

    # --- 2. it cannot make a holder believe a command ran

    def test_A09_a_forged_confirmed_result_or_a_dropped_answer_is_never_shown_as_done(self):
        # A "confirmed" verdict with no result, garbage, or a result cut short.
        for result in ("", "AAAA", "not base64 at all!"):
            self.sync_clocks()
            uplink_server_test.answer_relays(self.proxy, 200, uplink_server_test.confirmed(result))
            rc, out, err = self.owner.run("unlock", "--via-server")
            self.assertIn(rc, (2, 6), (result, err))
            self.assertNotIn("state", out or {}, result)
            self.lock.advance(2000)
            self.assertEqual(self.bolt(), "Locked", result)
        # "Lock offline" / "no answer" when it did relay: said plainly, exit 4.
        self.proxy.intercept = None

        def drop(path, status, body):
            if path.endswith("/remote"):
                return 504, uplink_server_test.NO_ANSWER
            return status, body

        self.proxy.rewrite = drop
        self.sync_clocks()
        rc, out, err = self.owner.run("unlock", "--via-server")
        self.assertEqual(rc, 4, err)
        self.assertIn("outcome of the remote unlock", err)
        self.assertIn("is unknown", err)
        # It ran (the lock's truth), and the holder was told only "unknown".
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.relock()

        # The server process dies with the command in flight: relayed, the
        # lock acted, the answer never leaves the server. The CLI says
        # nothing ran or did not; the lock's status is the truth.
        def die(path, status, body):
            if path.endswith("/remote"):
                self.server.proc.kill()
                return None
            return status, body

        self.proxy.rewrite = die
        self.sync_clocks()
        rc, out, err = self.owner.run("unlock", "--via-server")
        self.proxy.rewrite = None
        self.assertEqual(rc, 4, err)
        self.assertIn("unknown", err)
        self.assertNotIn("state", out or {})
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")
        self.relock()
        self.restart_server(kill=True)


    # --- 3. it cannot mint or extend a key

    def take(self, p, key_text):
        """`p`'s device takes a key string in place of the one it has."""
        if p.ok("lock", "list")["locks"]:
            p.ok("lock", "forget", "lock")
        p.ok("key", "accept", key_text)

    def test_A09_A12_a_key_the_server_extends_or_mints_is_refused_by_the_lock(self):
        """The server stores the keys the owner issues (to assign them to
        people); it edits one in its database and hands it out with a check
        that matches. The holder's device cannot tell (only the lock can
        verify the owner's signature); the lock refuses."""
        dan = Person(self.tmp, "dan")
        dan.ok("init")
        mkp = dan.ok("id", "show", "--no-qr")["identity"]["public_key"]
        until = self.lock.status()["utc"] + 120
        share = self.owner.ok("key", "share", "--to", mkp, "--name", "dan", "--no-qr", "--until",
                              time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)))
        dan.ok("key", "accept", share["key"])
        self.assertTrue(self.opens(dan))
        # Its window ends (the lock's clock): refused.
        self.lock.advance(121000)
        self.assertFalse(self.opens(dan))

        # The server extends it by a year in the copy it stores ...
        status, doc, _ = self.api("POST", "/keys", {"account_id": self.browser_account(), "chain": share["key"],
                                                    "door_id": self.door["id"]})
        self.assertEqual(status, 201, doc)
        with self.db() as c:
            (chain_hex,) = c.execute("SELECT chain_hex FROM door_keys WHERE serial = ?",
                                     ("%016x" % share["serial"],)).fetchone()
            chain = bytes.fromhex(chain_hex)
            self.assertEqual(tbs_field(chain, "not_after"), until)
            extended = edit_leaf(chain, not_after=until + 365 * 86400)
            c.execute("UPDATE door_keys SET chain_hex = ? WHERE serial = ?", (extended.hex(), "%016x" % share["serial"]))
        # ... and hands it to dan as a key string: his device accepts it
        # (it cannot verify the owner's signature), the lock refuses it.
        fields = bundle_fields(share["key"])
        self.assertEqual(fields[0x02], chain)
        self.take(dan, bundle_text({**fields, 0x02: extended}))
        self.assertFalse(self.opens(dan))

        # It mints: the same certificate for a holder the owner never named
        # (eve's key in place of dan's), with no end, as an admin with every
        # right an admin may hold. Eve's device accepts it; the lock refuses it.
        eve = Person(self.tmp, "eve")
        eve.ok("init")
        eve_key = b64url_decode(eve.ok("id", "show", "--no-qr")["identity"]["public_key"][5:])[:33]
        for changes in ({"holder_key": eve_key},
                        {"holder_key": eve_key, "not_after": None},
                        {"holder_key": eve_key, "not_after": None, "role": 2, "permissions": 0x3F7F}):
            minted = edit_leaf(chain, **changes)
            self.take(eve, bundle_text({**fields, 0x02: minted}))
            self.assertFalse(self.opens(eve), changes)
        # Dan's genuine key: his own device (its clock now the lock's) says
        # it has expired.
        self.sync_clocks(dan)
        dan.ok("lock", "forget", "lock")
        rc, _, err = dan.run("key", "accept", share["key"])
        self.assertEqual(rc, 2, err)

    # --- 4. it cannot undo a revocation

    def person(self, name):
        """Someone with an account in the organisation, a keyring, and a key
        the owner shares and stores on the server, assigned to them."""
        p = Person(self.tmp, name)
        p.ok("init")
        email = name + "@example.org"
        status, doc, _ = self.server.call("POST", "/api/v1/accounts", {"email": email, "password": PASSWORD + name})
        self.assertEqual(status, 201, doc)
        b = server_test.Browser(self.server, email, PASSWORD + name)
        status, inv, _ = self.api("POST", "/invitations", {"role": "member"})
        self.assertEqual(status, 201, inv)
        status, doc, _ = b.call("POST", "/api/v1/invitations/accept", {"token": inv["token"]})
        self.assertEqual(status, 200, doc)
        status, me, _ = b.call("GET", "/api/v1/me")
        p.account = me["account"]["id"]
        mkp = p.ok("id", "show", "--no-qr")["identity"]["public_key"]
        share = self.owner.ok("key", "share", "--to", mkp, "--name", name, "--no-qr")
        p.ok("key", "accept", share["key"])
        status, doc, _ = self.api("POST", "/keys", {"account_id": p.account, "chain": share["key"],
                                                    "door_id": self.door["id"]})
        self.assertEqual(status, 201, doc)
        return p

    def opens(self, p):
        """Whether `p`'s key opens the door now (over the local link; the
        lock's own verdict), relocking after."""
        self.sync_clocks(p)
        rc, _, err = p.run("unlock")
        if rc == 0:
            self.lock.advance(2000)
            self.assertEqual(self.bolt(), "Unlocked")
            self.relock()
            return True
        # Refused by the lock: its verdict on the key (3), or the handshake
        # the lock ends because the owner's signature on the key does not
        # verify (6, "not issued by its owner").
        self.assertIn(rc, (3, 6), err)
        self.assertNotIn("cannot connect", err)
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Locked")
        return False

    def owner_list_row(self):
        with self.db() as c:
            return c.execute("SELECT version, update_hex, summary, reported_version, attempts, last_status "
                             "FROM door_updates WHERE door_id = ? AND kind = 'access_list' AND issuer = 'owner'",
                             (self.door["id"],)).fetchone()

    def remove_everywhere(self, p, version):
        """The owner removes `p` through the server (a list signed on the
        device); the server delivers it; the lock reports holding it."""
        self.sync_clocks()
        self.owner.ok("server", "person", "remove-everywhere", p.account, "--org", self.org)
        self.wait_until("the lock holding list version %d" % version,
                        lambda: (self.owner_list_row() or (0, "", "", 0))[3] >= version)
        return self.owner_list_row()

    def test_A01_A03_an_old_access_list_restored_in_the_database_or_replayed_on_the_broker_undoes_no_revocation(self):
        bob, carol = self.person("bob"), self.person("carol")
        self.assertTrue(self.opens(bob))
        self.assertTrue(self.opens(carol))
        v1 = self.remove_everywhere(bob, 1)   # list 1: bob revoked
        self.assertEqual(v1[0], 1)
        self.assertFalse(self.opens(bob))
        self.assertTrue(self.opens(carol))
        v2 = self.remove_everywhere(carol, 2)  # list 2: bob and carol revoked
        self.assertEqual(v2[0], 2)
        self.assertFalse(self.opens(carol))

        # 1. The database restores list 1 (carol not revoked) as the door's
        #    owner list, pending: the deliverer sends it again. The lock
        #    answers that it holds version 2; carol stays revoked.
        with self.db() as c:
            c.execute("UPDATE door_updates SET version = 1, update_hex = ?, summary = ?, reported_version = 0, "
                      "confirmed_version = 0, attempts = 0, next_attempt_at = 0, last_status = 'pending' "
                      "WHERE door_id = ? AND kind = 'access_list' AND issuer = 'owner'",
                      (v1[1], v1[2], self.door["id"]))
        self.wait_until("the restored list sent again", lambda: self.owner_list_row()[4] >= 1)
        row = self.owner_list_row()
        self.assertEqual((row[0], row[3], row[5]), (1, 2, "held"))  # the lock: "not above the version I hold: 2"
        self.assertFalse(self.opens(carol))
        self.assertFalse(self.opens(bob))

        # 2. On the broker, as the server: list 1 replayed, list 2 replayed,
        #    and list 2 with a flipped bit (the signature; the revoked
        #    entries). The lock's reply (05, kind, status, held version):
        #    never applied, the held version stays 2.
        old, new = bytes.fromhex(v1[1]), bytes.fromhex(v2[1])
        forged = []
        for at in (len(new) // 2, len(new) - 1):
            f = bytearray(new)
            f[at] ^= 0x01
            forged.append(bytes(f))
        with self.as_the_servers_broker_identity():
            for update in [old, new] + forged:
                reply = self.inject(b"\x05\x01" + update)
                if update is forged[0] and reply == b"\x00":
                    continue  # no longer decodes strictly: answered 0x00, changes nothing
                # 75 bytes: with the lock's receipt ("not above: I hold 2"),
                # while its signature budget lasts; 11 without.
                self.assertIn(len(reply), (11, 75), reply)
                status, held = reply[2], struct.unpack("<Q", reply[3:11])[0]
                self.assertNotEqual(status, 0, update.hex())
                self.assertEqual(held, 2)
        self.assertFalse(self.opens(carol))
        self.assertFalse(self.opens(bob))

        # 3. The server forgets the revocation altogether (the row deleted):
        #    nothing is sent, the lock still refuses.
        with self.db() as c:
            c.execute("DELETE FROM door_updates WHERE door_id = ? AND kind = 'access_list'", (self.door["id"],))
        status, doc, _ = self.api("GET", self.door_path() + "/updates")
        self.assertEqual(status, 200, doc)
        self.assertEqual([u for u in doc["updates"] if u["kind"] == "access_list"], [])
        self.assertFalse(self.opens(carol))
        self.assertFalse(self.opens(bob))


    def test_A09_a_confirmed_version_or_receipt_written_into_the_database_does_not_make_the_cli_say_confirmed(self):
        frank = self.person("frank")
        self.assertTrue(self.opens(frank))
        # The genuine path first: the lock's receipt for the list, verified
        # by the owner's CLI with the pinned lock key (the lock's clock moved
        # since its last signature: its budget is whole).
        self.lock.advance(3000)
        out = self.owner.ok("key", "revoke", "frank", "--via-server", "--wait=30")
        self.assertTrue(out["confirmed"], out)
        self.assertEqual(out["doors"][0]["state"], "confirmed")
        self.assertFalse(self.opens(frank))
        with self.db() as c:
            (genuine,) = c.execute("SELECT receipt FROM door_updates WHERE door_id = ? AND kind = 'access_list' "
                                   "AND issuer = 'owner'", (self.door["id"],)).fetchone()
        self.assertEqual(len(genuine), 150)  # the lock's 75-byte answer, hex
        # The hostile database: every owner list stored from now on is
        # marked confirmed at its own version the moment it is stored (so
        # the deliverer never sends it), with `receipt` as written here:
        # none; the lock's genuine receipt of the previous list; that receipt
        # with its held version raised to the new one.
        held_raised = bytearray(bytes.fromhex(genuine))
        held_raised[3] = 0xFF  # held version (LE64): far above; the signature no longer covers it
        variants = [("no receipt", ""), ("the previous list's receipt", genuine),
                    ("an edited receipt", bytes(held_raised).hex())]
        try:
            for what, receipt in variants:
                with self.db() as c:
                    c.execute("DROP TRIGGER IF EXISTS hostile_confirmed")
                    c.execute("CREATE TRIGGER hostile_confirmed AFTER UPDATE OF version ON door_updates "
                              "WHEN NEW.kind = 'access_list' AND NEW.issuer = 'owner' BEGIN "
                              "UPDATE door_updates SET confirmed_version = NEW.version, reported_version = NEW.version, "
                              "attempts = 1, last_status = 'applied', receipt = '%s' "
                              "WHERE door_id = NEW.door_id AND kind = NEW.kind AND issuer = NEW.issuer; END" % receipt)
                rc, out, err = self.owner.run("key", "revoke", "frank", "--via-server", "--wait=2")
                self.assertEqual(rc, 8, (what, err))
                self.assertFalse(out["confirmed"], what)
                door = out["doors"][0]
                self.assertNotEqual(door["state"], "confirmed", what)
                self.assertIn("server says", door["reason"], what)
                if receipt:
                    self.assertIn("does not verify", door["reason"], what)
                status, doc, _ = self.api("GET", self.door_path() + "/updates")
                row = [u for u in doc["updates"] if u["kind"] == "access_list" and u["issuer"] == "owner"][0]
                self.assertEqual((row["version"], row["confirmed_version"], row["evidence"]),
                                 (out["access_list_version"], out["access_list_version"], "confirmed"), what)
        finally:
            with self.db() as c:
                c.execute("DROP TRIGGER IF EXISTS hostile_confirmed")
        # The database mended: the deliverer sends the newest list, and the
        # lock's own receipt for it is what the CLI calls confirmed.
        with self.db() as c:
            c.execute("UPDATE door_updates SET confirmed_version = 0, reported_version = 0, attempts = 0, "
                      "next_attempt_at = 0, last_status = 'pending', receipt = '' "
                      "WHERE door_id = ? AND kind = 'access_list' AND issuer = 'owner'", (self.door["id"],))
        self.lock.advance(3000)
        out = self.owner.ok("key", "revoke", "frank", "--via-server", "--wait=30")
        self.assertTrue(out["confirmed"], out)
        self.assertFalse(self.opens(frank))

    # --- 5. it cannot hide, edit or reorder a log entry unseen

    def log_pages(self):
        with self.db() as c:
            return c.execute("SELECT page_no, items FROM log_pages WHERE door_id = ? ORDER BY page_no",
                             (self.door["id"],)).fetchall()

    def server_chain(self):
        """(last stored record, signed through) as the server's database has them."""
        with self.db() as c:
            row = c.execute("SELECT last_seq, signed_through FROM log_chains WHERE door_id = ?",
                            (self.door["id"],)).fetchone()
            return row or (0, 0)

    def owners_check(self):
        """The owner's tool: the server's stored pages, verified on the
        device with the lock key pinned at the claim."""
        self.sync_clocks()
        return self.owner.run("log", "--server", "--from", "1")

    def test_A02_a_log_page_edited_deleted_or_reordered_in_the_database_is_reported_by_the_owners_tools(self):
        # Records on the lock, uploaded in several pages as they happen;
        # then the lock's timed signed head (10 minutes of its time later).
        for _ in range(3):
            self.sync_clocks()
            self.owner.ok("unlock")
            self.lock.advance(2000)
            self.relock()
            head = self.lock.status()["log"]["head"]
            self.wait_until("the server storing record %d" % head, lambda: self.server_chain()[0] >= head - 1)
        # The lock signs its head when records wait unsigned: at once after
        # a start, then every 10 minutes of its time (a head made after its
        # records went up follows them at once, in a page from its record:
        # docs/uplink.md). The lock restarts here so that it sends its log
        # again from its custody cursor in full pages, with the head: one
        # lock-signed copy holds every record, and an edit anywhere breaks
        # it. (With one record a page and the head in a page of its own,
        # the signature still vouches, correctly, for the records after a
        # touched one: their chain reaches it.)
        last = self.server_chain()[0]
        self.lock.stop()
        self.lock.start()
        # Remote envelopes must expire more than 30 s (lock time) after the
        # lock's start: let it run 10 s, as at the first start.
        self.lock.advance(10000)
        self.wait_until("the server holding the lock's signed head", lambda: self.server_chain()[1] >= last)
        self.wait_until("the lock online again", self.online)
        baseline = self.owners_check()
        self.assertEqual(baseline[0], 0, baseline[2])
        self.assertTrue(baseline[1]["verified"])
        events = baseline[1]["events"]
        original = self.log_pages()

        def put(pages):
            with self.db() as c:
                for page_no, items in pages:
                    c.execute("UPDATE log_pages SET items = ? WHERE door_id = ? AND page_no = ?",
                              (items, self.door["id"], page_no))

        def reported(what):
            """The owner's tool says the copy does not verify (exit 6) and
            vouches for nothing from the touched record on; restored, the
            copy verifies again."""
            rc, out, err = self.owners_check()
            self.assertEqual(rc, 6, (what, err))
            self.assertIn("did not verify", err)
            self.assertFalse(out["verified"], what)
            self.assertEqual([e["seq"] for e in out["events"] if e["seq"] >= target and e["signed"]], [], what)
            put(original)
            self.assertEqual(self.owners_check()[0], 0, what)
            return out

        # Every copy of one event record is edited the same way (its user
        # index changed, its CRC fixed: the CRC catches flash errors, not a
        # forger), as a database administrator would do it.
        target = [e["seq"] for e in events if e.get("event") == "lock-operation"][0]
        edited = []
        for page_no, items in original:
            raw = bytearray.fromhex(items)
            for at, kind, seq, size in log_items(raw):
                if kind == 2 and seq == target:
                    rec = at + 10
                    n = raw[at + 9]
                    raw[rec + (7 if n == 20 else 12)] ^= 0x01
                    raw[rec + n - 2:rec + n] = e2e_test.crc16_ccitt_false(raw[rec:rec + n - 2]).to_bytes(2, "little")
            edited.append((page_no, raw.hex()))
        put(edited)
        out = reported("edited")
        self.assertTrue([p for p in out["problems"] if "do not verify with the pinned lock key" in p], out["problems"])

        # Every copy of it removed (the entry hidden).
        put([(n, bytes(b"".join(bytes.fromhex(i)[at:at + size] for at, kind, seq, size in
                                 log_items(bytes.fromhex(i)) if not (kind == 2 and seq == target))).hex())
             for n, i in original])
        out = reported("hidden")
        self.assertIn({"first": target, "last": target}, out["gaps"])

        # Two entries swapped wherever both appear (reordered).
        second = [e["seq"] for e in events if e.get("event") == "lock-operation"][1]

        def swapped(items):
            raw = bytes.fromhex(items)
            parts = [(kind, seq, raw[at:at + size]) for at, kind, seq, size in log_items(raw)]
            idx = {seq: k for k, (kind, seq, _) in enumerate(parts) if kind == 2}
            if target in idx and second in idx:
                i, j = idx[target], idx[second]
                parts[i], parts[j] = parts[j], parts[i]
            return b"".join(p for _, _, p in parts).hex()

        put([(n, swapped(i)) for n, i in original])
        out = reported("reordered")
        self.assertNotEqual(out["problems"], [])

        # The decoded rows the console reads (`GET .../log`): one record's
        # words rewritten, another deleted, the raw pages left alone. The
        # console shows what the server wrote; the owner's tool reads the
        # pages and shows the lock's records, verified.
        with self.db() as c:
            (summary,) = c.execute("SELECT summary FROM log_records WHERE door_id = ? AND seq = ?",
                                   (self.door["id"], target)).fetchone()
            summary = dict(json.loads(summary), text="nothing happened")
            c.execute("UPDATE log_records SET summary = ? WHERE door_id = ? AND seq = ?",
                      (json.dumps(summary), self.door["id"], target))
            c.execute("DELETE FROM log_records WHERE door_id = ? AND seq = ?", (self.door["id"], second))
        status, doc, _ = self.api("GET", self.door_path() + "/log?limit=100")
        self.assertEqual(status, 200, doc)
        console = {e["seq"]: e for e in doc["items"]}
        self.assertEqual(console[target]["text"], "nothing happened")
        self.assertNotIn(second, console)
        rc, out, err = self.owners_check()
        self.assertEqual(rc, 0, err)
        mine = {e["seq"]: e for e in out["events"]}
        self.assertEqual(mine[target]["text"], [e for e in events if e["seq"] == target][0]["text"])
        self.assertIn(second, mine)
        self.assertTrue(out["verified"])


if __name__ == "__main__":
    uplink_server_test.main("HostileServer")
