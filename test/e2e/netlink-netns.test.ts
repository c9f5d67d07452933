import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { nodePlatform, type Platform } from '../../src/platform/platform.js';
import { NetlinkSource } from '../../src/sources/linux/netlink.js';
import { NetnsProvider } from '../../src/sources/linux/netns-provider.js';
import { resolveKoffi } from '../../src/sources/linux/sock-diag-dump.js';
import { SourceUnavailableError } from '../../src/sources/source.js';
import { warnSkip, whyNoPrograms } from '../needs-program.js';
import { halfClosedHolder, Holders, netnsInodeOf, tcpdwellOnHost, type Holder } from './namespace-holders.js';
import { ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// --netns through the netlink source on the real kernel: its worker thread enters each namespace
// (setns) to open the sock_diag socket there, and goes back. Two namespaces: one named by
// `ip netns` holding park-sockets.py's sessions (path /run/netns/NAME), one held only by a process
// started with `unshare --net` (path /proc/PID/ns/net). The CLI runs on the host and selects them by
// NAME and PID (not `all`: the shared machine holds other sessions' namespaces of 100,000 sockets).

const SERVER_PORT = 47110;
const CLIENT_PORT = 47111;
const HOLDER = halfClosedHolder(SERVER_PORT, CLIENT_PORT);

const skip = whyNotRunnable() ?? whyNoPrograms(['nsenter', 'util-linux'], ['unshare', 'util-linux']) ?? (resolveKoffi() ? undefined : 'the koffi library is not installed');
warnSkip('netlink --netns end-to-end tests', skip);

interface JsonRow {
  protocol: string;
  state: string;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  inode: number | null;
  pid: number | null;
  netns?: { inode: number };
}

const holders = new Holders();

const inodeOf = netnsInodeOf;

const tcpdwell = tcpdwellOnHost;

/** The network namespace of every thread of this process (the netlink worker's among them). */
function threadNamespaces(): Set<string> {
  const links = new Set<string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      links.add(readlinkSync(`/proc/self/task/${tid}/ns/net`));
    } catch {
      // a thread that ended meanwhile
    }
  }
  return links;
}

/**
 * The real platform, showing only `pids` in `<proc>` and only the nsfs mounts of `names` (so that
 * `--netns all` is these namespaces alone on a shared machine); `afterDiscovery` runs once the
 * mount table has been read, before any namespace is (a namespace deleted in between).
 */
function narrowed(pids: () => number[], names: () => string[], afterDiscovery: { run?: () => void }): Platform {
  const real = nodePlatform();
  return {
    ...real,
    listDirectory: async (path) => (path === '/proc' ? pids().map(String) : real.listDirectory(path)),
    readText: async (path, options) => {
      const text = await real.readText(path, options);
      if (path !== '/proc/self/mountinfo') return text;
      const kept = text
        .split('\n')
        .filter((line) => names().some((name) => line.includes(` /run/netns/${name} `)))
        .join('\n');
      const hook = afterDiscovery.run;
      afterDiscovery.run = undefined;
      hook?.();
      return kept;
    },
  };
}

const flow = (r: Pick<JsonRow, 'protocol' | 'local' | 'remote'>) => `${r.protocol} ${r.local.address}:${r.local.port} ${r.remote.address}:${r.remote.port}`;

