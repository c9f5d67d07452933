import { describe, expect, it } from 'vitest';
import type { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/run.js';
import { headerLines, colorPaint, plainPaint } from '../../src/dashboard/render.js';
import { FakePlatform, fakeContext, parkSocketsHost } from '../fake-platform.js';
import { readFixture } from '../fixture.js';
import { fakeTerminal } from '../fake-terminal.js';

// The dashboard says its source's notices (a table or namespace not read, lines skipped, a
// --proc-root that is not one, a fallback) as list, watch and serve do: in a header line while it
// runs, and on stderr once the terminal is back. Counts of a table read in part never read as an
// all-clear.

/** `tcpdwell dashboard ARGS` on a fake 100×30 terminal: quits (q) once `until` is on screen; what it drew, and what it said. */
async function dashboardOn(platform: FakePlatform, args: string[], until: RegExp) {
  const { input, output, plain } = fakeTerminal({ columns: 100, rows: 30 });
  // Real (short) waits between polls: the fake clock's instant sleep would never let the keys in.
  const context = {
    ...fakeContext(platform, { TERM: 'xterm-256color' }),
    sleep: () => new Promise<void>((resolve) => setTimeout(resolve, 10)),
    terminal: { input, output } as unknown as NonNullable<CliContext['terminal']>,
  };
  const run = runCli(['dashboard', ...args, '--interval', '1s'], context, '0.1.0');
  for (let i = 0; i < 150 && !until.test(plain()); i++) await new Promise((r) => setTimeout(r, 20));
  const screen = plain();
  input.write('q');
  const code = await run;
  return { code, screen, err: context.err() };
}

describe('dashboard: source notices', () => {
  it('a --proc-root that is not a procfs mount point: a notice line in the header, and on stderr when it ends', async () => {
    const { code, screen, err } = await dashboardOn(parkSocketsHost(), ['--source', 'ss', '--proc-root', '/proc/4242'], /notice: /);
    expect(code).toBe(0);
    expect(screen).toMatch(/notice: --proc-root \/proc\/4242 is one process's directory, not a procfs mount point/);
    expect(err).toBe(
      "tcpdwell: --proc-root /proc/4242 is one process's directory, not a procfs mount point (for that process's network namespace use --netns 4242): owners are unknown (not looked up; PID/PROCESS shows - for every socket) and kernel settings are not read\n",
    );
  });

  it('a table not read: the counts say NOT ALL READ, never an all-clear; the notice names the table', async () => {
    const platform = new FakePlatform();
    platform.files.set('/proc/uptime', '3600.00 7100.00\n');
    platform.files.set('/proc/net/tcp', readFixture('linux-proc-net-tcp-jc.txt'));
    platform.files.set('/proc/net/tcp6', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    const { code, screen, err } = await dashboardOn(platform, ['--source', 'procfs'], /NOT ALL READ/);
    expect(code).toBe(0);
    // 100 columns: the reason is cut to leave the counts whole (the notice line names the table).
    expect(screen).toMatch(/NOT ALL READ \(the tcp6 table …\): \d+ connections {2}flagged: half-open \d+ {2}half-close \d+ {2}idle \d+ {2}count/);
    expect(screen).toContain('notice: cannot read /proc/net/tcp6: permission denied');
    expect(err).toContain('tcpdwell: cannot read /proc/net/tcp6: permission denied');
  });
});

describe('dashboard header: notices and a table read in part', () => {
  const base = { host: 'h', source: 'procfs', intervalMs: 2000, paused: false, thresholds: { halfOpenMs: 1, halfCloseMs: 1, idleMs: 1, perStateMs: {} }, sort: 'flag' };
  const evaluation = { views: [{}, {}], countFlags: [] } as never;

  it('nothing flagged in a table read in part: red, NOT ALL READ first, never the plain zeros of an all-clear', () => {
    const lines = headerLines({ ...base, evaluation, unread: ['the tcp6 table was not read'] }, 120, colorPaint);
    expect(lines[1]).toMatch(/^\{red-fg\}NOT ALL READ \(the tcp6 table was not read\): 2 connections {2}flagged: half-open 0 /);
    const all = headerLines({ ...base, evaluation }, 120, colorPaint);
    expect(all[1]).toMatch(/^2 connections {2}flagged: half-open 0 /);
  });

  it('one notice: the line says it; several: how many, and the latest; a failed poll goes first, and the header stays 4 lines', () => {
    const one = headerLines({ ...base, evaluation, notices: ['ss (iproute2) is not installed; using /proc/net/tcp instead'] }, 120, plainPaint);
    expect(one[0]!.trimEnd()).toBe('notice: ss (iproute2) is not installed; using /proc/net/tcp instead');
    const three = headerLines({ ...base, evaluation, notices: ['a', 'b', 'c'] }, 120, plainPaint);
    expect(three[0]!.trimEnd()).toBe('3 notices (all on stderr when the dashboard ends), the latest: c');
    const failed = headerLines({ ...base, evaluation, notices: ['a'], failure: 'ss timed out', unread: ['1 network namespace not read'] }, 120, plainPaint);
    expect(failed).toHaveLength(4);
    expect(failed[0]).toMatch(/^POLL FAILED: ss timed out/);
    expect(failed[2]).toMatch(/^NOT ALL READ \(1 network namespace not read\)/);
  });
});
