#!/usr/bin/env python3
"""scripts/demo in a terminal: the lock face takes keys (issue 12, defect 1),
and the lock online (issue 14): the demo starts a private broker and
mortise-server beside the lock and stops them with it; `--script` runs the
README's tour through the server (`mortise unlock --via-server`).

  demo_face_test.py --demo scripts/demo --lockd PATH --cli PATH --server PATH --broker PATH

Runs the interactive demo under a pseudo-terminal, as a person at a terminal
would: Enter starts the face, 'o' opens the simulated door, and 'q' must stop the
lock and end the demo. A face that cannot read the terminal (stdin taken from
/dev/null) ignores both, and the demo never ends: the test then fails when its
guard expires. Nothing here measures time.
"""
import argparse
import os
import pty
import re
import select
import shutil
import signal
import sys
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

ARGS = None


def demo_env(tmp):
    return dict(os.environ, TMPDIR=tmp, MORTISE_LOCKD=ARGS.lockd, MORTISE_CLI=ARGS.cli, MORTISE_SERVER=ARGS.server,
                MORTISE_BROKER=ARGS.broker, TERM="xterm")


def healthy(url):
    """True when mortise-server answers at `url`; False when nothing listens."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


GUARD_SECONDS = int(os.environ.get("MORTISE_TEST_GUARD", "120"))  # only a guard against a hang


class DemoFace(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mortise-demo-test.")
        env = demo_env(self.tmp)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe(ARGS.demo, [ARGS.demo, "--no-build"], env)
        self.out = b""

    def tearDown(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self.fd)

    def read_until(self, marker):
        signal.alarm(GUARD_SECONDS)
        try:
            while marker not in self.out:
                r, _, _ = select.select([self.fd], [], [])
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.fail("the demo ended before printing %r; output:\n%s" % (marker, self.text()))
                self.out += chunk
        finally:
            signal.alarm(0)

    def wait_exit(self):
        signal.alarm(GUARD_SECONDS)
        try:
            while True:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                self.out += chunk
            _, status = os.waitpid(self.pid, 0)
            return status
        finally:
            signal.alarm(0)

    def text(self):
        return self.out.decode("utf-8", "replace")[-3000:]

    def test_the_face_takes_keys_and_q_stops_the_demo(self):
        self.read_until(b"Press Enter")
        os.write(self.fd, b"\r")
        self.read_until(b"Mortise lock (simulated)")
        os.write(self.fd, b"o")  # open the simulated door
        self.read_until(b"contact open")
        os.write(self.fd, b"q")
        status = self.wait_exit()
        self.assertTrue(os.WIFEXITED(status), self.text())
        self.assertEqual(os.WEXITSTATUS(status), 0, self.text())
        self.assertEqual(os.listdir(self.tmp), [], "the demo must remove its directory when it stops")
        self.assertIn("scripts/demo: removed ", self.text())

    def test_the_lock_is_online_beside_a_broker_and_server_that_stop_with_the_demo(self):
        self.read_until(b"Press Enter")
        text = self.out.decode()
        url = re.search(r"\(server (http://127\.0\.0\.1:\d+), account ", text).group(1)
        self.assertTrue(healthy(url), "the demo's mortise-server does not answer at " + url)
        for step in ("mortise server login " + url, "mortise server register --org org_", "mortise server uplink-cert",
                     "mortise status --via-server", "mortise unlock --via-server"):
            self.assertIn(step, text)
        demo = re.search(r"export DEMO=(\S+)", text).group(1)
        with open(os.path.join(demo, "lockd.toml")) as f:
            self.assertIn("[uplink]", f.read())
        os.write(self.fd, b"\r")
        self.read_until(b"Mortise lock (simulated)")
        os.write(self.fd, b"q")
        status = self.wait_exit()
        self.assertEqual(os.WEXITSTATUS(status), 0, self.text())
        self.assertFalse(healthy(url), "mortise-server still runs after the demo stopped")
        self.assertEqual(os.listdir(self.tmp), [], "the demo must remove its directory when it stops")

    def test_the_readme_shows_the_prompt_the_demo_waits_at(self):
        # Newcomer: the demo waited at a prompt the README did not mention.
        prompt = "Press Enter to start it..."
        self.read_until(prompt.encode())  # the whole prompt, as the demo prints it
        readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(ARGS.demo))), "README.md")
        with open(readme, encoding="utf-8") as f:
            text = " ".join(f.read().split())
        self.assertIn(prompt, text)
        os.write(self.fd, b"\r")
        self.read_until(b"Mortise lock (simulated)")
        os.write(self.fd, b"q")
        self.wait_exit()

    def test_q_keeps_a_directory_that_holds_the_owners_keyring_and_says_so(self):
        self.read_until(b"Press Enter")
        demo = re.search(rb"export DEMO=(\S+)", self.out).group(1).decode()
        # The owner ran `mortise init` with the printed MORTISE_KEYRING.
        with open(os.path.join(demo, "owner", "keyring"), "wb") as f:
            f.write(b"a keyring")
        os.write(self.fd, b"\r")
        self.read_until(b"Mortise lock (simulated)")
        os.write(self.fd, b"q")
        status = self.wait_exit()
        self.assertEqual(os.WEXITSTATUS(status), 0, self.text())
        self.assertTrue(os.path.exists(os.path.join(demo, "owner", "keyring")), "the keyring was deleted")
        self.assertIn("it holds your keyring (owner/keyring)", self.text())
        # Nothing was claimed: the demo says what is there, not "the lock it owns".
        self.assertIn("the lock (lock/) was not claimed", self.text())
        self.assertIn("to start this lock again (offline): ", self.text())
        self.assertIn("rm -rf " + demo, self.text())
        shutil.rmtree(self.tmp, ignore_errors=True)


class DemoScript(unittest.TestCase):
    """`scripts/demo --script`: the README's tour, the online part included,
    checked by the demo itself (exit 0 only if every step worked)."""

    def test_the_tour_opens_the_door_through_the_server(self):
        tmp = tempfile.mkdtemp(prefix="mortise-demo-test.")
        p = subprocess.run([ARGS.demo, "--script", "--no-build"], env=demo_env(tmp), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=GUARD_SECONDS * 3)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, out[-4000:])
        self.assertRegex(out, r"demo --script: all \d+ steps passed")
        for line in ("$ mortise server register --org org_", "$ mortise server uplink-cert --request ",
                     "$ mortise status --via-server", "$ mortise unlock --via-server", "$ mortise lock --via-server",
                     "online:   yes", "lock-signed answer verified"):
            self.assertIn(line, out)
        self.assertEqual(os.listdir(tmp), [], "the demo must remove its directory when it stops")
        # The tour made two keyrings there: the message says so.
        self.assertIn("with the keyrings the tour made (owner/keyring, guest/keyring)", out)
        shutil.rmtree(tmp, ignore_errors=True)


class ProgrammingMenuOnTheFace(unittest.TestCase):
    """The keypad programming menu typed on a real lock face (issue 12):
    mortise-lockd draws its face on a pseudo-terminal; the owner sets the
    programming PIN with the CLI; '*', the PIN and '#' typed on the face open
    the menu, which says each step in words."""

    def setUp(self):
        import subprocess
        self.subprocess = subprocess
        self.tmp = tempfile.mkdtemp(prefix="mortise-face-test.")
        self.state = os.path.join(self.tmp, "lock")
        os.mkdir(self.state, 0o700)
        env = dict(os.environ, TERM="xterm")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe(ARGS.lockd, [ARGS.lockd, "--state-dir", self.state, "--clock", "simulated", "--face"], env)
        self.out = b""
        self.env = dict(os.environ, MORTISE_PASSPHRASE="pass-owner", MORTISE_KEYRING_KDF="fast",
                        MORTISE_KEYRING=os.path.join(self.tmp, "owner.keyring"), MORTISE_NOW="2026-11-24T07:59:00Z")

    def tearDown(self):
        DemoFace.tearDown(self)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def read_until(self, marker):
        DemoFace.read_until(self, marker)

    def text(self):
        return DemoFace.text(self)

    def mortise(self, *args, stdin=None):
        p = self.subprocess.run([ARGS.cli, "--wait", "0"] + list(args), input=stdin, capture_output=True, text=True,
                                env=self.env, timeout=60)
        self.assertEqual(p.returncode, 0, "mortise %s: %s %s" % (" ".join(args), p.stdout, p.stderr))
        return p.stdout

    def type_keys(self, keys, marker):
        self.out = b""
        os.write(self.fd, keys.encode())
        self.read_until(marker.encode())

    def test_star_pin_hash_opens_the_programming_menu_on_the_face(self):
        self.read_until(b"Mortise lock (simulated)")
        with open(os.path.join(self.state, "label.txt")) as f:
            label = f.read().strip()
        self.mortise("init")
        self.mortise("claim", label, "--endpoint", os.path.join(self.state, "lock.sock"),
                     "--time", "2026-11-24T07:59:00Z")
        self.assertIn("programming PIN set", self.mortise("pin", "programming", "set", "--stdin", stdin="9090\n"))
        self.type_keys("*9090#", "programming menu open; 1# add a user PIN, 2# delete a PIN slot, 0# exit")
        self.type_keys("1#", "type the new PIN (4-12 digits), then #")
        self.type_keys("135792#", "PIN added in slot 1")
        self.type_keys("0#", "programming menu closed")
        self.assertIn("PIN #1 -> user 2", self.mortise("pin", "list"))
        os.write(self.fd, b"q")
        status = DemoFace.wait_exit(self)
        self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, self.text())


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--demo", required=True)
    p.add_argument("--lockd", required=True)
    p.add_argument("--cli", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--broker", required=True)
    ARGS, rest = p.parse_known_args()

    def on_alarm(*_):
        raise AssertionError("guard expired: the demo did not react to the keys typed on its face")

    signal.signal(signal.SIGALRM, on_alarm)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
