#!/usr/bin/env python3
"""End-to-end through the uplink: a private Mosquitto (mortise-broker), the
real mortise-server with [uplink], a real mortise-lockd with [uplink], and
the real CLI.

  uplink_server_test.py --server PATH --lockd PATH --cli PATH --broker PATH [UplinkServer...]

The owner claims the lock, signs in, registers it with `mortise server
register`, has the server issue its broker certificate (`mortise server
uplink-cert`, from the request lockd wrote), sees it online, and unlocks it
through the server (`mortise unlock --via-server`, and again with the lock
unreachable locally): the envelope is signed on the device and the lock's
signed answer verified there. The lock stopped: "lock offline". Then the
server turns hostile (the test owns an HTTP proxy in front of it): a replayed
genuine answer, an altered one — the CLI never says the door opened.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import e2e_test
import server_test
from e2e_test import Lock, Person

BROKER = None


class Broker:
    """mortise-broker DIR: a deployment (CA, broker, server certificates) and Mosquitto on a free port."""

    def __init__(self, dir):
        self.dir = dir
        self.proc = subprocess.Popen([BROKER, dir], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines, self.port = [], None
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line)
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30):
            self.proc.kill()
            raise AssertionError("mortise-broker did not start:\n" + "".join(self.lines))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


Proxy = server_test.Proxy  # the hostile server in front of the real one

# What a hostile server answers a relay with, instead of relaying it.
NO_ANSWER = json.dumps({"error": {"code": "outcome_unknown", "message": "no answer"}}).encode()


def confirmed(result):
    """A relay answer saying "confirmed", with `result` (base64url) as the lock's."""
    return json.dumps({"verdict": "confirmed", "result": result}).encode()


def answer_relays(proxy, status, body):
    """The hostile server answers every relay (POST .../remote) itself and sends nothing to the lock."""
    proxy.intercept = lambda path: (status, body) if path.endswith("/remote") else None


