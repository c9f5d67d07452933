import { describe, expect, it } from 'vitest';
import { MAX_SECTIONS, StateBook, StateDecodeError, UNUSED_SECTION_MS } from '../../src/app/tracker-codec.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';
import type { SocketRow } from '../../src/core/connection.js';
import type { TableIdentity } from '../../src/sources/table-identity.js';

const table = (netns: string, bootId = 'boot-1', procRoot = '/proc'): TableIdentity => ({ source: 'auto', procRoot, netns, bootId });
const row: SocketRow = { protocol: 'tcp', local: { address: '127.0.0.1', port: 5000 }, remote: { address: '127.0.0.1', port: 40000 }, state: 'CLOSE_WAIT', rawState: 'CLOSE-WAIT', inode: 7 };
const trackerAt = (ms: number) => advance(emptyTrackerState(), { takenAtMs: ms, rows: [row], completeProtocols: ['tcp', 'tcp6'] }).state;

describe('StateBook: one section per socket table', () => {
  it('round-trips each table apart: same 4-tuple, different namespaces, different histories', () => {
    const book = StateBook.empty();
    book.record(table('net:[1]'), { tracker: trackerAt(1000), alerts: [], source: 'ss' }, 1000);
    book.record(table('net:[2]'), { tracker: trackerAt(9000), alerts: [], source: 'procfs' }, 9000);
    const read = StateBook.decode(book.encode(9000));
    expect(read.size).toBe(2);
    expect([...read.historyOf(table('net:[1]'))!.tracker.connections.values()][0]!.firstSeenMs).toBe(1000);
    expect([...read.historyOf(table('net:[2]'))!.tracker.connections.values()][0]!.firstSeenMs).toBe(9000);
    expect(read.historyOf(table('net:[3]'))).toBeUndefined();
    expect(read.historyOf({ ...table('net:[1]'), source: 'procfs' })).toBeUndefined();
  });

  it("forgets this /proc's tables of another boot, and only those", () => {
    const book = StateBook.empty();
    const alert = { key: 'k', kind: 'half-close' as const, severity: 'warning' as const, subject: 's', firstFlaggedMs: 1, lastNotifiedMs: 1 };
    book.record(table('net:[1]', 'boot-1'), { tracker: trackerAt(1), alerts: [alert], source: 'ss' }, 1);
    book.record(table('net:[2]', 'boot-1'), { tracker: trackerAt(1), alerts: [], source: 'ss' }, 2);
    book.record(table('net:[1]', 'other-host-boot', '/host/proc'), { tracker: trackerAt(1), alerts: [], source: 'ss' }, 3);
    expect(book.forgetOtherBoots(table('net:[1]', 'boot-2'))).toEqual({ tables: 2, alerts: 1 });
    expect(book.size).toBe(1);
    expect(book.forgetOtherBoots({ ...table('net:[1]'), bootId: null })).toEqual({ tables: 0, alerts: 0 });
  });

  it('stays bounded: sections unused for 30 days are dropped, and at most MAX_SECTIONS are kept, the most recent', () => {
    const book = StateBook.empty();
    for (let i = 0; i < MAX_SECTIONS + 10; i++) book.record(table(`net:[${i}]`), { tracker: emptyTrackerState(), alerts: [], source: 'ss' }, 1000 + i);
    expect(book.size).toBe(MAX_SECTIONS);
    expect(book.historyOf(table('net:[0]'))).toBeUndefined();
    expect(book.historyOf(table(`net:[${MAX_SECTIONS + 9}]`))).toBeDefined();
    book.record(table('net:[new]'), { tracker: emptyTrackerState(), alerts: [], source: 'ss' }, 1000 + MAX_SECTIONS + 10 + UNUSED_SECTION_MS + 1);
    expect(book.size).toBe(1);
  });

  it('refuses files it cannot tie to a table, saying why', () => {
    expect(() => StateBook.decode('{"format":"tcpdwell-check-state","version":1,"savedAt":"","source":"ss","connections":[]}')).toThrow(/older tcpdwell/);
    expect(() => StateBook.decode('{"format":"tcpdwell-check-state","version":2,"savedAt":""}')).toThrow(new StateDecodeError('not a tcpdwell state file (no tables)'));
    // A damaged section is dropped and counted, not fatal to the others.
    const book = StateBook.decode('{"format":"tcpdwell-check-state","version":2,"savedAt":"","tables":[{"table":{}}]}');
    expect(book.size).toBe(0);
    expect(book.damagedSections).toBe(1);
    expect(() => StateBook.decode('[]')).toThrow('not a tcpdwell state file');
  });
});

