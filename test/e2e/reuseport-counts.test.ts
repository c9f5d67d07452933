import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warnSkip } from '../needs-program.js';
import { cliIn, deleteNamespace, whyNotRunnable } from './parked-namespace.js';

// Break-it pass, on the real kernel: three SO_REUSEPORT listeners on 0.0.0.0:P, two held by one
// process, the third by its child. The tracker keeps one LISTEN row for the group; count rules
// counted that row once, under the first listed listener's owner: per process and per port said OK.

const NAME = `tcpdwell-counts-${process.pid}`;
const skip = whyNotRunnable();
warnSkip('SO_REUSEPORT count rules end-to-end tests', skip);

const HOLDER = `
import os, socket, sys
def listener(port=0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(('0.0.0.0', port))
    s.listen(16)
    return s
a = listener()
port = a.getsockname()[1]
b = listener(port)
r, w = os.pipe()
child = os.fork()
if child == 0:
    a.close(); b.close()  # inherited: each listener held by one process only
    c = listener(port)
    os.write(w, b'x')
    sys.stdin.read()
    os._exit(0)
os.read(r, 1)
print(port, os.getpid(), child, flush=True)
sys.stdin.read()
os.kill(child, 9)
`;

describe.skipIf(skip !== undefined)('count rules over an SO_REUSEPORT group of three listeners in two processes, on the real kernel', () => {
  let holder: ChildProcessWithoutNullStreams | undefined;
  let port = 0;
  let parent = 0;
  let child = 0;
  const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-counts-'));
  const config = join(dir, 'counts.yaml');

  beforeAll(async () => {
    deleteNamespace(NAME);
    execFileSync('ip', ['netns', 'add', NAME]);
    try {
      execFileSync('ip', ['netns', 'exec', NAME, 'ip', 'link', 'set', 'lo', 'up']);
      holder = spawn('ip', ['netns', 'exec', NAME, 'python3', '-c', HOLDER], { stdio: ['pipe', 'pipe', 'pipe'] });
      [port, parent, child] = (
        await new Promise<string>((resolve, reject) => {
          createInterface({ input: holder!.stdout }).once('line', resolve);
          holder!.once('exit', (code) => reject(new Error(`holder exited (${code}): ${holder!.stderr.read() ?? ''}`)));
        })
      )
        .split(' ')
        .map(Number) as [number, number, number];
      writeFileSync(
        config,
        `counts:\n` +
          `  - { name: listen-per-proc, state: LISTEN, per: process, warning: 1, match: { local-port: ${port} } }\n` +
          `  - { name: listen-per-port, state: LISTEN, per: local-port, warning: 2, match: { local-port: ${port} } }\n` +
          `  - { name: listen-per-remote, state: LISTEN, per: remote-address, warning: 2, match: { local-port: ${port} } }\n`,
      );
    } catch (error) {
      holder?.kill();
      deleteNamespace(NAME);
      throw error;
    }
  }, 20_000);

  afterAll(() => {
    holder?.stdin.end();
    holder?.kill();
    if (child) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // gone with its parent
      }
    }
    deleteNamespace(NAME);
    rmSync(dir, { recursive: true, force: true });
  });

  it('as ss shows it: three listeners on the port', () => {
    const ss = execFileSync('ip', ['netns', 'exec', NAME, 'ss', '-tlnH', `sport = :${port}`], { encoding: 'utf8' });
    expect(ss.trim().split('\n')).toHaveLength(3);
  });

  // ss under \`ip netns exec\` (no cgroup2 mount there) runs without -e: its rows carry no inode, and
  // /proc/net/tcp lists the group's 4-tuple three times, so which listener each inode is cannot be
  // told, and the owners differ: the count per process is unproven (UNKNOWN), never one process's 3.
  it('check --source ss without inodes: the per-port counts stand, the per-process count is UNKNOWN, not one process holding 3', async () => {
    const { code, stdout } = await cliIn(NAME, ['check', '--no-state', '--source', 'ss', '--config', config, '--idle', 'off', '--format', 'nagios']);
    expect(stdout, stdout).toMatch(/^TCPDWELL WARNING/);
    expect(stdout).toContain('count_listen-per-port=3;2;;0');
    expect(stdout).not.toContain('count_listen-per-proc=3');
    expect(code).toBe(1);
    const perProcess = join(dir, 'per-process.yaml');
    writeFileSync(perProcess, `counts:\n  - { name: listen-per-proc, state: LISTEN, per: process, warning: 1, match: { local-port: ${port} } }\n`);
    const alone = await cliIn(NAME, ['check', '--no-state', '--source', 'ss', '--config', perProcess, '--idle', 'off', '--format', 'nagios']);
    expect(alone.stdout, alone.stdout).toMatch(/^TCPDWELL UNKNOWN - .*owners of some sockets could not be read/);
    expect(alone.code).toBe(3);
  }, 30_000);

  for (const source of ['netlink', 'procfs']) {
    it(`check --source ${source}: every listener counted, two under the parent, one under the child`, async () => {
      const { code, stdout } = await cliIn(NAME, ['check', '--no-state', '--source', source, '--config', config, '--idle', 'off', '--format', 'nagios']);
      expect(stdout, stdout).toMatch(/^TCPDWELL WARNING/);
      expect(stdout).toContain('count_listen-per-port=3;2;;0');
      expect(stdout).toContain('count_listen-per-remote=3;2;;0');
      expect(stdout).toContain('count_listen-per-proc=2;1;;0');
      expect(stdout).toContain(`python3[${parent}]`);
      expect(stdout).not.toContain(`python3[${child}]`);
      expect(code).toBe(1);
    }, 30_000);
  }
});
