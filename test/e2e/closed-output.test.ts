import { execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { warnSkip, whyNoProgram } from '../needs-program.js';
import { CLI } from './parked-namespace.js';

// The built CLI on a terminal that goes away (the window closed, the ssh session dropped) and on a
// pipe whose reader leaves (`| head -1`): it must end promptly and quietly, never with a stack
// trace, a SIGSEGV or a SIGABRT, and never keep running orphaned. The commands read this host's
// socket table (read-only); nothing here opens a connection except to the exporter it started.

/**
 * Runs argv on a fresh pty (python3's pty module: the child is session leader with the pty as its
 * controlling terminal, as a login shell's job is), waits for `marker` in what it drew (or `waitS`),
 * optionally sends SIGHUP while the terminal is still open, then closes the master side and reports
 * how the child ended. Options: stderr=FILE sends the child's stderr to FILE instead of the pty
 * (the marker is looked for there too).
 */
const PTY_SCRIPT = String.raw`
import fcntl, json, os, pty, select, signal, struct, sys, termios, time
marker, wait, stderr_file, hup_first = sys.argv[1].encode(), float(sys.argv[2]), sys.argv[3], sys.argv[4] == '1'
argv = sys.argv[5:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 120, 0, 0))
    if stderr_file:
        os.dup2(os.open(stderr_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    os.execvp(argv[0], argv)
seen = b''
def drain(seconds):
    global seen
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try: seen += os.read(fd, 65536)
            except OSError: return
def marked():
    if marker in seen: return True
    if not stderr_file: return False
    try:
        with open(stderr_file, 'rb') as f: return marker in f.read()
    except OSError: return False
deadline = time.time() + wait
while time.time() < deadline and not marked():
    drain(0.1)
drain(0.3)
result = {'seen': marked()}
if hup_first:
    os.kill(pid, signal.SIGHUP)
    drain(1.0)
    for _ in range(20):
        p, st = os.waitpid(pid, os.WNOHANG)
        if p: break
        time.sleep(0.05)
    result['aliveAfterHup'] = p == 0
    if p:
        result.update({'status': 'signaled', 'signal': os.WTERMSIG(st)} if os.WIFSIGNALED(st) else {'status': 'exited', 'code': os.WEXITSTATUS(st)})
        print(json.dumps(result))
        sys.exit(0)
os.close(fd)
closed = time.time()
result['status'] = 'running'
while time.time() - closed < 5:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        result.update({'status': 'signaled', 'signal': os.WTERMSIG(st)} if os.WIFSIGNALED(st) else {'status': 'exited', 'code': os.WEXITSTATUS(st)})
        break
    time.sleep(0.05)
result['seconds'] = round(time.time() - closed, 2)
if result['status'] == 'running':
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print(json.dumps(result))
`;

interface PtyResult {
  seen: boolean;
  status: 'exited' | 'signaled' | 'running';
  code?: number;
  signal?: number;
  seconds: number;
  aliveAfterHup?: boolean;
}

/**
 * `stderr` without list's one notice that some owners are not proven: these run on the host, and
 * a host whose init denies even root its fd links (this project's: pid 1's /proc/1/fd/* answer
 * EACCES) holds sockets whose owner cannot be read, which list says once. Nothing else may remain.
 */
function withoutOwnersNotice(stderr: string): string {
  return stderr.replace(/^tcpdwell: some sockets belong to processes whose \/proc\/<pid>\/fd cannot be read; (run as root to see every owner|denied even to root [^\n]*)\n/m, '');
}

function onClosedPty(argv: string[], marker: string, options: { waitS?: number; stderrFile?: string; hupFirst?: boolean } = {}): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      ['-c', PTY_SCRIPT, marker, String(options.waitS ?? 8), options.stderrFile ?? '', options.hupFirst ? '1' : '0', 'env', 'TERM=xterm', 'LANG=C.UTF-8', process.execPath, CLI, ...argv],
      { timeout: 30_000 },
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as PtyResult)),
    );
  });
}

const skip = process.platform !== 'linux' ? 'needs Linux' : whyNoProgram('python3', 'python3');
warnSkip('the closed-terminal tests', skip);

const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-closed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A marker never drawn: wait the fixed time instead. */
const NOTHING = 'no-such-marker-drawn';

// Each command with the marker it shows once its first poll has answered (a command stopped before
// that exits 3, nothing having been read: a loaded machine's first poll may take seconds): list's
// table header, watch's start line, serve's line on stderr, the dashboard header's poll cost.
const COMMANDS: [string, string[], string][] = [
  ['list --watch', ['list', '--watch', '1s'], 'STATE'],
  ['watch', ['watch', '--interval', '1s'], 'watching'],
  ['watch --log', ['watch', '--interval', '1s', '--log', join(dir, 'watch.log')], 'watching'],
  ['serve', ['serve', '--listen', '127.0.0.1:0', '--interval', '1s'], 'serving'],
  ['serve --log', ['serve', '--listen', '127.0.0.1:0', '--interval', '1s', '--log', join(dir, 'serve.log')], 'serving'],
  ['dashboard', ['dashboard', '--interval', '1s'], 'ms)'],
  ['dashboard --log', ['dashboard', '--interval', '1s', '--log', join(dir, 'dashboard.log')], 'ms)'],
];

