import { formatEndpoint } from '../../../src/core/address.js';
import { describe, expect, it } from 'vitest';
import { parseSs, parseSsTimerMs } from '../../../src/sources/linux/parse-ss.js';
import { UnusableInputError } from '../../../src/sources/unusable-input.js';
import { countBy, readFixture } from '../../fixture.js';

const UPTIME_MS = 3_600_000;
const at = (rows: ReturnType<typeof parseSs>['rows'], local: string, remotePort: number) => rows.find((r) => `${r.local.address}:${r.local.port}` === local && r.remote.port === remotePort);

describe('parseSs on `ss -tanoi` (stuck-state capture)', () => {
  const { rows, problems } = parseSs(readFixture('linux-ss-tanoi-stuck-states-kernel6.txt'), { uptimeMs: UPTIME_MS });

  it('keeps every socket and maps every state', () => {
    expect(problems).toEqual([]);
    expect(rows).toHaveLength(25);
    expect(countBy(rows, (r) => r.state)).toEqual({ LISTEN: 8, ESTABLISHED: 7, CLOSE_WAIT: 4, FIN_WAIT_2: 4, SYN_SENT: 1, SYN_RECEIVED: 1 });
    expect(countBy(rows, (r) => r.rawState)).toMatchObject({ ESTAB: 7, 'CLOSE-WAIT': 4, 'FIN-WAIT-2': 4, 'SYN-SENT': 1, 'SYN-RECV': 1 });
  });

  it('reads tcp_info: activity, RTT, RTO and bytes', () => {
    expect(at(rows, '127.0.0.1:34928', 46103)).toMatchObject({
      state: 'CLOSE_WAIT',
      receiveQueue: 1,
      rtoMs: 204,
      rttMs: 0.009,
      rttVarMs: 0.006,
      bytesSent: 23,
      bytesReceived: 1,
      activity: { lastSendAgoMs: 316, lastReceiveAgoMs: 11524, lastPeerSegmentAgoMs: 316 },
    });
    expect(at(rows, '127.0.0.1:46103', 34928)!.activity).toEqual({ lastSendAgoMs: 11540, lastReceiveAgoMs: 332, lastPeerSegmentAgoMs: 332 });
  });

  it('ignores the last* stamps of SYN-SENT, which no data has set', () => {
    const synSent = rows.find((r) => r.state === 'SYN_SENT')!;
    expect(synSent).toMatchObject({ retransmits: 7, totalRetransmits: 7, backoff: 3, rtoMs: 8000, timer: { name: 'on', remainingMs: 7644 } });
    expect(synSent.activity).toBeUndefined();
  });

  it('drops last* values beyond the host uptime', () => {
    const short = parseSs(readFixture('linux-ss-tanoi-stuck-states-kernel6.txt'), { uptimeMs: 5000 });
    expect(at(short.rows, '127.0.0.1:34928', 46103)!.activity).toEqual({ lastSendAgoMs: 316, lastPeerSegmentAgoMs: 316 });
  });

  it('reads a request socket with an empty info line', () => {
    expect(rows.find((r) => r.state === 'SYN_RECEIVED')).toMatchObject({ local: { port: 43211 }, remote: { port: 35576 }, timer: { name: 'on', remainingMs: 3548 }, retransmits: 0 });
  });

  it('normalises IPv6, IPv4-mapped and wildcard addresses', () => {
    expect(at(rows, '127.0.0.1:36563', 34110)).toMatchObject({ protocol: 'tcp6', state: 'FIN_WAIT_2' });
    expect(at(rows, '::1:44747', 52756)).toMatchObject({ protocol: 'tcp6', remote: { address: '::1' } });
    expect(at(rows, ':::36563', 0)).toMatchObject({ protocol: 'tcp6', state: 'LISTEN', remote: { address: '::', port: 0 } });
    expect(at(rows, '127.0.0.1:40957', 0)).toMatchObject({ protocol: 'tcp', remote: { address: '0.0.0.0', port: 0 } });
  });
});

