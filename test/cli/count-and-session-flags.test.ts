import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import { loadPolicy } from '../../src/cli/load-policy.js';
import { emptyDwellHistograms } from '../../src/core/dwell-histogram.js';
import { formatMetrics, type ExporterSnapshot } from '../../src/output/prometheus.js';
import { parkSocketsHost, runOn, ssAnswers, type FakePlatform } from '../fake-platform.js';
import { countBy, readFixture, ssWithoutSocket } from '../fixture.js';

// A count rule beside session flags, whole commands through the fake platform: the sessions
// scripts/park-sockets.py parks (a real capture; python3, pid 4242, holds the three CLOSE_WAIT).
// The rule: more than 1 CLOSE_WAIT per process is a warning, more than 2 critical, so python3's
// three are a critical group. Session 8's break-it pass found the group hid each CLOSE_WAIT's own
// half-close flag (no half-close line, no RESOLVED, `measuredSeconds: null`), and a group falling
// from critical to warning said nothing.

const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const THRESHOLDS = ['--half-close', '3s', '--half-open', '1h', '--idle', '1h'];
/** The CLOSE_WAIT on 127.0.0.1:35170 closes (inode 6731: python3's fd 3 goes with it). */
const CLOSED_35170 = ssWithoutSocket(SS_PARK, '127.0.0.1:35170');

let dir: string;
let config: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tcpdwell-flags-'));
  config = join(dir, 'tcpdwell.yml');
  await writeFile(config, 'counts:\n  - name: leak\n    state: CLOSE_WAIT\n    per: process\n    warning: 1\n    critical: 2\n');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function host(answers: string[]): FakePlatform {
  const platform = parkSocketsHost();
  platform.commands = answers.map((text) => ssAnswers(text));
  return platform;
}

const CLOSE_WAIT_LINES = [
  /^WARNING half-close: CLOSE_WAIT 127\.0\.0\.1:35170 -> 127\.0\.0\.1:47537 python3\[4242\] half-close timer \d+s > 3s \(rule default, dwell kernel\)/m,
  /^WARNING half-close: CLOSE_WAIT 127\.0\.0\.1:56580 -> 127\.0\.0\.1:45219 python3\[4242\] half-close timer \d+s > 3s /m,
  /^WARNING half-close: CLOSE_WAIT \[::1\]:43852 -> \[::1\]:37369 python3\[4242\] half-close timer \d+s > 3s /m,
];

