#!/bin/sh
# CTest: mortise-broker and scripts/broker answer -h/--help with their usage
# (exit 0) and refuse an unknown option (exit 2), creating nothing: an
# option was once taken for the deployment directory and Mosquitto started
# in a folder named "--help".
# Usage: usage_test.sh MORTISE_BROKER SCRIPTS_BROKER WORKDIR
set -u
broker=$1 script=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fail=0
check() {  # check WANT_RC WANT_TEXT COMMAND...
  want=$1 text=$2; shift 2
  out=$(timeout 30 "$@" 2>&1); rc=$?   # the old programs never returned: a broker ran in ./--help
  [ "$rc" = "$want" ] || { echo "FAIL: $* exited $rc, want $want"; fail=1; }
  case "$out" in *"$text"*) ;; *) echo "FAIL: $* printed no '$text': $out"; fail=1 ;; esac
}
for prog in "$broker" "$script"; do
  check 0 "usage:" "$prog" -h
  check 0 "usage:" "$prog" --help
  check 2 "unknown option --bogus" "$prog" --bogus
  check 2 "unknown option -x" "$prog" issue -x a b c
done
check 2 "not a port number" "$broker" --port abc dir
check 2 "not a port number" "$broker" --port 70000 dir
check 2 "not a port number" "$broker" --port
[ -z "$(ls -A)" ] || { echo "FAIL: created: $(ls -A)"; fail=1; }

# --port N: that port, or a refusal while another broker holds it.
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$broker" --port "$port" first 2>first.log &
pid=$!
i=0
until grep -q "listening on 127.0.0.1:$port " first.log 2>/dev/null; do
  kill -0 $pid 2>/dev/null && [ $i -lt 300 ] || { echo "FAIL: no broker on $port"; cat first.log; fail=1; break; }
  i=$((i + 1)); sleep 0.1
done
check 1 "port $port is taken" "$broker" --port "$port" second
kill -TERM $pid; wait $pid
[ $fail = 0 ] && echo "usage_test: OK"
exit $fail
