#!/usr/bin/env python3
"""Parks loopback TCP sessions in chosen states, for end-to-end tests and fixture captures.

Run it inside a private network namespace (ip netns exec NS python3 park-sockets.py [--leak N]
[--syn-sent N]). It prints one JSON line describing every socket it made and the flag tcpdwell
should give it once the thresholds have passed, then holds the sockets until stdin closes or
SIGTERM arrives. `probe PORT` on stdin makes it use its socket bound to local PORT and print
{"probe": PORT, "error": "ECONNABORTED" or null}: what the owner sees after a reset.

  --leak N      N more CLOSE_WAIT sockets in this process (a socket leak)
  --syn-sent N  N SYN_SENT sockets to the one full listener instead of 1 (a dead upstream)
  --accept-queue  also connections the kernel completed and the application never accepts: on a
                listener with room (backlog 8), one accepted idle pair, one never accepted and silent,
                one never accepted whose client sent 5 bytes, and one over IPv6 never accepted
  --one-way     also a busy one-way stream: one end writes 1 KiB every 2 ms, the other only reads
                (a log shipper or replication stream; neither end is idle)

How each state is made (docs/tcp-facts.md#making-sockets-stay-in-a-state-tests):
  SYN_SENT      listen(backlog=0) + one connection never accepted: the next SYN is dropped.
  SYN_RECEIVED  TCP_DEFER_ACCEPT on the listener (a socket option Node cannot set): the bare final
                ACK is ignored, so the request socket stays in SYN-RECV.
  CLOSE_WAIT /  shutdown(SHUT_WR) on one end of an established pair: that end sits in FIN_WAIT_2,
  FIN_WAIT_2    the other in CLOSE_WAIT, for as long as both hold their sockets.
  idle / busy   an established pair with no data, and one with a byte every 200 ms.
  unaccepted    connect() to a listener whose owner never calls accept(): the server side is
                ESTABLISHED in its accept queue with inode 0 (no file yet), the listener's Recv-Q counts it.
"""
import argparse
import errno
import json
import select
import signal
import socket
import sys
import threading
import time

sockets = []  # everything held open until the end
report = []


def endpoint(sock, peer=False):
    addr = sock.getpeername() if peer else sock.getsockname()
    host, port = addr[0], addr[1]
    if host.startswith("::ffff:"):
        host = host[len("::ffff:"):]
    return {"address": host, "port": port}


def record(role, protocol, local, remote, state, kind):
    report.append({"role": role, "protocol": protocol, "local": local, "remote": remote, "state": state, "flag": kind})


def note(sock, role, state, kind, protocol=None):
    family_protocol = "tcp6" if sock.family == socket.AF_INET6 else "tcp"
    record(role, protocol or family_protocol, endpoint(sock), endpoint(sock, peer=True), state, kind)


def listener(family, host, backlog=8, v6only=None, defer_accept=None):
    sock = socket.socket(family, socket.SOCK_STREAM)
    if v6only is not None:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    if defer_accept is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, defer_accept)
    sock.bind((host, 0))
    sock.listen(backlog)
    sockets.append(sock)
    return sock


def pair(family, host, listen_family=None, listen_host=None, v6only=None):
    srv = listener(listen_family or family, listen_host or host, v6only=v6only)
    client = socket.socket(family, socket.SOCK_STREAM)
    client.connect((host, srv.getsockname()[1]))
    server, _ = srv.accept()
    sockets.extend([client, server])
    return client, server


def half_closed(role, family, host, **kwargs):
    client, server = pair(family, host, **kwargs)
    server.shutdown(socket.SHUT_WR)
    note(server, role + "-closer", "FIN_WAIT_2", "half-close")
    note(client, role + "-leaker", "CLOSE_WAIT", "half-close")


def accept_queue():
    roomy = listener(socket.AF_INET, "127.0.0.1")
    port = roomy.getsockname()[1]
    accepted = socket.create_connection(("127.0.0.1", port))
    server, _ = roomy.accept()
    sockets.extend([accepted, server])
    note(accepted, "queue-accepted-client", "ESTABLISHED", "idle")
    note(server, "queue-accepted-server", "ESTABLISHED", "idle")
    silent = socket.create_connection(("127.0.0.1", port))
    sent = socket.create_connection(("127.0.0.1", port))
    sent.sendall(b"hello")
    sockets.extend([silent, sent])
    for sock, role in ((silent, "queue-silent"), (sent, "queue-sent")):
        note(sock, role + "-client", "ESTABLISHED", "idle")
        record(role + "-server", "tcp", endpoint(roomy), endpoint(sock), "ESTABLISHED", "idle")
    roomy6 = listener(socket.AF_INET6, "::1")
    silent6 = socket.create_connection(("::1", roomy6.getsockname()[1]))
    sockets.append(silent6)
    note(silent6, "queue-silent6-client", "ESTABLISHED", "idle")
    record("queue-silent6-server", "tcp6", endpoint(roomy6), endpoint(silent6), "ESTABLISHED", "idle")