describe('a count rule never hides a session flag', () => {
  it('check text and Nagios: each CLOSE_WAIT past --half-close has its own line, beside the group line', async () => {
    const text = await runOn(host([SS_PARK]), ['check', '--no-state', '--all', '--config', config, ...THRESHOLDS]);
    expect(text.code).toBe(2);
    for (const line of CLOSE_WAIT_LINES) expect(text.out).toMatch(line);
    expect(text.out).toMatch(/^CRITICAL count: 3 CLOSE_WAIT for process python3\[4242\] > 2 \(rule leak\)$/m);
    expect(text.out).toMatch(/^tcpdwell CRITICAL - 6 half-close, 1 count of 22 connections \(source ss\)$/m);

    const nagios = await runOn(host([SS_PARK]), ['check', '--no-state', '--format', 'nagios', '--config', config, ...THRESHOLDS]);
    expect(nagios.out).toMatch(/^TCPDWELL CRITICAL - 6 half-close, 1 count of 22 connections \| half_open=0;;; half_close=6;;; idle=0;;; count=1;;; /);
    for (const line of CLOSE_WAIT_LINES) expect(nagios.out).toMatch(line);
  });

  it('check --json: flag keeps the half-close flag with its measure, countFlag (added) names the group', async () => {
    const { out } = await runOn(host([SS_PARK]), ['check', '--no-state', '--json', '--config', config, ...THRESHOLDS]);
    const report = JSON.parse(out) as { flagged: { state: string; flag: { kind: string; measuredSeconds: number | null }; countFlag: unknown }[] };
    const closeWaits = report.flagged.filter((f) => f.state === 'CLOSE_WAIT');
    expect(closeWaits).toHaveLength(3);
    for (const f of closeWaits) {
      expect(f.flag).toMatchObject({ kind: 'half-close', severity: 'warning', thresholdSeconds: 3, rule: 'default' });
      expect(f.flag.measuredSeconds).toBeGreaterThan(3);
      expect(f.countFlag).toEqual({ kind: 'count', severity: 'critical', rule: 'leak', group: 'python3[4242]', count: 3, thresholdCount: 2 });
    }
    // Not in a group: countFlag null.
    expect(report.flagged.filter((f) => f.state === 'FIN_WAIT_2').map((f) => f.countFlag)).toEqual([null, null, null]);
  });

  it('check with history: a member that closes is RESOLVED as half-close, and the group falling to warning is told', async () => {
    const platform = host([SS_PARK]);
    const run = (extra: string[] = []) => runOn(platform, ['check', '--state-file', join(dir, 'state.json'), '--config', config, ...THRESHOLDS, ...extra], { HOME: dir });
    const first = await run();
    expect(first.out).toMatch(CLOSE_WAIT_LINES[0]!);
    platform.commands = [ssAnswers(CLOSED_35170)];
    platform.links.delete('/proc/4242/fd/3');
    platform.nowValue += 2000;
    // Missing from this run's reading: a flagged session missing makes check read again at once (a
    // live dump is not atomic, issue 15); the second reading confirms the close, so it is RESOLVED
    // in this run. Its owner is gone with its fd: python3's group is 2 now, down from critical.
    const second = await run();
    const lines = second.out.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^RESOLVED half-close: CLOSE_WAIT 127\.0\.0\.1:35170 -> 127\.0\.0\.1:47537 \(stuck \d+s when last seen, flagged by one run only\)$/));
    expect(lines).toContain('WARNING count: 2 CLOSE_WAIT for process python3[4242] > 1 (rule leak) [down from critical]');
    expect(second.code).toBe(1);
    platform.nowValue += 2000;
    // Still a warning: nothing more to say of the group, nor of the closed session.
    const third = await run();
    expect(third.out.split('\n').filter((l) => /^(WARNING|CRITICAL|RESOLVED) /.test(l))).toEqual([]);
    expect(third.code).toBe(1);
  });

  it('watch: the half-close lines, and when a member closes its resolved line and the group going down from critical', async () => {
    const platform = host([SS_PARK, SS_PARK, CLOSED_35170]);
    const { out } = await runOn(platform, ['watch', '--iterations', '4', '--interval', '2s', '--config', config, ...THRESHOLDS]);
    const lines = out.trimEnd().split('\n');
    expect(lines).toContainEqual(
      expect.stringMatching(/^2026-11-21T05:30:00\.000Z WARNING half-close: CLOSE_WAIT 127\.0\.0\.1:35170 -> 127\.0\.0\.1:47537 python3\[4242\] half-close timer \d+s > 3s /),
    );
    expect(lines).toContain('2026-11-21T05:30:00.000Z CRITICAL count: 3 CLOSE_WAIT for process python3[4242] > 2 (rule leak)');
    expect(lines).toContainEqual(expect.stringMatching(/^2026-11-21T05:30:06\.000Z resolved half-close: CLOSE_WAIT 127\.0\.0\.1:35170 -> 127\.0\.0\.1:47537 stuck /));
    expect(lines).toContain('2026-11-21T05:30:06.000Z WARNING count (down from critical): 2 CLOSE_WAIT for process python3[4242] > 1 (rule leak)');

    const events = await runOn(host([SS_PARK, SS_PARK, CLOSED_35170]), ['watch', '--events', '--iterations', '4', '--interval', '2s', '--config', config, ...THRESHOLDS]);
    const json = events.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.filter((e) => e.event === 'flagged' && e.kind === 'half-close' && String(e.subject).startsWith('CLOSE_WAIT'))).toHaveLength(3);
    expect(json.filter((e) => e.event === 'flagged' && e.kind === 'count')).toEqual([
      expect.objectContaining({ severity: 'critical', escalated: false, measured: 3, threshold: 2 }),
      {
        event: 'flagged',
        at: '2026-11-21T05:30:06.000Z',
        kind: 'count',
        severity: 'warning',
        subject: '2 CLOSE_WAIT for process python3[4242]',
        key: 'count leak python3[4242]',
        escalated: false,
        measured: 2,
        threshold: 1,
        rule: 'leak',
        deescalated: true,
      },
    ]);
  });

  it("Prometheus: tcpdwell_flagged counts the members' half-close flags, and the group once", async () => {
    const platform = host([SS_PARK]);
    const policy = await loadPolicy({ configPath: config, warning: { halfCloseMs: 3000, halfOpenMs: 3_600_000, idleMs: 3_600_000 }, critical: {} } as Parameters<typeof loadPolicy>[0]);
    const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
    try {
      const outcome = await monitor.poll();
      const snapshot: ExporterSnapshot = {
        listenerPorts: [],
        histograms: emptyDwellHistograms(),
        polls: { ok: 1, failed: 0 },
        lastPollOk: true,
        lastPollSeconds: 0.1,
        lastPollTimestampSeconds: outcome.takenAtMs / 1000,
        source: outcome.source,
      };
      snapshot.evaluation = (await monitor.evaluate(policy, 'none', { ranked: false })).evaluation;
      const metrics = formatMetrics(snapshot);
      expect(metrics).toContain('tcpdwell_flagged{kind="half_close",severity="warning"} 6\n');
      expect(metrics).toContain('tcpdwell_flagged{kind="count",severity="critical"} 1\n');
    } finally {
      monitor.close();
    }
  });

  it('severity changes both ways are told at once, for session flags and count groups alike (check with history)', async () => {
    const platform = host([SS_PARK]);
    const run = (extra: string[]) => runOn(platform, ['check', '--state-file', join(dir, 'state.json'), ...THRESHOLDS, ...extra], { HOME: dir });
    const session = /^(WARNING|CRITICAL) half-close: CLOSE_WAIT 127\.0\.0\.1:35170 .*$/m;
    // A session: critical above 4 s (it is at 5 s), then the critical level taken away, then back.
    expect((await run(['--critical-half-close', '4s'])).out).toMatch(/^CRITICAL half-close: CLOSE_WAIT 127\.0\.0\.1:35170 /m);
    platform.nowValue += 1000;
    const fell = await run([]);
    expect(fell.out.match(session)?.[0]).toMatch(/^WARNING half-close: .* \[down from critical\]$/);
    platform.nowValue += 1000;
    expect((await run(['--critical-half-close', '4s'])).out.match(session)?.[0]).toMatch(/^CRITICAL half-close: /);
    // A count group: a warning (3 > 1), then critical above 2, then the critical level taken away.
    const counts = async (critical: number) => {
      await writeFile(config, `counts:\n  - name: leak\n    state: CLOSE_WAIT\n    per: process\n    warning: 1\n    critical: ${critical}\n`);
      platform.nowValue += 1000;
      return (await run(['--config', config, '--critical-half-close', '4s'])).out.split('\n').filter((l) => l.includes(' count: '));
    };
    expect(await counts(10)).toEqual(['WARNING count: 3 CLOSE_WAIT for process python3[4242] > 1 (rule leak)']);
    expect(await counts(2)).toEqual(['CRITICAL count: 3 CLOSE_WAIT for process python3[4242] > 2 (rule leak)']);
    expect(await counts(10)).toEqual(['WARNING count: 3 CLOSE_WAIT for process python3[4242] > 1 (rule leak) [down from critical]']);
  });
});

