import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import type { CommandResult } from '../../src/platform/platform.js';
import { FakePlatform, fakeContext } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// Every long-running mode polls through the one loop in app/: Ctrl-C during a poll is a clean end,
// and each mode keeps its own rule for failed polls. On the fake platform and clock: no real waits.

const SS_STUCK = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
// ss -tanoi prints no inodes: the same host's procfs tables give them (without, owners are unknown, and that is said).
const PROC_STUCK = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');
const SECOND_HEADER = PROC_STUCK.indexOf('  sl', PROC_STUCK.indexOf('  sl') + 1);
const ssOk = (): CommandResult => ({ stdout: SS_STUCK, stderr: '', exitCode: 0 });
const ssDenied = (): CommandResult => ({ stdout: '', stderr: 'ss: netlink: Permission denied\n', exitCode: 1 });

/** Polls answer in turn from `plan`; 'interrupt' is Ctrl-C arriving while `ss` runs (the platform kills it and the read rejects). */
function setUp(plan: ('ok' | 'denied' | 'interrupt')[]) {
  const platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  platform.files.set('/proc/net/tcp', PROC_STUCK.slice(0, SECOND_HEADER));
  platform.files.set('/proc/net/tcp6', PROC_STUCK.slice(SECOND_HEADER));
  const interrupt = new AbortController();
  let polls = 0;
  platform.commands = [
    () => {
      const step = plan[Math.min(polls++, plan.length - 1)];
      if (step === 'interrupt') {
        interrupt.abort();
        return Object.assign(new Error('interrupted'), { code: 'EINTERRUPTED' });
      }
      return step === 'ok' ? ssOk() : ssDenied();
    },
  ];
  const context = fakeContext(platform, {}, interrupt.signal);
  return {
    platform,
    context,
    polls: () => polls,
    run: async (argv: string[]) => ({ code: await runCli(argv, context, '0.1.0'), out: context.out(), err: context.err() }),
  };
}

describe('Ctrl-C during a poll ends cleanly', () => {
  it('list --watch: exit of the last completed poll (0), no "cannot read" line for the cut-short poll', async () => {
    const t = setUp(['ok', 'ok', 'interrupt']);
    const { code, out, err } = await t.run(['list', '--watch', '2s']);
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out.match(/^--- /gm)).toHaveLength(2);
    expect(t.polls()).toBe(3);
  });

  it('watch: exit 0 and nothing on stderr', async () => {
    const t = setUp(['ok', 'interrupt']);
    const { code, err } = await t.run(['watch', '--interval', '1s']);
    expect(code).toBe(0);
    expect(err).toBe('');
  });

  it('check --window: the last completed poll decides (WARNING, not UNKNOWN) and a note says the window was cut short', async () => {
    const t = setUp(['ok', 'ok', 'interrupt']);
    const { code, out } = await t.run(['check', '--no-state', '--json', '--window', '30s', '--interval', '5s', '--half-open', '10s']);
    const report = JSON.parse(out) as { status: string; notices: string[] };
    expect(report.status).toBe('warning');
    expect(code).toBe(1);
    expect(report.notices).toContain('--window cut short by an interrupt after 2 polls: the last completed poll decides');
  });

  it('check --window interrupted before any poll completed: UNKNOWN, never OK', async () => {
    const t = setUp(['interrupt']);
    const { code, out } = await t.run(['check', '--no-state', '--window', '30s']);
    expect(code).toBe(3);
    expect(out).toMatch(/^tcpdwell UNKNOWN - .*interrupted/m);
  });

  // Behaviour changed (breaker 5): this ended 0; nothing was read, so it is UNKNOWN now.
  it('watch interrupted in its first poll: the failure is said (nothing was read), and the exit is UNKNOWN (3)', async () => {
    const t = setUp(['interrupt']);
    const { code, out, err } = await t.run(['watch', '--interval', '1s']);
    expect(err).toBe('tcpdwell: cannot read the socket table (source auto): ss failed: interrupted\n');
    expect(out).toBe('');
    expect(code).toBe(3);
  });

  it('check --window interrupted in its first poll: the note says nothing was read, not that a completed poll decides', async () => {
    const t = setUp(['interrupt']);
    const { code, out } = await t.run(['check', '--no-state', '--json', '--window', '30s', '--interval', '5s']);
    const report = JSON.parse(out) as { status: string; notices: string[] };
    expect(code).toBe(3);
    expect(report.status).toBe('unknown');
    expect(report.notices).toContain('--window cut short by an interrupt during the first poll: nothing was read');
    expect(report.notices.join('\n')).not.toMatch(/last completed poll decides/);
  });

  it('check --window interrupted after one failed poll completed: that poll decides (UNKNOWN), and the note says so', async () => {
    const t = setUp(['denied', 'interrupt']);
    const { code, out } = await t.run(['check', '--no-state', '--json', '--window', '30s', '--interval', '5s']);
    const report = JSON.parse(out) as { status: string; notices: string[] };
    expect(code).toBe(3);
    expect(report.notices).toContain('--window cut short by an interrupt after 1 poll: the last completed poll decides');
    expect(report.notices.join('\n')).not.toMatch(/nothing was read/);
  });
});

