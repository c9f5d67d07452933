import type { Owner } from '../../core/evaluate.js';
import { errorCode, type Platform } from '../../platform/platform.js';

// Socket owner (pid, process name) by inode, from the /proc/<pid>/fd links ("socket:[INODE]").
// One scan per poll at most, only for the inodes asked for, only among the processes of the
// network namespace being read (a socket belongs to the namespace it was made in, and its holder
// is almost always there: listing every other container's fds is the bulk of a scan on a busy
// host), stopping as soon as all are found; answers are cached across polls and the cache keeps
// only inodes still asked about.

export interface OwnerLookup {
  owners: Map<number, Owner>;
  /** Some /proc/<pid>/fd directories could not be read (not root): unresolved rows may be theirs. */
  permissionDenied: boolean;
}

/** "socket:[233569]" → 233569. */
export function parseSocketLink(link: string): number | undefined {
  const match = /^socket:\[(\d+)\]$/.exec(link);
  return match ? Number(match[1]) : undefined;
}

export class OwnerResolver {
  private cache = new Map<number, Owner>();
  private lastDenied = false;
  /** The `net:[…]` link of the namespace being read; null until asked, undefined when it cannot be read (every process is then scanned). */
  private ownNetns: string | undefined | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly procRoot: string,
  ) {}

  /**
   * Owners of the `wanted` inodes (0: none). `pids`: scan only these processes (one network
   * namespace's, found by the caller), not every one under `procRoot`; without them, only the
   * processes whose `<procRoot>/<pid>/ns/net` is `<procRoot>/self/ns/net` (the namespace
   * `<procRoot>/net/tcp` shows), one readlink each before its fds are listed.
   */
  async resolve(wanted: Iterable<number>, pids?: readonly number[]): Promise<OwnerLookup> {
    const owners = new Map<number, Owner>();
    const missing = new Set<number>();
    for (const inode of wanted) {
      if (!inode) continue; // 0: no process owns it yet
      const cached = this.cache.get(inode);
      if (cached) owners.set(inode, cached);
      else missing.add(inode);
    }
    let denied = false;
    if (missing.size > 0) denied = await this.scan(missing, owners, pids);
    else denied = this.lastDenied;
    this.lastDenied = denied;
    this.cache = new Map(owners);
    return { owners, permissionDenied: denied };
  }

  private async scan(missing: Set<number>, owners: Map<number, Owner>, only: readonly number[] | undefined): Promise<boolean> {
    let denied = false;
    let pids: string[];
    try {
      pids = only ? only.map(String) : (await this.platform.listDirectory(this.procRoot)).filter((name) => /^\d+$/.test(name));
    } catch {
      return true;
    }
    const netns = only ? undefined : await this.namespaceRead();
    for (const pid of pids) {
      if (missing.size === 0) break;
      if (netns !== undefined) {
        let link: string | undefined;
        try {
          link = await this.platform.readLink(`${this.procRoot}/${pid}/ns/net`);
        } catch (error) {
          // Its namespace cannot be told (a link denied even to root, as a sandbox's init may):
          // its fds are listed as before, if they can be. Any other failure: it exited.
          if (errorCode(error) !== 'EACCES' && errorCode(error) !== 'EPERM') continue;
        }
        if (link !== undefined && link !== netns) continue; // another namespace's process: not the holder of a socket of this one
      }
      let links: [string, string][];
      try {
        links = await this.platform.readLinks(`${this.procRoot}/${pid}/fd`);
      } catch (error) {
        if (errorCode(error) === 'EACCES' || errorCode(error) === 'EPERM') denied = true;
        continue; // the process exited, or is not ours
      }
      let name: string | undefined;
      for (const [, link] of links) {
        const inode = parseSocketLink(link);
        if (inode === undefined || !missing.has(inode)) continue;
        name ??= await this.processName(pid);
        owners.set(inode, { pid: Number(pid), process: name });
        missing.delete(inode);
      }
    }
    return denied;
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
    } catch {
      return '?';
    }
  }
}
