import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { evaluateAll } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';

// Rows written for these tests in the shape parse-ss gives `ss -tanoi` rows: CLOSE_WAIT with
// lastack (activity.lastPeerSegmentAgoMs), the counter the tracker derives the dwell from.
const T0 = Date.parse('2026-11-21T00:00:00Z');

const closeWait = (localPort: number, lastAckMs: number, remote = { address: '10.0.0.5', port: 5432 }): SocketRow => ({
  protocol: 'tcp',
  local: { address: '127.0.0.1', port: localPort },
  remote,
  state: 'CLOSE_WAIT',
  rawState: 'CLOSE-WAIT',
  activity: { lastPeerSegmentAgoMs: lastAckMs },
});

/** One run of `list` or `explain`: a fresh process, so its first poll is the baseline. */
function order(takenAtMs: number, rows: SocketRow[]): string[] {
  const { state } = advance(emptyTrackerState(), { takenAtMs, rows, completeProtocols: ['tcp', 'tcp6'] });
  return evaluateAll(state, takenAtMs, defaultPolicy()).views.map((v) => `${v.row.local.address}:${v.row.local.port} ${v.row.remote.address}:${v.row.remote.port} ${v.row.state}`);
}

describe('presentation order (list --numbered, explain N)', () => {
  it('is the same at two polls of an unchanged table whose kernel-derived dwells jitter by less than a second', () => {
    // Both sessions entered CLOSE_WAIT within the second T0 − 54 s (at −53.35 s and −53.15 s).
    // At the second poll, 5 s later, the kernel's lastack puts them at −53.30 s and −53.42 s: the
    // millisecond dwells now rank them the other way round, which is what moved `explain 1`.
    const first = order(T0 + 950, [closeWait(45924, 54_300), closeWait(5000, 54_100)]);
    const second = order(T0 + 5980, [closeWait(45924, 59_280), closeWait(5000, 59_400)]);
    expect(second).toEqual(first);
    // Within the same second the flow decides, its port compared as a number: 5000 before 45924.
    expect(first).toEqual(['127.0.0.1:5000 10.0.0.5:5432 CLOSE_WAIT', '127.0.0.1:45924 10.0.0.5:5432 CLOSE_WAIT']);
  });

  it('puts the flagged first, then the session in its state since the earlier second, whatever its flow', () => {
    const established: SocketRow = {
      protocol: 'tcp',
      local: { address: '127.0.0.1', port: 1 },
      remote: { address: '10.0.0.5', port: 5432 },
      state: 'ESTABLISHED',
      rawState: 'ESTAB',
      activity: { lastSendAgoMs: 900_000, lastReceiveAgoMs: 900_000 },
    };
    // 60.2 s against 58.9 s in CLOSE_WAIT: different seconds, so the older one leads though its port is higher.
    const views = order(T0, [established, closeWait(5000, 58_900), closeWait(45924, 60_200)]);
    expect(views).toEqual(['127.0.0.1:45924 10.0.0.5:5432 CLOSE_WAIT', '127.0.0.1:5000 10.0.0.5:5432 CLOSE_WAIT', '127.0.0.1:1 10.0.0.5:5432 ESTABLISHED']);
  });

  it('breaks ties by address bytes and port numbers, IPv4 before IPv6, not by text', () => {
    const row = (protocol: SocketRow['protocol'], local: string, remote: string, remotePort: number): SocketRow => ({
      protocol,
      local: { address: local, port: 8080 },
      remote: { address: remote, port: remotePort },
      state: 'ESTABLISHED',
      rawState: 'ESTAB',
    });
    // First sight without kernel counters: every dwell is the same lower bound, only the flow orders them.
    const views = order(T0, [
      row('tcp6', '2001:db8::10', '2001:db8::1', 443),
      row('tcp6', '2001:db8::9', '2001:db8::1', 443),
      row('tcp6', '::ffff:10.0.0.1', '2001:db8::1', 443),
      row('tcp', '10.0.0.10', '192.0.2.1', 443),
      row('tcp', '10.0.0.9', '192.0.2.1', 65000),
      row('tcp', '10.0.0.9', '192.0.2.1', 9000),
      row('tcp', '10.0.0.9', '192.0.2.10', 80),
    ]);
    expect(views).toEqual([
      '10.0.0.9:8080 192.0.2.1:9000 ESTABLISHED',
      '10.0.0.9:8080 192.0.2.1:65000 ESTABLISHED',
      '10.0.0.9:8080 192.0.2.10:80 ESTABLISHED',
      '10.0.0.10:8080 192.0.2.1:443 ESTABLISHED',
      // ::ffff:10.0.0.1 is IPv6 text: 0…0:ffff:0a00:0001 sorts below 2001:db8::.
      '::ffff:10.0.0.1:8080 2001:db8::1:443 ESTABLISHED',
      '2001:db8::9:8080 2001:db8::1:443 ESTABLISHED',
      '2001:db8::10:8080 2001:db8::1:443 ESTABLISHED',
    ]);
  });

  it('after the numbers, the text: a zone index, then names after every address, then the key (tcp before tcp6)', () => {
    // Rows written for this test: netstat without -n prints host names, ss prints a zone index
    // (fe80::1%eth0); tcp6 listing an IPv4 flow stands for two rows the numbers cannot tell apart.
    const row = (protocol: SocketRow['protocol'], local: string, remote = '192.0.2.1', remotePort = 443): SocketRow => ({
      protocol,
      local: { address: local, port: 8080 },
      remote: { address: remote, port: remotePort },
      state: 'ESTABLISHED',
      rawState: 'ESTAB',
    });
    const views = order(T0, [
      row('tcp', 'db.example'),
      row('tcp6', 'fe80::1%eth1'),
      row('tcp', 'app.example'),
      row('tcp6', '10.0.0.1'),
      row('tcp6', 'fe80::1%eth0'),
      row('tcp', '10.0.0.1'),
      row('tcp', '10.0.0.1', 'db.example', 80),
      row('tcp', '10.0.0.1', '192.0.2.1', 80),
    ]);
    expect(views).toEqual([
      // The same local address: the remote decides, an address before a name, whatever the ports.
      '10.0.0.1:8080 192.0.2.1:80 ESTABLISHED',
      '10.0.0.1:8080 192.0.2.1:443 ESTABLISHED',
      // Same endpoints: the key, whose protocol comes first.
      '10.0.0.1:8080 192.0.2.1:443 ESTABLISHED',
      '10.0.0.1:8080 db.example:80 ESTABLISHED',
      // The same bytes spelt with two zones: by text.
      'fe80::1%eth0:8080 192.0.2.1:443 ESTABLISHED',
      'fe80::1%eth1:8080 192.0.2.1:443 ESTABLISHED',
      'app.example:8080 192.0.2.1:443 ESTABLISHED',
      'db.example:8080 192.0.2.1:443 ESTABLISHED',
    ]);
  });

  it('gives the same order whatever the order of its input', () => {
    const rows: SocketRow[] = Array.from({ length: 200 }, (_, i) => ({
      protocol: i % 3 ? 'tcp' : 'tcp6',
      local: { address: i % 3 ? `10.0.${i % 7}.${i % 5}` : `2001:db8::${(i % 11).toString(16)}`, port: 1000 + (i % 13) },
      remote: { address: i % 4 ? '192.0.2.1' : '::1', port: 2000 + i },
      state: i % 9 === 0 ? 'CLOSE_WAIT' : 'ESTABLISHED',
      rawState: 'x',
      ...(i % 9 === 0 ? { activity: { lastPeerSegmentAgoMs: 7_200_000 + (i % 4) * 1000 } } : {}),
    }));
    const shuffled = rows
      .map((row, i) => ({ row, at: (i * 7919) % rows.length }))
      .sort((a, b) => a.at - b.at)
      .map((r) => r.row);
    const first = order(T0, rows);
    expect(order(T0, shuffled)).toEqual(first);
    expect(order(T0, [...rows].reverse())).toEqual(first);
    // The flagged CLOSE_WAIT sessions lead.
    expect(first.slice(0, 23).every((line) => line.endsWith('CLOSE_WAIT'))).toBe(true);
  });
});
