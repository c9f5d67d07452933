// npm run measure:memory [-- --sockets 100000 --polls 4 --interval 2s --modes serve,watch]
//
// Peak RSS of the long-running front ends, whole process, against a socket population on loopback
// in a network namespace (populate-sockets.py): each mode runs the built CLI (dist/) under GNU time
// for `--polls` polls and reports VmHWM (time's %M). Modes:
//   serve, serve-netlink, serve-ss   `serve` with the default source, --source netlink, --source ss
//   watch                            `watch --iterations N` (text lines with owners, to /dev/null)
//   check-window                     `check --window` of N polls, no state file
//   dashboard                        `dashboard` in a pseudo-terminal (script(1)), for as many intervals
//   breakdown-<source>               in process: serve's poll + evaluation N times, then the V8 heap
//                                    (used, live after a full GC, per space) and the tracked count
// Prints one JSON line per mode, then a Markdown table. Root only.
//
// A population of 100,000 takes minutes to build on a busy machine: `--hold` builds one and keeps it
// until interrupted (printing its namespace); `--namespace NAME` measures against one built so.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { inNamespace, socketsIn, startPopulation } from './population.js';
import { readMemoryKb } from './process-usage.js';

const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const CLI = `${ROOT}dist/cli/main.js`;

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '100000' },
    polls: { type: 'string', default: '4' },
    interval: { type: 'string', default: '2s' },
    modes: { type: 'string', default: 'serve,serve-netlink,serve-ss,watch,check-window,dashboard' },
    namespace: { type: 'string' },
    hold: { type: 'boolean', default: false },
    // In process (inside the namespace): breakdown of one source.
    'inner-breakdown': { type: 'string' },
    'heap-snapshot': { type: 'string' },
    'node-option': { type: 'string', multiple: true, default: [] },
    // Extra CLI arguments for every mode, e.g. `--arg=--idle --arg=1s` (many flagged connections).
    arg: { type: 'string', multiple: true, default: [] },
    // breakdown only: a full GC after each poll's evaluation (what V8 could reach if it collected then).
    'gc-after-poll': { type: 'boolean', default: false },
  },
});
const polls = Number(values.polls);
const intervalText = values.interval!;
const intervalMs = Number(/^(\d+)s$/.exec(intervalText)?.[1] ?? NaN) * 1000;
if (!Number.isFinite(intervalMs)) throw new Error(`--interval: whole seconds, e.g. 2s (got ${intervalText})`);
const nodeOptions = values['node-option']!;
const extraArgs = values.arg!;

interface Measure {
  mode: string;
  peakRssMb: number;
  /** Sockets in the namespace when the mode ran (ss -tan, header not counted). */
  sockets: number;
  seconds: number;
  load: string;
  extra?: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** The descendants of `pid` (children first), from /proc/PID/task/*\/children. */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const at = queue.shift()!;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${at}/task/${at}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // gone
    }
    found.push(...children);
    queue.push(...children);
  }
  return found;
}

/** The node process under `pid` (itself or a descendant) running the CLI. */
function nodeUnder(pid: number): number | undefined {
  for (const candidate of [pid, ...descendants(pid)]) {
    try {
      if (readlinkSync(`/proc/${candidate}/exe`) === process.execPath) return candidate;
    } catch {
      // gone or not ours to read
    }
  }
  return undefined;
}

/**
 * Runs the CLI with `args` in the namespace under GNU time; ends it with SIGTERM after `stopAfterMs`
 * from `startSignal` (a line on stderr, or the start) unless it ends by itself. Peak RSS from time.
 */
