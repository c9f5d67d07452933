import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, realpath, rename, rmdir, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoDetail, errorCode } from './errors.js';
import { kindName, kindOfStats } from './bounded-read.js';

// The state file of `check`, which runs as root from cron. What is guaranteed (README "Security"):
// the file and its temporary are never reached through a symbolic link; a directory or file that
// another user could change is refused (StateFileRefusedError, exit 78); something that is not a
// regular file, is too big, or could not be read is never replaced (StateFileUnusableError: a
// warning, the check itself still reports); every open, rename and lock happens relative to a
// handle on the directory that was checked (on Linux through /proc/self/fd/N, the only way Node
// has to reach openat(2)); a run killed halfway leaves nothing that blocks or confuses the next.

/** Beyond this a state file is not read (a state file holds ~350 bytes a connection: ~750,000 connections). */
export const MAX_STATE_FILE_BYTES = 256 * 1024 * 1024;

/** $XDG_STATE_HOME/tcpdwell/check-state.json, ~/.local/state/… when unset (XDG Base Directory spec). */
export function defaultStateFilePath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'tcpdwell', 'check-state.json');
}

export class StateFileLockedError extends Error {
  override name = 'StateFileLockedError';
}

/** The state file or its directory could be changed by someone else, or is a link: nothing is read or written (exit 78). */
export class StateFileRefusedError extends Error {
  override name = 'StateFileRefusedError';
}

/** The state file cannot be used this run (read-only, full, missing directory, not a regular file, unreadable): a warning, never fatal. */
export class StateFileUnusableError extends Error {
  override name = 'StateFileUnusableError';
}

/** Files a stale lock's owner record identifies its holder by (Linux): pid, boot and the process's start time. */
interface LockOwner {
  pid: number;
  boot?: string;
  start?: string;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY, O_NOCTTY } = constants;
const LOCK_POLL_MS = 100;
/** A lock directory without its owner record (killed between mkdir and writing it) is stale after this. */
const OWNERLESS_LOCK_STALE_MS = 30_000;

/**
 * Holds the state file for one run: `lock` checks the directory, opens a handle on it and takes
 * the lock (`NAME.lock/`, against a concurrent run: a cron job that overran); `read`; `setAside` a
 * corrupt file; `write` a new one atomically (an O_EXCL temporary beside it, fsync, rename, fsync
 * of the directory); `unlock`.
 *
 * Errors: StateFileRefusedError (unsafe: exit 78), StateFileLockedError (another run),
 * StateFileUnusableError (this run cannot keep state: a warning). After a lock or read that failed,
 * `write` does nothing: what could not be read is never replaced.
 */
export class StateFile {
  readonly path: string;
  private readonly dirPath: string;
  private readonly name: string;
  /** The directory's handle, and the path prefix that reaches names through it. */
  private dir: { handle: FileHandle; at: string } | undefined;
  private locked = false;
  private lockTried = false;
  /** Why this run must not write (already reported by the call that found it). */
  private noWrite: string | undefined;

  constructor(path: string) {
    this.path = resolve(path);
    this.dirPath = dirname(this.path);
    this.name = basename(this.path);
  }

  /** Whether `write` will write (false after a lock or read failure). */
  get writable(): boolean {
    return this.noWrite === undefined;
  }

