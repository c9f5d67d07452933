import { describe, expect, it } from 'vitest';
import { STUCK_STATES, TcpState } from '../../../src/core/tcp-state.js';
import { advance, emptyTrackerState, type Snapshot } from '../../../src/core/tracker.js';
import { NetlinkSource } from '../../../src/sources/linux/netlink.js';
import type { ReadRequest } from '../../../src/sources/source.js';
import { FakePlatform } from '../../fake-platform.js';
import { CAPTURED_INET, capturedReplyTo } from './captured-kernel.js';

// ReadRequest.reuseRows (issue 15, memory): serve keeps no row past the next poll, so the netlink
// source updates its last rows in place and the tracker keeps them: a poll of connections already
// tracked, in the same state, makes no row object for them.

/**
 * A channel answering each dump with the captured dumps, as the kernel would list them again;
 * `edit` may change the AF_INET bytes of a reading's dump (the nth, from 0) before they are handed over.
 */
function replayingChannel(edit?: (inet: Uint8Array, dump: number) => void) {
  let dumps = 0;
  return () => ({
    dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => {
      const inet = CAPTURED_INET.slice();
      edit?.(inet, dumps++);
      onDatagram(capturedReplyTo(request, inet));
    },
    close: () => undefined,
  });
}

const reusable = (state: TcpState) => state !== TcpState.SYN_RECEIVED;

describe('netlink: rows reused across readings (ReadRequest.reuseRows)', () => {
  it('a second census hands back the first one’s row objects (request sockets excepted); without reuseRows, new rows', async () => {
    const source = new NetlinkSource({ openChannel: replayingChannel() });
    const read = (request: ReadRequest) => source.read(new FakePlatform(), { procRoot: '/proc' }, request);
    const first = await read({ reuseRows: true });
    const second = await read({ reuseRows: true });
    expect(second.rows).toHaveLength(first.rows.length);
    expect(first.rows.filter((r) => reusable(r.state)).length).toBeGreaterThan(20);
    second.rows.forEach((row, i) => (reusable(row.state) ? expect(row).toBe(first.rows[i]) : expect(row).not.toBe(first.rows[i])));
    // A reading that does not ask for reuse gets rows of its own (and the source keeps none for later).
    const plain = await read({});
    expect(plain.rows.some((row, i) => row === second.rows[i])).toBe(false);
    const afterPlain = await read({ reuseRows: true });
    expect(afterPlain.rows.some((row, i) => row === second.rows[i] || row === plain.rows[i])).toBe(false);
  });

  it('a fast poll reuses the last fast poll’s rows, not the census’s (another request, another order)', async () => {
    const source = new NetlinkSource({ openChannel: replayingChannel() });
    const read = (request: ReadRequest) => source.read(new FakePlatform(), { procRoot: '/proc' }, request);
    const census = await read({ reuseRows: true });
    const fast = await read({ reuseRows: true, states: STUCK_STATES });
    expect(fast.rows.some((row, i) => row === census.rows[i])).toBe(false);
    const fastAgain = await read({ reuseRows: true, states: STUCK_STATES });
    expect(fastAgain.rows.filter((row, i) => row === fast.rows[i]).length).toBe(fast.rows.filter((r) => reusable(r.state)).length);
    const censusAgain = await read({ reuseRows: true });
    expect(censusAgain.rows.filter((row, i) => row === census.rows[i]).length).toBe(census.rows.filter((r) => reusable(r.state)).length);
  });

  it('the tracker keeps each unchanged connection’s record and row: the poll creates no row for it', async () => {
    const source = new NetlinkSource({ openChannel: replayingChannel() });
    const read = () => source.read(new FakePlatform(), { procRoot: '/proc' }, { reuseRows: true });
    const snapshot = (rows: Snapshot['rows'], takenAtMs: number): Snapshot => ({ takenAtMs, rows, completeProtocols: ['tcp', 'tcp6'], confirmAbsence: true, rowsInPlace: true });
    const first = await read();
    const t1 = advance(emptyTrackerState(), snapshot(first.rows, 1_000_000));
    const records = new Map([...t1.state.connections].map(([key, c]) => [key, { record: c, row: c.row }]));
    const second = await read();
    const t2 = advance(t1.state, snapshot(second.rows, 1_002_000));
    expect(t2.events).toEqual([]);
    let unchanged = 0;
    for (const [key, connection] of t2.state.connections) {
      const before = records.get(key)!;
      expect(connection).toBe(before.record);
      expect(connection.lastSeenMs).toBe(1_002_000);
      if (!reusable(connection.row.state)) continue;
      // The row the tracker holds is the row the source handed back: one object across both polls.
      expect(connection.row).toBe(before.row);
      expect(second.rows).toContain(connection.row);
      unchanged++;
    }
    expect(unchanged).toBe(second.rows.filter((r) => reusable(r.state)).length);
  });

  it('a connection that changed state gets a new row and a state-changed event; its old record keeps the old row', async () => {
    // The capture, with the state byte of its first ESTABLISHED socket's message set to CLOSE_WAIT
    // (8) in the second dump: written for this test from the real dump's bytes.
    let established = -1;
    const edit = (inet: Uint8Array, dump: number) => {
      const view = new DataView(inet.buffer, inet.byteOffset);
      if (established < 0)
        for (let at = 0; at + 20 <= inet.length; at += (view.getUint32(at, true) + 3) & ~3)
          if (view.getUint16(at + 4, true) === 20 && inet[at + 17] === 1) {
            established = at + 17;
            break;
          }
      if (dump === 1) inet[established] = 8;
    };
    const source = new NetlinkSource({ openChannel: replayingChannel(edit) });
    const read = () => source.read(new FakePlatform(), { procRoot: '/proc' }, { reuseRows: true });
    const snapshot = (rows: Snapshot['rows'], takenAtMs: number): Snapshot => ({ takenAtMs, rows, completeProtocols: ['tcp', 'tcp6'], confirmAbsence: true, rowsInPlace: true });
    const first = await read();
    const t1 = advance(emptyTrackerState(), snapshot(first.rows, 1_000_000));
    const second = await read();
    const t2 = advance(t1.state, snapshot(second.rows, 1_002_000));
    const changed = second.rows.findIndex((row) => row.state === TcpState.CLOSE_WAIT && first.rows[second.rows.indexOf(row)]?.state === TcpState.ESTABLISHED);
    expect(changed).toBeGreaterThanOrEqual(0);
    expect(second.rows[changed]).not.toBe(first.rows[changed]);
    expect(first.rows[changed]!.state).toBe(TcpState.ESTABLISHED);
    expect(t2.events).toHaveLength(1);
    const event = t2.events[0]!;
    expect(event).toMatchObject({ type: 'state-changed', from: TcpState.ESTABLISHED, to: TcpState.CLOSE_WAIT });
    if (event.type !== 'state-changed') throw new Error('unreachable');
    expect(event.connection.row).toBe(second.rows[changed]);
    // Every other row is the first reading's object again.
    expect(second.rows.filter((row, i) => i !== changed && row === first.rows[i]).length).toBe(second.rows.filter((r, i) => i !== changed && reusable(r.state)).length);
  });
});
