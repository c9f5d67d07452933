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
    const { inodes, unknown } = await this.inodesOf(rows);
    const lookup = await this.resolver.resolve(inodes);
    const ownership = inodes.map((inode): Ownership => {
      const owner = lookup.owners.get(inode);
      return owner ? { inode, owner } : { inode };
    });
    // An inode that procfs could not give (its table unread) is an owner unknown, not none: said as a denied fd listing is.
    return { ownership, permissionDenied: lookup.permissionDenied || unknown };
  }

  /**
   * Inodes of these rows (0: none known); a source that printed none is completed from procfs, once.
   * `unknown`: some row's inode could not be looked up (procfs, or its protocol's table, unread).
   */
  private async inodesOf(rows: readonly SocketRow[]): Promise<{ inodes: number[]; unknown: boolean }> {
    if (rows.every((row) => row.inode !== undefined)) return { inodes: rows.map((row) => row.inode!), unknown: false };
    const { byKey, read } = await procfsInodes(this.platform, this.procRoot);
    let unknown = false;
    const inodes = rows.map((row) => {
      if (row.inode !== undefined) return row.inode;
      if (!read.includes(row.protocol)) unknown = true;
      return byKey.get(connectionKey(row)) ?? 0;
    });
    return { inodes, unknown };
  }
}