class Stack:
    """What the uplink's end-to-end tests run, in `tmp`: a private broker, the
    real mortise-server with [uplink] behind a Proxy the test controls
    (`proxy.url` is the server the CLI knows), one mortise-lockd with
    [uplink], and the owner's keyring."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.broker = Broker(os.path.join(tmp, "broker"))
        d = self.broker.dir
        # The server's broker identity (the hostile server test uses it too).
        self.pki = {"ca": os.path.join(d, "ca.crt"), "cert": os.path.join(d, "server.crt"),
                    "key": os.path.join(d, "server.key")}
        sdir = os.path.join(tmp, "server")
        os.mkdir(sdir, 0o700)
        self.db_path = os.path.join(sdir, "db")
        server_test.SERVER_EXTRA = ["--uplink-broker", "127.0.0.1:%d" % self.broker.port,
                                    "--uplink-ca", self.pki["ca"], "--uplink-cert", self.pki["cert"],
                                    "--uplink-key", self.pki["key"], "--uplink-ca-key", os.path.join(d, "ca.key")]
        self.server = server_test.Server(sdir)
        self.proxy = Proxy(self.server.url)
        state = os.path.join(tmp, "lock")
        os.mkdir(state, 0o700)
        conf = os.path.join(tmp, "lockd.toml")
        with open(conf, "w") as f:
            f.write('[uplink]\nbroker = "127.0.0.1:%d"\nca_file = "%s"\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\n'
                    % (self.broker.port, self.pki["ca"]))
        self.lock = Lock(state, extra=["--config", conf])
        self.lock.start()
        self.owner = Person(tmp, "owner")
        self.owner.ok("init")

    def stop(self):
        self.lock.stop()
        self.proxy.stop()
        self.server.stop()
        self.broker.stop()

    def wait_for(self, what, pred, bound_s=30):
        """Polls `pred` (bounded); the lock's simulated clock moves a little
        each time so its back-off elapses."""
        end = time.monotonic() + bound_s
        while time.monotonic() < end:
            if pred():
                return
            self.lock.advance(100)
            time.sleep(0.05)
        raise AssertionError("%s did not happen:\n%s\n--- server ---\n%s" % (
            what, "".join(self.lock.stderr_lines[-20:]), "".join(self.server.lines[-20:])))

    def online(self):
        rc, out, _ = self.owner.run("status", "--via-server")
        return rc == 0 and out["state"]["online"] is True

    def kept_answer(self):
        """A genuine, lock-signed answer the hostile server keeps: the owner
        locks through it. Returns the result (base64url)."""
        kept = {}

        def keep(path, status, body):
            if path.endswith("/remote") and status == 200:
                kept["result"] = json.loads(body)["result"]
            return status, body

        self.proxy.rewrite = keep
        try:
            self.owner.ok("lock", "--via-server")
        finally:
            self.proxy.rewrite = None
        self.lock.advance(2000)
        return kept["result"]

    def register(self):
        """Claim, sign in (through the proxy), register, certificate, online.
        Sets org, door, browser (the owner's account over HTTP) and lock_id."""
        # Envelopes must expire after the lock's boot + 30 s (lock time).
        self.lock.advance(10000)
        self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint)
        password = "owner's long password"
        status, doc, _ = self.server.call("POST", "/api/v1/accounts", {"email": "owner@example.org", "password": password})
        assert status == 201, doc
        self.browser = server_test.Browser(self.server, "owner@example.org", password)
        status, doc, _ = self.browser.call("POST", "/api/v1/orgs", {"name": "Flat 3"})
        assert status == 201, doc
        self.org = doc["organisation"]["id"]
        env = dict(self.owner.env, MORTISE_SERVER_PASSWORD=password)
        p = subprocess.run([e2e_test.CLI, "--keyring", self.owner.keyring, "--json", "server", "login", self.proxy.url,
                            "--email", "owner@example.org"], capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        self.door = self.owner.ok("server", "register", "--org", self.org, "--name", "Front door")["door"]
        request = os.path.join(self.lock.dir, "uplink-request.json")
        with open(request) as f:
            self.lock_id = json.load(f)["lock_id"].lower()
        # Written beside, then renamed: lockd never reads half a file.
        self.owner.ok("server", "uplink-cert", "--request", request, "--out", os.path.join(self.tmp, "uplink.crt"))
        os.rename(os.path.join(self.tmp, "uplink.crt"), os.path.join(self.lock.dir, "uplink.crt"))
        self.wait_for("the lock online on the server", self.online)


class UplinkServer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mortise-uplink-e2e-")
        os.chmod(self.tmp, 0o700)
        self.stack = Stack(self.tmp)
        self.broker, self.server, self.proxy = self.stack.broker, self.stack.server, self.stack.proxy
        self.lock, self.owner = self.stack.lock, self.stack.owner

    def tearDown(self):
        self.stack.stop()
        if sys.exc_info()[0] is None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_for(self, what, pred, bound_s=30):
        self.stack.wait_for(what, pred, bound_s)

    def online(self):
        return self.stack.online()

    def register(self):
        self.stack.register()
        self.org, self.door = self.stack.org, self.stack.door

    def test_unlock_through_the_server_then_offline(self):
        self.register()
        self.assertEqual(self.lock.status()["lockState"], "Locked")
        out = self.owner.ok("unlock", "--via-server")
        self.assertEqual(out["state"], "done")
        self.assertEqual(out["via_server"], self.proxy.url)
        self.lock.advance(2000)  # motor travel
        self.assertEqual(self.lock.status()["lockState"], "Unlocked")
        # Not reachable locally: the CLI goes through the server by itself.
        self.owner.ok("lock", "endpoint", "lock", os.path.join(self.tmp, "nowhere.sock"))
        rc, _, err = self.owner.run("lock")
        self.assertEqual(rc, 0, err)
        self.lock.advance(2000)
        self.assertEqual(self.lock.status()["lockState"], "Locked")
        # The lock's state on the server (informative).
        st = self.owner.ok("status")["state"]
        self.assertTrue(st["online"])
        # The relays are in the organisation's audit trail.
        b = server_test.Browser(self.server, "owner@example.org", "owner's long password")
        status, doc, _ = b.call("GET", "/api/v1/orgs/%s/audit?action=door.remote" % self.org)
        self.assertEqual(status, 200, doc)
        self.assertEqual([e["detail"]["outcome"] for e in doc["items"]], ["confirmed", "confirmed"])
        # The lock goes away: its will says offline, and the CLI says so.
        self.lock.kill9()
        self.wait_for("the lock offline on the server", lambda: not self.online())
        rc, _, err = self.owner.run("unlock", "--via-server")
        self.assertEqual(rc, 4, err)
        self.assertIn("lock offline", err)
        self.lock.start()  # for tearDown

    def test_site_lockdown_through_the_server(self):
        self.register()
        self.owner.ok("unlock", "--via-server")
        self.lock.advance(2000)
        self.assertEqual(self.lock.status()["lockState"], "Unlocked")
        b = server_test.Browser(self.server, "owner@example.org", "owner's long password")
        status, doc, _ = b.call("GET", "/api/v1/orgs/%s/sites" % self.org)
        self.assertEqual(status, 200, doc)
        site = doc["items"][0]
        # By name; the envelope is signed here, the lock's answer verified here.
        out = self.owner.ok("server", "site", "lockdown", site["name"], "--org", self.org)
        self.assertTrue(out["ok"], out)
        self.assertEqual([d["state"] for d in out["doors"]], ["locked"])
        self.assertEqual(out["doors"][0]["server_state"], "confirmed")
        self.lock.advance(2000)
        self.assertEqual(self.lock.status()["lockState"], "Locked")
        status, doc, _ = b.call("GET", "/api/v1/orgs/%s/jobs/%s" % (self.org, out["job_id"]))
        self.assertEqual(status, 200, doc)
        self.assertEqual([d["state"] for d in doc["job"]["doors"]], ["confirmed"])
        # A hostile server answers with an altered answer: the CLI says it is not the lock's.
        def alter(path, status, body):
            if path.endswith("/lockdown") and status == 201:
                doc = json.loads(body)
                a = doc["job"]["doors"][0]["answer"]
                doc["job"]["doors"][0]["answer"] = a[:-1] + ("0" if a[-1] != "0" else "1")
                doc["job"]["doors"][0]["state"] = "confirmed"
                return 201, json.dumps(doc).encode()
            return status, body

        self.proxy.rewrite = alter
        rc, out, err = self.owner.run("server", "site", "lockdown", site["id"], "--org", self.org)
        self.assertEqual(rc, 6, err)
        self.assertEqual([d["state"] for d in out["doors"]], ["not verified"])
        # The server hangs up once it has the job (it may have relayed every
        # envelope): the outcome is unknown (exit 4), not a malformed answer.
        self.proxy.rewrite = lambda path, status, body: None if path.endswith("/lockdown") else (status, body)
        rc, out, err = self.owner.run("server", "site", "lockdown", site["id"], "--org", self.org)
        self.assertEqual(rc, 4, err)
        self.assertIn("the outcome of the lockdown of site", err)
        self.assertIn("is unknown", err)
        self.proxy.rewrite = None
        # The lock away: offline, said plainly, nothing sent.
        self.lock.kill9()
        self.wait_for("the lock offline on the server", lambda: not self.online())
        rc, out, err = self.owner.run("server", "site", "lockdown", site["id"], "--org", self.org)
        self.assertEqual(rc, 4, err)
        self.assertEqual([d["state"] for d in out["doors"]], ["offline"])
        self.lock.start()  # for tearDown

    def test_A09_a_hostile_server_cannot_make_the_cli_say_the_door_opened(self):
        self.register()
        kept = self.stack.kept_answer()
        self.assertEqual(self.lock.status()["lockState"], "Locked")

        # 1. It drops the unlock and answers with the old genuine answer,
        #    verdict "confirmed".
        answer_relays(self.proxy, 200, confirmed(kept))
        rc, out, err = self.owner.run("unlock", "--via-server")
        self.assertEqual(rc, 6, err)
        self.assertIn("not signed by the lock or not about it", err)
        self.lock.advance(2000)
        self.assertEqual(self.lock.status()["lockState"], "Locked")

        # 2. It relays, then alters the lock's answer (one bit): the lock did
        #    act, but the CLI cannot know it from this answer and says so.
        def alter(path, status, body):
            if path.endswith("/remote") and status == 200:
                doc = json.loads(body)
                r = doc["result"]
                doc["result"] = r[:-2] + ("A" if r[-2] != "A" else "Q") + r[-1]
                return 200, json.dumps(doc).encode()
            return status, body

        self.proxy.intercept = None
        self.proxy.rewrite = alter
        rc, out, err = self.owner.run("unlock", "--via-server")
        self.assertIn(rc, (2, 6), err)  # malformed or not the lock's: never "done"
        self.assertFalse(out["ok"], out)
        self.assertNotIn("state", out)

        # 3. It claims the lock is offline / gives no answer: said plainly.
        self.proxy.rewrite = None
        answer_relays(self.proxy, 504, NO_ANSWER)
        rc, _, err = self.owner.run("unlock", "--via-server")
        self.assertEqual(rc, 4, err)
        self.assertIn("outcome", err)

    def test_A02_the_log_through_the_server_is_the_one_the_lock_shows(self):
        """mortise log --server: the raw pages the server stores, verified on the
        device with the pinned lock key, show what the lock shows itself; an
        edit or a false "signed" verdict of the server is reported (exit 6)."""
        self.register()
        self.owner.ok("unlock", "--via-server")
        self.lock.advance(2000)
        self.owner.ok("lock")
        self.lock.advance(2000)
        local = self.owner.ok("log", "--from", "1")["events"]
        self.assertGreaterEqual(len(local), 2)
        # The lock signs its log's head after 10 minutes of its clock; the
        # uplink sends the signature up after the records it covers.
        self.lock.advance(601000)
        got = {}

        def signed_copy():
            got["rc"], got["out"], got["err"] = self.owner.run("log", "--server", "--from", "1")
            return got["rc"] == 0

        self.wait_for("the lock's signed log on the server", signed_copy)
        out = got["out"]
        self.assertTrue(out["verified"], out)
        self.assertEqual(out["via_server"], self.proxy.url)
        self.assertTrue(all(e["signed"] for e in out["events"]), out)
        strip = lambda e: {k: v for k, v in e.items() if k not in ("signed", "user_name")}
        stored = {e["seq"]: strip(e) for e in out["events"]}
        for e in local:
            self.assertEqual(stored.get(e["seq"]), strip(e))
        # Not reachable locally: `mortise log` reads the server's copy by itself.
        self.owner.ok("lock", "endpoint", "lock", os.path.join(self.tmp, "nowhere.sock"))
        self.assertEqual(self.owner.ok("log", "--from", "1")["via_server"], self.proxy.url)

        # The server edits a stored page (one byte of the lock's items).
        def edit(path, status, body):
            if "/log/pages" in path and status == 200:
                doc = json.loads(body)
                items = doc["items"][0]["items"]
                at = len(items) // 2
                doc["items"][0]["items"] = items[:at] + ("0" if items[at] != "0" else "1") + items[at + 1:]
                return status, json.dumps(doc).encode()
            return status, body

        self.proxy.rewrite = edit
        rc, out, err = self.owner.run("log", "--server", "--from", "1")
        self.assertEqual(rc, 6, err)
        self.assertFalse(out["verified"])
        self.assertTrue(out["problems"] or out["gaps"], out)

        # A server whose page cursors go round in a circle: refused (exit 6),
        # not followed for ever (review finding).
        turn = {"n": 0}

        def circle(path, status, body):
            if "/log/pages" in path and status == 200:
                doc = json.loads(body)
                turn["n"] += 1
                doc["next_cursor"] = "12"[turn["n"] % 2]
                return status, json.dumps(doc).encode()
            return status, body

        self.proxy.rewrite = circle
        rc, out, err = self.owner.run("log", "--server", "--from", "1")
        self.assertEqual(rc, 6, err)
        self.assertIn("do not advance", err)

        # New records the lock has not signed yet, which the server calls
        # "verified": the device says they are not signed yet.
        self.proxy.rewrite = None
        self.owner.ok("lock", "endpoint", "lock", self.lock.endpoint)
        self.owner.ok("unlock")
        self.lock.advance(2000)
        newest = self.owner.ok("log", "--from", "1")["events"][-1]["seq"]

        def verdicts(path, status, body):
            if "/log/pages" in path and status == 200:
                doc = json.loads(body)
                for page in doc["items"]:
                    page["verdict"] = "verified"
                return status, json.dumps(doc).encode()
            return status, body

        self.proxy.rewrite = verdicts

        def uploaded():
            got["rc"], got["out"], got["err"] = self.owner.run("log", "--server", "--from", "1")
            return any(e["seq"] == newest for e in got["out"]["events"])

        self.wait_for("the new records on the server", uploaded)
        self.assertEqual(got["rc"], 6, got["err"])
        self.assertFalse([e for e in got["out"]["events"] if e["seq"] == newest][0]["signed"])
        self.assertTrue(got["out"]["unsigned"], got["out"])

    def test_a_revocation_through_the_server_reaches_the_lock(self):
        """mortise key revoke with the lock not reachable locally: the list is
        signed on the device, uploaded to the server, delivered over the
        uplink; the lock refuses the key afterwards."""
        self.register()
        gus = Person(self.tmp, "gus")
        gus.ok("init")
        mkp = gus.ok("id", "show", "--no-qr")["identity"]["public_key"]
        key = self.owner.ok("key", "share", "--to", mkp, "--name", "gus", "--role", "member", "--no-qr")["key"]
        gus.ok("key", "accept", key)
        gus.ok("unlock")
        self.lock.advance(2000)
        self.owner.ok("lock")
        self.lock.advance(2000)
        # The owner is away: the lock is not reachable from here.
        self.owner.ok("lock", "endpoint", "lock", os.path.join(self.tmp, "nowhere.sock"))
        # --wait: until the lock's receipt (its signature over this very list,
        # docs/protocol.md section 12) verifies here with the pinned lock key.
        # The lock's clock has moved since its last signature: its budget is whole.
        rc, out, err = self.owner.run("key", "revoke", "gus", "--wait=30")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out["confirmed"], out)
        self.assertEqual(out["via_server"], self.proxy.url)
        self.assertEqual(out["doors"][0]["door_id"], self.door["id"])
        self.assertEqual(out["doors"][0]["state"], "confirmed", out)
        self.assertIn("verified here", out["doors"][0]["reason"])
        version = out["access_list_version"]
        # The server delivers it over the uplink; the lock answers it holds it.
        b = server_test.Browser(self.server, "owner@example.org", "owner's long password")

        def held():
            status, doc, _ = b.call("GET", "/api/v1/orgs/%s/doors/%s/updates" % (self.org, self.door["id"]))
            self.assertEqual(status, 200, doc)
            rows = [u for u in doc["updates"] if u["kind"] == "access_list" and u["issuer"] == "owner"]
            return rows and rows[0]["confirmed_version"] >= version and rows[0]["receipt"]

        self.wait_for("the lock holding the new list", held)
        rc, _, err = gus.run("unlock")
        self.assertEqual(rc, 3, err)
        self.assertIn("revoked", err)
        self.lock.advance(2000)
        self.assertEqual(self.lock.status()["lockState"], "Locked")
        # Again, explicitly through the server: a new version, confirmed the same way.
        rc, out, err = self.owner.run("key", "revoke", "gus", "--via-server", "--wait=30")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out["confirmed"])
        self.assertGreater(out["access_list_version"], version)
        self.assertEqual(out["doors"][0]["state"], "confirmed")
        # Not confirmed in time is exit 8: the lock's uplink is gone, the
        # server stores the list and cannot deliver it.
        self.lock.kill9()
        self.wait_for("the lock offline on the server", lambda: not self.online())
        rc, out, err = self.owner.run("key", "revoke", "gus", "--via-server", "--wait=1")
        self.assertEqual(rc, 8, err)
        self.assertFalse(out["confirmed"])
        self.assertIn(out["doors"][0]["state"], ("pending", "sent", "reported"))
        self.lock.start()  # for tearDown

def main(suite="UplinkServer"):
    """Runs `suite` (or the tests named) of the script being run; the
    hostile server test calls it too."""
    global BROKER
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--lockd", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--broker", required=True)
    ap.add_argument("tests", nargs="*")
    a = ap.parse_args()
    server_test.SERVER = a.server
    BROKER = a.broker
    e2e_test.LOCKD, e2e_test.CLI = a.lockd, a.cli
    unittest.main(argv=[sys.argv[0], "-v"] + (a.tests or [suite]))


if __name__ == "__main__":
    main()
