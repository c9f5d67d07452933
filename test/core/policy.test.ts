import { describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/core/address.js';
import type { SocketRow } from '../../src/core/connection.js';
import {
  countLevels,
  countReachOfUnreadOwners,
  defaultPolicy,
  dwellCouldRaiseSeverity,
  ownerCanChangeVerdict,
  severityAnyOwner,
  evaluateConnection,
  evaluateCounts,
  type Measures,
  type Policy,
} from '../../src/core/policy.js';

const row = (state: SocketRow['state'], extra: Partial<SocketRow> = {}): SocketRow => ({
  protocol: 'tcp',
  local: { address: '127.0.0.1', port: 5432 },
  remote: { address: '10.1.2.3', port: 40100 },
  state,
  rawState: state,
  ...extra,
});
const measures = (r: SocketRow, dwellMs: number, extra: Partial<Measures> = {}): Measures => ({ row: r, dwellMs, halfCloseTimerMs: dwellMs, ...extra });

describe('evaluateConnection', () => {
  const ios = defaultPolicy('ios');

  it('flags each class past its default threshold (30 s / 30 s / 3600 s) and not at it', () => {
    expect(evaluateConnection(ios, measures(row('SYN_SENT'), 30_001))).toMatchObject({ kind: 'half-open', severity: 'warning', thresholdMs: 30_000, rule: 'default' });
    expect(evaluateConnection(ios, measures(row('SYN_RECEIVED'), 30_000))).toBeUndefined();
    expect(evaluateConnection(ios, measures(row('LAST_ACK'), 31_000))).toMatchObject({ kind: 'half-close' });
    expect(evaluateConnection(ios, measures(row('ESTABLISHED'), 9e9, { idleMs: 3_600_001 }))).toMatchObject({ kind: 'idle', measured: 3_600_001 });
    expect(evaluateConnection(ios, measures(row('TIME_WAIT'), 9e9))).toBeUndefined();
    expect(evaluateConnection(ios, measures(row('LISTEN'), 9e9))).toBeUndefined();
  });

  it('uses the half-close timer (restarted by peer segments), not the dwell', () => {
    expect(evaluateConnection(ios, { row: row('CLOSE_WAIT'), dwellMs: 600_000, halfCloseTimerMs: 2000 })).toBeUndefined();
  });

  it('does not flag idle without activity data (a long-lived busy flow is not idle)', () => {
    expect(evaluateConnection(ios, measures(row('ESTABLISHED'), 86_400_000))).toBeUndefined();
  });

  it('escalates to critical past the critical threshold', () => {
    const policy: Policy = { ...ios, critical: { halfCloseMs: 300_000 } };
    expect(evaluateConnection(policy, measures(row('CLOSE_WAIT'), 300_001))).toMatchObject({ severity: 'critical', thresholdMs: 300_000 });
    expect(evaluateConnection(policy, measures(row('CLOSE_WAIT'), 299_000))).toMatchObject({ severity: 'warning', thresholdMs: 30_000 });
  });

  it('applies the first matching rule, inheriting the defaults it does not set', () => {
    const policy: Policy = {
      ...ios,
      rules: [
        { name: 'db-clients', match: { remoteAddresses: [parseCidr('10.0.0.0/8')!], localPorts: [{ from: 5000, to: 6000 }] }, warning: { idleMs: 28_800_000 }, critical: {} },
        { name: 'off-idle', match: { processes: ['java*'] }, warning: { idleMs: Infinity, halfCloseMs: 600_000 }, critical: {} },
      ],
    };
    expect(evaluateConnection(policy, measures(row('ESTABLISHED'), 0, { idleMs: 7_200_000 }))).toBeUndefined();
    expect(evaluateConnection(policy, measures(row('SYN_SENT'), 31_000))).toMatchObject({ rule: 'db-clients', thresholdMs: 30_000 });
    const java = row('ESTABLISHED', { local: { address: '127.0.0.1', port: 8080 }, process: 'java-app' });
    expect(evaluateConnection(policy, measures(java, 0, { idleMs: 9e9 }))).toBeUndefined();
    expect(evaluateConnection(policy, measures({ ...java, state: 'CLOSE_WAIT' }, 500_000))).toBeUndefined();
    expect(evaluateConnection(policy, measures({ ...java, state: 'CLOSE_WAIT' }, 600_001))).toMatchObject({ rule: 'off-idle' });
    // No process known: a process rule cannot match; the defaults apply.
    expect(evaluateConnection(policy, measures({ ...java, process: undefined, state: 'CLOSE_WAIT' }, 31_000))).toMatchObject({ rule: 'default' });
  });

  it('has the ASA and conntrack presets, the latter per state', () => {
    const asa = defaultPolicy('asa');
    expect(evaluateConnection(asa, measures(row('FIN_WAIT_2'), 599_000))).toBeUndefined();
    expect(evaluateConnection(asa, measures(row('FIN_WAIT_2'), 601_000))).toMatchObject({ thresholdMs: 600_000 });
    const conntrack = defaultPolicy('conntrack');
    expect(evaluateConnection(conntrack, measures(row('LAST_ACK'), 31_000))).toMatchObject({ thresholdMs: 30_000 });
    expect(evaluateConnection(conntrack, measures(row('CLOSE_WAIT'), 61_000))).toMatchObject({ thresholdMs: 60_000 });
    expect(evaluateConnection(conntrack, measures(row('FIN_WAIT_1'), 61_000))).toBeUndefined();
    expect(evaluateConnection(conntrack, measures(row('SYN_RECEIVED'), 61_000))).toMatchObject({ thresholdMs: 60_000 });
    expect(evaluateConnection(conntrack, measures(row('SYN_SENT'), 61_000))).toBeUndefined();
  });
});

describe('evaluateCounts', () => {
  const leak = (n: number, process: string, pid: number) =>
    Array.from({ length: n }, (_, i) => ({ key: `${process}-${i}`, row: row('CLOSE_WAIT', { local: { address: '127.0.0.1', port: 30_000 + i }, process, pid }) }));

  it('flags a process holding more CLOSE_WAIT sockets than allowed, warning then critical', () => {
    const policy: Policy = { ...defaultPolicy(), counts: [{ name: 'leak', states: ['CLOSE_WAIT'], per: 'process', warningAbove: 100, criticalAbove: 1000 }] };
    const rows = [...leak(150, 'java', 812), ...leak(100, 'nginx', 90), ...leak(1001, 'bad', 7)];
    const flags = evaluateCounts(policy, rows);
    expect(flags.map((f) => [f.group, f.count, f.severity, f.thresholdCount])).toEqual([
      ['bad[7]', 1001, 'critical', 1000],
      ['java[812]', 150, 'warning', 100],
    ]);
    expect(flags[1]!.members).toHaveLength(150);
  });

  it('groups SYN_SENT by remote endpoint: a dead upstream', () => {
    const policy: Policy = { ...defaultPolicy(), counts: [{ name: 'dead-upstream', states: ['SYN_SENT'], per: 'remote', warningAbove: 3 }] };
    const rows = Array.from({ length: 5 }, (_, i) => ({ key: String(i), row: row('SYN_SENT', { local: { address: '127.0.0.1', port: 40_000 + i }, remote: { address: '10.0.0.5', port: 5432 } }) }));
    expect(evaluateCounts(policy, rows)).toMatchObject([{ group: '10.0.0.5:5432', count: 5 }]);
  });

  describe('an SO_REUSEPORT group (one LISTEN row, the others in sharingPort) counts every member, each under its own owner', () => {
    const listener = (pid: number, inode: number) => row('LISTEN', { local: { address: '0.0.0.0', port: 7100 }, remote: { address: '0.0.0.0', port: 0 }, process: 'python3', pid, inode });
    // Three listeners on 0.0.0.0:7100: two of process 2056, one of process 2717 (the break-it pass's population).
    const group = (): { key: string; row: SocketRow }[] => [{ key: 'tcp 0.0.0.0 7100 0.0.0.0 0', row: { ...listener(2056, 11), sharingPort: [listener(2056, 12), listener(2717, 13)] } }];
    const rule = (per: 'process' | 'local-port' | 'remote-address', warningAbove: number): Policy => ({ ...defaultPolicy(), counts: [{ name: 'listen', states: ['LISTEN'], per, warningAbove }] });

    it('per process: the process holding two counts 2, the other member is counted under its own process', () => {
      expect(evaluateCounts(rule('process', 1), group()).map((f) => [f.group, f.count])).toEqual([['python3[2056]', 2]]);
      expect(evaluateCounts(rule('process', 0), group()).map((f) => [f.group, f.count])).toEqual([
        ['python3[2056]', 2],
        ['python3[2717]', 1],
      ]);
    });

    it('per local port and per remote address: 3 sockets, over a limit of 2', () => {
      for (const per of ['local-port', 'remote-address'] as const) {
        const flags = evaluateCounts(rule(per, 2), group());
        expect(flags.map((f) => f.count)).toEqual([3]);
        // Each member named: the row's key for the row itself, the key and the member's inode for the others.
        expect(flags[0]!.members).toEqual(['tcp 0.0.0.0 7100 0.0.0.0 0', 'tcp 0.0.0.0 7100 0.0.0.0 0 inode 12', 'tcp 0.0.0.0 7100 0.0.0.0 0 inode 13']);
      }
      expect(countLevels(rule('local-port', 2), group())).toMatchObject([{ largest: 3 }]);
    });

    it("a member whose owner is unknown is not counted under the representative's process", () => {
      const rows = group();
      rows[0]!.row.sharingPort![1] = { ...listener(0, 13), pid: undefined, process: undefined };
      expect(evaluateCounts(rule('process', 0), rows).map((f) => [f.group, f.count])).toEqual([['python3[2056]', 2]]);
    });
  });
});

describe('dwellCouldRaiseSeverity: could the part of a dwell not proven change the verdict?', () => {
  const policy: Policy = { ...defaultPolicy(), critical: { halfOpenMs: 120_000 } };
  const at = (dwellMs: number): Measures => ({ row: row('SYN_RECEIVED'), dwellMs, halfCloseTimerMs: dwellMs });
  it('unflagged, unbounded: yes; bounded under the warning threshold (30 s): no; bounded over it: yes', () => {
    expect(dwellCouldRaiseSeverity(policy, at(10_000), Infinity)).toBe(true);
    expect(dwellCouldRaiseSeverity(policy, at(10_000), 30_000)).toBe(false);
    expect(dwellCouldRaiseSeverity(policy, at(10_000), 30_001)).toBe(true);
  });
  it('a warning that could become critical: yes; a critical, or no critical threshold: no', () => {
    expect(dwellCouldRaiseSeverity(policy, at(40_000), Infinity)).toBe(true);
    expect(dwellCouldRaiseSeverity(policy, at(40_000), 100_000)).toBe(false);
    expect(dwellCouldRaiseSeverity(policy, at(130_000), Infinity)).toBe(false);
    expect(dwellCouldRaiseSeverity(defaultPolicy(), at(40_000), Infinity)).toBe(false);
  });
  it('a state no dwell rule reads (ESTABLISHED: idle): no', () => {
    expect(dwellCouldRaiseSeverity(policy, { row: row('ESTABLISHED'), dwellMs: 0, halfCloseTimerMs: 0 }, Infinity)).toBe(false);
  });
});

describe('ownerCanChangeVerdict: where an unread owner leaves a verdict unproven', () => {
  const base = defaultPolicy();
  const onPort = (port: number) => ({ from: port, to: port });
  const withRule: Policy = { ...base, rules: [{ name: 'db', match: { processes: ['postgres'], localPorts: [onPort(5432)] }, warning: { halfCloseMs: 3_600_000 }, critical: {} }] };
  const withCount: Policy = { ...base, counts: [{ name: 'leak', states: ['CLOSE_WAIT'], per: 'process', warningAbove: 100 }] };
  const on = (state: SocketRow['state'], port: number) => row(state, { local: { address: '127.0.0.1', port }, remote: { address: '127.0.0.1', port: 40_000 } });

  it('a rule on process names: rows it matches but for the process, in a state a threshold applies to', () => {
    expect(ownerCanChangeVerdict(withRule, on('CLOSE_WAIT', 5432))).toBe(true);
    expect(ownerCanChangeVerdict(withRule, on('ESTABLISHED', 5432))).toBe(true);
    // Another port: the rule cannot match it, whoever holds it.
    expect(ownerCanChangeVerdict(withRule, on('CLOSE_WAIT', 80))).toBe(false);
    // LISTEN and TIME_WAIT are flagged by no threshold.
    expect(ownerCanChangeVerdict(withRule, on('LISTEN', 5432))).toBe(false);
    expect(ownerCanChangeVerdict(withRule, on('TIME_WAIT', 5432))).toBe(false);
  });

  it('a count per process: rows in its states only; no process part in the policy: none', () => {
    expect(ownerCanChangeVerdict(withCount, on('CLOSE_WAIT', 80))).toBe(true);
    expect(ownerCanChangeVerdict(withCount, on('LISTEN', 80))).toBe(false);
    expect(ownerCanChangeVerdict(withCount, on('ESTABLISHED', 80))).toBe(false);
    expect(ownerCanChangeVerdict(base, on('CLOSE_WAIT', 80))).toBe(false);
  });
});

describe('what unread owners could do: severityAnyOwner and countReachOfUnreadOwners', () => {
  const base = defaultPolicy();
  const at = (state: SocketRow['state'], port: number, extra: Partial<SocketRow> = {}) =>
    row(state, { local: { address: '127.0.0.1', port }, remote: { address: '10.0.0.1', port: 40_000 }, ...extra });
  const keyed = (rows: SocketRow[]) => rows.map((r, i) => ({ key: String(i), row: r }));

  it('severityAnyOwner: the highest severity any rule its owner could pick gives, undefined when none flags it', () => {
    const policy: Policy = { ...base, rules: [{ name: 'py', match: { processes: ['python3'], states: ['CLOSE_WAIT'] }, warning: {}, critical: { halfCloseMs: 2000 } }] };
    expect(severityAnyOwner(policy, measures(at('CLOSE_WAIT', 80), 5000))).toBe('critical');
    expect(severityAnyOwner(policy, measures(at('CLOSE_WAIT', 80), 1000))).toBeUndefined();
    expect(severityAnyOwner(policy, measures(at('FIN_WAIT_2', 80), 5000))).toBeUndefined();
  });

  it('per process: the largest group plus every unread row, against each level', () => {
    const policy: Policy = { ...base, counts: [{ name: 'cw', states: ['CLOSE_WAIT'], per: 'process', warningAbove: 3, criticalAbove: 5 }] };
    const owned = [1, 2, 3].map((p) => at('CLOSE_WAIT', p, { pid: 7, process: 'py' }));
    const unread = [at('CLOSE_WAIT', 10), at('CLOSE_WAIT', 11)];
    expect(countReachOfUnreadOwners(policy, keyed([...owned, ...unread]), unread)).toBe('warning'); // 3 + 2 = 5
    expect(countReachOfUnreadOwners(policy, keyed([...owned, ...unread, at('CLOSE_WAIT', 12)]), [...unread, at('CLOSE_WAIT', 12)])).toBe('critical');
    expect(countReachOfUnreadOwners(policy, keyed([owned[0]!, ...unread]), unread)).toBeUndefined(); // 1 + 2 = 3
    // Other states: not counted.
    expect(countReachOfUnreadOwners(policy, keyed([...owned, at('LISTEN', 9)]), [at('LISTEN', 9)])).toBeUndefined();
  });

  it('an unread SO_REUSEPORT row counts every listener it stands for (3 listeners unread: over a limit of 1)', () => {
    const policy: Policy = { ...base, counts: [{ name: 'l', states: ['LISTEN'], per: 'process', warningAbove: 1 }] };
    const member = () => at('LISTEN', 7100);
    const group = at('LISTEN', 7100, { sharingPort: [member(), member()] });
    expect(countReachOfUnreadOwners(policy, keyed([group]), [group])).toBe('warning');
    expect(countReachOfUnreadOwners(policy, keyed([at('LISTEN', 7100)]), [at('LISTEN', 7100)])).toBeUndefined();
  });

  it('grouped by port with a match on process names: each unread row counts only in its own group', () => {
    const policy: Policy = { ...base, counts: [{ name: 'p', states: ['CLOSE_WAIT'], per: 'local-port', warningAbove: 2, match: { processes: ['py'] } }] };
    const owned = [at('CLOSE_WAIT', 80, { pid: 7, process: 'py' }), at('CLOSE_WAIT', 80, { pid: 7, process: 'py' })];
    expect(countReachOfUnreadOwners(policy, keyed([...owned, at('CLOSE_WAIT', 81)]), [at('CLOSE_WAIT', 81)])).toBeUndefined(); // port 81: 1
    expect(countReachOfUnreadOwners(policy, keyed([...owned, at('CLOSE_WAIT', 80)]), [at('CLOSE_WAIT', 80)])).toBe('warning'); // port 80: 3
  });
});