  async lock(waitMs = 5_000): Promise<void> {
    this.lockTried = true;
    // Something that is not a file (a device, a FIFO: `--state-file /dev/null`) is neither opened nor locked beside.
    const existing = await lstatOrUndefined(this.path).catch(() => undefined);
    if (existing && !existing.isFile() && !existing.isSymbolicLink()) throw this.unusable(`state file ${this.path} is ${kindOf(existing)}, not a regular file; it is not used and not replaced`);
    try {
      await makeDirectories(this.dirPath);
    } catch (error) {
      const virtual = await virtualFileSystem(await nearestExisting(this.dirPath));
      if (virtual !== undefined)
        throw this.unusable(
          `state directory ${this.dirPath} cannot be created: it would be in the kernel's ${virtual} file system, where no file or directory can be made (${errorCode(error) ?? 'error'}); give --state-file a path in a directory of your own; history is not kept this run`,
          error,
        );
      throw this.unusable(`state directory ${this.dirPath} cannot be created (${errnoDetail(error)}); history is not kept this run`, error);
    }
    try {
      await this.openCheckedDirectory();
    } catch (error) {
      if (error instanceof StateFileRefusedError || error instanceof StateFileUnusableError) throw error;
      throw this.unusable(`state directory ${this.dirPath} cannot be checked (${errnoDetail(error)}); history is not kept this run`, error);
    }
    if ((await lstatOrUndefined(this.at(this.name)).catch(() => undefined))?.isSymbolicLink()) {
      await this.unlock();
      throw new StateFileRefusedError(`refusing state file ${this.path}: it is a symbolic link`);
    }
    try {
      await this.takeLock(waitMs);
    } catch (error) {
      if (error instanceof StateFileLockedError) {
        await this.unlock();
        throw error;
      }
      const virtual = await virtualFileSystem(this.dirPath);
      // A kernel file system (/proc, /sys…) or one that creates nothing: the lock's mkdir fails
      // there with ENOENT, which alone reads as if the directory were missing.
      if (virtual !== undefined)
        throw this.unusable(
          `state file ${this.path} cannot be kept in ${this.dirPath}, the kernel's ${virtual} file system, where no file can be created (${errorCode(error) ?? 'error'}); give --state-file a path in a directory of your own; history is not kept this run`,
          error,
        );
      if (errorCode(error) === 'ENOENT')
        throw this.unusable(`state directory ${this.dirPath} is there but no file can be created in it (ENOENT: a file system that makes none); history is not kept this run`, error);
      throw this.unusable(`cannot lock state file ${this.path} (${errnoDetail(error)}); history is read but not saved this run`, error);
    }
    await this.removeStaleTemporaries();
  }

  /** The text, or undefined when there is no file yet (or no directory to hold one). */
  async read(): Promise<string | undefined> {
    this.mustHaveTriedLock();
    if (!this.dir) return undefined;
    try {
      return await readCheckedFile(this.at(this.name), this.path, (stats) => this.checkFile(stats));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      if (error instanceof StateFileUnusableError) throw this.unusable(error.message, error);
      if (error instanceof StateFileRefusedError) throw error;
      throw this.unusable(`cannot read state file ${this.path} (${errnoDetail(error)}); starting without history, the file is left as it is`, error);
    }
  }

  /** Keeps a file that could not be decoded beside it, for inspection, before it is replaced (if it cannot be, it is not replaced). */
  async setAside(nowMs: number): Promise<string> {
    const aside = `${this.name}.corrupt-${new Date(nowMs).toISOString().replace(/[:.]/g, '')}`;
    try {
      await rename(this.at(this.name), this.at(aside));
    } catch (error) {
      throw this.unusable(`state file ${this.path} is unusable and cannot be set aside (${errnoDetail(error)}); it is left as it is and not replaced`, error);
    }
    return join(this.dirPath, aside);
  }

