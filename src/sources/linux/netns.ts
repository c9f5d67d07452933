import { errorCode, type Platform } from '../../platform/platform.js';
import type { NetnsChoice } from '../netns-choice.js';
import { SourceError } from '../source.js';

// Finding the host's network namespaces. A namespace lives as long as a process is in it or a
// file holds it: `<proc>/<pid>/ns/net` links (`net:[4026532177]`, the nsfs inode; proc(5)
// /proc/[pid]/ns/) and bind mounts of such files, which `ip netns add NAME` makes under
// /run/netns (ip-netns(8)); both kinds show in mountinfo as `nsfs` mounts whose root is the link
// text. Two links name the same namespace exactly when their inodes are equal.

/** One distinct network namespace. */
export interface NetnsHandle {
  /** The nsfs inode: the namespace's identity. */
  inode: number;
  /** `ip netns` names (mount points under /run/netns), sorted. */
  names: string[];
  /** Processes in it, ascending (a few only for the host namespace matter: the first is read). */
  pids: number[];
  /** Every nsfs mount of it (/run/netns/NAME, /var/run/docker/netns/ID…), sorted. */
  mounts: string[];
  /** A file that opens it for setns/nsenter: a /run/netns mount, else `<proc>/<pid>/ns/net`. */
  path: string;
  /** Whether pid 1 (of the /proc read) is in it: the host's own namespace. */
  host: boolean;
  /**
   * Its mounts that another mount covers (NetnsMount.covered), when nothing else opens it: no
   * process is in it and no mount of it is visible. `path` then opens what covers it, not this
   * namespace: it is there (the mount holds it) but cannot be read.
   */
  coveredOnly?: string[];
  /** Its mounts that another mount covers (NetnsMount.covered), sorted: their paths open what covers them. */
  coveredMounts?: string[];
  /** Its mounts made over another namespace's or file's mount (NetnsMount.over), sorted: their names are not its own. */
  overMounts?: string[];
}

/**
 * A process's start time from its /proc/<pid>/stat text (proc(5): field 22, `starttime`, clock
 * ticks after boot), counted after the `)` that ends field 2 (the name may hold blanks and
 * parentheses); undefined when the text has no such field.
 */
export function parseStartTime(stat: string): number | undefined {
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  // Fields 3 onwards follow the name: field 22 is the 20th of them.
  const field = stat
    .slice(end + 1)
    .trim()
    .split(/\s+/)[19];
  return field !== undefined && /^\d+$/.test(field) ? Number(field) : undefined;
}

/** What the previous poll knew of a namespace's holders, to tell it from a later one given its inode. */
export interface NetnsHolders {
  /** Start time of its earliest process when first seen (its identity with the inode). */
  started?: number;
  /** Its processes at the last poll. */
  pids: ReadonlySet<number>;
  /** One of them with its start time, re-read to catch a reused pid. */
  witness?: { pid: number; started: number };
  /** Its nsfs mounts at the last poll. */
  mounts: ReadonlySet<string>;
}

/**
 * Whether `now` is the namespace `before` described, and not a later one the kernel gave its freed
 * inode to: a process of it is still in it (the witness with the same start time, or another pid
 * of the last poll), or one of its mounts is still mounted (a bind mount holds the namespace, so
 * its inode cannot have been freed meanwhile: this holds whether processes came, went or never
 * were). All of its holders replaced between two polls is taken for a new namespace (it cannot be
 * told apart). `witnessStarted`: the witness's start time read now (undefined: it is gone).
 */
export function continuesNamespace(before: NetnsHolders, now: Pick<NetnsHandle, 'pids' | 'mounts'>, witnessStarted: number | undefined): boolean {
  if (before.witness && now.pids.includes(before.witness.pid)) return witnessStarted === before.witness.started;
  if (now.pids.some((pid) => before.pids.has(pid))) return true;
  return now.mounts.some((m) => before.mounts.has(m));
}