describe("StateBook: notifiers' backlogs", () => {
  const pending = {
    atMs: 1000,
    notification: {
      change: 'flagged' as const,
      key: 'k',
      kind: 'half-close' as const,
      severity: 'warning' as const,
      subject: 'CLOSE_WAIT k',
      firstFlaggedMs: 1000,
      current: { key: 'k', kind: 'half-close' as const, severity: 'warning' as const, subject: 'CLOSE_WAIT k', measured: 12, threshold: 10, rule: 'default', dwellMs: 12000 },
    },
  };

  it("round-trips a failed notifier's undelivered notifications with its table", () => {
    const book = StateBook.empty();
    book.record(table('net:[1]'), { tracker: trackerAt(1000), alerts: [], outbox: [{ notifier: 'webhook 0123456789abcdef', pending: [pending] }], source: 'ss' }, 1000);
    expect(StateBook.decode(book.encode(1000)).historyOf(table('net:[1]'))?.outbox).toEqual([{ notifier: 'webhook 0123456789abcdef', pending: [pending] }]);
  });

  it('a state file written before backlogs were kept (no outbox field) still loads, with none', () => {
    const book = StateBook.empty();
    book.record(table('net:[1]'), { tracker: trackerAt(1000), alerts: [], source: 'ss' }, 1000);
    const text = book.encode(1000);
    expect(text).not.toContain('outbox');
    const history = StateBook.decode(text).historyOf(table('net:[1]'));
    expect(history?.outbox).toEqual([]);
    expect(history?.tracker.connections.size).toBe(1);
  });
});

describe('StateBook: a damaged backlog costs only itself (breaker 2)', () => {
  const good = { notifier: 'exec /bin/true', pending: [{ atMs: 1000, notification: { change: 'resolved', key: 'k', kind: 'idle', severity: 'warning', subject: 's', firstFlaggedMs: 1 } }] };
  const alert = { key: 'k', kind: 'half-close' as const, severity: 'warning' as const, subject: 's', firstFlaggedMs: 1, lastNotifiedMs: 1 };
  // Written for the test: a file this release wrote (one table with history and an alert), then
  // its outbox damaged by hand in the ways a truncated edit or a foreign writer would leave it.
  const withOutbox = (outbox: unknown): string => {
    const book = StateBook.empty();
    book.record(table('net:[1]'), { tracker: trackerAt(1000), alerts: [alert], source: 'ss' }, 1000);
    book.record(table('net:[2]'), { tracker: trackerAt(2000), alerts: [], source: 'ss' }, 2000);
    const data = JSON.parse(book.encode(2000)) as { tables: { table: TableIdentity; outbox?: unknown }[] };
    data.tables.find((s) => s.table.netns === 'net:[1]')!.outbox = outbox;
    return JSON.stringify(data);
  };

  it.each([
    ['an outbox that is not a list', { notifier: 'x' }, 1, []],
    ['one backlog of two missing its notifier', [good, { pending: [] }], 1, [good]],
    ['a pending notification of an unknown change', [{ ...good, pending: [{ atMs: 1, notification: { ...good.pending[0]!.notification, change: 'gone' } }] }], 1, []],
  ])('%s: the table keeps its connections and alerts, the damaged backlog is counted', (_, outbox, damaged, kept) => {
    const book = StateBook.decode(withOutbox(outbox));
    expect(book.damagedSections).toBe(0);
    expect(book.damagedBacklogs).toBe(damaged);
    const history = book.historyOf(table('net:[1]'))!;
    expect(history.tracker.connections.size).toBe(1);
    expect(history.alerts).toEqual([alert]);
    expect(history.outbox).toEqual(kept);
    expect(book.historyOf(table('net:[2]'))?.tracker.connections.size).toBe(1);
  });

  it('what is written back holds the valid backlogs only, and reads clean', () => {
    const book = StateBook.decode(withOutbox([good, 42]));
    const again = StateBook.decode(book.encode(3000));
    expect(again.damagedBacklogs).toBe(0);
    expect(again.historyOf(table('net:[1]'))?.outbox).toEqual([good]);
  });
});