async function runCli(namespace: string, mode: string, args: string[], how: { stopAfterMs?: number; startSignal?: RegExp; pty?: boolean }): Promise<Measure> {
  const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-wt-m-'));
  const timeFile = join(dir, 'time');
  const load = loadAverage();
  const started = Date.now();
  const command = ['/usr/bin/time', '-f', '%M', '-o', timeFile, process.execPath, ...nodeOptions, CLI, ...args, ...extraArgs];
  const argv = how.pty ? ['script', '-qfec', command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' '), '/dev/null'] : command;
  const child = spawn('ip', inNamespace(namespace, argv), {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, TERM: 'xterm-256color', COLUMNS: '160', LINES: '50' },
  });
  let stderr = '';
  let signalled: () => void = () => undefined;
  const sawStart = new Promise<void>((resolve) => (signalled = resolve));
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (how.startSignal?.test(stderr)) signalled();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (how.stopAfterMs !== undefined) {
    if (how.startSignal) await Promise.race([sawStart, exited]);
    const stopAt = Date.now() + how.stopAfterMs;
    while (Date.now() < stopAt && child.exitCode === null) await sleep(200);
    const node = child.exitCode === null ? nodeUnder(child.pid!) : undefined;
    if (node !== undefined) process.kill(node, 'SIGTERM');
  }
  const code = await exited;
  const seconds = (Date.now() - started) / 1000;
  let peakKb = NaN;
  try {
    peakKb = Number(readFileSync(timeFile, 'utf8').trim().split('\n').at(-1));
  } catch {
    // time wrote nothing: the run failed before node started
  }
  rmSync(dir, { recursive: true, force: true });
  if (!Number.isFinite(peakKb)) throw new Error(`${mode}: no peak RSS (exit ${code}): ${stderr.slice(0, 500)}`);
  return { mode, peakRssMb: peakKb / 1024, sockets: socketsIn(namespace), seconds, load, extra: { exitCode: code, stderr: stderr.split('\n').filter(Boolean).slice(0, 3) } };
}

async function breakdownOutside(namespace: string, source: string): Promise<Measure> {
  const load = loadAverage();
  const started = Date.now();
  const args = [process.execPath, '--expose-gc', ...nodeOptions, '--import', 'tsx', SELF, '--inner-breakdown', source, '--polls', String(polls)];
  if (values['heap-snapshot']) args.push('--heap-snapshot', values['heap-snapshot']);
  if (values['gc-after-poll']) args.push('--gc-after-poll');
  const out = execFileSync('ip', inNamespace(namespace, args), { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24 });
  const extra = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown> & { peakRssMb: number };
  return { mode: `breakdown-${source}`, peakRssMb: extra.peakRssMb, sockets: socketsIn(namespace), seconds: (Date.now() - started) / 1000, load, extra };
}

/** Inside the namespace: serve's per-poll work (poll, unranked evaluation without owners), with the heap after each poll. */
async function breakdownInside(source: string): Promise<void> {
  const v8 = await import('node:v8');
  const { Monitor } = (await import(`${ROOT}dist/app/monitor.js`)) as typeof import('../src/app/monitor.js');
  const { defaultPolicy } = (await import(`${ROOT}dist/core/policy.js`)) as typeof import('../src/core/policy.js');
  const { nodePlatform } = (await import(`${ROOT}dist/platform/platform.js`)) as typeof import('../src/platform/platform.js');
  const gc = (globalThis as { gc?: () => void }).gc;
  const monitor = new Monitor(nodePlatform(), { source: source as 'auto', procRoot: '/proc' });
  const policy = defaultPolicy();
  const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  const perPoll: Record<string, number>[] = [];
  let evaluationAlive: unknown;
  for (let i = 0; i < polls; i++) {
    const started = performance.now();
    const outcome = await monitor.poll();
    if (!outcome.ok) throw new Error(outcome.error);
    evaluationAlive = (await monitor.evaluate(policy, 'none', { ranked: false })).evaluation;
    const gcStarted = performance.now();
    if (values['gc-after-poll']) gc?.();
    const gcMs = performance.now() - gcStarted;
    const ms = performance.now() - started;
    const memory = process.memoryUsage();
    perPoll.push({
      pollMs: Math.round(ms),
      gcMs: Math.round(gcMs),
      rssMb: mb(memory.rss),
      heapUsedMb: mb(memory.heapUsed),
      heapTotalMb: mb(memory.heapTotal),
      externalMb: mb(memory.external),
      arrayBuffersMb: mb(memory.arrayBuffers),
    });
    await sleep(Math.max(0, intervalMs - ms));
  }
  const beforeGc = process.memoryUsage();
  gc?.();
  const afterGc = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { usedMb: mb(s.space_used_size), sizeMb: mb(s.space_size) }]));
  const tracked = monitor.tracker.connections.size;
  if (values['heap-snapshot']) v8.writeHeapSnapshot(values['heap-snapshot']);
  // Live heap without the evaluation: what the tracker alone keeps between polls.
  evaluationAlive = undefined;
  gc?.();
  const trackerOnly = process.memoryUsage().heapUsed;
  const peakKb = readMemoryKb('self').vmHwmKb;
  process.stdout.write(
    `${JSON.stringify({
      source: monitor.sourceName,
      tracked,
      peakRssMb: peakKb / 1024,
      perPoll,
      heapUsedBeforeGcMb: mb(beforeGc.heapUsed),
      liveHeapMb: mb(afterGc.heapUsed),
      liveHeapTrackerOnlyMb: mb(trackerOnly),
      liveBytesPerConnection: tracked ? Math.round(trackerOnly / tracked) : 0,
      rssAfterGcMb: mb(afterGc.rss),
      spaces,
    })}\n`,
  );
  void evaluationAlive;
  monitor.close();
}

