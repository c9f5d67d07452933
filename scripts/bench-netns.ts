// npm run bench:netns [-- --namespaces 50 --sockets 200 --rounds 5 --prefix tcpdwell-bench-netns-]
//
// What `--netns all` costs: makes N network namespaces (`ip netns add`), each holding a loopback
// socket population (populate-sockets.py), then times one `tcpdwell list --netns all --json` (a
// whole run: start, discovery, one read per namespace, owners) through netlink (its worker entering
// each namespace), ss (nsenter) and procfs, against a plain `tcpdwell list --json` of the host
// namespace alone: wall time and CPU time (user + system of the run and every process it waited
// for, nsenter and ss included). Prints a Markdown table of medians. Root only; every namespace and
// process it makes is removed, even on failure. `--netns all` reads every namespace the host shows:
// on a shared machine, run it where only its own are seen, e.g.
//   unshare --mount --pid --fork --mount-proc -- sh -c 'mount -t tmpfs bench /run/netns && npx tsx scripts/bench-netns.ts'
// (a private /proc and /run/netns: the namespaces of this run and the host's alone).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { median } from './bench-table.js';
import { readCpuMs } from './process-usage.js';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = `${ROOT}dist/cli/main.js`;

const { values } = parseArgs({
  options: {
    namespaces: { type: 'string', default: '50' },
    sockets: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    prefix: { type: 'string', default: 'tcpdwell-bench-netns-' },
  },
});
const count = Number(values.namespaces);
const sockets = Number(values.sockets);
const rounds = Number(values.rounds);
const names = Array.from({ length: count }, (_, i) => `${values.prefix}${process.pid}-${i}`);
const holders: ChildProcess[] = [];

function cleanUp(): void {
  for (const holder of holders) holder.kill('SIGTERM');
  for (const name of names) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // not made, or gone
    }
  }
}

/** One namespace with `sockets` loopback sockets held by populate-sockets.py; resolves when built. */
function populate(name: string): Promise<void> {
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  const holder = spawn('ip', ['netns', 'exec', name, 'python3', `${ROOT}scripts/populate-sockets.py`, '--sockets', String(sockets)], { stdio: ['pipe', 'pipe', 'inherit'] });
  holders.push(holder);
  return new Promise((resolve, reject) => {
    holder.once('exit', (code) => reject(new Error(`populate-sockets.py in ${name} exited (${code})`)));
    createInterface({ input: holder.stdout! }).once('line', () => resolve());
  });
}

/** CPU time of the processes this one has waited for, in ms. */
const childrenCpuMs = () => readCpuMs('self').children;

/** Wall and CPU time of one CLI run, its output thrown away. */
function timeRun(args: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  const started = process.hrtime.bigint();
  const cpuBefore = childrenCpuMs();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', openSync('/dev/null', 'w'), 'ignore'] });
    child.once('exit', (code) =>
      code === 0 || code === 1 || code === 2
        ? resolve({ wallMs: Number(process.hrtime.bigint() - started) / 1e6, cpuMs: childrenCpuMs() - cpuBefore })
        : reject(new Error(`tcpdwell ${args.join(' ')} exited ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('root only: it creates network namespaces');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (cleanUp(), process.exit(130)));
  // Built a few at a time: each is a python process opening sockets.
  for (let i = 0; i < names.length; i += 5) await Promise.all(names.slice(i, i + 5).map(populate));
  const runs: [string, string[]][] = [
    ['host namespace only (`list`)', ['list', '--json']],
    [`--netns all, netlink (worker enters each)`, ['list', '--netns', 'all', '--source', 'netlink', '--json']],
    [`--netns all, ss through nsenter`, ['list', '--netns', 'all', '--source', 'ss', '--json']],
    [`--netns all, procfs`, ['list', '--netns', 'all', '--source', 'procfs', '--json']],
  ];
  const times = new Map<string, number[]>(runs.map(([label]) => [label, []]));
  const cpu = new Map<string, number[]>(runs.map(([label]) => [label, []]));
  // Alternating, so load changes on the machine fall on every variant alike.
  for (let round = 0; round < rounds; round++)
    for (const [label, args] of runs) {
      const { wallMs, cpuMs } = await timeRun(args);
      times.get(label)!.push(wallMs);
      cpu.get(label)!.push(cpuMs);
    }
  const base = median(times.get(runs[0]![0])!);
  console.log(`${count} namespaces × ${sockets} sockets (+ the host's), ${rounds} rounds, Linux ${release()}, ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)}\n`);
  const baseCpu = median(cpu.get(runs[0]![0])!);
  console.log('| run | median wall ms | per extra namespace ms | median CPU ms | CPU per extra namespace ms |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [label] of runs) {
    const ms = median(times.get(label)!);
    const cpuMs = median(cpu.get(label)!);
    const first = label === runs[0]![0];
    console.log(`| ${label} | ${ms.toFixed(0)} | ${first ? '-' : ((ms - base) / count).toFixed(1)} | ${cpuMs.toFixed(0)} | ${first ? '-' : ((cpuMs - baseCpu) / count).toFixed(1)} |`);
  }
}

main()
  .catch((error: unknown) => {
    console.error(`bench-netns: ${(error as Error).message}`);
    process.exitCode = 1;
  })
  .finally(cleanUp);