/** `net:[4026532177]` → 4026532177; anything else → undefined. */
export function parseNetnsLink(link: string): number | undefined {
  const match = /^net:\[(\d+)\]$/.exec(link.trim());
  return match ? Number(match[1]) : undefined;
}

/** A namespace bind-mounted on a path (one nsfs line of mountinfo). */
export interface NetnsMount {
  inode: number;
  mountPoint: string;
  /**
   * Another mount made later covers it: on the same mount point (`mount --bind FILE
   * /run/netns/NAME`) or on a directory above it (a tmpfs on /run/netns). It still holds the
   * namespace, but its path opens what covers it, not the namespace.
   */
  covered?: boolean;
  /**
   * It was made over another mount on the same mount point (`mount --bind /proc/self/ns/net
   * /run/netns/NAME` over NAME's own): its path opens it, but the name was another namespace's, so
   * the name is not this one's (read under it, it would be the other's table under that label).
   * One made over a mount of the same namespace is not.
   */
  over?: boolean;
}

/**
 * The network-namespace bind mounts in a mountinfo text (proc(5) /proc/[pid]/mountinfo: field 4
 * is the mount's root, field 5 its mount point, the type follows the ` - ` separator). Octal
 * escapes in the mount point (`\040` for a blank) are decoded. Lines of other types are skipped,
 * but cover the nsfs mounts listed before them on or under their mount point (mountinfo lists
 * mounts in the order they were made; `/` itself covers nothing).
 */
export function parseNetnsMounts(mountinfo: string): NetnsMount[] {
  const mounts: (NetnsMount & { at: number })[] = [];
  // What each path had mounted on it before: an nsfs inode, or null for a mount of another type.
  const earlier = new Map<string, (number | null)[]>();
  // The last line mounting each path: one pass, then a few ancestors per nsfs mount (not every
  // line against every nsfs mount: a node has thousands of mounts and hundreds of namespaces).
  const lastAt = new Map<string, number>();
  const lines = mountinfo.split('\n');
  for (let at = 0; at < lines.length; at++) {
    const [before, after] = lines[at]!.split(' - ');
    if (after === undefined) continue;
    const fields = before!.split(' ');
    const rawPoint = fields[4];
    if (!rawPoint) continue;
    const mountPoint = rawPoint.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    lastAt.set(mountPoint, at);
    const inode = after.split(' ')[0] === 'nsfs' ? parseNetnsLink(fields[3] ?? '') : undefined;
    const under = earlier.get(mountPoint);
    if (under) under.push(inode ?? null);
    else earlier.set(mountPoint, [inode ?? null]);
    if (inode === undefined) continue;
    // Made over anything but a mount of the same namespace on this path.
    const over = under !== undefined && under.slice(0, -1).some((i) => i !== inode);
    mounts.push(over ? { inode, mountPoint, over, at } : { inode, mountPoint, at });
  }
  return mounts.map(({ at, ...mount }) => {
    let covered = false;
    // The mount point itself, then each directory above it but `/`.
    for (let path = mount.mountPoint; path.length > 1 && !covered; path = path.slice(0, Math.max(path.lastIndexOf('/'), 1))) covered = (lastAt.get(path) ?? -1) > at;
    return covered ? { ...mount, covered } : mount;
  });
}

/** Where `ip netns` keeps its names (ip-netns(8): NETNS_RUN_DIR). */
export const NETNS_RUN_DIR = '/run/netns';

/** The `ip netns` name of a mount point directly under /run/netns, or undefined. */
export function netnsNameOf(mountPoint: string): string | undefined {
  const prefix = `${NETNS_RUN_DIR}/`;
  if (!mountPoint.startsWith(prefix)) return undefined;
  const name = mountPoint.slice(prefix.length);
  return name && !name.includes('/') ? name : undefined;
}

