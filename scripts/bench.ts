// npm run bench [-- --sizes 1000,10000,100000 --one-shot-sizes 40000 --window 60s --polls 5 --rounds 5 --interval 2s
//                  --sources auto,netlink,ss,procfs --prefix tcpdwell-bench --markdown | --json --readme]
//
// What tcpdwell costs at scale, against its peers measured in the same run. Root only: for each
// size it builds a loopback socket population in a network namespace (population.ts,
// populate-sockets.py), and measures inside it (with cgroup2 mounted, as a host has it, so ss -e
// works there as on a host):
//   - `ss -tanoi`, its output read through a pipe: its CPU (the child's, from this process's
//     cutime + cstime) and wall time, `--rounds` runs interleaved with the serves below: the peer;
//   - a real `tcpdwell serve` (node dist/cli/main.js) per `--source` (auto, the default, first), at
//     `--interval`: after its first poll and one warm-up poll, its CPU over `--window` of polls
//     (60 s: one census at serve's default cadence, so a tiered serve's CPU per poll counts it) from
//     /proc/PID/stat (utime + stime: every thread, the netlink worker included; cutime + cstime: the
//     ss it runs) ÷ the polls it says it made (tcpdwell_polls_total, scraped only when it is idle,
//     seen from /proc without asking it), the median of its tcpdwell_poll_duration_seconds, and its
//     peak RSS (VmHWM); the long-running measures start once the population's TIME_WAITs have
//     expired, so each reads the same table (the size reported is the sockets then);
//   - systeminformation.networkConnections(), in this process: how many times slower than serve's
//     default poll;
//   - `watch` and `check --no-state --window` (whole processes, `--polls` + 1 polls): CPU per poll
//     (start-up included) and peak RSS; the dashboard (scripts/bench-dashboard.ts --live: the real
//     dashboard command on a null terminal): CPU per poll and peak RSS.
// At each of --one-shot-sizes (issue 15's one-shot targets are at 40,000) it times whole processes
// instead, alternating, `--rounds` each: `node -e 0`, `ss -tanoip`, `ss -tanoi`, `list --json`,
// `check --no-state`.
//
// Prints the Markdown table (scripts/bench-table.ts) on stdout, the README's Performance table;
// with --readme also writes it into README.md between its markers. Progress goes to stderr. Populations, namespaces and the processes measured are removed when
// the run ends, fails, or is interrupted (SIGINT, SIGTERM).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.js';
import { formatBenchReport, median, replaceBetweenMarkers, type Cost, type ProcessFigures, type ServeFigures, type SizeFigures } from './bench-table.js';
import { lastLine, runScriptInNamespace, runToEnd, startChild, startPopulation } from './population.js';
import { readCpuMs, readMemoryKb, totalCpuMs } from './process-usage.js';

const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const CLI = `${ROOT}dist/cli/main.js`;
const DASHBOARD_BENCH = `${ROOT}scripts/bench-dashboard.ts`;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    'one-shot-sizes': { type: 'string', default: '40000' },
    // serve is measured over this long of polls (its default census interval: one census in it).
    window: { type: 'string', default: '60s' },
    // watch, check --window and the dashboard: this many polls (+ 1).
    polls: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    interval: { type: 'string', default: '2s' },
    sources: { type: 'string', default: 'auto,netlink,ss,procfs' },
    markdown: { type: 'boolean', default: true },
    // Namespaces are named PREFIX-PID-SIZE.
    prefix: { type: 'string', default: 'tcpdwell-bench' },
    json: { type: 'boolean', default: false },
    // Also write the table into README.md, between its markers (scripts/bench-table.ts README_MARKERS).
    readme: { type: 'boolean', default: false },
    // Internal: the part that runs inside the namespace.
    inner: { type: 'string' },
  },
});
const polls = Number(values.polls);
const rounds = Number(values.rounds);
const intervalMs = parseDuration(values.interval!);
/** Polls serve is measured over: a whole `--window`. */
const servePolls = Math.max(1, Math.round(parseDuration(values.window!) / intervalMs));
const sizeList = (text: string) => (text ? text.split(',').map(Number) : []);

