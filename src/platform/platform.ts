import { execFile } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { endianness } from 'node:os';

// The only code that touches the OS. Everything above it receives a Platform, so tests can
// hand in captured outputs through the same seam.

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface Platform {
  /** Runs argv[0] with argv[1..] (never a shell), LC_ALL=C, with a timeout. Rejects with code ENOENT when missing. */
  run(argv: readonly string[], options?: { timeoutMs?: number }): Promise<CommandResult>;
  readText(path: string): Promise<string>;
  listDirectory(path: string): Promise<string[]>;
  readLink(path: string): Promise<string>;
  nowMs(): number;
  readonly littleEndian: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024; // ss -i at 100,000 sockets prints ~60 MB

export function nodePlatform(): Platform {
  return {
    run(argv, options = {}) {
      const [file, ...args] = argv;
      if (!file) return Promise.reject(new Error('empty command'));
      return new Promise((resolve, reject) => {
        execFile(
          file,
          args,
          {
            env: { ...process.env, LC_ALL: 'C' },
            timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            maxBuffer: MAX_OUTPUT_BYTES,
            encoding: 'utf8',
          },
          (error, stdout, stderr) => {
            if (error && typeof error.code !== 'number') {
              reject(error); // spawn failure (ENOENT, EACCES), timeout or buffer overflow
              return;
            }
            resolve({ stdout, stderr, exitCode: error ? Number(error.code) : 0 });
          },
        );
      });
    },
    readText: (path) => readFile(path, 'utf8'),
    listDirectory: (path) => readdir(path),
    readLink: (path) => readlink(path),
    nowMs: () => Date.now(),
    littleEndian: endianness() === 'LE',
  };
}

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
