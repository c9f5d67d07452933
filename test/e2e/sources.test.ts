import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whyNoProgram } from '../needs-program.js';
import { ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// The other sources on the real kernel: conntrack (with an nftables rule tracking loopback flows),
// the systeminformation library, and captures of this kernel's tables read back with --input.

type Row = {
  state: string;
  protocol: string;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  pid: number | null;
  process: string | null;
  flag: { kind: string } | null;
};
const counts = (rows: { state: string }[]) => rows.reduce<Record<string, number>>((c, r) => ({ ...c, [r.state]: (c[r.state] ?? 0) + 1 }), {});
const PARKED_COUNTS = { LISTEN: 7, ESTABLISHED: 7, CLOSE_WAIT: 3, FIN_WAIT_2: 3, SYN_SENT: 1, SYN_RECEIVED: 1 };

const skipConntrack = whyNotRunnable() ?? whyNoProgram('nft', 'nftables');
if (skipConntrack) console.warn(`skipping conntrack end-to-end tests: ${skipConntrack}`);

describe.skipIf(skipConntrack !== undefined)('conntrack source on the real kernel', () => {
  const ns = new ParkedNamespace();
  beforeAll(() => ns.start([], { trackConnections: true }), 20_000);
  afterAll(() => ns.stop());

  it('sources says conntrack works here; check flags the half-open flow, the half-closed flows and the idle flows, not the busy one', async () => {
    const sources = JSON.parse((await ns.tcpdwell(['sources', '--json'])).stdout) as { name: string; available: boolean }[];
    expect(sources.find((s) => s.name === 'conntrack')?.available).toBe(true);

    await ns.waitUntilParkedFor(2000);
    const result = await ns.tcpdwell(['check', '--source', 'conntrack', '--json', '--no-state', '--window', '3s', '--interval', '1s', '--half-open', '2s', '--half-close', '3s', '--idle', '3s']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { source: string; counts: Record<string, number>; flagged: Row[] };
    expect(report.source).toBe('conntrack');
    // One entry per flow: the idle, busy, deferred-accept and backlog-filling pairs are ESTABLISHED to the
    // firewall; three half-closed pairs (v4, v6, mapped) are CLOSE_WAIT; the dropped SYN is SYN_SENT.
    expect(report.counts).toEqual({ ESTABLISHED: 4, CLOSE_WAIT: 3, SYN_SENT: 1 });
    const byKind = (kind: string) => report.flagged.filter((f) => f.flag?.kind === kind);
    const synSent = ns.parked.find((p) => p.state === 'SYN_SENT')!;
    expect(byKind('half-open').map((f) => [f.state, f.local.port, f.remote.port])).toEqual([['SYN_SENT', synSent.local.port, synSent.remote!.port]]);
    expect(byKind('half-close').map((f) => f.state)).toEqual(['CLOSE_WAIT', 'CLOSE_WAIT', 'CLOSE_WAIT']);
    const busyPorts = new Set(ns.parked.filter((p) => p.role.startsWith('busy')).map((p) => p.local.port));
    expect(byKind('idle')).toHaveLength(3);
    expect(byKind('idle').some((f) => busyPorts.has(f.local.port) || busyPorts.has(f.remote.port))).toBe(false);
    expect(report.flagged.every((f) => f.pid === null)).toBe(true);
  }, 30_000);
});

const skipKernel = whyNotRunnable();
const noNetstat = whyNoProgram('netstat', 'net-tools');
if (!skipKernel && noNetstat) console.warn(`skipping the net-tools capture read back with --input: ${noNetstat}`);

describe.skipIf(skipKernel !== undefined)('systeminformation and --input on the real kernel', () => {
  const ns = new ParkedNamespace();
  let scratch = '';
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'tcpdwell-e2e-input-'));
    await ns.start();
  }, 20_000);
  afterAll(() => {
    ns.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('--source systeminformation lists the parked states and owners through the library', async () => {
    const result = await ns.tcpdwell(['list', '--source', 'systeminformation', '--json']);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Row[];
    expect(counts(rows)).toEqual(PARKED_COUNTS);
    const closeWaits = rows.filter((r) => r.state === 'CLOSE_WAIT');
    expect(closeWaits.every((r) => r.pid === ns.helperPid && r.process === 'python3')).toBe(true);
  }, 30_000);

  it.skipIf(noNetstat !== undefined)(
    'captures of this kernel (ss, /proc/net/tcp*, net-tools netstat) read back with --input give the live counts',
    async () => {
      const capture = (name: string, argv: string[]) => {
        const path = join(scratch, name);
        writeFileSync(path, `# captured at ${new Date().toISOString()}\n${ns.exec(argv)}`);
        return path;
      };
      const files = [capture('ss.txt', ['ss', '-tanoi']), capture('proc.txt', ['cat', '/proc/net/tcp', '/proc/net/tcp6']), capture('netstat.txt', ['netstat', '-tanp'])];
      for (const file of files) {
        const result = await ns.tcpdwell(['list', '--input', file, '--json']);
        expect(result.code, file).toBe(0);
        expect(counts(JSON.parse(result.stdout) as Row[]), file).toEqual(PARKED_COUNTS);
      }
    },
    30_000,
  );
});