describe('StateBook: format version (breaker 9)', () => {
  const backlog = {
    notifier: 'webhook 0123456789abcdef',
    pending: [{ atMs: 1000, notification: { change: 'resolved' as const, key: 'k', kind: 'idle' as const, severity: 'warning' as const, subject: 's', firstFlaggedMs: 1 } }],
  };
  const versionOf = (text: string) => (JSON.parse(text) as { version: number }).version;

  it('a file with a backlog is version 3, which a release reading only 2 refuses (sets aside) instead of rewriting without it', () => {
    const book = StateBook.empty();
    book.record(table('net:[1]'), { tracker: trackerAt(1000), alerts: [], outbox: [backlog], source: 'ss' }, 1000);
    expect(versionOf(book.encode(1000))).toBe(3);
    // A backlog in another table's section counts too.
    book.record(table('net:[2]'), { tracker: trackerAt(1000), alerts: [], source: 'ss' }, 1000);
    expect(versionOf(book.encode(1000))).toBe(3);
  });

  it('a file without a backlog stays version 2, which the previous release reads in full', () => {
    const book = StateBook.empty();
    book.record(table('net:[1]'), { tracker: trackerAt(1000), alerts: [], outbox: [], source: 'ss' }, 1000);
    expect(versionOf(book.encode(1000))).toBe(2);
  });

  it('reads versions 2 and 3, and names both when refusing another', () => {
    // Written for the test, in the shape of a version-2 file from the release before backlogs.
    const v2 = JSON.stringify({
      format: 'tcpdwell-check-state',
      version: 2,
      savedAt: '',
      tables: [
        { table: table('net:[1]'), lastUsedMs: 1, source: 'ss', connections: [], alerts: [{ key: 'k', kind: 'idle', severity: 'warning', subject: 's', firstFlaggedMs: 1, lastNotifiedMs: 1 }] },
      ],
    });
    const history = StateBook.decode(v2).historyOf(table('net:[1]'))!;
    expect(history.alerts[0]!.runsFlagged).toBeUndefined();
    const v3 = v2.replace('"version":2', '"version":3');
    expect(StateBook.decode(v3).size).toBe(1);
    expect(() => StateBook.decode(v2.replace('"version":2', '"version":4'))).toThrow(new StateDecodeError('written by another version of tcpdwell (state format 4, this one reads 2 and 3)'));
  });

  it('keeps the count of runs that saw an alert flagged (N8)', () => {
    const book = StateBook.empty();
    const alert = { key: 'k', kind: 'idle' as const, severity: 'warning' as const, subject: 's', firstFlaggedMs: 1, lastNotifiedMs: 1, runsFlagged: 4 };
    book.record(table('net:[1]'), { tracker: trackerAt(1000), alerts: [alert], source: 'ss' }, 1000);
    expect(StateBook.decode(book.encode(1000)).historyOf(table('net:[1]'))?.alerts).toEqual([alert]);
  });
});