/**
 * Groups processes and mounts into distinct namespaces, ordered by inode. `links` pairs a pid
 * with its namespace inode; `procRoot` builds the `ns/net` path of a namespace without a mount.
 */
export function groupNamespaces(links: readonly { pid: number; inode: number }[], mounts: readonly NetnsMount[], procRoot: string): NetnsHandle[] {
  const byInode = new Map<number, NetnsHandle>();
  const covered = new Map<number, string[]>();
  const over = new Map<number, string[]>();
  const get = (inode: number, path: string) => {
    let handle = byInode.get(inode);
    if (!handle) byInode.set(inode, (handle = { inode, names: [], pids: [], mounts: [], path, host: false }));
    return handle;
  };
  for (const { pid, inode } of links) {
    const handle = get(inode, `${procRoot}/${pid}/ns/net`);
    handle.pids.push(pid);
    if (pid === 1) handle.host = true;
  }
  for (const { inode, mountPoint, covered: hidden, over: stacked } of mounts) {
    const handle = get(inode, mountPoint);
    if (!handle.mounts.includes(mountPoint)) handle.mounts.push(mountPoint);
    // A covered mount still holds the namespace (a holder), but its path opens what covers it:
    // neither its name nor its path is the namespace's.
    if (hidden) {
      covered.set(inode, [...(covered.get(inode) ?? []), mountPoint]);
      continue;
    }
    // One made over another's mount opens this namespace, but under a name that was the other's.
    if (stacked) {
      over.set(inode, [...(over.get(inode) ?? []), mountPoint]);
      continue;
    }
    const name = netnsNameOf(mountPoint);
    if (name !== undefined && !handle.names.includes(name)) handle.names.push(name);
  }
  for (const handle of byInode.values()) {
    handle.pids.sort((a, b) => a - b);
    handle.names.sort();
    handle.mounts.sort();
    const hidden = covered.get(handle.inode) ?? [];
    const stacked = over.get(handle.inode) ?? [];
    if (hidden.length > 0) handle.coveredMounts = [...hidden].sort();
    if (stacked.length > 0) handle.overMounts = [...stacked].sort();
    const visible = handle.mounts.filter((m) => !hidden.includes(m) && !stacked.includes(m));
    // A mount opens the namespace as long as it is mounted; a pid's link only while that process
    // lives; a mount made over another's, only when nothing else opens it (its path names another).
    if (handle.names.length > 0) handle.path = `${NETNS_RUN_DIR}/${handle.names[0]}`;
    else if (visible.length > 0) handle.path = visible[0]!;
    else if (handle.pids.length > 0) handle.path = `${procRoot}/${handle.pids[0]}/ns/net`;
    else if (stacked.length > 0) handle.path = handle.overMounts![0]!;
    else {
      handle.path = hidden.sort()[0]!;
      handle.coveredOnly = hidden;
    }
  }
  return [...byInode.values()].sort((a, b) => a.inode - b.inode);
}

/** Why a `<procRoot>/<pid>/ns/net` link or the mount table was not read: the namespaces they show are not known. */
export interface UnreadHolder {
  /** The process whose link failed; undefined: the mount table. */
  pid?: number;
  /** The errno's name (EACCES, EIO…), or the message where there is none. */
  code: string;
}

/** What discovery found, and what it could not see. */
export interface Discovery {
  namespaces: NetnsHandle[];
  /** Processes whose `ns/net` link could not be read for lack of permission. */
  deniedPids: number;
  /**
   * Every link that could not be read for a reason other than its process having exited (ENOENT,
   * ESRCH): permission denied, EIO… and the mount table when it could not be read. A namespace
   * only they hold is there but unseen: not read, never gone.
   */
  unread: UnreadHolder[];
}

/** A readlink or read that failed because the process or file is no longer there (proc(5): an exited process's directory is gone). */
export function isGoneError(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ESRCH';
}

