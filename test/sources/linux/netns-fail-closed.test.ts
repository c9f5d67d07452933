import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../../src/app/monitor.js';
import { discoverNamespaces, parseNetnsMounts, selectNamespaces } from '../../../src/sources/linux/netns.js';
import { FakePlatform, runOn } from '../../fake-platform.js';

// Fail closed with --netns (break-it pass, session 11): a namespace link or mount table that could
// not be read is "not read", never "nothing there" nor "gone". Written for the test, in the
// kernel's /proc/net/tcp and mountinfo shapes (test/fixtures/linux-mountinfo-ip-netns-kernel6.txt).
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const established = (inode: number) => `${HEADER}\n   0: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 20 4 0 10 -1\n`;
const errno = (code: string) => Object.assign(new Error(`${code}: readlink`), { code });

/** The host (10: pid 1) and a pod (20: pid 200), each with one ESTABLISHED connection; no mounts. */
function host(): FakePlatform {
  const p = new FakePlatform();
  p.links.set('/proc/self/ns/net', 'net:[10]');
  for (const [pid, ns, inode] of [
    [1, 10, 1001],
    [200, 20, 2001],
  ] as const) {
    p.links.set(`/proc/${pid}/ns/net`, `net:[${ns}]`);
    p.files.set(`/proc/${pid}/comm`, `proc${pid}\n`);
    p.files.set(`/proc/${pid}/cgroup`, '0::/\n');
    p.files.set(`/proc/${pid}/net/tcp`, established(inode));
    p.links.set(`/proc/${pid}/fd/3`, `socket:[${inode}]`);
  }
  p.files.set('/proc/self/mountinfo', '');
  return p;
}

describe('check --netns all: a namespace link that cannot be read is not all clear', () => {
  for (const code of ['EACCES', 'EIO']) {
    it(`a process whose ns/net link fails with ${code} makes nothing-flagged UNKNOWN (exit 3), naming it`, async () => {
      const platform = host();
      platform.linkErrors.set('/proc/200/ns/net', errno(code));
      const { code: exit, out, err } = await runOn(platform, ['check', '--netns', 'all', '--source', 'procfs', '--no-state']);
      expect(exit).toBe(3);
      expect(out).toMatch(/^tcpdwell UNKNOWN/m);
      expect(out + err).toContain(`pid 200: ${code}`);
      expect(out + err).toContain('the network namespace links of 1 process not read');
    });
  }

  // /proc/self/status as captured on this project's host (root; CapEff without CAP_SYS_RESOURCE, bit 24).
  const ROOT_STATUS = 'Name:\tnode\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t000001fffeffffff\n';
  const advice = 'permission denied: run as root, or give CAP_SYS_PTRACE';
  const cases: [string, string | undefined, boolean][] = [
    ['root with CAP_SYS_PTRACE', ROOT_STATUS, true],
    ['root without CAP_SYS_PTRACE (bit 19 cleared)', ROOT_STATUS.replace('000001fffeffffff', '000001fffef7ffff'), false],
    ['not root (euid 1000), every capability', ROOT_STATUS.replace('Uid:\t0\t0', 'Uid:\t0\t1000'), false],
    ['/proc/self/status unreadable', undefined, false],
  ];
  for (const [who, status, deniedToRoot] of cases) {
    it(`EACCES on pid 1's and pid 200's links, ${who}: ${deniedToRoot ? 'says it was denied even to root, naming the pids' : 'advises root or CAP_SYS_PTRACE'}; UNKNOWN either way`, async () => {
      const platform = host();
      if (status === undefined) platform.files.set('/proc/self/status', errno('EACCES'));
      else platform.files.set('/proc/self/status', status);
      platform.linkErrors.set('/proc/1/ns/net', errno('EACCES'));
      platform.linkErrors.set('/proc/200/ns/net', errno('EPERM'));
      const { code: exit, out, err } = await runOn(platform, ['check', '--netns', 'all', '--source', 'procfs', '--no-state']);
      expect(exit).toBe(3);
      expect(out).toMatch(/^tcpdwell UNKNOWN/m);
      if (deniedToRoot) {
        expect(out + err).not.toContain(advice);
        expect(out + err).toContain('permission denied even to root with CAP_SYS_PTRACE, to pids 1, 200: a sandbox or LSM policy denies it');
      } else {
        expect(out + err).toContain(`(${advice}) (pid 1: EACCES, pid 200: EPERM)`);
        expect(out + err).not.toContain('even to root');
      }
    });
  }

  it('root with CAP_SYS_PTRACE, a link failing with EIO only: no word of permission at all', async () => {
    const platform = host();
    platform.files.set('/proc/self/status', ROOT_STATUS);
    platform.linkErrors.set('/proc/200/ns/net', errno('EIO'));
    const { out, err } = await runOn(platform, ['list', '--netns', 'all', '--source', 'procfs']);
    expect(out + err).toContain('network namespace link could not be read (pid 200: EIO)');
  });

  it('every link read: OK (exit 0), as before', async () => {
    const { code } = await runOn(host(), ['check', '--netns', 'all', '--source', 'procfs', '--no-state']);
    expect(code).toBe(0);
  });

  it('a mount table that cannot be read makes it UNKNOWN too (namespaces only a mount holds are unseen)', async () => {
    const platform = host();
    platform.files.set('/proc/self/mountinfo', errno('EIO'));
    const { code, out, err } = await runOn(platform, ['check', '--netns', 'all', '--source', 'procfs', '--no-state']);
    expect(code).toBe(3);
    expect(out + err).toContain('the mount table (/proc/self/mountinfo) could not be read (EIO)');
  });

  it('a WARNING the rest proves stands (exit 1)', async () => {
    const platform = host();
    platform.linkErrors.set('/proc/200/ns/net', errno('EIO'));
    // The host's connection in CLOSE_WAIT (08): flagged at once with --half-close 0s.
    platform.files.set('/proc/1/net/tcp', established(1001).replace(' 01 ', ' 08 '));
    // Two polls a second apart (--window): the CLOSE_WAIT has dwelt past 1 ms.
    const { code } = await runOn(platform, ['check', '--netns', 'all', '--source', 'procfs', '--no-state', '--half-close', '1ms', '--window', '2s', '--interval', '1s']);
    expect(code).toBe(1);
  });
});

