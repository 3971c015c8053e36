#!/usr/bin/env python3
"""The lock keeps its time across restarts, like a lock with an RTC (issue 12,
defect 15), and says when it does not know it.

  clock_test.py --lockd PATH --cli PATH

Real mortise-lockd processes on the simulated clock, driven through the CLI
and the control socket (the helpers of e2e_test.py).
"""
import argparse
import os
import sys
import unittest

import e2e_test as e2e


class Clock(e2e.Base):
    def rtc_path(self):
        return os.path.join(self.lock.dir, "rtc")

    def restart(self):
        self.lock.stop()
        self.lock.start()

    def test_a_restarted_lock_knows_its_time_and_a_guest_key_works_at_once(self):
        self.claim()  # sets the lock's time to Tuesday 07:59
        guest = self.guest("gwen", "--role", "guest", "--until", "2026-11-30")
        self.lock.advance(60_000)
        self.restart()
        status = self.owner.ok("status")
        self.assertTrue(status["time_known"], status)
        self.assertEqual(status["utc"], "2026-11-24T08:00:00Z")
        guest.ok("unlock")  # no time sync needed after the restart
        self.lock.advance(2000)
        self.assertEqual(self.bolt(), "Unlocked")

    def test_without_its_rtc_the_lock_says_the_time_is_unknown_and_what_to_run(self):
        self.claim()
        guest = self.guest("gwen", "--role", "guest", "--until", "2026-11-30")
        self.lock.stop()
        os.unlink(self.rtc_path())  # the coin cell died
        self.lock.start()
        status = self.owner.ok("status")
        self.assertFalse(status["time_known"], status)
        self.assertIsNone(status["utc"])
        p = e2e.subprocess.run([e2e.CLI, "--keyring", self.owner.keyring, "status"], capture_output=True,
                               text=True, env=self.owner.env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("mortise time sync", p.stdout)
        # Time-limited keys fail closed until the owner sets the time (A04).
        rc, _, err = guest.run("unlock")
        self.assertNotEqual(rc, 0, err)
        self.owner.ok("time", "set", "2026-11-24T08:30:00Z")
        guest.ok("unlock")

    def test_A04_an_rtc_file_set_back_is_not_believed(self):
        self.claim()
        self.lock.advance(60_000)
        self.lock.stop()
        with open(self.rtc_path()) as f:
            magic, utc_ms, host_ms = f.read().split()
        # A day back: it would revive keys that expired yesterday.
        with open(self.rtc_path(), "w") as f:
            f.write("%s %d %s\n" % (magic, int(utc_ms) - 86_400_000, host_ms))
        self.lock.start()
        status = self.owner.ok("status")
        self.assertFalse(status["time_known"], status)

    def test_a_damaged_rtc_file_leaves_the_time_unknown_and_the_lock_running(self):
        self.claim()
        self.lock.stop()
        with open(self.rtc_path(), "w") as f:
            f.write("garbage\n")
        self.lock.start()
        self.assertFalse(self.owner.ok("status")["time_known"])
        self.assertTrue(any("rtc" in line and "unknown" in line for line in self.lock.stderr_lines),
                        "".join(self.lock.stderr_lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lockd", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("tests", nargs="*")
    a = ap.parse_args()
    e2e.LOCKD, e2e.CLI = a.lockd, a.cli
    unittest.main(argv=[sys.argv[0], "-v"] + a.tests)


if __name__ == "__main__":
    main()