describe('StateBook: --netns keeps one section per namespace', () => {
  const inNs = (inode: number, port: number): SocketRow => ({ ...row, local: { ...row.local, port }, netns: { inode, names: ['web'] } });
  const scoped = (scope: 'all' | number[], choice = 'all'): TableIdentity => ({ ...table(`--netns ${choice}`), netnsScope: scope });
  const alertFor = (key: string) => ({ key, kind: 'half-close' as const, severity: 'warning' as const, subject: key, firstFlaggedMs: 1, lastNotifiedMs: 1 });

  it('splits the tracker by namespace, and merges it back with each connection keyed in its namespace', () => {
    const tracker = advance(emptyTrackerState(), { takenAtMs: 1000, rows: [inNs(20, 5000), inNs(30, 5000)], completeProtocols: ['tcp', 'tcp6'] }).state;
    const keys = [...tracker.connections.keys()];
    expect(new Set(keys).size).toBe(2); // the same 4-tuple in two namespaces: two connections
    const book = StateBook.empty();
    book.record(scoped('all'), { tracker, alerts: [alertFor(keys[1]!), { ...alertFor('count r g'), kind: 'count' }], source: 'ss' }, 1000);
    const read = StateBook.decode(book.encode(1000));
    expect(read.size).toBe(3); // the run's own section, and one per namespace
    const back = read.historyOf(scoped('all'))!;
    expect([...back.tracker.connections.keys()].sort()).toEqual([...keys].sort());
    expect(back.tracker.lastPollMs).toBe(1000);
    expect(back.alerts.map((a) => a.key).sort()).toEqual(['count r g', keys[1]!].sort());
    // A run that reads only namespace 30 sees only its history (and its alert).
    const one = read.historyOf(scoped([30], '300'));
    expect([...one!.tracker.connections.values()].map((c) => c.row.netns?.inode)).toEqual([30]);
    expect(one!.alerts.map((a) => a.key)).toEqual([keys[1]!]);
    // A plain run's table of the same namespace is another table.
    expect(read.historyOf(table('net:[20]'))).toBeUndefined();
  });

  it('a namespace with no connections left loses its section: its history closes once, not at every run', () => {
    const book = StateBook.empty();
    const both = advance(emptyTrackerState(), { takenAtMs: 1000, rows: [inNs(20, 5000), inNs(30, 5000)], completeProtocols: ['tcp', 'tcp6'] }).state;
    book.record(scoped('all'), { tracker: both, alerts: [], source: 'ss' }, 1000);
    const loaded = book.historyOf(scoped('all'))!;
    const after = advance(loaded.tracker, { takenAtMs: 2000, rows: [inNs(20, 5000)], completeProtocols: ['tcp', 'tcp6'] });
    expect(after.events.filter((e) => e.type === 'closed').length).toBe(1);
    book.record(scoped('all'), { tracker: after.state, alerts: [], source: 'ss' }, 2000);
    expect(book.size).toBe(2);
    const again = advance(book.historyOf(scoped('all'))!.tracker, { takenAtMs: 3000, rows: [inNs(20, 5000)], completeProtocols: ['tcp', 'tcp6'] });
    expect(again.events.filter((e) => e.type === 'closed')).toEqual([]);
  });

  it('keeps a namespace start time through the state file, so a reused inode stays another namespace at the next run', () => {
    const at = (started: number, port: number): SocketRow => ({ ...inNs(30, port), netns: { inode: 30, started } });
    const tracker = advance(emptyTrackerState(), { takenAtMs: 1000, rows: [at(500, 5000)], completeProtocols: ['tcp', 'tcp6'] }).state;
    const book = StateBook.empty();
    book.record(scoped('all'), { tracker, alerts: [], source: 'ss' }, 1000);
    // The section keeps its name (`net:[30]`) and adds the start time beside it.
    const tables = (JSON.parse(book.encode(1000)) as { tables: { table: { netns: string; netnsStarted?: number } }[] }).tables.map((t) => t.table);
    expect(tables.filter((t) => t.netns === 'net:[30]').map((t) => t.netnsStarted)).toEqual([500]);
    const loaded = StateBook.decode(book.encode(1000)).historyOf(scoped([30], '300'))!;
    expect([...loaded.tracker.connections.keys()]).toEqual([...tracker.connections.keys()]);
    // The same namespace next run: nothing closes. Another one with inode 30 and the same flow: one close, one open.
    expect(advance(loaded.tracker, { takenAtMs: 2000, rows: [at(500, 5000)], completeProtocols: ['tcp', 'tcp6'] }).events).toEqual([]);
    const reused = advance(loaded.tracker, { takenAtMs: 2000, rows: [at(900, 5000)], completeProtocols: ['tcp', 'tcp6'] }).events;
    expect(reused.map((e) => [e.type, e.connection.row.netns?.started]).sort()).toEqual([
      ['closed', 500],
      ['opened', 900],
    ]);
  });

  it('records a busy namespace in linear time: 40,000 connections in one section within 3 s (was about 25 s)', () => {
    // Rows written for this test: one namespace, 40,000 flows from distinct local ports and peers.
    const rows = Array.from({ length: 40_000 }, (_, i) => ({ ...inNs(20, 1024 + (i % 60_000)), remote: { address: `10.0.${i >> 8}.${i & 255}`, port: 443 } }));
    const tracker = advance(emptyTrackerState(), { takenAtMs: 1000, rows, completeProtocols: ['tcp', 'tcp6'] }).state;
    const book = StateBook.empty();
    const started = performance.now();
    book.record(scoped('all'), { tracker, alerts: [], source: 'ss' }, 1000);
    // A copy of the namespace's list per connection made this quadratic: about 25 s for 40,000.
    expect(performance.now() - started).toBeLessThan(3000);
    expect(book.historyOf(scoped('all'))!.tracker.connections.size).toBe(40_000);
  });

  it('a run over some namespaces leaves the sections of the others as they were', () => {
    const book = StateBook.empty();
    const both = advance(emptyTrackerState(), { takenAtMs: 1000, rows: [inNs(20, 5000), inNs(30, 5000)], completeProtocols: ['tcp', 'tcp6'] }).state;
    book.record(scoped('all'), { tracker: both, alerts: [], source: 'ss' }, 1000);
    book.record(scoped([20], 'web'), { tracker: emptyTrackerState(), alerts: [], source: 'ss' }, 2000);
    const all = book.historyOf(scoped('all'))!;
    expect([...all.tracker.connections.values()].map((c) => c.row.netns?.inode)).toEqual([30]);
  });
});

