import { execFile, spawn } from 'node:child_process';
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { LineSplitter } from '../core/text-lines.js';
import { WorkerFileReader } from './file-lines.js';

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
}

export interface Platform {
  /** Runs argv[0] with argv[1..] (never a shell), LC_ALL=C, with a timeout. Rejects with code ENOENT when missing. */
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** As run, with stdout left undecoded. */
  runBinary(argv: readonly string[], options?: RunOptions): Promise<BinaryCommandResult>;
  /** As run, handing stdout over a line at a time while the command still writes (no CR/LF in the lines). */
  runLines(argv: readonly string[], onLine: (line: string) => void, options?: RunOptions): Promise<{ stderr: string; exitCode: number }>;
  /** Starts argv as a session (no shell); failures to start surface on the first exchange. */
  openSession(argv: readonly string[]): CommandSession;
  readText(path: string): Promise<string>;
  /** A file's lines in turn as it is read (LF or CRLF), without holding the whole text. */
  readLines(path: string, onLine: (line: string) => void): Promise<void>;
  readBytes(path: string): Promise<Uint8Array>;
  modifiedMs(path: string): Promise<number>;
  listDirectory(path: string): Promise<string[]>;
  readLink(path: string): Promise<string>;
  nowMs(): number;
  readonly littleEndian: boolean;
  /** process.platform: linux, win32, darwin… */
  readonly os: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024; // ss -i at 100,000 sockets prints ~60 MB

function execute<E extends 'utf8' | 'buffer'>(argv: readonly string[], options: RunOptions, encoding: E): Promise<{ stdout: E extends 'utf8' ? string : Buffer; stderr: string; exitCode: number }> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: { ...process.env, ...options.env, LC_ALL: 'C' }, timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(error); // spawn failure (ENOENT, EACCES), timeout or buffer overflow
          return;
        }
        resolve({ stdout: stdout as never, stderr: stderr.toString(), exitCode: error ? Number(error.code) : 0 });
      },
    );
    // A command that exits without reading its stdin makes the write fail with EPIPE: not our error.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

function streamLines(argv: readonly string[], onLine: (line: string) => void, options: RunOptions): Promise<{ stderr: string; exitCode: number }> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...options.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => fail(Object.assign(new Error(`${file} timed out after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on('error', fail);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 1 << 20) stderr += chunk;
    });
    child.stdout.setEncoding('utf8');
    const lines = new LineSplitter(onLine);
    child.stdout.on('data', (chunk: string) => {
      if (failed) return;
      try {
        lines.push(chunk);
      } catch (error) {
        fail(error as Error);
      }
    });
    child.on('close', (code) => {
      if (failed) return;
      clearTimeout(timer);
      try {
        lines.end();
      } catch (error) {
        fail(error as Error);
        return;
      }
      resolve({ stderr, exitCode: code ?? 1 });
    });
  });
}

const fileReader = new WorkerFileReader();

async function readLines(path: string, onLine: (line: string) => void): Promise<void> {
  const lines = new LineSplitter(onLine);
  await fileReader.read(path, (text) => lines.push(text));
  lines.end();
}

export function nodePlatform(): Platform {
  return {
    run: (argv, options = {}) => execute(argv, options, 'utf8'),
    runBinary: (argv, options = {}) => execute(argv, options, 'buffer'),
    runLines: (argv, onLine, options = {}) => streamLines(argv, onLine, options),
    openSession: (argv) => new ProcessSession(argv),
    readText: (path) => readFile(path, 'utf8'),
    readLines,
    readBytes: (path) => readFile(path),
    modifiedMs: async (path) => (await stat(path)).mtimeMs,
    listDirectory: (path) => readdir(path),
    readLink: (path) => readlink(path),
    nowMs: () => Date.now(),
    littleEndian: endianness() === 'LE',
    os: process.platform,
  };
}

/** One child process; requests are serialised by the caller (the monitor never overlaps polls). */
class ProcessSession implements CommandSession {
  private child: ReturnType<typeof spawn> | undefined;
  private failure: Error | undefined;
  private buffered = '';
  private waiter: (() => void) | undefined;

  constructor(private readonly argv: readonly string[]) {}

  private start(): ReturnType<typeof spawn> {
    const [file, ...args] = this.argv;
    const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'ignore'] });
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

  exchange(input: string, endMarker: string, timeoutMs: number): Promise<string> {
    if (!this.child || this.failure) {
      this.close();
      this.failure = undefined;
      this.buffered = '';
      this.child = this.start();
    }
    const child = this.child;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
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
    child?.stdin?.end();
    child?.kill();
  }
}

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
