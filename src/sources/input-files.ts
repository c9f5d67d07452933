import { errorCode, type Platform } from '../platform/platform.js';
import { capturedAtFromText, detectInputFormat, parseCapture, withoutCaptureLine, type InputFormat, type ParsedCapture } from './captured-table.js';
import { decodeText } from './decode-text.js';
import type { ReadingProvider, SourceReading } from './source.js';
import { UnusableInputError } from './unusable-input.js';

// `--input FILE…`: captured tables instead of a live source. Each file is one poll, replayed in
// time order, so dwell comes out of captures a customer sends in.

export interface InputOptions {
  paths: string[];
  /** Overrides detection for every file. */
  format?: InputFormat;
  /** Capture times given on the command line, one per file in the order given. */
  atMs?: number[];
}

export interface Capture extends ParsedCapture {
  path: string;
  takenAtMs: number;
  format: InputFormat;
}

/** No file could be read (exit 66), or none held a socket table (exit 65). */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    message: string,
    readonly kind: 'unreadable' | 'unusable',
  ) {
    super(message);
  }
}

/** Reads, decodes and parses every file; files that fail are reported in notices and skipped. */
export async function loadCaptures(platform: Platform, options: InputOptions): Promise<{ captures: Capture[]; notices: string[] }> {
  if (options.atMs && options.atMs.length !== options.paths.length) {
    throw new InputError(`--at gives ${options.atMs.length} times for ${options.paths.length} input files; give one per file, in the same order`, 'unusable');
  }
  const captures: Capture[] = [];
  const notices: string[] = [];
  const unreadable: string[] = [];
  for (const [index, path] of options.paths.entries()) {
    let bytes: Uint8Array;
    try {
      bytes = await platform.readBytes(path);
    } catch (error) {
      const code = errorCode(error);
      unreadable.push(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (error as Error).message}`);
      continue;
    }
    const { text } = decodeText(bytes);
    if (withoutCaptureLine(text).trim() === '') {
      notices.push(`${path} is empty; skipped`);
      continue;
    }
    const format = options.format ?? detectInputFormat(text);
    if (!format) {
      notices.push(`${path}: cannot tell which tool wrote it; skipped (give --input-format: procfs, ss, linux-netstat, windows-netstat, powershell, macos-netstat, conntrack)`);
      continue;
    }
    const takenAtMs = options.atMs?.[index] ?? capturedAtFromText(text) ?? (await platform.modifiedMs(path));
    try {
      captures.push({ path, takenAtMs, format, ...parseCapture(text, format, takenAtMs, path) });
    } catch (error) {
      if (!(error instanceof UnusableInputError)) throw error;
      notices.push(`${path}: cannot be read as ${format} output (${error.message}); skipped`);
    }
  }
  if (unreadable.length === options.paths.length) throw new InputError(unreadable[0]!, 'unreadable');
  notices.unshift(...unreadable.map((u) => `${u}; skipped`));
  if (captures.length === 0) throw new InputError(`no socket table in ${options.paths.join(', ')}: ${notices.join('; ')}`, 'unusable');
  // Stable: files with the same time keep the order given.
  captures.sort((a, b) => a.takenAtMs - b.takenAtMs);
  return { captures, notices };
}

/** Replays captures as successive polls. */
export class CaptureReplay implements ReadingProvider {
  readonly name = 'input';
  readonly ownersInRows = true;
  readonly describesThisHost = false;
  private next = 0;
  private loadNotices: string[];

  constructor(
    private readonly captures: readonly Capture[],
    loadNotices: string[] = [],
  ) {
    this.loadNotices = loadNotices;
  }

  get pending(): number {
    return this.captures.length - this.next;
  }

  async read(): Promise<SourceReading> {
    const capture = this.captures[Math.min(this.next, this.captures.length - 1)]!;
    this.next = Math.min(this.next + 1, this.captures.length);
    const notices = [...this.loadNotices, ...capture.notices];
    this.loadNotices = [];
    return { source: 'input', takenAtMs: capture.takenAtMs, rows: capture.rows, completeProtocols: capture.completeProtocols, notices };
  }

  close(): void {}
}
