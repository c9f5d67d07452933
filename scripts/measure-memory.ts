// npm run measure:memory [-- --sockets 100000 --polls 4 --interval 2s --modes serve,watch]
//
// Peak RSS of the long-running front ends, whole process, against a socket population on loopback
// in a network namespace (populate-sockets.py): each mode runs the built CLI (dist/) under GNU time
// for `--polls` polls and reports VmHWM (time's %M) and the CPU it used (%U + %S). Modes:
//   serve, serve-netlink, serve-ss   `serve` with the default source, --source netlink, --source ss
//   watch                            `watch --iterations N` (text lines with owners, to /dev/null)
//   check-window                     `check --window` of N polls, no state file
//   dashboard                        `dashboard` in a pseudo-terminal (script(1)), for as many intervals
//   breakdown-<source>               in process: serve's use case (runExporter, rows in place, tiers,
//                                    the heap budget, no HTTP) for N polls, then the V8 heap (used,
//                                    live after a full GC, per space) and the tracked count
// `serve` listens on a port the kernel picks (127.0.0.1:0), so two measurements can run at once.
// `--dist DIR` measures another build (e.g. main's, built elsewhere) with this script.
// Prints one JSON line per mode, then a Markdown table. Root only.
//
// A population of 100,000 takes minutes to build on a busy machine: `--hold` builds one and keeps it
// until interrupted (printing its namespace); `--namespace NAME` measures against one built so.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { inNamespace, onTeardown, socketsIn, startPopulation } from './population.js';
import { readMemoryKb } from './process-usage.js';

const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '100000' },
    polls: { type: 'string', default: '4' },
    interval: { type: 'string', default: '2s' },
    modes: { type: 'string', default: 'serve,serve-netlink,serve-ss,watch,check-window,dashboard' },
    namespace: { type: 'string' },
    // The prefix of the namespace a population is built in (each session its own: tcpdwell-NAME).
    'namespace-prefix': { type: 'string', default: 'tcpdwell-wt-m' },
    hold: { type: 'boolean', default: false },
    // In process (inside the namespace): breakdown of one source.
    'inner-breakdown': { type: 'string' },
    'heap-snapshot': { type: 'string' },
    'node-option': { type: 'string', multiple: true, default: [] },
    // Extra CLI arguments for every mode, e.g. `--arg=--idle --arg=1s` (many flagged connections).
    arg: { type: 'string', multiple: true, default: [] },
    // breakdown only: a full GC after each poll's evaluation (what V8 could reach if it collected then).
    'gc-after-poll': { type: 'boolean', default: false },
    // The build to measure (its dist/ directory); default this checkout's.
    dist: { type: 'string' },
  },
});
const DIST = (values.dist ?? `${ROOT}dist`).replace(/\/$/, '');
const CLI = `${DIST}/cli/main.js`;
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
  const command = ['/usr/bin/time', '-f', '%M %U %S', '-o', timeFile, process.execPath, ...nodeOptions, CLI, ...args, ...extraArgs];
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
  // Interrupted while it runs: the measured command ends with this script (a `serve` left behind
  // polled its namespace for an hour until found), through population.ts's teardown.
  const untear = onTeardown(() => {
    const node = nodeUnder(child.pid!);
    if (node !== undefined) process.kill(node, 'SIGTERM');
    child.kill('SIGTERM');
  });
  void exited.then(untear);
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
  let cpuSeconds = NaN;
  try {
    // GNU time's last line: peak RSS (KiB), user and system CPU seconds (threads included; a pty's script(1) excluded).
    const [rss, user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    peakKb = rss!;
    cpuSeconds = user! + system!;
  } catch {
    // time wrote nothing: the run failed before node started
  }
  rmSync(dir, { recursive: true, force: true });
  if (!Number.isFinite(peakKb)) throw new Error(`${mode}: no peak RSS (exit ${code}): ${stderr.slice(0, 500)}`);
  return { mode, peakRssMb: peakKb / 1024, sockets: socketsIn(namespace), seconds, load, extra: { cpuSeconds, exitCode: code, stderr: stderr.split('\n').filter(Boolean).slice(0, 3) } };
}

async function breakdownOutside(namespace: string, source: string): Promise<Measure> {
  const load = loadAverage();
  const started = Date.now();
  const args = [process.execPath, '--expose-gc', ...nodeOptions, '--import', 'tsx', SELF, '--inner-breakdown', source, '--polls', String(polls)];
  if (values['heap-snapshot']) args.push('--heap-snapshot', values['heap-snapshot']);
  if (values['gc-after-poll']) args.push('--gc-after-poll');
  args.push('--dist', DIST);
  const out = execFileSync('ip', inNamespace(namespace, args), { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24 });
  const extra = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown> & { peakRssMb: number };
  return { mode: `breakdown-${source}`, peakRssMb: extra.peakRssMb, sockets: socketsIn(namespace), seconds: (Date.now() - started) / 1000, load, extra };
}

