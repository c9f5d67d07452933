import type { HostFacts } from '../core/diagnosis.js';
import type { Platform } from '../platform/platform.js';
import { LIVE_SOURCES, autoCandidates, liveRecord, wrongOsReason, type LiveCandidate, type LiveSourceName, type SourceChoice } from './registry.js';
import type { AutoOptions, OwnerFinder, SourceCapabilities } from './source-record.js';
import { SourceError, SourceUnavailableError, type ReadRequest, type ReadingProvider, type SocketSource, type SourceOptions, type SourceRead, type SourceReading } from './source.js';
import { UnusableInputError } from './unusable-input.js';
import { createNetnsProvider } from './netns-source.js';
import { procRootProblem } from './linux/process-owners.js';

/**
 * The reading, when it holds rows or proves an empty table; otherwise a SourceError: a source
 * that read nothing is a failed poll, never "no connections" (and never OK).
 */
export function requireTable(reading: SourceReading): SourceReading {
  if (reading.rows.length > 0 || reading.emptyTableProven) return reading;
  const hint = LIVE_SOURCES.find((r) => r.name === reading.source)?.live.nothingReadHint;
  const why = [hint, ...reading.notices].filter(Boolean).join('; ');
  throw new SourceError(`${reading.source} read no socket table${why ? ` (${why})` : ''}`);
}

/**
 * Why `procRoot` is not a procfs mount point (procRootProblem), on Linux and for a root other than
 * /proc; undefined when it is one, or not asked (/proc itself, other systems).
 */
export function notProcRootOf(platform: Platform, procRoot: string): Promise<string | undefined> {
  return platform.os === 'linux' && procRoot !== '/proc' ? procRootProblem(platform, procRoot) : Promise.resolve(undefined);
}

/** The notice every command gives for a `--proc-root` that is not a procfs mount point (`problem`: notProcRootOf's answer). */
export function notProcRootNotice(problem: string): string {
  return `${problem}: owners are unknown (not looked up; PID/PROCESS shows - for every socket) and kernel settings are not read`;
}

