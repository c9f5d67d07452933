import { open, type FileHandle } from 'node:fs/promises';

/**
 * A JSON-lines file opened for appending, rotation-safe: `reopen()` (on SIGHUP, after logrotate
 * moved the file) closes the old handle and opens the path again. Writes are serialised.
 */
export class AppendLog {
  private handle: Promise<FileHandle> | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Opens the file now, so a bad path fails at start-up rather than at the first event. */
  async open(): Promise<void> {
    this.handle ??= open(this.path, 'a', 0o640);
    await this.handle;
  }

  write(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return this.queue;
    const text = lines.map((l) => `${l}\n`).join('');
    this.queue = this.queue.then(async () => {
      this.handle ??= open(this.path, 'a', 0o640);
      await (await this.handle).appendFile(text);
    });
    return this.queue;
  }

  reopen(): Promise<void> {
    this.queue = this.queue.then(async () => {
      const old = this.handle;
      this.handle = undefined;
      await (await old)?.close();
      this.handle = open(this.path, 'a', 0o640);
      await this.handle;
    });
    return this.queue;
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await (await this.handle)?.close();
    this.handle = undefined;
  }
}