describe('a namespace read before and not found now', () => {
  it('is not gone when its process’s link failed to read (EIO): kept as not read, no close', async () => {
    const platform = host();
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    expect((await monitor.poll()).ok).toBe(true);
    platform.linkErrors.set('/proc/200/ns/net', errno('EIO'));
    platform.nowValue += 2000;
    const second = await monitor.poll();
    expect(second.events.filter((e) => e.type === 'closed')).toEqual([]);
    expect(second.notices.join('\n')).not.toContain('is gone');
    expect(second.notices.join('\n')).toContain('net:[20]: not found this poll, but the network namespace link of process 200, in it at the last poll, could not be read (EIO): it may still be there');
    expect(second.unreadScope?.netns).toEqual([20]);
    expect([...monitor.tracker.connections.values()].map((c) => c.row.netns?.inode)).toEqual([10, 20]);
    // Read again: there, as it was.
    platform.linkErrors.clear();
    platform.nowValue += 2000;
    const third = await monitor.poll();
    expect(third.unread).toBeUndefined();
    expect(third.events).toEqual([]);
  });

  it('is gone when its process exited (ENOENT), even while another process’s link fails', async () => {
    const platform = host();
    platform.links.set('/proc/300/ns/net', 'net:[10]');
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    await monitor.poll();
    platform.links.delete('/proc/200/ns/net');
    for (const key of [...platform.files.keys()]) if (key.startsWith('/proc/200/')) platform.files.delete(key);
    platform.linkErrors.set('/proc/300/ns/net', errno('EACCES'));
    platform.nowValue += 2000;
    const second = await monitor.poll();
    expect(second.notices.join('\n')).toContain('network namespace net:[20] is gone');
    expect(second.events.filter((e) => e.type === 'closed').map((e) => e.connection.row.netns?.inode)).toEqual([20]);
  });

  it('a witness process whose stat fails to read (EIO) is not a later namespace: nothing closes and reopens', async () => {
    const platform = host();
    // proc(5) stat: field 22 (starttime) is the 20th after the name.
    for (const pid of [1, 200]) platform.files.set(`/proc/${pid}/stat`, `${pid} (proc${pid}) S ${'0 '.repeat(18)}${pid * 100} 0 0\n`);
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    await monitor.poll();
    platform.files.set('/proc/200/stat', errno('EIO'));
    platform.nowValue += 2000;
    const second = await monitor.poll();
    expect(second.events).toEqual([]);
    expect(second.notices.join('\n')).not.toContain('is gone');
  });

  it('--netns PID whose link fails (EACCES) after the first poll: not read, not gone', async () => {
    const platform = host();
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'pid', pid: 200 } });
    await monitor.poll();
    platform.linkErrors.set('/proc/200/ns/net', errno('EACCES'));
    platform.nowValue += 2000;
    const second = await monitor.poll();
    expect(second.events).toEqual([]);
    expect(second.unread).toEqual(['1 network namespace not read']);
  });
});

