import type { Protocol } from '../../core/address.js';
import { netnsText, sameNetns, type NetnsLabel, type SocketRow } from '../../core/connection.js';
import type { Platform } from '../../platform/platform.js';
import type { HostFacts } from '../../core/diagnosis.js';
import { SourceError, SourceUnavailableError, type ReadingProvider, type ReadRequest, type SourceRead, type SourceReading } from '../source.js';
import type { NetnsChoice } from '../netns-choice.js';
import {
  continuesNamespace,
  isGoneError,
  discoverNamespaces,
  followNamespace,
  NetnsNotFoundError,
  parseNetnsLink,
  parseStartTime,
  selectNamespaces,
  type NetnsHandle,
  type NetnsHolders,
  type UnreadHolder,
} from './netns.js';
import { plural } from '../../core/plural.js';
import { containerOfNamespace } from './netns-labels.js';
import { readNamespace, type NetnsMethod } from './netns-reader.js';
import { NetlinkSource, type NetlinkSourceOptions } from './netlink.js';
import { netlinkFirstInAuto } from './records.js';
import { OwnerResolver } from './process-owners.js';
import { deniedAdvice, readRootWithPtrace } from '../privilege.js';

// `--netns`: one poll reads every selected network namespace, each through its own reader, and
// hands the tracker one table whose rows carry their namespace (part of their key). Namespaces
// are found again at every poll, so containers that start are read and those that go close.

export interface NetnsProviderOptions {
  choice: NetnsChoice;
  /** auto (netlink, else ss through nsenter, else procfs), netlink, ss or procfs (netns-source.ts refuses other sources). */
  source: 'auto' | NetnsMethod;
  procRoot: string;
  /** Whether auto tries netlink first; by default where the platform opens kernel sockets (as without --netns). */
  netlinkFirst?: boolean;
  /** The netlink source's options (tests inject its channel). */
  netlink?: NetlinkSourceOptions;
  /** Namespaces read at once (each ss run is a process; 2 cores are common). */
  concurrency?: number;
}

const PROTOCOLS: readonly Protocol[] = ['tcp', 'tcp6'];
const MAX_FAILURES_SHOWN = 3;

/** Reads the namespaces `--netns` selects; rows carry their owners, looked for among that namespace's processes first, then the others while any is missing. */
export class NetnsProvider implements ReadingProvider {
  readonly pending = 0;
  /** /proc/sys/net describes only the namespace this process is in: not the rows' own. */
  readonly describesThisHost = false;
  /** Owners come in the rows (looked up per namespace at each read); no host facts: /proc/sys/net is this process's namespace. */
  readonly capabilities = { owners: 'in-rows', hostFacts: false } as const;
  readonly owners = undefined;
  private reads: SourceRead[] = [];
  private method: NetnsMethod | undefined;
  /** What auto tries, in order, until a namespace not ours has been read; a method found unavailable leaves it. */
  private autoOrder: readonly NetnsMethod[];
  /** One netlink source (one worker thread) for every namespace, made at its first read. */
  private netlink: NetlinkSource | undefined;
  private pendingNotices: string[] = [];
  /** This read's owner lookup left some owners unread (SourceReading.ownersHidden). */
  private ownersHidden = false;
  /** Namespaces of the last poll that read any, by inode: those missing next time are gone. */
  private seen = new Map<number, NetnsLabel>();
  private readonly containers = new Map<number, NetnsLabel['container'] | null>();
  private readonly resolvers = new Map<number, OwnerResolver>();
  private ownInode: number | undefined | null = null;
  /** `--netns NAME|PID|PATH`: the inode of the namespace it picked, followed while it lives. */
  private followed: number | undefined;
  /** `--netns PID` (or PATH `<proc>/PID/ns/net`): that process and its start time when its namespace was first picked. */
  private chosenProcess: { pid: number; started: number | undefined } | undefined;
  /** Holders of each selected namespace at the last poll, by inode: a reused inode is a new namespace. */
  private readonly holders = new Map<number, NetnsHolders>();
  /** Whether this process runs as root with CAP_SYS_PTRACE (privilege.ts), read once when a link is first denied. */
  private rootWithPtraceRead: boolean | undefined;

