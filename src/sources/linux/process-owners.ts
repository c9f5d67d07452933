import type { Owner } from '../../core/evaluate.js';
import { errorCode, type Platform } from '../../platform/platform.js';

// Socket owner (pid, process name) by inode, from the /proc/<pid>/fd links ("socket:[INODE]").
// One scan per poll at most, only for the inodes asked for, stopping as soon as all are found;
// answers are cached across polls and the cache keeps only inodes still asked about.

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

  constructor(
    private readonly platform: Platform,
    private readonly procRoot: string,
  ) {}

  /** Owners of the `wanted` inodes (0: none); `pids`: scan only these processes (one network namespace's), not every one under `procRoot`. */
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
    for (const pid of pids) {
      if (missing.size === 0) break;
      const fdDir = `${this.procRoot}/${pid}/fd`;
      let fds: string[];
      try {
        fds = await this.platform.listDirectory(fdDir);
      } catch (error) {
        if (errorCode(error) === 'EACCES' || errorCode(error) === 'EPERM') denied = true;
        continue; // the process exited, or is not ours
      }
      const links = await Promise.all(fds.map((fd) => this.platform.readLink(`${fdDir}/${fd}`).catch(() => '')));
      let name: string | undefined;
      for (const link of links) {
        const inode = parseSocketLink(link);
        if (inode === undefined || !missing.has(inode)) continue;
        name ??= await this.processName(pid);
        owners.set(inode, { pid: Number(pid), process: name });
        missing.delete(inode);
      }
    }
    return denied;
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
