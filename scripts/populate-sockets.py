#!/usr/bin/env python3
"""Builds a large loopback socket population for benchmarks and soaks, inside the current network
namespace (run it with `ip netns exec NS`). A process may hold at most 20,000 descriptors here, so
the sockets are spread over worker processes.

  populate-sockets.py --sockets 100000 [--churn-per-second 1000]

Mix (of the socket count): ~1 % LISTEN, ~86 % ESTABLISHED, 4 % CLOSE_WAIT + 4 % FIN_WAIT_2,
~4 % TIME_WAIT (pairs the client closed first), ~0.5 % SYN_SENT (to listeners with a full accept
queue). Prints one JSON line {"ready": true, "counts": {...}} when built, then holds everything
until stdin closes or SIGTERM. With --churn-per-second, one more worker opens and closes that many
connections a second for as long as it runs (each leaves a TIME_WAIT behind for 60 s), spread over
one more worker per 250 a second.
"""
import argparse
import json
import os
import resource
import select
import signal
import socket
import sys
import time

FDS_PER_WORKER = 15_000
PAIRS_PER_LISTENER = 2_000


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def build_share(established_pairs, half_closed_pairs, time_wait_pairs, syn_sent, listeners_extra):
    """Builds one worker's share; returns the sockets to hold and what was made."""
    held = []
    counts = {"LISTEN": 0, "ESTABLISHED": 0, "CLOSE_WAIT": 0, "FIN_WAIT_2": 0, "TIME_WAIT": 0, "SYN_SENT": 0}

    def new_listener(backlog=4096):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(backlog)
        held.append(sock)
        counts["LISTEN"] += 1
        return sock

    def connected_pairs(n):
        listener = None
        for i in range(n):
            if i % PAIRS_PER_LISTENER == 0:
                listener = new_listener()
            client = socket.create_connection(listener.getsockname())
            server, _ = listener.accept()
            yield client, server

    for client, server in connected_pairs(established_pairs):
        held.extend([client, server])
        counts["ESTABLISHED"] += 2
    for client, server in connected_pairs(half_closed_pairs):
        server.shutdown(socket.SHUT_WR)
        held.extend([client, server])
        counts["CLOSE_WAIT"] += 1
        counts["FIN_WAIT_2"] += 1
    for client, server in connected_pairs(time_wait_pairs):
        client.close()  # the active closer keeps TIME_WAIT for 60 s
        server.close()
        counts["TIME_WAIT"] += 1
    if syn_sent:
        full = new_listener(backlog=0)
        filler = socket.create_connection(full.getsockname())
        held.append(filler)
        counts["ESTABLISHED"] += 2
        time.sleep(0.05)
        for _ in range(syn_sent):
            blocked = socket.socket()
            blocked.setblocking(False)
            blocked.connect_ex(full.getsockname())
            held.append(blocked)
            counts["SYN_SENT"] += 1
    for _ in range(listeners_extra):
        new_listener()
    return held, counts


CHURN_PER_WORKER = 250  # one Python process manages ~250 open/close cycles a second with room to spare
CHURN_LISTENERS = 16  # 1,000/s leaves 60,000 TIME_WAITs: spread them over 16 peer ports' 4-tuple spaces


def churn(per_second):
    """Opens and closes `per_second` connections every second, client closing first, in even slices
    over the second, so the table changes between any two polls."""
    listeners = []
    for _ in range(CHURN_LISTENERS):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        listeners.append(listener)
    slices = 10
    done = 0
    started = time.monotonic()
    while True:
        for _ in range(max(1, per_second // slices)):
            listener = listeners[done % len(listeners)]
            client = socket.create_connection(listener.getsockname())
            server, _ = listener.accept()
            client.close()
            server.close()
            done += 1
        ahead = started + done / per_second - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def main():
    options = argparse.ArgumentParser()
    options.add_argument("--sockets", type=int, required=True)
    options.add_argument("--churn-per-second", type=int, default=0)
    args = options.parse_args()
    # Ctrl-C reaches every process of the group: end quietly (the caller removes the namespace).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    raise_fd_limit()

    total = args.sockets
    syn_sent = max(1, total // 200)
    listeners = max(1, total // 100)
    half_closed_pairs = total * 4 // 100
    time_wait_pairs = total * 4 // 100
    established_pairs = max(0, (total - syn_sent - listeners - 2 * half_closed_pairs - time_wait_pairs) // 2)
    fds = 2 * established_pairs + 2 * half_closed_pairs + syn_sent + listeners
    workers = max(1, -(-fds // FDS_PER_WORKER))

    children = []
    reader, writer = os.pipe()
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            share = lambda n: n // workers + (1 if w < n % workers else 0)
            held, counts = build_share(share(established_pairs), share(half_closed_pairs), share(time_wait_pairs),
                                       share(syn_sent), max(0, share(listeners) - 1))
            os.write(writer, (json.dumps(counts) + "\n").encode())
            signal.pause()
            os._exit(0)
        children.append(pid)
    os.close(writer)
    totals = {}
    with os.fdopen(reader) as results:
        for _ in range(workers):
            for state, n in json.loads(results.readline()).items():
                totals[state] = totals.get(state, 0) + n
    churn_workers = -(-args.churn_per_second // CHURN_PER_WORKER)
    for w in range(churn_workers):
        pid = os.fork()
        if pid == 0:
            churn(args.churn_per_second // churn_workers + (1 if w < args.churn_per_second % churn_workers else 0))
            os._exit(0)
        children.append(pid)

    def stop(*_):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"ready": True, "workers": workers, "counts": totals}), flush=True)
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 1.0)
        if readable and not sys.stdin.readline():
            stop()


if __name__ == "__main__":
    main()