describe('namespace files that cannot be opened', () => {
  it('--netns PID: a link that fails says why, not "no process"', async () => {
    const read = () => Promise.reject(errno('EACCES'));
    await expect(selectNamespaces({ kind: 'pid', pid: 200 }, [], read, '/proc')).rejects.toThrow('the network namespace of process 200 cannot be read (/proc/200/ns/net: EACCES)');
  });

  it('a mount covered by a later mount (on it, or on /run/netns) is marked covered', () => {
    const info = [
      '22 1 254:0 /run/netns /run/netns rw shared:1 - ext4 /dev/vda rw',
      '54 22 0:4 net:[20] /run/netns/web rw shared:2 - nsfs nsfs rw',
      '55 22 0:4 net:[30] /run/netns/db rw shared:3 - nsfs nsfs rw',
      '56 54 254:0 /etc/hostname /run/netns/web rw - ext4 /dev/vda rw',
      '57 22 0:4 net:[40] /run/netns/db rw shared:4 - nsfs nsfs rw',
    ].join('\n');
    expect(parseNetnsMounts(info)).toEqual([
      { inode: 20, mountPoint: '/run/netns/web', covered: true },
      { inode: 30, mountPoint: '/run/netns/db', covered: true },
      { inode: 40, mountPoint: '/run/netns/db', over: true },
    ]);
    expect(parseNetnsMounts(`${info}\n60 1 0:50 / /run/netns rw - tmpfs tmpfs rw`).every((m) => m.covered)).toBe(true);
  });

  it('a namespace held only by a covered mount is there and not read (never another namespace’s table under its label)', async () => {
    const platform = host();
    platform.files.set('/proc/self/mountinfo', ['54 22 0:4 net:[50] /run/netns/web rw - nsfs nsfs rw', '56 54 254:0 /etc/hostname /run/netns/web rw - ext4 /dev/vda rw'].join('\n'));
    const discovery = await discoverNamespaces(platform, '/proc');
    const web = discovery.namespaces.find((ns) => ns.inode === 50)!;
    expect(web.coveredOnly).toEqual(['/run/netns/web']);
    expect(web.names).toEqual([]);
    const { code, out } = await runOn(platform, ['check', '--netns', 'all', '--source', 'ss', '--no-state']);
    // ss through nsenter would enter what covers it: it is not run for it (this fake has no ss: the others fail too).
    expect(platform.ran.some((argv) => argv.includes('--net=/run/netns/web'))).toBe(false);
    expect(code).toBe(3);
    expect(out).toContain('/run/netns/web is covered by another mount made over it, and no process is in it: it cannot be opened');
  });
});

