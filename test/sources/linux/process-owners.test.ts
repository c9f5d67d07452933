import { describe, expect, it } from 'vitest';
import { InodeOwners, OwnerResolver } from '../../../src/sources/linux/process-owners.js';
import { FakePlatform } from '../../fake-platform.js';

// The owner lookup through the fake platform: a /proc written for the test, shaped as Linux's
// (/proc/<pid>/ns/net → "net:[INODE]", /proc/<pid>/fd/N → "socket:[INODE]", /proc/<pid>/comm).

const OWN = 'net:[4026531840]';
const OTHER = 'net:[4026532999]';

/** Processes 10 and 30 in this namespace, 20 in another; each holds the sockets listed. */
function host(procRoot = '/proc'): { platform: FakePlatform; readLinks: string[] } {
  const platform = new FakePlatform();
  platform.links.set(`${procRoot}/self/ns/net`, OWN);
  const processes: [number, string, string, number[]][] = [
    [10, OWN, 'nginx', [100]],
    [20, OTHER, 'postgres', [200, 101]],
    [30, OWN, 'redis', [300]],
  ];
  for (const [pid, netns, comm, inodes] of processes) {
    platform.links.set(`${procRoot}/${pid}/ns/net`, netns);
    platform.files.set(`${procRoot}/${pid}/comm`, `${comm}\n`);
    inodes.forEach((inode, fd) => platform.links.set(`${procRoot}/${pid}/fd/${fd + 3}`, `socket:[${inode}]`));
  }
  const readLinks: string[] = [];
  const readLink = platform.readLink.bind(platform);
  platform.readLink = (path: string) => {
    readLinks.push(path);
    return readLink(path);
  };
  const readLinksIn = platform.readSocketInodes.bind(platform);
  platform.readSocketInodes = (dir: string) => {
    readLinks.push(`${dir}/*`);
    return readLinksIn(dir);
  };
  return { platform, readLinks };
}

