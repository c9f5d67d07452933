import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import type { CommandResult } from '../../src/platform/platform.js';
import { FakePlatform, fakeContext } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// Every long-running mode polls through the one loop in app/: Ctrl-C during a poll is a clean end,
// and each mode keeps its own rule for failed polls. On the fake platform and clock: no real waits.

const SS_STUCK = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
const ssOk = (): CommandResult => ({ stdout: SS_STUCK, stderr: '', exitCode: 0 });
const ssDenied = (): CommandResult => ({ stdout: '', stderr: 'ss: netlink: Permission denied\n', exitCode: 1 });

/** Polls answer in turn from `plan`; 'interrupt' is Ctrl-C arriving while `ss` runs (the platform kills it and the read rejects). */
function setUp(plan: ('ok' | 'denied' | 'interrupt')[]) {
  const platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
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

  it('watch interrupted in its first poll: the failure is said (nothing was read), and the end is still clean (0)', async () => {
    const t = setUp(['interrupt']);
    const { code, out, err } = await t.run(['watch', '--interval', '1s']);
    expect(err).toBe('tcpdwell: cannot read the socket table (source auto): ss failed: interrupted\n');
    expect(out).toBe('');
    expect(code).toBe(0);
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