  constructor(
    private readonly platform: Platform,
    private readonly options: NetnsProviderOptions,
  ) {
    if (options.source !== 'auto') this.method = options.source;
    this.autoOrder = netlinkFirstInAuto({ netlinkFirst: options.netlinkFirst, kernelSockets: platform.kernelSockets }) ? ['netlink', 'ss', 'procfs'] : ['ss', 'procfs'];
  }

  /** The method read through; with auto, the first it tries until a namespace has shown which runs. */
  get name(): NetnsMethod {
    return this.method ?? this.autoOrder[0]!;
  }

  hostFacts(): Promise<HostFacts> {
    return Promise.resolve({});
  }

  /** The whole poll as one read of the method used (every namespace's table, for the per-source metric). */
  get lastReads(): readonly SourceRead[] {
    return this.reads;
  }

  async read(request?: ReadRequest): Promise<SourceReading> {
    const startedMs = this.platform.nowMs();
    try {
      const reading = await this.readNamespaces(request);
      this.reads = [{ source: reading.source, ok: true, durationMs: this.platform.nowMs() - startedMs }];
      return reading;
    } catch (error) {
      this.reads = [{ source: this.name, ok: false, durationMs: this.platform.nowMs() - startedMs }];
      throw error;
    }
  }

  private async readNamespaces(request: ReadRequest | undefined): Promise<SourceReading> {
    const { procRoot, choice } = this.options;
    if (this.ownInode === null) this.ownInode = parseNetnsLink(await this.platform.readLink('/proc/self/ns/net').catch(() => ''));
    let discovery;
    try {
      discovery = await discoverNamespaces(this.platform, procRoot);
    } catch (error) {
      if (error instanceof SourceError) throw error;
      throw new SourceError(`cannot list ${procRoot} to find network namespaces: ${(error as Error).message}`, { cause: error });
    }
    let selected: NetnsHandle[];
    // One namespace asked for (a name, a pid, a path): the one found at the first poll is followed
    // by its inode while anything holds it, not found again by what was asked (the pid may have
    // exited while an `ip netns` mount keeps the namespace).
    const followed = this.followed === undefined ? undefined : followNamespace(choice, discovery.namespaces, this.followed);
    if (followed) selected = [followed];
    else
      try {
        await this.refuseLaterProcess();
        selected = await selectNamespaces(choice, discovery.namespaces, (path) => this.platform.readLink(path), procRoot);
        await this.rememberChosenProcess(choice, selected);
      } catch (error) {
        // The one namespace asked for went away: its connections close once, then polls fail.
        if (error instanceof NetnsNotFoundError && this.seen.size > 0) selected = [];
        else throw error;
      }
    this.followed = choice.kind === 'all' ? undefined : selected[0]?.inode;
    const notices: string[] = [];
    const gone: NetnsLabel[] = [];
    const present = new Set(discovery.namespaces.map((ns) => ns.inode));
    const started = new Map<number, number | undefined>();
    for (const ns of selected) started.set(ns.inode, await this.identify(ns));
    /** Namespaces read before and not found now, whose holders could not all be read: not read, not gone. */
    const unseen: { label: NetnsLabel; why: string }[] = [];
    for (const [inode, label] of this.seen) {
      // The same inode with other holders is a later namespace: this one is gone.
      if (started.has(inode)) {
        if (sameNetns(label, { inode, started: started.get(inode) })) continue;
      } else if (choice.kind === 'all' && present.has(inode)) continue;
      else {
        // Fail closed: not found is gone only when every holder it had was read (exited, or in
        // another namespace now, or its mount unmounted in a mount table that was read).
        const why = this.unseenBecause(inode, discovery.unread);
        if (why !== undefined) {
          unseen.push({ label, why });
          continue;
        }
      }
      notices.push(`network namespace ${describe(label)} is gone: its connections are closed`);
      gone.push(label);
      this.forget(inode);
    }
    for (const inode of this.holders.keys()) if (!present.has(inode) && !unseen.some((u) => u.label.inode === inode)) this.holders.delete(inode);
    // Fail closed (--netns all): a process whose link could not be read may be the only one in a
    // namespace, and a mount table not read hides the namespaces only a mount holds: those are
    // there and not read, so "nothing flagged" is not proven. Said as a notice with the pids and
    // errors, and as a part of the table not read.
    const unreadParts: string[] = [];
    const dwellUnknown: string[] = [];
    if (choice.kind === 'all') {
      const linksUnread = discovery.unread.filter((u) => u.pid !== undefined);
      if (linksUnread.length > 0) {
        const shown = linksUnread.slice(0, MAX_FAILURES_SHOWN).map((u) => `pid ${u.pid}: ${u.code}`);
        if (linksUnread.length > MAX_FAILURES_SHOWN) shown.push(`${linksUnread.length - MAX_FAILURES_SHOWN} more`);
        // Denied (EACCES/EPERM) to a root with CAP_SYS_PTRACE: the usual advice would not help.
        const deniedPids = discovery.deniedPids > 0 ? linksUnread.filter((u) => u.code === 'EACCES' || u.code === 'EPERM').map((u) => u.pid!) : [];
        const denied = deniedPids.length > 0 ? ` (${deniedAdvice(await this.rootWithPtrace(), deniedPids)})` : '';
        notices.push(
          `${linksUnread.length === 1 ? '1 process' : `${linksUnread.length} processes`}: network namespace link could not be read${denied} (${shown.join(', ')}): namespaces only they are in are not read`,
        );
        unreadParts.push(`the network namespace links of ${plural(linksUnread.length, 'process', 'processes')} not read (a namespace only they are in was not read)`);
      }
      const mountsUnread = discovery.unread.find((u) => u.pid === undefined);
      if (mountsUnread) {
        notices.push(`the mount table (/proc/self/mountinfo) could not be read (${mountsUnread.code}): namespaces held only by a mount (ip netns names) are not read`);
        unreadParts.push('the mount table not read (a namespace held only by a mount was not read)');
      }
    }

    this.ownersHidden = false;
    const results = await this.readAll(selected);
    const fallbackNotices = this.takeNotices();
    const rows: SocketRow[] = [];
    const unreadNetns: number[] = [];
    const failures: string[] = [];
    /** Of the namespaces not read, how many have connections kept as they were (read at an earlier poll, or held by the caller). */
    let kept = 0;
    const nextSeen = new Map<number, NetnsLabel>();
    for (const result of results) {
      const { ns, label } = result;
      if ('error' in result) {
        unreadNetns.push(ns.inode);
        failures.push(`netns ${describe(label)}: ${result.error.message}`);
        if (this.seen.has(ns.inode) || request?.holdsNetns?.(ns.inode)) kept++;
        if (this.seen.has(ns.inode)) nextSeen.set(ns.inode, label);
        continue;
      }
      nextSeen.set(ns.inode, label);
      const reading = result.reading;
      const missing = PROTOCOLS.filter((p) => !reading.completeProtocols.includes(p));
      if (missing.length > 0) unreadNetns.push(ns.inode);
      for (const n of reading.notices) notices.push(`netns ${describe(label)}: ${n}`);
      // Sessions whose dwell is not known (a SYN_RECEIVED's age): nothing flagged is not proven there.
      for (const phrase of reading.dwellUnknown ?? []) dwellUnknown.push(`netns ${describe(label)}: ${phrase}`);
      for (const row of reading.rows) {
        row.netns = label;
        rows.push(row);
      }
      await this.addOwners(ns, reading.rows, notices, label);
    }
    if (selected.length > 0 && unreadNetns.length === selected.length && results.every((r) => 'error' in r) && unseen.length === 0) {
      throw new SourceError(summarizeFailures(failures));
    }
    for (const { label, why } of unseen) {
      unreadNetns.push(label.inode);
      failures.push(`netns ${describe(label)}: not found this poll, but ${why}: it may still be there`);
      kept++;
      nextSeen.set(label.inode, label);
    }
    if (failures.length > 0)
      notices.push(`${failures.length} of ${selected.length + unseen.length} network namespaces not read (${unreadFate(kept, failures.length)}): ${summarizeFailures(failures)}`);
    this.seen = nextSeen;
    const reading: SourceReading = { source: this.name, rows, completeProtocols: [...PROTOCOLS], notices: [...fallbackNotices, ...notices], emptyTableProven: true };
    if (unreadNetns.length > 0) reading.unreadNetns = unreadNetns;
    if (unreadParts.length > 0) reading.unreadParts = unreadParts;
    if (dwellUnknown.length > 0) reading.dwellUnknown = dwellUnknown;
    if (this.ownersHidden) reading.ownersHidden = true;
    if (gone.length > 0) reading.goneNetns = gone;
    return reading;
  }

