import { describe, expect, it } from 'vitest';
import { AlertLedger, currentAlerts, isSessionSubject, notificationsWithoutHistory, reconcileAlerts, type ReportedAlert } from '../../src/core/alerts.js';
import type { SocketRow } from '../../src/core/connection.js';
import type { ConnectionView } from '../../src/core/evaluate.js';
import type { CountFlag, Flag, Severity } from '../../src/core/policy.js';
import type { TcpState } from '../../src/core/tcp-state.js';
import type { TrackedConnection } from '../../src/core/tracker.js';

// AlertLedger (watch's and the event log's reconciliation at every poll) against the pure
// reconcileAlerts it stands for: the same notifications, in the same order, field for field, and
// the same records; but a session still flagged as it was keeps its record object and builds
// nothing. The views are written for the test: only the fields the alerts read (key, row's state
// and endpoints as ss/netlink rows give them, timing's dwell, the flag).

const HOUR = 3_600_000;

interface Session {
  port: number;
  state: TcpState;
  /** Undefined: not flagged this poll. */
  severity?: Severity;
  kind?: Flag['kind'];
  dwellMs?: number;
  v6?: boolean;
}

function viewOf(s: Session): ConnectionView {
  const local = s.v6 ? { address: '::1', port: s.port } : { address: '127.0.0.1', port: s.port };
  const remote = s.v6 ? { address: 'fe80::1%eth0', port: 5432 } : { address: '127.0.0.1', port: 5432 };
  const row: SocketRow = { protocol: s.v6 ? 'tcp6' : 'tcp', local, remote, state: s.state, rawState: s.state };
  const key = `${row.protocol} ${local.address} ${local.port} ${remote.address} ${remote.port}`;
  const dwellMs = s.dwellMs ?? 90_000;
  const view: ConnectionView = { connection: { key, row } as unknown as TrackedConnection, row, timing: { dwellMs, halfCloseTimerMs: dwellMs } };
  if (s.severity) {
    const kind = s.kind ?? (s.state === 'ESTABLISHED' ? 'idle' : s.state === 'SYN_SENT' ? 'half-open' : 'half-close');
    view.flag = { kind: kind as Flag['kind'], severity: s.severity, thresholdMs: 60_000, measured: dwellMs, rule: 'default' };
  }
  return view;
}

function countFlag(count: number, severity: Severity = 'warning', rule = 'leak'): CountFlag {
  return { kind: 'count', rule, per: 'process', group: 'java[812]', states: ['CLOSE_WAIT'], count, severity, thresholdCount: 10, members: [] };
}

/** Runs the same polls through the ledger and through reconcileAlerts; both answers per poll. */
function both(polls: { at: number; sessions: Session[]; counts?: CountFlag[] }[], renotifyMs: number, previous: ReportedAlert[] = []) {
  const ledger = new AlertLedger(previous);
  let reported = previous;
  return polls.map(({ at, sessions, counts = [] }) => {
    const views = sessions.map(viewOf);
    const expected = reconcileAlerts(reported, currentAlerts(views, counts), at, renotifyMs);
    reported = expected.reported;
    const notifications = ledger.reconcile(views, counts, at, renotifyMs);
    // Copies: the ledger's records change at the next poll.
    return { expected, actual: { notifications, reported: ledger.reported.map((r) => ({ ...r })) } };
  });
}

function expectSame(results: ReturnType<typeof both>): void {
  for (const { expected, actual } of results) {
    expect(actual.notifications).toStrictEqual(expected.notifications);
    expect(actual.reported).toStrictEqual(expected.reported);
    // Field order too: the state file and the JSON lines write objects as they are.
    expect(actual.reported.map((r) => Object.keys(r))).toEqual(expected.reported.map((r) => Object.keys(r)));
    expect(actual.notifications.map((n) => Object.keys(n))).toEqual(expected.notifications.map((n) => Object.keys(n)));
  }
}

