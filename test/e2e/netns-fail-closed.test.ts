import { execFile, execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warnSkip, whyNoPrograms } from '../needs-program.js';
import { CLI, whyNotRunnable, type CliResult } from './parked-namespace.js';

// Fail closed with `--netns all` on the real kernel (session 11's break-it items 1 and 2). Each run
// is in a private mount and PID namespace (`unshare --mount --pid --fork --mount-proc`, mounts
// private): it sees only its own processes, every nsfs mount but this test's namespace is
// unmounted there (never on the host: other sessions' namespaces are left alone), and what it
// mounts over /run/netns/NAME is seen by it alone.

const NAME = `tcpdwell-failclosed-${process.pid}`;
const skip = whyNotRunnable() ?? whyNoPrograms(['unshare', 'util-linux'], ['setpriv', 'util-linux'], ['nsenter', 'util-linux']);
warnSkip('--netns fail-closed end-to-end tests', skip);

// Runs in the private namespaces: unmounts every other nsfs mount (last first; in `nobody` mode
// this test's too: the host's namespace alone, read through tcpdwell's own process), then does `mode`,
// then runs the CLI (argv after the mode) and exits with its code, its output passed through.
const PRIVATE = `
import os, subprocess, sys
name, mode, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
own = '/run/netns/' + name
# Not root: only the host's namespace, whose root processes (pid 1: this script) nobody cannot readlink.
keep = None if mode == 'nobody' else own
points = []
for line in open('/proc/self/mountinfo'):
    before, _, after = line.partition(' - ')
    point = before.split(' ')[4].replace('\\\\040', ' ')
    if after.startswith('nsfs ') and point != keep:
        points.append(point)
for point in reversed(points):
    subprocess.run(['umount', '-l', point], check=False)
if mode == 'cover':
    # Another namespace's file (this one's, the host's) bind-mounted over the name.
    subprocess.run(['mount', '--bind', '/proc/self/ns/net', own], check=True)
if mode == 'nobody':
    argv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] + argv
sys.exit(subprocess.run(argv).returncode)
`;

function runPrivate(mode: 'plain' | 'cover' | 'nobody', args: string[]): Promise<CliResult> {
  const argv = ['--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', '--', 'python3', '-c', PRIVATE, NAME, mode, process.execPath, CLI, ...args];
  return new Promise((resolve) => {
    execFile('unshare', argv, { timeout: 60_000, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 99) : 0, stdout, stderr });
    });
  });
}

interface JsonRow {
  netns?: { inode: number; names: string[] };
}

describe.skipIf(skip !== undefined)('--netns all fails closed on the real kernel', () => {
  let inode = 0;

  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', NAME]);
    try {
      inode = Number(/\d+/.exec(execFileSync('ip', ['netns', 'exec', NAME, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }))![0]);
    } catch (error) {
      execFileSync('ip', ['netns', 'delete', NAME]);
      throw error;
    }
  });

  afterAll(() => {
    try {
      execFileSync('ip', ['netns', 'delete', NAME], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  });

  it('as a control: the namespace and the host read, nothing flagged: OK', async () => {
    const { code, stderr } = await runPrivate('plain', ['check', '--netns', 'all', '--no-state']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 60_000);

  it('an ip netns name covered by another namespace’s bind mount is not read (UNKNOWN; was OK, exit 0), and no other table is shown under it (was the host’s)', async () => {
    const check = await runPrivate('cover', ['check', '--netns', 'all', '--source', 'ss', '--no-state']);
    expect(check.code).toBe(3);
    // check's notes are on stdout, before its status line.
    expect(check.stdout).toContain(`/run/netns/${NAME} is covered by another mount made over it, and no process is in it: it cannot be opened`);
    expect(check.stdout).toMatch(/^tcpdwell UNKNOWN - 1 network namespace not read/m);
    expect(check.stdout).not.toContain('is gone');
    // Through ss, nsenter would enter what covers it (the host's namespace) and its table would
    // be shown as this namespace's.
    const list = await runPrivate('cover', ['list', '--netns', 'all', '--source', 'ss', '--json']);
    const rows = JSON.parse(list.stdout) as JsonRow[];
    expect(rows.filter((r) => r.netns?.inode === inode)).toEqual([]);
  }, 60_000);

  for (const source of ['netlink', 'ss', 'procfs']) {
    it(`--netns NAME --source ${source} of a name another namespace's file is bound over: refused in one line, exit 3 (was nothing, exit 0: the host's table read as NAME's)`, async () => {
      const check = await runPrivate('cover', ['check', '--netns', NAME, '--source', source, '--no-state']);
      expect(check.code).toBe(3);
      // check says it in its one status line.
      expect(check.stderr).toBe('');
      expect(check.stdout.trim().split('\n')).toHaveLength(1);
      expect(check.stdout).toMatch(new RegExp(`^tcpdwell UNKNOWN - the network namespace named "${NAME}" cannot be opened: /run/netns/${NAME} is covered by another mount made over it`));
      const byPath = await runPrivate('cover', ['check', '--netns', `/run/netns/${NAME}`, '--source', source, '--no-state']);
      expect(byPath.code).toBe(3);
      expect(byPath.stdout).toMatch(new RegExp(`^tcpdwell UNKNOWN - /run/netns/${NAME} cannot be opened as the namespace mounted there`));
      const list = await runPrivate('cover', ['list', '--netns', NAME, '--source', source, '--json']);
      expect(list.code).toBe(3);
      expect(list.stdout).toBe('');
      expect(list.stderr.trim().split('\n')).toHaveLength(1);
    }, 60_000);
  }

  it('--netns all: the covering namespace (the host’s) is not labelled with the covered name (was)', async () => {
    const list = await runPrivate('cover', ['list', '--netns', 'all', '--source', 'netlink', '--json']);
    const rows = JSON.parse(list.stdout) as JsonRow[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => r.netns?.names.includes(NAME))).toEqual([]);
    const plain = await runPrivate('plain', ['list', '--netns', NAME, '--source', 'netlink', '--json']);
    expect(plain.code).toBe(0);
  }, 60_000);

  it('not root: the links of root’s processes cannot be read, so nothing flagged is UNKNOWN (exit 3), naming them (was OK, exit 0)', async () => {
    const { code, stdout, stderr } = await runPrivate('nobody', ['check', '--netns', 'all', '--source', 'procfs', '--no-state']);
    expect(code).toBe(3);
    expect(stdout).toMatch(/^tcpdwell UNKNOWN/m);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/network namespace link could not be read \(permission denied: run as root, or give CAP_SYS_PTRACE\) \(pid 1: EACCES/);
    expect(stdout).toMatch(/^tcpdwell UNKNOWN - .*the network namespace links of \d+ process(es)? not read/m);
  }, 60_000);
});
