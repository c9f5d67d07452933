import type { ChildProcess } from 'node:child_process';
import { readdir, readlink, stat, statfs } from 'node:fs/promises';
import { endianness } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { LineSplitter } from '../core/text-lines.js';
import { readRegularFile } from './bounded-read.js';
import { killWithGroup, runChild, spawnInGroup, type ChildOptions } from './child-process.js';
import { WorkerFileReader, type ReadLimits, type SocketInodes } from './file-lines.js';

export type { SocketInodes } from './file-lines.js';
import { DEFAULT_READ_LIMIT_BYTES, interruptedError, MAX_TIMEOUT_MS, readLimitError } from './limits.js';

// The only code that touches the OS. Everything above it receives a Platform, so tests can
// hand in captured outputs through the same seam.

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A command's output as bytes: Windows tools write in the console's OEM code page, not UTF-8. */
export interface BinaryCommandResult {
  stdout: Uint8Array;
  stderr: string;
  exitCode: number;
}

/** A long-lived process answering requests on stdin (one PowerShell for every poll of the dashboard). */
export interface CommandSession {
  /** Writes `input`, resolves with what stdout printed before the line `endMarker`. */
  exchange(input: string, endMarker: string, timeoutMs: number): Promise<string>;
  close(): void;
}

export interface RunOptions {
  timeoutMs?: number;
  /** Extra environment variables: how data reaches a fixed script without becoming part of it. */
  env?: Readonly<Record<string, string>>;
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Most bytes of stdout taken (default DEFAULT_READ_LIMIT_BYTES); past them the command is killed and the run rejects with EFBIG. */
  maxOutputBytes?: number;
}

export interface ReadOptions {
  /** Most bytes read (default DEFAULT_READ_LIMIT_BYTES); a larger file rejects with EFBIG. */
  maxBytes?: number;
}

