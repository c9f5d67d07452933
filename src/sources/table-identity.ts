import type { Platform } from '../platform/platform.js';
import type { SourceChoice } from './registry.js';
import { netnsChoiceText, type NetnsChoice } from './netns-choice.js';
import { resolveNetnsInodes } from './netns-source.js';

// What a socket table is the table of. History (dwell, reported alerts) is true only of the table
// it was taken from: another network namespace, another boot, another source or another /proc
// describe other sockets, even where their 4-tuples look the same (every namespace has 127.0.0.1).

/** The identity of the socket table a live source reads. */
export interface TableIdentity {
  /** The source as asked for (`auto`, `ss`, `procfs`…). */
  source: SourceChoice;
  /** The /proc the sources and host facts read. */
  procRoot: string;
  /**
   * The network namespace read: the target of `/proc/self/ns/net` (`net:[4026531840]`), which ss,
   * conntrack and netstat read, and where `procRoot` is not /proc, also of `<procRoot>/self/ns/net`,
   * which the procfs source reads. null where the OS has no such file (Windows, macOS).
   */
  netns: string | null;
  /** `<procRoot>/sys/kernel/random/boot_id`: new at every boot. null where there is none. */
  bootId: string | null;
  /**
   * A section of one namespace read through `--netns` (`netns` is then its `net:[inode]`): its
   * connections carry that namespace in their keys. Absent for a plain run's table.
   */
  perNetns?: boolean;
  /** With `perNetns`: the namespace's start time (NetnsLabel.started), which tells it from a later one given its inode. */
  netnsStarted?: number;
  /**
   * `--netns`: the namespaces a run reads, whose histories are kept one section each (`perNetns`);
   * `all`, or their inodes. The run's own section (its count alerts) has `netns: "--netns CHOICE"`.
   * Never stored.
   */
  netnsScope?: 'all' | number[];
}

/** One string per table, equal for two identities only when every part is. */
export function tableKey(identity: { source: string; procRoot: string; netns: string | null; bootId: string | null; perNetns?: boolean | undefined; netnsStarted?: number | undefined }): string {
  const parts = [identity.source, identity.procRoot, identity.netns, identity.bootId];
  if (!identity.perNetns) return JSON.stringify(parts);
  return JSON.stringify(identity.netnsStarted === undefined ? [...parts, 'per-netns'] : [...parts, 'per-netns', identity.netnsStarted]);
}

/**
 * Reads the identity of the table `source` reads through `procRoot` (Linux: namespace links and
 * the boot id, see proc(5) `/proc/[pid]/ns/` and `/proc/sys/kernel/random/boot_id`). `procRoot`
 * may be a procfs mount (`/proc`, `/host/proc`: its `self/ns/net`) or one process's directory
 * (`/proc/1234`: its `ns/net`, the namespace its `net/tcp` shows). The boot id is the kernel's, the
 * same through every procfs mount. Parts the OS does not have are null; nothing here throws.
 */
export async function readTableIdentity(platform: Platform, source: SourceChoice, procRoot: string, netnsChoice?: NetnsChoice): Promise<TableIdentity> {
  const link = (path: string) => platform.readLink(path).catch(() => null);
  const read = (path: string) =>
    platform.readText(path).then(
      (text) => text.trim() || null,
      () => null,
    );
  if (netnsChoice) {
    // Each namespace's history is its own section; which ones this run reads is found now.
    const bootId = (await read(`${procRoot}/sys/kernel/random/boot_id`)) ?? (await read('/proc/sys/kernel/random/boot_id'));
    const inodes = netnsChoice.kind === 'all' ? 'all' : await resolveNetnsInodes(platform, netnsChoice, procRoot);
    return { source, procRoot, netns: inodes.length === 0 ? null : `--netns ${netnsChoiceText(netnsChoice)}`, bootId, netnsScope: inodes };
  }
  const own = await link('/proc/self/ns/net');
  const viaRoot = procRoot === '/proc' ? own : ((await link(`${procRoot}/ns/net`)) ?? (await link(`${procRoot}/self/ns/net`)));
  // Both namespaces where they differ (ss reads this process's, procfs the root's); unknown if either is.
  const netns = own === null || viaRoot === null ? null : own === viaRoot ? own : `${own} ${viaRoot}`;
  const bootId = (await read(`${procRoot}/sys/kernel/random/boot_id`)) ?? (procRoot === '/proc' ? null : await read('/proc/sys/kernel/random/boot_id'));
  return { source, procRoot, netns, bootId };
}

/**
 * Why history cannot be tied to this table, or undefined when it can. On Linux every table has a
 * namespace; where its link cannot be read (a /proc root that is neither a procfs mount nor a
 * process directory), sharing history would risk mixing another table's into it.
 */
export function whyNoTableIdentity(identity: TableIdentity, os: string): string | undefined {
  if (os !== 'linux') return undefined;
  if (identity.netns === null && identity.netnsScope) return `cannot find the network namespace --netns names`;
  if (identity.netns === null) {
    return `cannot tell which network namespace ${identity.procRoot} shows (no readable ns/net or self/ns/net link there)`;
  }
  return undefined;
}