/**
 * Every network namespace the host shows: one readlink of `<procRoot>/<pid>/ns/net` per process,
 * plus the nsfs mounts of `mountinfoPath` (this process's mount namespace: the paths nsenter can
 * open). Processes that exit meanwhile are skipped; links and a mount table that fail otherwise
 * are listed in `unread` (what they hold is not known, not absent). Throws only when `<procRoot>`
 * cannot be listed, or a read was interrupted (SIGINT/SIGTERM).
 */
export async function discoverNamespaces(platform: Platform, procRoot: string, mountinfoPath = '/proc/self/mountinfo'): Promise<Discovery> {
  const pids = (await platform.listDirectory(procRoot)).filter((name) => /^\d+$/.test(name)).map(Number);
  let deniedPids = 0;
  const unread: UnreadHolder[] = [];
  const links: { pid: number; inode: number }[] = [];
  // Readlinks in batches: one promise per process at once would be thousands on a busy node.
  for (let i = 0; i < pids.length; i += 256) {
    const batch = pids.slice(i, i + 256);
    const targets = await Promise.all(
      batch.map((pid) =>
        platform.readLink(`${procRoot}/${pid}/ns/net`).catch((error: unknown) => {
          if (errorCode(error) === 'EINTERRUPTED') throw new SourceError('interrupted while finding the network namespaces', { cause: error });
          if (isGoneError(error)) return ''; // exited since the listing
          if (errorCode(error) === 'EACCES' || errorCode(error) === 'EPERM') deniedPids++;
          unread.push({ pid, code: errorCode(error) ?? (error as Error).message });
          return '';
        }),
      ),
    );
    targets.forEach((target, j) => {
      const inode = parseNetnsLink(target);
      if (inode !== undefined) links.push({ pid: batch[j]!, inode });
    });
  }
  const mountinfo = await platform.readText(mountinfoPath).catch((error: unknown) => {
    // Interrupted is not "no mounts": a namespace held only by its mount would be reported missing.
    if (errorCode(error) === 'EINTERRUPTED') throw new SourceError('interrupted while reading the mount table', { cause: error });
    // Nor is a failed read: the namespaces held only by a mount are there, unseen.
    unread.push({ code: errorCode(error) ?? (error as Error).message });
    return '';
  });
  return { namespaces: groupNamespaces(links, parseNetnsMounts(mountinfo), procRoot), deniedPids, unread };
}

/** The namespace asked for could not be found: a usage-level problem, said in one line. */
export class NetnsNotFoundError extends SourceError {
  override name = 'NetnsNotFoundError';
}

/**
 * The namespaces `choice` selects among `found`. A pid or path selects the namespace its link
 * names (read through `readLink`; a path that is a bind mount has no link, so its inode is looked
 * up among the mounts). Throws NetnsNotFoundError when nothing matches.
 */
