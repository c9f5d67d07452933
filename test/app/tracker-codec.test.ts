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

describe('StateBook: notifiers\' backlogs', () => {
  const pending = { atMs: 1000, notification: { change: 'flagged' as const, key: 'k', kind: 'half-close' as const, severity: 'warning' as const, subject: 'CLOSE_WAIT k', firstFlaggedMs: 1000, current: { key: 'k', kind: 'half-close' as const, severity: 'warning' as const, subject: 'CLOSE_WAIT k', measured: 12, threshold: 10, rule: 'default', dwellMs: 12000 } } };

  it('round-trips a failed notifier\'s undelivered notifications with its table', () => {
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
  const backlog = { notifier: 'webhook 0123456789abcdef', pending: [{ atMs: 1000, notification: { change: 'resolved' as const, key: 'k', kind: 'idle' as const, severity: 'warning' as const, subject: 's', firstFlaggedMs: 1 } }] };
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
    const v2 = JSON.stringify({ format: 'tcpdwell-check-state', version: 2, savedAt: '', tables: [{ table: table('net:[1]'), lastUsedMs: 1, source: 'ss', connections: [], alerts: [{ key: 'k', kind: 'idle', severity: 'warning', subject: 's', firstFlaggedMs: 1, lastNotifiedMs: 1 }] }] });
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
