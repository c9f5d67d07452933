#!/usr/bin/env python3
"""Holds one CLOSE_WAIT socket per hostile process name, for the sanitiser's kernel tests.

Run inside a private network namespace: ip netns exec NS python3 hostile-owners.py NAMES_JSON.
For each name it forks a child that connects to a loopback listener and renames itself with
prctl(PR_SET_NAME) (the kernel keeps 15 bytes, newline, ESC and all: any user can do this to
their own processes); the parent accepts and shuts its side for writing, so the child's socket
sits in CLOSE_WAIT (and the parent's in FIN_WAIT_2). It prints one JSON line
[{"name", "pid", "port"}] (port: the child's local port) and holds everything until stdin closes.
"""
import ctypes
import json
import os
import signal
import socket
import sys

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)

names = json.loads(sys.argv[1])
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
port = listener.getsockname()[1]

held = []
children = []
report = []
for name in names:
    read_end, write_end = os.pipe()
    named_read, named_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        # Gone with the parent, whatever kills it; and none of the earlier children's pipe ends
        # kept open here, or they would never see their end of stdin.
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        os.close(write_end)
        os.close(named_read)
        for _, earlier in children:
            os.close(earlier)
        listener.close()
        for sock in held:
            sock.close()
        client = socket.create_connection(("127.0.0.1", port))
        if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode("utf-8")), 0, 0, 0) != 0:
            os._exit(3)
        os.write(named_write, b"n")
        os.read(read_end, 1)  # until the parent closes its end
        client.close()
        os._exit(0)
    os.close(read_end)
    os.close(named_write)
    children.append((pid, write_end))
    conn, peer = listener.accept()
    if os.read(named_read, 1) != b"n":
        sys.exit(f"child {pid} could not rename itself")
    os.close(named_read)
    conn.shutdown(socket.SHUT_WR)
    held.append(conn)
    report.append({"name": name, "pid": pid, "port": peer[1]})

print(json.dumps(report), flush=True)
sys.stdin.read()
for pid, write_end in children:
    os.close(write_end)
    os.waitpid(pid, 0)
