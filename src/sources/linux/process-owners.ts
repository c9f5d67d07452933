import type { Owner } from '../../core/evaluate.js';
import { errorCode, type Platform, type SocketInodes } from '../../platform/platform.js';
import { errnoWords } from '../../platform/errors.js';
import { SourceError } from '../source.js';

// Socket owner (pid, process name) by inode, from the /proc/<pid>/fd links ("socket:[INODE]").
// One scan per poll at most, only for the inodes asked for, stopping as soon as all are found;
// answers are cached across polls and the cache keeps only inodes still asked about. The scan walks
// the processes of the network namespace being read first (a socket is almost always held in the
// namespace it was made in, and listing every other container's fds is the bulk of a scan on a busy
// host), then, only while some wanted inode is still missing, every other process: a process may
// setns(2) into a namespace, open sockets there and go back, or be handed one over a unix socket
// (SCM_RIGHTS), and its sockets are its own wherever it now is. A socket inode names one socket
// host-wide (sockfs is one filesystem for every namespace), so an inode found in another
// namespace's process is that socket. The narrowing is a speed-up only: it never changes the answer.

export interface OwnerLookup {
  /** The owner of each wanted inode that one was found for (InodeOwners). */
  owners: InodeOwners;
  /**
   * Some /proc/<pid>/fd directories or process names could not be read (permission denied, not
   * root; or a read that failed, EIO…): unresolved rows may be theirs, and a '?' name is unknown.
   */
  permissionDenied: boolean;
}

/** A walk started ahead of the scan that uses it: the namespace's processes, and the socket inodes of each one's fds being read. */
interface Prefetch {
  /**
   * The namespace's processes to walk, in order, and the others (walked after them, only while an
   * inode is missing); undefined when /proc could not be listed; `interrupted` when a signal stopped the listing.
   */
  walk: Promise<{ pids: string[]; others: string[]; inodes: Map<string, Promise<SocketInodes>> } | { interrupted: unknown } | undefined>;
  stop: AbortController;
}