describe('OwnerResolver: an fd link that cannot be read', () => {
  // pid 10's fd 3 (socket 100) read with an error, as readlink(2) gives one when the process
  // changed credentials since its fd directory was listed (EACCES, EPERM) or /proc failed (EIO).
  for (const code of ['EACCES', 'EPERM', 'EIO']) {
    for (const prefetch of [false, true]) {
      it(`${code}${prefetch ? ' (prefetched walk)' : ''}: the socket's owner is not proven, and the answer says so (never "no owner" unsaid)`, async () => {
        const { platform } = host();
        platform.linkErrors.set('/proc/10/fd/3', Object.assign(new Error(code), { code }));
        const resolver = new OwnerResolver(platform, '/proc');
        if (prefetch) resolver.prefetch();
        const lookup = await resolver.resolve([100, 300]);
        expect(lookup.owners.get(100)).toBeUndefined();
        expect(lookup.owners.get(300)).toEqual({ pid: 30, process: 'redis' });
        expect(lookup.permissionDenied).toBe(true);
      });
    }
  }

  it('EACCES on a process walked before the holders: every wanted owner found anyway, so nothing is unproven', async () => {
    // As a sandbox's init denies even root its fd links (/proc/1/fd/* EACCES, its ns/net too).
    const { platform } = host();
    platform.links.set('/proc/10/fd/4', 'socket:[999]');
    platform.linkErrors.set('/proc/10/fd/4', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    const lookup = await new OwnerResolver(platform, '/proc').resolve([100, 300]);
    expect([...lookup.owners].map(([inode]) => inode)).toEqual([100, 300]);
    expect(lookup.permissionDenied).toBe(false);
  });

  it('ENOENT: the descriptor closed since the listing, so it holds no socket: nothing unproven', async () => {
    const { platform } = host();
    platform.linkErrors.set('/proc/10/fd/3', Object.assign(new Error('ENOENT'), { code: 'ENOENT' }));
    const lookup = await new OwnerResolver(platform, '/proc').resolve([100, 300]);
    expect(lookup.owners.get(100)).toBeUndefined();
    expect(lookup.permissionDenied).toBe(false);
  });
});

describe('OwnerResolver: processes of the namespace being read first, the others only while an inode is missing', () => {
  it("a wanted inode held only by another namespace's process (setns(2) there and back) is found, after this namespace's processes", async () => {
    const { platform, readLinks } = host();
    const lookup = await new OwnerResolver(platform, '/proc').resolve([300, 200]);
    expect([...lookup.owners]).toEqual([
      [200, { pid: 20, process: 'postgres' }],
      [300, { pid: 30, process: 'redis' }],
    ]);
    expect(platform.listed).toEqual(['/proc', '/proc/10/fd', '/proc/30/fd', '/proc/20/fd']);
    // One ns/net readlink per process, each before its fds; /proc listed once.
    expect(readLinks.filter((p) => p.endsWith('/ns/net'))).toEqual(['/proc/self/ns/net', '/proc/10/ns/net', '/proc/20/ns/net', '/proc/30/ns/net']);
    expect(readLinks.indexOf('/proc/10/ns/net')).toBeLessThan(readLinks.indexOf('/proc/10/fd/*'));
    expect(lookup.permissionDenied).toBe(false);
  });

  it("every wanted inode found in this namespace: another namespace's process is passed by, its fds never read", async () => {
    const { platform, readLinks } = host();
    const lookup = await new OwnerResolver(platform, '/proc').resolve([300, 100]);
    expect([...lookup.owners]).toEqual([
      [100, { pid: 10, process: 'nginx' }],
      [300, { pid: 30, process: 'redis' }],
    ]);
    expect(platform.listed).toEqual(['/proc', '/proc/10/fd', '/proc/30/fd']);
    expect(readLinks.filter((p) => p.startsWith('/proc/20/fd'))).toEqual([]);
  });

  it("an inode no process holds: every process is walked; another namespace's fds denied then leave it unproven", async () => {
    const { platform } = host();
    const lookup = await new OwnerResolver(platform, '/proc').resolve([300, 999]);
    expect(lookup.owners.get(999)).toBeUndefined();
    expect(platform.listed).toEqual(['/proc', '/proc/10/fd', '/proc/30/fd', '/proc/20/fd']);
    expect(lookup.permissionDenied).toBe(false);
    platform.deniedDirectories.add('/proc/20/fd');
    expect((await new OwnerResolver(platform, '/proc').resolve([300, 999])).permissionDenied).toBe(true);
    // Found in this namespace, the denied process outside hides nothing.
    expect((await new OwnerResolver(platform, '/proc').resolve([300])).permissionDenied).toBe(false);
  });

  it('stops as soon as every wanted inode is found: later processes are not read at all', async () => {
    const { platform, readLinks } = host();
    const lookup = await new OwnerResolver(platform, '/proc').resolve([100]);
    expect(lookup.owners.get(100)).toEqual({ pid: 10, process: 'nginx' });
    expect(platform.listed).toEqual(['/proc', '/proc/10/fd']);
    expect(readLinks.some((p) => p.startsWith('/proc/20/') || p.startsWith('/proc/30/'))).toBe(false);
  });

  it('a foreign proc root compares with its own self/ns/net, the namespace its net/tcp shows', async () => {
    const { platform } = host('/host/proc');
    platform.links.set('/host/proc/self/ns/net', OTHER);
    const lookup = await new OwnerResolver(platform, '/host/proc').resolve([101, 100]);
    expect([...lookup.owners]).toEqual([
      [100, { pid: 10, process: 'nginx' }],
      [101, { pid: 20, process: 'postgres' }],
    ]);
    // Its own namespace's process first; then the others, until 100 is found (30 is not read).
    expect(platform.listed).toEqual(['/host/proc', '/host/proc/20/fd', '/host/proc/10/fd']);
  });

  it('a process whose namespace link is denied is scanned as before (its namespace cannot be told); one that exited is skipped', async () => {
    const { platform } = host();
    platform.links.delete('/proc/30/ns/net'); // exited between the listing and the readlink
    const denied = (path: string) => path === '/proc/10/ns/net' || path === '/proc/20/ns/net';
    const readLink = platform.readLink.bind(platform);
    platform.readLink = (path: string) => (denied(path) ? Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })) : readLink(path));
    platform.deniedDirectories.add('/proc/20/fd');
    const lookup = await new OwnerResolver(platform, '/proc').resolve([100, 200, 300]);
    expect([...lookup.owners]).toEqual([[100, { pid: 10, process: 'nginx' }]]);
    // pid 20's fds could not be listed either: its sockets' owners are hidden, and that is said.
    expect(lookup.permissionDenied).toBe(true);
    expect(platform.listed).toEqual(['/proc', '/proc/10/fd', '/proc/20/fd']);
  });

  it('without a readable self/ns/net every process is scanned (a socket inode names one socket host-wide, so no owner is wrong)', async () => {
    const { platform } = host();
    platform.links.delete('/proc/self/ns/net');
    const lookup = await new OwnerResolver(platform, '/proc').resolve([200]);
    expect(lookup.owners.get(200)).toEqual({ pid: 20, process: 'postgres' });
  });

  it('with the pids of one namespace given (--netns), those are scanned as given, with no namespace check, and /proc is not listed when they hold every wanted inode', async () => {
    const { platform, readLinks } = host();
    const lookup = await new OwnerResolver(platform, '/proc').resolve([200], [20]);
    expect(lookup.owners.get(200)).toEqual({ pid: 20, process: 'postgres' });
    expect(readLinks.some((p) => p.endsWith('/ns/net'))).toBe(false);
    expect(platform.listed).toEqual(['/proc/20/fd']);
  });

  it('with the pids of one namespace given (--netns), an inode they do not hold is looked for among the other processes, until found', async () => {
    const { platform } = host();
    const lookup = await new OwnerResolver(platform, '/proc').resolve([200, 100], [20]);
    expect([...lookup.owners]).toEqual([
      [100, { pid: 10, process: 'nginx' }],
      [200, { pid: 20, process: 'postgres' }],
    ]);
    expect(platform.listed).toEqual(['/proc/20/fd', '/proc', '/proc/10/fd']);
    // /proc cannot be listed: the missing owner is not proven absent.
    const unlisted = host().platform;
    unlisted.deniedDirectories.add('/proc');
    const denied = await new OwnerResolver(unlisted, '/proc').resolve([200, 100], [20]);
    expect(denied.owners.get(200)).toEqual({ pid: 20, process: 'postgres' });
    expect(denied.permissionDenied).toBe(true);
  });
});

