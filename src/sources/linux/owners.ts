import { connectionKey, type SocketRow } from '../../core/connection.js';
import type { Ownership } from '../../core/evaluate.js';
import type { Platform } from '../../platform/platform.js';
import type { OwnerAnswer, OwnerFinder } from '../source-record.js';
import { OwnerResolver } from './process-owners.js';
import { procfsInodes } from './procfs.js';

/**
 * Owners of Linux sockets: inode → /proc/<pid>/fd (process-owners.ts), one /proc scan per call at
 * most, cached between calls. Rows without an inode (ss without -e) take theirs from
 * `<procRoot>/net/tcp*`, read once per call and only when such a row is asked about.
 */
export class ProcOwners implements OwnerFinder {
  private readonly resolver: OwnerResolver;

  constructor(
    private readonly platform: Platform,
    private readonly procRoot: string,
  ) {
    this.resolver = new OwnerResolver(platform, procRoot);
  }

  /** Starts the /proc walk of the next find() now (OwnerResolver.prefetch). */
  prefetch(): void {
    this.resolver.prefetch();
  }

  close(): void {
    this.resolver.close();
  }

  async find(rows: readonly SocketRow[]): Promise<OwnerAnswer> {
    const { inodes, unknown, shared } = await this.inodesOf(rows);
    const wanted = shared.size === 0 ? inodes : [...inodes, ...[...shared.values()].flat()];
    const lookup = await this.resolver.resolve(wanted);
    let ambiguous = false;
    const ownership = inodes.map((inode, i): Ownership => {
      const candidates = shared.get(i);
      if (candidates) {
        // One of these sockets, which one unknown: its owner is proven only where they all have the same.
        const first = lookup.owners.get(candidates[0]!);
        if (first && candidates.every((c) => lookup.owners.get(c)?.pid === first.pid)) return { inode: 0, owner: first };
        ambiguous = true;
        return { inode: 0 };
      }
      const owner = lookup.owners.get(inode);
      return owner ? { inode, owner } : { inode };
    });
    // An inode that procfs could not give (its table unread, or its 4-tuple listed for sockets of
    // several owners) is an owner unknown, not none: said as a denied fd listing is.
    return { ownership, permissionDenied: lookup.permissionDenied || unknown || ambiguous };
  }

  /**
   * Inodes of these rows (0: none known); a source that printed none is completed from procfs, once.
   * `unknown`: some row's inode could not be looked up (procfs, or its protocol's table, unread).
   */
  private async inodesOf(rows: readonly SocketRow[]): Promise<{ inodes: number[]; unknown: boolean; shared: Map<number, number[]> }> {
    const sharedRows = new Map<number, number[]>();
    if (rows.every((row) => row.inode !== undefined)) return { inodes: rows.map((row) => row.inode!), unknown: false, shared: sharedRows };
    const { byKey, shared, read } = await procfsInodes(this.platform, this.procRoot);
    let unknown = false;
    const inodes = rows.map((row, i) => {
      if (row.inode !== undefined) return row.inode;
      if (!read.includes(row.protocol)) unknown = true;
      const key = connectionKey(row);
      const candidates = shared.get(key);
      if (candidates) sharedRows.set(i, candidates);
      return byKey.get(key) ?? 0;
    });
    return { inodes, unknown, shared: sharedRows };
  }
}
