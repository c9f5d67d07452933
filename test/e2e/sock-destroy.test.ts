import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveKoffi } from '../../src/sources/linux/sock-diag-dump.js';
import { whyNoProgram } from '../needs-program.js';
import { CLI, ParkedNamespace, whyNotRunnable, type ParkedSocket } from './parked-namespace.js';

// reset through our own SOCK_DESTROY with the socket cookie the netlink source read, on the real
// kernel: the socket seen is ended, a cookie that is not the 4-tuple's socket's ends nothing, and
// a socket whose state moved on since the read is left alone.

const skip = whyNotRunnable() ?? (resolveKoffi() ? undefined : 'the koffi library is not installed');
if (skip) console.warn(`skipping SOCK_DESTROY end-to-end tests: ${skip}`);
const DIST = dirname(dirname(CLI));
const skipMoved = skip ?? whyNoProgram('nft', 'nftables');
if (!skip && skipMoved) console.warn(`skipping the SOCK_DESTROY end-to-end test of a state that moved on: ${skipMoved}`);

describe.skipIf(skip !== undefined)('reset through SOCK_DESTROY on the real kernel', () => {
  const ns = new ParkedNamespace();
  beforeAll(() => ns.start(), 20_000);
  afterAll(() => ns.stop());

  const flowArgs = (p: ParkedSocket) => ['--local', `${p.local.address}:${p.local.port}`, '--remote', `${p.remote!.address}:${p.remote!.port}`];
  const flowText = (p: ParkedSocket) => {
    const shown = (e: { address: string; port: number }) => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);
    return `${shown(p.local)} -> ${shown(p.remote!)}`;
  };
  /** Runs an ES module inside the namespace (a file, not --input-type=module -e: that flag would make the netlink worker's eval'd CommonJS an ES module); its stdout. */
  const runInside = (name: string, script: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-e2e-'));
    try {
      writeFileSync(join(dir, name), script);
      return ns.exec([process.execPath, join(dir, name)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
    const { cookie, stale, outcome, ran } = JSON.parse(runInside('stale-cookie.mjs', script)) as { cookie: string; stale: string; outcome: Record<string, unknown>; ran: string[][] };
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

  it.skipIf(skipMoved !== undefined)(
    'leaves alone a socket whose state moved on since the read: ESTABLISHED → CLOSE_WAIT, CLOSE_WAIT → LAST_ACK',
    async () => {
      // Inside the namespace: two loopback connections of this script's own, read through the netlink
      // source; then each moves on before the reset. `moving` (ESTABLISHED when read): its peer closes,
      // so it is in CLOSE_WAIT. `closing` (CLOSE_WAIT when read): its owner closes it while an nftables
      // rule drops its FIN, so it stays in LAST_ACK (retransmitting) instead of closing at once.
      const script = `
      import { execFileSync } from 'node:child_process';
      import net from 'node:net';
      import { once } from 'node:events';
      import { nodePlatform } from '${DIST}/platform/platform.js';
      import { NetlinkSource } from '${DIST}/sources/linux/netlink.js';
      import { SocketKiller } from '${DIST}/sources/linux/socket-killer.js';
      const platform = nodePlatform();
      const server = net.createServer({ allowHalfOpen: true });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = server.address().port;
      const connect = async () => {
        const accepted = once(server, 'connection');
        const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        await once(client, 'connect');
        // Its port is kept: once both directions are closed node destroys the socket and forgets it.
        return { client, peer: (await accepted)[0], localPort: client.localPort };
      };
      const moving = await connect();
      const closing = await connect();
      closing.peer.end(); // closing.client: CLOSE_WAIT (allowHalfOpen: node does not close it in turn)
      await once(closing.client, 'end');
      const read = async () => {
        const source = new NetlinkSource();
        try { return (await source.read(platform, { procRoot: '/proc' })).rows; } finally { source.close(); }
      };
      const rowOf = (rows, { localPort }) => rows.find((r) => r.local.port === localPort && r.remote.port === port);
      const seenRows = await read();
      const seen = [rowOf(seenRows, moving), rowOf(seenRows, closing)];
      moving.peer.end();
      await once(moving.client, 'end');
      execFileSync('nft', ['-f', '-'], { input: ['table inet tcpdwell_drop_fin {', 'chain output {', 'type filter hook output priority 0;', 'tcp sport ' + closing.localPort + ' tcp flags & fin == fin drop', '}', '}', ''].join('\\n') });
      closing.client.end();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const ran = [];
      const killer = new SocketKiller({ ...platform, run: async (argv) => { ran.push(argv); throw new Error('ss -K must not run'); } });
      const outcomes = [];
      for (const row of seen) outcomes.push(await killer.kill(row));
      killer.close();
      const afterRows = await read();
      const after = [rowOf(afterRows, moving), rowOf(afterRows, closing)];
      // moving's owner can still use it (a socket ended by SOCK_DESTROY fails the write).
      const writeError = await new Promise((resolve) => moving.client.write('x', (error) => resolve(error ? error.code : null)));
      const shape = (r) => r && { state: r.state, cookie: r.cookie };
      console.log(JSON.stringify({ seen: seen.map(shape), after: after.map(shape), outcomes, ran, writeError }));
      execFileSync('nft', ['delete', 'table', 'inet', 'tcpdwell_drop_fin']);
      for (const c of [moving, closing]) { c.client.destroy(); c.peer.destroy(); }
      server.close();
    `;
      type Shape = { state: string; cookie: string };
      const printed = JSON.parse(runInside('state-moved.mjs', script)) as { seen: Shape[]; after: Shape[]; outcomes: Record<string, unknown>[]; ran: string[][]; writeError: string | null };
      expect(printed.seen.map((r) => r.state)).toEqual(['ESTABLISHED', 'CLOSE_WAIT']);
      expect(printed.outcomes).toEqual([
        { ended: false, via: 'SOCK_DESTROY', stateNow: 'CLOSE_WAIT', reason: 'its state moved on since the poll (ESTABLISHED then, CLOSE_WAIT now): left alone' },
        { ended: false, via: 'SOCK_DESTROY', stateNow: 'LAST_ACK', reason: 'its state moved on since the poll (CLOSE_WAIT then, LAST_ACK now): left alone' },
      ]);
      // Both are still there, the same sockets (cookies), in their new states; nothing else was tried.
      expect(printed.after).toEqual([
        { state: 'CLOSE_WAIT', cookie: printed.seen[0]!.cookie },
        { state: 'LAST_ACK', cookie: printed.seen[1]!.cookie },
      ]);
      expect(printed.ran).toEqual([]);
      expect(printed.writeError).toBeNull();
    },
    120_000,
  );
});
