import { describe, expect, it, vi } from 'vitest';
import type { Monitor, OwnerNeed, PollOutcome } from '../../src/app/monitor.js';
import type { SocketRow } from '../../src/core/connection.js';
import { evaluateAll, sortViews, type ConnectionView } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';
import { runDashboard } from '../../src/dashboard/dashboard.js';
import { connectionHeader, connectionLine } from '../../src/dashboard/render.js';
import { layoutOf } from '../../src/dashboard/state.js';
import { fakeTerminal, steppedClock } from '../fake-terminal.js';

// What one frame and one poll of the dashboard cost, counted: at 100,000 rows the table must
// format only the screenful it shows, and filter and sort the rows once per poll. The formatting
// and the presentation sort are wrapped to count their calls; everything else is the real code.

vi.mock(import('../../src/dashboard/render.js'), async (importOriginal) => {
  const real = await importOriginal();
  return { ...real, connectionHeader: vi.fn(real.connectionHeader), connectionLine: vi.fn(real.connectionLine) };
});
vi.mock(import('../../src/core/evaluate.js'), async (importOriginal) => {
  const real = await importOriginal();
  return { ...real, sortViews: vi.fn(real.sortViews) };
});

const T0 = Date.parse('2026-11-21T05:30:00Z');
const WIDTH = 100;
const HEIGHT = 30;

/** Rows written for the test in the shape of `ss -tanoi` rows without owners: many ESTABLISHED, every 10th in CLOSE_WAIT for an hour. */
function rows(count: number): SocketRow[] {
  return Array.from({ length: count }, (_, i) => ({
    protocol: 'tcp',
    local: { address: '127.0.0.1', port: 1024 + (i % 60000) },
    remote: { address: `10.0.${(i >> 8) & 255}.${i & 255}`, port: 5432 },
    state: i % 10 === 0 ? 'CLOSE_WAIT' : 'ESTABLISHED',
    rawState: i % 10 === 0 ? 'CLOSE-WAIT' : 'ESTAB',
    inode: 100_000 + i,
    activity: { lastPeerSegmentAgoMs: 3_600_000, lastSendAgoMs: 1000, lastReceiveAgoMs: 1000 },
  }));
}

/**
 * A monitor over `count` rows whose evaluate looks up owners as Monitor.evaluate does: for the
 * window the dashboard picks (and the flagged rows), handing back the same views with those rows
 * replaced by copies that carry an owner. Records the size of each window asked for.
 */
function ownerMonitor(count: number) {
  let tracker = emptyTrackerState();
  const table = rows(count);
  const windows: number[] = [];
  const monitor = {
    get tracker() {
      return tracker;
    },
    sourceName: 'netlink',
    pendingCaptures: 0,
    describesThisHost: true,
    polls: 0,
    windows,
    close: () => undefined,
    async poll(): Promise<PollOutcome> {
      monitor.polls++;
      const takenAtMs = T0 + monitor.polls * 2000;
      tracker = advance(tracker, { takenAtMs, rows: table, completeProtocols: ['tcp', 'tcp6'] }).state;
      return { ok: true, takenAtMs, source: 'netlink', notices: [], events: [], durationMs: 5 };
    },
    async evaluate(policy: ReturnType<typeof defaultPolicy>, need: OwnerNeed) {
      const evaluation = evaluateAll(tracker, tracker.lastPollMs ?? T0, policy, { ranked: false });
      if (typeof need !== 'object') throw new Error(`the default table asks for a window of owners, not ${need}`);
      const window = [...need.window(evaluation)];
      windows.push(window.length);
      if (need.flagged !== false) windows.push(-1); // asked for the flagged rows too
      const wanted = new Set<ConnectionView>([...(need.flagged === false ? [] : evaluation.views.filter((v) => v.flag)), ...window]);
      const views = evaluation.views.map((v) => (wanted.has(v) ? { ...v, row: { ...v.row, pid: 4242, process: 'worker' } } : v));
      return { evaluation: { ...evaluation, views }, ownersHidden: false };
    },
  };
  return monitor;
}

