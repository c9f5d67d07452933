import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveKoffi } from '../../src/sources/linux/sock-diag-dump.js';
import { CLI, ParkedNamespace, whyNotRunnable, type ParkedSocket } from './parked-namespace.js';

// reset through our own SOCK_DESTROY with the socket cookie the netlink source read, on the real
// kernel: the socket seen is ended, and a cookie that is not the 4-tuple's socket's ends nothing.

const skip = whyNotRunnable() ?? (resolveKoffi() ? undefined : 'the koffi library is not installed');
if (skip) console.warn(`skipping SOCK_DESTROY end-to-end tests: ${skip}`);
const DIST = dirname(dirname(CLI));

describe.skipIf(skip !== undefined)('reset through SOCK_DESTROY on the real kernel', () => {
  const ns = new ParkedNamespace();
  beforeAll(() => ns.start(), 20_000);
  afterAll(() => ns.stop());

  const flowArgs = (p: ParkedSocket) => ['--local', `${p.local.address}:${p.local.port}`, '--remote', `${p.remote!.address}:${p.remote!.port}`];
  const flowText = (p: ParkedSocket) => {
    const shown = (e: { address: string; port: number }) => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);
    return `${shown(p.local)} -> ${shown(p.remote!)}`;
  };
  const present = async (p: ParkedSocket) => JSON.parse((await ns.tcpdwell(['list', '--source', 'netlink', '--json', ...flowArgs(p)])).stdout) as { state: string }[];
  // Each CLI run is a separate node process; under load each may take many seconds.

  it('ends a parked CLOSE_WAIT (IPv6, and IPv4-mapped) with its cookie: gone from the next read, ECONNABORTED for its owner', async () => {
    const leakers = ['v6-leaker', 'mapped-leaker'].map((role) => ns.parked.find((p) => p.role === role)!);
    const closeWaits = async () =>
      (JSON.parse((await ns.tcpdwell(['list', '--source', 'netlink', '--json', '--state', 'CLOSE_WAIT'])).stdout) as { local: { port: number } }[]).map((r) => r.local.port);
    expect(await closeWaits()).toEqual(expect.arrayContaining(leakers.map((p) => p.local.port)));
    for (const leaker of leakers) {
      const result = await ns.tcpdwell(['reset', '--yes', '--source', 'netlink', ...flowArgs(leaker)]);
      expect(result, leaker.role).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toBe(`ended     CLOSE_WAIT ${flowText(leaker)} python3[${ns.helperPid}] via SOCK_DESTROY\n`);
      expect(await ns.probe(leaker.local.port)).toBe('ECONNABORTED');
    }
    const after = await closeWaits();
    for (const leaker of leakers) expect(after).not.toContain(leaker.local.port);
    expect(after.length).toBeGreaterThan(0); // the other CLOSE_WAIT sockets were left alone
  }, 180_000);

  it('refuses a cookie that is not the live socket’s: reported as a reused 4-tuple, never retried with ss -K, the socket still there', async () => {
    const leaker = ns.parked.find((p) => p.role === 'v4-leaker')!;
    // Inside the namespace: read the socket through the netlink source, then ask to end it under another cookie,
    // as if the socket seen had closed and a newer one had taken its 4-tuple since.
    const script = `
      import { nodePlatform } from '${DIST}/platform/platform.js';
      import { NetlinkSource } from '${DIST}/sources/linux/netlink.js';
      import { SocketKiller } from '${DIST}/sources/linux/socket-killer.js';
      const platform = nodePlatform();
      const source = new NetlinkSource();
      const rows = (await source.read(platform, { procRoot: '/proc' })).rows;
      source.close();
      const row = rows.find((r) => r.state === 'CLOSE_WAIT' && r.local.port === ${leaker.local.port} && r.remote.port === ${leaker.remote!.port});
      const stale = (BigInt('0x' + row.cookie) + 0x100000n).toString(16);
      const ran = [];
      const killer = new SocketKiller({ ...platform, run: async (argv) => { ran.push(argv); throw new Error('ss -K must not run'); } });
      const outcome = await killer.kill({ ...row, cookie: stale });
      killer.close();
      console.log(JSON.stringify({ cookie: row.cookie, stale, outcome, ran }));
    `;
    // A file, not --input-type=module -e: that flag would make the netlink worker's eval'd CommonJS an ES module.
    const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-e2e-'));
    let printed: string;
    try {
      writeFileSync(join(dir, 'stale-cookie.mjs'), script);
      printed = ns.exec([process.execPath, join(dir, 'stale-cookie.mjs')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const { cookie, stale, outcome, ran } = JSON.parse(printed) as { cookie: string; stale: string; outcome: Record<string, unknown>; ran: string[][] };
    expect(outcome).toEqual({
      ended: false,
      via: 'SOCK_DESTROY',
      reusedTuple: true,
      reason: `the socket seen (cookie ${stale}) is gone and a newer one (cookie ${cookie}, CLOSE_WAIT) holds its 4-tuple now: left alone`,
    });
    expect(ran).toEqual([]);
    expect(await present(leaker)).toEqual([expect.objectContaining({ state: 'CLOSE_WAIT' })]);
    expect(await ns.probe(leaker.local.port)).toBeNull(); // its owner can still use it
  }, 120_000);
});
