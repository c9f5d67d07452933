import { describe, expect, it } from 'vitest';
import { StateBook } from '../../src/app/tracker-codec.js';
import type { SocketRow } from '../../src/core/connection.js';
import { STUCK_STATES } from '../../src/core/tcp-state.js';
import { advance, emptyTrackerState, type Snapshot } from '../../src/core/tracker.js';
import type { TableIdentity } from '../../src/sources/table-identity.js';

// Issue 15: what a one-shot `check` run must carry to the next for a missing connection to close
// only when a second reading confirms it, and for a departed one to be resolved. Rows written for the test.

const table: TableIdentity = { source: 'auto', procRoot: '/proc', netns: 'net:[1]', bootId: 'boot-1' };
const row = (port: number, state: SocketRow['state']): SocketRow => ({ protocol: 'tcp', local: { address: '127.0.0.1', port }, remote: { address: '127.0.0.1', port: 40000 }, state, rawState: state });
const live = (atMs: number, rows: SocketRow[], states?: Snapshot['states']): Snapshot => ({
  takenAtMs: atMs,
  rows,
  completeProtocols: ['tcp', 'tcp6'],
  confirmAbsence: true,
  ...(states ? { states } : {}),
});

describe('state file: absence marks between check runs', () => {
  it('a connection missing from one run is closed by the next run, through the file', () => {
    let tracker = advance(emptyTrackerState(), live(1000, [row(1, 'CLOSE_WAIT'), row(2, 'ESTABLISHED')])).state;
    tracker = advance(tracker, live(61_000, [row(2, 'ESTABLISHED')])).state;
    const book = StateBook.empty();
    book.record(table, { tracker, alerts: [], source: 'ss' }, 61_000);
    const text = book.encode(61_000);
    expect(text).toContain('"missedAtMs":61000');
    const read = StateBook.decode(text).historyOf(table)!.tracker;
    expect(read.connections.size).toBe(2);
    expect(read.unconfirmedAbsence).toEqual(new Map([['tcp 127.0.0.1 1 127.0.0.1 40000', 61_000]]));
    const next = advance(read, live(121_000, [row(2, 'ESTABLISHED')]));
    expect(next.events).toEqual([expect.objectContaining({ type: 'closed', goneByMs: 61_000, connection: expect.objectContaining({ lastSeenMs: 1000 }) })]);
  });

  it('keeps a departed connection and the per-state read times (a `check --window` that ended between censuses)', () => {
    let tracker = advance(emptyTrackerState(), live(0, [row(1, 'SYN_SENT')])).state;
    tracker = advance(tracker, live(2000, [], STUCK_STATES)).state;
    tracker = advance(tracker, live(4000, [], STUCK_STATES)).state;
    expect(tracker.departed?.size).toBe(1);
    const book = StateBook.empty();
    book.record(table, { tracker, alerts: [], source: 'ss' }, 4000);
    const read = StateBook.decode(book.encode(4000)).historyOf(table)!.tracker;
    expect(read.connections.size).toBe(0);
    expect([...read.departed!.keys()]).toEqual(['tcp 127.0.0.1 1 127.0.0.1 40000']);
    expect(read.stateReadAtMs).toMatchObject({ SYN_SENT: 4000, ESTABLISHED: 0 });
    const next = advance(read, live(60_000, [row(1, 'ESTABLISHED')]));
    expect(next.events).toEqual([expect.objectContaining({ type: 'state-changed', from: 'SYN_SENT', to: 'ESTABLISHED' })]);
  });

  it('reads a file written before these fields: no marks, every state read at the last poll', () => {
    const tracker = advance(emptyTrackerState(), live(1000, [row(1, 'CLOSE_WAIT')])).state;
    const book = StateBook.empty();
    book.record(table, { tracker, alerts: [], source: 'ss' }, 1000);
    const old = book.encode(1000);
    expect(old).not.toMatch(/missedAtMs|departed|stateReadAtMs/);
    const read = StateBook.decode(old).historyOf(table)!.tracker;
    expect(read.unconfirmedAbsence).toBeUndefined();
    expect(read.stateReadAtMs).toBeUndefined();
    expect(read.lastPollMs).toBe(1000);
  });
});