describe('check --window: the count and the rows listed agree, or the report says why', () => {
  // No session flag of their own here (half-close 1h): a flagged session missing from the last
  // reading is read again at once (check-run), and only then is one kept as last read.
  const UNFLAGGED = ['--half-close', '1h', '--half-open', '1h', '--idle', '1h'];

  it('a CLOSE_WAIT the last poll missed is kept as last read (listed, counted per state) but its owner is gone: the group counts 2 of 3, and a note says why', async () => {
    // The window's second poll misses 35170 (its fd gone with it): kept until a second reading confirms the close.
    const closing = () => {
      const platform = host([SS_PARK, CLOSED_35170]);
      platform.links.delete('/proc/4242/fd/3');
      return platform;
    };
    const args = ['check', '--no-state', '--window', '2s', '--interval', '2s', '--config', config, ...UNFLAGGED];
    const { out } = await runOn(closing(), [...args, '--json']);
    const report = JSON.parse(out) as { counts: Record<string, number>; countFlags: { count: number }[]; notices: string[]; flagged: { state: string; process: string | null }[] };
    expect(report.counts.CLOSE_WAIT).toBe(3);
    expect(
      countBy(
        report.flagged.filter((f) => f.state === 'CLOSE_WAIT'),
        (f) => String(f.process),
      ),
    ).toEqual({ python3: 2 });
    expect(report.countFlags.map((f) => f.count)).toEqual([2]);
    expect(report.notices).toContain(
      'count rule leak does not count 1 CLOSE_WAIT kept as last read: the last reading missed it (closed, or skipped by a dump, which is not atomic: the next reading tells) and no owner is found for it now',
    );

    const text = await runOn(closing(), [...args, '--all']);
    expect(text.out).toMatch(/^WARNING count: 2 CLOSE_WAIT for process python3\[4242\] > 1 \(rule leak\)$/m);
    expect(text.out).toMatch(/^note: count rule leak does not count 1 CLOSE_WAIT kept as last read: /m);
  });

  it('no note when every kept row is counted (its owner still found) or nothing was missed', async () => {
    const kept = await runOn(host([SS_PARK, CLOSED_35170]), ['check', '--no-state', '--window', '2s', '--interval', '2s', '--json', '--config', config, ...UNFLAGGED]);
    const report = JSON.parse(kept.out) as { countFlags: { count: number }[]; notices: string[] };
    expect(report.countFlags.map((f) => f.count)).toEqual([3]);
    expect(report.notices.filter((n) => n.startsWith('count rule'))).toEqual([]);
  });
});