  /** Replaces the file with `text` (mode 0600); does nothing when lock or read found it must not (they said why). */
  async write(text: string): Promise<void> {
    this.mustHaveTriedLock();
    if (!this.dir || this.noWrite !== undefined) return;
    const temporary = `${this.name}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    let created = false;
    try {
      const handle = await open(this.at(temporary), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      created = true;
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      // rename(2) replaces the name itself: a link swapped in at the name is replaced, never followed.
      await rename(this.at(temporary), this.at(this.name));
      created = false;
      await this.dir.handle.sync().catch(() => undefined); // the rename durable (not every OS syncs a directory)
    } catch (error) {
      if (created) await unlink(this.at(temporary)).catch(() => undefined);
      throw new StateFileUnusableError(`cannot save state file ${this.path} (${errnoDetail(error)}); the previous file is kept, and this run's history and alerts are not recorded`, { cause: error });
    }
  }

  async unlock(): Promise<void> {
    const dir = this.dir;
    this.dir = undefined;
    if (!dir) return;
    if (this.locked) {
      this.locked = false;
      const lock = `${this.name}.lock`;
      await unlink(`${dir.at}/${lock}/owner`).catch(() => undefined);
      await rmdir(`${dir.at}/${lock}`).catch(() => undefined);
    }
    await dir.handle.close();
  }

  private mustHaveTriedLock(): void {
    if (!this.lockTried) throw new Error('StateFile: lock() comes before read() and write()');
  }

  private at(name: string): string {
    return `${this.dir!.at}/${name}`;
  }

  private unusable(message: string, cause?: unknown): StateFileUnusableError {
    this.noWrite = message;
    return new StateFileUnusableError(message, cause === undefined ? undefined : { cause });
  }

  /** A regular file of a size a state file has, that only its owner, the running user, can change. */
  private checkFile(stats: Stats): void {
    if (stats.isSymbolicLink()) throw new StateFileRefusedError(`refusing state file ${this.path}: it is a symbolic link`);
    const unusable = whyNotStateFile(stats);
    if (unusable) throw new StateFileUnusableError(`state file ${this.path} is ${unusable}; it is not used and not replaced`);
    const uid = euid();
    if (uid !== undefined && stats.uid !== uid) throw new StateFileRefusedError(`refusing state file ${this.path}: owned by uid ${stats.uid}, not by the running user (uid ${uid})`);
    if (uid !== undefined && (stats.mode & 0o022) !== 0) throw new StateFileRefusedError(`refusing state file ${this.path}: writable by others (mode ${octal(stats.mode)})`);
  }

  /**
   * Opens the directory after checking that nobody but the running user (and root) can change it
   * or any directory above it, then reaches it only through the handle.
   */
  private async openCheckedDirectory(): Promise<void> {
    const uid = euid();
    let real: string;
    try {
      real = await realpath(this.dirPath);
    } catch (error) {
      throw this.unusable(`state directory ${this.dirPath} cannot be opened (${errnoDetail(error)}); history is not kept this run`, error);
    }
    if (uid !== undefined) {
      await checkLinksOnTheWay(this.dirPath, uid);
      await checkAncestors(real, uid);
    }
    const checked = await lstat(real);
    if (!checked.isDirectory()) throw this.unusable(`state directory ${this.dirPath} is ${kindOf(checked)}, not a directory; history is not kept this run`);
    if (uid !== undefined) {
      if (checked.uid !== uid) throw new StateFileRefusedError(`refusing state directory ${real}: owned by uid ${checked.uid}, not by the running user (uid ${uid})`);
      if ((checked.mode & 0o022) !== 0) throw new StateFileRefusedError(`refusing state directory ${real}: writable by others (mode ${octal(checked.mode)}); use a directory only its owner can write`);
    }
    let handle: FileHandle;
    try {
      handle = await open(real, O_RDONLY | (O_DIRECTORY ?? 0) | O_NOFOLLOW);
    } catch (error) {
      throw this.unusable(`state directory ${real} cannot be opened (${errnoDetail(error)}); history is not kept this run`, error);
    }
    const opened = await handle.stat();
    if (opened.dev !== checked.dev || opened.ino !== checked.ino) {
      await handle.close();
      throw new StateFileRefusedError(`refusing state directory ${real}: it was replaced while being checked`);
    }
    // /proc/self/fd/N/NAME is NAME inside the opened directory, whatever its path now names (Linux).
    const viaHandle = `/proc/self/fd/${handle.fd}`;
    const reached = await stat(`${viaHandle}/.`).catch(() => undefined);
    const at = reached && reached.dev === opened.dev && reached.ino === opened.ino ? viaHandle : real;
    this.dir = { handle, at };
  }

  private async takeLock(waitMs: number): Promise<void> {
    const lock = this.at(`${this.name}.lock`);
    const giveUpAt = Date.now() + waitMs;
    const owner = await currentOwner();
    for (;;) {
      try {
        await mkdir(lock, { mode: 0o700 });
        this.locked = true;
        // Without its owner record (a full disk) the lock still holds, until it is OWNERLESS_LOCK_STALE_MS old.
        await writeOwner(`${lock}/owner`, owner).catch(() => undefined);
        return;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
      if (await isStaleLock(lock)) {
        // A killed run's lock: removed, then taken as usual (mkdir decides between two runs removing it at once).
        await unlink(`${lock}/owner`).catch(() => undefined);
        await rmdir(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() >= giveUpAt) throw new StateFileLockedError(`another tcpdwell run holds ${this.path}.lock`);
      await sleep(LOCK_POLL_MS);
    }
  }

  /** Temporaries of a run killed between creating and renaming them (we hold the lock: no run is writing one). */
  private async removeStaleTemporaries(): Promise<void> {
    const prefix = `${this.name}.tmp-`;
    const names = await readdir(this.dir!.at).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith(prefix)) await unlink(this.at(name)).catch(() => undefined);
    }
  }
}

