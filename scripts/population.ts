import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

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
