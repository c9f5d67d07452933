#!/usr/bin/env bash
# Installs the outside programs the tests drive, from Debian's packages: `npm test` runs it first
# (its pretest script), so the README's test command sets up a fresh machine by itself; .ci/run
# runs `npm test` too. Quick when all is present: it only looks the programs up.
#
# Where it cannot install (not root, no apt-get, apt-get failed: no network) it prints one line
# saying what is missing and how to get it, and the tests that need a missing program skip, each
# saying why. Under CI (CI=true) a program it could not install fails the run instead: CI must
# run every test.
#
# What needs what: ip and ss (iproute2) and python3 build the kernel end-to-end tests' namespaces;
# nft (nftables) makes the kernel track loopback flows for the conntrack source; netstat (net-tools)
# is captured and read back with --input (and run by the systeminformation library); openssl makes
# the TLS test certificate; prometheus and promtool scrape `serve` and check its exposition and
# examples/; logger (bsdutils) is what the syslog notifier runs; tmux drives the dashboard;
# unshare and setpriv (util-linux) give the state file and event log tests private mounts and
# another user.
set -uo pipefail

[ "$(uname -s)" = Linux ] || exit 0

missing=()
need() { # program package
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] || missing+=("$2")
}
need ip iproute2
need ss iproute2
need python3 python3
need nft nftables
need netstat net-tools
need openssl openssl
need prometheus prometheus
need promtool prometheus
need logger bsdutils
need tmux tmux
need unshare util-linux
need setpriv util-linux
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
packages=${packages% }
if [ "$(id -u)" != 0 ]; then
  why='not root'
elif ! command -v apt-get >/dev/null 2>&1; then
  why='no apt-get here'
else
  echo "tcpdwell test set-up: installing $packages (apt-get)" >&2
  log=$(mktemp)
  # The tests need programs, not daemons: no recommended packages (prometheus recommends
  # node-exporter), and no service started or enabled by the install (Debian's policy-rc.d,
  # put in place only for this install when none exists).
  policy=/usr/sbin/policy-rc.d
  own_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=true
  fi
  installed=false
  if apt-get update -qq >"$log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >>"$log" 2>&1; then
    installed=true
  fi
  if $own_policy; then rm -f "$policy"; fi
  if $installed; then
    # Where systemd runs, a unit the packages enabled stays off (prometheus would listen on :9090).
    if command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    rm -f "$log"
    exit 0
  fi
  why="apt-get failed: $(grep -E '^(E|Err):' "$log" | head -1 | cut -c1-120)"
  rm -f "$log"
fi
if [ "${CI:-}" = true ]; then
  echo "tcpdwell test set-up: missing $packages ($why): CI runs every test, so this run fails; install them with: apt-get install $packages" >&2
  exit 1
fi
echo "tcpdwell test set-up: missing $packages ($why): the tests that need them are skipped; install them with: sudo apt-get install $packages" >&2