def main():
    options = argparse.ArgumentParser()
    options.add_argument("--leak", type=int, default=0)
    options.add_argument("--syn-sent", type=int, default=1)
    options.add_argument("--one-way", action="store_true")
    options.add_argument("--accept-queue", action="store_true")
    args = options.parse_args()

    # idle ESTABLISHED pair
    client, server = pair(socket.AF_INET, "127.0.0.1")
    note(client, "idle-client", "ESTABLISHED", "idle")
    note(server, "idle-server", "ESTABLISHED", "idle")

    # busy ESTABLISHED pair: a byte every 200 ms each way
    busy_client, busy_server = pair(socket.AF_INET, "127.0.0.1")
    note(busy_client, "busy-client", "ESTABLISHED", None)
    note(busy_server, "busy-server", "ESTABLISHED", None)

    def chatter():
        while True:
            try:
                busy_client.send(b"x")
                busy_server.recv(16)
                busy_server.send(b"y")
                busy_client.recv(16)
            except OSError:
                return
            time.sleep(0.2)

    threading.Thread(target=chatter, daemon=True).start()

    if args.one_way:
        writer, reader = pair(socket.AF_INET, "127.0.0.1")
        note(writer, "stream-writer", "ESTABLISHED", None)
        note(reader, "stream-reader", "ESTABLISHED", None)
        chunk = b"x" * 1024

        def stream():
            while True:
                try:
                    writer.send(chunk)
                except OSError:
                    return
                time.sleep(0.002)

        def drain():
            while True:
                try:
                    if not reader.recv(65536):
                        return
                except OSError:
                    return

        threading.Thread(target=stream, daemon=True).start()
        threading.Thread(target=drain, daemon=True).start()

    if args.accept_queue:
        accept_queue()

    # half-close: IPv4, IPv6, and a dual-stack listener reached over IPv4 (IPv4-mapped on its side)
    half_closed("v4", socket.AF_INET, "127.0.0.1")
    half_closed("v6", socket.AF_INET6, "::1")
    client, server = pair(socket.AF_INET, "127.0.0.1", listen_family=socket.AF_INET6, listen_host="::", v6only=0)
    server.shutdown(socket.SHUT_WR)
    note(server, "mapped-closer", "FIN_WAIT_2", "half-close", protocol="tcp6")
    note(client, "mapped-leaker", "CLOSE_WAIT", "half-close")
    for i in range(args.leak):
        half_closed(f"leak{i}", socket.AF_INET, "127.0.0.1")

    # SYN_SENT: a full accept queue drops the SYN
    full = listener(socket.AF_INET, "127.0.0.1", backlog=0)
    filler = socket.create_connection(("127.0.0.1", full.getsockname()[1]))
    sockets.append(filler)
    note(filler, "backlog-filler", "ESTABLISHED", "idle")
    record("backlog-filler-server", "tcp", endpoint(full), endpoint(filler), "ESTABLISHED", "idle")
    time.sleep(0.05)
    for i in range(args.syn_sent):
        blocked = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blocked.setblocking(False)
        blocked.bind(("127.0.0.1", 0))
        blocked.connect_ex(("127.0.0.1", full.getsockname()[1]))
        sockets.append(blocked)
        record("syn-sent" if i == 0 else f"syn-sent{i}", "tcp", endpoint(blocked), endpoint(full), "SYN_SENT", "half-open")

    # SYN_RECEIVED: TCP_DEFER_ACCEPT keeps the server side's request socket waiting for data
    deferred = listener(socket.AF_INET, "127.0.0.1", defer_accept=60)
    deferred_client = socket.create_connection(("127.0.0.1", deferred.getsockname()[1]))
    sockets.append(deferred_client)
    note(deferred_client, "defer-client", "ESTABLISHED", "idle")
    record("syn-received", "tcp", endpoint(deferred), endpoint(deferred_client), "SYN_RECEIVED", "half-open")

    listeners = [s for s in sockets if s.type == socket.SOCK_STREAM and _is_listener(s)]
    for s in listeners:
        record("listener", "tcp6" if s.family == socket.AF_INET6 else "tcp", endpoint(s), None, "LISTEN", None)

    print(json.dumps({"ready": True, "sockets": report}), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Hold until stdin closes (the test ended or died) or SIGTERM; answer probes meanwhile.
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 1.0)
        if not readable:
            continue
        line = sys.stdin.readline()
        if not line:
            return
        words = line.split()
        if len(words) == 2 and words[0] == "probe":
            print(json.dumps({"probe": int(words[1]), "error": probe(int(words[1]))}), flush=True)


def probe(port):
    """Uses the socket bound to local `port`: the error name it now fails with, or None."""
    for sock in sockets:
        try:
            if sock.getsockname()[1] != port or _is_listener(sock):
                continue
        except OSError as error:
            return errno.errorcode.get(error.errno, str(error.errno))
        try:
            sock.send(b"x")
            return None
        except OSError as error:
            return errno.errorcode.get(error.errno, str(error.errno))
    return "ENOENT"


def _is_listener(sock):
    try:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    except OSError:
        return False


if __name__ == "__main__":
    main()