describe('AlertLedger gives what reconcileAlerts gives', () => {
  it('across flagging, staying, escalating, falling back, changing state or kind, reminders, counts and clearing', () => {
    const polls = [
      {
        at: 0,
        sessions: [
          { port: 1, state: 'CLOSE_WAIT', severity: 'warning' },
          { port: 2, state: 'ESTABLISHED', severity: 'warning' },
          { port: 3, state: 'ESTABLISHED' },
        ],
        counts: [countFlag(11)],
      },
      {
        at: 2_000,
        sessions: [
          { port: 1, state: 'CLOSE_WAIT', severity: 'warning', dwellMs: 92_000 },
          { port: 2, state: 'ESTABLISHED', severity: 'critical' },
          { port: 3, state: 'ESTABLISHED', severity: 'warning' },
        ],
        counts: [countFlag(12)],
      },
      // 1 moves on within its kind (CLOSE_WAIT → LAST_ACK), 2 falls back, 3 changes kind.
      {
        at: 4_000,
        sessions: [
          { port: 1, state: 'LAST_ACK', severity: 'warning' },
          { port: 2, state: 'ESTABLISHED', severity: 'warning' },
          { port: 3, state: 'ESTABLISHED', severity: 'warning', kind: 'half-open' },
        ],
        counts: [countFlag(30, 'critical')],
      },
      // 2 rises again; 4 is new, before the others in this poll's order; 1 cleared; the group too.
      {
        at: 6_000,
        sessions: [
          { port: 4, state: 'SYN_SENT', severity: 'warning', v6: true },
          { port: 2, state: 'ESTABLISHED', severity: 'critical' },
          { port: 3, state: 'ESTABLISHED', severity: 'warning', kind: 'half-open' },
        ],
      },
      // Past the renotify interval: reminders.
      {
        at: 6_000 + HOUR,
        sessions: [
          { port: 4, state: 'SYN_SENT', severity: 'warning', v6: true },
          { port: 2, state: 'ESTABLISHED', severity: 'critical' },
          { port: 3, state: 'ESTABLISHED', severity: 'warning', kind: 'half-open' },
        ],
      },
      {
        at: 8_000 + HOUR,
        sessions: [
          { port: 3, state: 'ESTABLISHED', severity: 'warning', kind: 'half-open' },
          { port: 2, state: 'ESTABLISHED', severity: 'critical' },
        ],
      },
      { at: 10_000 + HOUR, sessions: [] },
    ] satisfies { at: number; sessions: Session[]; counts?: CountFlag[] }[];
    const results = both(polls, HOUR);
    expectSame(results);
    // The walk above did what it says (not a sequence where nothing happens).
    expect(results.map((r) => r.actual.notifications.map((n) => `${n.change} ${n.kind === 'count' ? n.key : n.key.split(' ')[2]}`))).toEqual([
      ['flagged 1', 'flagged 2', 'flagged count leak java[812]'],
      ['escalated 2', 'flagged 3'],
      // 2 fell back to warning: told (it was silent before session 10).
      ['resolved 1', 'flagged 1', 'deescalated 2', 'resolved 3', 'flagged 3', 'escalated count leak java[812]'],
      ['flagged 4', 'escalated 2', 'resolved 1', 'resolved count leak java[812]'],
      ['reminder 4', 'reminder 2', 'reminder 3'],
      ['resolved 4'],
      ['resolved 3', 'resolved 2'],
    ]);
  });

  it('records handed in from a state file (some from a release that kept fewer fields, one key twice) are replaced, never changed', () => {
    const previous: ReportedAlert[] = [
      { key: 'tcp 127.0.0.1 1 127.0.0.1 5432', kind: 'half-close', severity: 'warning', subject: 'CLOSE_WAIT 127.0.0.1:1 -> 127.0.0.1:5432', firstFlaggedMs: -60_000, lastNotifiedMs: -60_000 },
      {
        key: 'tcp 127.0.0.1 2 127.0.0.1 5432',
        kind: 'idle',
        severity: 'critical',
        subject: 'ESTABLISHED 127.0.0.1:2 -> 127.0.0.1:5432',
        firstFlaggedMs: -60_000,
        lastNotifiedMs: -60_000,
        lastSeenMs: -2_000,
        lastDwellMs: 5,
        runsFlagged: 4,
      },
      { key: 'tcp 127.0.0.1 5 127.0.0.1 5432', kind: 'idle', severity: 'warning', subject: 'ESTABLISHED 127.0.0.1:5 -> 127.0.0.1:5432', firstFlaggedMs: -60_000, lastNotifiedMs: -60_000 },
      { key: 'tcp 127.0.0.1 6 127.0.0.1 5432', kind: 'idle', severity: 'warning', subject: 'ESTABLISHED 127.0.0.1:6 -> 127.0.0.1:5432', firstFlaggedMs: -60_000, lastNotifiedMs: -60_000 },
      { key: 'tcp 127.0.0.1 5 127.0.0.1 5432', kind: 'idle', severity: 'critical', subject: 'ESTABLISHED 127.0.0.1:5 -> 127.0.0.1:5432', firstFlaggedMs: -30_000, lastNotifiedMs: -30_000 },
    ];
    const frozen = structuredClone(previous);
    const polls = [
      {
        at: 0,
        sessions: [
          { port: 1, state: 'CLOSE_WAIT', severity: 'warning' },
          { port: 2, state: 'ESTABLISHED', severity: 'warning' },
        ],
      },
      {
        at: 2_000,
        sessions: [
          { port: 1, state: 'CLOSE_WAIT', severity: 'warning' },
          { port: 2, state: 'ESTABLISHED', severity: 'critical' },
        ],
      },
      { at: 4_000, sessions: [{ port: 2, state: 'ESTABLISHED', severity: 'critical' }] },
    ] satisfies { at: number; sessions: Session[] }[];
    expectSame(both(polls, HOUR, previous));
    expect(previous).toStrictEqual(frozen);
  });

  it('two count rules of one name over one group (a key twice in one poll) give what reconcileAlerts gives', () => {
    const counts = [countFlag(20, 'critical', 'same'), countFlag(20, 'warning', 'same')];
    expectSame(
      both(
        [
          { at: 0, sessions: [], counts },
          { at: 2_000, sessions: [], counts },
          { at: 4_000, sessions: [] },
        ],
        Infinity,
      ),
    );
  });
});