export async function selectNamespaces(choice: NetnsChoice, found: readonly NetnsHandle[], readLink: (path: string) => Promise<string>, procRoot: string): Promise<NetnsHandle[]> {
  switch (choice.kind) {
    case 'all':
      return [...found];
    case 'name': {
      const match = found.find((ns) => ns.names.includes(choice.name));
      const covered = `${NETNS_RUN_DIR}/${choice.name}`;
      if (!match && found.some((ns) => ns.mounts.includes(covered)))
        throw new NetnsNotFoundError(`the network namespace named "${choice.name}" cannot be opened: ${covered} is covered by another mount made over it`);
      if (!match) throw new NetnsNotFoundError(`no network namespace named "${choice.name}" (ip netns list shows the names; none is mounted at ${NETNS_RUN_DIR}/${choice.name})`);
      return [match];
    }
    case 'pid': {
      const path = `${procRoot}/${choice.pid}/ns/net`;
      const link = await readLinkOrWhy(readLink, path);
      const inode = parseNetnsLink(link.text);
      const match = inode === undefined ? undefined : found.find((ns) => ns.inode === inode);
      // A link that failed to read is not a process that is gone: the error says which it was.
      if (!match)
        throw new NetnsNotFoundError(
          link.why && !/^E(NOENT|SRCH)$/.test(link.why)
            ? `the network namespace of process ${choice.pid} cannot be read (${path}: ${link.why})`
            : `no process ${choice.pid} whose network namespace can be read (${path})`,
        );
      // Read through the process asked for: its own /proc directory shows its namespace.
      return [throughPid(choice.pid, match)];
    }
    case 'path': {
      // A mount point covered, or made over another's mount: what it opens is not the namespace it names.
      if (found.some((ns) => ns.coveredMounts?.includes(choice.path) || ns.overMounts?.includes(choice.path)))
        throw new NetnsNotFoundError(`${choice.path} cannot be opened as the namespace mounted there: another mount is made over it`);
      const viaMount = found.find((ns) => ns.path === choice.path || ns.mounts.includes(choice.path));
      if (viaMount) return [viaMount];
      const link = await readLinkOrWhy(readLink, choice.path);
      const inode = parseNetnsLink(link.text);
      const match = inode === undefined ? undefined : found.find((ns) => ns.inode === inode);
      if (!match && link.why && !/^E(NOENT|SRCH|INVAL)$/.test(link.why)) throw new NetnsNotFoundError(`${choice.path} cannot be read (${link.why})`);
      if (!match) throw new NetnsNotFoundError(`${choice.path} is not a network namespace file this host shows (a <proc>/<pid>/ns/net link or a mount under ${NETNS_RUN_DIR})`);
      return [match];
    }
  }
}

/** A link's text, or why it could not be read (the errno's name): never taken for an empty link. */
async function readLinkOrWhy(readLink: (path: string) => Promise<string>, path: string): Promise<{ text: string; why?: string }> {
  try {
    return { text: await readLink(path) };
  } catch (error) {
    if (errorCode(error) === 'EINTERRUPTED') throw new SourceError(`interrupted while reading ${path}`, { cause: error });
    return { text: '', why: errorCode(error) ?? (error as Error).message };
  }
}

/**
 * The namespace a choice of one (a name, a pid, a path) picked at an earlier poll, found again by
 * its inode among `found`, whatever its name, pid or path says now: a namespace lives while any
 * process or mount holds it (the pid asked for may have exited while an `ip netns` mount or another
 * process keeps it), and its inode is not given to another while it lives. Undefined when it is no
 * longer there (gone, or unseen this time: its holders not readable).
 */
export function followNamespace(choice: NetnsChoice, found: readonly NetnsHandle[], inode: number): NetnsHandle | undefined {
  const match = found.find((ns) => ns.inode === inode);
  // The pid asked for, while it is still in it, is read through first, as at the first poll.
  return match && choice.kind === 'pid' && match.pids.includes(choice.pid) ? throughPid(choice.pid, match) : match;
}

/** `ns` with `pid` first among its processes: the one read through (procfs) and asked of first. */
function throughPid(pid: number, ns: NetnsHandle): NetnsHandle {
  return { ...ns, pids: [pid, ...ns.pids.filter((p) => p !== pid)] };
}

/**
 * Whether `path` still opens namespace `inode`: a pid's link may now be another process's (pids
 * are reused), a name may have been deleted and made again. Links are read; a bind mount (no link)
 * is looked up in `mountinfoPath`.
 */
export async function opensNamespace(platform: Platform, path: string, inode: number, mountinfoPath = '/proc/self/mountinfo'): Promise<boolean> {
  const linked = parseNetnsLink(await platform.readLink(path).catch(() => ''));
  if (linked !== undefined) return linked === inode;
  const mounts = parseNetnsMounts(await platform.readText(mountinfoPath).catch(() => ''));
  // The last mount on a path is the one it shows, unless a later one (of any type) covers it.
  const last = mounts.filter((m) => m.mountPoint === path).pop();
  return last?.inode === inode && !last.covered;
}