const progress = (text: string) => process.stderr.write(`bench: ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ── Inside the namespace ─────────────────────────────────────────────────────────────────────────

/** serve's figures from one scrape of /metrics. */
interface Scrape {
  ok: number;
  failed: number;
  pollSeconds: number;
  source?: string;
}

async function scrape(port: number): Promise<Scrape> {
  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const number = (pattern: RegExp) => {
    const match = pattern.exec(body);
    if (!match) throw new Error(`serve's metrics have no ${pattern.source}`);
    return Number(match[1]);
  };
  return {
    ok: number(/^tcpdwell_polls_total\{result="ok"\} (\d+)$/m),
    failed: number(/^tcpdwell_polls_total\{result="error"\} (\d+)$/m),
    pollSeconds: number(/^tcpdwell_poll_duration_seconds (\S+)$/m),
    ...(/^tcpdwell_up\{source="([^"]+)"\}/m.exec(body)?.[1] ? { source: /^tcpdwell_up\{source="([^"]+)"\}/m.exec(body)![1]! } : {}),
  };
}

/** No CPU tick for this long after some: the process is between polls. */
const IDLE_MS = 300;

/**
 * Starts `tcpdwell serve --source source`, and measures it over `servePolls` polls after its first
 * poll and one warm-up poll. It is scraped only when /proc shows it idle (its CPU counters still
 * for IDLE_MS after moving), so the scrapes land between polls and cost it one small answer each.
 */
async function measureServe(source: string, port: number): Promise<ServeFigures> {
  const serve = startChild([process.execPath, CLI, 'serve', '--source', source, '--interval', values.interval!, '--listen', `127.0.0.1:${port}`], { cwd: ROOT });
  const pid = serve.child.pid!;
  let exited = false;
  void serve.ended.then(() => (exited = true));
  const deadline = performance.now() + 120_000 + (servePolls + 3) * intervalMs * 4;
  const failed = (why: string): ServeFigures => ({ source, failed: why });
  try {
    // The endpoint answers after the first poll.
    let first: Scrape | undefined;
    while (!first) {
      if (exited) return failed(`serve exited: ${lastLine(serve.stderr())}`);
      if (performance.now() > deadline) return failed('no answer on /metrics');
      await sleep(200);
      first = await scrape(port).catch(() => undefined);
    }
    const marks: (Scrape & { cpuMs: number })[] = [];
    let lastCpu = totalCpuMs(readCpuMs(pid));
    let lastChange = performance.now();
    let busy = true;
    // Mark 0 after the warm-up poll (the second), then one mark per poll (a mark may span more
    // than one when polls run back to back), until `servePolls` polls after mark 0.
    while (marks.length === 0 || marks.at(-1)!.ok < marks[0]!.ok + servePolls) {
      if (exited) return failed(`serve exited: ${lastLine(serve.stderr())}`);
      if (performance.now() > deadline) return failed(`only ${marks.length ? marks.at(-1)!.ok - marks[0]!.ok : 0} of ${servePolls} polls in time`);
      await sleep(50);
      const cpu = totalCpuMs(readCpuMs(pid));
      const now = performance.now();
      if (cpu !== lastCpu) {
        lastCpu = cpu;
        lastChange = now;
        busy = true;
        continue;
      }
      // Polls back to back never look idle: then mark every other interval all the same.
      const overdue = marks.length > 0 && now - lastChange > 2 * intervalMs;
      if (!(busy && now - lastChange >= IDLE_MS) && !overdue) continue;
      busy = false;
      const seen = await scrape(port);
      if (seen.failed > first.failed) return failed(`a poll failed (source ${seen.source ?? source}): ${lastLine(serve.stderr())}`);
      if (seen.ok >= 2 && (marks.length === 0 || seen.ok > marks.at(-1)!.ok)) marks.push({ ...seen, cpuMs: cpu });
      if (overdue) lastChange = now;
    }
    const done = marks.at(-1)!.ok - marks[0]!.ok;
    return {
      source,
      ...(marks.at(-1)!.source ? { readSource: marks.at(-1)!.source! } : {}),
      cpuPerPollMs: (marks.at(-1)!.cpuMs - marks[0]!.cpuMs) / done,
      pollWallMs: median(marks.slice(1).map((m) => m.pollSeconds * 1000)),
      peakRssKb: readMemoryKb(pid).vmHwmKb,
      polls: done,
    };
  } finally {
    serve.child.kill('SIGTERM');
    await serve.ended;
  }
}