describe.skipIf(skip !== undefined)('netlink --netns on the real kernel', () => {
  const parked = new ParkedNamespace();
  let held: Holder;
  let parkedInode: number;
  let hostListener: Server;
  let hostPort: number;
  const ownLink = readlinkSync('/proc/self/ns/net');

  beforeAll(async () => {
    try {
      await parked.start();
      parkedInode = statSync(`/run/netns/${parked.name}`).ino;
      held = await holders.start(['unshare', '--net', '--', 'python3', '-c', HOLDER]);
      hostListener = createServer();
      await new Promise<void>((resolve) => hostListener.listen(0, '127.0.0.1', resolve));
      hostPort = (hostListener.address() as { port: number }).port;
    } catch (error) {
      stopAll();
      throw error;
    }
  }, 30_000);

  function stopAll(): void {
    holders.stopAll();
    parked.stop();
    hostListener?.close();
  }
  afterAll(stopAll);

  it('list --netns NAME and --netns PID: the same rows through netlink as through ss (states, endpoints, inodes, owners, namespace)', async () => {
    for (const [selector, inode] of [
      [parked.name, () => parkedInode],
      [String(held.pid), () => held.inode],
    ] as const) {
      const rowsBy = async (source: string) => {
        const result = await tcpdwell(['list', '--netns', selector, '--source', source, '--json']);
        expect(result.code, `${source}: ${result.stderr}`).toBe(0);
        expect(result.stderr, source).toBe('');
        return JSON.parse(result.stdout) as JsonRow[];
      };
      const netlink = await rowsBy('netlink');
      const ss = await rowsBy('ss');
      const pick = (r: JsonRow) => [flow(r), r.state, r.inode, r.pid, r.netns?.inode].join(' ');
      expect(netlink.length, selector).toBeGreaterThanOrEqual(3);
      expect(netlink.map(pick).sort(), selector).toEqual(ss.map(pick).sort());
      // Every row is that namespace's, with an owner from it; none is this host's listener.
      expect(new Set(netlink.map((r) => r.netns?.inode))).toEqual(new Set([inode()]));
      expect(netlink.some((r) => r.local.port === hostPort)).toBe(false);
    }
    // The held namespace's parked session, with its owner.
    const result = await tcpdwell(['list', '--netns', String(held.pid), '--source', 'netlink', '--json']);
    const rows = JSON.parse(result.stdout) as JsonRow[];
    expect(rows.filter((r) => r.local.port === SERVER_PORT && r.remote.port === CLIENT_PORT).map((r) => [r.state, r.pid])).toEqual([['CLOSE_WAIT', held.pid]]);
  }, 120_000);

  it('auto with --netns reads through netlink, without a notice', async () => {
    const result = await tcpdwell(['check', '--netns', parked.name, '--json', '--no-state']);
    expect([0, 1, 2], result.stderr).toContain(result.code);
    const report = JSON.parse(result.stdout) as { source: string; notices?: string[] };
    expect(report.source).toBe('netlink');
    expect(result.stderr).toBe('');
  }, 60_000);

  it('the worker thread is back in its own namespace after each read: reads with and without --netns alternate on one source', async () => {
    const platform = nodePlatform();
    const source = new NetlinkSource();
    const hostRow = (rows: readonly SocketRow[]) => rows.some((r) => r.state === 'LISTEN' && r.local.address === '127.0.0.1' && r.local.port === hostPort);
    try {
      const inParked = await source.read(platform, { procRoot: '/proc', enter: { path: `/run/netns/${parked.name}`, inode: parkedInode }, netProcDir: `/proc/${parked.helperPid}` });
      // (Request and TIME_WAIT sockets have inode 0 in any namespace: left out.)
      const parkedInodes = new Set(inParked.rows.map((r) => r.inode).filter((inode) => inode));
      expect(inParked.rows.length).toBeGreaterThan(3);
      expect(hostRow(inParked.rows)).toBe(false);
      expect(threadNamespaces()).toEqual(new Set([ownLink]));
      const here = await source.read(platform, { procRoot: '/proc' });
      expect(hostRow(here.rows)).toBe(true);
      // Socket inodes are unique host-wide: none of the parked namespace's is in this one's table.
      expect(here.rows.filter((r) => parkedInodes.has(r.inode))).toEqual([]);
      const inHeld = await source.read(platform, { procRoot: '/proc', enter: { path: `/proc/${held.pid}/ns/net`, inode: held.inode }, netProcDir: `/proc/${held.pid}` });
      expect(inHeld.rows.map((r) => `${r.state} ${r.local.port}>${r.remote.port}`).sort()).toEqual([
        `CLOSE_WAIT ${SERVER_PORT}>${CLIENT_PORT}`,
        `FIN_WAIT_2 ${CLIENT_PORT}>${SERVER_PORT}`,
        `LISTEN ${SERVER_PORT}>0`,
      ]);
      expect(threadNamespaces()).toEqual(new Set([ownLink]));
      expect(hostRow((await source.read(platform, { procRoot: '/proc' })).rows)).toBe(true);
      // No descriptor outlives a read (namespace files, sock_diag sockets): 20 more reads, no more fds
      // (a leak of one per dump would be 40; a little slack for the test runner's own).
      const fdsBefore = readdirSync('/proc/self/fd').length;
      for (let i = 0; i < 20; i++) await source.read(platform, { procRoot: '/proc', enter: { path: `/proc/${held.pid}/ns/net`, inode: held.inode } });
      expect(readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(fdsBefore + 5);
      expect(threadNamespaces()).toEqual(new Set([ownLink]));
    } finally {
      source.close();
    }
  }, 60_000);

  it('a namespace file that is gone, or opens another namespace now, fails that read only (not unavailable); the next reads work', async () => {
    const platform = nodePlatform();
    const source = new NetlinkSource();
    try {
      const missing = source.read(platform, { procRoot: '/proc', enter: { path: `/run/netns/${parked.name}-none`, inode: parkedInode } });
      await expect(missing).rejects.toThrow(/cannot open \/run\/netns\/.*-none \(ENOENT\): the network namespace is gone/);
      await expect(missing).rejects.not.toBeInstanceOf(SourceUnavailableError);
      // A pid's link that now names another namespace (here: this process's own) is not the namespace seen.
      const moved = source.read(platform, { procRoot: '/proc', enter: { path: '/proc/self/ns/net', inode: parkedInode } });
      await expect(moved).rejects.toThrow(`/proc/self/ns/net opens another network namespace now (net:[${inodeOf(ownLink)}]): net:[${parkedInode}] is gone`);
      expect(threadNamespaces()).toEqual(new Set([ownLink]));
      const again = await source.read(platform, { procRoot: '/proc', enter: { path: `/proc/${held.pid}/ns/net`, inode: held.inode } });
      expect(again.rows.some((r) => r.local.port === SERVER_PORT)).toBe(true);
    } finally {
      source.close();
    }
  }, 60_000);

  it('a namespace deleted between discovery and read: through netlink as through ss, kept as it was this poll, gone the next', async () => {
    const outcomes: Record<string, unknown>[] = [];
    for (const method of ['ss', 'netlink'] as const) {
      // A third namespace, named, with nothing in it: deleted during the second poll.
      const doomed = new ParkedNamespace();
      doomed.create();
      try {
        const doomedInode = statSync(`/run/netns/${doomed.name}`).ino;
        const hook: { run?: () => void } = {};
        let names = [parked.name, doomed.name];
        const platform = narrowed(
          () => [parked.helperPid!, held.pid],
          () => names,
          hook,
        );
        const provider = new NetnsProvider(platform, { choice: { kind: 'all' }, source: method, procRoot: '/proc' });
        try {
          const first = await provider.read();
          expect(new Set(first.rows.map((r) => r.netns?.inode))).toEqual(new Set([parkedInode, held.inode]));
          // (The empty namespace has no row, but was read: no notice.)
          expect(first.notices, method).toEqual([]);
          hook.run = () => {
            execFileSync('ip', ['netns', 'del', doomed.name]);
          };
          const second = await provider.read();
          expect(second.unreadNetns, method).toEqual([doomedInode]);
          expect(new Set(second.rows.map((r) => r.netns?.inode))).toEqual(new Set([parkedInode, held.inode]));
          names = [parked.name];
          const third = await provider.read();
          expect(
            third.goneNetns?.map((g) => g.inode),
            method,
          ).toEqual([doomedInode]);
          expect(third.unreadNetns, method).toBeUndefined();
          const notRead = second.notices.find((n) => n.includes('not read'))!;
          outcomes.push({ method, notice: notRead.replace(/:.*$/, ''), why: notRead, gone: third.notices });
          expect(provider.name).toBe(method);
        } finally {
          provider.close();
        }
      } finally {
        if (existsSync(`/run/netns/${doomed.name}`)) doomed.stop();
      }
    }
    // The same handling through both: one notice that 1 of 3 was not read (kept as it was), then one that it is gone.
    const [ss, netlink] = outcomes as { notice: string; why: string; gone: string[] }[];
    expect(netlink!.notice).toBe('1 of 3 network namespaces not read (their connections are kept as they were)');
    expect(netlink!.notice).toBe(ss!.notice);
    expect(netlink!.gone.map((n) => n.replace(/\d+/g, 'N'))).toEqual(ss!.gone.map((n) => n.replace(/\d+/g, 'N')));
    expect(netlink!.gone).toHaveLength(1);
    // The failure itself says why, through netlink.
    expect(netlink!.why).toMatch(/: netlink: cannot open \/run\/netns\/\S+ \(ENOENT\): the network namespace is gone$/);
  }, 120_000);

  it('reset --netns PID ends the parked CLOSE_WAIT inside its namespace through SOCK_DESTROY (auto reads it through netlink, with its cookie)', async () => {
    const flow = ['--local', `127.0.0.1:${SERVER_PORT}`, '--remote', `127.0.0.1:${CLIENT_PORT}`];
    const closeWaits = async () =>
      (JSON.parse((await tcpdwell(['list', '--netns', String(held.pid), '--json', '--state', 'CLOSE_WAIT'])).stdout) as JsonRow[]).filter((r) => r.local.port === SERVER_PORT);
    expect(await closeWaits()).toHaveLength(1);
    const result = await tcpdwell(['reset', '--yes', '--netns', String(held.pid), ...flow]);
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^ended +CLOSE_WAIT 127\\.0\\.0\\.1:${SERVER_PORT} -> 127\\.0\\.0\\.1:${CLIENT_PORT} .*via SOCK_DESTROY\\n$`));
    expect(await closeWaits()).toEqual([]);
  }, 60_000);
});
