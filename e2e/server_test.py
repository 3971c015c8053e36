#!/usr/bin/env python3
"""End-to-end: the real mortise-server (127.0.0.1:0, SQLite in a temp dir),
the real `mortise` CLI and a real mortise-lockd claimed by the CLI.

  server_test.py --server PATH --lockd PATH --cli PATH [ServerCli...]

The owner signs up (over HTTP, as the console will), enables TOTP, creates a
home, claims a simulated lock with the CLI, signs in with `mortise server
login` (password, then the two-factor code it asks for), registers the lock
with `mortise server register` (the CLI signs the server's challenge with the
owner key from its keyring) and sees it in `mortise server doors`. A second
person, who holds no owner key for that lock, cannot register it.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import e2e_test
from e2e_test import Base, Person

SERVER = None
SERVER_EXTRA = []  # more mortise-server arguments (uplink_server_test.py: the [uplink] flags)


def totp(secret_b32, at=None):
    """RFC 6238 (SHA-1, 6 digits, 30 s), as the server checks it."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((time.time() if at is None else at) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


class Server:
    """mortise-server on 127.0.0.1:0 with a database in `dir`."""

    def __init__(self, dir, extra=()):
        self.dir = dir
        os.chmod(dir, 0o700)
        self.proc = subprocess.Popen(
            [SERVER, "--listen", "127.0.0.1:0", "--db", "sqlite:" + os.path.join(dir, "db"),
             "--password-profile", "test-fast"] + SERVER_EXTRA + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        ready = threading.Event()
        self.url = None

        def pump():
            for line in self.proc.stderr:
                self.lines.append(line)
                m = re.match(r"^mortise-server: listening on (https?://127\.0\.0\.1:\d+)$", line.strip())
                if m:
                    self.url = m.group(1)
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30):
            self.proc.kill()
            raise AssertionError("mortise-server did not start:\n" + "".join(self.lines))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)

    def call(self, method, path, body=None, cookie=None, csrf=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        context = getattr(self, "ssl_context", None)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if cookie:
            req.add_header("Cookie", cookie)
        if csrf:
            req.add_header("X-CSRF-Token", csrf)
        try:
            with urllib.request.urlopen(req, timeout=30, context=context) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else {}), r.headers
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else {}), e.headers


class Proxy:
    """An HTTP proxy in front of mortise-server that the test controls: the
    server as a hostile party sees and can rewrite every answer."""

    def __init__(self, target):
        self.target = target
        self.rewrite = None  # f(path, status, body bytes) -> (status, body bytes) or None (close unanswered), after forwarding
        self.intercept = None  # f(path) -> (status, body bytes) answered instead of forwarding, or None
        self.observe = None  # f(path, request body bytes or None): sees every request (what the server keeps)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else None
                if proxy.observe:
                    proxy.observe(self.path, data)
                answer = proxy.intercept(self.path) if proxy.intercept else None
                if answer:
                    self.send_response(answer[0])
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer[1])))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(answer[1])
                    return
                req = urllib.request.Request(proxy.target + self.path, data=data, method=self.command)
                for k in ("Content-Type", "Cookie", "X-CSRF-Token", "Authorization", "User-Agent"):
                    if self.headers.get(k):
                        req.add_header(k, self.headers[k])
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        status, body, headers = r.status, r.read(), r.headers
                except urllib.error.HTTPError as e:
                    status, body, headers = e.code, e.read(), e.headers
                if proxy.rewrite:
                    rewritten = proxy.rewrite(self.path, status, body)
                    if rewritten is None:  # no answer at all: the connection just closes
                        self.close_connection = True
                        return
                    status, body = rewritten
                self.send_response(status)
                for k in ("Content-Type", "Set-Cookie"):
                    for v in headers.get_all(k) or []:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = do_PATCH = handle_one

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Browser:
    """An account signed in over HTTP (what the console does)."""

    def __init__(self, server, email, password, code=None):
        body = {"email": email, "password": password}
        if code:
            body["totp_code"] = code
        status, doc, headers = server.call("POST", "/api/v1/sessions", body)
        assert status == 201, doc
        self.server = server
        self.cookie = headers["Set-Cookie"].split(";")[0]
        self.csrf = doc["csrf_token"]

    def call(self, method, path, body=None):
        return self.server.call(method, path, body, self.cookie, self.csrf)


