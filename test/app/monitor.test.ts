import { describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import type { Evaluation } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { FakePlatform, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const SS_STUCK = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt'); // -tanoi: no inodes
const PROC_STUCK = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');

function setup() {
  const platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  platform.commands = [ssAnswers(SS_PARK)];
  for (const [fd, inode] of [[3, 6731], [4, 6734], [5, 6737]] as const) platform.links.set(`/proc/4242/fd/${fd}`, `socket:[${inode}]`);
  platform.files.set('/proc/4242/comm', 'python3\n');
  platform.links.set('/proc/1/fd/0', 'pipe:[9]');
  return { platform, monitor: new Monitor(platform, { source: 'ss', procRoot: '/proc' }) };
}
const procScans = (platform: FakePlatform) => platform.listed.filter((path) => path === '/proc').length;

describe('Monitor owner lookup', () => {
  it('scans /proc not at all when no row is flagged or wanted', async () => {
    const { platform, monitor } = setup();
    await monitor.poll();
    await monitor.evaluate(defaultPolicy(), () => []);
    expect(procScans(platform)).toBe(0);
  });

  it('scans /proc once per poll for many wanted rows, and not again while the owners are cached', async () => {
    const { platform, monitor } = setup();
    const closeWaits = (e: Evaluation) => e.views.filter((v) => v.row.state === 'CLOSE_WAIT');
    await monitor.poll();
    const first = await monitor.evaluate(defaultPolicy(), closeWaits);
    expect(procScans(platform)).toBe(1);
    expect(first.evaluation.views.filter((v) => v.row.pid === 4242)).toHaveLength(3);
    await monitor.poll();
    await monitor.evaluate(defaultPolicy(), closeWaits);
    expect(procScans(platform)).toBe(1);
    // Per process, its fd directory is read once per scan, whatever the number of rows.
    expect(platform.listed.filter((path) => path === '/proc/4242/fd')).toHaveLength(1);
  });
});

describe('Monitor owners where ss printed no inodes', () => {
  it('matches process rules through inodes taken from /proc/net/tcp', async () => {
    const platform = new FakePlatform();
    platform.commands = [ssAnswers(SS_STUCK)];
    const split = PROC_STUCK.indexOf('  sl', PROC_STUCK.indexOf('  sl') + 1);
    platform.files.set('/proc/net/tcp', PROC_STUCK.slice(0, split));
    platform.files.set('/proc/net/tcp6', PROC_STUCK.slice(split));
    platform.links.set('/proc/77/fd/9', 'socket:[233576]'); // CLOSE_WAIT 127.0.0.1:34928 -> :46103
    platform.files.set('/proc/77/comm', 'leaky\n');
    const policy = defaultPolicy();
    policy.rules = [{ name: 'leaky-strict', match: { processes: ['leaky'] }, warning: { halfCloseMs: 1 }, critical: {} }];
    const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
    await monitor.poll();
    const { evaluation } = await monitor.evaluate(policy, () => []);
    const leaky = evaluation.views.find((v) => v.row.local.port === 34928)!;
    expect(leaky.row).toMatchObject({ inode: 233576, pid: 77, process: 'leaky' });
    expect(leaky.flag).toMatchObject({ kind: 'half-close', rule: 'leaky-strict' });
  });
});
