import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  continuesNamespace,
  discoverNamespaces,
  parseStartTime,
  groupNamespaces,
  netnsNameOf,
  opensNamespace,
  parseNetnsLink,
  parseNetnsMounts,
  selectNamespaces,
  NetnsNotFoundError,
} from '../../../src/sources/linux/netns.js';
import { parseNetnsChoice } from '../../../src/sources/netns-choice.js';
import { FakePlatform } from '../../fake-platform.js';

const mountinfo = readFileSync(new URL('../../fixtures/linux-mountinfo-ip-netns-kernel6.txt', import.meta.url), 'utf8');

describe('parseNetnsMounts', () => {
  it('finds the ip netns mounts of a real mountinfo (nsfs lines only)', () => {
    expect(parseNetnsMounts(mountinfo)).toEqual([
      { inode: 4026532178, mountPoint: '/run/netns/tcpdwell-e2e-15745-1' },
      { inode: 4026532246, mountPoint: '/run/netns/tcpdwell-e2e-16064-1' },
      { inode: 4026532319, mountPoint: '/run/netns/f-fixture' },
    ]);
  });

  it('decodes octal escapes in mount points and skips other namespace kinds', () => {
    // Written for the test, in the shape of the real nsfs lines above: a blank in the name is
    // written \040 (proc(5)), and an mnt namespace mount is not a network namespace.
    const text = '60 42 0:4 net:[4026532999] /run/netns/my\\040ns rw shared:9 - nsfs nsfs rw\n61 42 0:4 mnt:[4026532888] /run/mntns/x rw - nsfs nsfs rw\n';
    expect(parseNetnsMounts(text)).toEqual([{ inode: 4026532999, mountPoint: '/run/netns/my ns' }]);
  });
});

describe('parseNetnsLink and netnsNameOf', () => {
  it('reads the inode of a namespace link and nothing else', () => {
    expect(parseNetnsLink('net:[4026531840]')).toBe(4026531840);
    expect(parseNetnsLink('mnt:[4026531840]')).toBeUndefined();
    expect(parseNetnsLink('socket:[123]')).toBeUndefined();
  });
  it('names only mounts directly under /run/netns', () => {
    expect(netnsNameOf('/run/netns/web')).toBe('web');
    expect(netnsNameOf('/var/run/docker/netns/1a2b3c')).toBeUndefined();
    expect(netnsNameOf('/run/netns/a/b')).toBeUndefined();
  });
});

describe('groupNamespaces', () => {
  it('one entry per inode: processes and mounts of the same namespace merge; the path prefers a name', () => {
    const found = groupNamespaces(
      [
        { pid: 1, inode: 10 },
        { pid: 300, inode: 20 },
        { pid: 200, inode: 20 },
        { pid: 400, inode: 30 },
      ],
      [
        { inode: 20, mountPoint: '/run/netns/web' },
        { inode: 40, mountPoint: '/run/netns/empty' },
        { inode: 30, mountPoint: '/var/run/docker/netns/1a2b' },
      ],
      '/host/proc',
    );
    expect(found.map((ns) => [ns.inode, ns.pids, ns.names, ns.path, ns.host])).toEqual([
      [10, [1], [], '/host/proc/1/ns/net', true],
      [20, [200, 300], ['web'], '/run/netns/web', false],
      [30, [400], [], '/var/run/docker/netns/1a2b', false],
      [40, [], ['empty'], '/run/netns/empty', false],
    ]);
  });
});

function hostWithNamespaces(): FakePlatform {
  const platform = new FakePlatform();
  platform.links.set('/proc/1/ns/net', 'net:[10]');
  platform.links.set('/proc/200/ns/net', 'net:[20]');
  platform.links.set('/proc/300/ns/net', 'net:[30]');
  platform.links.set('/proc/301/ns/net', 'net:[30]');
  platform.files.set('/proc/self/mountinfo', '44 42 0:4 net:[20] /run/netns/web rw shared:3 - nsfs nsfs rw\n');
  return platform;
}

describe('discoverNamespaces and selectNamespaces', () => {
  it('finds every namespace once, and selects by name, pid and path', async () => {
    const platform = hostWithNamespaces();
    platform.deniedDirectories.add('/proc/999');
    const { namespaces } = await discoverNamespaces(platform, '/proc');
    expect(namespaces.map((ns) => ns.inode)).toEqual([10, 20, 30]);
    const read = (path: string) => platform.readLink(path);
    expect((await selectNamespaces({ kind: 'all' }, namespaces, read, '/proc')).length).toBe(3);
    expect((await selectNamespaces({ kind: 'name', name: 'web' }, namespaces, read, '/proc')).map((ns) => ns.inode)).toEqual([20]);
    const byPid = await selectNamespaces({ kind: 'pid', pid: 301 }, namespaces, read, '/proc');
    // The process asked for is the one read through.
    expect(byPid.map((ns) => [ns.inode, ns.pids[0]])).toEqual([[30, 301]]);
    expect((await selectNamespaces({ kind: 'path', path: '/run/netns/web' }, namespaces, read, '/proc')).map((ns) => ns.inode)).toEqual([20]);
    expect((await selectNamespaces({ kind: 'path', path: '/proc/300/ns/net' }, namespaces, read, '/proc')).map((ns) => ns.inode)).toEqual([30]);
  });

  it('says in one line what is not there', async () => {
    const platform = hostWithNamespaces();
    const { namespaces } = await discoverNamespaces(platform, '/proc');
    const read = (path: string) => platform.readLink(path);
    await expect(selectNamespaces({ kind: 'name', name: 'db' }, namespaces, read, '/proc')).rejects.toThrow(NetnsNotFoundError);
    await expect(selectNamespaces({ kind: 'pid', pid: 4242 }, namespaces, read, '/proc')).rejects.toThrow(/no process 4242/);
    await expect(selectNamespaces({ kind: 'path', path: '/nope' }, namespaces, read, '/proc')).rejects.toThrow(/not a network namespace file/);
  });
});