describe('parseSs on `ss -t -a -n -o -i -e` (the source argv)', () => {
  const { rows, problems } = parseSs(readFixture('linux-ss-tanoie-park-sockets-kernel6.txt'), { uptimeMs: UPTIME_MS });

  it('reads inode, the dual-stack listener and every state', () => {
    expect(problems).toEqual([]);
    expect(rows).toHaveLength(22);
    expect(countBy(rows, (r) => r.state)).toEqual({ LISTEN: 7, ESTABLISHED: 7, CLOSE_WAIT: 3, FIN_WAIT_2: 3, SYN_SENT: 1, SYN_RECEIVED: 1 });
    expect(rows.find((r) => r.local.port === 45219 && r.state === 'LISTEN')).toMatchObject({ protocol: 'tcp6', local: { address: '::' }, inode: 6736, uid: 0 });
    expect(at(rows, '127.0.0.1:60653', 59708)).toMatchObject({ state: 'ESTABLISHED', inode: 0 });
    expect(rows.find((r) => r.state === 'SYN_SENT')).toMatchObject({ retransmits: 4, rtoMs: 1000, timer: { remainingMs: 112 }, inode: 7947 });
  });
});

describe('parseSs on other ss versions', () => {
  it('keeps only the tcp rows of `ss -a` (Netid column) and resolves the service names printed without -n', () => {
    const { rows, problems } = parseSs(readFixture('linux-ss-a-centos7-jc.txt'));
    // 198 non-tcp rows (nl, u_str, udp …) are skipped silently; the 6 tcp rows name `ssh` / `smtp`.
    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.state, formatEndpoint(r.local), formatEndpoint(r.remote)])).toEqual([
      ['LISTEN', '127.0.0.1:25', '0.0.0.0:0'],
      ['LISTEN', '0.0.0.0:22', '0.0.0.0:0'], // `*:ssh` beside `[::]:ssh`: old ss's IPv4 wildcard
      ['LISTEN', '[::1]:25', '[::]:0'],
      ['LISTEN', '[::]:22', '[::]:0'],
      ['ESTABLISHED', '[::1]:22', '[::1]:38134'],
      ['ESTABLISHED', '[::1]:38134', '[::1]:22'],
    ]);
    // Without the `[::]:ssh` row, the capture's own style still says so: `127.0.0.1:smtp *:*` is
    // an IPv4 socket whose unspecified peer is printed `*`, which only ss before 4.14 does.
    const alone = parseSs(readFixture('linux-ss-a-centos7-jc.txt').replace(/^tcp .*\[::\]:ssh .*\n/m, ''));
    expect(alone.rows.map((r) => `${r.protocol} ${formatEndpoint(r.local)}`)).toEqual(['tcp 127.0.0.1:25', 'tcp 0.0.0.0:22', 'tcp6 [::1]:25', 'tcp6 [::1]:22', 'tcp6 [::1]:38134']);
  });

  it('reads users:(("name",pid=N,…)) and uid from the wide format', () => {
    const { rows, problems } = parseSs(readFixture('linux-ss-tulpen-wide-jc.txt'));
    expect(problems).toEqual([]);
    expect(rows).toHaveLength(29);
    expect(countBy(rows, (r) => r.state)).toEqual({ LISTEN: 29 });
    expect(rows.find((r) => r.local.port === 3306)).toMatchObject({ process: 'mariadbd', pid: 1978620, uid: 105, inode: 815317211, protocol: 'tcp' });
    expect(rows.find((r) => r.local.port === 587)).toMatchObject({ process: 'master', pid: 1978854 });
  });

  it('parses the header-less -H form and skips damaged lines with their line numbers', () => {
    const text = [
      'ESTAB 0 0 10.0.0.1:22 10.0.0.2:50000 timer:(keepalive,119min,0) ino:5 sk:1 <->',
      '\t cubic rto:204 lastsnd:10 lastrcv:20 lastack:5',
      'ESTAB 0 0 10.0.0.1:22',
      'FOO-BAR 0 0 10.0.0.1:23 10.0.0.3:1 ino:6',
      'ESTAB x 0 10.0.0.1:24 10.0.0.3:1',
    ].join('\n');
    const { rows, problems } = parseSs(text);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ timer: { name: 'keepalive', remainingMs: 119 * 60_000 }, activity: { lastSendAgoMs: 10, lastReceiveAgoMs: 20, lastPeerSegmentAgoMs: 5 } });
    expect(rows[1]).toMatchObject({ state: 'UNKNOWN', rawState: 'FOO-BAR' });
    expect(problems.map((p) => p.line)).toEqual([3, 5]);
  });

  it('throws only when nothing is ss output', () => {
    expect(() => parseSs('garbage text here\nmore\n')).toThrow(UnusableInputError);
    expect(parseSs('').rows).toEqual([]);
  });
});

