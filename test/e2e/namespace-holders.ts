import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI, type CliResult } from './parked-namespace.js';

// What the --netns end-to-end tests share: a python3 process holding one half-closed loopback
// session in a namespace of its own, and the built CLI run on the host.

/**
 * python3 source parking one half-closed session on fixed ports in the namespace it runs in: the
 * client shuts down its sending side, so the accepted socket sits in CLOSE_WAIT and the client in
 * FIN_WAIT_2 while the process lives. It prints `{"pid", "netns"}` once parked and holds until stdin closes.
 */
export function halfClosedHolder(serverPort: number, clientPort: number): string {
  return `
import json, os, socket, subprocess, sys
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', ${serverPort})); srv.listen(8)
cli = socket.socket(); cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
cli.bind(('127.0.0.1', ${clientPort})); cli.connect(('127.0.0.1', ${serverPort}))
acc, _ = srv.accept()
cli.shutdown(socket.SHUT_WR)
print(json.dumps({'pid': os.getpid(), 'netns': os.readlink('/proc/self/ns/net')}), flush=True)
sys.stdin.read()
`;
}

/** A holder process: its pid and the inode of its network namespace. */
export interface Holder {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  inode: number;
}

/** `net:[4026532177]` → 4026532177. */
export const netnsInodeOf = (link: string) => Number(/\d+/.exec(link)![0]);

/** Holder processes started by a test file, all stopped by `stopAll` (an afterAll, so a failing test leaves none). */
export class Holders {
  private readonly children: ChildProcessWithoutNullStreams[] = [];

  /** Runs `argv` (e.g. `unshare --net -- python3 -c SOURCE`) and waits up to 10 s for its `{"pid", "netns"}` line. */
  start(argv: string[]): Promise<Holder> {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.push(child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} said nothing in 10 s`)), 10_000);
      child.once('exit', (code) => reject(new Error(`${argv[0]} exited early (${code})`)));
      createInterface({ input: child.stdout }).once('line', (line) => {
        clearTimeout(timer);
        const { pid, netns } = JSON.parse(line) as { pid: number; netns: string };
        resolve({ child, pid, inode: netnsInodeOf(netns) });
      });
    });
  }

  stopAll(): void {
    for (const child of this.children) {
      child.stdin.end();
      child.kill('SIGKILL');
    }
  }
}

/** The built CLI on the host (its own namespace is the host's). */
export function tcpdwellOnHost(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    // `--netns all` reads every namespace on the host, other sessions' too (one may hold 100,000
    // sockets): room for their rows, so the answer is judged, not cut at execFile's 1 MiB default.
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000, maxBuffer: 1 << 28 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 99) : 0, stdout, stderr });
    });
  });
}
