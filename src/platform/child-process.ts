import { spawn, type ChildProcess } from 'node:child_process';
import { codedError, interruptedError, MAX_TIMEOUT_MS, readLimitError, STDERR_KEEP_CHARS } from './limits.js';

// Running a command so that nothing it does can outlast or outgrow tcpdwell: it runs in its own
// process group (POSIX), which is killed whole (SIGKILL) when the command times out, prints past
// the read limit, or tcpdwell is interrupted; its pipes are closed then, so a grandchild that
// escaped the group cannot keep tcpdwell waiting either.

export interface ChildOptions {
  timeoutMs: number;
  /** Most bytes of stdout taken; past them the command is stopped and the run rejects (EFBIG). */
  maxOutputBytes: number;
  env?: Readonly<Record<string, string>>;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** Aborting kills the command and rejects with EINTERRUPTED. */
  signal?: AbortSignal;
}

const ownGroup = process.platform !== 'win32';

/**
 * Kills the child and its process group (SIGKILL). On Windows only the child itself: a process
 * there has no group to signal (the commands run there, netstat and tasklist, start none).
 */
export function killWithGroup(child: ChildProcess): void {
  if (ownGroup && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // ESRCH: the group is already gone; kill the child alone below (harmless if it exited).
    }
  }
  child.kill('SIGKILL');
}

/** Spawns argv (never a shell) as the leader of a new process group, LC_ALL=C. */
export function spawnInGroup(argv: readonly string[], stdio: ['pipe' | 'ignore', 'pipe', 'pipe' | 'ignore'], env?: Readonly<Record<string, string>>): ChildProcess {
  const [file, ...args] = argv;
  return spawn(file!, args, { env: { ...process.env, ...env, LC_ALL: 'C' }, stdio, detached: ownGroup, windowsHide: true });
}

/**
 * Runs argv, handing stdout over chunk by chunk; resolves with the kept stderr (the first
 * STDERR_KEEP_CHARS) and the exit code. Rejects with ENOENT/EACCES (spawn), ETIMEDOUT, EFBIG (stdout
 * past maxOutputBytes), EINTERRUPTED, ESIGNAL (killed by a signal) or what onStdout throws; in each
 * case the command's group is killed first and its pipes closed.
 */
export function runChild(argv: readonly string[], options: ChildOptions, onStdout: (chunk: Buffer) => void): Promise<{ stderr: string; exitCode: number }> {
  const file = argv[0];
  if (!file) return Promise.reject(new Error('empty command'));
  if (options.signal?.aborted) return Promise.reject(interruptedError());
  return new Promise((resolve, reject) => {
    const child = spawnInGroup(argv, [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], options.env);
    let settled = false;
    let stdoutBytes = 0;
    let stderr = '';
    const settle = (error: Error | undefined, exitCode = 0) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (!error) return resolve({ stderr, exitCode });
      killWithGroup(child);
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
      reject(error);
    };
    const onAbort = () => settle(interruptedError());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => settle(codedError('ETIMEDOUT', `${file} timed out after ${options.timeoutMs} ms`)), Math.min(options.timeoutMs, MAX_TIMEOUT_MS));
    child.on('error', (error) => settle(error));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (settled) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > options.maxOutputBytes) return settle(readLimitError(`${file} printed more than`, options.maxOutputBytes));
      try {
        onStdout(chunk);
      } catch (error) {
        settle(error as Error);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < STDERR_KEEP_CHARS) stderr += chunk.slice(0, STDERR_KEEP_CHARS - stderr.length);
    });
    // 'close', not 'exit': stdout has been read to its end.
    child.on('close', (code, signal) => {
      if (code === null) settle(codedError('ESIGNAL', `${file} was killed by ${signal ?? 'a signal'}`));
      else settle(undefined, code);
    });
    if (child.stdin) {
      // A command that exits without reading its stdin makes the write fail with EPIPE: not our error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}