export interface Platform {
  /**
   * Runs argv[0] with argv[1..] (never a shell), LC_ALL=C, with a timeout, in its own process
   * group (killed whole on timeout, output past the limit, or interrupt). Rejects with code ENOENT
   * when missing, ETIMEDOUT, EFBIG, EINTERRUPTED.
   */
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** As run, with stdout left undecoded. */
  runBinary(argv: readonly string[], options?: RunOptions): Promise<BinaryCommandResult>;
  /** As run, handing stdout over a line at a time while the command still writes (no CR/LF in the lines). */
  runLines(argv: readonly string[], onLine: (line: string) => void, options?: RunOptions): Promise<{ stderr: string; exitCode: number }>;
  /** Starts argv as a session (no shell); failures to start surface on the first exchange. */
  openSession(argv: readonly string[], options?: Pick<RunOptions, 'maxOutputBytes'>): CommandSession;
  /**
   * A regular file's text (UTF-8). Only regular files (procfs tables are): a FIFO, a device or a
   * directory rejects at once with ENOTFILE / EISDIR; past the limit with EFBIG.
   */
  readText(path: string, options?: ReadOptions): Promise<string>;
  /** A file's lines in turn as it is read (LF or CRLF), without holding the whole text; as readText for what is read. */
  readLines(path: string, onLine: (line: string) => void, options?: ReadOptions): Promise<void>;
  /** As readText, undecoded. */
  readBytes(path: string, options?: ReadOptions): Promise<Uint8Array>;
  modifiedMs(path: string): Promise<number>;
  listDirectory(path: string): Promise<string[]>;
  readLink(path: string): Promise<string>;
  /**
   * Whether `path` is on the kernel's procfs (statfs(2) f_type PROC_SUPER_MAGIC 0x9fa0,
   * linux/magic.h); false when it is not, or statfs fails. Only there does an absent file prove
   * what the kernel has not (net/tcp6: IPv6 off); in a copied or mounted tree it was merely not read.
   */
  isProcfs(path: string): Promise<boolean>;
  /**
   * The socket inodes directory `dir` links to: INODE of every link whose target is exactly
   * "socket:[INODE]", in no set order (its callers only ask which inodes are there; entries gone
   * by the time they are read, and links to anything else, are left out), and how many links could
   * not be read for another reason (EACCES, EPERM, EIO: each may be a socket, its owner then
   * unproven). Rejects as listDirectory when `dir` cannot be listed (ENOENT,
   * EACCES), and with EINTERRUPTED when `signal` aborts. For /proc/<pid>/fd: one call per process
   * instead of a promise per descriptor (at 40,000 sockets, 10× less time). `beside`: the caller
   * has other work to do meanwhile (a one-shot command's prefetch), so the links are read off the
   * calling thread (the file reader's worker, started if need be). Without it they are read there
   * only if that thread is running already, else on the calling thread in slices between which
   * the event loop turns: a long-running mode's lookup starts no thread of its own.
   */
  readSocketInodes(dir: string, signal?: AbortSignal, how?: { beside?: boolean }): Promise<SocketInodes>;
  nowMs(): number;
  readonly littleEndian: boolean;
  /**
   * Whether sources may open kernel sockets of their own (the netlink source's NETLINK_SOCK_DIAG,
   * through FFI): true on the real platform; false in fakes, which answer only through
   * the members above (a test injects a sock_diag channel instead).
   */
  readonly kernelSockets: boolean;
  /** process.platform: linux, win32, darwin… */
  readonly os: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** A command's whole stdout (at most the read limit), decoded or not. */
async function execute(argv: readonly string[], options: RunOptions, interrupt: AbortSignal | undefined): Promise<BinaryCommandResult & { stdout: Buffer }> {
  const chunks: Buffer[] = [];
  const { stderr, exitCode } = await runChild(argv, childOptions(options, interrupt), (chunk) => chunks.push(chunk));
  return { stdout: Buffer.concat(chunks), stderr, exitCode };
}

function childOptions(options: RunOptions, interrupt: AbortSignal | undefined): ChildOptions {
  const child: ChildOptions = { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxOutputBytes: options.maxOutputBytes ?? DEFAULT_READ_LIMIT_BYTES };
  if (options.env) child.env = options.env;
  if (options.input !== undefined) child.input = options.input;
  if (interrupt) child.signal = interrupt;
  return child;
}

async function streamLines(argv: readonly string[], onLine: (line: string) => void, options: RunOptions, interrupt: AbortSignal | undefined): Promise<{ stderr: string; exitCode: number }> {
  const decoder = new StringDecoder('utf8');
  const lines = new LineSplitter(onLine);
  const result = await runChild(argv, childOptions(options, interrupt), (chunk) => lines.push(decoder.write(chunk)));
  lines.push(decoder.end());
  lines.end();
  return result;
}

const fileReader = new WorkerFileReader();

async function readLines(path: string, onLine: (line: string) => void, options: ReadOptions, interrupt: AbortSignal | undefined): Promise<void> {
  const lines = new LineSplitter(onLine);
  const limits: ReadLimits = { maxBytes: options.maxBytes ?? DEFAULT_READ_LIMIT_BYTES };
  if (interrupt) limits.signal = interrupt;
  await fileReader.read(path, (text) => lines.push(text), limits);
  lines.end();
}

export interface NodePlatformOptions {
  /** SIGINT/SIGTERM: aborting kills every running command (with its group) and stops every read, which reject with EINTERRUPTED. */
  interrupt?: AbortSignal;
}

/** statfs(2) f_type of procfs (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;

export function nodePlatform({ interrupt }: NodePlatformOptions = {}): Platform {
  const readFileBytes = (path: string, options: ReadOptions = {}) => readRegularFile(path, options.maxBytes ?? DEFAULT_READ_LIMIT_BYTES, interrupt);
  return {
    run: async (argv, options = {}) => {
      const result = await execute(argv, options, interrupt);
      return { ...result, stdout: result.stdout.toString('utf8') };
    },
    runBinary: (argv, options = {}) => execute(argv, options, interrupt),
    runLines: (argv, onLine, options = {}) => streamLines(argv, onLine, options, interrupt),
    openSession: (argv, options = {}) => new ProcessSession(argv, options.maxOutputBytes ?? DEFAULT_READ_LIMIT_BYTES, interrupt),
    readText: async (path, options) => (await readFileBytes(path, options)).toString('utf8'),
    readLines: (path, onLine, options = {}) => readLines(path, onLine, options, interrupt),
    readBytes: readFileBytes,
    modifiedMs: async (path) => (await stat(path)).mtimeMs,
    listDirectory: (path) => readdir(path),
    readLink: (path) => readlink(path),
    isProcfs: async (path) => {
      try {
        return Number((await statfs(path)).type) === PROC_SUPER_MAGIC;
      } catch {
        return false;
      }
    },
    readSocketInodes: (dir, signal, how) => fileReader.readSocketInodes(dir, signal && interrupt ? AbortSignal.any([signal, interrupt]) : (signal ?? interrupt), how?.beside === true),
    nowMs: () => Date.now(),
    littleEndian: endianness() === 'LE',
    kernelSockets: true,
    os: process.platform,
  };
}

/**
 * `platform` with `maxBytes` as the limit of every file read and command output that does not
 * name its own (--read-limit).
 */
export function withReadLimit(platform: Platform, maxBytes: number): Platform {
  const read = (options: ReadOptions = {}): ReadOptions => ({ maxBytes, ...options });
  const run = (options: RunOptions = {}): RunOptions => ({ maxOutputBytes: maxBytes, ...options });
  return {
    run: (argv, options) => platform.run(argv, run(options)),
    runBinary: (argv, options) => platform.runBinary(argv, run(options)),
    runLines: (argv, onLine, options) => platform.runLines(argv, onLine, run(options)),
    openSession: (argv, options) => platform.openSession(argv, run(options)),
    readText: (path, options) => platform.readText(path, read(options)),
    readLines: (path, onLine, options) => platform.readLines(path, onLine, read(options)),
    readBytes: (path, options) => platform.readBytes(path, read(options)),
    modifiedMs: (path) => platform.modifiedMs(path),
    listDirectory: (path) => platform.listDirectory(path),
    readLink: (path) => platform.readLink(path),
    isProcfs: (path) => platform.isProcfs(path),
    readSocketInodes: (dir, signal, how) => platform.readSocketInodes(dir, signal, how),
    nowMs: () => platform.nowMs(),
    littleEndian: platform.littleEndian,
    kernelSockets: platform.kernelSockets,
    os: platform.os,
  };
}

/**
 * One child process; requests are serialised by the caller (the monitor never overlaps polls).
 * What it prints is kept only up to `maxOutputBytes` (as characters) between answers; past that,
 * or on interrupt, the child is killed with its group and the exchange rejects.
 */
class ProcessSession implements CommandSession {
  private child: ChildProcess | undefined;
  private failure: Error | undefined;
  private buffered = '';
  private waiter: (() => void) | undefined;