describe('a namespace file bind-mounted over an ip netns name (mount --bind /proc/self/ns/net /run/netns/NAME)', () => {
  // mountinfo as the kernel wrote it after `ip netns add web` (50) and the host's file bound over it:
  // the later nsfs mount's parent is the one it covers (54).
  const covered = () => {
    const platform = host();
    platform.files.set(
      '/proc/self/mountinfo',
      [
        '22 1 254:0 /run/netns /run/netns rw shared:1 - ext4 /dev/vda rw',
        '54 22 0:4 net:[50] /run/netns/web rw shared:2 - nsfs nsfs rw',
        '58 54 0:4 net:[10] /run/netns/web rw shared:2 - nsfs nsfs rw',
      ].join('\n'),
    );
    platform.files.set('/proc/net/tcp', established(1001));
    return platform;
  };

  it('the mount made over it is marked over, and the name is no namespace’s', async () => {
    const mounts = parseNetnsMounts(await covered().readText('/proc/self/mountinfo'));
    expect(mounts).toEqual([
      { inode: 50, mountPoint: '/run/netns/web', covered: true },
      { inode: 10, mountPoint: '/run/netns/web', over: true },
    ]);
    const { namespaces } = await discoverNamespaces(covered(), '/proc');
    const hostNs = namespaces.find((ns) => ns.inode === 10)!;
    expect(hostNs.names).toEqual([]);
    expect(hostNs.path).toBe('/proc/1/ns/net');
    expect(hostNs.overMounts).toEqual(['/run/netns/web']);
    expect(namespaces.find((ns) => ns.inode === 50)!.coveredOnly).toEqual(['/run/netns/web']);
  });

  it('a mount made again over the same namespace’s is not over another', () => {
    const info = ['54 22 0:4 net:[50] /run/netns/web rw - nsfs nsfs rw', '58 54 0:4 net:[50] /run/netns/web rw - nsfs nsfs rw'].join('\n');
    expect(parseNetnsMounts(info)).toEqual([
      { inode: 50, mountPoint: '/run/netns/web', covered: true },
      { inode: 50, mountPoint: '/run/netns/web' },
    ]);
  });

  for (const source of ['netlink', 'ss', 'procfs']) {
    it(`check --netns web --source ${source}: refused in one line, exit 3, nothing read`, async () => {
      const platform = covered();
      const { code, out, err } = await runOn(platform, ['check', '--netns', 'web', '--source', source, '--no-state']);
      expect(code).toBe(3);
      expect(err.trim().split('\n')).toHaveLength(1);
      expect(out + err).toContain('/run/netns/web is covered by another mount made over it');
      expect(platform.ran.some((argv) => argv.some((a) => a.includes('/run/netns/web')))).toBe(false);
    });
  }

  it('check --netns /run/netns/web (PATH): refused the same way', async () => {
    const { code, out, err } = await runOn(covered(), ['check', '--netns', '/run/netns/web', '--source', 'procfs', '--no-state']);
    expect(code).toBe(3);
    expect(out + err).toContain('/run/netns/web cannot be opened as the namespace mounted there: another mount is made over it');
  });

  it('list --netns all: the host’s table is not labelled web, and web is not read', async () => {
    const { out, err } = await runOn(covered(), ['list', '--netns', 'all', '--source', 'procfs', '--json']);
    const rows = JSON.parse(out) as { netns: { inode: number; names: string[] } }[];
    expect(rows.map((r) => r.netns.inode).sort()).toEqual([10, 20]);
    expect(rows.find((r) => r.netns.inode === 10)!.netns.names).toEqual([]);
    expect(err).toContain('/run/netns/web is covered by another mount made over it, and no process is in it: it cannot be opened');
  });
});

describe('owners that fail to read are hidden, not absent', () => {
  it('--netns: a /proc/<pid>/fd that fails with EIO makes a count per process UNKNOWN, not OK', async () => {
    const platform = host();
    platform.files.set('/proc/1/net/tcp', established(1001).replace(' 01 ', ' 08 '));
    for (const key of [...platform.links.keys()]) if (key.startsWith('/proc/1/fd/')) platform.links.delete(key);
    platform.files.set('/proc/1/fd/3', 'x'); // listed, then failing
    const listDirectory = platform.listDirectory.bind(platform);
    platform.listDirectory = async (path: string) => {
      if (path === '/proc/1/fd') throw errno('EIO');
      return listDirectory(path);
    };
    const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-failclosed-'));
    try {
      const config = join(dir, 'tcpdwell.yml');
      writeFileSync(config, 'counts:\n  - { name: leak, state: CLOSE_WAIT, per: process, warning: 1 }\n');
      const { code, out } = await runOn(platform, ['check', '--netns', 'all', '--source', 'procfs', '--no-state', '--config', config]);
      expect(code).toBe(3);
      expect(out).toContain('the owners of some sockets could not be read');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
