import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { FakePlatform, fakeContext, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// An idle threshold over a source without activity counters checks nothing: "nothing flagged"
// must say what was not measured (the procfs capture of test/fixtures has 7 ESTABLISHED rows).
const PROC = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');
const split = PROC.indexOf('  sl', PROC.indexOf('  sl') + 1);

async function check(args: string[], procfs: boolean) {
  const platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  if (procfs) {
    platform.files.set('/proc/net/tcp', PROC.slice(0, split));
    platform.files.set('/proc/net/tcp6', PROC.slice(split));
  } else platform.commands = [ssAnswers(readFixture('linux-ss-tanoi-stuck-states-kernel6.txt'))];
  const context = fakeContext(platform);
  const code = await runCli(['check', '--no-state', '--half-open', '1h', '--half-close', '1h', '--idle', '1h', ...args], context, '0.1.0');
  return { code, out: context.out() };
}

describe('check says what it could not measure', () => {
  it('procfs: OK, but the JSON notices and the Nagios long output say idle was not measured', async () => {
    const json = await check(['--source', 'procfs', '--json'], true);
    expect(JSON.parse(json.out)).toMatchObject({ status: 'ok', notices: expect.arrayContaining(['idle not measured for 7 ESTABLISHED connections: source procfs reports no activity counters']) });
    const nagios = await check(['--source', 'procfs', '--format', 'nagios'], true);
    expect(nagios.code).toBe(0);
    expect(nagios.out.split('\n')).toContain('idle not measured for 7 ESTABLISHED connections: source procfs reports no activity counters');
  });

  it('procfs: a critical idle threshold alone is a threshold too, and `--idle off` with no critical one measures nothing to miss', async () => {
    // The same procfs capture, with the warning level switched off (written for this test).
    const run = async (args: string[]) => {
      const platform = new FakePlatform();
      platform.files.set('/proc/uptime', '3600.00 7100.00\n');
      platform.files.set('/proc/net/tcp', PROC.slice(0, split));
      platform.files.set('/proc/net/tcp6', PROC.slice(split));
      const context = fakeContext(platform);
      await runCli(['check', '--no-state', '--source', 'procfs', '--json', '--idle', 'off', ...args], context, '0.1.0');
      return JSON.parse(context.out()).notices as string[];
    };
    expect(await run(['--critical-idle', '2h'])).toContain('idle not measured for 7 ESTABLISHED connections: source procfs reports no activity counters');
    expect((await run([])).some((n) => n.startsWith('idle not measured'))).toBe(false);
  });

  it('ss measures idle: no such notice', async () => {
    const json = await check(['--source', 'ss', '--json'], false);
    expect(JSON.parse(json.out).notices.some((n: string) => n.startsWith('idle not measured'))).toBe(false);
  });
});