// ss prints lastsnd, lastrcv, lastack, backoff, retrans, unacked, lost, bytes_acked and
// bytes_received only when they are not 0 (tcp_show_info in iproute2's misc/ss.c). The lines below
// were written for these tests in the layout of `ss -tanoi` on kernel 6.x (see the fixture above):
// a busy one-way stream, as each end of it prints itself on most polls.
describe('parseSs: a counter absent from the tcp_info block is 0', () => {
  const text = [
    'State Recv-Q Send-Q Local Address:Port Peer Address:Port Process',
    // the writer: data sent just now (lastsnd 0, so absent), ACKs arriving (lastack absent), nothing ever received
    'ESTAB 0 1024 127.0.0.1:40000 127.0.0.1:5000 timer:(on,204ms,0)',
    '\t ts sack cubic wscale:7,7 rto:204 rtt:0.05/0.02 mss:32768 cwnd:10 bytes_sent:9000000 bytes_acked:8998977 segs_out:9000 segs_in:4500 data_segs_out:9000 send 52428800000bps lastrcv:61234 pacing_rate 104857600000bps unacked:1',
    // the reader: data received just now, never sent any
    'ESTAB 0 0 127.0.0.1:5000 127.0.0.1:40000',
    '\t ts sack cubic wscale:7,7 rto:204 rtt:0.04/0.02 ato:40 mss:32768 cwnd:10 bytes_received:8998976 segs_out:4500 segs_in:9000 data_segs_in:9000 send 65536000000bps lastsnd:61230',
    // a listener's tcp_info is only the congestion control and cwnd
    'LISTEN 0 128 127.0.0.1:5000 0.0.0.0:*',
    '\t cubic cwnd:10',
    // -m without tcp_info: a continuation line that is not tcp_info proves nothing
    'ESTAB 0 0 127.0.0.1:5001 127.0.0.1:40001',
    '\t skmem:(r0,rb131072,t0,tb2626560,f0,w0,o0,bl0,d0)',
    // no continuation line at all (ss without -i): nothing is known
    'ESTAB 0 0 127.0.0.1:5002 127.0.0.1:40002',
  ].join('\n');
  const { rows, problems } = parseSs(text, { uptimeMs: UPTIME_MS });
  const port = (p: number) => rows.find((r) => r.local.port === p)!;

  it('reads a busy one-way stream as active at both ends', () => {
    expect(problems).toEqual([]);
    expect(port(40000).activity).toEqual({ lastSendAgoMs: 0, lastReceiveAgoMs: 61234, lastPeerSegmentAgoMs: 0 });
    expect(port(5000).activity).toEqual({ lastSendAgoMs: 61230, lastReceiveAgoMs: 0, lastPeerSegmentAgoMs: 0 });
  });

  it('gives the other counters their 0', () => {
    expect(port(40000)).toMatchObject({ backoff: 0, totalRetransmits: 0, unacked: 1, lost: 0, bytesSent: 8998977, bytesReceived: 0 });
    expect(port(5000)).toMatchObject({ backoff: 0, totalRetransmits: 0, unacked: 0, lost: 0, bytesSent: 0, bytesReceived: 8998976 });
    expect(rows.find((r) => r.state === 'LISTEN')).toMatchObject({ backoff: 0, totalRetransmits: 0, bytesSent: 0 });
  });

  it('assumes nothing where there is no tcp_info block', () => {
    for (const p of [5001, 5002]) {
      const row = port(p);
      expect(row.activity).toBeUndefined();
      expect(row.backoff).toBeUndefined();
      expect(row.bytesSent).toBeUndefined();
      expect(row.totalRetransmits).toBeUndefined();
    }
  });
});