const terminal = () => fakeTerminal({ columns: WIDTH, rows: HEIGHT });

/** A clock from T0 whose waits end only when the test steps it, moving it on by the wait. */
function ownClock() {
  let now = T0;
  return steppedClock(
    () => now,
    (ms) => (now += ms),
  );
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('the dashboard at many rows', () => {
  it('formats per frame only the rows on screen, asks owners for those only, and sorts the table once per poll', async () => {
    const COUNT = 20_000;
    const tableRows = layoutOf(WIDTH, HEIGHT).tableRows;
    const t = terminal();
    const stop = new AbortController();
    const time = ownClock();
    const monitor = ownerMonitor(COUNT);
    const header = vi.mocked(connectionHeader);
    const line = vi.mocked(connectionLine);
    const sorts = vi.mocked(sortViews);
    header.mockClear();
    line.mockClear();
    sorts.mockClear();
    const run = runDashboard(
      { monitor: monitor as unknown as Monitor, policy: defaultPolicy('ios'), intervalMs: 2000, facts: {}, clock: time.clock },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: true, interrupt: stop.signal },
    );
    await settle();
    for (let poll = 2; poll <= 3; poll++) {
      time.step();
      await settle();
    }
    t.input.write('j'); // a key: one more frame
    await settle();
    stop.abort();
    await run;

    expect(monitor.polls).toBe(3);
    // One presentation sort per poll: the window's derive is kept when the owners come.
    expect(sorts).toHaveBeenCalledTimes(3);
    expect(sorts.mock.calls.every(([views]) => views.length === COUNT)).toBe(true);
    // Owners asked for the screenful only, not for the 2,000 flagged rows off screen (no event log reads them).
    expect(monitor.windows).toEqual([tableRows, tableRows, tableRows]);
    // Frames drawn with the table: at least one per poll and the key's. A frame formats the column
    // header, then its lines: the lines after one header and before the next are that frame's.
    const headers = header.mock.invocationCallOrder;
    expect(headers.length).toBeGreaterThanOrEqual(4);
    const perFrame = headers.map((at, i) => line.mock.invocationCallOrder.filter((order) => order > at && order < (headers[i + 1] ?? Infinity)).length);
    expect(Math.max(...perFrame)).toBe(tableRows);
    expect(perFrame.every((n) => n <= tableRows)).toBe(true);
    expect(line.mock.calls.length).toBeLessThanOrEqual(headers.length * tableRows);
    // The rows on screen carry the owners looked up after the sort.
    expect(t.plain()).toContain('4242/worker');
  });

  // Until session 10 the flagged rows were looked up too with an event log, on the belief that
  // their events name their owners; no log line does (a flagged line names no process, and the
  // tracker's events carry the tracker's rows), so at 86,000 flagged that was ~55 MB a poll for nothing.
  it('with an event log, the owners of the rows on screen only are looked up, as without', async () => {
    const t = terminal();
    const stop = new AbortController();
    const time = ownClock();
    const monitor = ownerMonitor(500);
    const logged: number[] = [];
    const run = runDashboard(
      {
        monitor: monitor as unknown as Monitor,
        policy: defaultPolicy('ios'),
        intervalMs: 2000,
        facts: {},
        clock: time.clock,
        afterPoll: async (_outcome, evaluation) => void logged.push(evaluation!.views.filter((v) => v.flag && v.row.pid === 4242).length),
      },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: true, interrupt: stop.signal },
    );
    await settle();
    stop.abort();
    await run;
    const tableRows = layoutOf(WIDTH, HEIGHT).tableRows;
    expect(monitor.windows).toEqual([tableRows]); // not the flagged rows (-1)
    // Of the 50 flagged rows (every 10th of 500), those on screen (sorted first) have their owner.
    expect(tableRows).toBeLessThan(50);
    expect(logged).toEqual([tableRows]);
  });
});
