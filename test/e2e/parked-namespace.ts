import { execFile, execFileSync, spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { whyNoPrograms } from '../needs-program.js';

// A private network namespace holding loopback sessions parked in known states by
// scripts/park-sockets.py, and the built CLI run inside it. Every test that uses one removes it,
// and namespaces left by a killed run are removed by the next.

const ROOT = new URL('../..', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist/cli/main.js');
const NS_PREFIX = 'tcpdwell-e2e-';
const CONNTRACK_RULESET = 'table inet tcpdwell_test {\n  chain output { type filter hook output priority 0; ct state new,established,related accept; }\n}\n';
let created = 0;

export function whyNotRunnable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces (ip netns add)';
  return whyNoPrograms(['ip', 'iproute2', '-V'], ['python3', 'python3']);
}

export interface ParkedSocket {
  role: string;
  protocol: 'tcp' | 'tcp6';
  local: { address: string; port: number };
  remote: { address: string; port: number } | null;
  state: string;
  flag: 'half-open' | 'half-close' | 'idle' | null;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * /proc/net/tcp6's header with no row: IPv6 on, no socket (net/ipv6/tcp_ipv6.c tcp6_seq_show). A
 * --proc-root tree that is not procfs needs it: there a missing tcp6 proves nothing (not read).
 */
export const EMPTY_PROC_NET_TCP6 = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

/** Removes network namespace `name` if it is there (a test's own, before and after it runs). */
export function deleteNamespace(name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  } catch {
    // not there
  }
}

/** The built CLI run inside namespace `name`: its exit code and output (30 s at most). */
export function cliIn(name: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', name, process.execPath, CLI, ...args], { timeout: 30_000 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 99) : 0, stdout, stderr }));
  });
}

export class ParkedNamespace {
  readonly name = `${NS_PREFIX}${process.pid}-${++created}`;
  parked: ParkedSocket[] = [];
  parkedAtMs = 0;
  private helper: ChildProcessWithoutNullStreams | undefined;
  private lines: Interface | undefined;
  /** populate()'s script. */
  private populator: ChildProcess | undefined;

  /**
   * Creates the namespace and parks the sessions; resolves when the helper reports them. With
   * `trackConnections`, an nftables `ct state` rule makes the kernel's conntrack follow every flow.
   */
  async start(helperArgs: string[] = [], options: { trackConnections?: boolean } = {}): Promise<void> {
    this.create();
    if (options.trackConnections) {
      execFileSync('ip', ['netns', 'exec', this.name, 'nft', '-f', '-'], { input: CONNTRACK_RULESET });
    }
    this.helper = spawn('ip', ['netns', 'exec', this.name, 'python3', join(ROOT, 'scripts/park-sockets.py'), ...helperArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.lines = createInterface({ input: this.helper.stdout });
    const first = await this.nextLine(10_000);
    this.parked = (JSON.parse(first) as { sockets: ParkedSocket[] }).sockets;
    this.parkedAtMs = Date.now();
  }

  /**
   * Creates the namespace and fills it with `sockets` loopback sockets in the bench's mix
   * (scripts/populate-sockets.py: ESTABLISHED, CLOSE_WAIT, FIN_WAIT_2, TIME_WAIT, SYN_SENT to a full
   * listener, listeners); resolves when the script reports them. `stop()` ends it.
   */
  async populate(sockets: number): Promise<void> {
    this.create();
    const helper = spawn('ip', ['netns', 'exec', this.name, 'python3', join(ROOT, 'scripts/populate-sockets.py'), '--sockets', String(sockets)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.populator = helper;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: helper.stdout }).once('line', () => resolve());
      helper.once('exit', (code) => reject(new Error(`populate-sockets.py exited (${code})`)));
    });
  }

  /** Creates the namespace (`ip netns add`, loopback up) with nothing parked in it: for a test that parks its own sessions. */
  create(): void {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm test (it builds first)`);
    removeStaleNamespaces();
    execFileSync('ip', ['netns', 'add', this.name]);
    execFileSync('ip', ['netns', 'exec', this.name, 'ip', 'link', 'set', 'lo', 'up']);
  }

  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  /** Runs a command inside the namespace (a capture for --input). */
  exec(argv: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, ...argv], { encoding: 'utf8' });
  }

  /** Runs the built CLI inside the namespace, with `env` added to this process's environment. */
  tcpdwell(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile('ip', ['netns', 'exec', this.name, process.execPath, CLI, ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 99) : 0, stdout, stderr });
      });
    });
  }

  /** Has the helper use its socket on local `port`: the error name it fails with, or null. */
  async probe(port: number): Promise<string | null> {
    this.helper!.stdin.write(`probe ${port}\n`);
    return (JSON.parse(await this.nextLine(5000)) as { error: string | null }).error;
  }

  async waitUntilParkedFor(ms: number): Promise<void> {
    const left = this.parkedAtMs + ms - Date.now();
    if (left > 0) await delay(left);
  }

  stop(): void {
    this.populator?.stdin?.end();
    this.populator?.kill('SIGTERM');
    this.helper?.stdin.end();
    this.helper?.kill('SIGTERM');
    try {
      execFileSync('ip', ['netns', 'del', this.name]);
    } catch {
      // never created, or already gone
    }
  }

  private nextLine(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`park-sockets.py said nothing for ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null) => reject(new Error(`park-sockets.py exited early (${code})`));
      this.helper!.once('exit', onExit);
      this.lines!.once('line', (line) => {
        clearTimeout(timer);
        this.helper!.off('exit', onExit);
        resolve(line);
      });
    });
  }
}

/** Namespaces left by a test run that was killed before its cleanup ran. */
function removeStaleNamespaces(): void {
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name.startsWith(NS_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(NS_PREFIX.length).split('-')[0]);
    if (pid && isAlive(pid)) continue;
    try {
      execFileSync('ip', ['netns', 'del', name]);
    } catch {
      // raced with another cleanup
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
