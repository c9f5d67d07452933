import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { errnoDetail } from './errors.js';

/** Something to Atomics.wait on: a synchronous pause of a few ms at exit, nothing else. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** dup2(2): makes `newFd` a copy of `oldFd`, closing what `newFd` named, in one step; -1 on failure. */
export type Dup2 = (oldFd: number, newFd: number) => number;

/**
 * libc's dup2 through koffi (the optional FFI library the netlink source already loads), or
 * undefined where it cannot load (not installed, no glibc): Node itself has no dup2.
 */
export function libcDup2(): Dup2 | undefined {
  try {
    const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): { func(signature: string): Dup2 } };
    return koffi.load('libc.so.6').func('int dup2(int, int)');
  } catch {
    return undefined;
  }
}

/**
 * Points descriptor `fd` at /dev/null; returns whether it names /dev/null afterwards. With `dup2`
 * the swap is atomic: `fd` is never free, so no other thread of this process (the netlink worker
 * opening its socket or a namespace file, libuv's pool opening a file) can be given it meanwhile,
 * and nothing later writes into a descriptor that is no longer the terminal's. Without dup2: close,
 * then open (the lowest free descriptor is `fd`, unless another thread took it in between: then
 * retried for up to ~200 ms, until that thread has let it go).
 */
export function pointAtDevNull(fd: number, dup2: Dup2 | undefined): boolean {
  try {
    if (dup2) {
      const devNull = openSync('/dev/null', 'r+');
      const swapped = dup2(devNull, fd) === fd;
      if (devNull !== fd) closeSync(devNull);
      if (swapped) return true;
    }
    closeSync(fd);
    for (let attempt = 0; attempt < 100; attempt++) {
      const opened = openSync('/dev/null', 'r+');
      if (opened === fd) return true;
      closeSync(opened);
      Atomics.wait(PAUSE, 0, 0, 2);
    }
  } catch {
    // Nothing more can be done for a terminal that is gone.
  }
  return false;
}

/** Why output stopped: the reader left (EPIPE), the terminal hung up (EIO / SIGHUP), or another write error. */
export type OutputLoss = { kind: 'reader-gone' | 'terminal-closed' } | { kind: 'write-failed'; message: string };

/**
 * stdout and stderr that never throw: once one has failed (`| head -1` closed the pipe, the
 * terminal was closed under `list --watch`), later writes to it are dropped. A lost stdout or a
 * closed terminal calls `onLoss` once, so the command can end quietly instead of dying on an
 * unhandled `write EPIPE`/`write EIO`; a lost stderr alone only silences stderr (the data on
 * stdout still matters).
 */
export class GuardedStdio {
  private lost: OutputLoss | undefined;
  private stderrLost = false;
  private readonly ttyFds: number[];
  readonly stdout: { write(text: string): boolean; readonly isTTY: boolean; drained(signal: AbortSignal): Promise<void> };
  readonly stderr: { write(text: string): boolean };

  constructor(private readonly onLoss: (loss: OutputLoss) => void) {
    // Remembered at start: a hung-up terminal no longer answers isatty() (its ioctls fail with EIO).
    this.ttyFds = [0, 1, 2].filter((fd) => isatty(fd));
    process.stdout.on('error', (error: NodeJS.ErrnoException) => this.lose(lossOf(error)));
    process.stderr.on('error', () => {
      this.stderrLost = true;
    });
    this.stdout = {
      write: (text) => (this.lost || process.stdout.destroyed ? false : process.stdout.write(text)),
      isTTY: Boolean(process.stdout.isTTY),
      drained: (signal) => drained(process.stdout, signal, () => this.lost !== undefined),
    };
    this.stderr = { write: (text) => (this.lost?.kind === 'terminal-closed' || this.stderrLost || process.stderr.destroyed ? false : process.stderr.write(text)) };
  }

  /** What stopped the output, if it stopped. */
  get loss(): OutputLoss | undefined {
    return this.lost;
  }

  /** Was this process started on a terminal? */
  get onTerminal(): boolean {
    return this.ttyFds.length > 0;
  }

  /**
   * Has the terminal this process started on hung up (its window closed, the ssh session gone)?
   * A zero-byte write to a hung-up tty fails with EIO (Linux drivers/tty/tty_io.c, hung_up_tty_write);
   * to a live one it succeeds and shows nothing.
   */
  terminalHungUp(): boolean {
    for (const fd of this.ttyFds) {
      try {
        writeSync(fd, '');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EIO' || (error as NodeJS.ErrnoException).code === 'ENXIO') return true;
      }
    }
    return false;
  }

  /** Marks stdout lost (and with a hangup stderr too): later writes are dropped. */
  lose(loss: OutputLoss): void {
    if (this.lost) return;
    this.lost = loss;
    this.onLoss(loss);
  }

  /**
   * Call just before exit after a hangup. Node 20 restores the terminal's modes at exit and aborts
   * (SIGABRT, "Assertion failed ... ResetStdio") when tcsetattr fails with EIO on a hung-up tty
   * (fixed upstream in nodejs/node#58200, not in 20). It skips descriptors that no longer name the
   * file they named at start, so each terminal descriptor is pointed at /dev/null first, atomically
   * where dup2 loads (pointAtDevNull; `loadDup2` is a seam for tests).
   */
  detachFromClosedTerminal(loadDup2: () => Dup2 | undefined = libcDup2): void {
    if (this.lost?.kind !== 'terminal-closed') return;
    // Loaded only here, after a hangup: no other exit pays for it.
    const dup2 = loadDup2();
    // Left closed, a descriptor makes a native library's exit flush fail aloud (koffi: "Failed to
    // sync '<stdout>': Bad file descriptor"); taken by a thread, it would get what is written to it.
    for (const fd of this.ttyFds) pointAtDevNull(fd, dup2);
  }
}

function lossOf(error: NodeJS.ErrnoException): OutputLoss {
  if (error.code === 'EPIPE' || error.code === 'ECONNRESET') return { kind: 'reader-gone' };
  if (error.code === 'EIO') return { kind: 'terminal-closed' };
  return { kind: 'write-failed', message: errnoDetail(error) };
}

/**
 * Resolves when `stream` has written out its buffer ('drain'), at once when it needs none, and when
 * it errors or closes, the output is lost, or `signal` aborts: never waits on a reader that is gone.
 */
function drained(stream: NodeJS.WriteStream, signal: AbortSignal, lost: () => boolean): Promise<void> {
  if (!stream.writableNeedDrain || stream.destroyed || lost() || signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done).off('close', done).off('error', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.once('drain', done).once('close', done).once('error', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
