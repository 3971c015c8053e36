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


class UplinkServer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mortise-uplink-e2e-")
        os.chmod(self.tmp, 0o700)
        self.broker = Broker(os.path.join(self.tmp, "broker"))
        d = self.broker.dir
        os.mkdir(os.path.join(self.tmp, "server"), 0o700)
        server_test.SERVER_EXTRA = ["--uplink-broker", "127.0.0.1:%d" % self.broker.port,
                                    "--uplink-ca", os.path.join(d, "ca.crt"),
                                    "--uplink-cert", os.path.join(d, "server.crt"),
                                    "--uplink-key", os.path.join(d, "server.key"),
                                    "--uplink-ca-key", os.path.join(d, "ca.key")]
        self.server = server_test.Server(os.path.join(self.tmp, "server"))
        self.proxy = Proxy(self.server.url)
        state = os.path.join(self.tmp, "lock")
        os.mkdir(state, 0o700)
        conf = os.path.join(self.tmp, "lockd.toml")
        with open(conf, "w") as f:
            f.write('[uplink]\nbroker = "127.0.0.1:%d"\nca_file = "%s"\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\n'
                    % (self.broker.port, os.path.join(d, "ca.crt")))
        self.lock = Lock(state, extra=["--config", conf])
        self.lock.start()
        self.owner = Person(self.tmp, "owner")
        self.owner.ok("init")

    def tearDown(self):
        self.lock.stop()
        self.proxy.stop()
        self.server.stop()
        self.broker.stop()
        if sys.exc_info()[0] is None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_for(self, what, pred, bound_s=30):
        """Polls `pred` (bounded); the lock's simulated clock moves a little
        each time so its back-off elapses."""
        end = time.monotonic() + bound_s
        while time.monotonic() < end:
            if pred():
                return
            self.lock.advance(100)
            time.sleep(0.05)
        self.fail("%s did not happen:\n%s\n--- server ---\n%s" % (
            what, "".join(self.lock.stderr_lines[-20:]), "".join(self.server.lines[-20:])))

    def online(self):
        rc, out, _ = self.owner.run("status", "--via-server")
        return rc == 0 and out["state"]["online"] is True

    def register(self):
        """Claim, sign in (through the proxy), register, certificate, online."""
        # Envelopes must expire after the lock's boot + 30 s (lock time).
        self.lock.advance(10000)
        self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint)
        password = "owner's long password"
        status, doc, _ = self.server.call("POST", "/api/v1/accounts", {"email": "owner@example.org", "password": password})
        self.assertEqual(status, 201, doc)
        b = server_test.Browser(self.server, "owner@example.org", password)
        status, doc, _ = b.call("POST", "/api/v1/orgs", {"name": "Flat 3"})
        self.assertEqual(status, 201, doc)
        org = doc["organisation"]["id"]
        env = dict(self.owner.env, MORTISE_SERVER_PASSWORD=password)
        p = subprocess.run([e2e_test.CLI, "--keyring", self.owner.keyring, "--json", "server", "login", self.proxy.url,
                            "--email", "owner@example.org"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.door = self.owner.ok("server", "register", "--org", org, "--name", "Front door")["door"]
        self.org = org
        request = os.path.join(self.lock.dir, "uplink-request.json")
        self.assertTrue(os.path.exists(request))
        # Written beside, then renamed: lockd never reads half a file.
        self.owner.ok("server", "uplink-cert", "--request", request, "--out", os.path.join(self.tmp, "uplink.crt"))
        os.rename(os.path.join(self.tmp, "uplink.crt"), os.path.join(self.lock.dir, "uplink.crt"))
        self.wait_for("the lock online on the server", self.online)

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
        kept = {}

        def keep(path, status, body):
            if path.endswith("/remote") and status == 200:
                kept["result"] = json.loads(body)["result"]
            return status, body

        self.proxy.rewrite = keep
        self.owner.ok("lock", "--via-server")  # a genuine, lock-signed answer the server keeps
        self.lock.advance(2000)
        self.assertEqual(self.lock.status()["lockState"], "Locked")

        # 1. It drops the unlock and answers with the old genuine answer,
        #    verdict "confirmed".
        self.proxy.rewrite = None
        self.proxy.intercept = lambda path: (
            (200, json.dumps({"verdict": "confirmed", "result": kept["result"]}).encode())
            if path.endswith("/remote") else None)
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
        self.proxy.intercept = lambda path: (
            (504, json.dumps({"error": {"code": "outcome_unknown", "message": "no answer"}}).encode())
            if path.endswith("/remote") else None)
        rc, _, err = self.owner.run("unlock", "--via-server")
        self.assertEqual(rc, 4, err)
        self.assertIn("outcome", err)


def main():
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
    unittest.main(argv=[sys.argv[0], "-v"] + (a.tests or ["UplinkServer"]))


if __name__ == "__main__":
    main()
