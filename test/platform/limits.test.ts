import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STDERR_KEEP_CHARS } from '../../src/platform/limits.js';
import { nodePlatform, withReadLimit } from '../../src/platform/platform.js';

// Issue 13.3, inputs that never end, on real files and real processes: /dev/zero, a FIFO nobody
// writes, a command that prints forever, one that hangs with a grandchild.

let dir: string;
let fifo: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tcpdwell-inputs-limits-'));
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Whether a process exists (a zombie not yet reaped counts as gone: it runs nothing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \(.*\) Z/.test(execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40 && alive(pid); i++) await delay(50);
  return !alive(pid);
}

const platform = nodePlatform();

describe('files: only regular ones, and only up to the limit', () => {
  it.each([
    ['/dev/zero', /is a character device, not a regular file/],
    ['FIFO', /is a FIFO, not a regular file/],
  ])('%s is refused at once by readBytes, readText and readLines', async (name, message) => {
    const path = name === 'FIFO' ? fifo : name;
    const started = Date.now();
    await expect(platform.readBytes(path)).rejects.toMatchObject({ code: 'ENOTFILE', message: expect.stringMatching(message) });
    await expect(platform.readText(path)).rejects.toMatchObject({ code: 'ENOTFILE' });
    await expect(platform.readLines(path, () => undefined)).rejects.toMatchObject({ code: 'ENOTFILE', message: expect.stringMatching(message) });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a directory is EISDIR; a file past the limit is EFBIG, by size and through the lines reader', async () => {
    await expect(platform.readBytes(dir)).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(platform.readLines(dir, () => undefined)).rejects.toMatchObject({ code: 'EISDIR' });
    const big = join(dir, 'big.txt');
    await writeFile(big, 'x\n'.repeat(600_000)); // 1.2 MB
    await expect(platform.readBytes(big, { maxBytes: 1024 * 1024 })).rejects.toMatchObject({ code: 'EFBIG', message: 'larger than the read limit of 1 MiB (--read-limit raises it)' });
    let lines = 0;
    await expect(platform.readLines(big, () => lines++, { maxBytes: 1024 * 1024 })).rejects.toMatchObject({ code: 'EFBIG' });
    expect(lines).toBeLessThan(600_000);
    // withReadLimit gives every read that names no limit its own.
    await expect(withReadLimit(platform, 1024 * 1024).readText(big)).rejects.toMatchObject({ code: 'EFBIG' });
    expect((await withReadLimit(platform, 2 * 1024 * 1024).readBytes(big)).length).toBe(1_200_000);
  });

  it('procfs files (regular, of size 0) are read in full, by their text', async () => {
    const status = await platform.readText('/proc/self/status');
    expect(status).toMatch(/^Name:/);
    let lines = 0;
    await platform.readLines('/proc/self/status', () => lines++);
    expect(lines).toBeGreaterThan(10);
    // Past the limit as read, though the size says 0.
    await expect(platform.readText('/proc/self/status', { maxBytes: 100 })).rejects.toMatchObject({ code: 'EFBIG' });
  });
});

describe('commands: output capped, killed with their process group', () => {
  it('one that prints forever is stopped at the limit and killed (run, runBinary, runLines)', async () => {
    const started = Date.now();
    const limit = { maxOutputBytes: 1024 * 1024, timeoutMs: 20_000 };
    await expect(platform.run(['yes', 'ESTAB 0 0 127.0.0.1:1 127.0.0.1:2'], limit)).rejects.toMatchObject({
      code: 'EFBIG',
      message: 'yes printed more than the read limit of 1 MiB (--read-limit raises it)',
    });
    await expect(platform.runBinary(['yes'], limit)).rejects.toMatchObject({ code: 'EFBIG' });
    let lines = 0;
    await expect(platform.runLines(['yes'], () => lines++, limit)).rejects.toMatchObject({ code: 'EFBIG' });
    expect(lines).toBeLessThanOrEqual(512 * 1024);
    expect(Date.now() - started).toBeLessThan(8000);
    // A real fake `ss` first on PATH, as the source finds it: stopped by withReadLimit's default.
    const bin = join(dir, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    await writeFile(join(bin, 'ss'), '#!/bin/sh\nexec yes "ESTAB 0 0 127.0.0.1:1 127.0.0.1:2"\n', { mode: 0o755 });
    const capped = withReadLimit(platform, 2 * 1024 * 1024);
    await expect(capped.runLines([join(bin, 'ss'), '-tan'], () => undefined, { timeoutMs: 20_000 })).rejects.toMatchObject({
      code: 'EFBIG',
      message: expect.stringContaining('printed more than the read limit of 2 MiB'),
    });
  });

  it('a timed-out command is killed with the children it started, even one ignoring SIGTERM', async () => {
    const pids: number[] = [];
    const script = "trap '' TERM INT; sleep 1000 & echo $!; echo $$; sleep 1001";
    const started = Date.now();
    await expect(platform.runLines(['sh', '-c', script], (line) => pids.push(Number(line)), { timeoutMs: 500 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(await gone(pid)).toBe(true);
  });

  it('a grandchild that left the group and keeps stdout open cannot keep a timed-out run waiting', async () => {
    const pidFile = join(dir, 'escaped.pid');
    const started = Date.now();
    try {
      await expect(platform.run(['sh', '-c', `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 1000' & sleep 1001`], { timeoutMs: 500 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      const escaped = Number(execFileSync('cat', [pidFile], { encoding: 'utf8' }));
      if (escaped > 1 && alive(escaped)) process.kill(escaped, 'SIGKILL');
    }
  });

  it('keeps only the first 64 KiB of stderr', async () => {
    const result = await platform.run(['sh', '-c', 'yes err | head -c 2000000 >&2; exit 4']);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toHaveLength(STDERR_KEEP_CHARS);
    expect(result.stderr.startsWith('err\nerr\n')).toBe(true);
  });

  it('a session that prints forever is stopped at the limit', async () => {
    const session = nodePlatform().openSession(['yes'], { maxOutputBytes: 1024 * 1024 });
    await expect(session.exchange('', 'never-printed', 20_000)).rejects.toMatchObject({ code: 'EFBIG' });
    session.close();
  });
});

describe('interrupt (SIGINT/SIGTERM)', () => {
  it('kills a running command with its group, ends a session, and refuses new work', async () => {
    const interrupt = new AbortController();
    const interruptible = nodePlatform({ interrupt: interrupt.signal });
    const pids: number[] = [];
    const running = interruptible.runLines(['sh', '-c', "trap '' TERM INT; sleep 1000 & echo $!; sleep 1001"], (line) => pids.push(Number(line)), { timeoutMs: 60_000 });
    const session = interruptible.openSession(['cat']);
    const answer = session.exchange('no end marker\n', 'never-printed', 60_000);
    await delay(300);
    const started = Date.now();
    interrupt.abort();
    await expect(running).rejects.toMatchObject({ code: 'EINTERRUPTED' });
    await expect(answer).rejects.toMatchObject({ code: 'EINTERRUPTED' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await gone(pids[0]!)).toBe(true);
    await expect(interruptible.run(['true'])).rejects.toMatchObject({ code: 'EINTERRUPTED' });
    await expect(interruptible.readText('/proc/self/status')).rejects.toMatchObject({ code: 'EINTERRUPTED' });
    await expect(interruptible.readLines('/proc/self/status', () => undefined)).rejects.toMatchObject({ code: 'EINTERRUPTED' });
  });
});