  constructor(
    private readonly argv: readonly string[],
    private readonly maxOutputBytes: number,
    private readonly interrupt: AbortSignal | undefined,
  ) {
    interrupt?.addEventListener('abort', () => this.interrupted(), { once: true });
  }

  private start(): ChildProcess {
    const file = this.argv[0];
    const child = spawnInGroup(this.argv, ['pipe', 'pipe', 'ignore']);
    // Events of a child already replaced by a new one must not touch the new one's state.
    child.on('error', (error) => this.child === child && this.fail(error));
    // 'close', not 'exit': stdout has been read to the end, so a last answer is not lost.
    child.on('close', (code) => this.child === child && this.fail(Object.assign(new Error(`${file} exited (code ${code})`), { code: 'EEXITED' })));
    // A write to a child that already died fails with EPIPE; 'close' reports the death itself.
    child.stdin!.on('error', () => undefined);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (this.child !== child) return;
      this.buffered += chunk;
      if (this.buffered.length > this.maxOutputBytes) {
        this.fail(readLimitError(`${file} printed more than`, this.maxOutputBytes));
        this.buffered = '';
        this.close();
      }
      this.waiter?.();
    });
    // The session must never keep tcpdwell alive on its own; stdin EOF ends it with us.
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    return child;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waiter?.();
  }

  private interrupted(): void {
    this.fail(interruptedError());
    this.close();
  }

  exchange(input: string, endMarker: string, timeoutMs: number): Promise<string> {
    if (this.interrupt?.aborted) return Promise.reject(interruptedError());
    if (!this.child || this.failure) {
      this.close();
      this.failure = undefined;
      this.buffered = '';
      this.child = this.start();
    }
    const child = this.child;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), Math.min(timeoutMs, MAX_TIMEOUT_MS));
      const finish = (error?: Error, text?: string) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (error) {
          this.close();
          reject(error);
        } else resolve(text!);
      };
      this.waiter = () => {
        const end = this.buffered.indexOf(`${endMarker}`);
        if (end >= 0) {
          const text = this.buffered.slice(0, end);
          this.buffered = this.buffered.slice(this.buffered.indexOf('\n', end) + 1 || this.buffered.length);
          finish(undefined, text);
        } else if (this.failure) finish(this.failure);
      };
      child.stdin!.write(input, (error) => error && finish(error));
      this.waiter();
    });
  }

  close(): void {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.stdin?.end();
    // With its group: a PowerShell that started helpers leaves none behind. Pipes closed: a
    // helper that escaped the group cannot keep them, or us, waiting.
    killWithGroup(child);
    child.stdout?.destroy();
  }
}

// Kept here too: every source imports it from the platform.
export { errorCode } from './errors.js';