/**
 * Inside the namespace: serve's use case as `tcpdwell serve` runs it (runExporter with the default
 * policy; a monitor with rows in place and tiers; the process heap budget), without HTTP, for
 * `polls` polls; the heap as each poll starts (what the previous one left), then after a full GC.
 */
async function breakdownInside(source: string): Promise<void> {
  const v8 = await import('node:v8');
  const { Monitor } = (await import(`${DIST}/app/monitor.js`)) as typeof import('../src/app/monitor.js');
  const { runExporter } = (await import(`${DIST}/app/serve-run.js`)) as typeof import('../src/app/serve-run.js');
  const { systemClock } = (await import(`${DIST}/app/poll-loop.js`)) as typeof import('../src/app/poll-loop.js');
  const { defaultPolicy } = (await import(`${DIST}/core/policy.js`)) as typeof import('../src/core/policy.js');
  const { nodePlatform } = (await import(`${DIST}/platform/platform.js`)) as typeof import('../src/platform/platform.js');
  const { DEFAULT_CENSUS_INTERVAL_MS } = (await import(`${DIST}/cli/parse-command-line.js`)) as typeof import('../src/cli/parse-command-line.js');
  const gc = (globalThis as { gc?: () => void }).gc;
  const monitor = new Monitor(nodePlatform(), { source: source as 'auto', procRoot: '/proc', rowsInPlace: true });
  // A build from before rowsInPlace was an option (a field serve set): set as serve set it.
  if (!monitor.rowsInPlace) Object.assign(monitor, { rowsInPlace: true });
  monitor.pollInTiers({ censusIntervalMs: DEFAULT_CENSUS_INTERVAL_MS });
  const policy = defaultPolicy();
  const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  const perPoll: Record<string, number>[] = [];
  const stop = new AbortController();
  let started = performance.now();
  const sample = () => {
    if (values['gc-after-poll']) gc?.();
    const memory = process.memoryUsage();
    perPoll.push({
      pollMs: Math.round(performance.now() - started),
      rssMb: mb(memory.rss),
      heapUsedMb: mb(memory.heapUsed),
      heapTotalMb: mb(memory.heapTotal),
      externalMb: mb(memory.external),
      arrayBuffersMb: mb(memory.arrayBuffers),
    });
  };
  const poll = monitor.poll.bind(monitor);
  let polled = 0;
  // Each poll's start samples what the previous poll (and its evaluation) left; the last poll ends the run.
  monitor.poll = async () => {
    if (polled > 0) sample();
    started = performance.now();
    const outcome = await poll();
    if (!outcome.ok) throw new Error(outcome.error);
    if (++polled >= polls) stop.abort();
    return outcome;
  };
  await runExporter({
    monitor,
    policy,
    listenerPorts: [],
    clock: systemClock,
    signal: stop.signal,
    intervalMs,
    startServing: async () => ({ stop: async () => undefined }),
    reportFailure: (outcome) => {
      throw new Error(outcome.error);
    },
  });
  sample();
  const beforeGc = process.memoryUsage();
  gc?.();
  const afterGc = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { usedMb: mb(s.space_used_size), sizeMb: mb(s.space_size) }]));
  const tracked = monitor.tracker.connections.size;
  if (values['heap-snapshot']) v8.writeHeapSnapshot(values['heap-snapshot']);
  const trackerOnly = afterGc.heapUsed;
  const peakKb = readMemoryKb('self').vmHwmKb;
  process.stdout.write(
    `${JSON.stringify({
      source: monitor.sourceName,
      tracked,
      peakRssMb: peakKb / 1024,
      perPoll,
      heapUsedBeforeGcMb: mb(beforeGc.heapUsed),
      liveHeapMb: mb(afterGc.heapUsed),
      liveBytesPerConnection: tracked ? Math.round(trackerOnly / tracked) : 0,
      rssAfterGcMb: mb(afterGc.rss),
      spaces,
    })}\n`,
  );
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
      // A port the kernel picks: another measurement (or serve) in the same namespace may hold 9477.
      measure = await runCli(namespace, mode, ['serve', ...source, '--listen', '127.0.0.1:0', ...interval], { stopAfterMs: afterFirstMs, startSignal: /serving http/ });
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
  const population = await startPopulation(Number(values.sockets), 0, values['namespace-prefix']!);
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
    '| mode | sockets | peak RSS | CPU (user + system) | load average (1, 5, 15 min) |',
    '|---|---:|---:|---:|---|',
    ...results.map((r) => {
      const cpu = r.extra?.['cpuSeconds'];
      return `| ${r.mode} | ${r.sockets.toLocaleString('en')} | ${r.peakRssMb.toFixed(0)} MB | ${typeof cpu === 'number' ? `${cpu.toFixed(1)} s` : '—'} | ${r.load} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
