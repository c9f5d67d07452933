#!/usr/bin/env python3
# generate-ss-capture.py N GROW_MS OUT: an `ss -tanoie -p` table written for output comparisons
# (scripts/compare-output.sh): N sessions (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_2, SYN_SENT; IPv4 and
# IPv6; two in three with an owner), idle 30 s to ~4 min plus GROW_MS by tcp_info, and a listener.
import sys
n = int(sys.argv[1]); grow = int(sys.argv[2]); out = sys.argv[3]
lines = ['State      Recv-Q Send-Q      Local Address:Port        Peer Address:Port Process']
lines.append('LISTEN     0      128             127.0.0.1:5432            0.0.0.0:*     users:(("postgres",pid=812,fd=5)) ino:9000 sk:1 cgroup:unreachable:1 <->')
lines.append('\t bbr cwnd:10')
for i in range(n):
    st = ['ESTAB', 'ESTAB', 'ESTAB', 'CLOSE-WAIT', 'FIN-WAIT-2', 'SYN-SENT'][i % 6]
    idle = 30_000 + (i * 997) % 200_000 + grow
    users = f'users:(("python3",pid={4000 + i % 7},fd={i + 3})) ' if i % 3 else ''
    timer = ' timer:(keepalive,10sec,0)' if st == 'ESTAB' else (' timer:(timewait,30sec,0)' if st == 'FIN-WAIT-2' else (' timer:(on,1.2sec,2)' if st == 'SYN-SENT' else ''))
    remote = f'10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}:5432' if i % 4 else f'[2001:db8::{i:x}]:443'
    local = '127.0.0.1' if i % 4 else '[::1]'
    lines.append(f'{st:<10} 0      0      {local}:{20000 + i % 40000}  {remote}{timer} {users}ino:{10000 + i} sk:{i + 2:x} cgroup:unreachable:1 <->')
    lines.append(f'\t ts sack bbr wscale:10,10 rto:204 rtt:0.011/0.005 mss:32768 cwnd:10 segs_in:2 lastsnd:{idle} lastrcv:{idle} lastack:{idle} delivered:1 app_limited')
open(out, 'w').write('\n'.join(lines) + '\n')
