import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, EMPTY_PROC_NET_TCP6 } from './parked-namespace.js';

// A write to stdout that fails must never end in a success exit, whatever the command and format:
// the built CLI with stdout on a full device (ENOSPC), on a descriptor open for reading only
// (EBADF), and on a pipe whose reader left (EPIPE: quiet, the reader chose to stop). Every command
// reads a procfs tree written here (--source procfs --proc-root), nothing of this host.

const skip = process.platform !== 'linux' || !existsSync('/dev/full') ? 'needs Linux and /dev/full' : undefined;
const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-failed-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Written for the test: /proc/net/tcp rows in the kernel's format (a LISTEN on 8080, a CLOSE_WAIT
// 127.0.0.1:40000 -> 127.0.0.1:8080), under a tree that lists `self` as a procfs root does.
const proc = join(dir, 'proc');
mkdirSync(join(proc, 'net'), { recursive: true });
mkdirSync(join(proc, 'self'));
writeFileSync(
  join(proc, 'net', 'tcp'),
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n' +
    '   1: 0100007F:9C40 0100007F:1F90 08 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 100 0 0 10 0\n',
);
writeFileSync(join(proc, 'net', 'tcp6'), EMPTY_PROC_NET_TCP6);
const TREE = ['--source', 'procfs', '--proc-root', proc];

/** Every command and format that writes to stdout, each with a table to write about. */
const COMMANDS: string[][] = [
  ['list', ...TREE],
  ['list', '--json', ...TREE],
  ['list', '--watch', '1s', '--iterations', '2', ...TREE],
  ['check', '--no-state', '--all', ...TREE],
  ['check', '--no-state', '--json', ...TREE],
  ['check', '--no-state', '--format', 'nagios', ...TREE],
  ['explain', '127.0.0.1:40000-127.0.0.1:8080', ...TREE],
  ['explain', '--json', '127.0.0.1:40000-127.0.0.1:8080', ...TREE],
  ['explain', 'CLOSE_WAIT'],
  ['reset', '--state', 'CLOSE_WAIT', ...TREE],
  ['reset', '--json', '--state', 'CLOSE_WAIT', ...TREE],
  ['sources', '--json'],
  ['--version'],
];

describe.skipIf(skip !== undefined)('stdout that cannot be written: exit 74 and one line, in every command and format', () => {
  it.each(COMMANDS.map((argv) => [argv.join(' '), argv]))(
    '%s',
    (_name, argv) => {
      // The command writes when stdout works, so each failure below is one of its writes.
      const works = spawnSync(process.execPath, [CLI, ...(argv as string[])], { encoding: 'utf8', timeout: 20_000 });
      expect(works.stdout.length).toBeGreaterThan(0);

      const full = openSync('/dev/full', 'w');
      const readOnly = openSync(join(proc, 'net', 'tcp'), 'r');
      try {
        for (const [fd, error] of [
          [full, 'ENOSPC: no space left on device'],
          [readOnly, 'EBADF: bad file descriptor'],
        ] as const) {
          const result = spawnSync(process.execPath, [CLI, ...(argv as string[])], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 20_000 });
          expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 74, stderr: `tcpdwell: cannot write output: ${error}\n` });
        }
      } finally {
        closeSync(full);
        closeSync(readOnly);
      }
    },
    60_000,
  );
});

describe.skipIf(skip !== undefined)('a reader that left (EPIPE) is not a failure: quiet, and the exit is the command’s', () => {
  /** Runs argv with stdout on a pipe closed by its reader at the first byte. */
  function readerLeaves(argv: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.once('data', () => child.stdout.destroy());
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('close', (code, signal) => {
        clearTimeout(kill);
        resolve({ code, signal, stderr });
      });
    });
  }

  it('list --json and list --watch: exit 0, nothing on stderr', async () => {
    expect(await readerLeaves(['list', '--json', ...TREE])).toEqual({ code: 0, signal: null, stderr: '' });
    expect(await readerLeaves(['list', '--watch', '1s', ...TREE])).toEqual({ code: 0, signal: null, stderr: '' });
  }, 40_000);
});