  close(): void {
    this.netlink?.close();
    this.netlink = undefined;
  }

  /** Reads each namespace, `concurrency` at a time, keeping their order. */
  private async readAll(selected: readonly NetnsHandle[]): Promise<({ ns: NetnsHandle; label: NetnsLabel } & ({ reading: SourceReading } | { error: Error }))[]> {
    const out: ({ ns: NetnsHandle; label: NetnsLabel } & ({ reading: SourceReading } | { error: Error }))[] = new Array(selected.length);
    let next = 0;
    const worker = async () => {
      while (next < selected.length) {
        const i = next++;
        const ns = selected[i]!;
        const label = await this.labelOf(ns);
        if (ns.coveredOnly) {
          // Its path opens what covers it (another file or namespace): read, it would be another's table.
          const mounts = ns.coveredOnly.join(', ');
          out[i] = {
            ns,
            label,
            error: new SourceError(
              `${mounts} ${ns.coveredOnly.length === 1 ? 'is' : 'are'} covered by another mount made over ${ns.coveredOnly.length === 1 ? 'it' : 'them'}, and no process is in it: it cannot be opened`,
            ),
          };
          continue;
        }
        try {
          out[i] = { ns, label, reading: await this.readOne(ns) };
        } catch (error) {
          if (!(error instanceof SourceError)) throw error;
          out[i] = { ns, label, error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency ?? 4, selected.length) }, worker));
    return out;
  }