export class OwnerResolver {
  private cache = InodeOwners.of([]);
  private prefetched: Prefetch | undefined;
  private lastDenied = false;
  /** A process name (comm) of this scan failed to read for a reason other than its process exiting. */
  private nameUnread = false;
  /** The `net:[…]` link of the namespace being read; null until asked, undefined when it cannot be read (every process is then scanned). */
  private ownNetns: string | undefined | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly procRoot: string,
  ) {}

  /**
   * Owners of the `wanted` inodes (0: none). `pids`: the processes of the namespace read (one
   * network namespace's, found by the caller), scanned first as given; without them, the processes
   * whose `<procRoot>/<pid>/ns/net` is `<procRoot>/self/ns/net` (the namespace `<procRoot>/net/tcp`
   * shows), one readlink each before its fds are listed. Either way, while some wanted inode is still
   * missing, every other process under `procRoot` is scanned after them (its holder may be outside).
   */
  async resolve(wanted: Iterable<number>, pids?: readonly number[]): Promise<OwnerLookup> {
    const owners = InodeOwners.of(wanted);
    owners.takeFrom(this.cache);
    let denied = false;
    this.nameUnread = false;
    if (owners.missing > 0) denied = await this.scan(owners, pids);
    else {
      denied = this.lastDenied;
      this.close(); // a prefetch is for this resolve only
    }
    this.lastDenied = denied;
    // The answer is the cache (callers only read it): a copy was a second 100,000-entry map at
    // watch's first poll, which asks for every connection's owner.
    this.cache = owners;
    return { owners, permissionDenied: denied };
  }

  /**
   * Starts reading the fd links of every process of the namespace now (off this thread: `beside`,
   * see Platform.readSocketInodes), for the next resolve without `pids`: a one-shot command's walk (the
   * readlink(2) of each descriptor, the bulk of a lookup at 40,000 sockets) then runs beside its
   * reading and evaluation instead of after them. Every process's fds are read, not only until
   * the wanted inodes are found, as those are not known yet. The next scan uses it (and stops
   * what it no longer needs); close() stops it when none comes.
   */
  prefetch(): void {
    if (this.prefetched) return;
    const stop = new AbortController();
    const walk = this.namespacePids().then(
      ({ inside: pids, outside: others }) => {
        const inodes = new Map<string, Promise<SocketInodes>>();
        for (const pid of pids) {
          const read = this.platform.readSocketInodes(`${this.procRoot}/${pid}/fd`, stop.signal, { beside: true });
          read.catch(() => undefined); // its error is the scan's to judge, if a scan comes
          inodes.set(pid, read);
        }
        return { pids, others, inodes };
      },
      // Listing the processes failed: the scan takes it as denied, unless a signal stopped it.
      (error: unknown) => (errorCode(error) === 'EINTERRUPTED' ? { interrupted: error } : undefined),
    );
    this.prefetched = { walk, stop };
  }

  /** Stops a prefetched walk no scan has used. */
  close(): void {
    this.prefetched?.stop.abort();
    this.prefetched = undefined;
  }

  /**
   * Every process under procRoot in the namespace read (as scan decides it, here all at once), and
   * the others; rejects when procRoot cannot be listed.
   */
  private async namespacePids(): Promise<{ inside: string[]; outside: string[] }> {
    const pids = (await this.platform.listDirectory(this.procRoot)).filter((name) => /^\d+$/.test(name));
    const netns = await this.namespaceRead();
    if (netns === undefined) return { inside: pids, outside: [] };
    const places = await Promise.all(pids.map((pid) => this.placeOf(pid, netns)));
    return { inside: pids.filter((_, i) => places[i] === 'in'), outside: pids.filter((_, i) => places[i] === 'out') };
  }

  /**
   * Where process `pid` is against namespace `netns` (its `ns/net` link): `in` it, or with a link
   * denied even to root (as a sandbox's init may) walked with it, its fds listed as before if they
   * can be; `out`side it; `gone` when it exited.
   */
  private async placeOf(pid: string, netns: string): Promise<'in' | 'out' | 'gone'> {
    try {
      return (await this.platform.readLink(`${this.procRoot}/${pid}/ns/net`)) === netns ? 'in' : 'out';
    } catch (error) {
      failIfInterrupted(error);
      return hasExited(error) ? 'gone' : 'in';
    }
  }

  /** Claims the missing inodes (the namespace's processes first, then the others while any is missing); true when the answer may lack owners (claimAll). */
  private async scan(owners: InodeOwners, only: readonly number[] | undefined): Promise<boolean> {
    const walked: Walked = { denied: false };
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    if (prefetched && !only) {
      try {
        const walk = await prefetched.walk;
        if (walk && 'interrupted' in walk) failIfInterrupted(walk.interrupted);
        if (!walk || !('pids' in walk)) return true;
        await this.claimAll(walk.pids, (pid) => walk.inodes.get(pid)!, owners, walked);
        if (owners.missing > 0) await this.claimAll(walk.others, (pid) => this.platform.readSocketInodes(`${this.procRoot}/${pid}/fd`), owners, walked);
        return this.unproven(owners, walked);
      } finally {
        prefetched.stop.abort(); // what is still being read is not needed
      }
    }
    prefetched?.stop.abort();
    let listed: string[] | undefined;
    const list = async () => (listed ??= (await this.platform.listDirectory(this.procRoot)).filter((name) => /^\d+$/.test(name)));
    let pids: string[];
    try {
      pids = only ? only.map(String) : await list();
    } catch (error) {
      failIfInterrupted(error);
      return true;
    }
    const netns = only ? undefined : await this.namespaceRead();
    /** Processes passed by in the first walk, as in another namespace: walked after, only while an inode is missing. */
    const outside: string[] = [];
    const inodesOf = async (pid: string) => {
      const place = netns === undefined ? 'in' : await this.placeOf(pid, netns);
      if (place === 'in') return this.platform.readSocketInodes(`${this.procRoot}/${pid}/fd`);
      if (place === 'out') outside.push(pid);
      return undefined;
    };
    await this.claimAll(pids, inodesOf, owners, walked);
    if (owners.missing > 0) {
      let others = outside;
      if (only) {
        // The namespace's processes were given: the others are every other process of the listing.
        const given = new Set(pids);
        try {
          others = (await list()).filter((pid) => !given.has(pid));
        } catch (error) {
          failIfInterrupted(error);
          return true; // a holder outside the namespace cannot be looked for: the missing owners are not proven absent
        }
      }
      await this.claimAll(others, (pid) => this.platform.readSocketInodes(`${this.procRoot}/${pid}/fd`), owners, walked);
    }
    return this.unproven(owners, walked);
  }

  /**
   * True when some process's fds (its listing, or some of its links) were denied and some wanted
   * inode was not found: the answer may lack their owners; or a process name failed to read. Every
   * wanted inode found, what could not be read hides none of them (a sandbox's init may deny even
   * root its links, /proc/1/fd/* EACCES: seen on this project's host).
   */
  private unproven(owners: InodeOwners, walked: Walked): boolean {
    return (walked.denied && owners.missing > 0) || this.nameUnread;
  }

  /**
   * Claims the wanted inodes process by process, in `pids`' order, until none is missing.
   * `inodesOf`: a process's socket inodes, or undefined to pass it by. Sets `walked.denied` when
   * some process's fds (its listing, or some of its links) could not be read.
   */
  private async claimAll(pids: readonly string[], inodesOf: (pid: string) => Promise<SocketInodes | undefined>, owners: InodeOwners, walked: Walked): Promise<void> {
    for (const pid of pids) {
      if (owners.missing === 0) break;
      let inodes: SocketInodes | undefined;
      try {
        inodes = await inodesOf(pid);
      } catch (error) {
        failIfInterrupted(error);
        // Exited since the listing: nothing of it to find. Denied, or a read that failed (EIO…):
        // its sockets are there, their owner unknown.
        if (!hasExited(error)) walked.denied = true;
        continue;
      }
      if (!inodes) continue;
      // Some of its links unread (EACCES, EPERM: credentials changed since the listing; EIO): a
      // socket among them would be shown owned by no one, so the answer says owners are not proven.
      if (inodes.unreadLinks > 0) walked.denied = true;
      await this.claim(pid, inodes.inodes, owners);
    }
  }

  /** Takes the wanted inodes among the socket inodes one process's fds link to as its own. */
  private async claim(pid: string, inodes: Float64Array, owners: InodeOwners): Promise<void> {
    // One Owner for all the sockets of this process (a server holds thousands).
    let owner: Owner | undefined;
    for (let i = 0; i < inodes.length; i++) {
      const at = owners.indexOf(inodes[i]!);
      if (at < 0 || owners.ownerAt(at) !== undefined) continue;
      owner ??= { pid: Number(pid), process: await this.processName(pid) };
      owners.claimAt(at, owner);
    }
  }

  /** The link of the namespace this resolver's /proc shows, read once. */
  private async namespaceRead(): Promise<string | undefined> {
    if (this.ownNetns === null) this.ownNetns = await this.platform.readLink(`${this.procRoot}/self/ns/net`).catch(() => undefined);
    return this.ownNetns;
  }

  private async processName(pid: string): Promise<string> {
    try {
      // Only the kernel's closing newline goes: the name is kept exact (blanks, CR and all), and
      // the output edge escapes it.
      return (await this.platform.readText(`${this.procRoot}/${pid}/comm`)).replace(/\n$/, '');
    } catch (error) {
      failIfInterrupted(error);
      // '?' is no process name a rule can match: a name that failed to read (not a process that
      // exited meanwhile) makes the lookup's answer incomplete, as a denied fd listing does.
      if (!hasExited(error)) this.nameUnread = true;
      return '?';
    }
  }
}

