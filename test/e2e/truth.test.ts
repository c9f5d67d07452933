import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParkedNamespace, whyNotRunnable, type ParkedSocket } from './parked-namespace.js';

// What tcpdwell says must be true on the real kernel: a busy one-way stream is never idle, and one
// state file shared by two network namespaces keeps each namespace's history its own.

const skipReason = whyNotRunnable();
if (skipReason) console.warn(`skipping kernel end-to-end tests: ${skipReason}`);

type Flagged = {
  protocol: string;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  state: string;
  dwellSeconds: number;
  dwellSource: string;
  flag: { kind: string };
};
const endpoints = (s: { local: { address: string; port: number }; remote: { address: string; port: number } | null }) => `${s.local.address}:${s.local.port} ${s.remote?.address}:${s.remote?.port}`;

describe.skipIf(skipReason !== undefined)('a busy one-way stream on the real kernel', () => {
  const ns = new ParkedNamespace();
  beforeAll(() => ns.start(['--one-way']), 20_000);
  afterAll(() => ns.stop());

  it('is never flagged idle over repeated one-shot checks, while the silent pair is flagged every time', async () => {
    await ns.waitUntilParkedFor(9000);
    const stream = ns.parked.filter((p) => p.role.startsWith('stream-')).map(endpoints);
    const silent = ns.parked.filter((p) => p.role.startsWith('idle-')).map(endpoints);
    expect(stream).toHaveLength(2);
    expect(silent).toHaveLength(2);
    for (let run = 0; run < 8; run++) {
      const result = await ns.tcpdwell(['check', '--json', '--no-state', '--idle', '8s', '--half-open', '1h', '--half-close', '1h']);
      expect(result.code).toBe(1);
      const idle = (JSON.parse(result.stdout).flagged as Flagged[]).filter((f) => f.flag.kind === 'idle').map(endpoints);
      for (const end of stream) expect(idle, `run ${run}: the stream end ${end} was flagged idle`).not.toContain(end);
      for (const end of silent) expect(idle, `run ${run}: the silent end ${end} was not flagged`).toContain(end);
    }
  }, 60_000);
});

describe.skipIf(skipReason !== undefined)('one state file, two network namespaces', () => {
  const a = new ParkedNamespace();
  const b = new ParkedNamespace();
  let scratch = '';
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'tcpdwell-e2e-scope-'));
    await Promise.all([a.start(), b.start()]);
  }, 30_000);
  afterAll(() => {
    a.stop();
    b.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const THRESHOLDS = ['--half-open', '1s', '--half-close', '1s', '--idle', '1h'];
  const stuck = (ns: ParkedNamespace) =>
    ns.parked
      .filter((p: ParkedSocket) => p.flag === 'half-open' || p.flag === 'half-close')
      .map(endpoints)
      .sort();

  it('keeps A stuck and flagged after a run in B, with the default state file and with an explicit one', async () => {
    await Promise.all([a.waitUntilParkedFor(2500), b.waitUntilParkedFor(2500)]);
    const xdg = { XDG_STATE_HOME: join(scratch, 'xdg') };
    const explicit = ['--state-file', join(scratch, 'explicit.json')];
    const variants: { name: string; args: string[]; env: NodeJS.ProcessEnv }[] = [
      { name: 'default state file', args: [], env: xdg },
      { name: '--state-file', args: explicit, env: {} },
    ];
    for (const { name, args, env } of variants) {
      const firstA = await a.tcpdwell(['check', ...args, ...THRESHOLDS], env);
      expect(firstA.code, `${name}: first run in A`).toBe(1);
      expect(firstA.stdout.split('\n').filter((l) => l.startsWith('WARNING')).length).toBeGreaterThanOrEqual(7);

      const inB = await b.tcpdwell(['check', ...args, ...THRESHOLDS], env);
      expect(inB.code, `${name}: run in B`).toBe(1);
      expect(inB.stdout, `${name}: B resolved A's sessions`).not.toContain('RESOLVED');

      const secondA = await a.tcpdwell(['check', '--format', 'json', ...args, ...THRESHOLDS], env);
      expect(secondA.code, `${name}: second run in A`).toBe(1);
      const report = JSON.parse(secondA.stdout);
      expect(report.notifications.filter((n: { change: string }) => n.change === 'resolved')).toEqual([]);
      const flagged = (report.flagged as Flagged[]).filter((f) => f.flag.kind !== 'idle');
      expect(flagged.map(endpoints).sort()).toEqual(stuck(a));
      // History carried over in A's own section: each was first seen at A's first run at the latest.
      for (const f of report.flagged as (Flagged & { firstSeen: string })[]) expect(Date.parse(f.firstSeen)).toBeLessThan(Date.now() - 100);
    }
    const saved = JSON.parse(readFileSync(join(scratch, 'explicit.json'), 'utf8'));
    expect(saved.tables).toHaveLength(2);
    expect(new Set(saved.tables.map((t: { table: { netns: string } }) => t.table.netns)).size).toBe(2);
  }, 90_000);
});