/**
 * A state file's text for reading only (`explain --state-file`): never through a link, never a
 * device or FIFO (not even opened), never more than MAX_STATE_FILE_BYTES. Errors: ENOENT as from
 * fs, StateFileUnusableError saying why otherwise.
 */
export async function readStateText(path: string): Promise<string> {
  return readCheckedFile(path, path, (stats) => {
    if (stats.isSymbolicLink()) throw new StateFileUnusableError('a symbolic link, not followed');
    const unusable = whyNotStateFile(stats);
    if (unusable) throw new StateFileUnusableError(unusable);
  });
}

/** Why these stats are not a state file's: `a FIFO, not a regular file`; undefined when they are. */
function whyNotStateFile(stats: Stats): string | undefined {
  if (!stats.isFile()) return `${kindOf(stats)}, not a regular file`;
  if (stats.size > MAX_STATE_FILE_BYTES) return `${stats.size} bytes, more than a state file holds (${MAX_STATE_FILE_BYTES})`;
  return undefined;
}

/**
 * The file at `path`, checked by `check` on its lstat (before anything is opened: opening a device
 * can have effects) and again on the opened file, which must be the same one.
 */
async function readCheckedFile(path: string, shown: string, check: (stats: Stats) => void): Promise<string> {
  const before = await lstat(path);
  check(before);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO swapped in after the lstat must not hang the run; O_NOFOLLOW: nor a link.
    handle = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  } catch (error) {
    if (errorCode(error) === 'ELOOP') throw new StateFileRefusedError(`refusing state file ${shown}: it became a symbolic link`, { cause: error });
    throw error;
  }
  try {
    const opened = await handle.stat();
    if (opened.dev !== before.dev || opened.ino !== before.ino) throw new StateFileRefusedError(`refusing state file ${shown}: it was replaced while being opened`);
    check(opened);
    const bytes = await handle.readFile();
    if (bytes.length > MAX_STATE_FILE_BYTES) throw new StateFileUnusableError(`state file ${shown} grew past ${MAX_STATE_FILE_BYTES} bytes while being read; it is not used and not replaced`);
    return bytes.toString('utf8');
  } finally {
    await handle.close();
  }
}

function euid(): number | undefined {
  return process.geteuid?.();
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/**
 * Every directory from / down to `real` (exclusive) is owned by root or the running user and not
 * writable by others, unless sticky (like /tmp: others cannot rename what they do not own there).
 * Then nobody else can swap the state directory for another.
 */
async function checkAncestors(real: string, uid: number): Promise<void> {
  const parts = real.split(sep).filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const path = sep + parts.slice(0, i).join(sep);
    const stats = await lstat(path);
    if (stats.uid !== 0 && stats.uid !== uid) throw new StateFileRefusedError(`refusing state directory ${real}: ${path} above it is owned by uid ${stats.uid}, who could replace it`);
    const sticky = (stats.mode & 0o1000) !== 0;
    // The user's own directory writable by the user's own primary group: what a user-private-group
    // umask (002, pam_umask usergroups) makes of ~/.local; that group is the user alone there.
    const ownGroupOnly = (stats.mode & 0o002) === 0 && stats.uid === uid && stats.gid === process.getegid?.();
    if (!sticky && !ownGroupOnly && (stats.mode & 0o022) !== 0)
      throw new StateFileRefusedError(`refusing state directory ${real}: ${path} above it is writable by others (mode ${octal(stats.mode)}), who could replace it`);
  }
}

