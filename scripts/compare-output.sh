#!/bin/bash
# scripts/compare-output.sh BEFORE_CLI [AFTER_CLI]: the public output of two builds on generated
# captures, byte for byte (stdout, stderr and exit code of each command; watch's --log file too).
# E.g. scripts/compare-output.sh /work/main/dist/cli/main.js (after: this checkout's dist/).
# Captures: scripts/generate-ss-capture.py (12,000 sessions, `ss -tanoie -p`; the second table 60 s
# idler). Prints one line per command, `same` or `DIFF`; exits 1 on any difference.
set -u
A=${1:?the CLI to compare with, e.g. /work/main/dist/cli/main.js}
B=${2:-$(cd "$(dirname "$0")/.." && pwd)/dist/cli/main.js}
DIR=$(mktemp -d /tmp/tcpdwell-compare-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
python3 "$(dirname "$0")/generate-ss-capture.py" 12000 0 "$DIR/a.txt"
python3 "$(dirname "$0")/generate-ss-capture.py" 12000 60000 "$DIR/b.txt"
cd "$DIR"
fail=0
run() { # name, args...
  local name=$1; shift
  node "$A" "$@" >out-a 2>err-a; echo "exit $?" >>out-a
  node "$B" "$@" >out-b 2>err-b; echo "exit $?" >>out-b
  if cmp -s out-a out-b && cmp -s err-a err-b; then echo "same  $name ($(wc -l <out-a) lines)"; else echo "DIFF  $name"; fail=1; fi
}
run check-text check --input a.txt --idle 1m --no-state
run check-text-2 check --input a.txt b.txt --idle 1m --no-state
run check-all check --input a.txt b.txt --idle 1m --no-state --all
run check-json check --input a.txt b.txt --idle 1m --no-state --format json
run check-nagios check --input a.txt b.txt --idle 1m --no-state --format nagios
run watch-text watch --input a.txt b.txt --idle 1m
run watch-events watch --input a.txt b.txt --idle 1m --events
run watch-text-crit watch --input a.txt b.txt --idle 1m --critical-idle 2m
rm -f log-a log-b
node "$A" watch --input a.txt b.txt --idle 1m --log log-a >/dev/null 2>&1
node "$B" watch --input a.txt b.txt --idle 1m --log log-b >/dev/null 2>&1
if cmp -s log-a log-b; then echo "same  watch --log file ($(wc -l <log-a) lines)"; else echo "DIFF  watch --log file"; fail=1; fi
exit $fail
