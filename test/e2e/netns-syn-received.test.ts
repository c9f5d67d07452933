import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warnSkip } from '../needs-program.js';
import { CLI, whyNotRunnable, type CliResult } from './parked-namespace.js';

// A SYN_RECEIVED in a namespace no process is in, on the real kernel (break-it item of session 11):
// a root process enters an `ip netns` namespace (setns), opens a TCP_DEFER_ACCEPT listener there and
// connects to it (the bare final ACK is ignored: the request socket stays in SYN-RECV), then goes
// back to the host's namespace. The namespace is held by its /run/netns mount alone, so no
// /proc/<pid>/net/tcp shows its request socket's timeout count (its age): the netlink source's
// worker reads /proc/thread-self/net/tcp while it is in the namespace, ss's place runs cat there.

// TCPDWELL_E2E_NETNS_PREFIX: sessions sharing the machine name theirs apart.
const NAME = `${process.env.TCPDWELL_E2E_NETNS_PREFIX ?? 'tcpdwell-e2e-'}synrecv-${process.pid}`;
const skip = whyNotRunnable();
warnSkip('SYN_RECEIVED in a namespace no process is in, end-to-end tests', skip);

const HOLDER = `
import ctypes, os, socket, subprocess, sys
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
def enter(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), 'setns')
home = os.open('/proc/self/ns/net', os.O_RDONLY)
enter(os.open('/run/netns/' + sys.argv[1], os.O_RDONLY))
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 60)
listener.listen(8)
client = socket.socket()
client.connect(listener.getsockname())
enter(home)
print(os.readlink('/proc/self/ns/net'), flush=True)
sys.stdin.read()
`;

function cli(args: string[], inside = false): Promise<CliResult> {
  const argv = inside ? ['ip', ['netns', 'exec', NAME, process.execPath, CLI, ...args]] : [process.execPath, [CLI, ...args]];
  return new Promise((resolve) => {
    execFile(argv[0] as string, argv[1] as string[], { timeout: 30_000 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 99) : 0, stdout, stderr }));
  });
}

describe.skipIf(skip !== undefined)('a SYN_RECEIVED in a namespace no process is in', () => {
  let holder: ChildProcessWithoutNullStreams | undefined;

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', NAME]);
    holder = spawn('python3', ['-c', HOLDER, NAME], { stdio: ['pipe', 'pipe', 'pipe'] });
    const ready = await new Promise<string>((resolve, reject) => {
      createInterface({ input: holder!.stdout }).once('line', resolve);
      holder!.once('exit', (code) => reject(new Error(`holder exited (${code}): ${holder!.stderr.read() ?? ''}`)));
    });
    // Back in the host's namespace: nothing but the mount holds NAME.
    expect(ready).toBe(execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).trim());
    expect(execFileSync('ip', ['netns', 'pids', NAME], { encoding: 'utf8' }).trim()).toBe('');
    // Three timer expiries (1 + 2 s) prove it over 2 s where procfs is read.
    await delay(3_500);
  }, 20_000);

  afterAll(() => {
    holder?.stdin.end();
    holder?.kill();
    try {
      execFileSync('ip', ['netns', 'delete', NAME], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  });

  it('as a control: run inside the namespace (its /proc/self/net shows the count), check warns (exit 1)', async () => {
    const { code, stdout } = await cli(['check', '--no-state', '--half-open', '2s', '--idle', 'off'], true);
    expect(stdout).toMatch(/^WARNING half-open: SYN_RECEIVED/m);
    expect(code).toBe(1);
  }, 30_000);

  for (const source of ['netlink', 'ss']) {
    it(`check --netns NAME --source ${source} warns as inside (exit 1): the age read in the namespace itself (was UNKNOWN, exit 3: not read)`, async () => {
      const { code, stdout } = await cli(['check', '--netns', NAME, '--source', source, '--no-state', '--half-open', '2s', '--idle', 'off', '--all']);
      expect(stdout).toMatch(/^WARNING half-open: SYN_RECEIVED/m);
      expect(stdout).not.toContain('not read');
      expect(code).toBe(1);
    }, 30_000);
  }
});
