import type { Platform } from '../platform/platform.js';
import { errnoWords } from '../platform/errors.js';
import { capturedAtFromText, detectInputFormat, parseCapture, withoutCaptureLine, type ParsedCapture } from './captured-table.js';
import type { InputFormat } from './registry.js';
import { decodeText } from './decode-text.js';
import { unwrapPastedTable } from './pasted-text.js';
import type { HostFacts } from '../core/diagnosis.js';
import { SourceError, type ReadingProvider, type SourceRead, type SourceReading } from './source.js';
import { UnusableInputError } from './unusable-input.js';
import { plural } from '../core/plural.js';

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

/** A file given with --input that gave no table: it could not be read, or held none tcpdwell can read. */
export interface SkippedInput {
  path: string;
  /** One line naming the file and why, e.g. `/c/a.txt: not ss output (…)`. */
  reason: string;
  kind: 'unreadable' | 'unusable';
}

/** What `--input` gave: the captures, in time order, and the files that gave none. */
export interface LoadedCaptures {
  captures: Capture[];
  notices: string[];
  /** Files that gave no table: what they hold is unknown, so the answer is never OK (fail closed). */
  skipped: SkippedInput[];
}

/** No file could be read (exit 66), or none held a socket table (exit 65). */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    message: string,
    readonly kind: 'unreadable' | 'unusable',
    /** Every file and why it gave no table (empty for a command-line mistake such as --at). */
    readonly skipped: readonly SkippedInput[] = [],
  ) {
    super(message);
  }
}

/** The exit kind of input that was not all read: unreadable (66) only when no file was unusable. */
export function skippedInputKind(skipped: readonly SkippedInput[]): 'unreadable' | 'unusable' {
  return skipped.every((s) => s.kind === 'unreadable') ? 'unreadable' : 'unusable';
}

/**
 * Reads, decodes, unwraps (a pasted table's quotes, fence and indentation) and parses every file.
 * Files that give no table are reported in notices, listed in `skipped`, and left out; when no file
 * gives one, throws InputError.
 */
export async function loadCaptures(platform: Platform, options: InputOptions): Promise<LoadedCaptures> {
  if (options.atMs && options.atMs.length !== options.paths.length) {
    throw new InputError(`--at gives ${plural(options.atMs.length, 'time')} for ${plural(options.paths.length, 'input file')}; give one per file, in the same order`, 'unusable');
  }
  const captures: Capture[] = [];
  const notices: string[] = [];
  const skipped: SkippedInput[] = [];
  const unusable = (path: string, reason: string) => skipped.push({ path, reason, kind: 'unusable' });
  for (const [index, path] of options.paths.entries()) {
    let bytes: Uint8Array;
    try {
      bytes = await platform.readBytes(path);
    } catch (error) {
      skipped.push({ path, kind: 'unreadable', reason: `cannot read ${path}: ${errnoWords(error)}` });
      continue;
    }
    // Pasted tables (quoted, indented, fenced, a prompt first) read as the tool wrote them.
    const decoded = decodeText(bytes);
    if (decoded.mixedEncoding) {
      // Its lines in the other encoding would be skipped as garbage, and a stuck session among them unseen.
      unusable(path, `${path}: mixes UTF-16 with single-byte text (appended to with another tool?), so some of its lines cannot be read; convert it to one encoding`);
      continue;
    }
    const text = unwrapPastedTable(decoded.text);
    const body = withoutCaptureLine(text);
    if (body.trim() === '') {
      unusable(path, `${path} is empty`);
      continue;
    }
    const format = options.format ?? detectInputFormat(body);
    if (!format) {
      unusable(path, `${path}: cannot tell which tool wrote it (give --input-format: procfs, ss, linux-netstat, windows-netstat, powershell, macos-netstat, conntrack)`);
      continue;
    }
    const capturedAt = options.atMs?.[index] === undefined ? capturedAtFromText(text) : undefined;
    if (typeof capturedAt === 'object') {
      unusable(path, `${path}: its capture time cannot be read, ${capturedAt.unreadable} (give it with --at)`);
      continue;
    }
    const takenAtMs = options.atMs?.[index] ?? capturedAt ?? (await platform.modifiedMs(path));
    try {
      captures.push({ path, takenAtMs, format, ...parseCapture(text, format, takenAtMs, path) });
    } catch (error) {
      if (!(error instanceof UnusableInputError)) throw error;
      unusable(path, `${path}: cannot be read as ${format} output (${error.message})`);
    }
  }
  // Unreadable files first, then the others, each in the order given.
  skipped.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'unreadable' ? -1 : 1));
  if (captures.length === 0) {
    const message = skipped.every((s) => s.kind === 'unreadable') ? skipped[0]!.reason : `no socket table in ${options.paths.join(', ')}: ${skipped.map((s) => `${s.reason}; skipped`).join('; ')}`;
    throw new InputError(message, skippedInputKind(skipped), skipped);
  }
  for (let i = skipped.length - 1; i >= 0; i--) notices.unshift(`${skipped[i]!.reason}; skipped`); // no spread: see core/lists
  // Stable: files with the same time keep the order given.
  captures.sort((a, b) => a.takenAtMs - b.takenAtMs);
  return { captures, notices, skipped };
}

/** Replays captures as successive polls. */
export class CaptureReplay implements ReadingProvider {
  readonly name = 'input';
  // Owners come from the capture (-o, -b, -p), never from the machine doing the analysis; so would
  // kernel settings, which no capture holds.
  readonly capabilities = { owners: 'in-rows', hostFacts: false } as const;
  readonly owners = undefined;
  readonly describesThisHost = false;
  private reads: SourceRead[] = [];
  private next = 0;
  private loadNotices: string[];

  constructor(
    private readonly captures: readonly Capture[],
    loadNotices: string[] = [],
    /** Files that gave no table: with no capture at all, every poll fails with their reasons. */
    readonly skipped: readonly SkippedInput[] = [],
  ) {
    this.loadNotices = loadNotices;
  }

  get pending(): number {
    return this.captures.length - this.next;
  }

  hostFacts(): Promise<HostFacts> {
    return Promise.resolve({});
  }

  get lastReads(): readonly SourceRead[] {
    return this.reads;
  }

  async read(): Promise<SourceReading> {
    this.reads = [{ source: 'input', ok: this.captures.length > 0, durationMs: 0 }];
    if (this.captures.length === 0) throw new SourceError(this.skipped.map((s) => s.reason).join('; ') || 'no input file holds a socket table');
    const capture = this.captures[Math.min(this.next, this.captures.length - 1)]!;
    this.next = Math.min(this.next + 1, this.captures.length);
    const notices = [...this.loadNotices, ...capture.notices];
    this.loadNotices = [];
    return { source: 'input', takenAtMs: capture.takenAtMs, rows: capture.rows, completeProtocols: capture.completeProtocols, notices };
  }

  close(): void {}
}
