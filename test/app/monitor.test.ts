import { describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import type { Evaluation } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { connectionToJson } from '../../src/output/json.js';
import { FakePlatform, parkSocketsHost, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

const SS_STUCK = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt'); // -tanoi: no inodes
const PROC_STUCK = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');

function setup() {
  const platform = parkSocketsHost();
  platform.links.set('/proc/1/fd/0', 'pipe:[9]');
  return { platform, monitor: new Monitor(platform, { source: 'ss', procRoot: '/proc' }) };
}

/** Two polls 10 s apart, with half-close flagged after 5 s: the three CLOSE_WAITs of pid 4242 are flagged. */
async function polledTwice() {
  const { platform, monitor } = setup();
  const policy = defaultPolicy();
  policy.warning.halfCloseMs = 5000;
  await monitor.poll();
  platform.nowValue += 10_000;
  await monitor.poll();
  return { platform, monitor, policy };
}
const procScans = (platform: FakePlatform) => platform.listed.filter((path) => path === '/proc').length;

describe('Monitor owner lookup', () => {
  it('scans /proc not at all when no row is flagged or wanted', async () => {
    const { platform, monitor } = setup();
    await monitor.poll();
    await monitor.evaluate(defaultPolicy(), 'flagged');
    expect(procScans(platform)).toBe(0);
  });

  it('scans /proc once per poll for many wanted rows, and not again while the owners are cached', async () => {
    const { platform, monitor } = setup();
    const closeWaits = (e: Evaluation) => e.views.filter((v) => v.row.state === 'CLOSE_WAIT');
    await monitor.poll();
    const first = await monitor.evaluate(defaultPolicy(), { window: closeWaits });
    expect(procScans(platform)).toBe(1);
    expect(first.evaluation.views.filter((v) => v.row.pid === 4242)).toHaveLength(3);
    await monitor.poll();
    await monitor.evaluate(defaultPolicy(), { window: closeWaits });
    expect(procScans(platform)).toBe(1);
    // Per process, its fd directory is read once per scan, whatever the number of rows.
    expect(platform.listed.filter((path) => path === '/proc/4242/fd')).toHaveLength(1);
  });
});

/** ss without inodes (they come from /proc/net/tcp) over the stuck capture; process 77 `leaky` holds the CLOSE_WAIT 127.0.0.1:34928 -> :46103. */
function leakyStuckHost(): FakePlatform {
  const platform = new FakePlatform();
  platform.commands = [ssAnswers(SS_STUCK)];
  const split = PROC_STUCK.indexOf('  sl', PROC_STUCK.indexOf('  sl') + 1);
  platform.files.set('/proc/net/tcp', PROC_STUCK.slice(0, split));
  platform.files.set('/proc/net/tcp6', PROC_STUCK.slice(split));
  platform.links.set('/proc/77/fd/9', 'socket:[233576]');
  platform.files.set('/proc/77/comm', 'leaky\n');
  platform.inOwnNetns(77);
  return platform;
}

describe('Monitor owners where ss printed no inodes', () => {
  it('matches process rules through inodes taken from /proc/net/tcp', async () => {
    const platform = leakyStuckHost();
    const policy = defaultPolicy();
    policy.rules = [{ name: 'leaky-strict', match: { processes: ['leaky'] }, warning: { halfCloseMs: 1 }, critical: {} }];
    const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
    await monitor.poll();
    const { evaluation } = await monitor.evaluate(policy, 'flagged');
    const leaky = evaluation.views.find((v) => v.row.local.port === 34928)!;
    expect(leaky.row).toMatchObject({ inode: 233576, pid: 77, process: 'leaky' });
    expect(leaky.flag).toMatchObject({ kind: 'half-close', rule: 'leaky-strict' });
  });
});

describe('Monitor: a front end says whose owners it needs; views come back complete', () => {
  const owned = (e: Evaluation) => e.views.filter((v) => v.row.pid !== undefined).map((v) => v.row.local.port);

  it("'none' looks nothing up; 'flagged' and a window look up theirs; 'all' every row", async () => {
    const { platform, monitor, policy } = await polledTwice();
    const none = await monitor.evaluate(policy, 'none');
    expect(procScans(platform)).toBe(0);
    expect(owned(none.evaluation)).toEqual([]);
    const flagged = await monitor.evaluate(policy, 'flagged');
    expect(procScans(platform)).toBe(1);
    // The three CLOSE_WAITs are pid 4242's; their FIN_WAIT_2 peers belong to no process in this /proc.
    expect(flagged.evaluation.views.filter((v) => v.flag)).toHaveLength(6);
    expect(flagged.evaluation.views.filter((v) => v.flag && v.row.pid !== undefined).map((v) => [v.row.state, v.row.pid])).toEqual([
      ['CLOSE_WAIT', 4242],
      ['CLOSE_WAIT', 4242],
      ['CLOSE_WAIT', 4242],
    ]);
    // A window picks rows that are not flagged: the listener on 60653 (inode 6739) gets its owner.
    platform.links.set('/proc/4242/fd/6', 'socket:[6739]');
    const listener = (e: Evaluation) => e.views.filter((v) => v.row.local.port === 60653);
    const windowed = await monitor.evaluate(policy, { window: listener });
    expect(owned(windowed.evaluation).sort()).toEqual([...owned(flagged.evaluation), 60653].sort());
    const all = await monitor.evaluate(policy, 'all');
    expect(owned(all.evaluation).sort()).toEqual(owned(windowed.evaluation).sort());
    expect(owned((await monitor.evaluate(policy, 'flagged')).evaluation)).not.toContain(60653);
    // A window without the flagged: the window's rows only, and the flagged rows' views are the evaluation's own.
    const windowOnly = await monitor.evaluate(policy, { window: listener, flagged: false });
    expect(owned(windowOnly.evaluation)).toEqual([60653]);
    expect(windowOnly.evaluation.views.filter((v) => v.flag && v.row === v.connection.row)).toHaveLength(6);
  });

  it('returned views are never changed afterwards, and the tracker keeps its rows as read', async () => {
    const { monitor, policy } = await polledTwice();
    const first = await monitor.evaluate(policy, 'flagged');
    const before = JSON.stringify(first.evaluation.views.map((v) => v.row));
    await monitor.evaluate(policy, 'none');
    await monitor.evaluate(policy, 'all');
    expect(JSON.stringify(first.evaluation.views.map((v) => v.row))).toBe(before);
    expect(first.evaluation.views.filter((v) => v.row.pid === 4242)).toHaveLength(3);
    // Owners live in the views handed out, not in the tracker's rows.
    expect([...monitor.tracker.connections.values()].filter((c) => c.row.pid !== undefined)).toEqual([]);
  });
});

describe("Monitor: ownersInRows, a run's last evaluation (check), writes owners into the rows instead of copies (issue 15)", () => {
  const closeWaits = (e: Evaluation) => e.views.filter((v) => v.row.state === 'CLOSE_WAIT');

  it('gives the views (as JSON) the copying evaluation gives, with no row or view copied', async () => {
    const evaluated = async (ownersInRows: boolean) => {
      const { monitor, policy } = await polledTwice();
      const { evaluation } = await monitor.evaluate(policy, { window: closeWaits }, { ownersInRows });
      return { evaluation, monitor };
    };
    const copied = await evaluated(false);
    const inRows = await evaluated(true);
    expect(inRows.evaluation.views.map(connectionToJson)).toEqual(copied.evaluation.views.map(connectionToJson));
    // The three CLOSE_WAITs of pid 4242 named in both; copies only without ownersInRows.
    expect(inRows.evaluation.views.filter((v) => v.row.pid === 4242)).toHaveLength(3);
    expect(copied.evaluation.views.filter((v) => v.row !== v.connection.row)).toHaveLength(3);
    expect(inRows.evaluation.views.filter((v) => v.row !== v.connection.row)).toEqual([]);
    expect([...inRows.monitor.tracker.connections.values()].filter((c) => c.row.pid === 4242)).toHaveLength(3);
  });

  it('a row without its inode gets a copy with the inode the lookup found: the tracker keeps the row as read', async () => {
    const platform = leakyStuckHost();
    const policy = defaultPolicy();
    policy.warning.halfCloseMs = 1;
    const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
    await monitor.poll();
    // The ss source completes the inodes ss -tanoi does not print from /proc/net/tcp; a row read
    // without one (as a source that cannot complete them gives it) is made here.
    const tracked = [...monitor.tracker.connections.values()].find((c) => c.row.local.port === 34928)!;
    delete tracked.row.inode;
    const { evaluation } = await monitor.evaluate(policy, 'flagged', { ownersInRows: true });
    const leaky = evaluation.views.find((v) => v.row.local.port === 34928)!;
    expect(leaky.row).toMatchObject({ inode: 233576, pid: 77, process: 'leaky' });
    expect(leaky.row).not.toBe(leaky.connection.row);
    expect(leaky.connection.row.inode).toBeUndefined();
    expect(leaky.connection.row.pid).toBeUndefined();
  });
});

describe('Monitor: capabilities come from the source', () => {
  it('conntrack flows have no process: flagged rows cause no /proc scan', async () => {
    const platform = new FakePlatform();
    platform.files.set('/proc/net/nf_conntrack', readFixture('linux-nf-conntrack-park-sockets-kernel6.txt'));
    platform.links.set('/proc/1/fd/0', 'socket:[1]');
    const monitor = new Monitor(platform, { source: 'conntrack', procRoot: '/proc' });
    const policy = defaultPolicy();
    policy.warning.halfOpenMs = 1;
    policy.warning.halfCloseMs = 1;
    await monitor.poll();
    platform.nowValue += 10_000;
    await monitor.poll();
    const { evaluation } = await monitor.evaluate(policy, 'all');
    expect(evaluation.views.some((v) => v.flag)).toBe(true);
    expect(procScans(platform)).toBe(0);
  });

  it('host facts: read from /proc/sys for a Linux source; none for captured files, which were taken elsewhere', async () => {
    const { platform, monitor } = setup();
    platform.files.set('/proc/sys/net/ipv4/ip_local_port_range', '32768\t60999\n');
    platform.files.set('/proc/sys/net/ipv4/tcp_fin_timeout', '60\n');
    await monitor.poll();
    expect(await monitor.hostFacts()).toEqual({ ephemeralPorts: { low: 32768, high: 60999 }, finTimeoutMs: 60_000 });

    const replay = new Monitor(platform, { source: 'auto', procRoot: '/proc', captures: { captures: [], notices: [], skipped: [] } });
    platform.readPaths.length = 0;
    expect(await replay.hostFacts()).toEqual({});
    expect(platform.readPaths).toEqual([]);
  });

  it('each poll reports every source it read, with success and duration: auto falls back from ss to procfs', async () => {
    const platform = new FakePlatform();
    const split = PROC_STUCK.indexOf('  sl', PROC_STUCK.indexOf('  sl') + 1);
    platform.files.set('/proc/net/tcp', PROC_STUCK.slice(0, split));
    platform.files.set('/proc/net/tcp6', PROC_STUCK.slice(split));
    // No command answers: ss is not installed (ENOENT).
    const monitor = new Monitor(platform, { source: 'auto', procRoot: '/proc' });
    const first = await monitor.poll();
    expect(first.ok).toBe(true);
    expect(first.sourceReads).toEqual([
      { source: 'ss', ok: false, durationMs: 0 },
      { source: 'procfs', ok: true, durationMs: 0 },
    ]);
    // auto's choice sticks: later polls read procfs alone.
    platform.files.set('/proc/net/tcp', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    platform.files.set('/proc/net/tcp6', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    const second = await monitor.poll();
    expect(second.ok).toBe(false);
    expect(second.sourceReads).toEqual([{ source: 'procfs', ok: false, durationMs: 0 }]);
  });
});
