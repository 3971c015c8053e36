#!/bin/sh
# CTest: `systemd-analyze verify` on the shipped unit, with ExecStart
# pointed at the built daemon (verify checks that the program exists).
# Usage: verify_unit.sh UNIT DAEMON WORKDIR. Exit 77 (skipped) only when
# systemd-analyze is not installed.
set -eu
unit=$1 daemon=$2 work=$3
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIPPED: systemd-analyze is not installed (Debian: apt-get install systemd); the unit was not verified"
  exit 77
fi
mkdir -p "$work"
out="$work/$(basename "$unit")"
sed "s|^ExecStart=/usr/local/bin/mortise-lockd |ExecStart=$daemon |" "$unit" > "$out"
grep -q "^ExecStart=$daemon " "$out" || { echo "ExecStart not found in $unit"; exit 1; }
# Any complaint fails the test, not only the exit status.
log="$work/verify.log"
if ! systemd-analyze verify --man=no "$out" > "$log" 2>&1; then cat "$log"; exit 1; fi
if [ -s "$log" ]; then cat "$log"; echo "systemd-analyze verify printed warnings"; exit 1; fi
echo "systemd-analyze verify: $unit OK"