/** What one scan's walks met: some process's fds (its listing, or some of its links) could not be read. */
interface Walked {
  denied: boolean;
}

/**
 * A read stopped by SIGINT/SIGTERM is not a process that exited: taken as one, every owner after
 * it would be "none" and a count per process 0 (a false OK). Throws SourceError (exit 3).
 */
function failIfInterrupted(error: unknown): void {
  if (errorCode(error) === 'EINTERRUPTED') throw new SourceError("interrupted while reading the sockets' owners: nothing was judged", { cause: error });
}

/** ENOENT or ESRCH: the process exited (its /proc directory is gone). */
function hasExited(error: unknown): boolean {
  return errorCode(error) === 'ENOENT' || errorCode(error) === 'ESRCH';
}

/**
 * Why `procRoot` is not a procfs mount point, or undefined when it is one. A procfs root lists a
 * directory per process (`<pid>`) and the `self` link (proc(5)); `/proc/<pid>` (which has a `net/`
 * of its own) and a plain directory list neither, so owners (`<pid>/fd`) and the uptime cannot be
 * found under them. One listing of the directory; the message is one line naming it.
 */
export async function procRootProblem(platform: Platform, procRoot: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await platform.listDirectory(procRoot);
  } catch (error) {
    return `--proc-root ${procRoot} cannot be listed (${errnoWords(error)})`;
  }
  if (names.includes('self') || names.some((name) => /^\d+$/.test(name))) return undefined;
  // /proc/<pid>: its fd/ and comm are a process's own; that process's table is `--netns PID`'s.
  if (names.includes('fd') && names.includes('comm'))
    return `--proc-root ${procRoot} is one process's directory, not a procfs mount point (for that process's network namespace use --netns ${procRoot.split('/').at(-1)})`;
  return `--proc-root ${procRoot} is not a procfs mount point (no process directories, no "self")`;
}

