import { describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import type { SocketRow } from '../../src/core/connection.js';
import { TcpState } from '../../src/core/tcp-state.js';
import { advance, emptyTrackerState, repeatedRowsNotice } from '../../src/core/tracker.js';
import { parkSocketsHost, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// A live table that lists one 4-tuple twice (break-it pass, session 11): the tracker keeps the
// first row of a flow, and the rest used to be dropped unsaid for every live source (--input
// already said so). Now every live poll says how many and which, and what it means for the source.

const SS = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const PROC = readFixture('linux-proc-net-tcp-tcp6-park-sockets-kernel6.txt');

/** The capture with the row (and its -i line) starting `prefix` listed again, its state word replaced. */
function ssWithRepeat(prefix: string, state: string): string {
  const lines = SS.split('\n');
  const at = lines.findIndex((l) => l.startsWith(prefix));
  expect(at).toBeGreaterThan(0);
  return [...lines, `${state}${lines[at]!.slice(state.length)}`, lines[at + 1]!].join('\n');
}

describe('a live reading that repeats a 4-tuple', () => {
  it('ss: the repeated row is counted and named in a notice; the first is kept', async () => {
    const platform = parkSocketsHost();
    const closeWait = SS.split('\n').find((l) => l.startsWith('CLOSE-WAIT'))!;
    platform.commands = [ssAnswers(ssWithRepeat(closeWait.slice(0, 60), 'ESTAB     '))];
    const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
    const outcome = await monitor.poll();
    const notice = outcome.notices.find((n) => n.includes('repeats a 4-tuple'));
    expect(notice).toMatch(
      /^ss: 1 row repeats a 4-tuple listed earlier in the table, and only the first is kept \(first: tcp \S+ -> \S+, ESTABLISHED after CLOSE_WAIT\): a table taken while it changed, or one 4-tuple in use twice$/,
    );
    const rows = SS.split('\n').filter((l) => /^[A-Z]/.test(l) && !l.startsWith('State')).length;
    expect(monitor.tracker.connections.size).toBe(rows);
  });

  it('ss: a table without repeats says nothing of the kind', async () => {
    const platform = parkSocketsHost();
    const outcome = await new Monitor(platform, { source: 'ss', procRoot: '/proc' }).poll();
    expect(outcome.notices.filter((n) => n.includes('repeat'))).toEqual([]);
  });

  it('procfs: a repeated /proc/net/tcp line is said too', async () => {
    const platform = parkSocketsHost();
    // The capture's first line is ours (# captured at), then /proc/net/tcp, then /proc/net/tcp6.
    const [tcp, tcp6] = PROC.replace(/^#[^\n]*\n/, '').split(/\n(?=\s+sl\s)/);
    const lines = tcp!.split('\n').filter((l) => l.trim());
    // A connection's line (state 0A is LISTEN: listeners sharing a port are one row, not a repeat).
    const again = lines.find((l, i) => i > 0 && l.trim().split(/\s+/)[3] !== '0A')!.replace(/^\s*\d+:/, '  99:');
    platform.files.set('/proc/net/tcp', `${[...lines, again].join('\n')}\n`);
    platform.files.set('/proc/net/tcp6', `${tcp6}\n`);
    const outcome = await new Monitor(platform, { source: 'procfs', procRoot: '/proc' }).poll();
    expect(outcome.ok).toBe(true);
    expect(outcome.notices.some((n) => n.startsWith('procfs: 1 row repeats a 4-tuple'))).toBe(true);
  });
});

describe('what a repeat means, by what the rows carry (netlink cookies)', () => {
  const row = (state: TcpState, cookie?: string): SocketRow => ({
    protocol: 'tcp',
    local: { address: '127.0.0.1', port: 8080 },
    remote: { address: '127.0.0.1', port: 40000 },
    state,
    rawState: state,
    ...(cookie === undefined ? {} : { cookie }),
  });
  const repeatOf = (rows: SocketRow[]) => advance(emptyTrackerState(), { takenAtMs: 1000, rows, completeProtocols: ['tcp', 'tcp6'] }).repeated;

  it('two cookies: two sockets share the 4-tuple (a new connection beside its TIME_WAIT)', () => {
    const repeated = repeatOf([row(TcpState.TIME_WAIT, '1a'), row(TcpState.ESTABLISHED, '2b')]);
    expect(repeated?.count).toBe(1);
    expect(repeatedRowsNotice('netlink', repeated!)).toBe(
      'netlink: 1 row repeats a 4-tuple listed earlier in the table, and only the first is kept (first: tcp 127.0.0.1:8080 -> 127.0.0.1:40000, ESTABLISHED after TIME_WAIT): two sockets share it (cookies 1a and 2b): a new connection beside its TIME_WAIT, or a bound socket beside a listener on its port',
    );
  });

  it('listeners sharing a port (SO_REUSEPORT, two cookies) are one row and no repeat to say', () => {
    const listener = (cookie: string): SocketRow => ({ ...row(TcpState.LISTEN, cookie), remote: { address: '0.0.0.0', port: 0 } });
    const result = advance(emptyTrackerState(), { takenAtMs: 1000, rows: [listener('1a'), listener('2b'), listener('3c')], completeProtocols: ['tcp', 'tcp6'] });
    expect(result.repeated).toBeUndefined();
    expect(result.state.connections.size).toBe(1);
    // The kept row stands for the group: the others ride on it, in the order listed.
    const kept = [...result.state.connections.values()][0]!.row;
    expect(kept.cookie).toBe('1a');
    expect(kept.sharingPort?.map((r) => r.cookie)).toEqual(['2b', '3c']);
    // A LISTEN beside a socket of another state on the same 4-tuple is still a repeat to say.
    expect(repeatOf([listener('1a'), { ...listener('2b'), state: TcpState.CLOSED, rawState: 'UNCONN' }])?.count).toBe(1);
  });

  it('a group that shrinks or grows is read anew at each poll: fresh rows, rows updated in place, rows the source reuses', () => {
    const listener = (cookie: string): SocketRow => ({ ...row(TcpState.LISTEN, cookie), remote: { address: '0.0.0.0', port: 0 }, cookie });
    const sharersAt = (state: ReturnType<typeof emptyTrackerState>) => [...state.connections.values()][0]!.row.sharingPort?.map((r) => r.cookie);
    for (const mode of ['fresh', 'rowsInPlace', 'reused'] as const) {
      const first = listener('1a');
      const poll = (previous: ReturnType<typeof emptyTrackerState>, at: number, others: string[]) => {
        const head = mode === 'reused' ? first : listener('1a');
        return advance(previous, { takenAtMs: at, rows: [head, ...others.map(listener)], completeProtocols: ['tcp', 'tcp6'], ...(mode === 'rowsInPlace' ? { rowsInPlace: true } : {}) }).state;
      };
      let state = poll(emptyTrackerState(), 1000, ['2b', '3c']);
      expect(sharersAt(state), mode).toEqual(['2b', '3c']);
      state = poll(state, 2000, []);
      expect(sharersAt(state), mode).toBeUndefined();
      state = poll(state, 3000, ['4d']);
      expect(sharersAt(state), mode).toEqual(['4d']);
    }
  });

  it('one cookie twice: one socket a dump listed twice', () => {
    const repeated = repeatOf([row(TcpState.CLOSE_WAIT, '1a'), row(TcpState.CLOSE_WAIT, '1a'), row(TcpState.CLOSE_WAIT, '1a')]);
    expect(repeated?.count).toBe(2);
    expect(repeatedRowsNotice('netlink', repeated!)).toMatch(/^netlink: 2 rows repeat .*CLOSE_WAIT twice\): one socket listed twice \(cookie 1a\): a dump taken while the table changed$/);
  });

  it('no repeat: nothing counted', () => {
    expect(repeatOf([row(TcpState.CLOSE_WAIT, '1a')])).toBeUndefined();
  });
});
