import { describe, expect, it } from 'vitest';
import { kernelStateAgeMs } from '../../../src/core/kernel-dwell.js';
import { ssSource } from '../../../src/sources/linux/ss.js';
import { FakePlatform, runOn, ssAnswers } from '../../fake-platform.js';
import { readFixture } from '../../fixture.js';

// The two captures of test/fixtures were taken one after the other from the same namespace: the
// request socket 127.0.0.1:43211 <- 127.0.0.1:35576 (TCP_DEFER_ACCEPT) is in both, ss printing its
// SYN/ACK retransmissions (0) and procfs its timer's expiries (3).
const SS = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
const PROC = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');

function platformWith(procfs: boolean): FakePlatform {
  const platform = new FakePlatform();
  platform.commands = [ssAnswers(SS)];
  // Without procfs: no /proc/net/tcp* at all (ENOENT).
  platform.requestTablesEmpty = false;
  if (procfs) {
    const split = PROC.indexOf('  sl', PROC.indexOf('  sl') + 1);
    platform.files.set('/proc/net/tcp', PROC.slice(0, split));
    platform.files.set('/proc/net/tcp6', PROC.slice(split));
  }
  return platform;
}

describe('the ss source completes request sockets from procfs', () => {
  it('takes the timeout count and timer of SYN_RECEIVED rows from /proc/net/tcp, so their age is proven at first sight', async () => {
    const reading = await ssSource.read(platformWith(true), { procRoot: '/proc' });
    const request = reading.rows.find((r) => r.state === 'SYN_RECEIVED')!;
    expect(request).toMatchObject({ local: { port: 43211 }, remote: { port: 35576 }, retransmits: 3, timer: { name: 'on', remainingMs: 3510 } });
    // 1 + 2 + 4 s of expired timeouts, and 4.49 s of the current 8 s one.
    expect(kernelStateAgeMs(request)).toBe(11_490);
    // ss ran without -e (no inodes): the same procfs read gives every row its inode, for owners.
    expect(reading.rows.find((r) => r.local.port === 34928)).toMatchObject({ state: 'CLOSE_WAIT', inode: 233576 });
    expect(reading.rows.every((r) => r.inode !== undefined)).toBe(true);
    // Only request sockets are touched: the SYN_SENT keeps ss's own figures.
    expect(reading.rows.find((r) => r.state === 'SYN_SENT')).toMatchObject({ retransmits: 7, timer: { remainingMs: 7644 } });
  });

  it('procfs cannot be read: ss figures stay (they prove nothing here), and the age is said not read, naming the file (was silent)', async () => {
    const reading = await ssSource.read(platformWith(false), { procRoot: '/proc' });
    const request = reading.rows.find((r) => r.state === 'SYN_RECEIVED')!;
    expect(request).toMatchObject({ retransmits: 0, timer: { remainingMs: 3548 }, ageUnknown: true });
    expect(kernelStateAgeMs(request)).toBeUndefined();
    expect(reading.notices).toEqual([
      expect.stringMatching(/^the timeout count of 1 SYN_RECEIVED socket \(its age in SYN_RECEIVED\) could not be read \(cannot read \/proc\/net\/tcp: .*\): dwell not known/),
    ]);
    expect(reading.dwellUnknown).toEqual([expect.stringMatching(/^the age of 1 SYN_RECEIVED socket not read \(cannot read \/proc\/net\/tcp: /)]);
  });

  it('one table read, the other not: only the request sockets of the unread one are unknown, named by its file', async () => {
    const platform = platformWith(true);
    // /proc/net/tcp (where the capture's request socket is) refused; tcp6 read.
    platform.files.set('/proc/net/tcp', Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
    const reading = await ssSource.read(platform, { procRoot: '/proc' });
    expect(reading.rows.find((r) => r.state === 'SYN_RECEIVED')).toMatchObject({ ageUnknown: true });
    expect(reading.dwellUnknown).toEqual([expect.stringMatching(/^the age of 1 SYN_RECEIVED socket not read \(cannot read \/proc\/net\/tcp: /)]);
    // The tcp6 table was read, and nothing in it is said unread.
    expect(reading.dwellUnknown!.join()).not.toContain('tcp6');
  });

  it("a table that is not the kernel's (a --proc-root or /proc that is no procfs): not read, said so", async () => {
    const platform = platformWith(false);
    platform.files.set('/proc/net/tcp', 'hello\n');
    platform.files.set('/proc/net/tcp6', 'hello\n');
    const reading = await ssSource.read(platform, { procRoot: '/proc' });
    expect(reading.rows.find((r) => r.state === 'SYN_RECEIVED')).toMatchObject({ ageUnknown: true });
    expect(reading.dwellUnknown).toEqual([expect.stringMatching(/^the age of 1 SYN_RECEIVED socket not read \(\/proc\/net\/tcp: /)]);
  });

  it('check: a SYN_RECEIVED whose age cannot be read, nothing else flagged: UNKNOWN (exit 3) naming the file (was OK, exit 0)', async () => {
    const platform = platformWith(false);
    platform.commands = [
      ssAnswers(
        SS.split('\n')
          .filter((l, i, all) => !l.startsWith('SYN-SENT') && !all[i - 1]?.startsWith('SYN-SENT'))
          .join('\n'),
      ),
    ];
    const { code, out } = await runOn(platform, ['check', '--source', 'ss', '--no-state', '--half-open', '5s', '--idle', 'off']);
    expect(out).toMatch(/^tcpdwell UNKNOWN - the age of 1 SYN_RECEIVED socket not read \(cannot read \/proc\/net\/tcp: /m);
    expect(code).toBe(3);
  });

  it('every request socket completed from procfs: nothing said not read', async () => {
    const reading = await ssSource.read(platformWith(true), { procRoot: '/proc' });
    expect(reading.dwellUnknown).toBeUndefined();
  });

  it('reads procfs only when the table has a request socket', async () => {
    const platform = platformWith(true);
    platform.commands = [
      ssAnswers(
        SS.split('\n')
          .filter((l, i, all) => !l.startsWith('SYN-RECV') && !all[i - 1]?.startsWith('SYN-RECV'))
          .join('\n'),
      ),
    ];
    const reading = await ssSource.read(platform, { procRoot: '/proc' });
    expect(reading.rows.some((r) => r.state === 'SYN_RECEIVED')).toBe(false);
    expect(platform.readPaths.filter((p) => p.includes('/net/tcp'))).toEqual([]);
  });
});

describe('--netns: a SYN_RECEIVED in a namespace no process is in (held by its ip netns mount only)', () => {
  /** The host (10, pid 1: an empty table) and `web` (50), held by its mount alone; ss there answers the capture. */
  function mountOnly(): FakePlatform {
    const platform = platformWith(false);
    platform.links.set('/proc/self/ns/net', 'net:[10]');
    platform.links.set('/proc/1/ns/net', 'net:[10]');
    platform.files.set('/proc/1/net/tcp', '  sl  local_address rem_address   st\n');
    platform.files.set('/proc/uptime', '3600.00 7100.00\n');
    platform.files.set('/proc/self/mountinfo', '44 42 0:4 net:[50] /run/netns/web rw shared:3 - nsfs nsfs rw\n');
    return platform;
  }

  /** ss answering the capture; `cat /proc/self/net/FILE` run inside the namespace answering `cat(FILE)`. */
  function withCat(platform: FakePlatform, cat: (file: string) => { stdout: string; stderr: string; exitCode: number }): FakePlatform {
    const ss = SS.split('\n')
      .filter((l, i, all) => !l.startsWith('SYN-SENT') && !all[i - 1]?.startsWith('SYN-SENT'))
      .join('\n');
    platform.commands = [(argv) => (argv.includes('cat') ? cat(argv[argv.length - 1]!.replace('/proc/self/', '')) : { stdout: ss, stderr: '', exitCode: 0 })];
    return platform;
  }
  const split = PROC.indexOf('  sl', PROC.indexOf('  sl') + 1);
  const PROC_FILES: Record<string, string> = { 'net/tcp': PROC.slice(0, split), 'net/tcp6': PROC.slice(split) };

  it('ss: cat run inside it (nsenter --net=/run/netns/web -- cat /proc/self/net/tcp) gives the timeout count: the 11.49 s SYN_RECEIVED warns (was UNKNOWN: not read)', async () => {
    // The capture without its SYN_SENT (which alone proves a WARNING): two lines a socket.
    const platform = withCat(mountOnly(), (file) => ({ stdout: PROC_FILES[file]!, stderr: '', exitCode: 0 }));
    const { code, out } = await runOn(platform, ['check', '--netns', 'web', '--source', 'ss', '--no-state', '--half-open', '5s', '--idle', 'off']);
    expect(platform.ran.filter((argv) => argv.includes('cat'))).toEqual([
      ['nsenter', '--net=/run/netns/web', '--', 'cat', '/proc/self/net/tcp'],
      ['nsenter', '--net=/run/netns/web', '--', 'cat', '/proc/self/net/tcp6'],
    ]);
    expect(out).toMatch(/^WARNING half-open: SYN_RECEIVED 127\.0\.0\.1:43211 -> 127\.0\.0\.1:35576 in netns web in state 11s > 5s \(rule default, dwell kernel\)/m);
    expect(out).not.toContain('not read');
    expect(code).toBe(1);
  });

  it('ss: cat inside it refused: the age is said not read naming the file, check UNKNOWN (exit 3)', async () => {
    const platform = withCat(mountOnly(), (file) => ({ stdout: '', stderr: `cat: /proc/self/${file}: Permission denied\n`, exitCode: 1 }));
    const { code, out } = await runOn(platform, ['check', '--netns', 'web', '--source', 'ss', '--no-state', '--half-open', '5s', '--idle', 'off']);
    expect(out).toMatch(/^tcpdwell UNKNOWN - netns web \(net:\[50\]\): the age of 1 SYN_RECEIVED socket not read \(cannot read \/proc\/self \(cat in \/run\/netns\/web\)\/net\/tcp: /m);
    expect(code).toBe(3);
  });

  it('ss: a process in it whose /proc/<pid>/net/tcp fails (it exited since it was found): cat inside the namespace reads it instead', async () => {
    const platform = withCat(mountOnly(), (file) => ({ stdout: PROC_FILES[file]!, stderr: '', exitCode: 0 }));
    platform.links.set('/proc/500/ns/net', 'net:[50]');
    platform.files.set('/proc/500/comm', 'server\n');
    platform.files.set('/proc/500/cgroup', '0::/\n');
    platform.files.set('/proc/500/net/tcp', Object.assign(new Error('ESRCH'), { code: 'ESRCH' }));
    platform.files.set('/proc/500/net/tcp6', Object.assign(new Error('ESRCH'), { code: 'ESRCH' }));
    const { code, out } = await runOn(platform, ['check', '--netns', 'web', '--source', 'ss', '--no-state', '--half-open', '5s', '--idle', 'off']);
    expect(platform.ran.filter((argv) => argv.includes('cat')).length).toBe(2);
    expect(out).toMatch(/^WARNING half-open: SYN_RECEIVED 127\.0\.0\.1:43211 -> 127\.0\.0\.1:35576 in netns web in state 11s > 5s/m);
    expect(out).not.toContain('not read');
    expect(code).toBe(1);
  });

  it('a process in it: its /proc shows the table, the age is proven and nothing is said not read', async () => {
    const platform = mountOnly();
    platform.links.set('/proc/500/ns/net', 'net:[50]');
    platform.files.set('/proc/500/comm', 'server\n');
    platform.files.set('/proc/500/cgroup', '0::/\n');
    const split = PROC.indexOf('  sl', PROC.indexOf('  sl') + 1);
    platform.files.set('/proc/500/net/tcp', PROC.slice(0, split));
    platform.files.set('/proc/500/net/tcp6', PROC.slice(split));
    const { out } = await runOn(platform, ['check', '--netns', 'web', '--source', 'ss', '--no-state', '--half-open', '5s', '--idle', 'off']);
    expect(out).not.toContain('SYN_RECEIVED socket not read');
    // 11.49 s in SYN_RECEIVED at first sight (the capture's timeout count): over 5 s.
    expect(out).toMatch(/^tcpdwell (WARNING|CRITICAL)/m);
  });
});