class ServerCli(Base):
    """Base gives a temp dir (self.tmp), a running lock and an owner with a keyring."""

    def setUp(self):
        super().setUp()
        self.home = self.tmp
        os.chmod(self.home, 0o700)
        os.mkdir(os.path.join(self.home, "server"), 0o700)
        self.server = Server(os.path.join(self.home, "server"))

    def tearDown(self):
        self.server.stop()
        # The server's log stays in the build tree (CTest's working directory).
        with open("e2e_server_%s.log" % self._testMethodName, "w") as f:
            f.write("".join(self.server.lines))
        super().tearDown()

    def sign_up(self, email, password, with_totp):
        status, doc, _ = self.server.call("POST", "/api/v1/accounts", {"email": email, "password": password})
        self.assertEqual(status, 201, doc)
        b = Browser(self.server, email, password)
        if not with_totp:
            return b, None
        status, doc, _ = b.call("POST", "/api/v1/me/totp")
        self.assertEqual(status, 201, doc)
        secret = doc["secret"]
        self.confirmed_at = time.time()
        status, doc, _ = b.call("POST", "/api/v1/me/totp/confirm", {"code": totp(secret, self.confirmed_at)})
        self.assertEqual(status, 200, doc)
        return b, secret

    def office(self, password):
        """The owner signs up and makes an organisation with a site; returns
        the owner's browser and the organisation's id."""
        browser, _ = self.sign_up("owner@example.org", password, with_totp=False)
        status, doc, _ = browser.call("POST", "/api/v1/orgs", {"name": "Office", "kind": "organisation"})
        self.assertEqual(status, 201, doc)
        org = doc["organisation"]["id"]
        status, doc, _ = browser.call("POST", "/api/v1/orgs/%s/sites" % org, {"name": "Main"})
        self.assertEqual(status, 201, doc)
        return browser, org

    def cli_login(self, person, email, password):
        p = subprocess.run([e2e_test.CLI, "--keyring", person.keyring, "--json", "server", "login", self.server.url,
                            "--email", email], capture_output=True, text=True,
                           env=dict(person.env, MORTISE_SERVER_PASSWORD=password), timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

    def member(self, browser, org, name):
        """A person with a keyring who signs up and joins `org` as a member;
        returns the person and their account id."""
        person = Person(self.home, name)
        person.ok("init")
        session, _ = self.sign_up("%s@example.org" % name, "%s's long password" % name, with_totp=False)
        status, inv, _ = browser.call("POST", "/api/v1/orgs/%s/invitations" % org, {"role": "member"})
        self.assertEqual(status, 201, inv)
        status, doc, _ = session.call("POST", "/api/v1/invitations/accept", {"token": inv["token"]})
        self.assertEqual(status, 200, doc)
        status, me, _ = session.call("GET", "/api/v1/me")
        return person, me["account"]["id"]

    def next_code(self, secret):
        """The code of the step after the one enrolment used (each step is
        accepted once; the server takes one step of drift either way)."""
        return totp(secret, self.confirmed_at + 30)

    def claim_and_sign_in_through_a_proxy(self, password):
        """The owner claims the lock and signs in through a Proxy the test
        controls (the server as a hostile party sees every answer)."""
        self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint, "--time", "none")
        proxy = Proxy(self.server.url)
        self.addCleanup(proxy.stop)
        env = dict(self.owner.env, MORTISE_SERVER_PASSWORD=password)
        p = subprocess.run([e2e_test.CLI, "--keyring", self.owner.keyring, "--json", "server", "login",
                            proxy.url, "--email", "owner@example.org"], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return proxy

    def test_login_register_a_claimed_lock_and_list_it(self):
        password = "owner's long password"
        browser, secret = self.sign_up("owner@example.org", password, with_totp=True)
        status, doc, _ = browser.call("POST", "/api/v1/orgs", {"name": "Flat 3"})
        self.assertEqual(status, 201, doc)
        org = doc["organisation"]["id"]
        self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint, "--time", "none")
        lock_id = self.owner.ok("lock", "list")["locks"][0]["lock_id"]

        # Without the second factor the server refuses; the CLI asks for it
        # (here given with --totp, as a script would).
        env = dict(self.owner.env, MORTISE_SERVER_PASSWORD=password)
        cli = [e2e_test.CLI, "--keyring", self.owner.keyring, "--json"]
        p = subprocess.run(cli + ["server", "login", self.server.url, "--email", "owner@example.org"],
                           capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
                           start_new_session=True)  # no terminal to ask the code on
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn("second_factor_required", p.stderr)
        p = subprocess.run(cli + ["server", "login", self.server.url, "--email", "owner@example.org",
                                  "--totp", self.next_code(secret)], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        session_file = json.loads(p.stdout)["session_file"]
        self.assertEqual(stat.S_IMODE(os.stat(session_file).st_mode), 0o600)

        # `server orgs`: the organisations this account is in, with its role.
        status, doc, _ = browser.call("POST", "/api/v1/orgs", {"name": "Office", "kind": "organisation"})
        self.assertEqual(status, 201, doc)
        office = doc["organisation"]["id"]
        orgs = self.owner.ok("server", "orgs")["organisations"]
        self.assertEqual(sorted((o["id"], o["name"], o["kind"], o["role"]) for o in orgs),
                         sorted([(org, "Flat 3", "home", "owner"), (office, "Office", "organisation", "owner")]))
        for o in orgs:
            self.assertRegex(o["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        p = subprocess.run([e2e_test.CLI, "--keyring", self.owner.keyring, "server", "orgs"], capture_output=True,
                           text=True, env=self.owner.env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("%s  Flat 3  (home)  you: owner" % org, p.stdout)
        self.assertEqual(self.owner.ok("server", "doors")["doors"], [])
        door = self.owner.ok("server", "register", "--org", org, "--name", "Front door")["door"]
        self.assertEqual(door["lock_id"], lock_id)
        doors = self.owner.ok("server", "doors")["doors"]
        self.assertEqual([(d["id"], d["lock_id"], d["name"]) for d in doors], [(door["id"], lock_id, "Front door")])
        # The trail says who registered it and from where.
        status, doc, _ = browser.call("GET", "/api/v1/orgs/%s/audit?action=door.register" % org)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["items"][0]["actor"]["email"], "owner@example.org")
        self.assertEqual(doc["items"][0]["user_agent"], "mortise-cli")
        # Registering the same lock again is refused.
        rc, _, err = self.owner.run("server", "register", "--org", org)
        self.assertNotEqual(rc, 0)
        self.assertIn("door_exists", err)

    def test_A09_a_hostile_server_cannot_steer_what_the_owner_signs(self):
        """Reviewer finding: the CLI signed memberships and lists from the
        server's JSON. Now it verifies the stored bytes with the owner key and
        never takes a version the server merely names."""
        password = "owner's long password"
        browser, _ = self.sign_up("owner@example.org", password, with_totp=False)
        status, doc, _ = browser.call("POST", "/api/v1/orgs", {"name": "Office", "kind": "organisation"})
        org = doc["organisation"]["id"]
        status, doc, _ = browser.call("POST", "/api/v1/orgs/%s/sites" % org, {"name": "Main"})
        self.assertEqual(status, 201, doc)
        proxy = self.claim_and_sign_in_through_a_proxy(password)
        door = self.owner.ok("server", "register", "--org", org, "--name", "Front door")["door"]
        self.owner.ok("group", "create", "staff")
        self.owner.ok("group", "create", "guests")
        staff = self.owner.ok("server", "group", "create", "staff", "--org", org)["group"]["protocol_id"]
        guests = self.owner.ok("server", "group", "create", "guests", "--org", org)["group"]["protocol_id"]
        updates_path = "/api/v1/orgs/%s/doors/%s/updates" % (org, door["id"])

        def stored_memberships():
            status, doc, _ = browser.call("GET", updates_path)
            return [u for u in doc["updates"] if u["kind"] == "group_membership"]

        # 1. The server claims the door is in "staff" (a summary with no
        # signed bytes behind it): the CLI refuses, signs nothing.
        def forge(path, status, body):
            doc = json.loads(body)
            if path.split("?")[0] != updates_path or "updates" not in doc:
                return status, body
            doc["updates"].append({"door_id": door["id"], "kind": "group_membership", "issuer": "lock",
                                   "version": 7, "held_version": 7, "update": "00" * 80,
                                   "summary": {"version": 7, "groups": [staff]}})
            return status, json.dumps(doc).encode()

        proxy.rewrite = forge
        rc, _, err = self.owner.run("server", "group", "add-door", "guests", "--org", org)
        self.assertEqual(rc, 6, err)
        self.assertIn("nothing was signed", err)
        self.assertEqual(stored_memberships(), [])

        # 2. A real membership, then the server inflates every version it
        # names (and the lock's unsigned held_version) to 2^64-2 and adds
        # "staff" to the summary: the next membership is version 2, without
        # "staff", and the change is printed before signing.
        proxy.rewrite = None
        self.assertEqual(self.owner.ok("server", "group", "add-door", "guests", "--org", org)["version"], 1)

        def inflate(path, status, body):
            if path.split("?")[0] != updates_path and not path.startswith("/api/v1/orgs/%s/people/" % org):
                return status, body
            doc = json.loads(body)
            for u in doc.get("updates", []):
                u["version"] = u["held_version"] = 2**64 - 2
                u["summary"]["groups"] = [staff, guests]
            for d in doc.get("doors", []):
                for l in d["lists"].values():
                    l["version"] = l["held_version"] = 2**64 - 2
            return status, json.dumps(doc).encode()

        proxy.rewrite = inflate
        out = self.owner.ok("server", "group", "remove-door", "guests", "--org", org)
        self.assertEqual((out["version"], out["groups"], out["added"], out["removed"]), (2, [], [], [guests]))
        self.assertEqual(out["membership"]["summary"]["version"], 2)
        p = subprocess.run([e2e_test.CLI, "--keyring", self.owner.keyring, "--wait", "0", "server", "group",
                            "add-door", "staff", "--org", org], capture_output=True, text=True, env=self.owner.env,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Signing membership version 3 of", p.stdout)
        self.assertIn("added: staff (%s); removed: none" % staff, p.stdout)

        # 3. remove-everywhere: the owner list's version the server names in
        # the person's access is not signed upon either.
        bob = Person(self.home, "bob")
        bob.ok("init")
        bb, _ = self.sign_up("bob@example.org", "bob's long password", with_totp=False)
        status, inv, _ = browser.call("POST", "/api/v1/orgs/%s/invitations" % org, {"role": "member"})
        status, doc, _ = bb.call("POST", "/api/v1/invitations/accept", {"token": inv["token"]})
        status, me, _ = bb.call("GET", "/api/v1/me")
        mkp = bob.ok("id", "show", "--no-qr")["identity"]["public_key"]
        share = self.owner.ok("key", "share", "--to", mkp, "--name", "bob", "--no-qr")
        status, doc, _ = browser.call("POST", "/api/v1/orgs/%s/keys" % org,
                                      {"account_id": me["account"]["id"], "chain": share["key"], "door_id": door["id"]})
        self.assertEqual(status, 201, doc)
        self.owner.ok("server", "person", "remove-everywhere", me["account"]["id"], "--org", org)
        status, doc, _ = browser.call("GET", updates_path)
        lists = [u for u in doc["updates"] if u["kind"] == "access_list"]
        self.assertEqual([l["version"] for l in lists], [1])

    def test_A09_a_revocation_through_a_hostile_server_is_numbered_from_signed_bytes(self):
        """`mortise key revoke` through the server (the lock not reachable
        locally): the list is signed here; its number never comes from the
        server's JSON, and stored bytes the owner did not sign stop it."""
        password = "owner's long password"
        browser, _ = self.sign_up("owner@example.org", password, with_totp=False)
        status, doc, _ = browser.call("POST", "/api/v1/orgs", {"name": "Flat 3"})
        org = doc["organisation"]["id"]
        proxy = self.claim_and_sign_in_through_a_proxy(password)
        door = self.owner.ok("server", "register", "--org", org, "--name", "Front door")["door"]
        updates_path = "/api/v1/orgs/%s/doors/%s/updates" % (org, door["id"])
        gus = Person(self.home, "gus")
        gus.ok("init")
        mkp = gus.ok("id", "show", "--no-qr")["identity"]["public_key"]
        self.owner.ok("key", "share", "--to", mkp, "--name", "gus", "--no-qr")
        self.owner.ok("lock", "endpoint", "lock", os.path.join(self.home, "nowhere.sock"))

        def stored_lists():
            status, doc, _ = browser.call("GET", updates_path)
            return [u["version"] for u in doc["updates"] if u["kind"] == "access_list"]

        # 1. The server shows an owner list the owner never signed: nothing uploaded.
        def forge(path, status, body):
            doc = json.loads(body)
            if path.split("?")[0] != updates_path or "updates" not in doc:
                return status, body
            doc["updates"].append({"door_id": door["id"], "kind": "access_list", "issuer": "owner",
                                   "version": 7, "held_version": 7, "update": "00" * 80, "summary": {"version": 7}})
            return status, json.dumps(doc).encode()

        proxy.rewrite = forge
        rc, _, err = self.owner.run("key", "revoke", "gus")
        self.assertEqual(rc, 6, err)
        self.assertIn("nothing was signed or sent", err)
        self.assertEqual(stored_lists(), [])

        # 2. Stored, not confirmed: the lock is offline (this server has no
        #    uplink), exit 8.
        proxy.rewrite = None
        rc, out, err = self.owner.run("key", "revoke", "gus")
        self.assertEqual(rc, 8, err)
        self.assertEqual(out["doors"][0]["state"], "pending")
        self.assertFalse(out["confirmed"])
        version = out["access_list_version"]
        self.assertEqual(stored_lists(), [version])

        # 3. The server names every version 2^64-2: the next list is the next
        #    number after the verified bytes, not after the server's word.
        def inflate(path, status, body):
            doc = json.loads(body)
            if path.split("?")[0] != updates_path:
                return status, body
            for u in doc.get("updates", []):
                u["version"] = u["held_version"] = 2**64 - 2
            return status, json.dumps(doc).encode()

        proxy.rewrite = inflate
        rc, out, err = self.owner.run("key", "revoke", "gus", "--via-server", "--wait=0.2")
        self.assertEqual(rc, 8, err)
        self.assertEqual(out["access_list_version"], version + 1)
        self.assertEqual(out["doors"][0]["state"], "pending")
        proxy.rewrite = None
        self.assertEqual(stored_lists(), [version + 1])

    def test_groups_and_removing_a_person_everywhere_through_the_server(self):
        """Issue 13: the owner's device signs, the server verifies and stores
        (access groups, a key of a person, one access list per door)."""
        password = "owner's long password"
        browser, org = self.office(password)
        self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint, "--time", "none")
        self.cli_login(self.owner, "owner@example.org", password)
        door = self.owner.ok("server", "register", "--org", org, "--name", "Front door")["door"]

        # An access group: the keyring's group, made known to the organisation;
        # the door joins it by a membership signed here, verified there.
        self.owner.ok("group", "create", "staff")
        group = self.owner.ok("server", "group", "create", "staff", "--org", org, "--schedule", "weekdays")["group"]
        out = self.owner.ok("server", "group", "add-door", "staff", "--org", org)
        self.assertTrue(out["changed"])
        self.assertEqual(out["membership"]["summary"]["groups"], [group["protocol_id"]])
        listed = self.owner.ok("server", "group", "list", "--org", org)["groups"]
        self.assertEqual([d["door_id"] for d in listed[0]["doors"]], [door["id"]])
        self.assertTrue(listed[0]["doors"][0]["pending"])  # no lock has confirmed it
        self.assertFalse(self.owner.ok("server", "group", "add-door", "staff", "--org", org)["changed"])

        # Bob joins the organisation; the owner shares him a key and stores
        # it on the server, assigned to him.
        bob, bob_id = self.member(browser, org, "bob")
        mkp = bob.ok("id", "show", "--no-qr")["identity"]["public_key"]
        share = self.owner.ok("key", "share", "--to", mkp, "--name", "bob", "--no-qr")
        bob.ok("key", "accept", share["key"])
        status, doc, _ = browser.call("POST", "/api/v1/orgs/%s/keys" % org,
                                      {"account_id": bob_id, "chain": share["key"], "door_id": door["id"]})
        self.assertEqual(status, 201, doc)
        status, access, _ = browser.call("GET", "/api/v1/orgs/%s/people/%s/access" % (org, bob_id))
        self.assertEqual([d["door_id"] for d in access["doors"]], [door["id"]])

        # Remove him everywhere: one list per door, signed here, one job.
        job = self.owner.ok("server", "person", "remove-everywhere", bob_id, "--org", org)["job"]
        self.assertEqual([(d["door_id"], d["state"]) for d in job["doors"]], [(door["id"], "pending")])
        status, access, _ = browser.call("GET", "/api/v1/orgs/%s/people/%s/access" % (org, bob_id))
        self.assertEqual(access["doors"], [])
        status, doc, _ = browser.call("GET", "/api/v1/orgs/%s/doors/%s/updates" % (org, door["id"]))
        lists = [u for u in doc["updates"] if u["kind"] == "access_list"]
        self.assertEqual(lists[0]["summary"]["revoked"][0]["serial"], "%016x" % share["serial"])
        # The keyring knows the key is revoked (key list says so).
        issued = self.owner.ok("key", "list")["issued"]
        self.assertTrue(any(k["serial"] == share["serial"] and k["revoked"] for k in issued), issued)
        # Nothing of his is left to remove.
        self.assertIsNone(self.owner.ok("server", "person", "remove-everywhere", bob_id, "--org", org)["job"])

    def test_the_server_issues_revalidation_tokens_it_was_certified_for(self):
        """Issue 14: the owner certifies the server's duty key (signed here);
        a holder fetches tokens through the server for a key that demands
        them; the lock takes them; once the owner revokes the key the server
        issues none."""
        password = "owner's long password"
        browser, org = self.office(password)
        # Tokens are issued on the server's clock (the real one): the lock's
        # and the devices' clocks agree with it here.
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.owner.env["MORTISE_NOW"] = now
        self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint, "--time", "now")
        self.cli_login(self.owner, "owner@example.org", password)
        door = self.owner.ok("server", "register", "--org", org, "--name", "Front door")["door"]
        # Both duties, each its own certificate with its right alone.
        time_duty = self.owner.ok("server", "duty", "--time")
        reval_duty = self.owner.ok("server", "duty", "--revalidate")
        self.assertNotEqual(time_duty["serial"], reval_duty["serial"])
        status, duties, _ = browser.call("GET", "/api/v1/orgs/%s/doors/%s/duties" % (org, door["id"]))
        self.assertEqual(status, 200, duties)
        self.assertEqual(duties["time"]["serial"], str(time_duty["serial"]))
        self.assertEqual(duties["revalidate"]["serial"], str(reval_duty["serial"]))
        issued = {k["serial"]: k for k in self.owner.ok("key", "list")["issued"]}
        self.assertIn(reval_duty["serial"], issued)

        # Bob: a member whose key demands a token younger than an hour.
        bob, bob_id = self.member(browser, org, "bob")
        bob.env["MORTISE_NOW"] = now
        mkp = bob.ok("id", "show", "--no-qr")["identity"]["public_key"]
        share = self.owner.ok("key", "share", "--to", mkp, "--name", "bob", "--role", "member",
                              "--revalidate-every", "3600", "--no-qr")
        bob.ok("key", "accept", share["key"])
        rc, _, err = bob.run("unlock")
        self.assertEqual(rc, 3, err)  # no token: the lock refuses
        self.cli_login(bob, "bob@example.org", "bob's long password")
        # Not registered with the server yet: no token.
        rc, _, err = bob.run("key", "token", "--from-server", "--org", org, "--door", door["id"])
        self.assertEqual(rc, 3, err)
        self.assertIn("not_registered", err)
        status, doc, _ = browser.call("POST", "/api/v1/orgs/%s/keys" % org,
                                      {"account_id": bob_id, "chain": share["key"], "door_id": door["id"]})
        self.assertEqual(status, 201, doc)
        out = bob.ok("key", "token", "--from-server", "--org", org, "--door", door["id"])
        self.assertRegex(out["valid_until"], r"^\d{4}-")
        bob.ok("unlock")  # the lock takes the server's token
        self.lock.advance(2000)

        # The owner removes him everywhere: the server issues no more tokens.
        # (Both keyrings are in one directory, so they share one server
        # session file: each signs in again before its turn.)
        self.cli_login(self.owner, "owner@example.org", password)
        self.owner.ok("server", "person", "remove-everywhere", bob_id, "--org", org)
        self.cli_login(bob, "bob@example.org", "bob's long password")
        rc, _, err = bob.run("key", "token", "--from-server")
        self.assertEqual(rc, 3, err)
        self.assertIn("revoked", err)

    def test_signup_and_org_create_from_the_cli_and_what_a_guest_is_told(self):
        """A newcomer's findings: an account and an organisation without
        curl (`server signup`, `server org create`), the server's refusals
        said plainly; a guest who cannot register a lock is told what its
        owner does, and then finds the door by the lock's id."""
        def cli(person, *args, password=None):
            env = dict(person.env)
            if password is not None:
                env["MORTISE_SERVER_PASSWORD"] = password
            p = subprocess.run([e2e_test.CLI, "--keyring", person.keyring, "--json"] + list(args),
                               capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
                               start_new_session=True)
            return p.returncode, p.stdout, p.stderr

        signup = ("server", "signup", "--server", self.server.url, "--email", "owner@example.org")
        rc, _, err = cli(self.owner, *signup, password="short")
        self.assertEqual(rc, 3, err)
        self.assertIn("Choose a password of 12 to 1024 characters", err)
        rc, out, err = cli(self.owner, *signup, password="owner's long password")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["email"], "owner@example.org")
        rc, _, err = cli(self.owner, *signup, password="owner's long password")
        self.assertEqual(rc, 3, err)
        self.assertIn("an account with the email owner@example.org already exists", err)
        self.assertIn("mortise server login", err)
        org = self.owner.ok("server", "org", "create", "Flat 3")["id"]
        self.assertTrue(org.startswith("org_"), org)
        orgs = self.owner.ok("server", "orgs")["organisations"]
        self.assertEqual([(o["id"], o["name"], o["role"]) for o in orgs], [(org, "Flat 3", "owner")])

        # A guest's key; the lock is not on the server yet.
        self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint, "--time", "none")
        gus = self.guest("gus", "--role", "guest")
        rc, _, err = gus.run("unlock", "--via-server")
        self.assertEqual(rc, 1, err)
        self.assertIn("Its owner registers it (mortise server register)", err)
        self.assertIn("mortise server login", err)
        self.assertNotIn("Register it once", err)
        # The owner registers it and invites him; he signs up from the CLI
        # and relays: the door is found by the lock's id (this server has no
        # link to locks, so the relay stops there, past the lookup).
        self.owner.ok("server", "register", "--org", org, "--name", "Front door")
        rc, _, err = cli(gus, "server", "signup", self.server.url, "--email", "gus@example.org",
                         password="gus's long password")
        self.assertEqual(rc, 0, err)
        owner_browser = Browser(self.server, "owner@example.org", "owner's long password")
        status, inv, _ = owner_browser.call("POST", "/api/v1/orgs/%s/invitations" % org, {"role": "guest"})
        self.assertEqual(status, 201, inv)
        status, doc, _ = Browser(self.server, "gus@example.org", "gus's long password").call(
            "POST", "/api/v1/invitations/accept", {"token": inv["token"]})
        self.assertEqual(status, 200, doc)
        rc, _, err = gus.run("unlock", "--via-server")
        self.assertNotIn("not a door", err)
        self.assertEqual(rc, 4, err)

    def test_the_cli_speaks_https_and_verifies_the_server(self):
        """Issue 13: https:// with the chain and host name verified; a
        private CA by --ca or MORTISE_SERVER_CA; plain http:// only to
        this machine."""
        pki = os.path.join(self.home, "pki")
        os.mkdir(pki)

        def ossl(*args):
            subprocess.run(["openssl"] + list(args), cwd=pki, check=True, capture_output=True, timeout=60)

        for ca in ("ca", "other-ca"):
            ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-subj", "/CN=Mortise test " + ca, "-keyout", ca + ".key", "-out", ca + ".pem")
        # The server's certificate names 127.0.0.1 and mortise.test, not localhost.
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=mortise.test",
             "-keyout", "server.key", "-out", "server.csr")
        with open(os.path.join(pki, "san.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:mortise.test\n")
        ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", "san.ext", "-out", "server.pem")
        sdir = os.path.join(self.home, "tls-server")
        os.mkdir(sdir, 0o700)
        tls = Server(sdir, ["--tls-cert", os.path.join(pki, "server.pem"), "--tls-key", os.path.join(pki, "server.key")])
        try:
            self.assertTrue(tls.url.startswith("https://127.0.0.1:"), tls.url)
            import ssl
            tls.ssl_context = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
            password = "owner's long password"
            status, doc, _ = tls.call("POST", "/api/v1/accounts", {"email": "owner@example.org", "password": password})
            self.assertEqual(status, 201, doc)
            env = dict(self.owner.env, MORTISE_SERVER_PASSWORD=password)
            env.pop("MORTISE_SERVER_CA", None)
            cli = [e2e_test.CLI, "--keyring", self.owner.keyring, "--json"]

            def login(url, *more, extra_env=None):
                return subprocess.run(cli + ["server", "login", url, "--email", "owner@example.org"] + list(more),
                                      capture_output=True, text=True, env=dict(env, **(extra_env or {})), timeout=60)

            # No CA given: the system's trust store does not know the test CA.
            p = login(tls.url)
            self.assertEqual(p.returncode, 6, p.stderr)
            self.assertIn("certificate does not verify", p.stderr)
            self.assertIn("--ca FILE", p.stderr)
            # Another CA (by the environment): refused, nothing signed in.
            p = login(tls.url, extra_env={"MORTISE_SERVER_CA": os.path.join(pki, "other-ca.pem")})
            self.assertEqual(p.returncode, 6, p.stderr)
            self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.owner.keyring), "server-session.json")))
            # The right CA but a host name the certificate does not name.
            port = tls.url.rsplit(":", 1)[1]
            p = login("https://localhost:" + port, "--ca", os.path.join(pki, "ca.pem"))
            self.assertEqual(p.returncode, 6, p.stderr)
            # The right CA by the environment, then by --ca (kept with the session).
            p = login(tls.url, extra_env={"MORTISE_SERVER_CA": os.path.join(pki, "ca.pem")})
            self.assertEqual(p.returncode, 0, p.stderr)
            p = login(tls.url, "--ca", os.path.join(pki, "ca.pem"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(self.owner.ok("server", "orgs")["organisations"], [])
            # Plain http:// to a host that is not this machine: refused before connecting.
            for url in ("http://192.0.2.1:8080", "http://mortise.test:80"):
                p = login(url)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("unencrypted", p.stderr)
                self.assertIn("https://", p.stderr)
        finally:
            tls.stop()
            with open("e2e_server_%s_tls.log" % self._testMethodName, "w") as f:
                f.write("".join(tls.lines))

    def test_someone_without_the_owner_key_cannot_register_the_lock(self):
        self.owner.ok("claim", self.lock.label(), "--endpoint", self.lock.endpoint, "--time", "none")
        # Mallory admins her own organisation and holds a keyring with a key
        # the lock does not know as its owner; she has the lock's public data.
        mallory = Person(self.home, "mallory")
        mallory.ok("init")
        mb, _ = self.sign_up("mallory@example.org", "mallory's long password", with_totp=False)
        status, doc, _ = mb.call("POST", "/api/v1/orgs", {"name": "Mallory's"})
        org = doc["organisation"]["id"]
        env = dict(mallory.env, MORTISE_SERVER_PASSWORD="mallory's long password")
        p = subprocess.run([e2e_test.CLI, "--keyring", mallory.keyring, "--json", "server", "login", self.server.url,
                            "--email", "mallory@example.org"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Her CLI refuses: she is no owner of any lock in her keyring.
        rc, _, err = mallory.run("server", "register", "--org", org)
        self.assertNotEqual(rc, 0)
        # Done by hand: her key signs the owner's lock id and key.
        owner_lock = self.owner.ok("lock", "list")["locks"][0]
        status, ch, _ = mb.call("POST", "/api/v1/orgs/%s/door-challenges" % org, {})
        self.assertEqual(status, 201, ch)
        status, sites, _ = mb.call("GET", "/api/v1/orgs/%s/sites" % org)
        # A lock key and owner key from the owner's public data, a signature
        # that is not the owner key's: refused before anything is stored.
        status, doc, _ = mb.call("POST", "/api/v1/orgs/%s/doors" % org, {
            "challenge_id": ch["challenge_id"], "site_id": sites["items"][0]["id"], "name": "x",
            "lock_id": owner_lock["lock_id"], "lock_public_key": "04" + "11" * 64,
            "owner_public_key": "04" + "22" * 64, "signature": "33" * 64})
        self.assertIn(status, (400, 403), doc)
        status, doc, _ = mb.call("GET", "/api/v1/orgs/%s/doors" % org)
        self.assertEqual(doc["items"], [])


def main():
    global SERVER
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--lockd", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("tests", nargs="*")
    a = ap.parse_args()
    SERVER = a.server
    e2e_test.LOCKD, e2e_test.CLI = a.lockd, a.cli
    unittest.main(argv=[sys.argv[0], "-v"] + (a.tests or ["ServerCli"]))


if __name__ == "__main__":
    main()