describe('opensNamespace', () => {
  it('a reused pid or a remade name no longer opens the namespace seen', async () => {
    const platform = hostWithNamespaces();
    expect(await opensNamespace(platform, '/proc/300/ns/net', 30)).toBe(true);
    expect(await opensNamespace(platform, '/proc/300/ns/net', 31)).toBe(false);
    expect(await opensNamespace(platform, '/run/netns/web', 20)).toBe(true);
    expect(await opensNamespace(platform, '/run/netns/web', 21)).toBe(false);
    expect(await opensNamespace(platform, '/run/netns/gone', 20)).toBe(false);
  });
});

describe('parseNetnsChoice', () => {
  it('all, a pid, a path, else a name; refuses what cannot be a name', () => {
    expect(parseNetnsChoice('all')).toEqual({ kind: 'all' });
    expect(parseNetnsChoice('1234')).toEqual({ kind: 'pid', pid: 1234 });
    expect(parseNetnsChoice('/run/netns/web')).toEqual({ kind: 'path', path: '/run/netns/web' });
    expect(parseNetnsChoice('web')).toEqual({ kind: 'name', name: 'web' });
    expect(() => parseNetnsChoice('0')).toThrow(/not a process id/);
    expect(() => parseNetnsChoice('..')).toThrow(/not a namespace name/);
  });
});

describe('parseStartTime and continuesNamespace', () => {
  it('reads field 22 after the name, whatever blanks or parentheses the name holds', () => {
    // Written for the test, in /proc/<pid>/stat's shape (fields of a real `cat` line, name changed).
    const line = '19035 (x) y (z) R 19033 19033 8432 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 1270608 3133440 358 18446744073709551615 0\n';
    expect(parseStartTime(line)).toBe(1270608);
    expect(parseStartTime('19035 (cat) R 1 2 3\n')).toBeUndefined();
    expect(parseStartTime('')).toBeUndefined();
  });

  const before = { started: 500, pids: new Set([300, 301]), witness: { pid: 300, started: 500 }, mounts: new Set<string>() };
  it('the witness with its start time, or another process of the last poll, continues it', () => {
    expect(continuesNamespace(before, { pids: [300], mounts: [] }, 500)).toBe(true);
    expect(continuesNamespace(before, { pids: [301, 400], mounts: [] }, undefined)).toBe(true);
  });
  it('a reused witness pid (another start time) or no process of the last poll is a new namespace', () => {
    expect(continuesNamespace(before, { pids: [300, 301], mounts: [] }, 900)).toBe(false);
    expect(continuesNamespace(before, { pids: [400], mounts: [] }, undefined)).toBe(false);
    expect(continuesNamespace(before, { pids: [], mounts: ['/run/netns/a'] }, undefined)).toBe(false);
  });
  it('a namespace held only by mounts continues while one of its mounts stays', () => {
    const mounted = { pids: new Set<number>(), mounts: new Set(['/run/netns/a']) };
    expect(continuesNamespace(mounted, { pids: [], mounts: ['/run/netns/a'] }, undefined)).toBe(true);
    expect(continuesNamespace(mounted, { pids: [], mounts: ['/run/netns/b'] }, undefined)).toBe(false);
  });
  it('a mount that stays continues it while its processes come or go (the mount holds the namespace: its inode was never freed)', () => {
    // None, then a process entered (`ip netns exec`): the same namespace, not a later one.
    const mountOnly = { pids: new Set<number>(), mounts: new Set(['/run/netns/a']) };
    expect(continuesNamespace(mountOnly, { pids: [700], mounts: ['/run/netns/a'] }, undefined)).toBe(true);
    // Its last process left, the mount stays.
    const withProcess = { started: 500, pids: new Set([300]), witness: { pid: 300, started: 500 }, mounts: new Set(['/run/netns/a']) };
    expect(continuesNamespace(withProcess, { pids: [], mounts: ['/run/netns/a'] }, undefined)).toBe(true);
    // Every process replaced, the mount stays: still the same.
    expect(continuesNamespace(withProcess, { pids: [800], mounts: ['/run/netns/a'] }, undefined)).toBe(true);
    // Mount and processes all replaced: a later namespace with the freed inode, as far as anyone can tell.
    expect(continuesNamespace(withProcess, { pids: [800], mounts: ['/run/netns/b'] }, undefined)).toBe(false);
  });
});
