// npx tsx scripts/measure-one-shot.ts [--sockets 40000] [--rounds 5] [--before DIR/dist/cli/main.js] [--name-prefix P]
//                                      [--namespace NAME] [--hide-processes PID,PID…]
//
// Issue 15 part 4's one-shot targets, whole process: `tcpdwell list --json` against `ss -tanoip`
// (which also walks /proc for owners) and `tcpdwell check --no-state` against `ss -tanoi`, at a
// loopback population built in a network namespace (population.ts). Node's own start-up
// (`node -e 0`) is measured in the same rounds and subtracted from tcpdwell's figures, as the
// targets ask. Every command runs once per round, in turn, so load drift hits all alike; medians
// of wall time and of CPU (user + system, children included: ss's, and tcpdwell's worker threads)
// are printed as JSON and a Markdown table. `--before` times a second build (e.g. main's) in the
// same rounds. Root only (ip netns add); the namespace is removed at the end. `--namespace` measures
// against a population already held there (left as it is). `--hide-processes` bind-mounts an empty
// directory over /proc/PID of each process named, inside the measurement's own mount namespace
// (`ip netns exec` gives it one; the host's /proc is untouched), for every command alike: `ss -p`
// walks every process's fds, so another session's held population (96,000 sockets) adds seconds
// to `ss -tanoip` and nothing to tcpdwell, which walks only the namespace's processes. (ss's
// PROC_ROOT would not do: with it set, ss reads /proc/net/tcp instead of asking sock_diag.)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './bench-table.js';
import { inNamespace, runToEnd, socketsIn, startPopulation } from './population.js';

const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const CLI = `${ROOT}dist/cli/main.js`;

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '40000' },
    rounds: { type: 'string', default: '5' },
    before: { type: 'string' },
    inner: { type: 'boolean', default: false },
    'name-prefix': { type: 'string', default: 'tcpdwell-one-shot' },
    namespace: { type: 'string' },
    'hide-processes': { type: 'string' },
  },
});

/** The exits of a run that was measured: check gives 1 or 2 when something is flagged. */
const ONE_SHOT_EXITS = [0, 1, 2];

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** Inside the namespace: every command once per round, in turn; prints the medians as JSON. */
async function measureInside(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'tcpdwell-one-shot-'));
  const node = process.execPath;
  const builds: [string, string][] = [['', CLI]];
  if (values.before) builds.push([' (before)', values.before]);
  const commands: Record<string, string[]> = {
    'node -e 0 (start-up)': [node, '-e', '0'],
    'ss -tanoip': ['ss', '-tanoip'],
    'ss -tanoi': ['ss', '-tanoi'],
  };
  for (const [suffix, cli] of builds) {
    commands[`tcpdwell list --json${suffix}`] = [node, cli, 'list', '--json'];
    commands[`tcpdwell check --no-state${suffix}`] = [node, cli, 'check', '--no-state'];
  }
  const runs: Record<string, Timing[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  const empty = join(scratch, 'empty');
  const hidden = values['hide-processes']?.split(',') ?? [];
  try {
    // This process runs in the mount namespace `ip netns exec` made for it: mounts here stay here.
    mkdirSync(empty);
    for (const pid of hidden) {
      if (!/^\d+$/.test(pid)) throw new Error(`--hide-processes: ${pid} is not a pid`);
      execFileSync('mount', ['--bind', empty, `/proc/${pid}`]);
    }
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [name, argv] of Object.entries(commands)) runs[name]!.push(await runToEnd(argv, { cwd: ROOT, peakRss: true, okCodes: ONE_SHOT_EXITS }));
    }
  } finally {
    for (const pid of hidden) {
      try {
        execFileSync('umount', [`/proc/${pid}`], { stdio: 'ignore' });
      } catch {
        // not mounted (a pid refused above)
      }
    }
    rmSync(scratch, { recursive: true, force: true });
  }
  const medians = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { wallMs: median(v.map((t) => t.wallMs)), cpuMs: median(v.map((t) => t.cpuMs)) }]));
  process.stdout.write(`${JSON.stringify(medians)}\n`);
}

async function main(): Promise<void> {
  if (values.inner) return measureInside();
  const sockets = Number(values.sockets);
  const population = values.namespace
    ? { namespace: values.namespace, counts: { sockets: socketsIn(values.namespace) }, stop: () => undefined }
    : await startPopulation(sockets, 0, values['name-prefix']);
  try {
    const total = Object.values(population.counts).reduce((a, b) => a + b, 0);
    const load = execFileSync('uptime', { encoding: 'utf8' }).trim();
    const args = ['--inner', '--rounds', String(values.rounds)];
    if (values.before) args.push('--before', values.before);
    if (values['hide-processes']) args.push('--hide-processes', values['hide-processes']);
    const out = execFileSync('ip', inNamespace(population.namespace, [process.execPath, '--import', 'tsx', SELF, ...args]), { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 });
    const medians = JSON.parse(out) as Record<string, Timing>;
    const startup = medians['node -e 0 (start-up)']!;
    const lines = [
      `${total} sockets (${JSON.stringify(population.counts)}), medians of ${values.rounds} alternating rounds; load before: ${load}; after: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`,
      '',
      '| command | wall ms | CPU ms | wall − node start-up | ratio (wall) | ratio (CPU) |',
      '|---|---:|---:|---:|---:|---:|',
    ];
    for (const [name, t] of Object.entries(medians)) {
      const tcpdwell = name.startsWith('tcpdwell');
      const peer = name.startsWith('tcpdwell list') ? medians['ss -tanoip']! : medians['ss -tanoi']!;
      const wall = tcpdwell ? t.wallMs - startup.wallMs : t.wallMs;
      const cpu = tcpdwell ? t.cpuMs - startup.cpuMs : t.cpuMs;
      const ratios = tcpdwell ? [`${(wall / peer.wallMs).toFixed(2)}× ${name.startsWith('tcpdwell list') ? 'ss -tanoip' : 'ss -tanoi'}`, `${(cpu / peer.cpuMs).toFixed(2)}×`] : ['', ''];
      lines.push(`| ${name} | ${t.wallMs.toFixed(0)} | ${t.cpuMs.toFixed(0)} | ${tcpdwell ? wall.toFixed(0) : ''} | ${ratios.join(' | ')} |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    population.stop();
  }
}

await main();
