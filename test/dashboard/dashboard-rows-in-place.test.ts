import { describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import type { SocketRow } from '../../src/core/connection.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { runDashboard } from '../../src/dashboard/dashboard.js';
import { parkSocketsHost, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';
import { fakeTerminal, steppedClock } from '../fake-terminal.js';

// `tcpdwell dashboard` opens its Monitor with rowsInPlace: a connection that stays in its
// state keeps its row object, updated at each poll, instead of a new row a poll that the table
// holds until the next. What the dashboard draws must be the same byte for byte. The polls answer
// the park-sockets capture with its tcp_info idle times (lastsnd/lastrcv/lastack) moved at each
// poll, as a live socket's would, so the rows do change.

const SS = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const POLL_MS = 2000;

/** The capture at poll `k`: every idle time `k × 1.5 s` longer, every other socket's reset to 0 (data flowed); round trip times `k` ms longer. */
function answerAt(k: number): string {
  let n = 0;
  return SS.replace(/\brtt:([\d.]+)/g, (_all, ms: string) => `rtt:${(Number(ms) + k).toFixed(3)}`).replace(
    /(last(?:snd|rcv|ack)):(\d+)/g,
    (_all, field: string, ms: string) => `${field}:${n++ % 6 < 3 ? Number(ms) + k * 1500 : k % 2 === 0 ? 0 : Number(ms)}`,
  );
}

async function drawnWith(rowsInPlace: boolean): Promise<{ drawn: string; rowsKept: number; rowsSeen: number }> {
  const { input, output, text } = fakeTerminal({ columns: 130, rows: 30 });
  const platform = parkSocketsHost();
  platform.commands = [0, 1, 2, 3, 4].map((k) => ssAnswers(answerAt(k)));
  const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc', rowsInPlace });
  const { clock, step } = steppedClock(() => platform.nowValue);
  const rows: Map<string, SocketRow>[] = [];
  const stop = new AbortController();
  const run = runDashboard(
    {
      monitor,
      policy: defaultPolicy('ios'),
      intervalMs: POLL_MS,
      facts: {},
      clock,
      afterPoll: async () => void rows.push(new Map([...monitor.tracker.connections.values()].map((c) => [c.key, c.row]))),
    },
    { input, output, terminal: 'xterm-256color', noColor: false, interrupt: stop.signal },
  );
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  for (let k = 0; k < 4; k++) {
    await settle();
    // Keys between polls redraw from the views the state holds: the table, then a connection's
    // details (its row's tcp_info facts), left open for the last polls.
    input.write(k === 1 ? '\r' : k % 2 === 0 ? 'j' : 'k');
    await settle();
    platform.nowValue += POLL_MS;
    step();
  }
  await settle();
  stop.abort();
  await run;
  const [first, last] = [rows[0]!, rows.at(-1)!];
  const kept = [...last].filter(([key, row]) => first.get(key) === row).length;
  return { drawn: text(), rowsKept: kept, rowsSeen: last.size };
}

describe('dashboard with rows updated in place', () => {
  it('draws exactly what it draws with a new row per poll, while the rows of unchanged connections are kept', async () => {
    const inPlace = await drawnWith(true);
    const replaced = await drawnWith(false);
    // The case is the one meant: in place, the rows were kept; without, none was.
    expect(inPlace.rowsSeen).toBeGreaterThan(5);
    expect(inPlace.rowsKept).toBe(inPlace.rowsSeen);
    expect(replaced.rowsKept).toBe(0);
    // The idle times moved, so the table changed from poll to poll…
    expect(inPlace.drawn.length).toBeGreaterThan(2000);
    // The owners of the rows on screen were looked up and drawn (python3[4242] holds the CLOSE_WAIT sockets)…
    expect(inPlace.drawn).toContain('python3');
    // …and both draw the same.
    expect(inPlace.drawn).toBe(replaced.drawn);
  });
});
