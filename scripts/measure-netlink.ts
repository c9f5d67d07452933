// tsx scripts/measure-netlink.ts [--sizes 10000,100000] [--rounds 5]   (root; not part of npm test)
//
// A quick measure of the netlink (sock_diag) source against `ss -tanoi`, in the same run, on a
// loopback population built in a network namespace this script creates and removes
// (populate-sockets.py). Inside the namespace, alternating, per round:
//   netlink     NetlinkSource.read(): both dumps with tcp_info, parsed into rows (this process's CPU,
//               worker thread included: process.cpuUsage is process-wide);
//   ss -tanoi   the command alone, its output read through a pipe (the child's CPU, from the
//               cutime/cstime of /proc/self/stat, plus this process's reading);
//   ss source   tcpdwell's ss source read: the same command plus the parse into rows.
// Prints medians (wall ms, CPU ms) and the CPU ratios netlink / ss -tanoi and netlink / ss source.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startPopulation } from './population.js';

const SELF = new URL(import.meta.url).pathname;
const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10000,100000' }, rounds: { type: 'string', default: '5' }, inner: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** This process's children's CPU so far (waited-for children), in ms: /proc/self/stat cutime + cstime, in clock ticks of 10 ms. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is 3rd overall, so cutime (16th) and cstime (17th) are at 13 and 14 here.
  return (Number(fields[13]) + Number(fields[14])) * 10;
}
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function measure<T>(run: () => Promise<T>): Promise<{ wallMs: number; cpuMs: number; result: T }> {
  const wall = performance.now();
  const own = ownCpuMs();
  const children = childrenCpuMs();
  const result = await run();
  return { wallMs: performance.now() - wall, cpuMs: ownCpuMs() - own + childrenCpuMs() - children, result };
}

async function inner(): Promise<void> {
  const { NetlinkSource } = await import('../src/sources/linux/netlink.js');
  const { ssSource } = await import('../src/sources/linux/ss.js');
  const { nodePlatform } = await import('../src/platform/platform.js');
  const platform = nodePlatform();
  const netlink = new NetlinkSource();
  const runSs = () =>
    new Promise<number>((resolve, reject) =>
      execFile('ss', ['-tanoi'], { maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C' } }, (error, stdout) => (error ? reject(error) : resolve(stdout.length))),
    );
  const samples: Record<string, { wallMs: number[]; cpuMs: number[]; rows: number }> = {};
  const note = (name: string, m: { wallMs: number; cpuMs: number }, rows: number) => {
    const entry = (samples[name] ??= { wallMs: [], cpuMs: [], rows });
    entry.wallMs.push(m.wallMs);
    entry.cpuMs.push(m.cpuMs);
  };
  await netlink.read(platform, { procRoot: '/proc' }); // start the worker and load the library once, as a long-running monitor does
  for (let i = 0; i < rounds; i++) {
    const a = await measure(() => netlink.read(platform, { procRoot: '/proc' }));
    note('netlink', a, a.result.rows.length);
    const b = await measure(runSs);
    note('ss -tanoi', b, 0);
    const c = await measure(() => ssSource.read(platform, { procRoot: '/proc' }));
    note('ss source', c, c.result.rows.length);
  }
  netlink.close();
  console.log(JSON.stringify(Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { wallMs: median(v.wallMs), cpuMs: median(v.cpuMs), rows: v.rows }]))));
}

async function outer(): Promise<void> {
  console.log(
    `Linux ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, Node ${process.version}, ${execFileSync('ss', ['-V'], { encoding: 'utf8' }).trim()}; medians of ${rounds} alternating rounds`,
  );
  console.log('| sockets | netlink wall / CPU ms | ss -tanoi wall / CPU ms | ss source wall / CPU ms | CPU netlink ÷ ss -tanoi | CPU netlink ÷ ss source |');
  console.log('|---|---|---|---|---|---|');
  for (const size of values.sizes!.split(',').map(Number)) {
    const population = await startPopulation(size, 0, 'tcpdwell-n-measure');
    try {
      const out = execFileSync('ip', ['netns', 'exec', population.namespace, process.execPath, '--import', 'tsx', SELF, '--inner', '--rounds', String(rounds)], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, { wallMs: number; cpuMs: number; rows: number }>;
      const n = r['netlink']!,
        s = r['ss -tanoi']!,
        p = r['ss source']!;
      const f = (x: { wallMs: number; cpuMs: number }) => `${x.wallMs.toFixed(0)} / ${x.cpuMs.toFixed(0)}`;
      console.log(`| ${n.rows} | ${f(n)} | ${f(s)} | ${f(p)} | ${(n.cpuMs / s.cpuMs).toFixed(2)} | ${(n.cpuMs / p.cpuMs).toFixed(2)} |`);
    } finally {
      population.stop();
    }
  }
}

await (values.inner ? inner() : outer());