describe("parseSs: ss's `*` wildcard, old and new (misc/ss.c inet_addr_print)", () => {
  const endpoints = (text: string) => parseSs(text).rows.map((r) => `${r.protocol} ${formatEndpoint(r.local)} ${formatEndpoint(r.remote)}`);

  it("issue 12's line alone: `*:22 *:*` is old ss's IPv4 listener", () => {
    // iproute2 3.x/4.x, as reported in issue 12.
    expect(endpoints('LISTEN 0 128 *:22 *:*')).toEqual(['tcp 0.0.0.0:22 0.0.0.0:0']);
  });

  it('iproute2 before 4.13: IPv4 any is `*`, IPv6 is printed without brackets (`:::22`, `::ffff:a.b.c.d:P`)', () => {
    // Written for the test in iproute2 3.10's layout (formatted_print: `*` for INADDR_ANY, format_host
    // for IPv6); `*:111` has no IPv6 listener beside it, so only the table's style decides it.
    const text = [
      'State      Recv-Q Send-Q        Local Address:Port          Peer Address:Port',
      'LISTEN     0      128                       *:22                       *:*',
      'LISTEN     0      128                      :::22                      :::*',
      'LISTEN     0      64                        *:111                      *:*',
      'LISTEN     0      100               127.0.0.1:25                       *:*',
      'LISTEN     0      128                     ::1:631                     :::*',
      'ESTAB      0      0                  10.0.0.5:22                10.0.0.9:50000',
      'ESTAB      0      0           ::ffff:10.0.0.5:8080       ::ffff:10.0.0.9:50001',
    ].join('\n');
    expect(endpoints(text)).toEqual([
      'tcp 0.0.0.0:22 0.0.0.0:0',
      'tcp6 [::]:22 [::]:0',
      'tcp 0.0.0.0:111 0.0.0.0:0',
      'tcp 127.0.0.1:25 0.0.0.0:0',
      'tcp6 [::1]:631 [::]:0',
      'tcp 10.0.0.5:22 10.0.0.9:50000',
      'tcp6 10.0.0.5:8080 10.0.0.9:50001',
    ]);
  });

  it('iproute2 4.14 on: `*` is a dual-stack IPv6 socket, told by a `0.0.0.0`, the Process heading, an IPv6 `*:*` peer, `v6only:` or mapped connections', () => {
    // Written for the test in iproute2 6.1's layout (the capture in linux-ss-tanoi-… has the same
    // shapes): each input holds one `*` listener and one other piece of evidence.
    expect(endpoints('LISTEN 0 4096 *:9100 *:*\nLISTEN 0 128 127.0.0.1:5432 0.0.0.0:*')).toEqual(['tcp6 [::]:9100 [::]:0', 'tcp 127.0.0.1:5432 0.0.0.0:0']);
    expect(endpoints('State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\nLISTEN 0      4096               *:9100            *:*')).toEqual(['tcp6 [::]:9100 [::]:0']);
    expect(endpoints('LISTEN 0 4096 *:9100 *:*\nLISTEN 0 128 [::1]:5433 *:*')).toEqual(['tcp6 [::]:9100 [::]:0', 'tcp6 [::1]:5433 [::]:0']);
    expect(endpoints('LISTEN 0 4096 *:9100 *:* ino:6736 sk:1d cgroup:/ v6only:0 <->')).toEqual(['tcp6 [::]:9100 [::]:0']);
    // A pod's only listener and a connection it accepted from IPv4 (printed IPv4-mapped).
    expect(endpoints('LISTEN 0 4096 *:8080 *:*\nESTAB 0 0 [::ffff:10.1.2.3]:8080 [::ffff:10.1.2.4]:5000')).toEqual(['tcp6 [::]:8080 [::]:0', 'tcp6 10.1.2.3:8080 10.1.2.4:5000']);
  });

  it('rows printed by both styles (two captures pasted together) fall back to the IPv4 reading', () => {
    // Written for the test: a new-style `0.0.0.0` row and an old-style `127.0.0.1:25 *:*` row.
    expect(endpoints('LISTEN 0 128 *:22 *:*\nLISTEN 0 128 0.0.0.0:80 0.0.0.0:*\nLISTEN 0 100 127.0.0.1:25 *:*')[0]).toBe('tcp 0.0.0.0:22 0.0.0.0:0');
  });
});

describe('parseSsTimerMs (print_ms_timer in misc/ss.c)', () => {
  it.each([
    ['850ms', 850],
    ['7.644ms', 7644],
    ['12sec', 12_000],
    ['1min23sec', 83_000],
    ['1min5.300ms', 65_300],
    ['119min', 7_140_000],
    ['', 0],
  ])('%s → %d ms', (text, ms) => expect(parseSsTimerMs(text)).toBe(ms));
});