/** systeminformation.networkConnections() in this process: wall, and CPU (ours, threads included, and the commands it runs). */
async function measureSysteminformation(): Promise<Cost> {
  const si = await import('systeminformation');
  const walls: number[] = [];
  const cpus: number[] = [];
  await si.networkConnections(); // loads what it loads once
  for (let i = 0; i < rounds; i++) {
    const cpuBefore = totalCpuMs(readCpuMs('self'));
    const started = performance.now();
    const connections = await si.networkConnections();
    walls.push(performance.now() - started);
    cpus.push(totalCpuMs(readCpuMs('self')) - cpuBefore);
    if (connections.length === 0) throw new Error('systeminformation.networkConnections() gave no connections');
  }
  return { cpuMs: median(cpus), wallMs: median(walls) };
}

/** A whole process that polls `polls + 1` times (start-up and first poll included), under GNU time: CPU per poll and peak RSS. */
async function measureWholeProcess(argv: readonly string[]): Promise<ProcessFigures> {
  try {
    const run = await runToEnd(argv, { cwd: ROOT, peakRss: true, okCodes: [0, 1, 2] });
    return { cpuPerPollMs: run.cpuMs / (polls + 1), peakRssKb: run.peakRssKb!, polls: polls + 1 };
  } catch (error) {
    return { failed: (error as Error).message };
  }
}

async function measureDashboard(): Promise<ProcessFigures> {
  let stdout = '';
  const run = startChild([process.execPath, '--import', 'tsx', DASHBOARD_BENCH, '--live', '--polls', String(polls), '--interval', String(intervalMs)], {
    cwd: ROOT,
    onStdout: (chunk) => (stdout += chunk.toString()),
  });
  const code = await run.ended;
  if (code !== 0) return { failed: `bench-dashboard --live exited ${code}: ${lastLine(run.stderr())}` };
  const { baselineRssKb, ...figures } = JSON.parse(lastLine(stdout)) as ProcessFigures & { baselineRssKb: number };
  // The real dashboard runs in a script under tsx: its loader's memory is in the peak.
  return { ...figures, note: `RSS includes ${(baselineRssKb / 1024).toFixed(0)} MB before the dashboard started (node + tsx)` };
}

const ssTanoi = () => runToEnd(['ss', '-tanoi'], { cwd: ROOT });