describe('OwnerResolver.prefetch: the walk started before the owners are asked for (one-shot list and check)', () => {
  /** host(), with each readSocketInodes call's signal kept and its answer held until `release` (a walk still under way). */
  function slowHost() {
    const { platform, readLinks } = host();
    const signals: (AbortSignal | undefined)[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const readLinksIn = platform.readSocketInodes.bind(platform);
    platform.readSocketInodes = async (dir: string, signal?: AbortSignal) => {
      signals.push(signal);
      const links = await readLinksIn(dir);
      await released;
      if (signal?.aborted) throw Object.assign(new Error('interrupted'), { code: 'EINTERRUPTED' });
      return links;
    };
    return { platform, readLinks, signals, release };
  }

  it("asks for the prefetched walk beside the caller's work (a thread of its own); a plain scan does not", async () => {
    const { platform } = host();
    const asked: (boolean | undefined)[] = [];
    const readLinksIn = platform.readSocketInodes.bind(platform);
    platform.readSocketInodes = (dir: string, signal?: AbortSignal, how?: { beside?: boolean }) => (asked.push(how?.beside), readLinksIn(dir));
    const resolver = new OwnerResolver(platform, '/proc');
    resolver.prefetch();
    await resolver.resolve([300, 100]);
    expect(asked).toEqual([true, true]);
    asked.length = 0;
    await resolver.resolve([300, 100, 999]);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((beside) => beside !== true)).toBe(true);
  });
  it('reads every process of the namespace before resolve is called; resolve then reads no fd again and answers as a walk would', async () => {
    const { platform, readLinks, release } = slowHost();
    const resolver = new OwnerResolver(platform, '/proc');
    resolver.prefetch();
    await new Promise((resolve) => setTimeout(resolve, 0));
    // Both processes of this namespace are being read, pid 20 (another namespace) is not.
    expect(readLinks.filter((p) => p.endsWith('/fd/*'))).toEqual(['/proc/10/fd/*', '/proc/30/fd/*']);
    release();
    const lookup = await resolver.resolve([300, 100]);
    expect([...lookup.owners].sort((a, b) => a[0] - b[0])).toEqual([
      [100, { pid: 10, process: 'nginx' }],
      [300, { pid: 30, process: 'redis' }],
    ]);
    expect(readLinks.filter((p) => p.endsWith('/fd/*'))).toEqual(['/proc/10/fd/*', '/proc/30/fd/*']);
    expect(lookup.permissionDenied).toBe(false);
    // Used once: the next resolve of an inode not cached walks /proc again, the other namespace's
    // process last (200 is pid 20's: found there).
    await resolver.resolve([300, 100]); // cached
    const outside = await resolver.resolve([300, 100, 200]);
    expect(outside.owners.get(200)).toEqual({ pid: 20, process: 'postgres' });
    expect(readLinks.filter((p) => p.endsWith('/fd/*'))).toEqual(['/proc/10/fd/*', '/proc/30/fd/*', '/proc/10/fd/*', '/proc/30/fd/*', '/proc/20/fd/*']);
  });

  it("an inode the namespace's processes do not hold is looked for among the others after the prefetched walk", async () => {
    const { platform, readLinks } = host();
    const resolver = new OwnerResolver(platform, '/proc');
    resolver.prefetch();
    const lookup = await resolver.resolve([300, 200]);
    expect(lookup.owners.get(200)).toEqual({ pid: 20, process: 'postgres' });
    expect(readLinks.filter((p) => p.endsWith('/fd/*'))).toEqual(['/proc/10/fd/*', '/proc/30/fd/*', '/proc/20/fd/*']);
    expect(lookup.permissionDenied).toBe(false);
  });

  it('a process whose fds are denied still says so through the prefetched walk, where a wanted owner is not found', async () => {
    const { platform } = host();
    platform.links.set('/proc/20/ns/net', OWN);
    platform.deniedDirectories.add('/proc/20/fd');
    const resolver = new OwnerResolver(platform, '/proc');
    resolver.prefetch();
    const lookup = await resolver.resolve([300, 200]);
    expect(lookup.owners.get(300)).toEqual({ pid: 30, process: 'redis' });
    expect(lookup.owners.get(200)).toBeUndefined();
    expect(lookup.permissionDenied).toBe(true);
    // Every wanted owner found: the denied process hides none of them.
    const found = new OwnerResolver(platform, '/proc');
    found.prefetch();
    expect((await found.resolve([300])).permissionDenied).toBe(false);
  });

  it('once every wanted inode is found, what the walk still reads is stopped (its signal aborts)', async () => {
    const { platform, signals, release } = slowHost();
    const resolver = new OwnerResolver(platform, '/proc');
    resolver.prefetch();
    release();
    const lookup = await resolver.resolve([100]);
    expect(lookup.owners.get(100)).toEqual({ pid: 10, process: 'nginx' });
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => s?.aborted)).toBe(true);
  });

  it('close() stops a walk no resolve used; a resolve with the pids of one namespace (--netns) does not use it', async () => {
    const { platform, signals, readLinks, release } = slowHost();
    const resolver = new OwnerResolver(platform, '/proc');
    resolver.prefetch();
    await new Promise((resolve) => setTimeout(resolve, 0));
    resolver.close();
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((s) => s?.aborted)).toBe(true);

    resolver.prefetch();
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    const before = readLinks.length;
    const lookup = await resolver.resolve([200], [20]);
    expect(lookup.owners.get(200)).toEqual({ pid: 20, process: 'postgres' });
    expect(readLinks.slice(before)).toEqual(['/proc/20/fd/*']);
  });
});