describe('AlertLedger at every poll (issue 15: 86,000 flagged sessions)', () => {
  it('a session still flagged as it was keeps its record object, updated in place, and the poll builds no notification', () => {
    const ledger = new AlertLedger();
    const sessions: Session[] = Array.from({ length: 50 }, (_, i) => ({ port: 1000 + i, state: 'ESTABLISHED', severity: 'warning', dwellMs: 10_000 }));
    expect(ledger.reconcile(sessions.map(viewOf), [], 0, Infinity)).toHaveLength(50);
    const records = [...ledger.reported];
    const later = sessions.map((s) => viewOf({ ...s, dwellMs: 12_000 }));
    expect(ledger.reconcile(later, [], 2_000, Infinity)).toEqual([]);
    expect(ledger.reported).toHaveLength(50);
    ledger.reported.forEach((record, i) => expect(record).toBe(records[i]));
    expect(records[0]).toStrictEqual({
      key: 'tcp 127.0.0.1 1000 127.0.0.1 5432',
      kind: 'idle',
      severity: 'warning',
      subject: 'ESTABLISHED 127.0.0.1:1000 -> 127.0.0.1:5432',
      firstFlaggedMs: 0,
      lastNotifiedMs: 0,
      lastSeenMs: 2_000,
      lastDwellMs: 12_000,
      runsFlagged: 2,
    });
  });
});

