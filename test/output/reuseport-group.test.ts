import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { countStates } from '../../src/core/evaluate.js';
import { connectionToJson, countsToJson } from '../../src/output/json.js';
import { formatNagios } from '../../src/output/nagios.js';
import { connectionSamplesOf } from '../../src/output/prometheus.js';
import { formatConnectionTable } from '../../src/output/table.js';
import { closeWait, viewsAfterAMinute } from '../tracked-rows.js';

// An SO_REUSEPORT group as `ss -tlnpe` lists one (written for the test: three listeners on one
// address and port, each its own socket and process, beside a listener alone and a connection).
// The tracker keeps one row per 4-tuple; what the outputs show must still count every socket.
const listener = (port: number, pid: number, extra: Partial<SocketRow> = {}): SocketRow => ({
  protocol: 'tcp',
  local: { address: '0.0.0.0', port },
  remote: { address: '0.0.0.0', port: 0 },
  state: 'LISTEN',
  rawState: 'LISTEN',
  inode: 9000 + pid,
  pid,
  process: 'web',
  receiveQueue: 0,
  acceptBacklog: 128,
  ...extra,
});
const rows = [listener(8080, 1), listener(8080, 2), listener(8080, 3), listener(22, 4, { process: 'sshd' }), closeWait({})];

describe('an SO_REUSEPORT group: one row, every socket counted', () => {
  const views = viewsAfterAMinute(rows);

  it('the state counts count each listener, as ss -tln lists them', () => {
    expect(views.filter((v) => v.row.state === 'LISTEN')).toHaveLength(2);
    expect(countStates(views).get('LISTEN')).toBe(4);
    expect(countsToJson(views, new Map())).toMatchObject({ LISTEN: 4, CLOSE_WAIT: 1 });
    expect(formatNagios('ok', { views, countFlags: [] }, 'ss', [], [])).toMatch(/ listen=4;/);
    // serve's one pass (no view per connection): the same figures, per state and per --listener-port.
    const samples = connectionSamplesOf(
      (visit) =>
        views.forEach((v) => visit({ connection: v.connection, row: v.row, dwellMs: v.timing.dwellMs, halfCloseTimerMs: v.timing.halfCloseTimerMs, idleMs: v.timing.idleMs, flag: undefined })),
      [],
      { listenerPorts: [8080] },
    );
    expect(samples.connections).toContain('tcpdwell_connections{state="LISTEN"} 4');
    expect(samples.ports).toContain('tcpdwell_port_connections{port="8080",state="LISTEN"} 3');
  });

  it('list: the row says how many listeners share its port; JSON gives the number', () => {
    const table = formatConnectionTable(views, { ownersHidden: false });
    expect(table).toMatch(/\nLISTEN\s+0\.0\.0\.0:8080\s+0\.0\.0\.0:\*\s+1\/web \+2 reuseport\s/);
    expect(table).toMatch(/\nLISTEN\s+0\.0\.0\.0:22\s+0\.0\.0\.0:\*\s+4\/sshd\s/);
    const json = views.map(connectionToJson);
    expect(json.find((j) => j.local.port === 8080)!.reusePortListeners).toBe(3);
    expect(json.find((j) => j.local.port === 22)!.reusePortListeners).toBe(1);
    expect(json.find((j) => j.state === 'CLOSE_WAIT')!.reusePortListeners).toBeNull();
  });
});