/** One read; a parser's "this is not that tool's output" becomes a failed poll, not a crash. */
async function readFrom(source: SocketSource, platform: Platform, options: SourceOptions, request: ReadRequest | undefined): Promise<SourceReading> {
  try {
    return await source.read(platform, options, request);
  } catch (error) {
    if (error instanceof UnusableInputError) throw new SourceError(`${source.name}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Reads through the chosen source, and gives what its record says it can (owners, host facts).
 * With `auto`, a missing tool degrades to the next source once, with one notice, and the choice
 * sticks for later polls. With `options.netns`, the namespace reader (netns-source.ts) reads
 * instead, through a source with the `netns` capability (or auto), and everything is asked of it.
 */
export class SourceSelector implements ReadingProvider {
  private resolved: LiveCandidate | undefined;
  private readonly candidates: LiveCandidate[];
  private pendingNotice: string | undefined;
  /** The owner lookup, and the record whose lookup it is. */
  private ownerFinder: { record: LiveCandidate['record']; finder: OwnerFinder } | undefined;
  private reads: SourceRead[] = [];
  /** `--netns`: the namespace reader everything is delegated to. */
  private readonly netns: ReadingProvider | undefined;
  /** The check that `--proc-root` is a procfs mount point (checkedProcRoot): made once, by the first read or hostFacts. */
  private procRootCheck: Promise<string | undefined> | undefined;
  /**
   * Why `--proc-root` is not a procfs mount point, once the check has answered; undefined when it is
   * one (or before the check, which every read and hostFacts awaits first). Owners and kernel
   * settings are then not read from it.
   */
  private notProcRoot: string | undefined;
  readonly pending = 0;

  constructor(
    private readonly choice: SourceChoice,
    private readonly platform: Platform,
    private readonly options: SourceOptions,
    /** What auto tries (netlink first or not) and with what (tests inject the netlink library). */
    autoOptions: AutoOptions = {},
  ) {
    if (options.netns) {
      this.netns = createNetnsProvider(platform, { choice: options.netns, source: choice, procRoot: options.procRoot }, autoOptions);
      this.candidates = [];
      return;
    }
    if (choice !== 'auto') {
      const wrongOs = wrongOsReason(choice, platform.os);
      if (wrongOs) throw new SourceError(wrongOs);
    }
    this.candidates =
      choice === 'auto'
        ? autoCandidates(platform.os, options.procRoot, { kernelSockets: platform.kernelSockets, ...autoOptions })
        : [{ record: liveRecord(choice as LiveSourceName), source: liveRecord(choice as LiveSourceName).live.create() }];
    if (this.candidates.length === 1) this.resolved = this.candidates[0];
    if (choice !== 'auto' && this.resolved?.record.live.readsOwnNamespace && options.procRoot !== '/proc') {
      // Legitimate (a host-network container with the host's /proc mounted), but easy to mistake for reading that /proc's namespace.
      this.pendingNotice = `--source ${choice} reads this process's own network namespace, not the one of ${options.procRoot}: ${options.procRoot} gives owners and kernel settings only (--source procfs reads ${options.procRoot}/net/tcp)`;
    }
  }

  /** /proc/sys/net describes this process's own namespace: with `--netns`, not the rows'. */
  get describesThisHost(): boolean {
    return this.netns ? this.netns.describesThisHost : true;
  }

  get name(): string {
    if (this.netns) return this.netns.name;
    return this.resolved?.record.name ?? this.choice;
  }

  get capabilities(): Pick<SourceCapabilities, 'owners' | 'hostFacts'> | undefined {
    if (this.netns) return this.netns.capabilities;
    return this.resolved?.record.live.capabilities;
  }

  get owners(): OwnerFinder | undefined {
    if (this.netns) return this.netns.owners;
    // Not a proc root: no owner can be found there, and a lookup that finds none would show "-" (no process) for every socket.
    if (this.notProcRoot) return undefined;
    return this.resolved && this.ownerFinderOf(this.resolved);
  }

  get ownersUnknown(): string | undefined {
    return this.netns ? undefined : this.notProcRoot;
  }

  /**
   * Starts the owner lookup's walk now. Before `auto` has chosen, that of the first candidate, the
   * source that answers unless it is unavailable (another choice drops it unused).
   */
  prefetchOwners(): void {
    if (this.netns) return this.netns.prefetchOwners?.();
    const candidate = this.resolved ?? this.candidates[0];
    if (candidate) this.ownerFinderOf(candidate)?.prefetch?.();
  }

  private ownerFinderOf(candidate: LiveCandidate): OwnerFinder | undefined {
    const live = candidate.record.live;
    if (live.capabilities.owners !== 'lookup' || !live.owners) return undefined;
    if (this.ownerFinder?.record !== candidate.record) {
      this.ownerFinder?.finder.close?.();
      this.ownerFinder = { record: candidate.record, finder: live.owners(this.platform, this.options) };
    }
    return this.ownerFinder.finder;
  }

  async hostFacts(): Promise<HostFacts> {
    if (this.netns) return this.netns.hostFacts();
    // Asked before the first read too (list --why, the dashboard): the root is checked first.
    if (await this.checkedProcRoot()) return {};
    const live = this.resolved?.record.live;
    return live?.capabilities.hostFacts && live.hostFacts ? live.hostFacts(this.platform, this.options) : {};
  }

  get lastReads(): readonly SourceRead[] {
    return this.netns ? this.netns.lastReads : this.reads;
  }

  async read(request?: ReadRequest): Promise<SourceReading> {
    if (this.netns) return this.netns.read(request);
    this.reads = [];
    await this.checkedProcRoot();
    if (this.resolved) return this.withNotice(requireTable(await this.timed(this.resolved, request)));
    let lastError: SourceError | undefined;
    for (const candidate of this.candidates) {
      try {
        const reading = await this.timed(candidate, request);
        this.resolved = candidate;
        for (const other of this.candidates) if (other !== candidate) other.source.close?.();
        const fallback = candidate.record.live.auto?.fallback;
        if (lastError) this.pendingNotice = `${lastError.message}; using ${fallback?.shownAs ?? candidate.record.name} instead${fallback?.limits ? ` (${fallback.limits})` : ''}`;
        // The source answered, so it is the one chosen; an answer with nothing in it is still a failed poll.
        return this.withNotice(requireTable(reading));
      } catch (error) {
        if (!(error instanceof SourceUnavailableError)) throw error;
        lastError = error;
      }
    }
    throw lastError ?? new SourceError('no source available');
  }

  /**
   * Checks once that a `--proc-root` other than /proc is a procfs mount point (Linux). When it is
   * not, owners and kernel settings are not read from it and the first reading says so. The table
   * is still read: procfs reads `<root>/net/tcp`, which one process's directory (`--proc-root
   * /proc/PID`, README "check") and a copy of the files (tests' trees) also hold; ss and netlink read
   * this namespace's.
   */
  private checkedProcRoot(): Promise<string | undefined> {
    this.procRootCheck ??= notProcRootOf(this.platform, this.options.procRoot).then((problem) => {
      this.notProcRoot = problem;
      if (problem) {
        this.ownerFinder?.finder.close?.();
        this.ownerFinder = undefined;
        // Said instead of the "gives owners and kernel settings only" notice, which it contradicts.
        this.pendingNotice = notProcRootNotice(problem);
      }
      return problem;
    });
    return this.procRootCheck;
  }

  close(): void {
    this.netns?.close();
    this.ownerFinder?.finder.close?.();
    for (const candidate of this.candidates) candidate.source.close?.();
  }

  /** One read, its success (a table) and duration kept for the per-source metric. */
  private async timed(candidate: LiveCandidate, request: ReadRequest | undefined): Promise<SourceReading> {
    const startedMs = this.platform.nowMs();
    const done = (ok: boolean) => this.reads.push({ source: candidate.record.name, ok, durationMs: this.platform.nowMs() - startedMs });
    try {
      const reading = await readFrom(candidate.source, this.platform, this.options, request);
      done(reading.rows.length > 0 || reading.emptyTableProven === true);
      return reading;
    } catch (error) {
      done(false);
      throw error;
    }
  }

  private withNotice(reading: SourceReading): SourceReading {
    if (!this.pendingNotice) return reading;
    const notice = this.pendingNotice;
    this.pendingNotice = undefined;
    return { ...reading, notices: [notice, ...reading.notices] };
  }
}
