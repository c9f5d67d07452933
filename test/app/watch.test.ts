import { describe, expect, it } from 'vitest';
import { Monitor, type OwnerNeed } from '../../src/app/monitor.js';
import { OwnerInterning, ownerOfEvent, watchConnections, type WatchSource, type WatchStart } from '../../src/app/watch.js';
import { eventToJson, formatEventLine } from '../../src/output/events.js';
import { EVENT_SLICE, type MonitorEvent } from '../../src/app/event-stream.js';
import type { Evaluation, Owner } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import type { TrackedConnection } from '../../src/core/tracker.js';
import { FakePlatform, parkSocketsHost, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

/** A WatchSource reading through `monitor` as the CLI's does (the tracker and pending captures read at each use). */
function monitorSource(monitor: Monitor, overrides: Partial<Pick<WatchSource, 'ownersOf' | 'evaluate' | 'evaluatedEach'>> = {}): WatchSource {
  // Overrides spread into this literal: spreading the result instead would copy the getters' values.
  return {
    get pendingCaptures() {
      return monitor.pendingCaptures;
    },
    get tracker() {
      return monitor.tracker;
    },
    poll: () => monitor.poll(),
    ownersOf: (connections, keep) => monitor.ownersOf(connections, keep),
    evaluate: (policy, need, options) => monitor.evaluate(policy, need, options),
    ...overrides,
  };
}

const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');

// Issue 15 (memory): what `watch` keeps of owners. The park-sockets host (fake-platform.ts):
// python3, pid 4242, holds the three CLOSE_WAIT sockets and the listener on 47537; its `ss`
// answers the real capture linux-ss-tanoie-park-sockets-kernel6.txt at every poll.

/** A Monitor on the park-sockets host, with every owner lookup and evaluation it is asked for recorded. */
function recordedMonitor() {
  const platform = parkSocketsHost();
  // 15 s apart with no traffic (written for the test): tcp_info's last* counters grown as the kernel's would.
  platform.commands = [0, 15_000, 30_000].map((ms) => ssAnswers(SS_PARK.replace(/\b(lastsnd|lastrcv|lastack):(\d+)/g, (_m, name: string, value: string) => `${name}:${Number(value) + ms}`)));
  const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
  const ownerCalls: number[] = [];
  const needs: OwnerNeed[] = [];
  const evaluations: Evaluation[] = [];
  /** Per evaluation, the views whose row is not the tracker's own row object (a copy), counted when it was made (the tracker updates records in place at the next poll). */
  const rowCopies: number[] = [];
  const source = monitorSource(monitor, {
    ownersOf: (connections: Iterable<TrackedConnection>, keep?: (key: string, owner: Owner) => void) => {
      const asked = [...connections];
      ownerCalls.push(asked.length);
      return monitor.ownersOf(asked, keep);
    },
    evaluate: async (policy, need, options) => {
      needs.push(need);
      const result = await monitor.evaluate(policy, need, options);
      evaluations.push(result.evaluation);
      rowCopies.push(result.evaluation.views.filter((v) => v.row !== v.connection.row).length);
      return result;
    },
  });
  return { platform, monitor, source, ownerCalls, needs, evaluations, rowCopies };
}

/** Runs `watch` for `polls` polls on `source` (no waiting: the clock's sleep returns at once), with what it hands the output. */
async function runWatch({ source, platform }: { source: WatchSource; platform: FakePlatform }, polls: number, owners = true, policy = defaultPolicy()) {
  const handed: { events: MonitorEvent[]; owners: ReadonlyMap<string, Owner>; first: boolean }[] = [];
  const starts: WatchStart[] = [];
  const result = await watchConnections(
    source,
    {
      policy,
      intervalMs: 15_000,
      iterations: polls,
      replay: false,
      owners,
      clock: { nowMs: () => platform.nowValue, sleep: async (ms) => void (platform.nowValue += ms) },
      signal: new AbortController().signal,
    },
    {
      started: (start) => void starts.push(start),
      events: (events, kept, first) => void handed.push({ events, owners: new Map(kept), first }),
      pollFailed: () => undefined,
    },
  );
  return { result, handed, starts };
}

describe('watch keeps owners compactly (issue 15, memory at 100,000 connections)', () => {
  it('the first poll looks up every owner in one call and one /proc scan, evaluates without owners (no row copy), and keeps one shared Owner per process', async () => {
    const recorded = recordedMonitor();
    const { platform, ownerCalls, needs, rowCopies, monitor } = recorded;
    const { result, handed } = await runWatch(recorded, 1);
    expect(result).toBe('ok');
    // One lookup for every tracked connection (22 in the capture), one scan of pid 4242's fds.
    expect(ownerCalls).toEqual([monitor.tracker.connections.size]);
    expect(monitor.tracker.connections.size).toBe(22);
    expect(platform.listed.filter((p) => p === '/proc/4242/fd')).toHaveLength(1);
    // The evaluation asks for no owner: every view's row is the tracker's own row object, not a
    // copy with an owner added.
    expect(needs).toEqual(['none']);
    expect(rowCopies).toEqual([0]);
    // The four sockets python3 holds are kept, each under its connection, as ONE shared object.
    const kept = handed[0]!.owners;
    expect(kept.size).toBe(4);
    expect([...kept.values()][0]).toEqual({ pid: 4242, process: 'python3' });
    expect(new Set(kept.values()).size).toBe(1);
  });

  it('later polls look up nobody for connections that did nothing; a flagged session gets its owner from what was kept, its row not copied', async () => {
    const recorded = recordedMonitor();
    const { ownerCalls, needs, rowCopies, evaluations } = recorded;
    // Half-close 10 s: the three CLOSE_WAIT (python3's) and the FIN_WAIT_2 ends (no owner in this /proc) are flagged from the second poll on.
    const { handed } = await runWatch(recorded, 3, true, { ...defaultPolicy(), warning: { ...defaultPolicy().warning, halfCloseMs: 10_000 } });
    // The first poll asks for all 22; the later ones only for the flagged sessions whose owner was
    // not found (in this host's /proc no process holds the FIN_WAIT_2 ends nor the SYN_SENT, as
    // before this change they are asked again while flagged): nothing opened or changed, and
    // python3's owners were kept.
    const unknownFlagged = evaluations.map((e, i) => e.views.filter((v) => v.flag && !handed[i]!.owners.has(v.connection.key)).map((v) => v.row.state));
    expect(unknownFlagged).toEqual([[], ['FIN_WAIT_2', 'FIN_WAIT_2', 'FIN_WAIT_2'], ['FIN_WAIT_2', 'SYN_SENT', 'FIN_WAIT_2', 'FIN_WAIT_2']]);
    expect(ownerCalls).toEqual([22, 3, 4]);
    expect(needs).toEqual(['none', 'none', 'none']);
    expect(rowCopies).toEqual([0, 0, 0]);
    const flagged = handed[1]!.events.filter((e) => e.type === 'flagged');
    expect(flagged.length).toBeGreaterThanOrEqual(3);
    const closeWaits = flagged.filter((e) => e.type === 'flagged' && e.view?.row.state === 'CLOSE_WAIT');
    expect(closeWaits).toHaveLength(3);
    for (const event of closeWaits) expect(ownerOfEvent(event, handed[1]!.owners)).toEqual({ pid: 4242, process: 'python3' });
    const orphan = flagged.find((e) => e.type === 'flagged' && e.view?.row.state === 'FIN_WAIT_2')!;
    expect(ownerOfEvent(orphan, handed[1]!.owners)).toBeUndefined();
    expect(handed.map((h) => h.owners.size)).toEqual([4, 4, 4]);
  });

  it('an owner a row carried itself (--netns, netstat -o) is kept: the line of its move to a state without owner (LAST_ACK here, TIME_WAIT) still names it', async () => {
    const recorded = recordedMonitor();
    const { platform, monitor, source } = recorded;
    // No /proc lookup finds anything here: the owners come only in the rows, as --netns gives them.
    platform.links.clear();
    // Written for the test from the capture: at 15 s one CLOSE_WAIT has moved on to LAST_ACK.
    const moved = SS_PARK.replace('CLOSE-WAIT 1      0               127.0.0.1:56580', 'LAST-ACK   1      0               127.0.0.1:56580');
    platform.commands = [ssAnswers(SS_PARK), ssAnswers(moved)];
    let polls = 0;
    const carrying: WatchSource = {
      ...source,
      get pendingCaptures() {
        return monitor.pendingCaptures;
      },
      get tracker() {
        return monitor.tracker;
      },
      poll: async () => {
        const outcome = await monitor.poll();
        // The first table's CLOSE_WAIT rows carry their owner; the LAST_ACK row of the second carries none.
        if (polls++ === 0) for (const c of monitor.tracker.connections.values()) if (c.row.state === 'CLOSE_WAIT') Object.assign(c.row, { pid: 4242, process: 'python3' });
        return outcome;
      },
    };
    const { handed } = await runWatch({ source: carrying, platform }, 2);
    const changed = handed[1]!.events.find((e) => e.type === 'state-changed')!;
    expect(changed.type === 'state-changed' && changed.connection.row.pid).toBe(undefined);
    expect(ownerOfEvent(changed, handed[1]!.owners)).toEqual({ pid: 4242, process: 'python3' });
  });

  it('JSON lines (no owners asked): no lookup at all', async () => {
    const recorded = recordedMonitor();
    const { platform, ownerCalls, needs } = recorded;
    await runWatch(recorded, 2, false);
    expect(ownerCalls).toEqual([]);
    expect(needs).toEqual(['none', 'none']);
    expect(platform.listed.filter((p) => p.startsWith('/proc/4242'))).toEqual([]);
  });
});

describe('watch in one pass without a view per connection (issue 15: ~86,000 flagged sessions)', () => {
  /** The park-sockets host's watch through evaluatedEach (one pass) or through evaluate (views), with the views each pass made. */
  async function watched(onePass: boolean, polls: number) {
    const recorded = recordedMonitor();
    const { monitor, needs } = recorded;
    let eachCalls = 0;
    const source: WatchSource = onePass
      ? Object.assign(recorded.source, {
          evaluatedEach: (policy: Parameters<Monitor['evaluatedEach']>[0]) => {
            eachCalls++;
            return monitor.evaluatedEach(policy);
          },
        })
      : recorded.source;
    // Half-close 10 s and idle 20 s (written for the test): the CLOSE_WAIT and FIN_WAIT_2 ends are
    // flagged from the second poll on, the ESTABLISHED (no traffic, 15 s a poll) from the third.
    const policy = { ...defaultPolicy(), warning: { ...defaultPolicy().warning, halfCloseMs: 10_000, idleMs: 20_000 } };
    const run = await runWatch({ source, platform: recorded.platform }, polls, true, policy);
    const lines = run.handed.map((h) => h.events.map((e) => `${formatEventLine(e, ownerOfEvent(e, h.owners))}\n${JSON.stringify(eventToJson(e))}`));
    return { ...run, lines, needs, eachCalls };
  }

  it('prints what the evaluated path prints, line for line and JSON line for JSON line, with the same owners and start line', async () => {
    const viewed = await watched(false, 3);
    const onePass = await watched(true, 3);
    expect(onePass.eachCalls).toBe(3);
    expect(onePass.needs).toEqual([]);
    expect(viewed.needs).toEqual(['none', 'none', 'none']);
    expect(onePass.lines).toEqual(viewed.lines);
    expect(onePass.starts).toEqual(viewed.starts);
    expect(onePass.handed.map((h) => [...h.owners])).toEqual(viewed.handed.map((h) => [...h.owners]));
    // Not a run where nothing happens: sessions flagged at the second and third polls, with their measures in the lines.
    const flaggedLines = onePass.lines.map((poll) => poll.filter((l) => / (WARNING|CRITICAL) /.test(l)).length);
    expect(flaggedLines[0]).toBe(0);
    expect(flaggedLines[1]).toBeGreaterThanOrEqual(4);
    expect(flaggedLines[2]).toBeGreaterThanOrEqual(1);
    expect(onePass.starts[0]).toMatchObject({ connections: 22, flagged: 0 });
  });

  it('a flagged line, with its view, only for a session newly flagged: none for the sessions still flagged as they were', async () => {
    const onePass = await watched(true, 4);
    const flagged = onePass.handed.map((h) => h.events.filter((e) => e.type === 'flagged'));
    const keys = flagged.map((events) => events.map((e) => (e.type === 'flagged' ? e.view!.connection.key : '')));
    // Each flagged event carries its session's view, and no session is flagged (or viewed) twice:
    // at the fourth poll 14 sessions are flagged as they were and only the SYN_RECEIVED newly
    // crossing its threshold gets a line and a view.
    for (const events of flagged) for (const e of events) expect(e.type === 'flagged' && e.view?.flag).toBeTruthy();
    expect(new Set(keys.flat()).size).toBe(keys.flat().length);
    expect(keys.map((k) => k.length)).toEqual([0, 10, 4, 1]);
  });
});

describe("watch's first poll written a slice at a time (issue 15: ~86,000 sessions flagged at once)", () => {
  /**
   * A generated `ss -tanoi -e` table (written for the test, in the park-sockets capture's format):
   * `sessions` ESTABLISHED client ends with no traffic for `idleMs` (tcp_info's last* counters),
   * every third one held by python3 (pid 4242), plus a listener. Rows differ in ports only.
   */
  function generatedHost(sessions: number, idleMs: number): FakePlatform {
    const platform = new FakePlatform();
    platform.files.set('/proc/uptime', '3600.00 7100.00\n');
    const lines = [
      'State      Recv-Q Send-Q      Local Address:Port        Peer Address:Port Process',
      'LISTEN     0      8               127.0.0.1:5432            0.0.0.0:*     ino:9000 sk:1 cgroup:unreachable:1 <->',
      '\t bbr cwnd:10',
    ];
    for (let i = 0; i < sessions; i++) {
      const inode = 10_000 + i;
      lines.push(`ESTAB      0      0               127.0.0.1:${20_000 + i}          127.0.0.1:5432 ino:${inode} sk:${(i + 2).toString(16)} cgroup:unreachable:1 <->`);
      lines.push(`\t ts sack bbr wscale:10,10 rto:204 rtt:0.011/0.005 mss:32768 cwnd:10 segs_in:2 lastsnd:${idleMs} lastrcv:${idleMs} lastack:${idleMs} delivered:1 app_limited`);
      if (i % 3 === 0) platform.links.set(`/proc/4242/fd/${i + 3}`, `socket:[${inode}]`);
    }
    platform.commands = [ssAnswers(`${lines.join('\n')}\n`)];
    platform.files.set('/proc/4242/comm', 'python3\n');
    platform.inOwnNetns(4242);
    return platform;
  }

  /** Two polls of watch on the generated host, one pass (sliced first poll) or through evaluate (views); each handed list with its text and JSON lines. */
  async function watchGenerated(onePass: boolean, sessions: number) {
    const platform = generatedHost(sessions, 90_000);
    const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
    const source = monitorSource(monitor, {
      ...(onePass ? { evaluatedEach: (policy: Parameters<Monitor['evaluatedEach']>[0]) => monitor.evaluatedEach(policy) } : {}),
    });
    const policy = { ...defaultPolicy(), warning: { ...defaultPolicy().warning, idleMs: 60_000 } };
    const run = await runWatch({ source, platform }, 2, true, policy);
    const lines = run.handed.map((h) => h.events.map((e) => `${formatEventLine(e, ownerOfEvent(e, h.owners))}\n${JSON.stringify(eventToJson(e))}`));
    return { ...run, lines };
  }

  it('prints what the evaluated path prints, line for line, though handed over in slices of at most EVENT_SLICE events and more', async () => {
    const sessions = 2 * EVENT_SLICE + 123;
    const viewed = await watchGenerated(false, sessions);
    const sliced = await watchGenerated(true, sessions);
    // The evaluated path hands each poll's events at once; the first poll's (an opened for each
    // connection, then a flagged for each session) come here in several lists, in order.
    expect(viewed.handed.length).toBe(2);
    expect(sliced.handed.length).toBeGreaterThan(3);
    expect(sliced.handed.every((h, i) => h.first === i < sliced.handed.length - 1)).toBe(true);
    expect(sliced.lines.flat()).toEqual(viewed.lines.flat());
    expect(sliced.starts).toEqual(viewed.starts);
    expect(sliced.starts[0]).toMatchObject({ connections: sessions + 1, flagged: sessions });
    // Every session flagged once, with its owner where python3 holds it; the flagged lists in slices.
    const flaggedLines = sliced.lines.flat().filter((l) => l.includes(' WARNING idle: '));
    expect(flaggedLines).toHaveLength(sessions);
    expect(flaggedLines.filter((l) => l.includes(' python3[4242] ')).length).toBe(Math.ceil(sessions / 3));
    const flaggedPerList = sliced.handed.map((h) => h.events.filter((e) => e.type === 'flagged').length);
    expect(Math.max(...flaggedPerList)).toBeLessThanOrEqual(EVENT_SLICE);
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