/** A symbolic link on the way to the state directory, made by another user, could point it anywhere. */
async function checkLinksOnTheWay(dir: string, uid: number): Promise<void> {
  const parts = dir.split(sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const path = sep + parts.slice(0, i).join(sep);
    const stats = await lstatOrUndefined(path);
    if (stats?.isSymbolicLink() && stats.uid !== 0 && stats.uid !== uid) {
      throw new StateFileRefusedError(`refusing state directory ${dir}: ${path} is a symbolic link owned by uid ${stats.uid}`);
    }
  }
}

async function writeOwner(path: string, owner: LockOwner): Promise<void> {
  const handle = await open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(JSON.stringify(owner));
  } finally {
    await handle.close();
  }
}

async function currentOwner(): Promise<LockOwner> {
  const owner: LockOwner = { pid: process.pid };
  const boot = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => undefined);
  if (boot) owner.boot = boot.trim();
  const start = await processStart(process.pid);
  if (start) owner.start = start;
  return owner;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot): tells a reused pid from its first holder. */
async function processStart(pid: number): Promise<string | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
}

/** A lock whose holder is gone: another boot, a dead pid, a pid reused by a later process, or no owner record for long. */
async function isStaleLock(lock: string): Promise<boolean> {
  let owner: LockOwner;
  try {
    owner = JSON.parse(await readFile(`${lock}/owner`, { encoding: 'utf8', flag: O_RDONLY | O_NOFOLLOW | O_NONBLOCK })) as LockOwner;
    if (typeof owner.pid !== 'number') throw new Error('no pid');
  } catch {
    const stats = await lstatOrUndefined(lock).catch(() => undefined);
    return stats !== undefined && Date.now() - stats.mtimeMs > OWNERLESS_LOCK_STALE_MS;
  }
  const current = await currentOwner();
  if (owner.boot && current.boot && owner.boot !== current.boot) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return true;
  }
  if (owner.start) {
    const start = await processStart(owner.pid);
    if (start && start !== owner.start) return true;
  }
  return false;
}

function kindOf(stats: Stats): string {
  if (stats.isFile()) return 'a regular file';
  return stats.isSymbolicLink() ? 'a symbolic link' : kindName(kindOfStats(stats));
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

// statfs(2) f_type of the kernel's own file systems (linux/magic.h): no state file can be made there.
const VIRTUAL_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x63677270, 'cgroup2'],
  [0x27e0eb, 'cgroup'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0x1cd1, 'devpts'],
  [0x6e736673, 'nsfs'],
]);

/** The name of the kernel file system `path` is on (proc, sysfs…), or undefined (a disk's, tmpfs, unknown, or statfs failed). */
async function virtualFileSystem(path: string): Promise<string | undefined> {
  try {
    return VIRTUAL_FILE_SYSTEMS.get(Number((await statfs(path)).type));
  } catch {
    return undefined;
  }
}

/** `path`, or the nearest directory above it that exists. */
async function nearestExisting(path: string): Promise<string> {
  for (let at = path; ; at = dirname(at)) {
    if ((await lstatOrUndefined(at).catch(() => undefined)) !== undefined || dirname(at) === at) return at;
  }
}

/**
 * `mkdir -p` with mode 0700: each missing directory from the nearest existing one down. Not
 * Node's `mkdir({ recursive: true })`, which never returns where mkdir(2) answers ENOENT under a
 * directory that exists (a kernel file system: `--state-file /proc/x/state.json` hung, retrying).
 */
async function makeDirectories(path: string): Promise<void> {
  const missing: string[] = [];
  let at = path;
  let found: Stats | undefined;
  while ((found = await lstatOrUndefined(at)) === undefined && dirname(at) !== at) {
    missing.unshift(at);
    at = dirname(at);
  }
  // What stands in the way is a file: as mkdir(2) says it (a link to a directory is followed there).
  if (found && !found.isDirectory() && !(found.isSymbolicLink() && (await stat(at).catch(() => undefined))?.isDirectory())) {
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${missing[0] ?? path}'`), { code: 'ENOTDIR', syscall: 'mkdir' });
  }
  for (const dir of missing) {
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error; // made meanwhile by another run
    }
  }
}
