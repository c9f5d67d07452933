import { describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import type { SocketRow } from '../../src/core/connection.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { runDashboard } from '../../src/dashboard/dashboard.js';
import type { ReadingProvider } from '../../src/sources/source.js';
import { parkSocketsHost, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';
import { fakeTerminal, steppedClock } from '../fake-terminal.js';

// `dashboard --log`: the event log writes no looked-up owner (its lines carry the tracker's rows),
// so the dashboard asks the owner lookup for the rows on screen only, as without --log: not for
// every flagged row (86,000 at 100,000 sockets, each looked up and copied every poll, issue 15).

const SS = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const SCREEN_ROWS = 24; // MIN_SIZE: a table of 17 rows, fewer than the capture's 46 sockets

async function ownersAsked(withLog: boolean): Promise<{ asked: number[]; flagged: number; drawn: string }> {
  const { input, output, text } = fakeTerminal({ columns: 130, rows: SCREEN_ROWS });
  const platform = parkSocketsHost();
  platform.commands = [ssAnswers(SS), ssAnswers(SS)];
  const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc', rowsInPlace: true });
  // The rows handed to the source's owner lookup, per lookup.
  const asked: number[] = [];
  const provider = (monitor as unknown as { provider: ReadingProvider }).provider;
  const owners = provider.owners!;
  const find = owners.find.bind(owners);
  owners.find = (rows: readonly SocketRow[]) => {
    asked.push(rows.length);
    return find(rows);
  };
  const { clock, step } = steppedClock(() => platform.nowValue);
  // Sessions flagged: half-open, half-close and idle past 1 ms (the capture's times are seconds).
  const base = defaultPolicy();
  const policy = { ...base, warning: { ...base.warning, halfOpenMs: 1, halfCloseMs: 1, idleMs: 1 } };
  let flagged = 0;
  const stop = new AbortController();
  const run = runDashboard(
    {
      monitor,
      policy,
      intervalMs: 2000,
      facts: {},
      clock,
      ...(withLog ? { afterPoll: async (_o: unknown, evaluation: { views: readonly { flag?: unknown }[] } | undefined) => void (flagged = evaluation?.views.filter((v) => v.flag).length ?? 0) } : {}),
    },
    { input, output, terminal: 'xterm-256color', noColor: false, interrupt: stop.signal },
  );
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  await settle();
  // To the table's end: the flagged rows (sorted first) are now off screen; then the next poll.
  input.write('\x1b[F');
  await settle();
  platform.nowValue += 2000;
  step();
  await settle();
  stop.abort();
  await run;
  return { asked, flagged, drawn: text() };
}

describe('dashboard --log owner lookup', () => {
  it('asks the owners of the rows on screen only, not of every flagged row', async () => {
    const logged = await ownersAsked(true);
    const plain = await ownersAsked(false);
    // The case is the one meant: sessions flagged, scrolled off the table by the second poll.
    expect(logged.flagged).toBeGreaterThan(5);
    expect(plain.asked.length).toBe(3); // the first poll, the scroll, the second poll
    // With the log, the same rows are asked as without it.
    expect(logged.asked).toEqual(plain.asked);
    // …and the owners on screen are drawn all the same (python3[4242] holds the CLOSE_WAIT sockets).
    expect(logged.drawn).toContain('python3');
  });
});