/** Sockets in this namespace now, in `state` (every state when not given), from `ss -tanH`. */
function countSockets(state?: string): number {
  const text = execFileSync('ss', ['-tanH', ...(state ? ['state', state] : [])], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return text.split('\n').filter((line) => line.trim() !== '').length;
}

/**
 * Waits (at most 70 s) until the population's TIME_WAITs have expired (60 s after their close:
 * TCP_TIMEWAIT_LEN, include/net/tcp.h), so every serve below reads the same table. Measured
 * without this, the first source measured read ~4 % of its table vanish during its window and
 * came out 15–20 % above the second, reading through the same source. Returns the sockets left.
 */
async function settledPopulation(): Promise<number> {
  const until = performance.now() + 70_000;
  let timeWait = countSockets('time-wait');
  if (timeWait > 0) progress(`waiting for ${timeWait} TIME_WAIT to expire, so every serve reads the same table`);
  while (timeWait > 0 && performance.now() < until) {
    await sleep(2_000);
    timeWait = countSockets('time-wait');
  }
  return countSockets();
}

/** Every long-running measure at one size; `ss -tanoi` runs between the serves, so drift falls on both alike. */
async function innerLongRunning(built: number): Promise<SizeFigures> {
  const sockets = await settledPopulation();
  progress(`${sockets} sockets settled (${built} built)`);
  const peer: Cost[] = [];
  const serve: ServeFigures[] = [];
  const sources = values.sources!.split(',');
  for (const [i, source] of sources.entries()) {
    for (let r = 0; r < Math.max(1, Math.floor(rounds / sources.length)); r++) peer.push(await ssTanoi());
    progress(`${sockets}: serve --source ${source}`);
    serve.push(await measureServe(source, 9150 + i));
  }
  while (peer.length < rounds) peer.push(await ssTanoi());
  progress(`${sockets}: systeminformation`);
  const systeminformation = await measureSysteminformation();
  progress(`${sockets}: watch, check --window, dashboard`);
  const watch = await measureWholeProcess([process.execPath, CLI, 'watch', '--interval', values.interval!, '--iterations', String(polls + 1)]);
  const checkWindow = await measureWholeProcess([process.execPath, CLI, 'check', '--no-state', '--window', `${polls * intervalMs}ms`, '--interval', values.interval!]);
  const dashboard = await measureDashboard();
  return {
    sockets,
    ssTanoi: { cpuMs: median(peer.map((p) => p.cpuMs)), wallMs: median(peer.map((p) => p.wallMs)) },
    serve,
    systeminformation,
    watch,
    checkWindow,
    dashboard,
  };
}

/** Whole one-shot processes, alternating, `rounds` each. */
async function innerOneShot(sockets: number): Promise<SizeFigures> {
  const runs = {
    nodeStart: [process.execPath, '-e', '0'],
    ssTanoip: ['ss', '-tanoip'],
    ssTanoi: ['ss', '-tanoi'],
    list: [process.execPath, CLI, 'list', '--json'],
    check: [process.execPath, CLI, 'check', '--no-state'],
  } as const;
  type Name = keyof typeof runs;
  const samples = Object.fromEntries(Object.keys(runs).map((k) => [k, [] as (Cost & { peakRssKb?: number })[]])) as Record<Name, (Cost & { peakRssKb?: number })[]>;
  for (let r = 0; r < rounds; r++) {
    progress(`${sockets}: one-shot round ${r + 1} of ${rounds}`);
    for (const [name, argv] of Object.entries(runs) as [Name, readonly string[]][]) {
      // GNU time around every run alike, for the peak RSS; check exits 1 or 2 when something is flagged.
      samples[name].push(await runToEnd(argv, { cwd: ROOT, peakRss: true, okCodes: [0, 1, 2] }));
    }
  }
  const summary = (name: Name) => ({
    cpuMs: median(samples[name].map((s) => s.cpuMs)),
    wallMs: median(samples[name].map((s) => s.wallMs)),
    peakRssKb: Math.max(...samples[name].map((s) => s.peakRssKb ?? NaN)),
  });
  return {
    sockets,
    serve: [],
    oneShot: { nodeStart: summary('nodeStart'), ssTanoip: summary('ssTanoip'), ssTanoi: summary('ssTanoi'), list: summary('list'), check: summary('check') },
  };
}

// ── Outside: populations, the run, the table ─────────────────────────────────────────────────────

async function outer(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('root only: it creates network namespaces (ip netns add)');
  const startedMs = Date.now();
  const loadStart = loadavg()[0]!;
  const sizes: SizeFigures[] = [];
  const plan: [number, 'long' | 'one-shot'][] = [
    ...sizeList(values.sizes!).map((n): [number, 'long'] => [n, 'long']),
    ...sizeList(values['one-shot-sizes']!).map((n): [number, 'one-shot'] => [n, 'one-shot']),
  ];
  plan.sort((a, b) => a[0] - b[0]);
  for (const [size, kind] of plan) {
    progress(`building ${size} sockets (load ${loadavg()[0]!.toFixed(2)})`);
    const population = await startPopulation(size, 0, values.prefix);
    try {
      const sockets = Object.values(population.counts).reduce((a, b) => a + b, 0);
      const args = ['--inner', `${kind}:${sockets}`, '--polls', String(polls), '--window', values.window!, '--rounds', String(rounds), '--interval', values.interval!, '--sources', values.sources!];
      sizes.push(JSON.parse(lastLine(await runScriptInNamespace(population.namespace, SELF, args, ROOT))) as SizeFigures);
    } finally {
      population.stop();
    }
  }
  const report = formatBenchReport(
    {
      date: new Date(startedMs).toISOString().slice(0, 10),
      kernel: release(),
      cores: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
      node: process.version,
      ss: execFileSync('ss', ['-V'], { encoding: 'utf8' }).trim(),
      loadStart,
      loadEnd: loadavg()[0]!,
      intervalMs,
      polls,
      servePolls,
      rounds,
      minutes: (Date.now() - startedMs) / 60_000,
    },
    sizes,
  );
  process.stdout.write(values.json ? `${JSON.stringify(sizes)}\n` : report);
  if (values.readme) {
    const readme = `${ROOT}README.md`;
    writeFileSync(readme, replaceBetweenMarkers(readFileSync(readme, 'utf8'), report));
    progress(`wrote the table into ${readme}`);
  }
}

async function inner(spec: string): Promise<void> {
  const [kind, sockets] = spec.split(':');
  const figures = kind === 'one-shot' ? await innerOneShot(Number(sockets)) : await innerLongRunning(Number(sockets));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

try {
  await (values.inner ? inner(values.inner) : outer());
} catch (error) {
  progress(`failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
