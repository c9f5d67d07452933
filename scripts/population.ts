import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { readCpuMs } from './process-usage.js';

// A network namespace holding a socket population built by populate-sockets.py, for the
// benchmark and the soak. Root only (ip netns add). Everything made here is undone by the
// teardown, which runs at exit and on SIGINT, SIGTERM and SIGHUP (then exits 128 + the signal).

const teardowns = new Set<() => void>();
function runTeardowns(): void {
  for (const teardown of [...teardowns].reverse()) {
    teardowns.delete(teardown);
    try {
      teardown();
    } catch {
      // the others still run
    }
  }
}
let installed = false;

/**
 * Runs `teardown` once, at exit or on SIGINT/SIGTERM/SIGHUP (latest registered first), unless the
 * returned function removes it first (the thing was already undone).
 */
export function onTeardown(teardown: () => void): () => void {
  teardowns.add(teardown);
  if (!installed) {
    installed = true;
    process.once('exit', runTeardowns);
    for (const [signal, number] of [
      ['SIGINT', 2],
      ['SIGTERM', 15],
      ['SIGHUP', 1],
    ] as const) {
      process.once(signal, () => {
        runTeardowns();
        process.exit(128 + number);
      });
    }
  }
  return () => teardowns.delete(teardown);
}

const SCRIPT = new URL('./populate-sockets.py', import.meta.url).pathname;

export interface Population {
  namespace: string;
  counts: Record<string, number>;
  workers: number;
  stop(): void;
}

// `ip netns exec` gives the command its own mount namespace, without the host's cgroup2 mount, and
// without it ss -e fails per socket (see src/sources/linux/ss.ts). Mounting cgroup2 there, as a
// current host has it, measures the argv a host uses; it does not touch the host's mounts.
const WITH_CGROUP2 = ['sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; exec "$@"', 'sh'];

/** Processes started through startChild and not yet ended: ended (SIGTERM) by the teardown. */
const running = new Set<ChildProcess>();
let childTeardown: (() => void) | undefined;

/** A started child: its stdout is drained (read and dropped, as through a pipe) unless `onStdout` takes it; the tail of its stderr is kept unless `stderr: 'inherit'`. */
export interface StartedChild {
  child: ChildProcess;
  /** The last 2,000 characters of its stderr. */
  stderr(): string;
  /** Its exit code (null: ended by a signal), once its output is closed. */
  ended: Promise<number | null>;
}

/** Starts argv (no shell), ended by the teardown if still running then. */
export function startChild(argv: readonly string[], options: { cwd?: string; stderr?: 'inherit'; onStdout?: (chunk: Buffer) => void } = {}): StartedChild {
  childTeardown ??= onTeardown(() => running.forEach((child) => child.kill('SIGTERM')));
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', options.stderr ?? 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
  running.add(child);
  if (options.onStdout) child.stdout!.on('data', options.onStdout);
  else child.stdout!.resume();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const ended = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, stderr: () => stderr, ended };
}

/** The last line of a text (a command's answer or its error). */
export const lastLine = (text: string) => text.trim().split('\n').pop() ?? '';

/**
 * Runs argv to its end: wall time, and CPU from this process's cutime + cstime (the child's and
 * its waited-for children's; nothing else of ours ends meanwhile). With `peakRss`, under GNU time
 * for the child's peak RSS (its own CPU, a millisecond, is counted too). Rejects on an exit code
 * not in `okCodes` (default: 0 only). The benchmark's and measure-one-shot's one way to time a command.
 */
export async function runToEnd(
  argv: readonly string[],
  options: { cwd?: string; peakRss?: boolean; okCodes?: readonly number[] } = {},
): Promise<{ cpuMs: number; wallMs: number; peakRssKb?: number }> {
  const rssFile = `${tmpdir()}/tcpdwell-bench-b-${process.pid}-rss`;
  const full = options.peakRss ? ['/usr/bin/time', '-f', '%M', '-o', rssFile, ...argv] : argv;
  const cpuBefore = readCpuMs('self').children;
  const started = performance.now();
  const run = startChild(full, options.cwd ? { cwd: options.cwd } : {});
  const code = await run.ended;
  const wallMs = performance.now() - started;
  const cpuMs = readCpuMs('self').children - cpuBefore;
  if (!(options.okCodes ?? [0]).includes(code ?? -1)) throw new Error(`${argv.join(' ')} exited ${code}: ${lastLine(run.stderr())}`);
  if (!options.peakRss) return { cpuMs, wallMs };
  // GNU time writes "Command exited with non-zero status N" first when the exit is not 0.
  const peakRssKb = Number(lastLine(readFileSync(rssFile, 'utf8')));
  rmSync(rssFile, { force: true });
  return { cpuMs, wallMs, peakRssKb };
}

/**
 * Runs `node --import tsx script args` inside the namespace (cgroup2 mounted), its stderr straight
 * through (progress as it goes), and resolves with its stdout; rejects when it exits other than 0.
 * Async, so a signal to this process ends it (through the teardown) while it runs.
 */
export async function runScriptInNamespace(namespace: string, script: string, args: readonly string[], cwd: string): Promise<string> {
  let stdout = '';
  const run = startChild(['ip', ...inNamespace(namespace, [process.execPath, '--import', 'tsx', script, ...args])], {
    cwd,
    stderr: 'inherit',
    onStdout: (chunk) => (stdout += chunk.toString()),
  });
  const code = await run.ended;
  if (code !== 0) throw new Error(`${script.split('/').pop()} inside ${namespace} exited ${code}`);
  return stdout;
}

/** TCP sockets in a namespace: the lines of `ss -tanH` there (every state, listeners included). */
export function socketsIn(namespace: string): number {
  const text = execFileSync('ip', ['netns', 'exec', namespace, 'ss', '-tanH'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return text.split('\n').filter((l) => l.trim()).length;
}

/** The `ip` argv that runs argv inside the population's namespace, with cgroup2 mounted. */
export function inNamespace(namespace: string, argv: readonly string[]): string[] {
  return ['netns', 'exec', namespace, ...WITH_CGROUP2, ...argv];
}

export async function startPopulation(sockets: number, churnPerSecond = 0, namePrefix = 'tcpdwell-bench'): Promise<Population> {
  if (process.getuid?.() !== 0) throw new Error('needs root: it creates a network namespace (ip netns add)');
  const namespace = `${namePrefix}-${process.pid}-${sockets}`;
  execFileSync('ip', ['netns', 'add', namespace]);
  execFileSync('ip', ['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
  const args = ['netns', 'exec', namespace, 'python3', SCRIPT, '--sockets', String(sockets)];
  if (churnPerSecond) args.push('--churn-per-second', String(churnPerSecond));
  const helper = spawn('ip', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    forget();
    helper.stdin.end();
    helper.kill('SIGTERM');
    try {
      execFileSync('ip', ['netns', 'del', namespace]);
    } catch {
      // already gone
    }
  };
  const forget = onTeardown(stop);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: helper.stdout }).once('line', resolve);
    helper.once('exit', (code) => reject(new Error(`populate-sockets.py exited (${code})`)));
  });
  const ready = JSON.parse(line) as { counts: Record<string, number>; workers: number };
  return { namespace, counts: ready.counts, workers: ready.workers, stop };
}