/**
 * The owners of a set of socket inodes: the inodes sorted in a typed array, and the owner found for
 * each beside it (none yet: undefined), found by binary search. Why not a Set of the inodes still
 * missing and a Map of those found: at watch's first poll every connection's owner is asked for,
 * and two 100,000-entry hash tables (with the smaller tables they grew through) were ~15 MB of that
 * poll's peak (measured at 96,000 sockets, issue 15); this is 16 bytes an inode, allocated once.
 */
export class InodeOwners implements Iterable<[number, Owner]> {
  private found = 0;

  private constructor(
    /** The wanted inodes, ascending, each once (0, "no inode", left out). */
    readonly inodes: Float64Array,
    private readonly owners: (Owner | undefined)[],
  ) {}

  /** For these inodes (any order, repeats and 0 allowed), none of them owned yet. */
  static of(wanted: Iterable<number>): InodeOwners {
    const listed = Array.isArray(wanted) ? (wanted as readonly number[]) : [...wanted];
    const sorted = new Float64Array(listed.length);
    let count = 0;
    for (const inode of listed) if (inode) sorted[count++] = inode;
    const inodes = sorted.subarray(0, count).sort();
    let unique = 0;
    for (let i = 0; i < inodes.length; i++) if (i === 0 || inodes[i] !== inodes[unique - 1]) inodes[unique++] = inodes[i]!;
    return new InodeOwners(inodes.subarray(0, unique), new Array<Owner | undefined>(unique).fill(undefined));
  }

  /** How many of the inodes have no owner yet. */
  get missing(): number {
    return this.inodes.length - this.found;
  }

  /** How many have an owner. */
  get size(): number {
    return this.found;
  }

  /** Where `inode` is in `inodes`, or -1. */
  indexOf(inode: number): number {
    let low = 0;
    let high = this.inodes.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const at = this.inodes[middle]!;
      if (at === inode) return middle;
      if (at < inode) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  ownerAt(index: number): Owner | undefined {
    return this.owners[index];
  }

  /** `owner` (if any) as the owner of the inode at `index`, which had none. */
  claimAt(index: number, owner: Owner | undefined): void {
    if (owner === undefined || this.owners[index] !== undefined) return;
    this.owners[index] = owner;
    this.found++;
  }

  /** Each inode's owner in `earlier` (the answer before: a cache), where it has one: one walk of both ascending lists. */
  takeFrom(earlier: InodeOwners): void {
    let j = 0;
    for (let i = 0; i < this.inodes.length; i++) {
      const inode = this.inodes[i]!;
      while (j < earlier.inodes.length && earlier.inodes[j]! < inode) j++;
      if (j === earlier.inodes.length) return;
      if (earlier.inodes[j] === inode) this.claimAt(i, earlier.owners[j]);
    }
  }

  /** The owner found for `inode`, if any. */
  get(inode: number): Owner | undefined {
    const at = this.indexOf(inode);
    return at < 0 ? undefined : this.owners[at];
  }

  /** The inodes with an owner and their owners, in ascending order of inode. */
  *[Symbol.iterator](): Iterator<[number, Owner]> {
    for (let i = 0; i < this.inodes.length; i++) {
      const owner = this.owners[i];
      if (owner !== undefined) yield [this.inodes[i]!, owner];
    }
  }
}