describe('interrupted before any poll succeeded: UNKNOWN (3), never OK', () => {
  it('watch (text and --events) whose every poll failed exits 3; one poll that succeeded makes a clean end (0) even after an outage', async () => {
    for (const argv of [
      ['watch', '--interval', '1s'],
      ['watch', '--events', '--interval', '1s'],
    ]) {
      const t = setUp(['denied', 'denied', 'interrupt']);
      const { code, err } = await t.run(argv);
      expect(code).toBe(3);
      expect(err.match(/cannot read the socket table/g)).toHaveLength(1);
      expect(t.polls()).toBe(3);
    }
    const u = setUp(['ok', 'denied', 'interrupt']);
    expect((await u.run(['watch', '--interval', '1s'])).code).toBe(0);
    const v = setUp(['denied', 'ok', 'interrupt']);
    expect((await v.run(['watch', '--interval', '1s'])).code).toBe(0);
  });

  it('serve stopped during its first poll never announces an endpoint and exits 3', async () => {
    const t = setUp(['interrupt']);
    const { code, err } = await t.run(['serve', '--listen', '127.0.0.1:0']);
    expect(err).toBe('tcpdwell: cannot read the socket table (source auto): ss failed: interrupted\n');
    expect(err).not.toMatch(/serving/);
    expect(code).toBe(3);
  });

  it('serve whose polls all failed exits 3 when stopped; one poll that succeeded makes it 0', async () => {
    const t = setUp(['denied', 'interrupt']);
    const failed = await t.run(['serve', '--listen', '127.0.0.1:0', '--interval', '1s']);
    expect(failed.err).toMatch(/^tcpdwell: cannot read the socket table .*Permission denied\ntcpdwell: serving http:\/\/127\.0\.0\.1:\d+\/metrics /);
    expect(failed.code).toBe(3);
    const u = setUp(['ok', 'denied', 'interrupt']);
    const served = await u.run(['serve', '--listen', '127.0.0.1:0', '--interval', '1s']);
    expect(served.err).toMatch(/serving http:/);
    expect(served.code).toBe(0);
  });
});

describe('event-log lines lost and not recovered before exit: exit 74, never OK', () => {
  const full = existsSync('/dev/full') ? undefined : 'needs /dev/full';
  it.skipIf(full !== undefined)('watch --log /dev/full and list --watch --log /dev/full exit 74 and say how many lines were lost', async () => {
    const t = setUp(['ok', 'interrupt']);
    const watch = await t.run(['watch', '--log', '/dev/full', '--interval', '1s']);
    expect(watch.err).toMatch(/cannot write log file \/dev\/full: /);
    expect(watch.err).toMatch(/log file \/dev\/full: \d+ lines were lost and not recovered before exit\n$/);
    expect(watch.code).toBe(74);
    const u = setUp(['ok']);
    const list = await u.run(['list', '--watch', '1s', '--iterations', '1', '--log', '/dev/full']);
    expect(list.err).toMatch(/lines were lost and not recovered before exit\n$/);
    expect(list.code).toBe(74);
  });

  it.skipIf(full !== undefined)('a failure the exit already says stands (3: nothing read), with the lost lines still said', async () => {
    const t = setUp(['denied']);
    const { code, err } = await t.run(['watch', '--events', '--log', '/dev/full', '--iterations', '1']);
    expect(err).toMatch(/1 line was lost and not recovered before exit\n$/);
    expect(code).toBe(3);
  });

  it('a log written in full keeps the exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-x4-log-'));
    try {
      const t = setUp(['ok', 'interrupt']);
      const { code, err } = await t.run(['watch', '--log', join(dir, 'events.jsonl'), '--interval', '1s']);
      expect(err).toBe('');
      expect(readFileSync(join(dir, 'events.jsonl'), 'utf8')).toMatch(/"event":"opened"/);
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('failed polls: each mode keeps its rule', () => {
  it('watch says an outage once until a poll succeeds again; --events gets one poll-failed line per outage', async () => {
    const t = setUp(['ok', 'denied', 'denied', 'ok', 'denied', 'ok']);
    const { code, out, err } = await t.run(['watch', '--events', '--iterations', '6', '--interval', '1s']);
    expect(code).toBe(0);
    expect(err.match(/cannot read the socket table/g)).toHaveLength(2);
    const failed = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string })
      .filter((e) => e.event === 'poll-failed');
    expect(failed).toEqual([
      { event: 'poll-failed', at: '2026-11-21T05:30:01.000Z', source: 'ss', error: expect.stringContaining('Permission denied') },
      { event: 'poll-failed', at: '2026-11-21T05:30:04.000Z', source: 'ss', error: expect.stringContaining('Permission denied') },
    ]);
  });

  it('watch ending on a failed poll (--iterations) exits 3', async () => {
    const t = setUp(['ok', 'denied']);
    expect((await t.run(['watch', '--iterations', '2', '--interval', '1s'])).code).toBe(3);
  });

  it('list --watch says every failed poll (each redraw), and exits by the last one', async () => {
    const t = setUp(['ok', 'denied', 'denied', 'ok']);
    const recovered = await t.run(['list', '--watch', '1s', '--iterations', '4']);
    expect(recovered.err.match(/cannot read the socket table/g)).toHaveLength(2);
    expect(recovered.code).toBe(0);
    const u = setUp(['ok', 'denied']);
    expect((await u.run(['list', '--watch', '1s', '--iterations', '2'])).code).toBe(3);
  });

  it('check --window: a failed poll inside the window is not said; the last poll decides', async () => {
    const t = setUp(['ok', 'denied', 'ok']);
    const { code, err } = await t.run(['check', '--no-state', '--window', '2s', '--interval', '1s', '--half-open', '10s']);
    expect(code).toBe(1);
    expect(err).toBe('');
  });
});
