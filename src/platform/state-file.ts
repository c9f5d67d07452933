import { mkdir, readFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { errorCode } from './platform.js';

/** $XDG_STATE_HOME/tcpdwell/check-state.json, ~/.local/state/… when unset (XDG Base Directory spec). */
export function defaultStateFilePath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'tcpdwell', 'check-state.json');
}

export class StateFileLockedError extends Error {
  override name = 'StateFileLockedError';
}

/**
 * Holds the state file for one run: a lock against a concurrent run (a cron job that overran),
 * a read, and an atomic replace (write to a temporary file, fsync, rename).
 */
export class StateFile {
  private release: (() => Promise<void>) | undefined;

  constructor(readonly path: string) {}

  async lock(waitMs = 5_000): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    try {
      this.release = await lockfile.lock(this.path, {
        realpath: false,
        stale: 60_000,
        retries: { retries: Math.ceil(waitMs / 250), factor: 1, minTimeout: 250, maxTimeout: 250 },
      });
    } catch (error) {
      if (errorCode(error) === 'ELOCKED') throw new StateFileLockedError(`another tcpdwell run holds ${this.path}.lock`);
      throw error;
    }
  }

  /** The text, or undefined when there is no file yet. */
  async read(): Promise<string | undefined> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Keeps a file that could not be read beside it, for inspection, before it is replaced. */
  async setAside(nowMs: number): Promise<string> {
    const aside = `${this.path}.corrupt-${new Date(nowMs).toISOString().replace(/[:.]/g, '')}`;
    await rename(this.path, aside);
    return aside;
  }

  async write(text: string): Promise<void> {
    await writeFileAtomic(this.path, text, { mode: 0o600, fsync: true });
  }

  async unlock(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    if (release) await release();
  }
}