describe('StateBook.decode with the run time: implausible stamps (break-it W1)', () => {
  const NOW = Date.UTC(2026, 10, 21, 5, 30);
  const file = (alerts: unknown[]) =>
    JSON.stringify({
      format: 'tcpdwell-check-state',
      version: 2,
      savedAt: '',
      tables: [{ table: { source: 'ss', procRoot: '/proc', netns: 'net:[1]', bootId: 'b' }, lastUsedMs: NOW - 1000, source: 'ss', connections: [], alerts }],
    });
  const alert = { key: 'k', kind: 'half-close', severity: 'warning', subject: 's', firstFlaggedMs: NOW - 5000, lastNotifiedMs: NOW - 5000 };
  const identity: TableIdentity = { source: 'ss', procRoot: '/proc', netns: 'net:[1]', bootId: 'b' };

  it('drops an alert record whose stamp or last dwell is impossible, keeps the others, counts the dropped', () => {
    const book = StateBook.decode(file([alert, { ...alert, key: 'a', firstFlaggedMs: -1e300 }, { ...alert, key: 'b', lastDwellMs: -1 }, { ...alert, key: 'c', lastNotifiedMs: NOW + 3600_000 }]), NOW);
    expect(book.historyOf(identity)?.alerts.map((a) => a.key)).toEqual(['k']);
    expect(book.droppedRecords).toBe(3);
  });
  it('a stamp a few minutes ahead of the clock (a clock stepped back) is kept', () => {
    const book = StateBook.decode(file([{ ...alert, lastNotifiedMs: NOW + 60_000 }]), NOW);
    expect(book.historyOf(identity)?.alerts).toHaveLength(1);
    expect(book.droppedRecords).toBe(0);
  });
});
