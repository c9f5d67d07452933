import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parkSocketsHost, runOn, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// Break-it pass: three SO_REUSEPORT listeners on 0.0.0.0:7100 (one of process 5000, listed first,
// two of python3 4242) are one tracked row; count rules counted that row once, under the first
// listener's owner: per process and per port both said OK (count_listen-per-port=1;2;;0).

const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-reuseport-counts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const listener = (inode: number, cookie: string) => `LISTEN     0      0                 0.0.0.0:7100             0.0.0.0:*     ino:${inode} sk:${cookie} cgroup:unreachable:1 <->\n\t bbr cwnd:10\n`;

function reuseportHost() {
  const host = parkSocketsHost();
  const ss = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
  const header = ss.indexOf('\n', ss.indexOf('State')) + 1;
  host.commands = [ssAnswers(ss.slice(0, header) + listener(9001, 'a1') + listener(9002, 'a2') + listener(9003, 'a3') + ss.slice(header))];
  host.links.set('/proc/5000/fd/3', 'socket:[9001]');
  host.files.set('/proc/5000/comm', 'other\n');
  host.links.set('/proc/4242/fd/7', 'socket:[9002]');
  host.links.set('/proc/4242/fd/8', 'socket:[9003]');
  host.inOwnNetns(5000);
  return host;
}

const check = (counts: string) => {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `counts:\n${counts}`);
  return runOn(reuseportHost(), ['check', '--no-state', '--config', file, '--half-open', '1h', '--half-close', '1h', '--idle', 'off', '--format', 'nagios']);
};

describe('count rules over an SO_REUSEPORT group count each listener, under its own owner', () => {
  it('per local port: 3 listeners on 7100, over 2: WARNING', async () => {
    const result = await check('  - { name: listen-per-port, state: LISTEN, per: local-port, warning: 2, match: { local-port: 7100 } }\n');
    expect(result.out).toMatch(/^TCPDWELL WARNING/);
    expect(result.out).toContain('count_listen-per-port=3;2;;0');
    expect(result.code).toBe(1);
  });

  it("per process: python3[4242] holds the group's 2nd and 3rd listeners (2, over 1), though another process holds the row's", async () => {
    const result = await check('  - { name: listen-per-proc, state: LISTEN, per: process, warning: 1, match: { local-port: 7100 } }\n');
    expect(result.out).toMatch(/^TCPDWELL WARNING/);
    expect(result.out).toContain('python3[4242]');
    expect(result.out).not.toContain('other[5000]');
    expect(result.out).toContain('count_listen-per-proc=2;1;;0');
    expect(result.code).toBe(1);
  });
});
