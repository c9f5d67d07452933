// npm run bench [-- --sizes 1000,10000,100000 --rounds 5]
//
// Builds socket populations on loopback inside a network namespace (populate-sockets.py), then, in
// the same run and alternating, times tcpdwell against its peers: `ss -tan`, `ss -tanoi`,
// `cat /proc/net/tcp /proc/net/tcp6` and systeminformation.networkConnections(). Prints a Markdown
// table of medians, peak RSS and ratios (the README's performance section reproduces it). Root only.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import { inNamespace, startPopulation } from './population.js';

const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const CLI = `${ROOT}dist/cli/main.js`;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    rounds: { type: 'string', default: '5' },
    inner: { type: 'boolean', default: false },
    rss: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);

/** Runs argv, reading all its output through a pipe, as the tcpdwell sources do. */
function capture(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(argv[0]!, argv.slice(1), { maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C' } }, (error) => (error ? reject(error) : resolve())));
}

/** Runs argv with its output thrown away (`> /dev/null`). */
function discard(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', openSync('/dev/null', 'w'), 'ignore'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * A monitor factory and the two per-poll costs of the long-running modes: serve and watch (poll +
 * evaluate, unranked, no owners), and the dashboard (the same, plus owners of the flagged rows).
 */
async function loadMonitoring() {
  const { Monitor } = await import('../src/app/monitor.js');
  const { defaultPolicy } = await import('../src/core/policy.js');
  const { nodePlatform } = await import('../src/platform/platform.js');
  const platform = nodePlatform();
  const policy = defaultPolicy();
  type AnyMonitor = InstanceType<typeof Monitor>;
  const pollOnly = async (monitor: AnyMonitor) => {
    const outcome = await monitor.poll();
    if (!outcome.ok) throw new Error(outcome.error);
  };
  return {
    monitor: (source: 'ss' | 'procfs') => new Monitor(platform, { source, procRoot: '/proc' }),
    poll: async (monitor: AnyMonitor) => {
      await pollOnly(monitor);
      await monitor.evaluate(policy, 'none', { ranked: false });
    },
    pollWithOwners: async (monitor: AnyMonitor) => {
      await pollOnly(monitor);
      await monitor.evaluate(policy, 'flagged', { ranked: false });
    },
  };
}

/** Inside the namespace: every measure once per round, in turn, so drift hits all alike. */
async function measureInside(): Promise<void> {
  const { monitor, poll, pollWithOwners } = await loadMonitoring();
  const si = await import('systeminformation');
  const warmSs = monitor('ss');
  const warmProcfs = monitor('procfs');
  await poll(warmSs);
  await poll(warmProcfs);
  const measures: Record<string, () => Promise<unknown>> = {
    'ss -tan': () => capture(['ss', '-tan']),
    'ss -tanoi': () => capture(['ss', '-tanoi']),
    'ss -tanoie (the argv tcpdwell runs)': () => capture(['ss', '-tanoie']),
    'cat /proc/net/tcp*': () => capture(['cat', '/proc/net/tcp', '/proc/net/tcp6']),
    'tcpdwell poll, ss source (long-running)': () => poll(warmSs),
    'tcpdwell poll, procfs source (long-running)': () => poll(warmProcfs),
    'tcpdwell poll + owners of flagged rows, ss source (dashboard)': () => pollWithOwners(warmSs),
    'tcpdwell first poll, ss source (one-shot, in process)': () => poll(monitor('ss')),
    'tcpdwell list --json > /dev/null (whole process)': () => discard([process.execPath, CLI, 'list', '--json']),
    'systeminformation.networkConnections()': () => si.networkConnections(),
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(measures).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(measures)) {
      const started = performance.now();
      await run();
      times[name]!.push(performance.now() - started);
    }
  }
  process.stdout.write(`${JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])))}\n`);
}

/** Inside the namespace: peak RSS of a long-running monitor (the dashboard's polls) holding the whole table, over 5 polls. */
async function measureRss(): Promise<void> {
  const { monitor, pollWithOwners } = await loadMonitoring();
  const long = monitor('ss');
  for (let i = 0; i < 5; i++) await pollWithOwners(long);
  process.stdout.write(`${JSON.stringify({ tracked: long.tracker.connections.size, maxRssKb: process.resourceUsage().maxRSS })}\n`);
}

function insideNamespace(namespace: string, args: string[]): string {
  return execFileSync('ip', inNamespace(namespace, [process.execPath, '--import', 'tsx', SELF, ...args]), {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    cwd: ROOT,
  });
}

async function main(): Promise<void> {
  if (values.inner) return measureInside();
  if (values.rss) return measureRss();
  const sizes = values.sizes!.split(',').map(Number);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on Linux ${release()}, ${cpus().length} × ${cpu}, Node ${process.version}, ${execFileSync('ss', ['-V'], { encoding: 'utf8' }).trim()}; medians of ${rounds} alternating rounds.`,
    '',
    '| sockets | measure | median | against its peer |',
    '|---:|---|---:|---|',
  ];
  for (const size of sizes) {
    const population = await startPopulation(size);
    try {
      const medians = JSON.parse(insideNamespace(population.namespace, ['--inner', '--rounds', String(rounds)])) as Record<string, number>;
      const rss = JSON.parse(insideNamespace(population.namespace, ['--rss'])) as { tracked: number; maxRssKb: number };
      // GNU time reports the peak RSS on stderr, after whatever the command wrote there.
      const timed = spawnSync('ip', inNamespace(population.namespace, ['/usr/bin/time', '-f', 'peak-rss-kb %M', process.execPath, CLI, 'list', '--json']), {
        encoding: 'utf8',
        stdio: ['ignore', 'ignore', 'pipe'],
        maxBuffer: 1 << 26,
      });
      const listRssKb = Number(/peak-rss-kb (\d+)/.exec(timed.stderr)?.[1] ?? NaN);
      const ratio = (name: string, peer: string, target: string) => `${(medians[name]! / medians[peer]!).toFixed(2)}× ${peer} (target ${target})`;
      const rows: [string, string][] = [
        ['ss -tan', '—'],
        ['ss -tanoi', '—'],
        ['ss -tanoie (the argv tcpdwell runs)', '—'],
        ['cat /proc/net/tcp*', '—'],
        ['tcpdwell poll, ss source (long-running)', ratio('tcpdwell poll, ss source (long-running)', 'ss -tanoi', '≤ 1.5×')],
        ['tcpdwell poll, procfs source (long-running)', ratio('tcpdwell poll, procfs source (long-running)', 'cat /proc/net/tcp*', '≤ 1.5×')],
        ['tcpdwell poll + owners of flagged rows, ss source (dashboard)', ratio('tcpdwell poll + owners of flagged rows, ss source (dashboard)', 'ss -tanoi', '—')],
        ['tcpdwell first poll, ss source (one-shot, in process)', ratio('tcpdwell first poll, ss source (one-shot, in process)', 'ss -tanoi', '—')],
        ['tcpdwell list --json > /dev/null (whole process)', `peak RSS ${(listRssKb / 1024).toFixed(0)} MB`],
        [
          'systeminformation.networkConnections()',
          `${(medians['systeminformation.networkConnections()']! / medians['tcpdwell poll, ss source (long-running)']!).toFixed(1)}× the tcpdwell ss poll (target ≥ 10×)`,
        ],
      ];
      const total = Object.values(population.counts).reduce((a, b) => a + b, 0);
      for (const [name, note] of rows) lines.push(`| ${total.toLocaleString('en')} | ${name} | ${medians[name]!.toFixed(0)} ms | ${note} |`);
      lines.push(`| ${total.toLocaleString('en')} | long-running peak RSS, ${rss.tracked.toLocaleString('en')} tracked | ${(rss.maxRssKb / 1024).toFixed(0)} MB | target < 200 MB at 100,000 |`);
    } finally {
      population.stop();
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