describe('OwnerResolver memory (issue 15)', () => {
  it('one Owner object for all the sockets of a process, shared with the cache of the next call', async () => {
    const { platform, readLinks } = host();
    platform.links.set('/proc/30/fd/9', 'socket:[301]');
    platform.links.set('/proc/30/fd/10', 'socket:[302]');
    const resolver = new OwnerResolver(platform, '/proc');
    const lookup = await resolver.resolve([300, 301, 302]);
    const owner = lookup.owners.get(300);
    expect(owner).toEqual({ pid: 30, process: 'redis' });
    expect(lookup.owners.get(301)).toBe(owner);
    expect(lookup.owners.get(302)).toBe(owner);
    // From the cache at the next call: the same object, no scan.
    const again = await resolver.resolve([302]);
    expect(again.owners.get(302)).toBe(owner);
    expect(readLinks.filter((p) => p === '/proc/30/fd/*')).toHaveLength(1);
  });
});

describe('InodeOwners (the lookup without a hash table per inode)', () => {
  it('keeps each wanted inode once, 0 left out, in any order given; gives back only the owners claimed', () => {
    const owners = InodeOwners.of([300, 0, 100, 300, 4_000_000_123, 200, 100]);
    expect([...owners.inodes]).toEqual([100, 200, 300, 4_000_000_123]);
    expect(owners.missing).toBe(4);
    const nginx = { pid: 10, process: 'nginx' };
    owners.claimAt(owners.indexOf(300), nginx);
    owners.claimAt(owners.indexOf(300), { pid: 11, process: 'other' }); // claimed already: the first owner stays
    owners.claimAt(owners.indexOf(4_000_000_123), nginx);
    expect(owners.missing).toBe(2);
    expect(owners.size).toBe(2);
    expect(owners.get(300)).toBe(nginx);
    expect(owners.get(4_000_000_123)).toBe(nginx);
    for (const unowned of [100, 200, 0, 150, 5_000_000_000]) expect(owners.get(unowned)).toBeUndefined();
    expect(owners.indexOf(150)).toBe(-1);
    expect([...owners]).toEqual([
      [300, nginx],
      [4_000_000_123, nginx],
    ]);
  });

  it('takeFrom: the owners an earlier answer found for the inodes asked again (a cache), none for the rest', () => {
    const redis = { pid: 30, process: 'redis' };
    const nginx = { pid: 10, process: 'nginx' };
    const earlier = InodeOwners.of([5, 7, 9, 11]);
    earlier.claimAt(earlier.indexOf(5), redis);
    earlier.claimAt(earlier.indexOf(9), nginx);
    earlier.claimAt(earlier.indexOf(11), redis);
    const now = InodeOwners.of([11, 1, 9, 7, 12]);
    now.takeFrom(earlier);
    expect([...now]).toEqual([
      [9, nginx],
      [11, redis],
    ]);
    expect(now.missing).toBe(3); // 1 and 12 never seen, 7 seen without an owner
    const empty = InodeOwners.of([]);
    empty.takeFrom(earlier);
    expect(empty.size).toBe(0);
    now.takeFrom(InodeOwners.of([]));
    expect(now.size).toBe(2);
  });

  it('a large lookup gives the same owners as a map would (random inodes, random holders)', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    const wanted = Array.from({ length: 5000 }, () => random() % 20_000);
    const owners = InodeOwners.of(wanted);
    const expected = new Map<number, { pid: number; process: string }>();
    const holders = [1, 2, 3].map((pid) => ({ pid, process: `p${pid}` }));
    for (let i = 0; i < 8000; i++) {
      const inode = random() % 20_000;
      const holder = holders[i % 3]!;
      const at = owners.indexOf(inode);
      if (at < 0) continue;
      owners.claimAt(at, holder);
      if (inode && !expected.has(inode)) expected.set(inode, holder);
    }
    for (const inode of new Set(wanted)) expect(owners.get(inode)).toBe(expected.get(inode));
    expect(owners.size).toBe(expected.size);
    expect(owners.missing).toBe(new Set(wanted.filter(Boolean)).size - expected.size);
  });
});
