import { describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import type { MonitorEvent } from '../../src/app/event-stream.js';
import { runExporter } from '../../src/app/serve-run.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { eventToJson } from '../../src/output/events.js';
import { parkSocketsHost, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');

// `serve --log` reconciles its alerts in the pass that counts the metrics (EventStream.nextEach),
// no view per connection (issue 15: ~86,000 flagged sessions). It must write the lines and serve
// the body the evaluated path gives. The park-sockets host (fake-platform.ts) answers the real
// capture at every poll, its tcp_info last* counters grown 15 s a poll (written for the test).

async function served(onePass: boolean, polls: number, rowsInPlace = false) {
  const platform = parkSocketsHost();
  platform.commands = Array.from({ length: polls }, (_, i) =>
    ssAnswers(SS_PARK.replace(/\b(lastsnd|lastrcv|lastack):(\d+)/g, (_m, name: string, value: string) => `${name}:${Number(value) + i * 15_000}`)),
  );
  const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc', rowsInPlace });
  // Each poll's row object per connection, to tell rows kept from rows replaced.
  const rows: Map<string, object>[] = [];
  let eachCalls = 0;
  const evaluatedEach = monitor.evaluatedEach.bind(monitor);
  monitor.evaluatedEach = (policy) => {
    eachCalls++;
    return onePass ? evaluatedEach(policy) : undefined;
  };
  const abort = new AbortController();
  const lines: string[][] = [];
  const bodies: string[] = [];
  let body: () => string = () => '';
  // Half-close 10 s, idle 20 s: sessions flagged at the second and later polls.
  const policy = { ...defaultPolicy(), warning: { ...defaultPolicy().warning, halfCloseMs: 10_000, idleMs: 20_000 } };
  await runExporter({
    monitor,
    policy,
    log: {
      write: async (events: readonly MonitorEvent[]) => {
        rows.push(new Map([...monitor.tracker.connections.values()].map((c) => [c.key, c.row])));
        lines.push(events.map((e) => JSON.stringify(eventToJson(e))));
        if (lines.length > 1) bodies.push(body());
        if (lines.length >= polls) abort.abort();
      },
    },
    listenerPorts: [47537],
    clock: { nowMs: () => platform.nowValue, sleep: async (ms) => void (platform.nowValue += ms) },
    signal: abort.signal,
    intervalMs: 15_000,
    startServing: async (b) => {
      body = b;
      return { stop: async () => undefined };
    },
    reportFailure: () => undefined,
  });
  bodies.push(body());
  return { lines, bodies, eachCalls, rows };
}

describe('serve --log in one pass', () => {
  it('writes the lines and serves the metrics the evaluated path gives, poll for poll', async () => {
    const viewed = await served(false, 4);
    const onePass = await served(true, 4);
    expect(onePass.eachCalls).toBe(4);
    expect(onePass.lines).toEqual(viewed.lines);
    // The body of each poll (the timestamps and durations the fake clock gives are equal too).
    expect(onePass.bodies.map(stripDurations)).toEqual(viewed.bodies.map(stripDurations));
    // Not a run where nothing happens: flagged lines at the second poll on, counted in the body.
    const flagged = onePass.lines.map((poll) => poll.filter((l) => l.startsWith('{"event":"flagged"')).length);
    expect(flagged[0]).toBe(0);
    expect(flagged[1]).toBeGreaterThanOrEqual(4);
    expect(onePass.bodies.at(-1)).toMatch(/tcpdwell_flagged\{kind="half_close",severity="warning"\} [1-9]/);
  });
});

describe('serve --log with rows updated in place', () => {
  it("keeps an unchanged connection's row object (Monitor option rowsInPlace, --log or not) and writes the same lines and body", async () => {
    const replaced = await served(true, 4, false);
    const inPlace = await served(true, 4, true);
    const kept = (run: typeof inPlace) => [...run.rows.at(-1)!].filter(([key, row]) => run.rows[0]!.get(key) === row).length;
    expect(inPlace.rows.at(-1)!.size).toBeGreaterThan(5);
    // Every connection of the capture stays in its state: each keeps its first row, updated in place.
    expect(kept(inPlace)).toBe(inPlace.rows.at(-1)!.size);
    expect(kept(replaced)).toBe(0);
    expect(inPlace.lines).toEqual(replaced.lines);
    expect(inPlace.bodies.map(stripDurations)).toEqual(replaced.bodies.map(stripDurations));
    expect(inPlace.lines.flat().filter((l) => l.startsWith('{"event":"flagged"')).length).toBeGreaterThanOrEqual(4);
  });
});

/** The poll and read durations, which are wall time. */
function stripDurations(body: string): string {
  return body.replace(/^(tcpdwell_(poll|source_read)_duration_seconds\S*) .*$/gm, '$1');
}
