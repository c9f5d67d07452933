import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { TcpState } from '../../src/core/tcp-state.js';
import { advance, emptyTrackerState, type TrackerState } from '../../src/core/tracker.js';

// Break-it pass: watch over an SO_REUSEPORT group on 0.0.0.0:7100; a new listener the kernel
// listed first became the group's row, and watch said `closed 0.0.0.0:7100 … python3[2056] after
// 3s, last LISTEN` and `opened … python3[2717]` while pid 2056 still listened. A group whose
// membership changes is one listener row that stays open: no closed, no opened.

const listener = (id: number, pid: number, ids: 'cookie' | 'inode'): SocketRow => ({
  protocol: 'tcp',
  local: { address: '0.0.0.0', port: 7100 },
  remote: { address: '0.0.0.0', port: 0 },
  state: TcpState.LISTEN,
  rawState: 'LISTEN',
  pid,
  process: 'python3',
  ...(ids === 'cookie' ? { cookie: id.toString(16) } : { inode: id }),
});

describe('the row of an SO_REUSEPORT group over polls where members come, go and reorder (clock injected)', () => {
  for (const ids of ['cookie', 'inode'] as const) {
    it(`stays the member already tracked while it is listed, and no event is said (${ids}s)`, () => {
      const l = (id: number) => listener(id, id === 1 ? 2056 : 2000 + id, ids);
      let state: TrackerState = emptyTrackerState();
      const poll = (atMs: number, members: number[]) => {
        const result = advance(state, { takenAtMs: atMs, rows: members.map(l), completeProtocols: ['tcp', 'tcp6'] });
        state = result.state;
        const [kept] = [...state.connections.values()];
        return { events: result.events.map((e) => e.type), pid: kept?.row.pid, others: kept?.row.sharingPort?.map((r) => r.pid) ?? [], stateSinceMs: kept?.stateSinceMs };
      };
      expect(poll(1000, [1, 2])).toMatchObject({ events: ['opened'], pid: 2056, others: [2002] });
      // One more listener, listed first: the row is still 2056's.
      expect(poll(2000, [3, 1, 2])).toEqual({ events: [], pid: 2056, others: [2003, 2002], stateSinceMs: 1000 });
      // Reordered, one member gone.
      expect(poll(3000, [2, 1])).toEqual({ events: [], pid: 2056, others: [2002], stateSinceMs: 1000 });
      // The tracked listener gone, a member still there: the group is still open (its row now a member's).
      expect(poll(4000, [2])).toEqual({ events: [], pid: 2002, others: [], stateSinceMs: 1000 });
      // The whole group gone, then a new one on the port: closed, then opened.
      expect(poll(5000, [])).toMatchObject({ events: ['closed'] });
      expect(poll(6000, [4])).toMatchObject({ events: ['opened'], pid: 2004 });
    });
  }

  it('a listener replaced by one that was not in its group (a restart between polls) is still closed and opened', () => {
    let state: TrackerState = emptyTrackerState();
    state = advance(state, { takenAtMs: 1000, rows: [listener(1, 2056, 'cookie'), listener(2, 2057, 'cookie')], completeProtocols: ['tcp', 'tcp6'] }).state;
    const result = advance(state, { takenAtMs: 2000, rows: [listener(3, 3000, 'cookie')], completeProtocols: ['tcp', 'tcp6'] });
    expect(result.events.map((e) => e.type)).toEqual(['closed', 'opened']);
  });
});