describe.skipIf(skip !== undefined)('a terminal closed under a running command', () => {
  it.each(COMMANDS)(
    '%s ends promptly with exit 0, not by a signal, not orphaned',
    async (_name, argv, marker) => {
      const result = await onClosedPty(argv, marker, { waitS: marker === NOTHING ? 2 : 8 });
      if (marker !== NOTHING) expect(result.seen).toBe(true);
      expect(result).toMatchObject({ status: 'exited', code: 0 });
      expect(result.seconds).toBeLessThan(3);
    },
    30_000,
  );

  it.each(COMMANDS)(
    '%s with stderr kept: nothing on stderr (no stack trace), exit 0',
    async (_name, argv, marker) => {
      const stderrFile = join(dir, `stderr-${argv[0]}-${argv.length}.txt`);
      // serve's marker is on stderr: looked for in the file.
      const result = await onClosedPty(argv, marker, { stderrFile });
      expect(result.seen).toBe(true);
      expect(result).toMatchObject({ status: 'exited', code: 0 });
      // serve says where it listens at start; nothing else may follow.
      expect(withoutOwnersNotice(readFileSync(stderrFile, 'utf8').replace(/^tcpdwell: serving http:\/\/\S+ \(polling [^\n]*\)\n/, ''))).toBe('');
    },
    30_000,
  );

  it('on a live terminal SIGHUP still reopens the --log file (logrotate), and the closed terminal still ends it', async () => {
    const log = join(dir, 'rotated.log');
    writeFileSync(log, '');
    const python = onClosedPty(['watch', '--interval', '1s', '--log', log, '--json'], NOTHING, { waitS: 2, hupFirst: true });
    // Rotate while it runs: the old file is moved away before the SIGHUP (sent 2.3 s in).
    await new Promise((r) => setTimeout(r, 1_000));
    renameSync(log, `${log}.1`);
    const result = await python;
    expect(result.aliveAfterHup).toBe(true);
    expect(result).toMatchObject({ status: 'exited', code: 0 });
    // Reopened: the path exists again (created by the reopen, not by this test).
    expect(existsSync(log)).toBe(true);
  }, 30_000);

  it('without --log, SIGHUP on a live terminal ends the command quietly (its traditional meaning)', async () => {
    const result = await onClosedPty(['list', '--watch', '1s'], 'STATE', { hupFirst: true });
    expect(result.aliveAfterHup).toBe(false);
    expect(result).toMatchObject({ status: 'exited', code: 0 });
  }, 30_000);
});

describe.skipIf(skip !== undefined)('a pipe whose reader left (`| head -1`)', () => {
  /** Starts argv with stdout and stderr on pipes; returns after `closeWhich` was closed by the reader. */
  function runAndClose(argv: string[], closeWhich: 'stdout' | 'stderr'): Promise<{ code: number | null; signal: string | null; firstLine: string; stderr: string; stdout: string; ms: number }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let firstLine = '';
      let closedAt = Date.now();
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      if (closeWhich === 'stderr') {
        child.stderr.destroy();
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      } else {
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout.once('data', (d: Buffer) => {
          firstLine = d.toString().split('\n')[0] ?? '';
          closedAt = Date.now();
          child.stdout.destroy();
        });
      }
      child.on('close', (code, signal) => {
        clearTimeout(kill);
        resolve({ code, signal, firstLine, stderr, stdout, ms: Date.now() - closedAt });
      });
    });
  }

  it('list --watch: the reader leaves after one line; the next write ends it with exit 0 and nothing on stderr', async () => {
    const r = await runAndClose(['list', '--watch', '1s'], 'stdout');
    expect(r.firstLine).toMatch(/^---/);
    expect({ ...r, stderr: withoutOwnersNotice(r.stderr) }).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(r.ms).toBeLessThan(4_000);
  }, 20_000);

  it('list of a 6,000-row capture (more than a pipe holds): exit 0, nothing on stderr', async () => {
    // Written for the test: /proc/net/tcp rows in the kernel's format (header + sl: local rem st ...).
    const rows = Array.from(
      { length: 6_000 },
      (_, i) =>
        `${String(i).padStart(4)}: 0100007F:${(1024 + i).toString(16).toUpperCase().padStart(4, '0')} 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 ${100_000 + i} 1 0000000000000000 20 4 30 10 -1`,
    );
    const capture = join(dir, 'big-tcp.txt');
    writeFileSync(capture, `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n${rows.join('\n')}\n`);
    const r = await runAndClose(['list', '--input', capture], 'stdout');
    expect(r.firstLine).toMatch(/^STATE/);
    expect(r).toMatchObject({ code: 0, signal: null, stderr: '' });
  }, 20_000);

  it('stdout on a full device (/dev/full): one line on stderr and exit 74, not a stack trace', async () => {
    const capture = join(dir, 'one-tcp.txt');
    // Written for the test: one /proc/net/tcp LISTEN row.
    writeFileSync(
      capture,
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n',
    );
    const full = openSync('/dev/full', 'w');
    try {
      const result = spawnSync(process.execPath, [CLI, 'list', '--input', capture], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 10_000 });
      expect(result.status).toBe(74);
      expect(result.stderr).toMatch(/^tcpdwell: cannot write output: ENOSPC[^\n]*\n$/);
    } finally {
      closeSync(full);
    }
  }, 20_000);

  it('stderr closed: the data on stdout is still written in full', async () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    const good = join(dir, 'small-tcp.txt');
    // Written for the test: one /proc/net/tcp LISTEN row.
    writeFileSync(
      good,
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n',
    );
    // The empty file makes it write a notice to stderr first; it is unread, so the exit is 65
    // (fail closed), while what the good file holds is still written in full.
    const r = await runAndClose(['list', '--json', '--input', empty, good], 'stderr');
    expect(r).toMatchObject({ code: 65, signal: null });
    expect(JSON.parse(r.stdout)).toHaveLength(1);
  }, 20_000);
});