  /**
   * With `auto`, the first namespace that is not ours decides: netlink where its worker can enter it,
   * else ss through nsenter where it runs, else procfs, for every namespace from then on, with one
   * notice per fallback saying what is lost. netlink gives way only when unavailable (no koffi, no
   * sock_diag, no CAP_SYS_ADMIN): a namespace that is gone fails its read, as with ss.
   */
  private async readOne(ns: NetnsHandle): Promise<SourceReading> {
    const own = this.ownInode ?? undefined;
    if (this.method) return this.readBy(ns, this.method);
    let lastError: SourceError | undefined;
    for (const method of this.autoOrder) {
      try {
        const reading = await this.readBy(ns, method);
        // A fallback proves itself anywhere; the first method, only where it entered a namespace.
        if (!this.method && (ns.inode !== own || lastError)) {
          this.method = method;
          if (lastError) this.pendingNotices.push(fallbackNotice(method, lastError));
        }
        return reading;
      } catch (error) {
        if (!(error instanceof SourceError)) throw error;
        const next = this.autoOrder[this.autoOrder.indexOf(method) + 1];
        const fallsBack = method === 'netlink' ? error instanceof SourceUnavailableError : next === 'procfs' && ns.pids.length > 0;
        if (!fallsBack || next === undefined) throw error;
        // Unavailable here is unavailable everywhere (no koffi, no CAP_SYS_ADMIN): not tried again, nor named.
        if (method === 'netlink') this.autoOrder = this.autoOrder.filter((m) => m !== 'netlink');
        lastError = error;
      }
    }
    throw lastError ?? new SourceError('no method to read the namespace');
  }

  private readBy(ns: NetnsHandle, method: NetnsMethod): Promise<SourceReading> {
    if (method === 'netlink') this.netlink ??= new NetlinkSource(this.options.netlink);
    return readNamespace(this.platform, this.options.procRoot, ns, method, this.ownInode ?? undefined, this.netlink);
  }

  private async labelOf(ns: NetnsHandle): Promise<NetnsLabel> {
    let container = this.containers.get(ns.inode);
    if (container === undefined) {
      container = (await containerOfNamespace(this.platform, this.options.procRoot, ns)) ?? null;
      this.containers.set(ns.inode, container);
    }
    const label: NetnsLabel = { inode: ns.inode, path: ns.path };
    const started = this.holders.get(ns.inode)?.started;
    if (started !== undefined) label.started = started;
    if (ns.names.length > 0) label.names = [...ns.names];
    if (ns.host) label.host = true;
    if (container) label.container = container;
    return label;
  }

