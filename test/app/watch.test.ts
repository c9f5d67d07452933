import { describe, expect, it } from 'vitest';
import { Monitor, type OwnerNeed } from '../../src/app/monitor.js';
import { OwnerInterning, watchConnections, type WatchSource } from '../../src/app/watch.js';
import type { MonitorEvent } from '../../src/app/event-stream.js';
import type { Evaluation, Owner } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import type { TrackedConnection } from '../../src/core/tracker.js';
import { parkSocketsHost } from '../fake-platform.js';

// Issue 15 (memory): what `watch` keeps of owners. The park-sockets host (fake-platform.ts):
// python3, pid 4242, holds the three CLOSE_WAIT sockets and the listener on 47537; its `ss`
// answers the real capture linux-ss-tanoie-park-sockets-kernel6.txt at every poll.

/** A Monitor on the park-sockets host, with every owner lookup and evaluation it is asked for recorded. */
function recordedMonitor() {
  const platform = parkSocketsHost();
  const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
  const ownerCalls: number[] = [];
  const needs: OwnerNeed[] = [];
  const evaluations: Evaluation[] = [];
  const source: WatchSource = {
    get pendingCaptures() {
      return monitor.pendingCaptures;
    },
    get tracker() {
      return monitor.tracker;
    },
    poll: () => monitor.poll(),
    ownersOf: (connections: Iterable<TrackedConnection>) => {
      const asked = [...connections];
      ownerCalls.push(asked.length);
      return monitor.ownersOf(asked);
    },
    evaluate: async (policy, need, options) => {
      needs.push(need);
      const result = await monitor.evaluate(policy, need, options);
      evaluations.push(result.evaluation);
      return result;
    },
  };
  return { platform, monitor, source, ownerCalls, needs, evaluations };
}

/** Runs `watch` for `polls` polls on `source` (no waiting: the clock's sleep returns at once), with what it hands the output. */
async function runWatch(source: WatchSource, polls: number, owners = true) {
  const handed: { events: MonitorEvent[]; owners: ReadonlyMap<string, Owner>; first: boolean }[] = [];
  let now = Date.parse('2026-11-21T05:30:00Z');
  const result = await watchConnections(
    source,
    {
      policy: defaultPolicy(),
      intervalMs: 15_000,
      iterations: polls,
      replay: false,
      owners,
      clock: { nowMs: () => now, sleep: async (ms) => void (now += ms) },
      signal: new AbortController().signal,
    },
    {
      started: () => undefined,
      events: (events, kept, first) => void handed.push({ events, owners: new Map(kept), first }),
      pollFailed: () => undefined,
    },
  );
  return { result, handed };
}

describe('watch keeps owners compactly (issue 15, memory at 100,000 connections)', () => {
  it('the first poll looks up every owner in one call and one /proc scan, and evaluates with the flagged rows only: no row copy per owned connection', async () => {
    const { platform, source, ownerCalls, needs, evaluations, monitor } = recordedMonitor();
    const { result, handed } = await runWatch(source, 1);
    expect(result).toBe('ok');
    // One lookup for every tracked connection (22 in the capture), one scan of pid 4242's fds.
    expect(ownerCalls).toEqual([monitor.tracker.connections.size]);
    expect(monitor.tracker.connections.size).toBe(22);
    expect(platform.listed.filter((p) => p === '/proc/4242/fd')).toHaveLength(1);
    // The evaluation asks for the flagged rows' owners only, not a window of every row.
    expect(needs).toEqual(['flagged']);
    // Nothing is flagged at the first sight here (default thresholds): every view's row is the
    // tracker's own row object, not a copy with an owner added.
    const [evaluation] = evaluations;
    expect(evaluation!.views.every((v) => !v.flag)).toBe(true);
    expect(evaluation!.views.every((v) => v.row === v.connection.row)).toBe(true);
    // The four sockets python3 holds are kept, each under its connection, as ONE shared object.
    const kept = handed[0]!.owners;
    expect(kept.size).toBe(4);
    expect([...kept.values()][0]).toEqual({ pid: 4242, process: 'python3' });
    expect(new Set(kept.values()).size).toBe(1);
  });

  it('later polls look up no owner for connections that did nothing, and keep the first poll’s owners', async () => {
    const { platform, source, ownerCalls, needs, evaluations } = recordedMonitor();
    const { handed } = await runWatch(source, 3);
    expect(ownerCalls).toHaveLength(1); // the first poll only
    // Later polls ask for the rows this poll's events name: none moved, so none is wanted.
    const [, second, third] = needs;
    for (const need of [second, third]) {
      expect(typeof need).toBe('object');
      expect([...(need as { window: (e: Evaluation) => Iterable<unknown> }).window(evaluations[1]!)]).toEqual([]);
    }
    expect(platform.listed.filter((p) => p === '/proc/4242/fd')).toHaveLength(1);
    expect(handed.map((h) => h.owners.size)).toEqual([4, 4, 4]);
  });

  it('JSON lines (no owners asked): no lookup at all', async () => {
    const { platform, source, ownerCalls, needs } = recordedMonitor();
    await runWatch(source, 2, false);
    expect(ownerCalls).toEqual([]);
    expect(needs).toEqual(['none', 'none']);
    expect(platform.listed.filter((p) => p.startsWith('/proc/4242'))).toEqual([]);
  });
});

describe('OwnerInterning', () => {
  it('one object per process; a pid seen under another name gets its own, the old one unchanged', () => {
    const owners = new OwnerInterning();
    const a = owners.shared({ pid: 7, process: 'nginx' });
    expect(owners.shared({ pid: 7, process: 'nginx' })).toBe(a);
    const b = owners.shared({ pid: 7, process: 'nginx-worker' });
    expect(b).not.toBe(a);
    expect(a).toEqual({ pid: 7, process: 'nginx' });
    expect(b).toEqual({ pid: 7, process: 'nginx-worker' });
    expect(owners.shared({ pid: 8, process: 'nginx' })).toEqual({ pid: 8, process: 'nginx' });
    expect(owners.size).toBe(2);
  });
});
