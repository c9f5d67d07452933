import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { whyNoProgram } from '../needs-program.js';
import { CLI, EMPTY_PROC_NET_TCP6 } from './parked-namespace.js';

// `watch --log` on a really full filesystem: a 64 KiB tmpfs mounted in a private mount namespace
// (unshare -m), so it vanishes with the process however the test ends. The socket table is a
// procfs tree the test writes (--source procfs --proc-root), so every event is one the test caused.
// The test reaches the tmpfs through /proc/<pid>/root, the process's own view of the filesystem.

function whyNotRunnable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  const missing = whyNoProgram('unshare', 'util-linux');
  if (missing) return missing;
  try {
    execFileSync('unshare', ['--mount', '--propagation', 'private', 'true'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'needs unshare(1) and mount namespaces';
  }
}
const skip = whyNotRunnable();
if (skip) console.warn(`skipping the full-disk event log test: ${skip}`);

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
/** A /proc/net/tcp row in the kernel's format (written for the test): 127.0.0.1:port, state in hex. */
const row = (sl: number, port: number, remotePort: number, state: string, inode: number) =>
  `${String(sl).padStart(4)}: 0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} ${remotePort ? '0100007F' : '00000000'}:${remotePort.toString(16).toUpperCase().padStart(4, '0')} ${state} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 20 4 30 10 -1\n`;

/** What the log held before: one whole line of 4086 bytes, so the tmpfs page it sits in has 10 bytes free. */
const SEED = `${JSON.stringify({ event: 'seed', pad: 'x'.repeat(4086 - 1 - JSON.stringify({ event: 'seed', pad: '' }).length) })}\n`;

class FullDiskWatch {
  readonly dir = mkdtempSync(join(tmpdir(), 'tcpdwell-fulldisk-'));
  readonly procRoot = join(this.dir, 'proc');
  readonly mount = join(this.dir, 'logfs');
  readonly child: ChildProcessWithoutNullStreams;
  stdout: string[] = [];
  stderr = '';
  private partial = '';

  constructor(interval: string) {
    mkdirSync(join(this.procRoot, 'net'), { recursive: true });
    // A procfs root lists `self` (proc(5)); without it tcpdwell says once that this is not one.
    mkdirSync(join(this.procRoot, 'self'));
    mkdirSync(this.mount);
    writeFileSync(join(this.procRoot, 'net', 'tcp'), HEADER + row(0, 8080, 0, '0A', 5000));
    writeFileSync(join(this.procRoot, 'net', 'tcp6'), EMPTY_PROC_NET_TCP6);
    writeFileSync(join(this.dir, 'seed'), SEED);
    // Mount, seed the log, fill every remaining page, then become tcpdwell (same pid). Paths are
    // positional parameters, never part of the script text.
    const script = 'mount -t tmpfs -o size=64k tcpdwell-test "$1" && cp "$2" "$1/events.jsonl" && { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null; shift 2 && exec "$@"; }';
    this.child = spawn('unshare', [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      this.mount,
      join(this.dir, 'seed'),
      process.execPath,
      CLI,
      'watch',
      '--events',
      '--source',
      'procfs',
      '--proc-root',
      this.procRoot,
      '--interval',
      interval,
      '--log',
      join(this.mount, 'events.jsonl'),
    ]);
    this.child.stdout.on('data', (d: Buffer) => {
      const lines = (this.partial + d.toString()).split('\n');
      this.partial = lines.pop() ?? '';
      this.stdout.push(...lines);
    });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  /** The log file as the process sees it (inside its mount namespace). */
  private inside(name: string): string {
    return `/proc/${this.child.pid}/root${this.mount}/${name}`;
  }
  log(): string {
    return readFileSync(this.inside('events.jsonl'), 'utf8');
  }
  freeSpace(): void {
    unlinkSync(this.inside('filler'));
  }
  addRow(sl: number, port: number): void {
    appendFileSync(join(this.procRoot, 'net', 'tcp'), row(sl, port, 8080, '01', 5000 + sl));
  }
  async until(test: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (test()) return;
      await delay(100);
    }
    throw new Error(`never saw ${what}; stdout ${JSON.stringify(this.stdout)}, stderr ${JSON.stringify(this.stderr)}`);
  }
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe.skipIf(skip !== undefined)('the event log on a full filesystem', () => {
  let watch: FullDiskWatch | undefined;
  afterEach(async () => {
    await watch?.stop();
    watch?.remove();
    watch = undefined;
  });

  it('keeps running, counts the lost lines, says so once, cuts no line in half, and writes again at the next event once there is room', async () => {
    watch = new FullDiskWatch('0.2s');
    const w = watch;
    await w.until(() => w.stdout.length >= 1, 'the first event');
    w.addRow(1, 40001);
    await w.until(() => w.stdout.length >= 2, 'the second event');
    await delay(600);
    // A write under way is cut by the full disk and then truncated away (append-log.ts appendWhole):
    // a loaded machine can be read between the two, so the file is judged once it has settled (a
    // half line that stays fails here).
    await w.until(() => w.log() === SEED, 'the log back to its seed, no half line');
    expect(w.stdout.map((l) => JSON.parse(l).event)).toEqual(['opened', 'opened']);
    expect(w.stderr).toMatch(/^tcpdwell: cannot write log file \S+events\.jsonl: ENOSPC: no space left on device[^\n]*retried at the next event and on SIGHUP\n$/);
    // 10 bytes would have fitted: without the truncation the file would end in half a line.
    expect(w.log()).toBe(SEED);

    w.freeSpace();
    // A poll with no new event retries too: the gap entry lands without waiting for traffic.
    await w.until(() => w.stderr.includes('written again'), 'the recovery line');
    w.addRow(2, 40002);
    await w.until(() => w.stdout.length >= 3, 'the third event');
    await w.until(() => w.log().split('\n').length >= 4, 'the third event in the log');
    const [seed, gap, third, end] = w.log().split('\n');
    expect(seed).toBe(SEED.trimEnd());
    expect(JSON.parse(gap!)).toMatchObject({ event: 'log-gap', linesLost: 2 });
    expect(JSON.parse(third!)).toEqual(JSON.parse(w.stdout[2]!));
    expect(end).toBe('');
    expect(w.stderr.split('\n').filter(Boolean)).toHaveLength(2);
    expect(w.stderr).toContain('is written again; 2 lines were lost (a log-gap entry marks the place)\n');
    expect(await w.stop()).toBe(0);
  }, 30_000);

  it('SIGHUP retries at once, with no event and no poll', async () => {
    watch = new FullDiskWatch('1h');
    const w = watch;
    await w.until(() => w.stdout.length >= 1 && w.stderr.includes('cannot write'), 'the first event and its failed write');
    w.freeSpace();
    await delay(300);
    expect(w.log()).toBe(SEED);
    w.child.kill('SIGHUP');
    await w.until(() => w.log() !== SEED, 'the gap entry after SIGHUP');
    const lines = w.log().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toMatchObject({ event: 'log-gap', linesLost: 1 });
    expect(w.stderr).toContain('is written again; 1 line was lost');
    expect(await w.stop()).toBe(0);
  }, 30_000);

  // Behaviour changed (breaker 8): this exited 0; lines lost for good now make the exit 74.
  it('still full at exit: the count of lines never written is the last thing said, and the exit is 74', async () => {
    watch = new FullDiskWatch('0.2s');
    const w = watch;
    await w.until(() => w.stdout.length >= 1 && w.stderr.includes('cannot write'), 'the first event and its failed write');
    w.addRow(1, 40001);
    await w.until(() => w.stdout.length >= 2, 'the second event');
    await delay(400);
    expect(await w.stop()).toBe(74);
    expect(w.stderr.trimEnd().split('\n').at(-1)).toMatch(/: 2 lines were lost and not recovered before exit$/);
    expect(w.stderr.split('\n').filter(Boolean)).toHaveLength(2);
  }, 30_000);
});
