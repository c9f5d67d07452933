import { open, type FileHandle } from 'node:fs/promises';

/** How one write (or reopen) went. `lost`: lines not in the file since the last write that succeeded. */
export type AppendResult = { ok: true; recoveredFrom: number } | { ok: false; error: Error; lost: number };

/**
 * A JSON-lines file opened for appending, rotation-safe: `reopen()` (on SIGHUP, after logrotate
 * moved the file) closes the old handle and opens the path again. Writes are serialised.
 *
 * A failed write (ENOSPC, EIO, the directory removed) is never fatal: its lines are counted as
 * lost, a line cut short by the failure is cut off again (the file is truncated back to its size
 * before the write, so it stays whole JSON lines), and the next write or reopen tries again,
 * opening the path anew if it could not be opened. The first write that succeeds after a loss is
 * preceded by `gapLine(lost)`, so a reader of the file sees where lines are missing and how many.
 */
export class AppendLog {
  private handle: FileHandle | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private lost = 0;

  constructor(
    readonly path: string,
    private readonly gapLine: (lost: number) => string,
  ) {}

  /** Lines lost since the last write that succeeded. */
  get linesLost(): number {
    return this.lost;
  }

  /** Opens the file now, so a bad path fails at start-up rather than at the first event. Rejects with the open error. */
  async open(): Promise<void> {
    this.handle ??= await open(this.path, 'a', 0o640);
  }

  /** Appends the lines (no newlines inside); never rejects. */
  write(lines: readonly string[]): Promise<AppendResult> {
    return this.enqueue(() => this.append(lines));
  }

  /** Closes and opens the path again; lines lost before are accounted for in the file now. Never rejects. */
  reopen(): Promise<AppendResult> {
    return this.enqueue(async () => {
      const old = this.handle;
      this.handle = undefined;
      await old?.close().catch(() => undefined);
      return this.append([]);
    });
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }

  private enqueue(task: () => Promise<AppendResult>): Promise<AppendResult> {
    const next = this.queue.then(task);
    this.queue = next;
    return next;
  }

  private async append(lines: readonly string[]): Promise<AppendResult> {
    const all = this.lost > 0 ? [this.gapLine(this.lost), ...lines] : lines;
    try {
      this.handle ??= await open(this.path, 'a', 0o640);
      if (all.length > 0) await appendWhole(this.handle, all.map((l) => `${l}\n`).join(''));
      const recoveredFrom = this.lost;
      this.lost = 0;
      return { ok: true, recoveredFrom };
    } catch (error) {
      this.lost += lines.length;
      return { ok: false, error: error instanceof Error ? error : new Error(String(error)), lost: this.lost };
    }
  }
}

/** Appends all of `text` or, on failure, none of it: a write cut short by a full disk is truncated away. */
async function appendWhole(handle: FileHandle, text: string): Promise<void> {
  const { size } = await handle.stat();
  try {
    await handle.appendFile(text);
  } catch (error) {
    // Truncating only shrinks the file, so it works on a full disk too.
    await handle.truncate(size).catch(() => undefined);
    throw error;
  }
}