async function measureModes(namespace: string): Promise<Measure[]> {
  const modes = values.modes!.split(',');
  const results: Measure[] = [];
  const interval = ['--interval', intervalText];
  // Long enough for `polls` polls after the first, with room for a slow poll on a busy machine.
  const afterFirstMs = polls * intervalMs + 1000;
  for (const mode of modes) {
    let measure: Measure;
    if (mode === 'serve' || mode === 'serve-netlink' || mode === 'serve-ss') {
      const source = mode === 'serve' ? [] : ['--source', mode.slice('serve-'.length)];
      measure = await runCli(namespace, mode, ['serve', ...source, ...interval], { stopAfterMs: afterFirstMs, startSignal: /serving http/ });
    } else if (mode === 'watch') {
      measure = await runCli(namespace, mode, ['watch', '--iterations', String(polls + 1), ...interval], {});
    } else if (mode === 'check-window') {
      measure = await runCli(namespace, mode, ['check', '--window', `${polls * (intervalMs / 1000)}s`, ...interval], {});
    } else if (mode === 'dashboard') {
      // No line tells the first poll from the outside: the first poll's time is added as a guess.
      measure = await runCli(namespace, mode, ['dashboard', ...interval], { stopAfterMs: afterFirstMs + 15_000, pty: true });
    } else if (mode.startsWith('breakdown-')) {
      measure = await breakdownOutside(namespace, mode.slice('breakdown-'.length));
    } else throw new Error(`unknown mode ${mode}`);
    process.stderr.write(`${JSON.stringify(measure)}\n`);
    results.push(measure);
  }
  return results;
}

async function main(): Promise<void> {
  if (values['inner-breakdown']) return breakdownInside(values['inner-breakdown']);
  if (values.namespace) return report(await measureModes(values.namespace));
  const population = await startPopulation(Number(values.sockets), 0, 'tcpdwell-wt-m');
  try {
    if (values.hold) {
      process.stdout.write(`${JSON.stringify({ namespace: population.namespace, counts: population.counts })}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      return;
    }
    report(await measureModes(population.namespace));
  } finally {
    population.stop();
  }
}

function report(results: Measure[]): void {
  const lines = [
    `Peak RSS (VmHWM), ${polls} polls every ${intervalText}, Node ${process.version}${nodeOptions.length ? ` ${nodeOptions.join(' ')}` : ''}${extraArgs.length ? `, arguments ${extraArgs.join(' ')}` : ''}:`,
    '',
    '| mode | sockets | peak RSS | load average (1, 5, 15 min) |',
    '|---|---:|---:|---|',
    ...results.map((r) => `| ${r.mode} | ${r.sockets.toLocaleString('en')} | ${r.peakRssMb.toFixed(0)} MB | ${r.load} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
