import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warnSkip, whyNoPrograms } from '../needs-program.js';
import { halfClosedHolder, Holders, tcpdwellOnHost, type Holder } from './namespace-holders.js';
import { CLI, ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// `--netns` on the real kernel: three namespaces (one named with `ip netns`, two held only by a
// process started with `unshare --net`), the same stuck loopback session parked in two of them
// (identical 4-tuples: 127.0.0.1:47100 <- 127.0.0.1:47101), read from the host.

const SERVER_PORT = 47100;
const CLIENT_PORT = 47101;
const HOLDER = halfClosedHolder(SERVER_PORT, CLIENT_PORT);

// The named namespace: made and removed by parked-namespace.ts (its name carries this process's
// pid, so one left by a killed run is removed by the next).
const namedNamespace = new ParkedNamespace();
const NAMED = namedNamespace.name;

const skip = whyNotRunnable() ?? whyNoPrograms(['nsenter', 'util-linux'], ['unshare', 'util-linux']);
warnSkip('--netns end-to-end tests', skip);
const holders = new Holders();
let stateDir: string | undefined;

const tcpdwell = tcpdwellOnHost;

function stopAll(): void {
  holders.stopAll();
  namedNamespace.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}

interface JsonRow {
  state: string;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  pid: number | null;
  netns?: { inode: number; names: string[] };
  flag: { kind: string } | null;
}

const isParked = (r: JsonRow) => r.local.port === SERVER_PORT && r.remote.port === CLIENT_PORT && r.local.address === '127.0.0.1';

describe.skipIf(skip !== undefined)('--netns on the real kernel', () => {
  let named: Holder;
  let heldA: Holder;
  let heldB: Holder;

  beforeAll(async () => {
    try {
      namedNamespace.create();
      named = await holders.start(['ip', 'netns', 'exec', NAMED, 'python3', '-c', HOLDER]);
      heldA = await holders.start(['unshare', '--net', '--', 'python3', '-c', HOLDER]);
      // The third namespace holds no stuck session: a process that only sleeps in it.
      heldB = await holders.start([
        'unshare',
        '--net',
        '--',
        'python3',
        '-c',
        `import json, os, sys\nprint(json.dumps({'pid': os.getpid(), 'netns': os.readlink('/proc/self/ns/net')}), flush=True)\nsys.stdin.read()`,
      ]);
      stateDir = mkdtempSync(join(tmpdir(), 'tcpdwell-netns-'));
      // The half-close threshold below is 1 s: past it, by the kernel's own lastack.
      await delay(2000);
    } catch (error) {
      stopAll();
      throw error;
    }
  }, 30_000);

  afterAll(stopAll);

  it('check --netns all flags the same stuck session in each namespace, each with its own owner', async () => {
    const { code, stdout, stderr } = await tcpdwell(['check', '--netns', 'all', '--half-close', '1s', '--format', 'json', '--state-file', join(stateDir!, 'state.json')]);
    expect([1, 2], stderr).toContain(code);
    const report = JSON.parse(stdout) as { flagged: JsonRow[]; source: string };
    const mine = report.flagged.filter((r) => isParked(r) && r.state === 'CLOSE_WAIT' && [named.inode, heldA.inode].includes(r.netns!.inode));
    expect(mine.map((r) => [r.netns!.inode, r.pid, r.flag?.kind]).sort()).toEqual(
      [
        [named.inode, named.pid, 'half-close'],
        [heldA.inode, heldA.pid, 'half-close'],
      ].sort(),
    );
    expect(mine.find((r) => r.netns!.inode === named.inode)!.netns!.names).toEqual([NAMED]);
    expect(mine.find((r) => r.netns!.inode === heldA.inode)!.netns!.names).toEqual([]);
    // Nothing of the parked session in the namespace that holds none.
    expect(report.flagged.filter((r) => r.netns?.inode === heldB.inode)).toEqual([]);
    // Each namespace's history is its own section of the state file.
    const sections = (JSON.parse(readFileSync(join(stateDir!, 'state.json'), 'utf8')) as { tables: { table: { netns: string; perNetns?: boolean }; connections: unknown[] }[] }).tables;
    for (const inode of [named.inode, heldA.inode]) {
      expect(sections.find((s) => s.table.perNetns && s.table.netns === `net:[${inode}]`)?.connections.length).toBeGreaterThanOrEqual(3);
    }
  }, 60_000);

  it('list --netns NAME and --netns PID select one namespace each', async () => {
    const byName = await tcpdwell(['list', '--netns', NAMED, '--json']);
    expect(byName.code, byName.stderr).toBe(0);
    const nameRows = JSON.parse(byName.stdout) as JsonRow[];
    expect(new Set(nameRows.map((r) => r.netns?.inode))).toEqual(new Set([named.inode]));
    expect(nameRows.filter(isParked).map((r) => [r.state, r.pid])).toEqual([['CLOSE_WAIT', named.pid]]);

    const byPid = await tcpdwell(['list', '--netns', String(heldA.pid), '--json']);
    expect(byPid.code, byPid.stderr).toBe(0);
    const pidRows = JSON.parse(byPid.stdout) as JsonRow[];
    expect(new Set(pidRows.map((r) => r.netns?.inode))).toEqual(new Set([heldA.inode]));
    expect(pidRows.filter(isParked).map((r) => [r.state, r.pid])).toEqual([['CLOSE_WAIT', heldA.pid]]);

    const missing = await tcpdwell(['list', '--netns', `${NAMED}-none`]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/no network namespace named/);
  }, 60_000);

  it('watch --netns PID: the process exits while its ip netns mount keeps the namespace: followed, not gone; --iterations ends 0', async () => {
    // A namespace of its own, held by its name (the mount) and by one process parking a session.
    const kept = new ParkedNamespace();
    kept.create();
    try {
      const holder = await holders.start(['ip', 'netns', 'exec', kept.name, 'python3', '-c', HOLDER]);
      const watch = spawn(process.execPath, [CLI, 'watch', '--netns', String(holder.pid), '--events', '--interval', '1s', '--iterations', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const events: Record<string, unknown>[] = [];
      let stderr = '';
      watch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      createInterface({ input: watch.stdout }).on('line', (line) => events.push(JSON.parse(line) as Record<string, unknown>));
      const done = new Promise<number | null>((resolve) => watch.once('exit', resolve));
      const inKept = (e: Record<string, unknown>) => (e.netns as { inode?: number } | undefined)?.inode === holder.inode;
      const seen = () => events.some((e) => e.event === 'opened' && inKept(e) && e.state === 'FIN_WAIT_2');
      for (let waited = 0; !seen() && waited < 20_000; waited += 100) await delay(100);
      expect(seen()).toBe(true);
      process.kill(holder.pid, 'SIGKILL');
      const code = await done;
      expect(code, stderr).toBe(0);
      expect(events.filter((e) => e.event === 'netns-gone' || e.event === 'poll-failed')).toEqual([]);
      // Still read after the exit: the client's orphaned socket (the kernel keeps it) moved to TIME_WAIT there.
      expect(events.filter((e) => e.event === 'state-changed' && inKept(e) && e.from === 'FIN_WAIT_2' && e.to === 'TIME_WAIT')).toHaveLength(1);
    } finally {
      kept.stop();
    }
  }, 60_000);

  it('a namespace deleted between two watch polls closes its connections once, with one event', async () => {
    const watch = spawn(process.execPath, [CLI, 'watch', '--netns', 'all', '--events', '--interval', '1s', '--iterations', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const events: Record<string, unknown>[] = [];
    createInterface({ input: watch.stdout }).on('line', (line) => events.push(JSON.parse(line) as Record<string, unknown>));
    const done = new Promise<number | null>((resolve) => watch.once('exit', resolve));
    // After the first poll has seen the session, the only process holding namespace A exits.
    const seen = () => events.some((e) => e.event === 'opened' && (e.netns as { inode?: number } | undefined)?.inode === heldA.inode);
    for (let waited = 0; !seen() && waited < 20_000; waited += 100) await delay(100);
    expect(seen()).toBe(true);
    heldA.child.kill('SIGKILL');
    await done;
    // A by its identity: inode and start time (the kernel may give A's freed inode to a namespace made meanwhile).
    const startedA = (events.find((e) => e.event === 'opened' && (e.netns as { inode?: number } | undefined)?.inode === heldA.inode)!.netns as { started?: number | null }).started;
    expect(typeof startedA).toBe('number');
    const inA = (e: Record<string, unknown>) => {
      const netns = e.netns as { inode?: number; started?: number | null } | undefined;
      return netns?.inode === heldA.inode && netns.started === startedA;
    };
    const closed = events.filter((e) => e.event === 'closed' && inA(e));
    const opened = events.filter((e) => e.event === 'opened' && inA(e));
    // Each connection of A (listener, CLOSE_WAIT, FIN_WAIT_2) closed exactly once.
    expect(closed.length).toBe(opened.length);
    expect(new Set(closed.map((e) => JSON.stringify([e.local, e.remote]))).size).toBe(closed.length);
    const gone = events.filter((e) => e.event === 'netns-gone');
    expect(gone.filter(inA)).toEqual([expect.objectContaining({ closed: closed.length })]);
    // The other namespaces' sessions are untouched.
    expect(events.filter((e) => e.event === 'closed' && (e.netns as { inode?: number } | undefined)?.inode === named.inode)).toEqual([]);
  }, 60_000);
});