  /**
   * Owners from the processes of this namespace first, then from the others while an inode is still
   * missing: a process outside may hold a socket made inside (setns(2) and back, or one handed over);
   * a socket inode names one socket host-wide, so one found outside is that socket's holder.
   */
  private async addOwners(ns: NetnsHandle, rows: SocketRow[], notices: string[], label: NetnsLabel): Promise<void> {
    let resolver = this.resolvers.get(ns.inode);
    if (!resolver) {
      resolver = new OwnerResolver(this.platform, this.options.procRoot);
      this.resolvers.set(ns.inode, resolver);
    }
    const lookup = await resolver.resolve(
      rows.map((row) => row.inode ?? 0),
      ns.pids,
    );
    for (const row of rows) {
      const owner = row.inode ? lookup.owners.get(row.inode) : undefined;
      if (owner) {
        row.pid = owner.pid;
        row.process = owner.process;
      }
    }
    if (lookup.permissionDenied) {
      notices.push(`netns ${describe(label)}: some owners are hidden (permission denied reading /proc/<pid>/fd)`);
      this.ownersHidden = true;
    } else if (rows.some((row) => row.inode === undefined)) {
      // ss without -e, and the namespace's /proc/<pid>/net/tcp* could not give the inode: the owner is unknown, not none.
      notices.push(`netns ${describe(label)}: some owners are unknown (no socket inode: ss printed none, and /proc/<pid>/net/tcp could not give it)`);
      this.ownersHidden = true;
    }
  }

  /**
   * The namespace's start time (its earliest process's, when first seen), kept while it keeps a
   * holder from one poll to the next; a reused inode (no holder kept) gets its new namespace's.
   */
  private async identify(ns: NetnsHandle): Promise<number | undefined> {
    const before = this.holders.get(ns.inode);
    // A witness whose stat fails to read for another reason than its exit (EIO, EACCES) is not a
    // later process: without proof of a new namespace, the one known goes on (not closed and reopened).
    const witnessNow = before?.witness && ns.pids.includes(before.witness.pid) ? await this.startTime(before.witness.pid, before.witness.started) : undefined;
    let next: NetnsHolders;
    if (before && continuesNamespace(before, ns, witnessNow)) {
      next = { pids: new Set(ns.pids), mounts: new Set(ns.mounts) };
      if (before.started !== undefined) next.started = before.started;
      const witness = before.witness && witnessNow !== undefined ? before.witness : await this.witnessOf(ns.pids.filter((pid) => before.pids.has(pid)).slice(0, 1));
      if (witness) next.witness = witness;
    } else {
      // First sight: the host's namespace is pid 1's (the earliest); another's, its earliest process's.
      const witness = await this.witnessOf(ns.host ? [1] : ns.pids);
      next = { pids: new Set(ns.pids), mounts: new Set(ns.mounts) };
      if (witness) {
        next.witness = witness;
        next.started = witness.started;
      }
      if (before) this.forget(ns.inode);
    }
    this.holders.set(ns.inode, next);
    return next.started;
  }

  /**
   * A pid asked for names the process found at the first poll: once the namespace followed is gone,
   * the pid given to a later process (most likely in the host's namespace) is not read instead.
   */
  private async refuseLaterProcess(): Promise<void> {
    const chosen = this.chosenProcess;
    if (!chosen || chosen.started === undefined) return;
    const started = await this.startTime(chosen.pid);
    if (started !== undefined && started !== chosen.started) throw new NetnsNotFoundError(`process ${chosen.pid} is gone (its pid is another process's now)`);
  }

  private async rememberChosenProcess(choice: NetnsChoice, selected: readonly NetnsHandle[]): Promise<void> {
    if (this.chosenProcess || selected.length !== 1) return;
    const pid = choice.kind === 'pid' ? choice.pid : choice.kind === 'path' ? pidOfLink(choice.path, this.options.procRoot) : undefined;
    if (pid !== undefined) this.chosenProcess = { pid, started: await this.startTime(pid) };
  }