describe('isSessionSubject', () => {
  const row = (state: TcpState, local: [string, number], remote: [string, number]) => ({ state, local: { address: local[0], port: local[1] }, remote: { address: remote[0], port: remote[1] } });
  it('is true exactly for the subject sessionAlert writes', () => {
    const r = row('CLOSE_WAIT', ['127.0.0.1', 80], ['::ffff:10.0.0.1', 40000]);
    expect(isSessionSubject('CLOSE_WAIT 127.0.0.1:80 -> [::ffff:10.0.0.1]:40000', r)).toBe(true);
    for (const other of [
      'CLOSE 127.0.0.1:80 -> [::ffff:10.0.0.1]:40000',
      'CLOSE_WAIT_ 127.0.0.1:80 -> [::ffff:10.0.0.1]:40000',
      'CLOSE_WAIT 127.0.0.10:80 -> [::ffff:10.0.0.1]:40000',
      'CLOSE_WAIT 127.0.0.1:8080 -> [::ffff:10.0.0.1]:40000',
      'CLOSE_WAIT 127.0.0.1:080 -> [::ffff:10.0.0.1]:40000',
      'CLOSE_WAIT 127.0.0.1:8 -> [::ffff:10.0.0.1]:40000',
      'CLOSE_WAIT 127.0.0.1:80 -> ::ffff:10.0.0.1:40000',
      'CLOSE_WAIT 127.0.0.1:80 -> [::ffff:10.0.0.1]:4000',
      'CLOSE_WAIT 127.0.0.1:80 -> [::ffff:10.0.0.1]:40000 ',
      'CLOSE_WAIT 127.0.0.1:80 -> [::ffff:10.0.0.1]:',
      'CLOSE_WAIT 127.0.0.1:80 > [::ffff:10.0.0.1]:40000',
      'LAST_ACK 127.0.0.1:80 -> [::ffff:10.0.0.1]:40000',
    ]) {
      expect(isSessionSubject(other, r), other).toBe(false);
    }
    expect(isSessionSubject('FIN_WAIT_1 0.0.0.0:0 -> 0.0.0.0:0', row('FIN_WAIT_1', ['0.0.0.0', 0], ['0.0.0.0', 0]))).toBe(true);
    expect(isSessionSubject('FIN_WAIT_1 0.0.0.0:0 -> 0.0.0.0:0', row('FIN_WAIT_2', ['0.0.0.0', 0], ['0.0.0.0', 0]))).toBe(false);
  });
});

describe('notificationsWithoutHistory (check with no state file: issue 15, no record per flagged session)', () => {
  it('gives what reconcileAlerts gives from nothing reported, field for field and in order: sessions, members left to their group, counts, duplicates', () => {
    const sessions: Session[] = [];
    // Generated: every kind and severity, IPv4 and IPv6, unflagged among them, one key twice.
    for (let i = 0; i < 300; i++) {
      const state = (['ESTABLISHED', 'CLOSE_WAIT', 'SYN_SENT', 'FIN_WAIT_2'] as const)[i % 4]!;
      const flagged = i % 5 !== 0;
      sessions.push({ port: 1000 + i, state, v6: i % 7 === 0, dwellMs: 60_000 + i * 137, ...(flagged ? { severity: i % 3 === 0 ? 'critical' : 'warning' } : {}) });
    }
    sessions.push({ port: 1001, state: 'CLOSE_WAIT', severity: 'critical' });
    const views = sessions.map(viewOf);
    // A group member without a flag of its own: its group's alert covers it.
    views[3]!.flag = { kind: 'count', severity: 'warning', rule: 'leak', group: 'java[812]', count: 11, thresholdCount: 10 };
    const counts = [countFlag(11), countFlag(40, 'critical', 'other')];
    for (const renotifyMs of [Infinity, 0]) {
      const expected = reconcileAlerts([], currentAlerts(views, counts), 5_000, renotifyMs).notifications;
      const actual = notificationsWithoutHistory(views, counts, 5_000);
      expect(actual).toStrictEqual(expected);
      expect(actual.map((n) => Object.keys(n))).toEqual(expected.map((n) => Object.keys(n)));
      expect(actual.map((n) => n.current && Object.keys(n.current))).toEqual(expected.map((n) => n.current && Object.keys(n.current)));
    }
    expect(notificationsWithoutHistory(views, counts, 5_000).length).toBeGreaterThan(200);
  });
});