  /** The earliest-started of `pids` (those that exited meanwhile skipped), or undefined. */
  private async witnessOf(pids: readonly number[]): Promise<{ pid: number; started: number } | undefined> {
    let best: { pid: number; started: number } | undefined;
    for (const pid of pids) {
      const started = await this.startTime(pid);
      if (started !== undefined && (!best || started < best.started)) best = { pid, started };
    }
    return best;
  }

  /** Process `pid`'s start time; undefined when it exited, `unreadAs` when its stat could not be read otherwise. */
  private async startTime(pid: number, unreadAs?: number): Promise<number | undefined> {
    try {
      return parseStartTime(await this.platform.readText(`${this.options.procRoot}/${pid}/stat`));
    } catch (error) {
      return isGoneError(error) ? undefined : unreadAs;
    }
  }

  /**
   * Why namespace `inode`, read before and not found now, may still be there: a process it had
   * at the last poll whose link could not be read now, or a mount it had when the mount table
   * could not be read. Undefined when every holder it had was read: it is gone. Without a record
   * of its holders, any holder not read may be one.
   */
  private unseenBecause(inode: number, unread: readonly UnreadHolder[]): string | undefined {
    if (unread.length === 0) return undefined;
    const holders = this.holders.get(inode);
    const mountTable = unread.find((u) => u.pid === undefined);
    const link = unread.find((u) => u.pid !== undefined && (!holders || holders.pids.has(u.pid)));
    if (link) return `the network namespace link of process ${link.pid}${holders ? ', in it at the last poll,' : ''} could not be read (${link.code})`;
    if (mountTable && (!holders || holders.mounts.size > 0)) return `the mount table could not be read (${mountTable.code})`;
    return undefined;
  }

  private async rootWithPtrace(): Promise<boolean> {
    this.rootWithPtraceRead ??= await readRootWithPtrace(this.platform);
    return this.rootWithPtraceRead;
  }

  private forget(inode: number): void {
    this.containers.delete(inode);
    this.resolvers.delete(inode);
  }

  private takeNotices(): string[] {
    const notices = this.pendingNotices;
    this.pendingNotices = [];
    return notices;
  }
}

/** The pid of a `<procRoot>/<pid>/ns/net` path, or undefined for another path (a mount). */
function pidOfLink(path: string, procRoot: string): number | undefined {
  const prefix = `${procRoot}/`;
  if (!path.startsWith(prefix)) return undefined;
  const match = /^(\d+)\/ns\/net$/.exec(path.slice(prefix.length));
  return match ? Number(match[1]) : undefined;
}

/** The one notice of an auto fallback, saying what the method used instead loses. */
function fallbackNotice(method: NetnsMethod, error: SourceError): string {
  if (method === 'ss') return `${error.message}; reading other network namespaces through ss (nsenter) instead (one process per namespace and poll)`;
  return `${error.message}; reading other network namespaces through /proc/<pid>/net/tcp instead (no tcp_info: idle is not measured there; entering a namespace, by netlink or by ss through nsenter, needs CAP_SYS_ADMIN)`;
}

/**
 * What becomes of the connections of `unread` namespaces not read, `kept` of which were known
 * before (read at an earlier poll, or held from a state file): those are kept as they were; of
 * the others (a one-shot's only poll) nothing is known, and nothing is claimed.
 */
function unreadFate(kept: number, unread: number): string {
  if (kept === unread) return 'their connections are kept as they were';
  if (kept === 0) return 'nothing is known of their connections: none is shown';
  return `the connections of ${kept} of them are kept as they were; nothing is known of the rest`;
}

function describe(label: NetnsLabel): string {
  const text = netnsText(label);
  return text === `net:[${label.inode}]` ? text : `${text} (net:[${label.inode}])`;
}

function summarizeFailures(failures: readonly string[]): string {
  const shown = failures.slice(0, MAX_FAILURES_SHOWN).join('; ');
  return failures.length > MAX_FAILURES_SHOWN ? `${shown}; and ${failures.length - MAX_FAILURES_SHOWN} more` : shown;
}
